//! The turn stream: one model turn as a transaction.
//!
//! ```text
//!  model events ──▶ assembler ──▶ complete call ──▶ dispatch policy ──▶ executor
//!       │                              │              (held | launched)      │
//!       ▼                              ▼                                     ▼
//!  TurnEvent::Model            TurnEvent::ToolCall          Started / Finished (progress,
//!                                                            completion order)
//!                                                                            │
//!  message ends: stop reason tool_use? ── yes ─▶ commit: launch held calls   │
//!                                       └─ no ──▶ abandon: cancel started ones
//!                                                                            ▼
//!                         reorder buffer ──▶ TurnEvent::Result (request order) ──▶ Outcome
//! ```
//!
//! Phases: `Streaming` (reading the model) → `Committed` (every call of the message gets
//! exactly one result, in request order) or `Abandoned` (nothing enters history; calls
//! that started are cancelled and reported as not committed) → `Done` after the outcome.

use std::collections::VecDeque;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pin_project::pin_project;
use serde_json::value::RawValue;
use tokio::time::Sleep;

mod machine;

use machine::{Machine, Phase, Slot};

use crate::assemble::{AssembleLimits, AssembledMessage, Assembler, ToolCall};
use crate::dispatch::DispatchPolicy;
use crate::event::{StopKind, StreamEvent, Usage};
use crate::execute::{Executor, Orphan, OrphanBuffer, TaskEvent, ToolResult, TurnId};
use crate::provider::Provider;
use crate::tool::ToolRegistry;

/// The default tool timeout of a turn and of a conversation: 5 minutes. A tool that hangs
/// fails with a timeout error then, instead of holding its turn forever. Change it with
/// [`TurnConfig::tool_timeout`], or run without one with [`TurnConfig::no_tool_timeout`].
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Settings of one turn.
#[derive(Debug, Clone)]
pub struct TurnConfig {
    provider: Provider,
    policy: DispatchPolicy,
    concurrency: NonZeroUsize,
    tool_timeout: Option<Duration>,
    turn_timeout: Option<Duration>,
    turn: TurnId,
    orphans: OrphanBuffer,
    limits: AssembleLimits,
    model: Option<String>,
}

/// Default for [`TurnConfig::concurrency`].
pub const DEFAULT_CONCURRENCY: NonZeroUsize = match NonZeroUsize::new(8) {
    Some(n) => n,
    None => unreachable!(),
};

impl TurnConfig {
    /// Defaults: batched dispatch, 8 tools at once, a tool timeout of
    /// [`DEFAULT_TOOL_TIMEOUT`] (5 minutes), no turn timeout, turn 1, a new orphan buffer.
    pub fn new(provider: Provider) -> Self {
        TurnConfig {
            provider,
            policy: DispatchPolicy::Batched,
            concurrency: DEFAULT_CONCURRENCY,
            tool_timeout: Some(DEFAULT_TOOL_TIMEOUT),
            turn_timeout: None,
            turn: TurnId(1),
            orphans: OrphanBuffer::new(),
            limits: AssembleLimits::new(),
            model: None,
        }
    }

