//! `mreq_fw::tls::TlsStream` on the host, against a rustls server (ring) on 127.0.0.1 with
//! certificates made here: the same code the boards run, fed through a connection that hands
//! out a few bytes per read so that every record arrives in pieces.
#![cfg(feature = "tls")]

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use embassy_futures::block_on;
use embedded_io_async::{Read, Write};
use mreq_core::error::IoErrorKind;
use mreq_core::Error;
use mreq_fw::tls::{TlsSettings, TlsStream};
use mreq_fwconfig::{Builder, Config, BLOCK_SIZE};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a server certificate for 127.0.0.1 signed by it.
struct Pki {
    ca_der: Vec<u8>,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

/// Each call makes a CA of its own name: a certificate from another CA is an unknown issuer.
fn pki(server_names: &[&str]) -> Pki {
    static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("mreq-fw test CA {n}"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = server_names.iter().map(|n| n.to_string()).collect();
    let server = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Pki {
        ca_der: ca.der().to_vec(),
        chain: vec![server.der().clone()],
        key: key.serialize_der(),
    }
}

/// What the server does once the handshake is done and it has read the client's line.
#[derive(Clone, Copy)]
enum Ending {
    /// Sends `len` bytes of pattern, then close_notify.
    CloseNotify(usize),
    /// Sends `len` bytes, then drops TCP without close_notify (a truncation).
    Cut(usize),
    /// Sends `len` bytes, a TLS 1.3 KeyUpdate asking the client to update too, `len` more bytes;
    /// then reads a second line (under the client's new keys) and ends with close_notify.
    KeyUpdate(usize),
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

/// What the server thread saw: the client's line, or the error that ended the connection.
type Served = Result<Vec<u8>, String>;

/// Serves one TLS connection; returns the port and the thread.
fn serve(
    pki: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    ending: Ending,
) -> (u16, thread::JoinHandle<Served>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            pki.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone())),
        )
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        // A failed handshake ends here, with the reason.
        while !line.ends_with(b"\n") {
            match tls.read(&mut byte) {
                Ok(1) => line.push(byte[0]),
                Ok(_) => return Err("closed".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
        match ending {
            Ending::CloseNotify(len) => {
                tls.write_all(&pattern(len)).unwrap();
                tls.conn.send_close_notify();
                tls.flush().unwrap();
            }
            Ending::Cut(len) => {
                tls.write_all(&pattern(len)).unwrap();
                tls.flush().unwrap();
                tcp.shutdown(Shutdown::Both).unwrap();
            }
            Ending::KeyUpdate(len) => {
                tls.write_all(&pattern(len)).unwrap();
                tls.conn.refresh_traffic_keys().unwrap();
                tls.write_all(&pattern(len)).unwrap();
                tls.flush().unwrap();
                let mut second = Vec::new();
                while !second.ends_with(b"\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => second.push(byte[0]),
                        Ok(_) => return Err("closed before the second line".into()),
                        Err(e) => return Err(format!("second line: {e}")),
                    }
                }
                line.extend_from_slice(&second);
                tls.conn.send_close_notify();
                tls.flush().unwrap();
            }
        }
        Ok(line)
    });
    (port, handle)
}

/// A TCP connection as an `embedded_io_async` one that returns at most `max_read` bytes per
/// read, so TLS records arrive split at every possible place.
struct Trickle {
    tcp: TcpStream,
    max_read: usize,
}

impl embedded_io_async::ErrorType for Trickle {
    type Error = Error;
}

impl Read for Trickle {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let n = buf.len().min(self.max_read);
        self.tcp
            .read(&mut buf[..n])
            .map_err(|_| Error::Io(IoErrorKind::Other))
    }
}

impl Write for Trickle {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.tcp
            .write(buf)
            .map_err(|_| Error::Io(IoErrorKind::Other))
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.tcp.flush().map_err(|_| Error::Io(IoErrorKind::Other))
    }
}

fn settings(ca_der: &[u8]) -> TlsSettings {
    let mut block = [0xFFu8; BLOCK_SIZE];
    Builder::new(&mut block)
        .ca_cert_der(ca_der)
        .finish()
        .unwrap();
    TlsSettings::new(Some(&Config::parse(&block).unwrap()))
}

fn set_clock() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    mreq_fw::clock::set(now.as_millis() as u64);
}

// A test helper: the size of its error does not matter.
#[allow(clippy::result_large_err)]
fn connect(
    settings: &TlsSettings,
    port: u16,
    host: &str,
    max_read: usize,
) -> Result<TlsStream<Trickle>, Error> {
    set_clock();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    block_on(settings.connect(Trickle { tcp, max_read }, host))
}

/// The reason of a TLS error, and whether it is about the certificate.
fn tls_reason(err: &Error) -> (bool, String) {
    match err {
        Error::Tls {
            certificate,
            reason,
        } => (*certificate, reason.to_string()),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

/// Reads until the end (Ok(0)) or an error, `chunk` bytes at a time.
fn read_all(stream: &mut TlsStream<Trickle>, chunk: usize) -> (Vec<u8>, Result<(), Error>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        match block_on(stream.read(&mut buf)) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Err(e)),
        }
    }
}

