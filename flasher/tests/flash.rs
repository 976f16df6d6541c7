//! The flasher's image paths, run as the binary: UF2 from a real ELF, the board table against the
//! repository, and the checks that refuse an image that would overwrite the configuration.

use mreq_fwconfig::boards::{self, BuildStatus};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn flash(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("run mreq-flash")
}

/// A minimal ELF32 (little-endian ARM) with a code segment in flash and a `.data` segment whose
/// load address is in flash but whose run address is in RAM: what a real firmware link produces.
fn tiny_elf(code_at: u32, code: &[u8], data_load_at: u32, data: &[u8]) -> Vec<u8> {
    let ph_off = 52u32;
    let data_off = ph_off + 2 * 32;
    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type EXEC
    elf.extend_from_slice(&40u16.to_le_bytes()); // e_machine ARM
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&code_at.to_le_bytes()); // e_entry
    elf.extend_from_slice(&ph_off.to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for half in [52u16, 32, 2, 40, 0, 0] {
        elf.extend_from_slice(&half.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    }
    let segments = [
        (data_off, code_at, code_at, code.len() as u32),
        (
            data_off + code.len() as u32,
            0x2000_0000,
            data_load_at,
            data.len() as u32,
        ),
    ];
    for (offset, vaddr, paddr, size) in segments {
        for word in [1u32, offset, vaddr, paddr, size, size, 5, 4] {
            elf.extend_from_slice(&word.to_le_bytes());
        }
    }
    elf.extend_from_slice(code);
    elf.extend_from_slice(data);
    elf
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mreq-flash-test-{}-{name}", std::process::id()))
}

fn uf2_pages(data: &[u8]) -> Vec<(u32, Vec<u8>)> {
    data.chunks(512)
        .map(|b| {
            let word =
                |i: usize| u32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
            assert_eq!(
                (word(0), word(1), word(7)),
                (0x0A32_4655, 0x9E5D_5157, 0xE48B_FF56),
                "magics and RP2040 family"
            );
            assert_eq!(&b[508..], &0x0AB1_6F30u32.to_le_bytes());
            (word(3), b[32..32 + word(4) as usize].to_vec())
        })
        .collect()
}

#[test]
fn uf2_holds_the_elf_segments_and_the_configuration() {
    let code: Vec<u8> = (0..700u32).map(|i| (i * 7) as u8).collect();
    let data = vec![0x5A; 48];
    let elf_path = temp("fw.elf");
    let uf2_path = temp("fw.uf2");
    std::fs::write(&elf_path, tiny_elf(0x1000_0000, &code, 0x1000_0400, &data)).unwrap();
    let out = flash(&[
        "--board",
        "rp2-pico-w",
        "--no-build",
        "--elf",
        elf_path.to_str().unwrap(),
        "--uf2-out",
        uf2_path.to_str().unwrap(),
        "--startup-url",
        "http://10.0.2.2/get",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages = uf2_pages(&std::fs::read(&uf2_path).unwrap());
    let total = pages.len();
    let mut flash = std::collections::BTreeMap::new();
    for (address, payload) in &pages {
        for (i, byte) in payload.iter().enumerate() {
            flash.insert(address + i as u32, *byte);
        }
    }
    for (i, byte) in code.iter().enumerate() {
        assert_eq!(
            flash.get(&(0x1000_0000 + i as u32)),
            Some(byte),
            "code byte {i}"
        );
    }
    for (i, byte) in data.iter().enumerate() {
        assert_eq!(
            flash.get(&(0x1000_0400 + i as u32)),
            Some(byte),
            ".data at its load address, byte {i}"
        );
    }
    let board = boards::board("rp2-pico-w").unwrap();
    let block: Vec<u8> = (0..mreq_fwconfig::BLOCK_SIZE as u32)
        .map(|i| flash[&(board.config_address + i)])
        .collect();
    let config = mreq_fwconfig::Config::parse(&block).expect("the configuration block in the UF2");
    assert_eq!(config.startup_url(), Some("http://10.0.2.2/get"));
    assert_eq!(
        total,
        3 + 1 + 16,
        "3 pages of code, 1 of .data, 16 of configuration"
    );
    let _ = std::fs::remove_file(elf_path);
    let _ = std::fs::remove_file(uf2_path);
}

#[test]
fn an_image_reaching_the_configuration_region_is_refused() {
    let board = boards::board("rp2-pico-w").unwrap();
    let elf_path = temp("big.elf");
    std::fs::write(
        &elf_path,
        tiny_elf(
            board.config_address - 16,
            &[1; 64],
            board.flash_origin,
            &[2; 4],
        ),
    )
    .unwrap();
    let out = flash(&[
        "--board",
        "rp2-pico-w",
        "--no-build",
        "--elf",
        elf_path.to_str().unwrap(),
        "--uf2-out",
        "/dev/null",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too large"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(elf_path);
}

#[test]
fn every_board_built_in_ci_has_its_crate_and_target() {
    for board in boards::BOARDS
        .iter()
        .filter(|b| b.status == BuildStatus::BuiltInCi)
    {
        let dir = Path::new(ROOT).join("firmware/boards").join(board.name);
        assert!(
            dir.join("Cargo.toml").is_file(),
            "{}: no crate at {}",
            board.name,
            dir.display()
        );
        let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap_or_default();
        assert!(
            config.contains(board.target.unwrap_or("?")),
            "{}: .cargo/config.toml does not build for {:?}",
            board.name,
            board.target
        );
    }
}

#[test]
fn unknown_board_and_missing_firmware_are_clear_errors() {
    let out = flash(&["--board", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("boards: qemu"));
    let out = flash(&["--board", "esp8266"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--image"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = flash(&["--board", "qemu", "--no-build"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-build needs --elf"));
    let listed = flash(&["--list-boards"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    for board in boards::BOARDS {
        assert!(text.contains(board.name), "{text}");
    }
}

#[test]
fn esp_partition_tables_put_the_configuration_where_the_table_says() {
    for board in boards::BOARDS
        .iter()
        .filter(|b| b.method == boards::FlashMethod::Espflash && b.status == BuildStatus::BuiltInCi)
    {
        let csv = std::fs::read_to_string(
            Path::new(ROOT)
                .join("firmware/boards")
                .join(board.name)
                .join("partitions.csv"),
        )
        .expect("partitions.csv");
        let row = csv
            .lines()
            .find(|l| l.trim_start().starts_with("mreqcfg"))
            .expect("an mreqcfg partition");
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        let offset =
            u32::from_str_radix(fields[3].trim_start_matches("0x"), 16).expect("hex offset");
        assert_eq!(
            offset, board.config_address,
            "{}: partitions.csv and the board table disagree",
            board.name
        );
    }
}
