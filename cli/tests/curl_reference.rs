//! curl is the reference for curl's flags: each case runs the same words through curl and mreq
//! against httpbin, and the request httpbin saw (method, URL, query, form, files, body, the
//! headers the flags set), the exit code and what reached stdout must be the same.

use mreq_test_support as support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A case: the words after the program name; `@DIR` is a directory holding `crlf.txt`
/// ("a=1\r\nb=2\n"), `up.txt` ("uploaded\n") and `headers.txt`. `URL` is httpbin's base.
struct Case {
    words: &'static [&'static str],
    /// Compare httpbin's echo (else only exit code and stdout).
    echo: bool,
}

const CASES: &[Case] = &[
    Case {
        words: &["-d", "a=1", "-d", "b=2", "URL/anything"],
        echo: true,
    },
    Case {
        words: &["-d", "@@DIR/crlf.txt", "URL/anything"],
        echo: true,
    },
    Case {
        words: &["--data-binary", "@@DIR/crlf.txt", "URL/anything"],
        echo: true,
    },
    Case {
        words: &["--data-raw", "@x", "-d", "y=1", "URL/anything"],
        echo: true,
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
        echo: true,
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
        echo: true,
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
        echo: true,
    },
    Case {
        words: &["-F", "up=@@DIR/up.txt;filename=other.bin", "URL/anything"],
        echo: true,
    },
    Case {
        words: &["-T", "@DIR/up.txt", "URL/anything/"],
        echo: true,
    },
    Case {
        words: &["-T", "@DIR/up.txt", "-X", "POST", "URL/anything/put/here"],
        echo: true,
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
        echo: true,
    },
    Case {
        words: &["-X", "PATCH", "-d", "x", "URL/anything"],
        echo: true,
    },
    Case {
        words: &["-f", "URL/status/404"],
        echo: false,
    },
    Case {
        words: &["-f", "-i", "URL/status/404"],
        echo: false,
    },
    Case {
        words: &["--fail-with-body", "URL/status/418"],
        echo: false,
    },
    Case {
        words: &["-fsSL", "URL/redirect-to?url=/base64/aGk="],
        echo: false,
    },
    Case {
        words: &["-fsSL", "URL/redirect-to?url=/status/404"],
        echo: false,
    },
    Case {
        words: &["-s", "http://127.0.0.1:1/"],
        echo: false,
    },
];

fn files() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mreq-curlref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("crlf.txt"), "a=1\r\nb=2\n").expect("crlf.txt");
    std::fs::write(dir.join("up.txt"), "uploaded\n").expect("up.txt");
    std::fs::write(dir.join("headers.txt"), "X-One: 1\r\nX-Two: two\n\n").expect("headers");
    dir
}

fn run(program: &str, words: &[String]) -> Output {
    Command::new(program)
        .args(words)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
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
                w.replace("@DIR", &dir.display().to_string())
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
        if case.echo {
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
