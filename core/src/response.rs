//! Incremental parsing of a response head: status line and header fields.
//!
//! The parser never copies and never allocates. [`HeadParser`] is fed everything received so far
//! and resumes at the first line it could not finish, so each line is validated once however the
//! head is split across reads; it records, as offsets, only what the engine needs (status, framing,
//! connection, location). Header access afterwards is a lazy scan of the validated bytes, so no
//! header array has to be lent. Line ends may be CRLF or a bare LF (RFC 9112 section 2.2); a bare
//! CR, obsolete line folding, a header name that is not a token, or a control character in a value
//! is an error. HTTP/1.0 and 1.1 only.
use crate::buf::trim_ows;
use crate::{Error, Result};

/// Default limit on the number of header fields in a head (or trailer section).
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// Parses a head as it arrives. Feed it the whole of what was received so far, each time.
#[derive(Debug, Clone)]
pub struct HeadParser {
    max_headers: u32,
    /// Start of the first line not yet parsed.
    pos: u32,
    /// Filled in once the status line is complete.
    info: Option<HeadInfo>,
}

impl HeadParser {
    pub fn new(max_headers: usize) -> Self {
        HeadParser {
            max_headers: u32::try_from(max_headers).unwrap_or(u32::MAX),
            pos: 0,
            info: None,
        }
    }

    /// Parses what `buf` adds; `Ok(None)` means the head is not complete yet. `buf` must start with
    /// the same bytes as on the previous call. Fails as soon as the bytes cannot be an HTTP/1.x head.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<HeadInfo>> {
        // Offsets are kept as u32 (a smaller state to hold across reads).
        if u32::try_from(buf.len()).is_err() {
            return Err(Error::HeadTooLarge);
        }
        let mut info = match self.info {
            Some(info) => info,
            None => match parse_status_line(buf)? {
                Some((version_minor, status, reason, next)) => {
                    self.pos = next as u32;
                    HeadInfo {
                        len: 0,
                        version_minor,
                        status,
                        reason: (reason.0 as u32, reason.1 as u32),
                        fields_start: next as u32,
                        header_count: 0,
                        content_length: None,
                        transfer_encoding: false,
                        connection_close: false,
                        connection_keep_alive: false,
                        location: None,
                    }
                }
                None => return Ok(None),
            },
        };
        let result = loop {
            match parse_field_line(buf, self.pos as usize)? {
                FieldLine::Incomplete => break Ok(None),
                FieldLine::End(end) => {
                    info.len = end;
                    break Ok(Some(info));
                }
                FieldLine::Field { name, value, next } => {
                    info.header_count += 1;
                    if info.header_count > self.max_headers as usize {
                        return Err(Error::TooManyHeaders);
                    }
                    note_field(&mut info, buf, &buf[name.0..name.1], value)?;
                    self.pos = next as u32;
                }
            }
        };
        self.info = Some(info);
        result
    }
}

/// What the engine learnt from a complete, valid head. Offsets index the head's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadInfo {
    /// Length of the head, including the blank line that ends it.
    pub len: usize,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    pub status: u16,
    reason: (u32, u32),
    fields_start: u32,
    pub header_count: usize,
    content_length: Option<u64>,
    /// `Transfer-Encoding: chunked` (the only coding accepted).
    transfer_encoding: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    location: Option<(u32, u32)>,
}

/// How the response body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: HEAD, 1xx, 204, 304.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the server closes the connection.
    Close,
}

impl HeadInfo {
    /// A 1xx response that precedes the real one.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// How the body that follows this head is delimited, given the request method.
    pub fn framing(&self, request_was_head: bool) -> Framing {
        if request_was_head || self.status < 200 || self.status == 204 || self.status == 304 {
            Framing::None
        } else if self.transfer_encoding {
            Framing::Chunked
        } else if let Some(len) = self.content_length {
            Framing::Length(len)
        } else {
            Framing::Close
        }
    }

    /// Whether the connection may carry another request once this body has been read to its end.
    pub fn keep_alive(&self, request_was_head: bool) -> bool {
        let persistent = if self.version_minor >= 1 {
            !self.connection_close
        } else {
            self.connection_keep_alive && !self.connection_close
        };
        // Both framings at once is a smuggling pattern: finish this response, then hang up.
        let ambiguous = self.transfer_encoding && self.content_length.is_some();
        persistent && !ambiguous && self.framing(request_was_head) != Framing::Close
    }
}

