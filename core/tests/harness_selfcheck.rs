//! Checks the integration-test servers themselves with raw `TcpStream`s (not the mreq client), so
//! a broken harness shows up as a harness failure rather than as a client bug.

use mreq_test_support as support;

use support::{hostile, httpbin, raw_exchange, split_head};

#[test]
fn httpbin_get_answers_200() {
    let server = httpbin();
    let req = format!(
        "GET /get HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.authority()
    );
    let resp = raw_exchange(server.port, req.as_bytes());
    assert!(
        resp.starts_with(b"HTTP/1.1 200"),
        "unexpected httpbin answer: {}",
        String::from_utf8_lossy(&resp)
    );
}

#[test]
fn hostile_echo_auth_without_auth_is_none() {
    let server = hostile();
    let req = format!(
        "GET /echo-auth HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.authority()
    );
    let resp = raw_exchange(server.port, req.as_bytes());
    let (head, body) = split_head(&resp);
    let head = String::from_utf8_lossy(head);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "head: {head}");
    assert!(head.contains("\r\nX-Got-Cookie: none"), "head: {head}");
    assert_eq!(body, b"none");
}

#[test]
fn hostile_keepalive_serves_two_requests_on_one_connection() {
    let server = hostile();
    let req = format!(
        "GET /keepalive HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /keepalive HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        host = server.authority()
    );
    let resp = String::from_utf8(raw_exchange(server.port, req.as_bytes()))
        .expect("keepalive answers are ASCII");
    let bodies: Vec<&str> = resp
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|r| {
            r.split("\r\n\r\n")
                .nth(1)
                .expect("a head ends in a blank line")
        })
        .collect();
    assert_eq!(bodies.len(), 2, "two answers expected: {resp:?}");
    let conn = bodies[0]
        .strip_suffix(" req=1")
        .expect("first answer is req=1");
    assert_eq!(bodies[1], format!("{conn} req=2"));
}
