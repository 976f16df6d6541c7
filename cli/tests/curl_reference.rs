//! curl is the reference for curl's flags: each case runs the same words through curl and mreq
//! against httpbin, and the request httpbin saw (method, URL, query, form, files, body, the
//! headers the flags set), the exit code and what reached stdout must be the same.

use mreq_test_support as support;
use support::run;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

/// A case: the words after the program name; `@DIR` is a directory holding `crlf.txt`
/// ("a=1\r\nb=2\n"), `up.txt` ("uploaded\n") and `headers.txt`. `URL` is httpbin's base.
struct Case {
    words: &'static [&'static str],
    compare: Compare,
}

/// What must be the same besides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// The request httpbin echoed.
    Echo,
    /// The status line, the body after the head, whether stderr is empty.
    Shape,
    /// stdout byte for byte.
    Exact,
}

/// `-w` variables whose values both clients must agree on (times differ by nature, and
/// local_port by the kernel's choice).
const WRITE_OUT: &str = "%{http_code} %{response_code} %{url_effective} %{num_redirects} %{size_header} %{size_request} %{size_download} %{size_upload} %{content_type} %{remote_ip} %{remote_port} %{exitcode} %{filename_effective} %{num_connects} %{method} %{scheme} %{http_version} %{redirect_url} %header{content-length}|\\n%%\n";

const CASES: &[Case] = &[
    Case {
        words: &[
            "-A",
            "a",
            "-w",
            "@WRITE_OUT",
            "-o",
            "/dev/null",
            "URL/bytes/1000",
        ],
        compare: Compare::Exact,
    },
    Case {
        words: &[
            "-A",
            "a",
            "-w",
            "@WRITE_OUT",
            "-sL",
            "-o",
            "@DIR/saved",
            "URL/redirect/3",
        ],
        compare: Compare::Exact,
    },
    Case {
        words: &[
            "-A",
            "a",
            "-w",
            "@WRITE_OUT",
            "-s",
            // To stdout mreq asks for compression: --compressed makes curl ask too (the same
            // 23 bytes of Accept-Encoding), so size_request compares.
            "--compressed",
            "URL/redirect-to?url=/x%3Fa=1",
        ],
        compare: Compare::Exact,
    },
    Case {
        words: &[
            "-A",
            "a",
            "-w",
            "@WRITE_OUT",
            "-s",
            "-d",
            "k=v",
            "-o",
            "/dev/null",
            "URL/post",
        ],
        compare: Compare::Exact,
    },
    Case {
        words: &[
            "-A",
            "a",
            "-w",
            "@WRITE_OUT",
            "-sf",
            "--compressed",
            "URL/status/503",
        ],
        compare: Compare::Exact,
    },
    Case {
        words: &[
            "-w",
            "%{http_code} %{exitcode} %{remote_ip}:%{remote_port} %{size_download}",
            "-s",
            "http://127.0.0.1:1/",
        ],
        compare: Compare::Exact,
    },
    Case {
        words: &[
            "-w",
            "%{http_code} %{exitcode}",
            "-s",
            "-m",
            "0.5",
            "URL/delay/3",
        ],
        compare: Compare::Exact,
    },
    // -m bounds the whole transfer: a body dripping a byte every 0.2 s never trips --timeout.
    Case {
        words: &[
            "-w",
            "%{http_code} %{exitcode}",
            "-s",
            "-o",
            "/dev/null",
            "-m",
            "1",
            "URL/drip?duration=4&numbytes=20&delay=0",
        ],
        compare: Compare::Exact,
    },
    Case {
        words: &["-d", "a=1", "-d", "b=2", "URL/anything"],
        compare: Compare::Echo,
    },
    Case {
        words: &["-d", "@@DIR/crlf.txt", "URL/anything"],
        compare: Compare::Echo,
    },
    Case {
        words: &["--data-binary", "@@DIR/crlf.txt", "URL/anything"],
        compare: Compare::Echo,
    },
    Case {
        words: &["--data-raw", "@x", "-d", "y=1", "URL/anything"],
        compare: Compare::Echo,
    },
    Case {
        words: &[
            "--data-urlencode",
            "k=a b&c/é",
            "--data-urlencode",
            "=x=y",
            "--data-urlencode",
            "plain text",
            "--data-urlencode",
            "f@@DIR/crlf.txt",
            "URL/anything",
        ],
        compare: Compare::Echo,
    },
    Case {
        words: &[
            "-G",
            "-d",
            "a=1",
            "--data-urlencode",
            "b=x y",
            "URL/anything?z=0",
        ],
        compare: Compare::Echo,
    },
    Case {
        words: &[
            "-F",
            "a=b c",
            "-F",
            "up=@@DIR/up.txt;type=text/x-up",
            "-F",
            "n=<@DIR/crlf.txt",
            "--form-string",
            "l=@x;type=y",
            "-F",
            "semi=\"a;b\"",
            "-F",
            "q=\"x\\\"y\";type=text/x",
            "URL/anything",
        ],
        compare: Compare::Echo,
    },
    Case {
        words: &["-F", "up=@@DIR/up.txt;filename=other.bin", "URL/anything"],
        compare: Compare::Echo,
    },
    Case {
        words: &["-T", "@DIR/up.txt", "URL/anything/"],
        compare: Compare::Echo,
    },
    Case {
        words: &["-T", "@DIR/up.txt", "-X", "POST", "URL/anything/put/here"],
        compare: Compare::Echo,
    },
    Case {
        words: &[
            "-A",
            "agent/1",
            "-e",
            "http://ref.example/",
            "-H",
            "@@DIR/headers.txt",
            "URL/anything",
        ],
        compare: Compare::Echo,
    },
    Case {
        words: &["-X", "PATCH", "-d", "x", "URL/anything"],
        compare: Compare::Echo,
    },
    Case {
        words: &["-s", "--netrc-file", "@DIR/netrc", "URL/basic-auth/u/p%20w"],
        compare: Compare::Shape,
    },
    Case {
        words: &[
            "-s",
            "--netrc-file",
            "@DIR/netrc",
            "-u",
            "u:bad",
            "URL/basic-auth/u/p%20w",
        ],
        compare: Compare::Shape,
    },
    Case {
        words: &["-f", "URL/status/404"],
        compare: Compare::Shape,
    },
    Case {
        words: &["-f", "-i", "URL/status/404"],
        compare: Compare::Shape,
    },
    Case {
        words: &["--fail-with-body", "URL/status/418"],
        compare: Compare::Shape,
    },
    Case {
        words: &["-fsSL", "URL/redirect-to?url=/base64/aGk="],
        compare: Compare::Shape,
    },
    Case {
        words: &["-fsSL", "URL/redirect-to?url=/status/404"],
        compare: Compare::Shape,
    },
    Case {
        words: &["-s", "http://127.0.0.1:1/"],
        compare: Compare::Shape,
    },
];

