//! Amazon Bedrock `ConverseStream` (AWS event-stream frames).
//!
//! Each frame's `:event-type` header names the event and its payload is JSON:
//! `messageStart {role}`, `contentBlockStart {contentBlockIndex, start: {toolUse:
//! {toolUseId, name}}}`, `contentBlockDelta {contentBlockIndex, delta: {text} | {toolUse:
//! {input}} | {reasoningContent: {text | signature | redactedContent}}}`, `contentBlockStop`,
//! `messageStop {stopReason}`, `metadata {usage: {inputTokens, outputTokens}}`. A text
//! block may have no `contentBlockStart`. Frames with `:message-type` `exception` (or
//! `error`) carry the exception name in `:exception-type` (or `:error-code`) and become
//! provider errors.
//!
//! Reasoning goes back into the history as received (SPEC §6): "If you pass a reasoning
//! block back to the API in a multi-turn conversation, include the text and its signature
//! unmodified". Its text and signature become [`Delta::Thinking`] and
//! [`Delta::Signature`]; `redactedContent` ("The content in the reasoning that was
//! encrypted by the model provider for safety reasons") starts a
//! [`Block::RedactedThinking`] whose [`Delta::Verbatim`] is the whole content block,
//! `{"reasoningContent":{"redactedContent":"<base64>"}}`.
//!
//! `InvokeModelWithResponseStream` frames (`:event-type` `chunk`, payload
//! `{"bytes": "<base64>"}`) wrap the model's own events; for Anthropic models those are
//! decoded by the Anthropic decoder.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use base64::Engine;
use serde::Deserialize;

use super::{parse, AnthropicDecoder, Provider};
use crate::error::DecodeError;
use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};
use crate::eventstream::Message;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    content_block_index: Option<usize>,
    #[serde(borrow)]
    start: Option<StartPayload<'a>>,
    #[serde(borrow)]
    delta: Option<DeltaPayload<'a>>,
    #[serde(borrow)]
    stop_reason: Option<Cow<'a, str>>,
    usage: Option<UsagePayload>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    bytes: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartPayload<'a> {
    #[serde(borrow)]
    tool_use: Option<ToolUseStart<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUseStart<'a> {
    #[serde(borrow)]
    tool_use_id: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaPayload<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tool_use: Option<ToolUseDelta<'a>>,
    #[serde(borrow)]
    reasoning_content: Option<ReasoningDelta<'a>>,
}

#[derive(Deserialize)]
struct ToolUseDelta<'a> {
    #[serde(borrow)]
    input: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningDelta<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    signature: Option<Cow<'a, str>>,
    /// A blob: base64 in JSON.
    #[serde(borrow)]
    redacted_content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsagePayload {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_write_input_tokens: Option<u64>,
}

/// SPEC §4: Bedrock's `inputTokens` leaves out cache reads and writes; they are added.
fn usage(u: UsagePayload) -> Usage {
    let cached = (u.cache_read_input_tokens.unwrap_or(0))
        .saturating_add(u.cache_write_input_tokens.unwrap_or(0));
    Usage {
        input_tokens: u.input_tokens.map(|n| n.saturating_add(cached)),
        output_tokens: u.output_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
        cache_write_input_tokens: u.cache_write_input_tokens,
        reasoning_tokens: None,
    }
}

/// Maps Bedrock's `stopReason`.
pub fn stop_reason(raw: &str) -> StopReason {
    let kind = match raw {
        "end_turn" => StopKind::EndTurn,
        "tool_use" => StopKind::ToolUse,
        "max_tokens" | "model_context_window_exceeded" => StopKind::MaxTokens,
        "stop_sequence" => StopKind::StopSequence,
        "guardrail_intervened" | "content_filtered" => StopKind::ContentFilter,
        _ => StopKind::Other,
    };
    StopReason::new(kind, raw)
}

