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
//!
//! Blocks the client does not build itself go back into the history exactly as received
//! (SPEC §6, "What goes back"), so their `content_block` object is kept as
//! [`Delta::Verbatim`]:
//! - `redacted_thinking` ([`Block::RedactedThinking`]), which arrives whole with its
//!   `data`: "When passing thinking and redacted_thinking blocks back to the API in a
//!   multi-turn conversation, you must include the complete unmodified block back to the
//!   API for the last assistant turn" (else: "Expected `thinking` or `redacted_thinking`,
//!   but found `tool_use`");
//! - `server_tool_use` / `mcp_tool_use` ([`Block::ServerToolUse`]): the start object; its
//!   input streams as `input_json_delta` like a client call's and is put back in its place
//!   when the message is written;
//! - `*_tool_result` blocks (`web_search_tool_result`, `web_fetch_tool_result`,
//!   `code_execution_tool_result`, `mcp_tool_result`, ...) and any other block type: they
//!   "arrive whole" in `content_block_start` ([`Block::Other`]);
//! - `compaction`: "a `content_block_start` event, followed by a single
//!   `content_block_delta` with the complete summary content (no intermediate streaming)";
//!   "You must pass the `compaction` block back to the API on subsequent requests". Its
//!   `compaction_delta` (`content`, `encrypted_content`, "to be round-tripped verbatim")
//!   becomes the block's verbatim state.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

mod fast;

use super::{parse, parse_typed, Provider};
use crate::error::DecodeError;
use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    index: Option<usize>,
    #[serde(borrow)]
    delta: Option<DeltaPayload<'a>>,
    /// Kept raw: blocks the client does not build itself go back as received.
    #[serde(borrow)]
    content_block: Option<&'a RawValue>,
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
    /// `compaction_delta`: the summary (or null when compaction failed).
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    /// `compaction_delta`: opaque state, "to be round-tripped verbatim".
    #[serde(borrow)]
    encrypted_content: Option<&'a RawValue>,
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
    signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
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
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
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

