//! One invocation: its requests in order (one client, so a connection is reused per origin), each
//! built (`plan`), sent (`send`) and its response delivered (`deliver`) to stdout or a file. The
//! exit status is the first failure's, as in curl.

use crate::args::Args;
use crate::body::BodyReader;
use crate::cookies::{self, Jar};
use crate::decode::{self, Decoded};
use crate::deliver::{self, Counted, Failed, Incoming};
use crate::device::DeviceLink;
use crate::download::{self, Resume, Sink, Target};
use crate::failure::{self, Failure};
use crate::meter::Meter;
use crate::output::{self, PrintSpec, Style};
use crate::plan::{self, AuthSpec, Body, Plan};
use crate::retry;
use crate::send::{self, Hops, Session};
use crate::session::Saved;
use crate::stdout::Stdout;
use crate::writeout::{Format, Transfer};
use mreq_core::auth::Auth;
use mreq_core::client::Request;
use mreq_core::request::CookieSource;
use mreq_core::request::Header;
use mreq_core::url::Url;
use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;

/// How requests are made: by the engine here, or by a board's (`--device`).
enum Transport {
    Local(Box<Session>),
    Device(Box<DeviceLink>),
}

/// Where one response body goes.
#[derive(Debug, Clone)]
enum Output {
    Stdout,
    /// `-o FILE` or `-O`: this name.
    File(Target),
    /// `--download`: a name from `Content-Disposition` or the URL, never overwriting.
    Download,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let plans = plan::build_all(args).map_err(|err| {
        if err.downcast_ref::<crate::data::Unreadable>().is_some() {
            Failure::coded(failure::READ_ERROR, err)
        } else {
            Failure::usage(err)
        }
    })?;
    crate::refuse::check(args)?;
    let outputs = outputs(args, &plans)?;
    let mut plans = plans;
    let first_host = plans
        .first()
        .and_then(|p| Url::parse(&p.url).ok().map(|u| u.host().to_string()))
        .unwrap_or_default();
    let mut session = Saved::open(args, &first_host)?;
    if let Some(session) = &session {
        session.apply(&mut plans);
    }
    let jar = Jar::from_args(
        args,
        &first_host,
        session.as_ref().map(|s| s.cookies.as_str()),
    )?
    .map(Rc::new);
    if let (None, Some(text)) = (&jar, cookies::given_text(&args.cookie)) {
        // Without a jar, -b NAME=VALUE is a header for every URL, as in curl.
        for plan in &mut plans {
            plan.headers.push(("Cookie".into(), text.clone()));
        }
    }
    for (plan, output) in plans.iter_mut().zip(&outputs) {
        ask_compressed(args, plan, output);
    }
    let mut out = Stdout::open().map_err(|e| output_failure(&e))?;
    if args.pretty.is_some() && !args.offline {
        let prints = outputs.iter().any(|o| {
            let to_file = !matches!(o, Output::Stdout);
            PrintSpec::from_args(args, out.is_terminal(), to_file).is_ok_and(|p| {
                p.request_head || p.request_body || p.response_head || p.response_body
            })
        });
        if !prints {
            return Err(usage(
                "--pretty formats what is printed, and nothing is (the body goes to a file): add -v, -i or --print".into(),
            ));
        }
    }
    if args.offline {
        for plan in &plans {
            let mut plan = plan.clone();
            plan.headers.extend(jar_cookie(jar.as_deref(), &plan.url));
            let plan = &plan;
            let terminal = out.is_terminal();
            let print = PrintSpec::from_args(args, terminal, false).map_err(Failure::usage)?;
            let style = Style::new(args.pretty, terminal);
            send::print_planned(&mut out, plan, print, style).map_err(|e| output_failure(&e))?;
        }
        if let Some(jar) = &jar {
            jar.save(&mut out)?;
        }
        out.flush().map_err(|e| output_failure(&e))?;
        return Ok(0);
    }
    let write_out = match &args.write_out {
        Some(format) => Some(Format::parse(format).map_err(usage)?),
        None => None,
    };
    let max_time = send::seconds("-m/--max-time", args.max_time, 0.0)?;
    let meter = Meter::default();
    let mut transport = match &args.device {
        Some(port) => Transport::Device(Box::new(DeviceLink::connect(port, args)?)),
        None => {
            if args.insecure && !args.silent {
                eprintln!("mreq: warning: TLS certificate verification is off (--insecure): anyone on the path can read and change this exchange");
            }
            Transport::Local(Box::new(Session::new(args, meter.clone())?))
        }
    };
    let mut status = 0;
    let policy = retry::Policy::from_args(args)?;
    for (urlnum, (plan, output)) in plans.iter().zip(outputs).enumerate() {
        let to_stdout = matches!(output, Output::Stdout);
        let policy = policy.as_ref().map(|p| RefCell::new(p.fresh()));
        let (code, transfer) = loop {
            meter.begin(max_time);
            let mut transfer = Transfer {
                method: plan.method.clone(),
                url: plan.url.clone(),
                effective: plan.url.clone(),
                urlnum,
                ..Transfer::default()
            };
            let seen = Seen {
                meter: &meter,
                transfer: &mut transfer,
                policy: policy.as_ref(),
                jar: jar.as_deref(),
            };
            let result = fetch(&mut transport, args, plan, output.clone(), &mut out, seen);
            let failure = match result {
                Ok(code) => break (code, transfer),
                Err(failure) => failure,
            };
            let marks = meter.marks();
            let again = policy.as_ref().and_then(|p| {
                let mut p = p.borrow_mut();
                // A declined status took its attempt already (and its wait was decided then).
                if let Some(wait) = marks.declined {
                    return Some((wait, p.left()));
                }
                // Bytes already on stdout cannot be taken back; a file is written anew.
                let clean = !to_stdout || marks.downloaded == 0;
                (clean && p.retries(failure.code))
                    .then(|| p.next_wait(None))
                    .flatten()
                    .map(|wait| (wait, p.left()))
            });
            if let Some((wait, left)) = again {
                if !args.silent {
                    eprintln!(
                        "mreq: warning: {}: retrying in {:.1} s ({left} {} left)",
                        failure.message,
                        wait.as_secs_f64(),
                        if left == 1 { "retry" } else { "retries" }
                    );
                }
                std::thread::sleep(wait);
                continue;
            }
            failure.report(args);
            transfer.error = failure.message.clone();
            break (failure.code, transfer);
        };
        let mut transfer = transfer;
        if let Some(format) = &write_out {
            transfer.exit = code;
            transfer.marks = meter.marks();
            format
                .write(&transfer, &mut out, &mut io::stderr())
                .map_err(|e| output_failure(&e))?;
        }
        if status == 0 {
            status = code;
        }
        if to_stdout && out.is_closed() {
            // The reader of stdout is gone: it has what it wanted.
            break;
        }
    }
    // Written whatever happened, as curl does: the cookies received are kept. A failure to
    // write them is reported and is the exit status unless an earlier one is.
    let mut keep = |written: Result<(), Failure>| {
        if let Err(failure) = written {
            failure.report(args);
            if status == 0 {
                status = failure.code;
            }
        }
    };
    if let (Some(session), Some(jar), Some(first)) = (&mut session, &jar, plans.first()) {
        keep(session.save(first, jar.netscape()));
    }
    if let Some(jar) = &jar {
        keep(jar.save(&mut out));
    }
    out.flush().map_err(|e| output_failure(&e))?;
    Ok(status)
}

