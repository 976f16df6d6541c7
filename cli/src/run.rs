//! One invocation: build the request, print what was asked, send it, and deliver the response to
//! the terminal, a pipe or a file.

use crate::args::Args;
use crate::download::{self, Sink, Target};
use crate::failure::{self, Failure};
use crate::output::{self, PrintSpec, Style};
use crate::plan::{self, AuthSpec, Body, Plan};
use crate::transport::{Conn, NetConnector, TlsSettings};
use crate::zerocopy::{Splice, Splicer};
use mreq_core::auth::Auth;
use mreq_core::client::blocking::{Client, Response};
use mreq_core::client::tcp::TcpConnector;
use mreq_core::client::{Config, Request};
use mreq_core::request::{self, BodyFraming, HeadSpec, Header};
use mreq_core::url::Url;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

/// Body bytes read per call: large reads go straight from the socket into this buffer.
const CHUNK: usize = 256 * 1024;

pub fn run(args: &Args) -> Result<u8, Failure> {
    let plan = plan::build(args).map_err(Failure::usage)?;
    let url = Url::parse(&plan.url).map_err(|e| Failure {
        code: failure::USAGE,
        message: format!("{}: {e}", plan.url),
    })?;
    let host = format!("{}:{}", url.host(), url.port());
    let stdout_is_terminal = io::stdout().is_terminal();
    let target = download_target(args, &plan.url);
    let print =
        PrintSpec::from_args(args, stdout_is_terminal, target.is_some()).map_err(Failure::usage)?;
    let style = Style::new(args.pretty, stdout_is_terminal);

    let mut headers = plan.headers.clone();
    let resume_from = match &target {
        Some(t) if args.resume => t.resume_from(),
        _ => 0,
    };
    if resume_from > 0 {
        headers.push(("Range".into(), format!("bytes={resume_from}-")));
    }
    let header_refs: Vec<Header<'_>> = headers
        .iter()
        .map(|(n, v)| Header::new(n, v.as_bytes()))
        .collect();
    let auth = plan.auth.as_ref().map(|a| match a {
        AuthSpec::Basic(user, password) => Auth::Basic { user, password },
        AuthSpec::Bearer(token) => Auth::Bearer(token),
    });
    let body: &[u8] = match &plan.body {
        Body::Bytes(bytes) => bytes,
        _ => &[],
    };
    let req = Request {
        method: &plan.method,
        url: &plan.url,
        headers: &header_refs,
        auth,
        body,
        content_type: None,
    };

    let mut out = io::stdout().lock();
    if print.request_head || print.request_body {
        print_request(&mut out, &plan, &req, &url, print, style).map_err(output_failure)?;
    }
    if args.offline {
        return Ok(0);
    }
    if let Some(port) = &args.device {
        return crate::device::run(
            port,
            &plan,
            print,
            style,
            seconds(args.timeout, 30.0),
            args.check_status,
        );
    }
    if args.insecure && !args.silent {
        eprintln!("mreq: warning: TLS certificate verification is off (--insecure): anyone on the path can read and change this exchange");
    }

    let tcp = TcpConnector {
        connect_timeout: Some(seconds(args.connect_timeout, 10.0)),
        read_timeout: Some(seconds(args.timeout, 30.0)),
        write_timeout: Some(seconds(args.timeout, 30.0)),
    };
    let tls = TlsSettings {
        insecure: args.insecure,
        cacerts: args.cacert.clone(),
    };
    let config = Config {
        max_redirects: if args.follow { args.max_redirects } else { 0 },
        max_url_len: 8192,
        ..Config::default()
    };
    let connector = NetConnector::new(tcp, tls);
    let tls_failure = connector.tls_failure();
    let mut client = Client::with_config(connector, config);
    let mut buf = vec![0u8; 8192 + 64 * 1024];
    let sent = match &plan.body {
        Body::File(path, len) => {
            let file = std::fs::File::open(path).map_err(|e| {
                Failure::usage(anyhow::anyhow!("cannot read {}: {e}", path.display()))
            })?;
            client.send_streaming(&req, &mut FileReader(file), Some(*len), &mut buf)
        }
        _ => client.send(&req, &mut buf),
    };
    let mut response = match sent {
        Ok(response) => response,
        Err(err) => {
            return Err(Failure::from_engine(
                &err,
                &host,
                tls_failure.borrow().as_ref(),
            ))
        }
    };
    let status = response.status();
    let response_host = host_of(response.url()).unwrap_or(host);
    if print.response_head {
        output::print_head(&mut out, response.head().as_bytes(), style).map_err(output_failure)?;
    }
    if let Some(target) = target {
        save(&mut response, target, resume_from, args, &response_host)?;
    } else if print.response_body {
        print_body(
            &mut response,
            &mut out,
            style,
            stdout_is_terminal,
            &response_host,
        )?;
    }
    out.flush().map_err(output_failure)?;
    Ok(if args.check_status {
        failure::status_code(status).unwrap_or(0)
    } else {
        0
    })
}

