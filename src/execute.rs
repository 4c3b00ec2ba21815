//! The executor: tool calls run under a concurrency cap, each with a hard timeout; panics
//! are caught; every task is aborted when the executor is dropped.
//!
//! Ordering is not its business: it reports each outcome with the call's index (its
//! position in the message), and the turn stream's reorder buffer emits results in request
//! order. The executor admits calls itself: a call starts only in a free slot, and a slot
//! frees with the report of the call that held it, so the call admitted next always starts
//! after that end, cancellation included. On a current-thread runtime an async tool's
//! future is first polled right there, in the turn stream: a tool that is done at once
//! never becomes a task; one that waits goes on as a spawned task. On a multi-thread
//! runtime every call is a task from the start, so that a tool that blocks a worker before
//! its first `.await` holds neither the turn stream nor its deadline.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde_json::Value;
use tokio::runtime::RuntimeFlavor;
use tokio::sync::{mpsc, oneshot};
use tokio::task::coop::Unconstrained;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use crate::tool::{BlockingFn, Runner, Tool, ToolFuture, ToolOutput};

mod results;
pub use results::{Orphan, OrphanBuffer, ToolErrorKind, ToolResult, TurnId};

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
pub(crate) struct Launch {
    pub index: usize,
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub input: Value,
    pub runner: Runner,
    pub timeout: Option<Duration>,
}

/// What the executor reports, in the order it happens.
#[derive(Debug)]
pub(crate) enum TaskEvent {
    /// The call got a concurrency slot: its future was polled once, or its task spawned.
    Started(usize),
    /// The call ended: in its first poll, in its task, or aborted before it got a slot.
    Finished(usize, Outcome),
}

/// What tasks send back. A task's end and the slot it gives back travel in one message,
/// so the call admitted into that slot always starts after this one's end.
#[derive(Debug)]
enum Message {
    /// The task ended; `freed`: its slot is free again (not when blocking work that outlives
    /// its task still holds it).
    Finished {
        index: usize,
        outcome: Outcome,
        freed: bool,
    },
    /// The slot blocking work took away is back: its answer was taken (or dropped unread)
    /// after its task gave up on it. The slot is free once the task's `Finished` is in too,
    /// whichever of the two comes first.
    Released(usize),
}

/// Where a call stands in the executor.
#[derive(Debug)]
enum Task {
    /// Not launched, or its end has been reported.
    Idle,
    /// Waiting for a concurrency slot.
    Queued,
    /// Spawned and not yet reported ended; `returned`: its lent slot came back first.
    /// (The join handle is kept only to abort the task: its own report says how it ended.
    /// Keeping it costs less than trading it for an abort handle.)
    Running {
        abort: JoinHandle<()>,
        returned: bool,
    },
    /// Reported ended, its slot still lent to blocking work.
    Lent,
}

/// The tool calls of one turn, admitted under the concurrency cap.
///
/// Admission is the executor's, not the tasks': a call starts only when a slot is free (as
/// tower's concurrency limit checks readiness before the call), so no task waits on a
/// semaphore, and `Started` is known without asking the task. A call that ends in its
/// first poll is reported here and never becomes a task. Every spawned task reports
/// `Finished` exactly once: by itself when it ends, or from its report guard when its
/// future is dropped first (abort, runtime shutdown) or unwinds. Counting those reports is
/// counting live tasks; no join handle or task-id map is needed.
#[derive(Debug)]
pub(crate) struct Executor {
    /// By call index.
    tasks: Vec<Task>,
    /// Calls waiting for a slot, in launch order (entries aborted meanwhile are skipped).
    waiting: VecDeque<Launch>,
    /// Reports made here rather than by a task: starts, and the ends of calls aborted while
    /// they waited.
    local: VecDeque<TaskEvent>,
    /// Calls launched whose `Finished` has not been handed out.
    live: usize,
    /// Slots taken: tasks running, and blocking work that outlived its task.
    busy: usize,
    cap: NonZeroUsize,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    turn: TurnId,
    orphans: OrphanBuffer,
    /// See [`Executor::first_poll_here`].
    first_poll_here: Option<bool>,
}

impl fmt::Debug for Launch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Launch")
            .field("index", &self.index)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Sends a task's `Finished` report: the outcome it reached, or, if its future is dropped
/// before that, `Aborted` (or `Panicked` while unwinding).
struct Report {
    index: usize,
    tx: mpsc::UnboundedSender<Message>,
    /// Whether the task holds its slot (blocking work takes it away while it runs).
    holds_slot: bool,
    sent: bool,
}

