//! Runs one request through both drivers (blocking and async) so every integration test checks
//! that they behave the same. The async driver runs on a std socket under a tiny `block_on`.
#![allow(dead_code)]

use mreq_core::client::tcp::{TcpConn, TcpConnector};
use mreq_core::client::{asynch, blocking, Config, Request};
use mreq_core::url::Scheme;
use mreq_core::{Error, Result};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Everything observable about a response, read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub reason: String,
    pub url: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, Vec<u8>)>,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

pub fn connector(read_timeout: Duration) -> TcpConnector {
    TcpConnector {
        read_timeout: Some(read_timeout),
        ..TcpConnector::default()
    }
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        // Our async transport never returns Pending: it blocks inside poll.
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// A std socket behind the async traits (blocking inside; fine for tests on the host).
pub struct AsyncTcp(pub TcpConnector);
pub struct AsyncConn(TcpConn);

impl asynch::Connect for AsyncTcp {
    type Conn = AsyncConn;
    async fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<AsyncConn> {
        blocking::Connect::connect(&mut self.0, scheme, host, port).map(AsyncConn)
    }
}

impl embedded_io_async::ErrorType for AsyncConn {
    type Error = Error;
}

impl embedded_io_async::Read for AsyncConn {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        embedded_io::Read::read(&mut self.0, buf)
    }
}

impl embedded_io_async::Write for AsyncConn {
    async fn write(&mut self, buf: &[u8]) -> Result<usize> {
        embedded_io::Write::write(&mut self.0, buf)
    }
    async fn flush(&mut self) -> Result<()> {
        embedded_io::Write::flush(&mut self.0)
    }
}

fn collect_fields<'a>(fields: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, Vec<u8>)> {
    // `Date` differs between the two drivers' requests when a second ticks over.
    fields
        .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect()
}

/// A streamed request body for `send_streaming`.
#[derive(Clone, Copy)]
pub struct Stream<'a> {
    pub data: &'a [u8],
    pub declared_len: Option<u64>,
}

/// The body of `fetch_blocking` and `fetch_async`, written once (with or without `.await`), as
/// the drivers themselves are.
macro_rules! fetch_with {
    ($client:expr, $req:expr, $stream:expr $(, .$await:ident)?) => {{
        let mut buf = vec![0u8; 8192];
        let mut response = match $stream {
            None => $client.send($req, &mut buf) $(.$await)??,
            Some(s) => {
                let mut reader = s.data;
                $client.send_streaming($req, &mut reader, s.declared_len, &mut buf) $(.$await)??
            }
        };
        let mut body = Vec::new();
        let mut chunk = [0u8; 777];
        loop {
            match response.read(&mut chunk) $(.$await)?? {
                0 => break,
                n => body.extend_from_slice(&chunk[..n]),
            }
        }
        Ok(Fetched {
            status: response.status(),
            reason: response.reason().to_string(),
            url: response.url().to_string(),
            headers: collect_fields(response.head().headers()),
            body,
            trailers: collect_fields(response.trailers()),
        })
    }};
}

pub fn fetch_blocking(
    client: &mut blocking::Client<TcpConnector>,
    req: &Request<'_>,
    stream: Option<Stream<'_>>,
) -> Result<Fetched> {
    fetch_with!(client, req, stream)
}

pub async fn fetch_async(
    client: &mut asynch::Client<AsyncTcp>,
    req: &Request<'_>,
    stream: Option<Stream<'_>>,
) -> Result<Fetched> {
    fetch_with!(client, req, stream, .await)
}

/// Runs `req` through both drivers with fresh clients; asserts they agree and returns the result.
pub fn both(
    req: &Request<'_>,
    config: Config,
    read_timeout: Duration,
    stream: Option<Stream<'_>>,
) -> Result<Fetched> {
    let mut sync_client = blocking::Client::with_config(connector(read_timeout), config);
    let sync = fetch_blocking(&mut sync_client, req, stream);
    let mut async_client = asynch::Client::with_config(AsyncTcp(connector(read_timeout)), config);
    let asynch = block_on(fetch_async(&mut async_client, req, stream));
    assert_eq!(
        sync, asynch,
        "blocking and async drivers disagree for {} {}",
        req.method, req.url
    );
    sync
}

/// `both` with the default configuration and a 10 s read timeout.
pub fn fetch(req: &Request<'_>) -> Result<Fetched> {
    both(req, Config::default(), Duration::from_secs(10), None)
}
