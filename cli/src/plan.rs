//! Turning arguments and items into the request to send: method, URL, headers, auth and body.

use crate::args::Args;
use crate::body::{self, Part};
use crate::items::{self, Item};
use crate::{data, multipart, netrc};
use anyhow::{bail, Context, Result};
use mreq_core::form;
use std::path::PathBuf;

pub const USER_AGENT: &str = concat!("mreq/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone)]
pub enum Body {
    None,
    Bytes(Vec<u8>),
    /// Streamed from files and pipes in order, never held in memory (see [`crate::body`]).
    Stream(Vec<Part>),
}

#[derive(Debug, Clone)]
pub enum AuthSpec {
    Basic(String, String),
    Bearer(String),
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub auth: Option<AuthSpec>,
    pub body: Body,
    /// mreq asked for a compressed body (`Accept-Encoding`) and decodes it.
    pub decode: bool,
}

impl Plan {
    /// The `Content-Type` the request carries, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// The words of one request: an optional method word, the URL and the items after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    pub method: Option<String>,
    pub url: String,
    pub items: Vec<String>,
}

/// Whether a word can be a method (a token of letters), given the word after it.
fn is_method_word(word: &str, next: Option<&String>) -> bool {
    next.is_some_and(|next| !items::looks_like_item(next))
        && !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
}

/// Splits the words into requests: `[METHOD] URL [ITEM...]`, repeated. A word that is not an item
/// starts the next request; items belong to the URL before them.
pub fn split_words(words: &[String]) -> Result<Vec<Words>> {
    let mut requests = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let method = if is_method_word(&words[i], words.get(i + 1)) {
            i += 1;
            Some(words[i - 1].to_ascii_uppercase())
        } else {
            None
        };
        let url = words[i].clone();
        i += 1;
        let mut item_words = Vec::new();
        while i < words.len() && items::looks_like_item(&words[i]) {
            item_words.push(words[i].clone());
            i += 1;
        }
        requests.push(Words {
            method,
            url,
            items: item_words,
        });
    }
    if requests.is_empty() {
        bail!("no URL given (usage: mreq [METHOD] URL [ITEM...] ...)");
    }
    Ok(requests)
}

/// `example.org` → `http://example.org`, `:8000/x` → `http://localhost:8000/x` (HTTPie shorthands).
pub fn normalise_url(url: &str) -> String {
    if items::has_scheme(url) {
        url.to_string()
    } else if url.starts_with(':') {
        format!("http://localhost{url}")
    } else {
        format!("http://{url}")
    }
}

/// A `-d`/`--json` value: `@FILE` and `-` (stdin) are streamed, anything else is the text itself.
fn data_part(source: &str) -> Part {
    if source == "-" || source == "@-" {
        Part::Stdin
    } else if let Some(path) = source.strip_prefix('@') {
        Part::File(PathBuf::from(path))
    } else {
        Part::Bytes(source.as_bytes().to_vec())
    }
}

fn read_file_text(path: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {path} as text"))
}

/// Every request of the invocation, in order (flags apply to each; items to their own URL).
pub fn build_all(args: &Args) -> Result<Vec<Plan>> {
    let requests = split_words(&args.words)?;
    let several = requests.len() > 1;
    let plans = requests
        .iter()
        .map(|words| build(args, words, several))
        .collect::<Result<Vec<Plan>>>()?;
    let stdin_bodies = plans
        .iter()
        .filter(|p| matches!(&p.body, Body::Stream(parts) if parts.contains(&Part::Stdin)))
        .count();
    if several && stdin_bodies > 0 {
        bail!("a body from stdin can be read for one URL only, and {} URLs were given (use --ignore-stdin, or one URL per call)", plans.len());
    }
    Ok(plans)
}

