//! Compressed bodies: decoded on the way to stdout (and with --compressed into files), saved as
//! sent otherwise; a corrupt or cut one is exit 61 and never looks complete. curl --compressed
//! is the reference for what the bytes decode to and for the exit codes.

use mreq_test_support as support;
use support::run;
use support::{nginx, temp_dir};

use sha2::{Digest, Sha256};
use std::process::{Command, Output, Stdio};

fn mreq(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_mreq"), args)
}

fn sha(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

const CODINGS: [&str; 7] = [
    "gzip",
    "deflate",
    "rawdeflate",
    "zstd",
    "gzip+zstd",
    "zstd+deflate",
    "gzip+gzip",
];

#[test]
fn every_coding_decodes_to_the_original_bytes_as_curl_does() {
    let server = support::hostile();
    let dir = temp_dir("decoding");
    let mut wrong = Vec::new();
    for coding in CODINGS {
        for len in [0usize, 1, 70_000, 1_048_583] {
            let url = server.url(&format!("/encoded/{coding}/{len}"));
            let want = sha(&support::pattern(len));
            let piped = mreq(&[&url]);
            if piped.status.code() != Some(0) || sha(&piped.stdout) != want {
                wrong.push(format!(
                    "{coding} {len} to stdout: exit {:?}, {} bytes: {}",
                    piped.status.code(),
                    piped.stdout.len(),
                    String::from_utf8_lossy(&piped.stderr)
                ));
            }
            // curl decodes stacked codings the same way (it is the reference for rawdeflate too).
            let curl = run("curl", &["-s", "--compressed", &url]);
            if curl.stdout != piped.stdout {
                wrong.push(format!("{coding} {len}: curl --compressed differs"));
            }
            let decoded = dir.join(format!("{coding}-{len}.dec"));
            let out = mreq(&["--compressed", "-o", decoded.to_str().unwrap(), &url]);
            let saved = std::fs::read(&decoded).unwrap_or_default();
            if out.status.code() != Some(0) || sha(&saved) != want {
                wrong.push(format!(
                    "{coding} {len} --compressed -o: exit {:?}",
                    out.status.code()
                ));
            }
            // Without --compressed a file gets the bytes as sent, as curl saves them.
            let (raw, curl_raw) = (dir.join("raw"), dir.join("curl-raw"));
            mreq(&["-o", raw.to_str().unwrap(), &url]);
            run("curl", &["-s", "-o", curl_raw.to_str().unwrap(), &url]);
            if std::fs::read(&raw).ok() != std::fs::read(&curl_raw).ok() {
                wrong.push(format!("{coding} {len} -o: not the bytes curl saved"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn corrupt_and_cut_bodies_are_errors_never_short_bodies() {
    let server = support::hostile();
    let dir = temp_dir("decoding-bad");
    let mut wrong = Vec::new();
    for coding in ["gzip", "deflate", "zstd", "gzip+zstd"] {
        for damage in ["cut", "corrupt"] {
            let url = server.url(&format!("/encoded/{coding}/200000/{damage}"));
            let out = mreq(&[&url]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(61) || !stderr.contains(&server.authority()) {
                wrong.push(format!(
                    "{coding} {damage}: exit {:?}: {stderr}",
                    out.status.code()
                ));
            }
            // curl 7.88 exits 0 on these (it checks neither gzip's CRC and length nor that
            // the stream ended), so CPython's zlib is the reference: it refuses each of them.
            if let Some(refused) = python_refuses(coding, &run("curl", &["-s", &url]).stdout) {
                if !refused {
                    wrong.push(format!("{coding} {damage}: CPython decodes it"));
                }
            }
            // A damaged download never gets its final name.
            let file = dir.join(format!("{coding}-{damage}"));
            let saved = mreq(&["--compressed", "-o", file.to_str().unwrap(), &url]);
            if saved.status.code() != Some(61) || file.exists() {
                wrong.push(format!(
                    "{coding} {damage} -o: exit {:?}, file left: {}",
                    saved.status.code(),
                    file.exists()
                ));
            }
        }
    }
    let unknown = mreq(&[&server.url("/encoded/snappy/10")]);
    assert_eq!(unknown.status.code(), Some(61));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("snappy"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Whether CPython's gzip/zlib refuse this body (`None`: a coding it has no decoder for).
fn python_refuses(coding: &str, body: &[u8]) -> Option<bool> {
    let code = match coding {
        "gzip" => "import gzip,sys; gzip.decompress(sys.stdin.buffer.read())",
        "deflate" => "import zlib,sys; d=zlib.decompressobj(); d.decompress(sys.stdin.buffer.read()); sys.exit(0 if d.eof else 1)",
        _ => return None,
    };
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", code])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), body).expect("feed");
    Some(!child.wait().expect("python3").success())
}

#[test]
fn httpbin_and_nginx_compress_and_mreq_decodes() {
    for (path, flag) in [
        ("/gzip", "gzipped"),
        ("/deflate", "deflated"),
        ("/brotli", "brotli"),
    ] {
        let out = mreq(&[&support::httpbin().url(path)]);
        assert_eq!(out.status.code(), Some(0), "{path}");
        let body: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{path}: {e}: {:?}", out.stdout));
        assert_eq!(body[flag], true, "{path}");
        assert_eq!(
            body["headers"]["Accept-Encoding"], "gzip, deflate, br, zstd",
            "{path}: what mreq asks for"
        );
    }
    let server = nginx::nginx();
    let url = server.http(&format!("/gz/{}", nginx::GZ_FILE));
    let want = sha(&support::noise(nginx::GZ_LEN));
    let piped = mreq(&["-i", &url]);
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(
        text.contains("Content-Encoding: gzip"),
        "nginx compressed it"
    );
    let body_at = piped
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    assert_eq!(sha(&piped.stdout[body_at..]), want);
    // A file without --compressed: nothing asked, the bytes as they are on disk.
    let dir = temp_dir("decoding-nginx");
    let plain = dir.join("plain");
    mreq(&["-o", plain.to_str().unwrap(), &url]);
    assert_eq!(sha(&std::fs::read(&plain).unwrap()), want);
    // Asked for gzip by hand, the gzip bytes are kept, as curl keeps them.
    let (mine, theirs) = (dir.join("mine.gz"), dir.join("curl.gz"));
    let asked = ["-H", "Accept-Encoding: gzip", "-o"];
    mreq(&[asked[0], asked[1], asked[2], mine.to_str().unwrap(), &url]);
    run(
        "curl",
        &[
            asked[0],
            asked[1],
            "-s",
            asked[2],
            theirs.to_str().unwrap(),
            &url,
        ],
    );
    let kept = std::fs::read(&mine).unwrap();
    assert_eq!(&kept[..2], b"\x1f\x8b", "gzip bytes");
    assert_eq!(kept, std::fs::read(&theirs).unwrap());
}

#[test]
fn a_large_expansion_streams_through() {
    // 32 MiB of text from about 100 KB of gzip: decoded as it streams.
    let url = support::hostile().url("/encoded/gzip/33554432");
    let out = mreq(&[&url]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sha(&out.stdout), sha(&support::pattern(33_554_432)));
}
