//! Redirect policy: which responses are followed, with which method, and what travels along.
//!
//! Rules (RFC 9110 section 15.4, as browsers, curl and Python requests apply them):
//! 301/302 turn POST into GET (dropping the body), 303 turns every method but HEAD into GET,
//! 307/308 keep method and body. A redirect from https to http is refused. Credentials
//! (Authorization, Cookie, URL user info, configured auth) go only to the origin they were meant
//! for. The number of redirects followed is limited ([`DEFAULT_MAX_REDIRECTS`]).

use crate::url::{Scheme, Url};
use crate::{error::ErrorText, Error, Result};

/// Redirects followed by default before `Error::TooManyRedirects` (curl -L allows 50, requests 30;
/// 10 is plenty for real sites and bounds a loop quickly on a microcontroller).
pub const DEFAULT_MAX_REDIRECTS: u8 = 10;

/// Whether a status is a redirect the client can follow.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The method for the request that follows a redirect, and whether the body goes with it.
pub fn next_method(status: u16, method: &str) -> (&str, bool) {
    match status {
        303 if !method.eq_ignore_ascii_case("HEAD") => ("GET", false),
        301 | 302 if method.eq_ignore_ascii_case("POST") => ("GET", false),
        _ => (method, true),
    }
}

/// Checks that following `from -> to` is allowed: never from https down to http.
pub fn check_target(from: &Url<'_>, to: &Url<'_>, to_text: &str) -> Result<()> {
    if from.scheme() == Scheme::Https && to.scheme() == Scheme::Http {
        return Err(Error::InsecureRedirect(ErrorText::new(to_text)));
    }
    Ok(())
}

/// Whether credentials for `original` may be sent to `target`: only to the same origin.
pub fn keeps_credentials(original: &Url<'_>, target: &Url<'_>) -> bool {
    original.same_origin(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_statuses_redirect() {
        for status in [301, 302, 303, 307, 308] {
            assert!(is_redirect(status));
        }
        for status in [200, 300, 304, 305, 306, 400] {
            assert!(!is_redirect(status));
        }
    }

    #[test]
    fn method_rewriting() {
        assert_eq!(next_method(301, "POST"), ("GET", false));
        assert_eq!(next_method(302, "post"), ("GET", false));
        assert_eq!(next_method(302, "PUT"), ("PUT", true));
        assert_eq!(next_method(301, "GET"), ("GET", true));
        assert_eq!(next_method(303, "POST"), ("GET", false));
        assert_eq!(next_method(303, "DELETE"), ("GET", false));
        assert_eq!(next_method(303, "HEAD"), ("HEAD", true), "HEAD stays HEAD");
        assert_eq!(next_method(302, "HEAD"), ("HEAD", true));
        assert_eq!(next_method(307, "POST"), ("POST", true));
        assert_eq!(next_method(308, "PUT"), ("PUT", true));
    }

    #[test]
    fn https_never_downgrades() {
        let secure = Url::parse("https://a/").unwrap();
        let plain = Url::parse("http://a/").unwrap();
        assert!(matches!(
            check_target(&secure, &plain, "http://a/"),
            Err(Error::InsecureRedirect(_))
        ));
        assert!(check_target(&plain, &secure, "https://a/").is_ok());
        assert!(check_target(&secure, &secure, "https://a/").is_ok());
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let original = Url::parse("http://a.example:8000/x").unwrap();
        assert!(keeps_credentials(
            &original,
            &Url::parse("http://A.EXAMPLE:8000/y").unwrap()
        ));
        assert!(!keeps_credentials(
            &original,
            &Url::parse("http://b.example:8000/").unwrap()
        ));
        assert!(!keeps_credentials(
            &original,
            &Url::parse("http://a.example:8001/").unwrap()
        ));
        assert!(!keeps_credentials(
            &original,
            &Url::parse("https://a.example:8000/").unwrap()
        ));
    }
}