impl Report {
    fn send(&mut self, outcome: Outcome) {
        self.sent = true;
        let _ = self.tx.send(Message::Finished {
            index: self.index,
            outcome,
            freed: self.holds_slot,
        });
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

/// A slot carried away by blocking work: given back with its answer, or, if its task no
/// longer takes the answer, released when the answer is dropped.
struct SlotLoan {
    index: usize,
    tx: Option<mpsc::UnboundedSender<Message>>,
}

impl SlotLoan {
    fn give_back(mut self) {
        self.tx = None;
    }
}

impl Drop for SlotLoan {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Message::Released(self.index));
        }
    }
}

/// What blocking work answers: its outcome, and the slot it carried.
type BlockingAnswer = (std::thread::Result<ToolOutput>, SlotLoan);

/// Where a task waits for its blocking work's answer. If the task stops waiting (timeout,
/// abort) and the answer is already there, unread, its output is kept as an orphan rather
/// than lost; an answer that comes later finds the channel closed and does the same.
struct Answer {
    rx: oneshot::Receiver<BlockingAnswer>,
    late: Box<(Orphan, OrphanBuffer)>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.rx.close();
        if let Ok((Ok(output), _loan)) = self.rx.try_recv() {
            late(&self.late, output);
        }
    }
}

/// Keeps the output of blocking work whose call was answered without it.
fn late(late: &(Orphan, OrphanBuffer), output: ToolOutput) {
    let (orphan, orphans) = late;
    orphans.push(Orphan {
        output,
        ..orphan.clone()
    });
}

