//! Percent-encoding and `application/x-www-form-urlencoded` query strings, with the semantics of
//! Python 3.11's `urllib.parse` (`quote`, `quote_plus`, `urlencode`, `unquote`, `unquote_plus`,
//! `parse_qsl`), so that code ported from Python builds and reads the same bytes. Everything works
//! without an allocator (writing into a `fmt::Write` or a caller-lent slice); the `alloc` feature
//! adds `String`-returning conveniences. It deliberately does not parse or normalise whole URLs,
//! support encodings other than UTF-8, accept `;` as a separator (dropped in Python 3.10), or
//! offer `parse_qs`, `doseq` or `max_num_fields`.

use crate::Error;
use core::fmt;
use core::iter::FusedIterator;

#[cfg(feature = "alloc")]
use alloc::{string::String, vec::Vec};

/// Bytes Python never quotes: ASCII letters, digits and `_.-~` (RFC 3986 "unreserved").
fn is_always_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~')
}

/// Python drops non-ASCII characters from `safe`, and every byte of a non-ASCII character is
/// >= 0x80, so comparing raw bytes of `safe` against ASCII input bytes is exactly its rule.
fn is_safe(b: u8, safe: &[u8]) -> bool {
    b.is_ascii() && (is_always_safe(b) || safe.contains(&b))
}

fn write_escaped<W: fmt::Write + ?Sized>(b: u8, out: &mut W) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.write_char('%')?;
    out.write_char(char::from(HEX[usize::from(b >> 4)]))?;
    out.write_char(char::from(HEX[usize::from(b & 0x0f)]))
}

fn quote_with<W: fmt::Write + ?Sized>(
    s: &str,
    safe: &str,
    space_as_plus: bool,
    out: &mut W,
) -> fmt::Result {
    let safe = safe.as_bytes();
    // Runs of characters that need no escaping are written as one slice rather than per char.
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        // quote_plus quotes with `safe + ' '` and then replaces every space, so a space always
        // becomes `+` there, whether or not the caller listed it as safe.
        let plus = space_as_plus && c == ' ';
        if !plus && c.is_ascii() && is_safe(c as u8, safe) {
            continue;
        }
        out.write_str(&s[run_start..i])?;
        if plus {
            out.write_char('+')?;
        } else {
            let mut utf8 = [0u8; 4];
            for &b in c.encode_utf8(&mut utf8).as_bytes() {
                write_escaped(b, out)?;
            }
        }
        run_start = i + c.len_utf8();
    }
    out.write_str(&s[run_start..])
}

/// Percent-encodes `s` like Python's `urllib.parse.quote(s, safe)`.
///
/// ASCII letters, digits, `_.-~` and the ASCII characters of `safe` are kept; every other UTF-8
/// byte becomes `%XX` with uppercase hex. Python's default is `safe="/"`: pass `"/"` to get it,
/// or `""` to encode `/` too.
pub fn quote<W: fmt::Write + ?Sized>(s: &str, safe: &str, out: &mut W) -> fmt::Result {
    quote_with(s, safe, false, out)
}

/// Like Python's `urllib.parse.quote_plus(s, safe)`: as [`quote`], but a space becomes `+`
/// (and `+` itself is encoded as `%2B` unless it is in `safe`). Python's default is `safe=""`.
pub fn quote_plus<W: fmt::Write + ?Sized>(s: &str, safe: &str, out: &mut W) -> fmt::Result {
    quote_with(s, safe, true, out)
}

/// Writes `name=value` pairs joined by `&`, each side encoded with [`quote_plus`] and `safe=""`,
/// like Python's `urllib.parse.urlencode(pairs)`. No pairs write nothing.
pub fn urlencode<I, K, V, W>(pairs: I, out: &mut W) -> fmt::Result
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
    W: fmt::Write + ?Sized,
{
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.write_char('&')?;
        }
        quote_plus(name.as_ref(), "", out)?;
        out.write_char('=')?;
        quote_plus(value.as_ref(), "", out)?;
    }
    Ok(())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded bytes of percent-encoded input: the one decoder behind every `unquote*`.
struct Decode<'a> {
    rest: &'a [u8],
    plus_as_space: bool,
}

