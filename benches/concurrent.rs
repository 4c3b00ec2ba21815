//! Many turns at once on one runtime: 10,000 concurrent streams, each a real Anthropic
//! tool-use response arriving in chunks over a channel and ending in a tool call.
//!
//! Reports the heap held per idle stream (spawned, polled once, waiting for its first
//! byte), the peak heap per stream while they all stream (the whole body is queued to
//! every stream up front, so it includes the queued chunks), and the throughput with
//! all streams fed round-robin. Memory is counted by a counting global allocator.
//!
//! `cargo bench --bench concurrent` runs 10,000 streams on a 2-worker runtime;
//! `cargo test --benches` runs 500 and checks every turn committed with its result.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use toolstream::{
    ByteStreamExt, Provider, ToolFuture, ToolRegistry, TurnConfig, TurnEvent, TurnId, TurnStream,
};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{live, peak, reset_peak};

const BODY: &[u8] =
    include_bytes!("../tests/fixtures/anthropic/prism-anthropic-stream-with-tools-1.sse");

/// Chunk size of the feed: a few events per chunk, as a network read delivers them.
const CHUNK: usize = 256;

fn search(input: Value) -> ToolFuture {
    Box::pin(async move { Ok(format!("results for {input}").into()) })
}

/// Runs `n` concurrent turns; returns (heap per idle stream, peak heap per stream,
/// seconds to feed and finish them all).
async fn run(n: usize) -> (isize, isize, f64) {
    let tools = Arc::new(ToolRegistry::new().with_raw_fn("search", search));
    let before = live();
    let mut feeds = Vec::with_capacity(n);
    let mut turns = tokio::task::JoinSet::new();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
    for i in 0..n {
        let (tx, rx) = mpsc::unbounded_channel::<Result<&'static [u8], Infallible>>();
        feeds.push(tx);
        let tools = tools.clone();
        let ready = ready_tx.clone();
        turns.spawn(async move {
            let body = UnboundedReceiverStream::new(rx).stream_events(Provider::Anthropic);
            let config = TurnConfig::new(Provider::Anthropic).turn(TurnId(i as u64));
            let mut stream = std::pin::pin!(TurnStream::new(body, tools, config));
            // Polled once with nothing to read: idle.
            let mut first = futures_util::future::poll_fn(|cx| {
                std::task::Poll::Ready(match stream.as_mut().poll_next(cx) {
                    std::task::Poll::Ready(item) => item,
                    std::task::Poll::Pending => None,
                })
            })
            .await;
            let _ = ready.send(());
            let mut results = 0;
            let mut committed = false;
            loop {
                let item = match first.take() {
                    Some(item) => Some(item),
                    None => stream.next().await,
                };
                match item {
                    Some(Ok(TurnEvent::Result(r))) => {
                        assert!(r.is_ok(), "{r:?}");
                        results += 1;
                    }
                    Some(Ok(TurnEvent::Outcome(o))) => committed = o.committed,
                    Some(_) => {}
                    None => break,
                }
            }
            (committed, results)
        });
    }
    drop(ready_tx);
    for _ in 0..n {
        ready_rx.recv().await.expect("every turn reports idle");
    }
    let idle = (live() - before) / n as isize;
    reset_peak();
    let started = Instant::now();
    for chunk in BODY.chunks(CHUNK) {
        for tx in &feeds {
            let _ = tx.send(Ok(chunk));
        }
    }
    drop(feeds);
    let mut committed = 0;
    while let Some(done) = turns.join_next().await {
        let (ok, results) = done.expect("no turn panics");
        assert!(ok, "every turn commits");
        assert_eq!(results, 1, "one result per call");
        committed += 1;
    }
    assert_eq!(committed, n);
    let peak = (peak() - before) / n as isize;
    (idle, peak, started.elapsed().as_secs_f64())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 10_000 } else { 500 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (idle, peak, secs) = rt.block_on(run(n));
    let bytes = (BODY.len() * n) as f64;
    println!(
        "concurrent_streams/{n}: {idle} heap bytes per idle stream, peak {peak} per stream while streaming; \
         {n} turns ({:.1} MB in {CHUNK}-byte chunks) in {:.1} ms: {:.0} turns/s, {:.1} MB/s",
        bytes / 1e6,
        secs * 1e3,
        n as f64 / secs,
        bytes / 1e6 / secs
    );
    assert!(idle > 0, "the idle streams hold some memory");
}
