//! Saving a response body to a file: streamed, with a progress bar on a terminal, written under a
//! temporary name and renamed only when the whole body has arrived, resumable with a Range request.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// Where a download goes: the final name and the partial file it grows in.
#[derive(Debug, Clone)]
pub struct Target {
    pub path: PathBuf,
    pub partial: PathBuf,
}

/// Where a resumed download continues: the file that holds its first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// `FILE.mreq-part` (ours), or FILE itself (left by curl, wget or HTTPie).
    pub file: PathBuf,
    pub from: u64,
}

impl Target {
    pub fn new(path: PathBuf) -> Self {
        // A device or pipe (`-o /dev/null`) is written as it is: there is nothing to rename.
        let special = std::fs::metadata(&path).is_ok_and(|m| !m.is_file() && !m.is_dir());
        let partial = if special {
            path.clone()
        } else {
            let mut partial = path.clone().into_os_string();
            partial.push(".mreq-part");
            PathBuf::from(partial)
        };
        Target { path, partial }
    }

    fn is_special(&self) -> bool {
        self.path == self.partial
    }

    /// What an earlier download left, for `Range: bytes=N-`: our partial file, else a file
    /// under the final name (a partial or complete download by another tool). `None`: nothing.
    pub fn resume(&self) -> Option<Resume> {
        if self.is_special() {
            return None;
        }
        [&self.partial, &self.path].into_iter().find_map(|file| {
            let meta = std::fs::metadata(file).ok()?;
            (meta.is_file() && meta.len() > 0).then(|| Resume {
                file: file.clone(),
                from: meta.len(),
            })
        })
    }

    /// The server says (416 with `Content-Range: bytes */N`) that the resumed file is complete:
    /// give it its final name.
    pub fn complete_resumed(&self, resume: &Resume, content_range: Option<&str>) -> Result<()> {
        let total = content_range
            .and_then(|v| v.trim().strip_prefix("bytes */"))
            .and_then(|n| n.trim().parse::<u64>().ok());
        if total != Some(resume.from) {
            bail!(
                "cannot resume {}: the server refused the range (416) without saying the file is complete ({} has {} bytes; Content-Range: {})",
                self.path.display(),
                resume.file.display(),
                resume.from,
                content_range.unwrap_or("none")
            );
        }
        if resume.file != self.path {
            std::fs::rename(&resume.file, &self.path)
                .with_context(|| format!("cannot rename to {}", self.path.display()))?;
        }
        Ok(())
    }
}

/// The file name `Content-Disposition: attachment; filename=...` suggests (RFC 6266, with the
/// RFC 8187 `filename*=UTF-8''...` form preferred), if it is a plain name: one with a path
/// separator, `..`, a leading dot or a control character is refused (`Err` says why).
pub fn disposition_name(value: &str) -> Option<std::result::Result<String, String>> {
    let mut plain = None;
    let mut extended = None;
    for param in value.split(';').skip(1) {
        let Some((name, raw)) = param.split_once('=') else {
            continue;
        };
        let raw = raw.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "filename" => plain = Some(raw.trim_matches('"').replace("\\\"", "\"")),
            "filename*" => {
                let mut pieces = raw.splitn(3, '\'');
                let charset = pieces.next().unwrap_or("");
                let encoded = pieces.nth(1).unwrap_or("");
                if charset.eq_ignore_ascii_case("utf-8") {
                    extended = Some(mreq_core::form::unquote(encoded));
                }
            }
            _ => {}
        }
    }
    let name = extended.or(plain)?;
    let refused = name.contains(['/', '\\'])
        || name == ".."
        || name.starts_with('.')
        || name.is_empty()
        || name.chars().any(char::is_control);
    Some(if refused { Err(name) } else { Ok(name) })
}

