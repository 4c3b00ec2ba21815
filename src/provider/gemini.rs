//! Gemini `streamGenerateContent?alt=sse`.
//!
//! Each SSE event is a whole `GenerateContentResponse`: `candidates[].content.parts[]`
//! (`text`, with `"thought": true` for reasoning; `functionCall {name, args}`, always whole;
//! `executableCode` / `codeExecutionResult` for server-side code), `finishReason` on the
//! last chunk, `usageMetadata` (`promptTokenCount`, `candidatesTokenCount`). Only
//! candidate 0 is read. Text parts without a signature that follow each other form one
//! block; a part with a `thoughtSignature` is a block of its own (see `GeminiDecoder::part`); a function
//! call is a block of its own, started, filled and completed at once, except a Vertex
//! `streamFunctionCallArguments` call, which completes when its stream ends
//! (`partial.rs`). A chunk with `promptFeedback.blockReason` and no candidates is a blocked
//! prompt: a complete message with stop reason `content_filter`.
//!
//! The hottest chunk, a single text part of candidate 0 written the way Google's servers
//! (or serde_json) write it, is read by an exact-bytes fast path (`fast.rs`) and applied
//! through the same code as a parsed chunk; every other chunk takes the full serde parse.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

mod fast;
mod partial;
#[cfg(test)]
mod tests;

use partial::{PartialArg, PartialCall};

use super::{parse, BlockCounter, Provider};
use crate::error::DecodeError;
use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};
use crate::request::{to_raw, J};

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
    #[serde(borrow)]
    prompt_feedback: Option<PromptFeedback<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback<'a> {
    #[serde(borrow)]
    block_reason: Option<Cow<'a, str>>,
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
    /// Kept as written: it goes back into history as received.
    #[serde(borrow)]
    function_call: Option<&'a RawValue>,
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
#[serde(rename_all = "camelCase")]
struct FunctionCall<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    /// Absent from the continuation parts of a streamed call.
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    /// `Some` whenever the key is present, `null` included (which is not an object and so
    /// an argument error, not `{}`).
    #[serde(default, borrow, deserialize_with = "present")]
    args: Option<&'a RawValue>,
    #[serde(borrow)]
    partial_args: Option<Vec<PartialArg<'a>>>,
    will_continue: Option<bool>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsagePayload {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorPayload<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
}

/// SPEC §4: `promptTokenCount` already counts the cached tokens; output is
/// `candidatesTokenCount` + `thoughtsTokenCount` (Gemini reports thoughts apart).
fn usage(u: UsagePayload) -> Usage {
    let output = match (u.candidates_token_count, u.thoughts_token_count) {
        (None, None) => None,
        (c, t) => Some(c.unwrap_or(0).saturating_add(t.unwrap_or(0))),
    };
    // `toolUsePromptTokenCount` (the results of Gemini's own tools) is prompt input too,
    // reported apart from `promptTokenCount`.
    let input = match u.tool_use_prompt_token_count {
        Some(t) => u.prompt_token_count.map(|p| p.saturating_add(t)),
        None => u.prompt_token_count,
    };
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_input_tokens: u.cached_content_token_count,
        cache_write_input_tokens: None,
        reasoning_tokens: u.thoughts_token_count,
    }
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

