//! A connection's socket: TCP, or a Unix domain socket (`--unix-socket PATH`, where every
//! request goes whatever its URL's host, as in curl). Both time out and both can be spliced.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

pub enum Sock {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Sock {
    pub fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
            #[cfg(unix)]
            Sock::Unix(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
        }
    }

    /// A read that takes what has arrived and never waits: `WouldBlock` if nothing has.
    pub fn recv_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            use rustix::net::{recv, RecvFlags};
            let fd = std::os::fd::AsFd::as_fd(self);
            loop {
                match recv(fd, &mut *buf, RecvFlags::DONTWAIT) {
                    Err(rustix::io::Errno::INTR) => continue,
                    other => return other.map(|(n, _)| n).map_err(io::Error::from),
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = buf;
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    /// The addresses at both ends (`None` for a Unix socket).
    pub fn addresses(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        match self {
            Sock::Tcp(s) => (s.peer_addr().ok(), s.local_addr().ok()),
            #[cfg(unix)]
            Sock::Unix(_) => (None, None),
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Sock::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Sock::Unix(s) => s.flush(),
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for Sock {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Sock::Tcp(s) => s.as_fd(),
            Sock::Unix(s) => s.as_fd(),
        }
    }
}
