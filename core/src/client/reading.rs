//! Reading a response body, as plain sans-IO code: [`Reading::next`] copies decoded body bytes
//! from the buffer to the caller, or says which read to do (straight into the caller's buffer
//! when pure body bytes come next, else into the buffer), and decides at the end whether the
//! connection may carry another request.

use crate::body::BodyDecoder;
use crate::Result;

/// What [`Reading::next`] did, or wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// `n` body bytes were copied into the caller's buffer.
    Copied(usize),
    /// Read at most this many bytes from the connection straight into the caller's buffer,
    /// then report with [`Reading::direct`].
    ReadDirect(usize),
    /// Read from the connection into the buffer, then report with [`Reading::filled`].
    Fill,
    /// The body has ended (verified).
    End,
}

pub(crate) struct Reading {
    pub(crate) decoder: BodyDecoder,
    /// `io[pos..end]` holds received bytes not yet decoded.
    pos: usize,
    end: usize,
    /// The server allows another request on this connection.
    keep_alive: bool,
}

impl Reading {
    /// A body whose first `buffered` bytes are already in the buffer.
    pub(crate) fn new(decoder: BodyDecoder, buffered: usize, keep_alive: bool) -> Self {
        Reading {
            decoder,
            pos: 0,
            end: buffered,
            keep_alive,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.decoder.is_done()
    }

    /// The next step towards filling `out` from the buffer `io`.
    pub(crate) fn next(&mut self, io: &[u8], out: &mut [u8]) -> Result<Next> {
        if out.is_empty() {
            return Ok(Next::Copied(0));
        }
        loop {
            if self.decoder.is_done() {
                return Ok(Next::End);
            }
            if self.pos < self.end {
                let decoded = self.decoder.decode(&io[self.pos..self.end], out.len())?;
                let (start, stop) = (self.pos + decoded.data.0, self.pos + decoded.data.1);
                out[..stop - start].copy_from_slice(&io[start..stop]);
                self.pos += decoded.consumed;
                if stop > start {
                    return Ok(Next::Copied(stop - start));
                }
                continue;
            }
            self.pos = 0;
            self.end = 0;
            return Ok(match self.decoder.direct_limit() {
                Some(limit) => {
                    Next::ReadDirect(out.len().min(usize::try_from(limit).unwrap_or(usize::MAX)))
                }
                None => Next::Fill,
            });
        }
    }

    /// The largest direct read possible now, if pure body bytes come next and nothing is
    /// buffered (for zero-copy transfers).
    pub(crate) fn direct_limit(&self) -> Option<u64> {
        if self.pos < self.end {
            return None;
        }
        self.decoder.direct_limit()
    }

    /// `n` body bytes were read straight into the caller's buffer (0: the connection ended,
    /// which is an error unless the body is close-delimited).
    pub(crate) fn direct(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            self.keep_alive = false;
            return self.decoder.eof();
        }
        self.decoder.consume_direct(n);
        Ok(())
    }

    /// `n` bytes were read into the buffer (0: the connection ended).
    pub(crate) fn filled(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            self.keep_alive = false;
            return self.decoder.eof();
        }
        self.end = n;
        Ok(())
    }

    /// Once the body has ended: whether the connection may carry another request (the server
    /// allows it and nothing stray followed the body).
    pub(crate) fn reusable(&self) -> bool {
        self.keep_alive && self.pos >= self.end
    }
}

#[cfg(test)]
mod tests {
    //! The body step by step: wire bytes served in reads of 1, 7 or all bytes, through the
    //! buffer and straight into the caller's buffer, as the drivers do.
    use super::*;
    use crate::response::Framing;
    use crate::Error;
    use std::vec::Vec;

    /// Reads a whole body from `wire` (the first `buffered` bytes already in the buffer) the way
    /// the drivers do; returns the body and whether the connection may be reused.
    fn read_body(
        framing: Framing,
        wire: &[u8],
        buffered: usize,
        step: usize,
    ) -> Result<(Vec<u8>, bool)> {
        let mut io = [0u8; 64];
        io[..buffered].copy_from_slice(&wire[..buffered]);
        let mut reading = Reading::new(BodyDecoder::new(framing), buffered, true);
        let mut pos = buffered;
        let mut body = Vec::new();
        let mut out = [0u8; 5];
        loop {
            match reading.next(&io, &mut out)? {
                Next::Copied(n) => body.extend_from_slice(&out[..n]),
                Next::End => return Ok((body, reading.reusable())),
                Next::ReadDirect(max) => {
                    let n = max.min(step).min(wire.len() - pos);
                    out[..n].copy_from_slice(&wire[pos..pos + n]);
                    pos += n;
                    reading.direct(n)?;
                    body.extend_from_slice(&out[..n]);
                    if n == 0 {
                        return Ok((body, reading.reusable()));
                    }
                }
                Next::Fill => {
                    let n = io.len().min(step).min(wire.len() - pos);
                    io[..n].copy_from_slice(&wire[pos..pos + n]);
                    pos += n;
                    reading.filled(n)?;
                }
            }
        }
    }

    const STEPS: [usize; 3] = [1, 7, usize::MAX];

    #[test]
    fn every_framing_in_reads_of_any_size() {
        let chunked = b"3;x=y\r\nabc\r\n8\r\ndefghijk\r\n0\r\nT: 1\r\n\r\n";
        for step in STEPS {
            for buffered in [0, 4] {
                let (body, reuse) =
                    read_body(Framing::Length(11), b"abcdefghijk", buffered, step).unwrap();
                assert_eq!((body.as_slice(), reuse), (&b"abcdefghijk"[..], true));
                let (body, reuse) = read_body(Framing::Chunked, chunked, buffered, step).unwrap();
                assert_eq!(
                    (body.as_slice(), reuse),
                    (&b"abcdefghijk"[..], true),
                    "step {step}"
                );
                let (body, reuse) =
                    read_body(Framing::Close, b"abcdefghijk", buffered, step).unwrap();
                assert_eq!(
                    (body.as_slice(), reuse),
                    (&b"abcdefghijk"[..], false),
                    "close-delimited"
                );
            }
        }
    }

    #[test]
    fn truncation_is_an_error_and_stray_bytes_cost_the_connection() {
        for step in STEPS {
            assert_eq!(
                read_body(Framing::Length(20), b"abcdefghijk", 0, step).err(),
                Some(Error::BodyTruncated)
            );
            assert_eq!(
                read_body(Framing::Chunked, b"5\r\nabc", 0, step).err(),
                Some(Error::BodyTruncated)
            );
        }
        // Bytes after the body in the buffer: the body is whole, the connection is not reused.
        let (body, reuse) = read_body(Framing::Length(3), b"abcEXTRA", 8, 7).unwrap();
        assert_eq!((body.as_slice(), reuse), (&b"abc"[..], false));
    }
}