/// A Vertex call whose arguments are still streaming.
#[derive(Debug, Clone)]
struct Streaming {
    index: usize,
    id: Option<String>,
    name: String,
    args: PartialCall,
    /// Why a piece was refused; the call is then never completed.
    refused: bool,
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
    streaming: Option<Streaming>,
    /// The usage of the last chunk that reported one: Gemini repeats `usageMetadata` in
    /// every chunk, most often unchanged, and an unchanged count is not an event.
    last_usage: Usage,
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
        let blocked = chunk
            .prompt_feedback
            .and_then(|f| f.block_reason)
            .filter(|_| chunk.candidates.is_empty());
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
        if let Some(reason) = blocked {
            // "promptFeedback: Returns the prompt's feedback related to the content
            // filters" and "blockReason: If set, the prompt was blocked and no candidates
            // are returned" (Gemini API, GenerateContentResponse): a complete answer, no
            // content, stopped by the filter.
            self.start(chunk.response_id, chunk.model_version, out);
            self.close(out);
            out.push(StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::new(StopKind::ContentFilter, reason)),
                usage: chunk.usage_metadata.map(usage).unwrap_or_default(),
            });
            if !self.stopped {
                self.stopped = true;
                out.push(StreamEvent::MessageStop);
            }
            return Ok(());
        }
        if !chunk.candidates.is_empty() {
            self.start(chunk.response_id, chunk.model_version, out);
        }
        let mut finish = None;
        let mut refused = Ok(());
        for cand in chunk.candidates {
            if cand.index.unwrap_or(0) != 0 {
                continue;
            }
            for part in cand.content.into_iter().flat_map(|c| c.parts) {
                // A refused piece of a streamed call is reported once the chunk is read.
                if let Err(e) = self.part(part, out) {
                    refused = refused.and(Err(e));
                }
            }
            finish = finish.or(cand.finish_reason);
        }
        self.end(finish, chunk.usage_metadata, out);
        refused
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
        let usage = usage.map(self::usage);
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
                if let Some(usage) = usage.filter(|u| !u.is_empty() && *u != self.last_usage) {
                    self.last_usage = usage;
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

    /// A text or thought part. Google's thought signature rules: "Don't concatenate parts
    /// with signatures together. Don't merge one part with a signature with another part
    /// without a signature", and when streaming, a signature may arrive on a part with
    /// empty text (Gemini API, "Thought signatures"). So unsigned parts that follow each
    /// other form one block, and a signed part is a block of its own, closed at once, its
    /// text (empty or not) and signature kept for the echo.
    fn text(
        &mut self,
        kind: Open,
        text: String,
        signature: Option<Cow<'_, str>>,
        out: &mut Vec<StreamEvent>,
    ) {
        let delta = match kind {
            Open::Text => Delta::Text(text),
            Open::Thinking => Delta::Thinking(text),
        };
        let index = match (self.open, &signature) {
            (Some((k, index)), None) if k == kind => index,
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
        if let Some(sig) = signature {
            out.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::Signature(sig.into_owned()),
            });
            self.close(out);
        }
    }

    fn part(&mut self, part: Part<'_>, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if let Some(raw) = part.function_call {
            return self.function_call(raw, part.thought_signature, out);
        } else if let Some(text) = part.text {
            let kind = if part.thought {
                Open::Thinking
            } else {
                Open::Text
            };
            self.text(kind, text.into_owned(), part.thought_signature, out);
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
        } else if let Some(sig) = part.thought_signature {
            // A part with nothing but a signature: it goes back as received, an empty
            // text part carrying it.
            self.text(Open::Text, String::new(), Some(sig), out);
        }
        Ok(())
    }

    /// A `functionCall` part: a whole call (the Gemini API, and Vertex by default), or a
    /// piece of a streamed one (Vertex `streamFunctionCallArguments`).
    fn function_call(
        &mut self,
        raw: &RawValue,
        signature: Option<Cow<'_, str>>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let invalid = |reason| DecodeError::InvalidField {
            provider: Provider::Gemini,
            event: "GenerateContentResponse".into(),
            reason,
        };
        let call: FunctionCall = parse(Provider::Gemini, "GenerateContentResponse", raw.get())?;
        let streamed = self.streaming.is_some()
            || call.will_continue == Some(true)
            || call.partial_args.is_some();
        if !streamed {
            let Some(name) = call.name else {
                // `functionCall: {}` ends a streamed call; with none open it is the end of
                // one already ended by its last piece.
                return if call.args.is_none() && call.id.is_none() {
                    Ok(())
                } else {
                    Err(invalid("functionCall without a name"))
                };
            };
            let index = self.begin_call(call.id.as_deref(), &name, out);
            if let Some(args) = call.args {
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::ToolInput(args.get().to_owned()),
                });
            }
            // The call goes back into history as received, with its `id` when it has one:
            // "If populated, the client to execute the function_call and return the
            // response with the matching id" (FunctionCall.id).
            out.push(StreamEvent::BlockDelta {
                index,
                delta: Delta::Verbatim(raw.get().to_owned()),
            });
            // Gemini 3 requires the signature back on the same part with the call.
            if let Some(sig) = signature {
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Signature(sig.into_owned()),
                });
            }
            out.push(StreamEvent::BlockStop { index });
            return Ok(());
        }
        // A piece of a streamed call: the first opens it, the one whose `willContinue` is
        // false or absent ends it. A piece naming another call means the open one never
        // ended: it stays incomplete.
        let other = |s: &Streaming| {
            call.name.as_deref().is_some_and(|n| n != s.name)
                || matches!((&call.id, &s.id), (Some(a), Some(b)) if a != b)
        };
        if self.streaming.as_ref().is_some_and(other) {
            self.streaming = None;
        }
        if self.streaming.is_none() {
            let Some(name) = call.name.as_deref() else {
                return Err(invalid("a streamed functionCall continues no open call"));
            };
            let index = self.begin_call(call.id.as_deref(), name, out);
            self.streaming = Some(Streaming {
                index,
                id: call.id.as_deref().map(str::to_owned),
                name: name.to_owned(),
                args: PartialCall::new(),
                refused: false,
            });
        }
        let s = self.streaming.as_mut().expect("opened above");
        let mut result = Ok(());
        if !s.refused {
            let applied = call
                .args
                .map_or(Ok(()), |args| s.args.merge_args(args))
                .and_then(|()| {
                    call.partial_args
                        .into_iter()
                        .flatten()
                        .try_for_each(|arg| s.args.apply(arg))
                });
            if let Err(reason) = applied {
                s.refused = true;
                result = Err(invalid(reason));
            }
        }
        if let Some(sig) = signature {
            out.push(StreamEvent::BlockDelta {
                index: s.index,
                delta: Delta::Signature(sig.into_owned()),
            });
        }
        if call.will_continue != Some(true) {
            let s = self.streaming.take().expect("open");
            // A refused piece leaves the call incomplete: its tool never runs.
            if !s.refused {
                let args = s.args.to_json();
                let mut object = vec![("name", J::Str(&s.name))];
                let args_raw: Box<RawValue> =
                    RawValue::from_string(args.clone()).expect("built as JSON");
                object.push(("args", J::Raw(&args_raw)));
                if let Some(id) = &s.id {
                    object.push(("id", J::Str(id)));
                }
                out.push(StreamEvent::BlockDelta {
                    index: s.index,
                    delta: Delta::ToolInput(args),
                });
                // What the pieces assembled into, as it goes back into history.
                out.push(StreamEvent::BlockDelta {
                    index: s.index,
                    delta: Delta::Verbatim(to_raw(&J::Obj(object)).get().to_owned()),
                });
                out.push(StreamEvent::BlockStop { index: s.index });
            }
        }
        result
    }

    /// Starts a tool-use block (closing an open text block): the provider's id, or a
    /// deterministic `call_N` that never goes back on the wire.
    fn begin_call(&mut self, id: Option<&str>, name: &str, out: &mut Vec<StreamEvent>) -> usize {
        self.close(out);
        let index = self.blocks.next();
        let id = id
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("call_{}", self.calls));
        self.calls += 1;
        out.push(StreamEvent::BlockStart {
            index,
            block: Block::ToolUse {
                id,
                name: name.to_owned(),
            },
        });
        index
    }
}
