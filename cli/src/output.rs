//! What gets printed, and how: HTTPie's `--print` letters, colours and JSON formatting.

use crate::args::{Args, Pretty};
use std::io::{self, Write};

/// Which parts of the exchange to print (`--print=HBhb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrintSpec {
    pub request_head: bool,
    pub request_body: bool,
    pub response_head: bool,
    pub response_body: bool,
}

impl PrintSpec {
    pub fn parse(letters: &str) -> anyhow::Result<Self> {
        let mut spec = PrintSpec::default();
        for letter in letters.chars() {
            match letter {
                'H' => spec.request_head = true,
                'B' => spec.request_body = true,
                'h' => spec.response_head = true,
                'b' => spec.response_body = true,
                other => anyhow::bail!("--print: unknown letter {other:?} (use H, B, h, b)"),
            }
        }
        Ok(spec)
    }

    /// The default for these flags: HTTPie's, with curl's -i, -I and -v mapped onto it.
    pub fn from_args(
        args: &Args,
        stdout_is_terminal: bool,
        downloading: bool,
    ) -> anyhow::Result<Self> {
        if let Some(letters) = &args.print {
            return Self::parse(letters);
        }
        let letters = if args.verbose {
            "HBhb"
        } else if args.offline {
            "HB"
        } else if args.head {
            "h"
        } else if args.include || (stdout_is_terminal && !downloading) {
            "hb"
        } else if downloading {
            ""
        } else {
            "b"
        };
        Self::parse(letters)
    }
}

/// Whether to colour and whether to reformat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colors: bool,
    pub format: bool,
}

impl Style {
    pub fn new(pretty: Option<Pretty>, stdout_is_terminal: bool) -> Self {
        let pretty = pretty.unwrap_or(if stdout_is_terminal {
            Pretty::All
        } else {
            Pretty::None
        });
        Style {
            colors: matches!(pretty, Pretty::All | Pretty::Colors),
            format: matches!(pretty, Pretty::All | Pretty::Format),
        }
    }
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

fn paint(out: &mut impl Write, on: bool, color: &str, text: &str) -> io::Result<()> {
    if on {
        write!(out, "{color}{text}{RESET}")
    } else {
        out.write_all(text.as_bytes())
    }
}

/// Prints a head given as raw bytes (status or request line, then fields): on a terminal with
/// LF line ends and coloured if asked; anywhere else exactly the bytes as they were sent or
/// received, CRLFs and all.
pub fn print_head(
    out: &mut impl Write,
    raw: &[u8],
    style: Style,
    terminal: bool,
) -> io::Result<()> {
    if !terminal && !style.colors {
        out.write_all(raw)?;
        if !raw.ends_with(b"\r\n\r\n") {
            out.write_all(b"\r\n")?;
        }
        return Ok(());
    }
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    if let Some(first) = lines.next() {
        if !style.colors {
            writeln!(out, "{first}")?;
        } else if let Some(rest) = first.strip_prefix("HTTP/") {
            let (version, status) = rest.split_once(' ').unwrap_or((rest, ""));
            let color = match status.as_bytes().first() {
                Some(b'2') => GREEN,
                Some(b'3') => YELLOW,
                Some(b'4' | b'5') => RED,
                _ => BLUE,
            };
            write!(out, "{DIM}HTTP/{version}{RESET} ")?;
            paint(out, true, &format!("{BOLD}{color}"), status)?;
            writeln!(out)?;
        } else {
            let mut parts = first.splitn(3, ' ');
            let (method, target, version) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            writeln!(
                out,
                "{BOLD}{GREEN}{method}{RESET} {CYAN}{target}{RESET} {DIM}{version}{RESET}"
            )?;
        }
    }
    for line in lines {
        match line.split_once(':') {
            Some((name, value)) if style.colors => writeln!(out, "{CYAN}{name}{RESET}:{value}")?,
            _ => writeln!(out, "{line}")?,
        }
    }
    writeln!(out)
}

/// The charset a `Content-Type` declares (`text/plain; charset=iso-8859-1`), if it names one
/// encoding_rs knows (the WHATWG Encoding Standard's labels).
pub fn charset(content_type: Option<&str>) -> Option<&'static encoding_rs::Encoding> {
    let params = content_type?.split(';').skip(1);
    params
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .and_then(|(_, value)| {
            encoding_rs::Encoding::for_label(value.trim().trim_matches('"').as_bytes())
        })
}

