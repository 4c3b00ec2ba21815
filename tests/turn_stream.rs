//! The turn stream: dispatch policies, request-order results, timeouts, deadlines,
//! cancellation, orphans and byte-stable next requests. Time is paused (tokio test-util):
//! no test depends on wall-clock speed.

use crate::common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use toolstream::{
    Block, Delta, DispatchPolicy, Provider, StopKind, StopReason, StreamEvent, ToolErrorKind,
    ToolOptions, ToolRegistry, TurnConfig, TurnEvent, TurnOutcome, TurnStream, Usage,
};

// ---- building model messages -------------------------------------------------------

/// A message with one text block and a tool call per `(name, arguments)`, ending with
/// `stop` (`None`: the stream just ends).
fn message(calls: &[(&str, &str)], stop: Option<StopKind>) -> Vec<StreamEvent> {
    let mut e = vec![
        StreamEvent::MessageStart {
            id: Some("msg_1".into()),
            model: None,
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: Block::Text,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Text("Let me check.".into()),
        },
        StreamEvent::BlockStop { index: 0 },
    ];
    for (i, (name, args)) in calls.iter().enumerate() {
        let index = i + 1;
        e.push(StreamEvent::BlockStart {
            index,
            block: Block::ToolUse {
                id: format!("toolu_{i}"),
                name: (*name).into(),
            },
        });
        e.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::ToolInput((*args).into()),
        });
        e.push(StreamEvent::BlockStop { index });
    }
    if let Some(kind) = stop {
        let raw = if kind == StopKind::ToolUse {
            "tool_use"
        } else {
            "max_tokens"
        };
        e.push(StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::new(kind, raw)),
            usage: Usage::default(),
        });
        e.push(StreamEvent::MessageStop);
    }
    e
}

fn instant(events: Vec<StreamEvent>) -> impl Stream<Item = Result<StreamEvent, Infallible>> {
    futures_util::stream::iter(events.into_iter().map(Ok))
}

/// Yields each event after `gap` of (paused) time, as a model generating would.
fn paced(
    events: Vec<StreamEvent>,
    gap: Duration,
) -> impl Stream<Item = Result<StreamEvent, Infallible>> {
    futures_util::stream::iter(events).then(move |e| async move {
        tokio::time::sleep(gap).await;
        Ok(e)
    })
}

async fn run_turn<S>(
    events: S,
    tools: ToolRegistry,
    config: TurnConfig,
) -> (Vec<TurnEvent>, TurnOutcome)
where
    S: Stream<Item = Result<StreamEvent, Infallible>>,
{
    let stream = TurnStream::new(events, Arc::new(tools), config);
    let all: Vec<TurnEvent> = stream.map(|e| e.unwrap()).collect().await;
    let outcome = match all.last() {
        Some(TurnEvent::Outcome(o)) => (**o).clone(),
        other => panic!("the last event is not the outcome: {other:?}"),
    };
    (all, outcome)
}

fn echo() -> impl Fn(Value) -> toolstream::ToolFuture + Send + Sync + 'static {
    |input| Box::pin(async move { Ok(input.to_string().into()) })
}

fn sleeper(ms: u64) -> impl Fn(Value) -> toolstream::ToolFuture + Send + Sync + 'static {
    move |input| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(input.to_string().into())
        })
    }
}

