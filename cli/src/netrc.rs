//! `.netrc` logins (curl's `-n`, `--netrc-file`): `machine HOST login USER password PASS`, a
//! `default` entry for any other host, `macdef` blocks skipped, tokens in double quotes allowed.
//! Used only when no `-u`, `--bearer` or URL credentials are given; a missing file means no
//! logins, as in curl.

use std::path::{Path, PathBuf};

/// The file `-n` reads: `$HOME/.netrc`.
pub fn default_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".netrc"))
}

/// The login and password for `host` in the file, if it has them.
pub fn lookup(file: &Path, host: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(file).ok()?;
    find(&text, host)
}

fn find(text: &str, host: &str) -> Option<(String, String)> {
    let tokens = tokens(text);
    let mut i = 0;
    let mut fallback = None;
    while i < tokens.len() {
        let (matches, start) = match tokens[i].as_str() {
            "machine" => (
                tokens
                    .get(i + 1)
                    .is_some_and(|m| m.eq_ignore_ascii_case(host)),
                i + 2,
            ),
            "default" => (false, i + 1),
            "macdef" => {
                i += 2;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let is_default = tokens[i] == "default";
        let (mut login, mut password, mut j) = (None, None, start);
        while j + 1 < tokens.len()
            && !matches!(tokens[j].as_str(), "machine" | "default" | "macdef")
        {
            match tokens[j].as_str() {
                "login" => login = Some(tokens[j + 1].clone()),
                "password" => password = Some(tokens[j + 1].clone()),
                _ => {}
            }
            j += 2;
        }
        let entry = login.map(|l| (l, password.unwrap_or_default()));
        if matches {
            return entry;
        }
        if is_default && fallback.is_none() {
            fallback = entry;
        }
        i = j.max(i + 1);
    }
    fallback
}

/// The file's tokens; a `macdef` body (up to a blank line) is dropped.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut rest = line.trim_start();
        while !rest.is_empty() {
            let (token, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let mut token = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((k, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = k + 1;
                            break;
                        }
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                token.push(match e {
                                    'n' => '\n',
                                    't' => '\t',
                                    other => other,
                                });
                            }
                        }
                        other => token.push(other),
                    }
                }
                (token, &quoted[end..])
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            };
            if token.starts_with('#') && !rest.starts_with('"') {
                break;
            }
            let macdef = token == "macdef";
            out.push(token);
            rest = after.trim_start();
            if macdef {
                out.push(rest.split_whitespace().next().unwrap_or("").to_string());
                for body in lines.by_ref() {
                    if body.trim().is_empty() {
                        break;
                    }
                }
                rest = "";
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_default_macdef_and_quotes() {
        let text = "# logins\nmachine a.example login alice password \"s p\\\"w\"\n\nmacdef init\ncd /\nmachine x login evil\n\nmachine B.example\n  login bob\n  password pw2\ndefault login anon password any\n";
        assert_eq!(
            find(text, "a.example"),
            Some(("alice".into(), "s p\"w".into()))
        );
        assert_eq!(find(text, "b.example"), Some(("bob".into(), "pw2".into())));
        assert_eq!(find(text, "other"), Some(("anon".into(), "any".into())));
        assert_eq!(
            find("machine a login u", "a"),
            Some(("u".into(), String::new()))
        );
        assert_eq!(find("machine a login u password p", "b"), None);
    }
}
