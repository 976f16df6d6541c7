//! Running one request and writing the response to the console, for a person or for a program.
//! Bodies stream through a fixed buffer: a 10 MB response needs no more RAM than a 10 byte one.

use crate::console::{Console, ConsoleError};
use crate::net::{Conn, NetConnector};
use crate::say;
use embedded_io_async::{Read, Write};
use mreq_core::client::asynch::{Client, Response};
use mreq_core::client::Request;
use mreq_core::request::Header;
use mreq_fwconfig::crc32_update;

/// How the response is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Status line, headers, body, then a summary line: for a terminal.
    Human,
    /// `@status`, `@header`, `@body N` frames and `@end`: for `mreq --device` (firmware/PROTOCOL.md).
    Framed,
}

/// Body bytes per `@body` frame and per read.
const CHUNK: usize = 1024;
/// Buffer lent to the engine: redirect URL slot plus response head.
const ENGINE_BUF: usize = 3072;

/// The `User-Agent` the firmware sends when the request names none (some servers refuse
/// requests without one).
pub const USER_AGENT: &str = concat!("mreq-fw/", env!("CARGO_PKG_VERSION"));

/// Performs the request and reports it; only a console failure is returned as an error.
pub async fn fetch<S: Read + Write>(
    client: &mut Client<NetConnector<'_>>,
    console: &mut Console<'_, S>,
    mode: Mode,
    request: &Request<'_>,
) -> Result<(), ConsoleError> {
    let mut engine_buf = [0u8; ENGINE_BUF];
    let mut headers: heapless::Vec<Header<'_>, { crate::shell::MAX_HEADERS + 1 }> =
        heapless::Vec::new();
    let named = request
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("user-agent"));
    // Room for every header of a framed request and the agent (MAX_HEADERS + 1).
    for header in request
        .headers
        .iter()
        .copied()
        .chain((!named).then(|| Header::new("User-Agent", USER_AGENT.as_bytes())))
    {
        if headers.push(header).is_err() {
            break;
        }
    }
    let request = Request {
        headers: &headers,
        ..*request
    };
    let sent = client.send(&request, &mut engine_buf).await;
    match sent {
        Ok(response) => report_response(console, mode, response).await,
        // The error says why in words (a TLS error its reason, a certificate error which).
        Err(err) => report_error(console, mode, &err).await,
    }
}

/// Writes the status, headers and streamed body, then the summary with length and CRC-32.
async fn report_response<S: Read + Write>(
    console: &mut Console<'_, S>,
    mode: Mode,
    mut response: Response<'_, Conn<'_>>,
) -> Result<(), ConsoleError> {
    match mode {
        Mode::Human => {
            say!(
                console,
                "{} {} {}\r\n",
                response.version(),
                response.status(),
                response.reason()
            )?;
            for (name, value) in response.head().headers() {
                console.write(name.as_bytes()).await?;
                console.write(b": ").await?;
                console.write(value).await?;
                console.write(b"\r\n").await?;
            }
            console.write(b"\r\n").await?;
        }
        Mode::Framed => {
            say!(
                console,
                "@status {} {}\n",
                response.status(),
                response.reason()
            )?;
            for (name, value) in response.head().headers() {
                console.write(b"@header ").await?;
                console.write(name.as_bytes()).await?;
                console.write(b": ").await?;
                console.write(value).await?;
                console.write(b"\n").await?;
            }
        }
    }
    let mut chunk = [0u8; CHUNK];
    let mut total: u64 = 0;
    let mut crc = !0u32;
    loop {
        let n = match response.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => return report_error(console, mode, &err).await,
        };
        total += n as u64;
        crc = crc32_update(crc, &chunk[..n]);
        if mode == Mode::Framed {
            say!(console, "@body {n}\n")?;
        }
        console.write(&chunk[..n]).await?;
    }
    match mode {
        Mode::Human => say!(
            console,
            "\r\n-- ok: {} bytes, crc32 {:08x}\r\n",
            total,
            !crc
        ),
        Mode::Framed => say!(console, "@end ok {} {:08x}\n", total, !crc),
    }
}

async fn report_error<S: Read + Write>(
    console: &mut Console<'_, S>,
    mode: Mode,
    err: &dyn core::fmt::Display,
) -> Result<(), ConsoleError> {
    match mode {
        Mode::Human => say!(console, "\r\n-- error: {}\r\n", err),
        Mode::Framed => say!(console, "@end err {}\n", err),
    }
}

/// Splits `Name: value` header lines of a framed request out of `area` into `headers`.
pub fn parse_headers<'a>(
    area: &'a [u8],
    headers: &mut heapless::Vec<Header<'a>, { crate::shell::MAX_HEADERS }>,
) -> bool {
    for line in area.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return false;
        };
        let Ok(name) = core::str::from_utf8(&line[..colon]) else {
            return false;
        };
        let value = &line[colon + 1..];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if headers.push(Header::new(name.trim(), value)).is_err() {
            return false;
        }
    }
    true
}
