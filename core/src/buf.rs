//! A cursor that writes into a caller-lent byte slice and fails cleanly when it is full.

use crate::{Error, Result};
use core::fmt;

pub(crate) struct Cursor<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Cursor<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Cursor { buf, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline(never)]
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    pub(crate) fn push_str(&mut self, s: &str) -> Result<()> {
        self.push(s.as_bytes())
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub(crate) fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn written_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    pub(crate) fn into_written(self) -> &'b mut [u8] {
        &mut self.buf[..self.len]
    }
}

/// Lets `write!` format numbers straight into the buffer; a full buffer is `fmt::Error`.
impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s).map_err(|_| fmt::Error)
    }
}

/// Writes `n` in decimal (or hex) without going through `core::fmt`, which is slow and large.
pub(crate) fn push_uint(out: &mut Cursor<'_>, mut n: u64, radix: u32) -> Result<()> {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        let (quotient, digit) = div_small(n, radix);
        digits[i] = b"0123456789abcdef"[digit as usize];
        n = quotient;
        if n == 0 {
            break;
        }
    }
    out.push(&digits[i..])
}

/// `(n / d, n % d)` for `2 <= d <= 16` with 32-bit arithmetic only: long division over 16-bit
/// limbs. A u64 division is a large library routine on 32-bit cores (about 900 bytes on
/// thumbv6m), and lengths are u64.
fn div_small(n: u64, d: u32) -> (u64, u32) {
    let mut quotient = 0u64;
    let mut rem = 0u32;
    for shift in [48, 32, 16, 0] {
        let cur = (rem << 16) | ((n >> shift) as u32 & 0xffff);
        quotient |= u64::from(cur / d) << shift;
        rem = cur % d;
    }
    (quotient, rem)
}

/// Strips optional whitespace (SP and HT, RFC 9110 `OWS`) from both ends of a field value.
pub(crate) fn trim_ows(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_division_matches_u64_division() {
        for n in [
            0u64,
            1,
            9,
            10,
            65535,
            65536,
            4_294_967_295,
            4_294_967_296,
            1 << 63,
            u64::MAX,
        ] {
            for d in [2u32, 10, 16] {
                assert_eq!(
                    super::div_small(n, d),
                    (n / u64::from(d), (n % u64::from(d)) as u32)
                );
            }
        }
    }
}
