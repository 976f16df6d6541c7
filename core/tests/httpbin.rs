//! The engine against a real httpbin (Debian's python3-httpbin) on 127.0.0.1, through both drivers.

mod drive;
use mreq_test_support as support;

use drive::{both, fetch, Stream};
use mreq_core::auth::Auth;
use mreq_core::client::{Config, Request};
use mreq_core::request::Header;
use mreq_core::Error;
use std::time::Duration;

fn url(path: &str) -> String {
    support::httpbin().url(path)
}

#[test]
fn get_sends_headers_and_query() {
    let target = url("/get?a=1&b=two%20words");
    let headers = [
        Header::new("Accept", b"application/json"),
        Header::new("X-Custom", b"hello"),
    ];
    let got = fetch(&Request::get(&target).headers(&headers)).unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.reason, "OK");
    let json = got.json();
    assert_eq!(json["args"]["a"], "1");
    assert_eq!(json["args"]["b"], "two words");
    assert_eq!(json["headers"]["X-Custom"], "hello");
    assert_eq!(json["headers"]["Host"], support::httpbin().authority());
    assert_eq!(got.header("content-type"), Some("application/json"));
}

#[test]
fn post_json_body() {
    let target = url("/post");
    let body = br#"{"name":"mreq","n":3}"#;
    let got = fetch(&Request::post(&target).json_body(body)).unwrap();
    let json = got.json();
    assert_eq!(json["json"]["name"], "mreq");
    assert_eq!(json["json"]["n"], 3);
    assert_eq!(json["headers"]["Content-Type"], "application/json");
    assert_eq!(json["headers"]["Content-Length"], body.len().to_string());
}

#[test]
fn post_form_body() {
    let target = url("/post");
    let body = mreq_core::form::urlencode_string([("k", "v w"), ("x", "1&2")]);
    let req = Request::post(&target)
        .body(body.as_bytes())
        .content_type("application/x-www-form-urlencoded");
    let json = fetch(&req).unwrap().json();
    assert_eq!(json["form"]["k"], "v w");
    assert_eq!(json["form"]["x"], "1&2");
}

#[test]
fn empty_post_sends_zero_length() {
    let target = url("/post");
    let json = fetch(&Request::post(&target)).unwrap().json();
    assert_eq!(json["headers"]["Content-Length"], "0");
}

#[test]
fn streamed_bodies_known_and_chunked() {
    let target = url("/post");
    let data = support::pattern(20_000);
    let known = both(
        &Request::post(&target),
        Config::default(),
        Duration::from_secs(10),
        Some(Stream {
            data: &data,
            declared_len: Some(data.len() as u64),
        }),
    )
    .unwrap();
    assert_eq!(
        known.json()["data"].as_str().map(str::len),
        Some(data.len())
    );
    let req = Request::put(url("/put").leak());
    let chunked = both(
        &req,
        Config::default(),
        Duration::from_secs(10),
        Some(Stream {
            data: b"streamed without length",
            declared_len: None,
        }),
    )
    .unwrap();
    let json = chunked.json();
    assert_eq!(json["data"], "streamed without length");
    assert_eq!(json["headers"]["Transfer-Encoding"], "chunked");
}

#[test]
fn streamed_body_length_mismatch_is_an_error() {
    let target = url("/post");
    let short = Stream {
        data: b"abc",
        declared_len: Some(10),
    };
    assert_eq!(
        both(
            &Request::post(&target),
            Config::default(),
            Duration::from_secs(10),
            Some(short)
        ),
        Err(Error::RequestBodyLength)
    );
    let long = Stream {
        data: b"abcdef",
        declared_len: Some(2),
    };
    assert_eq!(
        both(
            &Request::post(&target),
            Config::default(),
            Duration::from_secs(10),
            Some(long)
        ),
        Err(Error::RequestBodyLength)
    );
}

