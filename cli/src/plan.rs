//! Turning arguments and items into the request to send: method, URL, headers, auth and body.

use crate::args::Args;
use crate::items::{self, Item};
use anyhow::{bail, Context, Result};
use mreq_core::form;
use std::io::Read;
use std::path::PathBuf;

pub const USER_AGENT: &str = concat!("mreq/", env!("CARGO_PKG_VERSION"));

#[derive(Debug)]
pub enum Body {
    None,
    Bytes(Vec<u8>),
    /// A file streamed from disk with its length (large uploads need no memory).
    File(PathBuf, u64),
}

#[derive(Debug)]
pub enum AuthSpec {
    Basic(String, String),
    Bearer(String),
}

#[derive(Debug)]
pub struct Plan {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub auth: Option<AuthSpec>,
    pub body: Body,
}

impl Plan {
    #[cfg(test)]
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// Splits the words into (explicit method, URL, items).
fn split_words(words: &[String]) -> Result<(Option<String>, String, Vec<String>)> {
    let mut words = words.iter();
    let first = words
        .next()
        .context("no URL given (usage: mreq [METHOD] URL [ITEM...])")?;
    let rest: Vec<String> = words.cloned().collect();
    let is_method = !rest.is_empty()
        && first
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
        && !items::looks_like_item(&rest[0]);
    if is_method {
        Ok((
            Some(first.to_ascii_uppercase()),
            rest[0].clone(),
            rest[1..].to_vec(),
        ))
    } else {
        Ok((None, first.clone(), rest))
    }
}

/// `example.org` → `http://example.org`, `:8000/x` → `http://localhost:8000/x` (HTTPie shorthands).
pub fn normalise_url(url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else if url.starts_with(':') {
        format!("http://localhost{url}")
    } else {
        format!("http://{url}")
    }
}

fn read_source(source: &str) -> Result<Vec<u8>> {
    if source == "-" {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .context("reading the body from stdin")?;
        Ok(data)
    } else if let Some(path) = source.strip_prefix('@') {
        read_file_bytes(path)
    } else {
        Ok(source.as_bytes().to_vec())
    }
}

fn read_file_bytes(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

fn read_file_text(path: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {path} as text"))
}

pub fn build(args: &Args) -> Result<Plan> {
    let (word_method, url, item_words) = split_words(&args.words)?;
    let parsed: Vec<Item> = item_words
        .iter()
        .map(|w| items::parse(w, &read_file_text))
        .collect::<Result<_>>()?;

    let mut url = normalise_url(&url);
    let queries: Vec<(&str, &str)> = parsed
        .iter()
        .filter_map(|i| match i {
            Item::Query(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    if !queries.is_empty() {
        let fragment = url.find('#').map(|i| url.split_off(i));
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&form::urlencode_string(queries));
        url.push_str(&fragment.unwrap_or_default());
    }

    let mut headers: Vec<(String, String)> = vec![
        ("User-Agent".into(), USER_AGENT.into()),
        ("Accept".into(), "*/*".into()),
    ];
    let mut removed: Vec<String> = Vec::new();
    let (body, content_type, accept) = build_body(args, &parsed)?;
    if let Some(accept) = accept {
        set_header(&mut headers, "Accept", accept);
    }
    if let Some(content_type) = content_type {
        set_header(&mut headers, "Content-Type", &content_type);
    }
    for item in &parsed {
        match item {
            Item::Header(name, value) => set_header(&mut headers, name, value),
            Item::RemoveHeader(name) => removed.push(name.clone()),
            _ => {}
        }
    }
    for raw in &args.headers {
        let (name, value) = raw
            .split_once(':')
            .with_context(|| format!("-H {raw:?}: expected \"Name: value\""))?;
        let value = value.trim();
        if value.is_empty() {
            removed.push(name.trim().to_string());
        } else {
            set_header(&mut headers, name.trim(), value);
        }
    }
    headers.retain(|(n, _)| !removed.iter().any(|r| r.eq_ignore_ascii_case(n)));
    for (name, value) in &headers {
        if value.contains(['\r', '\n', '\0']) {
            bail!("header {name:?}: value contains CR, LF or NUL");
        }
    }

    let has_body = !matches!(body, Body::None);
    let method = match (word_method, &args.method) {
        (Some(m), _) => m,
        (None, Some(m)) => m.to_ascii_uppercase(),
        (None, None) if args.head => "HEAD".into(),
        (None, None) if has_body => "POST".into(),
        (None, None) => "GET".into(),
    };
    let auth = match (&args.user, &args.bearer) {
        (Some(_), Some(_)) => bail!("give either -u/--user or --bearer, not both"),
        (Some(user), None) => {
            let (name, password) = user.split_once(':').unwrap_or((user, ""));
            Some(AuthSpec::Basic(name.into(), password.into()))
        }
        (None, Some(token)) => Some(AuthSpec::Bearer(token.clone())),
        (None, None) => None,
    };
    Ok(Plan {
        method,
        url,
        headers,
        auth,
        body,
    })
}

fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    match headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(slot) => *slot = (name.to_string(), value.to_string()),
        None => headers.push((name.to_string(), value.to_string())),
    }
}

/// The body, and the Content-Type and Accept it implies.
fn build_body(
    args: &Args,
    parsed: &[Item],
) -> Result<(Body, Option<String>, Option<&'static str>)> {
    let fields: Vec<&Item> = parsed.iter().filter(|i| i.is_body_field()).collect();
    let body_file = parsed.iter().find_map(|i| match i {
        Item::BodyFile(path) => Some(path),
        _ => None,
    });
    let sources = [
        !fields.is_empty(),
        body_file.is_some(),
        !args.data.is_empty(),
        args.json.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        bail!("give the body one way: fields, @file, -d/--data or --json");
    }
    if let Some(path) = body_file {
        let len = std::fs::metadata(path)
            .with_context(|| format!("cannot read {path}"))?
            .len();
        return Ok((Body::File(PathBuf::from(path), len), None, None));
    }
    if !args.data.is_empty() {
        let parts: Vec<Vec<u8>> = args
            .data
            .iter()
            .map(|d| read_source(d))
            .collect::<Result<_>>()?;
        let body = parts.join(&b'&');
        return Ok((
            Body::Bytes(body),
            Some("application/x-www-form-urlencoded".into()),
            None,
        ));
    }
    if let Some(json) = &args.json {
        let body = read_source(json)?;
        return Ok((
            Body::Bytes(body),
            Some("application/json".into()),
            Some("application/json"),
        ));
    }
    if fields.is_empty() {
        return Ok((Body::None, None, None));
    }
    if args.form {
        if fields.iter().any(|f| matches!(f, Item::File(..))) {
            let (body, content_type) = multipart(&fields)?;
            return Ok((Body::Bytes(body), Some(content_type), None));
        }
        let pairs: Vec<(String, String)> = fields
            .iter()
            .map(|f| match f {
                Item::Field(k, v) => Ok((k.clone(), v.clone())),
                Item::JsonField(k, v) => Ok((k.clone(), v.to_string())),
                _ => bail!("unexpected form item"),
            })
            .collect::<Result<_>>()?;
        let body = form::urlencode_string(pairs);
        return Ok((
            Body::Bytes(body.into_bytes()),
            Some("application/x-www-form-urlencoded; charset=utf-8".into()),
            None,
        ));
    }
    let mut object = serde_json::Map::new();
    for field in fields {
        match field {
            Item::Field(k, v) => object.insert(k.clone(), serde_json::Value::String(v.clone())),
            Item::JsonField(k, v) => object.insert(k.clone(), v.clone()),
            Item::File(k, _) => bail!("file field {k:?} needs --form (multipart)"),
            _ => None,
        };
    }
    let body = serde_json::to_vec(&serde_json::Value::Object(object))?;
    Ok((
        Body::Bytes(body),
        Some("application/json".into()),
        Some("application/json, */*;q=0.5"),
    ))
}

/// A multipart/form-data body (RFC 7578) with file contents read from disk.
fn multipart(fields: &[&Item]) -> Result<(Vec<u8>, String)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let boundary = format!("mreq-boundary-{nanos:x}-{:x}", std::process::id());
    let mut body = Vec::new();
    for field in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match field {
            Item::Field(name, value) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                        escape_quoted(name)
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(value.as_bytes());
            }
            Item::JsonField(name, value) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                        escape_quoted(name)
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(value.to_string().as_bytes());
            }
            Item::File(name, path) => {
                let data = read_file_bytes(path)?;
                let filename = std::path::Path::new(path)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("file");
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                        escape_quoted(name),
                        escape_quoted(filename),
                        guess_type(filename)
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(&data);
            }
            _ => {}
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((body, format!("multipart/form-data; boundary={boundary}")))
}

