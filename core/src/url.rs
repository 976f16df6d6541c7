//! URL parsing and redirect `Location` joining for `http` and `https`.
//!
//! A [`Url`] borrows the text it was parsed from: no allocation, no normalisation beyond what the
//! wire needs. The path and query are sent verbatim; the fragment is parsed off and never sent.
//! [`join`] resolves a reference against a base as RFC 3986 section 5.2 says, writing the result
//! into a caller-lent buffer. This module does not percent-encode, punycode or validate DNS names:
//! callers pass what they want on the wire.

use crate::buf::Cursor;
use crate::{Error, Result};

/// The two schemes the engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed absolute `http`/`https` URL, borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    scheme: Scheme,
    userinfo: Option<&'a str>,
    host: &'a str,
    port: u16,
    explicit_port: bool,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Url<'a> {
    /// Parses `http://[user:pass@]host[:port][/path][?query][#fragment]`.
    pub fn parse(text: &'a str) -> Result<Url<'a>> {
        let (scheme, rest) = split_scheme(text).ok_or(Error::InvalidUrl("missing scheme"))?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(Error::UnsupportedScheme);
        };
        let rest = rest
            .strip_prefix("//")
            .ok_or(Error::InvalidUrl("missing // after the scheme"))?;
        let rest = &rest[..find_any(rest, b"#").unwrap_or(rest.len())];
        let authority_end = find_any(rest, b"/?").unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(authority_end);
        let (userinfo, host_port) = match rfind_byte(authority, b'@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port)?;
        let (path, query) = split_query(path_query);
        if path_query.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(Error::InvalidUrl(
                "space or control character in path or query",
            ));
        }
        if let Some(info) = userinfo {
            if info.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(Error::InvalidUrl("space or control character in user info"));
            }
        }
        Ok(Url {
            scheme,
            userinfo,
            host,
            port: port.unwrap_or(scheme.default_port()),
            explicit_port: port.is_some(),
            path,
            query,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as written in the URL; IPv6 literals keep their brackets (as in `Host`).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The host to resolve or connect to: IPv6 literals without brackets.
    pub fn connect_host(&self) -> &'a str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(self.host)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the port differs from the scheme's default (and so belongs in `Host`).
    pub fn has_non_default_port(&self) -> bool {
        self.port != self.scheme.default_port()
    }

    /// The path as written; empty when the URL has none (sent as `/`).
    pub fn path(&self) -> &'a str {
        self.path
    }

    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The raw `user:password` part, still percent-encoded.
    pub fn userinfo(&self) -> Option<&'a str> {
        self.userinfo
    }

    /// User name and password from the user info, still percent-encoded.
    pub fn credentials(&self) -> Option<(&'a str, &'a str)> {
        let info = self.userinfo?;
        Some(match info.find(':') {
            Some(colon) => (&info[..colon], &info[colon + 1..]),
            None => (info, ""),
        })
    }

    /// Same scheme, host (ignoring ASCII case) and port.
    pub fn same_origin(&self, other: &Url<'_>) -> bool {
        self.scheme == other.scheme
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(other.host)
    }

    /// Writes the request target: path (or `/`) and `?query`.
    pub(crate) fn write_target(&self, out: &mut Cursor<'_>) -> Result<()> {
        out.push_str(if self.path.is_empty() { "/" } else { self.path })?;
        if let Some(query) = self.query {
            out.push_str("?")?;
            out.push_str(query)?;
        }
        Ok(())
    }

    /// Writes `host[:port]` as the `Host` header wants it.
    pub(crate) fn write_host(&self, out: &mut Cursor<'_>) -> Result<()> {
        out.push_str(self.host)?;
        if self.has_non_default_port() {
            out.push_str(":")?;
            crate::buf::push_uint(out, u64::from(self.port), 10)?;
        }
        Ok(())
    }

    /// Writes `scheme://host[:port]` (never the user info: it does not travel on).
    pub(crate) fn write_origin(&self, out: &mut Cursor<'_>) -> Result<()> {
        out.push_str(self.scheme.as_str())?;
        out.push_str("://")?;
        out.push_str(self.host)?;
        if self.explicit_port {
            out.push_str(":")?;
            crate::buf::push_uint(out, u64::from(self.port), 10)?;
        }
        Ok(())
    }
}

