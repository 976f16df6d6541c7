//! Body bytes from a plain-HTTP socket to a file or pipe with splice(2) on Linux, never copied
//! through this process. The engine still frames and checks the body: it says how many bytes may
//! be taken (`direct_body`) and is told how many were (`direct_consumed`). Elsewhere (and for TLS,
//! terminals, appends) `Splicer::for_*` gives `None` and bodies are read as usual.

use crate::transport::Conn;
use mreq_core::client::blocking::Response;
use mreq_core::Error;

/// An output splice(2) can write to.
pub trait Splice {
    #[cfg(target_os = "linux")]
    fn fd(&self) -> rustix::fd::BorrowedFd<'_>;
}

impl Splice for std::fs::File {
    #[cfg(target_os = "linux")]
    fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        rustix::fd::AsFd::as_fd(self)
    }
}

impl Splice for std::io::Stdout {
    #[cfg(target_os = "linux")]
    fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        rustix::fd::AsFd::as_fd(self)
    }
}

#[cfg(target_os = "linux")]
pub use linux::Splicer;

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use mreq_core::client::tcp::map_io;
    use rustix::fd::{AsFd, OwnedFd};
    use rustix::fs::FileType;
    use rustix::pipe::{splice, SpliceFlags};

    /// Bytes moved per splice call.
    const STEP: usize = 1 << 20;

    pub struct Splicer {
        read_end: OwnedFd,
        write_end: OwnedFd,
    }

    impl Splicer {
        pub fn for_file(file: &std::fs::File) -> Option<Splicer> {
            Self::for_output(file)
        }

        pub fn for_stdout(stdout: &std::io::Stdout) -> Option<Splicer> {
            Self::for_output(stdout)
        }

        /// A splicer if the output is a regular file, a pipe or /dev/null.
        fn for_output(out: &impl Splice) -> Option<Splicer> {
            let stat = rustix::fs::fstat(out.fd()).ok()?;
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
            let (read_end, write_end) = rustix::pipe::pipe().ok()?;
            // A larger pipe means fewer calls; the default 64 KiB still works if this is refused.
            let _ = rustix::pipe::fcntl_setpipe_size(&write_end, STEP);
            Some(Splicer {
                read_end,
                write_end,
            })
        }

        /// Moves the next run of body bytes from the socket to `out`. `Ok(None)`: not possible
        /// now (bytes are buffered, chunk framing comes next, or the connection is TLS).
        pub fn splice_some(
            &self,
            response: &mut Response<'_, Conn>,
            out: &impl Splice,
        ) -> Result<Option<usize>, Error> {
            let Some((Conn::Plain(tcp), limit)) = response.direct_body() else {
                return Ok(None);
            };
            let want = usize::try_from(limit).unwrap_or(usize::MAX).min(STEP);
            let flags = SpliceFlags::MOVE | SpliceFlags::MORE;
            let moved = splice(tcp.0.as_fd(), None, &self.write_end, None, want, flags)
                .map_err(|e| map_io(&e.into()))?;
            let mut drained = 0;
            while drained < moved {
                match splice(&self.read_end, None, out.fd(), None, moved - drained, flags) {
                    Ok(0) => return Err(Error::Io(mreq_core::error::IoErrorKind::WriteZero)),
                    Ok(n) => drained += n,
                    Err(err) => return Err(map_io(&err.into())),
                }
            }
            response.direct_consumed(moved)?;
            Ok(Some(moved))
        }
    }
}

/// Without splice(2): never a splicer, so bodies are always read.
#[cfg(not(target_os = "linux"))]
pub struct Splicer;

#[cfg(not(target_os = "linux"))]
impl Splicer {
    pub fn for_file(_: &std::fs::File) -> Option<Splicer> {
        None
    }

    pub fn for_stdout(_: &std::io::Stdout) -> Option<Splicer> {
        None
    }

    pub fn splice_some(
        &self,
        _: &mut Response<'_, Conn>,
        _: &impl Splice,
    ) -> Result<Option<usize>, Error> {
        Ok(None)
    }
}
