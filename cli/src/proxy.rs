//! Proxies as curl finds them: `-x URL`, else the environment (`http_proxy` in lower case only,
//! because of httpoxy; `https_proxy`/`HTTPS_PROXY`; `all_proxy`/`ALL_PROXY`), with `no_proxy`
//! (or `--noproxy`) naming hosts reached directly. And how each is spoken to: an HTTP proxy
//! forwards plain http requests (absolute form) and opens CONNECT tunnels for https (and for
//! http with `-p`); SOCKS5 relays a TCP connection, the name resolved here (`socks5://`) or by
//! the proxy (`socks5h://`).

use crate::args::Args;
use crate::failure::{self, Failure};
use mreq_core::auth::Auth;
use mreq_core::error::{ErrorText, ProxyStage};
use mreq_core::url::Scheme;
use mreq_core::Error;
use std::io::{Read, Write};
use std::net::IpAddr;

/// The port a proxy URL without one means (curl's).
const DEFAULT_PORT: u16 = 1080;
/// The largest CONNECT response head read.
const MAX_CONNECT_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    /// `remote_dns`: the proxy resolves the name (`socks5h://`).
    Socks5 {
        remote_dns: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    pub user: Option<(String, String)>,
    /// `Basic ...` for an HTTP proxy with a user.
    pub authorization: Option<String>,
}

impl Proxy {
    /// Parses `[scheme://][user[:password]@]host[:port]` (curl's forms); `http://` when no scheme.
    pub fn parse(text: &str) -> Result<Proxy, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_string(), text),
        };
        let kind = match scheme.as_str() {
            "http" => Kind::Http,
            "socks5" => Kind::Socks5 { remote_dns: false },
            "socks5h" => Kind::Socks5 { remote_dns: true },
            "https" => return Err("https:// proxies (TLS to the proxy) are not supported: use http:// (https URLs still go through it encrypted, in a CONNECT tunnel)".into()),
            other => return Err(format!("{other}:// proxies are not supported (http, socks5, socks5h)")),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((user, hostport)) => {
                let (name, password) = crate::plan::split_login(user);
                let decode = mreq_core::form::unquote;
                (Some((decode(name), decode(password))), hostport)
            }
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err("no proxy host".into());
        }
        let mut proxy = Proxy {
            kind,
            host,
            port: port.unwrap_or(DEFAULT_PORT),
            user: None,
            authorization: None,
        };
        proxy.set_user(user);
        Ok(proxy)
    }

    fn set_user(&mut self, user: Option<(String, String)>) {
        self.authorization = user.as_ref().and_then(|(name, password)| {
            let auth = Auth::Basic {
                user: name,
                password,
            };
            let mut buf = vec![0u8; 2 * (name.len() + password.len()) + 16];
            auth.header_value(&mut buf).ok().map(str::to_string)
        });
        self.user = user;
    }

    /// `scheme://host:port` without the password, for messages.
    pub fn describe(&self) -> String {
        let scheme = match self.kind {
            Kind::Http => "http",
            Kind::Socks5 { remote_dns: false } => "socks5",
            Kind::Socks5 { remote_dns: true } => "socks5h",
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// `host[:port]`, an IPv6 host in brackets.
fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let bad_port = |p: &str| format!("{p:?} is not a port number");
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address without its ]")?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad_port(p))?),
            None => None,
        };
        return Ok((host.to_string(), port));
    }
    match text.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((text.to_string(), None)),
    }
}

/// Hosts reached without the proxy: `*`, names (and their subdomains; a leading dot is the
/// same), IP addresses and CIDR ranges, as curl reads `no_proxy`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy(Vec<String>);

impl NoProxy {
    pub fn parse(list: &str) -> NoProxy {
        NoProxy(
            list.split(',')
                .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
        )
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        self.0.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return match (ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                    (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                    _ => false,
                };
            }
            let entry = entry.trim_start_matches('[').trim_end_matches(']');
            host == entry || host.ends_with(&format!(".{entry}"))
        })
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The proxies of an invocation.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    http: Option<Proxy>,
    https: Option<Proxy>,
    no_proxy: NoProxy,
    /// `-p`: plain http through a CONNECT tunnel too.
    pub tunnel: bool,
}

