//! Every byte in order through every sink: the `mreq` binary downloads bodies of every framing
//! and size over http (the hostile server's `/frame/` routes) and https (the same through
//! nginx), into every kind of output a user gives it, and each result's SHA-256 is compared
//! with the source. The sinks, framings and sizes are tables: a new one is covered by adding a
//! row.

use mreq_test_support as support;
use support::{nginx, temp_dir};

use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Where `mreq` puts the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// stdout is a pipe read as fast as possible.
    PipeFast,
    /// stdout is a pipe whose reader pauses now and then (the pipe fills up).
    PipeSlow,
    /// `mreq URL > file`
    Redirect,
    /// `mreq URL >> file` onto a file that already has bytes.
    Append,
    /// `-o file`
    OutputFlag,
    /// `--download` (the name from the URL, in the current directory).
    Download,
    /// `mreq URL > /dev/null`: nothing to compare but the exit and stderr.
    DevNull,
}

const SINKS: [Sink; 7] = [
    Sink::PipeFast,
    Sink::PipeSlow,
    Sink::Redirect,
    Sink::Append,
    Sink::OutputFlag,
    Sink::Download,
    Sink::DevNull,
];

const SIZES: [usize; 6] = [0, 1, 65_535, 65_536, 65_537, (1 << 20) + 7];

const APPEND_PREFIX: &[u8] = b"already here\n";

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The binary under test: this build's, or `MREQ_BIN` (to run the matrix against a release build
/// or an older version).
fn mreq_bin() -> PathBuf {
    std::env::var_os("MREQ_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mreq")))
}

fn mreq_command(dir: &Path, extra: &[&str], url: &str) -> Command {
    let mut command = Command::new(mreq_bin());
    command
        .current_dir(dir)
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// What a run left: exit code, stderr, and the body as the sink holds it (`None` for /dev/null).
struct Delivered {
    code: Option<i32>,
    stderr: String,
    body: Option<Vec<u8>>,
}

fn finish(out: Output, body: Option<Vec<u8>>) -> Delivered {
    Delivered {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        body,
    }
}

/// Downloads `url` into `sink`; `name` is the file name `--download` derives from the URL.
fn deliver(sink: Sink, url: &str, name: &str, extra: &[&str], dir: &Path) -> Delivered {
    let file = dir.join("out.bin");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(dir.join(name));
    match sink {
        Sink::PipeFast => {
            let out = mreq_command(dir, extra, url)
                .stdout(Stdio::piped())
                .output()
                .expect("run mreq");
            let body = out.stdout.clone();
            finish(out, Some(body))
        }
        Sink::PipeSlow => {
            let mut child = mreq_command(dir, extra, url)
                .stdout(Stdio::piped())
                .spawn()
                .expect("run mreq");
            let mut stdout = child.stdout.take().expect("stdout");
            let mut body = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                match stdout.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        // Pause after the first read, then every 64 KiB of the first 2 MiB: the
                        // pipe fills up and the writer waits.
                        let crossed = (body.len() + n) / 65536 > body.len() / 65536;
                        if body.is_empty() || (crossed && body.len() < 2 << 20) {
                            std::thread::sleep(Duration::from_millis(15));
                        }
                        body.extend_from_slice(&chunk[..n]);
                    }
                    Err(err) => panic!("reading mreq's stdout: {err}"),
                }
            }
            let out = child.wait_with_output().expect("wait for mreq");
            finish(out, Some(body))
        }
        Sink::Redirect => {
            let target = File::create(&file).expect("create out file");
            let out = mreq_command(dir, extra, url)
                .stdout(target)
                .output()
                .expect("run mreq");
            finish(out, Some(std::fs::read(&file).expect("read out file")))
        }
        Sink::Append => {
            std::fs::write(&file, APPEND_PREFIX).expect("write prefix");
            let target = OpenOptions::new()
                .append(true)
                .open(&file)
                .expect("open for appending");
            let out = mreq_command(dir, extra, url)
                .stdout(target)
                .output()
                .expect("run mreq");
            let all = std::fs::read(&file).expect("read out file");
            assert!(all.starts_with(APPEND_PREFIX), "the earlier bytes stay");
            finish(out, Some(all[APPEND_PREFIX.len()..].to_vec()))
        }
        Sink::OutputFlag => {
            let mut args = extra.to_vec();
            let path = file.to_str().expect("utf-8 path").to_string();
            args.extend(["-o", path.as_str()]);
            let out = mreq_command(dir, &args, url)
                .stdout(Stdio::piped())
                .output()
                .expect("run mreq");
            finish(out, std::fs::read(&file).ok())
        }
        Sink::Download => {
            let mut args = extra.to_vec();
            args.push("--download");
            let out = mreq_command(dir, &args, url)
                .stdout(Stdio::piped())
                .output()
                .expect("run mreq");
            finish(out, std::fs::read(dir.join(name)).ok())
        }
        Sink::DevNull => {
            let null = OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .expect("/dev/null");
            let out = mreq_command(dir, extra, url)
                .stdout(null)
                .output()
                .expect("run mreq");
            finish(out, None)
        }
    }
}

