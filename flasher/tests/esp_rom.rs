//! `mreq-flash --board esp8266` against an emulated ESP8266 ROM loader on a pseudo-terminal. The
//! emulator, written here from Espressif's protocol description, keeps what it is told to write in
//! a memory image that is compared with what was meant to be flashed. Line faults (a dropped byte,
//! a corrupted byte) must be retried or end in a clear failure, never in a reported success.

mod microbit;
mod reference;

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

const FLASH_SIZE: usize = 4 * 1024 * 1024;

#[derive(Clone, Copy, Default)]
struct Faults {
    /// Drop one byte of this FLASH_DATA block, the first time it arrives.
    drop_byte_once: Option<u32>,
    /// Flip one data byte of this block, the first time it arrives.
    corrupt_once: Option<u32>,
    /// Flip one data byte of this block every time.
    corrupt_always: Option<u32>,
    /// The chip-detect register's value (default: an ESP8266's, 0xFFF0C101).
    magic: Option<u32>,
    /// Acknowledge the FLASH_DATA blocks of the write at this offset without storing them (as
    /// write-protected or worn flash would: the ROM does not read back either).
    lost_write_at: Option<u32>,
    /// Stop at FLASH_END and hand the pty back (the chip "resets" into the flashed firmware).
    stop_at_end: bool,
}

struct Outcome {
    flash: Vec<u8>,
    ended: bool,
    rejected: usize,
    /// Commands the ESP8266 ROM does not have, answered with an error.
    unknown: Vec<u8>,
    /// Every accepted FLASH_BEGIN: erase size, blocks, block size, offset.
    begins: Vec<[u32; 4]>,
    /// The pty, with `stop_at_end`.
    master: Option<File>,
}

fn open_pty() -> (File, String) {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new())
        .expect("ptsname")
        .into_string()
        .expect("pty name");
    (File::from(master), name)
}

fn slip(packet: &[u8]) -> Vec<u8> {
    let mut out = vec![0xC0];
    for &b in packet {
        match b {
            0xC0 => out.extend_from_slice(&[0xDB, 0xDC]),
            0xDB => out.extend_from_slice(&[0xDB, 0xDD]),
            b => out.push(b),
        }
    }
    out.push(0xC0);
    out
}

fn reply(op: u8, ok: bool) -> Vec<u8> {
    reply_value(op, ok, 0)
}

fn reply_value(op: u8, ok: bool, value: u32) -> Vec<u8> {
    let mut packet = vec![0x01, op, 2, 0];
    packet.extend_from_slice(&value.to_le_bytes());
    packet.extend_from_slice(if ok { &[0, 0] } else { &[1, 0x07] });
    slip(&packet)
}

fn word(data: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
}

/// A made-up SFDP table: the JEDEC signature, then bytes esptool's `read-flash-sfdp` reads back.
const SFDP: [u8; 8] = *b"SFDP\x06\x01\x02\xFF";

/// The ESP8266 SPI controller's user command, as esptool drives it through WRITE_REG (the flash
/// id, SFDP reads) and mreq-flash reads flash back: setting SPI_CMD_USR runs the command byte in
/// SPI_USR2 with the address (its bit length in SPI_USR1, left-aligned in SPI_ADDR) and reads the
/// MISO bit length given in SPI_USR1 into SPI_W0.., then clears the bit.
fn spi_user_command(registers: &mut std::collections::HashMap<u32, u32>, flash: &[u8]) {
    const SPI_CMD: u32 = 0x6000_0200;
    const SPI_ADDR: u32 = SPI_CMD + 0x04;
    const SPI_USR: u32 = SPI_CMD + 0x1C;
    const SPI_USR1: u32 = SPI_CMD + 0x20;
    const SPI_USR2: u32 = SPI_CMD + 0x24;
    const SPI_W0: u32 = SPI_CMD + 0x40;
    const USR: u32 = 1 << 18;
    let reg = |registers: &std::collections::HashMap<u32, u32>, a| {
        registers.get(&a).copied().unwrap_or(0)
    };
    let cmd = reg(registers, SPI_CMD);
    if cmd & USR == 0 {
        return;
    }
    let (usr, usr1) = (reg(registers, SPI_USR), reg(registers, SPI_USR1));
    let address = if usr & (1 << 30) != 0 {
        let bits = (usr1 >> 26) + 1;
        (reg(registers, SPI_ADDR) >> (32 - bits)) as usize
    } else {
        0
    };
    let miso_bytes = if usr & (1 << 28) != 0 {
        (((usr1 >> 8) & 0x1FF) as usize + 1).div_ceil(8)
    } else {
        0
    };
    let source: Vec<u8> = match reg(registers, SPI_USR2) & 0xFF {
        0x9F => vec![0xEF, 0x40, 0x16],
        0x5A => SFDP.get(address..).unwrap_or_default().to_vec(),
        0x03 => flash.get(address..).unwrap_or_default().to_vec(),
        _ => Vec::new(),
    };
    let mut answer = [0u8; 64];
    let n = miso_bytes.min(source.len()).min(64);
    answer[..n].copy_from_slice(&source[..n]);
    for (i, word) in answer.chunks(4).enumerate() {
        registers.insert(
            SPI_W0 + 4 * i as u32,
            u32::from_le_bytes([word[0], word[1], word[2], word[3]]),
        );
    }
    registers.insert(SPI_CMD, cmd & !USR);
}

