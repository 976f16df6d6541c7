//! Exit codes and one-line error messages (what failed, for which host, why).

use mreq_core::Error;

pub const USAGE: u8 = 2;
pub const OTHER: u8 = 1;
/// curl's CURLE_COULDNT_RESOLVE_HOST.
pub const DNS: u8 = 6;
/// curl's CURLE_COULDNT_RESOLVE_PROXY.
pub const PROXY_DNS: u8 = 5;
/// curl's CURLE_PROXY: the proxy refused (SOCKS).
pub const PROXY: u8 = 97;
/// curl's CURLE_COULDNT_CONNECT.
pub const CONNECT: u8 = 7;
/// curl's CURLE_WEIRD_SERVER_REPLY: a malformed response.
pub const PROTOCOL: u8 = 8;
/// curl's CURLE_PARTIAL_FILE: the body ended before its end (its length, its last chunk).
pub const PARTIAL_FILE: u8 = 18;
/// curl's CURLE_HTTP_RETURNED_ERROR: a 4xx/5xx response with -f/--fail.
pub const HTTP_ERROR: u8 = 22;
/// curl's CURLE_OPERATION_TIMEDOUT.
pub const TIMEOUT: u8 = 28;
/// curl's CURLE_SSL_CONNECT_ERROR.
pub const TLS: u8 = 35;
/// curl's CURLE_TOO_MANY_REDIRECTS (also a refused redirect).
pub const REDIRECTS: u8 = 47;
/// curl's CURLE_GOT_NOTHING.
pub const EMPTY_REPLY: u8 = 52;
/// curl's CURLE_RECV_ERROR.
pub const RECEIVE: u8 = 56;
/// curl's CURLE_BAD_CONTENT_ENCODING: a compressed body that cannot be decoded.
pub const BAD_ENCODING: u8 = 61;
/// curl's CURLE_SSL_CERTPROBLEM: the --cert/--key files cannot be used.
pub const BAD_CERT: u8 = 58;
/// curl's CURLE_PEER_FAILED_VERIFICATION.
pub const CERTIFICATE: u8 = 60;
/// curl's CURLE_WRITE_ERROR: the output (stdout, the download file) could not be written.
pub const WRITE_ERROR: u8 = 23;
/// curl's CURLE_READ_ERROR: a local file (a request body) could not be read.
pub const READ_ERROR: u8 = 26;
/// curl's CURLE_RANGE_ERROR: a resumed download the server would not continue.
pub const RANGE_ERROR: u8 = 33;
/// Ctrl-C (128 + SIGINT, as a shell reports a process the signal ended).
pub const INTERRUPTED: u8 = 130;
/// curl's CURLE_SSL_CACERT_BADFILE: a --cacert file that cannot be read or holds no certificate.
pub const BAD_CACERT: u8 = 77;

/// Every exit status mreq gives, with its meaning: the one table `--help` prints and the README
/// repeats (a test keeps them in step). curl's numbers where curl has one.
pub const EXIT_CODES: [(u8, &str); 26] = [
    (
        0,
        "success (also when stdout's reader goes away, as in mreq URL | head)",
    ),
    (OTHER, "other error"),
    (
        USAGE,
        "usage: bad flags, items or URL; flags that disagree or have nothing to act on",
    ),
    (
        3,
        "the response was 3xx (with --check-status; downloads always)",
    ),
    (
        4,
        "the response was 4xx (with --check-status; downloads always)",
    ),
    (
        5,
        "the response was 5xx (with --check-status; downloads always)",
    ),
    (
        PROXY_DNS,
        "the proxy's name could not be resolved (as curl; also 5xx, above)",
    ),
    (DNS, "the host name could not be resolved"),
    (CONNECT, "the connection could not be established"),
    (PROTOCOL, "malformed response"),
    (
        PARTIAL_FILE,
        "the body ended before its declared end (truncated)",
    ),
    (
        HTTP_ERROR,
        "the response was 4xx or 5xx (with -f/--fail or --fail-with-body)",
    ),
    (WRITE_ERROR, "the output could not be written"),
    (
        READ_ERROR,
        "a local file for the request body could not be read",
    ),
    (TIMEOUT, "timed out"),
    (RANGE_ERROR, "--continue: the server refused the range"),
    (TLS, "TLS handshake failed"),
    (
        REDIRECTS,
        "too many redirects, or a refused redirect (https to http)",
    ),
    (
        EMPTY_REPLY,
        "the server closed the connection without a response",
    ),
    (RECEIVE, "the connection failed while receiving"),
    (BAD_CERT, "the --cert or --key file cannot be read or used"),
    (CERTIFICATE, "the server's TLS certificate is not trusted"),
    (
        BAD_ENCODING,
        "the body's Content-Encoding is unknown, or the body is corrupt",
    ),
    (
        BAD_CACERT,
        "a --cacert file cannot be read or holds no certificate",
    ),
    (PROXY, "the SOCKS proxy refused the connection or its login"),
    (
        INTERRUPTED,
        "interrupted (Ctrl-C; --device cancels the request on the board)",
    ),
];

