//! `mreq-flash config show|set|reset` on the boards whose flash a test can hold: QEMU's pflash
//! file and an RP2040 boot drive (a directory with INFO_UF2.TXT and CURRENT.UF2). The ESP8266's,
//! through the emulated ROM loader, is in esp_rom.rs.

use mreq_fwconfig::Config;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const SECRET: &str = "correct horse battery";

fn flash(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(args)
        .current_dir(ROOT)
        .env_remove("MREQ_WIFI_PASS")
        .output()
        .expect("run mreq-flash")
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mreq-config-test-{}-{name}", std::process::id()))
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn pass_file() -> PathBuf {
    let path = temp("pass");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    path
}

fn block_of(pflash: &Path) -> Vec<u8> {
    std::fs::read(pflash).unwrap()[..mreq_fwconfig::BLOCK_SIZE].to_vec()
}

#[test]
fn qemu_show_set_reset_keep_what_is_not_changed_and_never_print_the_password() {
    let pflash = temp("qemu.img");
    let pass = pass_file();
    let _ = std::fs::remove_file(&pflash);
    let pflash_arg = pflash.to_str().unwrap();
    ok(&flash(&[
        "--board",
        "qemu",
        "--no-build",
        "--elf",
        "Cargo.toml",
        "--pflash-out",
        pflash_arg,
        "--wifi-ssid",
        "home",
        "--wifi-pass-file",
        pass.to_str().unwrap(),
        "--startup-url",
        "http://10.0.2.2/",
    ]));
    let where_ = ["--board", "qemu", "--pflash", pflash_arg];

    let shown = ok(&flash(&[&["config", "show"][..], &where_].concat()));
    assert!(shown.contains("wifi-ssid    \"home\""), "{shown}");
    assert!(shown.contains("startup-url  http://10.0.2.2/"), "{shown}");
    assert!(
        !shown.contains(SECRET) && shown.contains("********"),
        "{shown}"
    );

    let set = flash(
        &[
            &["config", "set"][..],
            &where_,
            &["--ntp", "time.lan:123", "--dns", "10.0.2.3"],
        ]
        .concat(),
    );
    let said = format!("{}{}", ok(&set), String::from_utf8_lossy(&set.stderr));
    assert!(!said.contains(SECRET), "{said}");
    let block = block_of(&pflash);
    let config = Config::parse(&block).expect("a valid block after set");
    assert_eq!(config.wifi_ssid(), Some("home"), "kept");
    assert_eq!(config.wifi_password(), Some(SECRET), "kept");
    assert_eq!(config.startup_url(), Some("http://10.0.2.2/"), "kept");
    assert_eq!(config.ntp_server(), Some("time.lan:123"), "set");
    assert_eq!(
        config.dns_servers().collect::<Vec<_>>(),
        [[10, 0, 2, 3]],
        "set"
    );

    // A second set replaces a setting, it does not add a second one.
    ok(&flash(
        &[
            &["config", "set"][..],
            &where_,
            &["--startup-url", "http://10.0.2.2:8080/x"],
        ]
        .concat(),
    ));
    let block = block_of(&pflash);
    let config = Config::parse(&block).unwrap();
    assert_eq!(config.startup_url(), Some("http://10.0.2.2:8080/x"));
    assert_eq!(config.ntp_server(), Some("time.lan:123"));

    // Application settings are replaced name by name: setting one keeps the others.
    ok(&flash(
        &[
            &["config", "set"][..],
            &where_,
            &[
                "--app-setting",
                "SERVER=http://10.0.2.2:8080/a=b",
                "--app-setting",
                "EVERY_MS=500",
            ],
        ]
        .concat(),
    ));
    ok(&flash(
        &[
            &["config", "set"][..],
            &where_,
            &["--app-setting", "EVERY_MS=250"],
        ]
        .concat(),
    ));
    let block = block_of(&pflash);
    let config = Config::parse(&block).unwrap();
    assert_eq!(
        config.app_setting("SERVER"),
        Some("http://10.0.2.2:8080/a=b"),
        "kept"
    );
    assert_eq!(config.app_setting("EVERY_MS"), Some("250"), "replaced");
    assert_eq!(config.app_settings().count(), 2, "replaced, not added");
    assert_eq!(config.ntp_server(), Some("time.lan:123"), "kept");
    let shown = ok(&flash(&[&["config", "show"][..], &where_].concat()));
    assert!(shown.contains("EVERY_MS=250"), "{shown}");
    for bad in ["NOEQUALS", "=value"] {
        let refused = flash(&[&["config", "set"][..], &where_, &["--app-setting", bad]].concat());
        assert_eq!(refused.status.code(), Some(1), "{bad}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("expected NAME=VALUE"),
            "{refused:?}"
        );
    }

    // A damaged block is refused by set (nothing of it silently dropped) and shown as damaged.
    let mut damaged = std::fs::read(&pflash).unwrap();
    damaged[20] ^= 0xFF;
    std::fs::write(&pflash, &damaged).unwrap();
    let refused = flash(&[&["config", "set"][..], &where_, &["--ntp", "x.lan"]].concat());
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("config reset"));
    assert_eq!(std::fs::read(&pflash).unwrap(), damaged, "nothing written");
    assert!(ok(&flash(&[&["config", "show"][..], &where_].concat()))
        .contains("not a valid configuration block"));

    ok(&flash(&[&["config", "reset"][..], &where_].concat()));
    assert!(
        block_of(&pflash).iter().all(|&b| b == 0xFF),
        "reset erases the block"
    );
    assert!(ok(&flash(&[&["config", "show"][..], &where_].concat()))
        .contains("no configuration (erased)"));
    let _ = std::fs::remove_file(&pflash);
    let _ = std::fs::remove_file(&pass);
}

