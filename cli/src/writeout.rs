//! curl's `-w/--write-out`: a format with `%{variable}`s printed after each transfer. The
//! variables are a table; a name not in it is refused before anything is sent (curl warns and
//! prints nothing for it).

use crate::meter::Marks;
use serde_json::{json, Value};
use std::io::{self, Write};

/// What one transfer was and what it measured.
#[derive(Debug, Clone, Default)]
pub struct Transfer {
    pub method: String,
    pub url: String,
    /// The URL of the last response (after redirects).
    pub effective: String,
    /// 0 when no response arrived.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub marks: Marks,
    pub exit: u8,
    pub error: String,
    /// 0 for the first URL of the invocation.
    pub urlnum: usize,
}

impl Transfer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A variable's value: text, a count, or seconds (printed with six decimals, as curl).
enum Val {
    Text(String),
    Count(u64),
    Seconds(f64),
}

type Getter = fn(&Transfer) -> Val;

/// Every variable mreq knows, with how it is read.
const VARIABLES: &[(&str, Getter)] = &[
    ("content_type", |t| {
        Val::Text(t.header("content-type").unwrap_or("").into())
    }),
    ("errormsg", |t| Val::Text(t.error.clone())),
    ("exitcode", |t| Val::Count(t.exit.into())),
    ("filename_effective", |t| {
        Val::Text(t.marks.filename.clone().unwrap_or_default())
    }),
    ("http_code", |t| Val::Text(format!("{:03}", t.status))),
    ("response_code", |t| Val::Text(format!("{:03}", t.status))),
    ("http_version", |t| {
        Val::Text(if t.status == 0 { "0" } else { "1.1" }.into())
    }),
    ("method", |t| Val::Text(t.method.clone())),
    ("num_connects", |t| Val::Count(t.marks.connects.into())),
    ("num_headers", |t| Val::Count(t.headers.len() as u64)),
    ("num_redirects", |t| Val::Count(t.marks.redirects.into())),
    ("redirect_url", |t| {
        let location = t
            .header("location")
            .filter(|_| (300..400).contains(&t.status));
        Val::Text(location.map(|l| join(&t.effective, l)).unwrap_or_default())
    }),
    ("remote_ip", |t| {
        Val::Text(
            t.marks
                .remote
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        )
    }),
    ("remote_port", |t| {
        Val::Count(t.marks.remote.map_or(0, |a| a.port()).into())
    }),
    ("local_ip", |t| {
        Val::Text(
            t.marks
                .local
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        )
    }),
    ("local_port", |t| {
        Val::Count(t.marks.local.map_or(0, |a| a.port()).into())
    }),
    ("scheme", |t| {
        Val::Text(
            t.effective
                .split("://")
                .next()
                .unwrap_or("")
                .to_ascii_uppercase(),
        )
    }),
    ("size_download", |t| Val::Count(t.marks.downloaded)),
    ("size_header", |t| Val::Count(t.marks.response_heads)),
    // curl counts every byte sent, the body's too.
    ("size_request", |t| Val::Count(t.marks.written)),
    ("size_upload", |t| Val::Count(t.marks.uploaded())),
    ("speed_download", |t| {
        Val::Count(per_second(t.marks.downloaded, &t.marks))
    }),
    ("speed_upload", |t| {
        Val::Count(per_second(t.marks.uploaded(), &t.marks))
    }),
    ("time_namelookup", |t| {
        Val::Seconds(t.marks.seconds(t.marks.namelookup))
    }),
    ("time_connect", |t| {
        Val::Seconds(t.marks.seconds(t.marks.connect))
    }),
    ("time_appconnect", |t| {
        Val::Seconds(t.marks.seconds(t.marks.appconnect))
    }),
    ("time_pretransfer", |t| {
        Val::Seconds(t.marks.seconds(t.marks.appconnect.or(t.marks.connect)))
    }),
    ("time_starttransfer", |t| {
        Val::Seconds(t.marks.seconds(t.marks.starttransfer))
    }),
    ("time_redirect", |t| {
        Val::Seconds(t.marks.seconds(t.marks.redirected))
    }),
    ("time_total", |t| {
        Val::Seconds(t.marks.elapsed().as_secs_f64())
    }),
    ("url", |t| Val::Text(t.url.clone())),
    ("url_effective", |t| Val::Text(t.effective.clone())),
    ("urlnum", |t| Val::Count(t.urlnum as u64)),
];

fn per_second(bytes: u64, marks: &Marks) -> u64 {
    let secs = marks.elapsed().as_secs_f64();
    if secs > 0.0 {
        (bytes as f64 / secs) as u64
    } else {
        0
    }
}

/// A Location against the URL it came from.
fn join(base: &str, location: &str) -> String {
    let mut buf = vec![0u8; base.len() + location.len() + 16];
    mreq_core::url::Url::parse(base)
        .and_then(|base| mreq_core::url::join(&base, location, &mut buf).map(str::to_string))
        .unwrap_or_else(|_| location.to_string())
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(usize),
    Header(String),
    Json,
    HeaderJson,
    ToStdout,
    ToStderr,
}

/// A parsed `-w` format.
#[derive(Debug, Clone, PartialEq)]
pub struct Format(Vec<Piece>);

impl Format {
    /// Parses a format (`@FILE` / `@-`: read from there); an unknown variable is an error
    /// naming it.
    pub fn parse(given: &str) -> Result<Format, String> {
        let text = match given.strip_prefix('@') {
            Some(source) => crate::data::read_source(source)
                .map_err(|e| format!("-w {given}: {e}"))
                .and_then(|b| {
                    String::from_utf8(b).map_err(|_| format!("-w {given}: not UTF-8 text"))
                })?,
            None => given.to_string(),
        };
        parse_text(&text).map(Format)
    }

