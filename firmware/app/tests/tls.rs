//! `mreq_fw::tls::TlsStream` on the host, against a rustls server (ring) on 127.0.0.1 with
//! certificates made here: the same code the boards run, fed through a connection that hands
//! out a few bytes per read so that every record arrives in pieces.
#![cfg(feature = "https")]

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use embassy_futures::block_on;
use embedded_io_async::{Read, Write};
use mreq_core::error::IoErrorKind;
use mreq_core::Error;
use mreq_fw::tls::{TlsOver, TlsSettings};
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
    pki_with(
        KeyPair::generate().unwrap(),
        KeyPair::generate().unwrap(),
        server_names,
    )
}

/// An RSA-2048 key made once with openssl for these tests (ring cannot generate RSA keys).
const RSA_TEST_KEY: &str = include_str!("data/rsa2048-test-key.pem");

/// The key algorithms public CAs and servers use, each as a key pair.
fn key(algorithm: &str) -> KeyPair {
    match algorithm {
        "ecdsa-p256" => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        "ecdsa-p384" => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        "rsa-2048" => KeyPair::from_pem(RSA_TEST_KEY).unwrap(),
        other => panic!("no key algorithm {other}"),
    }
}

/// A CA with `ca_key` and a server certificate with `server_key` signed by it.
fn pki_with(ca_key: KeyPair, key: KeyPair, server_names: &[&str]) -> Pki {
    pki_dated(ca_key, key, server_names, None)
}

/// A date: year, month, day.
type Ymd = (i32, u8, u8);

/// [`pki_with`], the server certificate valid only from `valid.0` to `valid.1`.
fn pki_dated(
    ca_key: KeyPair,
    key: KeyPair,
    server_names: &[&str],
    valid: Option<(Ymd, Ymd)>,
) -> Pki {
    static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("mreq-fw test CA {n}"));
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let names: Vec<String> = server_names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    if let Some(((y0, m0, d0), (y1, m1, d1))) = valid {
        params.not_before = rcgen::date_time_ymd(y0, m0, d0);
        params.not_after = rcgen::date_time_ymd(y1, m1, d1);
    }
    let server = params.signed_by(&key, &ca).unwrap();
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
    serve_with(
        pki,
        versions,
        ending,
        rustls::crypto::ring::default_provider(),
    )
}

