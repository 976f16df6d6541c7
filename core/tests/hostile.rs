//! The engine against a server that misbehaves on purpose: every case ends in its documented
//! error (never a panic, never a silently short body), through both drivers.

mod drive;
use mreq_test_support as support;

use drive::{both, fetch};
use mreq_core::auth::Auth;
use mreq_core::client::{blocking, Config, Request};
use mreq_core::request::Header;
use mreq_core::Error;
use std::time::Duration;

fn url(path: &str) -> String {
    support::hostile().url(path)
}

fn get(path: &str) -> mreq_core::Result<drive::Fetched> {
    fetch(&Request::get(&url(path)))
}

#[test]
fn truncated_body_is_an_error() {
    assert_eq!(get("/truncated"), Err(Error::BodyTruncated));
    assert_eq!(get("/truncated-chunked"), Err(Error::BodyTruncated));
}

#[test]
fn lying_length_reads_exactly_the_declared_bytes() {
    let got = get("/lying-length").unwrap();
    assert_eq!(got.body.len(), 10);
}

#[test]
fn bad_chunks_are_errors() {
    assert_eq!(get("/bad-chunk-size"), Err(Error::InvalidChunkSize));
    assert_eq!(get("/overflow-chunk-size"), Err(Error::ChunkSizeOverflow));
    assert_eq!(get("/chunk-no-crlf"), Err(Error::InvalidChunkFraming));
}

#[test]
fn chunked_trailers_are_available() {
    let got = get("/chunked-trailers").unwrap();
    assert_eq!(got.text(), "hello world");
    assert!(
        got.trailers
            .contains(&("X-Checksum".to_string(), b"abc".to_vec())),
        "{:?}",
        got.trailers
    );
}

#[test]
fn oversized_heads_are_errors() {
    assert_eq!(get("/huge-header"), Err(Error::HeadTooLarge));
    assert_eq!(get("/no-crlf"), Err(Error::HeadTooLarge));
    // The header-count limit stops 10,000 headers as soon as the 101st arrives...
    assert_eq!(get("/many-headers"), Err(Error::TooManyHeaders));
    // ...and without that limit, the buffer size does.
    let unlimited = Config {
        max_headers: usize::MAX,
        ..Config::default()
    };
    assert_eq!(
        both(
            &Request::get(&url("/many-headers")),
            unlimited,
            Duration::from_secs(10),
            None
        ),
        Err(Error::HeadTooLarge)
    );
}

#[test]
fn not_http_is_an_error() {
    assert_eq!(get("/garbage"), Err(Error::InvalidStatusLine));
    assert_eq!(get("/conflicting-length"), Err(Error::InvalidContentLength));
}

#[test]
fn redirect_loops_end() {
    for path in ["/loop", "/loop-abs"] {
        match get(path) {
            Err(Error::TooManyRedirects(last)) => assert!(last.as_str().ends_with(path), "{last}"),
            other => panic!("{path}: expected TooManyRedirects, got {other:?}"),
        }
    }
}

#[test]
fn credentials_do_not_follow_to_another_host() {
    let headers = [Header::new("Cookie", b"session=secret")];
    let target = url("/cross-host");
    let req = Request::get(&target)
        .headers(&headers)
        .auth(Auth::Bearer("secret-token"));
    let got = fetch(&req).unwrap();
    assert!(
        got.url.contains("localhost"),
        "followed to the other host: {}",
        got.url
    );
    assert_eq!(got.text(), "none", "Authorization was dropped");
    assert_eq!(
        got.header("x-got-cookie"),
        Some("none"),
        "Cookie was dropped"
    );
    let in_url = format!("http://u:p@{}/cross-host", support::hostile().authority());
    assert_eq!(
        fetch(&Request::get(&in_url)).unwrap().text(),
        "none",
        "URL credentials were dropped"
    );
}

#[test]
fn credentials_follow_on_the_same_origin() {
    let target = url("/same-host-redirect");
    let got = fetch(&Request::get(&target).auth(Auth::Bearer("tok"))).unwrap();
    assert_eq!(got.text(), "Bearer tok");
    let in_url = format!(
        "http://u:p@{}/same-host-redirect",
        support::hostile().authority()
    );
    assert_eq!(
        fetch(&Request::get(&in_url)).unwrap().text(),
        "Basic dTpw",
        "URL credentials survive a same-origin hop"
    );
}

#[test]
fn stalls_time_out() {
    let quick = Duration::from_millis(300);
    assert_eq!(
        both(
            &Request::get(&url("/stall-body")),
            Config::default(),
            quick,
            None
        ),
        Err(Error::Timeout)
    );
    assert_eq!(
        both(
            &Request::get(&url("/stall-head")),
            Config::default(),
            quick,
            None
        ),
        Err(Error::Timeout)
    );
}

#[test]
fn interim_responses_are_skipped() {
    let got = get("/interim").unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "ok");
}

