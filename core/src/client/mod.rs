//! The request drivers: one sans-IO lifecycle, run by a blocking and an async loop.
//!
//! Every decision of a request is plain Rust in `call` (from the request to its final response
//! head: the head to send, body framing, 1xx heads, redirects and their drain, when a connection
//! is reused, retried or dropped; its state graph is drawn there) and `reading` (the body, and
//! whether the connection may persist after it). Both are tested step by step against scripted
//! bytes. The blocking and async drivers (`driver.rs`, one source instantiated twice) are I/O loops
//! around them, so their behaviour cannot drift: the only difference is the I/O traits
//! (`embedded_io` vs `embedded_io_async`). A client keeps at most one connection and reuses it
//! only when the previous body was read to its end and the server did not say `close`.
//!
//! Memory: the caller lends one buffer per request. Its first `max_url_len` bytes keep the URL of
//! the current redirect target (only when redirects are followed); the rest holds the request
//! head, then the response head, then buffered body bytes. Nothing is allocated.

pub mod asynch;
#[macro_use]
mod driver;
pub mod blocking;
mod call;
mod exchange;
mod reading;
#[cfg(feature = "std")]
pub mod tcp;
#[cfg(feature = "alloc")]
mod text;

use crate::auth::Auth;
use crate::redirect::DEFAULT_MAX_REDIRECTS;
use crate::request::{CookieSource, Header};
use crate::response::{ResponseHead, DEFAULT_MAX_HEADERS};
use crate::url::{Scheme, Url};

/// Limits and policy of a client. Every limit is explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Redirects followed before `Error::TooManyRedirects`; 0 returns 3xx responses as they are
    /// (as does a build without the `redirects` feature).
    pub max_redirects: u8,
    /// Header fields accepted in a response head (and in a trailer section).
    pub max_headers: usize,
    /// Bytes of the lent buffer reserved for a redirect target URL (when redirects are followed).
    pub max_url_len: usize,
    /// A redirect response body up to this size is read and dropped so the connection can be
    /// reused; a larger one closes the connection instead.
    pub max_drain: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_headers: DEFAULT_MAX_HEADERS,
            max_url_len: 1024,
            max_drain: 64 * 1024,
        }
    }
}

/// Sees each step of a request as it happens, for tracing (`mreq -v` prints every hop of a
/// redirect chain with it). Both methods do nothing by default; `()` observes nothing.
pub trait Observer {
    /// A request head, exactly as it is written to the connection (once per attempt).
    fn request_head(&mut self, _head: &[u8]) {}
    /// A redirect response from `url` that is about to be followed (its body is dropped).
    fn redirect(&mut self, _head: &ResponseHead<'_>, _url: &str) {}
}

impl Observer for () {}

/// A connection that goes to an HTTP proxy which forwards plain `http` requests (RFC 9112
/// 3.2.2): each request names its absolute URL, and `authorization` (a `Proxy-Authorization`
/// value) goes with it. A connector says so per origin ([`blocking::Connect::forward`]); https
/// through a proxy is a tunnel the connector opens, invisible here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward<'a> {
    pub authorization: Option<&'a str>,
}

/// The smallest room for body bytes that must remain in the buffer after the response head.
pub const MIN_BODY_BUFFER: usize = 64;

/// Interim (1xx) responses skipped before a final one; one more is
/// `Error::TooManyInterimResponses` (a server cannot keep a request waiting with them forever).
pub const MAX_INTERIM_RESPONSES: u8 = 8;

/// A request: method, URL, headers, optional auth and body. Cheap to build and to copy.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [Header<'a>],
    pub auth: Option<Auth<'a>>,
    /// The body for [`send`](blocking::Client::send); streamed bodies are passed separately.
    pub body: &'a [u8],
    /// A `Content-Type` to send unless `headers` has one (set by the JSON helper).
    pub content_type: Option<&'a str>,
    /// A cookie jar asked for the `Cookie` value of each hop.
    pub cookies: Option<&'a dyn CookieSource>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, url: &'a str) -> Self {
        Request {
            method,
            url,
            headers: &[],
            auth: None,
            body: &[],
            content_type: None,
            cookies: None,
        }
    }

    pub fn get(url: &'a str) -> Self {
        Self::new("GET", url)
    }

    pub fn head(url: &'a str) -> Self {
        Self::new("HEAD", url)
    }

    pub fn post(url: &'a str) -> Self {
        Self::new("POST", url)
    }

    pub fn put(url: &'a str) -> Self {
        Self::new("PUT", url)
    }

    pub fn delete(url: &'a str) -> Self {
        Self::new("DELETE", url)
    }

    pub fn cookies(mut self, jar: &'a dyn CookieSource) -> Self {
        self.cookies = Some(jar);
        self
    }

    pub fn headers(mut self, headers: &'a [Header<'a>]) -> Self {
        self.headers = headers;
        self
    }

    pub fn auth(mut self, auth: Auth<'a>) -> Self {
        self.auth = Some(auth);
        self
    }

    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    pub fn content_type(mut self, content_type: &'a str) -> Self {
        self.content_type = Some(content_type);
        self
    }

    /// A body already serialised as JSON, sent with `Content-Type: application/json`.
    pub fn json_body(self, json: &'a [u8]) -> Self {
        self.body(json).content_type("application/json")
    }
}

/// An open connection and the origin it leads to.
pub(crate) struct Connection<C> {
    pub(crate) stream: C,
    scheme: Scheme,
    port: u16,
    host: [u8; 255],
    host_len: u8,
}

impl<C> Connection<C> {
    pub(crate) fn new(stream: C, url: &Url<'_>) -> Self {
        let mut host = [0u8; 255];
        let name = url.host().as_bytes();
        // A longer name is never matched again, so such a connection is simply not reused.
        let host_len = if name.len() <= host.len() {
            host[..name.len()].copy_from_slice(name);
            name.len() as u8
        } else {
            0
        };
        Connection {
            stream,
            scheme: url.scheme(),
            port: url.port(),
            host,
            host_len,
        }
    }

    pub(crate) fn leads_to(&self, url: &Url<'_>) -> bool {
        self.host_len > 0
            && self.scheme == url.scheme()
            && self.port == url.port()
            && self.host[..self.host_len as usize].eq_ignore_ascii_case(url.host().as_bytes())
    }
}
