//! The one place that moves a response body to where it goes: raw to stdout (a pipe, a file,
//! /dev/null), formatted to a terminal, or into a download file. Raw bodies are spliced straight
//! from the socket where the kernel allows it and written otherwise, through the same sink, so the
//! order of the bytes is decided here and nowhere else. A response received from a board
//! (`--device`) goes the same way as a local one: both are [`Incoming`].

use crate::failure::Failure;
use crate::output::{self, Style};
use crate::stdout::Stdout;
use crate::transport::Conn;
use crate::zerocopy::Splicer;
use mreq_core::client::blocking::Response;
use std::fs::File;
use std::io::{self, Write};

/// Body bytes read per call: large reads go straight from the socket into this buffer.
const CHUNK: usize = 256 * 1024;

/// Why a body did not arrive whole: the response (the server, the connection), the board that
/// made the request (already described), or the output.
#[derive(Debug)]
pub enum Failed {
    Source(mreq_core::Error),
    Device(Failure),
    Sink(io::Error),
    /// The body's Content-Encoding could not be undone (corrupt or cut).
    Decode(String),
}

/// A response whose head has arrived and whose body is being received: from the engine here,
/// or from a board through `--device`.
pub trait Incoming {
    fn status(&self) -> u16;
    fn reason(&self) -> &str;
    /// The head as received: status line, fields, blank line.
    fn head_bytes(&self) -> &[u8];
    fn header_str(&self, name: &str) -> Option<&str>;
    /// The URL the response came from (after redirects).
    fn url(&self) -> &str;
    /// Body bytes; `Ok(0)` only at the verified end of the body.
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Failed>;
    fn is_complete(&self) -> bool;
    /// Moves body bytes from the socket to the sink in the kernel; `Ok(None)` where that is
    /// not possible (then [`read_body`](Self::read_body)).
    fn splice(
        &mut self,
        _splicer: &mut Splicer,
        _sink: &mut dyn BodySink,
    ) -> Result<Option<usize>, Failed> {
        Ok(None)
    }
}

impl Incoming for Response<'_, Conn> {
    fn status(&self) -> u16 {
        Response::status(self)
    }

    fn reason(&self) -> &str {
        Response::reason(self)
    }

    fn head_bytes(&self) -> &[u8] {
        self.head().as_bytes()
    }

    fn header_str(&self, name: &str) -> Option<&str> {
        Response::header_str(self, name)
    }

    fn url(&self) -> &str {
        Response::url(self)
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Failed> {
        Ok(self.read(buf)?)
    }

    fn is_complete(&self) -> bool {
        Response::is_complete(self)
    }

    fn splice(
        &mut self,
        splicer: &mut Splicer,
        sink: &mut dyn BodySink,
    ) -> Result<Option<usize>, Failed> {
        splicer.move_some(self, sink)
    }
}

/// The fields of a response head as received (`head_bytes`), names and values trimmed, in order.
pub fn head_fields(head: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(head)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A response whose delivered body bytes are counted (`-w %{size_download}`).
pub struct Counted<'a> {
    inner: &'a mut dyn Incoming,
    pub bytes: u64,
}

impl<'a> Counted<'a> {
    pub fn new(inner: &'a mut dyn Incoming) -> Self {
        Counted { inner, bytes: 0 }
    }
}

impl Incoming for Counted<'_> {
    fn status(&self) -> u16 {
        self.inner.status()
    }

    fn reason(&self) -> &str {
        self.inner.reason()
    }

    fn head_bytes(&self) -> &[u8] {
        self.inner.head_bytes()
    }

    fn header_str(&self, name: &str) -> Option<&str> {
        self.inner.header_str(name)
    }

    fn url(&self) -> &str {
        self.inner.url()
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Failed> {
        let n = self.inner.read_body(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }

    fn splice(
        &mut self,
        splicer: &mut Splicer,
        sink: &mut dyn BodySink,
    ) -> Result<Option<usize>, Failed> {
        let moved = self.inner.splice(splicer, sink)?;
        self.bytes += moved.unwrap_or(0) as u64;
        Ok(moved)
    }
}

impl From<mreq_core::Error> for Failed {
    fn from(err: mreq_core::Error) -> Self {
        Failed::Source(err)
    }
}

/// Where a raw body goes.
pub trait BodySink {
    /// Writes body bytes (after everything written or moved before them).
    fn write_body(&mut self, data: &[u8]) -> io::Result<()>;
    /// The file to splice into, with everything written before flushed; `None`: write only.
    fn splice_file(&mut self) -> io::Result<Option<&File>>;
    /// `n` bytes were spliced into the file.
    fn moved(&mut self, _n: u64) {}
    /// An output error: `Ok` if it only means the reader is gone (then [`is_closed`](Self::is_closed)).
    fn absorb(&mut self, err: io::Error) -> io::Result<()> {
        Err(err)
    }
    /// Whether the reader went away, so the rest of the body is not wanted.
    fn is_closed(&self) -> bool {
        false
    }
}

impl BodySink for Stdout {
    fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)
    }

    fn splice_file(&mut self) -> io::Result<Option<&File>> {
        #[cfg(unix)]
        {
            self.descriptor().map(Some)
        }
        #[cfg(not(unix))]
        {
            Ok(None)
        }
    }

    fn absorb(&mut self, err: io::Error) -> io::Result<()> {
        Stdout::absorb(self, err)
    }

    fn is_closed(&self) -> bool {
        Stdout::is_closed(self)
    }
}

/// Moves the rest of the body to `sink` in order; returns the bytes delivered. Stops early
/// (without error) when the sink's reader went away.
pub fn copy_body(response: &mut dyn Incoming, sink: &mut dyn BodySink) -> Result<u64, Failed> {
    let mut splicer = Splicer::for_sink(sink);
    let mut chunk = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        if sink.is_closed() {
            return Ok(total);
        }
        if let Some(splicer) = splicer.as_mut() {
            match response.splice(splicer, sink)? {
                Some(0) => return Ok(total),
                Some(n) => {
                    total += n as u64;
                    if response.is_complete() {
                        return Ok(total);
                    }
                    continue;
                }
                None => {}
            }
        }
        let n = response.read_body(&mut chunk)?;
        if n == 0 {
            return Ok(total);
        }
        sink.write_body(&chunk[..n]).map_err(Failed::Sink)?;
        total += n as u64;
    }
}

/// Shows the body on a terminal: text decoded from its declared charset, JSON formatted and
/// coloured as `style` says, binary bodies replaced by a note.
pub fn to_terminal(
    response: &mut dyn Incoming,
    out: &mut Stdout,
    style: Style,
) -> Result<(), Failed> {
    let content_type = response.header_str("content-type").map(str::to_owned);
    let charset = output::charset(content_type.as_deref());
    let json = output::is_json_type(content_type.as_deref());
    let mut chunk = vec![0u8; CHUNK];
    let n = response.read_body(&mut chunk)?;
    if output::looks_binary(&chunk[..n], charset) {
        if !out.is_terminal() {
            // `--pretty` into a pipe: binary bytes pass as they are.
            out.write_all(&chunk[..n]).map_err(Failed::Sink)?;
            return copy_body(response, out).map(|_| ());
        }
        out.write_all(output::BINARY_NOTE.as_bytes())
            .map_err(Failed::Sink)?;
        return Ok(());
    }
    let mut body = chunk[..n].to_vec();
    loop {
        match response.read_body(&mut chunk)? {
            0 => break,
            n => body.extend_from_slice(&chunk[..n]),
        }
    }
    let terminal = out.is_terminal();
    output::print_received(out, &body, charset, json, style, terminal).map_err(Failed::Sink)
}
