//! Soak and load, run by hand (release build, they take a while):
//!
//! ```text
//! cargo test --release --test soak -- --ignored --nocapture --test-threads=1
//! ```
//!
//! (One at a time: the heap figures come from a process-wide counting allocator.)
//!
//! `soak_100k_turns_with_random_faults`: 100,000 turns on one runtime, each with random
//! tool faults (errors, panics, timeouts, hangs, unknown tools, bad or cut-off arguments),
//! random dispatch, random endings (tool use, max tokens, transport error) and consumers
//! that sometimes drop the stream mid-turn. Every call of a committed turn is answered
//! exactly once in its slot, live tasks return to zero, and live heap bytes are the same
//! at the end as after warm-up.
//!
//! `ten_thousand_concurrent_turns`: 10,000 turns in flight at once on one runtime, every
//! one answered.
//!
//! Time is paused (tokio's test clock), so sleeps and timeouts cost no wall time.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use toolstream::{
    Block, Delta, DispatchPolicy, Provider, StopKind, StopReason, StreamEvent, ToolErrorKind,
    ToolFuture, ToolRegistry, TurnConfig, TurnEvent, TurnId, TurnOutcome, TurnStream, Usage,
};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live as live_bytes;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a call is made to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Ok,
    Error,
    Panic,
    Slow,
    Hang,
    Unknown,
    BadJson,
    CutOff,
}

const FAULTS: [Fault; 8] = [
    Fault::Ok,
    Fault::Error,
    Fault::Panic,
    Fault::Slow,
    Fault::Hang,
    Fault::Unknown,
    Fault::BadJson,
    Fault::CutOff,
];

/// How the model message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    ToolUse,
    MaxTokens,
    TransportError,
}

fn tools() -> Arc<ToolRegistry> {
    fn ok(v: Value) -> ToolFuture {
        Box::pin(async move { Ok(v.to_string().into()) })
    }
    fn error(_: Value) -> ToolFuture {
        Box::pin(async move { Err("the tool failed".into()) })
    }
    fn panic(_: Value) -> ToolFuture {
        Box::pin(async move { panic!("the tool panicked") })
    }
    fn slow(v: Value) -> ToolFuture {
        Box::pin(async move {
            let ms = v["ms"].as_u64().unwrap_or(1);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(format!("slept {ms}").into())
        })
    }
    fn hang(_: Value) -> ToolFuture {
        Box::pin(std::future::pending())
    }
    Arc::new(
        ToolRegistry::new()
            .with_raw_fn("ok", ok)
            .with_raw_fn("error", error)
            .with_raw_fn("panic", panic)
            .with_raw_fn("slow", slow)
            .with_raw_fn("hang", hang),
    )
}

/// One scripted turn: the events with the pause before each, and what to expect.
struct Script {
    events: Vec<(u64, StreamEvent)>,
    faults: Vec<Fault>,
    ending: Ending,
    /// Drop the stream after this many items, if set.
    drop_after: Option<usize>,
}

fn script(rng: &mut Rng) -> Script {
    let calls = 1 + rng.below(6) as usize;
    let faults: Vec<Fault> = (0..calls)
        .map(|_| FAULTS[rng.below(FAULTS.len() as u64) as usize])
        .collect();
    let mut events = vec![(
        0,
        StreamEvent::MessageStart {
            id: Some("msg".into()),
            model: None,
            usage: Usage::default(),
        },
    )];
    for (index, fault) in faults.iter().enumerate() {
        let name = match fault {
            Fault::Ok | Fault::BadJson | Fault::CutOff => "ok",
            Fault::Error => "error",
            Fault::Panic => "panic",
            Fault::Slow => "slow",
            Fault::Hang => "hang",
            Fault::Unknown => "nope",
        };
        let args = match fault {
            Fault::Slow => format!("{{\"ms\":{}}}", 1 + rng.below(90)),
            Fault::BadJson => "{\"x\": }".to_string(),
            _ => format!("{{\"i\":{index}}}"),
        };
        events.push((
            rng.below(3),
            StreamEvent::BlockStart {
                index,
                block: Block::ToolUse {
                    id: format!("call_{index}"),
                    name: name.into(),
                },
            },
        ));
        let (a, b) = args.split_at(args.len() / 2);
        for part in [a, b] {
            events.push((
                rng.below(3),
                StreamEvent::BlockDelta {
                    index,
                    delta: Delta::ToolInput(part.into()),
                },
            ));
        }
        if *fault != Fault::CutOff {
            events.push((rng.below(3), StreamEvent::BlockStop { index }));
        }
    }
    let ending = match rng.below(10) {
        0 => Ending::MaxTokens,
        1 => Ending::TransportError,
        _ => Ending::ToolUse,
    };
    let (kind, raw) = match ending {
        Ending::MaxTokens => (StopKind::MaxTokens, "max_tokens"),
        _ => (StopKind::ToolUse, "tool_use"),
    };
    events.push((
        rng.below(3),
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::new(kind, raw)),
            usage: Usage::default(),
        },
    ));
    events.push((0, StreamEvent::MessageStop));
    let drop_after = (rng.below(20) == 0).then(|| rng.below(events.len() as u64 + 4) as usize);
    Script {
        events,
        faults,
        ending,
        drop_after,
    }
}