fn exchange(versions: &[&'static rustls::SupportedProtocolVersion], max_read: usize, chunk: usize) {
    let pki = pki(&["127.0.0.1"]);
    let len = 100_000;
    let (port, server) = serve(&pki, versions, Ending::CloseNotify(len));
    let mut stream = connect(&settings(&pki.ca_der), port, "127.0.0.1", max_read)
        .map_err(|e| e.to_string())
        .unwrap();
    let line = b"GET / HTTP/1.1\r\n";
    block_on(stream.write_all(line)).unwrap();
    block_on(stream.flush()).unwrap();
    let (got, end) = read_all(&mut stream, chunk);
    assert_eq!(end, Ok(()), "close_notify is a clean end");
    assert_eq!(got.len(), len);
    assert!(got == pattern(len), "the plaintext arrives unchanged");
    assert_eq!(server.join().unwrap().unwrap(), line);
}

#[test]
fn tls13_records_arrive_whole_through_a_trickle() {
    exchange(&[&rustls::version::TLS13], 7, 1000);
}

#[test]
fn tls12_with_one_byte_reads() {
    exchange(&[&rustls::version::TLS12], 1, 1);
}

#[test]
fn large_reads_and_whole_records() {
    exchange(&[&rustls::version::TLS13], 65536, 65536);
}

#[test]
fn a_key_update_from_the_server_is_answered() {
    let pki = pki(&["127.0.0.1"]);
    let (port, server) = serve(&pki, &[&rustls::version::TLS13], Ending::KeyUpdate(300));
    let mut stream = connect(&settings(&pki.ca_der), port, "127.0.0.1", 65536).unwrap();
    block_on(stream.write_all(b"first\n")).unwrap();
    // Let data, KeyUpdate and data arrive together: the client then meets the KeyUpdate with
    // decrypted data behind it, and must still send its answer.
    thread::sleep(std::time::Duration::from_millis(300));
    let mut got = vec![0u8; 600];
    let mut filled = 0;
    while filled < got.len() {
        filled += block_on(stream.read(&mut got[filled..])).unwrap();
    }
    assert_eq!(got[..300], pattern(300)[..]);
    assert_eq!(got[300..], pattern(300)[..]);
    // Sent under the keys the client updated to: the server reads it only if the client's own
    // KeyUpdate reached it first.
    block_on(stream.write_all(b"second\n")).unwrap();
    block_on(stream.flush()).unwrap();
    let (rest, end) = read_all(&mut stream, 512);
    assert!(rest.is_empty());
    assert_eq!(end, Ok(()));
    assert_eq!(server.join().unwrap(), Ok(b"first\nsecond\n".to_vec()));
}

#[test]
fn an_end_without_close_notify_is_an_error() {
    let pki = pki(&["127.0.0.1"]);
    let (port, server) = serve(&pki, &[&rustls::version::TLS13], Ending::Cut(5000));
    let mut stream = connect(&settings(&pki.ca_der), port, "127.0.0.1", 4096).unwrap();
    block_on(stream.write_all(b"hi\n")).unwrap();
    let (got, end) = read_all(&mut stream, 512);
    assert_eq!(got, pattern(5000), "what arrived is delivered");
    assert_eq!(end, Err(Error::Io(IoErrorKind::ConnectionAborted)));
    assert_eq!(server.join().unwrap().unwrap(), b"hi\n");
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let server_pki = pki(&["127.0.0.1"]);
    let other = pki(&["127.0.0.1"]);
    let (port, server) = serve(
        &server_pki,
        &[&rustls::version::TLS13],
        Ending::CloseNotify(1),
    );
    let err = connect(&settings(&other.ca_der), port, "127.0.0.1", 4096)
        .err()
        .expect("an untrusted certificate must not connect");
    let (certificate, reason) = tls_reason(&err);
    assert!(certificate, "{err}");
    assert_eq!(err.kind(), "certificate");
    assert!(
        err.to_string().starts_with("TLS certificate error:"),
        "{err}"
    );
    assert!(reason.contains("UnknownIssuer"), "{err}");
    assert_eq!(
        server.join().unwrap(),
        Err("received fatal alert: UnknownCA".into()),
        "no data before a verified handshake; the server is told why"
    );
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let pki = pki(&["other.example"]);
    let (port, server) = serve(&pki, &[&rustls::version::TLS12], Ending::CloseNotify(1));
    let err = connect(&settings(&pki.ca_der), port, "127.0.0.1", 4096)
        .err()
        .expect("a certificate for another name must not connect");
    let (certificate, reason) = tls_reason(&err);
    assert!(
        certificate && reason.contains("not valid for name"),
        "{err}"
    );
    assert_eq!(
        server.join().unwrap(),
        Err("received fatal alert: BadCertificate".into())
    );
}

#[test]
fn a_bad_ca_in_the_configuration_refuses_every_connection() {
    let pki = pki(&["127.0.0.1"]);
    let (port, _server) = serve(&pki, &[&rustls::version::TLS13], Ending::CloseNotify(1));
    let err = connect(
        &settings(b"\x30\x03not a certificate"),
        port,
        "127.0.0.1",
        4096,
    )
    .err()
    .expect("a broken trust store must not connect");
    let (_, reason) = tls_reason(&err);
    assert!(reason.contains("bad CA certificate"), "{err}");
    // Unblock the server thread, which waits for a handshake.
    drop(TcpStream::connect(("127.0.0.1", port)));
}
