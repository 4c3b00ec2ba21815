//! Property tests: arbitrary SSE input in arbitrary chunkings against a small reference
//! model of the WHATWG rules; random completion orders give byte-identical next requests;
//! random faults per tool still answer every call exactly once, in its slot.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use proptest::prelude::*;
use toolstream::{
    Block, Delta, DispatchPolicy, Provider, SseDecoder, StopKind, StopReason, StreamEvent,
    ToolErrorKind, ToolRegistry, TurnConfig, TurnEvent, TurnStream, Usage,
};

// ---- SSE against a reference model ---------------------------------------------------

type Ev = (String, String, String, Option<u64>);

/// The WHATWG event stream interpretation, written as plainly as possible: decode the
/// whole stream (one leading BOM stripped, invalid UTF-8 replaced), split into lines
/// (CRLF, LF, CR; an unterminated last line is dropped), process each line.
fn reference(input: &[u8]) -> Vec<Ev> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = String::from_utf8_lossy(input);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut line));
            }
            '\n' => lines.push(std::mem::take(&mut line)),
            c => line.push(c),
        }
    }
    let (mut data, mut event, mut id, mut retry) =
        (String::new(), String::new(), String::new(), None);
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() {
            if !data.is_empty() {
                if data.ends_with('\n') {
                    data.pop();
                }
                let kind = if event.is_empty() {
                    "message".to_owned()
                } else {
                    event.clone()
                };
                out.push((kind, data.clone(), id.clone(), retry));
            }
            data.clear();
            event.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line.as_str(), ""),
        };
        match name {
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "event" => event = value.to_owned(),
            "id" if !value.contains('\0') => id = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                retry = value.parse().ok().or(Some(u64::MAX));
            }
            _ => {}
        }
    }
    out
}

fn ours(input: &[u8], cuts: &[usize]) -> Vec<Ev> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.min(input.len()).max(start);
        d.push(&input[start..cut], &mut out).unwrap();
        start = cut;
    }
    d.push(&input[start..], &mut out).unwrap();
    d.finish().unwrap();
    out.iter()
        .map(|e| (e.event().into(), e.data().into(), e.id().into(), e.retry()))
        .collect()
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"data".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event:".to_vec()),
        Just(b"id:".to_vec()),
        Just(b"retry:".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"x".to_vec()),
        Just(b"12".to_vec()),
        Just(b"\0".to_vec()),
        Just("é€😀".as_bytes().to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xFF".to_vec()),
        Just(b"\xE2\x82".to_vec()),
        Just(b"{\"a\":1}".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn sse_matches_the_reference_whatever_the_chunking(
        tokens in proptest::collection::vec(token(), 0..60),
        cuts in proptest::collection::vec(0usize..400, 0..8),
    ) {
        let input: Vec<u8> = tokens.concat();
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(ours(&input, &cuts), reference(&input));
    }
}

// ---- the turn stream under random orders and faults -----------------------------------

fn message(n: usize) -> Vec<StreamEvent> {
    let mut e = vec![StreamEvent::MessageStart {
        id: None,
        model: None,
        usage: Usage::default(),
    }];
    for index in 0..n {
        e.push(StreamEvent::BlockStart {
            index,
            block: Block::ToolUse {
                id: format!("toolu_{index}"),
                name: format!("t{index}"),
            },
        });
        e.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::ToolInput(format!("{{\"n\": {index}}}")),
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
        .start_paused(true)
        .build()
        .unwrap()
}

/// Runs a turn whose tool `i` finishes after `delays[i]` ms of (paused) time.
fn next_request(delays: &[u64], policy: DispatchPolicy) -> String {
    let mut tools = ToolRegistry::new();
    for (i, &ms) in delays.iter().enumerate() {
        tools = tools.with_raw_fn(format!("t{i}"), move |input| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(format!("ok {input}").into())
            })
        });
    }
    runtime().block_on(async {
        let events =
            futures_util::stream::iter(message(delays.len()).into_iter().map(Ok::<_, Infallible>));
        let config = TurnConfig::new(Provider::OpenAiChat).policy(policy);
        let mut turn = std::pin::pin!(TurnStream::new(events, Arc::new(tools), config));
        let mut last = None;
        while let Some(e) = turn.next().await {
            if let Ok(TurnEvent::Outcome(o)) = e {
                last = Some(format!(
                    "{}{}",
                    o.assistant_message.get(),
                    o.results_message.unwrap().get()
                ));
            }
        }
        last.unwrap()
    })
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Ok(u64),
    Fail,
    Panic,
    Slow,
    Hang,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (0u64..50).prop_map(Fault::Ok),
        Just(Fault::Fail),
        Just(Fault::Panic),
        Just(Fault::Slow),
        Just(Fault::Hang),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_completion_order_gives_the_same_next_request(
        delays in proptest::collection::vec(0u64..1000, 1..7),
        eager in any::<bool>(),
    ) {
        let policy = if eager { DispatchPolicy::Eager } else { DispatchPolicy::Batched };
        let same_speed = vec![0; delays.len()];
        prop_assert_eq!(next_request(&delays, policy), next_request(&same_speed, DispatchPolicy::Batched));
    }

    #[test]
    fn every_call_is_answered_once_in_its_slot(
        faults in proptest::collection::vec(fault(), 1..8),
        cap in 1usize..4,
    ) {
        let seen: Arc<Mutex<HashMap<usize, usize>>> = Arc::default();
        let mut tools = ToolRegistry::new();
        for (i, &f) in faults.iter().enumerate() {
            let seen = seen.clone();
            tools = tools.with_raw_fn(format!("t{i}"), move |_| {
                *seen.lock().unwrap().entry(i).or_default() += 1;
                Box::pin(async move {
                    match f {
                        Fault::Ok(ms) => {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            Ok(format!("ok {i}").into())
                        }
                        Fault::Fail => Err(format!("failed {i}").into()),
                        Fault::Panic => panic!("tool {i} panicked"),
                        Fault::Slow => {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                            Ok("late".into())
                        }
                        Fault::Hang => std::future::pending().await,
                    }
                })
            });
        }
        let results = runtime().block_on(async {
            let events = futures_util::stream::iter(message(faults.len()).into_iter().map(Ok::<_, Infallible>));
            let config = TurnConfig::new(Provider::Anthropic)
                .concurrency(std::num::NonZeroUsize::new(cap).unwrap())
                .tool_timeout(Duration::from_secs(1));
            let mut turn = std::pin::pin!(TurnStream::new(events, Arc::new(tools), config));
            let mut results = Vec::new();
            while let Some(e) = turn.next().await {
                if let Ok(TurnEvent::Result(r)) = e {
                    results.push(r);
                }
            }
            results
        });
        prop_assert_eq!(results.len(), faults.len());
        for (i, (r, f)) in results.iter().zip(&faults).enumerate() {
            prop_assert_eq!(r.index, i);
            prop_assert_eq!(seen.lock().unwrap().get(&i).copied(), Some(1), "tool {} ran once", i);
            let want = match f {
                Fault::Ok(_) => None,
                Fault::Fail => Some(ToolErrorKind::Failed),
                Fault::Panic => Some(ToolErrorKind::Panicked),
                Fault::Slow | Fault::Hang => Some(ToolErrorKind::TimedOut),
            };
            prop_assert_eq!(&r.error, &want, "slot {}", i);
        }
    }
}
