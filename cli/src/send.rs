//! Sending one request: the client with its limits and transport (one per invocation, so several
//! URLs to one origin share a connection), the buffer a request needs, and the printer that shows
//! every hop of a redirect chain as it happens (`-v -L`, like curl -v).

use crate::args::Args;
use crate::body::BodyReader;
use crate::failure::{self, Failure};
use crate::meter::Meter;
use crate::output::{self, PrintSpec, Style};
use crate::plan::{Body, Plan};
use crate::proxy::Proxies;
use crate::stdout::Stdout;
use crate::transport::{NetConnector, Resolved, TlsSettings};
use mreq_core::client::blocking::Client;
use mreq_core::client::tcp::TcpConnector;
use mreq_core::client::{Config, Observer};
use mreq_core::request::{self, BodyFraming, HeadSpec, Header};
use mreq_core::response::ResponseHead;
use mreq_core::url::Url;
use std::io::{self, Write};
use std::time::Duration;

/// Redirects `-L` follows unless `--max-redirects` says otherwise.
pub const DEFAULT_MAX_REDIRECTS: u8 = 30;
/// Bytes kept for a redirect target's URL.
const MAX_REDIRECT_URL: usize = 64 * 1024;
/// The largest response head accepted.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// The largest request head mreq sends (URL and headers); a longer one is refused before sending.
pub const MAX_REQUEST_HEAD: usize = 1024 * 1024;

pub struct Session {
    pub client: Client<NetConnector>,
}

impl Session {
    pub fn new(args: &Args, meter: Meter) -> Result<Session, Failure> {
        let resolved = args
            .resolve
            .iter()
            .map(|entry| parse_resolve(entry))
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = seconds("--timeout", args.timeout, 30.0)?;
        let tcp = TcpConnector {
            connect_timeout: seconds("--connect-timeout", args.connect_timeout, 10.0)?,
            read_timeout: timeout,
            write_timeout: timeout,
        };
        // A CA file that cannot be used is the user's mistake: say so before connecting.
        let mut tls = TlsSettings::load(args.insecure, &args.cacert)
            .map_err(|message| Failure::new(failure::BAD_CACERT, message))?;
        match (&args.cert, &args.key) {
            (Some(cert), key) => {
                tls = tls
                    .with_client(cert, key.as_deref())
                    .map_err(|message| Failure::new(failure::BAD_CERT, message))?;
            }
            (None, Some(_)) => {
                return Err(Failure::new(
                    failure::USAGE,
                    "--key is the key of --cert: give --cert FILE too",
                ))
            }
            (None, None) => {}
        }
        let config = Config {
            max_redirects: match (args.follow, args.max_redirects) {
                (true, limit) => limit.unwrap_or(DEFAULT_MAX_REDIRECTS),
                (false, _) => 0,
            },
            max_url_len: MAX_REDIRECT_URL,
            ..Config::default()
        };
        let proxies = Proxies::from_args(args, |name| std::env::var(name).ok())?;
        if args.unix_socket.is_some() && args.proxy.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(Failure::new(
                failure::USAGE,
                "--unix-socket and -x/--proxy both say where to connect: give one",
            ));
        }
        let connector =
            NetConnector::new(tcp, tls, resolved, proxies, args.unix_socket.clone(), meter);
        Ok(Session {
            client: Client::with_config(connector, config),
        })
    }
}

/// One `--resolve HOST:PORT:ADDR[,ADDR...]` (an IPv6 address in brackets).
fn parse_resolve(entry: &str) -> Result<Resolved, Failure> {
    let bad = |why: &str| {
        Failure::new(
            failure::USAGE,
            format!("--resolve {entry:?}: {why} (expected HOST:PORT:ADDR, e.g. example.org:443:127.0.0.1)"),
        )
    };
    let mut fields = entry.splitn(3, ':');
    let (Some(host), Some(port), Some(addrs)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(bad("three fields needed"));
    };
    if host.is_empty() || host.starts_with('+') || host.starts_with('-') {
        return Err(bad(
            "a host name is needed (curl's +/- forms are not supported)",
        ));
    }
    let port: u16 = port.parse().map_err(|_| bad("not a port number"))?;
    let addrs = addrs
        .split(',')
        .map(|a| {
            let ip = a.trim().trim_start_matches('[').trim_end_matches(']');
            ip.parse::<std::net::IpAddr>()
                .map(|ip| std::net::SocketAddr::new(ip, port))
                .map_err(|_| bad(&format!("{a:?} is not an IP address")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolved {
        host: host.to_string(),
        port,
        addrs,
    })
}

/// A timeout flag in seconds (`default` when not given); 0 means no limit, as in curl.
pub fn seconds(flag: &str, value: Option<f64>, default: f64) -> Result<Option<Duration>, Failure> {
    let value = value.unwrap_or(default);
    if value == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(value).map(Some).map_err(|_| {
        Failure::new(
            failure::USAGE,
            format!("{flag} {value}: give a number of seconds, 0 for no limit"),
        )
    })
}

/// The buffer for one request: the redirect URL slot, the request head, then the response head
/// and buffered body bytes. Grows with the request (a 70 KB URL), up to [`MAX_REQUEST_HEAD`].
pub fn buffer_for(plan: &Plan, headers: &[(String, String)]) -> Result<Vec<u8>, Failure> {
    let head: usize = plan.method.len()
        + plan.url.len()
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
        + 1024;
    if head > MAX_REQUEST_HEAD {
        return Err(Failure {
            code: failure::USAGE,
            message: format!(
                "the request head for {} would be about {head} bytes; mreq sends at most {MAX_REQUEST_HEAD} (a shorter URL or fewer headers)",
                short(&plan.url)
            ),
        });
    }
    Ok(vec![
        0u8;
        MAX_REDIRECT_URL
            + head.max(MAX_RESPONSE_HEAD)
            + MAX_RESPONSE_HEAD
    ])
}

/// The start of a long URL, for messages.
fn short(url: &str) -> String {
    match url.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &url[..i]),
        None => url.to_string(),
    }
}

/// Prints each request head as it is sent and each redirect response as it arrives, as the
/// print spec says. The first output error is kept for the caller.
pub struct Hops<'a> {
    pub out: &'a mut Stdout,
    pub print: PrintSpec,
    pub style: Style,
    pub body: &'a Body,
    pub content_type: Option<&'a str>,
    pub error: Option<io::Error>,
    /// Counts heads and redirects for `-w`.
    pub meter: Option<Meter>,
    /// Keeps the cookies each redirect sets.
    pub jar: Option<&'a crate::cookies::Jar>,
}

