//! The driver loop, written once and instantiated twice: `driver!()` for the blocking client and
//! `driver!(async, .await)` for the async one. Keep I/O here and decisions in `exchange`.

macro_rules! driver {
    ($($async:ident)? $(, .$await:ident)?) => {
        use crate::body::{self, BodyDecoder};
        use crate::client::exchange::{BodyKind, Exchange};
        use crate::client::{Config, Connection, Observer, Request, MIN_BODY_BUFFER};
        use crate::error::io_error;
        use crate::response::{HeadInfo, HeadParser, ResponseHead};
        use crate::url::{self, Scheme, Url};
        use crate::{Error, Result};

        /// Opens connections: TCP, or TCP wrapped in TLS for `https` (the engine does not care).
        #[allow(async_fn_in_trait)]
        pub trait Connect {
            type Conn: Read + Write;

            /// Connects to `host:port` (`host` without IPv6 brackets) for `scheme`.
            $($async)? fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Self::Conn>;
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

            $($async)? fn run<'c, S: BodySource, O: Observer>(
                &'c mut self,
                req: Request<'c>,
                kind: BodyKind,
                mut reader: Option<&mut S>,
                observer: &mut O,
                buf: &'c mut [u8],
            ) -> Result<Response<'c, T::Conn>> {
                let slot_len = if self.config.max_redirects > 0 { self.config.max_url_len.min(buf.len() / 2) } else { 0 };
                let (slot, work) = buf.split_at_mut(slot_len);
                let mut exchange = Exchange::new(req, kind);
                let (info, filled) = loop {
                    let url_text = exchange.url_text(slot)?;
                    let url = Url::parse(url_text)?;
                    let (info, filled) = self.exchange_once(&mut exchange, &url, reader.as_deref_mut(), observer, work) $(.$await)??;
                    let (head_bytes, free) = work.split_at_mut(info.len);
                    let head = ResponseHead::new(head_bytes, info);
                    let Some(location) = exchange.follows_redirect(&self.config, &head)? else {
                        break (info, filled);
                    };
                    observer.redirect(&head, url_text);
                    // The redirect's own body goes first (it sits where the target will be joined).
                    if self.drain(info, exchange.is_head(), &free[..filled - info.len]) $(.$await)?.is_err() {
                        self.conn = None;
                    }
                    // Join into the free part of `work`, then keep it in the slot for the next hop.
                    let target = url::join(&url, location, free)?;
                    exchange.follow(info.status, &url, target)?;
                    let target_len = target.len();
                    let dst = slot.get_mut(..target_len).ok_or(Error::InvalidUrl("redirect URL longer than max_url_len"))?;
                    dst.copy_from_slice(&free[..target_len]);
                    exchange.url_len = Some(target_len);
                };
                let url_text = exchange.url_text(slot)?;
                let (head_bytes, io) = work.split_at_mut(info.len);
                let is_head = exchange.is_head();
                let decoder = BodyDecoder::new(info.framing(is_head));
                let mut response = Response {
                    conn: &mut self.conn,
                    head: ResponseHead::new(head_bytes, info),
                    url: url_text,
                    io,
                    pos: 0,
                    end: filled - info.len,
                    decoder,
                    keep_alive: info.keep_alive(is_head),
                };
                if response.decoder.is_done() {
                    response.finish();
                }
                Ok(response)
            }

            /// One request on one connection (reconnecting once if a reused one turns out stale).
            /// Returns the final head's info and how many bytes of `work` are filled.
            $($async)? fn exchange_once<S: BodySource, O: Observer>(
                &mut self,
                exchange: &mut Exchange<'_>,
                url: &Url<'_>,
                mut reader: Option<&mut S>,
                observer: &mut O,
                work: &mut [u8],
            ) -> Result<(HeadInfo, usize)> {
                let body = exchange.body_to_send();
                if matches!(body, Some(BodyKind::Stream(_))) && exchange.stream_used
                    && !rewind(reader.as_deref_mut()) $(.$await)?
                {
                    return Err(Error::BodyNotReplayable);
                }
                loop {
                    let reused = self.ensure_connection(url) $(.$await)??;
                    let head_len = exchange.write_head(url, work)?;
                    observer.request_head(&work[..head_len]);
                    let conn = match self.conn.as_mut() {
                        Some(conn) => &mut conn.stream,
                        None => return Err(Error::ConnectionClosed),
                    };
                    let sent = send_request(conn, work, head_len, exchange.req.body, body, reader.as_deref_mut()) $(.$await)?;
                    if matches!(body, Some(BodyKind::Stream(_))) {
                        exchange.stream_used = true;
                    }
                    let received = match sent {
                        Ok(()) => read_head(conn, work, self.config.max_headers) $(.$await)?,
                        Err(err) => Err(err),
                    };
                    match received {
                        Ok(Some(found)) => return Ok(found),
                        // A kept-alive connection the server had already closed: try a fresh one,
                        // unless the body was streamed and is gone.
                        Ok(None) | Err(Error::Io(_))
                            if reused && (!exchange.stream_used || rewind(reader.as_deref_mut()) $(.$await)?) =>
                        {
                            self.conn = None
                        }
                        Ok(None) => {
                            self.conn = None;
                            return Err(Error::ConnectionClosed);
                        }
                        Err(err) => {
                            self.conn = None;
                            return Err(err);
                        }
                    }
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

            /// Reads a redirect's body to its end so the connection can be reused (if small).
            $($async)? fn drain(&mut self, info: HeadInfo, is_head: bool, rest: &[u8]) -> Result<()> {
                let framing = info.framing(is_head);
                let too_big = !matches!(framing, crate::response::Framing::None | crate::response::Framing::Length(_))
                    || matches!(framing, crate::response::Framing::Length(n) if n > self.config.max_drain);
                if !info.keep_alive(is_head) || too_big {
                    self.conn = None;
                    return Ok(());
                }
                let mut decoder = BodyDecoder::new(framing);
                let decoded = decoder.decode(rest, usize::MAX)?;
                if decoded.consumed != rest.len() {
                    return Err(Error::InvalidContentLength);
                }
                let conn = match self.conn.as_mut() {
                    Some(conn) => &mut conn.stream,
                    None => return Ok(()),
                };
                let mut scratch = [0u8; 256];
                while !decoder.is_done() {
                    let n = conn.read(&mut scratch) $(.$await)?.map_err(io_error)?;
                    if n == 0 {
                        return decoder.eof();
                    }
                    let decoded = decoder.decode(&scratch[..n], usize::MAX)?;
                    if decoded.consumed != n {
                        return Err(Error::InvalidContentLength);
                    }
                }
                Ok(())
            }
        }

        /// Rewinds a streamed body for another attempt; `false` without one or if it cannot.
        $($async)? fn rewind<S: BodySource>(source: Option<&mut S>) -> bool {
            match source {
                Some(source) => source.rewind() $(.$await)?,
                None => false,
            }
        }

        /// Writes the head (and a small slice body with it, in one write) and then the body.
        $($async)? fn send_request<C: Write, R: Read>(
            conn: &mut C,
            work: &mut [u8],
            head_len: usize,
            bytes: &[u8],
            body: Option<BodyKind>,
            reader: Option<&mut R>,
        ) -> Result<()> {
            let bytes = if body == Some(BodyKind::Bytes) { bytes } else { &[] };
            if let Some(room) = work.get_mut(head_len..head_len + bytes.len()) {
                room.copy_from_slice(bytes);
                conn.write_all(&work[..head_len + bytes.len()]) $(.$await)?.map_err(io_error)?;
            } else {
                conn.write_all(&work[..head_len]) $(.$await)?.map_err(io_error)?;
                conn.write_all(bytes) $(.$await)?.map_err(io_error)?;
            }
            if let (Some(BodyKind::Stream(len)), Some(reader)) = (body, reader) {
                send_stream(conn, reader, len, work) $(.$await)??;
            }
            conn.flush() $(.$await)?.map_err(io_error)
        }

        /// Copies a streamed body to the connection: exactly `len` bytes, or chunked.
        $($async)? fn send_stream<C: Write, R: Read>(conn: &mut C, reader: &mut R, len: Option<u64>, scratch: &mut [u8]) -> Result<()> {
            let mut sent: u64 = 0;
            loop {
                let n = reader.read(scratch) $(.$await)?.map_err(|_| Error::RequestBodyRead)?;
                if n == 0 {
                    break;
                }
                sent += n as u64;
                match len {
                    Some(len) if sent > len => return Err(Error::RequestBodyLength),
                    Some(_) => conn.write_all(&scratch[..n]) $(.$await)?.map_err(io_error)?,
                    None => {
                        let mut size_line = [0u8; 18];
                        conn.write_all(body::write_chunk_header(n, &mut size_line)) $(.$await)?.map_err(io_error)?;
                        conn.write_all(&scratch[..n]) $(.$await)?.map_err(io_error)?;
                        conn.write_all(body::CHUNK_DATA_END) $(.$await)?.map_err(io_error)?;
                    }
                }
            }
            match len {
                Some(len) if sent != len => Err(Error::RequestBodyLength),
                Some(_) => Ok(()),
                None => conn.write_all(body::LAST_CHUNK) $(.$await)?.map_err(io_error),
            }
        }

        /// Reads until a final (non-1xx) head is complete. `Ok(None)`: closed before any byte.
        $($async)? fn read_head<C: Read>(conn: &mut C, work: &mut [u8], max_headers: usize) -> Result<Option<(HeadInfo, usize)>> {
            let mut filled = 0;
            let mut seen_any = false;
            let mut parser = HeadParser::new(max_headers);
            loop {
                if let Some(info) = parser.parse(&work[..filled])? {
                    if info.is_interim() {
                        work.copy_within(info.len..filled, 0);
                        filled -= info.len;
                        parser = HeadParser::new(max_headers);
                        continue;
                    }
                    if work.len() - info.len < MIN_BODY_BUFFER {
                        return Err(Error::HeadTooLarge);
                    }
                    return Ok(Some((info, filled)));
                }
                if filled == work.len() {
                    return Err(Error::HeadTooLarge);
                }
                let n = conn.read(&mut work[filled..]) $(.$await)?.map_err(io_error)?;
                if n == 0 {
                    return if seen_any { Err(Error::ConnectionClosed) } else { Ok(None) };
                }
                seen_any = true;
                filled += n;
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
            pos: usize,
            end: usize,
            decoder: BodyDecoder,
            keep_alive: bool,
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
                self.decoder.is_done()
            }

            /// Trailer fields of a chunked body, once it has been read to its end.
            pub fn trailers(&self) -> crate::response::Fields<'_> {
                self.decoder.trailers()
            }

            /// Reads body bytes into `out`; `Ok(0)` only at the verified end of the body.
            pub $($async)? fn read(&mut self, out: &mut [u8]) -> Result<usize> {
                let result = self.read_inner(out) $(.$await)?;
                if result.is_err() {
                    *self.conn = None;
                }
                result
            }

            $($async)? fn read_inner(&mut self, out: &mut [u8]) -> Result<usize> {
                if out.is_empty() {
                    return Ok(0);
                }
                loop {
                    if self.decoder.is_done() {
                        self.finish();
                        return Ok(0);
                    }
                    if self.pos < self.end {
                        let decoded = self.decoder.decode(&self.io[self.pos..self.end], out.len())?;
                        let (start, stop) = (self.pos + decoded.data.0, self.pos + decoded.data.1);
                        out[..stop - start].copy_from_slice(&self.io[start..stop]);
                        self.pos += decoded.consumed;
                        if stop > start {
                            if self.decoder.is_done() {
                                self.finish();
                            }
                            return Ok(stop - start);
                        }
                        continue;
                    }
                    let conn = match self.conn.as_mut() {
                        Some(conn) => &mut conn.stream,
                        None => return Err(Error::ConnectionClosed),
                    };
                    self.pos = 0;
                    self.end = 0;
                    if let Some(limit) = self.decoder.direct_limit() {
                        // Pure body bytes next: read them straight into the caller's buffer.
                        let want = out.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
                        let n = conn.read(&mut out[..want]) $(.$await)?.map_err(io_error)?;
                        if n == 0 {
                            self.decoder.eof()?;
                            self.keep_alive = false;
                            continue;
                        }
                        self.decoder.consume_direct(n);
                        if self.decoder.is_done() {
                            self.finish();
                        }
                        return Ok(n);
                    }
                    let n = conn.read(self.io) $(.$await)?.map_err(io_error)?;
                    if n == 0 {
                        self.decoder.eof()?;
                        self.keep_alive = false;
                        continue;
                    }
                    self.end = n;
                }
            }

            /// The body has ended: keep the connection only if it is clean and may persist.
            fn finish(&mut self) {
                if !self.keep_alive || self.pos < self.end {
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
                if let Some(len) = self.decoder.remaining_hint() {
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
                if !self.decoder.is_done() {
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
