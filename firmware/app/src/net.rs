//! Connections for the engine over embassy-net: DNS through the stack's resolver, TCP from a
//! fixed pool of socket buffers, and TLS over that TCP for `https` (feature `tls`, see
//! [`crate::tls`]). The engine sees one connection type, [`Conn`], either way.

use core::cell::Cell;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::client::{TcpClient, TcpConnection};
use embassy_net::Stack;
use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;
use mreq_core::client::asynch::Connect;
use mreq_core::error::{io_error, ErrorText, IoErrorKind};
use mreq_core::url::Scheme;
use mreq_core::{Error, Result};

use crate::sntp::SntpError;

/// Socket buffer sizes: one connection at a time, as the engine keeps at most one.
pub const TCP_TX: usize = 1024;
pub const TCP_RX: usize = 2048;

/// How long a request (or the start-up request) waits for the network to come up.
pub const NETWORK_WAIT: embassy_time::Duration = embassy_time::Duration::from_secs(20);

/// The connect and read limits of the shell's own requests; a framed request brings its own.
pub const DEFAULT_TIMEOUT: embassy_time::Duration = embassy_time::Duration::from_secs(10);

/// The limits the current request applies, shared by the connector and its connections (a
/// kept-alive connection serves the next request with that request's limits). `None`: no limit.
pub struct Timeouts {
    /// Name lookup, TCP connect and TLS handshake together, as curl's `--connect-timeout`.
    pub connect: Cell<Option<embassy_time::Duration>>,
    /// Each read and write of the connection.
    pub io: Cell<Option<embassy_time::Duration>>,
}

impl Timeouts {
    pub const fn new() -> Self {
        Timeouts {
            connect: Cell::new(Some(DEFAULT_TIMEOUT)),
            io: Cell::new(Some(DEFAULT_TIMEOUT)),
        }
    }

    pub fn set(&self, connect: Option<embassy_time::Duration>, io: Option<embassy_time::Duration>) {
        self.connect.set(connect);
        self.io.set(io);
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `work` within `limit`; past it, `Error::Timeout`.
pub async fn limited<T>(
    limit: Option<embassy_time::Duration>,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        Some(limit) => embassy_time::with_timeout(limit, work)
            .await
            .unwrap_or(Err(Error::Timeout)),
        None => work.await,
    }
}

pub type Pool<'d> = TcpClient<'d, 1, TCP_TX, TCP_RX>;
type Tcp<'d> = TcpConnection<'d, 1, TCP_TX, TCP_RX>;

pub struct NetConnector<'d> {
    stack: Stack<'d>,
    pool: &'d Pool<'d>,
    timeouts: &'d Timeouts,
    #[cfg(feature = "https")]
    tls: &'d crate::tls::TlsSettings,
    /// Asked for the time when an https connection finds the clock unset (the first https
    /// request, or a redirect from http to https).
    ntp_server: &'d str,
    /// What that server answered, until the shell reports it.
    clock_asked: Option<Result<u64, SntpError>>,
    handshake: Option<Handshake>,
}

/// The last completed TLS handshake: how long it took and what it agreed on.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub took: embassy_time::Duration,
    /// `TLSv1_3 TLS13_AES_128_GCM_SHA256`.
    pub agreed: heapless::String<64>,
}

impl<'d> NetConnector<'d> {
    #[cfg(feature = "https")]
    pub fn new(
        stack: Stack<'d>,
        pool: &'d Pool<'d>,
        timeouts: &'d Timeouts,
        tls: &'d crate::tls::TlsSettings,
        ntp_server: &'d str,
    ) -> Self {
        NetConnector {
            stack,
            pool,
            timeouts,
            tls,
            ntp_server,
            clock_asked: None,
            handshake: None,
        }
    }

    #[cfg(not(feature = "https"))]
    pub fn new(
        stack: Stack<'d>,
        pool: &'d Pool<'d>,
        timeouts: &'d Timeouts,
        ntp_server: &'d str,
    ) -> Self {
        NetConnector {
            stack,
            pool,
            timeouts,
            ntp_server,
            clock_asked: None,
            handshake: None,
        }
    }

