//! The assembler: [`StreamEvent`]s in, one [`AssembledMessage`] out, with each tool call
//! reported the moment its provider marks it complete.
//!
//! Blocks are addressed by their index, never by "the latest block". Tool arguments are
//! appended as they stream (linear) and parsed once, when the call's block stops. A call
//! whose arguments are not a JSON object is never coerced to `{}`: its input is an
//! [`ArgumentsError`] that says why. Empty arguments (Anthropic's no-argument tools) are
//! `{}`.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};

/// Default for [`AssembleLimits::max_blocks`].
pub const DEFAULT_MAX_BLOCKS: usize = 4096;
/// Default for [`AssembleLimits::max_argument_bytes`]: 16 MiB.
pub const DEFAULT_MAX_ARGUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Default for [`AssembleLimits::max_text_bytes`]: 16 MiB.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;
/// Default for [`AssembleLimits::max_tool_calls`].
pub const DEFAULT_MAX_TOOL_CALLS: usize = 1024;
/// Default for [`AssembleLimits::max_argument_depth`]: half of serde_json's own recursion
/// limit (127 levels), so the named error always comes first.
pub const DEFAULT_MAX_ARGUMENT_DEPTH: usize = 64;

/// Limits for [`Assembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssembleLimits {
    max_blocks: usize,
    max_tool_calls: usize,
    max_argument_bytes: usize,
    max_argument_depth: usize,
    max_text_bytes: usize,
}

impl AssembleLimits {
    /// The defaults: 4096 blocks and 1024 tool calls per message, 16 MiB of arguments
    /// nested at most 64 deep per tool call, 16 MiB of text (answer, reasoning, refusal
    /// and signatures together) per message.
    pub fn new() -> Self {
        AssembleLimits {
            max_blocks: DEFAULT_MAX_BLOCKS,
            max_tool_calls: DEFAULT_MAX_TOOL_CALLS,
            max_argument_bytes: DEFAULT_MAX_ARGUMENT_BYTES,
            max_argument_depth: DEFAULT_MAX_ARGUMENT_DEPTH,
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
        }
    }

    /// Most client tool calls in one message (default 1024, [`DEFAULT_MAX_TOOL_CALLS`]).
    /// Each call becomes a task, so this bounds the work one message can ask for.
    pub fn max_tool_calls(mut self, n: NonZeroUsize) -> Self {
        self.max_tool_calls = n.get();
        self
    }

    /// Deepest nesting of objects and arrays in one call's arguments (default 64,
    /// [`DEFAULT_MAX_ARGUMENT_DEPTH`]), checked before parsing and named in the error.
    /// serde_json itself refuses more than 127 levels, so a higher limit ends there with
    /// [`ArgumentsError::InvalidJson`].
    pub fn max_argument_depth(mut self, n: NonZeroUsize) -> Self {
        self.max_argument_depth = n.get();
        self
    }

    /// Most bytes of text in one message: answer, reasoning, refusal and signatures
    /// together (default 16 MiB, [`DEFAULT_MAX_TEXT_BYTES`]). A model's longest answers are
    /// around 1 MiB.
    pub fn max_text_bytes(mut self, n: NonZeroUsize) -> Self {
        self.max_text_bytes = n.get();
        self
    }

    /// Most content blocks in one message (default 4096, [`DEFAULT_MAX_BLOCKS`]).
    pub fn max_blocks(mut self, n: NonZeroUsize) -> Self {
        self.max_blocks = n.get();
        self
    }

    /// Most argument bytes for one tool call (default 16 MiB,
    /// [`DEFAULT_MAX_ARGUMENT_BYTES`]).
    pub fn max_argument_bytes(mut self, n: NonZeroUsize) -> Self {
        self.max_argument_bytes = n.get();
        self
    }
}

impl Default for AssembleLimits {
    fn default() -> Self {
        Self::new()
    }
}