impl core::fmt::Display for Url<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.explicit_port {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(if self.path.is_empty() { "/" } else { self.path })?;
        if let Some(query) = self.query {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

/// Splits `scheme:rest` when the text starts with an RFC 3986 scheme.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let colon = find_any(text, b":")?;
    let scheme = &text[..colon];
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first_ok && rest_ok).then(|| (scheme, &text[colon + 1..]))
}

fn split_host_port(text: &str) -> Result<(&str, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let close = find_any(text, b"]").ok_or(Error::InvalidUrl("unclosed [ in IPv6 host"))?;
        let inner = &text[1..close];
        let ipv6_ok = find_any(inner, b":").is_some()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ipv6_ok {
            return Err(Error::InvalidUrl("invalid IPv6 address"));
        }
        let after = &text[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err(Error::InvalidUrl("junk after IPv6 address")),
        };
        (&text[..=close], port)
    } else {
        match rfind_byte(text, b':') {
            Some(colon) => (&text[..colon], Some(&text[colon + 1..])),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(Error::InvalidUrl("empty host"));
    }
    let host_ok = host.starts_with('[')
        || host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'%') || b >= 0x80
        });
    if !host_ok {
        return Err(Error::InvalidUrl("invalid character in host"));
    }
    let port = match port {
        None | Some("") => None,
        Some(digits) => Some(parse_port(digits)?),
    };
    Ok((host, port))
}

fn parse_port(digits: &str) -> Result<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidUrl("invalid port"));
    }
    match digits.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(Error::InvalidUrl("port out of range")),
    }
}

/// Resolves `reference` (a `Location` value) against `base` into `out` (RFC 3986 section 5.2)
/// and returns the absolute URL text. The fragment is dropped, and so is any user info of the base.
pub fn join<'o>(base: &Url<'_>, reference: &str, out: &'o mut [u8]) -> Result<&'o str> {
    join_parsed(base, trim_blanks(reference), out).map(|(_, text)| text)
}

/// [`join`] of a reference without blanks around it (a field value is trimmed already), also
/// returning the joined URL parsed.
#[inline(never)]
pub(crate) fn join_parsed<'o>(
    base: &Url<'_>,
    reference: &str,
    out: &'o mut [u8],
) -> Result<(Url<'o>, &'o str)> {
    let reference = &reference[..find_any(reference, b"#").unwrap_or(reference.len())];
    let mut cur = Cursor::new(out);
    // An absolute or network-path reference brings its scheme (or takes the base's) and its
    // authority as written; any other keeps the base's origin.
    let authority = match split_scheme(reference) {
        Some((scheme, rest)) => {
            cur.push_str(scheme)?;
            Some(
                rest.strip_prefix("//")
                    .ok_or(Error::InvalidUrl("missing // after the scheme"))?,
            )
        }
        None => {
            let rest = reference.strip_prefix("//");
            if rest.is_some() {
                cur.push_str(base.scheme.as_str())?;
            }
            rest
        }
    };
    // Then the path, from `path_start` on, goes through one dot-segment walk.
    let (path_start, path, query) = match authority {
        Some(rest) => {
            let authority_end = find_any(rest, b"/?").unwrap_or(rest.len());
            cur.push_str("://")?;
            cur.push_str(&rest[..authority_end])?;
            let (path, query) = split_query(&rest[authority_end..]);
            (cur.len(), path, query)
        }
        None => {
            base.write_origin(&mut cur)?;
            let path_start = cur.len();
            let (path, query) = split_query(reference);
            if path.is_empty() {
                // Same path: the base's as it is, with the reference's query or else the base's.
                cur.push_str(if base.path.is_empty() { "/" } else { base.path })?;
                push_query(query.or(base.query), &mut cur)?;
                return validated(cur);
            }
            if !path.starts_with('/') {
                // Merge: the base path up to its last '/', then the reference.
                match rfind_byte(base.path, b'/') {
                    Some(slash) => cur.push_str(&base.path[..=slash])?,
                    None => cur.push_str("/")?,
                }
            }
            (path_start, path, query)
        }
    };
    if path.is_empty() {
        cur.push_str("/")?;
    }
    cur.push_str(path)?;
    remove_dot_segments(&mut cur, path_start);
    push_query(query, &mut cur)?;
    validated(cur)
}