    /// The limits requests through this connector apply.
    pub fn timeouts(&self) -> &'d Timeouts {
        self.timeouts
    }

    /// The SNTP server asked for the time during the last connection, and its answer; `take`
    /// so that it is reported once.
    pub fn take_clock_asked(&mut self) -> Option<(&'d str, Result<u64, SntpError>)> {
        self.clock_asked
            .take()
            .map(|answer| (self.ntp_server, answer))
    }

    /// The last completed TLS handshake; `take` so that it is reported once.
    pub fn take_handshake(&mut self) -> Option<Handshake> {
        self.handshake.take()
    }

    async fn resolve(&self, host: &str) -> Result<IpAddr> {
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(IpAddr::V4(ip));
        }
        let addresses = self
            .stack
            .dns_query(host, DnsQueryType::A)
            .await
            .map_err(|e| Error::Dns {
                reason: ErrorText::format(format_args!("{e:?}")),
            })?;
        addresses
            .first()
            .map(|a| IpAddr::from(*a))
            .ok_or(Error::Dns {
                reason: ErrorText::new("no address for the name"),
            })
    }

    #[cfg(feature = "https")]
    async fn secure(&mut self, tcp: Tcp<'d>, host: &str) -> Result<Stream<'d>> {
        if crate::clock::unix_ms().is_none() {
            // Without an answer the handshake is refused below, with the reason; the shell
            // reports the answer (or its absence) after the request.
            self.clock_asked = Some(crate::sntp::sync(self.stack, self.ntp_server).await);
        }
        let started = embassy_time::Instant::now();
        let stream = self.tls.connect(tcp, host).await?;
        let mut agreed = heapless::String::new();
        // Cut if ever longer than the buffer: it is only reported.
        let _ = stream.describe(&mut agreed);
        self.handshake = Some(Handshake {
            took: started.elapsed(),
            agreed,
        });
        Ok(Stream::Tls(alloc::boxed::Box::new(stream)))
    }

    #[cfg(not(feature = "https"))]
    async fn secure(&mut self, _tcp: Tcp<'d>, _host: &str) -> Result<Stream<'d>> {
        Err(Error::tls(format_args!(
            "https is not built into this board's firmware (README: TLS)"
        )))
    }
}

impl<'d> NetConnector<'d> {
    async fn open(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Stream<'d>> {
        if !self.stack.is_config_up()
            && embassy_time::with_timeout(NETWORK_WAIT, self.stack.wait_config_up())
                .await
                .is_err()
        {
            return Err(Error::Connect(IoErrorKind::NotConnected));
        }
        let ip = self.resolve(host).await?;
        // embassy-net reports every failed connect as a reset (refused, unreachable, timed out).
        let tcp = self
            .pool
            .connect(SocketAddr::new(ip, port))
            .await
            .map_err(|_| Error::Connect(IoErrorKind::ConnectionRefused))?;
        match scheme {
            Scheme::Http => Ok(Stream::Plain(tcp)),
            Scheme::Https => self.secure(tcp, host).await,
        }
    }
}

impl<'d> Connect for NetConnector<'d> {
    type Conn = Conn<'d>;

    async fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Self::Conn> {
        let timeouts = self.timeouts;
        let stream = limited(timeouts.connect.get(), self.open(scheme, host, port)).await?;
        Ok(Conn { stream, timeouts })
    }
}

/// A connection the engine talks HTTP over, each read and write limited by the current
/// request's [`Timeouts`].
pub struct Conn<'d> {
    stream: Stream<'d>,
    timeouts: &'d Timeouts,
}

/// Plain TCP, or TLS over TCP.
enum Stream<'d> {
    Plain(Tcp<'d>),
    /// Boxed: the TLS state is large and lives on the heap anyway.
    #[cfg(feature = "https")]
    Tls(alloc::boxed::Box<crate::tls::TlsOver<'d, Tcp<'d>>>),
}

impl embedded_io_async::ErrorType for Conn<'_> {
    type Error = Error;
}

impl Read for Conn<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let work = async {
            match &mut self.stream {
                Stream::Plain(tcp) => tcp.read(buf).await.map_err(io_error),
                #[cfg(feature = "https")]
                Stream::Tls(tls) => tls.read(buf).await,
            }
        };
        limited(self.timeouts.io.get(), work).await
    }
}

impl Write for Conn<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize> {
        let work = async {
            match &mut self.stream {
                Stream::Plain(tcp) => tcp.write(buf).await.map_err(io_error),
                #[cfg(feature = "https")]
                Stream::Tls(tls) => tls.write(buf).await,
            }
        };
        limited(self.timeouts.io.get(), work).await
    }

    async fn flush(&mut self) -> Result<()> {
        let work = async {
            match &mut self.stream {
                Stream::Plain(tcp) => tcp.flush().await.map_err(io_error),
                #[cfg(feature = "https")]
                Stream::Tls(tls) => tls.flush().await,
            }
        };
        limited(self.timeouts.io.get(), work).await
    }
}
