//! The device link's frame reader (`mreq-link`): bytes fed in pieces of any size give exactly the
//! frames and payloads that feeding them at once gives, every payload is as long as its header
//! said, and the payload parsers (request frame, hello) take anything without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mreq_link::{Event, FrameReader, Hello, RequestFrame};

/// Every event, with payloads joined per frame: `F kind id len`, `P bytes`, `E`, `G`.
fn events(data: &[u8], step: usize) -> Vec<String> {
    let mut reader = FrameReader::new();
    let mut out = Vec::new();
    let mut payload: Vec<u8> = Vec::new();
    let mut expected = None;
    for piece in data.chunks(step) {
        let mut input = piece;
        loop {
            let (used, event) = reader.feed(input);
            assert!(used <= input.len());
            input = &input[used..];
            match event {
                None => {
                    assert!(input.is_empty(), "the reader stopped before the end of its input");
                    break;
                }
                Some(Event::Frame(h)) => {
                    assert!(expected.is_none(), "a frame inside a frame");
                    expected = Some(h.len as usize);
                    out.push(format!("F {} {} {}", h.kind.name(), h.id, h.len));
                }
                Some(Event::Payload(p)) => {
                    assert!(expected.is_some(), "payload outside a frame");
                    payload.extend_from_slice(p);
                }
                Some(Event::End) => {
                    assert_eq!(Some(payload.len()), expected.take(), "payload length");
                    // The parsers must take any payload.
                    let _ = RequestFrame::parse(&payload).map(|f| f.headers().count());
                    let _ = Hello::parse(&payload);
                    out.push(format!("P {payload:?}"));
                    out.push("E".into());
                    payload.clear();
                }
                Some(Event::Garbled(_)) => out.push("G".into()),
            }
        }
    }
    if let Some(len) = expected {
        // An unfinished frame at the end: what arrived of it, for comparison.
        out.push(format!("open {len} {payload:?}"));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, data)) = data.split_first() else {
        return;
    };
    let whole = events(data, data.len().max(1));
    let pieces = events(data, usize::from(step % 17) + 1);
    assert_eq!(whole, pieces, "pieces of {} bytes", step % 17 + 1);
});
