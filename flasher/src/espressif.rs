//! ESP32-C3/S3 through espflash (the library): an ESP-IDF image (bootloader, partition table, app)
//! from the ELF and the board's `partitions.csv`, the configuration block in its own partition,
//! written over the serial ROM loader with verification.

use anyhow::{bail, Context, Result};
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::{FlashData, FlashSettings, FlashSize, Flasher};
use espflash::image_format::idf::IdfBootloaderFormat;
use espflash::image_format::Segment;
use espflash::target::{Chip, ProgressCallbacks, XtalFrequency};
use mreq_fwconfig::boards::Board;
use std::borrow::Cow;
use std::path::Path;

fn chip(board: &Board) -> Result<Chip> {
    match board.name {
        "esp32c3" => Ok(Chip::Esp32c3),
        "esp32s3" => Ok(Chip::Esp32s3),
        other => bail!("{other} is not an ESP32 board"),
    }
}

fn flash_size(board: &Board) -> Result<FlashSize> {
    match board.flash_size {
        0x40_0000 => Ok(FlashSize::_4Mb),
        0x80_0000 => Ok(FlashSize::_8Mb),
        0x100_0000 => Ok(FlashSize::_16Mb),
        other => bail!("{}: no ESP flash size for {other} bytes", board.name),
    }
}

/// Bytes and the flash address they go to.
pub type FlashSegment = (u32, Vec<u8>);

/// A partition of `partitions.csv`: offset and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub offset: u32,
    pub size: u32,
}

impl Partition {
    pub fn end(&self) -> u32 {
        self.offset + self.size
    }
}

/// The app partition (the first of type `app`) and the `mreqcfg` one, from the CSV text.
fn layout(csv: &str) -> Result<(Partition, Option<Partition>)> {
    let mut app = None;
    let mut config = None;
    for line in csv.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [name, kind, _, offset, size, ..] = fields[..] else {
            bail!("partitions.csv: {line:?} is not Name, Type, SubType, Offset, Size");
        };
        let number = |text: &str| {
            let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
            match hex {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => text.parse().ok(),
            }
            .with_context(|| format!("partitions.csv: {text:?} in {line:?} is not a number"))
        };
        let partition = Partition {
            offset: number(offset)?,
            size: number(size)?,
        };
        if kind == "app" && app.is_none() {
            app = Some(partition);
        }
        if name == "mreqcfg" {
            config = Some(partition);
        }
    }
    let app = app.context("partitions.csv has no app partition")?;
    Ok((app, config))
}

/// The app image must end inside its partition, and the table's configuration partition must be
/// where the board table puts the block (the firmware reads it there).
fn check_layout(
    board: &Board,
    segments: &[(u32, Vec<u8>)],
    app: Partition,
    config: Option<Partition>,
) -> Result<()> {
    match config {
        Some(c) if c.offset == board.config_address => {}
        Some(c) => bail!(
            "partitions.csv puts mreqcfg at {:#x}, the board table at {:#x}",
            c.offset,
            board.config_address
        ),
        None => bail!("partitions.csv has no mreqcfg partition for the configuration block"),
    }
    for (addr, data) in segments {
        let end = addr + data.len() as u32;
        if *addr >= app.offset && end > app.end() {
            bail!(
                "the {} app image ends at {end:#x}, past its partition ({:#x}..{:#x}): {} bytes too many",
                board.name,
                app.offset,
                app.end(),
                end - app.end()
            );
        }
        if *addr < board.config_address && end > board.config_address {
            bail!(
                "the image reaches the configuration block at {:#x}",
                board.config_address
            );
        }
    }
    Ok(())
}

/// Everything that goes into flash: bootloader, partition table, app, then the configuration
/// if one is to be written (else its partition is left as the board has it); and the app
/// partition they were checked against.
pub fn segments(
    board: &Board,
    elf: &[u8],
    partitions: &Path,
    block: Option<&[u8]>,
) -> Result<(Vec<FlashSegment>, Partition)> {
    let settings = FlashSettings::new(None, Some(flash_size(board)?), None);
    let flash_data = FlashData::new(settings, 0, None, chip(board)?, XtalFrequency::_40Mhz);
    let image = IdfBootloaderFormat::new(elf, &flash_data, Some(partitions), None, None, None)
        .map_err(|e| anyhow::anyhow!("cannot make an ESP-IDF image: {e}"))?;
    let mut segments: Vec<(u32, Vec<u8>)> = image
        .flash_segments()
        .map(|s| (s.addr, s.data.to_vec()))
        .collect();
    let csv = std::fs::read_to_string(partitions)
        .with_context(|| format!("cannot read {}", partitions.display()))?;
    let (app, config) = layout(&csv)?;
    check_layout(board, &segments, app, config)?;
    if let Some(block) = block {
        segments.push((board.config_address, block.to_vec()));
    }
    Ok((segments, app))
}

