//! Standard output as one ordered byte stream. Everything mreq prints on stdout (heads, bodies,
//! notes) goes through one buffer over the descriptor; before a body is spliced straight to the
//! descriptor the buffer is flushed, so bytes leave in the order they were produced.
//!
//! When the reader goes away (`mreq URL | head -c 10`), the first failed write marks the stream
//! closed and later writes are dropped: the reader has what it wanted, which is not an error, and
//! a download to a file (`-v -o FILE URL | true`) carries on.

use std::io::{self, BufWriter, IsTerminal, Write};

/// The descriptor type under the buffer: a duplicate of fd 1 where there are descriptors (no
/// line buffering, and splice(2) can target it), else the standard library's handle.
#[cfg(unix)]
type Raw = std::fs::File;
#[cfg(not(unix))]
type Raw = io::Stdout;

pub struct Stdout {
    writer: BufWriter<Raw>,
    closed: bool,
    terminal: bool,
}

impl Stdout {
    pub fn open() -> io::Result<Stdout> {
        let stdout = io::stdout();
        let terminal = stdout.is_terminal();
        #[cfg(unix)]
        let raw = std::fs::File::from(std::os::fd::AsFd::as_fd(&stdout).try_clone_to_owned()?);
        #[cfg(not(unix))]
        let raw = stdout;
        Ok(Stdout {
            writer: BufWriter::with_capacity(64 * 1024, raw),
            closed: false,
            terminal,
        })
    }

    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Whether the reader has gone away (later output is dropped).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Marks the stream closed if `err` says the reader is gone; other errors are returned.
    pub fn absorb(&mut self, err: io::Error) -> io::Result<()> {
        if err.kind() == io::ErrorKind::BrokenPipe {
            self.closed = true;
            Ok(())
        } else {
            Err(err)
        }
    }

    /// Flushes the buffer and lends the descriptor itself, for splice(2).
    #[cfg(unix)]
    pub fn descriptor(&mut self) -> io::Result<&std::fs::File> {
        self.flush()?;
        Ok(self.writer.get_ref())
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.writer.write(buf) {
            Ok(n) => Ok(n),
            Err(err) => self.absorb(err).map(|()| buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.writer.flush() {
            Ok(()) => Ok(()),
            Err(err) => self.absorb(err),
        }
    }
}
