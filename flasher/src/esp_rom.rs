//! Espressif's serial ROM loader protocol, as Espressif documents it ("Serial Protocol" in the
//! esptool docs): SLIP-framed command packets, SYNC, FLASH_BEGIN / FLASH_DATA / FLASH_END, XOR
//! checksums seeded with 0xEF. Used for the ESP8266, which espflash no longer supports.
//!
//! Every data packet carries a checksum the ROM checks, and every command must be acknowledged with
//! status 0; a packet the ROM rejects is sent again (a few times), anything else is an error. The
//! ESP8266 ROM has no command that reads flash back or hashes it (esptool verifies through its RAM
//! stub), but its register commands drive the SPI controller, as esptool does to identify the flash
//! chip: [`read_flash`] sends the flash's READ command that way, 64 bytes per command.

use anyhow::{bail, Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

pub const SYNC: u8 = 0x08;
pub const FLASH_BEGIN: u8 = 0x02;
pub const FLASH_DATA: u8 = 0x03;
pub const FLASH_END: u8 = 0x04;
pub const WRITE_REG: u8 = 0x09;
pub const READ_REG: u8 = 0x0A;
/// The register whose value tells Espressif chips apart (esptool's CHIP_DETECT_MAGIC_REG_ADDR).
pub const CHIP_MAGIC_REG: u32 = 0x4000_1000;
/// What the ESP8266's ROM reads there.
pub const ESP8266_MAGIC: u32 = 0xFFF0_C101;
/// The ESP8266 ROM's flash write block size.
pub const BLOCK_SIZE: usize = 0x400;
pub const CHECKSUM_SEED: u8 = 0xEF;
const ATTEMPTS: usize = 3;

/// SLIP-encodes one frame (RFC 1055 with Espressif's frame delimiters at both ends).
pub fn slip_encode(packet: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packet.len() + 2);
    out.push(0xC0);
    for &byte in packet {
        match byte {
            0xC0 => out.extend_from_slice(&[0xDB, 0xDC]),
            0xDB => out.extend_from_slice(&[0xDB, 0xDD]),
            b => out.push(b),
        }
    }
    out.push(0xC0);
    out
}

/// XOR of the bytes, seeded with 0xEF: the checksum of a FLASH_DATA payload.
pub fn checksum(data: &[u8]) -> u32 {
    u32::from(data.iter().fold(CHECKSUM_SEED, |acc, b| acc ^ b))
}

/// A command packet: direction 0, command, data length, checksum, data.
pub fn command(op: u8, data: &[u8], check: u32) -> Vec<u8> {
    let mut packet = vec![0x00, op];
    packet.extend_from_slice(&(data.len() as u16).to_le_bytes());
    packet.extend_from_slice(&check.to_le_bytes());
    packet.extend_from_slice(data);
    packet
}

/// The ROM loader's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub op: u8,
    pub value: u32,
    pub status: u8,
    pub error: u8,
}

/// Reads SLIP frames until one is a reply to `op` (the ROM may echo noise or older replies).
fn read_reply(port: &mut impl Read, op: u8, timeout: Duration) -> Result<Reply> {
    let deadline = Instant::now() + timeout;
    let mut frame = Vec::new();
    let mut in_frame = false;
    let mut escaped = false;
    let mut byte = [0u8; 1];
    while Instant::now() < deadline {
        match port.read(&mut byte) {
            Ok(0) => bail!("the serial port closed"),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(e).context("reading from the serial port"),
        }
        match byte[0] {
            // A delimiter ends the frame being read (if any) and starts the next one.
            0xC0 => {
                if frame.len() >= 10 && frame[0] == 0x01 && frame[1] == op {
                    // Response: direction 1, op, size u16, value u32, then status and error bytes.
                    let value = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
                    return Ok(Reply {
                        op,
                        value,
                        status: frame[8],
                        error: frame[9],
                    });
                }
                frame.clear();
                in_frame = true;
                escaped = false;
            }
            _ if !in_frame => {}
            0xDB if !escaped => escaped = true,
            b if escaped => {
                escaped = false;
                match b {
                    0xDC => frame.push(0xC0),
                    0xDD => frame.push(0xDB),
                    // A broken escape: drop this frame, wait for the next delimiter.
                    _ => {
                        frame.clear();
                        in_frame = false;
                    }
                }
            }
            b => frame.push(b),
        }
    }
    bail!("no answer from the ROM loader to command {op:#04x} within {timeout:?}")
}