#[test]
fn basic_auth_from_config_and_url() {
    let target = url("/basic-auth/user/pa55");
    let ok = fetch(&Request::get(&target).auth(Auth::Basic {
        user: "user",
        password: "pa55",
    }))
    .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["authenticated"], true);
    let wrong = fetch(&Request::get(&target).auth(Auth::Basic {
        user: "user",
        password: "nope",
    }))
    .unwrap();
    assert_eq!(wrong.status, 401);
    let in_url = format!(
        "http://user:pa55@{}/basic-auth/user/pa55",
        support::httpbin().authority()
    );
    assert_eq!(fetch(&Request::get(&in_url)).unwrap().status, 200);
}

#[test]
fn bearer_auth() {
    let target = url("/bearer");
    let got = fetch(&Request::get(&target).auth(Auth::Bearer("t0ken"))).unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["token"], "t0ken");
    assert_eq!(fetch(&Request::get(&target)).unwrap().status, 401);
}

#[test]
fn redirects_are_followed() {
    for path in [
        "/redirect/3",
        "/relative-redirect/3",
        "/absolute-redirect/3",
    ] {
        let target = url(path);
        let got = fetch(&Request::get(&target)).unwrap();
        assert_eq!(got.status, 200, "{path}");
        assert_eq!(got.url, url("/get"), "{path}");
    }
}

#[test]
fn redirect_limit_names_last_location() {
    let target = url("/redirect/5");
    let config = Config {
        max_redirects: 2,
        ..Config::default()
    };
    match both(
        &Request::get(&target),
        config,
        Duration::from_secs(10),
        None,
    ) {
        Err(Error::TooManyRedirects(last)) => assert!(
            last.as_str().contains("/relative-redirect/2") || last.as_str().contains("/redirect/2"),
            "{last}"
        ),
        other => panic!("expected TooManyRedirects, got {other:?}"),
    }
}

#[test]
fn redirects_off_returns_3xx() {
    let target = url("/redirect/1");
    let config = Config {
        max_redirects: 0,
        ..Config::default()
    };
    let got = both(
        &Request::get(&target),
        config,
        Duration::from_secs(10),
        None,
    )
    .unwrap();
    assert_eq!(got.status, 302);
    assert_eq!(got.header("location"), Some("/get"));
}

#[test]
fn redirect_to_method_rules() {
    let post = |status: u16| {
        let target = url(&format!("/redirect-to?url=/anything&status_code={status}"));
        fetch(&Request::post(&target).body(b"payload"))
            .unwrap()
            .json()
    };
    let after_302 = post(302);
    assert_eq!(after_302["method"], "GET");
    assert_eq!(after_302["data"], "");
    assert_eq!(post(303)["method"], "GET");
    let after_307 = post(307);
    assert_eq!(after_307["method"], "POST");
    assert_eq!(after_307["data"], "payload");
    let after_308 = post(308);
    assert_eq!(after_308["method"], "POST");
    let head = url("/redirect-to?url=/get&status_code=303");
    let got = fetch(&Request::head(&head)).unwrap();
    assert_eq!(got.status, 200);
    assert!(got.body.is_empty(), "HEAD stays HEAD and has no body");
}

#[test]
fn streamed_body_cannot_be_replayed_on_307() {
    let target = url("/redirect-to?url=/anything&status_code=307");
    let stream = Stream {
        data: b"once",
        declared_len: Some(4),
    };
    assert_eq!(
        both(
            &Request::post(&target),
            Config::default(),
            Duration::from_secs(10),
            Some(stream)
        ),
        Err(Error::BodyNotReplayable)
    );
    // ...but a 303 drops the body, so there is nothing to replay.
    let target = url("/redirect-to?url=/anything&status_code=303");
    let got = both(
        &Request::post(&target),
        Config::default(),
        Duration::from_secs(10),
        Some(stream),
    )
    .unwrap();
    assert_eq!(got.json()["method"], "GET");
}

/// A body source over a byte slice that can start again, counting its rewinds.
struct Replayable<'a> {
    data: &'a [u8],
    pos: usize,
    rewinds: usize,
}

impl embedded_io::ErrorType for Replayable<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Replayable<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl mreq_core::client::blocking::BodySource for Replayable<'_> {
    fn rewind(&mut self) -> bool {
        self.pos = 0;
        self.rewinds += 1;
        true
    }
}

