//! Executor cost: overhead per tool against bare `tokio::spawn` + join, and eager dispatch
//! latency (the tool call's block stop leaving the model stream → the tool first polled).
//!
//! Three cases over the same 1,000-call message: the whole turn stream; the same work done
//! by hand without an executor (assemble the events, run each tool's body inline, write the
//! two history messages); and bare `tokio::spawn` + join of the same tool body. The
//! executor's overhead per tool is the first minus the second, compared with the third.
//!
//! Twice: with a tool that is done at once (the turn stream polls it once itself and spawns
//! nothing), and with a tool that waits once (`yield_now`) before it answers, so that every
//! call becomes a task, beside bare spawn + join of that same waiting body.
//!
//! `cargo bench --bench executor` measures (and prints latency percentiles);
//! `cargo test --benches` runs each case once and checks its output.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::StreamExt;
use toolstream::{
    request, Assembler, Block, Delta, DispatchPolicy, Provider, StopKind, StopReason, StreamEvent,
    ToolRegistry, ToolResult, TurnConfig, TurnEvent, TurnId, TurnStream, Usage,
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

async fn turn(
    events: Vec<StreamEvent>,
    tools: Arc<ToolRegistry>,
    policy: DispatchPolicy,
) -> (usize, Option<(String, String)>) {
    let input = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    let config = TurnConfig::new(Provider::Anthropic)
        .policy(policy)
        .concurrency(std::num::NonZeroUsize::new(64).unwrap());
    let mut stream = std::pin::pin!(TurnStream::new(input, tools, config));
    let mut results = 0;
    let mut messages = None;
    while let Some(e) = stream.next().await {
        match e {
            Ok(TurnEvent::Result(r)) => {
                assert!(r.is_ok());
                results += 1;
            }
            Ok(TurnEvent::Outcome(o)) => {
                let next = o.results_message.expect("committed");
                messages = Some((o.assistant_message.get().to_owned(), next.get().to_owned()));
            }
            _ => {}
        }
    }
    (results, messages)
}

fn overhead(c: &mut Criterion) {
    let rt = runtime();
    let n = 1000;
    let events = message(n);
    for (group, waits) in [
        ("executor_per_tool", false),
        ("executor_per_waiting_tool", true),
    ] {
        let tools = Arc::new(ToolRegistry::new().with_raw_fn("noop", move |input| {
            Box::pin(async move {
                if waits {
                    tokio::task::yield_now().await;
                }
                Ok(input.to_string().into())
            })
        }));
        let mut group = c.benchmark_group(group);
        group.throughput(Throughput::Elements(n as u64));
        // The turn and the hand-made path produce the same history, byte for byte.
        let (results, messages) =
            rt.block_on(turn(events.clone(), tools.clone(), DispatchPolicy::Batched));
        assert_eq!(results, n);
        assert_eq!(messages, Some(without_executor(events.clone())));
        group.bench_function(BenchmarkId::new("turn_stream", n), |b| {
            b.iter(|| rt.block_on(turn(events.clone(), tools.clone(), DispatchPolicy::Batched)))
        });
        group.bench_function(BenchmarkId::new("assemble_and_messages_only", n), |b| {
            b.iter(|| without_executor(events.clone()))
        });
        group.bench_function(BenchmarkId::new("tokio_spawn_join", n), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let handles: Vec<_> = (0..n)
                        .map(|i| {
                            let input = serde_json::json!({ "i": i });
                            tokio::spawn(async move {
                                if waits {
                                    tokio::task::yield_now().await;
                                }
                                input.to_string()
                            })
                        })
                        .collect();
                    let mut total = 0;
                    for h in handles {
                        total += h.await.unwrap().len();
                    }
                    assert_eq!(total, 8890);
                    total
                })
            })
        });
        group.finish();
    }
}

/// The turn's work minus the executor: assemble, run the tool body inline, write the
/// assistant and results messages.
fn without_executor(events: Vec<StreamEvent>) -> (String, String) {
    let mut asm = Assembler::new();
    for e in &events {
        asm.push(e).unwrap();
    }
    let m = asm.finish();
    let results: Vec<ToolResult> = m
        .tool_calls
        .iter()
        .map(|c| ToolResult {
            turn: TurnId(1),
            index: c.index,
            id: c.id.clone(),
            name: c.name.clone(),
            error: None,
            content: c.input.as_ref().unwrap().to_string(),
            parts: Vec::new(),
            committed: true,
        })
        .collect();
    let assistant = request::assistant_message(Provider::Anthropic, &m);
    let next = request::results_message(Provider::Anthropic, &results);
    (assistant.get().to_owned(), next.get().to_owned())
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
            Ok(String::new().into())
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