/// Parses a head that is all in `buf`; `Ok(None)` if it is not complete.
pub fn parse_head(buf: &[u8], max_headers: usize) -> Result<Option<HeadInfo>> {
    HeadParser::new(max_headers).parse(buf)
}

/// Notes what the engine needs of one field (`head[range]` is its value).
fn note_field(info: &mut HeadInfo, head: &[u8], name: &[u8], range: (usize, usize)) -> Result<()> {
    let value = &head[range.0..range.1];
    // Dispatch on length first: most headers are none of these and cost one compare.
    match name.len() {
        14 if name.eq_ignore_ascii_case(b"content-length") => {
            for item in value.split(|&b| b == b',') {
                let len = parse_decimal(trim_ows(item)).ok_or(Error::InvalidContentLength)?;
                match info.content_length {
                    Some(seen) if seen != len => return Err(Error::InvalidContentLength),
                    _ => info.content_length = Some(len),
                }
            }
        }
        17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
            // Only `chunked`, once: any other coding would leave coded bytes in the body.
            for coding in value.split(|&b| b == b',') {
                let coding = trim_ows(coding);
                if !coding.is_empty() {
                    if info.transfer_encoding || !coding.eq_ignore_ascii_case(b"chunked") {
                        return Err(Error::UnsupportedTransferEncoding);
                    }
                    info.transfer_encoding = true;
                }
            }
        }
        10 if name.eq_ignore_ascii_case(b"connection") => {
            for option in value.split(|&b| b == b',') {
                let option = trim_ows(option);
                info.connection_close |= option.eq_ignore_ascii_case(b"close");
                info.connection_keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        8 if name.eq_ignore_ascii_case(b"location") => {
            if let Some((start, end)) = info.location {
                if head[start as usize..end as usize] != *value {
                    return Err(Error::ConflictingLocation);
                }
            }
            info.location = Some((range.0 as u32, range.1 as u32))
        }
        _ => {}
    }
    Ok(())
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let digit = (b as char).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// (minor version, status, reason range, offset of the next line).
type StatusLine = (u8, u16, (usize, usize), usize);

/// `HTTP/1.x SP 3DIGIT [SP reason] CRLF`; returns (minor, status, reason range, next offset), or
/// `None` while the line is incomplete (after checking that what is there can start one).
fn parse_status_line(buf: &[u8]) -> Result<Option<StatusLine>> {
    let bad = Error::InvalidStatusLine;
    let Some(prefix) = buf.get(..9) else {
        return if b"HTTP/1.1 ".starts_with(buf) || b"HTTP/1.0 ".starts_with(buf) {
            Ok(None)
        } else {
            Err(bad)
        };
    };
    let minor = match prefix {
        b"HTTP/1.1 " => 1,
        b"HTTP/1.0 " => 0,
        _ => return Err(bad),
    };
    let Some(digits) = buf.get(9..12) else {
        return if buf[9..].iter().all(u8::is_ascii_digit) {
            Ok(None)
        } else {
            Err(bad)
        };
    };
    if !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return Err(bad);
    }
    let status = digits
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    let reason_start = match buf.get(12) {
        Some(b' ') => 13,
        Some(b'\r' | b'\n') => 12,
        None => return Ok(None),
        _ => return Err(bad),
    };
    match scan_value(buf, reason_start) {
        Scan::End { value_end, next } => Ok(Some((minor, status, (reason_start, value_end), next))),
        Scan::Incomplete => Ok(None),
        Scan::Invalid => Err(bad),
    }
}

/// One line of a field section: a field, the blank line that ends the section, or not all there yet.
pub(crate) enum FieldLine {
    Incomplete,
    End(usize),
    Field {
        name: (usize, usize),
        value: (usize, usize),
        next: usize,
    },
}

/// Parses the field line (or blank line) that starts at `pos`.
pub(crate) fn parse_field_line(buf: &[u8], pos: usize) -> Result<FieldLine> {
    let bad = Error::InvalidHeaderLine;
    match (buf.get(pos), buf.get(pos + 1)) {
        (Some(b'\n'), _) => return Ok(FieldLine::End(pos + 1)),
        (Some(b'\r'), Some(b'\n')) => return Ok(FieldLine::End(pos + 2)),
        (None, _) | (Some(b'\r'), None) => return Ok(FieldLine::Incomplete),
        _ => {}
    }
    let mut i = pos;
    // Names are short tokens: test eight (on 64-bit machines, where speed counts more than a few
    // bytes of code), then four bytes per step, then finish byte by byte.
    #[cfg(target_pointer_width = "64")]
    while let Some(&[a, b, c, d, e, f, g, h]) = buf.get(i..i + 8) {
        let t = |x: u8| TCHAR[x as usize];
        if !(t(a) & t(b) & t(c) & t(d) & t(e) & t(f) & t(g) & t(h)) {
            break;
        }
        i += 8;
    }
    while let Some(&[a, b, c, d]) = buf.get(i..i + 4) {
        if !(TCHAR[a as usize] & TCHAR[b as usize] & TCHAR[c as usize] & TCHAR[d as usize]) {
            break;
        }
        i += 4;
    }
    while i < buf.len() && TCHAR[buf[i] as usize] {
        i += 1;
    }
    match buf.get(i) {
        None => return Ok(FieldLine::Incomplete),
        // Also catches obsolete line folding (a line starting with SP or HT) and `Name :`.
        Some(b':') if i > pos => {}
        Some(_) => return Err(bad),
    }
    let name = (pos, i);
    i += 1;
    while matches!(buf.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match scan_value(buf, i) {
        Scan::End { value_end, next } => Ok(FieldLine::Field {
            name,
            value: (i, value_end),
            next,
        }),
        Scan::Incomplete => Ok(FieldLine::Incomplete),
        Scan::Invalid => Err(bad),
    }
}

enum Scan {
    /// The value ends at `value_end` (trailing whitespace trimmed); the next line starts at `next`.
    End {
        value_end: usize,
        next: usize,
    },
    Incomplete,
    Invalid,
}

/// Scans a field value (or reason phrase) from `start` to its line end: visible ASCII, SP, HT and
/// obs-text are allowed; any other control byte, or a CR not followed by LF, is invalid.
#[cfg_attr(target_pointer_width = "64", inline(always))]
fn scan_value(buf: &[u8], start: usize) -> Scan {
    let mut i = start;
    loop {
        // Eight bytes at a time while none of them is a control byte (the common case).
        while let Some(word) = buf.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let x = u64::from_le_bytes(word);
            const ONES: u64 = 0x0101_0101_0101_0101;
            const HIGHS: u64 = 0x8080_8080_8080_8080;
            let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
            let del = x ^ (ONES * 0x7f);
            let has_del = del.wrapping_sub(ONES) & !del & HIGHS;
            let flagged = below_space | has_del;
            if flagged != 0 {
                // The lowest flagged byte is exact (borrows only run upwards): jump to it (on
                // 64-bit machines; elsewhere a software bit count costs more than it saves).
                #[cfg(target_pointer_width = "64")]
                {
                    i += (flagged.trailing_zeros() / 8) as usize;
                }
                break;
            }
            i += 8;
        }
        let Some(&b) = buf.get(i) else {
            return Scan::Incomplete;
        };
        if FIELD_BYTE[b as usize] {
            i += 1;
            continue;
        }
        let line_end = i;
        let next = match (b, buf.get(i + 1)) {
            (b'\n', _) => i + 1,
            (b'\r', Some(b'\n')) => i + 2,
            (b'\r', None) => return Scan::Incomplete,
            _ => return Scan::Invalid,
        };
        let mut value_end = line_end;
        while value_end > start && matches!(buf[value_end - 1], b' ' | b'\t') {
            value_end -= 1;
        }
        return Scan::End { value_end, next };
    }
}

/// RFC 9110 tchar, as a table: the name loop is the hottest loop of the parser.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = crate::request::is_tchar(b as u8);
        b += 1;
    }
    table
};