/// Serves the ROM loader protocol until the other side closes the pty.
fn emulate(master: File, faults: Faults) -> Outcome {
    emulate_on(master, faults, vec![0xFFu8; FLASH_SIZE])
}

/// [`emulate`] with a flash that already holds something.
fn emulate_on(mut master: File, faults: Faults, mut flash: Vec<u8>) -> Outcome {
    let (mut offset, mut block_size) = (0u32, 0u32);
    let (mut ended, mut rejected) = (false, 0);
    let mut begins = Vec::new();
    let mut unknown = Vec::new();
    // The UART divider that a 26 MHz crystal gives at 115200 baud (esptool reads it).
    let mut registers = std::collections::HashMap::from([(0x6000_0014u32, 451u32)]);
    let mut seen_blocks = std::collections::HashSet::new();
    let mut frame: Vec<u8> = Vec::new();
    let mut in_frame = false;
    let mut buf = [0u8; 4096];
    'serve: loop {
        let n = match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &byte in &buf[..n] {
            if byte != 0xC0 {
                if in_frame {
                    frame.push(byte);
                }
                continue;
            }
            if frame.is_empty() {
                in_frame = true;
                continue;
            }
            let mut raw = std::mem::take(&mut frame);
            let mut packet = Vec::with_capacity(raw.len());
            let mut iter = raw.drain(..);
            while let Some(b) = iter.next() {
                packet.push(match (b, iter.as_slice().first()) {
                    (0xDB, Some(0xDC)) => (iter.next(), 0xC0).1,
                    (0xDB, Some(0xDD)) => (iter.next(), 0xDB).1,
                    (b, _) => b,
                });
            }
            if packet.len() < 8 || packet[0] != 0 {
                continue;
            }
            let op = packet[1];
            if op == 0x03 && packet.len() > 16 {
                let seq = word(&packet, 12);
                // Faults hit the image's blocks (at offset 0), not the configuration's.
                let first = seen_blocks.insert((offset, seq)) && offset == 0;
                if first && faults.drop_byte_once == Some(seq) {
                    packet.remove(20);
                }
                let always = offset == 0 && faults.corrupt_always == Some(seq);
                if (first && faults.corrupt_once == Some(seq)) || always {
                    packet[40] ^= 0x40;
                }
            }
            let size = u16::from_le_bytes([packet[2], packet[3]]) as usize;
            let check = packet[4];
            let data = &packet[8..];
            let ok = data.len() == size
                && match op {
                    // The ROM answers a SYNC eight times (esptool reads all eight).
                    0x08 if data.len() == 36 && data[..4] == [0x07, 0x07, 0x12, 0x20] => {
                        for _ in 0..8 {
                            let _ = master.write_all(&reply(op, true));
                        }
                        continue;
                    }
                    0x02 if data.len() == 16 => {
                        block_size = word(data, 8);
                        offset = word(data, 12);
                        begins.push([word(data, 0), word(data, 4), block_size, offset]);
                        true
                    }
                    0x03 => {
                        let (len, seq) = (word(data, 0) as usize, word(data, 4));
                        let payload = &data[16..];
                        let sum = payload.iter().fold(0xEFu8, |a, b| a ^ b);
                        let at = offset as usize + seq as usize * block_size as usize;
                        if payload.len() == len && sum == check && at + len <= FLASH_SIZE {
                            if faults.lost_write_at != Some(offset) {
                                flash[at..at + len].copy_from_slice(payload);
                            }
                            true
                        } else {
                            false
                        }
                    }
                    // Registers: the chip-detect magic, what was written, else zero.
                    0x0A if data.len() == 4 => {
                        let value = match word(data, 0) {
                            0x4000_1000 => faults.magic.unwrap_or(0xFFF0_C101),
                            address => registers.get(&address).copied().unwrap_or(0),
                        };
                        let _ = master.write_all(&reply_value(op, true, value));
                        continue;
                    }
                    // WRITE_REG: (address, value, mask, delay) quads.
                    0x09 if !data.is_empty() && data.len() % 16 == 0 => {
                        for quad in data.chunks(16) {
                            let (address, value, mask) =
                                (word(quad, 0), word(quad, 4), word(quad, 8));
                            let old = registers.get(&address).copied().unwrap_or(0);
                            registers.insert(address, (old & !mask) | (value & mask));
                        }
                        spi_user_command(&mut registers, &flash);
                        true
                    }
                    0x04 => {
                        ended = true;
                        let _ = master.write_all(&reply(op, true));
                        if faults.stop_at_end {
                            break 'serve;
                        }
                        // The new firmware "boots" and says hello on the console.
                        let _ = master.write_all(b"hello from the firmware\r\n");
                        continue;
                    }
                    // The ESP8266 ROM knows no other command (esptool asks for
                    // GET_SECURITY_INFO, 0x14, and takes the error for "not supported").
                    0x05..=0x07 | 0x0B.. => {
                        unknown.push(op);
                        let _ = master.write_all(&reply(op, false));
                        continue;
                    }
                    _ => false,
                };
            if !ok {
                rejected += 1;
            }
            let _ = master.write_all(&reply(op, ok));
        }
    }
    Outcome {
        flash,
        ended,
        rejected,
        unknown,
        begins,
        master: faults.stop_at_end.then_some(master),
    }
}

