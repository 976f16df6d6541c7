//! The blocking driver over `embedded_io::{Read, Write}` (generated from `driver.rs`).

use embedded_io::{Read, Write};

super::driver::driver!();

impl<C: Read + Write> Read for Response<'_, C> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        Response::read(self, buf)
    }
}

impl<C: Read + Write> Response<'_, C> {
    /// Moves body bytes straight from the connection (zero copy: splice, sendfile) when nothing
    /// is buffered and the next bytes on it are pure body data. `take(conn, max)` takes at most
    /// `max` bytes from `conn` and returns how many it took (0: the connection ended); the
    /// response checks them against the framing as [`read`](Self::read) would.
    ///
    /// `Ok(None)`: not possible now (buffered bytes or chunk framing come next); use `read`.
    /// An error from `take` (the caller's own, e.g. its output failed) drops the connection.
    pub fn read_direct<E: From<Error>>(
        &mut self,
        take: impl FnOnce(&mut C, usize) -> core::result::Result<usize, E>,
    ) -> core::result::Result<Option<usize>, E> {
        let Some(limit) = self.reading.direct_limit() else {
            return Ok(None);
        };
        let Some(conn) = self.conn.as_mut() else {
            return Err(Error::ConnectionClosed.into());
        };
        let max = usize::try_from(limit).unwrap_or(usize::MAX);
        let taken = match take(&mut conn.stream, max) {
            Ok(n) if n <= max => n,
            Ok(_) => {
                *self.conn = None;
                return Err(Error::InvalidContentLength.into());
            }
            Err(err) => {
                *self.conn = None;
                return Err(err);
            }
        };
        if let Err(err) = self.reading.direct(taken) {
            *self.conn = None;
            return Err(err.into());
        }
        if self.reading.is_done() {
            self.finish();
        }
        Ok(Some(taken))
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
