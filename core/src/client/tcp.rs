//! A plain TCP connector on `std::net` with connect, read and write timeouts (feature `std`).
//! `https` is refused here: TLS is plugged in by the caller (the CLI wraps rustls).

use crate::error::{ErrorText, IoErrorKind};
use crate::url::Scheme;
use crate::{Error, Result};
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;
use std::vec::Vec;

/// Connects over TCP with timeouts; every read and write can time out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConnector {
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
}

impl Default for TcpConnector {
    fn default() -> Self {
        let thirty = Some(Duration::from_secs(30));
        TcpConnector {
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: thirty,
            write_timeout: thirty,
        }
    }
}

impl TcpConnector {
    /// Resolves and connects, trying each address in turn, with this connector's timeouts set.
    pub fn connect_tcp(&self, host: &str, port: u16) -> Result<TcpStream> {
        self.connect_addrs(&resolve(host, port)?)
    }

    /// Connects to the first of `addrs` that answers, with this connector's timeouts set.
    pub fn connect_addrs(&self, addrs: &[SocketAddr]) -> Result<TcpStream> {
        let mut last = Error::Dns {
            reason: ErrorText::new("no address for the name"),
        };
        for addr in addrs {
            let attempt = match self.connect_timeout {
                Some(timeout) => TcpStream::connect_timeout(addr, timeout),
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(stream) => {
                    let setup = stream
                        .set_read_timeout(self.read_timeout)
                        .and_then(|()| stream.set_write_timeout(self.write_timeout))
                        .and_then(|()| stream.set_nodelay(true));
                    setup.map_err(|e| Error::Connect(kind_of(&e)))?;
                    return Ok(stream);
                }
                Err(err) if is_timeout(&err) => last = Error::Timeout,
                Err(err) => last = Error::Connect(kind_of(&err)),
            }
        }
        Err(last)
    }
}

/// The addresses of a host name (or the address itself), in the resolver's order.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    (host, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| Error::Dns {
            reason: ErrorText::format(format_args!("{e}")),
        })
}

impl crate::client::blocking::Connect for TcpConnector {
    type Conn = TcpConn;

    fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<TcpConn> {
        if scheme == Scheme::Https {
            return Err(Error::tls(format_args!(
                "https needs a TLS connector (TcpConnector is plain TCP)"
            )));
        }
        self.connect_tcp(host, port).map(TcpConn)
    }
}

/// A `TcpStream` seen through `embedded_io`, with timeouts reported as `Error::Timeout`.
#[derive(Debug)]
pub struct TcpConn(pub TcpStream);

impl embedded_io::ErrorType for TcpConn {
    type Error = Error;
}

impl embedded_io::Read for TcpConn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map_err(|e| map_io(&e)),
            }
        }
    }
}

impl embedded_io::Write for TcpConn {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => return other.map_err(|e| map_io(&e)),
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.0.flush().map_err(|e| map_io(&e))
    }
}

/// Read timeouts surface as `WouldBlock` on Unix and `TimedOut` on Windows.
fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Maps a socket error into the engine's error.
pub fn map_io(err: &io::Error) -> Error {
    if is_timeout(err) {
        Error::Timeout
    } else {
        Error::Io(kind_of(err))
    }
}

fn kind_of(err: &io::Error) -> IoErrorKind {
    embedded_io::Error::kind(err)
}
