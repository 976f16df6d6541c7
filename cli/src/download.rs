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

    /// The size of an earlier partial download, for `Range: bytes=N-`.
    pub fn resume_from(&self) -> u64 {
        if self.is_special() {
            return 0;
        }
        std::fs::metadata(&self.partial)
            .map(|m| m.len())
            .unwrap_or(0)
    }
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

/// An open partial file plus the progress bar that follows it.
pub struct Sink {
    file: File,
    target: Target,
    bar: ProgressBar,
    pub written: u64,
}

impl Sink {
    /// Opens the partial file: appending when resuming (`append`), from scratch otherwise.
    pub fn open(
        target: Target,
        append: bool,
        already: u64,
        total: Option<u64>,
        show_progress: bool,
    ) -> Result<Sink> {
        let file = if append {
            OpenOptions::new().append(true).open(&target.partial)
        } else if target.is_special() {
            OpenOptions::new().write(true).open(&target.partial)
        } else {
            File::create(&target.partial)
        }
        .with_context(|| format!("cannot write {}", target.partial.display()))?;
        let bar = if show_progress {
            progress_bar(total.map(|t| t + already))
        } else {
            ProgressBar::hidden()
        };
        bar.set_position(already);
        Ok(Sink {
            file,
            target,
            bar,
            written: already,
        })
    }

    /// The open file, for zero-copy writes (report them with [`advance`](Self::advance)).
    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn advance(&mut self, n: u64) {
        self.written += n;
        self.bar.set_position(self.written);
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .with_context(|| format!("cannot write {}", self.target.partial.display()))?;
        self.written += data.len() as u64;
        self.bar.set_position(self.written);
        Ok(())
    }

    /// The body is complete: flush, then give the file its real name.
    pub fn finish(self) -> Result<PathBuf> {
        if self.target.is_special() {
            self.bar.finish_and_clear();
            return Ok(self.target.path);
        }
        self.file
            .sync_all()
            .with_context(|| format!("cannot write {}", self.target.partial.display()))?;
        drop(self.file);
        std::fs::rename(&self.target.partial, &self.target.path)
            .with_context(|| format!("cannot rename to {}", self.target.path.display()))?;
        self.bar.finish_and_clear();
        Ok(self.target.path)
    }

    /// The transfer failed: the partial file stays (for --continue) under its partial name.
    pub fn abandon(self) -> PathBuf {
        self.bar.abandon();
        self.target.partial
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
    fn content_range_must_match() {
        assert!(check_content_range(Some("bytes 100-199/200"), 100).is_ok());
        assert!(check_content_range(Some("bytes 0-199/200"), 100).is_err());
        assert!(check_content_range(None, 100).is_err());
    }
}
