//! `--monitor` and `mreq-flash monitor`: the board's console on this terminal. Everything typed
//! goes to the board; Ctrl-] (or Ctrl-C, as a byte, when the terminal is raw) leaves. With `--log`
//! the console is also written to a file; with the firmware's ELF, every code address on a line
//! (an esp-backtrace, a panic message) is followed by its function and source line.

use crate::symbols::Symbols;
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The bytes that end the monitor: Ctrl-] and Ctrl-C.
const EXIT_KEYS: [u8; 2] = [0x1d, 0x03];
/// The firmware consoles' speed (every board's shell and MicroPython's REPL).
pub const CONSOLE_BAUD: u32 = 115_200;
/// A longer line is passed through but not looked at for addresses.
const MAX_LINE: usize = 1024;

/// What the monitor does besides showing the console.
#[derive(Default)]
pub struct Extras {
    pub log: Option<std::fs::File>,
    pub symbols: Option<Symbols>,
}

/// Copies the port to stdout and stdin to the port until an exit key or the port goes away.
pub fn run(mut port: Box<dyn serialport::SerialPort>, mut extras: Extras) -> Result<()> {
    let _raw = RawTerminal::enter();
    eprintln!("--- console: Ctrl-] leaves ---\r");
    let done = Arc::new(AtomicBool::new(false));
    let mut writer = port.try_clone().context("cannot share the serial port")?;
    let keyboard_done = done.clone();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut byte = [0u8; 1];
        while let Ok(1) = stdin.read(&mut byte) {
            if EXIT_KEYS.contains(&byte[0]) || writer.write_all(&byte).is_err() {
                break;
            }
        }
        keyboard_done.store(true, Ordering::SeqCst);
    });
    let mut stdout = std::io::stdout();
    let mut buf = [0u8; 1024];
    let mut line = Vec::new();
    port.set_timeout(Duration::from_millis(50))
        .context("serial port timeout")?;
    while !done.load(Ordering::SeqCst) {
        match port.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let mut shown = buf[..n].to_vec();
                for &byte in &buf[..n] {
                    if byte == b'\n' {
                        for note in annotations(&extras, &line) {
                            shown.extend_from_slice(format!("    {note}\r\n").as_bytes());
                        }
                        line.clear();
                    } else if line.len() < MAX_LINE {
                        line.push(byte);
                    }
                }
                stdout
                    .write_all(&shown)
                    .and_then(|()| stdout.flush())
                    .context("writing the console")?;
                if let Some(log) = &mut extras.log {
                    log.write_all(&shown).context("writing the --log file")?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e).context("the serial port went away"),
        }
    }
    eprintln!("\r\n--- console closed ---\r");
    Ok(())
}

fn annotations(extras: &Extras, line: &[u8]) -> Vec<String> {
    match &extras.symbols {
        Some(symbols) => symbols.annotate(&String::from_utf8_lossy(line)),
        None => Vec::new(),
    }
}

/// Puts a terminal stdin into raw mode (keys go to the board as typed) and restores it on drop.
/// The terminal in another mode until dropped (then as it was).
pub struct TerminalMode {
    #[cfg(target_os = "linux")]
    saved: Option<rustix::termios::Termios>,
}

/// Typed characters are not shown (a password prompt).
pub type NoEcho = TerminalMode;
type RawTerminal = TerminalMode;

impl TerminalMode {
    /// Raw: every byte as typed, nothing echoed or interpreted (the monitor).
    fn enter() -> TerminalMode {
        Self::changed(|mode| mode.make_raw())
    }

    /// Lines as usual, but not echoed.
    pub fn no_echo() -> TerminalMode {
        Self::changed(|mode| mode.local_modes.remove(rustix::termios::LocalModes::ECHO))
    }

    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    fn changed(change: impl FnOnce(&mut rustix::termios::Termios)) -> TerminalMode {
        #[cfg(target_os = "linux")]
        {
            let stdin = rustix::stdio::stdin();
            let saved = rustix::termios::tcgetattr(stdin).ok();
            if let Some(original) = &saved {
                let mut mode = original.clone();
                change(&mut mode);
                let _ =
                    rustix::termios::tcsetattr(stdin, rustix::termios::OptionalActions::Now, &mode);
            }
            TerminalMode { saved }
        }
        #[cfg(not(target_os = "linux"))]
        TerminalMode {}
    }
}

impl Drop for TerminalMode {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(original) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                rustix::stdio::stdin(),
                rustix::termios::OptionalActions::Now,
                original,
            );
        }
    }
}
