//! The device's side of the link to `mreq --device` (crate `mreq-link`, firmware/PROTOCOL.md):
//! the handshake, requests that carry an id and their own limits, request bodies streamed in
//! with flow control, responses streamed out, `alive` frames while the network is slow, cancel,
//! and failures as stable kinds.

use crate::console::{Console, ConsoleError};
use crate::http::ENGINE_BUF;
use crate::net::{Conn, NetConnector};
use core::cell::Cell;
use core::fmt::{self, Write as _};
use core::task::Poll;
use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_time::{Duration, Timer};
use embedded_io_async::{Read, Write};
use mreq_core::client::asynch::{BodySource, Client, Response};
use mreq_core::client::Request;
use mreq_core::request::Header as HttpHeader;
use mreq_fwconfig::crc32_update;
use mreq_link::{
    encode_header, kinds, BodyLen, Event, FrameReader, Header, Hello, Kind, RequestFrame,
    HEADER_MAX,
};

/// The largest `req` payload taken (method, URL, options, headers).
pub const MAX_REQUEST: usize = 2048;
/// The most request headers taken (the firmware's `User-Agent` comes on top).
pub const MAX_HEADERS: usize = 24;
/// Request body bytes the host may send before the device asks for more (`more` frames), so a
/// serial port's receive buffer never overflows.
const WINDOW: u32 = 1024;
/// Response body bytes per `data` frame.
const CHUNK: usize = 1024;
/// How often the device says it is still working on a request.
const ALIVE_EVERY: Duration = Duration::from_secs(1);

/// The serial line while a framed request runs: the console and the reader that watches the
/// host's input for a `cancel` (or a new host's first frame) during the response.
struct Wire<'w, 'c, S> {
    console: &'w mut Console<'c, S>,
    reader: FrameReader,
    /// A new host's first frame, seen while this request ran.
    pending: Option<Header>,
}

impl<S> Wire<'_, '_, S> {
    /// Whether a frame that arrived during request `id` stops it: a `cancel` of it, or a new
    /// host's `hello` or `req` (kept as pending, its payload still on the line).
    fn stops(&mut self, header: Header, id: u32) -> Option<Stop> {
        match header.kind {
            Kind::Cancel if header.id == id => Some(Stop::Cancelled),
            Kind::Hello | Kind::Request => {
                self.pending = Some(header);
                Some(Stop::Superseded)
            }
            _ => None,
        }
    }
}

/// A frame header that arrived while a request ran (a new host's `hello` or `req`): the shell
/// serves it next, its payload still unread on the line.
pub type Pending = Option<Header>;

/// Why a request stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The host sent `cancel`.
    Cancelled,
    /// Another host started talking (its frame is [`Pending`]).
    Superseded,
    /// The host's body frames broke the rules (a frame larger than granted).
    BadBody,
}

/// What the shell needs to know for framed requests.
pub struct Device<'a> {
    pub board: &'a str,
    /// Sent as `User-Agent` unless the request has one.
    pub agent: &'a str,
    /// TLS verification is off by configuration: said before every https request.
    pub insecure: bool,
}

/// Serves one frame from the host whose header has been read; its payload is next on the line.
pub async fn serve<S: Read + Write>(
    header: Header,
    device: &Device<'_>,
    client: &mut Client<NetConnector<'_>>,
    console: &mut Console<'_, S>,
    pending: &mut Pending,
) -> Result<(), ConsoleError> {
    match header.kind {
        Kind::Hello => hello(header, device, console).await,
        Kind::Request => request(header, device, client, console, pending).await,
        // Frames of a request that already ended (a cancelled upload's rest): dropped.
        _ => skip(console, header.len).await,
    }
}