fn finished_order(events: &[TurnEvent]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            TurnEvent::Finished { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

fn started_order(events: &[TurnEvent]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            TurnEvent::Started { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

fn result_indices(events: &[TurnEvent]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            TurnEvent::Result(r) => Some(r.index),
            _ => None,
        })
        .collect()
}

// ---- the original report: slow first, fast second ----------------------------------

/// For every provider's own stream with two calls: the first call's tool is slow, the
/// second fast; the fast one finishes first, the results message still lists the slow
/// one first.
#[tokio::test(start_paused = true)]
async fn slow_first_fast_second_keeps_request_order_for_every_provider() {
    let cases: [(Provider, &str); 4] = [
        (
            Provider::Anthropic,
            "anthropic/constructed-anthropic-two-parallel-tools.sse",
        ),
        (
            Provider::OpenAiChat,
            "openai-chat/openai-chat-parallel-tool-calls.sse",
        ),
        (
            Provider::OpenAiResponses,
            "openai-responses/prism-openai-responses-stream-with-tools-responses-1.sse",
        ),
        (
            Provider::Gemini,
            "gemini/prism-gemini-stream-with-multiple-tools-1.sse",
        ),
    ];
    for (provider, file) in cases {
        let body = std::fs::read(common::fixtures_dir().join(file)).unwrap();
        let events = common::decode(provider, &body).unwrap();
        let calls = common::assemble(&events).tool_calls;
        assert_eq!(calls.len(), 2, "{file}");
        let slow_input = calls[0].input.clone().unwrap();
        // One tool per name; slowness decided by the input, so Gemini's two `weather`
        // calls differ too.
        let mut tools = ToolRegistry::new();
        for call in &calls {
            let slow_input = slow_input.clone();
            tools = tools.with_raw_fn(&*call.name, move |input: Value| {
                let ms = if input == slow_input { 500 } else { 10 };
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(format!("result for {input}").into())
                })
            });
        }
        let config = TurnConfig::new(provider);
        let (all, outcome) = run_turn(instant(events), tools, config).await;
        assert!(outcome.committed, "{file}");
        assert_eq!(
            finished_order(&all),
            [1, 0],
            "{file}: the fast one finishes first"
        );
        assert_eq!(
            result_indices(&all),
            [0, 1],
            "{file}: results in request order"
        );
        let next: Value = serde_json::from_str(outcome.results_message.unwrap().get()).unwrap();
        let first_content = match provider {
            Provider::Anthropic => next["content"][0]["content"].clone(),
            Provider::OpenAiChat => next[0]["content"].clone(),
            Provider::OpenAiResponses => next[0]["output"].clone(),
            Provider::Gemini => next["parts"][0]["functionResponse"]["response"]["output"].clone(),
            _ => unreachable!(),
        };
        assert_eq!(
            first_content,
            json!(format!("result for {slow_input}")),
            "{file}"
        );
        if provider != Provider::Gemini {
            let first_id = match provider {
                Provider::Anthropic => &next["content"][0]["tool_use_id"],
                Provider::OpenAiChat => &next[0]["tool_call_id"],
                _ => &next[0]["call_id"],
            };
            assert_eq!(first_id, &json!(calls[0].id), "{file}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn slow_first_fast_second_bedrock() {
    let events = message(
        &[("slow", r#"{"n": 1}"#), ("fast", r#"{"n": 2}"#)],
        Some(StopKind::ToolUse),
    );
    let tools = ToolRegistry::new()
        .with_raw_fn("slow", sleeper(500))
        .with_raw_fn("fast", sleeper(10));
    let (all, outcome) = run_turn(instant(events), tools, TurnConfig::new(Provider::Bedrock)).await;
    assert_eq!(finished_order(&all), [1, 0]);
    let next: Value = serde_json::from_str(outcome.results_message.unwrap().get()).unwrap();
    assert_eq!(next["content"][0]["toolResult"]["toolUseId"], "toolu_0");
    assert_eq!(next["content"][1]["toolResult"]["toolUseId"], "toolu_1");
}

// ---- byte stability over every completion order --------------------------------------

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            all.push(q);
        }
    }
    all
}

/// Four tools, each waiting on its own gate; the test opens the gates in each of the 24
/// orders, waiting for each tool to finish before opening the next, so the completion
/// order is exactly the permutation. The next request must be byte-identical every time.
#[tokio::test(start_paused = true)]
async fn all_24_completion_orders_give_byte_identical_next_requests() {
    let calls = [
        ("t0", r#"{"a": 1, "z": [1,2]}"#),
        ("t1", r#"{"b":2}"#),
        ("t2", "{ }"),
        ("t3", r#"{"d":"é"}"#),
    ];
    let mut seen = std::collections::HashSet::new();
    let orders = permutations(4);
    assert_eq!(orders.len(), 24);
    for order in orders {
        let gates: Arc<Mutex<HashMap<String, oneshot::Receiver<()>>>> = Arc::default();
        let mut openers = Vec::new();
        for (name, _) in calls {
            let (tx, rx) = oneshot::channel();
            gates.lock().unwrap().insert(name.to_string(), rx);
            openers.push(Some(tx));
        }
        let mut tools = ToolRegistry::new();
        for (name, _) in calls {
            let gates = gates.clone();
            let name_owned = name.to_string();
            tools = tools.with_raw_fn(name, move |input| {
                let gate = gates.lock().unwrap().remove(&name_owned).unwrap();
                Box::pin(async move {
                    gate.await.unwrap();
                    Ok(format!("done {input}").into())
                })
            });
        }
        let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::Eager);
        let mut stream = TurnStream::new(
            instant(message(&calls, Some(StopKind::ToolUse))),
            Arc::new(tools),
            config,
        );
        let mut finished = Vec::new();
        let mut next_gate = 0;
        let mut outcome = None;
        let mut started = 0;
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                TurnEvent::Started { .. } => {
                    started += 1;
                    if started == 4 {
                        openers[order[0]].take().unwrap().send(()).unwrap();
                        next_gate = 1;
                    }
                }
                TurnEvent::Finished { index, .. } => {
                    finished.push(index);
                    if next_gate < 4 {
                        openers[order[next_gate]].take().unwrap().send(()).unwrap();
                        next_gate += 1;
                    }
                }
                TurnEvent::Outcome(o) => outcome = Some(o),
                _ => {}
            }
        }
        assert_eq!(finished, order, "completion order is the permutation");
        let o = outcome.unwrap();
        let bytes = format!(
            "{}\n{}",
            o.assistant_message.get(),
            o.results_message.as_ref().unwrap().get()
        );
        seen.insert(bytes);
    }
    assert_eq!(seen.len(), 1, "next requests differ: {seen:#?}");
    let only = seen.into_iter().next().unwrap();
    // Inputs are echoed exactly as the model wrote them.
    assert!(only.contains(r#""input":{"a": 1, "z": [1,2]}"#), "{only}");
    assert!(only.contains(r#""input":{ }"#), "{only}");
}

// ---- dispatch policies ---------------------------------------------------------------

/// The position of the first `Started` and of the model's `MessageStop` in the stream.
fn started_vs_stop(events: &[TurnEvent]) -> (usize, usize) {
    let started = events
        .iter()
        .position(|e| matches!(e, TurnEvent::Started { .. }))
        .unwrap();
    let stop = events
        .iter()
        .position(|e| matches!(e, TurnEvent::Model(StreamEvent::MessageStop)))
        .unwrap();
    (started, stop)
}

#[tokio::test(start_paused = true)]
async fn eager_starts_a_tool_before_the_message_ends() {
    let events = message(&[("read", "{}")], Some(StopKind::ToolUse));
    let tools = ToolRegistry::new().with_raw_fn("read", echo());
    let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::Eager);
    let (all, outcome) = run_turn(paced(events, Duration::from_millis(100)), tools, config).await;
    let (started, stop) = started_vs_stop(&all);
    assert!(
        started < stop,
        "eager: started at {started}, message stop at {stop}"
    );
    let finished = all
        .iter()
        .position(|e| matches!(e, TurnEvent::Finished { .. }))
        .unwrap();
    assert!(
        finished < stop,
        "the tool even finished while the model streamed"
    );
    let first_result = all
        .iter()
        .position(|e| matches!(e, TurnEvent::Result(_)))
        .unwrap();
    assert!(first_result > stop, "results wait for the commit");
    assert!(outcome.committed);
}

#[tokio::test(start_paused = true)]
async fn batched_starts_nothing_before_the_message_ends() {
    let events = message(&[("read", "{}"), ("write", "{}")], Some(StopKind::ToolUse));
    let tools = ToolRegistry::new()
        .with_raw_fn("read", echo())
        .with_raw_fn("write", echo());
    let config = TurnConfig::new(Provider::Anthropic);
    let (all, _) = run_turn(paced(events, Duration::from_millis(100)), tools, config).await;
    let (started, stop) = started_vs_stop(&all);
    assert!(
        started > stop,
        "batched: started at {started}, message stop at {stop}"
    );
}

#[tokio::test(start_paused = true)]
async fn per_tool_policy_starts_only_eager_safe_tools_early() {
    let events = message(&[("write", "{}"), ("read", "{}")], Some(StopKind::ToolUse));
    let tools = ToolRegistry::new()
        .with_raw_fn("read", echo())
        .with_options("read", ToolOptions::new().eager_safe(true))
        .with_raw_fn("write", echo());
    let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::PerTool);
    let (all, _) = run_turn(paced(events, Duration::from_millis(100)), tools, config).await;
    let stop = all
        .iter()
        .position(|e| matches!(e, TurnEvent::Model(StreamEvent::MessageStop)))
        .unwrap();
    let start_of = |i: usize| {
        all.iter()
            .position(|e| matches!(e, TurnEvent::Started { index, .. } if *index == i))
            .unwrap()
    };
    assert!(start_of(1) < stop, "the eager-safe read starts early");
    assert!(start_of(0) > stop, "the write waits for the message");
}

// ---- timeouts, deadlines, orphans ----------------------------------------------------

#[tokio::test(start_paused = true)]
async fn tool_timeout_puts_a_timeout_error_in_its_slot() {
    let events = message(
        &[("fast", "{}"), ("slow", "{}"), ("fast", "{}")],
        Some(StopKind::ToolUse),
    );
    let tools = ToolRegistry::new()
        .with_raw_fn("fast", sleeper(10))
        .with_raw_fn("slow", sleeper(10_000))
        .with_raw_fn("own", sleeper(10_000))
        .with_options(
            "slow",
            ToolOptions::new().timeout(Duration::from_millis(250)),
        );
    let config = TurnConfig::new(Provider::Anthropic).tool_timeout(Duration::from_secs(60));
    let (_, outcome) = run_turn(instant(events), tools, config).await;
    let r = &outcome.results;
    assert_eq!(r.len(), 3);
    assert!(r[0].is_ok() && r[2].is_ok());
    assert_eq!(r[1].error, Some(ToolErrorKind::TimedOut));
    assert_eq!(r[1].content, "timed out after 250 ms");
    assert!(outcome.committed);
}

/// A bare turn has a default tool timeout (5 minutes): a hanging tool cannot hold it
/// forever. `no_tool_timeout` turns it off.
#[tokio::test(start_paused = true)]
async fn a_hanging_tool_times_out_after_the_default_five_minutes() {
    let events = || message(&[("hang", "{}")], Some(StopKind::ToolUse));
    let tools = || ToolRegistry::new().with_raw_fn("hang", sleeper(10 * 24 * 3_600_000));
    let start = tokio::time::Instant::now();
    let (_, outcome) = run_turn(
        instant(events()),
        tools(),
        TurnConfig::new(Provider::Anthropic),
    )
    .await;
    assert_eq!(start.elapsed(), toolstream::turn::DEFAULT_TOOL_TIMEOUT);
    assert_eq!(
        toolstream::turn::DEFAULT_TOOL_TIMEOUT,
        Duration::from_secs(300)
    );
    assert_eq!(outcome.results[0].error, Some(ToolErrorKind::TimedOut));
    assert_eq!(outcome.results[0].content, "timed out after 300000 ms");

    let config = TurnConfig::new(Provider::Anthropic).no_tool_timeout();
    let turn = run_turn(instant(events()), tools(), config);
    let waited = tokio::time::timeout(Duration::from_secs(3600), turn).await;
    assert!(
        waited.is_err(),
        "without a tool timeout the tool still runs after an hour"
    );
}

#[tokio::test(start_paused = true)]
async fn turn_deadline_answers_every_unfinished_call() {
    let events = message(
        &[("slow", "{}"), ("fast", "{}"), ("slow", "{}")],
        Some(StopKind::ToolUse),
    );
    let tools = ToolRegistry::new()
        .with_raw_fn("fast", sleeper(10))
        .with_raw_fn("slow", sleeper(10_000));
    let config = TurnConfig::new(Provider::Anthropic).turn_timeout(Duration::from_secs(2));
    let (_, outcome) = run_turn(instant(events), tools, config).await;
    let kinds: Vec<_> = outcome.results.iter().map(|r| r.error.clone()).collect();
    assert_eq!(
        kinds,
        [
            Some(ToolErrorKind::TurnDeadline),
            None,
            Some(ToolErrorKind::TurnDeadline)
        ]
    );
    assert!(outcome.committed, "every call answered: the turn commits");
    assert!(outcome.results[0].content.contains("2000 ms"));
}

#[tokio::test(start_paused = true)]
async fn turn_deadline_shorter_than_the_stream_abandons_the_turn() {
    let events = message(&[("read", "{}")], Some(StopKind::ToolUse));
    let tools = ToolRegistry::new().with_raw_fn("read", sleeper(10_000));
    let config = TurnConfig::new(Provider::Anthropic)
        .policy(DispatchPolicy::Eager)
        .turn_timeout(Duration::from_millis(750));
    let (_, outcome) = run_turn(paced(events, Duration::from_millis(100)), tools, config).await;
    assert!(!outcome.committed);
    assert!(outcome.results_message.is_none());
    assert!(outcome.abandoned_because.unwrap().contains("deadline"));
    assert!(outcome.results.iter().all(|r| !r.committed));
}

/// A blocking tool cannot be interrupted: it times out in its slot, and when it finally
/// finishes, its result lands in the orphan buffer with its turn id. (Real time: tokio
/// does not auto-advance a paused clock while blocking work is in flight. Nothing here
/// depends on speed, only on order.)
#[tokio::test]
async fn late_blocking_result_becomes_an_orphan_of_its_turn() {
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let tools = ToolRegistry::new().with_blocking_fn("crunch", move |_input| {
        gate.lock().unwrap().recv().unwrap();
        Ok("crunched".into())
    });
    let config = TurnConfig::new(Provider::Anthropic)
        .turn(toolstream::TurnId(7))
        .tool_timeout(Duration::from_millis(100));
    let orphans = config.orphan_buffer().clone();
    let events = message(&[("crunch", "{}")], Some(StopKind::ToolUse));
    let (_, outcome) = run_turn(instant(events), tools, config).await;
    assert_eq!(outcome.results[0].error, Some(ToolErrorKind::TimedOut));
    let history = outcome.results_message.unwrap().get().to_owned();
    assert!(orphans.is_empty());
    release.send(()).unwrap();
    // The blocking thread runs in real time; wait for it (bounded), asserting no speed.
    for _ in 0..2000 {
        if !orphans.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let orphan = orphans
        .drain()
        .pop()
        .expect("the late result is kept as an orphan");
    assert_eq!(
        (orphan.turn, orphan.index, &*orphan.name),
        (toolstream::TurnId(7), 0, "crunch")
    );
    assert_eq!(orphan.output, Ok("crunched".into()));
    assert!(!history.contains("crunched"), "never in history");
}

// ---- cancellation, caps and dropping ---------------------------------------------------

struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn hanging(
    dropped: Arc<AtomicUsize>,
    live: Arc<AtomicUsize>,
) -> impl Fn(Value) -> toolstream::ToolFuture + Send + Sync {
    move |_| {
        let guard = Guard(dropped.clone());
        let live = live.clone();
        Box::pin(async move {
            live.fetch_add(1, Ordering::SeqCst);
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(String::new().into())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_turn_stream_aborts_every_task() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let live = Arc::new(AtomicUsize::new(0));
    let tools = ToolRegistry::new().with_raw_fn("hang", hanging(dropped.clone(), live.clone()));
    let events = message(
        &[("hang", "{}"), ("hang", "{}"), ("hang", "{}")],
        Some(StopKind::ToolUse),
    );
    let mut stream = TurnStream::new(
        instant(events),
        Arc::new(tools),
        TurnConfig::new(Provider::Anthropic),
    );
    let mut started = 0;
    while started < 3 {
        if let TurnEvent::Started { .. } = stream.next().await.unwrap().unwrap() {
            started += 1;
        }
    }
    tokio::task::yield_now().await;
    assert_eq!(live.load(Ordering::SeqCst), 3);
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(stream);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        3,
        "every tool's guard was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn never_more_than_the_cap_run_at_once() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let tools = ToolRegistry::new().with_raw_fn("work", move |input| {
        let (r, p) = (r.clone(), p.clone());
        Box::pin(async move {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            r.fetch_sub(1, Ordering::SeqCst);
            Ok(input.to_string().into())
        })
    });
    let calls = [("work", "{}"); 6];
    let config = TurnConfig::new(Provider::Anthropic).concurrency(NonZeroUsize::new(2).unwrap());
    let (all, outcome) = run_turn(
        instant(message(&calls, Some(StopKind::ToolUse))),
        tools,
        config,
    )
    .await;
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(outcome.results.len(), 6);
    // Started events interleave with Finished ones: never more than two outstanding.
    let mut outstanding: i32 = 0;
    for e in &all {
        match e {
            TurnEvent::Started { .. } => outstanding += 1,
            TurnEvent::Finished { .. } => outstanding -= 1,
            _ => {}
        }
        assert!(outstanding <= 2);
    }
}

/// Calls waiting for a slot are not tasks yet: a deadline answers them without their tool
/// ever being called, and no `Started`/`Finished` pair is reported for them.
#[tokio::test(start_paused = true)]
async fn calls_waiting_for_a_slot_are_answered_without_running() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let tools = ToolRegistry::new().with_raw_fn("slow", move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(String::new().into())
        })
    });
    let config = TurnConfig::new(Provider::Anthropic)
        .concurrency(NonZeroUsize::new(1).unwrap())
        .turn_timeout(Duration::from_secs(1));
    let (all, outcome) = run_turn(
        instant(message(&[("slow", "{}"); 3], Some(StopKind::ToolUse))),
        tools,
        config,
    )
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "only the first call ran");
    assert!(outcome
        .results
        .iter()
        .all(|r| r.error == Some(ToolErrorKind::TurnDeadline)));
    assert_eq!(started_order(&all), [0]);
    assert_eq!(finished_order(&all), [0]);
}

/// Calls that ended before the turn deadline keep their results even when the consumer is
/// slow to ask for them and the deadline has passed by then (found in review: the stream
/// took one task event per round and then let the deadline answer the rest).
#[tokio::test(start_paused = true)]
async fn calls_that_ended_before_the_deadline_keep_their_results() {
    let tools = ToolRegistry::new().with_raw_fn("nap", sleeper(10));
    let config = TurnConfig::new(Provider::Anthropic).turn_timeout(Duration::from_millis(50));
    let mut stream = Box::pin(TurnStream::new(
        instant(message(&[("nap", "{}"); 5], Some(StopKind::ToolUse))),
        Arc::new(tools),
        config,
    ));
    let mut outcome = None;
    while let Some(e) = stream.next().await {
        match e.unwrap() {
            // A busy consumer: the deadline passes while it holds the last start.
            TurnEvent::Started { index: 4, .. } => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            TurnEvent::Outcome(o) => outcome = Some(o),
            _ => {}
        }
    }
    let outcome = outcome.unwrap();
    assert!(
        outcome.results.iter().all(|r| r.is_ok()),
        "{:?}",
        outcome.results
    );
    assert!(outcome.orphans.is_empty());
}

/// An abandoned turn's progress events pair up: a call cancelled while it waited for a
/// slot reports neither `Started` nor `Finished` (found in review).
#[tokio::test(start_paused = true)]
async fn abandoning_reports_no_progress_for_calls_that_never_started() {
    let tools = ToolRegistry::new().with_raw_fn("slow", sleeper(60_000));
    let config = TurnConfig::new(Provider::Anthropic)
        .policy(DispatchPolicy::Eager)
        .concurrency(NonZeroUsize::new(1).unwrap());
    // The stream ends before the message does: abandoned, both calls cancelled.
    let (all, outcome) = run_turn(
        instant(message(&[("slow", "{}"), ("slow", "{}")], None)),
        tools,
        config,
    )
    .await;
    assert!(!outcome.committed);
    assert_eq!(started_order(&all), [0]);
    assert_eq!(finished_order(&all), [0]);
}

/// Blocking work hands its slot back with its answer, so its `Finished` is reported before
/// the next call can start, on a multi-thread runtime too (found in review: the permit went
/// when the blocking closure returned, and another worker could report the next `Started`
/// first in a few percent of turns). Real threads; only the event order is asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocking_work_reports_its_end_before_the_next_call_starts() {
    let tools =
        Arc::new(ToolRegistry::new().with_blocking_fn("crunch", |_| Ok(String::new().into())));
    let calls = [("crunch", "{}"); 8];
    for turn in 0..200 {
        let config =
            TurnConfig::new(Provider::Anthropic).concurrency(NonZeroUsize::new(1).unwrap());
        let stream = TurnStream::new(
            instant(message(&calls, Some(StopKind::ToolUse))),
            tools.clone(),
            config,
        );
        let all: Vec<TurnEvent> = stream.map(|e| e.unwrap()).collect().await;
        let mut outstanding = 0;
        for e in &all {
            match e {
                TurnEvent::Started { .. } => outstanding += 1,
                TurnEvent::Finished { .. } => outstanding -= 1,
                _ => {}
            }
            assert!(outstanding <= 1, "turn {turn}: {all:?}");
        }
        assert_eq!(outstanding, 0);
    }
}