/// Bytes allowed inside a field value or reason phrase: visible ASCII, SP, HT and obs-text.
static FIELD_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b == b'\t' as usize || (b >= b' ' as usize && b != 0x7f);
        b += 1;
    }
    table
};

/// A parsed response head, borrowing the bytes it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    raw: &'a [u8],
    info: HeadInfo,
}

impl<'a> ResponseHead<'a> {
    /// Pairs the head bytes with what `parse_head` found in them.
    pub fn new(raw: &'a [u8], info: HeadInfo) -> Self {
        ResponseHead {
            raw: &raw[..info.len.min(raw.len())],
            info,
        }
    }

    pub fn info(&self) -> &HeadInfo {
        &self.info
    }

    pub fn status(&self) -> u16 {
        self.info.status
    }

    /// `"HTTP/1.1"` or `"HTTP/1.0"`.
    pub fn version(&self) -> &'static str {
        if self.info.version_minor == 0 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        }
    }

    /// The reason phrase; empty if it is not UTF-8.
    pub fn reason(&self) -> &'a str {
        let (start, end) = self.info.reason;
        core::str::from_utf8(&self.raw[start as usize..end as usize]).unwrap_or("")
    }

    /// All header fields in order, duplicates included.
    pub fn headers(&self) -> Fields<'a> {
        Fields {
            raw: self.raw,
            pos: self.info.fields_start as usize,
        }
    }

    /// The first header with this name (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().get(name)
    }

    /// The first header with this name, if its value is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The `Location` header, if present and UTF-8.
    pub fn location(&self) -> Option<&'a str> {
        let (start, end) = self.info.location?;
        core::str::from_utf8(&self.raw[start as usize..end as usize]).ok()
    }

    /// The raw bytes of the head.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
}