/// The joined text, checked by parsing it, so a hostile Location cannot smuggle in anything we
/// would not parse.
fn validated(cur: Cursor<'_>) -> Result<(Url<'_>, &str)> {
    let text: &str =
        core::str::from_utf8(cur.into_written()).map_err(|_| Error::InvalidUrl("not UTF-8"))?;
    Ok((Url::parse(text)?, text))
}

/// The first byte of `text` that is one of `set` (ASCII). Plain loops: `str::find` with a
/// `&str` or `[char]` pattern pulls large searchers into a firmware image.
fn find_any(text: &str, set: &[u8]) -> Option<usize> {
    text.bytes().position(|b| set.contains(&b))
}

/// The last `byte` (ASCII) in `text`.
fn rfind_byte(text: &str, byte: u8) -> Option<usize> {
    text.bytes().rposition(|b| b == byte)
}

/// `text` without spaces and tabs at either end.
fn trim_blanks(text: &str) -> &str {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = text.bytes().position(|b| !blank(&b)).unwrap_or(text.len());
    let end = text
        .bytes()
        .rposition(|b| !blank(&b))
        .map_or(start, |i| i + 1);
    &text[start..end]
}

fn split_query(text: &str) -> (&str, Option<&str>) {
    match find_any(text, b"?") {
        Some(q) => (&text[..q], Some(&text[q + 1..])),
        None => (text, None),
    }
}

fn push_query(query: Option<&str>, out: &mut Cursor<'_>) -> Result<()> {
    if let Some(query) = query {
        out.push_str("?")?;
        out.push_str(query)?;
    }
    Ok(())
}

