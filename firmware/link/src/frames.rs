//! Whole frames, for a side with an allocator (the host, the test stand-in board): bytes go in
//! as they arrive, frames come out complete with their payloads. A frame cut across two reads is
//! kept until its end arrives.

use crate::frame::{Event, FrameReader, Header};
use alloc::vec::Vec;

#[derive(Debug, Default)]
pub struct Frames {
    reader: FrameReader,
    /// Bytes received and not yet fed to the reader.
    input: Vec<u8>,
    /// The frame whose payload is arriving.
    current: Option<(Header, Vec<u8>)>,
}

impl Frames {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes as they arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// The next complete frame among the bytes pushed so far; `None` until one is.
    pub fn next_frame(&mut self) -> Option<(Header, Vec<u8>)> {
        let mut consumed = 0;
        let mut done = None;
        // Fed even when nothing is left: a frame's end is reported after its last byte.
        loop {
            let (used, event) = self.reader.feed(&self.input[consumed..]);
            consumed += used;
            match event {
                Some(Event::Frame(header)) => {
                    self.current = Some((header, Vec::with_capacity(header.len as usize)));
                }
                Some(Event::Payload(piece)) => {
                    if let Some((_, payload)) = self.current.as_mut() {
                        payload.extend_from_slice(piece);
                    }
                }
                Some(Event::End) => {
                    done = self.current.take();
                    if done.is_some() {
                        break;
                    }
                }
                Some(Event::Garbled(_)) => {}
                None => break,
            }
        }
        self.input.drain(..consumed);
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    #[test]
    fn frames_cut_across_pushes_come_out_whole() {
        let wire = b"noise\n@head 4 5\nhello@alive 4 0\n@data 4 3\nabc";
        for cut in 0..=wire.len() {
            let mut frames = Frames::new();
            let mut got = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                frames.push(part);
                while let Some((header, payload)) = frames.next_frame() {
                    got.push((header.kind, payload));
                }
            }
            assert_eq!(
                got,
                [
                    (Kind::Head, b"hello".to_vec()),
                    (Kind::Alive, Vec::new()),
                    (Kind::Data, b"abc".to_vec())
                ],
                "cut at {cut}"
            );
        }
    }
}
