//! The executor's admission of a call: on a current-thread runtime the turn stream polls
//! an async tool's future once itself, so a tool that is done at once costs no task; one
//! that waits runs as a task. On a multi-thread runtime every call is a task from the start.
//! Panics in either place are that call's result.

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use toolstream::{
    Block, Delta, Provider, StopKind, StopReason, StreamEvent, ToolErrorKind, ToolRegistry,
    ToolResult, TurnConfig, TurnEvent, TurnOutcome, TurnStream, Usage,
};

/// One message calling each tool once with `{}`, ending with `tool_use`.
fn calls(names: &[&str]) -> impl Stream<Item = Result<StreamEvent, Infallible>> {
    let mut e = vec![StreamEvent::MessageStart {
        id: Some("msg_1".into()),
        model: None,
        usage: Usage::default(),
    }];
    for (index, name) in names.iter().enumerate() {
        e.push(StreamEvent::BlockStart {
            index,
            block: Block::ToolUse {
                id: format!("toolu_{index}"),
                name: (*name).into(),
            },
        });
        e.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::ToolInput("{}".into()),
        });
        e.push(StreamEvent::BlockStop { index });
    }
    e.push(StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
        usage: Usage::default(),
    });
    e.push(StreamEvent::MessageStop);
    futures_util::stream::iter(e.into_iter().map(Ok))
}

fn outcome(events: &[TurnEvent]) -> &TurnOutcome {
    match events.last() {
        Some(TurnEvent::Outcome(o)) => o,
        other => panic!("the last event is not the outcome: {other:?}"),
    }
}

/// Runs one turn calling each of `names` to its end: the results in request order.
async fn results(names: &[&str], tools: ToolRegistry, config: TurnConfig) -> Vec<ToolResult> {
    let stream = TurnStream::new(calls(names), Arc::new(tools), config);
    let events: Vec<TurnEvent> = stream.map(|e| e.unwrap()).collect().await;
    outcome(&events).results.clone()
}

/// Tools that answer in their first poll never need a task: the whole turn runs outside
/// any runtime (where `tokio::spawn` would panic), polled by hand, and never waits.
#[test]
fn tools_done_at_once_need_no_task_and_no_runtime() {
    let tools = ToolRegistry::new()
        .with_raw_fn("echo", |input| {
            Box::pin(async move { Ok(input.to_string().into()) })
        })
        .with_fn("typed", |_: serde_json::Value| async {
            Ok::<_, String>("typed".to_owned())
        });
    let config = TurnConfig::new(Provider::Anthropic).concurrency(NonZeroUsize::new(2).unwrap());
    let mut stream = std::pin::pin!(TurnStream::new(
        calls(&["echo", "typed", "echo", "nope", "typed"]),
        Arc::new(tools),
        config
    ));
    let mut cx = Context::from_waker(Waker::noop());
    let mut events = Vec::new();
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(e)) => events.push(e.unwrap()),
            Poll::Ready(None) => break,
            Poll::Pending => panic!("the turn waited: {events:?}"),
        }
    }
    let o = outcome(&events);
    assert!(o.committed);
    let got: Vec<_> = o
        .results
        .iter()
        .map(|r| (r.error.clone(), r.content.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (None, "{}"),
            (None, "typed"),
            (None, "{}"),
            (Some(ToolErrorKind::UnknownTool), "unknown tool `nope`"),
            (None, "typed"),
        ]
    );
    // Progress still reports every call that ran, each start before its end, and never
    // more than the cap (2) at once.
    let mut outstanding = 0;
    let mut started = 0;
    for e in &events {
        match e {
            TurnEvent::Started { .. } => {
                outstanding += 1;
                started += 1;
            }
            TurnEvent::Finished { .. } => outstanding -= 1,
            _ => {}
        }
        assert!((0..=2).contains(&outstanding));
    }
    assert_eq!((started, outstanding), (4, 0));
}

