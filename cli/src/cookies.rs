//! curl's cookie engine: `-b FILE` reads a jar (Netscape format, or `Set-Cookie:` lines), `-c
//! FILE` writes one at the end, and between them every `Set-Cookie` of every hop is kept and each
//! request (redirect hops included) carries the cookies its URL matches (RFC 6265: domain, path,
//! expiry, Secure; the rules are the cookie_store crate's). `-b NAME=VALUE` alone is a plain
//! header, as in curl; with a jar it goes to the first URL's host only.

use crate::args::Args;
use crate::failure::{self, Failure};
use cookie_store::{CookieDomain, CookieExpiration, CookieStore, RawCookie};
use mreq_core::request::CookieSource;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What `-b` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// `NAME=VALUE[; ...]`: cookies as text.
    Text(String),
    /// A jar file to read.
    File(PathBuf),
}

/// curl's rule: a `-b` value with `=` is cookies, anything else a file name.
pub fn given(value: &str) -> Given {
    if value.contains('=') {
        Given::Text(value.to_string())
    } else {
        Given::File(PathBuf::from(value))
    }
}

/// Every `-b NAME=VALUE` given, as one `Cookie` value.
pub fn given_text(values: &[String]) -> Option<String> {
    let texts: Vec<&str> = values
        .iter()
        .filter(|v| matches!(given(v), Given::Text(_)))
        .map(|v| v.trim())
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

#[derive(Debug)]
pub struct Jar {
    store: RefCell<CookieStore>,
    /// `-b NAME=VALUE` with a jar: sent to this host only.
    text: Option<(String, String)>,
    /// `-c FILE` (`-` is stdout).
    pub save_to: Option<PathBuf>,
}

impl Jar {
    /// The jar of an invocation, when one is wanted (`-b FILE` or `-c`); `first_host` is the
    /// host `-b NAME=VALUE` cookies go to.
    pub fn from_args(
        args: &Args,
        first_host: &str,
        session: Option<&str>,
    ) -> Result<Option<Jar>, Failure> {
        let given: Vec<Given> = args.cookie.iter().map(|c| given(c)).collect();
        let files = given.iter().any(|g| matches!(g, Given::File(_)));
        if args.cookie_jar.is_none() && !files && session.is_none() {
            return Ok(None);
        }
        let mut store = CookieStore::new();
        if let Some(text) = session {
            load_text(&mut store, text);
        }
        for file in &given {
            if let Given::File(path) = file {
                load(&mut store, path)?;
            }
        }
        let text = given_text(&args.cookie).map(|t| (first_host.to_ascii_lowercase(), t));
        Ok(Some(Jar {
            store: RefCell::new(store),
            text,
            save_to: args.cookie_jar.clone(),
        }))
    }

    /// Keeps the `Set-Cookie` fields of a response head received from `url`.
    pub fn keep(&self, url: &str, head: &[u8]) {
        let Ok(url) = url::Url::parse(url) else {
            return;
        };
        let cookies = crate::deliver::head_fields(head)
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, value)| RawCookie::parse(value).ok())
            .filter(|cookie| domain_allowed(cookie, &url));
        self.store
            .borrow_mut()
            .store_response_cookies(cookies, &url);
    }

    /// The `Cookie` value for a request to `url` (empty: none).
    pub fn value_for(&self, url: &str) -> String {
        let mut out = String::new();
        if let Ok(parsed) = url::Url::parse(url) {
            let store = self.store.borrow();
            // RFC 6265 5.4: longer paths first; then by name, so the order never varies.
            let mut cookies = store.matches(&parsed);
            cookies.sort_by(|a, b| {
                let (pa, pb): (&str, &str) = (a.path.as_ref(), b.path.as_ref());
                pb.len().cmp(&pa.len()).then_with(|| a.name().cmp(b.name()))
            });
            let pairs: Vec<String> = cookies
                .iter()
                .map(|c| format!("{}={}", c.name(), c.value()))
                .collect();
            out = pairs.join("; ");
            if let Some((host, text)) = &self.text {
                if parsed
                    .host_str()
                    .is_some_and(|h| h.eq_ignore_ascii_case(host))
                {
                    if !out.is_empty() {
                        out.push_str("; ");
                    }
                    out.push_str(text);
                }
            }
        }
        out
    }

    /// Writes the jar in Netscape format (the format curl and wget read): every cookie not
    /// expired, session cookies with expiry 0.
    pub fn netscape(&self) -> String {
        let mut text = String::from(
            "# Netscape HTTP Cookie File\n# Written by mreq: domain, subdomains, path, secure, expiry, name, value\n\n",
        );
        for cookie in self.store.borrow().iter_unexpired() {
            let (domain, subdomains) = match &cookie.domain {
                CookieDomain::HostOnly(host) => (host.clone(), "FALSE"),
                CookieDomain::Suffix(domain) => (format!(".{domain}"), "TRUE"),
                _ => continue,
            };
            let expiry = match &cookie.expires {
                CookieExpiration::AtUtc(at) => at.unix_timestamp().max(0),
                CookieExpiration::SessionEnd => 0,
            };
            let prefix = if cookie.http_only() == Some(true) {
                "#HttpOnly_"
            } else {
                ""
            };
            let secure = if cookie.secure() == Some(true) {
                "TRUE"
            } else {
                "FALSE"
            };
            text.push_str(&format!(
                "{prefix}{domain}\t{subdomains}\t{}\t{secure}\t{expiry}\t{}\t{}\n",
                cookie.path.as_ref(),
                cookie.name(),
                cookie.value()
            ));
        }
        text
    }

    /// Writes the jar to `-c`'s file (mode 0600: cookies are credentials).
    pub fn save(&self, out: &mut dyn std::io::Write) -> Result<(), Failure> {
        let Some(path) = &self.save_to else {
            return Ok(());
        };
        let text = self.netscape();
        let failed = |e: std::io::Error| {
            Failure::new(
                failure::WRITE_ERROR,
                format!("cannot write the cookie jar {}: {e}", path.display()),
            )
        };
        if path.as_os_str() == "-" {
            return out.write_all(text.as_bytes()).map_err(failed);
        }
        write_private(path, text.as_bytes()).map_err(failed)
    }
}

