//! The board table: one source of truth for every board's chip, target, flash layout and flash
//! method. The flasher reads it to build and flash; each board crate's `build.rs` reads it to place
//! the configuration block, so the two can never disagree about where the block lives.

/// How an image gets onto a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashMethod {
    /// espflash over the chip's serial ROM loader (ESP32-C3, ESP32-S3).
    Espflash,
    /// Espressif's ESP8266 ROM loader protocol, for a given image (no Rust toolchain builds it).
    Esp8266Rom,
    /// A UF2 file copied onto the BOOTSEL drive (or probe-rs with a debug probe).
    Uf2,
    /// probe-rs through a debug probe (ST-Link, CMSIS-DAP, J-Link).
    ProbeRs,
    /// The virtual board: the block goes into a pflash image and QEMU boots the ELF.
    Qemu,
}

/// Whether this machine's CI can build the board's firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStatus {
    /// Built in CI from the crate in `firmware/boards/<name>`.
    BuiltInCi,
    /// Needs the Espressif Xtensa toolchain (`espup`), which cannot be installed here.
    NeedsEspToolchain,
    /// No Rust toolchain targets the chip: only a given image can be flashed.
    FlashOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// The `--board` name.
    pub name: &'static str,
    /// The crate under `firmware/boards/` that builds it (boards that differ only in the chip
    /// variant share one crate).
    pub crate_dir: &'static str,
    /// The crate's features for this board: `Some` builds with `--no-default-features
    /// --features ...` (the crate's defaults are its first board's), `None` with its defaults.
    pub features: Option<&'static str>,
    /// The cargo profile it builds with: `release`, or the crate's `release-small` (opt-level
    /// "z") where flash is short.
    pub profile: &'static str,
    pub chip: &'static str,
    pub description: &'static str,
    /// Rust target triple (`None` when no Rust toolchain targets the chip).
    pub target: Option<&'static str>,
    pub network: &'static str,
    pub console: &'static str,
    pub method: FlashMethod,
    pub status: BuildStatus,
    /// Where the flash is mapped (0 for flash that is not memory-mapped by address).
    pub flash_origin: u32,
    pub flash_size: u32,
    /// The smallest unit the flash erases: the configuration region is one whole unit.
    pub erase_size: u32,
    /// Address of the configuration block: a [`crate::BLOCK_SIZE`] block at the start of its own
    /// erase unit, which holds nothing else. Usually the last unit; where that is large (the
    /// STM32F407VE's last sector is a quarter of its flash) a small one near the start.
    pub config_address: u32,
    pub default_baud: u32,
    /// The chip's name in probe-rs's target database, for flashing through a debug probe.
    pub probe_chip: Option<&'static str>,
    /// The USB vendor:product IDs the board's serial port shows (its own USB, or the USB-UART
    /// bridges its boards carry): `mreq-flash` picks a port only among these.
    pub usb: &'static [(u16, u16)],
}

/// Espressif's USB-Serial-JTAG (ESP32-C3/S3 with native USB, e.g. the XIAO ESP32-C3).
pub const ESP_USB_JTAG: (u16, u16) = (0x303a, 0x1001);
/// USB-UART bridges on ESP boards: Silicon Labs CP210x, WCH CH340 and CH9102, FTDI FT232R.
const UART_BRIDGES: [(u16, u16); 4] = [
    (0x10c4, 0xea60),
    (0x1a86, 0x7523),
    (0x1a86, 0x55d4),
    (0x0403, 0x6001),
];
const ESP32_PORTS: [(u16, u16); 5] = [
    ESP_USB_JTAG,
    UART_BRIDGES[0],
    UART_BRIDGES[1],
    UART_BRIDGES[2],
    UART_BRIDGES[3],
];

/// ST-Link virtual COM ports (V2-1, V2, V3).
const ST_LINK: [(u16, u16); 3] = [(0x0483, 0x374b), (0x0483, 0x3748), (0x0483, 0x374e)];

