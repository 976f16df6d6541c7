//! MicroPython's raw REPL over a serial port, the protocol mpremote uses: Ctrl-C stops what runs,
//! Ctrl-A enters raw mode (`raw REPL; CTRL-B to exit` then `>`), code followed by Ctrl-D runs
//! (`OK`, its output, Ctrl-D, its error output, Ctrl-D, `>`), Ctrl-B leaves. Plain raw mode, not
//! raw-paste, so that old ports (the micro:bit's 1.9.2) answer too: code is sent in small pieces.

use anyhow::{bail, Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

const BANNER: &[u8] = b"raw REPL; CTRL-B to exit\r\n>";
/// Bytes written at once, with a pause after each, as mpremote does in plain raw mode (the
/// board's UART buffer is small and raw mode has no flow control).
const PIECE: usize = 32;
const PAUSE: Duration = Duration::from_millis(10);

pub struct RawRepl<P: Read + Write> {
    port: P,
    name: String,
    /// How long one command may run before its output ends.
    pub timeout: Duration,
}

/// A Python exception on the board: what the code printed before it, and the traceback.
#[derive(Debug)]
pub struct RemoteError {
    pub output: String,
    pub traceback: String,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.traceback.trim_end())
    }
}

impl std::error::Error for RemoteError {}

impl<P: Read + Write> RawRepl<P> {
    /// Interrupts the running program and enters raw mode; fails with advice if no MicroPython
    /// REPL answers.
    pub fn enter(port: P, name: &str) -> Result<RawRepl<P>> {
        let mut repl = RawRepl {
            port,
            name: name.to_string(),
            timeout: Duration::from_secs(10),
        };
        for _ in 0..3 {
            repl.write(b"\r\x03\x03")?;
            repl.drain(Duration::from_millis(200))?;
            repl.write(b"\r\x01")?;
            if repl.read_until(BANNER, Duration::from_secs(2)).is_ok() {
                return Ok(repl);
            }
        }
        bail!(
            "no MicroPython REPL answers on {name}: is MicroPython running on the board (flash it with --image FILE), at 115200 baud, and no other program using the port?"
        )
    }

    /// Runs `code` and returns what it printed; an exception on the board is a [`RemoteError`].
    pub fn exec(&mut self, code: &str) -> Result<String> {
        for piece in code.as_bytes().chunks(PIECE) {
            self.write(piece)?;
            std::thread::sleep(PAUSE);
        }
        self.write(b"\x04")?;
        let ok = self.read_exact_bytes(2, Duration::from_secs(3))?;
        if ok != b"OK" {
            bail!(
                "the board on {} did not take the code (it answered {:?})",
                self.name,
                String::from_utf8_lossy(&ok)
            );
        }
        let out = self.read_until(b"\x04", self.timeout)?;
        let err = self.read_until(b"\x04", self.timeout)?;
        self.read_until(b">", Duration::from_secs(3))?;
        if !err.is_empty() {
            return Err(RemoteError {
                output: String::from_utf8_lossy(&out).into_owned(),
                traceback: String::from_utf8_lossy(&err).into_owned(),
            }
            .into());
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Soft-resets the board's interpreter (a fresh heap, modules unloaded) and stays in raw mode.
    pub fn soft_reset(&mut self) -> Result<()> {
        self.write(b"\x04")?;
        self.read_until(b"soft reboot\r\n", Duration::from_secs(5))?;
        self.read_until(BANNER, Duration::from_secs(5))?;
        Ok(())
    }

    /// Leaves raw mode (the board shows its normal prompt again).
    pub fn leave(mut self) -> Result<P> {
        self.write(b"\r\x02")?;
        Ok(self.port)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.port
            .write_all(bytes)
            .and_then(|()| self.port.flush())
            .with_context(|| format!("writing to {}", self.name))
    }

    fn read_byte(&mut self, deadline: Instant) -> Result<Option<u8>> {
        let mut byte = [0u8; 1];
        while Instant::now() < deadline {
            match self.port.read(&mut byte) {
                Ok(0) => bail!("{} closed", self.name),
                Ok(_) => return Ok(Some(byte[0])),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e).with_context(|| format!("reading from {}", self.name)),
            }
        }
        Ok(None)
    }

    /// Everything before `end` (which is consumed).
    fn read_until(&mut self, end: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while !got.ends_with(end) {
            match self.read_byte(deadline)? {
                Some(byte) => got.push(byte),
                None => bail!(
                    "the board on {} stopped answering (waited {:?} for {:?}; got {:?})",
                    self.name,
                    timeout,
                    String::from_utf8_lossy(end),
                    String::from_utf8_lossy(&got[got.len().saturating_sub(80)..])
                ),
            }
        }
        got.truncate(got.len() - end.len());
        Ok(got)
    }

    fn read_exact_bytes(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            match self.read_byte(deadline)? {
                Some(byte) => got.push(byte),
                None => break,
            }
        }
        Ok(got)
    }

    fn drain(&mut self, quiet: Duration) -> Result<()> {
        let deadline = Instant::now() + quiet;
        while self.read_byte(deadline)?.is_some() {}
        Ok(())
    }
}

/// `data` as a Python bytes literal that any MicroPython parses.
pub fn bytes_literal(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 2 + 3);
    out.push_str("b'");
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

/// A Python string literal of `text` (ASCII-escaped).
pub fn str_literal(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_what_python_would_misread() {
        assert_eq!(bytes_literal(b"a'\\\n\xff"), "b'a\\'\\\\\\x0a\\xff'");
        assert_eq!(str_literal("it's é"), "'it\\'s \\u00e9'");
    }
}
