//! The conversation loop: call the model, run the turn, append the assistant message and
//! the results message (byte-stable), call again, until the model stops or a turn limit.
//!
//! ```text
//!  user message ─▶ request ─▶ TurnStream ─▶ outcome ──┬─ tool results ─▶ request again
//!                   (history,   (text, calls,           ├─ paused ──────▶ request again
//!                    system,     progress,              ├─ answered ────▶ Answer, end
//!                    tools)      results)               └─ abandoned ───▶ error, end
//! ```
//!
//! [`Conversation::stream`] yields the loop's events as a [`Stream`](futures_core::Stream)
//! ([`ConversationStream`]); [`Conversation::send`] runs the same loop with a callback.
//! [`Conversation::state`] and [`Conversation::restore`] save and resume it (serde).
//!
//! The barrier between turns is structural: the next request is built only from a turn's
//! [`TurnOutcome`], which exists only once every call of the turn has its result. Late
//! results of earlier turns land in the conversation's [`OrphanBuffer`], never in history.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::value::RawValue;

use crate::assemble::AssembleLimits;
use crate::client::{ClientError, ModelClient};
use crate::dispatch::DispatchPolicy;
use crate::error::DecodeError;
use crate::event::Usage;
use crate::execute::{OrphanBuffer, TurnId};
use crate::provider::Provider;
use crate::stream::StreamError;
use crate::tool::{ToolDefinition, ToolRegistry};
use crate::turn::{TurnEnding, TurnEvent, TurnOutcome, DEFAULT_CONCURRENCY};

mod message;
mod state;
mod stream;

pub(crate) use message::user_message_parts;
pub use message::UserMessage;
pub use state::ConversationState;
pub use stream::{ConversationEvent, ConversationStream};

pub use crate::turn::DEFAULT_TOOL_TIMEOUT;

/// How turns run.
#[derive(Debug, Clone)]
pub struct ConversationConfig {
    /// The dispatch policy (default batched).
    pub policy: DispatchPolicy,
    /// Tools running at once (default 8).
    pub concurrency: NonZeroUsize,
    /// The timeout of every tool without one of its own (default
    /// `Some(`[`DEFAULT_TOOL_TIMEOUT`]`)`, 5 minutes; `None`: tools may run forever). Hard:
    /// at the deadline the tool's future is dropped and its call gets a timeout error.
    pub tool_timeout: Option<Duration>,
    /// Deadline per turn, the request included (default none).
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
            tool_timeout: Some(DEFAULT_TOOL_TIMEOUT),
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
    /// [`Conversation::restore`] was given a state saved with another provider: its
    /// history is in that provider's wire format.
    ProviderMismatch {
        /// The provider the state was saved with.
        saved: Provider,
        /// The client's provider.
        client: Provider,
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
            ConversationError::ProviderMismatch { saved, client } => write!(
                f,
                "the state was saved with {saved}, the client is for {client}: its history is in {saved}'s format"
            ),
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
    /// When the request was sent, from the first poll of the message's
    /// [`stream`](Conversation::stream) (or [`send`](Conversation::send)).
    pub started: Duration,
    /// When the outcome was ready.
    pub ended: Duration,
}

impl TurnRecord {
    /// The request's token counts, cache reads and writes included (SPEC §4).
    pub fn usage(&self) -> Usage {
        self.outcome.usage()
    }