/// The jar's cookies for a URL as a `Cookie` header, if it has any (what `--offline` and
/// `--device` show and send: there the engine does not ask the jar per hop).
fn jar_cookie(jar: Option<&Jar>, url: &str) -> Option<(String, String)> {
    let value = jar?.value_for(url);
    (!value.is_empty()).then(|| ("Cookie".to_string(), value))
}

/// Asks for a compressed body where mreq decodes it: everywhere with `--compressed`, else for
/// stdout unless the user chose `Accept-Encoding` (then the bytes are theirs, as in curl). A file
/// gets the bytes as sent, so sizes and resumes stay exact.
fn ask_compressed(args: &Args, plan: &mut Plan, output: &Output) {
    let chosen = plan.has_header("accept-encoding");
    let wanted = args.compressed || (matches!(output, Output::Stdout) && !chosen);
    if wanted && !chosen {
        plan.headers
            .push(("Accept-Encoding".into(), decode::ACCEPT.into()));
    }
    plan.decode = wanted && plan.method != "HEAD";
}

/// Pairs each request with where its body goes: `-o` in order (as curl pairs them), else `-O`
/// or `--download` for every URL, else stdout.
fn outputs(args: &Args, plans: &[Plan]) -> Result<Vec<Output>, Failure> {
    if args.output.len() > plans.len() {
        return Err(usage(format!(
            "-o/--output given {} times for {} URL(s): each -o names the file of one URL",
            args.output.len(),
            plans.len()
        )));
    }
    let outputs: Vec<Output> = plans
        .iter()
        .enumerate()
        .map(|(i, plan)| match args.output.get(i) {
            Some(path) if path.as_os_str() == "-" => Output::Stdout,
            Some(path) => Output::File(Target::new(path.clone())),
            None if args.remote_name => Output::File(Target::new(download::remote_name(&plan.url))),
            None if args.download && args.resuming() => {
                Output::File(Target::new(download::remote_name(&plan.url)))
            }
            None if args.download => Output::Download,
            None => Output::Stdout,
        })
        .collect();
    if args.resuming() && outputs.iter().any(|o| matches!(o, Output::Stdout)) {
        return Err(usage(format!(
            "{} resumes a file: give -o FILE, -O or --download for every URL",
            args.resume_flag()
        )));
    }
    Ok(outputs)
}

