//! Reading a response body, as plain sans-IO code: [`Reading::next`] copies decoded body bytes
//! from the buffer to the caller, or says which read to do (straight into the caller's buffer
//! when pure body bytes come next, else into the buffer), and decides at the end whether the
//! connection may carry another request.

use crate::body::BodyDecoder;
use crate::{Error, Result};

/// What [`Reading::next`] did, or wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// `n` body bytes were copied into the caller's buffer.
    Copied(usize),
    /// Read at most this many bytes from the connection straight into the caller's buffer,
    /// then report with [`Reading::direct`].
    ReadDirect(usize),
    /// Read from the connection into the buffer from this offset on (what is before it waits
    /// to be decoded: a trailer section not yet whole), then report with [`Reading::filled`].
    Fill(usize),
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
    /// Where the trailer section that ended a chunked body is in the buffer.
    trailer_start: usize,
}

impl Reading {
    /// A body whose first `buffered` bytes are already in the buffer.
    pub(crate) fn new(decoder: BodyDecoder, buffered: usize, keep_alive: bool) -> Self {
        Reading {
            decoder,
            pos: 0,
            end: buffered,
            keep_alive,
            trailer_start: 0,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.decoder.is_done()
    }

    /// The next step towards filling `out` from the buffer `io`.
    pub(crate) fn next(&mut self, io: &mut [u8], out: &mut [u8]) -> Result<Next> {
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
                if self.decoder.is_done() {
                    self.trailer_start = self.pos - self.decoder.trailer_len();
                }
                if stop > start {
                    return Ok(Next::Copied(stop - start));
                }
                if decoded.consumed == 0 && !self.decoder.is_done() {
                    // A trailer section not yet whole: keep it at the front, read more behind it.
                    io.copy_within(self.pos..self.end, 0);
                    self.end -= self.pos;
                    self.pos = 0;
                    if self.end == io.len() {
                        return Err(Error::TrailersTooLarge);
                    }
                    return Ok(Next::Fill(self.end));
                }
                continue;
            }
            self.pos = 0;
            self.end = 0;
            return Ok(match self.decoder.direct_limit() {
                Some(limit) => {
                    Next::ReadDirect(out.len().min(usize::try_from(limit).unwrap_or(usize::MAX)))
                }
                None => Next::Fill(0),
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

    /// `n` bytes were read into the buffer where [`Next::Fill`] said (0: the connection ended).
    pub(crate) fn filled(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            self.keep_alive = false;
            return self.decoder.eof();
        }
        self.end += n;
        Ok(())
    }

    /// The trailer fields of a chunked body read to its end (else none), from the buffer `io`.
    pub(crate) fn trailers<'a>(&self, io: &'a [u8]) -> crate::response::Fields<'a> {
        let section = io
            .get(self.trailer_start..self.trailer_start + self.decoder.trailer_len())
            .unwrap_or(&[]);
        self.decoder.trailers(section)
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
            match reading.next(&mut io, &mut out)? {
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
                Next::Fill(from) => {
                    let n = (io.len() - from).min(step).min(wire.len() - pos);
                    io[from..from + n].copy_from_slice(&wire[pos..pos + n]);
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

    /// Reads a chunked body through a buffer of `io_len` bytes in reads of `step`; returns the
    /// trailer fields as `name=value` lines.
    fn trailers_of(wire: &[u8], io_len: usize, step: usize) -> Result<Vec<std::string::String>> {
        let mut io = std::vec![0u8; io_len];
        let mut reading = Reading::new(BodyDecoder::new(Framing::Chunked), 0, true);
        let (mut pos, mut out) = (0, [0u8; 5]);
        loop {
            match reading.next(&mut io, &mut out)? {
                Next::Copied(_) => {}
                Next::End => break,
                Next::ReadDirect(max) => {
                    let n = max.min(step).min(wire.len() - pos);
                    pos += n;
                    reading.direct(n)?;
                }
                Next::Fill(from) => {
                    let n = (io.len() - from).min(step).min(wire.len() - pos);
                    io[from..from + n].copy_from_slice(&wire[pos..pos + n]);
                    pos += n;
                    reading.filled(n)?;
                }
            }
        }
        Ok(reading
            .trailers(&io)
            .map(|(name, value)| {
                std::format!("{name}={}", std::string::String::from_utf8_lossy(value))
            })
            .collect())
    }

    #[test]
    fn trailers_stay_in_the_buffer_across_reads() {
        let wire = b"3\r\nabc\r\n0\r\nX-Sum: 9\r\nX-Two: ok\r\n\r\n";
        for step in STEPS {
            assert_eq!(
                trailers_of(wire, 64, step).unwrap(),
                ["X-Sum=9", "X-Two=ok"],
                "step {step}"
            );
        }
        // A section that cannot fit in the buffer is refused, never cut.
        for step in STEPS {
            assert_eq!(
                trailers_of(wire, 20, step).err(),
                Some(Error::TrailersTooLarge)
            );
        }
        assert_eq!(
            trailers_of(b"1\r\nx\r\n0\r\n\r\n", 64, 1).unwrap(),
            Vec::<std::string::String>::new()
        );
    }
}
