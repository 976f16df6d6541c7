//! A stand-in for a board on 127.0.0.1, for `mreq --device` tests that need every flag against
//! real servers without booting QEMU: it speaks the device link (`mreq-link`) as the firmware
//! does (handshake, ids, `more` credit for bodies, head/data/done, errors by kind) and makes
//! each request with `mreq-core`'s blocking engine (plain http). The real firmware is tested in
//! QEMU (scripts/qemu_smoke.py); this one sends `User-Agent: mreq-fake-board` unless given.

use mreq_core::client::blocking::Client;
use mreq_core::client::tcp::TcpConnector;
use mreq_core::client::{Config, Request};
use mreq_core::request::Header as HttpHeader;
use mreq_link::{encode_header, BodyLen, Frames, Header, Hello, Kind, RequestFrame, HEADER_MAX};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

/// The agent the stand-in sends when the request names none.
pub const USER_AGENT: &str = "mreq-fake-board";

/// The port of the shared stand-in board (`tcp:127.0.0.1:PORT`).
pub fn fake_board() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake board");
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = serve(stream);
                });
            }
        });
        port
    })
}

/// One host's line: frames in, frames out, until it hangs up.
struct Wire {
    stream: TcpStream,
    frames: Frames,
}

impl Wire {
    /// The next whole frame from the host; `None` when it hung up.
    fn frame(&mut self) -> Option<(Header, Vec<u8>)> {
        loop {
            if let Some(frame) = self.frames.next_frame() {
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.frames.push(&chunk[..n]),
            }
        }
    }

    fn send(&mut self, kind: Kind, id: u32, payload: &[u8]) -> std::io::Result<()> {
        let mut head = [0u8; HEADER_MAX];
        let header = encode_header(Header::new(kind, id, payload.len() as u32), &mut head);
        self.stream.write_all(&[header, payload].concat())
    }

    fn fail(&mut self, id: u32, kind: &str, message: &str) -> std::io::Result<()> {
        self.send(Kind::Error, id, format!("{kind} {message}").as_bytes())
    }
}

fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut wire = Wire {
        stream,
        frames: Frames::new(),
    };
    while let Some((header, payload)) = wire.frame() {
        match header.kind {
            Kind::Hello => {
                let hello = Hello {
                    protocol: mreq_link::VERSION,
                    firmware: "0.0.0-fake",
                    board: "fake",
                    agent: USER_AGENT,
                    max_request: 2048,
                    max_headers: 24,
                    tls: false,
                };
                let mut text = String::new();
                let _ = hello.write(&mut text);
                wire.send(Kind::Hello, header.id, text.as_bytes())?;
            }
            Kind::Request => request(&mut wire, header.id, &payload)?,
            _ => {}
        }
    }
    Ok(())
}

fn request(wire: &mut Wire, id: u32, payload: &[u8]) -> std::io::Result<()> {
    let frame = match RequestFrame::parse(payload) {
        Ok(frame) => frame,
        Err(err) => return wire.fail(id, mreq_link::kinds::BAD_REQUEST, &err.to_string()),
    };
    let mut body = Vec::new();
    if !matches!(frame.options.body, BodyLen::None | BodyLen::Known(0)) {
        wire.send(Kind::More, id, b"1024")?;
        loop {
            let Some((header, data)) = wire.frame() else {
                return Ok(());
            };
            match header.kind {
                Kind::Data if header.id == id => {
                    body.extend_from_slice(&data);
                    wire.send(Kind::More, id, data.len().to_string().as_bytes())?;
                }
                Kind::End if header.id == id => break,
                Kind::Cancel if header.id == id => return Ok(()),
                _ => {}
            }
        }
    }
    let mut headers: Vec<HttpHeader<'_>> = frame
        .headers()
        .map(|(n, v)| HttpHeader::new(n, v))
        .collect();
    if !headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("user-agent"))
    {
        headers.push(HttpHeader::new("User-Agent", USER_AGENT.as_bytes()));
    }
    // The whole-request limit (max-ms; the firmware keeps a deadline) is approximated here by
    // capping every wait at it.
    let max = frame.options.max_ms;
    let limit = |ms: u32| {
        let ms = match (ms, max) {
            (0, max) => max,
            (ms, 0) => ms,
            (ms, max) => ms.min(max),
        };
        (ms > 0).then(|| Duration::from_millis(ms.into()))
    };
    let connector = TcpConnector {
        connect_timeout: limit(frame.options.connect_ms),
        read_timeout: limit(frame.options.read_ms),
        write_timeout: limit(frame.options.read_ms),
    };
    let config = Config {
        max_redirects: frame.options.redirects,
        ..Config::default()
    };
    let mut client = Client::with_config(connector, config);
    let request = Request::new(frame.method, frame.url)
        .headers(&headers)
        .body(&body);
    let mut buf = vec![0u8; 16 * 1024];
    let mut response = match client.send(&request, &mut buf) {
        Ok(response) => response,
        Err(err) => return wire.fail(id, err.kind(), &err.to_string()),
    };
    let head = [response.url().as_bytes(), b"\n", response.head().as_bytes()].concat();
    wire.send(Kind::Head, id, &head)?;
    let (mut total, mut crc) = (0u64, !0u32);
    let mut chunk = [0u8; 1024];
    loop {
        match response.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                total += n as u64;
                crc = mreq_fwconfig::crc32_update(crc, &chunk[..n]);
                match wire.send(Kind::Data, id, &chunk[..n]) {
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
                    other => other?,
                }
            }
            Err(err) => return wire.fail(id, err.kind(), &err.to_string()),
        }
    }
    wire.send(Kind::Done, id, format!("{total} {:08x}", !crc).as_bytes())
}