/// Most content blocks one message may start.
const MAX_BLOCKS: usize = 4096;
/// Most bytes of `redactedContent` (base64) one message may hold: the assembler's default
/// text limit, 16 MiB.
const MAX_REDACTED_BYTES: usize = 16 * 1024 * 1024;

/// A block's `reasoningContent` with its `redactedContent`, written once at the block's
/// stop: one piece (the usual case) as received; several decoded, joined and encoded
/// again, since base64 strings do not concatenate (pieces that are not base64 are joined
/// as text).
fn redacted(pieces: Vec<String>) -> Delta {
    let joined = match <[String; 1]>::try_from(pieces) {
        Ok([one]) => one,
        Err(pieces) => {
            let b64 = &base64::engine::general_purpose::STANDARD;
            let mut bytes = Vec::new();
            let decoded = pieces
                .iter()
                .try_for_each(|p| b64.decode_vec(p.as_bytes(), &mut bytes));
            match decoded {
                Ok(()) => b64.encode(bytes),
                Err(_) => pieces.concat(),
            }
        }
    };
    let json = serde_json::to_string(&joined).expect("a string always serializes");
    Delta::Verbatim(format!(
        r#"{{"reasoningContent":{{"redactedContent":{json}}}}}"#
    ))
}

/// Decoder for Bedrock event-stream messages. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct BedrockDecoder {
    /// Blocks started so far (a text block may start implicitly with its first delta).
    started: HashSet<usize>,
    /// Set once `chunk` frames show an InvokeModel stream of Anthropic events.
    invoke: Option<AnthropicDecoder>,
    /// `redactedContent` pieces received so far, by block (base64, as received), written
    /// out once, at the block's stop.
    redacted: HashMap<usize, Vec<String>>,
    /// Their bytes, all blocks together.
    redacted_bytes: usize,
    /// `messageStop` came; its `MessageStop` waits for the `metadata` event that follows it
    /// with the usage (or for the end of input), so that the usage is part of the message.
    stop_pending: bool,
}

