//! The host's side of the link against scripted board output: handshake, ids, bodies in both
//! directions, errors by kind, damage on the line.

use super::*;
use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

/// A board that says `script` and records what the host wrote.
struct Scripted {
    script: std::io::Cursor<Vec<u8>>,
    written: Rc<RefCell<Vec<u8>>>,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Three bytes at a time: frames arrive split at arbitrary points.
        let n = buf.len().min(3);
        match self.script.read(&mut buf[..n])? {
            0 => Err(std::io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn frame(kind: &str, id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("@{kind} {id} {}\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

fn hello_answer(id: u32) -> Vec<u8> {
    let hello = Hello {
        protocol: mreq_link::VERSION,
        firmware: "0.1.0",
        board: "test",
        agent: "test-agent/1",
        max_request: 2048,
        max_headers: 4,
        tls: false,
    };
    let mut text = String::new();
    hello.write(&mut text).unwrap();
    frame("hello", id, text.as_bytes())
}

fn link(script: Vec<u8>, id: u32) -> (DeviceLink, Rc<RefCell<Vec<u8>>>) {
    let written = Rc::new(RefCell::new(Vec::new()));
    let stream = Scripted {
        script: std::io::Cursor::new(script),
        written: written.clone(),
    };
    let mut line = Line::over(Box::new(stream));
    let board = handshake(&mut line, id).expect("handshake");
    let link = DeviceLink {
        line,
        board,
        next_id: id + 1,
        options: Options::default(),
    };
    (link, written)
}

fn plan(method: &str, body: Body) -> Plan {
    Plan {
        method: method.into(),
        url: "http://10.0.2.2/x".into(),
        headers: vec![
            ("User-Agent".into(), crate::plan::USER_AGENT.into()),
            ("Accept".into(), "*/*".into()),
        ],
        auth: None,
        body,
        decode: false,
    }
}

fn read_all(response: &mut DeviceResponse<'_>) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        match response.read_body(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Failed::Device(f)) => return Err(f),
            Err(other) => panic!("{other:?}"),
        }
    }
}

fn done(body: &[u8]) -> Vec<u8> {
    format!("{} {:08x}", body.len(), mreq_fwconfig::crc32(body)).into_bytes()
}

#[test]
fn noise_and_other_ids_are_skipped_and_the_body_arrives_whole() {
    let body = b"{\"ok\": true}";
    let mut script = b"mreq-fw 0.1.0 on test\r\nmreq> \n".to_vec();
    script.extend(frame("hello", 6, b"mreq-link 1\n")); // a greeting of another run
    script.extend(frame("hello", 7, b"unknown com")); // our greeting echoed as typing
    script.extend(hello_answer(7));
    script.extend(b"mem: heap 1 B used\r\nmreq> \n");
    // A late answer to an earlier request, then this one's.
    script.extend(frame("head", 3, b"http://old/\nHTTP/1.1 500 Old\r\n\r\n"));
    script.extend(frame("data", 3, b"old body"));
    script.extend(frame("alive", 8, b""));
    script.extend(frame(
        "head",
        8,
        b"http://10.0.2.2/x\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
    ));
    script.extend(frame("data", 8, &body[..5]));
    script.extend(frame("data", 3, b"more old"));
    script.extend(frame("data", 8, &body[5..]));
    script.extend(frame("done", 8, &done(body)));
    let (mut link, written) = link(script, 7);
    let mut response = link
        .send(
            &plan("GET", Body::None),
            &plan("GET", Body::None).headers,
            "10.0.2.2:80",
        )
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header_str("content-type"),
        Some("application/json")
    );
    assert_eq!(read_all(&mut response).unwrap(), body);
    assert!(response.is_complete());
    drop(response);
    let sent = String::from_utf8(written.borrow().clone()).unwrap();
    assert!(sent.starts_with("\n@hello 7 11\nmreq-link 1"), "{sent}");
    assert!(
        sent.contains("@req 8 ")
            && sent.contains("GET http://10.0.2.2/x\nbody=none replay=1 redirects=0")
            && sent.contains("Accept: */*\n"),
        "{sent}"
    );
    assert!(
        !sent.contains("User-Agent"),
        "mreq's own agent stays home: {sent}"
    );
    assert!(
        !sent.contains("@cancel"),
        "a complete response is not cancelled: {sent}"
    );
}

#[test]
fn damage_errors_and_lost_lines_have_their_exit_codes() {
    let head = b"http://h/\nHTTP/1.1 200 OK\r\n\r\n";
    let cases: [(Vec<u8>, u8); 4] = [
        // The CRC says otherwise: damaged on the line.
        (
            [
                frame("head", 2, head),
                frame("data", 2, b"abc"),
                frame("done", 2, b"3 00000000"),
            ]
            .concat(),
            56,
        ),
        // The board's engine refused the body: the code curl gives broken chunk framing.
        (
            [
                frame("head", 2, head),
                frame("error", 2, b"invalid_chunk_size invalid chunk size"),
            ]
            .concat(),
            56,
        ),
        (
            [
                frame("head", 2, head),
                frame("error", 2, b"timeout timed out"),
            ]
            .concat(),
            28,
        ),
        // Silence: the script ends, the link times out (after LINK_TIMEOUT).
        (
            [frame("head", 2, head), frame("data", 2, b"ab")].concat(),
            56,
        ),
    ];
    for (body, code) in cases {
        let (mut link, written) = link([hello_answer(1), body].concat(), 1);
        let p = plan("GET", Body::None);
        let mut response = link.send(&p, &p.headers, "h:80").unwrap();
        let failure = read_all(&mut response).unwrap_err();
        assert_eq!(failure.code, code, "{}", failure.message);
        drop(response);
        assert!(String::from_utf8_lossy(&written.borrow()).contains("@cancel 2 0\n"));
    }
    let refused = [
        hello_answer(1),
        frame("error", 2, b"certificate TLS certificate error: expired"),
    ]
    .concat();
    let (mut link, _) = link(refused, 1);
    let p = plan("GET", Body::None);
    let failure = link.send(&p, &p.headers, "h:443").err().unwrap();
    assert_eq!(failure.code, 60);
    assert!(
        failure
            .message
            .contains("on the device test, requesting h:443"),
        "{}",
        failure.message
    );
}

#[test]
fn bodies_go_up_as_the_board_grants_room() {
    let body: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    let mut script = hello_answer(1);
    for _ in 0..3 {
        script.extend(frame("more", 2, b"1000"));
    }
    script.extend(frame(
        "head",
        2,
        b"http://h/\nHTTP/1.1 204 No Content\r\n\r\n",
    ));
    script.extend(frame("done", 2, b"0 00000000"));
    let (mut link, written) = link(script, 1);
    let p = plan("POST", Body::Bytes(body.clone()));
    let mut response = link.send(&p, &p.headers, "h:80").unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(read_all(&mut response).unwrap(), b"");
    drop(response);
    let sent = written.borrow().clone();
    let mut reader = mreq_link::FrameReader::new();
    let (mut uploaded, mut frames) = (Vec::new(), Vec::new());
    let mut input = &sent[..];
    loop {
        let (used, event) = reader.feed(input);
        input = &input[used..];
        match event {
            None => break,
            Some(mreq_link::Event::Frame(h)) => frames.push((h.kind, h.len)),
            Some(mreq_link::Event::Payload(p))
                if frames.last().map(|f| f.0) == Some(Kind::Data) =>
            {
                uploaded.extend_from_slice(p)
            }
            Some(_) => {}
        }
    }
    assert_eq!(uploaded, body);
    assert!(
        frames
            .iter()
            .all(|(k, len)| *k != Kind::Data || *len <= 1000),
        "{frames:?}"
    );
    assert_eq!(frames.last(), Some(&(Kind::End, 0)));
    assert!(String::from_utf8_lossy(&sent).contains("body=2500 "));
}

#[test]
fn what_the_board_cannot_take_is_refused_before_sending() {
    let (mut link, written) = link(hello_answer(1), 1);
    let mut p = plan("GET", Body::None);
    for i in 0..5 {
        p.headers.push((format!("X-{i}"), "v".into()));
    }
    let failure = link.send(&p, &p.headers, "h:80").err().unwrap();
    assert_eq!(failure.code, 2);
    assert!(failure.message.contains("at most 4"), "{}", failure.message);
    let mut p = plan("GET", Body::None);
    p.url = format!("http://h/{}", "a".repeat(3000));
    let failure = link.send(&p, &p.headers, "h:80").err().unwrap();
    assert_eq!(failure.code, 2);
    assert!(!String::from_utf8_lossy(&written.borrow()).contains("@req"));
}

#[test]
fn credentials_travel_as_the_engine_writes_them() {
    let mut p = plan("GET", Body::None);
    p.auth = Some(AuthSpec::Basic("joe".into(), "pw".into()));
    assert_eq!(
        authorization(&p).unwrap().as_deref(),
        Some("Basic am9lOnB3")
    );
    p.auth = Some(AuthSpec::Bearer("tkn".into()));
    assert_eq!(authorization(&p).unwrap().as_deref(), Some("Bearer tkn"));
}

#[test]
fn a_board_of_another_protocol_is_refused_clearly() {
    let failure = board_of(b"mreq-link 2\nboard x\n", "p").err().unwrap();
    assert!(
        failure.message.contains("speaks mreq-link 2"),
        "{}",
        failure.message
    );
    assert!(board_of(b"hello there", "p").is_err());
}

/// A board whose answer arrives in pieces, each a little late.
struct Slow(Vec<Vec<u8>>);

impl Read for Slow {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(5));
        if self.0.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let piece = self.0.remove(0);
        buf[..piece.len()].copy_from_slice(&piece);
        Ok(piece.len())
    }
}

impl Write for Slow {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_frame_cut_by_a_wait_that_ends_is_kept_for_the_next() {
    let answer = hello_answer(1);
    let (first, rest) = answer.split_at(20);
    let mut line = Line::over(Box::new(Slow(vec![first.to_vec(), rest.to_vec()])));
    let wait = Some(Duration::from_millis(1));
    assert!(
        line.next_frame(1, wait).unwrap().is_none(),
        "half a frame is not a frame"
    );
    let frame = line
        .next_frame(1, wait)
        .unwrap()
        .expect("the rest completes it");
    assert_eq!(frame.kind, Kind::Hello);
    assert!(Hello::parse(&frame.payload).is_some());
}
