//! What one transfer measured, for curl's `-w` (the times from its start, the address it
//! reached, bytes sent and received), and the deadline `-m` gives it. One [`Meter`] is shared by
//! the connector, every connection it made and the delivery: the engine in between stays unaware.

use crate::sock::Sock;
use mreq_core::{Error, Result};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The moments a transfer passes, as curl names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    NameLookup,
    Connect,
    AppConnect,
    StartTransfer,
}

/// The figures of one transfer.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    pub start: Option<Instant>,
    pub deadline: Option<Instant>,
    pub namelookup: Option<Duration>,
    pub connect: Option<Duration>,
    pub appconnect: Option<Duration>,
    pub starttransfer: Option<Duration>,
    pub remote: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    /// Connections opened for this transfer.
    pub connects: u32,
    /// Bytes written to connections (request heads and bodies).
    pub written: u64,
    /// Bytes of the request heads written.
    pub request_heads: u64,
    /// Bytes of the response heads received (every hop's).
    pub response_heads: u64,
    /// Body bytes delivered to the output.
    pub downloaded: u64,
    pub redirects: u32,
    /// When the last redirect response was in: the time the redirects took (curl's
    /// time_redirect, up to the final hop's start).
    pub redirected: Option<Duration>,
    /// The file the body was saved to.
    pub filename: Option<String>,
    /// A transient status whose body was not delivered: retried after this wait.
    pub declined: Option<Duration>,
}

impl Marks {
    /// Seconds from the start (0 when the moment did not come, as curl prints it).
    pub fn seconds(&self, at: Option<Duration>) -> f64 {
        at.map_or(0.0, |d| d.as_secs_f64())
    }

    pub fn elapsed(&self) -> Duration {
        self.start.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// Request body bytes sent (all but the heads).
    pub fn uploaded(&self) -> u64 {
        self.written.saturating_sub(self.request_heads)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Meter(Rc<RefCell<Marks>>);

impl Meter {
    /// Starts a transfer: every figure back to nothing, the clock and the deadline from now.
    pub fn begin(&self, max_time: Option<Duration>) {
        let now = Instant::now();
        *self.0.borrow_mut() = Marks {
            start: Some(now),
            deadline: max_time.map(|d| now + d),
            ..Marks::default()
        };
    }

    /// A copy of the figures so far.
    pub fn marks(&self) -> Marks {
        self.0.borrow().clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut Marks)) {
        f(&mut self.0.borrow_mut());
    }

    /// Notes a moment the first time it comes in this transfer.
    pub fn mark(&self, mark: Mark) {
        let mut marks = self.0.borrow_mut();
        let elapsed = marks.start.map(|s| s.elapsed());
        let slot = match mark {
            Mark::NameLookup => &mut marks.namelookup,
            Mark::Connect => &mut marks.connect,
            Mark::AppConnect => &mut marks.appconnect,
            Mark::StartTransfer => &mut marks.starttransfer,
        };
        if slot.is_none() {
            *slot = elapsed;
        }
    }

    /// Time left before the deadline (`None`: no deadline); past it, a timeout.
    pub fn remaining(&self) -> Result<Option<Duration>> {
        match self.0.borrow().deadline {
            None => Ok(None),
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(Error::Timeout),
            },
        }
    }

    /// `limit`, shortened to the time left.
    pub fn limit(&self, limit: Option<Duration>) -> Result<Option<Duration>> {
        Ok(match (self.remaining()?, limit) {
            (Some(left), Some(limit)) => Some(left.min(limit)),
            (left, limit) => left.or(limit),
        })
    }

    /// Before a read or write on `sock` (whose own timeout is `base`): with a deadline, the
    /// socket waits no longer than the time left. Also notes where the connection goes.
    pub fn arm(&self, sock: &Sock, base: Option<Duration>) -> Result<()> {
        {
            let mut marks = self.0.borrow_mut();
            if marks.remote.is_none() && marks.local.is_none() {
                (marks.remote, marks.local) = sock.addresses();
            }
        }
        if self.0.borrow().deadline.is_none() {
            return Ok(());
        }
        let timeout = self.limit(base)?;
        sock.set_timeouts(timeout)
            .map_err(|e| mreq_core::client::tcp::map_io(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_keep_the_first_moment_and_deadlines_end() {
        let meter = Meter::default();
        meter.begin(Some(Duration::from_millis(30)));
        meter.mark(Mark::Connect);
        let first = meter.marks().connect;
        std::thread::sleep(Duration::from_millis(5));
        meter.mark(Mark::Connect);
        assert_eq!(meter.marks().connect, first);
        assert!(meter
            .limit(Some(Duration::from_secs(9)))
            .unwrap()
            .is_some_and(|d| d <= Duration::from_millis(30)));
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(meter.remaining(), Err(Error::Timeout)));
        meter.begin(None);
        assert_eq!(meter.remaining().unwrap(), None);
        assert_eq!(meter.marks().connect, None);
    }
}