/// Where the download continues: the end of what is on disk (`--continue`, `-C -`), or `-C N`
/// when the file holds exactly N bytes (any other offset would leave a gap or overwrite data).
fn resume_from(args: &Args, target: &Target) -> Result<Option<Resume>, Failure> {
    let found = target.resume();
    let Some(offset) = args.continue_at.as_deref().filter(|o| *o != "-") else {
        return Ok(found);
    };
    let offset: u64 = offset.parse().map_err(|_| {
        usage(format!(
            "-C {offset}: give a byte offset, or - to continue where the file ends"
        ))
    })?;
    let have = found.as_ref().map_or(0, |r| r.from);
    if offset != have {
        return Err(usage(format!(
            "-C {offset}: {} holds {have} bytes, so resuming at {offset} would {} (-C - continues where it ends)",
            target.path.display(),
            if offset > have { "leave a gap" } else { "overwrite what it holds" }
        )));
    }
    Ok(found)
}

fn usage(message: String) -> Failure {
    Failure::new(failure::USAGE, message)
}

/// Where a transfer's figures go for `-w`: the meter, and what the response said.
struct Seen<'a> {
    meter: &'a Meter,
    transfer: &'a mut Transfer,
    /// `--retry`'s attempts left: a transient status is not delivered while one remains.
    policy: Option<&'a RefCell<retry::Policy>>,
    /// The cookie engine (`-b FILE`, `-c`).
    jar: Option<&'a Jar>,
}

impl Seen<'_> {
    /// The final response's status, URL and headers.
    fn response(&mut self, response: &dyn Incoming) {
        let head = response.head_bytes();
        self.meter.update(|m| m.response_heads += head.len() as u64);
        let t = &mut *self.transfer;
        t.status = response.status();
        t.effective = response.url().to_string();
        t.headers = deliver::head_fields(head);
    }
}

