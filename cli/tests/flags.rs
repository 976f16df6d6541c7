//! Every flag in every mode: it takes effect, or mreq exits 2 naming it. The table below is data:
//! a flag that `mreq --help` lists without a row fails `every_flag_has_a_row`, and every row is
//! run in every mode (stdout to a pipe, `-o`, `--download`, `--offline`, several URLs, and
//! `--device` against a stand-in board that speaks the device link and makes the request with
//! the engine, `mreq_test_support::board`; the real firmware runs in the QEMU smoke test).
//! A terminal is covered by the pseudo-terminal test in `delivery.rs`.

use mreq_test_support as support;
use support::nginx;
use support::proxies::proxies;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pipe,
    File,
    Download,
    Offline,
    Several,
    Device,
    /// `--device` with `-o FILE`.
    DeviceFile,
    /// `--device` with two URLs.
    DeviceSeveral,
}

const MODES: [Mode; 8] = [
    Mode::Pipe,
    Mode::File,
    Mode::Download,
    Mode::Offline,
    Mode::Several,
    Mode::Device,
    Mode::DeviceFile,
    Mode::DeviceSeveral,
];

impl Mode {
    /// The body goes to `-o out.bin`.
    fn to_file(self) -> bool {
        matches!(self, Mode::File | Mode::DeviceFile)
    }

    /// Two URLs in one run.
    fn several(self) -> bool {
        matches!(self, Mode::Several | Mode::DeviceSeveral)
    }
}

/// Which server a row talks to.
#[derive(Debug, Clone, Copy)]
enum Server {
    /// httpbin, at this path (`/anything` echoes the request as JSON).
    Httpbin(&'static str),
    /// nginx's https server with the test CA, at this path.
    NginxHttps(&'static str),
    /// nginx's plain http server, at this path.
    NginxHttp(&'static str),
    /// nginx's https server that asks for a client certificate, at this path.
    NginxMtls(&'static str),
    /// httpbin under this host name (which `@RESOLVE` maps to 127.0.0.1), at this path.
    HttpbinAs(&'static str, &'static str),
    /// The hostile server at this path; KEY becomes the row's and mode's own name.
    Hostile(&'static str),
    /// A port where nothing listens.
    Refused,
}

/// The request went through tinyproxy's forwarding: it adds `Connection: close` (mreq sends no
/// Connection header).
fn forwarded_by_proxy(r: &Run) -> Result<(), String> {
    r.each_request(|q| Run::header(q, "connection") == Some("close"))
}

/// The body of a retried transfer says it came on a later attempt ("ok after N"), once per URL.
fn retried(r: &Run) -> Result<(), String> {
    r.ok()?;
    let bodies =
        std::iter::once(r.stdout.as_bytes()).chain(r.files.iter().map(|(_, d)| d.as_slice()));
    let ok = bodies
        .map(|b| String::from_utf8_lossy(b).matches("ok after").count())
        .sum::<usize>();
    let failed =
        r.stdout.contains("failure") || r.files.iter().any(|(_, d)| d.starts_with(b"failure"));
    (ok == r.per_url() && !failed).then_some(()).ok_or(format!(
        "not retried: {:?} {:?} {}",
        r.stdout, r.files, r.stderr
    ))
}

/// What one run left behind.
#[derive(Debug)]
struct Run {
    mode: Mode,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Files in the run's directory (name, contents), the body files of -o/--download.
    files: Vec<(String, Vec<u8>)>,
    /// The requests the server saw, as httpbin echoes them (method, url, headers, data): from
    /// the echoed bodies, or from `--offline`'s printed request.
    seen: Vec<Value>,
}

impl Run {
    fn ok(&self) -> Result<(), String> {
        if self.code == Some(0) {
            Ok(())
        } else {
            Err(format!("exit {:?}: {}", self.code, self.stderr))
        }
    }

    /// How many requests the mode makes (two URLs in `Several`).
    fn per_url(&self) -> usize {
        if self.mode.several() {
            2
        } else {
            1
        }
    }

    /// Passes when `text` appears once per request in stdout.
    fn printed_per_url(&self, text: &str) -> bool {
        self.stdout.matches(text).count() == self.per_url()
    }

    fn each_request(&self, check: impl Fn(&Value) -> bool) -> Result<(), String> {
        let expected = self.per_url();
        if self.seen.len() != expected {
            return Err(format!(
                "{} requests seen, {expected} expected: {:?} / {}",
                self.seen.len(),
                self.seen,
                self.stderr
            ));
        }
        match self.seen.iter().find(|r| !check(r)) {
            Some(request) => Err(format!("request without the effect: {request}")),
            None => Ok(()),
        }
    }

    fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
        request["headers"]
            .as_object()?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }

    fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, data)| data.as_slice())
    }

    fn code(&self, code: i32) -> Result<(), String> {
        if self.code == Some(code) {
            Ok(())
        } else {
            Err(format!(
                "exit {:?}, {code} expected: {}",
                self.code, self.stderr
            ))
        }
    }
}

/// A row: how to give the flag, where, and how to see its effect.
struct Row {
    /// The long flag as `--help` lists it.
    flag: &'static str,
    /// Arguments before the URL.
    args: &'static [&'static str],
    /// Items after each URL.
    items: &'static [&'static str],
    server: Server,
    /// Data on mreq's stdin (else /dev/null).
    stdin: Option<&'static [u8]>,
    /// Modes where it must be refused: exit 2, naming `refused_name`.
    refused_in: &'static [Mode],
    /// The name the refusal must contain.
    refused_name: &'static str,
    /// How to see it took effect in the other modes.
    check: fn(&Run) -> Result<(), String>,
}