/// [`serve`] with the server's own choice of cipher suites and key exchange groups.
fn serve_with(
    pki: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    ending: Ending,
    provider: rustls::crypto::CryptoProvider,
) -> (u16, thread::JoinHandle<Served>) {
    let provider = Arc::new(provider);
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
fn connect<'s>(
    settings: &'s TlsSettings,
    port: u16,
    host: &str,
    max_read: usize,
) -> Result<TlsOver<'s, Trickle>, Error> {
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
fn read_all(stream: &mut TlsOver<'_, Trickle>, chunk: usize) -> (Vec<u8>, Result<(), Error>) {
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
    let settings = settings(&pki.ca_der);
    let mut stream = connect(&settings, port, "127.0.0.1", max_read)
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

#[cfg(feature = "tls")]
#[test]
fn a_key_update_from_the_server_is_answered() {
    let pki = pki(&["127.0.0.1"]);
    let (port, server) = serve(&pki, &[&rustls::version::TLS13], Ending::KeyUpdate(300));
    let settings = settings(&pki.ca_der);
    let mut stream = connect(&settings, port, "127.0.0.1", 65536).unwrap();
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

/// Mbed TLS 3.6 does not take a TLS 1.3 KeyUpdate: the data before it arrives, then the
/// connection ends in an error that says so (never data read under stale keys, never a clean
/// end).
#[cfg(feature = "tls-mbedtls")]
#[test]
fn a_key_update_from_the_server_is_a_clear_error() {
    let pki = pki(&["127.0.0.1"]);
    let (port, _server) = serve(&pki, &[&rustls::version::TLS13], Ending::KeyUpdate(300));
    let settings = settings(&pki.ca_der);
    let mut stream = connect(&settings, port, "127.0.0.1", 65536).unwrap();
    block_on(stream.write_all(b"first\n")).unwrap();
    let (got, end) = read_all(&mut stream, 512);
    assert_eq!(got, pattern(300));
    let (certificate, reason) = tls_reason(&end.unwrap_err());
    assert!(!certificate && reason.contains("KeyUpdate"), "{reason}");
}

#[test]
fn an_end_without_close_notify_is_an_error() {
    let pki = pki(&["127.0.0.1"]);
    let (port, server) = serve(&pki, &[&rustls::version::TLS13], Ending::Cut(5000));
    let settings = settings(&pki.ca_der);
    let mut stream = connect(&settings, port, "127.0.0.1", 4096).unwrap();
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

/// Certificate dates are checked against the clock: a certificate that expired, or is not
/// valid yet, is refused as a certificate error naming that.
#[test]
fn certificates_out_of_their_dates_are_refused() {
    for (valid, says) in [
        (((2019, 1, 1), (2020, 1, 1)), "expired"),
        (((2090, 1, 1), (2091, 1, 1)), "not valid yet"),
    ] {
        let pki = pki_dated(
            KeyPair::generate().unwrap(),
            KeyPair::generate().unwrap(),
            &["127.0.0.1"],
            Some(valid),
        );
        let (port, server) = serve(&pki, &[&rustls::version::TLS13], Ending::CloseNotify(1));
        let err = connect(&settings(&pki.ca_der), port, "127.0.0.1", 4096)
            .err()
            .expect("a certificate out of its dates must not connect");
        let (certificate, reason) = tls_reason(&err);
        let reason = reason.to_lowercase();
        assert!(
            certificate && (reason.contains(says) || reason.contains(&says.replace(' ', ""))),
            "{says}: {err}"
        );
        assert!(server.join().unwrap().is_err(), "no data sent");
    }
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

/// One short exchange with a server that uses `pki` and `provider`; the error in words if the
/// handshake fails.
fn one_exchange(
    pki: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    provider: rustls::crypto::CryptoProvider,
) -> Result<(), String> {
    let (port, server) = serve_with(pki, versions, Ending::CloseNotify(3000), provider);
    let settings = settings(&pki.ca_der);
    let mut stream = connect(&settings, port, "127.0.0.1", 4096).map_err(|e| e.to_string())?;
    block_on(stream.write_all(b"hi\n")).map_err(|e| e.to_string())?;
    let (got, end) = read_all(&mut stream, 1024);
    end.map_err(|e| e.to_string())?;
    assert_eq!(got, pattern(3000));
    assert_eq!(server.join().unwrap(), Ok(b"hi\n".to_vec()));
    Ok(())
}

/// Every pairing of CA key and server key that public servers use (Let's Encrypt's ECDSA chain
/// is a P-384 intermediate over a P-256 key; its RSA chain and most CDNs are RSA), over TLS 1.3
/// and 1.2: with `tls-lean` too, every one of them connects and is verified.
#[test]
fn the_certificate_algorithms_of_public_servers_connect() {
    let algorithms = ["ecdsa-p256", "ecdsa-p384", "rsa-2048"];
    for ca in algorithms {
        for server in algorithms {
            for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
                let pki = pki_with(key(ca), key(server), &["127.0.0.1"]);
                let result =
                    one_exchange(&pki, &[version], rustls::crypto::ring::default_provider());
                assert_eq!(result, Ok(()), "CA {ca}, server {server}, {version:?}");
            }
        }
    }
}

/// A server restricted to one key exchange group or one cipher suite: the NIST groups and
/// AES-GCM always connect; X25519 and ChaCha20-Poly1305 only without `tls-lean`, which leaves
/// them out (and then fails with a reason, not a hang).
#[test]
fn key_exchange_groups_and_cipher_suites_as_the_provider_has_them() {
    use rustls::crypto::ring::{cipher_suite, default_provider, kx_group};
    let lean = cfg!(feature = "tls-lean");
    let groups: [(&str, &'static dyn rustls::crypto::SupportedKxGroup, bool); 3] = [
        ("secp256r1", kx_group::SECP256R1, true),
        ("secp384r1", kx_group::SECP384R1, true),
        ("x25519", kx_group::X25519, !lean),
    ];
    let suites = [
        (
            "TLS13_AES_128_GCM",
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            true,
        ),
        (
            "TLS13_AES_256_GCM",
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            true,
        ),
        (
            "TLS13_CHACHA20",
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            !lean,
        ),
        (
            "TLS12_ECDHE_ECDSA_AES_128_GCM",
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            true,
        ),
        (
            "TLS12_ECDHE_ECDSA_AES_256_GCM",
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            true,
        ),
        (
            "TLS12_ECDHE_ECDSA_CHACHA20",
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            !lean,
        ),
    ];
    for (name, group, connects) in groups {
        let pki = pki(&["127.0.0.1"]);
        let provider = rustls::crypto::CryptoProvider {
            kx_groups: vec![group],
            ..default_provider()
        };
        let result = one_exchange(&pki, &[&rustls::version::TLS13], provider);
        assert_eq!(result.is_ok(), connects, "group {name}: {result:?}");
        if let Err(reason) = result {
            assert!(reason.starts_with("TLS error:"), "group {name}: {reason}");
        }
    }
    for (name, suite, connects) in suites {
        let pki = pki(&["127.0.0.1"]);
        let version = match suite {
            rustls::SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
            rustls::SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
        };
        let provider = rustls::crypto::CryptoProvider {
            cipher_suites: vec![suite],
            ..default_provider()
        };
        let result = one_exchange(&pki, &[version], provider);
        assert_eq!(result.is_ok(), connects, "suite {name}: {result:?}");
        if let Err(reason) = result {
            assert!(reason.starts_with("TLS error:"), "suite {name}: {reason}");
        }
    }
}