fn escape_quoted(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "%22")
        .replace(['\r', '\n'], " ")
}

fn guess_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "txt" => "text/plain",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(words: &[&str]) -> Plan {
        let args =
            Args::try_parse_from(std::iter::once("mreq").chain(words.iter().copied())).unwrap();
        build(&args).unwrap()
    }

    #[test]
    fn method_word_and_defaults() {
        let p = plan(&["get", "example.org/x", "-H", "Accept: application/json"]);
        assert_eq!(p.method, "GET");
        assert_eq!(p.url, "http://example.org/x");
        assert!(p
            .headers
            .contains(&("Accept".into(), "application/json".into())));
        assert_eq!(plan(&["example.org", "a=1"]).method, "POST");
        assert_eq!(plan(&["propfind", "http://h/"]).method, "PROPFIND");
        assert_eq!(plan(&["-X", "put", "http://h/"]).method, "PUT");
        assert_eq!(plan(&["-I", "http://h/"]).method, "HEAD");
        assert_eq!(plan(&[":8000/get"]).url, "http://localhost:8000/get");
    }

    #[test]
    fn url_then_header_item_is_not_a_method() {
        let p = plan(&["localhost:8000/get", "X-A:b"]);
        assert_eq!(p.method, "GET");
        assert_eq!(p.url, "http://localhost:8000/get");
        assert!(p.headers.contains(&("X-A".into(), "b".into())));
    }

    #[test]
    fn json_fields_and_query() {
        let p = plan(&["post", "http://h/p?x=1#frag", "a=b", "n:=3", "q==a b"]);
        assert_eq!(p.url, "http://h/p?x=1&q=a+b#frag");
        let Body::Bytes(body) = &p.body else {
            panic!("bytes body")
        };
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(body).unwrap(),
            serde_json::json!({"a": "b", "n": 3})
        );
        assert!(p
            .headers
            .contains(&("Content-Type".into(), "application/json".into())));
    }

    #[test]
    fn form_and_removed_headers() {
        let p = plan(&["--form", "http://h/", "a=b c", "User-Agent:"]);
        let Body::Bytes(body) = &p.body else {
            panic!("bytes body")
        };
        assert_eq!(body, b"a=b+c");
        assert!(!p.has_header("user-agent"));
    }

    #[test]
    fn data_flags() {
        let p = plan(&["http://h/", "-d", "a=1", "-d", "b=2"]);
        let Body::Bytes(body) = &p.body else {
            panic!("bytes body")
        };
        assert_eq!(body, b"a=1&b=2");
        assert_eq!(p.method, "POST");
    }

    #[test]
    fn conflicting_bodies_and_bad_headers_are_refused() {
        let args = Args::try_parse_from(["mreq", "http://h/", "a=1", "-d", "x"]).unwrap();
        assert!(build(&args).is_err());
        let args = Args::try_parse_from(["mreq", "http://h/", "-H", "X: a\r\nY: b"]).unwrap();
        assert!(build(&args).is_err());
    }
}
