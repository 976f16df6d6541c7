//! The one error type of the engine.
//!
//! It is small, `Copy`-free but allocation-free, and every variant says what went wrong in words a
//! person can act on (`Display`). Transport errors carry the `embedded_io::ErrorKind` they came from.

use core::fmt;

pub use embedded_io::ErrorKind as IoErrorKind;

/// Text kept inside an error (a URL). With `alloc` it is kept whole; without, its first
/// [`ErrorText::CAPACITY`] bytes are kept inline so that the error still needs no allocator.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorText {
    #[cfg(feature = "alloc")]
    text: alloc::boxed::Box<str>,
    #[cfg(not(feature = "alloc"))]
    bytes: [u8; ErrorText::CAPACITY],
    #[cfg(not(feature = "alloc"))]
    len: u8,
    #[cfg(not(feature = "alloc"))]
    truncated: bool,
}

impl ErrorText {
    /// How many bytes of the text are kept without `alloc`; the rest is shown as `...`.
    pub const CAPACITY: usize = 64;

    #[cfg(feature = "alloc")]
    pub fn new(text: &str) -> Self {
        ErrorText { text: text.into() }
    }

    /// Text formatted in place (`format_args!`): cut at [`CAPACITY`](Self::CAPACITY) bytes
    /// without `alloc`, whole with it.
    #[cfg(feature = "alloc")]
    pub fn format(args: fmt::Arguments<'_>) -> Self {
        ErrorText {
            text: alloc::format!("{args}").into(),
        }
    }

    #[cfg(feature = "alloc")]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    #[cfg(feature = "alloc")]
    fn truncated(&self) -> bool {
        false
    }

    #[cfg(not(feature = "alloc"))]
    pub fn new(text: &str) -> Self {
        let mut bytes = [0u8; Self::CAPACITY];
        let mut len = text.len().min(Self::CAPACITY);
        while !text.is_char_boundary(len) {
            len -= 1;
        }
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        ErrorText {
            bytes,
            len: len as u8,
            truncated: len < text.len(),
        }
    }

    #[cfg(not(feature = "alloc"))]
    pub fn format(args: fmt::Arguments<'_>) -> Self {
        let mut text = ErrorText::new("");
        // A longer text is cut at a character boundary and marked as cut.
        let _ = fmt::write(&mut text, args);
        text
    }

    #[cfg(not(feature = "alloc"))]
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    #[cfg(not(feature = "alloc"))]
    fn truncated(&self) -> bool {
        self.truncated
    }
}