/// Iterator over a validated field section (a response head or a trailer section).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// Fields of a section that was validated with `validate_fields` (trailers).
    pub(crate) fn over(raw: &'a [u8]) -> Self {
        Fields { raw, pos: 0 }
    }

    /// The first field with this name (ASCII case-insensitive).
    pub fn get(self, name: &str) -> Option<&'a [u8]> {
        // Bytes, not `str`: the names were validated as tokens, and a name of another length
        // cannot match, so most lines cost a length compare.
        let name = name.as_bytes();
        let mut rest = self.raw.get(self.pos..)?;
        loop {
            let line_len = find_line_feed(rest)?;
            let line = &rest[..line_len];
            if line.get(name.len()) == Some(&b':') && line[..name.len()].eq_ignore_ascii_case(name)
            {
                let value = &line[name.len() + 1..];
                return Some(trim_ows(value.strip_suffix(b"\r").unwrap_or(value)));
            }
            rest = &rest[line_len + 1..];
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The section was validated when it was parsed: split lines without checking them again.
        let rest = self.raw.get(self.pos..)?;
        let line_len = find_line_feed(rest)?;
        let line = &rest[..line_len];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        self.pos += line_len + 1;
        let name = core::str::from_utf8(&line[..colon]).unwrap_or("");
        Some((name, trim_ows(&line[colon + 1..])))
    }
}

/// The offset of the first LF in `bytes`. Header lookups skip whole lines with it, so on 64-bit
/// machines it tests eight bytes per step; elsewhere the byte loop is smaller code.
fn find_line_feed(bytes: &[u8]) -> Option<usize> {
    #[allow(unused_mut)]
    let mut i = 0;
    #[cfg(target_pointer_width = "64")]
    while let Some(word) = bytes
        .get(i..i + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let x = u64::from_le_bytes(word) ^ (ONES * u64::from(b'\n'));
        // A zero byte of `x` is an LF; the lowest flagged byte is exact.
        let zero = x.wrapping_sub(ONES) & !x & (ONES * 0x80);
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| b == b'\n').map(|at| i + at)
}

