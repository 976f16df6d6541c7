//! The built `mreq` binary against real servers: httpbin, the hostile server and nginx (TLS).

use mreq_test_support as support;
use support::{nginx, temp_dir};

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn mreq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mreq"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mreq")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} / {}", stdout(out), stderr(out)))
}

fn bin(path: &str) -> String {
    support::httpbin().url(path)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

#[test]
fn get_with_curl_header_flag() {
    let out = mreq(&["get", &bin("/get"), "-H", "Accept: application/json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = json(&out);
    assert_eq!(body["headers"]["Accept"], "application/json");
    assert!(body["headers"]["User-Agent"]
        .as_str()
        .unwrap()
        .starts_with("mreq/"));
}

#[test]
fn piped_output_is_the_raw_body() {
    let out = mreq(&[&bin("/bytes/3000?seed=5")]);
    assert!(out.status.success());
    assert_eq!(
        out.stdout.len(),
        3000,
        "binary body passes through a pipe untouched"
    );
}

#[test]
fn items_become_json() {
    let out = mreq(&[
        "post",
        &bin("/post"),
        "name=mreq",
        "n:=3",
        "tags:=[\"a\",\"b\"]",
        "X-Test:yes",
        "q==a b",
    ]);
    let body = json(&out);
    assert_eq!(
        body["json"],
        serde_json::json!({"name": "mreq", "n": 3, "tags": ["a", "b"]})
    );
    assert_eq!(body["headers"]["X-Test"], "yes");
    assert_eq!(body["headers"]["Content-Type"], "application/json");
    assert_eq!(body["args"]["q"], "a b");
    // Fields without a method mean POST.
    assert_eq!(json(&mreq(&[&bin("/anything"), "a=1"]))["method"], "POST");
}

#[test]
fn form_and_multipart() {
    let body = json(&mreq(&["--form", "post", &bin("/post"), "a=1 2", "b=x&y"]));
    assert_eq!(body["form"], serde_json::json!({"a": "1 2", "b": "x&y"}));
    let dir = temp_dir("multipart");
    let file = dir.join("note.txt");
    std::fs::write(&file, "file contents\n").unwrap();
    let field = format!("doc@{}", file.display());
    let body = json(&mreq(&["--form", "post", &bin("/post"), "a=1", &field]));
    assert_eq!(body["files"]["doc"], "file contents\n");
    assert_eq!(body["form"]["a"], "1");
    assert!(body["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
}

#[test]
fn data_from_flag_file_and_stdin() {
    let body = json(&mreq(&[&bin("/post"), "-d", "a=1", "-d", "b=2"]));
    assert_eq!(body["form"], serde_json::json!({"a": "1", "b": "2"}));
    let dir = temp_dir("data");
    let file = dir.join("body.json");
    std::fs::write(&file, r#"{"from":"file"}"#).unwrap();
    let at = format!("@{}", file.display());
    let body = json(&mreq(&[
        "put",
        &bin("/put"),
        &at,
        "Content-Type:application/json",
    ]));
    assert_eq!(body["json"]["from"], "file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mreq"))
        .args([&bin("/post"), "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), br#"{"from":"stdin"}"#).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(json(&out)["json"]["from"], "stdin");
}

#[test]
fn auth_flags() {
    assert_eq!(
        json(&mreq(&["-u", "user:pw", &bin("/basic-auth/user/pw")]))["authenticated"],
        true
    );
    assert_eq!(
        json(&mreq(&["--bearer", "tkn", &bin("/bearer")]))["token"],
        "tkn"
    );
    let denied = mreq(&[
        "--check-status",
        "-u",
        "user:bad",
        &bin("/basic-auth/user/pw"),
    ]);
    assert_eq!(denied.status.code(), Some(4));
}

#[test]
fn redirects_with_and_without_follow() {
    let out = mreq(&["--print=h", &bin("/redirect/2")]);
    assert!(stdout(&out).starts_with("HTTP/1.1 302"), "{}", stdout(&out));
    let out = mreq(&["-L", &bin("/redirect/2")]);
    assert_eq!(json(&out)["url"], bin("/get"));
    let out = mreq(&["-L", "--max-redirects", "1", &bin("/redirect/3")]);
    assert_eq!(out.status.code(), Some(47), "{}", stderr(&out));
    assert!(stderr(&out).contains("too many redirects"));
}

#[test]
fn offline_prints_the_request_and_sends_nothing() {
    let out = mreq(&[
        "--offline",
        "post",
        "http://127.0.0.1:1/x",
        "a=b",
        "Cookie:c=1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // Piped, heads are the bytes as they would be sent.
    assert!(text.starts_with("POST /x HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("Host: 127.0.0.1:1\r\n") && text.contains("Cookie: c=1\r\n"));
    assert!(text.contains(r#"{"a":"b"}"#), "{text}");
}

#[test]
fn print_selects_parts() {
    let text = stdout(&mreq(&["--print=Hh", &bin("/get")]));
    assert!(text.starts_with("GET /get HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("\r\n\r\nHTTP/1.1 200 OK\r\n"), "{text}");
    assert!(!text.contains("\"url\""), "no body was asked for");
    let verbose = stdout(&mreq(&["-v", &bin("/get")]));
    assert!(
        verbose.contains("GET /get") && verbose.contains("200 OK") && verbose.contains("\"url\"")
    );
    let head = stdout(&mreq(&["-I", &bin("/get")]));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && !head.contains('{'));
}

#[test]
fn pretty_formats_json() {
    let text = stdout(&mreq(&["--pretty=format", &bin("/get")]));
    assert!(text.contains("\n    \"url\": "), "{text}");
    let coloured = stdout(&mreq(&["--pretty=all", &bin("/get")]));
    assert!(coloured.contains("\x1b["));
}

#[test]
fn check_status_exit_codes() {
    for (status, code) in [("200", 0), ("302", 3), ("404", 4), ("503", 5)] {
        let out = mreq(&["--check-status", &bin(&format!("/status/{status}"))]);
        assert_eq!(out.status.code(), Some(code), "status {status}");
    }
    assert_eq!(
        mreq(&[&bin("/status/500")]).status.code(),
        Some(0),
        "without --check-status"
    );
}

#[test]
fn error_exit_codes_and_messages() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = mreq(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(refused.status.code(), Some(7));
    assert!(
        stderr(&refused).contains("connection refused"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        mreq(&["http://no-such-host.invalid/"]).status.code(),
        Some(6)
    );
    let slow = mreq(&["--timeout", "0.5", &bin("/delay/3")]);
    assert_eq!(slow.status.code(), Some(28));
    let garbage = mreq(&[&support::hostile().url("/garbage")]);
    assert_eq!(garbage.status.code(), Some(8));
    assert!(stderr(&garbage).contains("malformed response"));
    assert_eq!(mreq(&["ftp://x/"]).status.code(), Some(2));
    assert_eq!(mreq(&[&bin("/get"), "n:={bad"]).status.code(), Some(2));
    assert_eq!(mreq(&["--no-such-flag"]).status.code(), Some(2));
    let injected = mreq(&[&bin("/get"), "-H", "X-A: b\r\nX-Evil: 1"]);
    assert_eq!(injected.status.code(), Some(2));
    for out in [&refused, &slow, &garbage] {
        assert_eq!(
            stderr(out).lines().count(),
            1,
            "one clear line: {}",
            stderr(out)
        );
    }
}

#[test]
fn output_file_matches_the_source() {
    let dir = temp_dir("output");
    let path = dir.join("bytes.bin");
    // Not httpbin's /bytes?seed=: its seeded generator is shared by concurrent requests, so
    // the same URL gave other bytes while other tests ran. nginx serves a fixed file (gzip
    // to stdout, which mreq asks for and decodes; as it is to -o).
    let url = nginx::nginx().http(&format!("/gz/{}", nginx::GZ_FILE));
    let out = mreq(&["-o", path.to_str().unwrap(), &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let piped = mreq(&[&url]);
    let saved = std::fs::read(&path).unwrap();
    assert!(saved == support::noise(nginx::GZ_LEN), "the file as served");
    assert!(saved == piped.stdout, "the same bytes through a pipe");
}

#[test]
fn truncated_download_never_looks_complete() {
    let dir = temp_dir("truncated");
    let path = dir.join("t.bin");
    let out = mreq(&[
        "-o",
        path.to_str().unwrap(),
        &support::hostile().url("/truncated"),
    ]);
    assert_eq!(out.status.code(), Some(18), "{}", stderr(&out));
    assert!(!path.exists(), "no file under the final name");
    assert!(stderr(&out).contains("--continue"));
    let missing = mreq(&["-o", path.to_str().unwrap(), &bin("/status/404")]);
    assert_eq!(missing.status.code(), Some(4));
    assert!(!path.exists(), "an error page is not saved");
}

#[test]
fn big_download_matches_sha256() {
    let server = nginx::nginx();
    let dir = temp_dir("big");
    let path = dir.join("big.bin");
    let out = mreq(&[
        "-o",
        path.to_str().unwrap(),
        &server.http(&format!("/{}", nginx::BIG_FILE)),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = std::fs::read(&path).unwrap();
    assert_eq!(got.len(), nginx::BIG_LEN);
    assert_eq!(
        sha256(&got),
        sha256(&std::fs::read(server.www(nginx::BIG_FILE)).unwrap())
    );
    assert!(!Path::new(&format!("{}.mreq-part", path.display())).exists());
}

#[test]
fn continue_resumes_a_partial_download() {
    let server = nginx::nginx();
    let dir = temp_dir("resume");
    let path = dir.join("hello.txt");
    let partial = dir.join("hello.txt.mreq-part");
    std::fs::write(&partial, "hello ").unwrap();
    let out = mreq(&[
        "-C",
        "-",
        "-o",
        path.to_str().unwrap(),
        &server.http("/hello.txt"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello over tls\n");
    assert!(!partial.exists());
}

#[test]
fn tls_verification() {
    let server = nginx::nginx();
    let ca = server.ca_file();
    let ca = ca.to_str().unwrap();
    let good = server.https("localhost", "/hello.txt");
    let untrusted = mreq(&[&good]);
    assert_eq!(untrusted.status.code(), Some(60), "{}", stderr(&untrusted));
    assert!(
        stderr(&untrusted).contains("not trusted"),
        "{}",
        stderr(&untrusted)
    );
    let trusted = mreq(&["--cacert", ca, &good]);
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    assert_eq!(stdout(&trusted), "hello over tls\n");
    let insecure = mreq(&["-k", &good]);
    assert!(insecure.status.success());
    assert_eq!(stdout(&insecure), "hello over tls\n");
    assert!(stderr(&insecure).contains("verification is off"));
    let wrong_name = mreq(&["--cacert", ca, &server.https("127.0.0.1", "/hello.txt")]);
    assert_eq!(
        wrong_name.status.code(),
        Some(60),
        "{}",
        stderr(&wrong_name)
    );
}

#[test]
fn tls_download_matches_sha256() {
    let server = nginx::nginx();
    let ca = server.ca_file();
    let out = mreq(&[
        "--cacert",
        ca.to_str().unwrap(),
        &server.https("localhost", &format!("/{}", nginx::BIG_FILE)),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), nginx::BIG_LEN);
    assert_eq!(
        sha256(&out.stdout),
        sha256(&nginx::big_pattern(nginx::BIG_LEN))
    );
}

#[test]
fn device_that_cannot_be_opened_is_a_clear_error() {
    let out = mreq(&["--device", "/dev/no-such-serial-port", "get", "http://x/"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(
        stderr(&out).contains("could not open /dev/no-such-serial-port"),
        "{}",
        stderr(&out)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = mreq(&[
        "--device",
        &format!("tcp:127.0.0.1:{port}"),
        "get",
        "http://x/",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
}

#[test]
fn completions_and_man_page() {
    let bash = mreq(&["--completions", "bash"]);
    assert!(bash.status.success() && stdout(&bash).contains("mreq"));
    let man = mreq(&["--man"]);
    assert!(stdout(&man).contains(".TH mreq"));
}

/// Runs mreq with `input` piped to its stdin.
fn mreq_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mreq"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mreq");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let out = child.wait_with_output().expect("wait for mreq");
    let _ = writer.join();
    out
}

#[test]
fn bodies_from_pipes_are_streamed_chunked() {
    let data: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    // `cat f | mreq put URL @/dev/stdin`: length unknown, so chunked.
    let out = mreq_with_stdin(&["put", &bin("/put"), "@/dev/stdin"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = json(&out);
    assert_eq!(body["data"].as_str().map(str::len), Some(data.len()));
    assert_eq!(body["headers"]["Transfer-Encoding"], "chunked");
    // HTTPie's habit: a piped stdin is the body when none is given (POST).
    let out = mreq_with_stdin(&[&bin("/anything")], br#"{"a":1}"#);
    let body = json(&out);
    assert_eq!(body["method"], "POST");
    assert_eq!(body["data"], r#"{"a":1}"#);
    // ... unless told not to.
    let out = mreq_with_stdin(&["--ignore-stdin", &bin("/anything")], b"ignored");
    assert_eq!(json(&out)["method"], "GET");
    // -d @- streams stdin too, after the other -d parts.
    let out = mreq_with_stdin(&[&bin("/post"), "-d", "a=1", "-d", "@-"], b"b=2");
    assert_eq!(json(&out)["form"], serde_json::json!({"a": "1", "b": "2"}));
}

#[test]
fn file_bodies_have_a_length_and_survive_a_307() {
    let dir = temp_dir("replay");
    let file = dir.join("body.txt");
    std::fs::write(&file, "replayed body").unwrap();
    let at = format!("@{}", file.display());
    let target = bin("/redirect-to?url=/anything&status_code=307");
    let out = mreq(&["-L", "post", &target, &at]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = json(&out);
    assert_eq!(body["method"], "POST");
    assert_eq!(body["data"], "replayed body");
    assert_eq!(body["headers"]["Content-Length"], "13");
    // -d @file is a file too: streamed, with its length.
    let form = dir.join("form.txt");
    std::fs::write(&form, "k=replayed").unwrap();
    let data_at = format!("@{}", form.display());
    let out = mreq(&["-L", &target, "-d", &data_at]);
    assert_eq!(json(&out)["form"], serde_json::json!({"k": "replayed"}));
    // A pipe cannot be read twice: say so.
    let out = mreq_with_stdin(&["-L", "post", &target, "@/dev/stdin"], b"once");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot be read twice"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn timeouts_of_zero_mean_no_limit() {
    let out = mreq(&["--timeout", "0", "--connect-timeout", "0", &bin("/delay/1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["url"], bin("/delay/1"));
}

#[test]
fn several_urls_in_order_on_one_connection() {
    let hostile = support::hostile();
    let out = mreq(&[
        &hostile.url("/keepalive"),
        &hostile.url("/keepalive"),
        "get",
        &bin("/get"),
        "X-Only-Here:1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let (first, rest) = text.split_at(text.find("conn=").unwrap() + 5);
    assert!(first.ends_with("conn="));
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert!(
        text.starts_with(&format!("conn={id} req=1conn={id} req=2")),
        "the second request reused the connection: {text}"
    );
    let third: serde_json::Value = serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
    assert_eq!(third["headers"]["X-Only-Here"], "1");
    // The first failure's exit code, and the later URLs still run.
    let out = mreq(&[
        "--check-status",
        &bin("/status/404"),
        &bin("/status/503"),
        &bin("/get"),
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stdout(&out).contains("\"url\""), "the third URL ran");
    // -o goes with the URLs in order.
    let dir = temp_dir("several");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let out = mreq(&[
        "-o",
        a.to_str().unwrap(),
        "-o",
        b.to_str().unwrap(),
        &bin("/bytes/10?seed=1"),
        &bin("/bytes/20?seed=2"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&a).unwrap().len(), 10);
    assert_eq!(std::fs::read(&b).unwrap().len(), 20);
    let out = mreq(&["-o", "x", "-o", "y", &bin("/get")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("-o"), "{}", stderr(&out));
}

#[test]
fn conflicting_options_are_refused_naming_both() {
    for (args, names) in [
        (vec!["-X", "PUT", "get"], ["-X PUT", "GET"]),
        (vec!["-I", "post"], ["-I", "POST"]),
        (vec!["-I", "-d", "a=1"], ["-I", "body"]),
    ] {
        let mut all = args.clone();
        let url = bin("/anything");
        all.push(&url);
        let out = mreq(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        for name in names {
            assert!(stderr(&out).contains(name), "{args:?}: {}", stderr(&out));
        }
    }
}

#[test]
fn shorthand_urls_may_carry_urls_in_their_query() {
    let port = support::httpbin().port;
    let out = mreq(&[&format!(
        ":{port}/redirect-to?url=http://127.0.0.1:{port}/get"
    )]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = mreq(&["--print=h", &format!(":{port}/redirect-to?url=http://x/")]);
    assert!(stdout(&out).starts_with("HTTP/1.1 302"), "{}", stdout(&out));
}

#[test]
fn messages_point_at_the_cause() {
    let out = mreq(&[&bin("/get"), "Content-Length:99"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Content-Length") && stderr(&out).contains("sets it"),
        "{}",
        stderr(&out)
    );
    // A 70 KB URL is sent (gunicorn refuses it with its own 400, which is the server's answer).
    let long = bin(&format!("/get?x={}", "a".repeat(70_000)));
    let out = mreq(&["--print=h", &long]);
    assert!(
        out.status.success() && stdout(&out).starts_with("HTTP/1.1 "),
        "{}",
        stderr(&out)
    );
    // Past the documented limit (1 MiB of request head; one argument is at most 128 KiB, so
    // many headers): refused before connecting.
    let mut args = vec![bin("/get")];
    for i in 0..10 {
        args.extend([
            "-H".to_string(),
            format!("X-Big-{i}: {}", "b".repeat(120_000)),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mreq(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at most"), "{}", stderr(&out));
    // CA files are checked before connecting (curl's 77).
    let dir = temp_dir("cacert");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    for ca in [junk.to_str().unwrap(), "/no/such/ca.pem"] {
        let out = mreq(&["--cacert", ca, "http://127.0.0.1:1/"]);
        assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
        assert!(stderr(&out).contains(ca), "{}", stderr(&out));
    }
    // A body file that cannot be read: curl's 26, before anything is sent.
    for body in [
        ["-d", "@/no/such/body"],
        ["--data-binary", "@/no/such/body"],
        ["-F", "f=@/no/such/body"],
        ["-T", "/no/such/body"],
        ["--data-urlencode", "f@/no/such/body"],
    ] {
        let out = mreq(&[&bin("/post"), body[0], body[1]]);
        assert_eq!(out.status.code(), Some(26), "{body:?}");
        assert!(stderr(&out).contains("/no/such/body"), "{}", stderr(&out));
    }
}

#[test]
fn output_dash_is_stdout() {
    let dir = temp_dir("dash");
    let out = Command::new(env!("CARGO_BIN_EXE_mreq"))
        .current_dir(&*dir)
        .args(["-o", "-", &bin("/bytes/100?seed=3")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 100);
    assert!(!dir.join("-").exists());
}

#[test]
fn continue_resumes_what_any_tool_left() {
    let server = nginx::nginx();
    let dir = temp_dir("continue");
    let url = server.http("/hello.txt");
    let path = dir.join("hello.txt");
    let path_s = path.to_str().unwrap();
    let partial = dir.join("hello.txt.mreq-part");
    // A complete .mreq-part: the server answers 416, which is success, and it is renamed.
    std::fs::write(&partial, "hello over tls\n").unwrap();
    let out = mreq(&["--continue", "-o", path_s, &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello over tls\n");
    assert!(!partial.exists());
    // A complete FILE: 416 again, nothing downloaded, nothing changed.
    let out = mreq(&["--continue", "-o", path_s, &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello over tls\n");
    // A partial FILE left by curl or wget: resumed from where it ends.
    std::fs::write(&path, "hello ov").unwrap();
    let out = mreq(&["--continue", "-o", path_s, &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello over tls\n");
    // --continue without a file to resume is refused, not ignored.
    let out = mreq(&["--continue", &url]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn download_takes_the_servers_file_name_and_never_overwrites() {
    let dir = temp_dir("disposition");
    let run = |disposition: &str| {
        let url = bin(&format!(
            "/response-headers?Content-Disposition={}",
            disposition.replace(' ', "%20").replace('"', "%22")
        ));
        Command::new(env!("CARGO_BIN_EXE_mreq"))
            .current_dir(&*dir)
            .args(["--download", &url])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run("attachment; filename=\"report.json\"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("report.json").exists());
    let out = run("attachment; filename=\"report.json\"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("report.json-1").exists(), "the first stays");
    let out = run("attachment; filename=\"../escape.txt\"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("ignoring the file name"));
    assert!(!dir.parent().unwrap().join("escape.txt").exists());
    assert!(
        dir.join("response-headers").exists(),
        "the URL's name instead"
    );
}

#[test]
fn verbose_follow_shows_every_hop() {
    let out = mreq(&["-v", "-L", &bin("/redirect/2")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("GET ") || l.starts_with("HTTP/"))
        .collect();
    assert_eq!(
        lines,
        [
            "GET /redirect/2 HTTP/1.1",
            "HTTP/1.1 302 FOUND",
            "GET /relative-redirect/1 HTTP/1.1",
            "HTTP/1.1 302 FOUND",
            "GET /get HTTP/1.1",
            "HTTP/1.1 200 OK"
        ]
    );
}

#[test]
fn a_self_signed_certificate_given_with_cacert_is_trusted_as_curl_does() {
    let server = nginx::nginx();
    let own = server.self_signed_file();
    let own = own.to_str().unwrap();
    let good = server.https_port_url(server.self_signed_port, "localhost", "/hello.txt");
    let wrong_name = server.https_port_url(server.self_signed_port, "127.0.0.1", "/hello.txt");
    let curl = |url: &str| {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--cacert", own, url])
            .status()
            .expect("curl (scripts/test.sh installs it)")
            .code()
    };
    let trusted = mreq(&["--cacert", own, &good]);
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    assert_eq!(curl(&good), Some(0), "curl agrees");
    assert_eq!(stdout(&trusted), "hello over tls\n");
    let refused = mreq(&["--cacert", own, &wrong_name]);
    assert_eq!(refused.status.code(), Some(60), "{}", stderr(&refused));
    assert_eq!(curl(&wrong_name), Some(60), "curl agrees");
    // Without it, the same certificate is not trusted.
    assert_eq!(mreq(&[&good]).status.code(), Some(60));
    // Another CA's file does not make it trusted either.
    let other = server.ca_file();
    assert_eq!(
        mreq(&["--cacert", other.to_str().unwrap(), &good])
            .status
            .code(),
        Some(60)
    );
}

#[test]
fn pretty_colors_only_colour_and_help_lists_man() {
    let out = mreq(&["--pretty=colors", &bin("/get")]);
    let plain = mreq(&["--pretty=none", &bin("/get")]);
    let coloured = stdout(&out);
    assert!(coloured.contains("\x1b["));
    let stripped: String = {
        let mut text = String::new();
        let mut rest = coloured.as_str();
        while let Some(i) = rest.find("\x1b[") {
            text.push_str(&rest[..i]);
            rest = &rest[i..];
            let end = rest.find('m').map_or(rest.len(), |e| e + 1);
            rest = &rest[end..];
        }
        text.push_str(rest);
        text
    };
    assert_eq!(
        stripped,
        stdout(&plain),
        "colours only: the layout is the server's"
    );
    assert!(stdout(&mreq(&["--help"])).contains("--man"));
}

#[test]
fn client_certificates_as_curl_shows_them() {
    let server = nginx::nginx();
    let url = server.https_port_url(server.mtls_port, "localhost", "/hello.txt");
    let ca = server.ca_file().display().to_string();
    let (cert, key) = (
        server.client_cert().display().to_string(),
        server.client_key().display().to_string(),
    );
    let dir = temp_dir("mtls");
    let both = dir.join("both.pem");
    std::fs::write(
        &both,
        [std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap()].concat(),
    )
    .unwrap();
    let both = both.display().to_string();
    let cases: [&[&str]; 5] = [
        &[],
        &["--cert", &cert, "--key", &key],
        &["--cert", &both],
        &["--cert", &cert],
        &["--cert", "/no/such/cert.pem"],
    ];
    for extra in cases {
        let mut words = vec!["-s", "--cacert", &ca];
        words.extend_from_slice(extra);
        words.push(&url);
        let mine = mreq(&words);
        let curl = Command::new("curl")
            .args(&words)
            .output()
            .expect("curl (scripts/test.sh installs it)");
        assert_eq!(
            mine.status.code(),
            curl.status.code(),
            "{extra:?}: {}",
            stderr(&mine)
        );
        let shown = |o: &Output| String::from_utf8_lossy(&o.stdout).contains("hello over tls");
        assert_eq!(shown(&mine), shown(&curl), "{extra:?}");
    }
    assert!(stdout(&mreq(&["--cacert", &ca, "--cert", &both, &url])).contains("hello over tls"));
}

#[test]
fn unix_sockets_carry_http_and_https_as_in_curl() {
    let server = nginx::nginx();
    let (plain, tls) = (
        server.http_socket().display().to_string(),
        server.https_socket().display().to_string(),
    );
    let ca = server.ca_file().display().to_string();
    let cases: [&[&str]; 3] = [
        &["--unix-socket", &plain, "http://localhost/hello.txt"],
        &[
            "--unix-socket",
            &tls,
            "--cacert",
            &ca,
            "https://localhost/hello.txt",
        ],
        &[
            "--unix-socket",
            "/no/such.sock",
            "http://localhost/hello.txt",
        ],
    ];
    for words in cases {
        let mut words = words.to_vec();
        words.insert(0, "-s");
        let mine = mreq(&words);
        let curl = Command::new("curl").args(&words).output().expect("curl");
        assert_eq!(
            mine.status.code(),
            curl.status.code(),
            "{words:?}: {}",
            stderr(&mine)
        );
        assert_eq!(mine.stdout, curl.stdout, "{words:?}");
    }
}

/// A multipart field's `;type=` is a header value of the part: a line break in it would add
/// headers of the caller's choosing, so it is refused before anything is sent.
#[test]
fn a_multipart_type_with_a_line_break_is_refused() {
    let out = mreq(&["-F", "a=1;type=text/plain\r\nX-Evil: 1", &bin("/post")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("field \"a\""), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}