fn files() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mreq-curlref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("crlf.txt"), "a=1\r\nb=2\n").expect("crlf.txt");
    std::fs::write(dir.join("up.txt"), "uploaded\n").expect("up.txt");
    std::fs::write(dir.join("headers.txt"), "X-One: 1\r\nX-Two: two\n\n").expect("headers");
    std::fs::write(
        dir.join("netrc"),
        "machine other.example login x password y\nmachine 127.0.0.1\n login u\n password \"p w\"\n",
    )
    .expect("netrc");
    dir
}

/// What the flags decide in httpbin's echo; headers each client sets itself are left out.
fn request_of(out: &Output) -> Value {
    let echo: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let header = |name: &str| -> Value {
        let value = echo["headers"][name].as_str().map(|v| match name {
            // The boundary is each client's own.
            "Content-Type" => v.split("; boundary=").next().unwrap_or(v).to_string(),
            _ => v.to_string(),
        });
        value.map(Value::String).unwrap_or(Value::Null)
    };
    // A multipart body's length depends on the boundary's, each client's own.
    let multipart = header("Content-Type") == "multipart/form-data";
    let headers: serde_json::Map<String, Value> = [
        "Content-Type",
        if multipart {
            "Content-Type"
        } else {
            "Content-Length"
        },
        "Referer",
        "X-One",
        "X-Two",
    ]
    .iter()
    .map(|n| (n.to_string(), header(n)))
    .collect();
    serde_json::json!({
        "method": echo["method"],
        "url": echo["url"],
        "args": echo["args"],
        "form": echo["form"],
        "files": echo["files"],
        "data": echo["data"],
        "headers": headers,
        "agent_given": echo["headers"]["User-Agent"] == "agent/1",
    })
}