/// An event the assembler could not place. The event is ignored; assembly goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssembleError {
    /// A delta or stop for a block that never started.
    UnknownBlock {
        /// The block index.
        index: usize,
    },
    /// A second start for a block index that is already in use.
    DuplicateBlock {
        /// The block index.
        index: usize,
    },
    /// More blocks than [`AssembleLimits::max_blocks`].
    TooManyBlocks {
        /// The limit.
        limit: usize,
    },
    /// More client tool calls than [`AssembleLimits::max_tool_calls`]; the call's block
    /// is refused.
    TooManyToolCalls {
        /// The limit.
        limit: usize,
    },
    /// More text than [`AssembleLimits::max_text_bytes`]; the delta is dropped.
    TextTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A delta for a block whose stop was already seen; it is dropped.
    DeltaAfterStop {
        /// The block index.
        index: usize,
    },
    /// A new message start after tool calls of the current message were reported
    /// complete. Resetting would take back calls the caller may have started, so the new
    /// start is refused (and its blocks will not fit).
    RestartAfterToolCalls {
        /// How many calls were already complete.
        completed: usize,
    },
}

impl fmt::Display for AssembleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssembleError::UnknownBlock { index } => {
                write!(f, "event for content block {index}, which never started")
            }
            AssembleError::DuplicateBlock { index } => {
                write!(f, "content block {index} started twice")
            }
            AssembleError::TooManyBlocks { limit } => {
                write!(f, "more than {limit} content blocks in one message")
            }
            AssembleError::TooManyToolCalls { limit } => {
                write!(f, "more than {limit} tool calls in one message")
            }
            AssembleError::TextTooLarge { limit } => {
                write!(f, "more than {limit} bytes of text in one message")
            }
            AssembleError::DeltaAfterStop { index } => {
                write!(f, "delta for content block {index} after its stop")
            }
            AssembleError::RestartAfterToolCalls { completed } => write!(
                f,
                "a new message started after {completed} tool calls of the current one were complete"
            ),
        }
    }
}

impl std::error::Error for AssembleError {}

/// Why a tool call has no usable input. The call must not be run; it is answered with an
/// error result that carries this message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgumentsError {
    /// The arguments are not valid JSON.
    InvalidJson {
        /// The parser's explanation, with line and column.
        reason: String,
    },
    /// Valid JSON, but not an object.
    NotAnObject {
        /// The JSON type found (`array`, `string`, ...).
        found: &'static str,
    },
    /// The stream ended before the provider marked the call complete.
    Incomplete,
    /// The arguments exceeded [`AssembleLimits::max_argument_bytes`].
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The arguments nest objects and arrays deeper than
    /// [`AssembleLimits::max_argument_depth`].
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for ArgumentsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgumentsError::InvalidJson { reason } => {
                write!(f, "invalid JSON in tool arguments: {reason}")
            }
            ArgumentsError::NotAnObject { found } => {
                write!(f, "tool arguments must be a JSON object, found {found}")
            }
            ArgumentsError::Incomplete => f.write_str(
                "tool call incomplete: the stream ended before the provider marked its arguments complete",
            ),
            ArgumentsError::TooLarge { limit } => {
                write!(f, "tool arguments larger than the limit of {limit} bytes")
            }
            ArgumentsError::TooDeep { limit } => {
                write!(f, "tool arguments nested deeper than the limit of {limit}")
            }
        }
    }
}

impl std::error::Error for ArgumentsError {}

/// A client tool call assembled from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Position among the message's client tool calls, from 0: the ordering key.
    pub index: usize,
    /// The content block that carried it.
    pub block: usize,
    /// The provider's id, or a deterministic `call_N` when it gave none. Shared: results
    /// and progress events carry the same allocation.
    pub id: Arc<str>,
    /// The tool's name (shared like the id).
    pub name: Arc<str>,
    /// The arguments exactly as the model produced them.
    pub arguments: String,
    /// The parsed arguments, once complete; an error says why there are none.
    pub input: Result<Value, ArgumentsError>,
    /// Whether the provider marked the call complete.
    pub complete: bool,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Parses complete tool arguments: empty means `{}`; anything but an object is an error.
/// Nesting is limited to [`DEFAULT_MAX_ARGUMENT_DEPTH`].
pub fn parse_arguments(arguments: &str) -> Result<Value, ArgumentsError> {
    parse_arguments_with_depth(arguments, DEFAULT_MAX_ARGUMENT_DEPTH)
}

