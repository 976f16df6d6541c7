//! rustls over a socket, arranged for throughput. rustls reads its records from an inbox that
//! one `recv` fills with all the socket holds (up to [`INBOX`]), not one record per call; and a
//! read hands back every record that has already arrived, waiting only while it has nothing.
//! A fast download thus moves in few system calls and large writes to its sink, while a slow
//! stream's bytes are still passed on as soon as they come.

use crate::sock::Sock;
use rustls::ClientConnection;
use std::io::{self, Read, Write};

/// The inbox's size: the socket's receive buffer is rarely fuller than this.
const INBOX: usize = 64 * 1024;

pub struct TlsStream {
    pub conn: ClientConnection,
    pub sock: Sock,
    inbox: Inbox,
    /// An error met while gathering, after bytes that read returned: the next read's answer,
    /// so it is neither lost nor found only after waiting on the socket again.
    deferred: Option<io::Error>,
}

/// Bytes received from the socket that rustls has not read yet: `buf[start..end]`.
struct Inbox {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

/// What rustls reads records from: the inbox, refilled from the socket when empty, waiting for
/// bytes or not (`WouldBlock` then).
struct Feed<'a> {
    inbox: &'a mut Inbox,
    sock: &'a mut Sock,
    wait: bool,
}

impl Read for Feed<'_> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let inbox = &mut *self.inbox;
        if inbox.start == inbox.end {
            let got = match self.wait {
                true => self.sock.read(&mut inbox.buf)?,
                false => self.sock.recv_nowait(&mut inbox.buf)?,
            };
            (inbox.start, inbox.end) = (0, got);
        }
        let n = dst.len().min(inbox.end - inbox.start);
        dst[..n].copy_from_slice(&inbox.buf[inbox.start..inbox.start + n]);
        inbox.start += n;
        Ok(n)
    }
}

impl TlsStream {
    pub fn new(conn: ClientConnection, sock: Sock) -> TlsStream {
        TlsStream {
            conn,
            sock,
            inbox: Inbox {
                buf: vec![0; INBOX].into_boxed_slice(),
                start: 0,
                end: 0,
            },
            deferred: None,
        }
    }

    /// One round of the handshake: sends what rustls has to send, then waits for and takes in
    /// the peer's next records. Call it while `conn.is_handshaking()`.
    pub fn handshake_step(&mut self) -> io::Result<()> {
        self.send_pending()?;
        if self.conn.is_handshaking() && self.conn.wants_read() {
            if !self.take_in(true)? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            // The last flight (the client's Finished) goes out now, not with the request.
            self.send_pending()?;
        }
        Ok(())
    }

    /// Sends every TLS byte rustls has queued (handshake flights, alerts, key updates).
    fn send_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }

    /// Reads from the inbox or socket into rustls and processes the records; `Ok(false)`: the
    /// socket ended. Without `wait`, `WouldBlock` when nothing has arrived.
    fn take_in(&mut self, wait: bool) -> io::Result<bool> {
        let mut feed = Feed {
            inbox: &mut self.inbox,
            sock: &mut self.sock,
            wait,
        };
        let n = self.conn.read_tls(&mut feed)?;
        if let Err(err) = self.conn.process_new_packets() {
            // Tell the peer why (the alert rustls queued), as rustls' own streams do.
            let _ = self.send_pending();
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
        Ok(n > 0)
    }

    /// Plaintext into `buf`: waits for the first bytes, then adds whatever else has already
    /// arrived. `Ok(0)` after the peer's close_notify; `UnexpectedEof` if the socket ended
    /// without one.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = self.deferred.take() {
            return Err(err);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = loop {
            match self.conn.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => break other?,
            }
            self.send_pending()?;
            if !self.take_in(true)? {
                // The socket ended: rustls' reader now says how (close_notify or not).
                match self.conn.reader().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Err(io::ErrorKind::UnexpectedEof.into())
                    }
                    other => return other,
                }
            }
        };
        // Whatever else has arrived, without waiting. An error here comes after these bytes:
        // it is the next read's answer.
        while n > 0 && n < buf.len() {
            let err = match self.conn.reader().read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(more) => {
                    n += more;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.take_in(false) {
                    Ok(true) => continue,
                    // The socket ended: rustls has noted it and the next read says how.
                    Ok(false) => break,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => e,
                },
                Err(e) => e,
            };
            self.deferred = Some(err);
            break;
        }
        Ok(n)
    }

    /// Encrypts and sends `buf` (or as much of it as rustls takes at once).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        self.send_pending()?;
        Ok(n)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.send_pending()?;
        self.sock.flush()
    }
}

#[cfg(test)]
mod tests {
    //! Against a rustls server on 127.0.0.1 that sends records in a controlled order.
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use rustls::{ClientConfig, RootCertStore, ServerConfig, ServerConnection};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    struct Pki {
        ca: CertificateDer<'static>,
        server: ServerConfig,
    }

