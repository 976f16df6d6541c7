//! Debian's MicroPython 1.9.2 for the BBC micro:bit, booted in `qemu-system-arm -M microbit`
//! with its UART on a pseudo-terminal: a real MicroPython for the installer's tests.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const HEX: &str = "/usr/share/firmware-microbit-micropython/firmware.hex";

/// The firmware's Intel hex records below 0x40000 (the nRF51's flash) as one binary: the UICR
/// record at 0x10001000 would make QEMU's loader file 268 MB. Made once: the tests run at the
/// same time, and a QEMU that read the file while another test rewrote it would stop at once,
/// freeing its pty number for another test's pty.
fn microbit_image() -> &'static Path {
    static IMAGE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    IMAGE.get_or_init(write_microbit_image)
}

fn write_microbit_image() -> PathBuf {
    let hex = std::fs::read_to_string(HEX).unwrap_or_else(|e| {
        panic!("{HEX}: {e} (scripts/setup.sh installs firmware-microbit-micropython)")
    });
    let mut image = vec![0xFFu8; 0x40000];
    let (mut base, mut top) = (0usize, 0usize);
    for line in hex.lines().filter_map(|l| l.trim().strip_prefix(':')) {
        let bytes: Vec<u8> = (0..line.len() / 2)
            .map(|i| u8::from_str_radix(&line[2 * i..2 * i + 2], 16).expect("hex digits"))
            .collect();
        let (len, offset, kind) = (
            bytes[0] as usize,
            (bytes[1] as usize) << 8 | bytes[2] as usize,
            bytes[3],
        );
        let data = &bytes[4..4 + len];
        match kind {
            0 if base + offset + len <= image.len() => {
                image[base + offset..base + offset + len].copy_from_slice(data);
                top = top.max(base + offset + len);
            }
            2 => base = ((data[0] as usize) << 8 | data[1] as usize) << 4,
            4 => base = ((data[0] as usize) << 8 | data[1] as usize) << 16,
            _ => {}
        }
    }
    let path = std::env::temp_dir().join(format!("mreq-microbit-{}.bin", std::process::id()));
    std::fs::write(&path, &image[..top]).unwrap();
    path
}

/// A booted micro:bit; QEMU is stopped when it is dropped.
pub struct Microbit {
    qemu: Child,
    pub pty: String,
}

impl Drop for Microbit {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

pub fn boot() -> Microbit {
    let image = microbit_image();
    let mut qemu = Command::new("qemu-system-arm")
        .args(["-M", "microbit", "-display", "none", "-monitor", "none"])
        .args(["-serial", "pty", "-device"])
        .arg(format!("loader,file={},addr=0", image.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm (scripts/setup.sh installs it)");
    // QEMU names the pty on stdout or stderr, depending on the version.
    let (sender, receiver) = std::sync::mpsc::channel();
    for stream in [
        Box::new(qemu.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(qemu.stderr.take().unwrap()),
    ] {
        let sender = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(at) = line.find("/dev/pts/") {
                    let pty: String = line[at..]
                        .chars()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    let _ = sender.send(pty);
                }
            }
        });
    }
    let pty = receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("QEMU named its pty");
    // MicroPython needs a moment to reach its REPL.
    std::thread::sleep(Duration::from_millis(800));
    if let Ok(Some(status)) = qemu.try_wait() {
        panic!("QEMU stopped as it started ({status}): its pty {pty} is gone");
    }
    Microbit { qemu, pty }
}
