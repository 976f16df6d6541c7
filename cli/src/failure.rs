//! Exit codes and one-line error messages (what failed, for which host, why).

use crate::transport::TlsFailure;
use mreq_core::Error;

pub const USAGE: u8 = 2;
pub const OTHER: u8 = 1;
/// curl's CURLE_WRITE_ERROR: the output (stdout, the download file) could not be written.
pub const WRITE_ERROR: u8 = 23;
/// curl's CURLE_READ_ERROR: a local file (a request body) could not be read.
pub const READ_ERROR: u8 = 26;
/// curl's CURLE_RANGE_ERROR: a resumed download the server would not continue.
pub const RANGE_ERROR: u8 = 33;
/// curl's CURLE_SSL_CACERT_BADFILE: a --cacert file that cannot be read or holds no certificate.
pub const BAD_CACERT: u8 = 77;

/// An error that ends the program: the line to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(err: anyhow::Error) -> Self {
        Failure {
            code: USAGE,
            message: format!("{err:#}"),
        }
    }

    pub fn other(err: anyhow::Error) -> Self {
        Failure {
            code: OTHER,
            message: format!("{err:#}"),
        }
    }

    /// Describes an engine error for a request to `host` (`host:port`).
    pub fn from_engine(err: &Error, host: &str, tls: Option<&TlsFailure>) -> Self {
        let (code, message) = match err {
            Error::Dns => (6, format!("could not resolve host {host}")),
            Error::Connect(kind) => (7, format!("could not connect to {host}: {}", kind_words(*kind))),
            Error::Timeout => (28, format!("timed out talking to {host}")),
            Error::Tls => match tls {
                Some(f) if f.certificate => (60, format!("TLS certificate of {host} not trusted: {} (use --cacert FILE, or --insecure)", f.message)),
                Some(f) => (35, format!("TLS with {host} failed: {}", f.message)),
                None => (35, format!("TLS with {host} failed")),
            },
            Error::TooManyRedirects(_) | Error::InsecureRedirect(_) | Error::RedirectWithoutLocation => (47, format!("{err} (from {host})")),
            Error::Io(kind) => (56, format!("connection to {host} failed: {}", kind_words(*kind))),
            Error::ConnectionClosed => (52, format!("{host} closed the connection without a complete response")),
            Error::UnsupportedScheme | Error::InvalidUrl(_) | Error::InvalidMethod | Error::InvalidHeader => (USAGE, err.to_string()),
            Error::RequestBodyRead => (READ_ERROR, format!("{err} (sending to {host})")),
            Error::RequestBodyLength => (READ_ERROR, format!("{err} (sending to {host}; did the file change while it was sent?)")),
            Error::BodyNotReplayable => (OTHER, format!("{host} redirected with 307/308, which needs the request body again, but it came from a pipe and cannot be read twice (save it to a file and use @FILE)")),
            _ => (8, format!("malformed response from {host}: {err}")),
        };
        Failure { code, message }
    }
}

fn kind_words(kind: mreq_core::error::IoErrorKind) -> String {
    use mreq_core::error::IoErrorKind as K;
    match kind {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset".into(),
        K::ConnectionAborted => "connection aborted".into(),
        K::NotConnected => "not connected".into(),
        K::AddrNotAvailable => "address not available".into(),
        K::BrokenPipe => "broken pipe".into(),
        K::TimedOut => "timed out".into(),
        K::PermissionDenied => "permission denied".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Exit code for an HTTP status with `--check-status`: 3, 4 or 5 for 3xx, 4xx, 5xx.
pub fn status_code(status: u16) -> Option<u8> {
    match status {
        300..=399 => Some(3),
        400..=499 => Some(4),
        500..=599 => Some(5),
        _ => None,
    }
}
