//! `mreq --device`: requests run on a board, through the firmware's side of the link
//! (`mreq-link`, firmware/PROTOCOL.md), and their responses are delivered exactly as local ones
//! ([`DeviceResponse`] is an [`Incoming`] like the engine's response).
//!
//! On connect the host greets the board and waits for its answer (versions, board, limits), so
//! the first request after boot is not lost and requests the board cannot take are refused
//! before they are sent. Every request carries an id; frames of other ids are skipped.

mod line;

use crate::args::Args;
use crate::body::BodyReader;
use crate::deliver::{Failed, Incoming};
use crate::failure::{self, Failure};
use crate::plan::{AuthSpec, Body, Plan};
use line::{Frame, Line};
use mreq_core::response::{parse_head, HeadInfo, ResponseHead};
use mreq_link::{BodyLen, Hello, Kind, Options, RequestFrame};
use std::time::{Duration, Instant};

/// How long the host waits for a board to answer its greeting (it may still be booting), and
/// how often it greets again meanwhile (a board's serial input is lost while it boots).
const HANDSHAKE_WAIT: Duration = Duration::from_secs(30);
const GREET_EVERY: Duration = Duration::from_secs(2);
/// Request body bytes per `data` frame.
const DATA_FRAME: usize = 1024;
/// Response head fields accepted (as the engine does locally).
const MAX_HEADERS: usize = 128;

/// What the board said about itself.
pub struct Board {
    pub firmware: String,
    pub name: String,
    /// The `User-Agent` it sends for requests that name none.
    pub agent: String,
    pub max_request: usize,
    pub max_headers: usize,
}

/// An open line to a board that answered the greeting.
pub struct DeviceLink {
    line: Line,
    board: Board,
    next_id: u32,
    options: Options,
}

impl DeviceLink {
    /// Opens the line and greets the board.
    pub fn connect(port: &str, args: &Args) -> Result<DeviceLink, Failure> {
        let mut line = Line::open(port)?;
        line::catch_interrupt();
        let first_id = first_id();
        let board = handshake(&mut line, first_id)?;
        if args.verbose {
            eprintln!(
                "mreq: device on {port}: board {}, mreq-fw {}",
                board.name, board.firmware
            );
        }
        let ms = |flag, value, default| -> Result<u32, Failure> {
            let limit = crate::send::seconds(flag, value, default)?;
            Ok(limit.map_or(0, |d| {
                u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
            }))
        };
        let options = Options {
            body: BodyLen::None,
            replay: true,
            redirects: match (args.follow, args.max_redirects) {
                (true, limit) => limit.unwrap_or(crate::send::DEFAULT_MAX_REDIRECTS),
                (false, _) => 0,
            },
            connect_ms: ms("--connect-timeout", args.connect_timeout, 10.0)?,
            read_ms: ms("--timeout", args.timeout, 30.0)?,
            max_ms: ms("-m/--max-time", args.max_time, 0.0)?,
        };
        Ok(DeviceLink {
            line,
            board,
            next_id: first_id.wrapping_add(1).max(1),
            options,
        })
    }

    /// The request as the board will send it, for `-v`: its own `User-Agent` in place of mreq's.
    pub fn as_sent(&self, plan: &Plan) -> Plan {
        let mut plan = plan.clone();
        for (name, value) in plan.headers.iter_mut() {
            if is_default_agent(name, value) {
                value.clone_from(&self.board.agent);
            }
        }
        plan
    }