fn seconds(value: Option<f64>, default: f64) -> Duration {
    Duration::try_from_secs_f64(value.unwrap_or(default)).unwrap_or(Duration::from_secs(30))
}

fn host_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| format!("{}:{}", u.host(), u.port()))
}

fn output_failure(err: io::Error) -> Failure {
    if err.kind() == io::ErrorKind::BrokenPipe {
        // `mreq URL | head`: the reader has what it wanted; end quietly, as HTTPie does.
        return Failure {
            code: 0,
            message: String::new(),
        };
    }
    Failure {
        code: failure::OTHER,
        message: format!("cannot write output: {err}"),
    }
}

fn download_target(args: &Args, url: &str) -> Option<Target> {
    match (&args.output, args.remote_name || args.download) {
        (Some(path), _) => Some(Target::new(path.clone())),
        (None, true) => Some(Target::new(download::remote_name(url))),
        (None, false) => None,
    }
}

/// Prints the request head (exactly as the engine writes it) and body.
fn print_request(
    out: &mut impl Write,
    plan: &Plan,
    req: &Request<'_>,
    url: &Url<'_>,
    print: PrintSpec,
    style: Style,
) -> io::Result<()> {
    let framing = match &plan.body {
        Body::None if request::method_expects_body(req.method) => BodyFraming::Length(0),
        Body::None => BodyFraming::None,
        Body::Bytes(bytes) => BodyFraming::Length(bytes.len() as u64),
        Body::File(_, len) => BodyFraming::Length(*len),
    };
    let spec = HeadSpec {
        method: req.method,
        url,
        headers: req.headers,
        auth: req.auth,
        body: framing,
        content_type: None,
        url_credentials: url.credentials(),
        strip_credentials: false,
    };
    let mut head = vec![0u8; 64 * 1024];
    if print.request_head {
        match request::write_head(&spec, &mut head) {
            Ok(len) => output::print_head(out, &head[..len], style)?,
            Err(err) => writeln!(out, "(request head not printable: {err})")?,
        }
    }
    if print.request_body {
        match &plan.body {
            Body::Bytes(bytes) => {
                let json = output::is_json_type(
                    plan.headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                        .map(|(_, v)| v.as_str()),
                );
                output::print_body(out, bytes, json, style)?;
                writeln!(out)?;
            }
            Body::File(path, len) => {
                writeln!(out, "(body: {len} bytes from {})\n", path.display())?
            }
            Body::None => {}
        }
    }
    Ok(())
}

