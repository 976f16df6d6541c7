//! The HTTP client for your own firmware: what the shell uses, for an embassy application.
//!
//! A board crate brings up the network (`embassy_net::Stack`); then three lines give a client
//! with a kept-alive connection, redirects, timeouts and (feature `tls`) verified https:
//!
//! ```no_run
//! use mreq_fw::http::{read_to_end, BodyError, Http, HttpState, ENGINE_BUF};
//! use mreq_fw::mreq_core::client::Request;
//!
//! #[derive(serde::Serialize)]
//! struct Reading {
//!     celsius: f32,
//! }
//!
//! async fn post_reading(stack: embassy_net::Stack<'_>, url: &str) -> Result<u16, BodyError> {
//!     let state = HttpState::new(None); // or Some(&config): CA certificates, NTP server
//!     let pool = state.pool(stack);
//!     let mut http = Http::new(stack, &state, &pool);
//!
//!     let mut body = [0u8; 64];
//!     let Ok(json) = mreq_fw::json::to_slice(&Reading { celsius: 21.5 }, &mut body) else {
//!         return Ok(0); // larger than its buffer: never sent cut
//!     };
//!     let mut buf = [0u8; ENGINE_BUF];
//!     let mut response = http.send(&Request::post(url).json_body(json), &mut buf).await?;
//!     let mut answer = [0u8; 256];
//!     read_to_end(&mut response, &mut answer).await?;
//!     Ok(response.status())
//! }
//! ```
//!
//! Nothing here allocates for http; the response body streams through `Response::read` into any
//! buffer, and [`read_to_end`] and [`crate::json::read`] collect a small one. Every request goes
//! through `mreq-core`'s async driver.
//!
//! Requests are `mreq-core`'s [`Request`]: `Request::post(url).headers(&h).json_body(body)`.

use embassy_net::tcp::client::{TcpClient, TcpClientState};
use embassy_net::Stack;
use mreq_core::client::asynch::{Client, Response};
use mreq_core::client::Request;
use mreq_core::{Error, Result};
use mreq_fwconfig::Config;

use crate::net::{self, Conn, NetConnector, Pool, Timeouts};
use crate::sntp;

/// A good size for the buffer lent to [`Http::send`]: the response head and a redirect's URL.
pub const ENGINE_BUF: usize = 3072;

/// What a client borrows: the TCP socket buffers, the limits, the TLS settings. Keep it where
/// the client can borrow it for as long as it runs (a local of `main`, or a `StaticCell`).
pub struct HttpState<'c> {
    pool: TcpClientState<1, { net::TCP_TX }, { net::TCP_RX }>,
    timeouts: Timeouts,
    #[cfg(feature = "https")]
    tls: crate::tls::TlsSettings,
    /// Borrowed from the configuration block, as given (or the firmware's default).
    ntp_server: &'c str,
}

impl<'c> HttpState<'c> {
    /// TLS trust (CA certificates, `TLS_INSECURE`) and the SNTP server from the configuration
    /// block; `None` gives the defaults (DHCP's network, pool.ntp.org, the built-in roots if any).
    pub fn new(config: Option<&Config<'c>>) -> Self {
        let ntp_server = config
            .and_then(|c| c.ntp_server())
            .unwrap_or(sntp::DEFAULT_SERVER);
        HttpState {
            pool: TcpClientState::new(),
            timeouts: Timeouts::new(),
            #[cfg(feature = "https")]
            tls: crate::tls::TlsSettings::new(config),
            ntp_server,
        }
    }

    /// The socket pool on `stack` (one connection, as the engine keeps at most one).
    pub fn pool<'d>(&'d self, stack: Stack<'d>) -> Pool<'d> {
        TcpClient::new(stack, &self.pool)
    }

    /// The SNTP server https asks for the time when the clock is not set.
    pub fn ntp_server(&self) -> &'c str {
        self.ntp_server
    }
}