/// A panic is the call's result wherever it happens: making the future, its first poll
/// (both in the turn stream), or after it waited (in its task).
#[tokio::test(start_paused = true)]
async fn a_panic_in_the_call_its_first_poll_or_its_task_is_that_calls_result() {
    let tools = ToolRegistry::new()
        .with_raw_fn("in_call", |_| panic!("boom while making the future"))
        .with_raw_fn("in_first_poll", |_| {
            Box::pin(async { panic!("boom in the first poll") })
        })
        .with_raw_fn("after_waiting", |_| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                panic!("boom after waiting")
            })
        })
        .with_raw_fn("fine", |_| Box::pin(async { Ok("fine".to_owned().into()) }));
    let kinds: Vec<_> = results(
        &["in_call", "fine", "in_first_poll", "after_waiting", "fine"],
        tools,
        TurnConfig::new(Provider::Anthropic),
    )
    .await
    .iter()
    .map(|r| r.error.clone())
    .collect();
    let p = Some(ToolErrorKind::Panicked);
    assert_eq!(kinds, [p.clone(), None, p.clone(), p, None]);
}

/// A tool that waits keeps its timeout, counted from its start: the first poll in the
/// turn stream and the rest in its task make one run. A tool done at the very instant its
/// time runs out keeps its output (the work is polled before the timer, as
/// `tokio::time::timeout` does).
#[tokio::test(start_paused = true)]
async fn a_tool_that_waits_keeps_its_timeout() {
    let sleeper = |ms: u64| {
        move |_| -> toolstream::ToolFuture {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(format!("slept {ms}").into())
            })
        }
    };
    let tools = ToolRegistry::new()
        .with_raw_fn("short", sleeper(100))
        .with_raw_fn("exact", sleeper(150))
        .with_raw_fn("long", sleeper(200));
    let config = TurnConfig::new(Provider::Anthropic).tool_timeout(Duration::from_millis(150));
    let results = results(&["short", "exact", "long"], tools, config).await;
    let got: Vec<_> = results
        .iter()
        .map(|r| (r.error.clone(), r.content.as_str()))
        .collect();
    let timed_out = (Some(ToolErrorKind::TimedOut), "timed out after 150 ms");
    assert_eq!(got, [(None, "slept 100"), (None, "slept 150"), timed_out]);
}

/// A tool that spends tokio's cooperative budget on every poll still times out: its timer
/// is polled outside the budget, as `tokio::time::timeout` makes sure. (Found in review: a
/// timer polled with the budget spent is never looked at.)
#[tokio::test(start_paused = true)]
async fn a_tool_that_spends_its_budget_still_times_out() {
    let tools = ToolRegistry::new().with_raw_fn("hog", |_| {
        Box::pin(async {
            loop {
                tokio::task::coop::consume_budget().await;
            }
        })
    });
    let config = TurnConfig::new(Provider::Anthropic).tool_timeout(Duration::from_millis(50));
    // The hog keeps the runtime busy, so paused time does not move by itself.
    let clock = tokio::spawn(async {
        loop {
            tokio::time::advance(Duration::from_millis(10)).await;
        }
    });
    let turn = results(&["hog"], tools, config);
    let results = tokio::time::timeout(Duration::from_secs(10), turn)
        .await
        .expect("the tool's 50 ms timeout never fired");
    clock.abort();
    assert_eq!(results[0].error, Some(ToolErrorKind::TimedOut));
}

