//! `multipart/form-data` bodies (RFC 7578), without an allocator.
//!
//! A body is a run of parts, each `--BOUNDARY`, its head (`Content-Disposition: form-data;
//! name="…"`, a `filename` and a `Content-Type` when given), a blank line, its data and a line
//! break, then `--BOUNDARY--`. The pieces are written by [`write_head`] and [`write_close`] and
//! measured by [`head_len`] and [`body_len`] (for `Content-Length`), so a caller can stream a
//! part's data from anywhere (a file, a flash region) between them; [`Form`] is a whole body of
//! parts in memory, read as a [`BodySource`](crate::client::blocking::BodySource) that can be sent
//! again after a redirect. The boundary must not occur in any part's data: make it from 16 random
//! bytes ([`Boundary::from_random`]).
//!
//! Names and file names are written as browsers write them (RFC 7578 4.2, as curl does too): `"`
//! as `%22`, CR and LF as spaces, `\` doubled. A content type with CR, LF or NUL is refused.

use crate::{Error, Result};
use core::fmt;

/// Longest boundary RFC 2046 allows.
pub const MAX_BOUNDARY: usize = 70;

/// A boundary: 1 to 70 of RFC 2046's `bchars`, not ending in a space.
#[derive(Clone, Copy)]
pub struct Boundary {
    text: [u8; MAX_BOUNDARY],
    len: u8,
}

impl Boundary {
    /// `mreq-boundary-` and the 32 hex digits of `random` (give it 16 bytes from a real RNG).
    pub fn from_random(random: [u8; 16]) -> Boundary {
        const PREFIX: &[u8] = b"mreq-boundary-";
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; MAX_BOUNDARY];
        text[..PREFIX.len()].copy_from_slice(PREFIX);
        for (i, b) in random.iter().enumerate() {
            text[PREFIX.len() + 2 * i] = HEX[usize::from(b >> 4)];
            text[PREFIX.len() + 2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        Boundary {
            text,
            len: (PREFIX.len() + 32) as u8,
        }
    }

    /// A boundary of the caller's; `Error::InvalidHeader` unless it is one RFC 2046 allows.
    pub fn new(text: &str) -> Result<Boundary> {
        let bytes = text.as_bytes();
        let bchar = |b: &u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(b);
        if bytes.is_empty()
            || bytes.len() > MAX_BOUNDARY
            || bytes.ends_with(b" ")
            || !bytes.iter().all(bchar)
        {
            return Err(Error::InvalidHeader);
        }
        let mut out = [0u8; MAX_BOUNDARY];
        out[..bytes.len()].copy_from_slice(bytes);
        Ok(Boundary {
            text: out,
            len: bytes.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        core::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or("")
    }

    /// The request's `Content-Type`: `multipart/form-data; boundary=…`.
    pub fn write_content_type<W: fmt::Write + ?Sized>(&self, out: &mut W) -> fmt::Result {
        write!(out, "{CONTENT_TYPE_PREFIX}{}", self.as_str())
    }

    /// The request's `Content-Type` in a value of its own, for `Request::content_type`.
    pub fn content_type(&self) -> ContentType {
        let mut text = [0u8; CONTENT_TYPE_PREFIX.len() + MAX_BOUNDARY];
        let prefix = CONTENT_TYPE_PREFIX.len();
        text[..prefix].copy_from_slice(CONTENT_TYPE_PREFIX.as_bytes());
        text[prefix..prefix + usize::from(self.len)]
            .copy_from_slice(&self.text[..usize::from(self.len)]);
        ContentType {
            text,
            len: prefix + usize::from(self.len),
        }
    }
}

const CONTENT_TYPE_PREFIX: &str = "multipart/form-data; boundary=";

/// `multipart/form-data; boundary=…`, held without an allocator.
#[derive(Clone, Copy)]
pub struct ContentType {
    text: [u8; CONTENT_TYPE_PREFIX.len() + MAX_BOUNDARY],
    len: usize,
}

impl ContentType {
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.text[..self.len]).unwrap_or("")
    }
}

impl fmt::Debug for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Boundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Boundary").field(&self.as_str()).finish()
    }
}

/// What a part's head says: the field name, and for a file its name and content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a str,
    pub filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
}

impl<'a> Field<'a> {
    /// A plain field (no file name, no content type: text/plain by RFC 7578).
    pub fn text(name: &'a str) -> Self {
        Field {
            name,
            filename: None,
            content_type: None,
        }
    }

    /// A file upload.
    pub fn file(name: &'a str, filename: &'a str, content_type: &'a str) -> Self {
        Field {
            name,
            filename: Some(filename),
            content_type: Some(content_type),
        }
    }
}

