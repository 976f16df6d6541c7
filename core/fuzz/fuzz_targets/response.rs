//! Whole responses: head scanning in pieces, head parsing, header access, body decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mreq_core::body::BodyDecoder;
use mreq_core::response::{parse_head, HeadParser, ResponseHead};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else { return };
    // Parsing in two pieces must give what parsing at once gives.
    let whole = parse_head(data, 100);
    let mut pieces = HeadParser::new(100);
    let cut = (split as usize).min(data.len());
    let piecewise = match pieces.parse(&data[..cut]) {
        Ok(None) => pieces.parse(data),
        Ok(Some(info)) => Ok(Some(info)),
        Err(err) => Err(err),
    };
    assert_eq!(whole, piecewise, "piecewise parse disagrees");
    let Ok(Some(info)) = whole else { return };
    let len = info.len;
    let head = ResponseHead::new(data, info);
    let _ = (head.status(), head.reason(), head.location());
    let mut count = 0;
    for (name, value) in head.headers() {
        assert!(!name.is_empty());
        assert!(!value.contains(&b'\n'));
        // A lookup by name finds the first field of that name, as the iterator sees it.
        let first = head.headers().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        assert_eq!(head.header(name), first, "lookup of {name:?} disagrees with the iterator");
        count += 1;
    }
    assert_eq!(count, info.header_count, "iterator and parser count different fields");
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
