//! Head parsing against httparse, and chunked decoding throughput.
//! Run: `cargo bench -p mreq-core --bench parse`. Figures go in the README, never in tests.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mreq_core::body::BodyDecoder;
use mreq_core::response::{parse_head, Framing, ResponseHead};
use std::hint::black_box;

fn small_head() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n".to_vec()
}

fn twenty_headers() -> Vec<u8> {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    let names = [
        "Date",
        "Server",
        "Content-Type",
        "Content-Length",
        "Connection",
        "Cache-Control",
        "Expires",
        "Vary",
        "Access-Control-Allow-Origin",
        "Access-Control-Allow-Credentials",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Strict-Transport-Security",
        "ETag",
        "Last-Modified",
        "Accept-Ranges",
        "X-Request-Id",
        "Via",
        "Age",
        "X-Cache",
    ];
    for (i, name) in names.iter().enumerate() {
        let value = if *name == "Content-Length" {
            "1234".to_string()
        } else {
            format!("value-{i}-with-some-realistic-length")
        };
        head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn cookie_head() -> Vec<u8> {
    let mut head =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 10\r\n"
            .to_vec();
    for i in 0..32 {
        let value: String = (0..110)
            .map(|j| (b'a' + ((i + j) % 26) as u8) as char)
            .collect();
        head.extend_from_slice(
            format!("Set-Cookie: c{i}={value}; Path=/; HttpOnly\r\n").as_bytes(),
        );
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// What a client needs from a head: status, framing, and one header lookup.
fn mreq_parse(raw: &[u8]) -> (u16, Framing, Option<usize>) {
    let info = parse_head(raw, 100).ok().flatten().expect("valid head");
    let head = ResponseHead::new(raw, info);
    (
        info.status,
        info.framing(false),
        head.header("content-type").map(<[u8]>::len),
    )
}

fn httparse_parse(raw: &[u8]) -> (u16, Option<usize>, Option<usize>) {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(raw).expect("valid head");
    // httparse leaves framing to the caller: find Content-Length and Content-Type as a client must.
    let mut length = None;
    let mut content_type = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.parse().ok());
        } else if content_type.is_none() && header.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(header.value.len());
        }
    }
    (response.code.unwrap_or(0), length, content_type)
}

fn heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("head");
    for (name, raw) in [
        ("small", small_head()),
        ("20-headers", twenty_headers()),
        ("4k-cookies", cookie_head()),
    ] {
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_with_input(BenchmarkId::new("mreq", name), &raw, |b, raw| {
            b.iter(|| mreq_parse(black_box(raw)))
        });
        group.bench_with_input(BenchmarkId::new("httparse", name), &raw, |b, raw| {
            b.iter(|| httparse_parse(black_box(raw)))
        });
    }
    group.finish();
}

fn chunked_body(chunk: usize, total: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(total + total / chunk * 8 + 8);
    let data = vec![b'x'; chunk];
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk);
        wire.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        wire.extend_from_slice(&data[..n]);
        wire.extend_from_slice(b"\r\n");
        left -= n;
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

fn chunked(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunked");
    let total = 1 << 20;
    for chunk in [64, 1024, 16 * 1024] {
        let wire = chunked_body(chunk, total);
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_with_input(BenchmarkId::new("decode", chunk), &wire, |b, wire| {
            let mut out = vec![0u8; 16 * 1024];
            b.iter(|| {
                let mut decoder = BodyDecoder::new(Framing::Chunked);
                let mut input = &wire[..];
                let mut produced = 0;
                while !decoder.is_done() {
                    let decoded = decoder.decode(input, out.len()).expect("valid body");
                    let (start, end) = decoded.data;
                    out[..end - start].copy_from_slice(&input[start..end]);
                    produced += end - start;
                    input = &input[decoded.consumed..];
                }
                black_box(produced)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, heads, chunked);
criterion_main!(benches);