    fn pki() -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![leaf.der().clone()], key)
                .unwrap();
        Pki {
            ca: ca.der().clone(),
            server,
        }
    }

    fn client_for(ca: &CertificateDer<'static>, port: u16) -> TlsStream {
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // No test may hang: a read that waits where it must not fails instead.
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        TlsStream::new(conn, Sock::Tcp(tcp))
    }

    /// A server that accepts one connection, completes the handshake and runs `script` on it.
    fn serve(
        server: ServerConfig,
        script: impl FnOnce(&mut rustls::StreamOwned<ServerConnection, TcpStream>) + Send + 'static,
    ) -> (u16, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Arc::new(server);
        let handle = thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_nodelay(true).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = ServerConnection::new(server).unwrap();
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            while stream.conn.is_handshaking() {
                if stream.conn.complete_io(&mut stream.sock).is_err() {
                    return;
                }
            }
            script(&mut stream);
        });
        (port, handle)
    }

    fn handshake(stream: &mut TlsStream) -> io::Result<()> {
        while stream.conn.is_handshaking() {
            stream.handshake_step()?;
        }
        Ok(())
    }

    #[test]
    fn one_read_takes_every_record_that_has_arrived() {
        let pki = pki();
        let (sent_tx, sent_rx) = mpsc::channel();
        let (port, server) = serve(pki.server, move |s| {
            // Ten records of 1,000 bytes, each sent on its own (TCP_NODELAY).
            for i in 0..10u8 {
                s.write_all(&[i; 1000]).unwrap();
                s.flush().unwrap();
            }
            sent_tx.send(()).unwrap();
            let mut rest = [0u8; 1];
            let _ = s.read(&mut rest);
        });
        let mut client = client_for(&pki.ca, port);
        handshake(&mut client).unwrap();
        sent_rx.recv().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let n = client.read(&mut buf).unwrap();
        // rustls' own stream returns one read_tls worth (4 KiB, ~3 records) per read.
        assert_eq!(n, 10_000, "one read should take all ten records");
        for (i, record) in buf[..n].chunks(1000).enumerate() {
            assert!(record.iter().all(|&b| b == i as u8), "record {i} in order");
        }
        drop(client);
        server.join().unwrap();
    }

    #[test]
    fn a_read_returns_what_came_without_waiting_for_more() {
        let pki = pki();
        let (got_tx, got_rx) = mpsc::channel::<()>();
        let (port, server) = serve(pki.server, move |s| {
            s.write_all(b"first").unwrap();
            s.flush().unwrap();
            // The rest only once the client has read the first record: a client that waits
            // to fill its buffer would stall here.
            got_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the client should read the first record alone");
            s.write_all(b"second").unwrap();
            s.conn.send_close_notify();
            s.flush().unwrap();
        });
        let mut client = client_for(&pki.ca, port);
        handshake(&mut client).unwrap();
        let mut buf = [0u8; 4096];
        let n = client.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"first");
        got_tx.send(()).unwrap();
        let n = client.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"second");
        assert_eq!(client.read(&mut buf).unwrap(), 0, "close_notify is the end");
        server.join().unwrap();
    }

    #[test]
    fn a_bad_record_met_while_gathering_fails_the_next_read_at_once() {
        let mut pki = pki();
        // No session tickets: the server's first records after the handshake are the test's.
        pki.server.send_tls13_tickets = 0;
        let (sent_tx, sent_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (port, server) = serve(pki.server, move |s| {
            // Four records whose wire bytes (16,362 + 22 each) fill the 64 KiB inbox exactly,
            // so the first recv ends where the bad record begins.
            for i in 0..4u8 {
                s.write_all(&[i; 16_362]).unwrap();
                s.flush().unwrap();
            }
            assert_eq!(4 * (16_362 + 22), INBOX);
            // An application-data record whose tag cannot verify.
            let mut bad = vec![0x17, 0x03, 0x03, 0x00, 0x20];
            bad.extend_from_slice(&[0x55; 32]);
            s.sock.write_all(&bad).unwrap();
            sent_tx.send(()).unwrap();
            // Keep the connection open: the client must not need the server to close it.
            let _ = done_rx.recv_timeout(Duration::from_secs(10));
        });
        let mut client = client_for(&pki.ca, port);
        handshake(&mut client).unwrap();
        sent_rx.recv().unwrap();
        // A read that waited on the socket would time out instead of naming the bad record.
        let Sock::Tcp(tcp) = &client.sock else {
            unreachable!()
        };
        tcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = vec![0u8; 128 * 1024];
        let n = client.read(&mut buf).unwrap();
        assert_eq!(n, 4 * 16_362, "the good records first");
        let err = client.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert!(
            matches!(inner, Some(rustls::Error::DecryptError)),
            "{inner:?}"
        );
        done_tx.send(()).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn a_socket_that_ends_without_close_notify_is_unexpected_eof() {
        let pki = pki();
        let (port, server) = serve(pki.server, |s| {
            s.write_all(b"partial").unwrap();
            s.flush().unwrap();
            s.sock.shutdown(std::net::Shutdown::Both).unwrap();
        });
        let mut client = client_for(&pki.ca, port);
        handshake(&mut client).unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        let err = loop {
            match client.read(&mut buf) {
                Ok(0) => panic!("a cut connection must not look like a clean end"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(got, b"partial");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        server.join().unwrap();
    }

    #[test]
    fn an_unknown_certificate_fails_the_handshake_and_the_server_hears_why() {
        let pki = pki();
        let other = pki_ca_only();
        let (alert_tx, alert_rx) = mpsc::channel();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server_config = Arc::new(pki.server);
        let server = thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut conn = ServerConnection::new(server_config).unwrap();
            let err = loop {
                if let Err(e) = conn.complete_io(&mut tcp) {
                    break e;
                }
            };
            alert_tx.send(err.to_string()).unwrap();
        });
        let mut client = client_for(&other, port);
        let err = handshake(&mut client).unwrap_err();
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .expect("a rustls error");
        assert!(
            matches!(inner, rustls::Error::InvalidCertificate(_)),
            "{inner:?}"
        );
        let heard = alert_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(heard.contains("UnknownCA"), "server heard: {heard}");
        server.join().unwrap();
    }

    /// A CA that signed nothing the server has (another name: a CA of the same name would be
    /// tried, and its signature refused with DecryptError instead).
    fn pki_ca_only() -> CertificateDer<'static> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "another CA");
        params
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .clone()
    }
}