impl Iterator for Decode<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        if b == b'%' {
            if let [hi, lo, tail @ ..] = rest {
                if let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) {
                    self.rest = tail;
                    return Some(hi << 4 | lo);
                }
            }
            // Like Python, a `%` not followed by two hex digits is kept as it is.
        }
        self.rest = rest;
        Some(if self.plus_as_space && b == b'+' {
            b' '
        } else {
            b
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len();
        (n.div_ceil(3), Some(n))
    }
}

fn decode_into(input: &[u8], plus_as_space: bool, out: &mut [u8]) -> Result<usize, Error> {
    let mut written = 0;
    let decoded = Decode {
        rest: input,
        plus_as_space,
    };
    for b in decoded {
        *out.get_mut(written).ok_or(Error::BufferTooSmall)? = b;
        written += 1;
    }
    Ok(written)
}

/// Percent-decodes `input` into `out` and returns how many bytes were written, like Python's
/// `urllib.parse.unquote_to_bytes`: a `%` not followed by two hex digits is kept literally.
///
/// The output is never longer than the input, so an `out` as long as `input` always suffices.
/// If `out` is shorter and the result does not fit, returns [`Error::BufferTooSmall`] (with
/// `out` partly written). The bytes are not checked to be UTF-8.
pub fn unquote_to(input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    decode_into(input, false, out)
}

/// Like [`unquote_to`], but `+` also becomes a space first (Python's `unquote_plus`), as in form
/// data and query strings; `%2B` still decodes to `+`.
pub fn unquote_plus_to(input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    decode_into(input, true, out)
}

/// The pairs of a query string, still percent-encoded, split with the rules of Python 3.11's
/// `parse_qsl`; made by [`query_pairs`].
///
/// Each item is the raw `(name, value)`; decode them with [`unquote_plus_to`] (or
/// `unquote_plus` with `alloc`). After an error the iterator ends, as `parse_qsl` would raise.
#[derive(Debug, Clone)]
pub struct QueryPairs<'a> {
    rest: Option<&'a str>,
    keep_blank_values: bool,
    strict_parsing: bool,
}

/// Splits the query string `qs` (without the leading `?`) into raw name/value pairs.
///
/// As in Python 3.11: only `&` separates pairs (not `;`); a pair is split at its first `=`, so a
/// value may contain `=`. Empty pieces (`a=1&&b=2`) are skipped. A piece without `=` is kept as
/// `(piece, "")` and a piece with an empty value as `(name, "")` only if `keep_blank_values`,
/// otherwise both are skipped. With `strict_parsing`, an empty piece or one without `=` yields
/// [`Error::InvalidQuery`] (an empty `qs` is still fine and yields nothing).
pub fn query_pairs(qs: &str, keep_blank_values: bool, strict_parsing: bool) -> QueryPairs<'_> {
    QueryPairs {
        // Python splits only a non-empty string, so "" has no (empty, erroneous) piece at all.
        rest: if qs.is_empty() { None } else { Some(qs) },
        keep_blank_values,
        strict_parsing,
    }
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = Result<(&'a str, &'a str), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest?;
            let piece = match rest.split_once('&') {
                Some((piece, after)) => {
                    self.rest = Some(after);
                    piece
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            let (name, value) = match piece.split_once('=') {
                Some(pair) => pair,
                None if self.strict_parsing => {
                    self.rest = None;
                    return Some(Err(Error::InvalidQuery));
                }
                None if piece.is_empty() => continue,
                None if self.keep_blank_values => (piece, ""),
                None => continue,
            };
            // Python drops `a=` without keep_blank_values even when parsing strictly.
            if value.is_empty() && !self.keep_blank_values {
                continue;
            }
            return Some(Ok((name, value)));
        }
    }
}

impl FusedIterator for QueryPairs<'_> {}

#[cfg(feature = "alloc")]
fn fmt_to_string(f: impl FnOnce(&mut String) -> fmt::Result) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail, and our encoders only fail when the writer does.
    let _ = f(&mut s);
    s
}

/// [`quote`] into a new `String`.
#[cfg(feature = "alloc")]
pub fn quote_string(s: &str, safe: &str) -> String {
    fmt_to_string(|out| quote(s, safe, out))
}

/// [`quote_plus`] into a new `String`.
#[cfg(feature = "alloc")]
pub fn quote_plus_string(s: &str, safe: &str) -> String {
    fmt_to_string(|out| quote_plus(s, safe, out))
}