/// No public suffix list is built in, so a `Domain` must at least have an inner dot (curl's rule
/// without libpsl): `Domain=com` would hand the cookie to every `.com` site. A domain equal to
/// the host itself is fine (`Domain=localhost` from localhost).
fn domain_allowed(cookie: &RawCookie<'_>, url: &url::Url) -> bool {
    match cookie.domain() {
        None => true,
        Some(domain) => {
            let domain = domain.trim_start_matches('.');
            domain.trim_end_matches('.').contains('.')
                || url
                    .host_str()
                    .is_some_and(|h| h.eq_ignore_ascii_case(domain))
        }
    }
}

pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(data)
}

impl CookieSource for Jar {
    fn write_cookies(
        &self,
        url: &mreq_core::url::Url<'_>,
        out: &mut dyn core::fmt::Write,
    ) -> core::fmt::Result {
        out.write_str(&self.value_for(&url.to_string()))
    }
}

/// Reads a jar: Netscape lines (7 fields by tabs; `#HttpOnly_` before the domain) or
/// `Set-Cookie:` lines. A file that does not exist is an empty jar (as curl, so one name can be
/// given to -b and -c on the first run).
fn load(store: &mut CookieStore, path: &Path) -> Result<(), Failure> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            load_text(store, &text);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::new(
            failure::READ_ERROR,
            format!("cannot read the cookie file {}: {e}", path.display()),
        )),
    }
}

