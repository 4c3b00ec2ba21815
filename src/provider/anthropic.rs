//! Anthropic Messages API streaming.
//!
//! The documented event flow: "a `message_start` event; a series of content blocks, each
//! of which have a `content_block_start`, one or more `content_block_delta` events, and a
//! `content_block_stop` event ... one or more `message_delta` events; a final
//! `message_stop` event", with `ping` events dispersed throughout and `error` events
//! (`overloaded_error`) possible at any point. Each block carries an `index`; deltas are
//! routed by it. A `tool_use` block's input arrives as `input_json_delta` fragments
//! (`partial_json`, the first often empty) and is complete at its `content_block_stop`.
//!
//! The event is identified by the payload's `type`, not the SSE event name, so the same
//! decoder reads Bedrock's InvokeModel `chunk` frames, which carry the payload alone.

use std::borrow::Cow;

use serde::Deserialize;

mod fast;

use super::{parse_typed, Provider};
use crate::error::DecodeError;
use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    index: Option<usize>,
    #[serde(borrow)]
    delta: Option<DeltaPayload<'a>>,
    #[serde(borrow)]
    content_block: Option<BlockPayload<'a>>,
    #[serde(borrow)]
    message: Option<MessagePayload<'a>>,
    usage: Option<UsagePayload>,
    #[serde(borrow)]
    error: Option<ErrorPayload<'a>>,
}

#[derive(Deserialize)]
struct DeltaPayload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stop_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct BlockPayload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow)]
    input: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct MessagePayload<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    usage: Option<UsagePayload>,
}

#[derive(Deserialize, Default)]
struct UsagePayload {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl From<UsagePayload> for Usage {
    fn from(u: UsagePayload) -> Self {
        Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        }
    }
}

#[derive(Deserialize)]
struct ErrorPayload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

/// The documented event types; others are skipped.
pub(crate) fn is_known(kind: &str) -> bool {
    matches!(
        kind,
        "message_start"
            | "content_block_start"
            | "content_block_delta"
            | "content_block_stop"
            | "message_delta"
            | "message_stop"
            | "ping"
            | "error"
    )
}

fn is_empty_object(raw: &str) -> bool {
    let inner = raw.trim();
    inner.starts_with('{') && inner.ends_with('}') && inner[1..inner.len() - 1].trim().is_empty()
}

/// Maps Anthropic's `stop_reason`.
pub fn stop_reason(raw: &str) -> StopReason {
    let kind = match raw {
        "end_turn" => StopKind::EndTurn,
        "tool_use" => StopKind::ToolUse,
        "max_tokens" | "model_context_window_exceeded" => StopKind::MaxTokens,
        "stop_sequence" => StopKind::StopSequence,
        "refusal" => StopKind::Refusal,
        "pause_turn" => StopKind::PauseTurn,
        _ => StopKind::Other,
    };
    StopReason::new(kind, raw)
}

/// Decoder for Anthropic Messages API payloads. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct AnthropicDecoder {
    _private: (),
}

