//! Body bytes to text by the `Content-Type` charset: UTF-8 by default, Latin-1 and ASCII by name.
//! Invalid sequences become U+FFFD (as Python's `errors="replace"`); other charsets are read as UTF-8.

use alloc::string::String;
use alloc::vec::Vec;

pub(crate) fn decode(body: Vec<u8>, content_type: Option<&[u8]>) -> String {
    let latin1 = charset(content_type).is_some_and(|name| {
        [
            "iso-8859-1",
            "latin-1",
            "latin1",
            "us-ascii",
            "ascii",
            "windows-1252",
        ]
        .iter()
        .any(|known| name.eq_ignore_ascii_case(known.as_bytes()))
    });
    if latin1 {
        return body.iter().map(|&b| char::from(b)).collect();
    }
    match String::from_utf8(body) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

/// The `charset` parameter of a media type, without quotes.
fn charset(content_type: Option<&[u8]>) -> Option<&[u8]> {
    content_type?
        .split(|&b| b == b';')
        .skip(1)
        .find_map(|param| {
            let param = param.trim_ascii();
            let (name, value) = param.split_at(param.iter().position(|&b| b == b'=')?);
            name.trim_ascii()
                .eq_ignore_ascii_case(b"charset")
                .then(|| value[1..].trim_ascii().trim_ascii_start())
                .map(|v| {
                    v.strip_prefix(b"\"")
                        .and_then(|v| v.strip_suffix(b"\""))
                        .unwrap_or(v)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_selection() {
        assert_eq!(decode(b"caf\xc3\xa9".to_vec(), None), "café");
        assert_eq!(
            decode(b"caf\xe9".to_vec(), Some(b"text/plain; charset=ISO-8859-1")),
            "café"
        );
        assert_eq!(
            decode(b"caf\xe9".to_vec(), Some(b"text/plain; charset=\"latin1\"")),
            "café"
        );
        assert_eq!(
            decode(b"caf\xe9".to_vec(), Some(b"text/plain")),
            "caf\u{fffd}"
        );
        assert_eq!(
            charset(Some(b"text/html; q=1; Charset = utf-8")),
            Some(&b"utf-8"[..])
        );
    }
}
