//! The serial console: line input with echo and editing for people, raw bytes for programs, and
//! formatted output without an allocator.

use core::fmt::{self, Write as _};
use embedded_io_async::{Read, Write};

/// The longest line the shell accepts (a method, a URL and a short body).
pub const MAX_LINE: usize = 512;

pub type Line = heapless::Vec<u8, MAX_LINE>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleError {
    /// The serial port failed; nothing more can be said on it.
    Serial,
    /// A line longer than [`MAX_LINE`]; the rest of it was discarded.
    LineTooLong,
}

pub struct Console<'s, S> {
    serial: &'s mut S,
}

impl<'s, S: Read + Write> Console<'s, S> {
    pub fn new(serial: &'s mut S) -> Self {
        Console { serial }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ConsoleError> {
        self.serial
            .write_all(bytes)
            .await
            .map_err(|_| ConsoleError::Serial)
    }

    /// Formats into a stack buffer and writes it; output past 256 bytes is cut with `...`.
    pub async fn print(&mut self, args: fmt::Arguments<'_>) -> Result<(), ConsoleError> {
        let mut text = heapless::String::<256>::new();
        if text.write_fmt(args).is_err() {
            text.truncate(250);
            let _ = text.push_str("...\r\n");
        }
        self.write(text.as_bytes()).await
    }

    pub async fn read_byte(&mut self) -> Result<u8, ConsoleError> {
        let mut byte = [0u8; 1];
        loop {
            match self.serial.read(&mut byte).await {
                Ok(1) => return Ok(byte[0]),
                Ok(_) => continue,
                Err(_) => return Err(ConsoleError::Serial),
            }
        }
    }

    pub async fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ConsoleError> {
        for slot in buf.iter_mut() {
            *slot = self.read_byte().await?;
        }
        Ok(())
    }

    /// Reads one line sent by a program: no echo, no editing, LF ends it (a CR before it is dropped).
    pub async fn read_raw_line(&mut self, line: &mut Line) -> Result<(), ConsoleError> {
        line.clear();
        loop {
            match self.read_byte().await? {
                b'\n' => {
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(());
                }
                byte => line.push(byte).map_err(|_| ConsoleError::LineTooLong)?,
            }
        }
    }

    /// Reads one line (CR, LF or CRLF ends it). Lines typed by a person are echoed and can be
    /// edited with backspace; a line starting with `@` (the framed protocol) is not echoed.
    pub async fn read_line(&mut self, line: &mut Line) -> Result<(), ConsoleError> {
        line.clear();
        let mut too_long = false;
        loop {
            let byte = self.read_byte().await?;
            let framed = line.first() == Some(&b'@') || (line.is_empty() && byte == b'@');
            match byte {
                b'\r' | b'\n' if line.is_empty() && !too_long => continue,
                b'\r' | b'\n' => {
                    if !framed {
                        self.write(b"\r\n").await?;
                    }
                    return if too_long {
                        Err(ConsoleError::LineTooLong)
                    } else {
                        Ok(())
                    };
                }
                0x08 | 0x7f => {
                    if line.pop().is_some() && !framed {
                        self.write(b"\x08 \x08").await?;
                    }
                }
                _ if too_long => {}
                _ => {
                    if line.push(byte).is_err() {
                        too_long = true;
                    } else if !framed {
                        self.write(&[byte]).await?;
                    }
                }
            }
        }
    }
}

/// `print!`-like formatting onto a [`Console`].
#[macro_export]
macro_rules! say {
    ($console:expr, $($arg:tt)*) => {
        $console.print(format_args!($($arg)*)).await
    };
}
