//! Body framing: decoding Content-Length, chunked and close-delimited response bodies, and the
//! chunk framing for uploads of unknown length.
//!
//! [`BodyDecoder`] is a sans-IO state machine: it is fed whatever bytes arrived and says which of
//! them are body data, so a driver can copy data straight to the caller (or, through
//! [`BodyDecoder::direct_limit`], read it from the socket straight into the caller's buffer). It is
//! strict: a body that ends early, a chunk size that is not hex or has more than
//! [`MAX_CHUNK_SIZE_DIGITS`] significant digits, or a chunk not followed by CRLF is an error, never
//! a silently short body. Chunk extensions are skipped; a trailer section up to
//! [`MAX_TRAILER_BYTES`] is validated and left where it arrived (the decoder holds no copy: it
//! consumes the section only once it is whole, and says its length with
//! [`BodyDecoder::trailer_len`]). It does not decompress anything: `Content-Encoding` is the
//! caller's business.

use crate::response::{validate_fields, Fields, Framing, DEFAULT_MAX_HEADERS};
use crate::{Error, Result};

/// The most significant hex digits a chunk size may have (16 digits fill a u64).
pub const MAX_CHUNK_SIZE_DIGITS: u8 = 16;
/// The longest chunk extension skipped on one size line.
pub const MAX_CHUNK_EXTENSION_BYTES: u16 = 1024;
/// The largest trailer section accepted (a larger one is `Error::TrailersTooLarge`).
pub const MAX_TRAILER_BYTES: usize = 256;

/// The framing bytes that end a chunked upload.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
/// The CRLF after each uploaded chunk's data.
pub const CHUNK_DATA_END: &[u8] = b"\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Done,
    Close,
    Length { remaining: u64 },
    SizeDigits { size: u64, digits: u8 },
    SizeTail { size: u64, extension: u16 },
    SizeLf { size: u64 },
    Data { remaining: u64 },
    DataEnd { saw_cr: bool },
    Trailers,
}

/// What one call to [`BodyDecoder::decode`] did with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used up (framing and data).
    pub consumed: usize,
    /// `input[start..end]` is body data (empty when `start == end`).
    pub data: (usize, usize),
}

/// Turns the bytes after a response head into body data.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    trailer_len: u16,
    /// Bytes of an unfinished trailer section already searched for its end.
    trailer_scanned: u16,
}

