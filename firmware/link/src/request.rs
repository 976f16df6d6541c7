//! The `req` payload: what the device's engine is to send, with the limits it is to apply.
//!
//! ```text
//! METHOD URL\n
//! body=none|N|chunked replay=0|1 redirects=N connect-ms=N read-ms=N max-ms=N\n
//! Name: value\n            (every header, in order)
//! ```
//! A timeout of 0 means none.

use crate::frame::decimal;
use core::fmt;

/// How the request body comes: none, this many bytes, or of unknown length (sent chunked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLen {
    None,
    Known(u64),
    Chunked,
}

/// The limits and policy that travel with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub body: BodyLen,
    /// Whether the host can send the body again (`rewind`): not when it comes from a pipe.
    pub replay: bool,
    /// Redirects to follow (0: a 3xx is the response).
    pub redirects: u8,
    /// Milliseconds; 0 means no limit.
    pub connect_ms: u32,
    pub read_ms: u32,
    /// The whole exchange, head and body.
    pub max_ms: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            body: BodyLen::None,
            replay: true,
            redirects: 0,
            connect_ms: 0,
            read_ms: 0,
            max_ms: 0,
        }
    }
}

/// Why a request cannot be framed or a `req` payload not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// The method or URL is empty or holds a space, CR or LF.
    BadTarget,
    /// A header name or value holds CR or LF, or a line is not `Name: value`.
    BadHeader,
    /// The options line is malformed.
    BadOptions,
    /// Not UTF-8 where text is required, or lines missing.
    Malformed,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::BadTarget => "method or URL empty or with a space, CR or LF",
            RequestError::BadHeader => "header with CR or LF, or not Name: value",
            RequestError::BadOptions => "malformed options line",
            RequestError::Malformed => "malformed request frame",
        })
    }
}

/// A request as framed: borrowed from the payload it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFrame<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub options: Options,
    /// The header lines, `Name: value\n` each.
    headers: &'a [u8],
}

fn clean(text: &str) -> bool {
    !text.is_empty() && !text.contains([' ', '\r', '\n'])
}

impl<'a> RequestFrame<'a> {
    /// Writes the payload for `method url`, `options` and `headers`.
    pub fn write<'h>(
        method: &str,
        url: &str,
        options: &Options,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
        out: &mut impl fmt::Write,
    ) -> Result<(), RequestError> {
        if !clean(method) || !clean(url) {
            return Err(RequestError::BadTarget);
        }
        let body = match options.body {
            BodyLen::None => None,
            BodyLen::Known(n) => Some(n),
            BodyLen::Chunked => None,
        };
        let written = (|| -> fmt::Result {
            write!(out, "{method} {url}\nbody=")?;
            match (options.body, body) {
                (BodyLen::Known(_), Some(n)) => write!(out, "{n}")?,
                (BodyLen::Chunked, _) => out.write_str("chunked")?,
                _ => out.write_str("none")?,
            }
            writeln!(
                out,
                " replay={} redirects={} connect-ms={} read-ms={} max-ms={}",
                u8::from(options.replay),
                options.redirects,
                options.connect_ms,
                options.read_ms,
                options.max_ms
            )
        })();
        written.map_err(|_| RequestError::Malformed)?;
        for (name, value) in headers {
            if name.is_empty()
                || name.contains([':', '\r', '\n', ' '])
                || value.contains(['\r', '\n'])
            {
                return Err(RequestError::BadHeader);
            }
            writeln!(out, "{name}: {value}").map_err(|_| RequestError::Malformed)?;
        }
        Ok(())
    }

    pub fn parse(payload: &'a [u8]) -> Result<Self, RequestError> {
        let (target, rest) = split_line(payload).ok_or(RequestError::Malformed)?;
        let (options, headers) = split_line(rest).ok_or(RequestError::Malformed)?;
        let target = core::str::from_utf8(target).map_err(|_| RequestError::Malformed)?;
        let (method, url) = target.split_once(' ').ok_or(RequestError::BadTarget)?;
        if !clean(method) || !clean(url) {
            return Err(RequestError::BadTarget);
        }
        let frame = RequestFrame {
            method,
            url,
            options: parse_options(options)?,
            headers,
        };
        // Every header line is checked here, so iterating them later cannot fail.
        if !headers.is_empty() && !headers.ends_with(b"\n") {
            return Err(RequestError::BadHeader);
        }
        for line in frame.header_lines() {
            split_header(line).ok_or(RequestError::BadHeader)?;
        }
        Ok(frame)
    }

    fn header_lines(&self) -> impl Iterator<Item = &'a [u8]> {
        let headers: &'a [u8] = self.headers;
        headers
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
    }

    /// The headers, in order: name and value.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.header_lines().filter_map(split_header)
    }

    /// How many headers there are.
    pub fn header_count(&self) -> usize {
        self.header_lines().count()
    }
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

