//! HTTPie request items (`Name:Value`, `k=v`, `k:=json`, `k==v`, `f@path`, ...), parsed by the
//! separator that comes first in the word (ties go to the longest separator, as HTTPie does).

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `Name:Value`
    Header(String, String),
    /// `Name:` — do not send this (default) header.
    RemoveHeader(String),
    /// `k=v`
    Field(String, String),
    /// `k:=json`
    JsonField(String, serde_json::Value),
    /// `k==v`
    Query(String, String),
    /// `f@path` — a file upload (multipart with --form).
    File(String, String),
    /// `@path` — the request body from a file.
    BodyFile(String),
}

const SEPARATORS: [&str; 8] = [":=@", "==", "=@", ":=", "@", "=", ";", ":"];

impl Item {
    pub fn is_body_field(&self) -> bool {
        matches!(self, Item::Field(..) | Item::JsonField(..) | Item::File(..))
    }
}

/// Parses one item word; `read_file` loads `=@` and `:=@` contents.
pub fn parse(word: &str, read_file: &dyn Fn(&str) -> Result<String>) -> Result<Item> {
    let (pos, sep) = find_separator(word).with_context(|| {
        format!("not a request item: {word:?} (expected e.g. Name:Value, key=value, key==value)")
    })?;
    let key = &word[..pos];
    let value = &word[pos + sep.len()..];
    if key.is_empty() && sep != "@" {
        bail!("request item {word:?} has an empty name");
    }
    Ok(match sep {
        ":" if value.is_empty() => Item::RemoveHeader(key.to_string()),
        ":" => Item::Header(key.to_string(), value.to_string()),
        ";" if value.is_empty() => Item::Header(key.to_string(), String::new()),
        ";" => bail!("not a request item: {word:?} (Name; sends an empty header)"),
        "=" => Item::Field(key.to_string(), value.to_string()),
        "==" => Item::Query(key.to_string(), value.to_string()),
        ":=" => Item::JsonField(key.to_string(), parse_json(key, value)?),
        "=@" => Item::Field(key.to_string(), read_file(value)?),
        ":=@" => Item::JsonField(key.to_string(), parse_json(key, &read_file(value)?)?),
        "@" if key.is_empty() => Item::BodyFile(value.to_string()),
        "@" => Item::File(key.to_string(), value.to_string()),
        _ => unreachable!("all separators are handled"),
    })
}

fn parse_json(key: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).with_context(|| format!("field {key:?}: not valid JSON: {text}"))
}

/// The earliest separator in `word`; at one position the longest wins.
fn find_separator(word: &str) -> Option<(usize, &'static str)> {
    (0..word.len())
        .filter(|&i| word.is_char_boundary(i))
        .find_map(|i| {
            SEPARATORS
                .iter()
                .find(|sep| word[i..].starts_with(**sep))
                .map(|sep| (i, *sep))
        })
}

/// Whether a URL starts with a scheme (`http://`, `HTTPS://`, `ftp://`): a scheme name (a letter,
/// then letters, digits, `+`, `-`, `.`) and `://` before anything else. `host/a?u=http://x` has none.
pub fn has_scheme(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    })
}

/// Whether a word looks like a request item rather than a URL (used to tell `mreq URL ITEM`
/// apart from `mreq METHOD URL`, and where the next URL starts).
pub fn looks_like_item(word: &str) -> bool {
    if has_scheme(word) || word.starts_with([':', '[']) {
        return false;
    }
    match find_separator(word) {
        // `host/path?a=b`: a URL (item names have no `/`).
        Some((pos, _)) if word[..pos].contains('/') => false,
        Some((pos, ":")) => {
            // host:port[/path] is a URL, Name:Value a header. A bare `name:digits` is a header
            // (`Content-Length:99`) unless the name looks like a host (`localhost`, a dot).
            let name = &word[..pos];
            let rest = &word[pos + 1..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let after = &rest[digits..];
            let port = digits > 0 && (after.is_empty() || after.starts_with(['/', '?', '#']));
            let hostlike = after.starts_with('/')
                || name.contains('.')
                || name.eq_ignore_ascii_case("localhost");
            !(port && hostlike)
        }
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(word: &str) -> Item {
        parse(word, &|path| Ok(format!("<{path}>"))).unwrap()
    }

    #[test]
    fn each_separator() {
        assert_eq!(
            item("Accept:application/json"),
            Item::Header("Accept".into(), "application/json".into())
        );
        assert_eq!(item("User-Agent:"), Item::RemoveHeader("User-Agent".into()));
        assert_eq!(item("X-Empty;"), Item::Header("X-Empty".into(), "".into()));
        assert_eq!(
            item("name=value"),
            Item::Field("name".into(), "value".into())
        );
        assert_eq!(
            item("n:=42"),
            Item::JsonField("n".into(), serde_json::json!(42))
        );
        assert_eq!(item("q==a b"), Item::Query("q".into(), "a b".into()));
        assert_eq!(item("f@/tmp/x"), Item::File("f".into(), "/tmp/x".into()));
        assert_eq!(item("@/tmp/body"), Item::BodyFile("/tmp/body".into()));
        assert_eq!(item("t=@p"), Item::Field("t".into(), "<p>".into()));
    }

    #[test]
    fn earliest_separator_wins() {
        assert_eq!(
            item("Authorization:Bearer a=b"),
            Item::Header("Authorization".into(), "Bearer a=b".into())
        );
        assert_eq!(
            item("url==http://x/?a=1"),
            Item::Query("url".into(), "http://x/?a=1".into())
        );
        assert_eq!(item("k=v:w"), Item::Field("k".into(), "v:w".into()));
        assert_eq!(
            item("list:=[1,2]"),
            Item::JsonField("list".into(), serde_json::json!([1, 2]))
        );
    }

    #[test]
    fn errors() {
        assert!(parse("plainword", &|_| Ok(String::new())).is_err());
        assert!(parse("=v", &|_| Ok(String::new())).is_err());
        assert!(parse("n:={bad", &|_| Ok(String::new())).is_err());
    }

    #[test]
    fn urls_are_not_items() {
        assert!(!looks_like_item("http://example.com/a=b"));
        assert!(!looks_like_item("localhost:8000/get"));
        assert!(!looks_like_item(":8000/get"));
        assert!(!looks_like_item("example.com"));
        assert!(looks_like_item("Accept:text/html"));
        assert!(looks_like_item("a=b"));
        assert!(!looks_like_item("localhost:8000/a?u=http://x"));
        assert!(!looks_like_item("example.org/get?a=1"));
        assert!(!looks_like_item("example.org:8080"));
        assert!(!looks_like_item("localhost:8000"));
        assert!(!looks_like_item("[::1]:8000/x"));
        assert!(looks_like_item("Content-Length:99"));
        assert!(looks_like_item("X-A:1"));
        assert!(looks_like_item("url==http://x/"));
        assert!(has_scheme("HTTPS://h") && !has_scheme("h/a?u=http://x") && !has_scheme("://x"));
    }
}
