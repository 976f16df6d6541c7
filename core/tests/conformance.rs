//! The engine against the conformance corpus (`conformance/`), which the MicroPython module's
//! tests read too: every response case served by the hostile server through both drivers, the
//! redirect-target cases and the redirect method rules.

mod drive;
use mreq_test_support as support;

use mreq_core::client::Request;
use mreq_core::url::Url;
use support::conformance::{self, Expect};

#[test]
fn every_response_case_has_its_outcome() {
    let mut wrong = Vec::new();
    for case in conformance::responses() {
        let url = support::hostile().url(&format!("/raw/{}", case.name));
        let got = match drive::fetch(&Request::get(&url)) {
            Ok(fetched) => Expect::Response {
                status: fetched.status,
                body: fetched.body,
            },
            Err(err) => Expect::Error(err.kind().into()),
        };
        if got != case.expect {
            wrong.push(format!(
                "{}: got {got:?}, the corpus says {:?}",
                case.name, case.expect
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The next request a redirect target makes, written as `redirects.json` writes it.
fn next_request(base: &str, location: &str) -> mreq_core::Result<String> {
    let base = Url::parse(base)?;
    let mut buf = [0u8; 1024];
    let joined = mreq_core::url::join(&base, location, &mut buf)?;
    let url = Url::parse(joined)?;
    let port = if url.has_non_default_port() {
        format!(":{}", url.port())
    } else {
        String::new()
    };
    let path = if url.path().is_empty() {
        "/"
    } else {
        url.path()
    };
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    Ok(format!(
        "{}://{}{port}{path}{query}",
        url.scheme().as_str(),
        url.host().to_ascii_lowercase()
    ))
}

#[test]
fn every_redirect_target_is_the_corpus_one() {
    let doc = conformance::load("redirects.json");
    let mut wrong = Vec::new();
    for case in doc["targets"].as_array().expect("targets") {
        let (base, location) = (
            case["base"].as_str().unwrap(),
            case["location"].as_str().unwrap(),
        );
        let got = next_request(base, location);
        let ok = match case["request"].as_str() {
            Some(want) => got.as_deref() == Ok(want),
            None => got.is_err(),
        };
        if !ok {
            wrong.push(format!(
                "{base} + {location:?}: got {got:?}, the corpus says {case}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_redirect_method_rule_is_the_corpus_one() {
    let doc = conformance::load("redirects.json");
    for case in doc["methods"].as_array().expect("methods") {
        let status = case["status"].as_u64().unwrap() as u16;
        let (next, kept) =
            mreq_core::redirect::next_method(status, case["method"].as_str().unwrap());
        assert_eq!(
            (next, kept),
            (
                case["next"].as_str().unwrap(),
                case["body_kept"].as_bool().unwrap()
            ),
            "{case}"
        );
    }
}
