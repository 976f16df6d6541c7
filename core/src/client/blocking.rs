//! The blocking driver over `embedded_io::{Read, Write}` (generated from `driver.rs`).

use embedded_io::{Read, Write};

super::driver::driver!();

impl<C: Read + Write> Read for Response<'_, C> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        Response::read(self, buf)
    }
}

#[cfg(feature = "std")]
impl<C: Read + Write> Response<'_, C> {
    /// Copies the rest of the body to `out` (mrequests' `save`); returns the bytes copied.
    pub fn copy_to<W: std::io::Write + ?Sized>(&mut self, out: &mut W) -> std::io::Result<u64> {
        let mut chunk = [0u8; 16 * 1024];
        let mut total = 0u64;
        loop {
            let n = self.read(&mut chunk).map_err(std::io::Error::other)?;
            if n == 0 {
                return Ok(total);
            }
            out.write_all(&chunk[..n])?;
            total += n as u64;
        }
    }
}