async fn hello<S: Read + Write>(
    header: Header,
    device: &Device<'_>,
    console: &mut Console<'_, S>,
) -> Result<(), ConsoleError> {
    let mut payload = [0u8; 64];
    let len = header.len as usize;
    if len > payload.len() {
        skip(console, header.len).await?;
        return fail(
            console,
            header.id,
            kinds::VERSION,
            format_args!("hello too long"),
        )
        .await;
    }
    console.read_exact(&mut payload[..len]).await?;
    if mreq_link::protocol_of(&payload[..len]) != Some(mreq_link::VERSION) {
        let said = core::str::from_utf8(&payload[..len]).unwrap_or("?");
        return fail(
            console,
            header.id,
            kinds::VERSION,
            format_args!(
                "this device speaks mreq-link {}, the host {said:?}: update the one that is older",
                mreq_link::VERSION
            ),
        )
        .await;
    }
    let answer = Hello {
        protocol: mreq_link::VERSION,
        firmware: env!("CARGO_PKG_VERSION"),
        board: device.board,
        agent: device.agent,
        max_request: MAX_REQUEST as u32,
        max_headers: MAX_HEADERS as u32,
        tls: cfg!(feature = "https"),
    };
    let mut text = heapless::String::<256>::new();
    let _ = answer.write(&mut text);
    frame(console, Kind::Hello, header.id, &[text.as_bytes()]).await
}

async fn request<S: Read + Write>(
    header: Header,
    device: &Device<'_>,
    client: &mut Client<NetConnector<'_>>,
    console: &mut Console<'_, S>,
    pending: &mut Pending,
) -> Result<(), ConsoleError> {
    let id = header.id;
    let len = header.len as usize;
    let mut payload = [0u8; MAX_REQUEST];
    if len > MAX_REQUEST {
        skip(console, header.len).await?;
        return fail(
            console,
            id,
            kinds::TOO_LARGE,
            format_args!("request frame of {len} bytes; this device takes {MAX_REQUEST}"),
        )
        .await;
    }
    console.read_exact(&mut payload[..len]).await?;
    let frame = match RequestFrame::parse(&payload[..len]) {
        Ok(frame) => frame,
        Err(err) => return fail(console, id, kinds::BAD_REQUEST, format_args!("{err}")).await,
    };
    let mut headers: heapless::Vec<HttpHeader<'_>, { MAX_HEADERS + 1 }> = heapless::Vec::new();
    for (name, value) in frame.headers() {
        if headers.len() == MAX_HEADERS || headers.push(HttpHeader::new(name, value)).is_err() {
            return fail(
                console,
                id,
                kinds::TOO_LARGE,
                format_args!("more than {MAX_HEADERS} headers"),
            )
            .await;
        }
    }
    if !headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("user-agent"))
    {
        // Some servers refuse requests without one; the slot is reserved above.
        let _ = headers.push(HttpHeader::new("User-Agent", device.agent.as_bytes()));
    }
    let options = frame.options;
    let limit = |ms: u32| (ms > 0).then(|| Duration::from_millis(ms.into()));
    let defaults = *client.config();
    client.config_mut().max_redirects = options.redirects;
    let timeouts = client.connector_mut().timeouts();
    timeouts.set(limit(options.connect_ms), limit(options.read_ms));
    if device.insecure && is_https(frame.url) {
        frame_text(
            console,
            Kind::Warn,
            id,
            format_args!("TLS certificate verification is OFF (configuration entry TLS_INSECURE)"),
        )
        .await?;
    }
    let request = Request::new(frame.method, frame.url).headers(&headers);
    if options.body != BodyLen::None && !options.replay {
        // A body the host cannot send twice must not meet a kept-alive connection that turns
        // out stale (the engine would need it again): start on a fresh one.
        client.close();
    }
    let shared = Mutex::<NoopRawMutex, _>::new(Wire {
        console: &mut *console,
        reader: FrameReader::new(),
        pending: None,
    });
    let exchange = exchange(id, &request, options.body, client, &shared);
    let outcome = match limit(options.max_ms) {
        Some(max) => embassy_time::with_timeout(max, exchange).await.ok(),
        None => Some(exchange.await),
    };
    *client.config_mut() = defaults;
    timeouts.set(
        Some(crate::net::DEFAULT_TIMEOUT),
        Some(crate::net::DEFAULT_TIMEOUT),
    );
    let wire = shared.into_inner();
    let stopped = match outcome {
        Some(Ok(None)) => return Ok(()),
        Some(Ok(Some(stop))) => stop,
        Some(Err(err)) => return Err(err),
        None => {
            // The whole exchange took longer than the host's --max-time.
            client.close();
            return fail(
                wire.console,
                id,
                "timeout",
                format_args!(
                    "timed out: the whole exchange took over {} ms (--max-time)",
                    options.max_ms
                ),
            )
            .await;
        }
    };
    // The request future was dropped mid-exchange: its connection cannot be reused.
    client.close();
    match stopped {
        Stop::Superseded => {
            *pending = wire.pending;
            Ok(())
        }
        Stop::Cancelled => {
            fail(
                wire.console,
                id,
                kinds::CANCELLED,
                format_args!("cancelled by the host"),
            )
            .await
        }
        Stop::BadBody => {
            fail(
                wire.console,
                id,
                kinds::BAD_FRAME,
                format_args!("request body frame larger than the device granted"),
            )
            .await
        }
    }
}