fn flash_with(faults: Faults, image: &[u8]) -> (std::process::Output, Outcome) {
    let (master, slave) = open_pty();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(emulate(master, faults));
    });
    let path = std::env::temp_dir().join(format!(
        "mreq-esp8266-{}-{:?}.bin",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, image).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args([
            "--board",
            "esp8266",
            "--port",
            &slave,
            "--image",
            path.to_str().unwrap(),
        ])
        .output()
        .expect("run mreq-flash");
    let _ = std::fs::remove_file(&path);
    let outcome = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("emulator finished");
    (out, outcome)
}

/// An image as the ROM boots it: the 0xE9 header magic, then bytes.
fn image() -> Vec<u8> {
    image_of(5000)
}

fn image_of(len: u32) -> Vec<u8> {
    let mut image: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    image[0] = 0xE9;
    image
}

fn assert_flashed(out: &std::process::Output, outcome: &Outcome, image: &[u8]) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(outcome.ended, "FLASH_END was sent");
    assert_eq!(&outcome.flash[..image.len()], image);
    assert!(
        outcome.flash[image.len()..].iter().all(|&b| b == 0xFF),
        "nothing but the image written (MicroPython's filesystem follows it)"
    );
}

#[test]
fn flashes_the_image_and_reads_it_back() {
    let image = image();
    let (out, outcome) = flash_with(Faults::default(), &image);
    assert_flashed(&out, &outcome, &image);
    assert_eq!(outcome.rejected, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("read back: image bytes 0x0..0x1000, image bytes 0x1000..0x1388"),
        "{stderr}"
    );
}

#[test]
fn another_chip_is_refused_before_anything_is_erased() {
    let image = image();
    let (out, outcome) = flash_with(
        Faults {
            magic: Some(0x1B31_506F),
            ..Faults::default()
        },
        &image,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is an ESP32-C3") && stderr.contains("nothing written"),
        "{stderr}"
    );
    assert!(
        outcome.flash.iter().all(|&b| b == 0xFF),
        "the flash was touched"
    );
    assert!(!outcome.ended);
}