#[cfg(not(feature = "alloc"))]
impl fmt::Write for ErrorText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let start = self.len as usize;
        let mut end = (start + s.len()).min(Self::CAPACITY);
        while !s.is_char_boundary(end - start) {
            end -= 1;
        }
        self.bytes[start..end].copy_from_slice(&s.as_bytes()[..end - start]);
        self.len = end as u8;
        if end - start < s.len() {
            self.truncated = true;
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrorText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated() {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong while making a request or reading its response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // --- the URL and the request the caller asked for ---
    /// The URL scheme is not `http` or `https`.
    UnsupportedScheme,
    /// The URL cannot be parsed; the text says which part.
    InvalidUrl(&'static str),
    /// A method that is not an HTTP token.
    InvalidMethod,
    /// A header name that is not a token, or a name or value with CR, LF or NUL.
    InvalidHeader,
    /// A caller's `Content-Length` or `Transfer-Encoding` that says otherwise than the body sent
    /// (one that agrees is accepted: the engine writes the framing itself).
    ConflictingFramingHeader,
    /// A buffer lent by the caller is too small for what has to go in it.
    BufferTooSmall,
    /// A query string is malformed (`parse_qsl` with `strict_parsing`).
    InvalidQuery,

    // --- the transport ---
    /// The host name could not be resolved; `reason` says why (no such name, no DNS server).
    Dns { reason: ErrorText },
    /// The TCP (or TLS) connection could not be established.
    Connect(IoErrorKind),
    /// The TLS layer failed: `certificate` when the server's certificate was refused
    /// (untrusted, expired, another name), else the handshake or a record; `reason` says why.
    Tls {
        certificate: bool,
        reason: ErrorText,
    },
    /// The proxy on the way failed: its name did not resolve, it could not be reached, or it
    /// refused the request (a CONNECT answered with another status than 2xx, a SOCKS refusal);
    /// `reason` says which.
    Proxy {
        stage: ProxyStage,
        reason: ErrorText,
    },
    /// A connect, read or write took longer than its timeout.
    Timeout,
    /// Reading or writing the connection failed.
    Io(IoErrorKind),
    /// The server closed the connection before a complete response head arrived.
    ConnectionClosed,

    // --- the response ---
    /// The response head does not fit in the buffer lent for it.
    HeadTooLarge,
    /// The response has more headers than the configured limit.
    TooManyHeaders,
    /// The status line is not `HTTP/1.x NNN reason`.
    InvalidStatusLine,
    /// A header line is malformed (no colon, bad name, bare CR, obsolete folding).
    InvalidHeaderLine,
    /// `Content-Length` is not a number, overflows, or appears twice with different values.
    InvalidContentLength,
    /// `Transfer-Encoding` names a coding other than a single, final `chunked` (the engine
    /// decodes no other, and would hand over coded bytes as the body).
    UnsupportedTransferEncoding,
    /// Two `Location` fields with different values.
    ConflictingLocation,
    /// A `101 Switching Protocols`, though the engine never asks for an upgrade.
    UnexpectedSwitchingProtocols,
    /// More interim (1xx) responses before the final one than the engine skips.
    TooManyInterimResponses,
    /// A chunk-size line is not hexadecimal.
    InvalidChunkSize,
    /// A chunk size has too many digits or does not fit in 64 bits.
    ChunkSizeOverflow,
    /// The CRLF after a chunk's data or in the trailer section is missing.
    InvalidChunkFraming,
    /// The trailer section is larger than the engine keeps.
    TrailersTooLarge,
    /// The connection ended before the whole body arrived.
    BodyTruncated,

    // --- redirects ---
    /// More redirects than the configured limit; carries the last `Location`.
    TooManyRedirects(ErrorText),
    /// A redirect from `https` to `http` (refused: it would downgrade security).
    InsecureRedirect(ErrorText),
    /// Reading the streamed request body from the caller's reader failed.
    RequestBodyRead,
    /// The streamed request body was shorter or longer than the length declared for it.
    RequestBodyLength,
    /// A 307/308 redirect needs the body again, but it was streamed and cannot be replayed.
    BodyNotReplayable,

    // --- body conveniences ---
    /// The body is not valid JSON for the requested type.
    #[cfg(feature = "json")]
    Json,
}

/// Where a proxy failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyStage {
    /// The proxy's own name did not resolve.
    Resolve,
    /// The proxy did not take the connection.
    Connect,
    /// An HTTP proxy answered the CONNECT for a tunnel with another status than 2xx.
    Tunnel,
    /// The proxy refused or failed the request otherwise (a SOCKS refusal, its authentication).
    Refused,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            UnsupportedScheme => f.write_str("unsupported URL scheme (only http and https)"),
            InvalidUrl(what) => write!(f, "invalid URL: {what}"),
            InvalidMethod => f.write_str("invalid method: not an HTTP token"),
            InvalidHeader => f.write_str("invalid header: bad name, or CR/LF/NUL in name or value"),
            ConflictingFramingHeader => f.write_str(
                "a Content-Length or Transfer-Encoding header that does not match the body sent (the body frames itself: leave the header out)",
            ),
            BufferTooSmall => f.write_str("buffer too small"),
            InvalidQuery => f.write_str("malformed query string"),
            Dns { reason } => write!(f, "could not resolve host name: {reason}"),
            Connect(kind) => write!(f, "could not connect: {kind:?}"),
            // `mreq --device` tells the two apart by these words (exit 60 or 35).
            Tls {
                certificate: true,
                reason,
            } => write!(f, "TLS certificate error: {reason}"),
            Tls { reason, .. } => write!(f, "TLS error: {reason}"),
            Proxy { reason, .. } => write!(f, "proxy: {reason}"),
            Timeout => f.write_str("timed out"),
            Io(kind) => write!(f, "I/O error: {kind:?}"),
            ConnectionClosed => f.write_str("connection closed before a complete response head"),
            HeadTooLarge => f.write_str("response head larger than the buffer"),
            TooManyHeaders => f.write_str("too many response headers"),
            InvalidStatusLine => f.write_str("malformed status line"),
            InvalidHeaderLine => f.write_str("malformed response header line"),
            InvalidContentLength => f.write_str("invalid Content-Length"),
            UnsupportedTransferEncoding => {
                f.write_str("unsupported Transfer-Encoding (only a single, final chunked)")
            }
            ConflictingLocation => f.write_str("two different Location values"),
            UnexpectedSwitchingProtocols => {
                f.write_str("101 Switching Protocols, but no upgrade was asked for")
            }
            TooManyInterimResponses => f.write_str("too many interim (1xx) responses"),
            InvalidChunkSize => f.write_str("invalid chunk size"),
            ChunkSizeOverflow => f.write_str("chunk size too large"),
            InvalidChunkFraming => f.write_str("malformed chunked body (missing CRLF)"),
            TrailersTooLarge => f.write_str("chunked trailer section too large"),
            BodyTruncated => f.write_str("connection closed before the end of the body"),
            TooManyRedirects(last) => write!(f, "too many redirects (last location: {last})"),
            InsecureRedirect(to) => write!(f, "refused redirect from https to http ({to})"),
            RequestBodyRead => f.write_str("could not read the request body"),
            RequestBodyLength => {
                f.write_str("request body length differs from the declared length")
            }
            BodyNotReplayable => f.write_str("redirect needs the streamed request body again"),
            #[cfg(feature = "json")]
            Json => f.write_str("body is not the expected JSON"),
        }
    }
}

