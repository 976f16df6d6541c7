//! The cookie engine against curl's: the same calls against httpbin must leave the same jar
//! (Netscape format, compared line by line with expiry times rounded) and send the same
//! cookies, and each tool reads the other's jar.

use mreq_test_support as support;
use support::run;
use support::temp_dir;

use std::path::Path;

fn mreq_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mreq")
}

/// A jar's cookie lines, sorted, expiry rounded to 10 s (the two runs are moments apart).
fn entries(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && (!l.starts_with('#') || l.starts_with("#HttpOnly_")))
        .map(|line| {
            let mut fields: Vec<String> = line.split('\t').map(str::to_string).collect();
            if let Some(expiry) = fields.get_mut(4) {
                let secs: i64 = expiry.parse().unwrap_or(-1);
                *expiry = if secs == 0 {
                    "0".into()
                } else {
                    (secs / 10).to_string()
                };
            }
            fields.join("\t")
        })
        .collect();
    lines.sort();
    lines
}

fn set_cookie(value: &str) -> String {
    support::httpbin().url(&format!(
        "/response-headers?Set-Cookie={}",
        mreq_core::form::quote_string(value, "")
    ))
}

#[test]
fn jars_and_sent_cookies_match_curls() {
    let dir = temp_dir("cookies");
    let bin = |p: &str| support::httpbin().url(p);
    // Each scenario: calls made in turn with the same jar (`JAR` in the words).
    let scenarios: Vec<Vec<Vec<String>>> = vec![
        vec![vec![
            "-L".into(),
            "-c".into(),
            "JAR".into(),
            bin("/cookies/set?a=1&b=two"),
        ]],
        vec![
            vec![
                "-c".into(),
                "JAR".into(),
                set_cookie("p=1; Max-Age=3600; Path=/x; HttpOnly"),
            ],
            vec![
                "-b".into(),
                "JAR".into(),
                "-c".into(),
                "JAR".into(),
                set_cookie("q=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT"),
            ],
            // Max-Age=0 deletes a cookie that the jar holds.
            vec![
                "-b".into(),
                "JAR".into(),
                "-c".into(),
                "JAR".into(),
                set_cookie("q=gone; Max-Age=0"),
            ],
            vec![
                "-b".into(),
                "JAR".into(),
                "-c".into(),
                "JAR".into(),
                bin("/cookies"),
            ],
        ],
        vec![
            vec![
                "-c".into(),
                "JAR".into(),
                "-L".into(),
                bin("/cookies/set?s=1"),
            ],
            // Cookies are per host: 127.0.0.1's are not sent to localhost.
            vec![
                "-b".into(),
                "JAR".into(),
                bin("/cookies").replace("127.0.0.1", "localhost"),
            ],
            vec![
                "-b".into(),
                "JAR".into(),
                "-b".into(),
                "JAR".into(),
                bin("/cookies"),
            ],
        ],
        vec![
            // -b text and a jar: both are sent.
            vec![
                "-b".into(),
                "t=9".into(),
                "-c".into(),
                "JAR".into(),
                "-L".into(),
                bin("/cookies/set?u=1"),
            ],
            vec!["-b".into(), "t=9; w=8".into(), bin("/cookies")],
        ],
    ];
    let mut wrong = Vec::new();
    for (n, calls) in scenarios.iter().enumerate() {
        let mut outputs: Vec<Vec<String>> = Vec::new();
        for client in ["curl", mreq_bin()] {
            let jar = dir.join(format!(
                "jar-{n}-{}",
                if client == "curl" { "curl" } else { "mreq" }
            ));
            let mut seen = Vec::new();
            for call in calls {
                let mut words = vec!["-s".to_string()];
                words.extend(
                    call.iter()
                        .map(|w| w.replace("JAR", &jar.display().to_string())),
                );
                let out = run(client, &words);
                seen.push(format!(
                    "exit {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout)
                ));
            }
            seen.extend(entries(&jar));
            outputs.push(seen);
        }
        if outputs[0] != outputs[1] {
            wrong.push(format!(
                "scenario {n}:\n  curl {:?}\n  mreq {:?}",
                outputs[0], outputs[1]
            ));
        }
    }
    // Each reads the other's jar and sends the same cookies.
    let (curl_jar, mreq_jar) = (dir.join("jar-1-curl"), dir.join("jar-1-mreq"));
    for (reader, jar) in [(mreq_bin(), &curl_jar), ("curl", &mreq_jar)] {
        let words = vec![
            "-s".into(),
            "-b".into(),
            jar.display().to_string(),
            bin("/x/cookies"),
        ];
        let out = String::from_utf8_lossy(&run(reader, &words).stdout).into_owned();
        let direct = run(
            "curl",
            &[
                "-s".into(),
                "-b".into(),
                curl_jar.display().to_string(),
                bin("/x/cookies"),
            ],
        );
        if out != String::from_utf8_lossy(&direct.stdout) {
            wrong.push(format!("{reader} reading {}: {out}", jar.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_jar_is_private_and_a_bad_one_is_named() {
    let dir = temp_dir("cookies-private");
    let jar = dir.join("jar");
    let url = support::httpbin().url("/cookies/set?a=1");
    let out = run(
        mreq_bin(),
        &[
            "-s".into(),
            "-c".into(),
            jar.display().to_string(),
            url.clone(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&jar).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let unwritable = run(
        mreq_bin(),
        &["-sS".into(), "-c".into(), "/no/such/dir/jar".into(), url],
    );
    assert_eq!(unwritable.status.code(), Some(23));
    assert!(String::from_utf8_lossy(&unwritable.stderr).contains("/no/such/dir/jar"));
}
