//! `Authorization` header values: HTTP basic (RFC 7617) and bearer tokens.
//!
//! Values are written straight into the request head: no allocation, no intermediate buffer.
//! Credentials taken from a URL are percent-decoded on the fly before they are encoded.

use crate::buf::Cursor;
use crate::Result;
use core::fmt;

/// How the client authenticates itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth<'a> {
    /// `Authorization: Basic base64(user:password)`.
    Basic { user: &'a str, password: &'a str },
    /// `Authorization: Bearer token`.
    Bearer(&'a str),
}

impl core::fmt::Debug for Auth<'_> {
    // Never print secrets.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Auth::Basic { user, .. } => write!(f, "Basic({user}:***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

impl Auth<'_> {
    /// The `Authorization` value (`Basic ...`, `Bearer ...`), written into `out`: for callers
    /// that carry the header themselves (mreq's `--device` frames).
    pub fn header_value<'o>(&self, out: &'o mut [u8]) -> Result<&'o str> {
        let mut cursor = Cursor::new(out);
        self.write_value(&mut cursor)?;
        let len = cursor.len();
        let written = cursor.into_written();
        // Only ASCII is written: "Basic " + base64, or "Bearer " + the (checked) token.
        core::str::from_utf8(&written[..len]).map_err(|_| crate::Error::InvalidHeader)
    }

    /// Writes the header value (without the name) into `out`.
    pub(crate) fn write_value(&self, out: &mut Cursor<'_>) -> Result<()> {
        match self {
            Auth::Basic { user, password } => {
                out.push_str("Basic ")?;
                let bytes = user
                    .bytes()
                    .chain(core::iter::once(b':'))
                    .chain(password.bytes());
                base64_into(bytes, out)
            }
            Auth::Bearer(token) => {
                out.push_str("Bearer ")?;
                out.push_str(token)
            }
        }
    }
}

/// Writes `Basic base64(unquote(user):unquote(password))` for credentials from a URL.
pub(crate) fn write_url_basic(user: &str, password: &str, out: &mut Cursor<'_>) -> Result<()> {
    out.push_str("Basic ")?;
    let bytes = PercentDecoded(user.as_bytes())
        .chain(core::iter::once(b':'))
        .chain(PercentDecoded(password.as_bytes()));
    base64_into(bytes, out)
}

/// Standard base64 with padding (RFC 4648 section 4), into any `fmt::Write` (a fixed buffer, a
/// `String`); a writer that is full is `fmt::Error`.
pub fn base64_encode<W: fmt::Write + ?Sized>(
    bytes: impl Iterator<Item = u8>,
    out: &mut W,
) -> fmt::Result {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut group = [0u8; 3];
    let mut filled = 0;
    let flush = |group: &[u8; 3], filled: usize, out: &mut W| -> fmt::Result {
        let n = (u32::from(group[0]) << 16) | (u32::from(group[1]) << 8) | u32::from(group[2]);
        let mut quad = [b'='; 4];
        for (i, slot) in quad.iter_mut().enumerate().take(filled + 1) {
            *slot = ALPHABET[((n >> (18 - 6 * i)) & 63) as usize];
        }
        // Only ASCII from the alphabet.
        out.write_str(core::str::from_utf8(&quad).map_err(|_| fmt::Error)?)
    };
    for byte in bytes {
        group[filled] = byte;
        filled += 1;
        if filled == 3 {
            flush(&group, 3, out)?;
            group = [0; 3];
            filled = 0;
        }
    }
    if filled > 0 {
        flush(&group, filled, out)?;
    }
    Ok(())
}

/// [`base64_encode`] into the request buffer: a full buffer is `Error::BufferTooSmall`.
fn base64_into(bytes: impl Iterator<Item = u8>, out: &mut Cursor<'_>) -> Result<()> {
    base64_encode(bytes, out).map_err(|_| crate::Error::BufferTooSmall)
}

/// Iterates the bytes of percent-encoded text, decoding `%XX` (malformed escapes stay as they are).
struct PercentDecoded<'a>(&'a [u8]);

impl Iterator for PercentDecoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        if first == b'%' {
            if let [hi, lo, tail @ ..] = rest {
                if let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) {
                    self.0 = tail;
                    return Some(hi << 4 | lo);
                }
            }
        }
        self.0 = rest;
        Some(first)
    }
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(auth: Auth<'_>) -> std::string::String {
        let mut buf = [0u8; 128];
        let mut cur = Cursor::new(&mut buf);
        auth.write_value(&mut cur).unwrap();
        std::string::String::from_utf8(cur.written().to_vec()).unwrap()
    }

    #[test]
    fn basic_matches_rfc7617_example() {
        let auth = Auth::Basic {
            user: "Aladdin",
            password: "open sesame",
        };
        assert_eq!(value(auth), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn base64_padding_lengths() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            let mut buf = [0u8; 16];
            let mut cur = Cursor::new(&mut buf);
            base64_encode(input.bytes(), &mut cur).unwrap();
            assert_eq!(cur.written(), expected.as_bytes());
        }
    }

    #[test]
    fn bearer_and_debug_hide_secrets() {
        assert_eq!(value(Auth::Bearer("tok123")), "Bearer tok123");
        let shown = std::format!(
            "{:?}",
            Auth::Basic {
                user: "u",
                password: "secret"
            }
        );
        assert!(!shown.contains("secret"));
    }

    #[test]
    fn url_credentials_are_percent_decoded() {
        let mut buf = [0u8; 64];
        let mut cur = Cursor::new(&mut buf);
        write_url_basic("us%65r", "p%40ss%zz", &mut cur).unwrap();
        // base64("user:p@ss%zz")
        assert_eq!(cur.written(), b"Basic dXNlcjpwQHNzJXp6");
    }

    #[test]
    fn full_buffer_is_an_error() {
        let mut buf = [0u8; 8];
        let mut cur = Cursor::new(&mut buf);
        assert!(Auth::Bearer("a-long-token").write_value(&mut cur).is_err());
    }
}
