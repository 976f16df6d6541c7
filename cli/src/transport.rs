//! The CLI's transport: plain TCP for `http`, rustls over TCP for `https`. TLS is set up only when
//! an `https` URL is reached, so plain requests pay nothing for it.

use crate::meter::{Mark, Meter};
use crate::proxy::{self, Proxies};
use crate::sock::Sock;
use crate::tls::TlsStream;
use mreq_core::client::blocking::Connect;
use mreq_core::client::tcp::{self, map_io, TcpConnector};
use mreq_core::client::Forward;
use mreq_core::error::ErrorText;
use mreq_core::url::Scheme;
use mreq_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How TLS peers are verified.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Skip certificate verification (the caller warns about it).
    pub insecure: bool,
    /// Extra CA certificates to trust besides the Mozilla and system roots, by file.
    cacerts: Vec<CaFile>,
    /// `--cert`/`--key`: the certificate chain and key this client shows when asked.
    client: Option<Arc<ClientIdentity>>,
}

#[derive(Debug)]
struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// One `--cacert` file and its certificates.
#[derive(Debug, Clone)]
struct CaFile {
    path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl TlsSettings {
    /// Reads every `--cacert` file once, before anything connects: each must be readable and
    /// hold at least one PEM certificate.
    pub fn load(insecure: bool, paths: &[PathBuf]) -> std::result::Result<Self, String> {
        let cacerts = paths
            .iter()
            .map(|path| {
                read_pem_certs(path).map(|certs| CaFile {
                    path: path.clone(),
                    certs,
                })
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok(TlsSettings {
            insecure,
            cacerts,
            client: None,
        })
    }

    /// Reads `--cert FILE` (PEM: the certificate chain, and the key unless `--key` names its
    /// file) before anything connects.
    pub fn with_client(
        mut self,
        cert: &std::path::Path,
        key: Option<&std::path::Path>,
    ) -> std::result::Result<Self, String> {
        let chain = read_pem_certs(cert)?;
        let key_file = key.unwrap_or(cert);
        let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
            format!(
                "no usable private key in {} ({e}; PEM, not encrypted: give it with --key FILE)",
                key_file.display()
            )
        })?;
        self.client = Some(Arc::new(ClientIdentity { chain, key }));
        Ok(self)
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

/// A TLS error (`certificate`: the server's certificate was refused) with its reason.
fn tls_error(certificate: bool, message: &str) -> Error {
    Error::Tls {
        certificate,
        reason: ErrorText::new(message),
    }
}

pub struct NetConnector {
    tcp: TcpConnector,
    tls: TlsSettings,
    config: Option<Arc<ClientConfig>>,
    /// `--resolve HOST:PORT:ADDR`: addresses used instead of the resolver's.
    resolved: Vec<Resolved>,
    proxies: Proxies,
    /// `--unix-socket PATH`: every connection goes there.
    unix_socket: Option<PathBuf>,
    meter: Meter,
}

/// One `--resolve` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
}

impl NetConnector {
    pub fn new(
        tcp: TcpConnector,
        tls: TlsSettings,
        resolved: Vec<Resolved>,
        proxies: Proxies,
        unix_socket: Option<PathBuf>,
        meter: Meter,
    ) -> Self {
        NetConnector {
            tcp,
            tls,
            config: None,
            resolved,
            proxies,
            unix_socket,
            meter,
        }
    }

    /// The addresses of a host: `--resolve`'s, else the resolver's.
    fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>> {
        let given = self
            .resolved
            .iter()
            .find(|r| r.port == port && r.host.eq_ignore_ascii_case(host));
        match given {
            Some(entry) => Ok(entry.addrs.clone()),
            None => tcp::resolve(host, port),
        }
    }

    /// A stream that leads to `host:port` for `scheme`: straight there, or through the proxy
    /// for that origin (forwarding: to the proxy itself; tunnel or SOCKS: the handshake done).
    fn open(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Sock> {
        #[cfg(unix)]
        if let Some(path) = &self.unix_socket {
            let sock = std::os::unix::net::UnixStream::connect(path)
                .map_err(|e| Error::Connect(embedded_io::Error::kind(&e)))?;
            let sock = Sock::Unix(sock);
            sock.set_timeouts(self.tcp.read_timeout)
                .map_err(|e| Error::Connect(embedded_io::Error::kind(&e)))?;
            self.meter.mark(Mark::Connect);
            self.meter.update(|m| m.connects += 1);
            return Ok(sock);
        }
        let Some(proxy) = self.proxies.for_origin(scheme, host).cloned() else {
            return self.open_tcp(host, port).map(Sock::Tcp);
        };
        let mut sock = self
            .open_tcp(&proxy.host, proxy.port)
            .map(Sock::Tcp)
            .map_err(|err| proxy::unreachable(err, &proxy))?;
        self.meter.arm(&sock, self.tcp.read_timeout)?;
        match proxy.kind {
            proxy::Kind::Http if scheme == Scheme::Https || self.proxies.tunnel => {
                proxy::connect_tunnel(&mut sock, &proxy, host, port)?;
            }
            proxy::Kind::Http => {}
            proxy::Kind::Socks5 { remote_dns } => {
                let addr = match remote_dns {
                    true => None,
                    false => self.addresses(host, port)?.first().map(SocketAddr::ip),
                };
                proxy::socks5(&mut sock, &proxy, host, port, addr)?;
            }
        }
        Ok(sock)
    }

    /// A TCP connection to the host's address, within the connect timeout and the transfer's
    /// deadline; each step is marked for `-w`.
    fn open_tcp(&mut self, host: &str, port: u16) -> Result<TcpStream> {
        let addrs = self.addresses(host, port)?;
        self.meter.mark(Mark::NameLookup);
        let tcp = TcpConnector {
            connect_timeout: self.meter.limit(self.tcp.connect_timeout)?,
            ..self.tcp
        };
        let sock = tcp.connect_addrs(&addrs)?;
        self.meter.mark(Mark::Connect);
        self.meter.update(|m| m.connects += 1);
        Ok(sock)
    }

    fn conn(&self, stream: Stream) -> Conn {
        Conn {
            stream,
            meter: self.meter.clone(),
            timeout: self.tcp.read_timeout,
        }
    }

    fn client_config(&mut self) -> Result<Arc<ClientConfig>> {
        if let Some(config) = &self.config {
            return Ok(config.clone());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(false, &e.to_string()))?;
        let checked = if self.tls.insecure {
            None
        } else {
            let roots = Arc::new(self.root_store()?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| tls_error(false, &e.to_string()))?;
            let given = self
                .tls
                .cacerts
                .iter()
                .flat_map(|f| f.certs.clone())
                .collect();
            Some(Checked { webpki, given })
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier { provider, checked }));
        let config = match &self.tls.client {
            None => builder.with_no_client_auth(),
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .map_err(|e| {
                    tls_error(false, &format!("the --cert/--key pair is not usable: {e}"))
                })?,
        };
        let config = Arc::new(config);
        self.config = Some(config.clone());
        Ok(config)
    }

    /// The trust anchors: the `--cacert` files' certificates when there are any (they replace
    /// the default store, as in curl), else the Mozilla roots and the system's.
    fn root_store(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        if self.tls.cacerts.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            // The system store may be missing or partly unreadable: the Mozilla roots still stand.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
        for file in &self.tls.cacerts {
            for cert in &file.certs {
                roots.add(cert.clone()).map_err(|e| {
                    let message = format!("bad CA certificate in {}: {e}", file.path.display());
                    tls_error(false, &message)
                })?;
            }
        }
        Ok(roots)
    }

    fn connect_tls(&mut self, host: &str, port: u16) -> Result<Conn> {
        let config = self.client_config()?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| tls_error(false, &format!("invalid TLS server name {host:?}")))?;
        let tls =
            ClientConnection::new(config, name).map_err(|e| tls_error(false, &e.to_string()))?;
        let sock = self.open(Scheme::Https, host, port)?;
        let mut stream = TlsStream::new(tls, sock);
        while stream.conn.is_handshaking() {
            self.meter.arm(&stream.sock, self.tcp.read_timeout)?;
            stream.handshake_step().map_err(handshake_error)?;
        }
        self.meter.mark(Mark::AppConnect);
        Ok(self.conn(Stream::Tls(Box::new(stream))))
    }
}

/// Why a handshake failed: a timeout, a refused certificate, or another TLS error.
fn handshake_error(err: io::Error) -> Error {
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
    tls_error(certificate, &message)
}

impl Connect for NetConnector {
    type Conn = Conn;