/// Streams the body to stdout: raw when piped; formatted, coloured and binary-safe on a terminal.
fn print_body(
    response: &mut Response<'_, Conn>,
    out: &mut impl Write,
    style: Style,
    terminal: bool,
    host: &str,
) -> Result<(), Failure> {
    let mut chunk = vec![0u8; CHUNK];
    let engine = |err: mreq_core::Error| Failure::from_engine(&err, host, None);
    if !(style.format || style.colors || terminal) {
        out.flush().map_err(output_failure)?;
        let stdout = io::stdout();
        let splicer = Splicer::for_stdout(&stdout);
        loop {
            match next_body_bytes(response, &mut chunk, splicer.as_ref(), &stdout)
                .map_err(engine)?
            {
                Step::Spliced(0) | Step::Read(0) => return Ok(()),
                Step::Spliced(_) => {}
                Step::Read(n) => out.write_all(&chunk[..n]).map_err(output_failure)?,
            }
            if response.is_complete() {
                return Ok(());
            }
        }
    }
    let json = output::is_json_type(response.header_str("content-type"));
    let n = response.read(&mut chunk).map_err(engine)?;
    if terminal && output::looks_binary(&chunk[..n]) {
        out.write_all(output::BINARY_NOTE.as_bytes())
            .map_err(output_failure)?;
        return Ok(());
    }
    let mut body = chunk[..n].to_vec();
    loop {
        match response.read(&mut chunk).map_err(engine)? {
            0 => break,
            n => body.extend_from_slice(&chunk[..n]),
        }
    }
    output::print_body(out, &body, json, style).map_err(output_failure)
}

/// Saves a 2xx body to the target file (appending to the partial file after a 206).
fn save(
    response: &mut Response<'_, Conn>,
    target: Target,
    resume_from: u64,
    args: &Args,
    host: &str,
) -> Result<(), Failure> {
    let status = response.status();
    if !(200..300).contains(&status) {
        return Err(Failure {
            code: failure::status_code(status).unwrap_or(failure::OTHER),
            message: format!(
                "{host} answered {status} {}: nothing saved to {}",
                response.reason(),
                target.path.display()
            ),
        });
    }
    let append = status == 206 && resume_from > 0;
    if append {
        download::check_content_range(response.header_str("content-range"), resume_from)
            .map_err(Failure::other)?;
    }
    let total = response
        .header_str("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let show_progress = io::stderr().is_terminal() && !args.silent;
    let mut sink = Sink::open(
        target,
        append,
        if append { resume_from } else { 0 },
        total,
        show_progress,
    )
    .map_err(Failure::other)?;
    let mut chunk = vec![0u8; CHUNK];
    // Appending (a resumed download) cannot be spliced: splice refuses O_APPEND files.
    let splicer = if append {
        None
    } else {
        Splicer::for_file(sink.file())
    };
    loop {
        let n = match next_body_bytes(response, &mut chunk, splicer.as_ref(), sink.file()) {
            Ok(Step::Spliced(n)) => {
                sink.advance(n as u64);
                if n > 0 && !response.is_complete() {
                    continue;
                }
                0
            }
            Ok(Step::Read(n)) => n,
            Err(err) => {
                let partial = sink.abandon();
                let mut failure = Failure::from_engine(&err, host, None);
                failure.message.push_str(&format!(
                    " (partial data kept in {}; --continue resumes)",
                    partial.display()
                ));
                return Err(failure);
            }
        };
        if n == 0 {
            break;
        }
        sink.write(&chunk[..n]).map_err(Failure::other)?;
    }
    let written = sink.written;
    let path = sink.finish().map_err(Failure::other)?;
    if show_progress {
        eprintln!("saved {} ({written} bytes)", path.display());
    }
    Ok(())
}

/// The next body bytes: spliced straight to the output (`Spliced(n)`), or read into `chunk`.
enum Step {
    Spliced(usize),
    Read(usize),
}

fn next_body_bytes<O: Splice>(
    response: &mut Response<'_, Conn>,
    chunk: &mut [u8],
    splicer: Option<&Splicer>,
    out: &O,
) -> Result<Step, mreq_core::Error> {
    if let Some(splicer) = splicer {
        if let Some(n) = splicer.splice_some(response, out)? {
            return Ok(Step::Spliced(n));
        }
    }
    response.read(chunk).map(Step::Read)
}

/// A file as an `embedded_io` reader, for streamed uploads.
struct FileReader(std::fs::File);

impl embedded_io::ErrorType for FileReader {
    type Error = io::Error;
}

impl embedded_io::Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        io::Read::read(&mut self.0, buf)
    }
}