/// [`urlencode`] into a new `String`.
#[cfg(feature = "alloc")]
pub fn urlencode_string<I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    fmt_to_string(|out| urlencode(pairs, out))
}

#[cfg(feature = "alloc")]
fn decode_string(s: &str, plus_as_space: bool) -> String {
    let bytes: Vec<u8> = Decode {
        rest: s.as_bytes(),
        plus_as_space,
    }
    .collect();
    match String::from_utf8(bytes) {
        Ok(text) => text,
        // Python's errors='replace': each maximal invalid subsequence becomes one U+FFFD.
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

/// Percent-decodes `s` like Python's `urllib.parse.unquote(s)`: malformed `%` sequences are kept
/// literally and decoded bytes that are not UTF-8 become U+FFFD.
#[cfg(feature = "alloc")]
pub fn unquote(s: &str) -> String {
    decode_string(s, false)
}

/// Like [`unquote`], but `+` becomes a space first (Python's `unquote_plus`).
#[cfg(feature = "alloc")]
pub fn unquote_plus(s: &str) -> String {
    decode_string(s, true)
}

/// Python 3.11's `urllib.parse.parse_qsl(qs, keep_blank_values, strict_parsing)`: the pairs of
/// [`query_pairs`], names and values decoded with [`unquote_plus`].
#[cfg(feature = "alloc")]
pub fn parse_qsl(
    qs: &str,
    keep_blank_values: bool,
    strict_parsing: bool,
) -> Result<Vec<(String, String)>, Error> {
    query_pairs(qs, keep_blank_values, strict_parsing)
        .map(|pair| pair.map(|(name, value)| (unquote_plus(name), unquote_plus(value))))
        .collect()
}

#[cfg(test)]
mod tests {
    //! Expected values were produced by CPython 3.11.7's `urllib.parse`.

    use super::*;

    /// A fixed-size `fmt::Write` so that the encoders are tested without an allocator too.
    struct Buf {
        bytes: [u8; 128],
        len: usize,
    }

    impl Buf {
        fn new() -> Self {
            Buf {
                bytes: [0; 128],
                len: 0,
            }
        }

        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.len]).unwrap()
        }
    }

    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    fn q(s: &str, safe: &str) -> Buf {
        let mut buf = Buf::new();
        quote(s, safe, &mut buf).unwrap();
        buf
    }

    fn qp(s: &str, safe: &str) -> Buf {
        let mut buf = Buf::new();
        quote_plus(s, safe, &mut buf).unwrap();
        buf
    }

    #[test]
    fn quote_matches_python() {
        let cases = [
            ("abc", "", "abc"),
            ("", "", ""),
            ("é", "/", "%C3%A9"),
            ("😀", "", "%F0%9F%98%80"),
            ("a b/c?d=e&f#g", "/", "a%20b/c%3Fd%3De%26f%23g"),
            ("a b/c?d=e&f#g", "", "a%20b%2Fc%3Fd%3De%26f%23g"),
            ("~_.-AZaz09", "", "~_.-AZaz09"),
            (
                "!*'();:@&=+$,/?#[]",
                "",
                "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D",
            ),
            (
                "!*'();:@&=+$,/?#[]",
                "/?:",
                "%21%2A%27%28%29%3B:%40%26%3D%2B%24%2C/?%23%5B%5D",
            ),
            // Python ignores non-ASCII characters in `safe`.
            ("é", "é", "%C3%A9"),
            ("100%", "", "100%25"),
            ("\x00\x7f", "", "%00%7F"),
            ("a+b c", "+", "a+b%20c"),
            ("a+b c", " ", "a%2Bb c"),
        ];
        for (s, safe, want) in cases {
            assert_eq!(q(s, safe).as_str(), want, "quote({s:?}, {safe:?})");
        }
    }

    #[test]
    fn quote_plus_matches_python() {
        let cases = [
            ("abc", "", "abc"),
            ("", "", ""),
            ("é", "/", "%C3%A9"),
            ("😀", "", "%F0%9F%98%80"),
            ("a b/c?d=e&f#g", "/", "a+b/c%3Fd%3De%26f%23g"),
            ("a b/c?d=e&f#g", "", "a+b%2Fc%3Fd%3De%26f%23g"),
            ("~_.-AZaz09", "", "~_.-AZaz09"),
            (
                "!*'();:@&=+$,/?#[]",
                "/?:",
                "%21%2A%27%28%29%3B:%40%26%3D%2B%24%2C/?%23%5B%5D",
            ),
            ("é", "é", "%C3%A9"),
            ("100%", "", "100%25"),
            ("a+b c", "+", "a+b+c"),
            ("a+b c", " ", "a%2Bb+c"),
            ("a+b c", "", "a%2Bb+c"),
        ];
        for (s, safe, want) in cases {
            assert_eq!(qp(s, safe).as_str(), want, "quote_plus({s:?}, {safe:?})");
        }
    }

    #[test]
    fn quote_reports_writer_errors() {
        let mut buf = Buf::new();
        let long = "é".repeat(50); // 300 bytes once encoded, more than Buf holds
        assert_eq!(quote(&long, "", &mut buf), Err(fmt::Error));
    }

    #[test]
    fn urlencode_matches_python() {
        let mut buf = Buf::new();
        let pairs = [
            ("a", "1"),
            ("b c", "d&e=f"),
            ("é", "+"),
            ("", ""),
            ("x/y", "~z"),
        ];
        urlencode(pairs, &mut buf).unwrap();
        assert_eq!(buf.as_str(), "a=1&b+c=d%26e%3Df&%C3%A9=%2B&=&x%2Fy=~z");

        let mut empty = Buf::new();
        urlencode(core::iter::empty::<(&str, &str)>(), &mut empty).unwrap();
        assert_eq!(empty.as_str(), "");
    }

    fn dec(input: &str, plus: bool) -> ([u8; 64], usize) {
        let mut out = [0u8; 64];
        let n = if plus {
            unquote_plus_to(input.as_bytes(), &mut out).unwrap()
        } else {
            unquote_to(input.as_bytes(), &mut out).unwrap()
        };
        (out, n)
    }

    #[test]
    fn unquote_to_matches_python_unquote_to_bytes() {
        let cases: [(&str, &[u8]); 17] = [
            ("%", b"%"),
            ("%4", b"%4"),
            ("%zz", b"%zz"),
            ("%4g", b"%4g"),
            ("%2", b"%2"),
            ("100%", b"100%"),
            ("%-1", b"%-1"),
            ("%41", b"A"),
            ("%4a%4A", b"JJ"),
            ("a%%41", b"a%A"),
            ("%%", b"%%"),
            ("abc", b"abc"),
            ("", b""),
            ("%C3%A9", b"\xc3\xa9"),
            ("é%A9", b"\xc3\xa9\xa9"),
            ("%ff", b"\xff"),
            ("a+b%2Bc", b"a+b+c"),
        ];
        for (input, want) in cases {
            let (out, n) = dec(input, false);
            assert_eq!(&out[..n], want, "unquote_to({input:?})");
        }
    }

    #[test]
    fn unquote_plus_to_turns_plus_into_space() {
        let (out, n) = dec("a+b%2Bc", true);
        assert_eq!(&out[..n], b"a b+c");
        let (out, n) = dec("%+1", true);
        assert_eq!(&out[..n], b"% 1");
        let (out, n) = dec("%zz+", true);
        assert_eq!(&out[..n], b"%zz ");
    }

    #[test]
    fn unquote_to_checks_the_output_size() {
        let mut exact = [0u8; 2];
        assert_eq!(unquote_to(b"%C3%A9", &mut exact), Ok(2));
        assert_eq!(&exact, b"\xc3\xa9");

        let mut short = [0u8; 2];
        assert_eq!(unquote_to(b"abc", &mut short), Err(Error::BufferTooSmall));
        assert_eq!(
            unquote_plus_to(b"a+%41", &mut short),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(unquote_to(b"", &mut []), Ok(0));
    }

    fn raw_pairs(
        qs: &str,
        keep_blank_values: bool,
        strict_parsing: bool,
    ) -> ([(&str, &str); 8], usize, Option<Error>) {
        let mut pairs = [("", ""); 8];
        let mut n = 0;
        for item in query_pairs(qs, keep_blank_values, strict_parsing) {
            match item {
                Ok(pair) => {
                    pairs[n] = pair;
                    n += 1;
                }
                Err(err) => return (pairs, n, Some(err)),
            }
        }
        (pairs, n, None)
    }

    #[test]
    fn query_pairs_yields_raw_pairs() {
        let (pairs, n, err) = raw_pairs("a+b=c+d&e%3D=%26&x=y=z", false, true);
        assert_eq!(err, None);
        assert_eq!(
            &pairs[..n],
            &[("a+b", "c+d"), ("e%3D", "%26"), ("x", "y=z")]
        );

        // Decoding a raw value into a firmware buffer.
        let mut out = [0u8; 8];
        let len = unquote_plus_to(pairs[0].1.as_bytes(), &mut out).unwrap();
        assert_eq!(&out[..len], b"c d");
    }

    #[test]
    fn query_pairs_stops_after_an_error() {
        // parse_qsl("a=1&b&c=3", strict_parsing=True) raises at "b".
        let mut pairs = query_pairs("a=1&b&c=3", false, true);
        assert_eq!(pairs.next(), Some(Ok(("a", "1"))));
        assert_eq!(pairs.next(), Some(Err(Error::InvalidQuery)));
        assert_eq!(pairs.next(), None);
        assert_eq!(pairs.next(), None);
    }

    #[test]
    fn query_pairs_follows_python_rules() {
        let (pairs, n, err) = raw_pairs("a&b=&c=3", true, false);
        assert_eq!(err, None);
        assert_eq!(&pairs[..n], &[("a", ""), ("b", ""), ("c", "3")]);

        let (pairs, n, err) = raw_pairs("a&b=&c=3", false, false);
        assert_eq!(err, None);
        assert_eq!(&pairs[..n], &[("c", "3")]);

        let (_, n, err) = raw_pairs("", true, true);
        assert_eq!((n, err), (0, None));

        let (_, _, err) = raw_pairs("a=1&&b=2", false, true);
        assert_eq!(err, Some(Error::InvalidQuery));
    }

    #[cfg(feature = "alloc")]
    mod with_alloc {
        use super::super::*;
        use alloc::{string::ToString, vec, vec::Vec};

        #[test]
        fn string_encoders() {
            assert_eq!(quote_string("é/ x", "/"), "%C3%A9/%20x");
            assert_eq!(quote_string("é/ x", ""), "%C3%A9%2F%20x");
            assert_eq!(quote_plus_string("a+b c/", ""), "a%2Bb+c%2F");
            assert_eq!(
                urlencode_string(vec![("q".to_string(), "rust lang"), ("n".into(), "1&2")]),
                "q=rust+lang&n=1%262"
            );
            assert_eq!(urlencode_string(Vec::<(&str, &str)>::new()), "");
        }

        #[test]
        fn unquote_matches_python() {
            let cases = [
                ("%", "%", "%"),
                ("%4", "%4", "%4"),
                ("%zz", "%zz", "%zz"),
                ("%4g", "%4g", "%4g"),
                ("%41", "A", "A"),
                ("a%%41", "a%A", "a%A"),
                ("%C3%A9", "é", "é"),
                ("%F0%9F%98%80", "😀", "😀"),
                ("a+b%2Bc", "a+b+c", "a b+c"),
                ("%+1", "%+1", "% 1"),
                ("", "", ""),
                // Invalid UTF-8 is replaced like Python's errors='replace'.
                ("%C3", "\u{FFFD}", "\u{FFFD}"),
                ("%C3%28", "\u{FFFD}(", "\u{FFFD}("),
                ("%ff", "\u{FFFD}", "\u{FFFD}"),
                ("é%A9", "é\u{FFFD}", "é\u{FFFD}"),
                ("%E2%82é", "\u{FFFD}é", "\u{FFFD}é"),
                ("%f0%9f%98", "\u{FFFD}", "\u{FFFD}"),
                (
                    "%ed%a0%80",
                    "\u{FFFD}\u{FFFD}\u{FFFD}",
                    "\u{FFFD}\u{FFFD}\u{FFFD}",
                ),
                (
                    "%f4%90%80%80",
                    "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}",
                    "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}",
                ),
                ("%C0%AF", "\u{FFFD}\u{FFFD}", "\u{FFFD}\u{FFFD}"),
                (
                    "%e0%80%af",
                    "\u{FFFD}\u{FFFD}\u{FFFD}",
                    "\u{FFFD}\u{FFFD}\u{FFFD}",
                ),
            ];
            for (input, want, want_plus) in cases {
                assert_eq!(unquote(input), want, "unquote({input:?})");
                assert_eq!(unquote_plus(input), want_plus, "unquote_plus({input:?})");
            }
        }

        type Parsed = Result<Vec<(String, String)>, Error>;

        fn owned(pairs: &[(&str, &str)]) -> Parsed {
            Ok(pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect())
        }

        #[test]
        fn parse_qsl_matches_python() {
            let err = Err(Error::InvalidQuery);
            // (qs, [keep=false strict=false, keep=false strict=true,
            //       keep=true strict=false, keep=true strict=true])
            let cases: [(&str, [Parsed; 4]); 16] = [
                ("", [owned(&[]), owned(&[]), owned(&[]), owned(&[])]),
                (
                    "a",
                    [owned(&[]), err.clone(), owned(&[("a", "")]), err.clone()],
                ),
                (
                    "a=",
                    [
                        owned(&[]),
                        owned(&[]),
                        owned(&[("a", "")]),
                        owned(&[("a", "")]),
                    ],
                ),
                (
                    "=x",
                    [
                        owned(&[("", "x")]),
                        owned(&[("", "x")]),
                        owned(&[("", "x")]),
                        owned(&[("", "x")]),
                    ],
                ),
                (
                    "=",
                    [
                        owned(&[]),
                        owned(&[]),
                        owned(&[("", "")]),
                        owned(&[("", "")]),
                    ],
                ),
                (
                    "a=1&&b=2",
                    [
                        owned(&[("a", "1"), ("b", "2")]),
                        err.clone(),
                        owned(&[("a", "1"), ("b", "2")]),
                        err.clone(),
                    ],
                ),
                // `;` is not a separator since Python 3.10.
                (
                    "a=1;b=2",
                    [
                        owned(&[("a", "1;b=2")]),
                        owned(&[("a", "1;b=2")]),
                        owned(&[("a", "1;b=2")]),
                        owned(&[("a", "1;b=2")]),
                    ],
                ),
                (
                    "a=b=c",
                    [
                        owned(&[("a", "b=c")]),
                        owned(&[("a", "b=c")]),
                        owned(&[("a", "b=c")]),
                        owned(&[("a", "b=c")]),
                    ],
                ),
                ("&", [owned(&[]), err.clone(), owned(&[]), err.clone()]),
                (
                    "a=1&",
                    [
                        owned(&[("a", "1")]),
                        err.clone(),
                        owned(&[("a", "1")]),
                        err.clone(),
                    ],
                ),
                (
                    "&a=1",
                    [
                        owned(&[("a", "1")]),
                        err.clone(),
                        owned(&[("a", "1")]),
                        err.clone(),
                    ],
                ),
                (
                    "a+b=c+d&e%3D=%26",
                    [
                        owned(&[("a b", "c d"), ("e=", "&")]),
                        owned(&[("a b", "c d"), ("e=", "&")]),
                        owned(&[("a b", "c d"), ("e=", "&")]),
                        owned(&[("a b", "c d"), ("e=", "&")]),
                    ],
                ),
                (
                    "x=%zz&y=%C3",
                    [
                        owned(&[("x", "%zz"), ("y", "\u{FFFD}")]),
                        owned(&[("x", "%zz"), ("y", "\u{FFFD}")]),
                        owned(&[("x", "%zz"), ("y", "\u{FFFD}")]),
                        owned(&[("x", "%zz"), ("y", "\u{FFFD}")]),
                    ],
                ),
                (
                    "a&b=&c=3",
                    [
                        owned(&[("c", "3")]),
                        err.clone(),
                        owned(&[("a", ""), ("b", ""), ("c", "3")]),
                        err.clone(),
                    ],
                ),
                (
                    "a=1&b",
                    [
                        owned(&[("a", "1")]),
                        err.clone(),
                        owned(&[("a", "1"), ("b", "")]),
                        err.clone(),
                    ],
                ),
                (
                    "%C3%A9=%E2%82%AC",
                    [
                        owned(&[("é", "€")]),
                        owned(&[("é", "€")]),
                        owned(&[("é", "€")]),
                        owned(&[("é", "€")]),
                    ],
                ),
            ];
            for (qs, wants) in cases {
                let flags = [(false, false), (false, true), (true, false), (true, true)];
                for ((keep, strict), want) in flags.into_iter().zip(wants) {
                    assert_eq!(
                        parse_qsl(qs, keep, strict),
                        want,
                        "parse_qsl({qs:?}, keep_blank_values={keep}, strict_parsing={strict})"
                    );
                }
            }
        }
    }
}