/// The request, its response streamed out, and `alive` frames while it waits: `Ok(None)` when
/// it ended (well or with an error frame), `Ok(Some(stop))` when the host stopped it.
async fn exchange<S: Read + Write>(
    id: u32,
    request: &Request<'_>,
    body_len: BodyLen,
    client: &mut Client<NetConnector<'_>>,
    shared: &Mutex<NoopRawMutex, Wire<'_, '_, S>>,
) -> Result<Option<Stop>, ConsoleError> {
    let uploading = Cell::new(body_len != BodyLen::None && body_len != BodyLen::Known(0));
    let stop = Cell::new(None);
    let work = async {
        let mut engine_buf = [0u8; ENGINE_BUF];
        let mut body = FramedBody {
            shared,
            id,
            left_in_frame: 0,
            granted: 0,
            expected: match body_len {
                BodyLen::Known(n) => Some(n),
                _ => None,
            },
            received: 0,
            uploading: &uploading,
            stop: &stop,
        };
        let source = match body_len {
            BodyLen::None => None,
            BodyLen::Known(n) => Some((&mut body, Some(n))),
            BodyLen::Chunked => Some((&mut body, None)),
        };
        let sent = client
            .send_with(request, source, &mut (), &mut engine_buf)
            .await;
        uploading.set(false);
        if let Some(stopped) = stop.get() {
            return Ok(Some(stopped));
        }
        match sent {
            Ok(response) => stream(id, response, shared).await,
            Err(err) => {
                let mut wire = shared.lock().await;
                fail(wire.console, id, err.kind(), format_args!("{err}")).await?;
                Ok(None)
            }
        }
    };
    let heartbeat = async {
        loop {
            Timer::after(ALIVE_EVERY).await;
            // Busy means frames are moving anyway.
            if let Ok(mut wire) = shared.try_lock() {
                let _ = frame(wire.console, Kind::Alive, id, &[]).await;
                if !uploading.get() {
                    if let Some(stopped) = watch(&mut wire, id) {
                        return stopped;
                    }
                }
            }
        }
    };
    match select(work, heartbeat).await {
        Either::First(done) => done,
        Either::Second(stopped) => Ok(Some(stopped)),
    }
}