/// One request, start to end: its exit code (0, or 3/4/5 with --check-status).
fn fetch(
    transport: &mut Transport,
    args: &Args,
    plan: &Plan,
    output: Output,
    out: &mut Stdout,
    mut seen: Seen<'_>,
) -> Result<u8, Failure> {
    let url = Url::parse(&plan.url).map_err(|e| usage(format!("{}: {e}", plan.url)))?;
    let host = authority(&url);
    let to_file = !matches!(output, Output::Stdout);
    let print = PrintSpec::from_args(args, out.is_terminal(), to_file).map_err(Failure::usage)?;
    let style = Style::new(args.pretty, out.is_terminal());

    let resume = match &output {
        Output::File(target) if args.resuming() => resume_from(args, target)?,
        _ => None,
    };
    let mut headers = plan.headers.clone();
    if let Some(resume) = &resume {
        headers.push(("Range".into(), format!("bytes={}-", resume.from)));
    }
    let session = match transport {
        Transport::Local(session) => session,
        Transport::Device(link) => {
            // The board follows redirects itself: the jar's cookies go with the first URL.
            let cookie = jar_cookie(seen.jar, &plan.url);
            headers.extend(cookie.clone());
            if print.request_head || print.request_body {
                let mut shown = plan.clone();
                shown.headers.extend(cookie);
                let as_sent = link.as_sent(&shown);
                send::print_planned(out, &as_sent, print, style).map_err(|e| output_failure(&e))?;
                out.flush().map_err(|e| output_failure(&e))?;
            }
            let mut response = link.send(plan, &headers, &host)?;
            if let Some(jar) = seen.jar {
                jar.keep(response.url(), response.head_bytes());
            }
            seen.response(&response);
            let delivery = Delivery {
                args,
                print,
                style,
                host,
                meter: seen.meter.clone(),
                policy: seen.policy,
                decode: plan.decode,
            };
            return delivery.deliver(&mut response, output, resume, out);
        }
    };
    let header_refs: Vec<Header<'_>> = headers
        .iter()
        .map(|(n, v)| Header::new(n, v.as_bytes()))
        .collect();
    let req = Request {
        method: &plan.method,
        url: &plan.url,
        headers: &header_refs,
        auth: engine_auth(plan),
        body: match &plan.body {
            Body::Bytes(bytes) => bytes,
            _ => &[],
        },
        content_type: None,
        cookies: seen.jar.map(|jar| jar as &dyn CookieSource),
    };
    // Every file is opened before anything is sent: a missing one costs no request.
    let mut reader = match &plan.body {
        Body::Stream(parts) => {
            Some(BodyReader::open(parts).map_err(|e| Failure::coded(failure::READ_ERROR, e))?)
        }
        _ => None,
    };
    let mut buf = send::buffer_for(plan, &headers)?;
    let mut hops = Hops {
        out,
        print,
        style,
        body: &plan.body,
        content_type: plan.content_type(),
        error: None,
        meter: Some(seen.meter.clone()),
        jar: seen.jar,
    };
    let sent = match reader.as_mut() {
        Some(reader) => {
            let len = reader.len;
            session
                .client
                .send_with(&req, Some((reader, len)), &mut hops, &mut buf)
        }
        None => session
            .client
            .send_with(&req, None::<(&mut BodyReader, _)>, &mut hops, &mut buf),
    };
    if let Some(err) = hops.error.take() {
        return Err(output_failure(&err));
    }
    let mut response = sent.map_err(|err| Failure::from_engine(&err, &host))?;
    if let Some(jar) = seen.jar {
        jar.keep(response.url(), response.head().as_bytes());
    }
    // After a redirect the body comes from another host: name that one in messages.
    let host = match response.url() {
        final_url if final_url == plan.url => host,
        final_url => Url::parse(final_url).map(|u| authority(&u)).unwrap_or(host),
    };
    seen.response(&response);
    let delivery = Delivery {
        args,
        print,
        style,
        host,
        meter: seen.meter.clone(),
        policy: seen.policy,
        decode: plan.decode,
    };
    delivery.deliver(&mut response, output, resume, out)
}

/// How a received response is shown and where its body goes: the same for a local response
/// and for one a board received.
struct Delivery<'a> {
    args: &'a Args,
    print: PrintSpec,
    style: Style,
    /// `host:port` the response came from, for messages.
    host: String,
    /// Counts the body bytes delivered (`-w`).
    meter: Meter,
    /// `--retry`'s attempts left.
    policy: Option<&'a RefCell<retry::Policy>>,
    /// The body is decoded (mreq asked for a compressed one).
    decode: bool,
}