impl Hops<'_> {
    fn attempt(&mut self, f: impl FnOnce(&mut Self) -> io::Result<()>) {
        if self.error.is_none() {
            if let Err(err) = f(self) {
                self.error = Some(err);
            }
        }
    }
}

impl Observer for Hops<'_> {
    fn request_head(&mut self, head: &[u8]) {
        if let Some(meter) = &self.meter {
            meter.update(|m| m.request_heads += head.len() as u64);
        }
        self.attempt(|hops| {
            let terminal = hops.out.is_terminal();
            if hops.print.request_head {
                output::print_head(hops.out, head, hops.style, terminal)?;
            }
            if hops.print.request_body {
                print_request_body(hops.out, hops.body, hops.content_type, hops.style)?;
            }
            Ok(())
        });
    }

    fn redirect(&mut self, head: &ResponseHead<'_>, url: &str) {
        if let Some(jar) = self.jar {
            jar.keep(url, head.as_bytes());
        }
        if let Some(meter) = &self.meter {
            meter.update(|m| {
                m.redirects += 1;
                m.redirected = m.start.map(|s| s.elapsed());
                m.response_heads += head.as_bytes().len() as u64;
            });
        }
        self.attempt(|hops| {
            if hops.print.response_head {
                let terminal = hops.out.is_terminal();
                output::print_head(hops.out, head.as_bytes(), hops.style, terminal)?;
            }
            Ok(())
        });
    }
}

/// The request body for `--print=B`: bytes as they are (JSON formatted on a terminal), a note
/// for a streamed body.
pub fn print_request_body(
    out: &mut impl Write,
    body: &Body,
    content_type: Option<&str>,
    style: Style,
) -> io::Result<()> {
    match body {
        Body::Bytes(bytes) => {
            output::print_body(out, bytes, output::is_json_type(content_type), style)?;
            writeln!(out)?;
            writeln!(out)
        }
        Body::Stream(parts) => writeln!(
            out,
            "(body streamed from {})\n",
            crate::body::describe(parts)
        ),
        Body::None => Ok(()),
    }
}

/// The request as it would be sent (the engine's own head), without sending it: `--offline`,
/// and `--device`'s `-v` (the board sends it).
pub fn print_planned(
    out: &mut Stdout,
    plan: &Plan,
    print: PrintSpec,
    style: Style,
) -> io::Result<()> {
    let terminal = out.is_terminal();
    let url = match Url::parse(&plan.url) {
        Ok(url) => url,
        Err(err) => return writeln!(out, "(not a valid URL: {}: {err})", plan.url),
    };
    let header_refs: Vec<Header<'_>> = plan
        .headers
        .iter()
        .map(|(n, v)| Header::new(n, v.as_bytes()))
        .collect();
    let framing = match &plan.body {
        Body::None if request::method_expects_body(&plan.method) => BodyFraming::Length(0),
        Body::None => BodyFraming::None,
        Body::Bytes(bytes) => BodyFraming::Length(bytes.len() as u64),
        Body::Stream(parts) => match BodyReader::open(parts).ok().and_then(|r| r.len) {
            Some(len) => BodyFraming::Length(len),
            None => BodyFraming::Chunked,
        },
    };
    let spec = HeadSpec {
        method: &plan.method,
        url: &url,
        headers: &header_refs,
        auth: crate::run::engine_auth(plan),
        body: framing,
        content_type: None,
        url_credentials: url.credentials(),
        strip_credentials: false,
        cookies: None,
    };
    if print.request_head {
        let mut head = vec![0u8; MAX_REQUEST_HEAD];
        match request::write_head(&spec, &mut head) {
            Ok(len) => output::print_head(out, &head[..len], style, terminal)?,
            Err(err) => writeln!(out, "(request head not printable: {err})")?,
        }
    }
    if print.request_body {
        print_request_body(out, &plan.body, plan.content_type(), style)?;
    }
    Ok(())
}