    /// How the turn ended: answered, with committed tool results, paused, or abandoned
    /// ([`TurnOutcome::ending`]).
    pub fn ending(&self) -> TurnEnding {
        self.outcome.ending()
    }
}

/// A conversation with one model through a [`ModelClient`].
///
/// The client carries the model, the system prompt and the request options; the registry
/// the tools. Both may change between messages ([`set_system`](Self::set_system),
/// [`set_tools`](Self::set_tools)); the history stays.
///
/// # Example
///
/// Two messages, the second in a conversation restored from the first one's saved state
/// (here against the bundled mock provider; for a real one, make the client with
/// [`ModelClient::from_env`]):
///
#[cfg_attr(feature = "mock", doc = "```")]
#[cfg_attr(not(feature = "mock"), doc = "```ignore")]
/// use futures_util::StreamExt;
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use serde_json::json;
/// use toolstream::mock::{MockServer, Script};
/// use toolstream::{Conversation, ConversationConfig, ModelClient, Provider, ToolRegistry};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Order {
///     /// The order number.
///     id: u32,
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let script = Script::new()
///         .then_calls("", [("order_status", json!({"id": 42}))])
///         .then_answer("Order 42 shipped yesterday.")
///         .then_answer("You're welcome.");
///     let server = MockServer::start("127.0.0.1:0".parse()?, script).await?;
///     let client = ModelClient::new(Provider::Anthropic, "mock-1", "key")?
///         .base_url(server.base_url());
///     let tools = || {
///         ToolRegistry::new().tool("order_status", "Where an order is", |o: Order| async move {
///             Ok::<_, String>(format!("order {} shipped on 3 December", o.id))
///         })
///     };
///
///     let mut conversation = Conversation::new(client.clone(), tools(), ConversationConfig::default());
///     let mut answer = String::new();
///     let mut events = conversation.stream("Where is order 42?");
///     while let Some(event) = events.next().await {
///         let event = event?;
///         if let Some(result) = event.result() {
///             assert_eq!(result.content, "order 42 shipped on 3 December");
///         }
///         answer.extend(event.text());
///     }
///     drop(events);
///     assert_eq!(answer, "Order 42 shipped yesterday.");
///
///     // Save the state (history, turn ids, usage) as JSON, and carry on from it later.
///     let saved = serde_json::to_string(&conversation.state())?;
///     let state = serde_json::from_str(&saved)?;
///     let mut later = Conversation::restore(client, tools(), ConversationConfig::default(), state)?;
///     let records = later.send("Thanks!", |_| {}).await?;
///     assert_eq!(records.len(), 1);
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Conversation {
    client: ModelClient,
    tools: Arc<ToolRegistry>,
    /// The tools' definitions, made once per registry (the request sends them each turn).
    definitions: Vec<ToolDefinition>,
    config: ConversationConfig,
    history: Vec<Box<RawValue>>,
    orphans: OrphanBuffer,
    next_turn: TurnId,
    usage: Usage,
}

impl Conversation {
    /// A new conversation.
    pub fn new(client: ModelClient, tools: ToolRegistry, config: ConversationConfig) -> Self {
        let definitions = tools.definitions();
        Conversation {
            client,
            tools: Arc::new(tools),
            definitions,
            config,
            history: Vec::new(),
            orphans: OrphanBuffer::new(),
            next_turn: TurnId(1),
            usage: Usage::default(),
        }
    }

    /// Starts from `history` instead of an empty one: messages in the client's provider
    /// wire format, as [`history`](Self::history) gives them (or
    /// [`ModelClient::user_message`] makes them). They are sent as given, byte for byte;
    /// nothing checks that they alternate as the provider wants.
    pub fn with_history(mut self, history: Vec<Box<RawValue>>) -> Self {
        self.history = history;
        self
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

    /// The id the next turn gets.
    pub fn next_turn(&self) -> TurnId {
        self.next_turn
    }

    /// The client requests go through.
    pub fn client(&self) -> &ModelClient {
        &self.client
    }

    /// The tools.
    pub fn tools(&self) -> &ToolRegistry {
        &self.tools
    }

    /// The settings.
    pub fn config(&self) -> &ConversationConfig {
        &self.config
    }

    /// The system prompt of the next messages (default: the client's). The history stays;
    /// a provider's prompt cache misses once, at the next request, since the prompt's start
    /// changed.
    pub fn set_system(&mut self, system: impl Into<String>) {
        self.client = self.client.clone().system(system);
    }

    /// The tools of the next messages (default: the registry given to
    /// [`new`](Self::new)). As with the system prompt, the prompt cache misses once.
    pub fn set_tools(&mut self, tools: ToolRegistry) {
        self.definitions = tools.definitions();
        self.tools = Arc::new(tools);
    }

    /// Sends a user message and runs turns until the model answers without calling tools.
    /// `on_event` sees every turn event as it happens (text deltas, calls, progress,
    /// results). Returns the record of each turn.
    ///
    /// The same loop as [`stream`](Self::stream), with a callback.
    ///
    /// # Errors
    ///
    /// A [`ConversationError`]; the history then holds the user message and every turn
    /// that committed before the failure.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the request and every running tool (as dropping a
    /// [`ConversationStream`] does).
    pub async fn send(
        &mut self,
        message: impl Into<UserMessage>,
        mut on_event: impl FnMut(&TurnEvent),
    ) -> Result<Vec<TurnRecord>, ConversationError> {
        let mut stream = self.stream(message);
        let mut records = Vec::new();
        while let Some(event) = stream.next().await {
            match event? {
                ConversationEvent::Turn(e) => on_event(&e),
                ConversationEvent::TurnEnded(record) => records.push(*record),
                _ => {}
            }
        }
        Ok(records)
    }

    /// Sends a user message (text, or [content parts](UserMessage) with images) and yields
    /// the loop's events as they happen: each turn's start, its events (text deltas,
    /// calls, progress, results, in the order [`TurnStream`](crate::turn::TurnStream)
    /// gives them), its record, and at the end the [answer](ConversationEvent::Answer).
    /// See [`ConversationStream`].
    ///
    /// ```no_run
    /// # async fn f(mut conversation: toolstream::conversation::Conversation) -> Result<(), toolstream::conversation::ConversationError> {
    /// use futures_util::StreamExt;
    ///
    /// let mut events = conversation.stream("What's the weather in Paris?");
    /// while let Some(event) = events.next().await {
    ///     if let Some(text) = event?.text() {
    ///         print!("{text}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(&mut self, message: impl Into<UserMessage>) -> ConversationStream<'_> {
        let message = message.into().to_wire(&self.client);
        ConversationStream::new(self, message)
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