/// Whether bytes look binary: NUL bytes, or (unless another charset is declared) not UTF-8,
/// allowing a cut at the end.
pub fn looks_binary(sample: &[u8], charset: Option<&'static encoding_rs::Encoding>) -> bool {
    if sample.contains(&0) {
        return true;
    }
    if charset.is_some_and(|c| c != encoding_rs::UTF_8) {
        return false;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some(),
    }
}

/// Text for the terminal: decoded from the declared charset (UTF-8 when none is declared).
pub fn decode(body: &[u8], charset: Option<&'static encoding_rs::Encoding>) -> String {
    let (text, _, _) = charset.unwrap_or(encoding_rs::UTF_8).decode(body);
    text.into_owned()
}

pub const BINARY_NOTE: &str = "+-----------------------------------------+\n| NOTE: binary data not shown in terminal |\n+-----------------------------------------+\n(save it with -o FILE, or pipe it: mreq URL > FILE)\n";

/// Whether a Content-Type is JSON (`application/json`, `application/problem+json`, ...).
pub fn is_json_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        essence.ends_with("/json") || essence.ends_with("+json")
    })
}

/// A whole received body: on a terminal decoded from its declared charset, elsewhere the bytes
/// as they came; then printed as `style` says.
pub fn print_received(
    out: &mut impl Write,
    body: &[u8],
    charset: Option<&'static encoding_rs::Encoding>,
    json: bool,
    style: Style,
    terminal: bool,
) -> io::Result<()> {
    if terminal {
        print_body(out, decode(body, charset).as_bytes(), json, style)
    } else {
        print_body(out, body, json, style)
    }
}