// ---- every kind of failure in its own slot ---------------------------------------------

#[tokio::test(start_paused = true)]
async fn each_failure_is_an_error_result_in_its_slot() {
    let events = message(
        &[
            ("ok", r#"{"x":1}"#),
            ("boom", "{}"),
            ("nope", "{}"),
            ("ok", r#"{"x":"#),
            ("fails", "{}"),
            ("slow", "{}"),
            ("typed", r#"{"wrong": true}"#),
        ],
        Some(StopKind::ToolUse),
    );
    #[derive(serde::Deserialize)]
    struct Typed {
        #[allow(dead_code)]
        city: String,
    }
    let tools = ToolRegistry::new()
        .with_raw_fn("ok", echo())
        .with_raw_fn("boom", |_| Box::pin(async { panic!("kaboom") }))
        .with_raw_fn("fails", |_| Box::pin(async { Err("disk full".into()) }))
        .with_raw_fn("slow", sleeper(60_000))
        .with_options("slow", ToolOptions::new().timeout(Duration::from_secs(1)))
        .with_fn("typed", |_: Typed| async { Ok::<_, String>("never") });
    let (_, outcome) = run_turn(instant(events), tools, TurnConfig::new(Provider::Anthropic)).await;
    let got: Vec<(Option<ToolErrorKind>, String)> = outcome
        .results
        .iter()
        .map(|r| (r.error.clone(), r.content.clone()))
        .collect();
    assert_eq!(got[0], (None, r#"{"x":1}"#.to_string()));
    assert_eq!(
        got[1],
        (
            Some(ToolErrorKind::Panicked),
            "the tool panicked".to_string()
        )
    );
    assert_eq!(
        got[2],
        (
            Some(ToolErrorKind::UnknownTool),
            "unknown tool `nope`".to_string()
        )
    );
    assert_eq!(got[3].0, Some(ToolErrorKind::InvalidArguments));
    assert!(
        got[3]
            .1
            .starts_with("invalid arguments: invalid JSON in tool arguments"),
        "{}",
        got[3].1
    );
    assert_eq!(
        got[4],
        (Some(ToolErrorKind::Failed), "disk full".to_string())
    );
    assert_eq!(
        got[5],
        (
            Some(ToolErrorKind::TimedOut),
            "timed out after 1000 ms".to_string()
        )
    );
    // Issue 17: arguments that do not fit the tool's type are the model's mistake.
    assert_eq!(got[6].0, Some(ToolErrorKind::InvalidArguments));
    assert!(
        got[6]
            .1
            .starts_with("invalid arguments: missing field `city`"),
        "{}",
        got[6].1
    );
    assert!(outcome.committed);
    assert_eq!(
        outcome.results.iter().map(|r| r.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6]
    );
}

// ---- turns that do not commit --------------------------------------------------------

async fn assert_commits_nothing(events: Vec<StreamEvent>, policy: DispatchPolicy, why: &str) {
    let dropped = Arc::new(AtomicUsize::new(0));
    let live = Arc::new(AtomicUsize::new(0));
    let tools = ToolRegistry::new().with_raw_fn("hang", hanging(dropped.clone(), live.clone()));
    let config = TurnConfig::new(Provider::Anthropic).policy(policy);
    let (all, outcome) = run_turn(paced(events, Duration::from_millis(10)), tools, config).await;
    assert!(!outcome.committed, "{why} {policy}");
    assert!(outcome.results_message.is_none(), "{why} {policy}");
    assert!(outcome
        .results
        .iter()
        .all(|r| !r.committed && r.error == Some(ToolErrorKind::Cancelled)));
    let launched = live.load(Ordering::SeqCst);
    match policy {
        DispatchPolicy::Batched => {
            assert_eq!(launched, 0, "{why}: batched launched nothing");
            assert!(outcome.results.is_empty(), "{why}: nothing was dispatched");
        }
        _ => assert_eq!(
            outcome.results.len(),
            2,
            "{why}: each dispatched call reported"
        ),
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    // A tool whose task was aborted before its first poll never ran: no guard to drop.
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        launched,
        "{why} {policy}: no task left running"
    );
    assert!(
        all.iter()
            .filter(|e| matches!(e, TurnEvent::Result(r) if r.committed))
            .count()
            == 0
    );
    assert!(outcome.abandoned_because.is_some());
}

#[tokio::test(start_paused = true)]
async fn truncated_max_tokens_and_error_turns_commit_nothing() {
    for policy in [DispatchPolicy::Batched, DispatchPolicy::Eager] {
        let calls = [("hang", "{}"), ("hang", "{}")];
        assert_commits_nothing(message(&calls, None), policy, "truncated").await;
        assert_commits_nothing(
            message(&calls, Some(StopKind::MaxTokens)),
            policy,
            "max_tokens",
        )
        .await;
        let mut with_error = message(&calls, None);
        with_error.push(StreamEvent::Error(toolstream::ProviderError {
            kind: "overloaded_error".into(),
            message: "Overloaded".into(),
        }));
        assert_commits_nothing(with_error, policy, "provider error").await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_transport_error_mid_turn_is_yielded_and_abandons_the_turn() {
    let mut items: Vec<Result<StreamEvent, &'static str>> = message(&[("read", "{}")], None)
        .into_iter()
        .map(Ok)
        .collect();
    items.push(Err("connection reset"));
    let tools = ToolRegistry::new().with_raw_fn("read", sleeper(1000));
    let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::Eager);
    let stream = TurnStream::new(futures_util::stream::iter(items), Arc::new(tools), config);
    let all: Vec<_> = stream.collect().await;
    assert!(all.iter().any(|e| matches!(e, Err("connection reset"))));
    match all.last() {
        Some(Ok(TurnEvent::Outcome(o))) => {
            assert!(!o.committed);
            assert_eq!(o.results.len(), 1);
            assert_eq!(o.results[0].error, Some(ToolErrorKind::Cancelled));
        }
        other => panic!("{other:?}"),
    }
}

// ---- regressions from review -----------------------------------------------------------

/// On a multi-thread runtime a task's end can be joined before its report is read; a tool
/// that succeeded must still be reported as such, in every round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_successes_are_never_reported_cancelled() {
    let calls = [("a", "{}"), ("b", "{}"), ("a", "{}"), ("b", "{}")];
    let tools = ToolRegistry::new()
        .with_raw_fn("a", echo())
        .with_raw_fn("b", echo());
    let tools = Arc::new(tools);
    let mut histories = std::collections::HashSet::new();
    for _ in 0..300 {
        let events = instant(message(&calls, Some(StopKind::ToolUse)));
        let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::Eager);
        let stream = TurnStream::new(events, tools.clone(), config);
        let all: Vec<TurnEvent> = stream.map(|e| e.unwrap()).collect().await;
        let Some(TurnEvent::Outcome(o)) = all.last() else {
            panic!()
        };
        assert!(o.results.iter().all(|r| r.is_ok()), "{:?}", o.results);
        histories.insert(o.results_message.as_ref().unwrap().get().to_owned());
    }
    assert_eq!(histories.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_transport_error_after_the_commit_changes_nothing() {
    let mut items: Vec<Result<StreamEvent, &'static str>> =
        message(&[("slow", "{}"), ("fast", "{}")], Some(StopKind::ToolUse))
            .into_iter()
            .map(Ok)
            .collect();
    items.push(Err("connection reset"));
    let tools = ToolRegistry::new()
        .with_raw_fn("slow", sleeper(500))
        .with_raw_fn("fast", sleeper(10));
    let stream = TurnStream::new(
        futures_util::stream::iter(items),
        Arc::new(tools),
        TurnConfig::new(Provider::Anthropic),
    );
    let all: Vec<_> = stream.collect().await;
    let Some(Ok(TurnEvent::Outcome(o))) = all.last() else {
        panic!("{all:?}")
    };
    assert!(o.committed);
    assert!(o.results.iter().all(|r| r.is_ok() && r.committed));
}

#[tokio::test(start_paused = true)]
async fn a_committed_turn_ends_even_if_the_model_stream_stays_open() {
    let events = instant(message(&[("read", "{}")], Some(StopKind::ToolUse)))
        .chain(futures_util::stream::pending());
    let tools = ToolRegistry::new().with_raw_fn("read", sleeper(10));
    let (_, outcome) = run_turn(events, tools, TurnConfig::new(Provider::Anthropic)).await;
    assert!(outcome.committed);
}

#[tokio::test(start_paused = true)]
async fn a_call_after_the_commit_is_not_echoed_without_a_result() {
    let mut events = message(&[("read", "{}")], Some(StopKind::ToolUse));
    events.push(StreamEvent::BlockStart {
        index: 9,
        block: Block::ToolUse {
            id: "late".into(),
            name: "read".into(),
        },
    });
    events.push(StreamEvent::BlockStop { index: 9 });
    let tools = ToolRegistry::new().with_raw_fn("read", echo());
    let (_, outcome) = run_turn(instant(events), tools, TurnConfig::new(Provider::Anthropic)).await;
    let assistant: Value = serde_json::from_str(outcome.assistant_message.get()).unwrap();
    let uses = assistant["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .count();
    assert_eq!(uses, outcome.results.len());
}

#[tokio::test(start_paused = true)]
async fn a_deadline_while_streaming_cancels_started_calls() {
    let events = message(&[("read", "{}")], Some(StopKind::ToolUse));
    let tools = ToolRegistry::new().with_raw_fn("read", sleeper(10_000));
    let config = TurnConfig::new(Provider::Anthropic)
        .policy(DispatchPolicy::Eager)
        .turn_timeout(Duration::from_millis(750));
    let (_, outcome) = run_turn(paced(events, Duration::from_millis(100)), tools, config).await;
    assert_eq!(outcome.results[0].error, Some(ToolErrorKind::Cancelled));
}

/// Blocking work keeps its concurrency slot until it really ends, timeout or not. Real
/// time (blocking threads); only the peak is asserted.
#[tokio::test]
async fn blocking_work_past_its_timeout_still_holds_its_slot() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let tools = ToolRegistry::new().with_blocking_fn("crunch", move |_| {
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        r.fetch_sub(1, Ordering::SeqCst);
        Ok(String::new().into())
    });
    let config = TurnConfig::new(Provider::Anthropic)
        .concurrency(NonZeroUsize::new(1).unwrap())
        .tool_timeout(Duration::from_millis(10));
    let calls = [("crunch", "{}"); 3];
    let (_, outcome) = run_turn(
        instant(message(&calls, Some(StopKind::ToolUse))),
        tools,
        config,
    )
    .await;
    assert!(outcome
        .results
        .iter()
        .all(|r| r.error == Some(ToolErrorKind::TimedOut)));
    assert_eq!(peak.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn usage_after_the_commit_is_kept_and_nothing_else_changes() {
    let mut events = message(&[("read", "{}")], Some(StopKind::ToolUse));
    events.push(StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::new(StopKind::EndTurn, "end_turn")),
        usage: Usage::new(None, Some(42)),
    });
    // The tool takes a while, so the events after the commit arrive before the turn ends
    // with its last result.
    let tools = ToolRegistry::new().with_raw_fn("read", sleeper(10));
    let (_, outcome) = run_turn(instant(events), tools, TurnConfig::new(Provider::Anthropic)).await;
    assert!(outcome.committed);
    assert_eq!(outcome.message.usage.output_tokens, Some(42));
    assert_eq!(outcome.message.stop_kind(), Some(StopKind::ToolUse));
    assert_eq!(outcome.results.len(), 1);
}

/// Found by the `turn` fuzz target: a message that restarts (a second `MessageStart`)
/// while a call is still streaming drops that call; its slot must go too, or the new
/// message's commit answered a call that no longer existed (index out of bounds).
#[tokio::test(start_paused = true)]
async fn a_restart_drops_the_slots_of_the_calls_it_drops() {
    // A message cut while its call streams, then the whole new message with `calls`.
    let restarted = |calls: &[(&str, &str)]| {
        let mut events = vec![
            StreamEvent::MessageStart {
                id: None,
                model: None,
                usage: Usage::default(),
            },
            StreamEvent::BlockStart {
                index: 0,
                block: Block::ToolUse {
                    id: "dropped".into(),
                    name: "read".into(),
                },
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::ToolInput("{\"cut".into()),
            },
        ];
        events.extend(message(calls, Some(StopKind::ToolUse)));
        instant(events)
    };
    let tools = || ToolRegistry::new().with_raw_fn("read", echo());
    let config = || TurnConfig::new(Provider::Anthropic);

    let (_, outcome) = run_turn(restarted(&[]), tools(), config()).await;
    assert_eq!(outcome.message.restarts, 1);
    assert!(outcome.message.tool_calls.is_empty());
    assert!(outcome.results.is_empty(), "{:?}", outcome.results);

    // A restart that brings its own call: exactly that one is answered.
    let (_, outcome) = run_turn(restarted(&[("read", "{\"n\":2}")]), tools(), config()).await;
    assert_eq!(outcome.results.len(), 1);
    assert!(outcome.results[0].is_ok(), "{:?}", outcome.results);
    assert_ne!(&*outcome.results[0].id, "dropped");
}