    /// Sends one request (its headers as the engine would send them locally) and returns the
    /// response once its head arrived; `host` names the server in messages.
    pub fn send(
        &mut self,
        plan: &Plan,
        headers: &[(String, String)],
        host: &str,
    ) -> Result<DeviceResponse<'_>, Failure> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        // Files are opened before anything is sent: a missing one costs no request.
        let mut reader = match &plan.body {
            Body::Stream(parts) => {
                Some(BodyReader::open(parts).map_err(|e| Failure::coded(failure::READ_ERROR, e))?)
            }
            _ => None,
        };
        let body_len = match (&plan.body, &reader) {
            (Body::Bytes(bytes), _) => BodyLen::Known(bytes.len() as u64),
            (Body::Stream(_), Some(reader)) => reader.len.map_or(BodyLen::Chunked, BodyLen::Known),
            _ => BodyLen::None,
        };
        let replay = reader.as_ref().is_none_or(|r| r.rereadable);
        let payload = self.request_payload(plan, headers, body_len, replay)?;
        self.line.active = Some(id);
        self.line.send(Kind::Request, id, payload.as_bytes())?;
        let context = Context {
            board: &self.board.name,
            host,
        };
        let mut body = match (&plan.body, reader.as_mut()) {
            (Body::Bytes(bytes), _) => Upload::Bytes(bytes, 0),
            (_, Some(reader)) => Upload::Stream(reader),
            _ => Upload::None,
        };
        match body_len {
            BodyLen::None | BodyLen::Known(0) => {}
            BodyLen::Known(n) => upload(&mut self.line, id, &mut body, Some(n), &context)?,
            BodyLen::Chunked => upload(&mut self.line, id, &mut body, None, &context)?,
        }
        let head = loop {
            let frame = self.line.next_frame(id, None)?;
            match frame {
                Some(Frame {
                    kind: Kind::Head,
                    payload,
                }) => break payload,
                Some(Frame {
                    kind: Kind::Rewind, ..
                }) => {
                    let again = answer_rewind(&mut self.line, id, &mut body)?;
                    if again {
                        let len = match body_len {
                            BodyLen::Known(n) => Some(n),
                            _ => None,
                        };
                        upload(&mut self.line, id, &mut body, len, &context)?;
                    }
                }
                Some(frame) => handle_other(frame, &context)?,
                None => {}
            }
        };
        DeviceResponse::new(&mut self.line, id, head, &self.board.name, host)
    }

    /// The `req` payload: every header the engine would send here, except mreq's own
    /// `User-Agent` (the board names itself unless the user chose one), within the board's limits.
    fn request_payload(
        &self,
        plan: &Plan,
        headers: &[(String, String)],
        body: BodyLen,
        replay: bool,
    ) -> Result<String, Failure> {
        let usage = |message: String| Failure::new(failure::USAGE, message);
        let mut all: Vec<(&str, String)> = headers
            .iter()
            .filter(|(n, v)| !is_default_agent(n, v))
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        if let Some(value) = authorization(plan)? {
            all.push(("Authorization", value));
        }
        let board = &self.board;
        if all.len() > board.max_headers {
            return Err(usage(format!(
                "--device: {} headers; the board ({}) takes at most {}",
                all.len(),
                board.name,
                board.max_headers
            )));
        }
        let options = Options {
            body,
            replay,
            ..self.options
        };
        let mut payload = String::new();
        RequestFrame::write(
            &plan.method,
            &plan.url,
            &options,
            all.iter().map(|(n, v)| (*n, v.as_str())),
            &mut payload,
        )
        .map_err(|e| usage(format!("--device: {e}")))?;
        if payload.len() > board.max_request {
            return Err(usage(format!(
                "--device: the URL and headers take {} bytes; the board ({}) takes at most {}",
                payload.len(),
                board.name,
                board.max_request
            )));
        }
        Ok(payload)
    }
}

/// mreq's own default `User-Agent`, which stays home: the board sends its own instead.
fn is_default_agent(name: &str, value: &str) -> bool {
    name.eq_ignore_ascii_case("user-agent") && value == crate::plan::USER_AGENT
}

/// The first request id: different for each run, so a board that still streams a killed
/// run's answer cannot be taken for this one's.
fn first_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32);
    (nanos ^ std::process::id().rotate_left(16)).max(1)
}

