//! Frame headers and the incremental reader that finds frames among console noise.

use crate::MAX_PAYLOAD;

/// What a frame is. Host to device: `hello`, `req`, `data`, `end`, `cancel`, `rewind` (the
/// answer). Device to host: `hello`, `more`, `rewind` (the question), `head`, `data`, `done`,
/// `error`, `warn`, `alive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Host: which protocol it speaks. Device: its versions, board and limits.
    Hello,
    /// A request: method, URL, options and headers.
    Request,
    /// Body bytes (of the request from the host, of the response from the device).
    Data,
    /// The request body is complete.
    End,
    /// Stop this request.
    Cancel,
    /// The device takes this many more request body bytes (flow control).
    More,
    /// Device: send the request body again from its first byte (a kept-alive connection was
    /// stale, or a 307/308 redirect). Host: `1` (it follows, from byte 0) or `0` (it cannot).
    Rewind,
    /// The response: final URL and head.
    Head,
    /// The response body arrived whole: its length and CRC-32.
    Done,
    /// The request failed: a stable kind and a message.
    Error,
    /// A warning to show the user (TLS verification off by configuration).
    Warn,
    /// The device is still working on the request (sent while it waits on the network).
    Alive,
}

const NAMES: [(Kind, &str); 12] = [
    (Kind::Hello, "hello"),
    (Kind::Request, "req"),
    (Kind::Data, "data"),
    (Kind::End, "end"),
    (Kind::Cancel, "cancel"),
    (Kind::More, "more"),
    (Kind::Rewind, "rewind"),
    (Kind::Head, "head"),
    (Kind::Done, "done"),
    (Kind::Error, "error"),
    (Kind::Warn, "warn"),
    (Kind::Alive, "alive"),
];

impl Kind {
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, name)| name)
    }

    fn from_name(name: &[u8]) -> Option<Kind> {
        NAMES
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(kind, _)| *kind)
    }
}

/// A frame's header line, `@KIND ID LEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub id: u32,
    pub len: u32,
}

/// Why a line that starts with `@` is not a frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Not `KIND ID LEN` with a known kind and decimal numbers.
    Malformed,
    /// A payload longer than [`MAX_PAYLOAD`].
    TooLong,
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            HeaderError::Malformed => "malformed frame header",
            HeaderError::TooLong => "frame payload over the limit",
        })
    }
}

/// The longest header line, `@` and `\n` included.
pub const HEADER_MAX: usize = 32;

impl Header {
    pub fn new(kind: Kind, id: u32, len: u32) -> Self {
        Header { kind, id, len }
    }

    /// Parses the text between `@` and the line's end (`KIND ID LEN`, a CR before LF allowed).
    pub fn parse(line: &[u8]) -> Result<Header, HeaderError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut words = line.split(|&b| b == b' ');
        let kind = words
            .next()
            .and_then(Kind::from_name)
            .ok_or(HeaderError::Malformed)?;
        let id = words
            .next()
            .and_then(decimal)
            .ok_or(HeaderError::Malformed)?;
        let len = words
            .next()
            .and_then(decimal)
            .ok_or(HeaderError::Malformed)?;
        if words.next().is_some() {
            return Err(HeaderError::Malformed);
        }
        if len > MAX_PAYLOAD {
            return Err(HeaderError::TooLong);
        }
        Ok(Header { kind, id, len })
    }
}

/// A decimal `u32` without sign, spaces or leading `+`; at most 10 digits.
pub(crate) fn decimal(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 10 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
    }
    u32::try_from(value).ok()
}

/// Writes `@KIND ID LEN\n` into `out` and returns it.
pub fn encode_header(header: Header, out: &mut [u8; HEADER_MAX]) -> &[u8] {
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        out[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    put(b"@");
    put(header.kind.name().as_bytes());
    put(b" ");
    let mut digits = [0u8; 10];
    put(format_decimal(header.id, &mut digits));
    put(b" ");
    put(format_decimal(header.len, &mut digits));
    put(b"\n");
    &out[..n]
}

fn format_decimal(mut value: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &digits[start..];
        }
    }
}