/// Records what the engine reports per hop.
#[derive(Default)]
struct Trace {
    request_lines: Vec<String>,
    redirects: Vec<(u16, String)>,
}

impl mreq_core::client::Observer for Trace {
    fn request_head(&mut self, head: &[u8]) {
        let text = String::from_utf8_lossy(head);
        self.request_lines
            .push(text.lines().next().unwrap_or("").to_string());
    }
    fn redirect(&mut self, head: &mreq_core::response::ResponseHead<'_>, url: &str) {
        self.redirects.push((head.status(), url.to_string()));
    }
}

#[test]
fn rewindable_body_is_sent_again_on_307_and_every_hop_is_observed() {
    let target = url("/redirect-to?url=/anything/done&status_code=307");
    for len in [Some(7), None] {
        let mut client =
            mreq_core::client::blocking::Client::new(drive::connector(Duration::from_secs(10)));
        let mut source = Replayable {
            data: b"payload",
            pos: 0,
            rewinds: 0,
        };
        let mut trace = Trace::default();
        let mut buf = vec![0u8; 8192];
        let mut response = client
            .send_with(
                &Request::post(&target),
                Some((&mut source, len)),
                &mut trace,
                &mut buf,
            )
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
        drop(response);
        assert_eq!(body["method"], "POST");
        assert_eq!(body["data"], "payload", "declared length {len:?}");
        assert_eq!(source.rewinds, 1);
        assert_eq!(
            trace.request_lines,
            [
                "POST /redirect-to?url=/anything/done&status_code=307 HTTP/1.1",
                "POST /anything/done HTTP/1.1"
            ]
        );
        assert_eq!(trace.redirects, [(307, target.clone())]);
    }
}

#[test]
fn chunked_streams() {
    let target = url("/stream/5");
    let got = fetch(&Request::get(&target)).unwrap();
    assert_eq!(got.header("transfer-encoding"), Some("chunked"));
    let lines: Vec<_> = got.text().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(json["id"], i);
    }
    let target = url("/stream-bytes/50000?seed=7&chunk_size=1000");
    let got = fetch(&Request::get(&target)).unwrap();
    assert_eq!(got.body.len(), 50_000);
}

#[test]
fn fixed_bytes_match_seed() {
    let a = fetch(&Request::get(&url("/bytes/4096?seed=3"))).unwrap();
    let b = fetch(&Request::get(&url("/bytes/4096?seed=3"))).unwrap();
    assert_eq!(a.body.len(), 4096);
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("content-length"), Some("4096"));
}

#[test]
fn status_204_has_no_body_and_404_is_a_response() {
    let got = fetch(&Request::get(&url("/status/204"))).unwrap();
    assert_eq!(got.status, 204);
    assert!(got.body.is_empty());
    assert_eq!(
        fetch(&Request::get(&url("/status/404"))).unwrap().status,
        404
    );
    assert_eq!(
        fetch(&Request::new("DELETE", &url("/status/500")))
            .unwrap()
            .status,
        500
    );
}