/// The model stream of a script: events after their pauses, or a transport error in the
/// middle.
fn model_stream(
    s: &Script,
) -> impl futures_util::Stream<Item = Result<StreamEvent, &'static str>> + Send + 'static {
    let mut items: Vec<(u64, Result<StreamEvent, &'static str>)> = s
        .events
        .iter()
        .map(|(pause, e)| (*pause, Ok(e.clone())))
        .collect();
    if s.ending == Ending::TransportError {
        let at = items.len() / 2;
        items.truncate(at);
        items.push((1, Err("connection reset")));
    }
    futures_util::stream::iter(items).then(|(pause, item)| async move {
        if pause > 0 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        item
    })
}

#[derive(Debug, Default)]
struct Tally {
    turns: u64,
    committed: u64,
    abandoned: u64,
    dropped: u64,
    calls: u64,
    faults: u64,
    results_lost: u64,
    results_duplicated: u64,
}

/// Runs one scripted turn and checks it; returns the outcome (None when dropped).
async fn run_turn(
    s: &Script,
    tools: Arc<ToolRegistry>,
    turn: u64,
    policy: DispatchPolicy,
    tally: &mut Tally,
) -> Option<TurnOutcome> {
    let config = TurnConfig::new(Provider::Anthropic)
        .policy(policy)
        .concurrency(NonZeroUsize::new(1 + (turn % 4) as usize).unwrap())
        .tool_timeout(Duration::from_millis(100))
        .turn(TurnId(turn));
    let mut stream = std::pin::pin!(TurnStream::new(model_stream(s), tools, config));
    let mut results = Vec::new();
    let mut outcome = None;
    let mut seen = 0;
    while let Some(item) = stream.next().await {
        seen += 1;
        if s.drop_after == Some(seen) {
            tally.dropped += 1;
            return None;
        }
        match item {
            Ok(TurnEvent::Result(r)) => results.push(r),
            Ok(TurnEvent::Outcome(o)) => outcome = Some(*o),
            _ => {}
        }
    }
    let outcome = outcome.expect("every turn ends with an outcome");
    tally.turns += 1;
    tally.calls += s.faults.len() as u64;
    tally.faults += s.faults.iter().filter(|f| **f != Fault::Ok).count() as u64;
    if outcome.committed {
        tally.committed += 1;
        assert_eq!(s.ending, Ending::ToolUse);
        let n = s.faults.len();
        for (i, fault) in s.faults.iter().enumerate() {
            let answered = results.iter().filter(|r| r.index == i).count();
            match answered {
                0 => tally.results_lost += 1,
                1 => {}
                _ => tally.results_duplicated += 1,
            }
            let r = &outcome.results[i];
            assert_eq!((r.index, &*r.id), (i, format!("call_{i}").as_str()));
            assert_eq!(r.turn, TurnId(turn));
            let expected = match fault {
                Fault::Ok | Fault::Slow => None,
                Fault::Error => Some(ToolErrorKind::Failed),
                Fault::Panic => Some(ToolErrorKind::Panicked),
                Fault::Hang => Some(ToolErrorKind::TimedOut),
                Fault::Unknown => Some(ToolErrorKind::UnknownTool),
                Fault::BadJson | Fault::CutOff => Some(ToolErrorKind::InvalidArguments),
            };
            assert_eq!(r.error, expected, "turn {turn} call {i} ({fault:?})");
        }
        assert_eq!(outcome.results.len(), n);
        assert_eq!(results.len(), n, "one result event per call");
    } else {
        tally.abandoned += 1;
        assert_ne!(s.ending, Ending::ToolUse, "turn {turn}: {outcome:?}");
        assert!(outcome.results_message.is_none());
        assert!(outcome.results.iter().all(|r| !r.committed));
    }
    Some(outcome)
}

/// A current-thread runtime on tokio's paused clock; tool panics (expected here by the
/// thousand) are kept off standard error, any other panic is reported as usual.
fn paused_runtime() -> tokio::runtime::Runtime {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"the tool panicked") {
            default(info);
        }
    }));
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Lets aborted tasks be reaped, then reports the runtime's live tasks.
async fn settle() -> usize {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[test]
#[ignore = "soak: run by hand with --release --ignored --nocapture"]
fn soak_100k_turns_with_random_faults() {
    const TURNS: u64 = 100_000;
    const WARM_UP: u64 = 2_000;
    paused_runtime().block_on(async {
        let tools = tools();
        let mut rng = Rng(0x5eed_cafe_f00d_d00d);
        let mut tally = Tally::default();
        let mut baseline = 0;
        let started = std::time::Instant::now();
        for turn in 1..=TURNS {
            let s = script(&mut rng);
            let policy = if rng.below(2) == 0 {
                DispatchPolicy::Batched
            } else {
                DispatchPolicy::Eager
            };
            let outcome = run_turn(&s, tools.clone(), turn, policy, &mut tally).await;
            drop(outcome);
            if turn == WARM_UP {
                assert_eq!(settle().await, 0, "tasks leaked after warm-up");
                baseline = live_bytes();
            }
            if turn % 20_000 == 0 {
                let alive = settle().await;
                println!(
                    "turn {turn:>6}: live tasks {alive}, live heap {} bytes ({:+} since warm-up)",
                    live_bytes(),
                    live_bytes() - baseline
                );
                assert_eq!(alive, 0, "tasks leaked");
            }
        }
        let alive = settle().await;
        let growth = live_bytes() - baseline;
        println!("{tally:#?}");
        println!(
            "live tasks at the end: {alive}; live heap after warm-up {baseline} bytes, at the end {} bytes ({growth:+}); {:.1} s",
            live_bytes(),
            started.elapsed().as_secs_f64()
        );
        assert_eq!(alive, 0);
        assert_eq!(tally.results_lost, 0);
        assert_eq!(tally.results_duplicated, 0);
        assert_eq!(tally.turns + tally.dropped, TURNS);
        assert!(growth.abs() < 64 * 1024, "heap grew by {growth} bytes");
    });
}

#[test]
#[ignore = "load: run by hand with --release --ignored --nocapture"]
fn ten_thousand_concurrent_turns() {
    const TURNS: u64 = 10_000;
    paused_runtime().block_on(async {
        let tools = tools();
        let mut rng = Rng(0xfeed_beef_0123_4567);
        let before = live_bytes();
        let mut set = tokio::task::JoinSet::new();
        for turn in 1..=TURNS {
            let mut s = script(&mut rng);
            s.drop_after = None;
            let tools = tools.clone();
            set.spawn(async move {
                let mut tally = Tally::default();
                run_turn(&s, tools, turn, DispatchPolicy::Eager, &mut tally).await;
                tally
            });
        }
        let in_flight = live_bytes() - before;
        let mut total = Tally::default();
        let mut peak_tasks = 0;
        while let Some(t) = set.join_next().await {
            peak_tasks = peak_tasks.max(
                tokio::runtime::Handle::current()
                    .metrics()
                    .num_alive_tasks(),
            );
            let t = t.expect("no turn task panics");
            total.turns += t.turns;
            total.committed += t.committed;
            total.abandoned += t.abandoned;
            total.calls += t.calls;
            total.faults += t.faults;
            total.results_lost += t.results_lost;
            total.results_duplicated += t.results_duplicated;
        }
        let alive = settle().await;
        println!("{total:#?}");
        println!(
            "10,000 turns spawned at once: {in_flight} heap bytes right after spawning ({} per turn); peak live tasks {peak_tasks}; live tasks at the end {alive}",
            in_flight / TURNS as isize
        );
        assert_eq!(total.turns, TURNS);
        assert_eq!(total.results_lost, 0);
        assert_eq!(total.results_duplicated, 0);
        assert_eq!(alive, 0);
    });
}