impl Board {
    /// The configuration region: `config_address` up to the end of its erase unit.
    pub fn config_region(&self) -> core::ops::Range<u32> {
        self.config_address..self.config_address + self.erase_size
    }

    /// Where firmware may go: the flash below the configuration region and the flash above it
    /// (empty where the region is the last erase unit).
    pub fn firmware_regions(&self) -> [core::ops::Range<u32>; 2] {
        let region = self.config_region();
        [
            self.flash_origin..region.start,
            region.end..self.flash_origin + self.flash_size,
        ]
    }

    /// The flash below the configuration region.
    pub fn firmware_limit(&self) -> u32 {
        self.config_address
    }
}

/// The STM32F407VG board, which the VE shares its crate and wiring with.
const STM32F407VG: Board = Board {
    name: "stm32f407-w5500",
    crate_dir: "stm32f407-w5500",
    features: None,
    profile: "release",
    chip: "STM32F407VG",
    description: "STM32F407VGT6 (1 MB flash) with a WIZnet W5500 on SPI",
    target: Some("thumbv7em-none-eabihf"),
    network: "Ethernet (W5500)",
    console: "USART",
    method: FlashMethod::ProbeRs,
    status: BuildStatus::BuiltInCi,
    flash_origin: 0x0800_0000,
    flash_size: 1024 * 1024,
    // Sector 11, the last 128 KiB sector: the smallest erase unit at the end of this flash.
    erase_size: 128 * 1024,
    config_address: 0x080E_0000,
    default_baud: 115_200,
    probe_chip: Some("STM32F407VGTx"),
    usb: &ST_LINK,
};

pub const BOARDS: &[Board] = &[
    Board {
        name: "qemu",
        crate_dir: "qemu",
        features: None,
        profile: "release",
        chip: "QEMU virt",
        description: "QEMU virt machine, virtio-net on user-mode networking",
        target: Some("riscv32imac-unknown-none-elf"),
        network: "virtio-net",
        console: "ns16550 UART",
        method: FlashMethod::Qemu,
        status: BuildStatus::BuiltInCi,
        // Second pflash bank; the firmware itself is loaded into RAM.
        flash_origin: 0x2200_0000,
        flash_size: 32 * 1024 * 1024,
        erase_size: 4096,
        config_address: 0x2200_0000,
        default_baud: 115_200,
        probe_chip: None,
        usb: &[],
    },
    Board {
        name: "esp32c3",
        crate_dir: "esp32c3",
        features: None,
        profile: "release",
        chip: "ESP32-C3",
        description: "Seeed XIAO ESP32-C3 (4 MB flash)",
        target: Some("riscv32imc-unknown-none-elf"),
        network: "Wi-Fi (esp-radio)",
        console: "USB-Serial-JTAG",
        method: FlashMethod::Espflash,
        status: BuildStatus::BuiltInCi,
        flash_origin: 0,
        flash_size: 4 * 1024 * 1024,
        erase_size: 4096,
        config_address: 0x3F_F000,
        default_baud: 460_800,
        probe_chip: None,
        usb: &ESP32_PORTS,
    },
    Board {
        name: "esp32s3",
        crate_dir: "esp32c3",
        features: Some("esp32s3"),
        profile: "release",
        chip: "ESP32-S3",
        description: "Waveshare ESP32-S3-Zero (4 MB flash)",
        target: Some("xtensa-esp32s3-none-elf"),
        network: "Wi-Fi (esp-radio)",
        console: "USB-Serial-JTAG",
        method: FlashMethod::Espflash,
        status: BuildStatus::NeedsEspToolchain,
        flash_origin: 0,
        flash_size: 4 * 1024 * 1024,
        erase_size: 4096,
        config_address: 0x3F_F000,
        default_baud: 460_800,
        probe_chip: None,
        usb: &ESP32_PORTS,
    },
    Board {
        name: "rp2-pico-w",
        crate_dir: "rp2-pico-w",
        features: None,
        profile: "release",
        chip: "RP2040",
        description: "Raspberry Pi Pico W (RP2040 + CYW43439, 2 MB flash)",
        target: Some("thumbv6m-none-eabi"),
        network: "Wi-Fi (cyw43)",
        console: "USB CDC-ACM",
        method: FlashMethod::Uf2,
        status: BuildStatus::BuiltInCi,
        flash_origin: 0x1000_0000,
        flash_size: 2 * 1024 * 1024,
        erase_size: 4096,
        config_address: 0x101F_F000,
        default_baud: 115_200,
        probe_chip: Some("RP2040"),
        usb: &[(0x2e8a, 0x000a)],
    },
    STM32F407VG,
    Board {
        name: "stm32f407ve-w5500",
        features: Some("stm32f407ve"),
        profile: "release-small",
        chip: "STM32F407VE",
        description: "STM32F407VET6 (512 KB flash) with a WIZnet W5500 on SPI",
        flash_size: 512 * 1024,
        // Sector 1, the second 16 KiB sector (the last is 128 KiB, a quarter of this flash):
        // sector 0 holds the vector table, the code starts at sector 2.
        erase_size: 16 * 1024,
        config_address: 0x0800_4000,
        probe_chip: Some("STM32F407VETx"),
        // The VG's crate, wiring, network and console.
        ..STM32F407VG
    },
    Board {
        name: "esp8266",
        crate_dir: "esp8266",
        features: None,
        profile: "release",
        chip: "ESP8266",
        description: "NodeMCU v3 (ESP8266, 4 MB flash)",
        target: None,
        network: "Wi-Fi",
        console: "UART0",
        method: FlashMethod::Esp8266Rom,
        status: BuildStatus::FlashOnly,
        flash_origin: 0,
        flash_size: 4 * 1024 * 1024,
        erase_size: 4096,
        // Below the SDK's RF calibration and system parameter sectors at the top of flash.
        config_address: 0x3F_A000,
        default_baud: 115_200,
        probe_chip: None,
        usb: &UART_BRIDGES,
    },
];