/// Sends a command and waits for an acknowledgement with status 0; rejected packets are sent
/// again up to three times in all.
pub fn transact(
    port: &mut (impl Read + Write),
    op: u8,
    data: &[u8],
    check: u32,
    timeout: Duration,
) -> Result<Reply> {
    transact_tries(port, op, data, check, timeout, ATTEMPTS)
}

fn transact_tries(
    port: &mut (impl Read + Write),
    op: u8,
    data: &[u8],
    check: u32,
    timeout: Duration,
    attempts: usize,
) -> Result<Reply> {
    let frame = slip_encode(&command(op, data, check));
    let mut last = None;
    for _ in 0..attempts {
        port.write_all(&frame)
            .and_then(|()| port.flush())
            .context("writing to the serial port")?;
        match read_reply(port, op, timeout) {
            Ok(reply) if reply.status == 0 => return Ok(reply),
            Ok(reply) => {
                last = Some(format!(
                    "the ROM rejected command {op:#04x} (error {:#04x})",
                    reply.error
                ))
            }
            Err(err) => last = Some(format!("{err:#}")),
        }
    }
    bail!("{} after {attempts} attempt(s)", last.unwrap_or_default())
}

/// Reads a chip register through the ROM.
pub fn read_reg(port: &mut (impl Read + Write), address: u32) -> Result<u32> {
    transact(
        port,
        READ_REG,
        &address.to_le_bytes(),
        0,
        Duration::from_secs(1),
    )
    .map(|reply| reply.value)
    .context("READ_REG")
}

/// Writes chip registers through the ROM, several in one command.
pub fn write_regs(port: &mut (impl Read + Write), writes: &[(u32, u32)]) -> Result<()> {
    let mut data = Vec::with_capacity(16 * writes.len());
    for &(address, value) in writes {
        for word in [address, value, u32::MAX, 0] {
            data.extend_from_slice(&word.to_le_bytes());
        }
    }
    transact(port, WRITE_REG, &data, 0, Duration::from_secs(1))
        .map(|_| ())
        .context("WRITE_REG")
}

/// The ESP8266's SPI flash controller, used through its "user command" registers.
mod spi {
    pub const CMD: u32 = 0x6000_0200;
    pub const ADDR: u32 = CMD + 0x04;
    pub const USR: u32 = CMD + 0x1C;
    pub const USR1: u32 = CMD + 0x20;
    pub const USR2: u32 = CMD + 0x24;
    pub const W0: u32 = CMD + 0x40;
    /// CMD: run the user command; the controller clears it when done.
    pub const CMD_USR: u32 = 1 << 18;
    /// USR: send a command byte, an address, then read MISO bits.
    pub const USR_COMMAND_ADDR_MISO: u32 = (1 << 31) | (1 << 30) | (1 << 28);
    /// The flash chip's READ command (24-bit address, no dummy cycles).
    pub const FLASH_READ: u32 = 0x03;
    /// Bytes one command reads: the controller's 16 data registers.
    pub const CHUNK: usize = 64;
}

/// Reads `len` bytes of flash at `offset` through the SPI controller's user command (the ROM has no
/// read command): about 20 round trips per 64 bytes, so meant for kilobytes, not whole images.
/// The controller registers it changes are restored afterwards, as esptool does.
pub fn read_flash(port: &mut (impl Read + Write), offset: u32, len: usize) -> Result<Vec<u8>> {
    let saved_usr = read_reg(port, spi::USR)?;
    let saved_usr2 = read_reg(port, spi::USR2)?;
    let mut data = Vec::with_capacity(len);
    let result = (|| -> Result<()> {
        while data.len() < len {
            let chunk = (len - data.len()).min(spi::CHUNK);
            let address = offset + data.len() as u32;
            // USR1: MISO bit length - 1 at bit 8, address bit length - 1 at bit 26.
            let usr1 = ((chunk as u32 * 8 - 1) << 8) | (23 << 26);
            write_regs(
                port,
                &[
                    (spi::USR, spi::USR_COMMAND_ADDR_MISO),
                    (spi::USR1, usr1),
                    (spi::USR2, (7 << 28) | spi::FLASH_READ),
                    // The address register takes the 24-bit address in its top bits.
                    (spi::ADDR, address << 8),
                    (spi::CMD, spi::CMD_USR),
                ],
            )?;
            let mut done = false;
            for _ in 0..10 {
                if read_reg(port, spi::CMD)? & spi::CMD_USR == 0 {
                    done = true;
                    break;
                }
            }
            if !done {
                bail!("the SPI flash read at {address:#x} did not complete");
            }
            for word in 0..chunk.div_ceil(4) {
                let value = read_reg(port, spi::W0 + 4 * word as u32)?.to_le_bytes();
                let take = (chunk - 4 * word).min(4);
                data.extend_from_slice(&value[..take]);
            }
        }
        Ok(())
    })();
    write_regs(port, &[(spi::USR, saved_usr), (spi::USR2, saved_usr2)])?;
    result.with_context(|| format!("reading back {len} bytes of flash at {offset:#x}"))?;
    Ok(data)
}