impl BedrockDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one event-stream message.
    ///
    /// # Errors
    ///
    /// [`DecodeError::InvalidPayload`] when a known event's payload is not what Bedrock
    /// documents.
    pub fn push(&mut self, msg: &Message, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let message_type = msg.message_type().unwrap_or("event");
        if message_type != "event" {
            let kind = msg
                .exception_type()
                .or_else(|| msg.header_str(":error-code"))
                .unwrap_or(message_type)
                .to_owned();
            let body = std::str::from_utf8(msg.payload()).unwrap_or_default();
            let message = serde_json::from_str::<Payload>(body)
                .ok()
                .and_then(|p| p.message.map(Cow::into_owned))
                .or_else(|| msg.header_str(":error-message").map(str::to_owned))
                .unwrap_or_else(|| body.to_owned());
            self.release_stop(out);
            out.push(StreamEvent::Error(ProviderError { kind, message }));
            return Ok(());
        }
        let event = msg.event_type().unwrap_or_default();
        if !matches!(
            event,
            "messageStart"
                | "contentBlockStart"
                | "contentBlockDelta"
                | "contentBlockStop"
                | "messageStop"
                | "metadata"
                | "chunk"
        ) {
            return Ok(());
        }
        let body = std::str::from_utf8(msg.payload()).map_err(|_| DecodeError::InvalidField {
            provider: Provider::Bedrock,
            event: event.to_owned(),
            reason: "payload is not utf-8",
        })?;
        let missing = |reason| DecodeError::InvalidField {
            provider: Provider::Bedrock,
            event: event.to_owned(),
            reason,
        };
        match event {
            "messageStart" => {
                self.release_stop(out);
                self.redacted.clear();
                self.redacted_bytes = 0;
                out.push(StreamEvent::MessageStart {
                    id: None,
                    model: None,
                    usage: Usage::default(),
                });
            }
            "contentBlockStart" => {
                let p: Payload = parse(Provider::Bedrock, event, body)?;
                let index = p
                    .content_block_index
                    .ok_or_else(|| missing("missing `contentBlockIndex`"))?;
                let block = match p.start.and_then(|s| s.tool_use) {
                    Some(t) => Block::ToolUse {
                        id: t.tool_use_id.into_owned(),
                        name: t.name.into_owned(),
                    },
                    None => Block::Other {
                        kind: "unknown".into(),
                    },
                };
                self.start(index, event)?;
                out.push(StreamEvent::BlockStart { index, block });
            }
            "contentBlockDelta" => {
                let p: Payload = parse(Provider::Bedrock, event, body)?;
                let index = p
                    .content_block_index
                    .ok_or_else(|| missing("missing `contentBlockIndex`"))?;
                let d = p.delta.ok_or_else(|| missing("missing `delta`"))?;
                let (implicit, deltas) = if let Some(t) = d.text {
                    (Block::Text, vec![Delta::Text(t.into_owned())])
                } else if let Some(t) = d.tool_use {
                    let input = t.input.unwrap_or_default().into_owned();
                    let block = Block::Other {
                        kind: "toolUse".into(),
                    };
                    (block, vec![Delta::ToolInput(input)])
                } else if let Some(r) = d.reasoning_content {
                    if let Some(blob) = r.redacted_content {
                        self.redacted_piece(index, blob.into_owned(), event)?;
                        (Block::RedactedThinking, Vec::new())
                    } else {
                        // One delta may carry both.
                        let text = r.text.map(|t| Delta::Thinking(t.into_owned()));
                        let signature = r.signature.map(|s| Delta::Signature(s.into_owned()));
                        (Block::Thinking, text.into_iter().chain(signature).collect())
                    }
                } else {
                    let block = Block::Other {
                        kind: "unknown".into(),
                    };
                    (block, vec![Delta::Other])
                };
                if !self.started.contains(&index) {
                    self.start(index, event)?;
                    out.push(StreamEvent::BlockStart {
                        index,
                        block: implicit,
                    });
                }
                out.extend(
                    deltas
                        .into_iter()
                        .filter(|d| !matches!(d, Delta::ToolInput(s) if s.is_empty()))
                        .map(|delta| StreamEvent::BlockDelta { index, delta }),
                );
            }
            "contentBlockStop" => {
                let p: Payload = parse(Provider::Bedrock, event, body)?;
                let index = p
                    .content_block_index
                    .ok_or_else(|| missing("missing `contentBlockIndex`"))?;
                if let Some(pieces) = self.redacted.remove(&index) {
                    let delta = redacted(pieces);
                    out.push(StreamEvent::BlockDelta { index, delta });
                }
                out.push(StreamEvent::BlockStop { index });
            }
            "messageStop" => {
                let p: Payload = parse(Provider::Bedrock, event, body)?;
                let raw = p
                    .stop_reason
                    .ok_or_else(|| missing("missing `stopReason`"))?;
                out.push(StreamEvent::MessageDelta {
                    stop_reason: Some(stop_reason(&raw)),
                    usage: Usage::default(),
                });
                self.stop_pending = true;
            }
            "metadata" => {
                let p: Payload = parse(Provider::Bedrock, event, body)?;
                if let Some(u) = p.usage {
                    out.push(StreamEvent::MessageDelta {
                        stop_reason: None,
                        usage: usage(u),
                    });
                }
                self.release_stop(out);
            }
            "chunk" => {
                let p: Payload = parse(Provider::Bedrock, event, body)?;
                let b64 = p.bytes.ok_or_else(|| missing("missing `bytes`"))?;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| missing("`bytes` is not base64"))?;
                let inner =
                    String::from_utf8(raw).map_err(|_| missing("`bytes` is not utf-8 json"))?;
                let anthropic = self.invoke.get_or_insert_with(AnthropicDecoder::new);
                // The wrapped events use Bedrock's stop reasons only by name, so Anthropic's
                // mapping applies unchanged.
                anthropic.push(&inner, out)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Keeps one `redactedContent` piece of block `index` (bounded: 16 MiB in all).
    fn redacted_piece(
        &mut self,
        index: usize,
        blob: String,
        event: &str,
    ) -> Result<(), DecodeError> {
        if self.redacted_bytes + blob.len() > MAX_REDACTED_BYTES {
            return Err(DecodeError::InvalidField {
                provider: Provider::Bedrock,
                event: event.to_owned(),
                reason: "more than 16 MiB of redactedContent in one message",
            });
        }
        self.redacted_bytes += blob.len();
        self.redacted.entry(index).or_default().push(blob);
        Ok(())
    }

    fn start(&mut self, index: usize, event: &str) -> Result<(), DecodeError> {
        if self.started.len() >= MAX_BLOCKS {
            return Err(DecodeError::InvalidField {
                provider: Provider::Bedrock,
                event: event.to_owned(),
                reason: "more than 4096 content blocks in one message",
            });
        }
        self.started.insert(index);
        Ok(())
    }

    /// End of input.
    ///
    /// # Errors
    ///
    /// None today; the signature matches the other decoders.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        self.release_stop(out);
        Ok(())
    }

    /// The `MessageStop` held since `messageStop`, if any.
    pub(crate) fn release_stop(&mut self, out: &mut Vec<StreamEvent>) {
        if std::mem::take(&mut self.stop_pending) {
            out.push(StreamEvent::MessageStop);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::event::{Block, Delta, StreamEvent};
    use crate::eventstream::{encode_message, Header, HeaderValue};
    use crate::{Provider, StreamDecoder};

    fn frame(event: &str, payload: Value) -> Vec<u8> {
        let header = |name: &str, value: &str| Header {
            name: name.into(),
            value: HeaderValue::String(value.into()),
        };
        let headers = [
            header(":event-type", event),
            header(":content-type", "application/json"),
            header(":message-type", "event"),
        ];
        encode_message(&headers, payload.to_string().as_bytes())
    }

    /// The deltas of block 0, then its stop.
    fn decode(deltas: &[Value]) -> Vec<StreamEvent> {
        let mut d = StreamDecoder::new(Provider::Bedrock);
        let mut out = Vec::new();
        for delta in deltas {
            let payload = json!({"contentBlockIndex": 0, "delta": delta});
            d.push(&frame("contentBlockDelta", payload), &mut out)
                .unwrap();
        }
        let stop = json!({"contentBlockIndex": 0});
        d.push(&frame("contentBlockStop", stop), &mut out).unwrap();
        out
    }

    fn delta(delta: Delta) -> StreamEvent {
        StreamEvent::BlockDelta { index: 0, delta }
    }

    #[test]
    fn reasoning_text_and_signature_in_one_delta_are_both_kept() {
        let out = decode(&[json!({"reasoningContent": {"text": "hm", "signature": "c2ln"}})]);
        assert_eq!(
            out,
            [
                StreamEvent::BlockStart {
                    index: 0,
                    block: Block::Thinking
                },
                delta(Delta::Thinking("hm".into())),
                delta(Delta::Signature("c2ln".into())),
                StreamEvent::BlockStop { index: 0 },
            ]
        );
    }

    #[test]
    fn redacted_content_in_pieces_is_joined_as_bytes() {
        // [0, 1, 2] then [3, 4]: base64 strings do not concatenate, their bytes do.
        let out = decode(&[
            json!({"reasoningContent": {"redactedContent": "AAEC"}}),
            json!({"reasoningContent": {"redactedContent": "AwQ="}}),
        ]);
        assert_eq!(
            out,
            [
                StreamEvent::BlockStart {
                    index: 0,
                    block: Block::RedactedThinking
                },
                // Written once, at the block's stop: linear in the pieces.
                delta(Delta::Verbatim(
                    r#"{"reasoningContent":{"redactedContent":"AAECAwQ="}}"#.into()
                )),
                StreamEvent::BlockStop { index: 0 },
            ]
        );
    }
}