#[test]
fn response_headers_and_duplicates() {
    let target = url("/response-headers?X-Test=one&X-Test=two&Server-Timing=a");
    let got = fetch(&Request::get(&target)).unwrap();
    let values: Vec<_> = got
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-test"))
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(values, [b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(got.header("X-TEST"), Some("one"));
}

#[test]
fn headers_endpoint_sees_what_we_send() {
    let headers = [
        Header::new("User-Agent", b"mreq-test/1"),
        Header::new("X-Empty", b""),
    ];
    let json = fetch(&Request::get(&url("/headers")).headers(&headers))
        .unwrap()
        .json();
    assert_eq!(json["headers"]["User-Agent"], "mreq-test/1");
}

#[test]
fn gzip_body_passes_through_raw() {
    let headers = [Header::new("Accept-Encoding", b"gzip")];
    let got = fetch(&Request::get(&url("/gzip")).headers(&headers)).unwrap();
    assert_eq!(got.header("content-encoding"), Some("gzip"));
    assert_eq!(
        &got.body[..2],
        &[0x1f, 0x8b],
        "gzip magic: bytes are not decoded"
    );
}

#[test]
fn delay_beyond_read_timeout_times_out() {
    let target = url("/delay/3");
    let result = both(
        &Request::get(&target),
        Config::default(),
        Duration::from_millis(500),
        None,
    );
    assert_eq!(result, Err(Error::Timeout));
}

#[test]
fn connection_is_reused_between_requests() {
    use mreq_core::client::blocking::Client;
    let mut client = Client::new(drive::connector(Duration::from_secs(10)));
    let first = url("/get");
    drive::fetch_blocking(&mut client, &Request::get(&first), None).unwrap();
    assert!(
        client.has_connection(),
        "a fully read keep-alive response leaves the connection open"
    );
    let again = drive::fetch_blocking(&mut client, &Request::get(&url("/uuid")), None).unwrap();
    assert_eq!(again.status, 200);
}

#[test]
fn text_and_json_helpers() {
    use mreq_core::client::blocking::Client;
    let mut client = Client::new(drive::connector(Duration::from_secs(10)));
    // /base64 answers with the decoded bytes: UTF-8 text.
    let target = url("/base64/Y2Fmw6kg4oiuIEXii4VkYQ==");
    let mut buf = [0u8; 4096];
    let text = client
        .send(&Request::get(&target), &mut buf)
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(text, "café ∮ E⋅da");
    let target = url("/get?x=1");
    let mut response = client.send(&Request::get(&target), &mut buf).unwrap();
    let mut out = Vec::new();
    let copied = response.copy_to(&mut out).unwrap();
    assert_eq!(copied as usize, out.len());
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["args"]["x"], "1");
}

#[test]
fn json_helpers_round_trip() {
    use mreq_core::client::blocking::Client;
    #[derive(serde::Serialize)]
    struct Point {
        x: i32,
        label: &'static str,
    }
    #[derive(serde::Deserialize)]
    struct Echo {
        json: serde_json::Value,
        headers: std::collections::HashMap<String, String>,
    }
    let body = mreq_core::json::to_body(&Point { x: 3, label: "p" }).unwrap();
    let target = url("/post");
    let mut client = Client::new(drive::connector(Duration::from_secs(10)));
    let mut buf = [0u8; 4096];
    let echo: Echo = client
        .send(&Request::post(&target).json_body(&body), &mut buf)
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(echo.json, serde_json::json!({"x": 3, "label": "p"}));
    assert_eq!(echo.headers["Content-Type"], "application/json");
}

/// A multipart form from mreq-core, parsed by httpbin (werkzeug's form parser), after a 307 that
/// makes the engine rewind it and send it again.
#[test]
fn a_multipart_form_arrives_whole_and_is_sent_again_on_307() {
    use mreq_core::multipart::{Boundary, Field, Form};
    let target = url("/redirect-to?url=/post&status_code=307");
    // Lines that look like delimiters but are not this body's.
    let data: Vec<u8> = (0..200)
        .flat_map(|i| format!("--mreq-boundary-{i}\r\nline {i}\r\n").into_bytes())
        .collect();
    let parts = [
        (Field::text("reading"), &b"21.5 \xe2\x84\x83"[..]),
        (Field::text("quote\"d"), &b"x"[..]),
        (Field::file("log", "log.txt", "text/plain"), &data[..]),
    ];
    let mut form = Form::new(Boundary::from_random([0x5a; 16]), &parts).unwrap();
    let kind = form.boundary().content_type();
    let len = form.len();
    let mut client =
        mreq_core::client::blocking::Client::new(drive::connector(Duration::from_secs(10)));
    let mut buf = vec![0u8; 8192];
    let mut response = client
        .send_with(
            &Request::post(&target).content_type(kind.as_str()),
            Some((&mut form, Some(len))),
            &mut (),
            &mut buf,
        )
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
    assert_eq!(body["form"]["reading"], "21.5 \u{2103}");
    assert_eq!(
        body["form"]["quote%22d"], "x",
        "RFC 7578's escape of a quote: {body}"
    );
    assert_eq!(body["headers"]["Content-Length"], len.to_string());
    assert_eq!(
        body["files"]["log"].as_str().map(str::as_bytes),
        Some(&data[..])
    );
}