/// The request of one `[METHOD] URL [ITEM...]` group.
pub fn build(args: &Args, words: &Words, several: bool) -> Result<Plan> {
    let parsed: Vec<Item> = words
        .items
        .iter()
        .map(|w| items::parse(w, &read_file_text))
        .collect::<Result<_>>()?;

    let mut url = normalise_url(&words.url);
    let queries: Vec<(&str, &str)> = parsed
        .iter()
        .filter_map(|i| match i {
            Item::Query(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    if !queries.is_empty() {
        data::append_query(&mut url, &form::urlencode_string(queries));
    }
    if args.get && !args.data_in_order.is_empty() {
        data::into_query(&mut url, &args.data_in_order)?;
    }
    if let Some(file) = &args.upload_file {
        url = upload_url(url, file);
    }

    let mut headers: Vec<(String, String)> = vec![
        ("User-Agent".into(), USER_AGENT.into()),
        ("Accept".into(), "*/*".into()),
    ];
    let mut removed: Vec<String> = Vec::new();
    let (body, content_type, accept) = build_body(args, &parsed, several)?;
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
    if let Some(agent) = &args.user_agent {
        if agent.is_empty() {
            removed.push("User-Agent".into());
        } else {
            set_header(&mut headers, "User-Agent", agent);
        }
    }
    if let Some(referer) = &args.referer {
        if referer.contains(";auto") {
            bail!("-e {referer:?}: ;auto (a Referer on each redirect) is not supported: give the URL alone");
        }
        set_header(&mut headers, "Referer", referer);
    }
    for raw in header_lines(&args.headers)? {
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
        check_header(name, value)?;
    }

    let has_body = !matches!(body, Body::None);
    let method = choose_method(args, words.method.as_deref(), has_body)?;
    let auth = match (&args.user, &args.bearer) {
        (Some(_), Some(_)) => bail!("give either -u/--user or --bearer, not both"),
        (Some(user), None) => {
            let (name, password) = split_login(user);
            Some(AuthSpec::Basic(name.into(), password.into()))
        }
        (None, Some(token)) => Some(AuthSpec::Bearer(token.clone())),
        (None, None) => {
            netrc_login(args, &url).map(|(user, password)| AuthSpec::Basic(user, password))
        }
    };
    Ok(Plan {
        method,
        url,
        headers,
        auth,
        body,
        decode: false,
    })
}

/// `USER[:PASSWORD]` (`-u`, `-U`, a proxy URL's user): without `:` the password is empty.
pub fn split_login(login: &str) -> (&str, &str) {
    login.split_once(':').unwrap_or((login, ""))
}

/// The `.netrc` login for the URL's host (`-n`, `--netrc-file`), unless the URL has its own.
fn netrc_login(args: &Args, url: &str) -> Option<(String, String)> {
    let file = match &args.netrc_file {
        Some(file) => file.clone(),
        None if args.netrc || args.netrc_optional => netrc::default_file()?,
        None => return None,
    };
    let url = mreq_core::url::Url::parse(url).ok()?;
    if url.credentials().is_some() {
        return None;
    }
    netrc::lookup(&file, url.host())
}

/// `-H` values, each `@FILE` replaced by the file's lines (blank ones skipped), as curl reads them.
fn header_lines(given: &[String]) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for header in given {
        match header.strip_prefix('@') {
            Some(source) => {
                let bytes = data::read_source(source)?;
                let text = String::from_utf8(bytes)
                    .with_context(|| format!("-H @{source}: not UTF-8 text"))?;
                lines.extend(
                    text.lines()
                        .map(|l| l.trim_end_matches('\r'))
                        .filter(|l| !l.trim().is_empty())
                        .map(str::to_string),
                );
            }
            None => lines.push(header.clone()),
        }
    }
    Ok(lines)
}

/// `-T FILE` to a URL ending in `/` (or with no path) uploads to the file's name there, as curl.
fn upload_url(url: String, file: &str) -> String {
    let name = std::path::Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|_| file != "-");
    let Some(name) = name else { return url };
    let (base, fragment) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url.as_str(), ""),
    };
    if base.contains('?') {
        return url.clone();
    }
    let path_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let has_path = base[path_start..].contains('/');
    let joined = match (has_path, base.ends_with('/')) {
        (true, true) => format!("{base}{}", form::quote_string(name, "")),
        (false, _) => format!("{base}/{}", form::quote_string(name, "")),
        (true, false) => base.to_string(),
    };
    format!("{joined}{fragment}")
}

