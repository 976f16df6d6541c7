//! Serial ports with their USB vendor/product IDs and a guess of the chip behind them (Linux sysfs).

use mreq_fwconfig::boards::Board;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub path: String,
    pub usb: Option<(u16, u16)>,
}

/// Boards' USB serial bridges by vendor (and product) ID.
pub fn guess(vid: u16, pid: u16) -> &'static str {
    match (vid, pid) {
        (0x303a, 0x1001) => "Espressif USB-Serial-JTAG (ESP32-C3/S3)",
        (0x303a, _) => "Espressif",
        (0x2e8a, _) => "Raspberry Pi (RP2040 CDC: the mreq console)",
        (0x10c4, 0xea60) => "CP210x USB-UART (ESP32/ESP8266 boards)",
        (0x1a86, 0x7523) => "CH340 USB-UART (NodeMCU, ESP boards)",
        (0x0403, _) => "FTDI USB-UART",
        (0x0483, 0x374b | 0x3748 | 0x374e) => "ST-Link (STM32 virtual COM port)",
        _ => "unknown",
    }
}

/// The port to flash `board` through when none was named: the only one whose USB IDs the board
/// shows. Any other single port (an unrelated device) is never taken: its modem lines would be
/// toggled to reset a chip that is not there.
pub fn choose<'p>(ports: &'p [Port], board: &Board) -> Result<&'p Port, String> {
    let matching: Vec<&Port> = ports
        .iter()
        .filter(|p| p.usb.is_some_and(|id| board.usb.contains(&id)))
        .collect();
    let seen = || {
        if ports.is_empty() {
            return "no USB serial ports".to_string();
        }
        let names: Vec<String> = ports.iter().map(describe).collect();
        format!("ports: {}", names.join(", "))
    };
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no serial port shows the USB IDs of the {} ({}); {}: plug the board in, or give --port",
            board.name,
            ids(board.usb),
            seen()
        )),
        many => {
            let names: Vec<String> = many.iter().map(|p| describe(p)).collect();
            Err(format!(
                "several ports could be the {}: {}; choose one with --port",
                board.name,
                names.join(", ")
            ))
        }
    }
}

/// `/dev/ttyUSB0 (10c4:ea60 CP210x USB-UART ...)`.
pub fn describe(port: &Port) -> String {
    match port.usb {
        Some((vid, pid)) => format!("{} ({vid:04x}:{pid:04x} {})", port.path, guess(vid, pid)),
        None => format!("{} (no USB IDs)", port.path),
    }
}

fn ids(usb: &[(u16, u16)]) -> String {
    let all: Vec<String> = usb
        .iter()
        .map(|(v, p)| format!("{v:04x}:{p:04x}"))
        .collect();
    all.join(", ")
}

/// The USB IDs of a port named by path (`--port`), if it is a USB serial port.
pub fn usb_of(path: &str) -> Option<(u16, u16)> {
    let wanted = std::fs::canonicalize(path).ok()?;
    list()
        .into_iter()
        .find(|p| std::fs::canonicalize(&p.path).ok().as_ref() == Some(&wanted))
        .and_then(|p| p.usb)
}

/// USB serial ports (`ttyUSB*`, `ttyACM*`) found in sysfs.
pub fn list() -> Vec<Port> {
    let Ok(entries) = std::fs::read_dir("/sys/class/tty") else {
        return Vec::new();
    };
    let mut ports: Vec<Port> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.starts_with("ttyUSB") || name.starts_with("ttyACM"))
        .map(|name| {
            let usb = usb_ids(&Path::new("/sys/class/tty").join(&name).join("device"));
            Port {
                path: format!("/dev/{name}"),
                usb,
            }
        })
        .collect();
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    ports
}

/// Walks up from the tty's device to the USB device that has `idVendor` and `idProduct`.
fn usb_ids(device: &Path) -> Option<(u16, u16)> {
    let mut dir = std::fs::canonicalize(device).ok()?;
    for _ in 0..6 {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .ok()
                .and_then(|t| u16::from_str_radix(t.trim(), 16).ok())
        };
        if let (Some(vid), Some(pid)) = (read("idVendor"), read("idProduct")) {
            return Some((vid, pid));
        }
        dir = dir.parent()?.to_path_buf();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(path: &str, usb: Option<(u16, u16)>) -> Port {
        Port {
            path: path.into(),
            usb,
        }
    }

    #[test]
    fn only_a_port_the_board_shows_is_chosen() {
        let c3 = mreq_fwconfig::boards::board("esp32c3").unwrap();
        let unrelated = [port("/dev/ttyACM0", Some((0x2341, 0x0043)))];
        let err = choose(&unrelated, c3).unwrap_err();
        assert!(
            err.contains("no serial port shows") && err.contains("2341:0043"),
            "{err}"
        );
        let ports = [
            port("/dev/ttyACM0", Some((0x2341, 0x0043))),
            port("/dev/ttyACM1", Some((0x303a, 0x1001))),
            port("/dev/ttyS9", None),
        ];
        assert_eq!(choose(&ports, c3).unwrap().path, "/dev/ttyACM1");
        let two = [
            port("/dev/ttyUSB0", Some((0x10c4, 0xea60))),
            port("/dev/ttyACM1", Some((0x303a, 0x1001))),
        ];
        assert!(choose(&two, c3).unwrap_err().contains("several ports"));
        let esp8266 = mreq_fwconfig::boards::board("esp8266").unwrap();
        assert!(
            choose(&ports, esp8266).is_err(),
            "the ESP8266 has no USB of its own"
        );
    }

    #[test]
    fn guesses_known_bridges() {
        assert!(guess(0x303a, 0x1001).contains("ESP32-C3"));
        assert!(guess(0x2e8a, 0x000a).contains("RP2040"));
        assert_eq!(guess(0x1234, 0x5678), "unknown");
    }
}