/// Modes where the host's TLS settings have nothing to act on.
const ONLINE_ONLY: &[Mode] = &[
    Mode::Offline,
    Mode::Device,
    Mode::DeviceFile,
    Mode::DeviceSeveral,
];
const NOT_OFFLINE: &[Mode] = &[Mode::Offline];

fn same_body_everywhere(run: &Run, check: impl Fn(&[u8]) -> bool) -> Result<(), String> {
    run.ok()?;
    let bodies: Vec<&[u8]> = match run.mode {
        Mode::File | Mode::DeviceFile => vec![run.file("out.bin").ok_or("no -o file")?],
        Mode::Download => run.files.iter().map(|(_, d)| d.as_slice()).collect(),
        _ => vec![run.stdout.as_bytes()],
    };
    if bodies.is_empty() || !bodies.iter().all(|b| check(b)) {
        return Err(format!("body without the effect: {bodies:?}"));
    }
    Ok(())
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            flag: "--header",
            args: &["-H", "X-Row: yes"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| r.each_request(|q| Run::header(q, "x-row") == Some("yes")),
        },
        Row {
            flag: "--request",
            args: &["-X", "PUT"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| r.each_request(|q| q["method"] == "PUT"),
        },
        Row {
            flag: "--data",
            args: &["-d", "k=v"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    q["method"] == "POST"
                        && (q["data"] == "k=v" || q["form"] == serde_json::json!({"k": "v"}))
                })
            },
        },
        Row {
            flag: "--json",
            args: &["--json", r#"{"j":1}"#],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    q["data"] == r#"{"j":1}"#
                        && Run::header(q, "content-type") == Some("application/json")
                })
            },
        },
        Row {
            flag: "--form",
            args: &["--form"],
            items: &["f=1 2"],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    (q["data"] == "f=1+2" || q["form"] == serde_json::json!({"f": "1 2"}))
                        && Run::header(q, "content-type")
                            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
                })
            },
        },
        Row {
            flag: "--output",
            args: &["-o", "row-out"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            // -o twice for one URL: refused (each -o names the file of one URL).
            refused_in: &[Mode::Offline, Mode::File, Mode::DeviceFile],
            refused_name: "-o",
            check: |r| {
                r.ok()?;
                let saved = r.file("row-out").ok_or("no row-out file")?;
                serde_json::from_slice::<Value>(saved).map_err(|e| e.to_string())?;
                Ok(())
            },
        },
        Row {
            flag: "--remote-name",
            args: &["-O"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[Mode::Offline, Mode::File, Mode::DeviceFile],
            refused_name: "-O",
            check: |r| {
                r.ok()?;
                r.file("anything")
                    .map(|_| ())
                    .ok_or("no file named anything".into())
            },
        },
        Row {
            flag: "--download",
            args: &["--download"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--download",
            check: |r| {
                r.ok()?;
                let wanted = if r.mode.to_file() {
                    "out.bin"
                } else {
                    "anything"
                };
                r.file(wanted)
                    .map(|_| ())
                    .ok_or(format!("no file {wanted}: {:?}", r.files))
            },
        },
        Row {
            flag: "--continue",
            args: &["--continue"],
            items: &[],
            server: Server::NginxHttp("/hello.txt"),
            stdin: None,
            // Nothing to resume on stdout.
            refused_in: &[
                Mode::Offline,
                Mode::Pipe,
                Mode::Several,
                Mode::Device,
                Mode::DeviceSeveral,
            ],
            refused_name: "--continue",
            check: |r| {
                r.ok()?;
                let name = if r.mode.to_file() {
                    "out.bin"
                } else {
                    "hello.txt"
                };
                match r.file(name) {
                    Some(b"hello over tls\n") => Ok(()),
                    other => Err(format!("{name}: {other:?}")),
                }
            },
        },
        Row {
            flag: "--follow",
            args: &["-L"],
            items: &[],
            server: Server::Httpbin("/redirect-to?url=/anything/followed"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "-L",
            check: |r| {
                r.ok()?;
                same_body_everywhere(r, |b| {
                    String::from_utf8_lossy(b).contains("/anything/followed")
                })
            },
        },
        Row {
            flag: "--max-redirects",
            args: &["-L", "--max-redirects", "1"],
            items: &[],
            server: Server::Httpbin("/redirect/3"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--max-redirects",
            check: |r| r.code(47),
        },
        Row {
            flag: "--user",
            args: &["-u", "joe:pw"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| Run::header(q, "authorization") == Some("Basic am9lOnB3"))
            },
        },
        Row {
            flag: "--netrc",
            args: &["-n"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            // HOME is the upload directory, whose .netrc has a login for 127.0.0.1.
            check: |r| {
                r.each_request(|q| Run::header(q, "authorization") == Some("Basic bnU6bnA="))
            },
        },
        Row {
            flag: "--netrc-optional",
            args: &["--netrc-optional"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| Run::header(q, "authorization") == Some("Basic bnU6bnA="))
            },
        },
        Row {
            flag: "--netrc-file",
            args: &["--netrc-file", "@NETRC"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| Run::header(q, "authorization") == Some("Basic bnU6bnA="))
            },
        },
        Row {
            flag: "--bearer",
            args: &["--bearer", "tkn"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| r.each_request(|q| Run::header(q, "authorization") == Some("Bearer tkn")),
        },
        Row {
            flag: "--insecure",
            args: &["-k"],
            items: &[],
            server: Server::NginxHttps("/hello.txt"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "-k",
            check: |r| {
                if !r.stderr.contains("verification is off") {
                    return Err(format!("no warning: {}", r.stderr));
                }
                same_body_everywhere(r, |b| b.starts_with(b"hello over tls"))
            },
        },
        Row {
            flag: "--cacert",
            args: &["--cacert", "@CA"],
            items: &[],
            server: Server::NginxHttps("/hello.txt"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "--cacert",
            check: |r| same_body_everywhere(r, |b| b.starts_with(b"hello over tls")),
        },
        Row {
            flag: "--cert",
            args: &[
                "--cacert",
                "@CA",
                "--cert",
                "@CLIENT_CERT",
                "--key",
                "@CLIENT_KEY",
            ],
            items: &[],
            server: Server::NginxMtls("/hello.txt"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "--cacert",
            check: |r| same_body_everywhere(r, |b| b.starts_with(b"hello over tls")),
        },
        Row {
            flag: "--key",
            args: &[
                "--cert",
                "@CLIENT_CERT",
                "--key",
                "@CLIENT_KEY",
                "--cacert",
                "@CA",
            ],
            items: &[],
            server: Server::NginxMtls("/hello.txt"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "--cert",
            check: |r| same_body_everywhere(r, |b| b.starts_with(b"hello over tls")),
        },
        Row {
            flag: "--ignore-stdin",
            args: &["--ignore-stdin"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: Some(b"from stdin"),
            refused_in: &[],
            refused_name: "",
            check: |r| r.each_request(|q| q["method"] == "GET" && q["data"] == ""),
        },
        Row {
            flag: "--timeout",
            args: &["--timeout", "0.5"],
            items: &[],
            server: Server::Httpbin("/delay/3"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--timeout",
            check: |r| r.code(28),
        },
        Row {
            // Not observable here: this sandbox answers every address (even unroutable ones)
            // at once, so no connection is slow. The value is parsed and applied; 0 = no limit.
            flag: "--connect-timeout",
            args: &["--connect-timeout", "5"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--connect-timeout",
            check: |r| r.ok(),
        },
        Row {
            flag: "--verbose",
            args: &["-v"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.ok()?;
                let requests = r.stdout.matches("GET /anything HTTP/1.1").count();
                let responses = r.stdout.matches("HTTP/1.1 200").count();
                let expected = if r.mode.several() { 2 } else { 1 };
                let wanted_responses = if r.mode == Mode::Offline { 0 } else { expected };
                if requests == expected && responses == wanted_responses {
                    Ok(())
                } else {
                    Err(format!(
                        "{requests} request heads, {responses} response heads: {}",
                        r.stdout
                    ))
                }
            },
        },
        Row {
            flag: "--head",
            args: &["-I"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.ok()?;
                match r.mode {
                    Mode::Offline => r
                        .stdout
                        .starts_with("HEAD /anything")
                        .then_some(())
                        .ok_or(r.stdout.clone()),
                    _ if r.stdout.starts_with("HTTP/1.1 200") && !r.stdout.contains('{') => Ok(()),
                    _ => Err(format!("not a HEAD response: {}", r.stdout)),
                }
            },
        },
        Row {
            flag: "--include",
            args: &["-i"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "-i",
            check: |r| {
                r.ok()?;
                let heads = r.stdout.matches("HTTP/1.1 200").count();
                let expected = if r.mode.several() { 2 } else { 1 };
                (heads == expected)
                    .then_some(())
                    .ok_or(format!("{heads} heads: {}", r.stdout))
            },
        },
        Row {
            flag: "--silent",
            args: &["-s", "-k"],
            items: &[],
            server: Server::NginxHttps("/hello.txt"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "-k",
            check: |r| {
                r.ok()?;
                r.stderr
                    .is_empty()
                    .then_some(())
                    .ok_or(format!("stderr: {}", r.stderr))
            },
        },
        Row {
            flag: "--print",
            args: &["--print", "H"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.ok()?;
                (r.printed_per_url("GET /anything HTTP/1.1") && !r.stdout.contains("HTTP/1.1 200"))
                    .then_some(())
                    .ok_or(format!("printed: {}", r.stdout))
            },
        },
        Row {
            flag: "--pretty",
            args: &["--pretty", "format"],
            items: &["a=1"],
            server: Server::Httpbin("/anything"),
            stdin: None,
            // With -o or --download nothing is printed, so there is nothing to format.
            refused_in: &[Mode::File, Mode::Download, Mode::DeviceFile],
            refused_name: "--pretty",
            check: |r| {
                r.ok()?;
                // The request's JSON body offline, the response's JSON otherwise: indented.
                let formatted = r.stdout.contains("\n    \"");
                formatted
                    .then_some(())
                    .ok_or(format!("not formatted: {}", r.stdout))
            },
        },
        Row {
            flag: "--offline",
            args: &["--offline"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[
                Mode::File,
                Mode::Download,
                Mode::Device,
                Mode::DeviceFile,
                Mode::DeviceSeveral,
            ],
            refused_name: "--offline",
            check: |r| {
                r.ok()?;
                (r.printed_per_url("GET /anything HTTP/1.1") && !r.stdout.contains("HTTP/1.1 200"))
                    .then_some(())
                    .ok_or(format!("printed: {}", r.stdout))
            },
        },
        Row {
            flag: "--check-status",
            args: &["--check-status"],
            items: &[],
            server: Server::Httpbin("/status/404"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--check-status",
            check: |r| r.code(4),
        },
        Row {
            flag: "--fail",
            args: &["-f"],
            items: &[],
            server: Server::Httpbin("/status/404"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "-f/--fail",
            // curl's: exit 22, nothing on stdout, no file.
            check: |r| {
                r.code(22)?;
                if !r.stdout.is_empty() || !r.files.is_empty() {
                    return Err(format!("output left: {:?} {:?}", r.stdout, r.files));
                }
                r.stderr
                    .contains("404")
                    .then_some(())
                    .ok_or(format!("no reason: {}", r.stderr))
            },
        },
        Row {
            flag: "--fail-with-body",
            args: &["--fail-with-body"],
            items: &[],
            server: Server::Httpbin("/status/418"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--fail-with-body",
            check: |r| {
                r.code(22)?;
                let teapot = |b: &[u8]| String::from_utf8_lossy(b).contains("teapot");
                let kept = teapot(r.stdout.as_bytes()) || r.files.iter().any(|(_, d)| teapot(d));
                kept.then_some(())
                    .ok_or(format!("body lost: {:?} {:?}", r.stdout, r.files))
            },
        },
        Row {
            flag: "-F",
            args: &["-F", "a=b c", "-F", "up=@@UPLOAD;type=text/x-row"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    let multipart = Run::header(q, "content-type")
                        .is_some_and(|t| t.starts_with("multipart/form-data; boundary="));
                    let fields = q["form"] == serde_json::json!({"a": "b c"})
                        && q["files"] == serde_json::json!({"up": "uploaded\n"});
                    multipart && (fields || r.mode == Mode::Offline)
                })
            },
        },
        Row {
            flag: "--form-string",
            args: &["--form-string", "a=@not-a-file;type=x"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    r.mode == Mode::Offline
                        || q["form"] == serde_json::json!({"a": "@not-a-file;type=x"})
                })
            },
        },
        Row {
            flag: "--continue-at",
            args: &["-C", "-"],
            items: &[],
            server: Server::NginxHttp("/hello.txt"),
            stdin: None,
            refused_in: &[
                Mode::Offline,
                Mode::Pipe,
                Mode::Several,
                Mode::Device,
                Mode::DeviceSeveral,
            ],
            refused_name: "-C/--continue-at",
            check: |r| {
                r.ok()?;
                let name = if r.mode.to_file() {
                    "out.bin"
                } else {
                    "hello.txt"
                };
                match r.file(name) {
                    Some(b"hello over tls\n") => Ok(()),
                    other => Err(format!("{name}: {other:?}")),
                }
            },
        },
        Row {
            flag: "--show-error",
            args: &["-s", "-S", "-f"],
            items: &[],
            server: Server::Httpbin("/status/404"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "-f/--fail",
            check: |r| {
                r.code(22)?;
                (r.stderr.matches("mreq: error:").count() == r.per_url())
                    .then_some(())
                    .ok_or(format!("errors not shown: {}", r.stderr))
            },
        },
        Row {
            flag: "--user-agent",
            args: &["-A", "row-agent/1"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| r.each_request(|q| Run::header(q, "user-agent") == Some("row-agent/1")),
        },
        Row {
            flag: "--referer",
            args: &["-e", "http://from.example/page"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| Run::header(q, "referer") == Some("http://from.example/page"))
            },
        },
        Row {
            flag: "--data-binary",
            args: &["--data-binary", "@@UPLOAD"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            // The file's newline stays (-d would drop it); offline shows the streamed file.
            check: |r| {
                r.each_request(|q| {
                    q["method"] == "POST"
                        && (q["form"] == serde_json::json!({"uploaded\n": ""})
                            || q["data"] == "uploaded\n"
                            || r.mode == Mode::Offline)
                })
            },
        },
        Row {
            flag: "--data-raw",
            args: &["--data-raw", "@k=v"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    q["data"] == "@k=v" || q["form"] == serde_json::json!({"@k": "v"})
                })
            },
        },
        Row {
            flag: "--data-urlencode",
            args: &["--data-urlencode", "k=a b&c"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    q["data"] == "k=a+b%26c" || q["form"] == serde_json::json!({"k": "a b&c"})
                })
            },
        },
        Row {
            flag: "--get",
            args: &["-G", "-d", "a=1", "--data-urlencode", "b=x y"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    q["method"] == "GET"
                        && q["url"]
                            .as_str()
                            .is_some_and(|u| u.ends_with("/anything?a=1&b=x+y"))
                })
            },
        },
        Row {
            flag: "--upload-file",
            args: &["-T", "@UPLOAD"],
            items: &[],
            server: Server::Httpbin("/anything/"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            // PUT, streamed, to the file's name under the URL's directory.
            check: |r| {
                r.each_request(|q| {
                    q["method"] == "PUT"
                        && q["url"]
                            .as_str()
                            .is_some_and(|u| u.ends_with("/anything/up.txt"))
                        && (q["data"] == "uploaded\n" || r.mode == Mode::Offline)
                })
            },
        },
        Row {
            flag: "--compressed",
            args: &["--compressed"],
            items: &[],
            server: Server::Hostile("/encoded/gzip+zstd/1000"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            // Decoded into files too; offline, the request asks for it.
            check: |r| {
                if r.mode == Mode::Offline {
                    return r.each_request(|q| {
                        Run::header(q, "accept-encoding") == Some("gzip, deflate, br, zstd")
                    });
                }
                let copies = if r.mode.to_file() { 1 } else { r.per_url() };
                let want = support::pattern(1000).repeat(copies);
                same_body_everywhere(r, |b| b == want.as_slice())
            },
        },
        Row {
            flag: "--max-time",
            args: &["-m", "0.5"],
            items: &[],
            server: Server::Httpbin("/delay/3"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "-m/--max-time",
            check: |r| r.code(28),
        },
        Row {
            flag: "--unix-socket",
            args: &["--unix-socket", "@NGINX_SOCKET"],
            items: &[],
            server: Server::NginxHttp("/hello.txt"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "--unix-socket",
            check: |r| same_body_everywhere(r, |b| b.starts_with(b"hello over tls")),
        },
        Row {
            flag: "--retry",
            args: &["--retry", "1", "--retry-delay", "0"],
            items: &[],
            server: Server::Hostile("/flaky/KEY/1/503"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--retry",
            check: retried,
        },
        Row {
            flag: "--retry-delay",
            args: &["--retry", "1", "--retry-delay", "0.1"],
            items: &[],
            server: Server::Hostile("/flaky/KEY/1/503"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--retry",
            check: retried,
        },
        Row {
            flag: "--retry-max-time",
            // Two attempts per URL: the 1 s backoff is cut to the time left, and then the
            // limit has passed.
            args: &["--retry", "5", "--retry-max-time", "1"],
            items: &[],
            server: Server::Hostile("/flaky/KEY/9/503"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--retry",
            check: |r| {
                if r.mode.to_file() || r.mode == Mode::Download {
                    // Only 2xx bodies are saved: the last 503 is the error.
                    r.code(5)?;
                    return (r.stderr.matches("mreq: error:").count() == 1
                        && r.stderr.contains("503"))
                    .then_some(())
                    .ok_or(format!("stderr: {}", r.stderr));
                }
                r.ok()?;
                let last = format!("failure {}", 2 * r.per_url());
                let after = format!("failure {}", 2 * r.per_url() + 1);
                (r.stdout.matches("failure ").count() == r.per_url()
                    && r.stdout.contains(&last)
                    && !r.stdout.contains(&after))
                .then_some(())
                .ok_or(format!("attempts: {:?}", r.stdout))
            },
        },
        Row {
            flag: "--retry-connrefused",
            args: &["--retry", "1", "--retry-delay", "0", "--retry-connrefused"],
            items: &[],
            server: Server::Refused,
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--retry",
            check: |r| {
                r.code(7)?;
                (r.stderr.contains("retrying") || r.mode.several())
                    .then_some(())
                    .ok_or(format!("not retried: {}", r.stderr))
            },
        },
        Row {
            flag: "--retry-all-errors",
            args: &[
                "-f",
                "--retry",
                "1",
                "--retry-delay",
                "0",
                "--retry-all-errors",
            ],
            items: &[],
            server: Server::Hostile("/flaky/KEY/1/404"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "-f/--fail",
            check: retried,
        },
        Row {
            flag: "--cookie",
            args: &["-b", "row=1; two=2"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| r.each_request(|q| Run::header(q, "cookie") == Some("row=1; two=2")),
        },
        Row {
            flag: "--cookie-jar",
            args: &["-c", "jar.txt"],
            items: &[],
            server: Server::Httpbin("/response-headers?Set-Cookie=j%3D1"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            // Offline nothing is received: the jar is written, empty.
            check: |r| {
                let jar = r.file("jar.txt").ok_or(format!("no jar: {}", r.stderr))?;
                let jar = String::from_utf8_lossy(jar);
                let kept = jar.contains("\tj\t1\n");
                (jar.starts_with("# Netscape HTTP Cookie File")
                    && (kept || r.mode == Mode::Offline))
                    .then_some(())
                    .ok_or(format!("jar: {jar}"))
            },
        },
        Row {
            flag: "--session",
            args: &["--session", "sess.json", "-H", "X-Sess: 1"],
            items: &[],
            server: Server::Httpbin("/response-headers?Set-Cookie=k%3D1"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "--session",
            check: |r| {
                r.ok()?;
                let saved = r
                    .file("sess.json")
                    .ok_or(format!("no session: {}", r.stderr))?;
                let saved = String::from_utf8_lossy(saved);
                (saved.contains("X-Sess") && saved.contains("\\tk\\t1"))
                    .then_some(())
                    .ok_or(format!("session: {saved}"))
            },
        },
        Row {
            flag: "--session-read-only",
            args: &["--session-read-only", "@SESSION"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[],
            refused_name: "",
            check: |r| {
                r.each_request(|q| {
                    Run::header(q, "x-saved") == Some("yes")
                        && Run::header(q, "cookie") == Some("sc=7")
                })
            },
        },
        Row {
            flag: "--proxy",
            args: &["-x", "@PROXY"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "-x/--proxy",
            check: forwarded_by_proxy,
        },
        Row {
            flag: "--proxy-user",
            args: &["-x", "@PROXY_LOGIN", "-U", "@LOGIN"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "-x/--proxy",
            check: forwarded_by_proxy,
        },
        Row {
            flag: "--noproxy",
            args: &["-x", "@DEAD_PROXY", "--noproxy", "localhost,127.0.0.1"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "-x/--proxy",
            check: |r| r.each_request(|q| Run::header(q, "connection").is_none()),
        },
        Row {
            flag: "--proxytunnel",
            args: &["-x", "@PROXY_LOGIN", "-U", "@LOGIN", "-p"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: ONLINE_ONLY,
            refused_name: "-x/--proxy",
            // Through a tunnel the proxy does not see (or mark) the request.
            check: |r| r.each_request(|q| Run::header(q, "connection").is_none()),
        },
        Row {
            flag: "--resolve",
            args: &["--resolve", "@RESOLVE"],
            items: &[],
            server: Server::HttpbinAs("resolve.test", "/anything"),
            stdin: None,
            // The board resolves names itself.
            refused_in: ONLINE_ONLY,
            refused_name: "--resolve",
            check: |r| {
                r.each_request(|q| {
                    Run::header(q, "host").is_some_and(|h| h.starts_with("resolve.test:"))
                })
            },
        },
        Row {
            flag: "--write-out",
            args: &["-w", "\\nWO %{http_code} %{method} %{url_effective}\\n"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: NOT_OFFLINE,
            refused_name: "-w/--write-out",
            check: |r| {
                r.ok()?;
                let lines = r
                    .stdout
                    .lines()
                    .filter(|l| l.starts_with("WO 200 GET http://") && l.ends_with("/anything"))
                    .count();
                (lines == r.per_url())
                    .then_some(())
                    .ok_or(format!("write-out: {:?}", r.stdout))
            },
        },
        Row {
            flag: "--device",
            args: &["--device", "@DEVICE"],
            items: &[],
            server: Server::Httpbin("/anything"),
            stdin: None,
            refused_in: &[Mode::Offline],
            refused_name: "--device",
            // The board made the request: its own agent reached the server.
            check: |r| {
                r.ok()?;
                r.each_request(|q| Run::header(q, "user-agent") == Some(support::board::USER_AGENT))
            },
        },
    ]
}

/// Flags outside the modes: they print something and exit (tested in cli.rs).
const META: [&str; 4] = ["--completions", "--man", "--help", "--version"];

/// The directory of the files rows use (made once: rows run in parallel and read them): up.txt
/// to upload ("uploaded\n"), and a .netrc with a login for 127.0.0.1 (it is every run's HOME).
fn upload_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mreq-flags-upload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("upload dir");
        std::fs::write(dir.join("up.txt"), "uploaded\n").expect("upload file");
        std::fs::write(
            dir.join(".netrc"),
            "machine 127.0.0.1 login nu password np\n",
        )
        .expect("netrc");
        let session = r#"{"headers": [["X-Saved", "yes"]], "cookies": "127.0.0.1\tFALSE\t/\tFALSE\t0\tsc\t7\n"}"#;
        std::fs::write(dir.join("session.json"), session).expect("session");
        dir
    })
    .clone()
}

fn upload_file() -> PathBuf {
    upload_dir().join("up.txt")
}

fn mreq_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mreq"))
}

/// The long flags `mreq --help` lists.
fn help_flags() -> Vec<String> {
    let out = Command::new(mreq_bin())
        .arg("--help")
        .output()
        .expect("mreq --help");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut flags: Vec<String> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .filter_map(|l| {
            let words: Vec<&str> = l.split([' ', ',', '=']).filter(|w| !w.is_empty()).collect();
            let long = words.iter().find(|w| w.starts_with("--") && w.len() > 2);
            // A flag with only a short name (curl's -F) is known by it.
            let short = words.first().filter(|w| w.len() == 2 && w.starts_with('-'));
            long.or(short)
                .map(|w| w.trim_end_matches(['[', '<']).to_string())
        })
        .collect();
    flags.dedup();
    flags
}

#[test]
fn every_flag_has_a_row() {
    let rows = rows();
    let known: Vec<&str> = rows.iter().map(|r| r.flag).chain(META).collect();
    let missing: Vec<String> = help_flags()
        .into_iter()
        .filter(|f| !known.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "flags without a row in the table: {missing:?}"
    );
}

/// The requests a run's output shows: echoed JSON documents, or offline-printed heads.
fn requests_seen(mode: Mode, stdout: &str, files: &[(String, Vec<u8>)]) -> Vec<Value> {
    if mode == Mode::Offline {
        let blocks: Vec<&str> = stdout.split("\r\n\r\n").collect();
        return blocks
            .iter()
            .enumerate()
            .filter_map(|(i, block)| {
                // A head's body is what follows it up to the blank line --print=B ends it with.
                let data = blocks
                    .get(i + 1)
                    .map(|next| next.split("\n\n").next().unwrap_or(""))
                    .filter(|next| !next.contains(" HTTP/1.1"))
                    .unwrap_or("");
                let mut lines = block.lines().skip_while(|l| !l.contains(" HTTP/1.1"));
                let first = lines.next()?;
                let (method, rest) = first.split_once(' ')?;
                let target = rest.split(' ').next().unwrap_or("");
                let headers: serde_json::Map<String, Value> = lines
                    .filter_map(|l| l.split_once(": "))
                    .map(|(n, v)| (n.to_string(), Value::String(v.to_string())))
                    .collect();
                Some(serde_json::json!({"method": method, "url": target, "headers": headers, "data": data}))
            })
            .filter(|r| {
                r["method"]
                    .as_str()
                    .is_some_and(|m| m.bytes().all(|b| b.is_ascii_uppercase()))
            })
            .collect();
    }
    let mut texts: Vec<String> = vec![stdout.to_string()];
    texts.extend(
        files
            .iter()
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned()),
    );
    let mut seen = Vec::new();
    for text in texts {
        let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
        while let Some(Ok(value)) = stream.next() {
            if value.get("method").is_some() && value.get("headers").is_some() {
                seen.push(value);
            }
        }
    }
    seen
}

fn run_row(row: &Row, mode: Mode, dir: &Path) -> Run {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("run dir");
    let server = nginx::nginx();
    let url = match row.server {
        Server::Httpbin(path) => support::httpbin().url(path),
        Server::NginxHttps(path) => server.https("localhost", path),
        Server::NginxHttp(path) => server.http(path),
        Server::NginxMtls(path) => server.https_port_url(server.mtls_port, "localhost", path),
        Server::Hostile(path) => support::hostile().url(&path.replace(
            "KEY",
            &format!("{}-{mode:?}", row.flag.trim_start_matches('-')),
        )),
        Server::Refused => "http://127.0.0.1:1/".to_string(),
        Server::HttpbinAs(name, path) => support::httpbin().url(path).replace("127.0.0.1", name),
    };
    let resolve = match row.server {
        Server::HttpbinAs(name, _) => {
            let authority = support::httpbin().authority();
            format!("{}:127.0.0.1", authority.replace("127.0.0.1", name))
        }
        _ => String::new(),
    };
    if row.flag == "--continue" || row.flag == "--continue-at" {
        // Something to resume: the first bytes under the name the mode saves to.
        let name = if mode.to_file() {
            "out.bin"
        } else {
            "hello.txt"
        };
        std::fs::write(dir.join(name), "hello ").expect("partial file");
    }
    let ca = server.ca_file();
    let device = format!("tcp:127.0.0.1:{}", support::board::fake_board());
    let mut args: Vec<String> = row
        .args
        .iter()
        .map(|a| match *a {
            "@CA" => ca.display().to_string(),
            "@RESOLVE" => resolve.clone(),
            "@SESSION" => upload_dir().join("session.json").display().to_string(),
            "@NGINX_SOCKET" => server.http_socket().display().to_string(),
            "@CLIENT_CERT" => server.client_cert().display().to_string(),
            "@CLIENT_KEY" => server.client_key().display().to_string(),
            "@NETRC" => upload_dir().join(".netrc").display().to_string(),
            "@PROXY" => format!("http://127.0.0.1:{}", proxies().http),
            "@PROXY_LOGIN" => format!("http://127.0.0.1:{}", proxies().http_auth),
            "@LOGIN" => format!("{}:{}", support::proxies::USER, support::proxies::PASSWORD),
            "@DEAD_PROXY" => "http://127.0.0.1:1".to_string(),

            "@DEVICE" => device.clone(),
            // "@UPLOAD" in a word is the upload file's path ("@@UPLOAD": @ and the path).
            other => other.replace("@UPLOAD", &upload_file().display().to_string()),
        })
        .collect();
    // The mode's own flag, unless the row is about that flag (given once, it is the mode).
    let given = |flag: &str| row.args.contains(&flag);
    match mode {
        Mode::Pipe | Mode::Several => {}
        Mode::File => args.extend(["-o".into(), "out.bin".into()]),
        Mode::Download if !given("--download") => args.push("--download".into()),
        Mode::Offline if !given("--offline") => args.push("--offline".into()),
        Mode::Download | Mode::Offline => {}
        Mode::Device | Mode::DeviceSeveral | Mode::DeviceFile => {
            if !given("--device") {
                args.extend(["--device".into(), device.clone()]);
            }
            if mode == Mode::DeviceFile {
                args.extend(["-o".into(), "out.bin".into()]);
            }
        }
    }
    let urls = if mode.several() { 2 } else { 1 };
    for _ in 0..urls {
        args.push(url.clone());
        args.extend(row.items.iter().map(|i| i.to_string()));
    }
    let mut child = Command::new(mreq_bin())
        .current_dir(dir)
        .env("HOME", upload_dir())
        .args(&args)
        .stdin(if row.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mreq");
    if let (Some(data), Some(mut stdin)) = (row.stdin, child.stdin.take()) {
        let _ = stdin.write_all(data);
    }
    let out = child.wait_with_output().expect("wait for mreq");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("list run dir")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            std::fs::read(e.path()).ok().map(|d| (name, d))
        })
        .collect();
    files.sort();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let seen = requests_seen(mode, &stdout, &files);
    Run {
        mode,
        code: out.status.code(),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        files,
        seen,
    }
}

#[test]
fn every_flag_in_every_mode_takes_effect_or_is_refused() {
    let base = std::env::temp_dir().join(format!("mreq-flags-{}", std::process::id()));
    let rows = rows();
    // Rows run four at a time (each in its own directories): many of them wait on purpose.
    let failures: Vec<String> = rows
        .chunks(4)
        .flat_map(|chunk| {
            std::thread::scope(|scope| {
                let runs: Vec<_> = chunk
                    .iter()
                    .map(|row| scope.spawn(|| row_failures(row, &base)))
                    .collect();
                runs.into_iter()
                    .flat_map(|run| run.join().unwrap_or_else(|_| vec!["a row panicked".into()]))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        failures.is_empty(),
        "{} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One row in every mode: what went wrong, by mode.
fn row_failures(row: &Row, base: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    for mode in MODES {
        let dir = base.join(format!("{}-{mode:?}", row.flag.trim_start_matches('-')));
        let run = run_row(row, mode, &dir);
        let verdict = if row.refused_in.contains(&mode) {
            if run.code == Some(2) && run.stderr.contains(row.refused_name) {
                Ok(())
            } else {
                Err(format!(
                    "should be refused naming {:?}: exit {:?}, {}",
                    row.refused_name, run.code, run.stderr
                ))
            }
        } else {
            (row.check)(&run)
        };
        if let Err(why) = verdict {
            failures.push(format!("{} in {mode:?}: {why}", row.flag));
        }
    }
    failures
}
