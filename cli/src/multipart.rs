//! multipart/form-data bodies (RFC 7578) from curl's `-F`/`--form-string` and HTTPie's `--form`
//! file items; file contents are streamed from disk, never held in memory.

use crate::args::FormArg;
use crate::body::Part;
use anyhow::{bail, Result};
use mreq_core::multipart as mp;
use std::path::PathBuf;

/// Where a field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(Vec<u8>),
    /// A file streamed as the value; `filename` is sent unless `None` (curl's `<FILE`).
    File {
        path: PathBuf,
        filename: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub content: Content,
    pub content_type: Option<String>,
}

impl Field {
    pub fn text(name: &str, value: &str) -> Field {
        Field {
            name: name.into(),
            content: Content::Text(value.as_bytes().to_vec()),
            content_type: None,
        }
    }

    /// A file upload named like the file, its type guessed from its extension.
    pub fn upload(name: &str, path: &str) -> Field {
        let filename = file_name(path);
        Field {
            name: name.into(),
            content_type: Some(guess_type(&filename).into()),
            content: Content::File {
                path: PathBuf::from(path),
                filename: Some(filename),
            },
        }
    }
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .to_string()
}

/// The fields of `-F` and `--form-string`, in order.
pub fn from_flags(args: &[FormArg]) -> Result<Vec<Field>> {
    args.iter()
        .map(|arg| match arg {
            FormArg::Literal(spec) => {
                let (name, value) = split_name(spec, "--form-string")?;
                Ok(Field::text(name, value))
            }
            FormArg::Field(spec) => parse_field(spec),
        })
        .collect()
}

fn split_name<'a>(spec: &'a str, flag: &str) -> Result<(&'a str, &'a str)> {
    match spec.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name, value)),
        _ => bail!("{flag} {spec:?}: expected NAME=CONTENT"),
    }
}

/// One `-F NAME=CONTENT`: `@FILE` uploads a file, `<FILE` sends its text as the value; either,
/// and text, may end in `;type=MIME`, and `@FILE` in `;filename=NAME` (a file name may be put in
/// double quotes to hold a `;`).
fn parse_field(spec: &str) -> Result<Field> {
    let (name, content) = split_name(spec, "-F")?;
    let (kind, rest) = match content.as_bytes().first() {
        Some(b'@') => ('@', &content[1..]),
        Some(b'<') => ('<', &content[1..]),
        _ => ('=', content),
    };
    let (value, params) = split_params(rest).map_err(|e| anyhow::anyhow!("-F {spec:?}: {e}"))?;
    let mut content_type = None;
    let mut filename = None;
    for (key, val) in params {
        match key.as_str() {
            "type" => content_type = Some(val),
            "filename" if kind == '@' => filename = Some(val),
            _ => {
                bail!("-F {spec:?}: unknown ;{key}= (mreq knows ;type= and, for @FILE, ;filename=)")
            }
        }
    }
    Ok(match kind {
        '@' => {
            if value.is_empty() {
                bail!("-F {spec:?}: no file name after @");
            }
            let guessed = guess_type(&file_name(&value)).to_string();
            Field {
                name: name.into(),
                content_type: Some(content_type.unwrap_or(guessed)),
                content: Content::File {
                    filename: Some(filename.unwrap_or_else(|| file_name(&value))),
                    path: PathBuf::from(value),
                },
            }
        }
        '<' => Field {
            name: name.into(),
            content_type,
            content: Content::File {
                path: PathBuf::from(value),
                filename: None,
            },
        },
        _ => Field {
            name: name.into(),
            content_type,
            content: Content::Text(value.into_bytes()),
        },
    })
}

/// Splits `value;key=val;key=val`. A value in double quotes (`\"` and `\\` inside) is taken
/// whole, `;` included; unquoted, a `;` must start a parameter curl knows (curl would drop an
/// unknown one with a warning, losing that part of the value, so it is refused here).
fn split_params(text: &str) -> Result<(String, Vec<(String, String)>)> {
    let (value, mut rest) = match text.strip_prefix('"') {
        Some(quoted) => {
            let (value, used) = unescape_quoted(quoted)?;
            (value, &quoted[used..])
        }
        None => match text.find(';') {
            Some(i) => (text[..i].to_string(), &text[i..]),
            None => (text.to_string(), ""),
        },
    };
    let mut params = Vec::new();
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix(';').filter(|a| starts_param(a)) else {
            bail!("{rest:?} is not a parameter (;type= or ;filename=): put the value in double quotes, or use --form-string");
        };
        let next = after.find(';').unwrap_or(after.len());
        let (key, val) = after[..next]
            .split_once('=')
            .unwrap_or((&after[..next], ""));
        params.push((key.trim().to_ascii_lowercase(), unquote(val.trim())));
        rest = &after[next..];
    }
    Ok((value, params))
}