    /// Writes the format for `transfer` to `out` (or `err` after `%{stderr}`).
    pub fn write(
        &self,
        transfer: &Transfer,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        let mut to_stderr = false;
        for piece in &self.0 {
            let text = match piece {
                Piece::ToStdout => {
                    to_stderr = false;
                    continue;
                }
                Piece::ToStderr => {
                    to_stderr = true;
                    continue;
                }
                Piece::Text(text) => text.clone(),
                Piece::Var(i) => show(VARIABLES[*i].1(transfer)),
                Piece::Header(name) => transfer.header(name).unwrap_or("").to_string(),
                Piece::Json => json_of(transfer).to_string(),
                Piece::HeaderJson => headers_json(transfer).to_string(),
            };
            let sink: &mut dyn Write = if to_stderr { err } else { out };
            sink.write_all(text.as_bytes())?;
        }
        Ok(())
    }
}

fn show(val: Val) -> String {
    match val {
        Val::Text(text) => text,
        Val::Count(n) => n.to_string(),
        Val::Seconds(s) => format!("{s:.6}"),
    }
}

fn json_of(transfer: &Transfer) -> Value {
    let map = VARIABLES
        .iter()
        .map(|(name, get)| {
            let value = match get(transfer) {
                Val::Text(text) => Value::String(text),
                Val::Count(n) => json!(n),
                Val::Seconds(s) => json!(s),
            };
            (name.to_string(), value)
        })
        .collect::<serde_json::Map<_, _>>();
    Value::Object(map)
}

/// `%{header_json}`: each header name (lower case) with its values, as curl gives them.
fn headers_json(transfer: &Transfer) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in &transfer.headers {
        let entry = map
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(value.clone()));
        }
    }
    Value::Object(map)
}

fn parse_text(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("%%") {
            literal.push('%');
            rest = after;
        } else if let Some((piece, after)) = variable(rest)? {
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
            rest = after;
        } else if let Some(after) = rest.strip_prefix('\\') {
            let mut chars = after.chars();
            match chars.next() {
                Some('n') => literal.push('\n'),
                Some('r') => literal.push('\r'),
                Some('t') => literal.push('\t'),
                Some('\\') => literal.push('\\'),
                Some(other) => {
                    literal.push('\\');
                    literal.push(other);
                }
                None => literal.push('\\'),
            }
            rest = chars.as_str();
        } else {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// A `%{name}`, `%header{name}` or `%{header{name}}` at the start of `text`.
fn variable(text: &str) -> Result<Option<(Piece, &str)>, String> {
    if let Some(after) = text
        .strip_prefix("%header{")
        .or_else(|| text.strip_prefix("%{header{"))
    {
        let closing = if text.starts_with("%{") { "}}" } else { "}" };
        let Some(end) = after.find(closing) else {
            return Ok(None);
        };
        let piece = Piece::Header(after[..end].to_string());
        return Ok(Some((piece, &after[end + closing.len()..])));
    }
    let Some(after) = text.strip_prefix("%{") else {
        return Ok(None);
    };
    let Some(end) = after.find('}') else {
        return Ok(None);
    };
    let name = &after[..end];
    let piece = match name {
        "json" => Piece::Json,
        "header_json" => Piece::HeaderJson,
        "stdout" => Piece::ToStdout,
        "stderr" => Piece::ToStderr,
        _ => match VARIABLES.iter().position(|(n, _)| *n == name) {
            Some(i) => Piece::Var(i),
            None => {
                return Err(format!(
                    "-w: unknown variable %{{{name}}} (known: {}, json, header_json, stdout, stderr, %header{{NAME}})",
                    VARIABLES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ))
            }
        },
    };
    Ok(Some((piece, &after[end + 1..])))
}

/// The variable names, for tests and help.
#[cfg(test)]
pub fn names() -> Vec<&'static str> {
    VARIABLES.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(format: &str, transfer: &Transfer) -> (String, String) {
        let format = Format::parse(format).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        format.write(transfer, &mut out, &mut err).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    fn transfer() -> Transfer {
        Transfer {
            method: "GET".into(),
            url: "http://h/a".into(),
            effective: "http://h/b/c".into(),
            status: 302,
            headers: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Location".into(), "../d?x=1".into()),
                ("Set-Cookie".into(), "a=1".into()),
                ("Set-Cookie".into(), "b=2".into()),
            ],
            exit: 0,
            ..Transfer::default()
        }
    }

    #[test]
    fn variables_escapes_and_streams() {
        let t = transfer();
        let (out, err) = render(
            "%{http_code} %{content_type}\\t%{redirect_url}%%\\n%{stderr}%header{set-cookie}|%{header{location}}",
            &t,
        );
        assert_eq!(out, "302 text/plain\thttp://h/d?x=1%\n");
        assert_eq!(err, "a=1|../d?x=1");
        let (json, _) = render("%{json}", &t);
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["http_code"], "302");
        assert_eq!(value["exitcode"], 0);
        assert_eq!(value.as_object().unwrap().len(), names().len());
        let (headers, _) = render("%{header_json}", &t);
        let value: Value = serde_json::from_str(&headers).unwrap();
        assert_eq!(value["set-cookie"], json!(["a=1", "b=2"]));
    }

    #[test]
    fn unknown_variables_are_refused_by_name() {
        let err = Format::parse("%{http_code} %{time_wasted}").unwrap_err();
        assert!(err.contains("%{time_wasted}"), "{err}");
        assert_eq!(render("%{unterminated", &transfer()).0, "%{unterminated");
    }
}