#[test]
fn curl_flags_make_the_request_curl_makes() {
    let dir = files();
    let base = support::httpbin().url("");
    let base = base.trim_end_matches('/');
    let mut differences = Vec::new();
    for case in CASES {
        let words: Vec<String> = case
            .words
            .iter()
            .map(|w| {
                w.replace("@WRITE_OUT", WRITE_OUT)
                    .replace("@DIR", &dir.display().to_string())
                    .replace("URL", base)
            })
            .collect();
        let curl = run("curl", &words);
        let mine = run(env!("CARGO_BIN_EXE_mreq"), &words);
        let mut differs = Vec::new();
        if curl.status.code() != mine.status.code() {
            differs.push(format!(
                "exit {:?} (curl {:?})",
                mine.status.code(),
                curl.status.code()
            ));
        }
        if case.compare == Compare::Exact {
            if curl.stdout != mine.stdout {
                differs.push(format!(
                    "stdout\n  curl {:?}\n  mreq {:?}",
                    String::from_utf8_lossy(&curl.stdout),
                    String::from_utf8_lossy(&mine.stdout)
                ));
            }
        } else if case.compare == Compare::Echo {
            let (theirs, ours) = (request_of(&curl), request_of(&mine));
            if theirs != ours {
                differs.push(format!("request\n  curl {theirs}\n  mreq {ours}"));
            }
        } else {
            // Heads differ in Date; compare the status line and the body.
            let shape = |o: &Output| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                let first = text.lines().next().unwrap_or("").to_string();
                let body = text.split("\r\n\r\n").last().unwrap_or("").to_string();
                (first, body, o.stderr.is_empty())
            };
            if shape(&curl) != shape(&mine) {
                differs.push(format!(
                    "output {:?} (curl {:?})",
                    shape(&mine),
                    shape(&curl)
                ));
            }
        }
        if !differs.is_empty() {
            differences.push(format!("{:?}: {}", case.words, differs.join("; ")));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        differences.is_empty(),
        "mreq differs from curl:\n{}",
        differences.join("\n")
    );
}