/// [`parse_arguments`] with a nesting limit ([`AssembleLimits::max_argument_depth`]).
pub fn parse_arguments_with_depth(arguments: &str, limit: usize) -> Result<Value, ArgumentsError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    if nests_deeper_than(arguments.as_bytes(), limit) {
        return Err(ArgumentsError::TooDeep { limit });
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(ArgumentsError::NotAnObject {
            found: json_type(&other),
        }),
        Err(e) => Err(ArgumentsError::InvalidJson {
            reason: e.to_string(),
        }),
    }
}

/// Whether JSON text opens more than `limit` objects and arrays at once (brackets inside
/// strings do not count). One pass; the text need not be valid.
fn nests_deeper_than(json: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// One content block of the assembled message.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentBlock {
    /// The block's index in the message.
    pub index: usize,
    /// What it is.
    pub block: Block,
    /// Its text (answer, reasoning or refusal text; a server tool's input JSON as it
    /// streamed); empty for client tool calls.
    pub text: String,
    /// A reasoning signature, when the provider sent one.
    pub signature: String,
    /// Provider state to send back exactly as received ([`Delta::Verbatim`]), when the
    /// provider sent any.
    pub verbatim: Option<String>,
    /// For a client tool call, its position in [`AssembledMessage::tool_calls`].
    pub tool_call: Option<usize>,
    /// Whether the block's stop was seen.
    pub stopped: bool,
}

/// Everything the stream said about one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssembledMessage {
    /// The provider's message id.
    pub id: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// Whether the provider's normal end of message was seen.
    pub complete: bool,
    /// Why the model stopped (`None` if the stream never said).
    pub stop_reason: Option<StopReason>,
    /// The content blocks in message order.
    pub blocks: Vec<ContentBlock>,
    /// The client tool calls in request order. Shared: a completed call is handed out (in [`TurnEvent::ToolCall`](crate::TurnEvent))
    /// without copying its arguments.
    pub tool_calls: Vec<Arc<ToolCall>>,
    /// Token counts.
    pub usage: Usage,
    /// The first error the provider reported in the stream.
    pub error: Option<ProviderError>,
    /// How many times a new message start replaced a partial message whose content was
    /// then dropped (a provider-side retry spliced into the stream).
    pub restarts: usize,
}

impl AssembledMessage {
    /// The answer text: every text block, concatenated in order (no reasoning, no refusal).
    pub fn text(&self) -> String {
        self.blocks_text(|b| matches!(b, Block::Text))
    }

    /// The reasoning text, concatenated.
    pub fn thinking(&self) -> String {
        self.blocks_text(|b| matches!(b, Block::Thinking))
    }

    /// The refusal text, concatenated.
    pub fn refusal(&self) -> String {
        self.blocks_text(|b| matches!(b, Block::Refusal))
    }

    fn blocks_text(&self, which: impl Fn(&Block) -> bool) -> String {
        self.blocks
            .iter()
            .filter(|b| which(&b.block))
            .map(|b| b.text.as_str())
            .collect()
    }

    /// The normalized stop reason, if any.
    pub fn stop_kind(&self) -> Option<StopKind> {
        self.stop_reason.as_ref().map(|s| s.kind)
    }

    /// SPEC §4, "Tool calls under a plain stop": "A complete message that holds at least
    /// one complete client tool call and whose stop reason normalizes to `end_turn` is a
    /// tool-use message: its normalized `stop_reason` is `tool_use` (the provider's string
    /// stays in `raw_stop_reason`) and it commits." OpenAI with a named `tool_choice`,
    /// Ollama, vLLM, LiteLLM and some Bedrock Claude models end tool calls that way.
    fn plain_stop_with_calls(&mut self) {
        if let Some(stop) = &mut self.stop_reason {
            if self.complete
                && stop.kind == StopKind::EndTurn
                && self.tool_calls.iter().any(|c| c.complete)
            {
                stop.kind = StopKind::ToolUse;
            }
        }
    }
}