impl Delivery<'_> {
    fn deliver(
        &self,
        response: &mut dyn Incoming,
        output: Output,
        resume: Option<Resume>,
        out: &mut Stdout,
    ) -> Result<u8, Failure> {
        let mut counted = Counted::new(response);
        let status = counted.status();
        let has_body = !matches!(status, 204 | 304) && status >= 200;
        let codings = match counted.header_str("content-encoding") {
            value if self.decode && has_body => decode::codings(value),
            _ => Ok(Vec::new()),
        };
        let delivered = match codings {
            Ok(codings) if codings.is_empty() => {
                self.deliver_counted(&mut counted, output, resume, out)
            }
            Ok(codings) => {
                let mut decoded = Decoded::new(&mut counted, &codings);
                self.deliver_counted(&mut decoded, output, resume, out)
            }
            Err(unknown) => Err(Failure::new(
                failure::BAD_ENCODING,
                format!(
                    "{} sent the body in the Content-Encoding {unknown:?}, which mreq cannot decode (without --compressed, -o FILE saves it as sent)",
                    self.host
                ),
            )),
        };
        self.meter.update(|m| m.downloaded += counted.bytes);
        delivered
    }

    fn deliver_counted(
        &self,
        response: &mut dyn Incoming,
        output: Output,
        resume: Option<Resume>,
        out: &mut Stdout,
    ) -> Result<u8, Failure> {
        let (args, print, style) = (self.args, self.print, self.style);
        let status = response.status();
        let retry = self.policy.filter(|_| retry::transient_status(status));
        let after = || {
            response
                .header_str("retry-after")
                .and_then(retry::retry_after)
        };
        if let Some(wait) = retry.and_then(|p| p.borrow_mut().next_wait(after())) {
            self.meter.update(|m| m.declined = Some(wait));
            return Err(Failure::new(
                failure::status_code(status).unwrap_or(failure::OTHER),
                format!("{} answered {status} {}", self.host, response.reason()),
            ));
        }
        if print.response_head {
            let terminal = out.is_terminal();
            output::print_head(out, response.head_bytes(), style, terminal)
                .map_err(|e| output_failure(&e))?;
        }
        let failed = args.failing() && status >= 400;
        if failed && !args.fail_with_body {
            out.flush().map_err(|e| output_failure(&e))?;
            return Err(self.http_error(response));
        }
        match output {
            Output::Stdout if print.response_body => {
                let delivered = if out.is_terminal() || style.format || style.colors {
                    deliver::to_terminal(response, out, style)
                } else {
                    deliver::copy_body(response, out).map(|_| ())
                };
                delivered.map_err(|failed| self.failure(failed))?;
            }
            Output::Stdout => {}
            Output::File(target) => return self.save(response, target, resume),
            Output::Download => {
                let target = Target::new(download_name(response, args.silent));
                return self.save(response, target, None);
            }
        }
        out.flush().map_err(|e| output_failure(&e))?;
        if failed {
            return Err(self.http_error(response));
        }
        Ok(if args.check_status {
            failure::status_code(status).unwrap_or(0)
        } else {
            0
        })
    }

    /// `-f`/`--fail-with-body`: a 4xx or 5xx response, exit 22 as curl.
    fn http_error(&self, response: &dyn Incoming) -> Failure {
        Failure::new(
            failure::HTTP_ERROR,
            format!(
                "{} answered {} {} ({})",
                self.host,
                response.status(),
                response.reason(),
                if self.args.fail_with_body {
                    "--fail-with-body"
                } else {
                    "-f/--fail"
                }
            ),
        )
    }

    /// What a failed delivery tells the user.
    fn failure(&self, failed: Failed) -> Failure {
        match failed {
            Failed::Source(err) => Failure::from_engine(&err, &self.host),
            Failed::Device(failure) => failure,
            Failed::Sink(err) => output_failure(&err),
            Failed::Decode(why) => {
                Failure::new(failure::BAD_ENCODING, format!("{}: {why}", self.host))
            }
        }
    }
}
pub fn engine_auth(plan: &Plan) -> Option<Auth<'_>> {
    plan.auth.as_ref().map(|a| match a {
        AuthSpec::Basic(user, password) => Auth::Basic { user, password },
        AuthSpec::Bearer(token) => Auth::Bearer(token),
    })
}

/// `host:port` of a URL, for messages.
fn authority(url: &Url<'_>) -> String {
    format!("{}:{}", url.host(), url.port())
}

