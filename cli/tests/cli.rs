//! The built `mreq` binary against real servers: httpbin, the hostile server and nginx (TLS).

mod nginx;
#[path = "../../core/tests/support/mod.rs"]
mod support;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
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

/// A scratch directory removed when the test ends.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("mreq-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
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
    let out = mreq(&["-o", path.to_str().unwrap(), &bin("/bytes/50000?seed=9")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let piped = mreq(&[&bin("/bytes/50000?seed=9")]);
    assert_eq!(std::fs::read(&path).unwrap(), piped.stdout);
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
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
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
        "-c",
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