    /// The model the next request goes to (default: unknown). Some wire rules depend on
    /// it: Bedrock accepts `toolResult.status` only from the model families that document
    /// it (Anthropic Claude, Amazon Nova); for an unknown model the status is left out and
    /// the error is said in the result's text.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The dispatch policy (default [`DispatchPolicy::Batched`]).
    pub fn policy(mut self, policy: DispatchPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How many tools may run at once (default 8).
    pub fn concurrency(mut self, n: NonZeroUsize) -> Self {
        self.concurrency = n;
        self
    }

    /// The timeout of every tool without one of its own (default [`DEFAULT_TOOL_TIMEOUT`],
    /// 5 minutes). Hard: at the deadline the tool's future is dropped and its slot gets a
    /// timeout error.
    pub fn tool_timeout(mut self, timeout: Duration) -> Self {
        self.tool_timeout = Some(timeout);
        self
    }

    /// No tool timeout: a tool without one of its own may run as long as it likes (and a
    /// tool that hangs holds its turn until the turn timeout, if any, or forever).
    pub fn no_tool_timeout(mut self) -> Self {
        self.tool_timeout = None;
        self
    }

    /// A deadline for the whole turn, counted from the stream's first poll (default: none).
    /// Calls still running then get a deadline error; a message still streaming then is
    /// abandoned.
    pub fn turn_timeout(mut self, timeout: Duration) -> Self {
        self.turn_timeout = Some(timeout);
        self
    }

    /// The turn's id (default 1).
    pub fn turn(mut self, turn: TurnId) -> Self {
        self.turn = turn;
        self
    }

    /// Where late results go (default: a buffer of this turn's own).
    pub fn orphans(mut self, orphans: OrphanBuffer) -> Self {
        self.orphans = orphans;
        self
    }

    /// Limits on the message (default [`AssembleLimits::new`]): a message past a limit
    /// is abandoned, a call whose arguments break one is answered with an error.
    pub fn limits(mut self, limits: AssembleLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The orphan buffer.
    pub fn orphan_buffer(&self) -> &OrphanBuffer {
        &self.orphans
    }
}

/// How a turn ended.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    /// The turn.
    pub turn: TurnId,
    /// Whether the turn committed: the message ended with `tool_use` and every call has
    /// its result.
    pub committed: bool,
    /// Why it did not commit (a final answer says it ended without `tool_use`; see
    /// [`ending`](TurnOutcome::ending) for how the turn ended).
    pub abandoned_because: Option<String>,
    /// The assembled model message.
    pub message: AssembledMessage,
    /// The results, in request order (for a turn that did not commit: the calls that had
    /// started, each cancelled and marked not committed).
    pub results: Vec<ToolResult>,
    /// The assistant message in the provider's wire format, for the history.
    pub assistant_message: Box<RawValue>,
    /// The tool-results message in the provider's wire format; `None` unless committed.
    pub results_message: Option<Box<RawValue>>,
    /// Orphans of this turn collected by the time it ended.
    pub orphans: Vec<Orphan>,
}

impl TurnOutcome {
    /// The turn's token counts (SPEC §4, normalized): cache reads and writes, reasoning.
    pub fn usage(&self) -> crate::event::Usage {
        self.message.usage
    }

    /// How the turn ended, plainly: with an answer, with committed tool results, paused,
    /// or abandoned. A final answer has `committed: false` (it has no tool results to
    /// commit) and is [`TurnEnding::Answered`], not a failure.
    pub fn ending(&self) -> TurnEnding {
        let m = &self.message;
        let no_calls = m.complete && m.tool_calls.is_empty();
        match m.stop_kind() {
            _ if self.committed => TurnEnding::ToolResults,
            Some(StopKind::EndTurn | StopKind::StopSequence) if no_calls => TurnEnding::Answered,
            // SPEC §6: "Anthropic `pause_turn` is continued: its content goes back as the
            // assistant message and the model is called again, with no tool results."
            Some(StopKind::PauseTurn) if no_calls => TurnEnding::Paused,
            // An answer that still carries tool calls cannot enter history without
            // their results.
            Some(StopKind::EndTurn | StopKind::StopSequence) if m.complete => {
                TurnEnding::Abandoned {
                    reason: "the message ended its turn with unanswered tool calls".into(),
                }
            }
            _ => TurnEnding::Abandoned {
                reason: self
                    .abandoned_because
                    .clone()
                    .unwrap_or_else(|| "the turn did not commit".into()),
            },
        }
    }
}

/// How a turn ended ([`TurnOutcome::ending`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnEnding {
    /// The model answered (`end_turn` or a stop sequence, no tool calls): the message
    /// enters history and the conversation waits for the user.
    Answered,
    /// The model called tools and every call has its result: the message and the results
    /// enter history and the model is called again.
    ToolResults,
    /// The provider paused a long turn (Anthropic `pause_turn`): the message enters
    /// history and the model is called again, with no tool results.
    Paused,
    /// Nothing of the turn enters history: the stream failed or was cut, the message hit
    /// `max_tokens`, a content filter or a provider error, or the turn deadline passed.
    /// The calls that had started were cancelled.
    Abandoned {
        /// Why.
        reason: String,
    },
}

impl TurnEnding {
    /// Whether the turn's messages enter history (every ending but
    /// [`Abandoned`](TurnEnding::Abandoned)).
    pub fn enters_history(&self) -> bool {
        !matches!(self, TurnEnding::Abandoned { .. })
    }
}