/// One flash image from 0 to the end of the last segment (gaps erased, 0xFF): without a
/// configuration it ends before the configuration partition, so writing it keeps that.
pub fn merged(segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let end = segments
        .iter()
        .map(|(addr, data)| *addr as usize + data.len())
        .max()
        .unwrap_or(0);
    let mut image = vec![0xFFu8; end];
    for (addr, data) in segments {
        image[*addr as usize..*addr as usize + data.len()].copy_from_slice(data);
    }
    image
}

/// Connects to the ROM loader on `port` (refusing a chip other than the board's), writes every
/// segment with espflash's verification (MD5 of what was written), then resets into the firmware.
/// `usb` is the port's vendor:product ID: espflash chooses how to reset the chip into its
/// loader (and out of it) by it (USB-Serial-JTAG and UART bridges differ).
pub fn flash(board: &Board, link: &Link<'_>, segments: &[(u32, Vec<u8>)]) -> Result<()> {
    let port_name = link.port;
    let mut flasher = connect(board, link)?;
    // The image is laid out for the board table's flash size: a chip with less would lose the
    // configuration partition (or the end of the app) past its end.
    match flasher.flash_detect() {
        Ok(Some(detected)) if detected.size() < board.flash_size => bail!(
            "the flash on {port_name} is {} bytes; the {} layout needs {}: nothing written",
            detected.size(),
            board.name,
            board.flash_size
        ),
        Ok(Some(_)) => {}
        Ok(None) | Err(_) => eprintln!(
            "warning: the flash size of the chip on {port_name} could not be read; the {} layout assumes {} bytes",
            board.name, board.flash_size
        ),
    }
    let parts: Vec<Segment<'_>> = segments
        .iter()
        .map(|(addr, data)| Segment {
            addr: *addr,
            data: Cow::Borrowed(data),
        })
        .collect();
    flasher
        .write_bins_to_flash(&parts, &mut Progress(None))
        .map_err(|e| {
            anyhow::anyhow!(
                "writing {} failed: {e}; the board is not known to hold a complete image",
                board.name
            )
        })?;
    reset(flasher, board)
}

/// The serial link to a chip's ROM loader: port, its USB IDs (espflash picks the reset sequence
/// by them), speed, and how the chip is reset into the loader and out of it.
pub struct Link<'a> {
    pub port: &'a str,
    pub usb: Option<(u16, u16)>,
    pub baud: u32,
    pub before: Before,
    pub after: After,
}

/// How the chip enters its ROM loader (esptool's and espflash's `--before`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Before {
    /// DTR/RTS (a UART bridge) or the USB-Serial-JTAG sequence, chosen by the port's USB IDs.
    #[default]
    DefaultReset,
    /// The chip is already in its loader (BOOT held while pressing RESET).
    NoReset,
    /// Already in the loader and synchronised: no SYNC either.
    NoResetNoSync,
    /// The USB-Serial-JTAG sequence, whatever the port says.
    UsbReset,
}

/// What the chip does after writing (esptool's and espflash's `--after`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum After {
    /// Reset into the new firmware (RTS, or the USB-Serial-JTAG sequence).
    #[default]
    HardReset,
    /// Stay in the loader.
    NoReset,
    /// Stay in the ROM loader, without espflash's RAM stub.
    NoResetNoStub,
    /// Reset through the RTC watchdog (boards whose RTS is not wired to EN).
    WatchdogReset,
}

impl From<Before> for ResetBeforeOperation {
    fn from(before: Before) -> Self {
        match before {
            Before::DefaultReset => ResetBeforeOperation::DefaultReset,
            Before::NoReset => ResetBeforeOperation::NoReset,
            Before::NoResetNoSync => ResetBeforeOperation::NoResetNoSync,
            Before::UsbReset => ResetBeforeOperation::UsbReset,
        }
    }
}

impl From<After> for ResetAfterOperation {
    fn from(after: After) -> Self {
        match after {
            After::HardReset => ResetAfterOperation::HardReset,
            After::NoReset => ResetAfterOperation::NoReset,
            After::NoResetNoStub => ResetAfterOperation::NoResetNoStub,
            After::WatchdogReset => ResetAfterOperation::WatchdogReset,
        }
    }
}

/// Resets the chip out of its loader into the firmware.
pub fn reset(flasher: Flasher, board: &Board) -> Result<()> {
    let chip = flasher.chip();
    let mut connection = flasher.into_connection();
    connection.reset_after(true, chip).map_err(|e| {
        anyhow::anyhow!(
            "written and verified, but the reset of the {} failed: {e}",
            board.name
        )
    })
}