/// Greets the board until it answers (or [`HANDSHAKE_WAIT`] passes).
fn handshake(line: &mut Line, id: u32) -> Result<Board, Failure> {
    let mut greeting = String::new();
    let _ = mreq_link::greeting(&mut greeting);
    let started = Instant::now();
    while started.elapsed() < HANDSHAKE_WAIT {
        line.send(Kind::Hello, id, greeting.as_bytes())?;
        let waited = started.elapsed();
        let wait = GREET_EVERY.min(HANDSHAKE_WAIT.saturating_sub(waited));
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match line.next_frame(id, Some(left))? {
                Some(Frame {
                    kind: Kind::Hello,
                    payload,
                }) if Hello::parse(&payload).is_some() => return board_of(&payload, &line.port),
                // Not an answer: the board echoing our greeting as typed text (it had lost the
                // start of the line while booting). The next greeting starts a fresh line.
                Some(Frame {
                    kind: Kind::Hello, ..
                }) => {}
                Some(Frame {
                    kind: Kind::Error,
                    payload,
                }) => {
                    let text = String::from_utf8_lossy(&payload);
                    let (_, message) = text.split_once(' ').unwrap_or(("", &text));
                    return Err(Failure::new(
                        failure::OTHER,
                        format!("the device on {} refused the link: {message}", line.port),
                    ));
                }
                Some(_) => {}
                None => break,
            }
        }
    }
    Err(Failure::new(
        failure::TIMEOUT,
        format!(
            "no answer from a device on {} within {} s: is mreq firmware running there? (mreq-flash --monitor shows its console)",
            line.port,
            HANDSHAKE_WAIT.as_secs()
        ),
    ))
}

fn board_of(payload: &[u8], port: &str) -> Result<Board, Failure> {
    let hello = Hello::parse(payload).ok_or_else(|| {
        Failure::new(
            failure::PROTOCOL,
            format!(
                "the device on {port} answered with something that is not mreq-link: {:?}",
                String::from_utf8_lossy(payload)
            ),
        )
    })?;
    if hello.protocol != mreq_link::VERSION {
        return Err(Failure::new(
            failure::OTHER,
            format!(
                "the device on {port} speaks mreq-link {}, this mreq {}: update the older one (mreq-flash, or cargo install)",
                hello.protocol,
                mreq_link::VERSION
            ),
        ));
    }
    Ok(Board {
        firmware: hello.firmware.to_string(),
        name: hello.board.to_string(),
        agent: hello.agent.to_string(),
        max_request: hello.max_request as usize,
        max_headers: hello.max_headers as usize,
    })
}

/// The `Authorization` value for `-u` or `--bearer`, as the engine builds it locally.
fn authorization(plan: &Plan) -> Result<Option<String>, Failure> {
    let Some(auth) = crate::run::engine_auth(plan) else {
        return Ok(None);
    };
    let secret_len = match &plan.auth {
        Some(AuthSpec::Basic(user, password)) => user.len() + password.len(),
        Some(AuthSpec::Bearer(token)) => token.len(),
        None => 0,
    };
    let mut value = vec![0u8; 2 * secret_len + 16];
    let value = auth
        .header_value(&mut value)
        .map_err(|e| Failure::new(failure::USAGE, format!("credentials: {e}")))?;
    Ok(Some(value.to_string()))
}

/// Names for messages: the board and the server it talked to.
struct Context<'a> {
    board: &'a str,
    host: &'a str,
}

impl Context<'_> {
    /// An `error` frame as a failure: the code from its kind, the board's words.
    fn failure(&self, payload: &[u8]) -> Failure {
        let text = String::from_utf8_lossy(payload);
        let (kind, message) = text.split_once(' ').unwrap_or((&text, ""));
        Failure::new(
            failure::code_for_kind(kind),
            format!(
                "{message} (on the device {}, requesting {})",
                self.board, self.host
            ),
        )
    }
}

