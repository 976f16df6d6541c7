//! curl's request data flags: `-d`, `--data-binary`, `--data-raw` and `--data-urlencode`, joined
//! with `&` in the order given, as a body, or with `-G` as the URL's query.

use crate::args::DataArg;
use crate::body::Part;
use anyhow::{Context, Result};
use std::io::Read;
use std::path::PathBuf;

/// The body parts of the data flags, in order. `--data-binary @FILE` is streamed; `-d @FILE`
/// is read here (its line breaks are removed, as curl does) and so are files to URL-encode.
pub fn parts(data: &[DataArg]) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    for (i, arg) in data.iter().enumerate() {
        if i > 0 {
            parts.push(Part::Bytes(b"&".to_vec()));
        }
        parts.push(part(arg)?);
    }
    Ok(parts)
}

fn part(arg: &DataArg) -> Result<Part> {
    Ok(match arg {
        DataArg::Ascii(text) => match text.strip_prefix('@') {
            Some(source) => {
                let mut bytes = read_source(source)?;
                bytes.retain(|b| *b != b'\r' && *b != b'\n');
                Part::Bytes(bytes)
            }
            None => Part::Bytes(text.as_bytes().to_vec()),
        },
        DataArg::Binary(text) => match text.strip_prefix('@') {
            Some("-") => Part::Stdin,
            Some(path) => Part::File(PathBuf::from(path)),
            None => Part::Bytes(text.as_bytes().to_vec()),
        },
        DataArg::Raw(text) => Part::Bytes(text.as_bytes().to_vec()),
        DataArg::UrlEncode(text) => Part::Bytes(urlencode_arg(text)?.into_bytes()),
    })
}

/// `--data-urlencode`'s forms, as curl reads them: the first `=` splits a name from content
/// (`=content` has no name); without one, the first `@` splits a name from a file to read.
fn urlencode_arg(arg: &str) -> Result<String> {
    let (name, content) = if let Some((name, content)) = arg.split_once('=') {
        (name, content.as_bytes().to_vec())
    } else if let Some((name, path)) = arg.split_once('@') {
        (name, read_source(path)?)
    } else {
        ("", arg.as_bytes().to_vec())
    };
    let encoded = quote_bytes(&content);
    Ok(if name.is_empty() {
        encoded
    } else {
        format!("{name}={encoded}")
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters, a space as `+` (what curl
/// 7.88's --data-urlencode sends; `cli/tests/curl_reference.rs` compares).
fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b == b' ' {
            out.push('+');
        } else if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local file the request needs could not be read: curl's exit 26, not a usage error.
#[derive(Debug)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

/// The bytes of a file, or of stdin for `-`.
pub fn read_source(source: &str) -> Result<Vec<u8>> {
    let read = if source == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
    } else {
        std::fs::read(source)
    };
    read.map_err(|e| {
        let what = if source == "-" { "stdin" } else { source };
        Unreadable(format!("cannot read {what}: {e}")).into()
    })
}

/// `-G`: the data as a query string (every part read now), appended to the URL before its
/// fragment.
pub fn into_query(url: &mut String, data: &[DataArg]) -> Result<()> {
    let mut query = Vec::new();
    for part in parts(data)? {
        match part {
            Part::Bytes(bytes) => query.extend_from_slice(&bytes),
            Part::File(path) => query.extend(read_source(&path.to_string_lossy())?),
            Part::Stdin => query.extend(read_source("-")?),
        }
    }
    let query = String::from_utf8(query).context("-G: the data is not UTF-8 text")?;
    append_query(url, &query);
    Ok(())
}

/// Appends `query` to the URL's query (before any `#fragment`).
pub fn append_query(url: &mut String, query: &str) {
    let fragment = url.find('#').map(|i| url.split_off(i));
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(query);
    url.push_str(&fragment.unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(data: &[DataArg]) -> String {
        let bytes: Vec<u8> = parts(data)
            .unwrap()
            .into_iter()
            .flat_map(|p| match p {
                Part::Bytes(b) => b,
                other => panic!("not bytes: {other:?}"),
            })
            .collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn urlencode_forms_as_curl_reads_them() {
        let enc = |s: &str| text(&[DataArg::UrlEncode(s.into())]);
        assert_eq!(enc("a b&c"), "a+b%26c");
        assert_eq!(enc("=a=b"), "a%3Db");
        assert_eq!(enc("name=x y"), "name=x+y");
        assert_eq!(enc("k=é"), "k=%C3%A9");
    }

    #[test]
    fn ascii_files_lose_line_breaks_binary_files_stream() {
        let dir = std::env::temp_dir().join(format!("mreq-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("d.txt");
        std::fs::write(&file, "a=1\r\nb=2\n").unwrap();
        let at = format!("@{}", file.display());
        assert_eq!(text(&[DataArg::Ascii(at.clone())]), "a=1b=2");
        assert_eq!(
            parts(&[DataArg::Binary(at.clone())]).unwrap(),
            [Part::File(file.clone())]
        );
        assert_eq!(text(&[DataArg::Raw(at.clone())]), at);
        assert_eq!(
            text(&[DataArg::UrlEncode(format!("f@{}", file.display()))]),
            "f=a%3D1%0D%0Ab%3D2%0A"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn joined_with_ampersands_and_into_the_query() {
        let data = [DataArg::Ascii("a=1".into()), DataArg::Raw("@b".into())];
        assert_eq!(text(&data), "a=1&@b");
        let mut url = "http://h/p?x=1#top".to_string();
        into_query(&mut url, &data).unwrap();
        assert_eq!(url, "http://h/p?x=1&a=1&@b#top");
    }
}