/// Reads back what was written at `offset` and says where it differs.
pub fn verify_flash(port: &mut (impl Read + Write), offset: u32, expected: &[u8]) -> Result<()> {
    let found = read_flash(port, offset, expected.len())?;
    match found.iter().zip(expected).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(at) => bail!(
            "the flash at {:#x} reads {:#04x} where {:#04x} was written: the write did not take (worn or write-protected flash?)",
            offset as usize + at,
            found[at],
            expected[at]
        ),
    }
}

/// The chip a ROM magic value names (esptool's CHIP_DETECT_MAGIC_VALUE of each chip).
pub fn chip_of_magic(magic: u32) -> Option<&'static str> {
    match magic {
        ESP8266_MAGIC => Some("ESP8266"),
        0x00F0_1D83 => Some("ESP32"),
        0x0000_07C6 => Some("ESP32-S2"),
        0x0000_0009 => Some("ESP32-S3"),
        0x6921_506F | 0x1B31_506F | 0x4881_606F | 0x4361_606F => Some("ESP32-C3"),
        _ => None,
    }
}

/// Refuses any chip but an ESP8266 before anything is erased.
pub fn detect_esp8266(port: &mut (impl Read + Write), port_name: &str) -> Result<()> {
    let magic = read_reg(port, CHIP_MAGIC_REG)?;
    match chip_of_magic(magic) {
        Some("ESP8266") => Ok(()),
        Some(other) => bail!(
            "the chip on {port_name} is an {other} (ROM magic {magic:#010x}), not an ESP8266: nothing written (its board: mreq-flash --list-boards)"
        ),
        None => bail!(
            "the chip on {port_name} is not an ESP8266 (ROM magic {magic:#010x}): nothing written"
        ),
    }
}

/// An ESP8266 firmware image starts with its header's magic byte: 0xE9 (one image, as
/// MicroPython's and NodeMCU's .bin) or 0xEA (the v2 layout).
pub fn check_image(data: &[u8]) -> Result<()> {
    match data.first() {
        Some(0xE9 | 0xEA) if data.len() >= 8 => Ok(()),
        Some(first) => bail!(
            "not an ESP8266 firmware image: it starts with {first:#04x}, an image starts with 0xe9 (esptool elf2image makes one; MicroPython's esp8266 .bin is one)"
        ),
        None => bail!("the image is empty"),
    }
}

/// How long FLASH_BEGIN may take: the ROM erases before it answers, about 30 s per MB at worst
/// (esptool's allowance), never less than 3 s.
pub fn erase_timeout(erase_size: u32) -> Duration {
    let per_mb = Duration::from_secs(30).mul_f64(f64::from(erase_size) / f64::from(1u32 << 20));
    per_mb.max(Duration::from_secs(3))
}

/// SYNC until the ROM answers (it needs a few to detect the baud rate).
pub fn sync(port: &mut (impl Read + Write)) -> Result<()> {
    let mut payload = vec![0x07, 0x07, 0x12, 0x20];
    payload.extend_from_slice(&[0x55; 32]);
    for _ in 0..10 {
        if transact(port, SYNC, &payload, 0, Duration::from_millis(300)).is_ok() {
            return Ok(());
        }
    }
    bail!("the ESP8266 ROM loader does not answer: hold FLASH/GPIO0 low while resetting the board, and check --port")
}

