//! The executor: tool calls run as spawned tasks under a concurrency cap, each with a hard
//! timeout; panics are caught; every task is aborted when the executor is dropped.
//!
//! Ordering is not its business: it reports each outcome with the call's index (its
//! position in the message), and the turn stream's reorder buffer emits results in request
//! order. The semaphore permit is acquired inside the task and travels with it, so a slot
//! frees exactly when the tool's future ends, cancellation included.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

use crate::tool::{Runner, ToolOutput};

/// A turn's number: monotonic per conversation, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TurnId(pub u64);

impl TurnId {
    /// The turn after this one.
    pub fn next(self) -> TurnId {
        TurnId(self.0 + 1)
    }
}

impl fmt::Display for TurnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a call got an error result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolErrorKind {
    /// The tool returned an error of its own.
    Failed,
    /// The tool panicked.
    Panicked,
    /// No tool of that name is registered.
    UnknownTool,
    /// The arguments were not a complete, valid JSON object.
    InvalidArguments,
    /// The tool's timeout expired; its future was dropped.
    TimedOut,
    /// The turn's deadline expired before the tool finished; its future was dropped.
    TurnDeadline,
    /// The turn did not commit (it did not end with `tool_use`); the call was cancelled.
    Cancelled,
}

impl ToolErrorKind {
    /// A short snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ToolErrorKind::Failed => "failed",
            ToolErrorKind::Panicked => "panicked",
            ToolErrorKind::UnknownTool => "unknown_tool",
            ToolErrorKind::InvalidArguments => "invalid_arguments",
            ToolErrorKind::TimedOut => "timed_out",
            ToolErrorKind::TurnDeadline => "turn_deadline",
            ToolErrorKind::Cancelled => "cancelled",
        }
    }
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The turn the call belongs to.
    pub turn: TurnId,
    /// The call's position in the message: the ordering key.
    pub index: usize,
    /// The call's id.
    pub id: Arc<str>,
    /// The tool's name.
    pub name: Arc<str>,
    /// `None` for success, else why it failed.
    pub error: Option<ToolErrorKind>,
    /// The text sent back to the model: the tool's content, or a message saying what
    /// happened.
    pub content: String,
    /// Whether the result belongs to a committed turn (and so to history).
    pub committed: bool,
}

impl ToolResult {
    /// Whether the tool succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// A result that arrived after its call was already answered (a blocking tool that ran
/// past its timeout, or work that finished as it was being cancelled). Kept apart: it never
/// enters history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The turn the call belonged to.
    pub turn: TurnId,
    /// The call's position in its message.
    pub index: usize,
    /// The call's id.
    pub id: Arc<str>,
    /// The tool's name.
    pub name: Arc<str>,
    /// What the tool produced.
    pub output: ToolOutput,
}

/// Where orphans go: shared by the turns of a conversation and observable by the caller.
#[derive(Debug, Clone, Default)]
pub struct OrphanBuffer {
    inner: Arc<Mutex<VecDeque<Orphan>>>,
}

impl OrphanBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an orphan.
    pub fn push(&self, orphan: Orphan) {
        self.lock().push_back(orphan);
    }

    /// Takes every orphan collected so far.
    pub fn drain(&self) -> Vec<Orphan> {
        self.lock().drain(..).collect()
    }

    /// The orphans collected so far, left in place.
    pub fn snapshot(&self) -> Vec<Orphan> {
        self.lock().iter().cloned().collect()
    }

    /// How many orphans are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Orphan>> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How a task ended, before it is turned into a [`ToolResult`].
#[derive(Debug)]
pub(crate) enum Outcome {
    Output(ToolOutput),
    TimedOut(Duration),
    Panicked,
    /// The task was aborted (cancellation or turn deadline).
    Aborted,
}

/// What the task needs to know about its call.
pub(crate) struct Launch<'a> {
    pub index: usize,
    pub id: &'a Arc<str>,
    pub name: &'a Arc<str>,
    pub input: Value,
    pub runner: Runner,
    pub timeout: Option<Duration>,
}

/// What a task reports, in the order it happens. One channel for both kinds keeps a
/// task's end before the start of the task its permit lets in.
#[derive(Debug)]
pub(crate) enum TaskEvent {
    Started(usize),
    Finished(usize, Outcome),
}

/// Spawned tool tasks for one turn.
///
/// Every launched task reports `Finished` exactly once: by itself when it ends, or from
/// its report guard when its future is dropped first (abort, runtime shutdown) or unwinds.
/// So counting `Finished` messages is counting live tasks, and no join handle or task-id
/// map is needed.
#[derive(Debug)]
pub(crate) struct Executor {
    /// Abort handles by call index; `None` once the task has reported its end.
    aborts: Vec<Option<AbortHandle>>,
    /// Tasks launched whose `Finished` has not been received.
    live: usize,
    semaphore: Arc<Semaphore>,
    events_tx: mpsc::UnboundedSender<TaskEvent>,
    events_rx: mpsc::UnboundedReceiver<TaskEvent>,
    turn: TurnId,
    orphans: OrphanBuffer,
}

