//! MicroPython's raw REPL over a serial port, the protocol mpremote uses: Ctrl-C stops what runs,
//! Ctrl-A enters raw mode (`raw REPL; CTRL-B to exit` then `>`), code followed by Ctrl-D runs
//! (`OK`, its output, Ctrl-D, its error output, Ctrl-D, `>`), Ctrl-B leaves. Plain raw mode, not
//! raw-paste, so that old ports (the micro:bit's 1.9.2) answer too: code is sent in small pieces,
//! and checked on the board before it runs (see [`RawRepl::exec`]).

use anyhow::{bail, Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

const BANNER: &[u8] = b"raw REPL; CTRL-B to exit\r\n>";
/// How often one command is sent before the line is given up on.
const TRIES: usize = 4;
/// The frame a traceback has when the code itself raised (it runs in `exec`).
const CODE_FRAME: &str = "File \"<string>\"";
/// Runs the code [`RawRepl::load`] stored; any byte of it lost is an error before anything runs.
const RUN_LOADED: &[u8] = b"exec(_mq)\n";
/// The friendly REPL's prompt, and what it says on entering paste mode (Ctrl-E).
const FRIENDLY_PROMPT: &[u8] = b"\r\n>>> ";
const PASTE_BANNER: &[u8] = b"paste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ";
/// The line run after a script, and what it prints: the script ran to its end.
const SCRIPT_END: &str = "print('\\x06mreq-flash: done')";
const SCRIPT_DONE: &[u8] = b"\x06mreq-flash: done\r\n";
const TRACEBACK: &[u8] = b"Traceback (most recent call last):\r\n";
/// Bytes written at once, with a pause after each, as mpremote does in plain raw mode (the
/// board's UART buffer is small and raw mode has no flow control).
const PIECE: usize = 32;
const PAUSE: Duration = Duration::from_millis(10);

pub struct RawRepl<P: Read + Write> {
    port: P,
    name: String,
    /// How long one command may run before its output ends.
    pub timeout: Duration,
    /// Commands sent again because the board missed bytes of them.
    pub resent: usize,
}

/// What the board did with one command.
enum Ran {
    /// It ran: what it printed, and its error output (empty when it did not raise).
    Done { out: String, err: String },
    /// It never got the end of the command, and ran nothing.
    NotTaken,
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
            resent: 0,
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
    ///
    /// Plain raw mode has no flow control, and a board that falls behind (a busy interpreter, a
    /// UART buffer overrun) drops bytes without saying so. So the code goes first as a bytes
    /// literal that the board stores and measures (its length and byte sum must be the ones
    /// sent), then a short `exec` of it runs it; either command, damaged or lost, is sent again,
    /// [`TRIES`] times in all. The stored code is the board's only copy while it compiles, so
    /// this needs no more RAM than sending the code itself.
    pub fn exec(&mut self, code: &str) -> Result<String> {
        self.load(code.as_bytes())?;
        for _ in 0..TRIES {
            match self.run(RUN_LOADED)? {
                Ran::Done { out, err } if err.is_empty() => return Ok(out),
                // The code itself raised: its frames are exec's `<string>`.
                Ran::Done { out, err } if err.contains(CODE_FRAME) => {
                    return Err(RemoteError {
                        output: out,
                        traceback: without_wrapper_frames(&err),
                    }
                    .into())
                }
                // A byte of `exec(_mq)` lost: a SyntaxError or NameError, nothing ran.
                Ran::Done { .. } | Ran::NotTaken => self.resent += 1,
            }
        }
        self.kept_missing()
    }

    /// Stores `code` on the board as `_mq`, checked by its length and byte sum.
    fn load(&mut self, code: &[u8]) -> Result<()> {
        let sum: u64 = code.iter().map(|&b| u64::from(b)).sum();
        let expected = format!("{} {sum}", code.len());
        let command = format!("_mq={}\nprint(len(_mq),sum(_mq))\n", bytes_literal(code));
        let mut last = None;
        for _ in 0..TRIES {
            match self.run(command.as_bytes())? {
                Ran::Done { out, err } if err.is_empty() && out.trim() == expected => return Ok(()),
                Ran::Done { out, err } if !err.is_empty() => last = Some((out, err)),
                Ran::Done { .. } | Ran::NotTaken => last = None,
            }
            self.resent += 1;
        }
        match last {
            // Failing the same way every time is not the line (no memory for the code).
            Some((output, traceback)) if traceback.contains("MemoryError") => {
                Err(RemoteError { output, traceback }.into())
            }
            _ => self.kept_missing(),
        }
    }

    fn kept_missing<T>(&self) -> Result<T> {
        bail!(
            "the board on {} kept missing bytes of what was sent ({TRIES} tries): check the cable and the baud rate, and that no other program reads the port",
            self.name
        )
    }

    /// Sends one command and reads its answer. After a command the board did not take (its
    /// Ctrl-D lost), Ctrl-A resets the raw REPL: the board then shows its banner, and did not
    /// run anything. A board that was only slow answers `OK` first and the banner after.
    fn run(&mut self, command: &[u8]) -> Result<Ran> {
        for piece in command.chunks(PIECE) {
            self.write(piece)?;
            std::thread::sleep(PAUSE);
        }
        self.write(b"\x04")?;
        let mut banner_pending = false;
        let ok = self.read_exact_bytes(2, Duration::from_secs(2))?;
        if ok != b"OK" {
            self.write(b"\x01")?;
            banner_pending = true;
            match self.read_until_either(ok, b"OK", BANNER, Duration::from_secs(5))? {
                Some(true) => {}
                Some(false) => return Ok(Ran::NotTaken),
                None => bail!(
                    "the board on {} stopped answering (no OK after the code, nor its raw REPL banner after Ctrl-A)",
                    self.name
                ),
            }
        }
        let out = self.read_until(b"\x04", self.timeout)?;
        let err = self.read_until(b"\x04", self.timeout)?;
        self.read_until(b">", Duration::from_secs(3))?;
        if banner_pending {
            self.read_until(BANNER, Duration::from_secs(3))?;
        }
        Ok(Ran::Done {
            out: String::from_utf8_lossy(&out).into_owned(),
            err: String::from_utf8_lossy(&err).into_owned(),
        })
    }

    /// Runs a user's script at the top level of the board's interpreter, where it has all of the
    /// board's stack (run by `exec`, the micro:bit's would not hold urlencode's calls), and
    /// returns what it printed; an exception is a [`RemoteError`]. The script goes through the
    /// friendly REPL's paste mode, which echoes what it got: only an exact echo is run (Ctrl-D),
    /// anything else is cancelled (Ctrl-C) and sent again. Raw mode again afterwards.
    pub fn run_script(&mut self, source: &str) -> Result<String> {
        let text = format!(
            "{}\n{SCRIPT_END}\n",
            source.replace("\r\n", "\n").replace('\r', "\n")
        );
        if text.bytes().any(|b| b == 0x03 || b == 0x04) {
            bail!("the script holds a Ctrl-C or Ctrl-D character, which the board's REPL would act on");
        }
        self.write(b"\x02")?;
        self.read_until(FRIENDLY_PROMPT, Duration::from_secs(3))?;
        let mut tries = 0;
        let first = loop {
            if tries == TRIES {
                return self.kept_missing();
            }
            tries += 1;
            self.write(b"\x05")?;
            if self
                .read_until(PASTE_BANNER, Duration::from_secs(3))
                .is_err()
            {
                self.cancel_paste()?;
                self.resent += 1;
                continue;
            }
            for piece in text.as_bytes().chunks(PIECE) {
                self.write(piece)?;
                std::thread::sleep(PAUSE);
            }
            let echo = self.read_exact_bytes(text.len(), Duration::from_secs(3))?;
            if echo == text.as_bytes() && self.read_byte(Instant::now() + PAUSE)?.is_none() {
                self.write(b"\x04")?;
                // The board answers Ctrl-D with a line break before it runs anything; without
                // it, the Ctrl-D was lost and the script still waits in paste mode.
                if let Some(first) = self.read_byte(Instant::now() + Duration::from_secs(2))? {
                    break first;
                }
            }
            self.cancel_paste()?;
            self.resent += 1;
        };
        let deadline = Instant::now() + self.timeout;
        let mut got = vec![first];
        let ended = |got: &[u8]| {
            got.ends_with(FRIENDLY_PROMPT)
                && (find(got, SCRIPT_DONE).is_some() || find(got, TRACEBACK).is_some())
        };
        while !ended(&got) {
            match self.read_byte(deadline)? {
                Some(byte) => got.push(byte),
                None => bail!(
                    "the script on {} did not end within {:?} (got {:?})",
                    self.name,
                    self.timeout,
                    String::from_utf8_lossy(&got[got.len().saturating_sub(80)..])
                ),
            }
        }
        self.write(b"\x01")?;
        self.read_until(BANNER, Duration::from_secs(3))?;
        let body = got.strip_prefix(b"\r\n").unwrap_or(&got);
        // The prompt's line break ends the last line printed.
        let body = &body[..body.len() - b">>> ".len()];
        if let Some(at) = find(body, SCRIPT_DONE) {
            return Ok(String::from_utf8_lossy(&body[..at]).into_owned());
        }
        let at = find(body, TRACEBACK).unwrap_or(0);
        Err(RemoteError {
            output: String::from_utf8_lossy(&body[..at]).into_owned(),
            traceback: String::from_utf8_lossy(&body[at..]).into_owned(),
        }
        .into())
    }

    /// Leaves paste mode without running what it holds; the friendly prompt again.
    fn cancel_paste(&mut self) -> Result<()> {
        for _ in 0..TRIES {
            self.write(b"\x03")?;
            if self
                .read_until(FRIENDLY_PROMPT, Duration::from_secs(2))
                .is_ok()
            {
                self.drain(PAUSE)?;
                return Ok(());
            }
        }
        bail!(
            "the board on {} does not leave paste mode (Ctrl-C)",
            self.name
        )
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

    /// Reads on from `got` until it ends with `first` (`Some(true)`) or `second`
    /// (`Some(false)`); `None` when neither comes in time.
    fn read_until_either(
        &mut self,
        mut got: Vec<u8>,
        first: &[u8],
        second: &[u8],
        timeout: Duration,
    ) -> Result<Option<bool>> {
        let deadline = Instant::now() + timeout;
        loop {
            if got.ends_with(first) {
                return Ok(Some(true));
            }
            if got.ends_with(second) {
                return Ok(Some(false));
            }
            match self.read_byte(deadline)? {
                Some(byte) => got.push(byte),
                None => return Ok(None),
            }
        }
    }

    fn drain(&mut self, quiet: Duration) -> Result<()> {
        let deadline = Instant::now() + quiet;
        while self.read_byte(deadline)?.is_some() {}
        Ok(())
    }
}

/// A traceback of the user's code without the wrapper's `<stdin>` frame.
fn without_wrapper_frames(traceback: &str) -> String {
    traceback
        .split_inclusive('\n')
        .filter(|line| !line.trim_start().starts_with("File \"<stdin>\""))
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