impl Executor {
    pub(crate) fn new(concurrency: NonZeroUsize, turn: TurnId, orphans: OrphanBuffer) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Executor {
            tasks: Vec::new(),
            waiting: VecDeque::new(),
            local: VecDeque::new(),
            live: 0,
            busy: 0,
            cap: concurrency,
            tx,
            rx,
            turn,
            orphans,
            first_poll_here: None,
        }
    }

    /// Starts the call if a slot is free, else queues it. Its `Started` (once it has a
    /// slot) and its `Finished` come from [`poll_event`](Self::poll_event).
    pub(crate) fn launch(&mut self, call: Launch) {
        let index = call.index;
        if self.tasks.len() <= index {
            self.tasks.resize_with(index + 1, || Task::Idle);
        }
        self.live += 1;
        self.tasks[index] = Task::Queued;
        self.waiting.push_back(call);
        self.admit();
    }

    /// Fills free slots from the queue, in launch order.
    fn admit(&mut self) {
        while self.busy < self.cap.get() {
            let Some(call) = self.waiting.pop_front() else {
                return;
            };
            if matches!(self.tasks[call.index], Task::Queued) {
                self.start(call);
            }
        }
    }

    /// Starts a call in a free slot.
    ///
    /// On a current-thread runtime (or none) an async tool's future is polled once right
    /// here: one that is done at once (a lookup, an argument error) never becomes a task.
    /// There a tool that blocks would hold the turn stream whether it ran here or in a
    /// task on the same thread, so polling here costs nothing in isolation. One that waits,
    /// every async tool on a multi-thread runtime, and blocking work run as a task that
    /// keeps the call's timeout (counted from here) and reports the end.
    fn start(&mut self, call: Launch) {
        let index = call.index;
        self.busy += 1;
        self.local.push_back(TaskEvent::Started(index));
        let span = tracing::info_span!("tool", turn = self.turn.0, index, name = &*call.name);
        let deadline = call
            .timeout
            .map(|limit| (tokio::time::Instant::now() + limit, limit));
        let work = match call.runner {
            Runner::Async(tool) if self.first_poll_here() => {
                let first = span.in_scope(|| {
                    std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let mut future = tool.call(call.input);
                        // The waker goes unused: a future that waits is polled again by
                        // its task, which registers its own.
                        let mut cx = Context::from_waker(Waker::noop());
                        match future.as_mut().poll(&mut cx) {
                            Poll::Ready(output) => Ok(output),
                            Poll::Pending => Err(future),
                        }
                    }))
                });
                match first {
                    Ok(Err(waiting)) => Work::Running(waiting),
                    Ok(Ok(output)) => return self.end_here(index, Outcome::Output(output)),
                    Err(_panic) => return self.end_here(index, Outcome::Panicked),
                }
            }
            Runner::Async(tool) => Work::Call(tool, call.input),
            Runner::Blocking(f) => {
                // Only blocking work can outlive its task; only it needs to know where its
                // late answer goes (boxed, so that it does not widen every task).
                let late = Box::new((
                    Orphan {
                        turn: self.turn,
                        index,
                        id: call.id,
                        name: call.name,
                        output: Ok(crate::tool::ToolContent::Text(String::new())),
                    },
                    self.orphans.clone(),
                ));
                Work::Blocking(f, call.input, late)
            }
        };
        let task = CallTask {
            work,
            timer: deadline.map_or(Timer::None, |(at, limit)| Timer::At(at, limit)),
            // If spawning panics (no runtime), this guard's `Finished` gives the slot back.
            report: Report {
                index,
                tx: self.tx.clone(),
                holds_slot: true,
                sent: false,
            },
        };
        self.tasks[index] = Task::Running {
            abort: tokio::spawn(tracing::Instrument::instrument(task, span)),
            returned: false,
        };
    }

    /// Whether async tools are first polled by the turn stream: on a current-thread
    /// runtime, or outside any (decided once per turn).
    fn first_poll_here(&mut self) -> bool {
        *self.first_poll_here.get_or_insert_with(|| {
            tokio::runtime::Handle::try_current()
                .map_or(true, |h| h.runtime_flavor() == RuntimeFlavor::CurrentThread)
        })
    }

    /// A call that ended in its first poll: its slot is free at once.
    fn end_here(&mut self, index: usize, outcome: Outcome) {
        self.busy -= 1;
        self.tasks[index] = Task::Idle;
        self.local.push_back(TaskEvent::Finished(index, outcome));
    }

    /// Aborts the call: its task if it runs (its `Finished(Aborted)` follows from the task),
    /// or its place in the queue.
    pub(crate) fn abort(&mut self, index: usize) {
        match self.tasks.get(index) {
            Some(Task::Running { abort, .. }) => abort.abort(),
            Some(Task::Queued) => {
                self.tasks[index] = Task::Idle;
                self.local
                    .push_back(TaskEvent::Finished(index, Outcome::Aborted));
            }
            Some(Task::Idle | Task::Lent) | None => {}
        }
    }

    /// Calls launched whose end has not been reported.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The next thing a call did: started, or finished with an outcome (a call aborted or
    /// dropped before its end finishes as [`Outcome::Aborted`]).
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<TaskEvent>> {
        loop {
            if let Some(event) = self.local.pop_front() {
                if let TaskEvent::Finished(..) = event {
                    self.live -= 1;
                }
                return Poll::Ready(Some(event));
            }
            if self.live == 0 {
                return Poll::Ready(None);
            }
            // Live calls remain, and with them the sender: `None` cannot come.
            let Some(message) = std::task::ready!(self.rx.poll_recv(cx)) else {
                return Poll::Ready(None);
            };
            match message {
                Message::Finished {
                    index,
                    outcome,
                    freed,
                } => {
                    let returned =
                        matches!(self.tasks[index], Task::Running { returned, .. } if returned);
                    self.live -= 1;
                    if freed || returned {
                        self.tasks[index] = Task::Idle;
                        self.busy -= 1;
                        self.admit();
                    } else {
                        self.tasks[index] = Task::Lent;
                    }
                    return Poll::Ready(Some(TaskEvent::Finished(index, outcome)));
                }
                Message::Released(index) => match &mut self.tasks[index] {
                    Task::Lent => {
                        self.tasks[index] = Task::Idle;
                        self.busy -= 1;
                        self.admit();
                    }
                    Task::Running { returned, .. } => *returned = true,
                    Task::Idle | Task::Queued => {}
                },
            }
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        for task in &self.tasks {
            if let Task::Running { abort, .. } = task {
                abort.abort();
            }
        }
    }
}

/// A call's task: its work, raced against its timeout; it reports how the call ended.
///
/// Written by hand rather than as an `async` block: a block keeps its captured values
/// beside the futures made from them, which tripled the size of every task (and the
/// bytes tokio copies to spawn and finish it). Every field is `Unpin` (the timer is boxed,
/// and only calls with a timeout have one), so no projection is needed.
struct CallTask {
    work: Work,
    timer: Timer,
    /// Sends `Aborted` (or `Panicked`) if the task is dropped before it ends. Declared last:
    /// fields drop in order, so the work (and blocking work's answer) goes first, as it
    /// does when the call ends.
    report: Report,
}

