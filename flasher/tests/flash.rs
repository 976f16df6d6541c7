//! The flasher's image paths, run as the binary: UF2 from a real ELF, the board table against the
//! repository, and the checks that refuse an image that would overwrite the configuration.

mod reference;

use mreq_fwconfig::boards::{self, BuildStatus, FlashMethod};
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

/// Every board whose flash is memory-mapped: firmware on both sides of the configuration
/// region passes `--check-image` (the flasher's layout check and probe-rs's memory map of the
/// chip), and bytes reaching into the region or past the end of flash are refused. The
/// STM32F407VE keeps its configuration in sector 1, between the vector table and the code.
#[test]
fn images_pass_around_the_configuration_region_and_never_into_it() {
    for board in boards::BOARDS
        .iter()
        .filter(|b| matches!(b.method, FlashMethod::Uf2 | FlashMethod::ProbeRs))
    {
        let region = board.config_region();
        let flash_end = board.flash_origin + board.flash_size;
        let [below, above] = board.firmware_regions();
        let mut cases = vec![
            // The vector table at the start, .data's load image just below the region.
            (board.flash_origin, below.end - 64, true, "below the region"),
            (
                region.start - 16,
                board.flash_origin + 64,
                false,
                "into the region from below",
            ),
            (
                region.end - 16,
                board.flash_origin + 64,
                false,
                "across the region's end",
            ),
        ];
        if above.is_empty() {
            cases.push((
                region.start,
                board.flash_origin + 64,
                false,
                "at the region",
            ));
        } else {
            cases.push((
                board.flash_origin,
                above.start,
                true,
                "code above the region",
            ));
            cases.push((
                board.flash_origin,
                flash_end - 16,
                false,
                "past the end of flash",
            ));
        }
        for (code_at, data_at, accepted, what) in cases {
            let elf_path = temp(&format!("layout-{}.elf", board.name));
            std::fs::write(&elf_path, tiny_elf(code_at, &[1; 64], data_at, &[2; 64])).unwrap();
            let out = flash(&[
                "--board",
                board.name,
                "--no-build",
                "--elf",
                elf_path.to_str().unwrap(),
                "--check-image",
            ]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.success(),
                accepted,
                "{}: {what} ({code_at:#x}, {data_at:#x}): {stderr}",
                board.name
            );
            if !accepted {
                assert!(
                    stderr.contains("too large"),
                    "{}: {what}: {stderr}",
                    board.name
                );
            }
            let _ = std::fs::remove_file(elf_path);
        }
    }
}