/// What the reader found in the bytes fed to it.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A frame starts; its payload follows as [`Event::Payload`] pieces, then [`Event::End`].
    Frame(Header),
    /// Payload bytes of the current frame (a slice of the input).
    Payload(&'a [u8]),
    /// The current frame's payload is complete.
    End,
    /// A line starting with `@` that is not a frame header (skipped, like noise).
    Garbled(HeaderError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside frames: looking for `@` at the start of a line.
    Noise { line_start: bool },
    /// After `@`: collecting the header line.
    Header,
    /// Inside a payload, this many bytes to go.
    Payload(u32),
    /// The payload is complete; [`Event::End`] is due.
    End,
}

/// Finds frames in a byte stream that also carries other text. Feed it what arrived; it returns
/// how much it consumed and at most one event, so the caller can act on a frame header (and,
/// say, stop reading) before any byte after it is taken.
#[derive(Debug, Clone)]
pub struct FrameReader {
    state: State,
    line: [u8; HEADER_MAX],
    line_len: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    /// A reader at the start of a line.
    pub fn new() -> Self {
        FrameReader {
            state: State::Noise { line_start: true },
            line: [0; HEADER_MAX],
            line_len: 0,
        }
    }

    /// Whether the reader is between frames.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Noise { .. })
    }

    /// Consumes a prefix of `input`; returns its length and the event it completed, if any.
    /// `(0, None)` means it needs more input.
    pub fn feed<'a>(&mut self, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        if self.state == State::End {
            self.state = State::Noise { line_start: true };
            return (0, Some(Event::End));
        }
        let mut used = 0;
        while let Some(&byte) = input.get(used) {
            match self.state {
                State::Noise { line_start } => {
                    used += 1;
                    if line_start && byte == b'@' {
                        self.state = State::Header;
                        self.line_len = 0;
                    } else {
                        self.state = State::Noise {
                            line_start: byte == b'\n',
                        };
                    }
                }
                State::Header => {
                    used += 1;
                    if byte == b'\n' {
                        let line = &self.line[..self.line_len];
                        return match Header::parse(line) {
                            Ok(header) => {
                                self.state = match header.len {
                                    0 => State::End,
                                    len => State::Payload(len),
                                };
                                (used, Some(Event::Frame(header)))
                            }
                            Err(err) => {
                                self.state = State::Noise { line_start: true };
                                (used, Some(Event::Garbled(err)))
                            }
                        };
                    }
                    if self.line_len == self.line.len() - 2 {
                        // Longer than any header: the rest of the line is noise.
                        self.state = State::Noise { line_start: false };
                        return (used, Some(Event::Garbled(HeaderError::Malformed)));
                    }
                    self.line[self.line_len] = byte;
                    self.line_len += 1;
                }
                State::Payload(left) => {
                    let take = (input.len() - used).min(left as usize);
                    let piece = &input[used..used + take];
                    self.state = match left - take as u32 {
                        0 => State::End,
                        rest => State::Payload(rest),
                    };
                    return (used + take, Some(Event::Payload(piece)));
                }
                State::End => return (used, None),
            }
        }
        (used, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Everything the reader reports for `input` fed in pieces of `step` bytes.
    fn events(input: &[u8], step: usize) -> Vec<String> {
        let mut reader = FrameReader::new();
        let mut out = Vec::new();
        let mut payload = Vec::new();
        for piece in input.chunks(step) {
            let mut piece = piece;
            loop {
                let (used, event) = reader.feed(piece);
                piece = &piece[used..];
                match event {
                    None => break,
                    Some(Event::Frame(h)) => {
                        out.push(format!("{}:{}:{}", h.kind.name(), h.id, h.len))
                    }
                    Some(Event::Payload(p)) => payload.extend_from_slice(p),
                    Some(Event::End) => out.push(format!("={}", String::from_utf8_lossy(&payload))),
                    Some(Event::Garbled(e)) => out.push(format!("!{e:?}")),
                }
                if matches!(out.last(), Some(s) if s.starts_with('=')) {
                    payload.clear();
                }
            }
        }
        out
    }

    #[test]
    fn headers_round_trip() {
        let mut buf = [0u8; HEADER_MAX];
        let header = Header::new(Kind::Data, u32::MAX, MAX_PAYLOAD);
        let line = encode_header(header, &mut buf);
        assert_eq!(line, b"@data 4294967295 4096\n");
        assert_eq!(Header::parse(&line[1..line.len() - 1]), Ok(header));
        assert_eq!(
            encode_header(Header::new(Kind::Alive, 0, 0), &mut buf),
            b"@alive 0 0\n"
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        for bad in [
            &b"data 1"[..],
            b"data 1 2 3",
            b"nope 1 2",
            b"data -1 2",
            b"data 1 +2",
            b"data 4294967296 1",
            b"data 1  2",
            b"DATA 1 2",
            b"",
        ] {
            assert_eq!(Header::parse(bad), Err(HeaderError::Malformed), "{bad:?}");
        }
        assert_eq!(Header::parse(b"data 1 4097"), Err(HeaderError::TooLong));
        assert!(Header::parse(b"data 1 2\r").is_ok());
    }

    #[test]
    fn frames_among_noise_at_every_split() {
        let wire = b"boot: ok\r\nmreq> \n@head 7 5\nab@cdmem: 1 @x\n@alive 7 0\n@data 7 3\n\n@\n@done 7 0\n";
        let expected = [
            "head:7:5",
            "=ab@cd",
            "alive:7:0",
            "=",
            "data:7:3",
            "=\n@\n",
            "done:7:0",
            "=",
        ];
        for step in 1..=wire.len() {
            assert_eq!(events(wire, step), expected, "pieces of {step} bytes");
        }
    }

    #[test]
    fn merged_and_split_frames_at_every_boundary() {
        // Two frames back to back, cut in two at every position.
        let wire = b"@data 1 4\nwxyz@end 1 0\n";
        for cut in 0..=wire.len() {
            let mut reader = FrameReader::new();
            let mut seen = Vec::new();
            let mut payload = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                let mut part = part;
                loop {
                    let (used, event) = reader.feed(part);
                    part = &part[used..];
                    match event {
                        None => break,
                        Some(Event::Payload(p)) => payload.extend_from_slice(p),
                        Some(e) => seen.push(format!("{e:?}")),
                    }
                }
            }
            assert_eq!(
                seen,
                [
                    "Frame(Header { kind: Data, id: 1, len: 4 })",
                    "End",
                    "Frame(Header { kind: End, id: 1, len: 0 })",
                    "End"
                ],
                "cut at {cut}"
            );
            assert_eq!(payload, b"wxyz", "cut at {cut}");
        }
    }

    #[test]
    fn garbled_lines_are_reported_and_skipped() {
        assert_eq!(
            events(b"@what 1 2\n@data 1 1\nx", 3),
            ["!Malformed", "data:1:1", "=x"]
        );
        let long = b"@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa @data 1 1\n@alive 2 0\n";
        assert_eq!(events(long, 1), ["!Malformed", "alive:2:0", "="]);
        assert_eq!(
            events(b"@data 1 99999\n@end 1 0\n", 1),
            ["!TooLong", "end:1:0", "="]
        );
    }

    #[test]
    fn a_header_event_leaves_the_rest_unread() {
        let mut reader = FrameReader::new();
        let (used, event) = reader.feed(b"@req 3 2\nhi");
        assert_eq!(used, 9);
        assert_eq!(event, Some(Event::Frame(Header::new(Kind::Request, 3, 2))));
        assert!(!reader.is_idle());
    }
}