/// The text after `--help`'s options: items, several URLs, exit codes.
pub fn after_help() -> String {
    let mut text = String::from(
        "ITEMS (HTTPie style):\n  Name:Value   request header          Name:        remove a default header\n  Name;        header with an empty value\n  key=value    string field            key:=json    raw JSON field\n  key==value   query parameter         field@path   file field (multipart with --form)\n  key=@path    field from a file       key:=@path   JSON field from a file\n  @path        request body from a file (streamed; a pipe is sent chunked)\n\nFields become a JSON object, or a form with --form. A piped stdin is the body when none is\ngiven (--ignore-stdin turns that off).\n\nSEVERAL URLS: mreq URL1 [ITEM...] [METHOD] URL2 [ITEM...] ... runs them in order on one\nconnection per origin; flags apply to every URL, items to the URL before them, each -o to the\nnext URL; the exit status is the first failure's.\n\nEXIT CODES:\n",
    );
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    text
}

/// An error that ends the program: the line to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// `err` and its causes, ending the program with `code`.
    pub fn coded(code: u8, err: anyhow::Error) -> Self {
        Failure::new(code, format!("{err:#}"))
    }

    /// Prints the message: a usage error always (as curl prints a bad option even with -s),
    /// any other unless `-s` without `-S`.
    pub fn report(&self, args: &crate::args::Args) {
        if !self.message.is_empty() && (self.code == USAGE || args.errors_shown()) {
            eprintln!("mreq: error: {}", self.message);
        }
    }

    pub fn usage(err: anyhow::Error) -> Self {
        Failure::coded(USAGE, err)
    }

    pub fn other(err: anyhow::Error) -> Self {
        Failure::coded(OTHER, err)
    }

    /// Describes an engine error for a request to `host` (`host:port`).
    pub fn from_engine(err: &Error, host: &str) -> Self {
        let message = match err {
            Error::Dns { reason } => format!("could not resolve host {host}: {reason}"),
            Error::Connect(kind) => format!("could not connect to {host}: {}", kind_words(*kind)),
            Error::Timeout => format!("timed out talking to {host}"),
            Error::Proxy { reason, .. } => format!("{reason} (for {host})"),
            Error::Tls { certificate: true, reason } => format!("TLS certificate of {host} not trusted: {reason} (use --cacert FILE, or --insecure)"),
            Error::Tls { reason, .. } => format!("TLS with {host} failed: {reason}"),
            Error::TooManyRedirects(_) | Error::InsecureRedirect(_) => format!("{err} (from {host})"),
            Error::Io(kind) => format!("connection to {host} failed: {}", kind_words(*kind)),
            Error::ConnectionClosed => format!("{host} closed the connection without a complete response"),
            Error::UnsupportedScheme | Error::InvalidUrl(_) | Error::InvalidMethod | Error::InvalidHeader | Error::ConflictingFramingHeader => err.to_string(),
            Error::RequestBodyRead => format!("{err} (sending to {host})"),
            Error::RequestBodyLength => format!("{err} (sending to {host}; did the file change while it was sent?)"),
            Error::BodyNotReplayable => format!("{host} redirected with 307/308, which needs the request body again, but it came from a pipe and cannot be read twice (save it to a file and use @FILE)"),
            _ => format!("malformed response from {host}: {err}"),
        };
        Failure::new(code_for_kind(err.kind()), message)
    }
}