/// Checks a complete field section (ending in a blank line) and counts its fields.
pub(crate) fn validate_fields(raw: &[u8], max_fields: usize) -> Result<usize> {
    let mut pos = 0;
    let mut count = 0;
    loop {
        match parse_field_line(raw, pos)? {
            FieldLine::End(_) => return Ok(count),
            FieldLine::Incomplete => return Err(Error::InvalidHeaderLine),
            FieldLine::Field { next, .. } => {
                count += 1;
                if count > max_fields {
                    return Err(Error::TooManyHeaders);
                }
                pos = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<HeadInfo> {
        parse_head(raw, DEFAULT_MAX_HEADERS)?.ok_or(Error::ConnectionClosed)
    }

    #[test]
    fn parses_status_reason_and_headers() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-A:  v1 \r\nx-a: v2\r\nContent-Length: 3\r\n\r\nabc";
        let info = parse(raw).unwrap();
        assert_eq!(info.len, raw.len() - 3);
        let head = ResponseHead::new(raw, info);
        assert_eq!(head.status(), 404);
        assert_eq!(head.reason(), "Not Found");
        assert_eq!(head.version(), "HTTP/1.1");
        assert_eq!(head.header("content-type"), Some(&b"text/plain"[..]));
        assert_eq!(head.header("X-A"), Some(&b"v1"[..]));
        let all: std::vec::Vec<_> = head
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-a"))
            .collect();
        assert_eq!(all, [("X-A", &b"v1"[..]), ("x-a", &b"v2"[..])]);
        assert_eq!(info.framing(false), Framing::Length(3));
        assert!(info.keep_alive(false));
        assert_eq!(head.header("missing"), None);
    }

    #[test]
    fn parser_resumes_across_pieces() {
        let raw = b"HTTP/1.1 200 OK\r\nA: b\r\nLong-Header-Name: a value longer than eight bytes\r\n\r\nbody";
        let whole = parse(raw).unwrap();
        assert_eq!(whole.len, raw.len() - 4);
        for step in [1, 2, 3, 7] {
            let mut parser = HeadParser::new(DEFAULT_MAX_HEADERS);
            let mut end = 0;
            let found = loop {
                end = (end + step).min(raw.len());
                if let Some(info) = parser.parse(&raw[..end]).unwrap() {
                    break info;
                }
                assert!(end < raw.len(), "never completed");
            };
            assert_eq!(found, whole, "step {step}");
            assert!(end >= whole.len);
        }
    }

    #[test]
    fn bare_lf_line_ends() {
        let raw = b"HTTP/1.0 200 OK\nContent-Length: 2\n\nok";
        let info = parse(raw).unwrap();
        assert_eq!(info.len, raw.len() - 2);
        assert_eq!(info.version_minor, 0);
        assert!(!info.keep_alive(false), "HTTP/1.0 closes by default");
    }

    #[test]
    fn status_without_reason() {
        let info = parse(b"HTTP/1.1 200\r\n\r\n").unwrap();
        assert_eq!(info.status, 200);
        assert_eq!(
            ResponseHead::new(b"HTTP/1.1 200\r\n\r\n", info).reason(),
            ""
        );
    }

    #[test]
    fn rejects_bad_status_lines() {
        for raw in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 099 x\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
        ] {
            assert_eq!(parse(raw), Err(Error::InvalidStatusLine), "{raw:?}");
        }
        for early in [&b"hello there"[..], b"HTTP/2", b"X", b"HTTP/1.1 2x"] {
            assert_eq!(
                parse_head(early, 10),
                Err(Error::InvalidStatusLine),
                "{early:?}"
            );
        }
        assert_eq!(parse_head(b"HTTP/1.", 10), Ok(None));
    }

    #[test]
    fn rejects_bad_header_lines() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
        ] {
            assert_eq!(
                parse(raw),
                Err(Error::InvalidHeaderLine),
                "{:?}",
                core::str::from_utf8(raw)
            );
        }
    }

    #[test]
    fn header_count_limit() {
        let mut raw = std::vec::Vec::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        for i in 0..=DEFAULT_MAX_HEADERS {
            raw.extend_from_slice(std::format!("X-{i}: v\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        assert_eq!(parse(&raw), Err(Error::TooManyHeaders));
        let len = raw.len();
        assert!(parse_head(&raw[..len], DEFAULT_MAX_HEADERS + 1)
            .unwrap()
            .is_some());
    }

    #[test]
    fn content_length_rules() {
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n")
                .unwrap()
                .framing(false),
            Framing::Length(5)
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                .unwrap()
                .framing(false),
            Framing::Length(5)
        );
        for raw in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ] {
            assert_eq!(parse(raw), Err(Error::InvalidContentLength));
        }
    }

    #[test]
    fn framing_rules() {
        let chunked = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(chunked.framing(false), Framing::Chunked);
        assert_eq!(chunked.framing(true), Framing::None, "HEAD has no body");
        let both =
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap();
        assert_eq!(both.framing(false), Framing::Chunked);
        assert!(!both.keep_alive(false));
        // Any coding but one final chunked is refused (as curl refuses gzip; its body would be
        // handed over still coded), and so is chunked twice (RFC 9112 section 7: at most once).
        for codings in [
            "chunked, gzip",
            "gzip",
            "gzip\r\nTransfer-Encoding: chunked",
            "chunked, chunked",
            "chunked\r\nTransfer-Encoding: chunked",
        ] {
            let raw = std::format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {codings}\r\n\r\n");
            assert_eq!(
                parse(raw.as_bytes()),
                Err(Error::UnsupportedTransferEncoding),
                "{codings}"
            );
        }
        let listed = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n").unwrap();
        assert_eq!(listed.framing(false), Framing::Chunked);
        for status in ["204 No Content", "304 Not Modified", "100 Continue"] {
            let raw = std::format!("HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\n");
            assert_eq!(
                parse(raw.as_bytes()).unwrap().framing(false),
                Framing::None,
                "{status}"
            );
        }
        let close = parse(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert_eq!(close.framing(false), Framing::Close);
        assert!(!close.keep_alive(false));
        assert!(parse(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
            .unwrap()
            .is_interim());
    }

    #[test]
    fn connection_header() {
        let closing =
            parse(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(!closing.keep_alive(false));
        let kept = parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert!(kept.keep_alive(false));
    }

    #[test]
    fn two_different_locations_are_refused() {
        let same = b"HTTP/1.1 302 Found\r\nLocation: /a\r\nlocation:  /a\r\n\r\n";
        assert_eq!(
            ResponseHead::new(same, parse(same).unwrap()).location(),
            Some("/a")
        );
        assert_eq!(
            parse(b"HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\n\r\n"),
            Err(Error::ConflictingLocation)
        );
    }

    #[test]
    fn location_is_recorded() {
        let raw = b"HTTP/1.1 302 Found\r\nLocation:  /next?a=1 \r\n\r\n";
        let head = ResponseHead::new(raw, parse(raw).unwrap());
        assert_eq!(head.location(), Some("/next?a=1"));
    }

    #[test]
    fn line_feed_found_at_every_offset() {
        // Each position in and across the eight-byte words, and none at all.
        for len in 0..40 {
            let mut bytes = [b'a'; 40];
            assert_eq!(find_line_feed(&bytes[..len]), None);
            for at in 0..len {
                bytes = [b'\r'; 40];
                bytes[at] = b'\n';
                bytes[(at + 1).min(39)..].fill(b'\n');
                assert_eq!(
                    find_line_feed(&bytes[..len]),
                    Some(at),
                    "len {len}, at {at}"
                );
            }
        }
        // Bytes next to LF in value (0x0b, 0x09, 0x8a) are not mistaken for it.
        assert_eq!(
            find_line_feed(b"\x0b\x09\x8a\x0b\x09\x8a\x0b\x09\x8a\n"),
            Some(9)
        );
    }

    #[test]
    fn validates_trailer_sections() {
        assert_eq!(validate_fields(b"A: 1\r\nB: 2\r\n\r\n", 10), Ok(2));
        assert_eq!(validate_fields(b"\r\n", 10), Ok(0));
        assert_eq!(
            validate_fields(b"A 1\r\n\r\n", 10),
            Err(Error::InvalidHeaderLine)
        );
        assert_eq!(
            validate_fields(b"A: 1\r\nB: 2\r\n\r\n", 1),
            Err(Error::TooManyHeaders)
        );
        let fields: std::vec::Vec<_> = Fields::over(b"A: 1\r\nB: 2\r\n\r\n").collect();
        assert_eq!(fields, [("A", &b"1"[..]), ("B", &b"2"[..])]);
    }
}
