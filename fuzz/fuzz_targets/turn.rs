//! The turn stream over raw bytes in random chunks, with tools that succeed, fail,
//! panic, sleep and hang: every call of a committed turn is answered exactly once, in
//! request order, and the next request does not depend on the chunking.
#![no_main]

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use toolstream::{
    ByteStreamExt, DispatchPolicy, Provider, ToolFuture, ToolRegistry, TurnConfig, TurnEvent,
    TurnOutcome,
};
use toolstream_fuzz::{chunks, split_seed};

fn tools() -> Arc<ToolRegistry> {
    fn echo(v: Value) -> ToolFuture {
        Box::pin(async move { Ok(v.to_string().into()) })
    }
    fn slow(v: Value) -> ToolFuture {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(v.to_string().len() as u64)).await;
            Ok(v.to_string().into())
        })
    }
    fn fail(_: Value) -> ToolFuture {
        Box::pin(async move { Err("no such city".to_string()) })
    }
    fn boom(_: Value) -> ToolFuture {
        Box::pin(async move { panic!("tool panicked on purpose") })
    }
    fn hang(_: Value) -> ToolFuture {
        Box::pin(std::future::pending())
    }
    Arc::new(
        ToolRegistry::new()
            .with_raw_fn("get_weather", echo)
            .with_raw_fn("search", slow)
            .with_raw_fn("weather", fail)
            .with_raw_fn("get_time", boom)
            .with_raw_fn("time", hang),
    )
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    static TOOLS: Arc<ToolRegistry> = tools();
}

fn run(provider: Provider, policy: DispatchPolicy, cap: usize, input: Vec<Vec<u8>>) -> TurnOutcome {
    let config = TurnConfig::new(provider)
        .policy(policy)
        .concurrency(NonZeroUsize::new(cap).unwrap())
        .tool_timeout(Duration::from_millis(50))
        .turn_timeout(Duration::from_secs(5));
    let tools = TOOLS.with(Arc::clone);
    RUNTIME.with(|rt| {
        rt.block_on(async move {
            let body = tokio_stream_iter(input).stream_events(provider);
            let mut stream = toolstream::TurnStream::new(body, tools, config);
            let mut calls = Vec::new();
            let mut results = Vec::new();
            let mut outcome = None;
            while let Some(event) = stream.next().await {
                match event {
                    Ok(TurnEvent::ToolCall { call, .. }) => {
                        assert!(call.complete, "only complete calls are announced");
                        calls.push(call.index);
                    }
                    Ok(TurnEvent::Started { index, .. }) => {
                        assert!(calls.contains(&index), "a call starts only once announced");
                    }
                    Ok(TurnEvent::Result(r)) => results.push(r),
                    Ok(TurnEvent::Outcome(o)) => outcome = Some(*o),
                    Ok(_) | Err(_) => {}
                }
            }
            let outcome = outcome.expect("every turn ends with its outcome");
            if outcome.committed {
                let n = outcome.message.tool_calls.len();
                assert_eq!(outcome.results.len(), n, "one result per call");
                assert_eq!(results.len(), n, "one result event per call");
                for (i, (r, call)) in results.iter().zip(&outcome.message.tool_calls).enumerate() {
                    assert_eq!((r.index, &r.id), (i, &call.id), "results in request order");
                    assert!(r.committed);
                }
                assert!(outcome.results_message.is_some());
            } else {
                assert!(outcome.results_message.is_none());
                assert!(outcome.results.iter().all(|r| !r.committed));
            }
            outcome
        })
    })
}

fn tokio_stream_iter(
    input: Vec<Vec<u8>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, Infallible>> {
    futures_util::stream::iter(input.into_iter().map(Ok))
}

fuzz_target!(|data: &[u8]| {
    let (seed, body) = split_seed(data);
    let provider = Provider::ALL[usize::from(seed >> 8) % Provider::ALL.len()];
    let policy = if seed & 0x10 == 0 {
        DispatchPolicy::Batched
    } else {
        DispatchPolicy::Eager
    };
    let cap = 1 + usize::from((seed >> 5) & 3);
    let whole = run(provider, policy, cap, vec![body.to_vec()]);
    let cut = run(
        provider,
        policy,
        cap,
        chunks(body, seed).into_iter().map(<[u8]>::to_vec).collect(),
    );
    assert_eq!(
        (whole.committed, &whole.abandoned_because),
        (cut.committed, &cut.abandoned_because),
        "the chunking changed the outcome"
    );
    if whole.committed {
        assert_eq!(whole.assistant_message.get(), cut.assistant_message.get());
        assert_eq!(
            whole.results_message.as_ref().map(|m| m.get()),
            cut.results_message.as_ref().map(|m| m.get()),
            "the next request depends on the chunking"
        );
    }
});
