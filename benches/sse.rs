//! SSE decoding cost: linearity (a 1 MiB `data` line in 64-byte chunks against one chunk)
//! and throughput on a real Anthropic stream, beside eventsource-stream.
//!
//! `cargo bench --bench sse` measures; `cargo test --benches` runs each case once and checks
//! its output.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use toolstream::{Provider, SseDecoder, StreamDecoder};

const MIB: usize = 1024 * 1024;

fn long_line(len: usize) -> Vec<u8> {
    let mut body = b"data: ".to_vec();
    body.extend((0..len).map(|i| b'a' + (i % 26) as u8));
    body.extend_from_slice(b"\n\n");
    body
}

fn ours(body: &[u8], chunk: usize) -> usize {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for c in body.chunks(chunk) {
        d.push(c, &mut out).unwrap();
    }
    d.finish().unwrap();
    out.iter().map(|e| e.data().len()).sum()
}

fn theirs(rt: &tokio::runtime::Runtime, body: &[u8], chunk: usize) -> usize {
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = body
        .chunks(chunk)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    rt.block_on(async {
        let mut events = futures_util::stream::iter(chunks).eventsource();
        let mut total = 0;
        while let Some(e) = events.next().await {
            total += e.unwrap().data.len();
        }
        total
    })
}

fn linearity(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("sse_1mib_line");
    group.sample_size(10);
    let body = long_line(MIB);
    group.throughput(Throughput::Bytes(body.len() as u64));
    for chunk in [body.len(), 64] {
        assert_eq!(ours(&body, chunk), MIB);
        group.bench_with_input(
            BenchmarkId::new("toolstream", chunk),
            &chunk,
            |b, &chunk| b.iter(|| ours(black_box(&body), chunk)),
        );
    }
    // eventsource-stream rescans its buffer per chunk: measured on 256 KiB, where one
    // iteration still takes well under a second.
    let small = long_line(MIB / 4);
    for chunk in [small.len(), 64] {
        assert_eq!(theirs(&rt, &small, chunk), MIB / 4);
        group.throughput(Throughput::Bytes(small.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("eventsource-stream-256k", chunk),
            &chunk,
            |b, &chunk| b.iter(|| theirs(&rt, black_box(&small), chunk)),
        );
    }
    group.finish();
}

fn fixture_throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let one = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/anthropic/prism-anthropic-stream-with-tools-1.sse"
    ))
    .unwrap();
    // The same stream over and over (each copy a complete message), about 1 MiB.
    let body = one.repeat(MIB / one.len() + 1);
    let mut group = c.benchmark_group("anthropic_stream");
    group.throughput(Throughput::Bytes(body.len() as u64));
    for chunk in [64, 8 * 1024] {
        group.bench_with_input(BenchmarkId::new("sse_only", chunk), &chunk, |b, &chunk| {
            b.iter(|| ours(black_box(&body), chunk))
        });
        group.bench_with_input(
            BenchmarkId::new("unified_events", chunk),
            &chunk,
            |b, &chunk| {
                b.iter(|| {
                    let mut d = StreamDecoder::new(Provider::Anthropic);
                    let mut out = Vec::new();
                    let mut n = 0;
                    for c in black_box(&body).chunks(chunk) {
                        d.push(c, &mut out).unwrap();
                        n += out.len();
                        out.clear();
                    }
                    d.finish(&mut out).unwrap();
                    n
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("eventsource-stream+Value", chunk),
            &chunk,
            |b, &chunk| {
                b.iter(|| {
                    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = black_box(&body)
                        .chunks(chunk)
                        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                        .collect();
                    rt.block_on(async {
                        let mut events = futures_util::stream::iter(chunks).eventsource();
                        let mut n = 0;
                        while let Some(e) = events.next().await {
                            let v: serde_json::Value =
                                serde_json::from_str(&e.unwrap().data).unwrap();
                            n += usize::from(v.is_object());
                        }
                        n
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, linearity, fixture_throughput);
criterion_main!(benches);
