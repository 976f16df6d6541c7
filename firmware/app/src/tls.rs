//! https in firmware: rustls' unbuffered client (`rustls-rustcrypto` for the cryptography) over any
//! `embedded_io_async` connection, offered to the engine as one more `embedded_io_async`
//! connection. The engine does not know whether it talks TLS.
//!
//! - Randomness comes from the board's hardware RNG, registered with [`crate::register_rng!`];
//!   without one, every handshake fails (never a constant or a counter).
//! - Certificate dates are checked against [`crate::clock`], which SNTP sets; while it is unknown
//!   the handshake is refused with a clear reason (no silent "skip the date check").
//! - Trust anchors are the configuration block's CA certificates, plus the Mozilla roots with the
//!   `webpki-roots` feature. The block's `TLS_INSECURE` entry turns verification off; the shell
//!   warns at every request.
//!
//! RAM per connection (heap): [`INCOMING`] + [`OUTGOING`] bytes of record buffers, up to one
//! decrypted record (16 KiB) waiting to be read, and rustls' own state (a few KiB, more during the
//! handshake while the certificate chain is checked). It does not do client certificates, session
//! resumption or early data.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use embedded_io_async::{Read, Write};
use mreq_core::error::{io_error, IoErrorKind};
use mreq_core::Error;
use mreq_fwconfig::Config;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::UnbufferedClientConnection;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

#[cfg(feature = "tls-lean")]
mod lean;

/// The cryptography: rustls-rustcrypto's whole provider, or with `tls-lean` the part of it that
/// public servers need (`lean.rs`).
fn crypto_provider() -> CryptoProvider {
    #[cfg(feature = "tls-lean")]
    return lean::provider();
    #[cfg(not(feature = "tls-lean"))]
    rustls_rustcrypto::provider()
}

/// Received bytes: one whole record at most (16 KiB of data + 5 header + 256 TLS 1.3 overhead).
pub const INCOMING: usize = 16 * 1024 + 5 + 256;
/// Bytes to send: a handshake flight of ours, or one encrypted record of application data.
pub const OUTGOING: usize = 4096;
/// Room left in [`OUTGOING`] for a record's header, nonce, tag and TLS 1.3 content type.
const RECORD_OVERHEAD: usize = 64;

/// The TLS connection type over `T` (the Mbed TLS backend's borrows its settings for `'s`).
pub type TlsOver<'s, T> = TlsStream<T>;

/// What the configuration block says about TLS, turned into a rustls configuration once.
pub struct TlsSettings {
    config: Result<Arc<ClientConfig>, Error>,
}

impl TlsSettings {
    /// Builds the rustls configuration from the block's CA certificates (and the Mozilla roots
    /// with `webpki-roots`). A bad certificate in the block makes every https request fail with
    /// that reason, rather than silently trusting fewer roots.
    pub fn new(block: Option<&Config<'_>>) -> Self {
        let insecure = block.is_some_and(|c| c.tls_insecure());
        TlsSettings {
            config: client_config(block, insecure),
        }
    }

    /// Connects TLS over `io` to `host` (a DNS name or an IP address, as in the URL).
    /// `Error::Tls` says what failed; other errors are the connection's own (a timeout, the
    /// peer closing).
    pub async fn connect<T: Read + Write>(&self, io: T, host: &str) -> Result<TlsStream<T>, Error> {
        let config = self.config.clone()?;
        if crate::clock::unix_ms().is_none() {
            return Err(Error::tls(format_args!(
                "no time: no SNTP server answered, so certificate dates cannot be checked"
            )));
        }
        let name = ServerName::try_from(host)
            .map_err(|_| Error::tls(format_args!("the host is not a valid TLS server name")))?
            .to_owned();
        let conn = UnbufferedClientConnection::new(config, name).map_err(failure)?;
        let mut stream = TlsStream {
            io,
            conn,
            incoming: vec![0; INCOMING].into_boxed_slice(),
            in_len: 0,
            outgoing: vec![0; OUTGOING].into_boxed_slice(),
            out_len: 0,
            plain: Vec::new(),
            plain_pos: 0,
            peer_closed: false,
        };
        stream.drive(Goal::Handshake).await?;
        Ok(stream)
    }
}

