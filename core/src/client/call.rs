//! One request's lifecycle up to its final response head, as plain sans-IO code: [`Call::poll`]
//! says what I/O to do next ([`Io`]), the driver does it and reports back (`connected`, `wrote`,
//! `received`, ...). Every decision lives here: the head to send, the body framing, when to reuse,
//! retry or drop a connection, 1xx heads, redirect hops and the drain of a redirect's body. The
//! blocking and async drivers are short loops around it with no protocol logic.
//!
//! ```text
//!            ┌────────────────────────── redirect followed ─────────────────────────────┐
//!            v                                                                          │
//!  new ──> Hop ──(stream sent before)──> Rewind ──(cannot)──> BodyNotReplayable         │
//!            │                             │                                            │
//!            v                             v                                            │
//!         Attempt: write the head, ask for a connection (Connect)                       │
//!            │                                                                          │
//!            v                                                                          │
//!         SendHead ──> SendBytes ─┐                                                     │
//!            │                    │                                                     │
//!            ├──> Source <──> SourceWrite ──> LastChunk ─┐                              │
//!            v                    v                      v                              │
//!          Flush <────────────────┴──────────────────────┘                              │
//!            │                                                                          │
//!            v                                                                          │
//!          Head (Read until a final head; 1xx skipped) ──> Final: Done                  │
//!            │        │                                                                 │
//!            │        └─ a reused connection failed before any byte: Retry ─> Attempt   │
//!            v                                                                          │
//!          Drain (a redirect's small body; else Close) ──> Join (the Location) ─────────┘
//! ```
//!
//! Memory: the caller's buffer, split into the redirect URL slot and `work` (request head, then
//! response head and buffered body bytes). Nothing is allocated.

use super::exchange::{BodyKind, Exchange};
use super::{Config, Forward, MAX_INTERIM_RESPONSES, MIN_BODY_BUFFER};
use crate::body::{self, BodyDecoder};
use crate::buf::Cursor;
use crate::response::{Framing, HeadInfo, HeadParser, ResponseHead};
use crate::url::{self, Url};
use crate::{Error, Result};

/// Room kept before a streamed chunk's data for its size line (16 hex digits and CRLF).
const CHUNK_HEADER_ROOM: usize = 18;

