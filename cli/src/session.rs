//! HTTPie's `--session NAME|PATH`: headers, auth and cookies kept between calls. A NAME lives
//! in `$XDG_CONFIG_HOME/mreq/sessions/HOST/NAME.json` (else `~/.config/...`), per host as in
//! HTTPie; a PATH (with a `/` or ending in `.json`) is used as it is. The file is JSON, mode
//! 0600 (it holds credentials), read before the first request and written after the last;
//! `--session-read-only` reads it only.

use crate::args::Args;
use crate::failure::{self, Failure};
use crate::plan::{AuthSpec, Plan, USER_AGENT};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Headers a session does not keep: they describe one request, not the user.
const ONE_REQUEST: [&str; 8] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "cookie",
    "range",
    "accept-encoding",
    "host",
    "expect",
];

#[derive(Debug)]
pub struct Saved {
    path: PathBuf,
    headers: Vec<(String, String)>,
    auth: Option<AuthSpec>,
    /// The cookie jar's text (Netscape format).
    pub cookies: String,
    read_only: bool,
}

fn usage(message: String) -> Failure {
    Failure::new(failure::USAGE, message)
}

impl Saved {
    /// The session the flags name, read from its file (a new one when the file is missing).
    pub fn open(args: &Args, first_host: &str) -> Result<Option<Saved>, Failure> {
        let (given, read_only) = match (&args.session, &args.session_read_only) {
            (Some(_), Some(_)) => {
                return Err(usage(
                    "give --session or --session-read-only, not both".into(),
                ))
            }
            (Some(name), None) => (name, false),
            (None, Some(name)) => (name, true),
            (None, None) => return Ok(None),
        };
        let path = session_path(given, first_host)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(Failure::new(
                    failure::READ_ERROR,
                    format!("cannot read the session {}: {e}", path.display()),
                ))
            }
        };
        let mut session = Saved {
            path,
            headers: Vec::new(),
            auth: None,
            cookies: String::new(),
            read_only,
        };
        if !text.trim().is_empty() {
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                Failure::new(
                    failure::READ_ERROR,
                    format!(
                        "the session {} is not valid JSON: {e}",
                        session.path.display()
                    ),
                )
            })?;
            session.read(&value);
        }
        Ok(Some(session))
    }

    fn read(&mut self, value: &Value) {
        if let Some(headers) = value["headers"].as_array() {
            self.headers = headers
                .iter()
                .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
                .collect();
        }
        let auth = &value["auth"];
        self.auth = match auth["type"].as_str() {
            Some("basic") => Some(AuthSpec::Basic(
                auth["user"].as_str().unwrap_or("").into(),
                auth["password"].as_str().unwrap_or("").into(),
            )),
            Some("bearer") => Some(AuthSpec::Bearer(
                auth["token"].as_str().unwrap_or("").into(),
            )),
            _ => None,
        };
        self.cookies = value["cookies"].as_str().unwrap_or("").to_string();
    }

    /// Gives each request the session's headers (its own win) and auth (unless it has one).
    pub fn apply(&self, plans: &mut [Plan]) {
        for plan in plans {
            for (name, value) in &self.headers {
                let has = plan
                    .headers
                    .iter_mut()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name));
                match has {
                    // A default mreq set loses to the session's; one the user gave wins.
                    Some(slot) if is_default(&slot.0, &slot.1) => {
                        *slot = (name.clone(), value.clone())
                    }
                    Some(_) => {}
                    None => plan.headers.push((name.clone(), value.clone())),
                }
            }
            if plan.auth.is_none() {
                plan.auth = self.auth.clone();
            }
        }
    }

    /// Takes what the first request sent (headers the user set, auth) and the cookies now in
    /// the jar, and writes the file (unless read-only).
    pub fn save(&mut self, sent: &Plan, cookies: String) -> Result<(), Failure> {
        if self.read_only {
            return Ok(());
        }
        for (name, value) in &sent.headers {
            let lower = name.to_ascii_lowercase();
            if ONE_REQUEST.contains(&lower.as_str())
                || lower.starts_with("if-")
                || is_default(name, value)
            {
                continue;
            }
            match self
                .headers
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                Some(slot) => *slot = (name.clone(), value.clone()),
                None => self.headers.push((name.clone(), value.clone())),
            }
        }
        if sent.auth.is_some() {
            self.auth = sent.auth.clone();
        }
        self.cookies = cookies;
        let auth = match &self.auth {
            Some(AuthSpec::Basic(user, password)) => {
                json!({"type": "basic", "user": user, "password": password})
            }
            Some(AuthSpec::Bearer(token)) => json!({"type": "bearer", "token": token}),
            None => Value::Null,
        };
        let value = json!({
            "about": "an mreq session (--session): headers, auth and cookies kept between calls",
            "headers": self.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
            "auth": auth,
            "cookies": self.cookies,
        });
        let failed = |e: std::io::Error| {
            Failure::new(
                failure::WRITE_ERROR,
                format!("cannot write the session {}: {e}", self.path.display()),
            )
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        crate::cookies::write_private(&self.path, text.as_bytes()).map_err(failed)
    }
}

/// Whether a header is one mreq sends by default.
fn is_default(name: &str, value: &str) -> bool {
    (name.eq_ignore_ascii_case("user-agent") && value == USER_AGENT)
        || (name.eq_ignore_ascii_case("accept") && value == "*/*")
}

/// Where a session NAME or PATH lives.
fn session_path(given: &str, host: &str) -> Result<PathBuf, Failure> {
    if given.contains('/') || given.ends_with(".json") {
        return Ok(PathBuf::from(given));
    }
    if given.is_empty() || given.starts_with('.') {
        return Err(usage(format!("--session {given:?}: give a name or a path")));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| {
            usage("--session NAME: neither XDG_CONFIG_HOME nor HOME is set; give a path".into())
        })?;
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(config
        .join("mreq")
        .join("sessions")
        .join(host)
        .join(format!("{given}.json")))
}