#[test]
fn every_board_built_in_ci_has_its_crate_and_target() {
    for board in boards::BOARDS
        .iter()
        .filter(|b| b.status == BuildStatus::BuiltInCi)
    {
        let dir = Path::new(ROOT)
            .join("firmware/boards")
            .join(board.crate_dir);
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

/// Every board a Rust toolchain builds (the ESP32-S3 too, which CI cannot build) names a crate
/// that has the features and the profile the flasher asks it for, and `--dry-run` shows that
/// command.
#[test]
fn every_buildable_board_names_its_crate_features_and_profile() {
    for board in boards::BOARDS.iter().filter(|b| b.target.is_some()) {
        let manifest_path = Path::new(ROOT)
            .join("firmware/boards")
            .join(board.crate_dir)
            .join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest_path)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", board.name, manifest_path.display()));
        for feature in board.features.iter().flat_map(|f| f.split(',')) {
            assert!(
                manifest
                    .lines()
                    .any(|l| l.starts_with(&format!("{feature} = ["))),
                "{}: the {} crate has no feature {feature}",
                board.name,
                board.crate_dir
            );
        }
        if board.profile != "release" {
            assert!(
                manifest.contains(&format!("[profile.{}]", board.profile)),
                "{}: the {} crate has no profile {}",
                board.name,
                board.crate_dir,
                board.profile
            );
        }
        let out = flash(&["--board", board.name, "--dry-run"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut expected = format!("--profile {}", board.profile);
        if let Some(features) = board.features {
            expected += &format!(
                " --target {} --no-default-features --features {features}",
                board.target.unwrap()
            );
        }
        assert!(text.contains(&expected), "{}: {text}", board.name);
        assert!(
            text.contains(&format!("firmware/boards/{}", board.crate_dir)),
            "{}: {text}",
            board.name
        );
    }
}

/// `scripts/test.sh` builds and checks every board the table says CI builds.
#[test]
fn the_test_script_builds_every_board_built_in_ci() {
    let script = std::fs::read_to_string(Path::new(ROOT).join("scripts/test.sh")).unwrap();
    let listed = script
        .lines()
        .find_map(|l| l.strip_prefix("BOARDS=\""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a BOARDS=\"...\" line in scripts/test.sh");
    let listed: Vec<&str> = listed.split_whitespace().collect();
    for board in boards::BOARDS
        .iter()
        .filter(|b| b.status == BuildStatus::BuiltInCi)
    {
        assert!(
            listed.contains(&board.name),
            "{} is not in scripts/test.sh's BOARDS",
            board.name
        );
    }
    for name in listed {
        assert!(
            boards::board(name).is_some(),
            "scripts/test.sh builds an unknown board {name}"
        );
    }
}

#[test]
fn unknown_board_and_missing_firmware_are_clear_errors() {
    let out = flash(&["--board", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("boards: qemu"));
    // An ESP8266 without --image runs MicroPython: the module is installed through its REPL,
    // on the board's port (none here) and with the options the module reads.
    let out = flash(&["--board", "esp8266"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no serial port shows the USB IDs of the esp8266"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned = flash(&["--board", "esp8266", "--dry-run", "--port", "/dev/ttyUSB0"]);
    assert!(String::from_utf8_lossy(&planned.stdout).contains(
        "install mreq's MicroPython module (mrequests, urlencode, mreq_wifi) through the raw REPL on /dev/ttyUSB0"
    ));
    for esp8266_takes_no in [["--before", "usb-reset"], ["--after", "watchdog-reset"]] {
        let out = flash(
            &[
                &["--board", "esp8266", "--dry-run", "--image", "Cargo.toml"][..],
                &esp8266_takes_no,
            ]
            .concat(),
        );
        assert_eq!(out.status.code(), Some(2), "{esp8266_takes_no:?}");
    }
    for refused in [
        &["--baud", "460800"][..],
        &["--before", "no-reset"],
        &["--ip", "10.0.0.2/24"],
        &["--startup-url", "http://x/"],
    ] {
        let out = flash(&[&["--board", "esp8266", "--dry-run"][..], refused].concat());
        assert_eq!(out.status.code(), Some(2), "{refused:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(refused[0]),
            "{refused:?}"
        );
    }
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
                .join(board.crate_dir)
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

/// The ESP32-C3's whole flash image as `--merged-out` writes it (the firmware built if needed).
fn esp32c3_flash_image(name: &str, extra: &[&str]) -> Vec<u8> {
    let out = temp(name);
    let args = [
        &["--board", "esp32c3", "--merged-out", out.to_str().unwrap()][..],
        extra,
    ]
    .concat();
    let run = flash(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let image = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    image
}

/// The ESP-IDF app image at `offset` in `flash`: its segments by load address, checked against
/// the format's checksum and (if present) SHA-256.
fn esp_app_segments(flash: &[u8], offset: usize) -> Vec<(u32, Vec<u8>)> {
    use sha2::{Digest, Sha256};
    let image = &flash[offset..];
    assert_eq!(image[0], 0xE9, "app image magic");
    let count = image[1] as usize;
    let hash_appended = image[23] == 1;
    let mut at = 24;
    let mut checksum = 0xEFu8;
    let mut segments = Vec::new();
    for _ in 0..count {
        let addr = u32::from_le_bytes(image[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(image[at + 4..at + 8].try_into().unwrap()) as usize;
        let data = image[at + 8..at + 8 + len].to_vec();
        checksum = data.iter().fold(checksum, |c, b| c ^ b);
        segments.push((addr, data));
        at += 8 + len;
    }
    // The checksum byte ends a 16-byte-aligned block.
    at += 15 - (at % 16);
    assert_eq!(image[at], checksum, "image checksum");
    if hash_appended {
        let digest = Sha256::digest(&image[..at + 1]);
        assert_eq!(
            &image[at + 1..at + 33],
            digest.as_slice(),
            "appended SHA-256"
        );
    }
    segments
}

#[test]
fn esp32_image_from_the_elf_without_a_device() {
    use object::{Object, ObjectSection, SectionKind};
    use sha2::{Digest, Sha256};
    let board = boards::board("esp32c3").unwrap();
    let flash_image =
        esp32c3_flash_image("esp32c3-flash.bin", &["--startup-url", "http://10.0.0.2/"]);
    assert_eq!(flash_image[0], 0xE9, "second-stage bootloader at 0");
    assert_eq!(
        &flash_image[0x8000..0x8002],
        &[0xAA, 0x50],
        "partition table at 0x8000"
    );
    let table = &flash_image[0x8000..0x9000];
    let mreqcfg = table
        .chunks(32)
        .find(|e| e[..2] == [0xAA, 0x50] && e[12..19] == *b"mreqcfg")
        .expect("mreqcfg partition entry");
    assert_eq!(
        u32::from_le_bytes(mreqcfg[4..8].try_into().unwrap()),
        board.config_address
    );

    // Every allocated, initialised ELF section must be in the app image at its address.
    let mut by_address = std::collections::BTreeMap::new();
    for (addr, data) in esp_app_segments(&flash_image, 0x10000) {
        for (i, byte) in data.into_iter().enumerate() {
            by_address.insert(addr + i as u32, byte);
        }
    }
    let elf_path = Path::new(ROOT).join(
        "firmware/boards/esp32c3/target/riscv32imc-unknown-none-elf/release/mreq-board-esp32c3",
    );
    let elf_data = std::fs::read(&elf_path).expect("the firmware ELF mreq-flash just built");
    let elf = object::File::parse(&*elf_data).unwrap();
    let mut checked = 0;
    for section in elf.sections() {
        let loaded = matches!(
            section.kind(),
            SectionKind::Text
                | SectionKind::Data
                | SectionKind::ReadOnlyData
                | SectionKind::ReadOnlyString
        );
        if !loaded || section.size() == 0 {
            continue;
        }
        let data = section.data().unwrap();
        // The app descriptor's `app_elf_sha256` (bytes 144..176) is filled in from the ELF.
        let patched = if section.name() == Ok(".flash.appdesc") {
            let at = section.address() as u32 + 144;
            let written: Vec<u8> = (at..at + 32).map(|a| by_address[&a]).collect();
            assert_eq!(
                written,
                Sha256::digest(&elf_data).to_vec(),
                "app descriptor holds the ELF's SHA-256"
            );
            144..176
        } else {
            0..0
        };
        for (i, byte) in data
            .iter()
            .enumerate()
            .filter(|(i, _)| !patched.contains(i))
        {
            let addr = section.address() as u32 + i as u32;
            assert_eq!(
                by_address.get(&addr),
                Some(byte),
                "section {} byte at {addr:#x}",
                section.name().unwrap_or("?")
            );
        }
        checked += data.len();
    }
    assert!(
        checked > 100_000,
        "only {checked} bytes of sections checked"
    );

    let block = &flash_image
        [board.config_address as usize..board.config_address as usize + mreq_fwconfig::BLOCK_SIZE];
    assert_eq!(
        mreq_fwconfig::Config::parse(block).unwrap().startup_url(),
        Some("http://10.0.0.2/")
    );
}

/// esptool's `image-info` (the reference reader of ESP images) reads the bootloader and the app
/// mreq-flash puts in an ESP32-C3 flash image as this test's own parser does: the same segments,
/// valid checksums and SHA-256, the C3's chip id, and the ELF's SHA-256 in the app descriptor.
#[test]
fn esptool_reads_the_esp32c3_images_as_mreq_flash_wrote_them() {
    use sha2::{Digest, Sha256};
    let flash_image = esp32c3_flash_image("esptool-c3.bin", &[]);
    let image_info = |name: &str, bytes: &[u8]| -> String {
        let path = temp(name);
        std::fs::write(&path, bytes).unwrap();
        let run = reference::esptool()
            .args(["--chip", "esp32c3", "image-info"])
            .arg(&path)
            .output()
            .expect("run esptool");
        let _ = std::fs::remove_file(&path);
        let text = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(
            run.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        text
    };

    let boot = image_info("boot.bin", &flash_image[..0x8000]);
    for expected in ["Chip ID: 5 (ESP32-C3)", "(valid)\n"] {
        assert!(
            boot.contains(expected),
            "bootloader: no {expected:?} in\n{boot}"
        );
    }
    assert!(!boot.contains("invalid"), "{boot}");

    let app = image_info("app.bin", &flash_image[0x10000..]);
    // esptool's table: index, length, load address, file offset, memory types.
    let listed: Vec<(u32, usize)> = app
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let hex = |s: &str| u32::from_str_radix(s.strip_prefix("0x")?, 16).ok();
            match cols.as_slice() {
                [index, len, addr, _offset, ..] if index.parse::<u32>().is_ok() => {
                    Some((hex(addr)?, hex(len)? as usize))
                }
                _ => None,
            }
        })
        .collect();
    let parsed: Vec<(u32, usize)> = esp_app_segments(&flash_image, 0x10000)
        .into_iter()
        .map(|(addr, data)| (addr, data.len()))
        .collect();
    assert_eq!(
        listed, parsed,
        "segments: esptool and this test disagree\n{app}"
    );
    assert!(parsed.len() >= 3, "{app}");
    for expected in [
        "Chip ID: 5 (ESP32-C3)",
        "Flash size: 4MB",
        "Project name: mreq-board-esp32c3",
    ] {
        assert!(app.contains(expected), "app: no {expected:?} in\n{app}");
    }
    for line in ["Checksum:", "Validation hash:"] {
        let found = app.lines().find(|l| l.starts_with(line));
        assert!(
            found.is_some_and(|l| l.ends_with("(valid)")),
            "app {line} {found:?}\n{app}"
        );
    }
    let elf = std::fs::read(Path::new(ROOT).join(
        "firmware/boards/esp32c3/target/riscv32imc-unknown-none-elf/release/mreq-board-esp32c3",
    ))
    .expect("the firmware ELF mreq-flash just built");
    let elf_sha: String = Sha256::digest(&elf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        app.contains(&format!("ELF file SHA256: {elf_sha}")),
        "app descriptor: esptool reads another ELF SHA-256 than {elf_sha}\n{app}"
    );
}

#[test]
fn flashing_through_a_missing_probe_is_a_clear_error() {
    let elf_path = temp("probe.elf");
    std::fs::write(
        &elf_path,
        tiny_elf(0x0800_0000, &[0x11; 256], 0x0800_0100, &[0x22; 8]),
    )
    .unwrap();
    let out = flash(&[
        "--board",
        "stm32f407-w5500",
        "--no-build",
        "--elf",
        elf_path.to_str().unwrap(),
        "--probe",
        "auto",
    ]);
    let _ = std::fs::remove_file(elf_path);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no debug probe found"), "{stderr}");
}

/// Options that only some flash methods act on, and those methods: every one on every board is
/// taken (the dry run passes) or refused with exit 2 naming it.
const SCOPED: [(&[&str], &[FlashMethod]); 16] = [
    (
        &["--before", "no-reset"],
        &[FlashMethod::Espflash, FlashMethod::Esp8266Rom],
    ),
    (
        &["--after", "no-reset"],
        &[FlashMethod::Espflash, FlashMethod::Esp8266Rom],
    ),
    (&["--uf2-out", "x.uf2"], &[FlashMethod::Uf2]),
    (&["--merged-out", "x.bin"], &[FlashMethod::Espflash]),
    (&["--pflash-out", "x.img"], &[FlashMethod::Qemu]),
    (&["--pflash", "x.img"], &[FlashMethod::Qemu]),
    (&["--qemu-console", "tcp:1234"], &[FlashMethod::Qemu]),
    (&["--timeout", "5"], &[FlashMethod::Qemu]),
    (
        &["--probe", "auto"],
        &[FlashMethod::Uf2, FlashMethod::ProbeRs],
    ),
    (
        &["--port", "/dev/null"],
        &[FlashMethod::Espflash, FlashMethod::Esp8266Rom],
    ),
    (
        &["--baud", "115200"],
        &[FlashMethod::Espflash, FlashMethod::Esp8266Rom],
    ),
    // With --monitor, --port names the console of the boards flashed another way.
    (
        &["--port", "/dev/null", "--monitor"],
        &[
            FlashMethod::Espflash,
            FlashMethod::Esp8266Rom,
            FlashMethod::Uf2,
            FlashMethod::ProbeRs,
        ],
    ),
    (&["--monitor"], &ALL_METHODS),
    // QEMU's console is always on; the others' only with --monitor.
    (&["--log", "x.log"], &[FlashMethod::Qemu]),
    (&["--log", "x.log", "--monitor"], &ALL_METHODS),
    // Only when mreq-flash installs the MicroPython module: the ESP8266 without --image (below).
    (&["--boot"], &[]),
];

const ALL_METHODS: [FlashMethod; 5] = [
    FlashMethod::Qemu,
    FlashMethod::Espflash,
    FlashMethod::Esp8266Rom,
    FlashMethod::Uf2,
    FlashMethod::ProbeRs,
];

/// Options every board takes (or that say what to flash).
const GENERAL: [&str; 23] = [
    "--board",
    "--elf",
    "--image",
    "--no-build",
    "--dry-run",
    "--check-image",
    "--list-boards",
    "--list-ports",
    "--help",
    "--version",
    "--wifi-ssid",
    "--wifi-pass",
    "--ip",
    "--gateway",
    "--dns",
    "--startup-url",
    "--cacert",
    "--insecure",
    "--ntp",
    "--config",
    "--config-reset",
    "--wifi-pass-file",
    "--app-setting",
];

#[test]
fn every_option_applies_to_its_boards_or_is_refused() {
    let mut failures = Vec::new();
    for board in boards::BOARDS {
        let firmware = if board.method == FlashMethod::Esp8266Rom {
            ["--image", "Cargo.toml"]
        } else {
            ["--elf", "Cargo.toml"]
        };
        for (words, methods) in SCOPED {
            let args = [&["--board", board.name, "--dry-run"][..], &firmware, words].concat();
            let out = flash(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let ok = if methods.contains(&board.method) {
                out.status.success()
            } else {
                out.status.code() == Some(2) && stderr.contains(words[0])
            };
            if !ok {
                failures.push(format!(
                    "{} {}: {:?} {stderr}",
                    board.name, words[0], out.status
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let boot = flash(&["--board", "esp8266", "--dry-run", "--boot"]);
    assert!(boot.status.success(), "{boot:?}");
    assert!(String::from_utf8_lossy(&boot.stdout).contains("boot.py joins the Wi-Fi"));
    // The ESP8266 takes a ready image, the others an ELF.
    let elf_on_8266 = flash(&["--board", "esp8266", "--dry-run", "--elf", "Cargo.toml"]);
    assert_eq!(elf_on_8266.status.code(), Some(2));
    let image_on_c3 = flash(&["--board", "esp32c3", "--dry-run", "--image", "Cargo.toml"]);
    assert_eq!(image_on_c3.status.code(), Some(2));
    let short_password = flash(&[
        "--board",
        "qemu",
        "--dry-run",
        "--elf",
        "Cargo.toml",
        "--wifi-ssid",
        "home",
        "--wifi-pass",
        "short",
    ]);
    assert_eq!(short_password.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short_password.stderr).contains("WPA2 takes 8 to 63"));
    let monitor_and_file = flash(&[
        "--board",
        "qemu",
        "--dry-run",
        "--elf",
        "Cargo.toml",
        "--monitor",
        "--pflash-out",
        "x.img",
    ]);
    assert_eq!(monitor_and_file.status.code(), Some(2));
    let log_and_file = flash(&[
        "--board",
        "qemu",
        "--dry-run",
        "--elf",
        "Cargo.toml",
        "--log",
        "x.log",
        "--pflash-out",
        "x.img",
    ]);
    assert_eq!(log_and_file.status.code(), Some(2));
    // `mreq-flash monitor` on QEMU, which has no serial port: a usage error naming the way.
    let monitor_qemu = flash(&["monitor", "--board", "qemu"]);
    assert_eq!(monitor_qemu.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&monitor_qemu.stderr).contains("--board qemu --monitor"));
}

#[test]
fn every_option_of_help_has_a_scope() {
    let help = flash(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    let known: Vec<&str> = SCOPED.iter().map(|(w, _)| w[0]).chain(GENERAL).collect();
    let missing: Vec<&str> = text
        .lines()
        // Option lines start with the option; wrapped help text may name others.
        .filter(|l| l.trim_start().starts_with('-'))
        .filter_map(|l| {
            l.trim_start()
                .split([' ', ',', '='])
                .find(|w| w.starts_with("--"))
        })
        .filter(|flag| !known.contains(flag))
        .collect();
    assert!(missing.is_empty(), "options without a scope: {missing:?}");
}

/// A RISC-V ELF whose code spins (`j .`) at the start of QEMU virt's RAM.
fn spinning_riscv_elf() -> PathBuf {
    let mut elf = tiny_elf(
        0x8000_0000,
        &0x0000_006fu32.to_le_bytes(),
        0x8000_0100,
        &[0; 4],
    );
    elf[18..20].copy_from_slice(&243u16.to_le_bytes()); // e_machine RISC-V
    let path = temp("spin.elf");
    std::fs::write(&path, elf).expect("write the ELF");
    path
}

#[test]
fn a_qemu_killed_by_a_signal_is_a_failure_and_a_timeout_says_so() {
    let elf = spinning_riscv_elf();
    let elf = elf.to_str().expect("path");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
            .args([&["--board", "qemu", "--no-build", "--elf", elf][..], extra].concat())
            .current_dir(ROOT)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run mreq-flash")
    };
    // The console on a socket nobody connects to: QEMU waits, and is killed from outside.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let flasher = run(&["--qemu-console", &format!("tcp:{port}")]);
    let mut killed = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let pkill = Command::new("pkill")
            .args(["-KILL", "-P", &flasher.id().to_string()])
            .status()
            .expect("pkill");
        if pkill.success() {
            killed = true;
            break;
        }
    }
    assert!(killed, "QEMU never started");
    let out = flasher.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("killed by signal 9"), "{stderr}");

    let timed = run(&["--qemu-console", &format!("tcp:{port}"), "--timeout", "1"])
        .wait_with_output()
        .expect("wait");
    let stderr = String::from_utf8_lossy(&timed.stderr);
    assert_eq!(timed.status.code(), Some(124), "{stderr}");
    assert!(stderr.contains("stopped QEMU after 1 s"), "{stderr}");
}

/// The pflash file of a boot without --pflash holds the configuration (the Wi-Fi password): it
/// has no name in the temporary directory while QEMU runs, and none is left when mreq-flash is
/// killed (QEMU opens it through an inherited descriptor).
#[test]
fn a_killed_boot_leaves_no_pflash_file_behind() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args([
            "--board",
            "qemu",
            "--timeout",
            "30",
            "--startup-url",
            "http://10.0.2.2:1/",
        ])
        .current_dir(ROOT)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run mreq-flash");
    let prefix = format!("mreq-flash-pflash-{}-", child.id());
    let ours = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .count()
    };
    // The firmware is built first (cargo, up to a minute on a busy machine), then QEMU starts.
    let qemu_of = || {
        let found = Command::new("pgrep")
            .args(["-P", &child.id().to_string(), "-f", "qemu-system-riscv32"])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&found.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let mut qemu = Vec::new();
    for _ in 0..600 {
        qemu = qemu_of();
        if !qemu.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(qemu.len(), 1, "one QEMU under mreq-flash");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        ours(),
        0,
        "a pflash file named in the temporary directory while QEMU runs"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = child.wait();
    // QEMU goes with it (it gets a signal when its parent dies), and no file is left.
    // A zombie (dead, not yet reaped by whoever inherited it) is not running.
    let alive = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
    };
    for _ in 0..100 {
        if !alive(&qemu[0]) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let orphan = alive(&qemu[0]);
    if orphan {
        let _ = Command::new("kill").args(["-KILL", &qemu[0]]).status();
    }
    assert!(!orphan, "QEMU kept running after mreq-flash was killed");
    assert_eq!(ours(), 0, "a pflash file left behind");
}

/// `--log` on QEMU: the console the firmware printed, in the file as on the terminal.
#[test]
fn the_qemu_console_is_logged() {
    let log = temp("qemu-console.log");
    let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(["--board", "qemu", "--timeout", "6", "--log"])
        .arg(&log)
        .current_dir(ROOT)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run mreq-flash");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        logged.starts_with("mreq-fw qemu: boot") && logged.contains("mreq> "),
        "{logged}"
    );
    assert_eq!(logged, String::from_utf8_lossy(&out.stdout));
}

#[test]
fn reflashing_without_configuration_options_keeps_the_boards_configuration() {
    // QEMU: the pflash file is the board's flash.
    let elf = spinning_riscv_elf();
    let pflash = temp("keep.pflash");
    let _ = std::fs::remove_file(&pflash);
    let write = |extra: &[&str]| {
        let base = [
            "--board",
            "qemu",
            "--no-build",
            "--elf",
            elf.to_str().unwrap(),
            "--pflash-out",
            pflash.to_str().unwrap(),
        ];
        let out = flash(&[&base[..], extra].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let image = std::fs::read(&pflash).unwrap();
        image[..mreq_fwconfig::BLOCK_SIZE].to_vec()
    };
    let configured = write(&["--startup-url", "http://10.0.2.2/kept"]);
    let parsed = mreq_fwconfig::Config::parse(&configured).expect("a valid block");
    assert_eq!(parsed.startup_url(), Some("http://10.0.2.2/kept"));
    assert_eq!(
        write(&[]),
        configured,
        "reflashed without options: the block is kept"
    );
    let reset = write(&["--config-reset"]);
    let parsed = mreq_fwconfig::Config::parse(&reset).expect("a valid empty block");
    assert_eq!(parsed.startup_url(), None, "--config-reset erases it");
    let _ = std::fs::remove_file(&pflash);

    // ESP32-C3: without options the merged image ends before the configuration partition, so
    // writing it at 0 leaves the board's configuration alone; with them it carries the block.
    let board = boards::board("esp32c3").unwrap();
    let merged = |extra: &[&str]| {
        let out_path = temp("keep-merged.bin");
        let base = [
            "--board",
            "esp32c3",
            "--merged-out",
            out_path.to_str().unwrap(),
        ];
        let out = flash(&[&base[..], extra].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let image = std::fs::read(&out_path).unwrap();
        let _ = std::fs::remove_file(&out_path);
        image
    };
    let kept = merged(&[]);
    assert!(
        kept.len() <= board.config_address as usize,
        "{} bytes",
        kept.len()
    );
    let configured = merged(&["--startup-url", "http://10.0.2.2/"]);
    let at = board.config_address as usize;
    assert_eq!(configured.len(), at + mreq_fwconfig::BLOCK_SIZE);
    let block = mreq_fwconfig::Config::parse(&configured[at..]).expect("the block");
    assert_eq!(block.startup_url(), Some("http://10.0.2.2/"));
}