/// `name`, or `name-1`, `name-2`... : the first that does not exist yet (HTTPie's --download
/// never overwrites).
pub fn unused_name(path: PathBuf) -> PathBuf {
    if !path.exists() {
        return path;
    }
    (1..)
        .map(|n| {
            let mut candidate = path.clone().into_os_string();
            candidate.push(format!("-{n}"));
            PathBuf::from(candidate)
        })
        .find(|p| !p.exists())
        .unwrap_or(path)
}

/// The file name `-O` uses: the URL path's last segment, or `index.html`.
pub fn remote_name(url: &str) -> PathBuf {
    let without_query = url.split(['?', '#']).next().unwrap_or("");
    let path = without_query
        .split_once("://")
        .map_or(without_query, |(_, rest)| rest);
    let segment = path
        .split_once('/')
        .map_or("", |(_, p)| p)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let decoded = mreq_core::form::unquote(segment);
    let safe: String = decoded
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | '\0'))
        .collect();
    if safe.is_empty() || safe == "." || safe == ".." {
        PathBuf::from("index.html")
    } else {
        PathBuf::from(safe)
    }
}

/// Written bytes between two background flushes to disk.
const FLUSH_EVERY: u64 = 32 * 1024 * 1024;

/// Flushes a file to disk in the background while the download goes on, so the `fsync` that
/// comes before the rename (a crash must never leave a short file under the final name) finds
/// little left to write. A request is dropped when the last flush still runs.
struct Flusher {
    ask: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Flusher {
    fn start(file: &File) -> Option<Flusher> {
        let file = file.try_clone().ok()?;
        let (ask, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("flush".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    let _ = file.sync_data();
                }
            })
            .ok()?;
        Some(Flusher { ask, thread })
    }

    fn nudge(&self) {
        let _ = self.ask.try_send(());
    }

    fn stop(self) {
        drop(self.ask);
        let _ = self.thread.join();
    }
}

/// An open partial file plus the progress bar that follows it.
pub struct Sink {
    file: File,
    flusher: Option<Flusher>,
    /// `written` when the flusher was last asked.
    nudged_at: u64,
    target: Target,
    /// The file being written: the partial file, or the final one when resuming into it.
    writing: PathBuf,
    appending: bool,
    bar: ProgressBar,
    pub written: u64,
}

impl Sink {
    /// Opens the file the body goes into: appending to `resume.file` after a 206, from scratch
    /// (the partial file) otherwise.
    pub fn open(
        target: Target,
        resume: Option<&Resume>,
        total: Option<u64>,
        show_progress: bool,
    ) -> Result<Sink> {
        let (writing, already) = match resume {
            Some(r) => (r.file.clone(), r.from),
            None => (target.partial.clone(), 0),
        };
        let file = if resume.is_some() {
            OpenOptions::new().append(true).open(&writing)
        } else if target.is_special() {
            OpenOptions::new().write(true).open(&writing)
        } else {
            File::create(&writing)
        }
        .with_context(|| format!("cannot write {}", writing.display()))?;
        let bar = if show_progress {
            progress_bar(total.map(|t| t + already))
        } else {
            ProgressBar::hidden()
        };
        bar.set_position(already);
        let flusher = (!target.is_special())
            .then(|| Flusher::start(&file))
            .flatten();
        Ok(Sink {
            flusher,
            nudged_at: already,
            file,
            target,
            writing,
            appending: resume.is_some(),
            bar,
            written: already,
        })
    }

    /// The body is complete: flush, then give the file its real name.
    pub fn finish(mut self) -> Result<PathBuf> {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
        if self.target.is_special() {
            self.bar.finish_and_clear();
            return Ok(self.target.path);
        }
        self.file
            .sync_all()
            .with_context(|| format!("cannot write {}", self.writing.display()))?;
        drop(self.file);
        if self.writing != self.target.path {
            std::fs::rename(&self.writing, &self.target.path)
                .with_context(|| format!("cannot rename to {}", self.target.path.display()))?;
        }
        self.bar.finish_and_clear();
        Ok(self.target.path)
    }