/// Keeps the cookies of a jar's text (what [`load`] reads from a file).
fn load_text(store: &mut CookieStore, text: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(header) = strip_prefix_ignore_case(line, "set-cookie:") {
            // A header line keeps no host: it applies where its Domain says, else nowhere.
            if let Ok(raw) = RawCookie::parse(header.trim().to_string()) {
                if let Some(domain) = raw.domain().map(|d| d.trim_start_matches('.').to_string()) {
                    if let Ok(url) = url::Url::parse(&format!("https://{domain}/")) {
                        let _ = store.insert_raw(&raw, &url);
                    }
                }
            }
            continue;
        }
        let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [domain, subdomains, path, secure, expiry, name, value] = fields[..] else {
            continue;
        };
        let expiry: i64 = expiry.trim().parse().unwrap_or(0);
        if expiry != 0 && expiry <= now {
            continue;
        }
        let host = domain.trim_start_matches('.');
        let secure = secure.eq_ignore_ascii_case("TRUE");
        let mut set = format!("{name}={value}; Path={path}");
        if subdomains.eq_ignore_ascii_case("TRUE") {
            set.push_str(&format!("; Domain={host}"));
        }
        if expiry != 0 {
            set.push_str(&format!("; Max-Age={}", expiry - now));
        }
        if secure {
            set.push_str("; Secure");
        }
        if http_only {
            set.push_str("; HttpOnly");
        }
        let scheme = if secure { "https" } else { "http" };
        if let (Ok(raw), Ok(url)) = (
            RawCookie::parse(set),
            url::Url::parse(&format!("{scheme}://{host}{path}")),
        ) {
            let _ = store.insert_raw(&raw, &url);
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar() -> Jar {
        Jar {
            store: RefCell::new(CookieStore::new()),
            text: None,
            save_to: None,
        }
    }

    #[test]
    fn cookies_follow_domain_path_and_secure() {
        let jar = jar();
        jar.keep(
            "http://a.example/dir/page",
            b"HTTP/1.1 200 OK\r\nSet-Cookie: host=1\r\nSet-Cookie: tld=2; Domain=example; Path=/\r\nset-cookie: deep=3; Path=/dir/sub\r\nSet-Cookie: s=4; Secure\r\n\r\n",
        );
        // Domain=example (no inner dot) is refused: it would reach every .example host.
        assert_eq!(jar.value_for("http://a.example/dir/x"), "host=1");
        jar.keep(
            "http://www.site.example/",
            b"HTTP/1.1 200 OK\r\nSet-Cookie: wide=5; Domain=site.example\r\n\r\n",
        );
        assert_eq!(jar.value_for("http://api.site.example/"), "wide=5");
        let deep = jar.value_for("http://a.example/dir/sub/y");
        assert!(deep.contains("deep=3") && deep.contains("host=1"), "{deep}");
        assert_eq!(jar.value_for("http://other.example/"), "");
        assert!(jar.value_for("https://a.example/dir/").contains("s=4"));
    }

    #[test]
    fn netscape_files_round_trip() {
        let jar = jar();
        jar.keep(
            "http://h.test/",
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/; Max-Age=3600; HttpOnly\r\nSet-Cookie: b=2\r\n\r\n",
        );
        let text = jar.netscape();
        assert!(
            text.contains("#HttpOnly_h.test\tFALSE\t/\tFALSE\t"),
            "{text}"
        );
        assert!(
            text.contains("h.test\tFALSE\t/\tFALSE\t0\tb\t2\n"),
            "{text}"
        );
        let dir = std::env::temp_dir().join(format!("mreq-jar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("jar.txt");
        std::fs::write(&file, &text).unwrap();
        let mut store = CookieStore::new();
        load(&mut store, &file).unwrap();
        let back = Jar {
            store: RefCell::new(store),
            ..self::jar()
        };
        let sorted = |text: String| {
            let mut pairs: Vec<String> = text.split("; ").map(str::to_string).collect();
            pairs.sort();
            pairs
        };
        assert_eq!(
            sorted(back.value_for("http://h.test/x")),
            sorted(jar.value_for("http://h.test/x"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