/// Builds an [`AssembledMessage`] from [`StreamEvent`]s.
///
/// # Termination
///
/// [`finish`](Self::finish) returns the message. A tool call whose block never stopped is
/// reported with `complete: false` and [`ArgumentsError::Incomplete`], never dropped and
/// never parsed: arguments that happen to parse may still be cut short.
///
/// # Example
///
/// ```
/// use toolstream::{Assembler, Block, Delta, StreamEvent};
///
/// let mut asm = Assembler::new();
/// let tool = Block::ToolUse { id: "toolu_1".into(), name: "search".into() };
/// asm.push(&StreamEvent::BlockStart { index: 0, block: tool })?;
/// asm.push(&StreamEvent::BlockDelta { index: 0, delta: Delta::ToolInput("{\"q\":".into()) })?;
/// asm.push(&StreamEvent::BlockDelta { index: 0, delta: Delta::ToolInput("\"x\"}".into()) })?;
/// let done = asm.push(&StreamEvent::BlockStop { index: 0 })?;
/// assert_eq!(done, Some(0), "call 0 is complete");
/// let message = asm.finish();
/// assert_eq!(message.tool_calls[0].input.as_ref().unwrap()["q"], "x");
/// # Ok::<(), toolstream::AssembleError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    limits: AssembleLimits,
    message: AssembledMessage,
    /// Block index → position in `message.blocks` for the blocks not at their own index:
    /// one lookup per delta, whatever the number of blocks.
    slots: HashMap<usize, usize>,
    text_bytes: usize,
}

impl Assembler {
    /// An assembler with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An assembler with `limits`.
    pub fn with_limits(limits: AssembleLimits) -> Self {
        Assembler {
            limits,
            ..Self::default()
        }
    }

    /// The message so far.
    pub fn message(&self) -> &AssembledMessage {
        &self.message
    }

    fn block_slot(&self, index: usize) -> Option<usize> {
        let blocks = &self.message.blocks;
        // Indices are unique, and nearly always dense (block `i` at position `i`), and
        // deltas nearly always go to the newest block: check both before the map, which
        // holds only the blocks whose index is not their position.
        match (blocks.get(index), blocks.last()) {
            (Some(b), _) if b.index == index => Some(index),
            (_, Some(b)) if b.index == index => Some(blocks.len() - 1),
            _ => self.slots.get(&index).copied(),
        }
    }

