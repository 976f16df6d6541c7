//! The chunked decoder: feeding bytes one at a time must give exactly what feeding them at once
//! gives (the same data, or the same error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mreq_core::body::BodyDecoder;
use mreq_core::response::Framing;

fn decode(data: &[u8], step: usize, max: usize) -> Result<(Vec<u8>, bool), mreq_core::Error> {
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for piece in data.chunks(step) {
        pending.extend_from_slice(piece);
        loop {
            let decoded = decoder.decode(&pending, max)?;
            out.extend_from_slice(&pending[decoded.data.0..decoded.data.1]);
            pending.drain(..decoded.consumed);
            if decoded.consumed == 0 || decoder.is_done() {
                break;
            }
        }
        if decoder.is_done() {
            break;
        }
    }
    let done = decoder.is_done();
    if !done {
        assert!(decoder.eof().is_err(), "an unfinished chunked body must not end cleanly");
    }
    Ok((out, done))
}

fuzz_target!(|data: &[u8]| {
    let at_once = decode(data, data.len().max(1), usize::MAX);
    let bytewise = decode(data, 1, 3);
    assert_eq!(at_once, bytewise);
    if let Ok((body, _)) = &at_once {
        assert!(body.len() <= data.len());
    }
});