    fn connect(&mut self, scheme: Scheme, host: &str, port: u16) -> Result<Conn> {
        match scheme {
            Scheme::Http => {
                let sock = self.open(Scheme::Http, host, port)?;
                Ok(self.conn(Stream::Plain(sock)))
            }
            Scheme::Https => self.connect_tls(host, port),
        }
    }

    fn forward(&self, scheme: Scheme, host: &str, _port: u16) -> Option<Forward<'_>> {
        let proxy = self.proxies.for_origin(scheme, host)?;
        let forwards =
            scheme == Scheme::Http && proxy.kind == proxy::Kind::Http && !self.proxies.tunnel;
        forwards.then_some(Forward {
            authorization: proxy.authorization.as_deref(),
        })
    }
}

/// A connection, with the transfer's meter: every read and write keeps to its deadline and is
/// counted.
pub struct Conn {
    stream: Stream,
    meter: Meter,
    /// The socket's own read and write timeout.
    timeout: Option<Duration>,
}

enum Stream {
    Plain(Sock),
    Tls(Box<TlsStream>),
}

impl Conn {
    fn socket(&self) -> &Sock {
        match &self.stream {
            Stream::Plain(sock) => sock,
            Stream::Tls(stream) => &stream.sock,
        }
    }

    /// The socket of a plain connection, ready for a read that bypasses [`Conn`] (splice(2));
    /// `None` for TLS.
    pub fn plain_socket(&mut self) -> Result<Option<&Sock>> {
        self.meter.arm(self.socket(), self.timeout)?;
        Ok(match &self.stream {
            Stream::Plain(sock) => Some(sock),
            Stream::Tls(_) => None,
        })
    }

