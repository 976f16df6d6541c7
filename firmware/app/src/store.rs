//! Saving a response body to flash, so that a download that did not finish never looks complete.
//!
//! A region of a `NorFlash` (embedded-storage) is one record sector followed by the data. [`save`]
//! first erases the record sector (an older download there stops being complete), then erases and
//! writes the data as the body streams in, reads it back to check it, and only then writes the
//! record: magic, length, CRC-32 of the body. [`saved`] finds a complete download by that record
//! and checks the data against its CRC again. A body the server cut short (the engine's
//! truncation error), an expected length or CRC that does not match, a body larger than the
//! region, or a flash error leave no record.

use embedded_io_async::Read;
use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use mreq_fwconfig::crc32_update;

const MAGIC: [u8; 4] = *b"MRQD";
/// Magic, length, CRC-32, and the CRC's complement (so an all-zero record is not valid).
const RECORD_LEN: usize = 16;
/// Bytes written per step: a multiple of every write size in use (1, 4, 8, 16, 32).
const CHUNK: usize = 256;

/// A flash region for one download: `start` and `end` on erase-sector boundaries, at least two
/// sectors (the record's, then the data's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: u32,
    pub end: u32,
}

/// What the caller knows the body must be; `None` checks nothing beyond what the engine does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expect {
    pub len: Option<u32>,
    pub crc32: Option<u32>,
}

/// A complete download in the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    /// Where the data starts (the sector after the record).
    pub data_start: u32,
    pub len: u32,
    pub crc32: u32,
}

#[derive(Debug)]
pub enum SaveError<R, F> {
    /// Reading the body failed (a truncated body is the engine's error): nothing saved.
    Body(R),
    /// The flash refused an erase, write or read.
    Flash(F),
    /// The region is not sector-aligned or has no room for data.
    BadRegion,
    /// The body is larger than the region's data part.
    TooLarge {
        room: u32,
    },
    /// The body is not what `Expect` said.
    LengthMismatch {
        expected: u32,
        got: u32,
    },
    CrcMismatch {
        expected: u32,
        got: u32,
    },
    /// What was read back differs from what was written.
    Verify,
}

impl<R: core::fmt::Debug, F: core::fmt::Debug> core::fmt::Display for SaveError<R, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SaveError::Body(err) => write!(f, "the download failed: {err:?}; nothing saved"),
            SaveError::Flash(err) => write!(f, "flash error: {err:?}; nothing saved"),
            SaveError::BadRegion => {
                f.write_str("the region is not on erase-sector boundaries or has no data sector")
            }
            SaveError::TooLarge { room } => {
                write!(f, "the body is larger than the {room} bytes of the region")
            }
            SaveError::LengthMismatch { expected, got } => {
                write!(
                    f,
                    "{got} bytes received, {expected} expected; nothing saved"
                )
            }
            SaveError::CrcMismatch { expected, got } => {
                write!(
                    f,
                    "CRC-32 {got:08x}, {expected:08x} expected; nothing saved"
                )
            }
            SaveError::Verify => {
                f.write_str("flash read back differs from what was written; nothing saved")
            }
        }
    }
}

/// Streams `body` into `region` of `flash` and marks it complete; see the module doc.
pub async fn save<B: Read, F: NorFlash>(
    body: &mut B,
    flash: &mut F,
    region: Region,
    expect: Expect,
) -> Result<Saved, SaveError<B::Error, F::Error>> {
    let sector = F::ERASE_SIZE as u32;
    let aligned = region.start.is_multiple_of(sector) && region.end.is_multiple_of(sector);
    if !aligned || region.end < region.start + 2 * sector || !CHUNK.is_multiple_of(F::WRITE_SIZE) {
        return Err(SaveError::BadRegion);
    }
    let data_start = region.start + sector;
    let room = region.end - data_start;
    flash
        .erase(region.start, data_start)
        .map_err(SaveError::Flash)?;
    let mut chunk = [0u8; CHUNK];
    let mut filled = 0;
    let mut len: u32 = 0;
    let mut erased_to = data_start;
    let mut crc = !0u32;
    loop {
        let n = body
            .read(&mut chunk[filled..])
            .await
            .map_err(SaveError::Body)?;
        let done = n == 0;
        filled += n;
        if filled == CHUNK || (done && filled > 0) {
            let at = data_start + len;
            let end = at + filled as u32;
            if end > region.end {
                return Err(SaveError::TooLarge { room });
            }
            while erased_to < end {
                flash
                    .erase(erased_to, erased_to + sector)
                    .map_err(SaveError::Flash)?;
                erased_to += sector;
            }
            crc = crc32_update(crc, &chunk[..filled]);
            // The last write is padded to the write size with erased bytes.
            let padded = filled.next_multiple_of(F::WRITE_SIZE);
            chunk[filled..padded].fill(0xFF);
            flash
                .write(at, &chunk[..padded])
                .map_err(SaveError::Flash)?;
            len += filled as u32;
            filled = 0;
        }
        if done {
            break;
        }
    }
    let crc = !crc;
    if let Some(expected) = expect.len.filter(|&e| e != len) {
        return Err(SaveError::LengthMismatch { expected, got: len });
    }
    if let Some(expected) = expect.crc32.filter(|&e| e != crc) {
        return Err(SaveError::CrcMismatch { expected, got: crc });
    }
    if data_crc(flash, data_start, len).map_err(SaveError::Flash)? != crc {
        return Err(SaveError::Verify);
    }
    let mut record = [0xFFu8; RECORD_LEN.next_multiple_of(32)];
    record[..4].copy_from_slice(&MAGIC);
    record[4..8].copy_from_slice(&len.to_le_bytes());
    record[8..12].copy_from_slice(&crc.to_le_bytes());
    record[12..16].copy_from_slice(&(!crc).to_le_bytes());
    let record = &record[..RECORD_LEN.next_multiple_of(F::WRITE_SIZE)];
    flash
        .write(region.start, record)
        .map_err(SaveError::Flash)?;
    let saved = Saved {
        data_start,
        len,
        crc32: crc,
    };
    match self::saved(flash, region).map_err(SaveError::Flash)? {
        Some(found) if found == saved => Ok(saved),
        _ => Err(SaveError::Verify),
    }
}