/// A quoted value after its opening quote: the text and the bytes used, closing quote included.
fn unescape_quoted(text: &str) -> Result<(String, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, i + 1)),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            other => value.push(other),
        }
    }
    bail!("the quoted value {text:?} has no closing quote")
}

/// Whether the text after a `;` is a parameter curl knows.
fn starts_param(text: &str) -> bool {
    let text = text.trim_start().to_ascii_lowercase();
    ["type=", "filename=", "headers=", "encoder="]
        .iter()
        .any(|p| text.starts_with(p))
}

fn unquote(text: &str) -> String {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
        .to_string()
}

/// The body of these fields and its Content-Type (with the boundary), framed by mreq-core's
/// `multipart`: the CLI only adds where each part's data comes from.
pub fn body(fields: &[Field]) -> Result<(Vec<Part>, String)> {
    let boundary = mp::Boundary::from_random(random_bytes());
    let mut parts = Vec::new();
    let mut text = String::new();
    for field in fields {
        let head = mp::Field {
            name: &field.name,
            filename: match &field.content {
                Content::File { filename, .. } => filename.as_deref(),
                Content::Text(_) => None,
            },
            content_type: field.content_type.as_deref(),
        };
        mp::write_head(&boundary, &head, &mut text).map_err(|_| {
            anyhow::anyhow!(
                "field {:?}: its type {:?} holds a line break",
                field.name,
                field.content_type.as_deref().unwrap_or_default()
            )
        })?;
        let mut bytes = std::mem::take(&mut text).into_bytes();
        match &field.content {
            Content::Text(value) => bytes.extend_from_slice(value),
            Content::File { path, .. } => {
                parts.push(Part::Bytes(bytes));
                parts.push(Part::File(path.clone()));
                bytes = Vec::new();
            }
        }
        bytes.extend_from_slice(mp::PART_END);
        parts.push(Part::Bytes(bytes));
    }
    let _ = mp::write_close(&boundary, &mut text);
    parts.push(Part::Bytes(text.into_bytes()));
    let mut content_type = String::new();
    let _ = boundary.write_content_type(&mut content_type);
    Ok((parts, content_type))
}

/// 16 bytes for the boundary from the system's RNG (through rustls' provider), else from the
/// clock and the process id: the boundary only has to be absent from the data.
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let provider = rustls::crypto::ring::default_provider();
    if provider.secure_random.fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
        bytes[12..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes
}

/// Every file of the fields exists and can be read, checked before anything is sent.
pub fn check_files(fields: &[Field]) -> Result<()> {
    for field in fields {
        if let Content::File { path, .. } = &field.content {
            std::fs::File::open(path).map_err(|e| {
                crate::data::Unreadable(format!(
                    "field {:?}: cannot read {}: {e}",
                    field.name,
                    path.display()
                ))
            })?;
        }
    }
    Ok(())
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

    fn field(spec: &str) -> Field {
        parse_field(spec).unwrap()
    }

    #[test]
    fn curl_field_forms() {
        assert_eq!(field("a=\"b;c\""), Field::text("a", "b;c"));
        assert_eq!(
            field(r#"q="x\"y";type=t/x"#).content,
            Content::Text(b"x\"y".to_vec())
        );
        let typed = field("a=hi;type=text/x");
        assert_eq!(typed.content, Content::Text(b"hi".to_vec()));
        assert_eq!(typed.content_type.as_deref(), Some("text/x"));
        let file = field("up=@dir/r.json;filename=n.txt");
        assert_eq!(
            file.content,
            Content::File {
                path: "dir/r.json".into(),
                filename: Some("n.txt".into())
            }
        );
        assert_eq!(file.content_type.as_deref(), Some("application/json"));
        let quoted = field("up=@\"a;b.bin\";type=x/y");
        assert_eq!(
            quoted.content,
            Content::File {
                path: "a;b.bin".into(),
                filename: Some("a;b.bin".into())
            }
        );
        assert_eq!(quoted.content_type.as_deref(), Some("x/y"));
        let inline = field("v=<notes.txt");
        assert_eq!(
            inline.content,
            Content::File {
                path: "notes.txt".into(),
                filename: None
            }
        );
        assert_eq!(inline.content_type, None);
    }

    #[test]
    fn bad_fields_are_refused() {
        for bad in [
            "novalue",
            "=x",
            "a=@",
            "a=@f;headers=X: y",
            "a=x;filename=f",
        ] {
            assert!(parse_field(bad).is_err(), "{bad}");
        }
        let literal = from_flags(&[FormArg::Literal("a=@x;type=y".into())]).unwrap();
        assert_eq!(literal, [Field::text("a", "@x;type=y")]);
    }
}