impl Future for CallTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.report.sent {
            return Poll::Ready(());
        }
        // The work is polled before the timer, as `tokio::time::timeout` does: a call that
        // is done when its time runs out keeps its output.
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
            this.timer.arm();
            this.work.poll_run(cx, &mut this.report)
        }));
        let outcome = match run {
            Ok(Poll::Ready(outcome)) => outcome,
            Err(_panic) => Outcome::Panicked,
            Ok(Poll::Pending) => match this.timer.poll_expired(cx) {
                Some(limit) => Outcome::TimedOut(limit),
                None => return Poll::Pending,
            },
        };
        // The work goes before the report: blocking work's unread answer is kept as an
        // orphan, and its slot released, before the call's end is known.
        this.work = Work::Done;
        this.report.send(outcome);
        Poll::Ready(())
    }
}

/// A call's timeout.
enum Timer {
    None,
    /// Not made yet: the timer is made in the task's first poll, so that on a runtime
    /// without timers it is that call that fails (as `Panicked`), not the turn stream.
    At(tokio::time::Instant, Duration),
    /// Polled outside tokio's cooperative budget: a tool that spends the task's whole
    /// budget on every poll must still time out (`tokio::time::timeout` makes sure of the
    /// same by lifting the budget for its timer).
    Armed(Pin<Box<Unconstrained<Sleep>>>, Duration),
}

impl Timer {
    fn arm(&mut self) {
        if let Timer::At(at, limit) = *self {
            let sleep = tokio::task::coop::unconstrained(tokio::time::sleep_until(at));
            *self = Timer::Armed(Box::pin(sleep), limit);
        }
    }

    /// The limit, once it has passed.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Option<Duration> {
        match self {
            Timer::Armed(sleep, limit) => sleep.as_mut().poll(cx).is_ready().then_some(*limit),
            Timer::None | Timer::At(..) => None,
        }
    }
}

/// What a task runs, and how far it got.
enum Work {
    /// An async tool's future (already polled once on a current-thread runtime).
    Running(ToolFuture),
    /// An async tool to call in its task (on a multi-thread runtime).
    Call(Arc<dyn Tool>, Value),
    /// Blocking work not yet handed to the blocking pool, and where its answer goes if
    /// it comes late.
    Blocking(BlockingFn, Value, Box<(Orphan, OrphanBuffer)>),
    /// Blocking work running; it holds the task's slot until it answers.
    Answer(Answer),
    Done,
}

impl Work {
    /// Polls the work towards its outcome. Blocking work goes to the blocking pool and
    /// answers through a oneshot: if nobody listens any more (timeout, abort), its result
    /// becomes an orphan.
    ///
    /// The blocking work takes the task's slot with it, so the slot frees when the work
    /// really ends, not when its caller gives up waiting; with its answer it gives the slot
    /// back, so the task's report frees it.
    fn poll_run(&mut self, cx: &mut Context<'_>, report: &mut Report) -> Poll<Outcome> {
        if let Work::Call(..) | Work::Blocking(..) = self {
            self.begin(report);
        }
        match self {
            Work::Running(future) => future.as_mut().poll(cx).map(Outcome::Output),
            Work::Answer(answer) => {
                let answer = std::task::ready!(Pin::new(&mut answer.rx).poll(cx));
                *self = Work::Done;
                Poll::Ready(match answer {
                    Ok((outcome, loan)) => {
                        loan.give_back();
                        report.holds_slot = true;
                        match outcome {
                            Ok(output) => Outcome::Output(output),
                            Err(_panic) => Outcome::Panicked,
                        }
                    }
                    // The work was dropped without running (the runtime shut down); its
                    // loan released the slot as it went.
                    Err(_) => Outcome::Aborted,
                })
            }
            Work::Call(..) | Work::Blocking(..) | Work::Done => Poll::Pending,
        }
    }

    /// Starts work that has not started: calls the async tool, or hands blocking work to
    /// the blocking pool with the task's slot.
    fn begin(&mut self, report: &mut Report) {
        *self = match std::mem::replace(self, Work::Done) {
            Work::Call(tool, input) => Work::Running(tool.call(input)),
            Work::Blocking(f, input, orphan) => {
                let (tx, rx) = oneshot::channel::<BlockingAnswer>();
                let loan = SlotLoan {
                    index: report.index,
                    tx: Some(report.tx.clone()),
                };
                report.holds_slot = false;
                let kept = orphan.clone();
                tokio::task::spawn_blocking(move || {
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f(input)));
                    // Nobody listens: the output is late; the slot frees as `loan` drops.
                    if let Err((Ok(output), _loan)) = tx.send((outcome, loan)) {
                        late(&orphan, output);
                    }
                });
                Work::Answer(Answer { rx, late: kept })
            }
            other => other,
        };
    }
}

#[cfg(test)]
mod tests;
