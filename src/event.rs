//! The unified event vocabulary every provider decoder maps onto.

use std::fmt;

/// One event of a model's streamed message, whatever the provider.
///
/// Content arrives in blocks addressed by `index` (the position of the block in the
/// message). Deltas are routed by that index, never to "the latest block".
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The message started.
    MessageStart {
        /// The provider's message or response id.
        id: Option<String>,
        /// The model that answers.
        model: Option<String>,
        /// Token counts reported at the start (usually the input tokens).
        usage: Usage,
    },
    /// A content block started.
    BlockStart {
        /// The block's position in the message.
        index: usize,
        /// What kind of block it is.
        block: Block,
    },
    /// A piece of a block's content.
    BlockDelta {
        /// The block the piece belongs to.
        index: usize,
        /// The piece.
        delta: Delta,
    },
    /// A block is complete. For a tool-use block this is the provider's own end marker
    /// (SPEC §4), so its arguments are final.
    BlockStop {
        /// The block that ended.
        index: usize,
    },
    /// Message-level information: the stop reason and/or token counts.
    MessageDelta {
        /// Why the model stopped, when this event says.
        stop_reason: Option<StopReason>,
        /// Token counts; fields left `None` are unknown, not zero.
        usage: Usage,
    },
    /// The provider's normal end of the message.
    MessageStop,
    /// A keep-alive.
    Ping,
    /// An error reported by the provider inside the stream.
    Error(ProviderError),
}

/// The kind of a content block, given when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Block {
    /// Answer text.
    Text,
    /// A client tool call: the caller runs it.
    ToolUse {
        /// The provider's call id (or a deterministic one when the provider gives none).
        id: String,
        /// The tool's name.
        name: String,
    },
    /// A tool the provider runs itself (web search, code execution): not dispatched.
    ServerToolUse {
        /// The provider's id for it.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// The model's reasoning.
    Thinking,
    /// Reasoning the provider encrypted (Anthropic `redacted_thinking`, Bedrock
    /// `redactedContent`): no text, only data that must go back into history as received
    /// (in the block's [`Delta::Verbatim`]).
    RedactedThinking,
    /// A refusal message (OpenAI's `refusal`); not answer text.
    Refusal,
    /// Any other block type, by the provider's name for it.
    Other {
        /// The provider's block type.
        kind: String,
    },
}

impl StreamEvent {
    /// The text of a text delta, for printing as it streams (reasoning, tool arguments
    /// and everything else: `None`).
    pub fn text(&self) -> Option<&str> {
        match self {
            StreamEvent::BlockDelta {
                delta: Delta::Text(text),
                ..
            } => Some(text),
            _ => None,
        }
    }
}

/// A piece of a block's content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delta {
    /// Text (for text and refusal blocks).
    Text(String),
    /// A fragment of a tool call's JSON arguments, to append as is.
    ToolInput(String),
    /// Reasoning text.
    Thinking(String),
    /// A signature over the reasoning (or, for Gemini, over the part that carried it).
    Signature(String),
    /// Provider state that must go back into history exactly as received, as JSON text;
    /// a later one replaces an earlier one. What it holds is the provider's (SPEC §6,
    /// "What goes back"): Anthropic blocks the client does not build itself
    /// (`redacted_thinking`, server tool results, unknown block types), a Responses output
    /// item as `output_item.done` gave it, a Gemini `functionCall` object, a Chat tool
    /// call's `extra_content`, the name of the field Chat reasoning arrived in, a Bedrock
    /// `reasoningContent` with `redactedContent`.
    Verbatim(String),
    /// Something else the provider sent; skipped by the assembler.
    Other,
}