/// Writes a part's delimiter and head, up to and including the blank line before its data.
pub fn write_head<W: fmt::Write + ?Sized>(
    boundary: &Boundary,
    field: &Field<'_>,
    out: &mut W,
) -> Result<()> {
    if let Some(kind) = field.content_type {
        if kind.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(Error::InvalidHeader);
        }
    }
    write_head_unchecked(boundary, field, out).map_err(|_| Error::BufferTooSmall)
}

fn write_head_unchecked<W: fmt::Write + ?Sized>(
    boundary: &Boundary,
    field: &Field<'_>,
    out: &mut W,
) -> fmt::Result {
    write!(out, "--{}\r\n", boundary.as_str())?;
    out.write_str("Content-Disposition: form-data; name=\"")?;
    write_quoted(field.name, out)?;
    out.write_char('"')?;
    if let Some(filename) = field.filename {
        out.write_str("; filename=\"")?;
        write_quoted(filename, out)?;
        out.write_char('"')?;
    }
    out.write_str("\r\n")?;
    if let Some(kind) = field.content_type {
        write!(out, "Content-Type: {kind}\r\n")?;
    }
    out.write_str("\r\n")
}

/// What ends every part's data.
pub const PART_END: &[u8] = b"\r\n";

/// Writes the closing delimiter, after the last part.
pub fn write_close<W: fmt::Write + ?Sized>(boundary: &Boundary, out: &mut W) -> fmt::Result {
    write!(out, "--{}--\r\n", boundary.as_str())
}

/// The length of [`write_head`]'s output.
pub fn head_len(boundary: &Boundary, field: &Field<'_>) -> usize {
    let mut count = Count(0);
    let _ = write_head_unchecked(boundary, field, &mut count);
    count.0
}

/// The whole body's length: each part's head, its data of the given length and [`PART_END`],
/// then the closing delimiter.
pub fn body_len<'a>(boundary: &Boundary, parts: impl IntoIterator<Item = (Field<'a>, u64)>) -> u64 {
    let parts: u64 = parts
        .into_iter()
        .map(|(field, len)| head_len(boundary, &field) as u64 + len + PART_END.len() as u64)
        .sum();
    parts + close_len(boundary) as u64
}

fn close_len(boundary: &Boundary) -> usize {
    usize::from(boundary.len) + 6
}

/// RFC 7578 4.2, as browsers and curl write a quoted parameter value.
fn write_quoted<W: fmt::Write + ?Sized>(text: &str, out: &mut W) -> fmt::Result {
    for c in text.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '"' => out.write_str("%22")?,
            '\r' | '\n' => out.write_char(' ')?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

struct Count(usize);

impl fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Copies the bytes `[skip, skip + out.len())` of what is written into `out`: a window onto
/// formatted text that is never held whole.
struct Window<'o> {
    skip: u64,
    out: &'o mut [u8],
    filled: usize,
}

impl fmt::Write for Window<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        let skipped = (self.skip.min(bytes.len() as u64)) as usize;
        self.skip -= skipped as u64;
        bytes = &bytes[skipped..];
        let n = bytes.len().min(self.out.len() - self.filled);
        self.out[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
        self.filled += n;
        Ok(())
    }
}

/// A whole body of parts held in memory, read from its start (again after
/// [`rewind`](Form::rewind)); it checks every content type when made.
#[derive(Debug, Clone, Copy)]
pub struct Form<'a> {
    boundary: Boundary,
    parts: &'a [(Field<'a>, &'a [u8])],
    pos: u64,
}

impl<'a> Form<'a> {
    pub fn new(boundary: Boundary, parts: &'a [(Field<'a>, &'a [u8])]) -> Result<Self> {
        for (field, _) in parts {
            write_head(&boundary, field, &mut Count(0))?;
        }
        Ok(Form {
            boundary,
            parts,
            pos: 0,
        })
    }

    pub fn boundary(&self) -> &Boundary {
        &self.boundary
    }

    /// The body's length, for `Content-Length`.
    pub fn len(&self) -> u64 {
        body_len(
            &self.boundary,
            self.parts.iter().map(|(f, data)| (*f, data.len() as u64)),
        )
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn rewind(&mut self) {
        self.pos = 0;
    }

    /// Fills `buf` from the current position; 0 at the end.
    pub fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let mut filled = 0;
        let mut start = 0u64;
        for (field, data) in self.parts {
            let head = head_len(&self.boundary, field) as u64;
            if self.pos < start + head {
                let mut window = Window {
                    skip: self.pos - start,
                    out: &mut buf[filled..],
                    filled: 0,
                };
                let _ = write_head_unchecked(&self.boundary, field, &mut window);
                filled += window.filled;
                self.pos += window.filled as u64;
            }
            start += head;
            filled += self.copy(start, data, &mut buf[filled..]);
            start += data.len() as u64;
            filled += self.copy(start, PART_END, &mut buf[filled..]);
            start += PART_END.len() as u64;
            if filled == buf.len() {
                return filled;
            }
        }
        if self.pos < start + close_len(&self.boundary) as u64 {
            let mut window = Window {
                skip: self.pos - start,
                out: &mut buf[filled..],
                filled: 0,
            };
            let _ = write_close(&self.boundary, &mut window);
            filled += window.filled;
            self.pos += window.filled as u64;
        }
        filled
    }