/// The ROM loader (and espflash's RAM stub) of the board's chip on `port_name`; another chip is
/// refused before anything is written.
pub fn connect(board: &Board, link: &Link<'_>) -> Result<Flasher> {
    let (port_name, usb, baud) = (link.port, link.usb, link.baud);
    let expected = chip(board)?;
    let serial = serialport::new(port_name, 115_200)
        .timeout(std::time::Duration::from_secs(3))
        .open_native()
        .with_context(|| format!("cannot open {port_name}"))?;
    let (vid, pid) = usb.unwrap_or((0, 0));
    let port_info = serialport::UsbPortInfo {
        vid,
        pid,
        serial_number: None,
        manufacturer: None,
        product: None,
        interface: None,
    };
    let connection = Connection::new(
        serial,
        port_info,
        link.after.into(),
        link.before.into(),
        115_200,
    );
    // Connect without naming the chip, so that a mismatch is reported in the board's terms.
    let flasher =
        Flasher::connect(connection, true, true, false, None, Some(baud)).map_err(|e| {
            anyhow::anyhow!(
                "no ESP ROM loader answers on {port_name}: {e} (hold BOOT while pressing RESET)"
            )
        })?;
    if flasher.chip() != expected {
        bail!(
            "{port_name} has an {} but --board {} is an {expected}: nothing written",
            flasher.chip(),
            board.name
        );
    }
    Ok(flasher)
}

/// Reads the configuration partition (through espflash's stub, checked by its MD5).
pub fn read_block(flasher: &mut Flasher, board: &Board) -> Result<Vec<u8>> {
    let temp = std::env::temp_dir().join(format!("mreq-flash-read-{}.bin", std::process::id()));
    let read = flasher.read_flash(
        board.config_address,
        mreq_fwconfig::BLOCK_SIZE as u32,
        0x1000,
        64,
        temp.clone(),
    );
    let data = std::fs::read(&temp);
    let _ = std::fs::remove_file(&temp);
    read.map_err(|e| {
        anyhow::anyhow!(
            "reading the configuration partition of the {} failed: {e}",
            board.name
        )
    })?;
    data.context("reading back the configuration espflash saved")
}

/// Writes the configuration partition, verified by espflash (MD5).
pub fn write_block(flasher: &mut Flasher, board: &Board, block: &[u8]) -> Result<()> {
    flasher
        .write_bin_to_flash(board.config_address, block, &mut Progress(None))
        .map_err(|e| {
            anyhow::anyhow!(
                "writing the configuration of the {} failed: {e}",
                board.name
            )
        })
}

/// espflash's progress reports as an indicatif bar per segment on stderr.
struct Progress(Option<indicatif::ProgressBar>);

impl ProgressCallbacks for Progress {
    fn init(&mut self, addr: u32, total: usize) {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
            "{addr:#08x} {{bar:30}} {{pos}}/{{len}} {{msg}}"
        )) {
            bar.set_style(style);
        }
        self.0 = Some(bar);
    }

    fn update(&mut self, current: usize) {
        if let Some(bar) = &self.0 {
            bar.set_position(current as u64);
        }
    }

    fn verifying(&mut self) {
        if let Some(bar) = &self.0 {
            bar.set_message("verifying");
        }
    }

    fn finish(&mut self, skipped: bool) {
        if let Some(bar) = self.0.take() {
            bar.finish_with_message(if skipped {
                "unchanged, skipped"
            } else {
                "written, verified"
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "# comment\nnvs, data, nvs, 0x9000, 0x6000,\nfactory, app, factory, 0x10000, 0x3E0000,\nmreqcfg, 0x40, 0x00, 0x3FF000, 0x1000,\n";

    #[test]
    fn an_app_past_its_partition_is_refused_though_below_the_block() {
        let board = mreq_fwconfig::boards::board("esp32c3").unwrap();
        let (app, config) = layout(TABLE).unwrap();
        assert_eq!(
            app,
            Partition {
                offset: 0x10000,
                size: 0x3E0000
            }
        );
        let fits = [(0x10000, vec![0u8; 0x3E0000])];
        assert!(check_layout(board, &fits, app, config).is_ok());
        // Ends at 0x3F0001: below the block at 0x3FF000, but past the factory partition.
        let over = [(0x10000, vec![0u8; 0x3E0001])];
        let err = check_layout(board, &over, app, config)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("past its partition") && err.contains("1 bytes too many"),
            "{err}"
        );
        let moved = layout(&TABLE.replace("0x3FF000", "0x3FE000")).unwrap();
        assert!(check_layout(board, &fits, moved.0, moved.1).is_err());
        assert!(layout("nvs, data, nvs, 0x9000, 0x6000,\n").is_err());
    }
}