/// Sends a task's `Finished` report: the outcome it reached, or, if its future is dropped
/// before that, `Aborted` (or `Panicked` while unwinding). It holds the task's concurrency
/// permit and releases it only after the report is sent, on every path, so the start of a
/// task the permit lets in always comes after this task's end.
struct Report {
    index: usize,
    events: mpsc::UnboundedSender<TaskEvent>,
    permit: Option<OwnedSemaphorePermit>,
    sent: bool,
}

impl Report {
    fn send(&mut self, outcome: Outcome) {
        self.sent = true;
        let _ = self.events.send(TaskEvent::Finished(self.index, outcome));
        self.permit = None;
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if !self.sent {
            let outcome = if std::thread::panicking() {
                Outcome::Panicked
            } else {
                Outcome::Aborted
            };
            self.send(outcome);
        }
    }
}

impl Executor {
    pub(crate) fn new(concurrency: NonZeroUsize, turn: TurnId, orphans: OrphanBuffer) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Executor {
            aborts: Vec::new(),
            live: 0,
            semaphore: Arc::new(Semaphore::new(concurrency.get())),
            events_tx,
            events_rx,
            turn,
            orphans,
        }
    }

    /// Spawns the call. It waits for a permit, reports that it started, then runs under its
    /// timeout.
    pub(crate) fn launch(&mut self, call: Launch<'_>) {
        let semaphore = self.semaphore.clone();
        let index = call.index;
        let mut report = Report {
            index,
            events: self.events_tx.clone(),
            permit: None,
            sent: false,
        };
        // Only blocking work can outlive its slot; only it needs to know where to go (boxed:
        // every task's future would carry its size otherwise).
        let late = match call.runner {
            Runner::Blocking(_) => Some(Box::new((
                Orphan {
                    turn: self.turn,
                    index,
                    id: call.id.clone(),
                    name: call.name.clone(),
                    output: Ok(String::new()),
                },
                self.orphans.clone(),
            ))),
            Runner::Async(_) => None,
        };
        let task = async move {
            let Ok(permit) = semaphore.acquire_owned().await else {
                unreachable!("the semaphore is never closed");
            };
            report.permit = Some(permit);
            let _ = report.events.send(TaskEvent::Started(index));
            let run = AssertUnwindSafe(run(call.runner, call.input, late, &mut report.permit))
                .catch_unwind()
                .map(|r| r.unwrap_or(Outcome::Panicked));
            let outcome = match call.timeout {
                // Boxed: only tools with a timeout carry a timer.
                Some(limit) => match Box::pin(tokio::time::timeout(limit, run)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::TimedOut(limit),
                },
                None => run.await,
            };
            report.send(outcome);
        };
        // Counted before the spawn: if spawning panics (no runtime), the dropped guard's
        // `Finished` still finds its slot.
        if self.aborts.len() <= index {
            self.aborts.resize_with(index + 1, || None);
        }
        self.live += 1;
        let span = tracing::info_span!("tool", turn = self.turn.0, index, name = &**call.name);
        let handle = tokio::spawn(tracing::Instrument::instrument(task, span));
        self.aborts[index] = Some(handle.abort_handle());
    }

    /// Aborts the call's task, if it still runs. Its `Finished(Aborted)` follows.
    pub(crate) fn abort(&mut self, index: usize) {
        if let Some(Some(h)) = self.aborts.get(index) {
            h.abort();
        }
    }

    /// Tasks that have not reported their end.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The next thing a task did: started, or finished with an outcome (a task aborted or
    /// dropped before its end finishes as [`Outcome::Aborted`]).
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<TaskEvent>> {
        if self.live == 0 {
            return Poll::Ready(None);
        }
        let event = std::task::ready!(self.events_rx.poll_recv(cx));
        if let Some(TaskEvent::Finished(index, _)) = &event {
            self.aborts[*index] = None;
            self.live -= 1;
        }
        Poll::Ready(event)
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        for handle in self.aborts.iter().flatten() {
            handle.abort();
        }
    }
}

/// Runs the tool. Blocking work goes to the blocking pool and answers through a oneshot:
/// if nobody listens any more (timeout, abort), its result becomes an orphan.
///
/// The blocking work takes the permit with it, so it frees its slot when it really ends,
/// not when its caller gives up waiting; with its answer it hands the permit back, so the
/// task's report still goes out before the slot is released.
async fn run(
    runner: Runner,
    input: Value,
    late: Option<Box<(Orphan, OrphanBuffer)>>,
    permit: &mut Option<OwnedSemaphorePermit>,
) -> Outcome {
    match runner {
        Runner::Async(tool) => Outcome::Output(tool.call(input).await),
        Runner::Blocking(f) => {
            let (tx, rx) = oneshot::channel();
            let held = permit.take();
            tokio::task::spawn_blocking(move || {
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f(input)));
                // Nobody listens: the output is late; the permit goes when this ends.
                if let (Err((Ok(output), _permit)), Some(late)) = (tx.send((outcome, held)), late) {
                    let (mut orphan, orphans) = *late;
                    orphan.output = output;
                    orphans.push(orphan);
                }
            });
            match rx.await {
                Ok((outcome, held)) => {
                    *permit = held;
                    match outcome {
                        Ok(output) => Outcome::Output(output),
                        Err(_panic) => Outcome::Panicked,
                    }
                }
                // The work was dropped without running (the runtime shut down).
                Err(_) => Outcome::Aborted,
            }
        }
    }
}