/// Token counts, normalized across providers (SPEC §4, "Usage"). `None` means the
/// provider did not say.
///
/// > `input_tokens` = every prompt token, cached or not (Anthropic and Bedrock report cache
/// > reads and writes apart from `input_tokens`: they are added); `output_tokens` = every
/// > generated token, reasoning included (Gemini: `candidatesTokenCount` +
/// > `thoughtsTokenCount`)
///
/// So `cache_read_input_tokens / input_tokens` is the share of the prompt read from cache,
/// whatever the provider ([`Usage::cache_read_share`]).
///
/// It serializes as SPEC §7's `usage` object: all five fields, `null` when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Every prompt token, cached or not.
    pub input_tokens: Option<u64>,
    /// Every generated token, reasoning included.
    pub output_tokens: Option<u64>,
    /// Prompt tokens read from the provider's cache (Anthropic `cache_read_input_tokens`,
    /// OpenAI `cached_tokens`, Gemini `cachedContentTokenCount`, Bedrock
    /// `cacheReadInputTokens`).
    pub cache_read_input_tokens: Option<u64>,
    /// Prompt tokens written to the cache (Anthropic `cache_creation_input_tokens`,
    /// Bedrock `cacheWriteInputTokens`; `None` for the providers that do not charge writes).
    pub cache_write_input_tokens: Option<u64>,
    /// Reasoning tokens, part of `output_tokens` (OpenAI `reasoning_tokens`, Gemini
    /// `thoughtsTokenCount`).
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// Input and output counts only.
    pub fn new(input_tokens: Option<u64>, output_tokens: Option<u64>) -> Self {
        Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        }
    }

    /// Overwrites the counts that `later` reports (providers repeat cumulative counts).
    pub fn update(&mut self, later: Usage) {
        // Field by field: this runs for every usage-bearing chunk (each Gemini chunk).
        if later.input_tokens.is_some() {
            self.input_tokens = later.input_tokens;
        }
        if later.output_tokens.is_some() {
            self.output_tokens = later.output_tokens;
        }
        if later.cache_read_input_tokens.is_some() {
            self.cache_read_input_tokens = later.cache_read_input_tokens;
        }
        if later.cache_write_input_tokens.is_some() {
            self.cache_write_input_tokens = later.cache_write_input_tokens;
        }
        if later.reasoning_tokens.is_some() {
            self.reasoning_tokens = later.reasoning_tokens;
        }
    }

    /// Adds `other`'s counts to these (a conversation's total over its requests); a count
    /// stays `None` only when neither says.
    pub fn add(&mut self, other: Usage) {
        let fields = [
            (&mut self.input_tokens, other.input_tokens),
            (&mut self.output_tokens, other.output_tokens),
            (
                &mut self.cache_read_input_tokens,
                other.cache_read_input_tokens,
            ),
            (
                &mut self.cache_write_input_tokens,
                other.cache_write_input_tokens,
            ),
            (&mut self.reasoning_tokens, other.reasoning_tokens),
        ];
        for (field, value) in fields {
            if let Some(v) = value {
                *field = Some(field.unwrap_or(0).saturating_add(v));
            }
        }
    }

    /// The share of prompt tokens read from cache, from 0 to 1; `None` when the provider
    /// reported no prompt tokens.
    pub fn cache_read_share(&self) -> Option<f64> {
        let input = self.input_tokens.filter(|&n| n > 0)?;
        Some(self.cache_read_input_tokens.unwrap_or(0) as f64 / input as f64)
    }

    /// Whether no count is known.
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

/// Why the model stopped, normalized, with the provider's own string kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReason {
    /// The normalized reason.
    pub kind: StopKind,
    /// The provider's string (`"tool_calls"`, `"STOP"`, ...), if it gave one.
    pub raw: Option<String>,
}

impl StopReason {
    /// A stop reason from its parts.
    pub fn new(kind: StopKind, raw: impl Into<String>) -> Self {
        StopReason {
            kind,
            raw: Some(raw.into()),
        }
    }
}

/// The normalized stop reasons (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopKind {
    /// The model finished its answer.
    EndTurn,
    /// The model wants its tool calls run.
    ToolUse,
    /// The output token limit was hit.
    MaxTokens,
    /// A stop sequence was produced.
    StopSequence,
    /// The model refused.
    Refusal,
    /// A long-running turn was paused (Anthropic server tools).
    PauseTurn,
    /// The provider filtered the output.
    ContentFilter,
    /// The stream carried an error.
    Error,
    /// Anything else.
    Other,
}

impl StopKind {
    /// The snake_case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            StopKind::EndTurn => "end_turn",
            StopKind::ToolUse => "tool_use",
            StopKind::MaxTokens => "max_tokens",
            StopKind::StopSequence => "stop_sequence",
            StopKind::Refusal => "refusal",
            StopKind::PauseTurn => "pause_turn",
            StopKind::ContentFilter => "content_filter",
            StopKind::Error => "error",
            StopKind::Other => "other",
        }
    }
}

impl fmt::Display for StopKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error the provider reported inside the stream (for example Anthropic's
/// `overloaded_error`, a Responses `error` event, a Bedrock exception frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// The provider's error type or code.
    pub kind: String,
    /// The provider's message.
    pub message: String,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "provider error {}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ProviderError {}