/// The erase size to ask the ESP8266 ROM for: its FLASH_BEGIN erases in a known-buggy way, so the
/// size is adjusted as Espressif's tools do to erase exactly the sectors written.
pub fn esp8266_erase_size(offset: u32, size: u32) -> u32 {
    const SECTOR: u32 = 4096;
    const SECTORS_PER_BLOCK: u32 = 16;
    let sectors = size.div_ceil(SECTOR);
    let start = offset / SECTOR;
    let head = (SECTORS_PER_BLOCK - start % SECTORS_PER_BLOCK).min(sectors);
    if sectors < 2 * head {
        sectors.div_ceil(2) * SECTOR
    } else {
        (sectors - head) * SECTOR
    }
}

/// Writes `image` at `offset`, block by block; `progress` gets the bytes written so far.
pub fn write_flash(
    port: &mut (impl Read + Write),
    offset: u32,
    image: &[u8],
    mut progress: impl FnMut(usize),
) -> Result<()> {
    let blocks = image.len().div_ceil(BLOCK_SIZE) as u32;
    let mut begin = Vec::with_capacity(16);
    for word in [
        esp8266_erase_size(offset, image.len() as u32),
        blocks,
        BLOCK_SIZE as u32,
        offset,
    ] {
        begin.extend_from_slice(&word.to_le_bytes());
    }
    // Erasing takes time: the ROM answers FLASH_BEGIN only when it is done. Sent once: a second
    // one while it still erases would be taken for a new write.
    let erase = esp8266_erase_size(offset, image.len() as u32);
    transact_tries(port, FLASH_BEGIN, &begin, 0, erase_timeout(erase), 1).context("FLASH_BEGIN")?;
    for (seq, chunk) in image.chunks(BLOCK_SIZE).enumerate() {
        let mut block = vec![0xFF; BLOCK_SIZE];
        block[..chunk.len()].copy_from_slice(chunk);
        let mut data = Vec::with_capacity(16 + BLOCK_SIZE);
        for word in [BLOCK_SIZE as u32, seq as u32, 0, 0] {
            data.extend_from_slice(&word.to_le_bytes());
        }
        data.extend_from_slice(&block);
        transact(
            port,
            FLASH_DATA,
            &data,
            checksum(&block),
            Duration::from_secs(5),
        )
        .with_context(|| format!("FLASH_DATA block {seq} of {blocks}"))?;
        progress((seq + 1) * BLOCK_SIZE);
    }
    Ok(())
}

/// Ends flashing; `reboot` runs the new firmware.
pub fn finish(port: &mut (impl Read + Write), reboot: bool) -> Result<()> {
    let flag: u32 = if reboot { 0 } else { 1 };
    transact(
        port,
        FLASH_END,
        &flag.to_le_bytes(),
        0,
        Duration::from_secs(2),
    )
    .map(|_| ())
    .context("FLASH_END")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slip_escapes_delimiters() {
        assert_eq!(
            slip_encode(&[1, 0xC0, 2, 0xDB, 3]),
            [0xC0, 1, 0xDB, 0xDC, 2, 0xDB, 0xDD, 3, 0xC0]
        );
    }

    #[test]
    fn checksum_is_seeded_xor() {
        assert_eq!(checksum(&[]), 0xEF);
        assert_eq!(checksum(&[0xEF]), 0);
        assert_eq!(checksum(&[1, 2, 4]), u32::from(0xEF ^ 7u8));
    }

    #[test]
    fn chips_are_told_apart_and_images_checked() {
        assert_eq!(chip_of_magic(ESP8266_MAGIC), Some("ESP8266"));
        assert_eq!(chip_of_magic(0x1B31_506F), Some("ESP32-C3"));
        assert_eq!(chip_of_magic(0x1234), None);
        assert!(check_image(&[0xE9, 3, 2, 0x40, 0, 0, 0x10, 0x40]).is_ok());
        assert!(check_image(b"\x7fELF....").is_err());
        assert!(check_image(&[]).is_err());
        assert_eq!(erase_timeout(4096), Duration::from_secs(3));
        assert_eq!(erase_timeout(4 << 20), Duration::from_secs(120));
    }

    #[test]
    fn erase_size_correction() {
        // Within one 64 KiB block: half the sectors, rounded up (the ROM erases double).
        assert_eq!(esp8266_erase_size(0, 4096), 4096);
        assert_eq!(esp8266_erase_size(0, 8 * 4096), 4 * 4096);
        // Across blocks: the head sectors are erased by the ROM anyway.
        assert_eq!(esp8266_erase_size(0, 40 * 4096), 24 * 4096);
    }
}
