//! The conversation loop: call the model, run the turn, append the assistant message and
//! the results message (byte-stable), call again, until the model stops or a turn limit.
//!
//! The barrier between turns is structural: the next request is built only from a turn's
//! [`TurnOutcome`], which exists only once every call of the turn has its result. Late
//! results of earlier turns land in the conversation's [`OrphanBuffer`], never in history.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::assemble::AssembleLimits;
use crate::client::{ClientError, ModelClient};
use crate::dispatch::DispatchPolicy;
use crate::error::DecodeError;
use crate::event::{StopKind, Usage};
use crate::execute::{OrphanBuffer, TurnId};
use crate::provider::Provider;
use crate::stream::StreamError;
use crate::tool::ToolRegistry;
use crate::turn::{TurnConfig, TurnEvent, TurnOutcome, TurnStream, DEFAULT_CONCURRENCY};

/// How turns run.
#[derive(Debug, Clone)]
pub struct ConversationConfig {
    /// The dispatch policy (default batched).
    pub policy: DispatchPolicy,
    /// Tools running at once (default 8).
    pub concurrency: NonZeroUsize,
    /// Default per-tool timeout (default none).
    pub tool_timeout: Option<Duration>,
    /// Deadline per turn (default none).
    pub turn_timeout: Option<Duration>,
    /// Most model calls for one user message (default 16).
    pub max_turns: NonZeroUsize,
    /// Limits on each model message (default [`AssembleLimits::new`]).
    pub limits: AssembleLimits,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            policy: DispatchPolicy::Batched,
            concurrency: DEFAULT_CONCURRENCY,
            tool_timeout: None,
            turn_timeout: None,
            max_turns: NonZeroUsize::new(16).expect("16 is not zero"),
            limits: AssembleLimits::new(),
        }
    }
}

/// Why a conversation step failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConversationError {
    /// The model call failed before streaming.
    Client(ClientError),
    /// The response stream failed.
    Stream(StreamError<DecodeError, ClientError>),
    /// A turn did not commit and did not end normally (truncated, provider error,
    /// `max_tokens`...): nothing of it entered history.
    TurnFailed {
        /// The turn.
        turn: TurnId,
        /// Why.
        reason: String,
    },
    /// The model kept calling tools past [`ConversationConfig::max_turns`].
    TooManyTurns {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for ConversationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConversationError::Client(e) => fmt::Display::fmt(e, f),
            ConversationError::Stream(e) => write!(f, "model stream failed: {e}"),
            ConversationError::TurnFailed { turn, reason } => {
                write!(f, "turn {turn} did not commit: {reason}")
            }
            ConversationError::TooManyTurns { limit } => {
                write!(f, "the model was still calling tools after {limit} turns")
            }
        }
    }
}

impl std::error::Error for ConversationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConversationError::Client(e) => Some(e),
            ConversationError::Stream(e) => Some(e),
            _ => None,
        }
    }
}

/// One finished turn, for summaries.
#[derive(Debug, Clone)]
pub struct TurnRecord {
    /// The outcome.
    pub outcome: TurnOutcome,
    /// When the request was sent, from the start of [`Conversation::send`].
    pub started: Duration,
    /// When the outcome was ready.
    pub ended: Duration,
}

impl TurnRecord {
    /// The request's token counts, cache reads and writes included (SPEC §4).
    pub fn usage(&self) -> Usage {
        self.outcome.usage()
    }
}

/// A conversation with one model through a [`ModelClient`].
#[derive(Debug)]
pub struct Conversation {
    client: ModelClient,
    tools: Arc<ToolRegistry>,
    config: ConversationConfig,
    history: Vec<Box<RawValue>>,
    orphans: OrphanBuffer,
    next_turn: TurnId,
    usage: Usage,
}

impl Conversation {
    /// A new conversation.
    pub fn new(client: ModelClient, tools: ToolRegistry, config: ConversationConfig) -> Self {
        Conversation {
            client,
            tools: Arc::new(tools),
            config,
            history: Vec::new(),
            orphans: OrphanBuffer::new(),
            next_turn: TurnId(1),
            usage: Usage::default(),
        }
    }

    /// The history, in the provider's wire format, exactly as sent.
    pub fn history(&self) -> &[Box<RawValue>] {
        &self.history
    }

    /// The token counts of every request so far, added up (each turn's own counts are in
    /// its [`TurnRecord`]). `cache_read_input_tokens / input_tokens` is the share of the
    /// prompt read from cache ([`Usage::cache_read_share`]).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Late results of earlier turns.
    pub fn orphans(&self) -> &OrphanBuffer {
        &self.orphans
    }