/// What a [`TurnStream`] yields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TurnEvent {
    /// A model event, passed through (text deltas for user interfaces).
    Model(StreamEvent),
    /// A tool call its provider marked complete.
    ToolCall {
        /// The turn.
        turn: TurnId,
        /// The call, shared with the assembled message (not a copy of its arguments).
        call: Arc<ToolCall>,
    },
    /// Progress: a call got its concurrency slot. On a current-thread runtime its future
    /// has been polled once by the turn stream (one that waits goes on in its own task);
    /// on a multi-thread runtime, and for blocking work, its task is spawned.
    Started {
        /// The turn.
        turn: TurnId,
        /// The call's position in the message.
        index: usize,
        /// The call's id.
        id: Arc<str>,
        /// The tool's name.
        name: Arc<str>,
    },
    /// Progress: a call's tool finished (in completion order).
    Finished {
        /// The turn.
        turn: TurnId,
        /// The call's position in the message.
        index: usize,
        /// The call's id.
        id: Arc<str>,
        /// The tool's name.
        name: Arc<str>,
        /// Whether it succeeded.
        ok: bool,
    },
    /// A result, in request order.
    Result(ToolResult),
    /// The end of the turn.
    Outcome(Box<TurnOutcome>),
}

impl TurnEvent {
    /// Whether this is a progress event (started, finished): for user interfaces, not
    /// for history.
    pub fn is_progress(&self) -> bool {
        matches!(self, TurnEvent::Started { .. } | TurnEvent::Finished { .. })
    }

    /// The text of a text delta, for printing as it streams (reasoning, tool arguments
    /// and everything else: `None`).
    pub fn text(&self) -> Option<&str> {
        match self {
            TurnEvent::Model(event) => event.text(),
            _ => None,
        }
    }
}

/// One model turn: model events in, model events, tool calls, progress, ordered results
/// and the outcome out. See the [module docs](self).
///
/// # Example
///
/// Two calls of one OpenAI Chat message, the first slower than the second: under eager
/// dispatch each starts as soon as its arguments are complete, and the results still come
/// out in the order the model asked for them.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use futures_util::StreamExt;
/// use serde_json::Value;
/// use toolstream::{ByteStreamExt, DispatchPolicy, Provider, ToolRegistry};
/// use toolstream::{TurnConfig, TurnEvent, TurnStream};
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() {
///     let body = concat!(
///         r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"wait","arguments":"{\"ms\": 300}"}}]}}]}"#, "\n\n",
///         r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"wait","arguments":"{\"ms\": 10}"}}]}}]}"#, "\n\n",
///         r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#, "\n\n",
///         "data: [DONE]\n\n",
///     );
///     let events = futures_util::stream::iter([Ok::<_, std::io::Error>(body.as_bytes())])
///         .stream_events(Provider::OpenAiChat);
///     let tools = ToolRegistry::new().with_raw_fn("wait", |args: Value| {
///         Box::pin(async move {
///             let ms = args["ms"].as_u64().unwrap_or(0);
///             tokio::time::sleep(Duration::from_millis(ms)).await;
///             Ok(format!("waited {ms} ms").into())
///         })
///     });
///     let config = TurnConfig::new(Provider::OpenAiChat).policy(DispatchPolicy::Eager);
///     let mut turn = TurnStream::new(events, Arc::new(tools), config);
///     let (mut finished, mut results) = (Vec::new(), Vec::new());
///     while let Some(event) = turn.next().await {
///         match event.expect("a well-formed stream") {
///             TurnEvent::Finished { index, .. } => finished.push(index),
///             TurnEvent::Result(r) => results.push(r.content),
///             TurnEvent::Outcome(outcome) => assert!(outcome.committed),
///             _ => {}
///         }
///     }
///     assert_eq!(finished, [1, 0]); // completion order
///     assert_eq!(results, ["waited 300 ms", "waited 10 ms"]); // request order
/// }
/// ```
///
/// # Cancel safety
///
/// Dropping the stream aborts every tool task it spawned. Blocking tools (which cannot be
/// interrupted) report to the orphan buffer when they finish.
#[must_use = "streams do nothing unless polled"]
#[pin_project(project = TurnProj)]
pub struct TurnStream<S> {
    #[pin]
    input: S,
    input_done: bool,
    assembler: Assembler,
    tools: Arc<ToolRegistry>,
    config: TurnConfig,
    exec: Executor,
    slots: Vec<Slot>,
    phase: Phase,
    next_emit: usize,
    queue: VecDeque<TurnEvent>,
    deadline: Option<Pin<Box<Sleep>>>,
    deadline_armed: bool,
    results: Vec<ToolResult>,
    abandoned_because: Option<String>,
    /// Usage reported after the turn committed.
    late_usage: Usage,
}

impl<S> std::fmt::Debug for TurnStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnStream")
            .field("turn", &self.config.turn)
            .field("phase", &self.phase)
            .field("slots", &self.slots.len())
            .field("running", &self.exec.len())
            .finish()
    }
}

