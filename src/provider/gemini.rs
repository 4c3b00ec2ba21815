//! Gemini `streamGenerateContent?alt=sse`.
//!
//! Each SSE event is a whole `GenerateContentResponse`: `candidates[].content.parts[]`
//! (`text`, with `"thought": true` for reasoning; `functionCall {name, args}`, always whole;
//! `executableCode` / `codeExecutionResult` for server-side code), `finishReason` on the
//! last chunk, `usageMetadata` (`promptTokenCount`, `candidatesTokenCount`). Only
//! candidate 0 is read. Text parts that follow each other form one block; a function call
//! is a block of its own, started, filled and completed at once.
//!
//! The hottest chunk, a single text part of candidate 0 written the way Google's servers
//! (or serde_json) write it, is read by an exact-bytes fast path (`fast.rs`) and applied
//! through the same code as a parsed chunk; every other chunk takes the full serde parse.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

mod fast;
#[cfg(test)]
mod tests;

use super::{parse, BlockCounter, Provider};
use crate::error::DecodeError;
use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk<'a> {
    #[serde(default, borrow)]
    candidates: Vec<Candidate<'a>>,
    usage_metadata: Option<UsagePayload>,
    #[serde(borrow)]
    model_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    response_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    error: Option<ErrorPayload<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow)]
    content: Option<Content<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
    index: Option<u64>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(default, borrow)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    thought: bool,
    #[serde(borrow)]
    thought_signature: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function_call: Option<FunctionCall<'a>>,
    executable_code: Option<serde::de::IgnoredAny>,
    code_execution_result: Option<serde::de::IgnoredAny>,
}

impl<'a> Part<'a> {
    /// A plain text part (no `thought`, no signature).
    fn text(text: Cow<'a, str>) -> Self {
        Part {
            text: Some(text),
            thought: false,
            thought_signature: None,
            function_call: None,
            executable_code: None,
            code_execution_result: None,
        }
    }
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    /// `Some` whenever the key is present, `null` included (which is not an object and so
    /// an argument error, not `{}`).
    #[serde(default, borrow, deserialize_with = "present")]
    args: Option<&'a RawValue>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsagePayload {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorPayload<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
}

/// Maps Gemini's `finishReason`; `STOP` means tool use when the candidate called functions.
pub fn stop_reason(raw: &str, called_functions: bool) -> StopReason {
    let kind = match raw {
        "STOP" if called_functions => StopKind::ToolUse,
        "STOP" => StopKind::EndTurn,
        "MAX_TOKENS" => StopKind::MaxTokens,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            StopKind::ContentFilter
        }
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" => StopKind::Error,
        _ => StopKind::Other,
    };
    StopReason::new(kind, raw)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// Decoder for Gemini chunks. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct GeminiDecoder {
    started: bool,
    blocks: BlockCounter,
    open: Option<(Open, usize)>,
    calls: usize,
    stopped: bool,
    fast_payloads: usize,
}