/// The exit code for a failure kind: the engine's (`Error::kind`, also what a board reports
/// through `--device`) and the device link's own (`mreq_link::kinds`). One table, so a local
/// request and the same request on a board end with the same code.
pub fn code_for_kind(kind: &str) -> u8 {
    use mreq_link::kinds;
    match kind {
        "dns" => DNS,
        "connect" | "proxy_connect" => CONNECT,
        "proxy_resolve" => PROXY_DNS,
        "proxy_tunnel" => RECEIVE,
        "proxy" => PROXY,
        "timeout" => TIMEOUT,
        "certificate" => CERTIFICATE,
        "tls" => TLS,
        "too_many_redirects" | "insecure_redirect" => REDIRECTS,
        "io" => RECEIVE,
        // As curl: a body cut short is a partial file, broken chunk framing a receive error.
        "body_truncated" => PARTIAL_FILE,
        "invalid_chunk_size" | "chunk_size_overflow" | "invalid_chunk_framing" => RECEIVE,
        // As curl: an unasked upgrade leaves no reply, a transfer coding other than chunked is
        // one it cannot decode.
        "connection_closed" | "unexpected_switching_protocols" => EMPTY_REPLY,
        "unsupported_transfer_encoding" => BAD_ENCODING,
        "unsupported_scheme"
        | "invalid_url"
        | "invalid_method"
        | "invalid_header"
        | "conflicting_framing_header" => USAGE,
        "request_body_read" | "request_body_length" => READ_ERROR,
        "body_not_replayable" => OTHER,
        kinds::BAD_REQUEST | kinds::TOO_LARGE => USAGE,
        kinds::CANCELLED => INTERRUPTED,
        kinds::VERSION => OTHER,
        _ => PROTOCOL,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_exit_code() {
        let readme = include_str!("../../README.md");
        for (code, _) in EXIT_CODES {
            let row = if code == 3 {
                "| 3 / 4 / 5 |".to_string()
            } else {
                format!("| {code} |")
            };
            if (4..=5).contains(&code) {
                continue;
            }
            assert!(
                readme.contains(&row),
                "README's exit code table lacks {code}"
            );
        }
        assert!(after_help().contains(" 77  a --cacert file"));
    }

    #[test]
    fn every_engine_kind_has_the_code_of_its_local_failure() {
        use mreq_core::error::IoErrorKind;
        let cases = [
            (Error::Timeout, TIMEOUT),
            (Error::Connect(IoErrorKind::ConnectionRefused), CONNECT),
            (Error::certificate(format_args!("expired")), CERTIFICATE),
            (Error::tls(format_args!("alert")), TLS),
            (Error::ConnectionClosed, EMPTY_REPLY),
            (Error::BodyTruncated, PARTIAL_FILE),
            (Error::InvalidChunkSize, RECEIVE),
            (Error::InvalidStatusLine, PROTOCOL),
            (Error::Io(IoErrorKind::ConnectionReset), RECEIVE),
            (Error::InvalidUrl("host"), USAGE),
            (Error::UnexpectedSwitchingProtocols, EMPTY_REPLY),
            (Error::UnsupportedTransferEncoding, BAD_ENCODING),
            (Error::ConflictingLocation, PROTOCOL),
            (Error::ConflictingFramingHeader, USAGE),
        ];
        for (err, code) in cases {
            assert_eq!(Failure::from_engine(&err, "h:1").code, code, "{err}");
            assert_eq!(code_for_kind(err.kind()), code, "{err}");
        }
        assert_eq!(code_for_kind(mreq_link::kinds::CANCELLED), INTERRUPTED);
    }
}
