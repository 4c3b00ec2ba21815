//! Bytes -> assembled turns for each provider on a generated corpus, at 64 B, 1 KiB,
//! 8 KiB and 64 KiB chunks, beside eventsource-stream + `serde_json::Value` and the typed
//! serde_json floor, in the same group (criterion `Throughput::Bytes`).
//!
//! `cargo bench --bench throughput`; `cargo test --benches` runs each case once.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use toolstream::corpus::{self, measure};
use toolstream::Provider;

fn throughput(c: &mut Criterion) {
    let quick = !std::env::args().any(|a| a == "--bench");
    let size = if quick { 200_000 } else { 4_000_000 };
    for provider in [
        Provider::Anthropic,
        Provider::OpenAiChat,
        Provider::OpenAiResponses,
        Provider::Gemini,
    ] {
        let bodies = corpus::generate(provider, 42, size);
        let bytes: usize = bodies.iter().map(Vec::len).sum();
        let payloads = measure::payloads(&bodies);
        // The three paths see the same events.
        assert_eq!(measure::typed_floor(provider, &payloads), payloads.len());
        assert!(measure::toolstream(provider, &bodies, 8192) > 0);
        assert_eq!(measure::eventsource_value(&bodies, 8192), payloads.len());
        let mut group = c.benchmark_group(format!("throughput_{provider}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        for chunk in [64, 1024, 8192, 65536] {
            group.bench_with_input(
                BenchmarkId::new("toolstream", chunk),
                &chunk,
                |b, &chunk| b.iter(|| measure::toolstream(provider, &bodies, chunk)),
            );
            group.bench_with_input(
                BenchmarkId::new("eventsource+Value", chunk),
                &chunk,
                |b, &chunk| b.iter(|| measure::eventsource_value(&bodies, chunk)),
            );
        }
        group.bench_function("typed_floor", |b| {
            b.iter(|| measure::typed_floor(provider, &payloads))
        });
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