    /// Sends a user message and runs turns until the model answers without calling tools.
    /// `on_event` sees every turn event as it happens (text deltas, calls, progress,
    /// results). Returns the record of each turn.
    ///
    /// # Errors
    ///
    /// A [`ConversationError`]; the history then holds the user message and every turn
    /// that committed before the failure.
    pub async fn send(
        &mut self,
        text: &str,
        mut on_event: impl FnMut(&TurnEvent),
    ) -> Result<Vec<TurnRecord>, ConversationError> {
        let start = Instant::now();
        self.history.push(self.client.user_message(text));
        let definitions = self.tools.definitions();
        let mut records = Vec::new();
        for _ in 0..self.config.max_turns.get() {
            let turn = self.next_turn;
            self.next_turn = turn.next();
            let span =
                tracing::info_span!("turn", turn = turn.0, provider = %self.client.provider());
            let started = start.elapsed();
            let outcome = async {
                // The turn deadline covers the request too (a server that never answers).
                let request = self.client.stream(&self.history, &definitions);
                let events = match self.config.turn_timeout {
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
                let mut config = TurnConfig::new(self.client.provider())
                    .policy(self.config.policy)
                    .concurrency(self.config.concurrency)
                    .turn(turn)
                    .orphans(self.orphans.clone())
                    .limits(self.config.limits)
                    .model(self.client.model());
                if let Some(t) = self.config.tool_timeout {
                    config = config.tool_timeout(t);
                }
                if let Some(t) = self.config.turn_timeout {
                    config = config.turn_timeout(t);
                }
                let mut stream = TurnStream::new(events, self.tools.clone(), config);
                let mut outcome = None;
                let mut failure = None;
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(TurnEvent::Outcome(o)) => outcome = Some(*o),
                        Ok(e) => on_event(&e),
                        Err(e) => failure = Some(e),
                    }
                }
                match (outcome, failure) {
                    (Some(o), None) => Ok(o),
                    (Some(o), Some(_)) if o.committed => Ok(o),
                    (_, Some(e)) => Err(ConversationError::Stream(e)),
                    (None, None) => Err(ConversationError::TurnFailed {
                        turn,
                        reason: "the turn ended without an outcome".into(),
                    }),
                }
            }
            .instrument(span)
            .await?;
            self.usage.add(outcome.usage());
            let committed = outcome.committed;
            // An answer ends the loop; an answer that still carries tool calls (servers
            // that end tool-call turns with `stop`) cannot enter history without results.
            let finished = outcome.message.complete
                && outcome.message.tool_calls.is_empty()
                && matches!(
                    outcome.message.stop_kind(),
                    Some(StopKind::EndTurn | StopKind::StopSequence)
                );
            // SPEC §6: "Anthropic `pause_turn` is continued: its content goes back as the
            // assistant message and the model is called again, with no tool results."
            let paused = outcome.message.complete
                && outcome.message.stop_kind() == Some(StopKind::PauseTurn)
                && outcome.message.tool_calls.is_empty();
            if committed || finished || paused {
                self.append(&outcome);
            }
            let reason = outcome.abandoned_because.clone();
            records.push(TurnRecord {
                outcome,
                started,
                ended: start.elapsed(),
            });
            if finished {
                return Ok(records);
            }
            if !committed && !paused {
                return Err(ConversationError::TurnFailed {
                    turn,
                    reason: reason.unwrap_or_else(|| "the turn did not commit".into()),
                });
            }
        }
        Err(ConversationError::TooManyTurns {
            limit: self.config.max_turns.get(),
        })
    }

    /// Appends the turn's assistant message and results message, flattening the
    /// providers whose messages are lists (OpenAI Chat tool messages, Responses items).
    fn append(&mut self, outcome: &TurnOutcome) {
        let flat = matches!(
            self.client.provider(),
            Provider::OpenAiResponses | Provider::OpenAiChat
        );
        let mut push = |raw: &RawValue| {
            if flat && raw.get().starts_with('[') {
                let items: Vec<Box<RawValue>> =
                    serde_json::from_str(raw.get()).expect("we wrote a JSON array");
                self.history.extend(items);
            } else {
                self.history.push(raw.to_owned());
            }
        };
        // An empty answer (nothing to echo) is not a message the providers accept back.
        if !echoes_nothing(&outcome.assistant_message) {
            push(&outcome.assistant_message);
        }
        if let Some(results) = &outcome.results_message {
            push(results);
        }
    }
}

/// Whether an assistant message in wire format holds nothing: an empty list of items
/// (Responses), empty `content` or `parts` (Anthropic, Bedrock, Gemini), or a Chat message
/// with neither content nor tool calls nor reasoning.
fn echoes_nothing(message: &RawValue) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(message.get()) else {
        return false;
    };
    let empty = |v: &serde_json::Value| match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.trim().is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        _ => false,
    };
    match &v {
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(fields) => fields
            .iter()
            .filter(|(k, _)| k.as_str() != "role")
            .all(|(_, v)| empty(v)),
        _ => false,
    }
}
