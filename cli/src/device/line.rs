//! The serial line to a board and the frames on it (crate `mreq-link`): opening it, writing
//! frames, and reading the frames of one request while the line stays alive.

use crate::failure::{self, Failure};
use mreq_link::{encode_header, Frames, Header, Kind, HEADER_MAX};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Serial speed for device paths (what the firmware consoles use).
const BAUD: u32 = 115_200;
/// How long one read waits before the line checks for Ctrl-C and for silence.
const POLL: Duration = Duration::from_millis(200);
/// A board working on a request sends a frame at least every second (`alive` while it waits on
/// the network): this much silence means the line or the board is gone.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(5);

/// Set by Ctrl-C: the request in flight is cancelled on the board, then mreq ends.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C from here on cancels the board's request instead of leaving it running.
pub fn catch_interrupt() {
    // Refused only when a handler is already set (a second DeviceLink): that one serves.
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
}

/// A byte stream to the board: a TCP socket (QEMU's console, a serial-to-TCP bridge) or a serial
/// device (USB serial adapter, or the pty QEMU's `-serial pty` makes).
pub trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// A whole frame of the request being waited for.
pub struct Frame {
    pub kind: Kind,
    pub payload: Vec<u8>,
}

pub struct Line {
    stream: Box<dyn Stream>,
    /// The port as the user named it, for messages.
    pub port: String,
    frames: Frames,
    heard: Instant,
    /// The request in flight, cancelled on the board if Ctrl-C comes.
    pub active: Option<u32>,
}

impl Line {
    /// Opens `tcp:HOST:PORT` or a serial device path.
    pub fn open(port: &str) -> Result<Line, Failure> {
        let stream: Box<dyn Stream> = match port.strip_prefix("tcp:") {
            Some(address) => {
                let stream = TcpStream::connect(address).map_err(|e| {
                    Failure::new(
                        failure::CONNECT,
                        format!("could not connect to device {address}: {e}"),
                    )
                })?;
                stream
                    .set_read_timeout(Some(POLL))
                    .map_err(|e| Failure::other(e.into()))?;
                Box::new(stream)
            }
            None => Box::new(open_serial(port)?),
        };
        Ok(Line {
            stream,
            port: port.to_string(),
            frames: Frames::new(),
            heard: Instant::now(),
            active: None,
        })
    }

    /// A line over any stream (the tests script one).
    #[cfg(test)]
    pub fn over(stream: Box<dyn Stream>) -> Line {
        Line {
            stream,
            port: "test".into(),
            frames: Frames::new(),
            heard: Instant::now(),
            active: None,
        }
    }

    /// Writes one frame.
    pub fn send(&mut self, kind: Kind, id: u32, payload: &[u8]) -> Result<(), Failure> {
        let mut head = [0u8; HEADER_MAX];
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let header = encode_header(Header::new(kind, id, len), &mut head);
        // A newline first: whatever the board has of a line (bytes it lost while booting, a
        // person's half-typed command) ends there, so this header starts a line of its own.
        let mut frame = Vec::with_capacity(1 + header.len() + payload.len());
        frame.push(b'\n');
        frame.extend_from_slice(header);
        frame.extend_from_slice(payload);
        // Silence is counted from the last thing said on the line, by either side.
        self.heard = Instant::now();
        self.stream
            .write_all(&frame)
            .and_then(|()| self.stream.flush())
            .map_err(|e| self.lost(&format!("could not send to it: {e}")))
    }

    /// The next whole frame of request `id`; frames of other ids are skipped (a late answer to
    /// an earlier request is never taken for this one). `None` when `wait` passed without one.
    /// The line is lost when the board says nothing for [`LINK_TIMEOUT`] (the handshake waits
    /// with `wait` alone, as a board may still be booting).
    pub fn next_frame(
        &mut self,
        id: u32,
        wait: Option<Duration>,
    ) -> Result<Option<Frame>, Failure> {
        let started = Instant::now();
        loop {
            while let Some((header, payload)) = self.frames.next_frame() {
                if header.id == id {
                    let kind = header.kind;
                    return Ok(Some(Frame { kind, payload }));
                }
            }
            if INTERRUPTED.load(Ordering::SeqCst) {
                return Err(self.interrupted());
            }
            if let Some(wait) = wait {
                if started.elapsed() >= wait {
                    return Ok(None);
                }
            } else if self.heard.elapsed() >= LINK_TIMEOUT {
                return Err(self.lost(&format!(
                    "no frame for {} s (a board working on a request sends one every second)",
                    LINK_TIMEOUT.as_secs()
                )));
            }
            self.fill()?;
        }
    }

    /// Reads what arrived (or nothing, after [`POLL`]).
    fn fill(&mut self) -> Result<(), Failure> {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(self.lost("it closed the line")),
            Ok(n) => {
                self.heard = Instant::now();
                self.frames.push(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(self.lost(&e.to_string())),
        }
    }

    /// The line failed: exit 56, naming the port.
    pub fn lost(&self, why: &str) -> Failure {
        Failure::new(
            failure::RECEIVE,
            format!("lost the device on {}: {why}", self.port),
        )
    }

    /// Ctrl-C: the board is told to stop the request in flight.
    fn interrupted(&mut self) -> Failure {
        if let Some(id) = self.active.take() {
            let _ = self.send(Kind::Cancel, id, &[]);
        }
        Failure::new(
            failure::INTERRUPTED,
            "interrupted: the request was cancelled on the device",
        )
    }
}

fn open_serial(port: &str) -> Result<Box<dyn serialport::SerialPort>, Failure> {
    serialport::new(port, BAUD)
        .timeout(POLL)
        .open()
        .map_err(|e| {
            let hint = match e.kind() {
                serialport::ErrorKind::NoDevice => " (is the board plugged in? is the port busy?)",
                serialport::ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
                    " (add yourself to the dialout group)"
                }
                _ => "",
            };
            Failure::new(
                failure::CONNECT,
                format!("could not open {port}: {e}{hint}"),
            )
        })
}