/// Removes `.` and `..` segments (RFC 3986 section 5.2.4) from the absolute path that fills
/// `out` from `start` on, in place: each segment is copied down over what the dots removed.
fn remove_dot_segments(out: &mut Cursor<'_>, start: usize) {
    let path = &mut out.written_mut()[start..];
    let (mut read, mut write) = (0, 0);
    while read < path.len() {
        // `path[read]` is the '/' that opens a segment.
        let end = path[read + 1..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(path.len(), |i| read + 1 + i);
        let last = end == path.len();
        match &path[read + 1..end] {
            b"." => {}
            b".." => write = path[..write].iter().rposition(|&b| b == b'/').unwrap_or(0),
            _ => {
                path.copy_within(read..end, write);
                write += end - read;
                read = end;
                continue;
            }
        }
        // A dot segment at the end leaves the directory: "/a/." is "/a/".
        if last {
            path[write] = b'/';
            write += 1;
        }
        read = end;
    }
    out.truncate(start + write.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(base: &str, reference: &str) -> Result<std::string::String> {
        let base = Url::parse(base)?;
        let mut buf = [0u8; 512];
        join(&base, reference, &mut buf).map(std::string::String::from)
    }

    #[test]
    fn parses_parts() {
        let url = Url::parse("http://example.com:8080/a/b?x=1&y=2#frag").unwrap();
        assert_eq!(url.scheme(), Scheme::Http);
        assert_eq!(url.host(), "example.com");
        assert_eq!(url.port(), 8080);
        assert_eq!(url.path(), "/a/b");
        assert_eq!(url.query(), Some("x=1&y=2"));
        assert!(url.has_non_default_port());
    }

    #[test]
    fn default_ports_and_empty_path() {
        let url = Url::parse("https://example.com").unwrap();
        assert_eq!(url.port(), 443);
        assert_eq!(url.path(), "");
        let mut buf = [0u8; 32];
        let mut cur = Cursor::new(&mut buf);
        url.write_target(&mut cur).unwrap();
        assert_eq!(cur.written(), b"/");
        assert_eq!(Url::parse("HTTP://h").unwrap().port(), 80);
        assert_eq!(Url::parse("http://h:/x").unwrap().port(), 80);
    }

    #[test]
    fn query_without_path() {
        let url = Url::parse("http://h?q=1").unwrap();
        let mut buf = [0u8; 32];
        let mut cur = Cursor::new(&mut buf);
        url.write_target(&mut cur).unwrap();
        assert_eq!(cur.written(), b"/?q=1");
    }

    #[test]
    fn ipv4_and_ipv6_hosts() {
        assert_eq!(
            Url::parse("http://127.0.0.1:81/").unwrap().host(),
            "127.0.0.1"
        );
        let v6 = Url::parse("http://[::1]:8080/x").unwrap();
        assert_eq!(v6.host(), "[::1]");
        assert_eq!(v6.connect_host(), "::1");
        assert_eq!(v6.port(), 8080);
        assert_eq!(Url::parse("http://[fe80::1]").unwrap().port(), 80);
        assert!(Url::parse("http://[::1/").is_err());
        assert!(Url::parse("http://[zz]/").is_err());
    }

    #[test]
    fn userinfo_becomes_credentials() {
        let url = Url::parse("http://user:p%40ss@host/x").unwrap();
        assert_eq!(url.credentials(), Some(("user", "p%40ss")));
        assert_eq!(url.host(), "host");
        let only_user = Url::parse("http://user@host/").unwrap();
        assert_eq!(only_user.credentials(), Some(("user", "")));
        assert_eq!(Url::parse("http://host/").unwrap().credentials(), None);
    }

    #[test]
    fn rejects_bad_urls() {
        assert_eq!(Url::parse("ftp://h/"), Err(Error::UnsupportedScheme));
        assert_eq!(Url::parse("ws://h/"), Err(Error::UnsupportedScheme));
        assert!(matches!(
            Url::parse("example.com/x"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(Url::parse("http:/x"), Err(Error::InvalidUrl(_))));
        assert!(matches!(Url::parse("http:///x"), Err(Error::InvalidUrl(_))));
        assert!(matches!(
            Url::parse("http://h:99999/"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            Url::parse("http://h:0/"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            Url::parse("http://h:8a/"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            Url::parse("http://h/a b"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            Url::parse("http://h/a\r\nX: y"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            Url::parse("http://h o/"),
            Err(Error::InvalidUrl(_))
        ));
    }

    #[test]
    fn fragment_is_never_kept() {
        let url = Url::parse("http://h/p?q#f?g").unwrap();
        assert_eq!(url.path(), "/p");
        assert_eq!(url.query(), Some("q"));
    }

    #[test]
    fn rfc3986_normal_examples() {
        let base = "http://a/b/c/d;p?q";
        for (reference, expected) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
        ] {
            assert_eq!(
                joined(base, reference).unwrap(),
                expected,
                "reference {reference:?}"
            );
        }
    }

    #[test]
    fn mrequests_redirect_cases() {
        // relative, scheme-relative, absolute, and port changes as mrequests' tests exercise them
        let base = "http://example.com:8000/foo/bar";
        assert_eq!(
            joined(base, "baz").unwrap(),
            "http://example.com:8000/foo/baz"
        );
        assert_eq!(joined(base, "/baz").unwrap(), "http://example.com:8000/baz");
        assert_eq!(joined(base, "//other.org/x").unwrap(), "http://other.org/x");
        assert_eq!(
            joined(base, "//other.org:81/x").unwrap(),
            "http://other.org:81/x"
        );
        assert_eq!(
            joined(base, "https://secure/x").unwrap(),
            "https://secure/x"
        );
        assert_eq!(
            joined(base, "http://example.com:9000/y").unwrap(),
            "http://example.com:9000/y"
        );
        assert_eq!(joined("https://h/a", "//o/b").unwrap(), "https://o/b");
        assert_eq!(joined("http://h", "x").unwrap(), "http://h/x");
        assert_eq!(joined("http://u:p@h/a", "b").unwrap(), "http://h/b");
        assert!(joined(base, "ftp://x/").is_err());
        assert!(joined(base, "/a b").is_err());
    }

    #[test]
    fn join_reports_small_buffer() {
        let base = Url::parse("http://example.com/").unwrap();
        let mut tiny = [0u8; 10];
        assert_eq!(
            join(&base, "/long/path", &mut tiny),
            Err(Error::BufferTooSmall)
        );
    }
}