impl Proxies {
    /// From `-x`, `-U`, `--noproxy`, `-p` and the environment (`env` reads a variable).
    pub fn from_args(
        args: &Args,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Proxies, Failure> {
        let usage =
            |flag: &str, why: String| Failure::new(failure::USAGE, format!("{flag}: {why}"));
        let nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let parse =
            |flag: &str, text: &str| Proxy::parse(text.trim()).map_err(|why| usage(flag, why));
        let (mut http, mut https) = match &args.proxy {
            // `-x ""` turns every proxy off, as in curl.
            Some(given) if given.is_empty() => (None, None),
            Some(given) => {
                let proxy = parse("-x/--proxy", given)?;
                (Some(proxy.clone()), Some(proxy))
            }
            None => {
                let all = nonempty("all_proxy").or_else(|| nonempty("ALL_PROXY"));
                let http = nonempty("http_proxy").or_else(|| all.clone());
                let https = nonempty("https_proxy")
                    .or_else(|| nonempty("HTTPS_PROXY"))
                    .or(all);
                (
                    http.map(|v| parse("http_proxy", &v)).transpose()?,
                    https.map(|v| parse("https_proxy", &v)).transpose()?,
                )
            }
        };
        if let Some(user) = &args.proxy_user {
            if http.is_none() && https.is_none() {
                return Err(usage(
                    "-U/--proxy-user",
                    "no proxy is in use (give -x URL)".into(),
                ));
            }
            let (name, password) = crate::plan::split_login(user);
            for proxy in [&mut http, &mut https].into_iter().flatten() {
                proxy.set_user(Some((name.to_string(), password.to_string())));
            }
        }
        if args.proxytunnel && http.is_none() && https.is_none() {
            return Err(usage(
                "-p/--proxytunnel",
                "no proxy is in use (give -x URL)".into(),
            ));
        }
        let no_proxy = match &args.noproxy {
            Some(list) => NoProxy::parse(list),
            None => NoProxy::parse(
                &nonempty("no_proxy")
                    .or_else(|| nonempty("NO_PROXY"))
                    .unwrap_or_default(),
            ),
        };
        Ok(Proxies {
            http,
            https,
            no_proxy,
            tunnel: args.proxytunnel,
        })
    }

    /// The proxy for a request to `host` over `scheme`, if any.
    pub fn for_origin(&self, scheme: Scheme, host: &str) -> Option<&Proxy> {
        let proxy = match scheme {
            Scheme::Http => self.http.as_ref(),
            Scheme::Https => self.https.as_ref(),
        };
        proxy.filter(|_| !self.no_proxy.matches(host))
    }
}

/// A failure to reach the proxy itself, said as such (curl's 5 for its name, 7 for its port).
pub fn unreachable(err: Error, proxy: &Proxy) -> Error {
    match err {
        Error::Dns { reason } => proxy_error(
            ProxyStage::Resolve,
            &format!("could not resolve the proxy {}: {reason}", proxy.describe()),
        ),
        Error::Connect(kind) => proxy_error(
            ProxyStage::Connect,
            &format!(
                "could not connect to the proxy {}: {kind:?}",
                proxy.describe()
            ),
        ),
        other => other,
    }
}

fn proxy_error(stage: ProxyStage, message: &str) -> Error {
    Error::Proxy {
        stage,
        reason: ErrorText::new(message),
    }
}

/// Asks an HTTP proxy for a tunnel to `host:port` (RFC 9110 9.3.6); the stream is then the
/// tunnel. The response head is read byte by byte so nothing after it is taken.
pub fn connect_tunnel(
    sock: &mut (impl Read + Write),
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), Error> {
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    sock.write_all(request.as_bytes())
        .map_err(|e| mreq_core::client::tcp::map_io(&e))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match sock.read(&mut byte) {
            Ok(0) => {
                return Err(proxy_error(
                    ProxyStage::Tunnel,
                    &format!(
                        "{} closed the connection before answering CONNECT {target}",
                        proxy.describe()
                    ),
                ))
            }
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(mreq_core::client::tcp::map_io(&e)),
        }
        if head.len() > MAX_CONNECT_HEAD {
            return Err(proxy_error(
                ProxyStage::Tunnel,
                "the proxy's CONNECT answer is too long",
            ));
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or("");
    let status: Option<u16> = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok());
    match status {
        Some(200..=299) => Ok(()),
        _ => Err(proxy_error(
            ProxyStage::Tunnel,
            &format!(
                "{} refused CONNECT {target}: {}{}",
                proxy.describe(),
                status_line.trim(),
                if status == Some(407) && proxy.authorization.is_none() {
                    " (give the proxy's user with -U USER:PASSWORD or in the proxy URL)"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// The SOCKS5 handshake (RFC 1928, with RFC 1929's user and password): afterwards the stream
/// leads to `host:port`. `addr` is the address resolved here (`socks5://`), `None` to send the
/// name for the proxy to resolve (`socks5h://`).
pub fn socks5(
    sock: &mut (impl Read + Write),
    proxy: &Proxy,
    host: &str,
    port: u16,
    addr: Option<IpAddr>,
) -> Result<(), Error> {
    let io = |e: std::io::Error| mreq_core::client::tcp::map_io(&e);
    let refused =
        |why: String| proxy_error(ProxyStage::Refused, &format!("{}: {why}", proxy.describe()));
    let methods: &[u8] = if proxy.user.is_some() {
        &[0x00, 0x02]
    } else {
        &[0x00]
    };
    let mut hello = vec![0x05, methods.len() as u8];
    hello.extend_from_slice(methods);
    sock.write_all(&hello).map_err(io)?;
    let mut choice = [0u8; 2];
    sock.read_exact(&mut choice).map_err(io)?;
    match choice {
        [0x05, 0x00] => {}
        [0x05, 0x02] => {
            let (name, password) = proxy.user.clone().unwrap_or_default();
            if name.len() > 255 || password.len() > 255 {
                return Err(refused(
                    "a SOCKS5 user and password have at most 255 bytes each".into(),
                ));
            }
            let mut login = vec![0x01, name.len() as u8];
            login.extend_from_slice(name.as_bytes());
            login.push(password.len() as u8);
            login.extend_from_slice(password.as_bytes());
            sock.write_all(&login).map_err(io)?;
            let mut answer = [0u8; 2];
            sock.read_exact(&mut answer).map_err(io)?;
            if answer[1] != 0 {
                return Err(refused("the proxy refused the user and password".into()));
            }
        }
        [0x05, 0xff] => {
            return Err(refused(if proxy.user.is_some() {
                "the proxy accepts none of the offered logins".into()
            } else {
                "the proxy wants a login (give -U USER:PASSWORD or put it in the proxy URL)".into()
            }))
        }
        other => return Err(refused(format!("not a SOCKS5 answer: {other:02x?}"))),
    }
    let mut request = vec![0x05, 0x01, 0x00];
    match addr {
        Some(IpAddr::V4(ip)) => {
            request.push(0x01);
            request.extend_from_slice(&ip.octets());
        }
        Some(IpAddr::V6(ip)) => {
            request.push(0x04);
            request.extend_from_slice(&ip.octets());
        }
        None => {
            if host.len() > 255 {
                return Err(refused("a host name longer than 255 bytes".into()));
            }
            request.push(0x03);
            request.push(host.len() as u8);
            request.extend_from_slice(host.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    sock.write_all(&request).map_err(io)?;
    let mut reply = [0u8; 4];
    sock.read_exact(&mut reply).map_err(io)?;
    if reply[0] != 0x05 {
        return Err(refused("not a SOCKS5 reply".into()));
    }
    if reply[1] != 0 {
        let why = match reply[1] {
            1 => "general failure",
            2 => "not allowed by its rules",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused by the destination",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        };
        return Err(refused(format!("could not reach {host}:{port}: {why}")));
    }
    // The bound address, unused.
    let skip = match reply[3] {
        0x01 => 4,
        0x04 => 16,
        0x03 => {
            let mut len = [0u8; 1];
            sock.read_exact(&mut len).map_err(io)?;
            usize::from(len[0])
        }
        _ => {
            return Err(refused(
                "a SOCKS5 reply with an unknown address type".into(),
            ))
        }
    };
    let mut rest = vec![0u8; skip + 2];
    sock.read_exact(&mut rest).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_as_curl_reads_them() {
        let p = Proxy::parse("proxy.example:3128").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (Kind::Http, "proxy.example", 3128)
        );
        let p = Proxy::parse("socks5h://u%40x:p%3Aw@[::1]").unwrap();
        assert_eq!(p.kind, Kind::Socks5 { remote_dns: true });
        assert_eq!((p.host.as_str(), p.port), ("::1", 1080));
        assert_eq!(p.user, Some(("u@x".into(), "p:w".into())));
        let p = Proxy::parse("http://joe:pw@p:8080/").unwrap();
        assert_eq!(p.authorization.as_deref(), Some("Basic am9lOnB3"));
        assert!(Proxy::parse("https://p:443").is_err());
        assert!(Proxy::parse("socks4://p").is_err());
        assert!(Proxy::parse("http://p:99999").is_err());
    }

    #[test]
    fn no_proxy_names_ips_and_ranges() {
        let list = NoProxy::parse("localhost, .internal.example,10.0.0.0/8, ::1,192.168.1.7");
        for direct in [
            "localhost",
            "a.internal.example",
            "internal.example",
            "10.2.3.4",
            "[::1]",
            "192.168.1.7",
        ] {
            assert!(list.matches(direct), "{direct}");
        }
        for proxied in [
            "example.org",
            "xinternal.example",
            "11.0.0.1",
            "192.168.1.8",
        ] {
            assert!(!list.matches(proxied), "{proxied}");
        }
        assert!(NoProxy::parse("*").matches("anything"));
    }
}
