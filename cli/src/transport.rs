//! The CLI's transport: plain TCP for `http`, rustls over TCP for `https`. TLS is set up only when
//! an `https` URL is reached, so plain requests pay nothing for it.

use mreq_core::client::blocking::Connect;
use mreq_core::client::tcp::{map_io, TcpConn, TcpConnector};
use mreq_core::error::ErrorText;
use mreq_core::url::Scheme;
use mreq_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;

/// How TLS peers are verified.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Skip certificate verification (the caller warns about it).
    pub insecure: bool,
    /// Extra CA certificates (PEM files) to trust besides the Mozilla and system roots.
    pub cacerts: Vec<PathBuf>,
}

impl TlsSettings {
    /// Reads every `--cacert` file: each must be readable and hold at least one PEM certificate.
    pub fn check_cacerts(&self) -> std::result::Result<(), String> {
        for path in &self.cacerts {
            read_pem_certs(path)?;
        }
        Ok(())
    }
}

/// The certificates of a PEM file, or what is wrong with it.
fn read_pem_certs(
    path: &std::path::Path,
) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<_, _>>())
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificates in CA file {}", path.display()));
    }
    Ok(certs)
}

pub struct NetConnector {
    tcp: TcpConnector,
    tls: TlsSettings,
    config: Option<Arc<ClientConfig>>,
}

impl NetConnector {
    pub fn new(tcp: TcpConnector, tls: TlsSettings) -> Self {
        NetConnector {
            tcp,
            tls,
            config: None,
        }
    }

    fn fail(&mut self, certificate: bool, message: String) -> Error {
        Error::Tls {
            certificate,
            reason: ErrorText::new(&message),
        }
    }

    fn client_config(&mut self) -> Result<Arc<ClientConfig>> {
        if let Some(config) = &self.config {
            return Ok(config.clone());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| self.fail(false, e.to_string()))?;
        let config = if self.tls.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            let roots = Arc::new(self.root_store()?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| self.fail(false, e.to_string()))?;
            let given = self.given_certificates()?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(TrustGiven { webpki, given }))
                .with_no_client_auth()
        };
        let config = Arc::new(config);
        self.config = Some(config.clone());
        Ok(config)
    }

    /// Every certificate of the `--cacert` files, for [`TrustGiven`].
    fn given_certificates(&mut self) -> Result<Vec<CertificateDer<'static>>> {
        let mut given = Vec::new();
        for path in self.tls.cacerts.clone() {
            given.extend(read_pem_certs(&path).map_err(|message| self.fail(false, message))?);
        }
        Ok(given)
    }

    fn root_store(&mut self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // The system store may be missing or partly unreadable: the Mozilla roots still stand.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        for path in self.tls.cacerts.clone() {
            let certs = read_pem_certs(&path).map_err(|message| self.fail(false, message))?;
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    self.fail(
                        false,
                        format!("bad CA certificate in {}: {e}", path.display()),
                    )
                })?;
            }
        }
        Ok(roots)
    }

    fn connect_tls(&mut self, host: &str, port: u16) -> Result<Conn> {
        let config = self.client_config()?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| self.fail(false, format!("invalid TLS server name {host:?}")))?;
        let mut tls =
            ClientConnection::new(config, name).map_err(|e| self.fail(false, e.to_string()))?;
        let mut sock = self.tcp.connect_tcp(host, port)?;
        while tls.is_handshaking() {
            if let Err(err) = tls.complete_io(&mut sock) {
                return Err(self.handshake_error(err));
            }
        }
        Ok(Conn::Tls(Box::new(StreamOwned::new(tls, sock))))
    }

    fn handshake_error(&mut self, err: io::Error) -> Error {
        if matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            return Error::Timeout;
        }
        let certificate = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
        let message = match err.get_ref() {
            Some(inner) => inner.to_string(),
            None => err.to_string(),
        };
        self.fail(certificate, message)
    }
}

impl Connect for NetConnector {
    type Conn = Conn;

    fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Conn> {
        match scheme {
            Scheme::Http => self
                .tcp
                .connect_tcp(host, port)
                .map(|s| Conn::Plain(TcpConn(s))),
            Scheme::Https => self.connect_tls(host, port),
        }
    }
}

pub enum Conn {
    Plain(TcpConn),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl embedded_io::ErrorType for Conn {
    type Error = Error;
}

impl embedded_io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        match self {
            Conn::Plain(conn) => conn.read(buf),
            Conn::Tls(stream) => loop {
                match stream.read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // A peer that closes without close_notify: framed bodies are still checked
                    // by the decoder, so treat it as the end of the stream.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => {
                        if let Some(tls) =
                            e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
                        {
                            return Err(Error::tls(format_args!("{tls}")));
                        }
                        return Err(map_io(&e));
                    }
                }
            },
        }
    }
}

impl embedded_io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        match self {
            Conn::Plain(conn) => conn.write(buf),
            Conn::Tls(stream) => stream.write(buf).map_err(|e| map_io(&e)),
        }
    }

    fn flush(&mut self) -> Result<()> {
        match self {
            Conn::Plain(conn) => embedded_io::Write::flush(conn),
            Conn::Tls(stream) => stream.flush().map_err(|e| map_io(&e)),
        }
    }
}

/// The usual verification (chains to the roots, names, dates), plus what curl accepts: a server
/// certificate byte-identical to one the user gave with `--cacert` is trusted as its own anchor,
/// even when it says CA:TRUE (as `openssl req -x509 -newkey ...` makes them). Its host names and
/// dates are still checked, and the handshake signature proves the server holds its key.
#[derive(Debug)]
struct TrustGiven {
    webpki: Arc<WebPkiServerVerifier>,
    given: Vec<CertificateDer<'static>>,
}

impl TrustGiven {
    fn check_given(
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(end_entity.as_ref()).map_err(|_| bad())?;
        let now_secs = i64::try_from(now.as_secs()).map_err(|_| bad())?;
        let validity = cert.validity();
        if now_secs < validity.not_before.timestamp() {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet,
            ));
        }
        if now_secs > validity.not_after.timestamp() {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
        }
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for TrustGiven {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.given.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Self::check_given(end_entity, server_name, now);
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `--insecure`: accepts any certificate (signatures are still checked, so the handshake is sound).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