#[test]
fn close_delimited_body_is_read_to_eof() {
    let got = get("/close-delimited").unwrap();
    assert_eq!(got.body, support::pattern(1000));
}

#[test]
fn keep_alive_reuses_one_connection() {
    let mut client = blocking::Client::new(drive::connector(Duration::from_secs(10)));
    let target = url("/keepalive");
    let first = drive::fetch_blocking(&mut client, &Request::get(&target), None)
        .unwrap()
        .text();
    let second = drive::fetch_blocking(&mut client, &Request::get(&target), None)
        .unwrap()
        .text();
    let conn_of = |text: &str| text.split_whitespace().next().map(str::to_owned);
    assert_eq!(conn_of(&first), conn_of(&second), "{first} / {second}");
    assert!(second.ends_with("req=2"), "{second}");
}

#[test]
fn unfinished_body_closes_the_connection() {
    let mut client = blocking::Client::new(drive::connector(Duration::from_secs(10)));
    let target = url("/keepalive");
    let mut buf = [0u8; 4096];
    let mut response = client.send(&Request::get(&target), &mut buf).unwrap();
    let mut one = [0u8; 1];
    assert_eq!(response.read(&mut one).unwrap(), 1);
    drop(response);
    assert!(
        !client.has_connection(),
        "a half-read body must not be reused"
    );
}

#[test]
fn unreachable_port_is_a_connect_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let target = format!("http://127.0.0.1:{port}/");
    assert!(matches!(
        fetch(&Request::get(&target)),
        Err(Error::Connect(_))
    ));
    match fetch(&Request::get("http://no-such-host.invalid/")) {
        Err(err @ Error::Dns { .. }) => {
            assert_eq!(err.kind(), "dns");
            assert!(
                err.to_string().starts_with("could not resolve host name: "),
                "{err}"
            );
        }
        other => panic!("expected a DNS error, got {other:?}"),
    }
}

#[test]
fn https_is_refused_by_the_plain_tcp_connector() {
    match fetch(&Request::get("https://127.0.0.1:1/")) {
        Err(Error::Tls {
            certificate: false,
            reason,
        }) => assert!(reason.as_str().contains("TLS connector"), "{reason}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

/// Opens plain TCP even for `https`, so the redirect rules for https can run against the plain
/// hostile server (TLS itself is the CLI's transport and tested there).
struct PlainForHttps;

impl blocking::Connect for PlainForHttps {
    type Conn = mreq_core::client::tcp::TcpConn;
    fn connect(
        &mut self,
        _: mreq_core::url::Scheme,
        host: &str,
        port: u16,
    ) -> mreq_core::Result<Self::Conn> {
        drive::connector(Duration::from_secs(5))
            .connect_tcp(host, port)
            .map(mreq_core::client::tcp::TcpConn)
    }
}

#[test]
fn https_never_redirects_to_http() {
    let mut client = blocking::Client::new(PlainForHttps);
    let target = format!("https://{}/https-downgrade", support::hostile().authority());
    let mut buf = [0u8; 4096];
    match client.send(&Request::get(&target), &mut buf).err() {
        Some(Error::InsecureRedirect(to)) => assert!(to.as_str().starts_with("http://"), "{to}"),
        other => panic!("expected InsecureRedirect, got {other:?}"),
    }
}

/// Reads a body the zero-copy way (as `mreq` splices it): buffered bytes through `read`, the rest
/// straight from the socket through `read_direct`.
fn read_direct(target: &str) -> mreq_core::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut client = blocking::Client::new(drive::connector(Duration::from_secs(5)));
    let mut buf = [0u8; 4096];
    let mut response = client.send(&Request::get(target), &mut buf)?;
    let mut body = Vec::new();
    let mut chunk = [0u8; 1000];
    loop {
        let direct = response.read_direct(|conn, max| {
            let want = chunk.len().min(max);
            let n = conn
                .0
                .read(&mut chunk[..want])
                .map_err(|e| mreq_core::client::tcp::map_io(&e))?;
            body.extend_from_slice(&chunk[..n]);
            Ok::<_, Error>(n)
        })?;
        match direct {
            Some(0) => return Ok(body),
            Some(_) if response.is_complete() => return Ok(body),
            Some(_) => {}
            None => match response.read(&mut chunk)? {
                0 => return Ok(body),
                n => body.extend_from_slice(&chunk[..n]),
            },
        }
    }
}

#[test]
fn direct_body_reads_are_checked_like_reads() {
    assert_eq!(
        read_direct(&url("/close-delimited")).unwrap(),
        support::pattern(1000)
    );
    assert_eq!(read_direct(&url("/truncated")), Err(Error::BodyTruncated));
    assert_eq!(
        read_direct(&url("/chunked-trailers")).unwrap(),
        b"hello world"
    );
    assert_eq!(
        read_direct(&url("/truncated-chunked")),
        Err(Error::BodyTruncated)
    );
    assert_eq!(read_direct(&url("/lying-length")).unwrap().len(), 10);
}