/// Prints a body: JSON reformatted and coloured when the style says so, other text as it is.
pub fn print_body(
    out: &mut impl Write,
    body: &[u8],
    json_hint: bool,
    style: Style,
) -> io::Result<()> {
    let parsed = if (style.format || style.colors) && (json_hint || looks_like_json(body)) {
        serde_json::from_slice::<serde_json::Value>(body).ok()
    } else {
        None
    };
    if let Some(value) = parsed {
        if style.format {
            write_json(out, &value, 0, style.colors)?;
            return writeln!(out);
        }
        // Colours only: the text keeps its own layout.
        return colour_json_text(out, body);
    }
    out.write_all(body)?;
    if style.format && !body.ends_with(b"\n") && !body.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

fn write_string(out: &mut impl Write, s: &str, color: Option<&str>) -> io::Result<()> {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    match color {
        Some(color) => write!(out, "{color}{quoted}{RESET}"),
        None => out.write_all(quoted.as_bytes()),
    }
}

fn write_scalar(out: &mut impl Write, value: &serde_json::Value, colors: bool) -> io::Result<()> {
    use serde_json::Value;
    let color = match value {
        Value::String(_) => GREEN,
        Value::Number(_) => MAGENTA,
        _ => YELLOW,
    };
    match value {
        Value::String(s) => write_string(out, s, colors.then_some(color)),
        other => paint(out, colors, color, &other.to_string()),
    }
}

/// JSON with 4-space indentation (as HTTPie prints it), keys in their original order.
fn write_json(
    out: &mut impl Write,
    value: &serde_json::Value,
    depth: usize,
    colors: bool,
) -> io::Result<()> {
    use serde_json::Value;
    let pad = "    ".repeat(depth + 1);
    let close_pad = "    ".repeat(depth);
    match value {
        Value::Object(map) if !map.is_empty() => {
            writeln!(out, "{{")?;
            for (i, (key, item)) in map.iter().enumerate() {
                out.write_all(pad.as_bytes())?;
                write_string(out, key, colors.then_some(BLUE))?;
                out.write_all(b": ")?;
                write_json(out, item, depth + 1, colors)?;
                writeln!(out, "{}", if i + 1 < map.len() { "," } else { "" })?;
            }
            write!(out, "{close_pad}}}")
        }
        Value::Array(items) if !items.is_empty() => {
            writeln!(out, "[")?;
            for (i, item) in items.iter().enumerate() {
                out.write_all(pad.as_bytes())?;
                write_json(out, item, depth + 1, colors)?;
                writeln!(out, "{}", if i + 1 < items.len() { "," } else { "" })?;
            }
            write!(out, "{close_pad}]")
        }
        Value::Object(_) => out.write_all(b"{}"),
        Value::Array(_) => out.write_all(b"[]"),
        scalar => write_scalar(out, scalar, colors),
    }
}

/// Colours JSON text token by token, leaving every byte of its layout as it was (the text is
/// known to parse). A string followed by `:` is a key.
fn colour_json_text(out: &mut impl Write, text: &[u8]) -> io::Result<()> {
    let mut i = 0;
    while i < text.len() {
        let start = i;
        let color = match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(text.len());
                let rest = text[i..].iter().find(|b| !b.is_ascii_whitespace());
                if rest == Some(&b':') {
                    BLUE
                } else {
                    GREEN
                }
            }
            b'-' | b'0'..=b'9' => {
                while i < text.len()
                    && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                MAGENTA
            }
            b't' | b'f' | b'n' => {
                while i < text.len() && text[i].is_ascii_alphabetic() {
                    i += 1;
                }
                YELLOW
            }
            _ => {
                i += 1;
                out.write_all(&text[start..i])?;
                continue;
            }
        };
        out.write_all(color.as_bytes())?;
        out.write_all(&text[start..i])?;
        out.write_all(RESET.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_letters() {
        let spec = PrintSpec::parse("Hb").unwrap();
        assert!(
            spec.request_head && spec.response_body && !spec.request_body && !spec.response_head
        );
        assert!(PrintSpec::parse("x").is_err());
    }

    #[test]
    fn json_is_indented_in_order() {
        let mut out = Vec::new();
        let style = Style {
            colors: false,
            format: true,
        };
        print_body(&mut out, br#"{"z":1,"a":[true,null],"e":{}}"#, true, style).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\n    \"z\": 1,\n    \"a\": [\n        true,\n        null\n    ],\n    \"e\": {}\n}\n");
    }

    #[test]
    fn raw_output_is_untouched() {
        let mut out = Vec::new();
        print_body(
            &mut out,
            br#"{"a":1}"#,
            true,
            Style {
                colors: false,
                format: false,
            },
        )
        .unwrap();
        assert_eq!(out, br#"{"a":1}"#);
    }

    #[test]
    fn colours_only_when_asked() {
        let mut out = Vec::new();
        print_head(
            &mut out,
            b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n",
            Style {
                colors: true,
                format: true,
            },
            true,
        )
        .unwrap();
        assert!(String::from_utf8(out).unwrap().contains(RED));
        let mut plain = Vec::new();
        print_head(
            &mut plain,
            b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n",
            Style {
                colors: false,
                format: true,
            },
            true,
        )
        .unwrap();
        assert_eq!(plain, b"HTTP/1.1 404 Not Found\nA: b\n\n");
        let mut piped = Vec::new();
        let raw = b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\n\r\n";
        print_head(
            &mut piped,
            raw,
            Style {
                colors: false,
                format: false,
            },
            false,
        )
        .unwrap();
        assert_eq!(piped, raw, "piped heads are the bytes as received");
    }

    #[test]
    fn colours_alone_keep_the_layout() {
        let text = br#"{"a":  [1, -2.5e3, true, null], "k": "v:\"x"}"#;
        let mut out = Vec::new();
        print_body(
            &mut out,
            text,
            true,
            Style {
                colors: true,
                format: false,
            },
        )
        .unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert!(shown.contains(&format!("{BLUE}\"a\"{RESET}")), "{shown}");
        assert!(shown.contains(&format!("{MAGENTA}-2.5e3{RESET}")));
        assert!(
            shown.contains(&format!("{GREEN}\"v:\\\"x\"{RESET}")),
            "{shown}"
        );
        let plain: String = shown
            .replace(RESET, "")
            .replace(BLUE, "")
            .replace(GREEN, "")
            .replace(MAGENTA, "")
            .replace(YELLOW, "");
        assert_eq!(plain.as_bytes(), text, "every byte of the layout kept");
    }

    #[test]
    fn declared_charsets_are_decoded() {
        let latin = charset(Some("text/plain; charset=iso-8859-1"));
        assert!(!looks_binary(b"caf\xe9 au lait", latin));
        assert!(looks_binary(b"caf\xe9 au lait", None));
        assert_eq!(decode(b"caf\xe9", latin), "café");
        assert_eq!(
            charset(Some("text/html; charset=\"UTF-8\"")),
            Some(encoding_rs::UTF_8)
        );
    }

    #[test]
    fn binary_detection_and_json_types() {
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n\0\0", None));
        assert!(!looks_binary("café".as_bytes(), None));
        assert!(
            !looks_binary(&"café".as_bytes()[..4], None),
            "a cut UTF-8 sequence at the end is not binary"
        );
        assert!(is_json_type(Some("application/json; charset=utf-8")));
        assert!(is_json_type(Some("application/problem+json")));
        assert!(!is_json_type(Some("text/html")));
    }
}