impl Error {
    /// A TLS error that is not about the certificate.
    pub fn tls(args: fmt::Arguments<'_>) -> Self {
        Error::Tls {
            certificate: false,
            reason: ErrorText::format(args),
        }
    }

    /// The server's certificate was refused, for this reason.
    pub fn certificate(args: fmt::Arguments<'_>) -> Self {
        Error::Tls {
            certificate: true,
            reason: ErrorText::format(args),
        }
    }

    /// A stable name for the kind of failure, for programs and exit-code tables: it does not
    /// change when a message is reworded. One per variant (and `certificate` for a refused
    /// certificate).
    pub fn kind(&self) -> &'static str {
        use Error::*;
        match self {
            UnsupportedScheme => "unsupported_scheme",
            InvalidUrl(_) => "invalid_url",
            InvalidMethod => "invalid_method",
            InvalidHeader => "invalid_header",
            ConflictingFramingHeader => "conflicting_framing_header",
            BufferTooSmall => "buffer_too_small",
            InvalidQuery => "invalid_query",
            Dns { .. } => "dns",
            Connect(_) => "connect",
            Tls {
                certificate: true, ..
            } => "certificate",
            Tls { .. } => "tls",
            Proxy {
                stage: ProxyStage::Resolve,
                ..
            } => "proxy_resolve",
            Proxy {
                stage: ProxyStage::Connect,
                ..
            } => "proxy_connect",
            Proxy {
                stage: ProxyStage::Tunnel,
                ..
            } => "proxy_tunnel",
            Proxy { .. } => "proxy",
            Timeout => "timeout",
            Io(_) => "io",
            ConnectionClosed => "connection_closed",
            HeadTooLarge => "head_too_large",
            TooManyHeaders => "too_many_headers",
            InvalidStatusLine => "invalid_status_line",
            InvalidHeaderLine => "invalid_header_line",
            InvalidContentLength => "invalid_content_length",
            UnsupportedTransferEncoding => "unsupported_transfer_encoding",
            ConflictingLocation => "conflicting_location",
            UnexpectedSwitchingProtocols => "unexpected_switching_protocols",
            TooManyInterimResponses => "too_many_interim_responses",
            InvalidChunkSize => "invalid_chunk_size",
            ChunkSizeOverflow => "chunk_size_overflow",
            InvalidChunkFraming => "invalid_chunk_framing",
            TrailersTooLarge => "trailers_too_large",
            BodyTruncated => "body_truncated",
            TooManyRedirects(_) => "too_many_redirects",
            InsecureRedirect(_) => "insecure_redirect",
            RequestBodyRead => "request_body_read",
            RequestBodyLength => "request_body_length",
            BodyNotReplayable => "body_not_replayable",
            #[cfg(feature = "json")]
            Json => "json",
        }
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> IoErrorKind {
        match self {
            Error::Timeout => IoErrorKind::TimedOut,
            Error::Io(kind) | Error::Connect(kind) => *kind,
            Error::ConnectionClosed | Error::BodyTruncated => IoErrorKind::BrokenPipe,
            _ => IoErrorKind::InvalidData,
        }
    }
}

/// Maps an error from a connection's read or write into the engine's error (a timeout keeps its
/// own variant). Public for transports that wrap a connection, such as the firmware's TLS.
pub fn io_error<E: embedded_io::Error>(err: E) -> Error {
    match err.kind() {
        IoErrorKind::TimedOut => Error::Timeout,
        kind => Error::Io(kind),
    }
}

pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable_and_tls_errors_say_which() {
        let cert = Error::certificate(format_args!("invalid peer certificate: {}", "Expired"));
        assert_eq!(cert.kind(), "certificate");
        assert_eq!(
            cert.to_string(),
            "TLS certificate error: invalid peer certificate: Expired"
        );
        let handshake = Error::tls(format_args!("received fatal alert"));
        assert_eq!(handshake.kind(), "tls");
        assert_eq!(handshake.to_string(), "TLS error: received fatal alert");
        assert_eq!(Error::BodyTruncated.kind(), "body_truncated");
        assert_eq!(
            embedded_io::Error::kind(&Error::Timeout),
            IoErrorKind::TimedOut,
            "the I/O kind stays reachable through the trait"
        );
    }
}