#[test]
fn a_file_that_is_no_esp8266_image_is_refused() {
    // Checked before the port is opened: no port is needed to see it refused.
    let mut elf = image();
    elf[..4].copy_from_slice(b"\x7fELF");
    let path = std::env::temp_dir().join(format!("mreq-esp8266-elf-{}.bin", std::process::id()));
    std::fs::write(&path, &elf).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args([
            "--board",
            "esp8266",
            "--port",
            "/nonexistent/tty",
            "--image",
        ])
        .arg(&path)
        .output()
        .expect("run mreq-flash");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not an ESP8266 firmware image"), "{stderr}");
}

#[test]
fn a_dropped_byte_is_retried() {
    let image = image();
    let (out, outcome) = flash_with(
        Faults {
            drop_byte_once: Some(2),
            ..Faults::default()
        },
        &image,
    );
    assert_flashed(&out, &outcome, &image);
    assert_eq!(
        outcome.rejected, 1,
        "the damaged packet was rejected once, then resent"
    );
}

#[test]
fn a_bad_checksum_is_retried() {
    let image = image();
    let (out, outcome) = flash_with(
        Faults {
            corrupt_once: Some(1),
            ..Faults::default()
        },
        &image,
    );
    assert_flashed(&out, &outcome, &image);
    assert_eq!(outcome.rejected, 1);
}

#[test]
fn a_block_that_never_gets_through_fails_clearly() {
    let (out, outcome) = flash_with(
        Faults {
            corrupt_always: Some(3),
            ..Faults::default()
        },
        &image(),
    );
    assert!(
        !out.status.success(),
        "a failed flash must not report success"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("FLASH_DATA block 3") && stderr.contains("rejected"),
        "{stderr}"
    );
    assert!(!outcome.ended, "no FLASH_END after a failure");
}

#[test]
fn monitor_shows_the_console_after_flashing_and_ctrl_bracket_leaves() {
    use std::process::Stdio;
    let (master, slave) = open_pty();
    std::thread::spawn(move || emulate(master, Faults::default()));
    let path =
        std::env::temp_dir().join(format!("mreq-esp8266-monitor-{}.bin", std::process::id()));
    std::fs::write(&path, image()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args([
            "--board",
            "esp8266",
            "--port",
            &slave,
            "--image",
            path.to_str().unwrap(),
            "--monitor",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mreq-flash");
    std::thread::sleep(Duration::from_secs(2));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&[0x1d]).unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello from the firmware"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The emulator checked against the reference client: esptool's ROM loader client (no stub, as
/// the ROM runs) writes the same image and configuration block through it, and both tools leave
/// the same flash and ask for the same erase sizes (the ESP8266 ROM's erase quirk corrected alike).
#[test]
fn esptool_flashes_through_the_emulator_as_mreq_flash_does() {
    // 18 sectors from sector 0: the ROM's erase quirk needs correcting (9 sectors asked for).
    let image = image_of(70_000);
    let (out, by_mreq) = flash_with(Faults::default(), &image);
    assert_flashed(&out, &by_mreq, &image);
    // A second region, as a user flashing a filesystem image after the firmware would.
    let at = 0x30_0000usize;
    let block: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();

    let (master, slave) = open_pty();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(emulate(master, Faults::default()));
    });
    let dir = std::env::temp_dir();
    let image_path = dir.join(format!("mreq-esptool-image-{}.bin", std::process::id()));
    let block_path = dir.join(format!("mreq-esptool-config-{}.bin", std::process::id()));
    std::fs::write(&image_path, &image).unwrap();
    std::fs::write(&block_path, &block).unwrap();
    let run = reference::esptool()
        .args(["--chip", "esp8266", "--port", &slave, "--baud", "115200"])
        .args(["--before", "no-reset", "--after", "no-reset", "--no-stub"])
        .args(["write-flash", "0x0"])
        .arg(&image_path)
        .arg(format!("{at:#x}"))
        .arg(&block_path)
        .output()
        .expect("run esptool");
    let _ = std::fs::remove_file(&image_path);
    let _ = std::fs::remove_file(&block_path);
    let by_esptool = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("emulator finished");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "esptool failed:\n{text}");
    assert_eq!(
        by_esptool.rejected, 0,
        "the emulator rejected esptool's packets\n{text}"
    );
    let mut expected = by_mreq.flash.clone();
    expected[at..at + block.len()].copy_from_slice(&block);
    assert!(
        by_esptool.flash == expected,
        "esptool left other flash contents than mreq-flash (with the second region)\n{text}"
    );
    // esptool first sends an empty FLASH_BEGIN (it attaches the flash); the writes must agree.
    let writes =
        |o: &Outcome| -> Vec<[u32; 4]> { o.begins.iter().copied().filter(|b| b[1] > 0).collect() };
    assert_eq!(
        writes(&by_esptool)[..1],
        writes(&by_mreq)[..],
        "FLASH_BEGIN parameters\n{text}"
    );
    assert_eq!(
        writes(&by_esptool)[1][1..],
        [4, 1024, at as u32],
        "the second region"
    );
    assert_eq!(by_mreq.begins.len(), 1);
    assert_eq!(by_mreq.begins[0][0], 9 * 4096, "the corrected erase size");
    assert!(
        by_mreq.unknown.is_empty(),
        "mreq-flash sent {:02x?}",
        by_mreq.unknown
    );
}

