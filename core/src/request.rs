//! Serialising a request head: request line, `Host`, caller headers, auth and body framing.
//!
//! The head is written into a caller-lent buffer in one go. Every method and header is checked
//! before a byte is produced: a method that is not a token, a header name that is not a token, and
//! CR, LF or NUL in a value are refused, so nothing a caller passes can split the request. This
//! module does not decide *what* to send (redirect rules live in `redirect`); it only writes it.

use crate::auth::{self, Auth};
use crate::buf::{push_uint, trim_ows, Cursor};
use crate::url::Url;
use crate::{Error, Result};

/// A request header as the caller gives it: a name and raw value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    pub const fn new(name: &'a str, value: &'a [u8]) -> Self {
        Header { name, value }
    }

    /// Whether this header carries credentials that must not follow a redirect to another origin.
    pub fn is_credential(&self) -> bool {
        self.name.eq_ignore_ascii_case("authorization")
            || self.name.eq_ignore_ascii_case("cookie")
            || self.name.eq_ignore_ascii_case("proxy-authorization")
    }
}

/// How the request body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body and no framing header.
    None,
    /// `Content-Length: n` (also `0` for an empty POST-like body).
    Length(u64),
    /// `Transfer-Encoding: chunked`: the length is not known in advance.
    Chunked,
}

/// Everything that goes into one request head.
#[derive(Debug, Clone, Copy)]
pub struct HeadSpec<'a> {
    pub method: &'a str,
    pub url: &'a Url<'a>,
    pub headers: &'a [Header<'a>],
    pub auth: Option<Auth<'a>>,
    pub body: BodyFraming,
    /// A `Content-Type` written unless `headers` has one (only when there is a body).
    pub content_type: Option<&'a str>,
    /// Percent-encoded `user:password` from the URL the caller asked for (sent as basic auth when
    /// `auth` is `None`); kept apart from `url` so that it survives same-origin redirects.
    pub url_credentials: Option<(&'a str, &'a str)>,
    /// After a redirect to another origin: drop Authorization, Cookie and URL credentials.
    pub strip_credentials: bool,
    /// A cookie jar that writes the `Cookie` value for each hop's URL.
    pub cookies: Option<&'a dyn CookieSource>,
}

/// A cookie jar seen by the engine: the `Cookie` value a request to `url` carries. Asked for
/// every hop, so a redirect to another host gets that host's cookies (and only those).
pub trait CookieSource: core::fmt::Debug {
    /// Writes the cookies for `url` as one `Cookie` value (`a=1; b=2`); nothing for none.
    fn write_cookies(&self, url: &Url<'_>, out: &mut dyn core::fmt::Write) -> core::fmt::Result;
}

/// Writes the request head into `out` and returns its length.
pub fn write_head(spec: &HeadSpec<'_>, out: &mut [u8]) -> Result<usize> {
    validate(spec)?;
    let mut cur = Cursor::new(out);
    cur.push_str(spec.method)?;
    cur.push_str(" ")?;
    spec.url.write_target(&mut cur)?;
    cur.push_str(" HTTP/1.1\r\n")?;

    let has = |name: &str| {
        spec.headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name))
    };
    if !has("host") {
        cur.push_str("Host: ")?;
        spec.url.write_host(&mut cur)?;
        cur.push_str("\r\n")?;
    }
    for header in spec.headers {
        // A framing header that agrees is written once, by the engine, below (with no body a
        // caller's `Content-Length: 0` is the only one and goes as given).
        let engine_frames = spec.body != BodyFraming::None && is_framing(header);
        if (spec.strip_credentials && header.is_credential()) || engine_frames {
            continue;
        }
        cur.push_str(header.name)?;
        cur.push_str(": ")?;
        cur.push(trim_ows(header.value))?;
        cur.push_str("\r\n")?;
    }
    if !spec.strip_credentials && !has("authorization") {
        if let Some(auth) = spec.auth {
            cur.push_str("Authorization: ")?;
            auth.write_value(&mut cur)?;
            cur.push_str("\r\n")?;
        } else if let Some((user, password)) = spec.url_credentials {
            cur.push_str("Authorization: ")?;
            auth::write_url_basic(user, password, &mut cur)?;
            cur.push_str("\r\n")?;
        }
    }
    if let Some(jar) = spec.cookies.filter(|_| cfg!(feature = "cookies")) {
        let mark = cur.len();
        cur.push_str("Cookie: ")?;
        let start = cur.len();
        jar.write_cookies(spec.url, &mut cur)
            .map_err(|_| crate::Error::BufferTooSmall)?;
        let value = &cur.written()[start..];
        if value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(crate::Error::InvalidHeader);
        }
        if value.is_empty() {
            cur.truncate(mark);
        } else {
            cur.push_str("\r\n")?;
        }
    }
    if let Some(content_type) = spec.content_type {
        if spec.body != BodyFraming::None && !has("content-type") {
            cur.push_str("Content-Type: ")?;
            cur.push_str(content_type)?;
            cur.push_str("\r\n")?;
        }
    }
    match spec.body {
        BodyFraming::None => {}
        BodyFraming::Length(len) => {
            cur.push_str("Content-Length: ")?;
            push_uint(&mut cur, len, 10)?;
            cur.push_str("\r\n")?;
        }
        BodyFraming::Chunked => cur.push_str("Transfer-Encoding: chunked\r\n")?,
    }
    cur.push_str("\r\n")?;
    Ok(cur.len())
}