impl AnthropicDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one payload (the SSE `data`).
    ///
    /// # Errors
    ///
    /// [`DecodeError::InvalidPayload`] when the payload is not JSON or a known event lacks
    /// a field it needs (`index`, `content_block`, `delta`).
    pub fn push(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if let Some(event) = fast::delta(data) {
            out.push(event);
            return Ok(());
        }
        let Some(p) = parse_typed::<Payload>(Provider::Anthropic, data, is_known)? else {
            return Ok(());
        };
        let missing = |reason| DecodeError::InvalidField {
            provider: Provider::Anthropic,
            event: p.kind.to_string(),
            reason,
        };
        match &*p.kind {
            "message_start" => {
                let m = p.message.ok_or_else(|| missing("missing `message`"))?;
                out.push(StreamEvent::MessageStart {
                    id: m.id.map(Cow::into_owned),
                    model: m.model.map(Cow::into_owned),
                    usage: m.usage.map(Usage::from).unwrap_or_default(),
                });
            }
            "content_block_start" => {
                let index = p.index.ok_or_else(|| missing("missing `index`"))?;
                let b = p
                    .content_block
                    .ok_or_else(|| missing("missing `content_block`"))?;
                let owned = |s: Option<Cow<str>>| s.map(Cow::into_owned).unwrap_or_default();
                let (block, initial) = match &*b.kind {
                    "text" => (Block::Text, b.text.map(|t| Delta::Text(t.into_owned()))),
                    "thinking" | "redacted_thinking" => (
                        Block::Thinking,
                        b.thinking.map(|t| Delta::Thinking(t.into_owned())),
                    ),
                    // Streamed calls start with `"input":{}` and send the arguments as
                    // deltas; programmatic calls arrive with their whole input here and no
                    // deltas, so a non-empty object is the arguments.
                    "tool_use" => (
                        Block::ToolUse {
                            id: owned(b.id),
                            name: owned(b.name),
                        },
                        b.input
                            .map(|raw| raw.get())
                            .filter(|raw| !is_empty_object(raw))
                            .map(|raw| Delta::ToolInput(raw.to_owned())),
                    ),
                    "server_tool_use" | "mcp_tool_use" => (
                        Block::ServerToolUse {
                            id: owned(b.id),
                            name: owned(b.name),
                        },
                        None,
                    ),
                    other => (
                        Block::Other {
                            kind: other.to_owned(),
                        },
                        None,
                    ),
                };
                out.push(StreamEvent::BlockStart { index, block });
                // A block may start with content already in it (documented as empty, but
                // dropping it would lose text if it ever is not).
                if let Some(delta) = initial
                    .filter(|d| !matches!(d, Delta::Text(t) | Delta::Thinking(t) if t.is_empty()))
                {
                    out.push(StreamEvent::BlockDelta { index, delta });
                }
            }
            "content_block_delta" => {
                let index = p.index.ok_or_else(|| missing("missing `index`"))?;
                let d = p.delta.ok_or_else(|| missing("missing `delta`"))?;
                let delta = match d.kind.as_deref() {
                    Some("text_delta") => Delta::Text(d.text.unwrap_or_default().into_owned()),
                    Some("input_json_delta") => {
                        Delta::ToolInput(d.partial_json.unwrap_or_default().into_owned())
                    }
                    Some("thinking_delta") => {
                        Delta::Thinking(d.thinking.unwrap_or_default().into_owned())
                    }
                    Some("signature_delta") => {
                        Delta::Signature(d.signature.unwrap_or_default().into_owned())
                    }
                    _ => Delta::Other,
                };
                out.push(StreamEvent::BlockDelta { index, delta });
            }
            "content_block_stop" => {
                let index = p.index.ok_or_else(|| missing("missing `index`"))?;
                out.push(StreamEvent::BlockStop { index });
            }
            "message_delta" => {
                let stop = p.delta.and_then(|d| d.stop_reason).map(|r| stop_reason(&r));
                out.push(StreamEvent::MessageDelta {
                    stop_reason: stop,
                    usage: p.usage.map(Usage::from).unwrap_or_default(),
                });
            }
            "message_stop" => out.push(StreamEvent::MessageStop),
            "ping" => out.push(StreamEvent::Ping),
            "error" => {
                let e = p.error.ok_or_else(|| missing("missing `error`"))?;
                out.push(StreamEvent::Error(ProviderError {
                    kind: e
                        .kind
                        .map(Cow::into_owned)
                        .unwrap_or_else(|| "error".into()),
                    message: e.message.map(Cow::into_owned).unwrap_or_default(),
                }));
            }
            _ => {}
        }
        Ok(())
    }

    /// End of input. Anthropic needs nothing more; an unfinished block stays unfinished.
    ///
    /// # Errors
    ///
    /// None today; the signature matches the other decoders.
    pub fn finish(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        Ok(())
    }
}