fn split_header(line: &[u8]) -> Option<(&str, &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = core::str::from_utf8(&line[..colon]).ok()?;
    if name.is_empty() || name.contains([' ', '\r']) {
        return None;
    }
    let value = &line[colon + 1..];
    let value = value.strip_prefix(b" ").unwrap_or(value);
    if value.contains(&b'\r') {
        return None;
    }
    Some((name, value))
}

fn parse_options(line: &[u8]) -> Result<Options, RequestError> {
    let text = core::str::from_utf8(line).map_err(|_| RequestError::BadOptions)?;
    let mut options = Options::default();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = word.split_once('=').ok_or(RequestError::BadOptions)?;
        let number = || decimal(value.as_bytes()).ok_or(RequestError::BadOptions);
        match key {
            "body" => {
                options.body = match value {
                    "none" => BodyLen::None,
                    "chunked" => BodyLen::Chunked,
                    n => BodyLen::Known(parse_u64(n).ok_or(RequestError::BadOptions)?),
                }
            }
            "replay" => options.replay = number()? != 0,
            "redirects" => {
                options.redirects = u8::try_from(number()?).map_err(|_| RequestError::BadOptions)?
            }
            "connect-ms" => options.connect_ms = number()?,
            "read-ms" => options.read_ms = number()?,
            "max-ms" => options.max_ms = number()?,
            // A newer host may send more; an older device ignores what it does not know.
            _ => {}
        }
    }
    Ok(options)
}

fn parse_u64(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let options = Options {
            body: BodyLen::Known(12),
            replay: false,
            redirects: 5,
            connect_ms: 3000,
            read_ms: 0,
            max_ms: 60_000,
        };
        let mut text = String::new();
        RequestFrame::write(
            "POST",
            "http://10.0.2.2/post?a=b",
            &options,
            [("Authorization", "Basic am9lOnB3"), ("X-Empty", "")],
            &mut text,
        )
        .unwrap();
        assert_eq!(
            text,
            "POST http://10.0.2.2/post?a=b\nbody=12 replay=0 redirects=5 connect-ms=3000 read-ms=0 max-ms=60000\nAuthorization: Basic am9lOnB3\nX-Empty: \n"
        );
        let frame = RequestFrame::parse(text.as_bytes()).unwrap();
        assert_eq!(
            (frame.method, frame.url),
            ("POST", "http://10.0.2.2/post?a=b")
        );
        assert_eq!(frame.options, options);
        let headers: Vec<_> = frame.headers().collect();
        assert_eq!(
            headers,
            [
                ("Authorization", &b"Basic am9lOnB3"[..]),
                ("X-Empty", &b""[..])
            ]
        );
        assert_eq!(frame.header_count(), 2);
        let mut chunked = String::new();
        let streamed = Options {
            body: BodyLen::Chunked,
            ..Options::default()
        };
        RequestFrame::write("PUT", "http://h/", &streamed, [], &mut chunked).unwrap();
        assert_eq!(
            RequestFrame::parse(chunked.as_bytes())
                .unwrap()
                .options
                .body,
            BodyLen::Chunked
        );
    }

    #[test]
    fn what_would_break_the_frame_is_refused() {
        let o = Options::default();
        let mut out = String::new();
        assert_eq!(
            RequestFrame::write("GET", "http://h/ x", &o, [], &mut out),
            Err(RequestError::BadTarget)
        );
        assert_eq!(
            RequestFrame::write("GE T", "http://h/", &o, [], &mut out),
            Err(RequestError::BadTarget)
        );
        assert_eq!(
            RequestFrame::write("GET", "http://h/", &o, [("A", "b\r\nEvil: 1")], &mut out),
            Err(RequestError::BadHeader)
        );
        assert_eq!(
            RequestFrame::write("GET", "http://h/", &o, [("A\n", "b")], &mut out),
            Err(RequestError::BadHeader)
        );
        for bad in [
            &b"GET http://h/\n"[..],
            b"GET\nbody=none\n",
            b"GET http://h/\nbody=lots\n",
            b"GET http://h/\nredirects=999\n",
            b"GET http://h/\nbody=none\nno colon\n",
            b"GET http://h/\nbody=none\nA: b",
            b"\xff http://h/\nbody=none\n",
        ] {
            assert!(
                RequestFrame::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let newer = RequestFrame::parse(b"GET http://h/\nbody=none colour=blue\n").unwrap();
        assert_eq!(newer.options, Options::default());
    }
}
