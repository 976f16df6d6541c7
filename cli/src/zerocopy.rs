//! Body bytes from a plain-HTTP socket to a file or pipe with splice(2) on Linux, never copied
//! through this process. The engine still frames and checks the body: `Response::read_direct`
//! says how many bytes may be taken and is told how many were. Elsewhere (and for TLS,
//! terminals, files opened for appending) there is no splicer and bodies are read as usual.

use crate::deliver::{BodySink, Failed};
use crate::transport::Conn;
use mreq_core::client::blocking::Response;

#[cfg(target_os = "linux")]
pub use linux::Splicer;

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use mreq_core::client::tcp::map_io;
    use rustix::fd::{AsFd, OwnedFd};
    use rustix::fs::{FileType, OFlags};
    use rustix::io::Errno;
    use rustix::pipe::{splice, SpliceFlags};

    /// Bytes moved per splice call.
    const STEP: usize = 1 << 20;

    /// A kernel pipe between the socket and the output (splice needs a pipe on one side).
    pub struct Splicer {
        read_end: OwnedFd,
        write_end: OwnedFd,
        /// The output refused splice once: it is written from then on.
        off: bool,
    }

    impl Splicer {
        /// A splicer if the sink's file is a regular file, a pipe or /dev/null, not appending.
        pub fn for_sink(sink: &mut dyn BodySink) -> Option<Splicer> {
            let file = sink.splice_file().ok()??;
            let stat = rustix::fs::fstat(file).ok()?;
            let kind = FileType::from_raw_mode(stat.st_mode);
            // Character devices only when it is /dev/null (1:3): a terminal refuses splice.
            let null = kind == FileType::CharacterDevice
                && (
                    rustix::fs::major(stat.st_rdev),
                    rustix::fs::minor(stat.st_rdev),
                ) == (1, 3);
            if !(null || matches!(kind, FileType::RegularFile | FileType::Fifo)) {
                return None;
            }
            // splice(2) refuses files opened with O_APPEND (`mreq URL >> out`).
            let flags = rustix::fs::fcntl_getfl(file).ok()?;
            if flags.contains(OFlags::APPEND) {
                return None;
            }
            let (read_end, write_end) = rustix::pipe::pipe().ok()?;
            // A larger pipe means fewer calls; the default 64 KiB still works if this is refused.
            let _ = rustix::pipe::fcntl_setpipe_size(&write_end, STEP);
            Some(Splicer {
                read_end,
                write_end,
                off: false,
            })
        }

        /// Moves the next run of body bytes from the socket to the sink. `Ok(None)`: not
        /// possible now (bytes are buffered, chunk framing comes next, or the connection is
        /// TLS); `Ok(Some(0))`: the connection ended where the body may end.
        pub fn move_some(
            &mut self,
            response: &mut Response<'_, Conn>,
            sink: &mut dyn BodySink,
        ) -> Result<Option<usize>, Failed> {
            // Only plain connections can be spliced (a redirect may have led to https).
            if self.off || !response.url().starts_with("http:") {
                return Ok(None);
            }
            let pipe = &*self;
            let mut fell_back = false;
            let moved = response.read_direct(|conn, max| {
                let Some(sock) = conn.plain_socket()? else {
                    return Err(Failed::Sink(std::io::Error::other(
                        "splice on a TLS connection",
                    )));
                };
                let flags = SpliceFlags::MOVE | SpliceFlags::MORE;
                let moved = splice(
                    sock.as_fd(),
                    None,
                    &pipe.write_end,
                    None,
                    max.min(STEP),
                    flags,
                )
                .map_err(|e| Failed::Source(map_io(&e.into())))?;
                fell_back = !pipe.drain_to(sink, moved)?;
                Ok(moved)
            });
            self.off |= fell_back;
            moved
        }

        /// Empties `len` bytes from the pipe into the sink: spliced (`true`), or read and written
        /// where the output refuses splice (`false`: write from here on).
        fn drain_to(&self, sink: &mut dyn BodySink, len: usize) -> Result<bool, Failed> {
            let flags = SpliceFlags::MOVE | SpliceFlags::MORE;
            let mut drained = 0;
            while drained < len {
                let result = match sink.splice_file().map_err(Failed::Sink)? {
                    Some(file) => splice(&self.read_end, None, file, None, len - drained, flags),
                    None => Err(Errno::INVAL),
                };
                match result {
                    Ok(0) => return Err(Failed::Sink(std::io::ErrorKind::WriteZero.into())),
                    Ok(n) => {
                        sink.moved(n as u64);
                        drained += n;
                    }
                    Err(Errno::INVAL) => {
                        self.copy_rest(sink, len - drained)?;
                        return Ok(false);
                    }
                    Err(Errno::INTR) => {}
                    Err(err) => {
                        sink.absorb(err.into()).map_err(Failed::Sink)?;
                        return Ok(true);
                    }
                }
            }
            Ok(true)
        }

        fn copy_rest(&self, sink: &mut dyn BodySink, mut left: usize) -> Result<(), Failed> {
            let mut buf = vec![0u8; left.min(STEP)];
            while left > 0 {
                let want = left.min(buf.len());
                let n = rustix::io::read(&self.read_end, &mut buf[..want])
                    .map_err(|e| Failed::Sink(e.into()))?;
                if n == 0 {
                    return Err(Failed::Sink(std::io::ErrorKind::UnexpectedEof.into()));
                }
                sink.write_body(&buf[..n]).map_err(Failed::Sink)?;
                left -= n;
            }
            Ok(())
        }
    }
}

/// Without splice(2): never a splicer, so bodies are always read.
#[cfg(not(target_os = "linux"))]
pub struct Splicer;

#[cfg(not(target_os = "linux"))]
impl Splicer {
    pub fn for_sink(_: &mut dyn BodySink) -> Option<Splicer> {
        None
    }

    pub fn move_some(
        &mut self,
        _: &mut Response<'_, Conn>,
        _: &mut dyn BodySink,
    ) -> Result<Option<usize>, Failed> {
        Ok(None)
    }
}