/// The complete download in `region`, if there is one and its data still has its CRC.
pub fn saved<F: NorFlash>(flash: &mut F, region: Region) -> Result<Option<Saved>, F::Error> {
    let mut record = [0u8; RECORD_LEN];
    flash.read(region.start, &mut record)?;
    let word =
        |i: usize| u32::from_le_bytes([record[i], record[i + 1], record[i + 2], record[i + 3]]);
    let (len, crc) = (word(4), word(8));
    let sector = F::ERASE_SIZE as u32;
    let data_start = region.start.saturating_add(sector);
    let fits = data_start
        .checked_add(len)
        .is_some_and(|end| end <= region.end);
    if record[..4] != MAGIC || word(12) != !crc || !fits {
        return Ok(None);
    }
    Ok((data_crc(flash, data_start, len)? == crc).then_some(Saved {
        data_start,
        len,
        crc32: crc,
    }))
}

/// CRC-32 of `len` bytes of flash from `start`, read back in small pieces.
fn data_crc<F: ReadNorFlash>(flash: &mut F, start: u32, len: u32) -> Result<u32, F::Error> {
    let mut piece = [0u8; 64];
    let mut crc = !0u32;
    let mut at = 0;
    while at < len {
        let n = piece.len().min((len - at) as usize);
        // Reads go in the flash's read size; the bytes past the body (erased, or the last
        // write's padding) are read but not counted.
        let aligned = n.next_multiple_of(F::READ_SIZE).min(piece.len());
        flash.read(start + at, &mut piece[..aligned])?;
        crc = crc32_update(crc, &piece[..n]);
        at += n as u32;
    }
    Ok(!crc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_storage::nor_flash::{ErrorType, NorFlashError, NorFlashErrorKind};

    /// NOR flash as the chips behave: erase sets a sector to 0xFF, a write can only clear bits,
    /// offsets and lengths must be aligned.
    struct Nor {
        bytes: Vec<u8>,
    }

    #[derive(Debug, PartialEq)]
    enum NorError {
        Unaligned,
        NotErased,
        OutOfBounds,
    }

    impl NorFlashError for NorError {
        fn kind(&self) -> NorFlashErrorKind {
            match self {
                NorError::Unaligned => NorFlashErrorKind::NotAligned,
                NorError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
                NorError::NotErased => NorFlashErrorKind::Other,
            }
        }
    }

    impl ErrorType for Nor {
        type Error = NorError;
    }

    impl ReadNorFlash for Nor {
        const READ_SIZE: usize = 4;
        fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), NorError> {
            let at = offset as usize;
            if !at.is_multiple_of(4) || !out.len().is_multiple_of(4) {
                return Err(NorError::Unaligned);
            }
            let from = self
                .bytes
                .get(at..at + out.len())
                .ok_or(NorError::OutOfBounds)?;
            out.copy_from_slice(from);
            Ok(())
        }
        fn capacity(&self) -> usize {
            self.bytes.len()
        }
    }

    impl NorFlash for Nor {
        const WRITE_SIZE: usize = 8;
        const ERASE_SIZE: usize = 4096;
        fn erase(&mut self, from: u32, to: u32) -> Result<(), NorError> {
            if !from.is_multiple_of(4096) || !to.is_multiple_of(4096) {
                return Err(NorError::Unaligned);
            }
            let sectors = self
                .bytes
                .get_mut(from as usize..to as usize)
                .ok_or(NorError::OutOfBounds)?;
            sectors.fill(0xFF);
            Ok(())
        }
        fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), NorError> {
            let at = offset as usize;
            if !at.is_multiple_of(8) || !data.len().is_multiple_of(8) {
                return Err(NorError::Unaligned);
            }
            let cells = self
                .bytes
                .get_mut(at..at + data.len())
                .ok_or(NorError::OutOfBounds)?;
            if cells.iter().zip(data).any(|(old, new)| new & !old != 0) {
                return Err(NorError::NotErased);
            }
            cells.copy_from_slice(data);
            Ok(())
        }
    }

    /// A body read `piece` bytes at a time that fails after `fail_at` bytes, if given.
    struct Body<'a> {
        rest: &'a [u8],
        piece: usize,
        fail_at: Option<usize>,
        sent: usize,
    }

    impl embedded_io_async::ErrorType for Body<'_> {
        type Error = embedded_io::ErrorKind;
    }

    impl Read for Body<'_> {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            if self.fail_at.is_some_and(|at| self.sent >= at) {
                return Err(embedded_io::ErrorKind::ConnectionReset);
            }
            let n = buf.len().min(self.piece).min(self.rest.len());
            buf[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            self.sent += n;
            Ok(n)
        }
    }

    fn body(data: &[u8], piece: usize, fail_at: Option<usize>) -> Body<'_> {
        Body {
            rest: data,
            piece,
            fail_at,
            sent: 0,
        }
    }

    const REGION: Region = Region {
        start: 4096,
        end: 4096 * 5,
    };

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn run<T>(f: impl core::future::Future<Output = T>) -> T {
        embassy_futures::block_on(f)
    }

    #[test]
    fn a_whole_body_is_saved_and_found() {
        for (len, piece) in [
            (0, 1),
            (1, 1),
            (255, 7),
            (256, 256),
            (4097, 100),
            (12288, 1000),
        ] {
            let mut nor = Nor {
                bytes: vec![0u8; 4096 * 6],
            };
            let bytes = data(len);
            let crc = mreq_fwconfig::crc32(&bytes);
            let expect = Expect {
                len: Some(len as u32),
                crc32: Some(crc),
            };
            let saved = run(save(
                &mut body(&bytes, piece, None),
                &mut nor,
                REGION,
                expect,
            ))
            .unwrap();
            assert_eq!(
                saved,
                Saved {
                    data_start: 8192,
                    len: len as u32,
                    crc32: crc
                },
                "{len}"
            );
            assert_eq!(super::saved(&mut nor, REGION).unwrap(), Some(saved));
            assert_eq!(&nor.bytes[8192..8192 + len], &bytes[..]);
            // Outside the region nothing was touched (it started as zeros, not erased).
            assert!(nor.bytes[..4096]
                .iter()
                .chain(&nor.bytes[4096 * 5..])
                .all(|&b| b == 0));
        }
    }

    #[test]
    fn an_unfinished_or_wrong_body_leaves_no_record_even_over_an_old_one() {
        let bytes = data(9000);
        let crc = mreq_fwconfig::crc32(&bytes);
        let failures: [(Option<usize>, Expect, usize); 4] = [
            (Some(5000), Expect::default(), 9000),
            (
                None,
                Expect {
                    len: Some(9001),
                    crc32: None,
                },
                9000,
            ),
            (
                None,
                Expect {
                    len: None,
                    crc32: Some(crc ^ 1),
                },
                9000,
            ),
            (None, Expect::default(), 4096 * 3 + 1),
        ];
        for (fail_at, expect, len) in failures {
            let mut nor = Nor {
                bytes: vec![0u8; 4096 * 6],
            };
            let old = data(100);
            run(save(
                &mut body(&old, 10, None),
                &mut nor,
                REGION,
                Expect::default(),
            ))
            .unwrap();
            let long = data(len);
            let source = if len == 9000 { &bytes[..] } else { &long[..] };
            let result = run(save(
                &mut body(source, 333, fail_at),
                &mut nor,
                REGION,
                expect,
            ));
            let refused = match result {
                Err(SaveError::Body(_)) => fail_at.is_some(),
                Err(SaveError::LengthMismatch {
                    expected: 9001,
                    got: 9000,
                }) => true,
                Err(SaveError::CrcMismatch { .. }) => true,
                Err(SaveError::TooLarge { room: 12288 }) => len > 12288,
                other => panic!("{other:?}"),
            };
            assert!(refused, "{fail_at:?} {expect:?}");
            assert_eq!(
                super::saved(&mut nor, REGION).unwrap(),
                None,
                "{fail_at:?} {expect:?}"
            );
        }
    }

    #[test]
    fn a_changed_byte_or_a_bad_region_is_caught() {
        let mut nor = Nor {
            bytes: vec![0u8; 4096 * 6],
        };
        let bytes = data(5000);
        run(save(
            &mut body(&bytes, 64, None),
            &mut nor,
            REGION,
            Expect::default(),
        ))
        .unwrap();
        nor.bytes[8192 + 4321] ^= 0x10;
        assert_eq!(
            super::saved(&mut nor, REGION).unwrap(),
            None,
            "CRC checked when found"
        );
        for region in [
            Region {
                start: 100,
                end: 8192,
            },
            Region {
                start: 4096,
                end: 8192,
            },
        ] {
            let result = run(save(
                &mut body(&bytes, 64, None),
                &mut nor,
                region,
                Expect::default(),
            ));
            assert!(matches!(result, Err(SaveError::BadRegion)), "{region:?}");
        }
    }
}