/// The whole `compaction` block a `compaction_delta` completes. "Compaction blocks stream
/// as a single `content_block_delta`", so the delta holds everything the block has:
/// `{"type":"compaction","content":...,"encrypted_content":...}`, the values as received
/// (a null `content` is a failed compaction, which "the server treats as a no-op").
fn compaction(d: &DeltaPayload<'_>) -> String {
    let content = d.content.map_or("null", RawValue::get);
    match d.encrypted_content {
        Some(e) => format!(
            r#"{{"type":"compaction","content":{content},"encrypted_content":{}}}"#,
            e.get()
        ),
        None => format!(r#"{{"type":"compaction","content":{content}}}"#),
    }
}

/// Decodes a `content_block_start`: the block, then any content it already holds.
fn block_start(
    index: usize,
    raw: &RawValue,
    out: &mut Vec<StreamEvent>,
) -> Result<(), DecodeError> {
    let b: BlockPayload = parse(Provider::Anthropic, "content_block_start", raw.get())?;
    let owned = |s: Option<Cow<str>>| s.map(Cow::into_owned).unwrap_or_default();
    let as_received = || Delta::Verbatim(raw.get().to_owned());
    let mut initial = Vec::new();
    let block = match &*b.kind {
        "text" => {
            initial.extend(b.text.map(|t| Delta::Text(t.into_owned())));
            Block::Text
        }
        "thinking" => {
            initial.extend(b.thinking.map(|t| Delta::Thinking(t.into_owned())));
            initial.extend(b.signature.map(|s| Delta::Signature(s.into_owned())));
            Block::Thinking
        }
        // "You must include the complete unmodified block": the whole block, with its
        // `data`, as received.
        "redacted_thinking" => {
            initial.push(as_received());
            Block::RedactedThinking
        }
        // Streamed calls start with `"input":{}` and send the arguments as deltas;
        // programmatic calls arrive with their whole input here and no deltas, so a
        // non-empty object is the arguments.
        "tool_use" => {
            initial.extend(
                b.input
                    .map(|raw| raw.get())
                    .filter(|raw| !is_empty_object(raw))
                    .map(|raw| Delta::ToolInput(raw.to_owned())),
            );
            Block::ToolUse {
                id: owned(b.id),
                name: owned(b.name),
            }
        }
        // The provider runs these; the start object goes back with the input that
        // streams after it put in place of its `input`.
        "server_tool_use" | "mcp_tool_use" => {
            initial.push(as_received());
            Block::ServerToolUse {
                id: owned(b.id),
                name: owned(b.name),
            }
        }
        // `*_tool_result` blocks arrive whole; so does any block type added later.
        other => {
            initial.push(as_received());
            Block::Other {
                kind: other.to_owned(),
            }
        }
    };
    out.push(StreamEvent::BlockStart { index, block });
    // A block may start with content already in it (documented as empty, but dropping it
    // would lose text if it ever is not).
    out.extend(
        initial
            .into_iter()
            .filter(|d| {
                !matches!(d, Delta::Text(t) | Delta::Thinking(t) | Delta::Signature(t) if t.is_empty())
            })
            .map(|delta| StreamEvent::BlockDelta { index, delta }),
    );
    Ok(())
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
    /// The cache counts of the message so far (`message_start` gives them; a later
    /// `message_delta` may repeat them, or give `input_tokens` alone).
    cache_read: Option<u64>,
    cache_write: Option<u64>,
}

impl AnthropicDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// SPEC §4: "`input_tokens` = every prompt token, cached or not (Anthropic and Bedrock
    /// report cache reads and writes apart from `input_tokens`: they are added)".
    fn usage(&mut self, u: UsagePayload) -> Usage {
        if u.cache_read_input_tokens.is_some() {
            self.cache_read = u.cache_read_input_tokens;
        }
        if u.cache_creation_input_tokens.is_some() {
            self.cache_write = u.cache_creation_input_tokens;
        }
        let cached = (self.cache_read.unwrap_or(0)).saturating_add(self.cache_write.unwrap_or(0));
        Usage {
            input_tokens: u.input_tokens.map(|n| n.saturating_add(cached)),
            output_tokens: u.output_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            cache_write_input_tokens: u.cache_creation_input_tokens,
            reasoning_tokens: None,
        }
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
                (self.cache_read, self.cache_write) = (None, None);
                out.push(StreamEvent::MessageStart {
                    id: m.id.map(Cow::into_owned),
                    model: m.model.map(Cow::into_owned),
                    usage: m.usage.map(|u| self.usage(u)).unwrap_or_default(),
                });
            }
            "content_block_start" => {
                let index = p.index.ok_or_else(|| missing("missing `index`"))?;
                let raw = p
                    .content_block
                    .ok_or_else(|| missing("missing `content_block`"))?;
                block_start(index, raw, out)?;
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
                    Some("compaction_delta") => Delta::Verbatim(compaction(&d)),
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
                    usage: p.usage.map(|u| self.usage(u)).unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(data: &str) -> Result<Vec<StreamEvent>, DecodeError> {
        let mut out = Vec::new();
        AnthropicDecoder::new().push(data, &mut out)?;
        Ok(out)
    }

    #[test]
    fn a_failed_compaction_keeps_its_null_content() {
        let out = decode(
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"compaction_delta","content":null}}"#,
        );
        assert_eq!(
            out.unwrap(),
            [StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Verbatim(r#"{"type":"compaction","content":null}"#.into())
            }]
        );
    }

    #[test]
    fn a_thinking_block_that_starts_whole_keeps_its_signature() {
        let out = decode(
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"hm","signature":"c2ln"}}"#,
        );
        assert_eq!(
            out.unwrap(),
            [
                StreamEvent::BlockStart {
                    index: 0,
                    block: Block::Thinking
                },
                StreamEvent::BlockDelta {
                    index: 0,
                    delta: Delta::Thinking("hm".into())
                },
                StreamEvent::BlockDelta {
                    index: 0,
                    delta: Delta::Signature("c2ln".into())
                },
            ]
        );
    }

    #[test]
    fn a_content_block_that_is_not_an_object_is_an_error() {
        let out = decode(r#"{"type":"content_block_start","index":0,"content_block":"text"}"#);
        assert!(matches!(out, Err(DecodeError::InvalidPayload { .. })));
    }
}