impl BodyDecoder {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::None | Framing::Length(0) => State::Done,
            Framing::Length(remaining) => State::Length { remaining },
            Framing::Chunked => State::SizeDigits { size: 0, digits: 0 },
            Framing::Close => State::Close,
        };
        BodyDecoder {
            state,
            trailer_len: 0,
            trailer_scanned: 0,
        }
    }

    /// The whole body has been received (and, for chunked, its trailers).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes still expected, when the framing says (`None` for close-delimited or chunked).
    pub fn remaining_hint(&self) -> Option<u64> {
        match self.state {
            State::Length { remaining } => Some(remaining),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// How many of the next bytes on the wire are pure body data, if the decoder is between
    /// framing: the driver may read that many straight into the caller's buffer and report them
    /// with [`consume_direct`](Self::consume_direct).
    pub fn direct_limit(&self) -> Option<u64> {
        match self.state {
            State::Length { remaining } | State::Data { remaining } => Some(remaining),
            State::Close => Some(u64::MAX),
            _ => None,
        }
    }

    /// Records `n` body bytes read outside [`decode`](Self::decode) (at most `direct_limit`).
    pub fn consume_direct(&mut self, n: usize) {
        self.take_data(n as u64);
    }

    /// Feeds `input`; stops after the first run of body data (at most `max_data` bytes of it).
    /// A trailer section is consumed only when `input` holds all of it: until then the call
    /// consumes nothing more, and the caller feeds the same bytes again with more behind them.
    pub fn decode(&mut self, input: &[u8], max_data: usize) -> Result<Decoded> {
        let mut i = 0;
        loop {
            let available = (input.len() - i).min(max_data) as u64;
            match self.state {
                State::Done => {
                    return Ok(Decoded {
                        consumed: i,
                        data: (i, i),
                    })
                }
                State::Close => {
                    let n = available as usize;
                    return Ok(Decoded {
                        consumed: i + n,
                        data: (i, i + n),
                    });
                }
                State::Length { remaining } | State::Data { remaining } => {
                    let n = remaining.min(available);
                    self.take_data(n);
                    let n = n as usize;
                    return Ok(Decoded {
                        consumed: i + n,
                        data: (i, i + n),
                    });
                }
                State::Trailers => {
                    let consumed = self.trailer_section(&input[i..])?;
                    return Ok(Decoded {
                        consumed: i + consumed,
                        data: (i, i),
                    });
                }
                _ => {}
            }
            let Some(&byte) = input.get(i) else {
                return Ok(Decoded {
                    consumed: i,
                    data: (i, i),
                });
            };
            i += 1;
            self.framing_byte(byte)?;
        }
    }

    /// The connection ended: fine for a close-delimited or finished body, an error otherwise.
    pub fn eof(&mut self) -> Result<()> {
        match self.state {
            State::Close | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(Error::BodyTruncated),
        }
    }

    /// The length of the trailer section (its blank line included) that ended a chunked body:
    /// the last `trailer_len()` bytes consumed by the [`decode`](Self::decode) call that finished
    /// the body. 0 until then, and for other framings.
    pub fn trailer_len(&self) -> usize {
        self.trailer_len as usize
    }

    /// The trailer fields of a chunked body, given the section's bytes (see
    /// [`trailer_len`](Self::trailer_len)); empty until the body is done.
    pub fn trailers<'a>(&self, section: &'a [u8]) -> Fields<'a> {
        let whole = self.is_done() && section.len() == self.trailer_len();
        Fields::over(if whole { section } else { &[] })
    }

    fn take_data(&mut self, n: u64) {
        match &mut self.state {
            State::Length { remaining } => {
                *remaining -= n.min(*remaining);
                if *remaining == 0 {
                    self.state = State::Done;
                }
            }
            State::Data { remaining } => {
                *remaining -= n.min(*remaining);
                if *remaining == 0 {
                    self.state = State::DataEnd { saw_cr: false };
                }
            }
            _ => {}
        }
    }

    fn framing_byte(&mut self, byte: u8) -> Result<()> {
        self.state = match self.state {
            State::SizeDigits { size, digits } => match (byte as char).to_digit(16) {
                Some(digit) => {
                    // Leading zeros do not count against the digit limit.
                    let digits = if size == 0 && digit == 0 {
                        digits.max(1)
                    } else {
                        digits + 1
                    };
                    if size >> 60 != 0 || digits > MAX_CHUNK_SIZE_DIGITS {
                        return Err(Error::ChunkSizeOverflow);
                    }
                    State::SizeDigits {
                        size: size << 4 | u64::from(digit),
                        digits,
                    }
                }
                None if digits == 0 => return Err(Error::InvalidChunkSize),
                None => match byte {
                    b';' | b' ' | b'\t' => State::SizeTail { size, extension: 0 },
                    b'\r' => State::SizeLf { size },
                    b'\n' => Self::after_size_line(size),
                    _ => return Err(Error::InvalidChunkSize),
                },
            },
            State::SizeTail { size, extension } => match byte {
                b'\r' => State::SizeLf { size },
                b'\n' => Self::after_size_line(size),
                b'\t' | b' '..=b'~' | 0x80.. if extension < MAX_CHUNK_EXTENSION_BYTES => {
                    State::SizeTail {
                        size,
                        extension: extension + 1,
                    }
                }
                _ => return Err(Error::InvalidChunkSize),
            },
            State::SizeLf { size } if byte == b'\n' => Self::after_size_line(size),
            State::DataEnd { saw_cr: false } if byte == b'\r' => State::DataEnd { saw_cr: true },
            State::DataEnd { .. } if byte == b'\n' => State::SizeDigits { size: 0, digits: 0 },
            State::SizeLf { .. } | State::DataEnd { .. } => return Err(Error::InvalidChunkFraming),
            State::Done
            | State::Trailers
            | State::Close
            | State::Length { .. }
            | State::Data { .. } => self.state,
        };
        Ok(())
    }

    fn after_size_line(size: u64) -> State {
        if size == 0 {
            State::Trailers
        } else {
            State::Data { remaining: size }
        }
    }

    /// In `input` (which starts with the trailer section): the section's length once it is
    /// whole and valid (the body is then done), else 0.
    fn trailer_section(&mut self, input: &[u8]) -> Result<usize> {
        // Each call gets the whole section so far: search only what is new.
        let scanned = usize::from(self.trailer_scanned);
        for end in scanned.max(1)..=input.len().min(MAX_TRAILER_BYTES) {
            let section = &input[..end];
            let complete = section == b"\n"
                || section == b"\r\n"
                || section.ends_with(b"\n\n")
                || section.ends_with(b"\n\r\n");
            if complete {
                validate_fields(section, DEFAULT_MAX_HEADERS)?;
                self.state = State::Done;
                self.trailer_len = end as u16;
                return Ok(end);
            }
        }
        if input.len() >= MAX_TRAILER_BYTES {
            return Err(Error::TrailersTooLarge);
        }
        self.trailer_scanned = input.len() as u16;
        Ok(0)
    }
}