/// Whether a method conventionally carries a body, so an empty one is sent as `Content-Length: 0`.
pub fn method_expects_body(method: &str) -> bool {
    ["POST", "PUT", "PATCH"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
}

fn validate(spec: &HeadSpec<'_>) -> Result<()> {
    if !is_token(spec.method.as_bytes()) {
        return Err(Error::InvalidMethod);
    }
    for header in spec.headers {
        if !is_token(header.name.as_bytes())
            || header.value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
        {
            return Err(Error::InvalidHeader);
        }
        // The engine writes the framing from the body: a caller's own is accepted only when it
        // says the same, as a wrong one would desynchronise the exchange.
        if is_framing(header) && !agrees_with(header, spec.body) {
            return Err(Error::ConflictingFramingHeader);
        }
    }
    if spec
        .content_type
        .is_some_and(|t| t.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)))
    {
        return Err(Error::InvalidHeader);
    }
    if let Some(Auth::Bearer(token)) = spec.auth {
        if token.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(Error::InvalidHeader);
        }
    }
    Ok(())
}

fn is_framing(header: &Header<'_>) -> bool {
    header.name.eq_ignore_ascii_case("content-length")
        || header.name.eq_ignore_ascii_case("transfer-encoding")
}

/// Whether a caller's framing header says what `body` is: the body's length (`0` with no body),
/// or `chunked` for a chunked body.
fn agrees_with(header: &Header<'_>, body: BodyFraming) -> bool {
    let value = trim_ows(header.value);
    if header.name.eq_ignore_ascii_case("transfer-encoding") {
        return body == BodyFraming::Chunked && value.eq_ignore_ascii_case(b"chunked");
    }
    let length = (!value.is_empty() && value.iter().all(u8::is_ascii_digit))
        .then(|| core::str::from_utf8(value).ok()?.parse::<u64>().ok())
        .flatten();
    match (body, length) {
        (BodyFraming::Length(n), Some(given)) => n == given,
        (BodyFraming::None, Some(0)) => true,
        _ => false,
    }
}

/// RFC 9110 `token` (a method or header name): one or more tchar.
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