/// Runs every sink and size for one framing over one transport.
fn matrix(framing: &str, https: bool) {
    let server = nginx::nginx();
    let ca = server.ca_file();
    let extra: Vec<&str> = if https {
        vec!["--cacert", ca.to_str().expect("utf-8 path")]
    } else {
        Vec::new()
    };
    let dir = temp_dir(&format!("{framing}-{https}"));
    for size in SIZES {
        let path = format!("/frame/{framing}/{size}");
        let url = if https {
            server.https_frame(&path)
        } else {
            support::hostile().url(&path)
        };
        let expected = sha256(&support::noise(size));
        for sink in SINKS {
            let got = deliver(sink, &url, &size.to_string(), &extra, &dir);
            let case = format!(
                "{framing} {size} bytes over {} into {sink:?}",
                if https { "https" } else { "http" }
            );
            assert_eq!(got.code, Some(0), "{case}: {}", got.stderr);
            assert_eq!(got.stderr, "", "{case}: nothing on stderr");
            if let Some(body) = got.body {
                assert_eq!(body.len(), size, "{case}: length");
                assert_eq!(sha256(&body), expected, "{case}: SHA-256");
            }
        }
    }
}

#[test]
fn http_content_length() {
    matrix("length", false);
}

#[test]
fn http_chunked_1() {
    matrix("chunked-1", false);
}

#[test]
fn http_chunked_7() {
    matrix("chunked-7", false);
}

#[test]
fn http_chunked_65536() {
    matrix("chunked-65536", false);
}

#[test]
fn http_close_delimited() {
    matrix("close", false);
}

#[test]
fn http_1_0() {
    matrix("http10", false);
}

#[test]
fn https_content_length() {
    matrix("length", true);
}

#[test]
fn https_chunked_7() {
    matrix("chunked-7", true);
}

#[test]
fn https_chunked_65536() {
    matrix("chunked-65536", true);
}

#[test]
fn https_close_delimited() {
    matrix("close", true);
}

#[test]
fn https_1_0() {
    matrix("http10", true);
}

#[test]
fn every_framing_has_a_matrix_test() {
    // The test names above, by framing: a framing added to the server needs its rows here.
    let http = [
        "length",
        "chunked-1",
        "chunked-7",
        "chunked-65536",
        "close",
        "http10",
    ];
    assert_eq!(
        http,
        support::FRAMINGS,
        "a framing without an http matrix test"
    );
}

