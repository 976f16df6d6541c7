//! Response bodies with a `Content-Encoding` (gzip, deflate, br, zstd, and stacks of them),
//! decoded as they stream: a decoder reads the raw body through a small buffer and the output
//! gets decoded bytes, so a decompression bomb costs time, never memory beyond the buffers. A
//! corrupt or cut encoded body is an error (curl's 61), never a short body that looks whole.

use crate::deliver::{Failed, Incoming};
use crate::zerocopy::Splicer;
use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

/// What mreq sends as `Accept-Encoding` when it decodes.
pub const ACCEPT: &str = "gzip, deflate, br, zstd";

/// Raw bytes read per call from the response.
const RAW_BUFFER: usize = 64 * 1024;

/// The codings of a `Content-Encoding` value in the order they were applied; `Ok(empty)` for
/// identity; `Err` names a coding mreq cannot decode.
pub fn codings(value: Option<&str>) -> Result<Vec<Coding>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .map(|c| match c.as_str() {
            "gzip" | "x-gzip" => Ok(Coding::Gzip),
            "deflate" => Ok(Coding::Deflate),
            "br" => Ok(Coding::Brotli),
            "zstd" => Ok(Coding::Zstd),
            other => Err(other.to_string()),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

/// The raw body as a `Read`; a failure of the response is kept for [`Decoded`] to return as it
/// was (a timeout stays a timeout).
struct Raw<'a> {
    inner: &'a mut dyn Incoming,
    failed: Rc<RefCell<Option<Failed>>>,
}

impl Read for Raw<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_body(buf).map_err(|failed| {
            *self.failed.borrow_mut() = Some(failed);
            io::Error::other("the response failed")
        })
    }
}

/// A response seen through its decoders. The head is the response's own (it still says
/// `Content-Encoding`), the body is decoded.
pub struct Decoded<'a> {
    status: u16,
    reason: String,
    head: Vec<u8>,
    url: String,
    /// The names and values of the head, for [`Incoming::header_str`].
    fields: Vec<(String, String)>,
    body: Box<dyn Read + 'a>,
    failed: Rc<RefCell<Option<Failed>>>,
    done: bool,
    label: String,
}

impl<'a> Decoded<'a> {
    /// Decodes `inner`'s body, undoing `codings` (as [`codings`] lists them) last first.
    pub fn new(inner: &'a mut dyn Incoming, codings: &[Coding]) -> Decoded<'a> {
        let head = inner.head_bytes().to_vec();
        let fields = crate::deliver::head_fields(&head);
        let (status, reason, url) = (
            inner.status(),
            inner.reason().to_string(),
            inner.url().to_string(),
        );
        let failed = Rc::new(RefCell::new(None));
        let mut body: Box<dyn Read + 'a> = Box::new(Raw {
            inner,
            failed: failed.clone(),
        });
        for coding in codings.iter().rev() {
            let source = BufReader::with_capacity(RAW_BUFFER, body);
            body = match coding {
                Coding::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
                Coding::Deflate => Box::new(Deflate::Unknown(Some(source))),
                Coding::Brotli => {
                    Box::new(brotli_decompressor::Decompressor::new(source, RAW_BUFFER))
                }
                Coding::Zstd => Box::new(Zstd::Start(Some(source))),
            };
        }
        let label = codings
            .iter()
            .map(|c| format!("{c:?}").to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(", ");
        Decoded {
            status,
            reason,
            head,
            url,
            fields,
            body,
            failed,
            done: false,
            label,
        }
    }
}

impl Incoming for Decoded<'_> {
    fn status(&self) -> u16 {
        self.status
    }

    fn reason(&self) -> &str {
        &self.reason
    }

    fn head_bytes(&self) -> &[u8] {
        &self.head
    }

    fn header_str(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, Failed> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.body.read(buf) {
                Ok(0) => {
                    self.done = true;
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    if let Some(failed) = self.failed.borrow_mut().take() {
                        return Err(failed);
                    }
                    return Err(Failed::Decode(format!(
                        "the {} body cannot be decoded: {err}",
                        self.label
                    )));
                }
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn splice(
        &mut self,
        _: &mut Splicer,
        _: &mut dyn crate::deliver::BodySink,
    ) -> Result<Option<usize>, Failed> {
        Ok(None)
    }
}

/// `deflate` is zlib (RFC 9110), but some servers send raw deflate: the first two bytes tell.
enum Deflate<R: BufRead> {
    Unknown(Option<R>),
    Zlib(flate2::bufread::ZlibDecoder<R>),
    Raw(flate2::bufread::DeflateDecoder<R>),
}

impl<R: BufRead> Read for Deflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Deflate::Unknown(source) = self {
            let Some(mut source) = source.take() else {
                return Ok(0);
            };
            let start = source.fill_buf()?;
            let zlib = start.len() >= 2
                && start[0] & 0x0f == 8
                && (u16::from(start[0]) << 8 | u16::from(start[1])) % 31 == 0;
            *self = if zlib {
                Deflate::Zlib(flate2::bufread::ZlibDecoder::new(source))
            } else {
                Deflate::Raw(flate2::bufread::DeflateDecoder::new(source))
            };
        }
        match self {
            Deflate::Zlib(d) => d.read(buf),
            Deflate::Raw(d) => d.read(buf),
            Deflate::Unknown(_) => Ok(0),
        }
    }
}

/// zstd frames one after another (a decoder reads its frame header when made, so each is made
/// when its frame begins).
enum Zstd<R: BufRead> {
    Start(Option<R>),
    Frame(Box<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>),
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self {
                Zstd::Start(source) => {
                    let Some(mut source) = source.take() else {
                        return Ok(0);
                    };
                    if source.fill_buf()?.is_empty() {
                        return Ok(0);
                    }
                    let frame = ruzstd::decoding::StreamingDecoder::new(source)
                        .map_err(io::Error::other)?;
                    *self = Zstd::Frame(Box::new(frame));
                }
                Zstd::Frame(frame) => {
                    let n = frame.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        return Ok(n);
                    }
                    // This frame ended: another may follow.
                    let Zstd::Frame(frame) = std::mem::replace(self, Zstd::Start(None)) else {
                        return Ok(0);
                    };
                    *self = Zstd::Start(Some(frame.into_inner()));
                }
            }
        }
    }
}