/// Streams the head and body out in frames, then `done` with the length and CRC-32.
async fn stream<S: Read + Write>(
    id: u32,
    mut response: Response<'_, Conn<'_>>,
    shared: &Mutex<NoopRawMutex, Wire<'_, '_, S>>,
) -> Result<Option<Stop>, ConsoleError> {
    {
        let url = response.url().as_bytes();
        let head = response.head().as_bytes();
        let mut wire = shared.lock().await;
        frame(wire.console, Kind::Head, id, &[url, b"\n", head]).await?;
    }
    let mut chunk = [0u8; CHUNK];
    let mut total: u64 = 0;
    let mut crc = !0u32;
    loop {
        let n = match response.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                let mut wire = shared.lock().await;
                fail(wire.console, id, err.kind(), format_args!("{err}")).await?;
                return Ok(None);
            }
        };
        total += n as u64;
        crc = crc32_update(crc, &chunk[..n]);
        let mut wire = shared.lock().await;
        frame(wire.console, Kind::Data, id, &[&chunk[..n]]).await?;
        if let Some(stopped) = watch(&mut wire, id) {
            return Ok(Some(stopped));
        }
    }
    let mut wire = shared.lock().await;
    frame_text(
        wire.console,
        Kind::Done,
        id,
        format_args!("{total} {:08x}", !crc),
    )
    .await?;
    Ok(None)
}

/// Reads what the host sent meanwhile, without waiting: a `cancel` of this request stops it, a
/// new host's first frame too (kept for the shell). Other bytes are dropped.
fn watch<S: Read + Write>(wire: &mut Wire<'_, '_, S>, id: u32) -> Option<Stop> {
    loop {
        let byte = match embassy_futures::poll_once(wire.console.read_byte()) {
            Poll::Ready(Ok(byte)) => byte,
            _ => return None,
        };
        let mut input = &[byte][..];
        loop {
            let (used, event) = wire.reader.feed(input);
            input = &input[used..];
            match event {
                None => break,
                Some(Event::Frame(header)) => {
                    if let Some(why) = wire.stops(header, id) {
                        return Some(why);
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// The request body, read from the host's `data` frames as the engine asks for it.
struct FramedBody<'s, 'w, 'c, S> {
    shared: &'s Mutex<NoopRawMutex, Wire<'w, 'c, S>>,
    id: u32,
    left_in_frame: u32,
    /// Bytes the host may still send without asking.
    granted: u32,
    /// The declared length, if any: reached, the upload is over.
    expected: Option<u64>,
    received: u64,
    uploading: &'s Cell<bool>,
    stop: &'s Cell<Option<Stop>>,
}

/// The body could not be read from the host (it stopped, or the line failed).
#[derive(Debug)]
struct BodyError;

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body did not arrive from the host")
    }
}

impl core::error::Error for BodyError {}

impl embedded_io::Error for BodyError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl<S> embedded_io::ErrorType for FramedBody<'_, '_, '_, S> {
    type Error = BodyError;
}

impl<S: Read + Write> Read for FramedBody<'_, '_, '_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, BodyError> {
        if !self.uploading.get() || buf.is_empty() {
            return Ok(0);
        }
        let mut wire = self.shared.lock().await;
        while self.left_in_frame == 0 {
            if self.granted == 0 {
                frame_text(wire.console, Kind::More, self.id, format_args!("{WINDOW}"))
                    .await
                    .map_err(|_| BodyError)?;
                self.granted = WINDOW;
            }
            let header = read_header(wire.console).await.map_err(|_| BodyError)?;
            match header.kind {
                Kind::Data if header.id == self.id => {
                    if header.len > self.granted {
                        return Err(self.stopped(Stop::BadBody));
                    }
                    self.granted -= header.len;
                    self.left_in_frame = header.len;
                }
                Kind::End if header.id == self.id => {
                    self.uploading.set(false);
                    return Ok(0);
                }
                _ => {
                    if let Some(why) = wire.stops(header, self.id) {
                        return Err(self.stopped(why));
                    }
                    skip(wire.console, header.len)
                        .await
                        .map_err(|_| BodyError)?;
                }
            }
        }
        let n = buf.len().min(self.left_in_frame as usize);
        wire.console
            .read_exact(&mut buf[..n])
            .await
            .map_err(|_| BodyError)?;
        self.left_in_frame -= n as u32;
        self.received += n as u64;
        if self.expected == Some(self.received) {
            // The engine stops here; the host's `end` frame is dropped by the shell.
            self.uploading.set(false);
        }
        Ok(n)
    }
}

