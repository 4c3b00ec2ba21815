//! The conversation loop as a [`Stream`] of its events.
//!
//! ```text
//!   first poll: the user message enters history
//!        │
//!        ▼
//!      Ready ──── turn limit reached ──────────────────────────▶ TooManyTurns ─▶ Done
//!        │ TurnStarted
//!        ▼
//!    Requesting ── request failed ─────────────────────────────▶ Client error ─▶ Done
//!        │ response head
//!        ▼
//!     Turning ──── Turn(event)... (text deltas, calls, progress, results)
//!        │ outcome: TurnEnded(record)
//!        ├── tool results, paused ──▶ Ready (the next request)
//!        ├── answered ──────────────▶ Answer ─▶ Done
//!        └── abandoned ─────────────▶ TurnFailed or Stream error ─▶ Done
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::{FusedStream, Stream};
use serde_json::value::RawValue;
use tracing::Instrument;

use super::{Conversation, ConversationError, TurnRecord};
use crate::assemble::ToolCall;
use crate::client::{ClientError, EventResult};
use crate::error::DecodeError;
use crate::execute::{ToolResult, TurnId};
use crate::stream::StreamError;
use crate::turn::{TurnConfig, TurnEnding, TurnEvent, TurnOutcome, TurnStream};

/// What a [`ConversationStream`] yields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConversationEvent {
    /// A turn begins: its request is being sent.
    TurnStarted {
        /// The turn.
        turn: TurnId,
    },
    /// An event of the running turn, as [`TurnStream`] yields it: a model event (text
    /// deltas), a tool call, progress, a result (in request order). Never
    /// [`TurnEvent::Outcome`]: a turn's end comes as [`TurnEnded`](Self::TurnEnded).
    Turn(TurnEvent),
    /// A turn ended: its outcome ([`TurnRecord::ending`] says how) and timings.
    TurnEnded(Box<TurnRecord>),
    /// The model answered: the last turn's text. The last item of the stream.
    Answer {
        /// The answer's text (the text blocks of the last message, joined).
        text: String,
    },
}

impl ConversationEvent {
    /// The text of a text delta, for printing as it streams; `None` for every other event
    /// (the [answer](Self::answer) repeats the deltas of the last turn, so it is not text
    /// here).
    pub fn text(&self) -> Option<&str> {
        self.turn_event().and_then(TurnEvent::text)
    }

    /// The turn event, for [`ConversationEvent::Turn`].
    pub fn turn_event(&self) -> Option<&TurnEvent> {
        match self {
            ConversationEvent::Turn(e) => Some(e),
            _ => None,
        }
    }

    /// The tool call, for a call the model completed.
    pub fn tool_call(&self) -> Option<&ToolCall> {
        match self {
            ConversationEvent::Turn(TurnEvent::ToolCall { call, .. }) => Some(call),
            _ => None,
        }
    }

    /// The tool result, for a result (in request order).
    pub fn result(&self) -> Option<&ToolResult> {
        match self {
            ConversationEvent::Turn(TurnEvent::Result(r)) => Some(r),
            _ => None,
        }
    }

    /// The turn's record, for the end of a turn.
    pub fn record(&self) -> Option<&TurnRecord> {
        match self {
            ConversationEvent::TurnEnded(r) => Some(r),
            _ => None,
        }
    }

    /// The final answer's text, for the last event.
    pub fn answer(&self) -> Option<&str> {
        match self {
            ConversationEvent::Answer { text } => Some(text),
            _ => None,
        }
    }

    /// Whether this is a progress event (a tool started or finished).
    pub fn is_progress(&self) -> bool {
        self.turn_event().is_some_and(TurnEvent::is_progress)
    }
}

/// A model response's events, boxed: the client's stream type has no name.
type Events = Pin<Box<dyn Stream<Item = EventResult> + Send>>;

