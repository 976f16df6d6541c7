//! Proxies, through Debian's tinyproxy (HTTP forwarding and CONNECT) and microsocks (SOCKS5)
//! on 127.0.0.1, each also with a login. Each case runs the same words through curl, the
//! reference: same exit code, and when it succeeds the same answer. A proxy that wants a login
//! proves the request went through it (without the login it fails, with it it works).

use mreq_test_support as support;
use support::nginx;
use support::proxies::{self, PASSWORD, USER};

use std::process::{Command, Output, Stdio};

/// Runs `program` with `words` and only these proxy variables in its environment.
fn run(program: &str, words: &[String], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(program);
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        command.env_remove(var);
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(words)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

struct Case {
    words: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// The exit code both must give.
    code: i32,
    /// Text the output must hold when it succeeds.
    holds: &'static str,
}

fn case(words: &[&str], env: &[(&'static str, String)], code: i32, holds: &'static str) -> Case {
    Case {
        words: words.iter().map(|w| w.to_string()).collect(),
        env: env.to_vec(),
        code,
        holds,
    }
}

#[test]
fn proxies_are_used_as_curl_uses_them() {
    let p = proxies::proxies();
    let server = nginx::nginx();
    let ca = server.ca_file().display().to_string();
    let http_url = support::httpbin().url("/get?via=proxy");
    let https_url = server.https("localhost", "/hello.txt");
    let login = format!("{USER}:{PASSWORD}");
    let open = format!("http://127.0.0.1:{}", p.http);
    let auth = format!("http://127.0.0.1:{}", p.http_auth);
    let socks = format!("socks5://127.0.0.1:{}", p.socks);
    let socks_h = format!("socks5h://127.0.0.1:{}", p.socks);
    let socks_auth = format!("socks5://127.0.0.1:{}", p.socks_auth);
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let cases = [
        // HTTP forwarding and CONNECT, open and with a login.
        case(&["-x", &open, &http_url], &[], 0, "via=proxy"),
        case(
            &["-x", &open, "--cacert", &ca, &https_url],
            &[],
            0,
            "hello over tls",
        ),
        case(&["-x", &auth, &http_url], &[], 0, ""),
        case(&["-x", &auth, "-U", &login, &http_url], &[], 0, "via=proxy"),
        case(&["-x", &auth, "--cacert", &ca, &https_url], &[], 56, ""),
        case(
            &["-x", &auth, "-U", &login, "--cacert", &ca, &https_url],
            &[],
            0,
            "hello over tls",
        ),
        case(
            &["-x", &auth, "-U", &login, "-p", &http_url],
            &[],
            0,
            "via=proxy",
        ),
        case(&["-x", &auth, "-p", &http_url], &[], 56, ""),
        // SOCKS5, the name resolved here or by the proxy, and with a login.
        case(&["-x", &socks, &http_url], &[], 0, "via=proxy"),
        case(
            &["-x", &socks_h, "--cacert", &ca, &https_url],
            &[],
            0,
            "hello over tls",
        ),
        case(&["-x", &socks_auth, &http_url], &[], 97, ""),
        case(
            &["-x", &socks_auth, "-U", &login, &http_url],
            &[],
            0,
            "via=proxy",
        ),
        // A proxy that is not there, by port and by name.
        case(&["-x", &dead, &http_url], &[], 7, ""),
        case(
            &["-x", "http://no-such-proxy.invalid:3128", &http_url],
            &[],
            5,
            "",
        ),
        // The environment: http_proxy in lower case only; https_proxy; all_proxy; no_proxy.
        case(&[&http_url], &[("http_proxy", dead.clone())], 7, ""),
        case(
            &[&http_url],
            &[("HTTP_PROXY", dead.clone())],
            0,
            "via=proxy",
        ),
        case(
            &["--cacert", &ca, &https_url],
            &[("https_proxy", dead.clone())],
            7,
            "",
        ),
        case(
            &["--cacert", &ca, &https_url],
            &[("HTTPS_PROXY", auth.clone())],
            56,
            "",
        ),
        case(&[&http_url], &[("all_proxy", socks_auth.clone())], 97, ""),
        case(
            &[&http_url],
            &[
                ("http_proxy", dead.clone()),
                ("no_proxy", "localhost,127.0.0.1".into()),
            ],
            0,
            "via=proxy",
        ),
        case(
            &["--noproxy", "*", &http_url],
            &[("http_proxy", dead.clone())],
            0,
            "via=proxy",
        ),
        case(
            &["-x", "", &http_url],
            &[("http_proxy", dead.clone())],
            0,
            "via=proxy",
        ),
    ];
    let mut wrong = Vec::new();
    for case in &cases {
        let mut words = vec!["-s".to_string()];
        words.extend(case.words.iter().cloned());
        let curl = run("curl", &words, &case.env);
        let mine = run(env!("CARGO_BIN_EXE_mreq"), &words, &case.env);
        let (text, curl_text) = (
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&curl.stdout),
        );
        if mine.status.code() != Some(case.code) || curl.status.code() != Some(case.code) {
            wrong.push(format!(
                "{:?} {:?}: exit {:?} (curl {:?}, wanted {}): {}",
                case.words,
                case.env,
                mine.status.code(),
                curl.status.code(),
                case.code,
                String::from_utf8_lossy(&mine.stderr)
            ));
        } else if !text.contains(case.holds) || !curl_text.contains(case.holds) {
            wrong.push(format!(
                "{:?}: output {text:?} (curl {curl_text:?})",
                case.words
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn proxy_errors_say_what_failed() {
    let p = proxies::proxies();
    let url = support::httpbin().url("/get");
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let auth = format!("127.0.0.1:{}", p.http_auth);
    let refused = run(
        env!("CARGO_BIN_EXE_mreq"),
        &words(&["-x", &auth, "-p", &url]),
        &[],
    );
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("407") && message.contains("-U"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
    let unknown = run(
        env!("CARGO_BIN_EXE_mreq"),
        &words(&["-x", "ftp://p", &url]),
        &[],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("ftp://"));
}
