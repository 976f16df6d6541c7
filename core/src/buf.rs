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
pub(crate) fn push_uint(out: &mut Cursor<'_>, mut n: u64, radix: u64) -> Result<()> {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n % radix) as usize];
        n /= radix;
        if n == 0 {
            break;
        }
    }
    out.push(&digits[i..])
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
