//! UF2 (Microsoft's USB flashing format, as the RP2040 boot ROM reads it): 512-byte blocks, each
//! carrying 256 bytes of payload for one flash address.

pub const MAGIC_START0: u32 = 0x0A32_4655;
pub const MAGIC_START1: u32 = 0x9E5D_5157;
pub const MAGIC_END: u32 = 0x0AB1_6F30;
pub const FLAG_FAMILY_ID: u32 = 0x0000_2000;
pub const RP2040_FAMILY: u32 = 0xE48B_FF56;
pub const PAYLOAD: usize = 256;
const BLOCK: usize = 512;

/// A run of bytes to place at a flash address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub address: u32,
    pub data: Vec<u8>,
}

/// Encodes segments into UF2 blocks of 256 bytes, each at a 256-aligned address (gaps inside a
/// 256-byte page are filled with 0xFF, as erased flash reads).
pub fn write(segments: &[Segment], family: u32) -> Vec<u8> {
    let mut pages: std::collections::BTreeMap<u32, [u8; PAYLOAD]> =
        std::collections::BTreeMap::new();
    for segment in segments {
        for (i, byte) in segment.data.iter().enumerate() {
            let address = segment.address + i as u32;
            let page = pages
                .entry(address & !(PAYLOAD as u32 - 1))
                .or_insert([0xFF; PAYLOAD]);
            page[(address as usize) % PAYLOAD] = *byte;
        }
    }
    let total = pages.len() as u32;
    let mut out = Vec::with_capacity(pages.len() * BLOCK);
    for (number, (address, payload)) in pages.iter().enumerate() {
        let mut block = [0u8; BLOCK];
        let words = [
            MAGIC_START0,
            MAGIC_START1,
            FLAG_FAMILY_ID,
            *address,
            PAYLOAD as u32,
            number as u32,
            total,
            family,
        ];
        for (i, word) in words.iter().enumerate() {
            block[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
        }
        block[32..32 + PAYLOAD].copy_from_slice(payload);
        block[BLOCK - 4..].copy_from_slice(&MAGIC_END.to_le_bytes());
        out.extend_from_slice(&block);
    }
    out
}

/// The bytes at `address..address + len` from parsed pages; `None` if any byte is missing.
pub fn extract(pages: &[(u32, Vec<u8>)], address: u32, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![None; len];
    for (page, payload) in pages {
        for (i, byte) in payload.iter().enumerate() {
            let at = u64::from(*page) + i as u64;
            if let Some(slot) = at
                .checked_sub(u64::from(address))
                .and_then(|offset| out.get_mut(offset as usize))
            {
                *slot = Some(*byte);
            }
        }
    }
    out.into_iter().collect()
}

/// Parses UF2 back into (address, payload) pages, checking magics, numbering and family.
pub fn read(data: &[u8], family: u32) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
    use anyhow::bail;
    if !data.len().is_multiple_of(BLOCK) {
        bail!("UF2 size {} is not a multiple of 512", data.len());
    }
    let total = data.len() / BLOCK;
    let mut pages = Vec::with_capacity(total);
    for (index, block) in data.chunks(BLOCK).enumerate() {
        let word = |i: usize| {
            u32::from_le_bytes([
                block[i * 4],
                block[i * 4 + 1],
                block[i * 4 + 2],
                block[i * 4 + 3],
            ])
        };
        if word(0) != MAGIC_START0
            || word(1) != MAGIC_START1
            || u32::from_le_bytes([block[508], block[509], block[510], block[511]]) != MAGIC_END
        {
            bail!("block {index}: bad magic");
        }
        if word(2) & FLAG_FAMILY_ID == 0 || word(7) != family {
            bail!("block {index}: family {:#x}, expected {family:#x}", word(7));
        }
        if word(5) as usize != index || word(6) as usize != total {
            bail!(
                "block {index}: numbered {}/{}, expected {index}/{total}",
                word(5),
                word(6)
            );
        }
        let size = word(4) as usize;
        if size > 476 {
            bail!("block {index}: payload size {size}");
        }
        pages.push((word(3), block[32..32 + size].to_vec()));
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_gaps_and_unaligned_segments() {
        let segments = vec![
            Segment {
                address: 0x1000_0000,
                data: (0..600u32).map(|i| i as u8).collect(),
            },
            Segment {
                address: 0x101F_F000,
                data: vec![0xAB; 40],
            },
        ];
        let uf2 = write(&segments, RP2040_FAMILY);
        let pages = read(&uf2, RP2040_FAMILY).unwrap();
        assert_eq!(pages.len(), 3 + 1);
        assert_eq!(pages[0].0, 0x1000_0000);
        assert_eq!(&pages[0].1[..], &segments[0].data[..256]);
        assert_eq!(&pages[2].1[..88], &segments[0].data[512..600]);
        assert!(
            pages[2].1[88..].iter().all(|&b| b == 0xFF),
            "erased-flash filler"
        );
        assert_eq!(pages[3].0, 0x101F_F000);
        assert_eq!(&pages[3].1[..40], &[0xAB; 40][..]);
    }

    #[test]
    fn rejects_damaged_files() {
        let uf2 = write(
            &[Segment {
                address: 0x1000_0000,
                data: vec![1; 300],
            }],
            RP2040_FAMILY,
        );
        assert!(read(&uf2, 0x1234).is_err(), "wrong family");
        let mut bad = uf2.clone();
        bad[0] ^= 1;
        assert!(read(&bad, RP2040_FAMILY).is_err(), "bad magic");
        let mut renumbered = uf2.clone();
        renumbered[20] = 5;
        assert!(read(&renumbered, RP2040_FAMILY).is_err(), "bad numbering");
        assert!(read(&uf2[..700], RP2040_FAMILY).is_err(), "truncated");
    }
}