impl<S> TurnStream<S> {
    /// A turn over `events` (the unified events of one model response) running `tools`.
    pub fn new(events: S, tools: Arc<ToolRegistry>, config: TurnConfig) -> Self {
        let exec = Executor::new(config.concurrency, config.turn, config.orphans.clone());
        TurnStream {
            input: events,
            input_done: false,
            assembler: Assembler::with_limits(config.limits),
            tools,
            config,
            exec,
            slots: Vec::new(),
            phase: Phase::Streaming,
            next_emit: 0,
            queue: VecDeque::new(),
            deadline: None,
            deadline_armed: false,
            results: Vec::new(),
            abandoned_because: None,
            late_usage: Usage::default(),
        }
    }

    /// The turn's id.
    pub fn turn(&self) -> TurnId {
        self.config.turn
    }
}

impl<S, E> Stream for TurnStream<S>
where
    S: Stream<Item = Result<StreamEvent, E>>,
{
    type Item = Result<TurnEvent, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if !*this.deadline_armed {
            *this.deadline_armed = true;
            *this.deadline = this
                .config
                .turn_timeout
                .map(|t| Box::pin(tokio::time::sleep(t)));
        }
        loop {
            if let Some(event) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if *this.phase == Phase::Done {
                return Poll::Ready(None);
            }
            let mut input_error = None;
            let mut progressed = false;
            // Read the model while the turn may still use what it says.
            if !*this.input_done {
                if *this.phase == Phase::Abandoned {
                    *this.input_done = true;
                } else if let Poll::Ready(next) = this.input.as_mut().poll_next(cx) {
                    progressed = true;
                    match next {
                        Some(Ok(event)) => machine(&mut this).on_model_event(event),
                        Some(Err(e)) => {
                            *this.input_done = true;
                            input_error = Some(e);
                            machine(&mut this).abandon("the model stream failed".into());
                        }
                        None => {
                            *this.input_done = true;
                            machine(&mut this).decide();
                        }
                    }
                }
            }
            // Every task event ready now is taken before the deadline is looked at: a call
            // that ended before the deadline passed keeps its result.
            while let Poll::Ready(Some(event)) = this.exec.poll_event(cx) {
                progressed = true;
                match event {
                    TaskEvent::Started(index) => machine(&mut this).on_started(index),
                    TaskEvent::Finished(index, outcome) => {
                        machine(&mut this).on_finished(index, outcome);
                    }
                }
            }
            if let Some(deadline) = this.deadline.as_mut() {
                if deadline.as_mut().poll(cx).is_ready() {
                    *this.deadline = None;
                    machine(&mut this).on_deadline();
                    progressed = true;
                }
            }
            machine(&mut this).emit();
            if let Some(e) = input_error {
                return Poll::Ready(Some(Err(e)));
            }
            if !progressed && this.queue.is_empty() && *this.phase != Phase::Done {
                return Poll::Pending;
            }
        }
    }
}

fn machine<'a, S>(this: &'a mut TurnProj<'_, S>) -> Machine<'a> {
    Machine {
        assembler: &mut *this.assembler,
        tools: this.tools.as_ref(),
        config: &*this.config,
        exec: &mut *this.exec,
        slots: &mut *this.slots,
        phase: &mut *this.phase,
        next_emit: &mut *this.next_emit,
        queue: &mut *this.queue,
        results: &mut *this.results,
        abandoned_because: &mut *this.abandoned_because,
        late_usage: &mut *this.late_usage,
    }
}
