//! Whole responses: head scanning in pieces, head parsing, header access, body decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mreq_core::body::BodyDecoder;
use mreq_core::response::{parse_head, HeadScanner, ResponseHead};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else { return };
    // Scanning in two pieces must find the same end as scanning at once.
    let whole = HeadScanner::new().find_end(data);
    let mut pieces = HeadScanner::new();
    let cut = (split as usize).min(data.len());
    let first = pieces.find_end(&data[..cut]);
    let piecewise = match first {
        Ok(None) => pieces.find_end(data),
        other => other,
    };
    if let (Ok(a), Ok(b)) = (&whole, &piecewise) {
        assert_eq!(a, b, "piecewise scan disagrees");
    }
    let Ok(Some(len)) = whole else { return };
    let Ok(info) = parse_head(&data[..len], 100) else { return };
    let head = ResponseHead::new(data, info);
    let _ = (head.status(), head.reason(), head.location());
    for (name, value) in head.headers() {
        assert!(!name.is_empty());
        assert!(!value.contains(&b'\n'));
    }
    let mut decoder = BodyDecoder::new(info.framing(split & 1 == 1));
    let mut rest = &data[len..];
    let mut total = 0usize;
    while !rest.is_empty() && !decoder.is_done() {
        match decoder.decode(rest, 1 + split as usize) {
            Ok(decoded) => {
                assert!(decoded.data.0 <= decoded.data.1 && decoded.data.1 <= decoded.consumed);
                total += decoded.data.1 - decoded.data.0;
                if decoded.consumed == 0 {
                    break;
                }
                rest = &rest[decoded.consumed..];
            }
            Err(_) => return,
        }
    }
    assert!(total <= data.len());
    let _ = decoder.eof();
});