/// Frames that may come at any time: `alive`, `warn`, `error`, or one out of place.
fn handle_other(frame: Frame, context: &Context<'_>) -> Result<(), Failure> {
    match frame.kind {
        Kind::Alive | Kind::More => Ok(()),
        Kind::Warn => {
            eprintln!(
                "mreq: warning from the device: {}",
                String::from_utf8_lossy(&frame.payload)
            );
            Ok(())
        }
        Kind::Error => Err(context.failure(&frame.payload)),
        other => Err(Failure::new(
            failure::PROTOCOL,
            format!(
                "the device {} sent a {} frame out of place",
                context.board,
                other.name()
            ),
        )),
    }
}

/// The request body as it is sent.
enum Upload<'a> {
    None,
    Bytes(&'a [u8], usize),
    Stream(&'a mut BodyReader),
}

impl Upload<'_> {
    /// Goes back to the first byte; `false` for a body that cannot be read twice (a pipe).
    fn rewind(&mut self) -> bool {
        match self {
            Upload::None => true,
            Upload::Bytes(_, at) => {
                *at = 0;
                true
            }
            Upload::Stream(reader) => mreq_core::client::blocking::BodySource::rewind(*reader),
        }
    }

    /// The next bytes, at most `max`; empty at the end.
    fn next(&mut self, max: usize) -> Result<Vec<u8>, Failure> {
        match self {
            Upload::None => Ok(Vec::new()),
            Upload::Bytes(bytes, at) => {
                let end = (*at + max).min(bytes.len());
                let piece = bytes[*at..end].to_vec();
                *at = end;
                Ok(piece)
            }
            Upload::Stream(reader) => {
                let mut piece = vec![0u8; max];
                let n = reader.read_some(&mut piece).map_err(|e| {
                    Failure::new(failure::READ_ERROR, format!("cannot read the body: {e}"))
                })?;
                piece.truncate(n);
                Ok(piece)
            }
        }
    }
}

/// Streams the body in `data` frames as the board grants room (`more`), then `end`: at once
/// when the declared length is sent (the board asks for no more then), else when the body ends.
fn upload(
    line: &mut Line,
    id: u32,
    body: &mut Upload<'_>,
    len: Option<u64>,
    context: &Context<'_>,
) -> Result<(), Failure> {
    let mut credit = 0usize;
    let mut sent = 0u64;
    loop {
        while credit > 0 {
            let piece = body.next(credit.min(DATA_FRAME))?;
            if piece.is_empty() {
                return line.send(Kind::End, id, &[]);
            }
            credit -= piece.len();
            sent += piece.len() as u64;
            line.send(Kind::Data, id, &piece)?;
            if len == Some(sent) {
                return line.send(Kind::End, id, &[]);
            }
        }
        match line.next_frame(id, None)? {
            Some(Frame {
                kind: Kind::More,
                payload,
            }) => {
                credit += std::str::from_utf8(&payload)
                    .ok()
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        Failure::new(failure::PROTOCOL, "the device sent a malformed more frame")
                    })?;
            }
            Some(Frame {
                kind: Kind::Rewind, ..
            }) => {
                let again = answer_rewind(line, id, body)?;
                if again {
                    sent = 0;
                    credit = 0;
                }
            }
            Some(frame) => handle_other(frame, context)?,
            None => {}
        }
    }
}

/// The board needs the body again (its kept-alive connection was stale, or a 307/308): says
/// whether it follows from byte 0 (`1`) or cannot (`0`, a pipe; the board then reports why).
fn answer_rewind(line: &mut Line, id: u32, body: &mut Upload<'_>) -> Result<bool, Failure> {
    let again = body.rewind();
    line.send(Kind::Rewind, id, if again { b"1" } else { b"0" })?;
    Ok(again)
}