    /// The transfer failed: what arrived stays (for --continue) in the file being written.
    pub fn abandon(mut self) -> PathBuf {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
        self.bar.abandon();
        self.writing
    }

    /// The file being written, for messages.
    pub fn writing(&self) -> &std::path::Path {
        &self.writing
    }
}

impl crate::deliver::BodySink for Sink {
    fn write_body(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)?;
        self.written += data.len() as u64;
        self.bar.set_position(self.written);
        self.flush_behind();
        Ok(())
    }

    fn splice_file(&mut self) -> std::io::Result<Option<&File>> {
        // splice(2) refuses files opened for appending (a resumed download).
        Ok((!self.appending).then_some(&self.file))
    }

    fn moved(&mut self, n: u64) {
        self.written += n;
        self.bar.set_position(self.written);
        self.flush_behind();
    }
}

impl Sink {
    /// Every [`FLUSH_EVERY`] bytes, asks the background flusher to write what is there.
    fn flush_behind(&mut self) {
        if self.written - self.nudged_at >= FLUSH_EVERY {
            self.nudged_at = self.written;
            if let Some(flusher) = &self.flusher {
                flusher.nudge();
            }
        }
    }
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    let target = ProgressDrawTarget::stderr();
    match total {
        Some(total) => {
            let bar = ProgressBar::with_draw_target(Some(total), target);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::with_draw_target(None, target);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}") {
                bar.set_style(style);
            }
            bar
        }
    }
}

/// Checks that `Content-Range` of a 206 starts where the partial file ends.
pub fn check_content_range(value: Option<&str>, expected_start: u64) -> Result<()> {
    let Some(value) = value else {
        bail!("206 response without Content-Range: cannot resume safely")
    };
    let start = value
        .trim()
        .strip_prefix("bytes ")
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.trim().parse::<u64>().ok());
    match start {
        Some(start) if start == expected_start => Ok(()),
        _ => bail!("server resumed at the wrong place (Content-Range: {value}, expected byte {expected_start})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names() {
        assert_eq!(
            remote_name("http://h/a/b/file.tar.gz?x=1"),
            PathBuf::from("file.tar.gz")
        );
        assert_eq!(remote_name("http://h/"), PathBuf::from("index.html"));
        assert_eq!(remote_name("http://h"), PathBuf::from("index.html"));
        assert_eq!(remote_name("http://h/a%20b"), PathBuf::from("a b"));
        assert_eq!(
            remote_name("http://h/..%2F..%2Fetc"),
            PathBuf::from("....etc")
        );
    }

    #[test]
    fn disposition_names() {
        let name = |v: &str| disposition_name(v);
        assert_eq!(
            name("attachment; filename=\"r.csv\""),
            Some(Ok("r.csv".into()))
        );
        assert_eq!(
            name("attachment; filename=plain.txt"),
            Some(Ok("plain.txt".into()))
        );
        assert_eq!(
            name("attachment; filename=\"x\"; filename*=UTF-8''caf%C3%A9.txt"),
            Some(Ok("café.txt".into()))
        );
        assert_eq!(name("inline"), None);
        for bad in ["../etc/passwd", "a/b", "..", ".bashrc", "a\\b"] {
            assert!(
                matches!(
                    name(&format!("attachment; filename=\"{bad}\"")),
                    Some(Err(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn unused_names_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("mreq-unused-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f.txt");
        assert_eq!(unused_name(file.clone()), file);
        std::fs::write(&file, "x").unwrap();
        std::fs::write(dir.join("f.txt-1"), "x").unwrap();
        assert_eq!(unused_name(file.clone()), dir.join("f.txt-2"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn content_range_must_match() {
        assert!(check_content_range(Some("bytes 100-199/200"), 100).is_ok());
        assert!(check_content_range(Some("bytes 0-199/200"), 100).is_err());
        assert!(check_content_range(None, 100).is_err());
    }
}
