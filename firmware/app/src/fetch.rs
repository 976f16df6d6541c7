//! Running one request typed at the console and printing the response for a person. Bodies
//! stream through a fixed buffer: a 10 MB response needs no more RAM than a 10 byte one.

use crate::console::{Console, ConsoleError};
use crate::http::ENGINE_BUF;
use crate::net::{Conn, NetConnector};
use crate::say;
use embedded_io_async::{Read, Write};
use mreq_core::client::asynch::{Client, Response};
use mreq_core::client::Request;
use mreq_core::request::Header;
use mreq_fwconfig::crc32_update;

/// Body bytes per read.
const CHUNK: usize = 1024;

/// The `User-Agent` the firmware sends when the request names none (some servers refuse
/// requests without one): `mreq-fw/VERSION (BOARD)`.
pub fn user_agent(board: &str) -> heapless::String<64> {
    let mut agent = heapless::String::new();
    let _ = core::fmt::Write::write_fmt(
        &mut agent,
        format_args!("mreq-fw/{} ({board})", env!("CARGO_PKG_VERSION")),
    );
    agent
}

/// Performs the request and reports it; only a console failure is returned as an error.
pub async fn fetch<S: Read + Write>(
    client: &mut Client<NetConnector<'_>>,
    console: &mut Console<'_, S>,
    request: &Request<'_>,
    agent: &str,
) -> Result<(), ConsoleError> {
    let mut engine_buf = [0u8; ENGINE_BUF];
    let mut headers: heapless::Vec<Header<'_>, 1> = heapless::Vec::new();
    let named = request
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("user-agent"));
    // A typed request has no headers of its own: room for the agent.
    for header in request
        .headers
        .iter()
        .copied()
        .chain((!named).then(|| Header::new("User-Agent", agent.as_bytes())))
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
        Ok(response) => report_response(console, response).await,
        // The error says why in words (a TLS error its reason, a certificate error which).
        Err(err) => report_error(console, &err).await,
    }
}

/// Writes the status, headers and streamed body, then the summary with length and CRC-32.
async fn report_response<S: Read + Write>(
    console: &mut Console<'_, S>,
    mut response: Response<'_, Conn<'_>>,
) -> Result<(), ConsoleError> {
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
    let mut chunk = [0u8; CHUNK];
    let mut total: u64 = 0;
    let mut crc = !0u32;
    loop {
        let n = match response.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => return report_error(console, &err).await,
        };
        total += n as u64;
        crc = crc32_update(crc, &chunk[..n]);
        console.write(&chunk[..n]).await?;
    }
    say!(
        console,
        "\r\n-- ok: {} bytes, crc32 {:08x}\r\n",
        total,
        !crc
    )
}

async fn report_error<S: Read + Write>(
    console: &mut Console<'_, S>,
    err: &dyn core::fmt::Display,
) -> Result<(), ConsoleError> {
    say!(console, "\r\n-- error: {}\r\n", err)
}