/// A tool timeout on a runtime built without timers fails that call, not the turn stream:
/// the timer is made in the call's task. (Found in review: made when the call started, it
/// panicked in the consumer's poll.)
#[test]
fn a_tool_timeout_without_timers_fails_that_call_only() {
    for multi_thread in [false, true] {
        let rt = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread().build()
        }
        .unwrap();
        let tools = ToolRegistry::new()
            .with_raw_fn("wait", |_| {
                Box::pin(async {
                    tokio::task::yield_now().await;
                    Ok("waited".to_owned().into())
                })
            })
            .with_raw_fn("now", |_| Box::pin(async { Ok("now".to_owned().into()) }));
        let config = TurnConfig::new(Provider::Anthropic).tool_timeout(Duration::from_secs(1));
        let results = rt.block_on(results(&["wait", "now"], tools, config));
        let errors: Vec<_> = results.iter().map(|r| r.error.clone()).collect();
        // A tool done in its first poll needs no timer on a current-thread runtime.
        let now = if multi_thread {
            Some(ToolErrorKind::Panicked)
        } else {
            None
        };
        assert_eq!(
            errors,
            [Some(ToolErrorKind::Panicked), now],
            "multi-thread: {multi_thread}"
        );
    }
}

/// On a current-thread runtime a call's future is first polled by the turn stream when the
/// call gets its slot: its first steps have run by the time `Started` is seen.
#[tokio::test]
async fn on_a_current_thread_runtime_the_first_poll_is_the_turns() {
    let polled = Arc::new(AtomicUsize::new(0));
    let p = polled.clone();
    let tools = ToolRegistry::new().with_raw_fn("step", move |_| {
        let p = p.clone();
        Box::pin(async move {
            p.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
            Ok(String::new().into())
        })
    });
    let mut stream = Box::pin(TurnStream::new(
        calls(&["step"]),
        Arc::new(tools),
        TurnConfig::new(Provider::Anthropic),
    ));
    while !matches!(stream.next().await, Some(Ok(TurnEvent::Started { .. }))) {}
    assert_eq!(polled.load(Ordering::SeqCst), 1);
}

/// On a multi-thread runtime every call is a task from the start: a tool that blocks its
/// thread before its first `.await` holds neither the turn stream nor its deadline (found
/// in review: polled by the turn stream, it held the turn until it returned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_a_blocking_first_poll_does_not_hold_the_deadline() {
    let tools = ToolRegistry::new().with_raw_fn("stuck", |_| {
        Box::pin(async {
            std::thread::sleep(Duration::from_millis(400));
            Ok("late".to_owned().into())
        })
    });
    let config = TurnConfig::new(Provider::Anthropic).turn_timeout(Duration::from_millis(20));
    let kinds: Vec<_> = results(&["stuck"], tools, config)
        .await
        .iter()
        .map(|r| r.error.clone())
        .collect();
    assert_eq!(kinds, [Some(ToolErrorKind::TurnDeadline)]);
}

/// Tools that compute before their first await run in parallel on a multi-thread runtime:
/// each of the two waits, synchronously, for the other's message. (Run one after the
/// other, the first would give up after its 30 s and fail the test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_compute_in_parallel_on_a_multi_thread_runtime() {
    type Pipe = (Mutex<Option<mpsc::Sender<()>>>, Mutex<mpsc::Receiver<()>>);
    let (a_tx, a_rx) = mpsc::channel();
    let (b_tx, b_rx) = mpsc::channel();
    let pipes: Arc<[Pipe; 2]> = Arc::new([
        (Mutex::new(Some(b_tx)), Mutex::new(a_rx)),
        (Mutex::new(Some(a_tx)), Mutex::new(b_rx)),
    ]);
    let mut tools = ToolRegistry::new();
    for (i, name) in ["left", "right"].into_iter().enumerate() {
        let pipes = pipes.clone();
        tools = tools.with_raw_fn(name, move |_| {
            let pipes = pipes.clone();
            Box::pin(async move {
                let (tell, hear) = &pipes[i];
                let _ = tell.lock().unwrap().take().unwrap().send(());
                let heard = hear.lock().unwrap().recv_timeout(Duration::from_secs(30));
                heard
                    .map(|()| "met".into())
                    .map_err(|e| e.to_string().into())
            })
        });
    }
    let config = TurnConfig::new(Provider::Anthropic);
    let results = results(&["left", "right"], tools, config).await;
    let contents: Vec<_> = results.iter().map(|r| r.content.as_str()).collect();
    assert_eq!(contents, ["met", "met"]);
}