// Built once at boot and kept: the size of the error does not matter here.
#[allow(clippy::result_large_err)]
fn client_config(block: Option<&Config<'_>>, insecure: bool) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(crypto_provider());
    let builder = ClientConfig::builder_with_details(provider.clone(), Arc::new(WallClock))
        .with_safe_default_protocol_versions()
        .map_err(failure)?;
    if insecure {
        return Ok(Arc::new(
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth(),
        ));
    }
    let mut roots = RootCertStore::empty();
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in block.iter().flat_map(|c| c.ca_certs()) {
        roots.add(CertificateDer::from(der.to_vec())).map_err(|e| {
            Error::certificate(format_args!("bad CA certificate in the configuration: {e}"))
        })?;
    }
    if roots.is_empty() {
        return Err(Error::certificate(format_args!(
            "no trusted CA certificates (write some with mreq-flash --cacert FILE)"
        )));
    }
    Ok(Arc::new(
        builder.with_root_certificates(roots).with_no_client_auth(),
    ))
}

/// Why a rustls error ended the connection, in words; certificate problems are marked as such.
fn failure(err: rustls::Error) -> Error {
    match err {
        rustls::Error::InvalidCertificate(_) => Error::certificate(format_args!("{err}")),
        rustls::Error::FailedToGetCurrentTime => {
            Error::tls(format_args!("no time: certificate dates cannot be checked"))
        }
        _ => Error::tls(format_args!("{err}")),
    }
}

/// rustls asks this for the date when it checks a certificate.
#[derive(Debug)]
struct WallClock;

impl rustls::time_provider::TimeProvider for WallClock {
    fn current_time(&self) -> Option<UnixTime> {
        crate::clock::unix_ms()
            .map(|ms| UnixTime::since_unix_epoch(core::time::Duration::from_millis(ms)))
    }
}

impl<T> TlsStream<T> {
    /// `TLSv1_3 TLS13_AES_128_GCM_SHA256`: what the handshake agreed on.
    pub fn describe(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        match (
            self.conn.protocol_version(),
            self.conn.negotiated_cipher_suite(),
        ) {
            (Some(version), Some(suite)) => write!(out, "{version:?} {:?}", suite.suite()),
            _ => Ok(()),
        }
    }
}

/// What [`TlsStream::drive`] runs until.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal<'a> {
    /// Application data may be sent.
    Handshake,
    /// Decrypted bytes are waiting in `plain`, or the peer closed.
    Read,
    /// These bytes were encrypted and sent (as much of them as fits one record).
    Write(&'a [u8]),
}

/// A TLS connection over `T`: read and write plaintext.
pub struct TlsStream<T> {
    io: T,
    conn: UnbufferedClientConnection,
    /// Received, not yet processed TLS bytes: `incoming[..in_len]`.
    incoming: Box<[u8]>,
    in_len: usize,
    outgoing: Box<[u8]>,
    /// Encoded handshake bytes waiting in `outgoing[..out_len]` for rustls' next
    /// `TransmitTlsData` (which may come in a later call, after decrypted data was handed out).
    out_len: usize,
    /// Decrypted bytes not yet read: `plain[plain_pos..]`.
    plain: Vec<u8>,
    plain_pos: usize,
    /// The peer sent close_notify: the data is complete.
    peer_closed: bool,
}