/// `--retry` against a server that fails a set number of times (`/flaky/KEY/N/STATUS`): curl
/// and mreq must make as many attempts, end with the same body and exit alike. Each client has
/// its own KEY, so the server counts each one's attempts.
#[test]
fn retries_are_made_as_curl_makes_them() {
    let cases: &[&[&str]] = &[
        &["--retry", "2", "--retry-delay", "0", "URL/flaky/KEY/1/503"],
        &["--retry", "1", "--retry-delay", "0", "URL/flaky/KEY/5/503"],
        &[
            "-f",
            "--retry",
            "1",
            "--retry-delay",
            "0",
            "URL/flaky/KEY/5/500",
        ],
        &["--retry", "3", "URL/flaky/KEY/2/429/0"],
        &["--retry", "1", "--retry-delay", "0", "URL/flaky/KEY/1/404"],
        &[
            "-f",
            "--retry",
            "2",
            "--retry-delay",
            "0",
            "--retry-all-errors",
            "URL/flaky/KEY/1/404",
        ],
        &["--retry", "1", "--retry-delay", "0", "URL/flaky/KEY/1/408"],
        &["--retry", "0", "URL/flaky/KEY/1/503"],
        // The first wait (1 s) would reach --retry-max-time: one attempt, its body delivered.
        &[
            "--retry",
            "3",
            "--retry-max-time",
            "1",
            "URL/flaky/KEY/5/503",
        ],
    ];
    let server = support::hostile();
    let mut differences = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut seen = Vec::new();
        for (client, program) in [("curl", "curl"), ("mreq", env!("CARGO_BIN_EXE_mreq"))] {
            let key = format!("{client}-{i}");
            let words: Vec<String> = std::iter::once("-s".to_string())
                .chain(
                    case.iter()
                        .map(|w| w.replace("URL", &server.url("")).replace("KEY", &key)),
                )
                .collect();
            let out = run(program, &words);
            let count = run("curl", &[server.url(&format!("/flaky/{key}/count"))]);
            seen.push((
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&count.stdout).into_owned(),
            ));
        }
        // One deliberate difference: curl also writes each retried response's body to stdout
        // ("failure 1ok after 2"); mreq delivers only the last response, so its output is the
        // end of curl's.
        let (curl, mine) = (&seen[0], &seen[1]);
        if curl.0 != mine.0
            || curl.2 != mine.2
            || !curl.1.ends_with(&mine.1)
            || (mine.1.is_empty() && !curl.1.is_empty())
        {
            differences.push(format!(
                "{case:?}: (exit, stdout, attempts) curl {:?}, mreq {:?}",
                seen[0], seen[1]
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "mreq retries differently:\n{}",
        differences.join("\n")
    );
}

/// `%{time_redirect}`: 0 without redirects, and within the transfer's time with them (times are
/// not compared with curl's: they are measured, not computed).
#[test]
fn time_redirect_is_measured() {
    let format = "%{time_redirect} %{time_total} %{num_redirects}";
    for (path, redirects) in [("/get", "0"), ("/redirect/2", "2")] {
        let url = support::httpbin().url(path);
        let words = ["-sL", "-o", "/dev/null", "-w", format, &url];
        let out = run(env!("CARGO_BIN_EXE_mreq"), &words);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let fields: Vec<&str> = text.split(' ').collect();
        let (redirect, total): (f64, f64) = (
            fields[0].parse().expect("time_redirect"),
            fields[1].parse().expect("time_total"),
        );
        assert_eq!(fields[2], redirects, "{text}");
        if redirects == "0" {
            assert_eq!(fields[0], "0.000000", "{text}");
        } else {
            assert!(redirect > 0.0 && redirect <= total, "{text}");
        }
    }
}

/// `--cacert FILE` replaces the default trust store in curl: a server the default store trusts
/// is refused (exit 60) when the file holds another CA. Each client's default store is pointed at
/// the test CA by its own variable (curl: CURL_CA_BUNDLE; mreq's system store: SSL_CERT_FILE).
#[test]
fn cacert_replaces_the_default_store_as_in_curl() {
    let nginx = support::nginx::nginx();
    let url = nginx.https("localhost", "/hello.txt");
    let ca = nginx.ca_file();
    let other = nginx.self_signed_file();
    let run_with = |program: &str, var: &str, words: &[String]| {
        std::process::Command::new(program)
            .args(words)
            .env(var, &ca)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run")
            .status
            .code()
    };
    let cases: Vec<Vec<String>> = vec![
        vec!["-s".into(), "-o".into(), "/dev/null".into(), url.clone()],
        vec![
            "-s".into(),
            "-o".into(),
            "/dev/null".into(),
            "--cacert".into(),
            other.display().to_string(),
            url.clone(),
        ],
        vec![
            "-s".into(),
            "-o".into(),
            "/dev/null".into(),
            "--cacert".into(),
            ca.display().to_string(),
            url.clone(),
        ],
    ];
    let mut seen = Vec::new();
    for words in &cases {
        let curl = run_with("curl", "CURL_CA_BUNDLE", words);
        let mine = run_with(env!("CARGO_BIN_EXE_mreq"), "SSL_CERT_FILE", words);
        seen.push((curl, mine));
    }
    // The reference must show the cases apart, or the comparison proves nothing.
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        [Some(0), Some(60), Some(0)],
        "curl's exit codes"
    );
    for (words, (curl, mine)) in cases.iter().zip(&seen) {
        assert_eq!(curl, mine, "{words:?}: mreq exit {mine:?}, curl {curl:?}");
    }
}

/// Where curl fails on a response of the conformance corpus, mreq fails with the same exit code,
/// but for these, whose curl codes name curl's own internals: (case, curl's code, why ours).
const CURL_FAILURE_DIFFERENCES: &[(&str, i32, &str)] = &[
    (
        "bad-status",
        1,
        "curl: HTTP/0.9 not allowed; ours: 8, a malformed status line",
    ),
    ("garbage", 1, "the same"),
    (
        "chunk-0x",
        43,
        "curl: an internal bad argument; ours: 56, broken chunk framing",
    ),
    (
        "chunk-bad-trailer",
        43,
        "curl: an internal bad argument; ours: 8, a bad header line",
    ),
];

#[test]
fn corpus_failures_exit_as_curl_exits() {
    let mut differences = Vec::new();
    for case in support::conformance::responses() {
        let url = support::hostile().url(&format!("/raw/{}", case.name));
        let words = ["-s", "-o", "/dev/null", url.as_str()];
        let curl = run("curl", &words).status.code();
        let mine = run(env!("CARGO_BIN_EXE_mreq"), &words).status.code();
        let known = CURL_FAILURE_DIFFERENCES
            .iter()
            .any(|(name, code, _)| *name == case.name && curl == Some(*code));
        // curl accepting what the corpus refuses is the corpus' decision (see its notes).
        if curl != Some(0) && curl != mine && !known {
            differences.push(format!("{}: curl {curl:?}, mreq {mine:?}", case.name));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