impl<S> FramedBody<'_, '_, '_, S> {
    fn stopped(&self, why: Stop) -> BodyError {
        self.stop.set(Some(why));
        self.uploading.set(false);
        BodyError
    }
}

impl<S: Read + Write> BodySource for FramedBody<'_, '_, '_, S> {
    /// Asks the host to send the body again (it can when it came from a file or the command
    /// line, not from a pipe).
    async fn rewind(&mut self) -> bool {
        let mut wire = self.shared.lock().await;
        if frame(wire.console, Kind::Rewind, self.id, &[])
            .await
            .is_err()
        {
            return false;
        }
        loop {
            let Ok(header) = read_header(wire.console).await else {
                return false;
            };
            match header.kind {
                Kind::Rewind if header.id == self.id => {
                    let mut answer = [0u8; 1];
                    let len = header.len as usize;
                    if len != 1 || wire.console.read_exact(&mut answer).await.is_err() {
                        let _ = skip(wire.console, header.len).await;
                        return false;
                    }
                    if answer != *b"1" {
                        return false;
                    }
                    self.left_in_frame = 0;
                    self.granted = 0;
                    self.received = 0;
                    self.uploading.set(true);
                    return true;
                }
                // The rest of the first pass (its `end`), or frames of other requests.
                _ => {
                    if let Some(why) = wire.stops(header, self.id) {
                        self.stopped(why);
                        return false;
                    }
                    if skip(wire.console, header.len).await.is_err() {
                        return false;
                    }
                }
            }
        }
    }
}

/// Reads the next frame header the host sends (lines that are not frames are skipped).
async fn read_header<S: Read + Write>(
    console: &mut Console<'_, S>,
) -> Result<Header, ConsoleError> {
    let mut line = crate::console::Line::new();
    loop {
        console.read_raw_line(&mut line).await?;
        if let Some(Ok(header)) = line.strip_prefix(b"@").map(Header::parse) {
            return Ok(header);
        }
    }
}

async fn skip<S: Read + Write>(console: &mut Console<'_, S>, len: u32) -> Result<(), ConsoleError> {
    for _ in 0..len {
        console.read_byte().await?;
    }
    Ok(())
}

/// Writes one frame whose payload is `parts`, in order.
async fn frame<S: Read + Write>(
    console: &mut Console<'_, S>,
    kind: Kind,
    id: u32,
    parts: &[&[u8]],
) -> Result<(), ConsoleError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut head = [0u8; HEADER_MAX];
    console
        .write(encode_header(Header::new(kind, id, len as u32), &mut head))
        .await?;
    for part in parts {
        console.write(part).await?;
    }
    Ok(())
}

/// A frame whose payload is formatted text (cut at 256 bytes).
async fn frame_text<S: Read + Write>(
    console: &mut Console<'_, S>,
    kind: Kind,
    id: u32,
    args: fmt::Arguments<'_>,
) -> Result<(), ConsoleError> {
    let mut text = heapless::String::<256>::new();
    if text.write_fmt(args).is_err() {
        text.truncate(250);
        let _ = text.push_str("...");
    }
    frame(console, kind, id, &[text.as_bytes()]).await
}

/// An `error` frame: the stable kind, a space, the message.
async fn fail<S: Read + Write>(
    console: &mut Console<'_, S>,
    id: u32,
    kind: &str,
    message: fmt::Arguments<'_>,
) -> Result<(), ConsoleError> {
    frame_text(console, Kind::Error, id, format_args!("{kind} {message}")).await
}

/// Answers a line that starts with `@` but is no frame header (its payload length is unknown,
/// so nothing more is read).
pub async fn garbled<S: Read + Write>(
    console: &mut Console<'_, S>,
    err: mreq_link::HeaderError,
) -> Result<(), ConsoleError> {
    fail(console, 0, kinds::BAD_FRAME, format_args!("{err}")).await
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}