    /// Copies what is left of `bytes` (which start at body offset `start`) into `out`.
    fn copy(&mut self, start: u64, bytes: &[u8], out: &mut [u8]) -> usize {
        let end = start + bytes.len() as u64;
        if self.pos < start || self.pos >= end {
            return 0;
        }
        let from = (self.pos - start) as usize;
        let n = (bytes.len() - from).min(out.len());
        out[..n].copy_from_slice(&bytes[from..from + n]);
        self.pos += n as u64;
        n
    }
}

impl embedded_io::ErrorType for Form<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Form<'_> {
    fn read(&mut self, buf: &mut [u8]) -> core::result::Result<usize, Self::Error> {
        Ok(self.read_into(buf))
    }
}

impl embedded_io_async::Read for Form<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> core::result::Result<usize, Self::Error> {
        Ok(self.read_into(buf))
    }
}

impl crate::client::blocking::BodySource for Form<'_> {
    fn rewind(&mut self) -> bool {
        Form::rewind(self);
        true
    }
}

impl crate::client::asynch::BodySource for Form<'_> {
    async fn rewind(&mut self) -> bool {
        Form::rewind(self);
        true
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn boundary() -> Boundary {
        Boundary::new("b0und").unwrap()
    }

    #[test]
    fn a_body_as_rfc_7578_writes_it() {
        let parts = [
            (Field::text("a"), &b"1"[..]),
            (
                Field::file("doc", "x\"y.txt", "text/plain"),
                &b"line\r\n"[..],
            ),
        ];
        let mut form = Form::new(boundary(), &parts).unwrap();
        let mut body = [0u8; 256];
        let n = form.read_into(&mut body);
        let expected = "--b0und\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
            --b0und\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"x%22y.txt\"\r\n\
            Content-Type: text/plain\r\n\r\nline\r\n\r\n--b0und--\r\n";
        assert_eq!(core::str::from_utf8(&body[..n]).unwrap(), expected);
        assert_eq!(form.len(), expected.len() as u64);
        assert_eq!(form.read_into(&mut body), 0, "then the end");
    }

    #[test]
    fn any_read_size_gives_the_same_bytes_and_rewind_starts_again() {
        let parts = [
            (Field::text("first"), &b"some data"[..]),
            (Field::text("empty"), &b""[..]),
            (
                Field::file("f", "a\\b\nc", "application/octet-stream"),
                &[0u8, 1, 2][..],
            ),
        ];
        let mut form = Form::new(Boundary::from_random([7; 16]), &parts).unwrap();
        assert_eq!(
            form.boundary().content_type().as_str(),
            "multipart/form-data; boundary=mreq-boundary-07070707070707070707070707070707"
        );
        let mut whole = vec_of(&mut form, 4096);
        assert_eq!(whole.len() as u64, form.len());
        for size in 1..=17 {
            form.rewind();
            assert_eq!(vec_of(&mut form, size), whole, "reads of {size}");
        }
        let text = String::from_utf8_lossy(&whole).into_owned();
        assert!(text.contains("filename=\"a\\\\b c\""), "{text}");
        assert!(text.starts_with("--mreq-boundary-07070707"), "{text}");
        whole.clear();
    }

    fn vec_of(form: &mut Form<'_>, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = std::vec![0u8; size];
        loop {
            let n = form.read_into(&mut buf);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn bad_boundaries_and_content_types_are_refused() {
        for bad in [
            "",
            "with space ",
            "semi;colon",
            "quote\"",
            &"x".repeat(71),
            "é",
        ] {
            assert!(Boundary::new(bad).is_err(), "{bad:?}");
        }
        assert!(Boundary::new(&"x".repeat(70)).is_ok());
        let parts = [(Field::file("f", "n", "text/plain\r\nX-Evil: 1"), &b""[..])];
        assert_eq!(
            Form::new(boundary(), &parts).err(),
            Some(Error::InvalidHeader)
        );
    }

    #[test]
    fn the_length_of_streamed_parts_is_counted_without_their_data() {
        let b = boundary();
        let mut head = String::new();
        write_head(
            &b,
            &Field::file("up", "big.bin", "application/octet-stream"),
            &mut head,
        )
        .unwrap();
        let mut close = String::new();
        write_close(&b, &mut close).unwrap();
        let len = body_len(
            &b,
            [(
                Field::file("up", "big.bin", "application/octet-stream"),
                1 << 20,
            )],
        );
        assert_eq!(len, (head.len() + (1 << 20) + 2 + close.len()) as u64);
    }
}