/// The board called `name`.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_regions_are_whole_erase_units_inside_flash() {
        for b in BOARDS {
            let offset = b.config_address - b.flash_origin;
            assert_eq!(
                offset % b.erase_size,
                0,
                "{}: config not at an erase boundary",
                b.name
            );
            assert!(b.erase_size as usize >= crate::BLOCK_SIZE, "{}", b.name);
            assert!(
                offset + b.erase_size <= b.flash_size,
                "{}: config region outside flash",
                b.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        for b in BOARDS {
            assert_eq!(board(b.name), Some(b));
            assert_eq!(BOARDS.iter().filter(|o| o.name == b.name).count(), 1);
        }
        assert_eq!(board("nope"), None);
    }

    #[test]
    fn boards_sharing_a_crate_are_told_apart_by_features() {
        for b in BOARDS {
            let sharing: Vec<_> = BOARDS
                .iter()
                .filter(|o| o.crate_dir == b.crate_dir)
                .collect();
            let defaults = sharing.iter().filter(|o| o.features.is_none()).count();
            assert!(
                defaults <= 1,
                "{}: two boards build its crate's defaults",
                b.name
            );
            for o in &sharing {
                assert!(
                    o.name == b.name || o.features != b.features,
                    "{} and {} build the same crate the same way",
                    b.name,
                    o.name
                );
            }
        }
    }

    #[test]
    fn firmware_regions_leave_out_exactly_the_configuration_region() {
        for b in BOARDS {
            let [below, above] = b.firmware_regions();
            let region = b.config_region();
            assert_eq!(below.end, region.start, "{}", b.name);
            assert_eq!(above.start, region.end, "{}", b.name);
            let total = below.len() + region.len() + above.len();
            assert_eq!(total, b.flash_size as usize, "{}", b.name);
        }
    }

    #[test]
    fn targets_match_build_status() {
        for b in BOARDS {
            assert_eq!(
                b.target.is_none(),
                b.status == BuildStatus::FlashOnly,
                "{}",
                b.name
            );
        }
    }
}