#[test]
fn a_write_that_did_not_take_is_found_by_reading_back_and_the_board_is_not_reset() {
    let (out, outcome) = flash_with(
        Faults {
            lost_write_at: Some(0),
            ..Faults::default()
        },
        &image(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the firmware image") && stderr.contains("the write did not take"),
        "{stderr}"
    );
    assert!(!outcome.ended, "FLASH_END (and reset) after a failed write");
}

/// The emulator's SPI user command (which mreq-flash's read-back uses) decodes address and
/// length as esptool's `read-flash-sfdp` encodes them, at two addresses and lengths.
#[test]
fn esptool_reads_sfdp_through_the_emulated_spi_controller() {
    for (address, bytes) in [(0usize, 4usize), (4, 3)] {
        let (master, slave) = open_pty();
        std::thread::spawn(move || emulate(master, Faults::default()));
        let run = reference::esptool()
            .args(["--chip", "esp8266", "--port", &slave, "--no-stub"])
            .args(["--before", "no-reset", "--after", "no-reset"])
            .args(["read-flash-sfdp", &address.to_string(), &bytes.to_string()])
            .output()
            .expect("run esptool");
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let expected: Vec<String> = SFDP[address..address + bytes]
            .iter()
            .map(|b| format!("{b:#04x}"))
            .collect();
        let line = format!(
            "SFDP[{address}..{}]: {}",
            address + bytes - 1,
            expected.join(" ")
        );
        assert!(text.contains(&line), "no {line:?} in\n{text}");
    }
}

/// `mreq-flash monitor` on a board's console port: what the board prints is shown and logged as
/// it came, and a line holding a code address (a backtrace) is followed by the function and
/// source line the firmware's ELF gives for it; other numbers are left alone.
#[test]
fn monitor_names_backtrace_addresses_from_the_elf_and_logs_the_console() {
    use object::{Object, ObjectSymbol};
    use std::process::Stdio;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // Builds the ESP32-C3 firmware if it is not built yet (else only checks it).
    let built = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(["--board", "esp32c3", "--check-image"])
        .current_dir(root)
        .output()
        .expect("run mreq-flash");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let elf = std::path::Path::new(root).join(
        "firmware/boards/esp32c3/target/riscv32imc-unknown-none-elf/release/mreq-board-esp32c3",
    );
    let data = std::fs::read(&elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let parse = file
        .symbols()
        .find(|s| {
            s.name()
                .is_ok_and(|n| n.contains("13mreq_fwconfig6Config5parse"))
        })
        .expect("mreq_fwconfig::Config::parse in the ELF");
    let address = parse.address() + 4;

    let (mut master, slave) = open_pty();
    let log = std::env::temp_dir().join(format!("mreq-monitor-{}.log", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(["monitor", "--board", "esp32c3", "--port", &slave, "--elf"])
        .arg(&elf)
        .arg("--log")
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mreq-flash monitor");
    std::thread::sleep(Duration::from_millis(700));
    let console = format!(
        "mreq> get http://x/\r\npanicked at src/x.rs\r\nBacktrace:\r\n0x{address:08x}\r\nRAM 0x3fc80000\r\n"
    );
    master.write_all(console.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child.stdin.take().unwrap().write_all(&[0x1d]).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("mreq> get http://x/\r\npanicked"),
        "{stdout}"
    );
    let named = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{address:#010x}: ")))
        .unwrap_or_else(|| panic!("no line naming {address:#x} in\n{stdout}"));
    assert!(
        named.contains("Config::parse") && named.contains(".rs:"),
        "{named}"
    );
    assert!(
        !stdout.contains("0x3fc80000:"),
        "a RAM address was named: {stdout}"
    );
    assert_eq!(logged, stdout, "the log holds what was shown");
}

/// The ESP8266 runs MicroPython, whose filesystem fills the flash: no configuration block is
/// ever written there (the module's configuration is a file), and saying so is a usage error.
#[test]
fn no_configuration_block_is_written_into_micropythons_filesystem() {
    let path = std::env::temp_dir().join(format!("mreq-esp8266-cfg-{}.bin", std::process::id()));
    std::fs::write(&path, image()).unwrap();
    for args in [
        &[
            "--board",
            "esp8266",
            "--port",
            "/dev/null",
            "--image",
            path.to_str().unwrap(),
            "--startup-url",
            "http://x/",
        ][..],
        &[
            "config",
            "show",
            "--board",
            "esp8266",
            "--port",
            "/dev/null",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
            .args(args)
            .output()
            .expect("run mreq-flash");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("mreq_config.json"), "{stderr}");
    }
    let _ = std::fs::remove_file(&path);
}

/// A MicroPython image is flashed, and then the module is installed on the MicroPython it
/// booted, on the same port: the emulated ROM loader takes the image, and at its end the port
/// leads to a real MicroPython (the micro:bit's 1.9.2 in QEMU), which the installer identifies.
/// That one is too old for mrequests, which is refused before anything is copied.
#[test]
fn a_micropython_image_is_flashed_and_then_the_module_installed() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let board = microbit::boot();
    let (master, slave) = open_pty();
    let done = Arc::new(AtomicBool::new(false));
    let relay_done = done.clone();
    let board_pty = board.pty.clone();
    let relay = std::thread::spawn(move || {
        let mut outcome = emulate(
            master,
            Faults {
                stop_at_end: true,
                ..Faults::default()
            },
        );
        let master = outcome.master.take().expect("the pty handed back");
        forward(master, &board_pty, &relay_done);
        outcome
    });
    let mut image = image_of(6000);
    image[100..133].copy_from_slice(b"MicroPython v1.22.2 on 2024-02-22");
    let path = std::env::temp_dir().join(format!("mreq-esp8266-mp-{}.bin", std::process::id()));
    std::fs::write(&path, &image).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(["--board", "esp8266", "--port", &slave, "--image"])
        .arg(&path)
        .args(["--wifi-ssid", "home"])
        .env("MREQ_WIFI_PASS", "a-long-password")
        .output()
        .expect("run mreq-flash");
    done.store(true, Ordering::SeqCst);
    let outcome = relay.join().unwrap();
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(&outcome.flash[..image.len()], &image[..], "{stderr}");
    assert!(
        stderr.contains("flashed 6000 bytes")
            && stderr.contains("MicroPython 1.9.2 on microbit")
            && stderr.contains("mrequests needs MicroPython 1.19"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}

/// Copies bytes between the pty mreq-flash uses and the board's until `done`; while mreq-flash
/// has the port closed (between flashing and installing) the pty reads fail, and it waits.
fn forward(master: File, board_pty: &str, done: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering;
    let mut board = serialport::new(board_pty, 115_200)
        .timeout(Duration::from_millis(20))
        .open()
        .expect("open the board's pty");
    let mut board_back = board.try_clone().unwrap();
    let mut host = master.try_clone().unwrap();
    let mut host_back = master;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut buf = [0u8; 256];
            while !done.load(Ordering::SeqCst) {
                match board_back.read(&mut buf) {
                    Ok(n) => {
                        let _ = host_back.write_all(&buf[..n]);
                    }
                    Err(_) => continue,
                }
            }
        });
        let mut buf = [0u8; 256];
        while !done.load(Ordering::SeqCst) {
            match host.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let _ = board.write_all(&buf[..n]);
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
}