/// An HTTP client on the board's network: one kept-alive connection, redirects as `mreq-core`
/// follows them, every read and connect limited (10 s unless [`Http::set_timeouts`] says).
pub struct Http<'d> {
    client: Client<NetConnector<'d>>,
    timeouts: &'d Timeouts,
}

impl<'d> Http<'d> {
    pub fn new(stack: Stack<'d>, state: &'d HttpState<'_>, pool: &'d Pool<'d>) -> Self {
        #[cfg(feature = "https")]
        let connector =
            NetConnector::new(stack, pool, &state.timeouts, &state.tls, state.ntp_server);
        #[cfg(not(feature = "https"))]
        let connector = NetConnector::new(stack, pool, &state.timeouts, state.ntp_server);
        Http {
            client: Client::new(connector),
            timeouts: &state.timeouts,
        }
    }

    /// Limits for the next requests: name lookup, connect and TLS handshake together, and each
    /// read or write. `None` waits for ever (a server that stops answering then hangs the task).
    pub fn set_timeouts(
        &self,
        connect: Option<embassy_time::Duration>,
        io: Option<embassy_time::Duration>,
    ) {
        self.timeouts.set(connect, io);
    }

    /// Sends `request` and returns the response once its head has arrived; read the body from
    /// it (`read`, or [`read_to_end`]). `buf` holds the head (see [`ENGINE_BUF`]).
    pub async fn send<'b>(
        &'b mut self,
        request: &Request<'b>,
        buf: &'b mut [u8],
    ) -> Result<Response<'b, Conn<'d>>> {
        self.client.send(request, buf).await
    }

    /// Sends `request` with a multipart form as its body (`Content-Length` from the form; sent
    /// again after a 307/308 redirect). Set the form's content type on the request:
    /// `Request::post(url).content_type(form.boundary().content_type().as_str())`.
    pub async fn send_form<'b>(
        &'b mut self,
        request: &Request<'b>,
        form: &mut mreq_core::multipart::Form<'_>,
        buf: &'b mut [u8],
    ) -> Result<Response<'b, Conn<'d>>> {
        let len = form.len();
        self.client
            .send_with(request, Some((form, Some(len))), &mut (), buf)
            .await
    }

    /// The engine's client, for what this wrapper does not offer (its configuration: redirect
    /// limit, header limits).
    pub fn client_mut(&mut self) -> &mut Client<NetConnector<'d>> {
        &mut self.client
    }

    /// Drops the kept-alive connection (the next request opens a new one).
    pub fn close(&mut self) {
        self.client.close();
    }
}

/// Why a whole body could not be had.
#[derive(Debug)]
pub enum BodyError {
    /// The request or the body failed (a truncated body is `Error::BodyTruncated` and the like).
    Http(Error),
    /// The body is larger than the buffer given for it (nothing was cut silently).
    TooLarge { limit: usize },
    /// The body is not the JSON asked for.
    Json(serde_json_core::de::Error),
}

impl From<Error> for BodyError {
    fn from(err: Error) -> Self {
        BodyError::Http(err)
    }
}

impl core::fmt::Display for BodyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BodyError::Http(err) => err.fmt(f),
            BodyError::TooLarge { limit } => {
                write!(f, "response body larger than its {limit}-byte buffer")
            }
            BodyError::Json(err) => write!(f, "response body is not the JSON expected: {err}"),
        }
    }
}

/// Reads the whole body into `buf` and returns it. A body larger than `buf` is an error, never a
/// silent cut; a body the server cut short is the engine's truncation error.
pub async fn read_to_end<'b>(
    response: &mut Response<'_, Conn<'_>>,
    buf: &'b mut [u8],
) -> core::result::Result<&'b [u8], BodyError> {
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            // Full: only a body that ends exactly here fits.
            let mut probe = [0u8; 1];
            return match response.read(&mut probe).await? {
                0 => Ok(&buf[..filled]),
                _ => Err(BodyError::TooLarge { limit: buf.len() }),
            };
        }
        match response.read(&mut buf[filled..]).await? {
            0 => return Ok(&buf[..filled]),
            n => filled += n,
        }
    }
}