/// The method: a method word, `-X`, `-I` (HEAD), `-G` (GET), `-T` (PUT), else POST with a body
/// and GET without. Two that disagree are refused rather than one silently winning.
fn choose_method(args: &Args, word: Option<&str>, has_body: bool) -> Result<String> {
    let flag = args.method.as_deref().map(str::to_ascii_uppercase);
    if let (Some(word), Some(flag)) = (word, &flag) {
        if !word.eq_ignore_ascii_case(flag) {
            bail!("the method word {word} and -X {flag} disagree: give one");
        }
    }
    let chosen = word.map(str::to_string).or(flag);
    if args.head {
        if let Some(method) = chosen.as_deref().filter(|m| *m != "HEAD") {
            bail!("-I/--head sends HEAD, but the method {method} was given: give one");
        }
        if has_body {
            bail!("-I/--head sends HEAD, which has no body, but a body was given");
        }
        return Ok("HEAD".into());
    }
    let implied = if args.get {
        "GET"
    } else if args.upload_file.is_some() {
        "PUT"
    } else if has_body {
        "POST"
    } else {
        "GET"
    };
    Ok(chosen.unwrap_or_else(|| implied.into()))
}

/// Refuses header names and values that would break the head, and the framing headers that
/// mreq writes itself from the body, each with its reason.
fn check_header(name: &str, value: &str) -> Result<()> {
    if !mreq_core::request::is_token(name.as_bytes()) {
        bail!("header name {name:?}: not a valid HTTP token (letters, digits and !#$%&'*+-.^_`|~)");
    }
    if value.contains(['\r', '\n', '\0']) {
        bail!("header {name:?}: value contains CR, LF or NUL");
    }
    for framing in ["content-length", "transfer-encoding"] {
        if name.eq_ignore_ascii_case(framing) {
            bail!("header {name}: mreq sets it from the body it sends, so it cannot be given (a wrong one would corrupt the exchange)");
        }
    }
    Ok(())
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
    several: bool,
) -> Result<(Body, Option<String>, Option<&'static str>)> {
    let fields: Vec<&Item> = parsed.iter().filter(|i| i.is_body_field()).collect();
    let body_file = parsed.iter().find_map(|i| match i {
        Item::BodyFile(path) => Some(path),
        _ => None,
    });
    let data = !args.get && !args.data_in_order.is_empty();
    let sources = [
        !fields.is_empty(),
        body_file.is_some(),
        data,
        args.json.is_some(),
        !args.form_in_order.is_empty(),
        args.upload_file.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        bail!("give the body one way: fields, @file, -d/--data*, --json, -F/--form-string or -T");
    }
    if args.get
        && (args.json.is_some() || !args.form_in_order.is_empty() || args.upload_file.is_some())
    {
        bail!("-G/--get sends the -d data in the URL; a --json, -F or -T body cannot go with it");
    }
    if let Some(path) = body_file {
        return Ok((
            Body::Stream(vec![data_part(&format!("@{path}"))]),
            None,
            None,
        ));
    }
    if let Some(file) = &args.upload_file {
        return Ok((
            Body::Stream(vec![data_part(&format!("@{file}"))]),
            None,
            None,
        ));
    }
    if data {
        return Ok((
            stream_or_bytes(data::parts(&args.data_in_order)?),
            Some("application/x-www-form-urlencoded".into()),
            None,
        ));
    }
    if !args.form_in_order.is_empty() {
        let fields = multipart::from_flags(&args.form_in_order)?;
        multipart::check_files(&fields)?;
        let (parts, content_type) = multipart::body(&fields)?;
        return Ok((Body::Stream(parts), Some(content_type), None));
    }
    if let Some(json) = &args.json {
        return Ok((
            stream_or_bytes(vec![data_part(json)]),
            Some("application/json".into()),
            Some("application/json"),
        ));
    }
    if fields.is_empty() {
        // HTTPie's and xh's habit: a piped stdin is the body when no other is given.
        if !args.ignore_stdin && !several && body::stdin_has_body() {
            return Ok((Body::Stream(vec![Part::Stdin]), None, None));
        }
        return Ok((Body::None, None, None));
    }
    if args.form {
        if fields.iter().any(|f| matches!(f, Item::File(..))) {
            let fields: Vec<multipart::Field> = fields
                .iter()
                .map(|f| match f {
                    Item::Field(k, v) => multipart::Field::text(k, v),
                    Item::JsonField(k, v) => multipart::Field::text(k, &v.to_string()),
                    Item::File(k, path) => multipart::Field::upload(k, path),
                    _ => multipart::Field::text("", ""),
                })
                .collect();
            let (parts, content_type) = multipart::body(&fields)?;
            return Ok((Body::Stream(parts), Some(content_type), None));
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

/// Only text: one buffer; any file or stdin part: streamed.
fn stream_or_bytes(parts: Vec<Part>) -> Body {
    if parts.iter().all(|p| matches!(p, Part::Bytes(_))) {
        let bytes = parts
            .into_iter()
            .flat_map(|p| match p {
                Part::Bytes(b) => b,
                _ => Vec::new(),
            })
            .collect();
        Body::Bytes(bytes)
    } else {
        Body::Stream(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(words: &[&str]) -> Plan {
        let args =
            Args::try_parse_ordered(std::iter::once("mreq").chain(words.iter().copied())).unwrap();
        build_all(&args).unwrap().remove(0)
    }

    fn refused(words: &[&str]) -> String {
        let args =
            Args::try_parse_ordered(std::iter::once("mreq").chain(words.iter().copied())).unwrap();
        format!("{:#}", build_all(&args).expect_err("refused"))
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
        assert!(refused(&["http://h/", "a=1", "-d", "x"]).contains("one way"));
        assert!(refused(&["http://h/", "-H", "X: a\r\nY: b"]).contains("CR, LF"));
        let framing = refused(&["http://h/", "Content-Length:99"]);
        assert!(
            framing.contains("Content-Length") && framing.contains("sets it from the body"),
            "{framing}"
        );
        assert!(refused(&["http://h/", "-H", "Bad Name: 1"]).contains("not a valid HTTP token"));
    }

    #[test]
    fn conflicting_methods_are_refused_naming_both() {
        let both = refused(&["-X", "PUT", "get", "http://h/"]);
        assert!(both.contains("GET") && both.contains("-X PUT"), "{both}");
        let head = refused(&["-I", "post", "http://h/"]);
        assert!(head.contains("-I") && head.contains("POST"), "{head}");
        let body = refused(&["-I", "-d", "a=1", "http://h/"]);
        assert!(body.contains("-I") && body.contains("body"), "{body}");
        assert_eq!(plan(&["-X", "get", "GET", "http://h/"]).method, "GET");
        assert_eq!(plan(&["-I", "-X", "HEAD", "http://h/"]).method, "HEAD");
    }

    #[test]
    fn shorthand_urls_with_a_url_in_the_query() {
        assert_eq!(
            plan(&[":8000/redirect-to?url=http://127.0.0.1:8000/get"]).url,
            "http://localhost:8000/redirect-to?url=http://127.0.0.1:8000/get"
        );
        assert_eq!(
            plan(&["localhost:8000/a?u=http://x"]).url,
            "http://localhost:8000/a?u=http://x"
        );
        assert_eq!(plan(&["HTTPS://h/x"]).url, "HTTPS://h/x");
    }

    #[test]
    fn several_urls_each_with_their_items() {
        let args = Args::try_parse_ordered([
            "mreq",
            "-H",
            "X-All: 1",
            "get",
            "http://a/",
            "X-A:1",
            "http://b/",
            "q==2",
            "post",
            ":8000/c",
            "k=v",
        ])
        .unwrap();
        let plans = build_all(&args).unwrap();
        let summary: Vec<(&str, &str)> = plans
            .iter()
            .map(|p| (p.method.as_str(), p.url.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("GET", "http://a/"),
                ("GET", "http://b/?q=2"),
                ("POST", "http://localhost:8000/c")
            ]
        );
        assert!(plans.iter().all(|p| p.has_header("x-all")));
        assert!(plans[0].has_header("x-a") && !plans[1].has_header("x-a"));
        assert!(matches!(&plans[2].body, Body::Bytes(b) if b == br#"{"k":"v"}"#));
    }

    #[test]
    fn file_and_stdin_bodies_are_streamed() {
        let p = plan(&["put", "http://h/", "@/tmp/x.bin"]);
        assert!(
            matches!(&p.body, Body::Stream(parts) if parts == &[Part::File("/tmp/x.bin".into())])
        );
        let p = plan(&[
            "http://h/",
            "-d",
            "a=1",
            "--data-binary",
            "@/tmp/f",
            "--data-binary",
            "@-",
        ]);
        let Body::Stream(parts) = &p.body else {
            panic!("streamed")
        };
        assert_eq!(
            parts,
            &[
                Part::Bytes(b"a=1".to_vec()),
                Part::Bytes(b"&".to_vec()),
                Part::File("/tmp/f".into()),
                Part::Bytes(b"&".to_vec()),
                Part::Stdin
            ]
        );
        assert!(refused(&["http://a/", "http://b/", "--data-binary", "@-"]).contains("stdin"));
    }
}
