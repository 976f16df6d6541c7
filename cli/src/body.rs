//! Request bodies from files and pipes, streamed: a body is a list of parts (bytes, a file, the
//! standard input) read one after the other, never held in memory. Its length is known when every
//! part's is (then `Content-Length`), else it goes chunked. It can be sent again (a 307/308
//! redirect, a retry on a fresh connection) when every part can be read again: bytes and regular
//! files can, a pipe cannot.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

/// One piece of a streamed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Bytes(Vec<u8>),
    File(PathBuf),
    Stdin,
}

/// What a part is on disk: its length if known, and whether it can be read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    len: Option<u64>,
    rereadable: bool,
}

fn shape_of_file(file: &File) -> io::Result<Shape> {
    let meta = file.metadata()?;
    Ok(if meta.is_file() {
        Shape {
            len: Some(meta.len()),
            rereadable: true,
        }
    } else {
        // A pipe, /dev/stdin or a process substitution (`@<(cmd)`): read once, length unknown.
        Shape {
            len: None,
            rereadable: false,
        }
    })
}

/// The standard input as a file of its own (its descriptor duplicated), so it can be measured
/// and, when it is a regular file, read again.
fn stdin_file() -> io::Result<File> {
    #[cfg(unix)]
    {
        let owned = std::os::fd::AsFd::as_fd(&io::stdin()).try_clone_to_owned()?;
        Ok(File::from(owned))
    }
    #[cfg(not(unix))]
    {
        Err(io::Error::other(
            "reading a body from stdin needs a unix system",
        ))
    }
}

/// Whether the standard input holds data a body could come from: a pipe or a redirected file
/// (not a terminal, not /dev/null), as HTTPie and xh read it when no body is given.
pub fn stdin_has_body() -> bool {
    use std::io::IsTerminal;
    if io::stdin().is_terminal() {
        return false;
    }
    stdin_file()
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.is_file() || is_fifo(&m))
}

#[cfg(unix)]
fn is_fifo(meta: &std::fs::Metadata) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type())
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::Metadata) -> bool {
    false
}

/// A streamed body, opened: every file is opened (and so checked) before anything is sent.
pub struct BodyReader {
    parts: Vec<Opened>,
    index: usize,
    /// The stream's length if every part's is known.
    pub len: Option<u64>,
    /// Whether it can be read again from its first byte (no pipe among its parts).
    pub rereadable: bool,
}

enum Opened {
    Bytes { data: Vec<u8>, pos: usize },
    File { file: File, start: u64 },
}

impl BodyReader {
    /// Opens every part; a file that cannot be opened is an error naming it.
    pub fn open(parts: &[Part]) -> Result<BodyReader> {
        let mut opened = Vec::with_capacity(parts.len());
        let mut len = Some(0u64);
        let mut rereadable = true;
        for part in parts {
            let (part, shape) = match part {
                Part::Bytes(data) => (
                    Opened::Bytes {
                        data: data.clone(),
                        pos: 0,
                    },
                    Shape {
                        len: Some(data.len() as u64),
                        rereadable: true,
                    },
                ),
                Part::File(path) => File::open(path)
                    .and_then(open_part)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                Part::Stdin => stdin_file()
                    .and_then(open_part)
                    .context("cannot read the body from stdin")?,
            };
            len = len.zip(shape.len).map(|(a, b)| a + b);
            rereadable &= shape.rereadable;
            opened.push(part);
        }
        Ok(BodyReader {
            parts: opened,
            index: 0,
            len,
            rereadable,
        })
    }

    /// The next bytes of the body, 0 at its end.
    pub fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(part) = self.parts.get_mut(self.index) {
            let n = match part {
                Opened::Bytes { data, pos } => {
                    let n = buf.len().min(data.len() - *pos);
                    buf[..n].copy_from_slice(&data[*pos..*pos + n]);
                    *pos += n;
                    n
                }
                Opened::File { file, .. } => loop {
                    match file.read(buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other?,
                    }
                },
            };
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.index += 1;
        }
        Ok(0)
    }
}

/// An open file part: a regular file is measured from where it stands (a redirected stdin may
/// have been read into) and can go back there; anything else is read once.
fn open_part(mut file: File) -> io::Result<(Opened, Shape)> {
    let shape = shape_of_file(&file)?;
    let start = if shape.rereadable {
        file.stream_position()?
    } else {
        0
    };
    let shape = Shape {
        len: shape.len.map(|l| l.saturating_sub(start)),
        ..shape
    };
    Ok((Opened::File { file, start }, shape))
}

impl embedded_io::ErrorType for BodyReader {
    type Error = io::Error;
}

impl embedded_io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_some(buf)
    }
}

impl mreq_core::client::blocking::BodySource for BodyReader {
    fn rewind(&mut self) -> bool {
        if !self.rereadable {
            return false;
        }
        for part in &mut self.parts {
            match part {
                Opened::Bytes { pos, .. } => *pos = 0,
                Opened::File { file, start } => {
                    if file.seek(SeekFrom::Start(*start)).is_err() {
                        return false;
                    }
                }
            }
        }
        self.index = 0;
        true
    }
}

/// Where a streamed body's parts come from, for `--print=B` and messages.
pub fn describe(parts: &[Part]) -> String {
    let names: Vec<String> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Bytes(_) => None,
            Part::File(path) => Some(path.display().to_string()),
            Part::Stdin => Some("stdin".into()),
        })
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mreq_core::client::blocking::BodySource;

    fn read_to_end(reader: &mut BodyReader) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 3];
        loop {
            match reader.read_some(&mut chunk).unwrap() {
                0 => return out,
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }

    #[test]
    fn parts_in_order_with_length_and_rewind() {
        let dir = std::env::temp_dir().join(format!("mreq-body-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f.txt");
        std::fs::write(&file, b"file bytes").unwrap();
        let parts = [
            Part::Bytes(b"a=".to_vec()),
            Part::File(file.clone()),
            Part::Bytes(b"&z".to_vec()),
        ];
        let mut reader = BodyReader::open(&parts).unwrap();
        assert_eq!(reader.len, Some(14));
        assert_eq!(read_to_end(&mut reader), b"a=file bytes&z");
        assert!(reader.rewind());
        assert_eq!(read_to_end(&mut reader), b"a=file bytes&z");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = BodyReader::open(&[Part::File("/no/such/file".into())])
            .err()
            .map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("/no/such/file")));
    }

    #[test]
    fn parts_are_read_in_order_to_their_end() {
        let parts = [Part::Bytes(b"ab".to_vec()), Part::Bytes(b"cde".to_vec())];
        let mut reader = BodyReader::open(&parts).unwrap();
        let (mut got, mut buf) = (Vec::new(), [0u8; 2]);
        loop {
            match reader.read_some(&mut buf).unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, b"abcde");
        assert_eq!(reader.len, Some(5));
    }
}
