//! Serial ports with their USB vendor/product IDs and a guess of the chip behind them (Linux sysfs).

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

    #[test]
    fn guesses_known_bridges() {
        assert!(guess(0x303a, 0x1001).contains("ESP32-C3"));
        assert!(guess(0x2e8a, 0x000a).contains("RP2040"));
        assert_eq!(guess(0x1234, 0x5678), "unknown");
    }
}