/// A request on its way. It holds the conversation (the request borrows its history) and
/// hands it back with the response.
type Request<'a> = Pin<
    Box<dyn Future<Output = (&'a mut Conversation, Result<Events, ConversationError>)> + Send + 'a>,
>;

/// Where the loop stands (see the [module docs](self)).
enum Phase<'a> {
    /// The next request is to be sent.
    Ready(&'a mut Conversation),
    /// The request is on its way.
    Requesting {
        request: Request<'a>,
        turn: TurnId,
        span: tracing::Span,
        started: Duration,
    },
    /// The turn runs.
    Turning(Box<Turning<'a>>),
    /// The last item has been queued.
    Done,
}

/// A running turn.
struct Turning<'a> {
    conversation: &'a mut Conversation,
    turn: TurnStream<Events>,
    span: tracing::Span,
    started: Duration,
    /// A failure of the model stream, held until the outcome says whether it matters (it
    /// does not once the turn committed).
    failure: Option<StreamError<DecodeError, ClientError>>,
}

/// A user message's run through the conversation loop, as a stream: each turn's
/// [start](ConversationEvent::TurnStarted), its [events](ConversationEvent::Turn) (text
/// deltas, tool calls, progress, results), its [record](ConversationEvent::TurnEnded),
/// and the [answer](ConversationEvent::Answer). Made by [`Conversation::stream`]; it
/// borrows the conversation until dropped.
///
/// ```text
/// TurnStarted(1) Turn(text...) Turn(ToolCall) Turn(Started) Turn(Finished) Turn(Result)
///   TurnEnded(tool results) TurnStarted(2) ... TurnEnded(answered) Answer
/// ```
///
/// The user message enters history at the first poll; each turn's messages when the turn
/// ends (as with [`Conversation::send`]).
///
/// # Errors
///
/// A [`ConversationError`] is the last item: the request failed, the model stream failed
/// before the turn committed, the turn was abandoned (its record comes first), or the
/// turn limit was reached. The history then holds the user message and every turn that
/// ended before.
///
/// # Termination
///
/// The stream ends after the answer or the error, and stays ended (it is fused).
///
/// # Cancel safety
///
/// Dropping the stream aborts the request on its way (the connection is closed) and every
/// tool task of the running turn; the history keeps what entered it before.
#[must_use = "streams do nothing unless polled"]
pub struct ConversationStream<'a> {
    phase: Phase<'a>,
    /// The user message, until the first poll puts it in history.
    message: Option<Box<RawValue>>,
    /// When the first poll came (the records' timings count from it).
    start: Option<Instant>,
    /// Turns begun.
    turns: usize,
    /// Items ready to be yielded (a record and the answer or error after it).
    queue: VecDeque<Result<ConversationEvent, ConversationError>>,
}

impl fmt::Debug for ConversationStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Ready(_) => "ready",
            Phase::Requesting { .. } => "requesting",
            Phase::Turning(_) => "turning",
            Phase::Done => "done",
        };
        f.debug_struct("ConversationStream")
            .field("phase", &phase)
            .field("turns", &self.turns)
            .field("queued", &self.queue.len())
            .finish()
    }
}

impl<'a> ConversationStream<'a> {
    pub(super) fn new(conversation: &'a mut Conversation, message: Box<RawValue>) -> Self {
        ConversationStream {
            phase: Phase::Ready(conversation),
            message: Some(message),
            start: None,
            turns: 0,
            queue: VecDeque::new(),
        }
    }

    /// How many turns have begun.
    pub fn turns(&self) -> usize {
        self.turns
    }

    fn elapsed(&self) -> Duration {
        self.start.map(|s| s.elapsed()).unwrap_or_default()
    }

    /// `Ready`: send the next request, or stop at the turn limit.
    fn on_ready(&mut self, conversation: &'a mut Conversation) -> Phase<'a> {
        if let Some(message) = self.message.take() {
            conversation.history.push(message);
        }
        let limit = conversation.config.max_turns.get();
        if self.turns == limit {
            self.queue
                .push_back(Err(ConversationError::TooManyTurns { limit }));
            return Phase::Done;
        }
        self.turns += 1;
        let turn = conversation.next_turn;
        conversation.next_turn = turn.next();
        let span = tracing::info_span!(
            "turn",
            turn = turn.0,
            provider = %conversation.client.provider()
        );
        self.queue
            .push_back(Ok(ConversationEvent::TurnStarted { turn }));
        Phase::Requesting {
            request: Box::pin(request(conversation, turn).instrument(span.clone())),
            turn,
            span,
            started: self.elapsed(),
        }
    }

    /// The response came: the turn starts over its events.
    fn on_response(
        conversation: &'a mut Conversation,
        events: Events,
        turn: TurnId,
        span: tracing::Span,
        started: Duration,
    ) -> Phase<'a> {
        let c = &*conversation;
        let mut config = TurnConfig::new(c.client.provider())
            .policy(c.config.policy)
            .concurrency(c.config.concurrency)
            .turn(turn)
            .orphans(c.orphans.clone())
            .limits(c.config.limits)
            .model(c.client.model());
        config = match c.config.tool_timeout {
            Some(t) => config.tool_timeout(t),
            None => config.no_tool_timeout(),
        };
        if let Some(t) = c.config.turn_timeout {
            config = config.turn_timeout(t);
        }
        let turn = TurnStream::new(events, c.tools.clone(), config);
        Phase::Turning(Box::new(Turning {
            conversation,
            turn,
            span,
            started,
            failure: None,
        }))
    }