impl GeminiDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one payload (the SSE `data`).
    ///
    /// # Errors
    ///
    /// [`DecodeError::InvalidPayload`] when the payload is not a response chunk.
    pub fn push(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        match fast::chunk(data) {
            Some(piece) => {
                self.fast_payloads += 1;
                self.start(piece.response_id, piece.model_version, out);
                self.part(Part::text(piece.text), out)?;
                self.end(None, piece.usage, out);
                Ok(())
            }
            None => self.push_full(data, out),
        }
    }

    /// How many payloads the exact-bytes fast path has read (for tests and benchmarks;
    /// the events do not depend on it).
    #[doc(hidden)]
    pub fn fast_path_payloads(&self) -> usize {
        self.fast_payloads
    }

    /// [`push`](Self::push) through the full serde parse.
    fn push_full(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let chunk: Chunk = parse(Provider::Gemini, "GenerateContentResponse", data)?;
        if let Some(e) = chunk.error {
            out.push(StreamEvent::Error(ProviderError {
                kind: e
                    .status
                    .map(Cow::into_owned)
                    .or_else(|| e.code.map(|c| c.to_string()))
                    .unwrap_or_else(|| "error".into()),
                message: e.message.map(Cow::into_owned).unwrap_or_default(),
            }));
        }
        if !chunk.candidates.is_empty() {
            self.start(chunk.response_id, chunk.model_version, out);
        }
        let mut finish = None;
        for cand in chunk.candidates {
            if cand.index.unwrap_or(0) != 0 {
                continue;
            }
            for part in cand.content.into_iter().flat_map(|c| c.parts) {
                self.part(part, out)?;
            }
            finish = finish.or(cand.finish_reason);
        }
        self.end(finish, chunk.usage_metadata, out);
        Ok(())
    }

    /// Starts the message at the first chunk with a candidate.
    fn start(
        &mut self,
        response_id: Option<Cow<'_, str>>,
        model_version: Option<Cow<'_, str>>,
        out: &mut Vec<StreamEvent>,
    ) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart {
                id: response_id.map(Cow::into_owned),
                model: model_version.map(Cow::into_owned),
                usage: Usage::default(),
            });
        }
    }

    /// The end of a chunk: its `finishReason` (of candidate 0) and `usageMetadata`.
    fn end(
        &mut self,
        finish: Option<Cow<'_, str>>,
        usage: Option<UsagePayload>,
        out: &mut Vec<StreamEvent>,
    ) {
        let usage = usage.map(|u| Usage {
            input_tokens: u.prompt_token_count,
            output_tokens: u.candidates_token_count,
        });
        match finish {
            // Every chunk may repeat `finishReason`; the last one stands (a `RECITATION`
            // after `STOP`s ends a filtered answer). The message is complete at the first.
            Some(reason) => {
                self.close(out);
                out.push(StreamEvent::MessageDelta {
                    stop_reason: Some(stop_reason(&reason, self.calls > 0)),
                    usage: usage.unwrap_or_default(),
                });
                if !self.stopped {
                    self.stopped = true;
                    out.push(StreamEvent::MessageStop);
                }
            }
            None => {
                if let Some(usage) = usage.filter(|u| !u.is_empty()) {
                    out.push(StreamEvent::MessageDelta {
                        stop_reason: None,
                        usage,
                    });
                }
            }
        }
    }

    /// End of input.
    ///
    /// # Errors
    ///
    /// None today; the signature matches the other decoders.
    pub fn finish(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        Ok(())
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((_, index)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn text(&mut self, kind: Open, delta: Delta, out: &mut Vec<StreamEvent>) {
        let index = match self.open {
            Some((k, index)) if k == kind => index,
            _ => {
                self.close(out);
                let index = self.blocks.next();
                let block = match kind {
                    Open::Text => Block::Text,
                    Open::Thinking => Block::Thinking,
                };
                out.push(StreamEvent::BlockStart { index, block });
                self.open = Some((kind, index));
                index
            }
        };
        out.push(StreamEvent::BlockDelta { index, delta });
    }

    fn part(&mut self, part: Part<'_>, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if let Some(call) = part.function_call {
            self.close(out);
            let index = self.blocks.next();
            let id = call
                .id
                .filter(|id| !id.is_empty())
                .map(Cow::into_owned)
                .unwrap_or_else(|| format!("call_{}", self.calls));
            self.calls += 1;
            out.push(StreamEvent::BlockStart {
                index,
                block: Block::ToolUse {
                    id,
                    name: call.name.into_owned(),
                },
            });
            if let Some(args) = call.args {
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::ToolInput(args.get().to_owned()),
                });
            }
            // Gemini 3 requires the signature back on the same part with the call.
            if let Some(sig) = part.thought_signature {
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Signature(sig.into_owned()),
                });
            }
            out.push(StreamEvent::BlockStop { index });
            return Ok(());
        } else if let Some(text) = part.text {
            if part.thought {
                self.text(Open::Thinking, Delta::Thinking(text.into_owned()), out);
            } else {
                self.text(Open::Text, Delta::Text(text.into_owned()), out);
            }
        } else if part.executable_code.is_some() || part.code_execution_result.is_some() {
            self.close(out);
            let index = self.blocks.next();
            let kind = if part.executable_code.is_some() {
                "executableCode"
            } else {
                "codeExecutionResult"
            };
            out.push(StreamEvent::BlockStart {
                index,
                block: Block::Other { kind: kind.into() },
            });
            out.push(StreamEvent::BlockStop { index });
        }
        if let Some(sig) = part.thought_signature {
            if let Some((_, index)) = self.open {
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Signature(sig.into_owned()),
                });
            }
        }
        Ok(())
    }
}
