//! Connections for the engine over embassy-net: DNS through the stack's resolver, TCP from a
//! fixed pool of socket buffers. `https` is refused here until the TLS transport exists.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::client::{TcpClient, TcpConnection};
use embassy_net::Stack;
use embedded_nal_async::TcpConnect;
use mreq_core::client::asynch::Connect;
use mreq_core::error::IoErrorKind;
use mreq_core::url::Scheme;
use mreq_core::{Error, Result};

/// Socket buffer sizes: one connection at a time, as the engine keeps at most one.
pub const TCP_TX: usize = 1024;
pub const TCP_RX: usize = 2048;

/// How long a request (or the start-up request) waits for the network to come up.
pub const NETWORK_WAIT: embassy_time::Duration = embassy_time::Duration::from_secs(20);

pub type Pool<'d> = TcpClient<'d, 1, TCP_TX, TCP_RX>;

pub struct NetConnector<'d> {
    stack: Stack<'d>,
    pool: &'d Pool<'d>,
}

impl<'d> NetConnector<'d> {
    pub fn new(stack: Stack<'d>, pool: &'d Pool<'d>) -> Self {
        NetConnector { stack, pool }
    }

    async fn resolve(&self, host: &str) -> Result<IpAddr> {
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(IpAddr::V4(ip));
        }
        let addresses = self
            .stack
            .dns_query(host, DnsQueryType::A)
            .await
            .map_err(|_| Error::Dns)?;
        addresses
            .first()
            .map(|a| IpAddr::from(*a))
            .ok_or(Error::Dns)
    }
}

impl<'d> Connect for NetConnector<'d> {
    type Conn = TcpConnection<'d, 1, TCP_TX, TCP_RX>;

    async fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Self::Conn> {
        if scheme == Scheme::Https {
            // TLS in firmware is its own piece of work (rustls no_std); until then, say so.
            return Err(Error::Tls);
        }
        if !self.stack.is_config_up()
            && embassy_time::with_timeout(NETWORK_WAIT, self.stack.wait_config_up())
                .await
                .is_err()
        {
            return Err(Error::Connect(IoErrorKind::NotConnected));
        }
        let ip = self.resolve(host).await?;
        // embassy-net reports every failed connect as a reset (refused, unreachable, timed out).
        self.pool
            .connect(SocketAddr::new(ip, port))
            .await
            .map_err(|_| Error::Connect(IoErrorKind::ConnectionRefused))
    }
}