impl<T: Read + Write> TlsStream<T> {
    /// Runs the TLS state machine until `goal` is met; returns the plaintext bytes written for
    /// `Goal::Write`, else 0.
    async fn drive(&mut self, goal: Goal<'_>) -> Result<usize, Error> {
        loop {
            let UnbufferedStatus { mut discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[..self.in_len]);
            let mut need_input = false;
            let mut done = None;
            match state {
                Err(err) => {
                    self.send_alert().await;
                    return Err(failure(err));
                }
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    while let Some(record) = traffic.next_record() {
                        let record = record.map_err(failure)?;
                        discard += record.discard;
                        self.plain.extend_from_slice(record.payload);
                    }
                    if goal == Goal::Read {
                        done = Some(0);
                    }
                }
                Ok(ConnectionState::PeerClosed) | Ok(ConnectionState::Closed) => {
                    self.peer_closed = true;
                    match goal {
                        Goal::Read => done = Some(0),
                        Goal::Handshake => return Err(Error::ConnectionClosed),
                        Goal::Write(_) => return Err(Error::Io(IoErrorKind::BrokenPipe)),
                    }
                }
                Ok(ConnectionState::EncodeTlsData(mut encode)) => loop {
                    match encode.encode(&mut self.outgoing[self.out_len..]) {
                        Ok(n) => {
                            self.out_len += n;
                            break;
                        }
                        // Send what is queued, then encode into the emptied buffer.
                        Err(EncodeError::InsufficientSize(_)) if self.out_len > 0 => {
                            self.io
                                .write_all(&self.outgoing[..self.out_len])
                                .await
                                .map_err(io_error)?;
                            self.out_len = 0;
                        }
                        Err(e) => return Err(Error::tls(format_args!("{e}"))),
                    }
                },
                Ok(ConnectionState::TransmitTlsData(transmit)) => {
                    self.io
                        .write_all(&self.outgoing[..self.out_len])
                        .await
                        .map_err(io_error)?;
                    self.io.flush().await.map_err(io_error)?;
                    self.out_len = 0;
                    transmit.done();
                }
                Ok(ConnectionState::BlockedHandshake) => need_input = true,
                Ok(ConnectionState::WriteTraffic(mut traffic)) => match goal {
                    Goal::Handshake => done = Some(0),
                    Goal::Read => need_input = true,
                    Goal::Write(data) => {
                        let n = data.len().min(OUTGOING - RECORD_OVERHEAD);
                        let sealed = traffic
                            .encrypt(&data[..n], &mut self.outgoing)
                            .map_err(|_| Error::Io(IoErrorKind::OutOfMemory))?;
                        self.io
                            .write_all(&self.outgoing[..sealed])
                            .await
                            .map_err(io_error)?;
                        done = Some(n);
                    }
                },
                Ok(_) => {
                    return Err(Error::tls(format_args!(
                        "unexpected TLS state (early data)"
                    )))
                }
            }
            if discard > 0 {
                self.incoming.copy_within(discard..self.in_len, 0);
                self.in_len -= discard;
            }
            if let Some(n) = done {
                return Ok(n);
            }
            if need_input {
                self.fill().await?;
            }
        }
    }

    /// After a fatal error rustls queues an alert saying why (a certificate refused, say): send
    /// it, so that the server's log tells the reason too. Best effort: the connection is lost
    /// either way.
    async fn send_alert(&mut self) {
        let status = self.conn.process_tls_records(&mut []);
        if let Ok(ConnectionState::EncodeTlsData(mut encode)) = status.state {
            if let Ok(n) = encode.encode(&mut self.outgoing) {
                let _ = self.io.write_all(&self.outgoing[..n]).await;
                let _ = self.io.flush().await;
            }
        }
    }

    /// Reads more TLS bytes from the connection.
    async fn fill(&mut self) -> Result<(), Error> {
        if self.in_len == self.incoming.len() {
            // rustls processes every complete record, so a full buffer is an oversized record.
            return Err(Error::tls(format_args!(
                "TLS record larger than the receive buffer"
            )));
        }
        let n = self
            .io
            .read(&mut self.incoming[self.in_len..])
            .await
            .map_err(io_error)?;
        if n == 0 {
            // No close_notify: the data may have been cut by an attacker, so it is not an end.
            return Err(Error::Io(IoErrorKind::ConnectionAborted));
        }
        self.in_len += n;
        Ok(())
    }
}

impl<T> embedded_io_async::ErrorType for TlsStream<T> {
    type Error = Error;
}

impl<T: Read + Write> Read for TlsStream<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.plain_pos == self.plain.len() {
            self.plain.clear();
            self.plain_pos = 0;
            if self.peer_closed {
                return Ok(0);
            }
            self.drive(Goal::Read).await?;
        }
        let n = buf.len().min(self.plain.len() - self.plain_pos);
        buf[..n].copy_from_slice(&self.plain[self.plain_pos..self.plain_pos + n]);
        self.plain_pos += n;
        Ok(n)
    }
}

impl<T: Read + Write> Write for TlsStream<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.drive(Goal::Write(buf)).await
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.io.flush().await.map_err(io_error)
    }
}

/// The configuration's `TLS_INSECURE` entry: any certificate is accepted (signatures are still
/// checked, so the handshake itself is sound).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The board's random source for rustls, through getrandom's custom backend.
///
/// A board calls `mreq_fw::register_rng!(fill)` once, in its binary crate, with
/// `fn fill(buf: &mut [u8]) -> Result<(), mreq_fw::tls::getrandom::Error>` reading its hardware
/// RNG. A board that registers nothing does not link: TLS never runs on a made-up seed.
pub use getrandom;

/// Registers a board's hardware RNG as the source of every random byte TLS uses.
#[macro_export]
macro_rules! register_rng {
    ($fill:path) => {
        $crate::tls::getrandom::register_custom_getrandom!($fill);
    };
}