    fn read_stream(&mut self, buf: &mut [u8]) -> Result<usize> {
        match &mut self.stream {
            Stream::Plain(sock) => loop {
                match sock.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => return other.map_err(|e| map_io(&e)),
                }
            },
            Stream::Tls(stream) => loop {
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

impl embedded_io::ErrorType for Conn {
    type Error = Error;
}

impl embedded_io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.meter.arm(self.socket(), self.timeout)?;
        let n = self.read_stream(buf)?;
        if n > 0 {
            self.meter.mark(Mark::StartTransfer);
        }
        Ok(n)
    }
}

impl embedded_io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        self.meter.arm(self.socket(), self.timeout)?;
        let n = match &mut self.stream {
            Stream::Plain(sock) => loop {
                match sock.write(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other.map_err(|e| map_io(&e)),
                }
            },
            Stream::Tls(stream) => stream.write(buf).map_err(|e| map_io(&e)),
        }?;
        self.meter.update(|m| m.written += n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> Result<()> {
        self.meter.arm(self.socket(), self.timeout)?;
        match &mut self.stream {
            Stream::Plain(sock) => sock.flush().map_err(|e| map_io(&e)),
            Stream::Tls(stream) => stream.flush().map_err(|e| map_io(&e)),
        }
    }
}

/// How server certificates are checked. With `--insecure` (`checked: None`) any certificate is
/// accepted; handshake signatures are verified either way, so the handshake stays sound.
/// Otherwise the usual verification (chains to the roots, names, dates), plus what curl accepts: a
/// server certificate byte-identical to one the user gave with `--cacert` is trusted as its own
/// anchor, even when it says CA:TRUE (as `openssl req -x509 -newkey ...` makes them). Its host
/// names and dates are still checked, and the handshake signature proves the server holds its key.
#[derive(Debug)]
struct Verifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
    checked: Option<Checked>,
}

#[derive(Debug)]
struct Checked {
    webpki: Arc<WebPkiServerVerifier>,
    /// Every `--cacert` certificate.
    given: Vec<CertificateDer<'static>>,
}

/// A certificate the user gave: its names and dates.
fn check_given(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<ServerCertVerified, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let parsed = ParsedCertificate::try_from(end_entity)?;
    rustls::client::verify_server_name(&parsed, server_name)?;
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref()).map_err(|_| bad())?;
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

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match &self.checked {
            None => Ok(ServerCertVerified::assertion()),
            Some(checked)
                if checked
                    .given
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                check_given(end_entity, server_name, now)
            }
            Some(checked) => {
                checked
                    .webpki
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            }
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