    /// Takes one event. Returns the position of a tool call this event completed.
    ///
    /// # Errors
    ///
    /// An [`AssembleError`] when the event does not fit the message so far; the event is
    /// ignored and later events are still taken.
    pub fn push(&mut self, event: &StreamEvent) -> Result<Option<usize>, AssembleError> {
        let m = &mut self.message;
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                // A second start after content means a new message was spliced in (a
                // provider-side retry): the partial one is dropped, never mixed with it.
                if !m.blocks.is_empty() {
                    let completed = m.tool_calls.iter().filter(|c| c.complete).count();
                    if completed > 0 {
                        return Err(AssembleError::RestartAfterToolCalls { completed });
                    }
                    let restarts = m.restarts + 1;
                    *m = AssembledMessage {
                        restarts,
                        ..AssembledMessage::default()
                    };
                    self.slots.clear();
                    self.text_bytes = 0;
                }
                if m.id.is_none() {
                    m.id.clone_from(id);
                }
                if m.model.is_none() {
                    m.model.clone_from(model);
                }
                m.usage.update(*usage);
            }
            StreamEvent::BlockStart { index, block } => {
                if self.block_slot(*index).is_some() {
                    return Err(AssembleError::DuplicateBlock { index: *index });
                }
                let m = &mut self.message;
                if m.blocks.len() >= self.limits.max_blocks {
                    return Err(AssembleError::TooManyBlocks {
                        limit: self.limits.max_blocks,
                    });
                }
                if matches!(block, Block::ToolUse { .. })
                    && m.tool_calls.len() >= self.limits.max_tool_calls
                {
                    return Err(AssembleError::TooManyToolCalls {
                        limit: self.limits.max_tool_calls,
                    });
                }
                let tool_call = match block {
                    Block::ToolUse { id, name } => {
                        m.tool_calls.push(Arc::new(ToolCall {
                            index: m.tool_calls.len(),
                            block: *index,
                            id: Arc::from(id.as_str()),
                            name: Arc::from(name.as_str()),
                            arguments: String::new(),
                            input: Err(ArgumentsError::Incomplete),
                            complete: false,
                        }));
                        Some(m.tool_calls.len() - 1)
                    }
                    _ => None,
                };
                if *index != m.blocks.len() {
                    self.slots.insert(*index, m.blocks.len());
                }
                m.blocks.push(ContentBlock {
                    index: *index,
                    block: block.clone(),
                    text: String::new(),
                    signature: String::new(),
                    verbatim: None,
                    tool_call,
                    stopped: false,
                });
            }
            StreamEvent::BlockDelta { index, delta } => {
                let slot = self
                    .block_slot(*index)
                    .ok_or(AssembleError::UnknownBlock { index: *index })?;
                let limit = self.limits.max_argument_bytes;
                let m = &mut self.message;
                let b = &mut m.blocks[slot];
                if b.stopped {
                    return Err(AssembleError::DeltaAfterStop { index: *index });
                }
                // A verbatim replaces the block's earlier one: only the difference counts.
                let replaced = match delta {
                    Delta::Verbatim(_) => b.verbatim.as_ref().map_or(0, String::len),
                    _ => 0,
                };
                if let Delta::Text(t)
                | Delta::Thinking(t)
                | Delta::Signature(t)
                | Delta::Verbatim(t) = delta
                {
                    let text_bytes = self.text_bytes - replaced;
                    if text_bytes + t.len() > self.limits.max_text_bytes {
                        return Err(AssembleError::TextTooLarge {
                            limit: self.limits.max_text_bytes,
                        });
                    }
                    self.text_bytes = text_bytes + t.len();
                }
                match delta {
                    Delta::Text(t) | Delta::Thinking(t) => b.text.push_str(t),
                    Delta::Signature(s) => b.signature.push_str(s),
                    Delta::Verbatim(json) => b.verbatim = Some(json.clone()),
                    // A server tool's input is kept for the echo (bounded like text).
                    Delta::ToolInput(fragment) if b.tool_call.is_none() => {
                        if self.text_bytes + fragment.len() > self.limits.max_text_bytes {
                            return Err(AssembleError::TextTooLarge {
                                limit: self.limits.max_text_bytes,
                            });
                        }
                        self.text_bytes += fragment.len();
                        b.text.push_str(fragment);
                    }
                    Delta::ToolInput(fragment) => {
                        // Not shared while its arguments stream: no copy is made.
                        if let Some(call) = b.tool_call.map(|c| Arc::make_mut(&mut m.tool_calls[c]))
                        {
                            if call.arguments.len() + fragment.len() > limit {
                                call.input = Err(ArgumentsError::TooLarge { limit });
                            } else if !matches!(call.input, Err(ArgumentsError::TooLarge { .. })) {
                                call.arguments.push_str(fragment);
                            }
                        }
                    }
                    Delta::Other => {}
                }
            }
            StreamEvent::BlockStop { index } => {
                let slot = self
                    .block_slot(*index)
                    .ok_or(AssembleError::UnknownBlock { index: *index })?;
                let m = &mut self.message;
                let b = &mut m.blocks[slot];
                if b.stopped {
                    return Ok(None);
                }
                b.stopped = true;
                if let Some(c) = b.tool_call {
                    let call = Arc::make_mut(&mut m.tool_calls[c]);
                    call.complete = true;
                    if !matches!(call.input, Err(ArgumentsError::TooLarge { .. })) {
                        call.input = parse_arguments_with_depth(
                            &call.arguments,
                            self.limits.max_argument_depth,
                        );
                    }
                    return Ok(Some(c));
                }
            }
            StreamEvent::MessageDelta { stop_reason, usage } => {
                m.usage.update(*usage);
                if let Some(stop) = stop_reason {
                    match &mut m.stop_reason {
                        // An error decides the outcome; a later reason only fills in the
                        // provider's own string.
                        Some(s) if s.kind == StopKind::Error => {
                            if s.raw.is_none() {
                                s.raw.clone_from(&stop.raw);
                            }
                        }
                        _ => m.stop_reason = Some(stop.clone()),
                    }
                }
                m.plain_stop_with_calls();
            }
            StreamEvent::MessageStop => {
                m.complete = true;
                m.plain_stop_with_calls();
            }
            StreamEvent::Ping => {}
            StreamEvent::Error(e) => {
                if m.error.is_none() {
                    m.error = Some(e.clone());
                }
                if m.stop_kind() != Some(StopKind::Error) {
                    m.stop_reason = Some(StopReason {
                        kind: StopKind::Error,
                        raw: None,
                    });
                }
            }
        }
        Ok(None)
    }

    /// Ends the message and returns it.
    pub fn finish(self) -> AssembledMessage {
        self.message
    }
}

#[cfg(test)]
mod tests;