pub(crate) const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(spec: &HeadSpec<'_>) -> Result<std::string::String> {
        let mut buf = [0u8; 512];
        let n = write_head(spec, &mut buf)?;
        Ok(std::string::String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    fn spec<'a>(method: &'a str, url: &'a Url<'a>, headers: &'a [Header<'a>]) -> HeadSpec<'a> {
        HeadSpec {
            method,
            url,
            headers,
            auth: None,
            body: BodyFraming::None,
            content_type: None,
            url_credentials: url.credentials(),
            strip_credentials: false,
            cookies: None,
        }
    }

    /// A jar that answers with fixed text for one host.
    #[derive(Debug)]
    struct Jar(&'static str);

    impl CookieSource for Jar {
        fn write_cookies(
            &self,
            url: &Url<'_>,
            out: &mut dyn core::fmt::Write,
        ) -> core::fmt::Result {
            if url.host() == "h" {
                out.write_str(self.0)?;
            }
            Ok(())
        }
    }

    #[test]
    #[cfg(feature = "cookies")]
    fn cookies_come_from_the_jar_per_url() {
        let (here, there) = (
            Url::parse("http://h/").unwrap(),
            Url::parse("http://x/").unwrap(),
        );
        let jar = Jar("a=1; b=2");
        let with = |url| HeadSpec {
            cookies: Some(&jar),
            ..spec("GET", url, &[])
        };
        assert!(head(&with(&here))
            .unwrap()
            .contains("\r\nCookie: a=1; b=2\r\n"));
        assert!(!head(&with(&there)).unwrap().contains("Cookie"));
        let bad = Jar("a=1\r\nX: y");
        let injected = HeadSpec {
            cookies: Some(&bad),
            ..spec("GET", &here, &[])
        };
        assert_eq!(head(&injected), Err(crate::Error::InvalidHeader));
    }

    #[test]
    fn get_with_host_and_headers() {
        let url = Url::parse("http://example.com:8080/a?b=c#frag").unwrap();
        let headers = [Header::new("Accept", b"application/json")];
        assert_eq!(
            head(&spec("GET", &url, &headers)).unwrap(),
            "GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\nAccept: application/json\r\n\r\n"
        );
    }

    #[test]
    fn default_port_is_left_out_of_host_and_caller_host_wins() {
        let url = Url::parse("https://example.com:443").unwrap();
        assert!(head(&spec("GET", &url, &[]))
            .unwrap()
            .contains("Host: example.com\r\n"));
        let headers = [Header::new("host", b"other")];
        let text = head(&spec("GET", &url, &headers)).unwrap();
        assert!(text.contains("host: other\r\n") && !text.contains("Host: example.com"));
        let v6 = Url::parse("http://[::1]:81/").unwrap();
        assert!(head(&spec("GET", &v6, &[]))
            .unwrap()
            .contains("Host: [::1]:81\r\n"));
    }

    #[test]
    fn body_framing_headers() {
        let url = Url::parse("http://h/").unwrap();
        let mut s = spec("POST", &url, &[]);
        s.body = BodyFraming::Length(12);
        assert!(head(&s).unwrap().contains("Content-Length: 12\r\n"));
        s.content_type = Some("application/json");
        assert!(head(&s)
            .unwrap()
            .contains("Content-Type: application/json\r\n"));
        s.body = BodyFraming::Chunked;
        assert!(head(&s).unwrap().contains("Transfer-Encoding: chunked\r\n"));
        assert!(method_expects_body("post") && !method_expects_body("GET"));
    }

    #[test]
    fn refuses_injection_and_bad_tokens() {
        let url = Url::parse("http://h/").unwrap();
        for bad in [&b"a\r\nX-Evil: 1"[..], b"a\nb", b"a\rb", b"a\0b"] {
            let headers = [Header::new("X-Test", bad)];
            assert_eq!(
                head(&spec("GET", &url, &headers)),
                Err(Error::InvalidHeader)
            );
        }
        for name in ["Bad Name", "Bad:Name", "", "X\r\n"] {
            let headers = [Header::new(name, b"v")];
            assert_eq!(
                head(&spec("GET", &url, &headers)),
                Err(Error::InvalidHeader)
            );
        }
        assert_eq!(head(&spec("GE T", &url, &[])), Err(Error::InvalidMethod));
        assert_eq!(head(&spec("", &url, &[])), Err(Error::InvalidMethod));
        let headers = [Header::new("Content-Length", b"5")];
        assert_eq!(
            head(&spec("POST", &url, &headers)),
            Err(Error::ConflictingFramingHeader)
        );
        let mut s = spec("GET", &url, &[]);
        s.auth = Some(Auth::Bearer("t\r\nX: y"));
        assert_eq!(head(&s), Err(Error::InvalidHeader));
    }

    #[test]
    fn a_framing_header_is_honoured_when_it_agrees_and_refused_when_not() {
        use BodyFraming::{Chunked, Length, None as NoBody};
        let url = Url::parse("http://h/").unwrap();
        // (header, value, body framing, accepted)
        let cases: [(&str, &[u8], BodyFraming, bool); 12] = [
            ("Content-Length", b"12", Length(12), true),
            ("content-length", b" 12 ", Length(12), true),
            ("Content-Length", b"0", NoBody, true),
            ("Content-Length", b"0", Length(0), true),
            ("Content-Length", b"5", Length(12), false),
            ("Content-Length", b"12", Chunked, false),
            ("Content-Length", b"12, 12", Length(12), false),
            ("Content-Length", b"+12", Length(12), false),
            ("Content-Length", b"3", NoBody, false),
            ("Transfer-Encoding", b"chunked", Chunked, true),
            ("Transfer-Encoding", b"gzip, chunked", Chunked, false),
            ("Transfer-Encoding", b"chunked", Length(3), false),
        ];
        for (name, value, body, accepted) in cases {
            let headers = [Header::new(name, value)];
            let mut s = spec("POST", &url, &headers);
            s.body = body;
            let written = head(&s);
            if !accepted {
                assert_eq!(
                    written,
                    Err(Error::ConflictingFramingHeader),
                    "{name}: {value:?}"
                );
                continue;
            }
            let written = written.unwrap();
            let lower = written.to_ascii_lowercase();
            let framing_lines = lower.matches("content-length").count()
                + lower.matches("transfer-encoding").count();
            assert_eq!(framing_lines, 1, "one framing header, not two: {written}");
        }
    }

    #[test]
    fn any_token_method_is_sent() {
        let url = Url::parse("http://h/").unwrap();
        assert!(head(&spec("PROPFIND", &url, &[]))
            .unwrap()
            .starts_with("PROPFIND / HTTP/1.1\r\n"));
    }

    #[test]
    fn url_credentials_and_auth() {
        let url = Url::parse("http://user:pass@h/").unwrap();
        assert!(head(&spec("GET", &url, &[]))
            .unwrap()
            .contains("Authorization: Basic dXNlcjpwYXNz\r\n"));
        let mut s = spec("GET", &url, &[]);
        s.auth = Some(Auth::Bearer("tok"));
        assert!(head(&s).unwrap().contains("Authorization: Bearer tok\r\n"));
    }

    #[test]
    fn credentials_are_stripped_on_request() {
        let url = Url::parse("http://user:pass@h/").unwrap();
        let headers = [
            Header::new("Authorization", b"Bearer x"),
            Header::new("Cookie", b"a=b"),
            Header::new("Accept", b"*/*"),
        ];
        let mut s = spec("GET", &url, &headers);
        s.auth = Some(Auth::Bearer("tok"));
        s.strip_credentials = true;
        let text = head(&s).unwrap();
        assert!(
            !text.contains("Authorization") && !text.contains("Cookie"),
            "{text}"
        );
        assert!(text.contains("Accept: */*"));
    }

    #[test]
    fn small_buffer_is_an_error() {
        let url = Url::parse("http://h/").unwrap();
        let mut buf = [0u8; 10];
        assert_eq!(
            write_head(&spec("GET", &url, &[]), &mut buf),
            Err(Error::BufferTooSmall)
        );
    }
}