/// The 100 MB file from nginx, over http (spliced) and https, into a pipe and a file.
#[test]
fn a_100_mb_body_through_a_pipe_and_a_file() {
    let server = nginx::nginx();
    let expected = sha256(&std::fs::read(server.www(nginx::BIG_FILE)).expect("big file"));
    let dir = temp_dir("big");
    let ca = server.ca_file();
    let tls = ["--cacert", ca.to_str().expect("utf-8 path")];
    let cases: [(&str, String, &[&str]); 2] = [
        ("http", server.http(&format!("/{}", nginx::BIG_FILE)), &[]),
        (
            "https",
            server.https("localhost", &format!("/{}", nginx::BIG_FILE)),
            &tls,
        ),
    ];
    for (transport, url, extra) in &cases {
        for sink in [Sink::PipeSlow, Sink::Redirect, Sink::Append] {
            let got = deliver(sink, url, nginx::BIG_FILE, extra, &dir);
            assert_eq!(got.code, Some(0), "{transport} {sink:?}: {}", got.stderr);
            let body = got.body.expect("a body");
            assert_eq!(body.len(), nginx::BIG_LEN, "{transport} {sink:?}");
            assert_eq!(sha256(&body), expected, "{transport} {sink:?}: SHA-256");
        }
    }
}

/// `mreq URL | head -c 1` and `| head -1`: the reader goes away; mreq ends with 0, silently.
#[test]
fn early_closing_readers_end_quietly() {
    let server = nginx::nginx();
    let ca = server.ca_file();
    let dir = temp_dir("early");
    let size = (1 << 20) + 7;
    for framing in ["length", "chunked-65536", "close"] {
        let path = format!("/frame/{framing}/{size}");
        for (url, extra) in [
            (support::hostile().url(&path), vec![]),
            (
                server.https_frame(&path),
                vec!["--cacert", ca.to_str().expect("utf-8 path")],
            ),
        ] {
            for keep in [1usize, 100] {
                let mut child = mreq_command(&dir, &extra, &url)
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("run mreq");
                let mut stdout = child.stdout.take().expect("stdout");
                let mut first = vec![0u8; keep];
                stdout.read_exact(&mut first).expect("first bytes");
                drop(stdout);
                let out = child.wait_with_output().expect("wait");
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(0), "{url} keep {keep}: {stderr}");
                assert_eq!(stderr, "", "{url} keep {keep}: nothing on stderr");
                assert_eq!(first, support::noise(size)[..keep], "{url}");
            }
        }
    }
}

/// `mreq -v -o FILE URL | true`: the printed heads have no reader, the download still completes.
#[test]
fn a_download_survives_a_closed_stdout() {
    let dir = temp_dir("closed-stdout");
    let file = dir.join("f.bin");
    let size = 300_000;
    let mut child = Command::new(mreq_bin())
        .args(["-v", "-o", file.to_str().expect("utf-8 path")])
        .arg(support::hostile().url(&format!("/frame/length/{size}")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mreq");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = std::fs::read(&file).expect("the file was saved");
    assert_eq!(sha256(&saved), sha256(&support::noise(size)));
}

/// stdout on a pseudo-terminal: text arrives whole (the terminal turns LF into CRLF).
#[test]
fn a_terminal_gets_the_whole_text() {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("pty name"))
        .expect("open the pty");
    let text: String = (0..3000)
        .map(|i| format!("line {i} of the text\n"))
        .collect();
    let dir = temp_dir("pty");
    let file = dir.join("t.txt");
    std::fs::write(&file, &text).expect("write text");
    let server = nginx::nginx();
    std::fs::copy(&file, server.www("t.txt")).expect("serve text");
    let mut child = Command::new(mreq_bin())
        .args(["--print=b", &server.http("/t.txt")])
        .stdin(Stdio::null())
        .stdout(slave)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mreq");
    let mut master = File::from(master);
    let mut shown = Vec::new();
    let mut chunk = [0u8; 8192];
    // Reading the master ends with EIO once the child (the only holder of the slave) exits.
    while let Ok(n @ 1..) = master.read(&mut chunk) {
        shown.extend_from_slice(&chunk[..n]);
    }
    let status = child.wait().expect("wait");
    assert!(status.success());
    let shown = String::from_utf8_lossy(&shown).replace("\r\n", "\n");
    assert_eq!(shown, text);
    let _ = master.flush();
}