/// An error writing stdout (the reader going away is not one: [`Stdout`] absorbs it).
pub fn output_failure(err: &io::Error) -> Failure {
    Failure::new(failure::WRITE_ERROR, format!("cannot write output: {err}"))
}

/// `--download`'s file name: `Content-Disposition`'s if it is a plain name, else the URL's last
/// segment; never an existing file's.
fn download_name(response: &dyn Incoming, silent: bool) -> PathBuf {
    let suggested = response
        .header_str("content-disposition")
        .and_then(download::disposition_name);
    let name = match suggested {
        Some(Ok(name)) => PathBuf::from(name),
        Some(Err(refused)) => {
            if !silent {
                eprintln!(
                "mreq: warning: ignoring the file name {refused:?} the server suggested (not a plain file name)"
            );
            }
            download::remote_name(response.url())
        }
        None => download::remote_name(response.url()),
    };
    download::unused_name(name)
}

impl Delivery<'_> {
    /// Saves a 2xx body to the target file (appending to what is there after a 206).
    fn save(
        &self,
        response: &mut dyn Incoming,
        target: Target,
        resume: Option<Resume>,
    ) -> Result<u8, Failure> {
        let (args, host) = (self.args, self.host.as_str());
        let status = response.status();
        let name = target.path.display().to_string();
        self.meter.update(|m| m.filename = Some(name));
        let show_progress = io::stderr().is_terminal() && !args.silent;
        if let (416, Some(resume)) = (status, &resume) {
            target
                .complete_resumed(resume, response.header_str("content-range"))
                .map_err(|e| Failure::coded(failure::RANGE_ERROR, e))?;
            if show_progress {
                eprintln!(
                    "{} is already complete ({} bytes)",
                    target.path.display(),
                    resume.from
                );
            }
            return Ok(0);
        }
        if status >= 400 && args.fail_with_body {
            // curl's --fail-with-body keeps the error body: saved whole, then exit 22.
            let mut sink = Sink::open(target, None, None, false)
                .map_err(|e| Failure::coded(failure::WRITE_ERROR, e))?;
            deliver::copy_body(response, &mut sink).map_err(|failed| self.failure(failed))?;
            sink.finish()
                .map_err(|e| Failure::coded(failure::WRITE_ERROR, e))?;
            return Err(self.http_error(response));
        }
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
        let resume = match resume {
            Some(resume) if status == 206 => {
                download::check_content_range(response.header_str("content-range"), resume.from)
                    .map_err(Failure::other)?;
                Some(resume)
            }
            Some(_) => {
                if !args.silent {
                    eprintln!(
                        "mreq: warning: {host} ignored the range request: downloading {} in full",
                        target.path.display()
                    );
                }
                None
            }
            None => None,
        };
        // A decoded body is longer than its Content-Length says.
        let decoded = self.decode && response.header_str("content-encoding").is_some();
        let total = response
            .header_str("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|_| !decoded);
        let mut sink = Sink::open(target, resume.as_ref(), total, show_progress)
            .map_err(|e| Failure::coded(failure::WRITE_ERROR, e))?;
        match deliver::copy_body(response, &mut sink) {
            Ok(_) => {}
            Err(failed @ (Failed::Source(_) | Failed::Device(_) | Failed::Decode(_))) => {
                let partial = sink.abandon();
                let mut failure = self.failure(failed);
                failure.message.push_str(&format!(
                    " (partial data kept in {}; --continue resumes)",
                    partial.display()
                ));
                return Err(failure);
            }
            Err(Failed::Sink(err)) => {
                let message = format!("cannot write {}: {err}", sink.writing().display());
                sink.abandon();
                return Err(Failure::new(failure::WRITE_ERROR, message));
            }
        }
        let written = sink.written;
        let path = sink
            .finish()
            .map_err(|e| Failure::coded(failure::WRITE_ERROR, e))?;
        if show_progress {
            eprintln!("saved {} ({written} bytes)", path.display());
        }
        Ok(if args.check_status {
            failure::status_code(status).unwrap_or(0)
        } else {
            0
        })
    }
}