/// A response as the board streams it: head first, then `data` frames, then `done` with the
/// length and CRC-32 that what arrived must match.
pub struct DeviceResponse<'l> {
    line: &'l mut Line,
    id: u32,
    url: String,
    head: Vec<u8>,
    info: HeadInfo,
    board: String,
    host: String,
    /// Body bytes received but not yet read.
    pending: Vec<u8>,
    received: u64,
    crc: u32,
    complete: bool,
}

impl<'l> DeviceResponse<'l> {
    fn new(
        line: &'l mut Line,
        id: u32,
        payload: Vec<u8>,
        board: &str,
        host: &str,
    ) -> Result<Self, Failure> {
        let malformed = |why: &str| {
            Failure::new(
                failure::PROTOCOL,
                format!("the device {board} sent a malformed head frame: {why}"),
            )
        };
        let split = payload
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| malformed("no URL line"))?;
        let url =
            String::from_utf8(payload[..split].to_vec()).map_err(|_| malformed("URL not UTF-8"))?;
        let head = payload[split + 1..].to_vec();
        let info = match parse_head(&head, MAX_HEADERS) {
            Ok(Some(info)) => info,
            Ok(None) => return Err(malformed("incomplete head")),
            Err(err) => return Err(malformed(&err.to_string())),
        };
        Ok(DeviceResponse {
            line,
            id,
            url,
            head,
            info,
            board: board.to_string(),
            host: host.to_string(),
            pending: Vec::new(),
            received: 0,
            crc: 0,
            complete: false,
        })
    }

    fn parsed(&self) -> ResponseHead<'_> {
        ResponseHead::new(&self.head, self.info)
    }

    fn context(&self) -> Context<'_> {
        Context {
            board: &self.board,
            host: &self.host,
        }
    }

    /// `done LEN CRC` must match what arrived: nothing lost or damaged on the line.
    fn check_done(&self, payload: &[u8]) -> Result<(), Failure> {
        let text = String::from_utf8_lossy(payload);
        let (len, crc) = text.split_once(' ').unwrap_or((&text, ""));
        let matches = len.parse::<u64>().ok() == Some(self.received)
            && u32::from_str_radix(crc, 16).ok() == Some(self.crc);
        if matches {
            return Ok(());
        }
        Err(self.line.lost(&format!(
            "the body was damaged on the line (the device sent {text}, {} bytes arrived)",
            self.received
        )))
    }
}

impl Drop for DeviceResponse<'_> {
    fn drop(&mut self) {
        if !self.complete {
            // The rest is not wanted (the reader of stdout went away): stop the board.
            let _ = self.line.send(Kind::Cancel, self.id, &[]);
        }
        self.line.active = None;
    }
}

impl Incoming for DeviceResponse<'_> {
    fn status(&self) -> u16 {
        self.info.status
    }

    fn reason(&self) -> &str {
        self.parsed().reason()
    }

    fn head_bytes(&self) -> &[u8] {
        &self.head[..self.info.len.min(self.head.len())]
    }

    fn header_str(&self, name: &str) -> Option<&str> {
        self.parsed().header_str(name)
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Failed> {
        while self.pending.is_empty() {
            if self.complete {
                return Ok(0);
            }
            let frame = self
                .line
                .next_frame(self.id, None)
                .map_err(Failed::Device)?;
            match frame {
                Some(Frame {
                    kind: Kind::Data,
                    payload,
                }) => {
                    self.received += payload.len() as u64;
                    self.crc = mreq_fwconfig::crc32_update(!self.crc, &payload) ^ !0;
                    self.pending = payload;
                }
                Some(Frame {
                    kind: Kind::Done,
                    payload,
                }) => {
                    self.check_done(&payload).map_err(Failed::Device)?;
                    self.complete = true;
                    self.line.active = None;
                }
                Some(frame) => handle_other(frame, &self.context()).map_err(Failed::Device)?,
                None => {}
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }

    fn is_complete(&self) -> bool {
        self.complete && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests;