    /// The turn's outcome: history, the record, then the next request, the answer or the
    /// error.
    fn on_outcome(&mut self, running: Turning<'a>, outcome: TurnOutcome) -> Phase<'a> {
        let Turning {
            conversation,
            started,
            failure,
            ..
        } = running;
        let turn = outcome.turn;
        let ending = outcome.ending();
        // A failure of the model stream before the turn committed fails the message (once
        // committed, the results are the turn's and a late failure changes nothing).
        let failure = failure.filter(|_| !outcome.committed);
        if failure.is_none() {
            conversation.usage.add(outcome.usage());
            if ending.enters_history() {
                conversation.append(&outcome);
            }
        }
        let answer = (ending == TurnEnding::Answered).then(|| outcome.message.text());
        self.queue
            .push_back(Ok(ConversationEvent::TurnEnded(Box::new(TurnRecord {
                outcome,
                started,
                ended: self.elapsed(),
            }))));
        let last = match (failure, ending) {
            (Some(e), _) => Err(ConversationError::Stream(e)),
            (None, TurnEnding::Abandoned { reason }) => {
                Err(ConversationError::TurnFailed { turn, reason })
            }
            (None, _) => match answer {
                Some(text) => Ok(ConversationEvent::Answer { text }),
                // Tool results or a pause: the model is called again.
                None => return Phase::Ready(conversation),
            },
        };
        self.queue.push_back(last);
        Phase::Done
    }
}

/// Sends the turn's request: the history, the tools, within the turn deadline.
async fn request(
    conversation: &mut Conversation,
    turn: TurnId,
) -> (&mut Conversation, Result<Events, ConversationError>) {
    let c = &*conversation;
    let result = async {
        let request = c.client.stream(&c.history, &c.definitions);
        // The turn deadline covers the request too (a server that never answers).
        let events = match c.config.turn_timeout {
            Some(limit) => tokio::time::timeout(limit, request).await.map_err(|_| {
                ConversationError::TurnFailed {
                    turn,
                    reason: format!(
                        "no response within the turn deadline of {} ms",
                        limit.as_millis()
                    ),
                }
            })?,
            None => request.await,
        }
        .map_err(ConversationError::Client)?;
        Ok(Box::pin(events) as Events)
    }
    .await;
    (conversation, result)
}

impl<'a> Stream for ConversationStream<'a> {
    type Item = Result<ConversationEvent, ConversationError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.start.get_or_insert_with(Instant::now);
        loop {
            if let Some(item) = this.queue.pop_front() {
                return Poll::Ready(Some(item));
            }
            this.phase = match std::mem::replace(&mut this.phase, Phase::Done) {
                Phase::Ready(conversation) => this.on_ready(conversation),
                Phase::Requesting {
                    mut request,
                    turn,
                    span,
                    started,
                } => match request.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.phase = Phase::Requesting {
                            request,
                            turn,
                            span,
                            started,
                        };
                        return Poll::Pending;
                    }
                    Poll::Ready((conversation, Ok(events))) => {
                        Self::on_response(conversation, events, turn, span, started)
                    }
                    Poll::Ready((_, Err(e))) => {
                        this.queue.push_back(Err(e));
                        Phase::Done
                    }
                },
                Phase::Turning(mut running) => match poll_turn(&mut running, cx) {
                    Poll::Pending => {
                        this.phase = Phase::Turning(running);
                        return Poll::Pending;
                    }
                    Poll::Ready(Step::Event(event)) => {
                        this.phase = Phase::Turning(running);
                        return Poll::Ready(Some(Ok(ConversationEvent::Turn(event))));
                    }
                    Poll::Ready(Step::Outcome(outcome)) => this.on_outcome(*running, *outcome),
                    Poll::Ready(Step::NoOutcome) => {
                        let turn = running.turn.turn();
                        this.queue.push_back(Err(match running.failure {
                            Some(e) => ConversationError::Stream(e),
                            None => ConversationError::TurnFailed {
                                turn,
                                reason: "the turn ended without an outcome".into(),
                            },
                        }));
                        Phase::Done
                    }
                },
                Phase::Done => return Poll::Ready(None),
            };
        }
    }
}

impl FusedStream for ConversationStream<'_> {
    fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Done) && self.queue.is_empty()
    }
}

/// What the running turn gave.
enum Step {
    Event(TurnEvent),
    Outcome(Box<TurnOutcome>),
    /// The turn stream ended without an outcome.
    NoOutcome,
}

/// Polls the turn (inside its span, so tool spans are its children) until it gives an
/// event for the caller, its outcome, or nothing yet. A model stream failure is held.
fn poll_turn(running: &mut Turning<'_>, cx: &mut Context<'_>) -> Poll<Step> {
    let _span = running.span.enter();
    loop {
        return match Pin::new(&mut running.turn).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(TurnEvent::Outcome(outcome)))) => {
                Poll::Ready(Step::Outcome(outcome))
            }
            Poll::Ready(Some(Ok(event))) => Poll::Ready(Step::Event(event)),
            Poll::Ready(Some(Err(e))) => {
                running.failure = Some(e);
                continue;
            }
            Poll::Ready(None) => Poll::Ready(Step::NoOutcome),
        };
    }
}