/// Writes the size line of an upload chunk of `len` bytes (`len` in hex, then CRLF).
pub fn write_chunk_header(len: usize, out: &mut [u8; 18]) -> &[u8] {
    let mut cur = crate::buf::Cursor::new(&mut out[..]);
    // 16 hex digits and CRLF always fit in 18 bytes.
    let _ = crate::buf::push_uint(&mut cur, len as u64, 16);
    let _ = cur.push(b"\r\n");
    let n = cur.len();
    &out[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Decodes `wire` fed in pieces of `step` bytes, with reads of at most `max_data`.
    fn decode_all(
        framing: Framing,
        wire: &[u8],
        step: usize,
        max_data: usize,
    ) -> Result<(Vec<u8>, BodyDecoder)> {
        decode_keeping_trailers(framing, wire, step, max_data)
            .map(|(body, decoder, _)| (body, decoder))
    }

    /// [`decode_all`], also returning the trailer section as the decoder left it.
    fn decode_keeping_trailers(
        framing: Framing,
        wire: &[u8],
        step: usize,
        max_data: usize,
    ) -> Result<(Vec<u8>, BodyDecoder, Vec<u8>)> {
        let mut decoder = BodyDecoder::new(framing);
        let mut body = Vec::new();
        let mut pending = Vec::new();
        let mut trailers = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                let decoded = decoder.decode(&pending, max_data)?;
                body.extend_from_slice(&pending[decoded.data.0..decoded.data.1]);
                if decoder.is_done() && trailers.is_empty() {
                    let end = decoded.consumed;
                    trailers.extend_from_slice(&pending[end - decoder.trailer_len()..end]);
                }
                pending.drain(..decoded.consumed);
                if decoded.consumed == 0 || decoder.is_done() {
                    break;
                }
            }
        }
        Ok((body, decoder, trailers))
    }

    #[test]
    fn content_length_body_in_any_pieces() {
        for step in [1, 3, 100] {
            let (body, mut decoder) =
                decode_all(Framing::Length(5), b"helloEXTRA", step, 2).unwrap();
            assert_eq!(body, b"hello");
            assert!(decoder.is_done());
            assert!(decoder.eof().is_ok());
        }
    }

    #[test]
    fn short_length_body_is_truncated() {
        let (body, mut decoder) = decode_all(Framing::Length(10), b"hello", 2, 64).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(decoder.remaining_hint(), Some(5));
        assert_eq!(decoder.eof(), Err(Error::BodyTruncated));
    }

    #[test]
    fn close_delimited_ends_at_eof() {
        let (body, mut decoder) = decode_all(Framing::Close, b"all of it", 4, 64).unwrap();
        assert_eq!(body, b"all of it");
        assert!(!decoder.is_done());
        assert!(decoder.eof().is_ok());
        assert!(decoder.is_done());
    }

    #[test]
    fn no_body() {
        let mut decoder = BodyDecoder::new(Framing::None);
        assert!(decoder.is_done());
        assert_eq!(decoder.decode(b"junk", 10).unwrap().consumed, 0);
        assert!(BodyDecoder::new(Framing::Length(0)).is_done());
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"5;name=val\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\nNEXT";
        for step in [1, 2, 7, 1000] {
            for max in [1, 3, 1000] {
                let (body, decoder, section) =
                    decode_keeping_trailers(Framing::Chunked, wire, step, max).unwrap();
                assert_eq!(body, b"hello world", "step {step} max {max}");
                assert!(decoder.is_done());
                assert_eq!(section, b"X-Checksum: abc\r\nX-Other: 1\r\n\r\n");
                let trailers = decoder.trailers(&section);
                assert_eq!(trailers.clone().get("x-checksum"), Some(&b"abc"[..]));
                assert_eq!(trailers.count(), 2);
            }
        }
    }

    #[test]
    fn chunked_accepts_bare_lf_and_leading_zeros() {
        let (body, decoder) =
            decode_all(Framing::Chunked, b"00000000000000000003\nabc\n0\n\n", 1, 64).unwrap();
        assert_eq!(body, b"abc");
        assert!(decoder.is_done());
    }

    #[test]
    fn chunked_errors() {
        let cases: [(&[u8], Error); 9] = [
            (b"zz\r\n", Error::InvalidChunkSize),
            (b"\r\n", Error::InvalidChunkSize),
            (b"-5\r\n", Error::InvalidChunkSize),
            (b"5x\r\n", Error::InvalidChunkSize),
            (b"ffffffffffffffffff\r\n", Error::ChunkSizeOverflow),
            (b"10000000000000000\r\n", Error::ChunkSizeOverflow),
            (b"5\r\nhelloXX0\r\n\r\n", Error::InvalidChunkFraming),
            (b"5\rX", Error::InvalidChunkFraming),
            (b"0\r\nBad Trailer\r\n\r\n", Error::InvalidHeaderLine),
        ];
        for (wire, expected) in cases {
            let got = decode_all(Framing::Chunked, wire, 1, 64).map(|(body, _)| body);
            assert_eq!(got, Err(expected), "{:?}", core::str::from_utf8(wire));
        }
    }

    #[test]
    fn chunked_limits() {
        let mut long_extension = Vec::from(&b"1;"[..]);
        long_extension.resize(2 + MAX_CHUNK_EXTENSION_BYTES as usize + 1, b'a');
        long_extension.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert_eq!(
            decode_all(Framing::Chunked, &long_extension, 64, 64).map(|_| ()),
            Err(Error::InvalidChunkSize)
        );
        let mut big_trailers = Vec::from(&b"0\r\n"[..]);
        for i in 0..40 {
            big_trailers.extend_from_slice(std::format!("X-Trailer-{i}: value\r\n").as_bytes());
        }
        big_trailers.extend_from_slice(b"\r\n");
        assert_eq!(
            decode_all(Framing::Chunked, &big_trailers, 64, 64).map(|_| ()),
            Err(Error::TrailersTooLarge)
        );
    }

    #[test]
    fn truncated_chunked_is_an_error_at_eof() {
        let (body, mut decoder) = decode_all(Framing::Chunked, b"5\r\nhello\r\n", 3, 64).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(decoder.eof(), Err(Error::BodyTruncated));
    }

    #[test]
    fn direct_reads_follow_chunk_boundaries() {
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        assert_eq!(decoder.direct_limit(), None);
        let decoded = decoder.decode(b"4\r\n", 64).unwrap();
        assert_eq!(decoded.consumed, 3);
        assert_eq!(decoder.direct_limit(), Some(4));
        decoder.consume_direct(4);
        assert_eq!(decoder.direct_limit(), None);
        let decoded = decoder.decode(b"\r\n0\r\n\r\n", 64).unwrap();
        assert_eq!(decoded.consumed, 7);
        assert!(decoder.is_done());
    }

    #[test]
    fn chunk_header_for_uploads() {
        let mut out = [0u8; 18];
        assert_eq!(write_chunk_header(255, &mut out), b"ff\r\n");
        assert_eq!(write_chunk_header(0, &mut out), b"0\r\n");
        assert_eq!(write_chunk_header(usize::MAX, &mut out).len(), 18);
    }
}
