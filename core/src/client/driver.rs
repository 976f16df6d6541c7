//! The driver loops, written once and instantiated twice: `driver!()` for the blocking client and
//! `driver!(async, .await)` for the async one. They hold only I/O: every decision is made by the
//! sans-IO `Call` (request to final head) and `Reading` (the
//! body), which are plain Rust, compiled once, and tested step by step.

macro_rules! driver {
    ($($async:ident)? $(, .$await:ident)?) => {
        use crate::client::call::{Call, Io};
        use crate::client::exchange::{BodyKind, Exchange};
        use crate::client::reading::{Next, Reading};
        use crate::client::{Config, Connection, Forward, Observer, Request};
        use crate::error::io_error;
        use crate::response::ResponseHead;
        use crate::url::{Scheme, Url};
        use crate::{Error, Result};

        /// Opens connections: TCP, or TCP wrapped in TLS for `https` (the engine does not care).
        #[allow(async_fn_in_trait)]
        pub trait Connect {
            type Conn: Read + Write;

            /// Connects to `host:port` (`host` without IPv6 brackets) for `scheme`.
            $($async)? fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Self::Conn>;

            /// Whether requests to this origin go through a forwarding HTTP proxy (then they
            /// are written in absolute form); `None`, the default: straight to the origin.
            fn forward(&self, _scheme: Scheme, _host: &str, _port: u16) -> Option<Forward<'_>> {
                None
            }
        }

        /// A streamed request body. [`rewind`](Self::rewind) goes back to its first byte so it
        /// can be sent again (after a 307/308 redirect, or on a fresh connection when a kept-alive
        /// one turned out stale); a source that cannot (a pipe) answers `false` and the request
        /// ends with `Error::BodyNotReplayable` where it would need the body again.
        #[allow(async_fn_in_trait)]
        pub trait BodySource: Read {
            /// Goes back to the first byte of the body; `false` if that is not possible.
            $($async)? fn rewind(&mut self) -> bool;
        }

        /// A reader that can be read once ([`Client::send_streaming`]).
        struct Once<'r, R>(&'r mut R);

        impl<R: Read> embedded_io::ErrorType for Once<'_, R> {
            type Error = R::Error;
        }

        impl<R: Read> Read for Once<'_, R> {
            $($async)? fn read(&mut self, buf: &mut [u8]) -> core::result::Result<usize, R::Error> {
                self.0.read(buf) $(.$await)?
            }
        }

        impl<R: Read> BodySource for Once<'_, R> {
            $($async)? fn rewind(&mut self) -> bool {
                false
            }
        }

        /// An HTTP/1.1 client over a [`Connect`]or, keeping one connection alive between requests.
        pub struct Client<T: Connect> {
            connector: T,
            config: Config,
            conn: Option<Connection<T::Conn>>,
        }

        impl<T: Connect> Client<T> {
            pub fn new(connector: T) -> Self {
                Self::with_config(connector, Config::default())
            }

            pub fn with_config(connector: T, config: Config) -> Self {
                Client { connector, config, conn: None }
            }

            pub fn config(&self) -> &Config {
                &self.config
            }

            /// The limits for the requests to come (a shell serving requests that each bring
            /// their own, say).
            pub fn config_mut(&mut self) -> &mut Config {
                &mut self.config
            }

            /// Hangs up the kept-alive connection, if any. Call it after dropping a request
            /// future before it finished (a timeout, a cancel): the connection is mid-exchange.
            pub fn close(&mut self) {
                self.conn = None;
            }

            pub fn connector_mut(&mut self) -> &mut T {
                &mut self.connector
            }

            /// Whether a kept-alive connection is open.
            pub fn has_connection(&self) -> bool {
                self.conn.is_some()
            }

            /// Sends `req` (its body from `req.body`) and returns the response once its head arrived.
            /// `buf` holds URLs, heads and buffered body bytes (see the module docs for its layout).
            pub $($async)? fn send<'c>(&'c mut self, req: &Request<'c>, buf: &'c mut [u8]) -> Result<Response<'c, T::Conn>> {
                self.run(*req, BodyKind::Bytes, None::<&mut Once<'_, &[u8]>>, &mut (), buf) $(.$await)?
            }

            /// Sends `req` with a body read from `body`: `len` bytes, or chunked when `len` is `None`.
            pub $($async)? fn send_streaming<'c, R: Read>(
                &'c mut self,
                req: &Request<'c>,
                body: &mut R,
                len: Option<u64>,
                buf: &'c mut [u8],
            ) -> Result<Response<'c, T::Conn>> {
                self.run(*req, BodyKind::Stream(len), Some(&mut Once(body)), &mut (), buf) $(.$await)?
            }

            /// The general form of [`send`](Self::send) and [`send_streaming`](Self::send_streaming):
            /// the body (if any) from a [`BodySource`] that may be sent again, and an [`Observer`]
            /// that sees every request head written and every redirect response on the way.
            pub $($async)? fn send_with<'c, S: BodySource, O: Observer>(
                &'c mut self,
                req: &Request<'c>,
                body: Option<(&mut S, Option<u64>)>,
                observer: &mut O,
                buf: &'c mut [u8],
            ) -> Result<Response<'c, T::Conn>> {
                match body {
                    Some((source, len)) => self.run(*req, BodyKind::Stream(len), Some(source), observer, buf) $(.$await)?,
                    None => self.run(*req, BodyKind::Bytes, None::<&mut S>, observer, buf) $(.$await)?,
                }
            }

            /// The I/O loop around the request's [`Call`]: it connects, writes, reads and
            /// rewinds as the call says, and decides nothing itself.
            $($async)? fn run<'c, S: BodySource, O: Observer>(
                &'c mut self,
                req: Request<'c>,
                kind: BodyKind,
                mut source: Option<&mut S>,
                observer: &mut O,
                buf: &'c mut [u8],
            ) -> Result<Response<'c, T::Conn>> {
                let mut call = Call::new(Exchange::new(req, kind)?, self.config, buf);
                loop {
                    let io = match call.poll() {
                        Ok(io) => io,
                        Err(err) => {
                            self.conn = None;
                            return Err(err);
                        }
                    };
                    match io {
                        Io::Connect(url) => {
                            let reused = self.ensure_connection(&url) $(.$await)?;
                            // Without the feature the connector is not asked: no rewrite code.
                            let forward = if cfg!(feature = "proxies") {
                                self.connector.forward(url.scheme(), url.connect_host(), url.port())
                            } else {
                                None
                            };
                            call.connected(reused, forward);
                        }
                        Io::WriteHead { bytes, head_len } => {
                            observer.request_head(&bytes[..head_len]);
                            let wrote = self.write(bytes) $(.$await)?;
                            call.wrote(wrote);
                        }
                        Io::Write(bytes) => {
                            let wrote = self.write(bytes) $(.$await)?;
                            call.wrote(wrote);
                        }
                        Io::Flush => {
                            let flushed = match self.conn.as_mut() {
                                Some(conn) => conn.stream.flush() $(.$await)?.map_err(io_error),
                                None => Err(Error::ConnectionClosed),
                            };
                            call.wrote(flushed);
                        }
                        Io::Read(into) => {
                            let got = match self.conn.as_mut() {
                                Some(conn) => conn.stream.read(into) $(.$await)?.map_err(io_error),
                                None => Err(Error::ConnectionClosed),
                            };
                            call.received(got);
                        }
                        Io::ReadSource(into) => {
                            let got = match source.as_deref_mut() {
                                Some(source) => source.read(into) $(.$await)?.map_err(|_| ()),
                                None => Ok(0),
                            };
                            call.source_read(got);
                        }
                        Io::Rewind => {
                            let ok = match source.as_deref_mut() {
                                Some(source) => source.rewind() $(.$await)?,
                                None => false,
                            };
                            call.rewound(ok);
                        }
                        Io::Close => self.conn = None,
                        Io::Redirect { head, url } => observer.redirect(&head, url),
                        Io::Done => break,
                    }
                }
                let finished = call.finish()?;
                let mut response = Response {
                    conn: &mut self.conn,
                    head: finished.head,
                    url: finished.url,
                    io: finished.io,
                    reading: Reading::new(finished.decoder, finished.buffered, finished.keep_alive),
                };
                if response.reading.is_done() {
                    response.finish();
                }
                Ok(response)
            }

            /// Writes all of `bytes` to the connection.
            $($async)? fn write(&mut self, bytes: &[u8]) -> Result<()> {
                match self.conn.as_mut() {
                    Some(conn) => conn.stream.write_all(bytes) $(.$await)?.map_err(io_error),
                    None => Err(Error::ConnectionClosed),
                }
            }

            /// Makes sure a connection to `url`'s origin is open; says whether it was reused.
            $($async)? fn ensure_connection(&mut self, url: &Url<'_>) -> Result<bool> {
                if self.conn.as_ref().is_some_and(|conn| conn.leads_to(url)) {
                    return Ok(true);
                }
                self.conn = None;
                let stream = self.connector.connect(url.scheme(), url.connect_host(), url.port()) $(.$await)??;
                self.conn = Some(Connection::new(stream, url));
                Ok(false)
            }
        }

        /// A response whose head has arrived; the body is read with [`read`](Self::read).
        ///
        /// Dropping it before the body's end closes the connection (it cannot be reused).
        pub struct Response<'c, C: Read + Write> {
            conn: &'c mut Option<Connection<C>>,
            head: ResponseHead<'c>,
            url: &'c str,
            io: &'c mut [u8],
            reading: Reading,
        }

        impl<'c, C: Read + Write> Response<'c, C> {
            pub fn status(&self) -> u16 {
                self.head.status()
            }

            pub fn reason(&self) -> &'c str {
                self.head.reason()
            }

            pub fn version(&self) -> &'static str {
                self.head.version()
            }

            /// The head: header iteration and case-insensitive lookup.
            pub fn head(&self) -> &ResponseHead<'c> {
                &self.head
            }

            pub fn header(&self, name: &str) -> Option<&'c [u8]> {
                self.head.header(name)
            }

            pub fn header_str(&self, name: &str) -> Option<&'c str> {
                self.head.header_str(name)
            }

            /// The URL this response came from (after redirects).
            pub fn url(&self) -> &'c str {
                self.url
            }

            /// Whether the whole body (and any trailers) has been read.
            pub fn is_complete(&self) -> bool {
                self.reading.is_done()
            }

            /// Trailer fields of a chunked body, once it has been read to its end.
            pub fn trailers(&self) -> crate::response::Fields<'_> {
                self.reading.trailers(self.io)
            }

            /// Reads body bytes into `out`; `Ok(0)` only at the verified end of the body.
            pub $($async)? fn read(&mut self, out: &mut [u8]) -> Result<usize> {
                let result = self.read_inner(out) $(.$await)?;
                if result.is_err() {
                    *self.conn = None;
                }
                result
            }

            /// The I/O loop around [`Reading`]: it reads where the body's state says.
            $($async)? fn read_inner(&mut self, out: &mut [u8]) -> Result<usize> {
                loop {
                    match self.reading.next(self.io, out)? {
                        Next::Copied(n) => {
                            if self.reading.is_done() {
                                self.finish();
                            }
                            return Ok(n);
                        }
                        Next::End => {
                            self.finish();
                            return Ok(0);
                        }
                        Next::ReadDirect(max) => {
                            let conn = self.conn.as_mut().ok_or(Error::ConnectionClosed)?;
                            let n = conn.stream.read(&mut out[..max]) $(.$await)?.map_err(io_error)?;
                            self.reading.direct(n)?;
                            if n > 0 {
                                if self.reading.is_done() {
                                    self.finish();
                                }
                                return Ok(n);
                            }
                        }
                        Next::Fill(from) => {
                            let conn = self.conn.as_mut().ok_or(Error::ConnectionClosed)?;
                            let n = conn.stream.read(&mut self.io[from..]) $(.$await)?.map_err(io_error)?;
                            self.reading.filled(n)?;
                        }
                    }
                }
            }

            /// The body has ended: keep the connection only if [`Reading`] says it may persist.
            fn finish(&mut self) {
                if !self.reading.reusable() {
                    *self.conn = None;
                }
            }

            /// Reads the whole body into `out`; `Error::BufferTooSmall` if it does not fit.
            pub $($async)? fn read_to_end_into(&mut self, out: &mut [u8]) -> Result<usize> {
                let mut filled = 0;
                loop {
                    if filled == out.len() {
                        let mut probe = [0u8; 1];
                        return match self.read(&mut probe) $(.$await)?? {
                            0 => Ok(filled),
                            _ => Err(Error::BufferTooSmall),
                        };
                    }
                    match self.read(&mut out[filled..]) $(.$await)?? {
                        0 => return Ok(filled),
                        n => filled += n,
                    }
                }
            }

            /// Reads the whole body into a `Vec`.
            #[cfg(feature = "alloc")]
            pub $($async)? fn bytes(&mut self) -> Result<alloc::vec::Vec<u8>> {
                let mut body = alloc::vec::Vec::new();
                if let Some(len) = self.reading.decoder.remaining_hint() {
                    body.reserve(usize::try_from(len.min(1 << 20)).unwrap_or(0));
                }
                let mut chunk = [0u8; 1024];
                loop {
                    match self.read(&mut chunk) $(.$await)?? {
                        0 => return Ok(body),
                        n => body.extend_from_slice(&chunk[..n]),
                    }
                }
            }

            /// Reads the whole body as text, decoded by the `Content-Type` charset (UTF-8 default).
            #[cfg(feature = "alloc")]
            pub $($async)? fn text(&mut self) -> Result<alloc::string::String> {
                let body = self.bytes() $(.$await)??;
                Ok(crate::client::text::decode(body, self.head.header("content-type")))
            }

            /// Reads the whole body and parses it as JSON.
            #[cfg(feature = "json")]
            pub $($async)? fn json<J: serde::de::DeserializeOwned>(&mut self) -> Result<J> {
                let body = self.bytes() $(.$await)??;
                serde_json::from_slice(&body).map_err(|_| Error::Json)
            }
        }

        impl<C: Read + Write> Drop for Response<'_, C> {
            fn drop(&mut self) {
                if !self.reading.is_done() {
                    // Unread body bytes would be taken for the next response: hang up instead.
                    *self.conn = None;
                }
            }
        }

        impl<C: Read + Write> embedded_io::ErrorType for Response<'_, C> {
            type Error = Error;
        }
    };
}

pub(crate) use driver;