#[test]
fn options_that_do_not_apply_are_refused_with_exit_2() {
    let cases: [&[&str]; 7] = [
        &["config", "show", "--board", "qemu"],
        &["config", "show", "--board", "esp32c3", "--pflash", "x.img"],
        &[
            "config",
            "show",
            "--board",
            "qemu",
            "--pflash",
            "x.img",
            "--port",
            "/dev/null",
        ],
        &[
            "config",
            "show",
            "--board",
            "stm32f407-w5500",
            "--drive",
            "/mnt",
        ],
        &["config", "show", "--board", "rp2-pico-w", "--baud", "9600"],
        &["config", "set", "--board", "qemu", "--pflash", "x.img"],
        &["config", "show", "--board", "no-such-board"],
    ];
    for case in cases {
        let out = flash(case);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{case:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The RP2040's boot drive: `show` reads CURRENT.UF2 (the flash as the boot ROM shows it), `set`
/// writes a UF2 holding only the block's pages and waits for the board to reboot.
#[test]
fn rp2040_boot_drive_show_and_set() {
    let drive = temp("drive");
    let _ = std::fs::remove_dir_all(&drive);
    std::fs::create_dir_all(&drive).unwrap();
    std::fs::write(
        drive.join("INFO_UF2.TXT"),
        "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n",
    )
    .unwrap();
    // A flash image with firmware and a configuration, as the boot ROM would show it (the
    // firmware built if it is not yet).
    let current = drive.join("CURRENT.UF2");
    let made = flash(&[
        "--board",
        "rp2-pico-w",
        "--uf2-out",
        current.to_str().unwrap(),
        "--startup-url",
        "http://192.168.4.2/",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let at = ["--board", "rp2-pico-w", "--drive", drive.to_str().unwrap()];

    let shown = ok(&flash(&[&["config", "show"][..], &at].concat()));
    assert!(
        shown.contains("startup-url  http://192.168.4.2/"),
        "{shown}"
    );

    // The "board" takes the file and reboots: its drive goes away.
    let watched = drive.clone();
    let reboot = std::thread::spawn(move || {
        for _ in 0..200 {
            if watched.join("mreq-config.uf2").exists() {
                std::thread::sleep(std::time::Duration::from_millis(200));
                let _ = std::fs::remove_file(watched.join("INFO_UF2.TXT"));
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    });
    ok(&flash(
        &[&["config", "set"][..], &at, &["--ntp", "pool.lan"]].concat(),
    ));
    assert!(reboot.join().unwrap(), "no UF2 written to the drive");
    let uf2 = std::fs::read(drive.join("mreq-config.uf2")).unwrap();
    let board = mreq_fwconfig::boards::board("rp2-pico-w").unwrap();
    let blocks: Vec<&[u8]> = uf2.chunks(512).collect();
    assert_eq!(
        blocks.len(),
        mreq_fwconfig::BLOCK_SIZE / 256,
        "only the block's pages"
    );
    let mut block = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let word = |n: usize| u32::from_le_bytes(b[n * 4..n * 4 + 4].try_into().unwrap());
        assert_eq!(
            word(3),
            board.config_address + 256 * i as u32,
            "page address"
        );
        assert_eq!(word(7), 0xE48B_FF56, "RP2040 family");
        block.extend_from_slice(&b[32..32 + 256]);
    }
    let config = Config::parse(&block).expect("the written block");
    assert_eq!(config.startup_url(), Some("http://192.168.4.2/"), "kept");
    assert_eq!(config.ntp_server(), Some("pool.lan"), "set");
    let _ = std::fs::remove_dir_all(&drive);
}
