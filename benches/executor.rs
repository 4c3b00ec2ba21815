//! Executor cost: overhead per tool against bare `tokio::spawn` + join, and eager dispatch
//! latency (the tool call's block stop leaving the model stream → the tool first polled).
//!
//! `cargo bench --bench executor` measures (and prints latency percentiles);
//! `cargo test --benches` runs each case once and checks its output.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::StreamExt;
use toolstream::{
    Block, Delta, DispatchPolicy, Provider, StopKind, StopReason, StreamEvent, ToolRegistry,
    TurnConfig, TurnEvent, TurnStream, Usage,
};

fn message(n: usize) -> Vec<StreamEvent> {
    let mut e = Vec::with_capacity(3 * n + 2);
    for index in 0..n {
        e.push(StreamEvent::BlockStart {
            index,
            block: Block::ToolUse {
                id: format!("toolu_{index}"),
                name: "noop".into(),
            },
        });
        e.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::ToolInput(format!("{{\"i\":{index}}}")),
        });
        e.push(StreamEvent::BlockStop { index });
    }
    e.push(StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
        usage: Usage::default(),
    });
    e.push(StreamEvent::MessageStop);
    e
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

async fn turn(events: Vec<StreamEvent>, tools: Arc<ToolRegistry>, policy: DispatchPolicy) -> usize {
    let input = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    let config = TurnConfig::new(Provider::Anthropic)
        .policy(policy)
        .concurrency(std::num::NonZeroUsize::new(64).unwrap());
    let mut stream = std::pin::pin!(TurnStream::new(input, tools, config));
    let mut results = 0;
    while let Some(e) = stream.next().await {
        if let Ok(TurnEvent::Result(r)) = e {
            assert!(r.is_ok());
            results += 1;
        }
    }
    results
}

fn overhead(c: &mut Criterion) {
    let rt = runtime();
    let tools = Arc::new(ToolRegistry::new().with_raw_fn("noop", |input| {
        Box::pin(async move { Ok(input.to_string()) })
    }));
    let mut group = c.benchmark_group("executor_per_tool");
    let n = 1000;
    group.throughput(Throughput::Elements(n as u64));
    let events = message(n);
    assert_eq!(
        rt.block_on(turn(events.clone(), tools.clone(), DispatchPolicy::Batched)),
        n
    );
    group.bench_function(BenchmarkId::new("turn_stream", n), |b| {
        b.iter(|| rt.block_on(turn(events.clone(), tools.clone(), DispatchPolicy::Batched)))
    });
    group.bench_function(BenchmarkId::new("tokio_spawn_join", n), |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..n)
                    .map(|i| {
                        let input = serde_json::json!({ "i": i });
                        tokio::spawn(async move { input.to_string() })
                    })
                    .collect();
                let mut total = 0;
                for h in handles {
                    total += h.await.unwrap().len();
                }
                total
            })
        })
    });
    group.finish();
}

/// One eager call; returns the time from its block stop leaving the model stream to the
/// tool's first poll.
async fn eager_latency(
    tools_seen: Arc<Mutex<Option<Instant>>>,
    tools: Arc<ToolRegistry>,
) -> Duration {
    let stop_sent: Arc<Mutex<Option<Instant>>> = Arc::default();
    let sent = stop_sent.clone();
    let input = futures_util::stream::iter(message(1)).map(move |e| {
        if matches!(e, StreamEvent::BlockStop { .. }) {
            *sent.lock().unwrap() = Some(Instant::now());
        }
        Ok::<_, Infallible>(e)
    });
    let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::Eager);
    let mut stream = std::pin::pin!(TurnStream::new(input, tools, config));
    while stream.next().await.is_some() {}
    let polled = tools_seen.lock().unwrap().take().expect("the tool ran");
    let stop = stop_sent.lock().unwrap().take().unwrap();
    polled.duration_since(stop)
}

fn latency(c: &mut Criterion) {
    let rt = runtime();
    let seen: Arc<Mutex<Option<Instant>>> = Arc::default();
    let s = seen.clone();
    let tools = Arc::new(ToolRegistry::new().with_raw_fn("noop", move |_| {
        let s = s.clone();
        Box::pin(async move {
            *s.lock().unwrap() = Some(Instant::now());
            Ok(String::new())
        })
    }));
    c.bench_function("eager_dispatch_latency", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| rt.block_on(eager_latency(seen.clone(), tools.clone())))
                .sum()
        })
    });
    // Percentiles, printed for the notes (criterion reports the mean).
    let runs = if std::env::args().any(|a| a == "--bench") {
        10_000
    } else {
        10
    };
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| rt.block_on(eager_latency(seen.clone(), tools.clone())))
        .collect();
    samples.sort();
    let p = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "eager dispatch latency over {runs} runs: p50 {:?}, p99 {:?}, max {:?}",
        p(0.5),
        p(0.99),
        samples[samples.len() - 1]
    );
}

criterion_group!(benches, overhead, latency);
criterion_main!(benches);