/// The next I/O the driver does for a [`Call`].
pub(crate) enum Io<'a> {
    /// Make sure a connection to `url`'s origin is open (the kept one if it leads there), then
    /// report with [`Call::connected`] whether it was reused.
    Connect(Url<'a>),
    /// The request head, `bytes[..head_len]` (with a small body behind it): show the head to the
    /// observer and write all the bytes; report with [`Call::wrote`].
    WriteHead { bytes: &'a [u8], head_len: usize },
    /// Write these bytes; report with [`Call::wrote`].
    Write(&'a [u8]),
    /// Read the next bytes of the streamed request body into this buffer (0 at its end);
    /// report with [`Call::source_read`].
    ReadSource(&'a mut [u8]),
    /// Go back to the start of the streamed request body; report with [`Call::rewound`].
    Rewind,
    /// Flush the connection; report with [`Call::wrote`].
    Flush,
    /// Read from the connection into this buffer (0: the peer closed); report with
    /// [`Call::received`].
    Read(&'a mut [u8]),
    /// Drop the connection (it cannot carry another request), then poll again.
    Close,
    /// A redirect from `url` is being followed: show it to the observer, then poll again.
    Redirect {
        head: ResponseHead<'a>,
        url: &'a str,
    },
    /// The final response head is in the buffer: take it with [`Call::finish`].
    Done,
}

#[derive(Clone)]
enum State {
    /// Start a hop: the request's URL, or a redirect target in the slot.
    Hop,
    /// The streamed body must go again: waiting for the rewind.
    Rewind,
    /// Write the head and ask for a connection.
    Attempt,
    /// Waiting for the connection; the head is ready as in `SendHead`.
    Connecting {
        len: usize,
        inline: bool,
    },
    /// `work[..len]` holds the head (and, if `inline`, the slice body after it).
    SendHead {
        len: usize,
        inline: bool,
    },
    SendBytes,
    /// Read the next piece of the streamed body; `sent` bytes so far.
    Source {
        sent: u64,
    },
    /// Write `work[start..end]` (a piece of the streamed body, framed).
    SourceWrite {
        sent: u64,
        start: usize,
        end: usize,
    },
    LastChunk,
    Flush,
    /// Reading the response head: `filled` bytes of `work` hold what arrived.
    Head {
        filled: usize,
        parser: HeadParser,
        seen_any: bool,
        /// Interim (1xx) heads skipped so far.
        interim: u8,
    },
    /// A failed attempt on a reused connection, to be retried on a new one (after rewinding a
    /// streamed body; if that fails, `err` ends the call).
    Retry {
        err: Error,
    },
    /// Reading and dropping the `remaining` bytes of a redirect's body (only ever a small
    /// Content-Length one) so the connection can be reused.
    Drain {
        info: HeadInfo,
        remaining: u64,
    },
    /// Join the redirect's `Location` and move on to the next hop.
    Join {
        info: HeadInfo,
    },
    /// The final head: `info`, with `filled` bytes of `work` in use.
    Final {
        info: HeadInfo,
        filled: usize,
    },
    Failed(Error),
}

/// One request on its way to a final response head.
pub(crate) struct Call<'r, 'b> {
    exchange: Exchange<'r>,
    config: Config,
    slot: &'b mut [u8],
    work: &'b mut [u8],
    state: State,
    /// This attempt runs on a connection kept from an earlier request.
    reused: bool,
    /// A byte of the streamed body has been read (so another attempt must rewind it).
    stream_sent: bool,
    /// Emit [`Io::Close`] before anything else.
    close: bool,
}

impl<'r, 'b> Call<'r, 'b> {
    /// A call for `exchange` in `buf` (the slot for redirect URLs is reserved only when
    /// redirects are followed).
    pub(crate) fn new(exchange: Exchange<'r>, config: Config, buf: &'b mut [u8]) -> Self {
        let slot_len = if cfg!(feature = "redirects") && config.max_redirects > 0 {
            config.max_url_len.min(buf.len() / 2)
        } else {
            0
        };
        let (slot, work) = buf.split_at_mut(slot_len);
        Call {
            exchange,
            config,
            slot,
            work,
            state: State::Hop,
            reused: false,
            stream_sent: false,
            close: false,
        }
    }

    /// What to do next. An error ends the call; the driver then drops the connection.
    pub(crate) fn poll(&mut self) -> Result<Io<'_>> {
        if self.close {
            self.close = false;
            return Ok(Io::Close);
        }
        loop {
            // Each arm puts back the state it leaves (an error returned from an arm ends the call).
            match core::mem::replace(&mut self.state, State::Failed(Error::ConnectionClosed)) {
                State::Hop => {
                    let streamed =
                        matches!(self.exchange.body_to_send(), Some(BodyKind::Stream(_)));
                    if streamed && self.stream_sent {
                        // The body went with an earlier hop: it must start again.
                        self.state = State::Rewind;
                        return Ok(Io::Rewind);
                    }
                    self.state = State::Attempt;
                }
                State::Attempt => {
                    // The URL is parsed once for the head and the connection.
                    let url = self.exchange.target(self.slot)?;
                    let len = self.exchange.write_head(&url, self.work)?;
                    let bytes = match self.exchange.body_to_send() {
                        Some(BodyKind::Bytes) => self.exchange.req.body,
                        _ => &[],
                    };
                    let inline = match self.work.get_mut(len..len + bytes.len()) {
                        Some(room) => {
                            room.copy_from_slice(bytes);
                            true
                        }
                        None => false,
                    };
                    self.state = State::Connecting { len, inline };
                    return Ok(Io::Connect(url));
                }
                State::SendHead { len, inline } => {
                    self.state = State::SendHead { len, inline };
                    let bytes = if inline {
                        self.exchange.req.body.len()
                    } else {
                        0
                    };
                    return Ok(Io::WriteHead {
                        bytes: &self.work[..len + bytes],
                        head_len: len,
                    });
                }
                State::SendBytes => {
                    self.state = State::SendBytes;
                    return Ok(Io::Write(self.exchange.req.body));
                }
                State::Source { sent } => {
                    self.stream_sent = true;
                    self.state = State::Source { sent };
                    let room = self.work.len().saturating_sub(CHUNK_HEADER_ROOM + 2);
                    return Ok(Io::ReadSource(
                        &mut self.work[CHUNK_HEADER_ROOM..CHUNK_HEADER_ROOM + room],
                    ));
                }
                State::SourceWrite { sent, start, end } => {
                    self.state = State::SourceWrite { sent, start, end };
                    return Ok(Io::Write(&self.work[start..end]));
                }
                State::LastChunk => {
                    self.state = State::LastChunk;
                    return Ok(Io::Write(body::LAST_CHUNK));
                }
                State::Flush => {
                    self.state = State::Flush;
                    return Ok(Io::Flush);
                }
                State::Head {
                    mut filled,
                    mut parser,
                    seen_any,
                    interim,
                } => {
                    if let Some(info) = parser.parse(&self.work[..filled])? {
                        if info.is_interim() {
                            if interim == MAX_INTERIM_RESPONSES {
                                return Err(Error::TooManyInterimResponses);
                            }
                            self.work.copy_within(info.len..filled, 0);
                            filled -= info.len;
                            self.state = State::Head {
                                filled,
                                parser: HeadParser::new(self.config.max_headers),
                                seen_any,
                                interim: interim + 1,
                            };
                            continue;
                        }
                        if info.status == 101 {
                            // The engine never asks for an upgrade.
                            return Err(Error::UnexpectedSwitchingProtocols);
                        }
                        if self.work.len() - info.len < MIN_BODY_BUFFER {
                            return Err(Error::HeadTooLarge);
                        }
                        self.state = self.after_final_head(info, filled)?;
                        if let State::Drain { info, .. } | State::Join { info } = &self.state {
                            let head = ResponseHead::new(&self.work[..info.len], *info);
                            let url = self.exchange.url_text(self.slot)?;
                            return Ok(Io::Redirect { head, url });
                        }
                        continue;
                    }
                    if filled == self.work.len() {
                        return Err(Error::HeadTooLarge);
                    }
                    self.state = State::Head {
                        filled,
                        parser,
                        seen_any,
                        interim,
                    };
                    return Ok(Io::Read(&mut self.work[filled..]));
                }
                State::Retry { err } => {
                    if self.stream_sent {
                        // Rewind, then drop the connection, then a new attempt.
                        self.close = true;
                        self.state = State::Retry { err };
                        return Ok(Io::Rewind);
                    }
                    self.state = State::Attempt;
                    return Ok(Io::Close);
                }
                State::Rewind => {
                    self.state = State::Rewind;
                    return Ok(Io::Rewind);
                }
                State::Drain { info, remaining } => {
                    self.state = State::Drain { info, remaining };
                    return Ok(Io::Read(&mut self.work[info.len..]));
                }
                State::Join { info } => {
                    self.join(info)?;
                    self.state = State::Hop;
                }
                State::Final { info, filled } => {
                    self.state = State::Final { info, filled };
                    return Ok(Io::Done);
                }
                State::Connecting { .. } => {
                    // The driver polled again without saying whether it connected.
                    return Err(Error::ConnectionClosed);
                }
                State::Failed(err) => {
                    self.state = State::Failed(err.clone());
                    return Err(err);
                }
            }
        }
    }

    /// The connection for this attempt is open (`Ok(true)`: a kept one); `forward`: it goes to
    /// a forwarding proxy, so the head names the absolute URL.
    pub(crate) fn connected(&mut self, result: Result<bool>, forward: Option<Forward<'_>>) {
        self.state = match (core::mem::replace(&mut self.state, State::Attempt), result) {
            (State::Connecting { len, inline }, Ok(reused)) => {
                self.reused = reused;
                match forward.map(|f| self.forwarded(len, inline, f)) {
                    None => State::SendHead { len, inline },
                    Some(Ok(len)) => State::SendHead { len, inline },
                    Some(Err(err)) => State::Failed(err),
                }
            }
            (_, Err(err)) => State::Failed(err),
            (other, Ok(_)) => other,
        };
    }

    /// Rewrites the head in `work` for a forwarding proxy: `scheme://host[:port]` before the
    /// target, a `Proxy-Authorization` line before the blank line (an inline body moves along).
    /// The new head length.
    fn forwarded(&mut self, len: usize, inline: bool, forward: Forward<'_>) -> Result<usize> {
        let body = if inline {
            self.exchange.req.body.len()
        } else {
            0
        };
        let used = len + body;
        let at = self.work[..len]
            .iter()
            .position(|&b| b == b' ')
            .ok_or(Error::InvalidMethod)?
            + 1;
        let url = self.exchange.target(self.slot)?;
        let free = self.work.get_mut(used..).ok_or(Error::BufferTooSmall)?;
        let mut origin = Cursor::new(free);
        url.write_origin(&mut origin)?;
        let grown = origin.len();
        self.work[at..used + grown].rotate_right(grown);
        let (mut len, used) = (len + grown, used + grown);
        if let Some(value) = forward.authorization {
            if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(Error::InvalidHeader);
            }
            let free = self.work.get_mut(used..).ok_or(Error::BufferTooSmall)?;
            let mut line = Cursor::new(free);
            line.push_str("Proxy-Authorization: ")?;
            line.push_str(value)?;
            line.push_str("\r\n")?;
            let grown = line.len();
            // Before the blank line that ends the head.
            let end = len - 2;
            self.work[end..used + grown].rotate_right(grown);
            len += grown;
        }
        Ok(len)
    }

    /// The last write (or flush) finished.
    pub(crate) fn wrote(&mut self, result: Result<()>) {
        if let Err(err) = result {
            let retryable = matches!(err, Error::Io(_));
            self.attempt_failed(err, retryable);
            return;
        }
        self.state = match core::mem::replace(&mut self.state, State::Flush) {
            State::SendHead { inline, .. } => match self.exchange.body_to_send() {
                Some(BodyKind::Bytes) if !inline && !self.exchange.req.body.is_empty() => {
                    State::SendBytes
                }
                Some(BodyKind::Stream(_)) => State::Source { sent: 0 },
                _ => State::Flush,
            },
            State::SendBytes | State::LastChunk => State::Flush,
            State::SourceWrite { sent, .. } => State::Source { sent },
            State::Flush => State::Head {
                filled: 0,
                parser: HeadParser::new(self.config.max_headers),
                seen_any: false,
                interim: 0,
            },
            other => other,
        };
    }

    /// `n` bytes of the streamed body were read into the buffer [`Io::ReadSource`] lent (or
    /// reading it failed).
    pub(crate) fn source_read(&mut self, result: core::result::Result<usize, ()>) {
        let State::Source { sent } = self.state else {
            return;
        };
        let declared = match self.exchange.body_to_send() {
            Some(BodyKind::Stream(declared)) => declared,
            _ => None,
        };
        self.state = match result {
            Err(()) => State::Failed(Error::RequestBodyRead),
            Ok(0) => match declared {
                Some(len) if sent != len => State::Failed(Error::RequestBodyLength),
                Some(_) => State::Flush,
                None => State::LastChunk,
            },
            Ok(n) => {
                let sent = sent + n as u64;
                match declared {
                    Some(len) if sent > len => State::Failed(Error::RequestBodyLength),
                    Some(_) => State::SourceWrite {
                        sent,
                        start: CHUNK_HEADER_ROOM,
                        end: CHUNK_HEADER_ROOM + n,
                    },
                    None => {
                        // The size line goes right before the data, the CRLF right after it.
                        let mut line = [0u8; CHUNK_HEADER_ROOM];
                        let line = body::write_chunk_header(n, &mut line);
                        let start = CHUNK_HEADER_ROOM - line.len();
                        self.work[start..CHUNK_HEADER_ROOM].copy_from_slice(line);
                        let end = CHUNK_HEADER_ROOM + n;
                        self.work[end..end + 2].copy_from_slice(body::CHUNK_DATA_END);
                        State::SourceWrite {
                            sent,
                            start,
                            end: end + 2,
                        }
                    }
                }
            }
        };
    }

    /// The streamed body went back to its start (`false`: it cannot).
    pub(crate) fn rewound(&mut self, ok: bool) {
        self.state = match core::mem::replace(&mut self.state, State::Attempt) {
            State::Rewind if ok => State::Attempt,
            State::Rewind => State::Failed(Error::BodyNotReplayable),
            State::Retry { .. } if ok => State::Attempt,
            State::Retry { err } => State::Failed(err),
            other => other,
        };
    }

    /// `n` bytes arrived in the buffer [`Io::Read`] lent (0: the peer closed).
    pub(crate) fn received(&mut self, result: Result<usize>) {
        match core::mem::replace(&mut self.state, State::Attempt) {
            State::Head {
                filled,
                parser,
                seen_any,
                interim,
            } => match result {
                Ok(0) if seen_any => self.state = State::Failed(Error::ConnectionClosed),
                // Closed before any byte: a kept-alive connection the server had already closed.
                Ok(0) => self.attempt_failed(Error::ConnectionClosed, true),
                Ok(n) => {
                    self.state = State::Head {
                        filled: filled + n,
                        parser,
                        seen_any: true,
                        interim,
                    }
                }
                Err(err) => {
                    let retryable = matches!(err, Error::Io(_));
                    self.attempt_failed(err, retryable);
                }
            },
            State::Drain { info, remaining } => {
                self.state = match result {
                    Ok(n) if n > 0 && n as u64 <= remaining => {
                        let remaining = remaining - n as u64;
                        if remaining == 0 {
                            State::Join { info }
                        } else {
                            State::Drain { info, remaining }
                        }
                    }
                    // Cut short, longer than it said, or failed: a redirect body that does not
                    // end well only costs the connection.
                    _ => {
                        self.close = true;
                        State::Join { info }
                    }
                };
            }
            other => self.state = other,
        }
    }

    /// An attempt failed: retried on a new connection when it ran on a kept one and failed
    /// the way a connection the server closed meanwhile fails; else the end of the call.
    fn attempt_failed(&mut self, err: Error, retryable: bool) {
        self.state = if retryable && self.reused {
            self.reused = false;
            State::Retry { err }
        } else {
            State::Failed(err)
        };
    }

    /// What to do with a final (non-1xx) head: return it, or follow its redirect (draining the
    /// redirect's own body when it is small, else dropping the connection).
    // Out of line when redirects are built in (smaller), inlined when it only returns `Final`.
    #[cfg_attr(feature = "redirects", inline(never))]
    fn after_final_head(&mut self, info: HeadInfo, filled: usize) -> Result<State> {
        let head = ResponseHead::new(&self.work[..info.len], info);
        if !self.exchange.follows_redirect(&self.config, &head)? {
            return Ok(State::Final { info, filled });
        }
        let is_head = self.exchange.is_head();
        let length = match info.framing(is_head) {
            Framing::None => Some(0),
            Framing::Length(n) if n <= self.config.max_drain => Some(n),
            Framing::Length(_) | Framing::Chunked | Framing::Close => None,
        };
        let buffered = (filled - info.len) as u64;
        let keep_alive = info.keep_alive(is_head);
        match length {
            Some(n) if keep_alive && buffered < n => Ok(State::Drain {
                info,
                remaining: n - buffered,
            }),
            Some(n) if keep_alive && buffered == n => Ok(State::Join { info }),
            // Too big to drain, not persistent, or stray bytes after the body.
            _ => {
                self.close = true;
                Ok(State::Join { info })
            }
        }
    }

    /// Joins the redirect's `Location` against this hop's URL and makes it the next target.
    #[inline(never)]
    fn join(&mut self, info: HeadInfo) -> Result<()> {
        if !cfg!(feature = "redirects") {
            // Never reached (no redirect is followed): this keeps URL joining out of the binary.
            return Err(Error::InvalidStatusLine);
        }
        let (head_bytes, free) = self.work.split_at_mut(info.len);
        let head = ResponseHead::new(head_bytes, info);
        let location = head.location().ok_or(Error::InvalidHeaderLine)?;
        let from = self.exchange.target(self.slot)?;
        let (to, target) = url::join_parsed(&from, location, free)?;
        self.exchange.follow(info.status, &from, &to, target)?;
        let len = target.len();
        let dst = self
            .slot
            .get_mut(..len)
            .ok_or(Error::InvalidUrl("redirect URL longer than max_url_len"))?;
        dst.copy_from_slice(&free[..len]);
        self.exchange.set_target(len)
    }

    /// The final head, the URL it came from, and the buffer after the head.
    pub(crate) fn finish(self) -> Result<Finished<'b>>
    where
        'r: 'b,
    {
        let State::Final { info, filled } = self.state else {
            return Err(Error::ConnectionClosed);
        };
        let is_head = self.exchange.is_head();
        let slot: &'b [u8] = self.slot;
        let url = self.exchange.url_text(slot)?;
        let (head_bytes, io) = self.work.split_at_mut(info.len);
        Ok(Finished {
            head: ResponseHead::new(head_bytes, info),
            url,
            io,
            buffered: filled - info.len,
            decoder: BodyDecoder::new(info.framing(is_head)),
            keep_alive: info.keep_alive(is_head),
        })
    }
}

/// What [`Call::finish`] hands the response: its head, URL, the buffer after the head (its
/// first `buffered` bytes already received), the body decoder and whether the connection may
/// persist.
pub(crate) struct Finished<'b> {
    pub(crate) head: ResponseHead<'b>,
    pub(crate) url: &'b str,
    pub(crate) io: &'b mut [u8],
    pub(crate) buffered: usize,
    pub(crate) decoder: BodyDecoder,
    pub(crate) keep_alive: bool,
}

#[cfg(test)]
mod tests {
    //! The lifecycle step by step against a scripted server: canned response bytes per
    //! connection, served in reads of 1, 7 or all bytes; no sockets, no delays.
    use super::*;
    use crate::client::Request;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// One connection's script: the server's answers, one per request head received (`kept`
    /// connections answer the first request too).
    struct Conn {
        answers: std::collections::VecDeque<Vec<u8>>,
        /// What the server has sent so far on this connection.
        answer: Vec<u8>,
        pos: usize,
        /// What the client wrote on it.
        got: Vec<u8>,
    }

    /// What a call did, as the driver saw it.
    #[derive(Debug, Default)]
    struct Trace {
        connects: Vec<(String, bool)>,
        heads: Vec<String>,
        redirects: Vec<u16>,
        closes: usize,
        rewinds: usize,
        written: Vec<Vec<u8>>,
    }

    /// Runs `call` over `conns` (the next is opened on each Connect unless the current one is
    /// kept), reading `step` bytes at a time; `source` is the streamed body and whether it
    /// can rewind.
    fn run(
        call: Call<'_, '_>,
        conns: Vec<Conn>,
        step: usize,
        source: Option<(&[u8], bool)>,
    ) -> (Result<(u16, Vec<u8>)>, Trace) {
        run_from(call, None, conns, step, source, None)
    }

    /// `run`, with `current` as the connection an earlier request kept open, each connection
    /// going to a forwarding proxy when `forward` says so.
    fn run_from(
        mut call: Call<'_, '_>,
        mut current: Option<Conn>,
        mut conns: Vec<Conn>,
        step: usize,
        source: Option<(&[u8], bool)>,
        forward: Option<Forward<'static>>,
    ) -> (Result<(u16, Vec<u8>)>, Trace) {
        let mut trace = Trace::default();
        let mut source_pos = 0;
        conns.reverse();
        loop {
            let io = match call.poll() {
                Ok(io) => io,
                Err(err) => {
                    if let Some(conn) = current.take() {
                        trace.written.push(conn.got);
                    }
                    return (Err(err), trace);
                }
            };
            match io {
                Io::Connect(url) => {
                    let reuse = current.is_some();
                    if !reuse {
                        if let Some(old) = current.take() {
                            trace.written.push(old.got);
                        }
                        current = conns.pop();
                    }
                    trace.connects.push((url.host().to_string(), reuse));
                    let result = if current.is_some() {
                        Ok(reuse)
                    } else {
                        Err(Error::Connect(crate::error::IoErrorKind::ConnectionRefused))
                    };
                    call.connected(result, forward);
                }
                Io::WriteHead { bytes, head_len } => {
                    let head = String::from_utf8_lossy(&bytes[..head_len]);
                    trace
                        .heads
                        .push(head.lines().next().unwrap_or("").to_string());
                    let conn = current.as_mut().unwrap();
                    conn.got.extend_from_slice(bytes);
                    if let Some(next) = conn.answers.pop_front() {
                        conn.answer.extend_from_slice(&next);
                    }
                    call.wrote(Ok(()));
                }
                Io::Write(bytes) => {
                    current.as_mut().unwrap().got.extend_from_slice(bytes);
                    call.wrote(Ok(()));
                }
                Io::Flush => call.wrote(Ok(())),
                Io::Read(into) => {
                    let conn = current.as_mut().unwrap();
                    let n = step.min(into.len()).min(conn.answer.len() - conn.pos);
                    into[..n].copy_from_slice(&conn.answer[conn.pos..conn.pos + n]);
                    conn.pos += n;
                    call.received(Ok(n));
                }
                Io::ReadSource(into) => {
                    let (data, _) = source.unwrap();
                    let n = into.len().min(data.len() - source_pos).min(5);
                    into[..n].copy_from_slice(&data[source_pos..source_pos + n]);
                    source_pos += n;
                    call.source_read(Ok(n));
                }
                Io::Rewind => {
                    trace.rewinds += 1;
                    let ok = source.is_some_and(|(_, can)| can);
                    source_pos = 0;
                    call.rewound(ok);
                }
                Io::Close => {
                    trace.closes += 1;
                    if let Some(conn) = current.take() {
                        trace.written.push(conn.got);
                    }
                }
                Io::Redirect { head, .. } => trace.redirects.push(head.status()),
                Io::Done => break,
            }
        }
        if let Some(conn) = current.take() {
            trace.written.push(conn.got);
        }
        let finished = call
            .finish()
            .map(|f| (f.head.status(), f.io[..f.buffered].to_vec()));
        (finished, trace)
    }

    /// A connection that answers its requests with `answers` in turn, then closes.
    fn conn_of(answers: &[&[u8]]) -> Conn {
        Conn {
            answers: answers.iter().map(|a| a.to_vec()).collect(),
            answer: Vec::new(),
            pos: 0,
            got: Vec::new(),
        }
    }

    fn conn(answer: &[u8]) -> Conn {
        conn_of(&[answer])
    }

    fn call<'r, 'b>(req: Request<'r>, kind: BodyKind, buf: &'b mut [u8]) -> Call<'r, 'b> {
        Call::new(Exchange::new(req, kind).unwrap(), Config::default(), buf)
    }

    const STEPS: [usize; 3] = [1, 7, usize::MAX];

    #[test]
    fn a_get_in_reads_of_any_size() {
        for step in STEPS {
            let mut buf = [0u8; 2048];
            let c = call(Request::get("http://h/x"), BodyKind::Bytes, &mut buf);
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
            let (got, trace) = run(c, vec![conn(answer)], step, None);
            let (status, buffered) = got.unwrap();
            assert_eq!(status, 200);
            assert!(b"hello".starts_with(&buffered), "step {step}");
            assert_eq!(trace.heads, ["GET /x HTTP/1.1"]);
            assert_eq!(trace.connects, [("h".to_string(), false)]);
        }
    }

    #[test]
    fn a_forwarding_proxy_gets_absolute_urls_and_its_authorization() {
        let forward = Some(Forward {
            authorization: Some("Basic dTpw"),
        });
        for step in STEPS {
            let mut buf = [0u8; 4096];
            let req = Request::post("http://h:8080/a?x=1").body(b"body!");
            let c = call(req, BodyKind::Bytes, &mut buf);
            let first = conn_of(&[
                b"HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ]);
            let (got, trace) = run_from(c, None, vec![first], step, None, forward);
            assert_eq!(got.unwrap().0, 200, "step {step}");
            assert_eq!(
                trace.heads,
                [
                    "POST http://h:8080/a?x=1 HTTP/1.1",
                    "GET http://h:8080/b HTTP/1.1"
                ]
            );
            let written = String::from_utf8_lossy(&trace.written[0]).into_owned();
            let first_head = written.split("\r\n\r\n").next().unwrap_or("");
            assert!(
                first_head.ends_with("\r\nProxy-Authorization: Basic dTpw"),
                "{written}"
            );
            assert!(written.contains("\r\nHost: h:8080\r\n"));
            assert!(
                written.contains("\r\n\r\nbody!"),
                "the inline body follows the head"
            );
        }
    }

    #[test]
    fn interim_heads_are_skipped() {
        for step in STEPS {
            let mut buf = [0u8; 2048];
            let c = call(Request::get("http://h/"), BodyKind::Bytes, &mut buf);
            let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
            let (got, _) = run(c, vec![conn(answer)], step, None);
            assert_eq!(got.unwrap().0, 204, "step {step}");
        }
    }

    #[test]
    fn endless_interim_heads_and_an_unasked_upgrade_are_errors() {
        let interim = |n: usize| {
            let mut answer = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(n);
            answer.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
            answer
        };
        for step in STEPS {
            for (answer, expected) in [
                (interim(MAX_INTERIM_RESPONSES as usize), Ok(204)),
                (
                    interim(MAX_INTERIM_RESPONSES as usize + 1),
                    Err(Error::TooManyInterimResponses),
                ),
                (
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec(),
                    Err(Error::UnexpectedSwitchingProtocols),
                ),
            ] {
                let mut buf = [0u8; 2048];
                let c = call(Request::get("http://h/"), BodyKind::Bytes, &mut buf);
                let (got, _) = run(c, vec![conn(&answer)], step, None);
                assert_eq!(got.map(|g| g.0), expected, "step {step}");
            }
        }
    }

    #[test]
    fn a_redirect_body_is_drained_and_the_connection_reused() {
        for step in STEPS {
            let mut buf = [0u8; 4096];
            let c = call(Request::get("http://h/a"), BodyKind::Bytes, &mut buf);
            let first = conn_of(&[
                b"HTTP/1.1 302 Found\r\nLocation: ../b?q=1\r\nContent-Length: 3\r\n\r\nabc",
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ]);
            let (got, trace) = run(c, vec![first], step, None);
            assert_eq!(got.unwrap().0, 200, "step {step}");
            assert_eq!(trace.heads, ["GET /a HTTP/1.1", "GET /b?q=1 HTTP/1.1"]);
            assert_eq!(trace.redirects, [302]);
            assert_eq!(trace.closes, 0, "a small redirect body is drained");
            assert_eq!(trace.connects[1], ("h".to_string(), true));
        }
    }

    #[test]
    fn a_big_or_framed_redirect_body_costs_the_connection() {
        for answer in [
            &b"HTTP/1.1 301 Moved\r\nLocation: http://other/\r\nContent-Length: 999999\r\n\r\n"[..],
            b"HTTP/1.1 301 Moved\r\nLocation: http://other/\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 301 Moved\r\nLocation: http://other/\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ] {
            let mut buf = [0u8; 4096];
            let c = call(Request::get("http://h/"), BodyKind::Bytes, &mut buf);
            let ok = conn(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            let (got, trace) = run(c, vec![conn(answer), ok], 7, None);
            assert_eq!(got.unwrap().0, 200);
            assert_eq!(trace.closes, 1, "{}", String::from_utf8_lossy(answer));
            assert_eq!(trace.connects[1], ("other".to_string(), false));
        }
    }

    #[test]
    fn a_stale_kept_connection_is_retried_once() {
        for (source, kind) in [
            (None, BodyKind::Bytes),
            (Some((&b"abc"[..], true)), BodyKind::Stream(Some(3))),
        ] {
            let mut buf = [0u8; 2048];
            let c = call(Request::post("http://h/"), kind, &mut buf);
            // The kept connection ends at once; the new one answers.
            let fresh = conn(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            let (got, trace) = run_from(c, Some(conn_of(&[])), vec![fresh], 7, source, None);
            assert_eq!(got.unwrap().0, 200);
            assert_eq!(trace.closes, 1);
            assert_eq!(
                trace.connects,
                [("h".to_string(), true), ("h".to_string(), false)]
            );
            assert_eq!(trace.heads.len(), 2, "the request went again");
            assert_eq!(trace.rewinds, usize::from(source.is_some()));
        }
        // A streamed body that cannot go again: the stale connection's error stands.
        let mut buf = [0u8; 2048];
        let c = call(
            Request::post("http://h/"),
            BodyKind::Stream(Some(3)),
            &mut buf,
        );
        let fresh = conn(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let (got, _) = run_from(
            c,
            Some(conn_of(&[])),
            vec![fresh],
            7,
            Some((b"abc", false)),
            None,
        );
        assert_eq!(got.err(), Some(Error::ConnectionClosed));
        // A fresh connection that ends at once is not retried.
        let mut buf = [0u8; 2048];
        let c = call(Request::get("http://h/"), BodyKind::Bytes, &mut buf);
        let (got, trace) = run(c, vec![conn(b"")], 7, None);
        assert_eq!(got.err(), Some(Error::ConnectionClosed));
        assert_eq!(trace.heads.len(), 1);
    }

    #[test]
    fn streamed_bodies_are_framed_and_rewound_for_a_307() {
        let mut buf = [0u8; 4096];
        let c = call(
            Request::post("http://h/up"),
            BodyKind::Stream(None),
            &mut buf,
        );
        let answers: [&[u8]; 2] = [
            b"HTTP/1.1 307 Temporary\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        ];
        let (got, trace) = run(c, vec![conn_of(&answers)], 7, Some((b"hello world", true)));
        assert_eq!(got.unwrap().0, 201);
        assert_eq!(trace.rewinds, 1);
        let wire = String::from_utf8_lossy(&trace.written[0]).into_owned();
        let chunked =
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\n worl\r\n1\r\nd\r\n0\r\n\r\n";
        assert_eq!(wire.matches(chunked).count(), 2, "{wire}");
        // A body that cannot go again ends the call.
        let mut buf = [0u8; 4096];
        let c = call(
            Request::post("http://h/up"),
            BodyKind::Stream(Some(11)),
            &mut buf,
        );
        let (got, _) = run(
            c,
            vec![conn_of(&answers)],
            usize::MAX,
            Some((b"hello world", false)),
        );
        assert_eq!(got.err(), Some(Error::BodyNotReplayable));
    }

    #[test]
    fn a_declared_length_must_match_the_stream() {
        for declared in [5, 20] {
            let mut buf = [0u8; 4096];
            let c = call(
                Request::put("http://h/"),
                BodyKind::Stream(Some(declared)),
                &mut buf,
            );
            let (got, _) = run(c, vec![conn(b"")], 7, Some((b"hello world", true)));
            assert_eq!(
                got.err(),
                Some(Error::RequestBodyLength),
                "declared {declared}"
            );
        }
    }

    #[test]
    fn limits_are_errors() {
        // A head that leaves less than MIN_BODY_BUFFER bytes, and one that does not fit at all.
        let mut head = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 900));
        head.extend_from_slice(b"\r\n\r\n");
        for size in [960, 900] {
            let mut buf = std::vec![0u8; size];
            let config = Config {
                max_redirects: 0,
                ..Config::default()
            };
            let c = Call::new(
                Exchange::new(Request::get("http://h/"), BodyKind::Bytes).unwrap(),
                config,
                &mut buf,
            );
            let (got, _) = run(c, vec![conn(&head)], usize::MAX, None);
            assert_eq!(got.err(), Some(Error::HeadTooLarge), "buffer {size}");
        }
        // Redirects past the limit.
        let mut buf = [0u8; 4096];
        let config = Config {
            max_redirects: 1,
            ..Config::default()
        };
        let c = Call::new(
            Exchange::new(Request::get("http://h/"), BodyKind::Bytes).unwrap(),
            config,
            &mut buf,
        );
        let hop: &[u8] = b"HTTP/1.1 302 Found\r\nLocation: /l\r\nContent-Length: 0\r\n\r\n";
        let (got, _) = run(c, vec![conn_of(&[hop, hop])], 7, None);
        assert!(matches!(got, Err(Error::TooManyRedirects(_))));
    }
}
