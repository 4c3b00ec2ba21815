//! OpenAI Chat Completions streaming, and the OpenAI-compatible servers.
//!
//! Each `chat.completion.chunk` holds `choices[].delta` with `content`, `refusal`,
//! reasoning text (`reasoning_content` on DeepSeek and xAI, `reasoning` on OpenRouter and
//! vLLM), OpenRouter's `reasoning_details` and `tool_calls[]` fragments keyed by `index`;
//! the first fragment of a call carries its `id` and `function.name`, later ones
//! `function.arguments` pieces. Only choice 0 is read.
//!
//! What must go back on the assistant message (SPEC §6) is marked with
//! [`Delta::Verbatim`], for `request::openai_chat` to write:
//! - the thinking block carries the name of the field its text arrived in, as a JSON
//!   string (`"reasoning_content"` or `"reasoning"`): DeepSeek, "Thinking Mode": "for
//!   turns that do perform tool calls, the `reasoning_content` must be fully passed back
//!   to the API in all subsequent requests" (a 400 otherwise), and text that arrived as
//!   `reasoning` goes back as `reasoning`;
//! - a block of kind `reasoning_details` ([`Block::Other`]) carries OpenRouter's
//!   `reasoning_details` array, its streamed pieces merged (`details.rs`), given when the
//!   choice finishes;
//! - a tool call's block carries the call's `extra_content` as received: Gemini's
//!   OpenAI-compatible endpoint puts the thought signature there (Gemini API, "OpenAI
//!   compatibility", thought signatures: `"extra_content": {"google": {"thought_signature":
//!   "..."}}` on the tool call, to be sent back on it; without it Gemini 3 answers 400
//!   "Function call is missing a thought_signature").
//!
//! There is no per-call end marker: every call completes at the choice's `finish_reason`
//! ([`OpenAiChatOptions::complete_on_next_index`] opts into treating the start of a higher
//! `index` as the end of the previous call). A final chunk with empty `choices` may carry
//! `usage`; `data: [DONE]` ends the stream. The message stops after its usage chunk, at
//! `[DONE]` or at the end of input, whichever comes first after `finish_reason`.
//!
//! Quirks survived: a missing or constant `index` (Gemini's and Ollama's compatible
//! endpoints send whole calls, each with its own `id`), a new `id` on a reused index (a new
//! call), a whole call in one fragment, tool calls in the same chunk as `finish_reason`.
//!
//! The two hottest chunks, a text piece and an argument fragment written the way OpenAI
//! writes them, are read by an exact-bytes fast path (`fast.rs`) and applied through the
//! same code as a parsed chunk; every other chunk takes the full serde parse.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

mod details;
mod fast;
#[cfg(test)]
mod tests;

use super::{parse, BlockCounter, Provider};
use crate::error::DecodeError;
use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};
use details::ReasoningDetails;
use fast::{Piece, SeenHead};

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    usage: Option<UsagePayload>,
    #[serde(borrow)]
    error: Option<ErrorField<'a>>,
}

/// Servers send `{"error": {...}}` or, less often, `{"error": "message"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField<'a> {
    #[serde(borrow)]
    Object(ErrorPayload<'a>),
    Text(String),
}

#[derive(Deserialize)]
struct Choice<'a> {
    index: Option<u64>,
    #[serde(borrow)]
    delta: Option<ChoiceDelta<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChoiceDelta<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reasoning_details: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    index: Option<usize>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Option<FunctionDelta<'a>>,
    #[serde(borrow)]
    extra_content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct UsagePayload {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    total_tokens: Option<u64>,
    prompt_tokens_details: Option<TokenDetails>,
    completion_tokens_details: Option<TokenDetails>,
    /// Moonshot reports its cache reads at the top level.
    cached_tokens: Option<u64>,
    /// DeepSeek's name for them (it also fills `prompt_tokens_details.cached_tokens`).
    prompt_cache_hit_tokens: Option<u64>,
}

impl UsagePayload {
    /// SPEC §4: `prompt_tokens` already counts the cached tokens, and `completion_tokens`
    /// the reasoning tokens, except on xAI, whose `completion_tokens` leaves the reasoning
    /// out (its `total_tokens` is prompt + completion + reasoning): then they are added.
    fn normalized(self) -> Usage {
        let (prompt, details) = (self.prompt_tokens_details, self.completion_tokens_details);
        let reasoning = details.as_ref().and_then(|d| d.reasoning_tokens);
        let reasoning_apart = match (self.prompt_tokens, self.completion_tokens, reasoning) {
            (Some(p), Some(c), Some(r)) if r > 0 => {
                self.total_tokens == Some(p.saturating_add(c).saturating_add(r))
            }
            _ => false,
        };
        let output = match reasoning {
            Some(r) if reasoning_apart => self.completion_tokens.map(|c| c.saturating_add(r)),
            _ => self.completion_tokens,
        };
        Usage {
            input_tokens: self.prompt_tokens,
            output_tokens: output,
            cache_read_input_tokens: prompt
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .or(self.cached_tokens)
                .or(self.prompt_cache_hit_tokens),
            // OpenRouter: "cache_write_tokens" beside "cached_tokens".
            cache_write_input_tokens: prompt.as_ref().and_then(|d| d.cache_write_tokens),
            reasoning_tokens: reasoning,
        }
    }
}

/// `prompt_tokens_details` / `completion_tokens_details` (and the Responses API's
/// `input_tokens_details` / `output_tokens_details`).
#[derive(Deserialize)]
pub(crate) struct TokenDetails {
    pub(crate) cached_tokens: Option<u64>,
    pub(crate) reasoning_tokens: Option<u64>,
    pub(crate) cache_write_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorPayload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    code: Option<serde_json::Value>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

/// Maps Chat Completions' `finish_reason`.
pub fn stop_reason(raw: &str) -> StopReason {
    let kind = match raw {
        "stop" => StopKind::EndTurn,
        "tool_calls" | "function_call" => StopKind::ToolUse,
        "length" => StopKind::MaxTokens,
        "content_filter" => StopKind::ContentFilter,
        // OpenRouter: "`error` if the model finishes the request with an error".
        "error" => StopKind::Error,
        _ => StopKind::Other,
    };
    StopReason::new(kind, raw)
}

/// Options for [`OpenAiChatDecoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenAiChatOptions {
    /// Treat the first fragment of a call with a higher `index` as the end of the calls
    /// before it, so eager dispatch can start them before `finish_reason` (default
    /// `false`). Right for OpenAI itself, which streams calls one after another; wrong for
    /// servers that interleave fragments of several calls.
    pub complete_on_next_index: bool,
}

#[derive(Debug, Clone)]
struct CallSlot {
    wire_index: Option<usize>,
    block: usize,
    open: bool,
    named: bool,
}

/// Most tool calls one message may hold.
const MAX_CALLS: usize = 4096;

/// Decoder for Chat Completions chunks. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct OpenAiChatDecoder {
    options: OpenAiChatOptions,
    started: bool,
    blocks: BlockCounter,
    text: Option<usize>,
    refusal: Option<usize>,
    thinking: Option<usize>,
    /// The field the reasoning text came in, as last said by a `Verbatim`.
    thinking_field: Option<&'static str>,
    /// OpenRouter's `reasoning_details`: their block and the pieces merged so far.
    details: Option<(usize, ReasoningDetails)>,
    calls: Vec<CallSlot>,
    /// The latest call for each wire `index`, and each call by id.
    by_index: HashMap<usize, usize>,
    by_id: HashMap<String, usize>,
    finished: bool,
    /// `finish_reason` came and its `MessageStop` waits for the usage chunk that follows it
    /// (`stream_options.include_usage`: "an additional chunk will be streamed before the
    /// data: [DONE] message"), for `[DONE]` or for the end of input, so that the message's
    /// usage is part of it (SPEC §4) rather than a late event a finished turn never reads.
    stop_pending: bool,
    seen_head: SeenHead,
}

impl OpenAiChatDecoder {
    /// A decoder with default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with `options`.
    pub fn with_options(options: OpenAiChatOptions) -> Self {
        OpenAiChatDecoder {
            options,
            ..Self::default()
        }
    }

    /// Decodes one payload (the SSE `data`); `[DONE]` is accepted.
    ///
    /// # Errors
    ///
    /// [`DecodeError::InvalidPayload`] when the payload is not a chunk.
    pub fn push(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        // The two hottest shapes skip serde once the message has started (the first chunk,
        // whose `id` and `model` start it, always takes the full path).
        if self.started {
            match fast::chunk(data, &mut self.seen_head) {
                Some(Piece::Content(text)) => {
                    Self::text(&mut self.blocks, &mut self.text, Block::Text, text, out);
                    return Ok(());
                }
                Some(Piece::Arguments { index, arguments }) => {
                    let call = ToolCallDelta {
                        index: Some(index),
                        id: None,
                        function: Some(FunctionDelta {
                            name: None,
                            arguments: Some(arguments),
                        }),
                        extra_content: None,
                    };
                    return self.tool_call(call, out);
                }
                None => {}
            }
        }
        if data.trim_end() == "[DONE]" {
            self.release_stop(out);
            return Ok(());
        }
        let chunk: Chunk = parse(Provider::OpenAiChat, "chat.completion.chunk", data)?;
        if let Some(e) = chunk.error {
            self.release_stop(out);
            let e = match e {
                ErrorField::Object(e) => e,
                ErrorField::Text(message) => ErrorPayload {
                    kind: None,
                    code: None,
                    message: Some(Cow::Owned(message)),
                },
            };
            let kind = e
                .kind
                .map(Cow::into_owned)
                .or_else(|| {
                    e.code
                        .filter(|c| !c.is_null())
                        .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
                })
                .unwrap_or_else(|| "error".into());
            out.push(StreamEvent::Error(ProviderError {
                kind,
                message: e.message.map(Cow::into_owned).unwrap_or_default(),
            }));
        }
        if !self.started && (chunk.id.is_some() || !chunk.choices.is_empty()) {
            self.started = true;
            out.push(StreamEvent::MessageStart {
                id: chunk.id.map(Cow::into_owned),
                model: chunk.model.map(Cow::into_owned),
                usage: Usage::default(),
            });
        }
        for choice in chunk.choices {
            if choice.index.unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = choice.delta {
                self.delta(delta, out)?;
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason(&reason, out);
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::MessageDelta {
                stop_reason: None,
                usage: u.normalized(),
            });
            self.release_stop(out);
        }
        Ok(())
    }

    /// The `MessageStop` held since `finish_reason`, if any.
    pub(crate) fn release_stop(&mut self, out: &mut Vec<StreamEvent>) {
        if std::mem::take(&mut self.stop_pending) {
            out.push(StreamEvent::MessageStop);
        }
    }

    /// End of input: nothing is completed here; calls without `finish_reason` stay open.
    /// Reasoning details not given yet (no `finish_reason`) are given to their block.
    ///
    /// # Errors
    ///
    /// None today; the signature matches the other decoders.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if !self.finished {
            self.give_details(out);
        }
        self.release_stop(out);
        Ok(())
    }

    /// The merged `reasoning_details`, to their block (once, before it stops).
    fn give_details(&self, out: &mut Vec<StreamEvent>) {
        if let Some((index, details)) = &self.details {
            if !details.is_empty() {
                out.push(StreamEvent::BlockDelta {
                    index: *index,
                    delta: Delta::Verbatim(details.to_json()),
                });
            }
        }
    }

    fn open(
        blocks: &mut BlockCounter,
        slot: &mut Option<usize>,
        block: Block,
        out: &mut Vec<StreamEvent>,
    ) -> usize {
        *slot.get_or_insert_with(|| {
            let index = blocks.next();
            out.push(StreamEvent::BlockStart { index, block });
            index
        })
    }

    fn delta(&mut self, d: ChoiceDelta<'_>, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let reasoning = match (d.reasoning_content, d.reasoning) {
            (Some(piece), _) => Some((piece, "reasoning_content")),
            (None, Some(piece)) => Some((piece, "reasoning")),
            (None, None) => None,
        };
        if let Some((piece, field)) = reasoning.filter(|(p, _)| !p.is_empty()) {
            Self::text(
                &mut self.blocks,
                &mut self.thinking,
                Block::Thinking,
                piece,
                out,
            );
            // The block says which field its text goes back in (SPEC §6).
            if let (Some(index), false) = (self.thinking, self.thinking_field == Some(field)) {
                self.thinking_field = Some(field);
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Verbatim(format!("\"{field}\"")),
                });
            }
        }
        if let Some(raw) = d.reasoning_details.filter(|_| !self.finished) {
            self.reasoning_details(raw, out)?;
        }
        if let Some(piece) = d.content {
            Self::text(&mut self.blocks, &mut self.text, Block::Text, piece, out);
        }
        if let Some(piece) = d.refusal {
            Self::text(
                &mut self.blocks,
                &mut self.refusal,
                Block::Refusal,
                piece,
                out,
            );
        }
        for call in d.tool_calls.into_iter().flatten() {
            self.tool_call(call, out)?;
        }
        Ok(())
    }

    /// One chunk's `reasoning_details`, merged into the message's (the block opens with
    /// the first non-empty array; the merged array is given at `finish_reason`).
    fn reasoning_details(
        &mut self,
        raw: &RawValue,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let blocks = &mut self.blocks;
        let (_, details) = self.details.get_or_insert_with(|| {
            let index = blocks.next();
            out.push(StreamEvent::BlockStart {
                index,
                block: Block::Other {
                    kind: "reasoning_details".into(),
                },
            });
            (index, ReasoningDetails::default())
        });
        details
            .merge(raw)
            .map_err(|details::TooLarge(reason)| DecodeError::InvalidField {
                provider: Provider::OpenAiChat,
                event: "chat.completion.chunk".into(),
                reason,
            })
    }

    /// A piece of text, thinking or refusal, in its block (opened by the first non-empty
    /// piece).
    fn text(
        blocks: &mut BlockCounter,
        slot: &mut Option<usize>,
        block: Block,
        piece: Cow<'_, str>,
        out: &mut Vec<StreamEvent>,
    ) {
        if piece.is_empty() {
            return;
        }
        let delta = match block {
            Block::Thinking => Delta::Thinking(piece.into_owned()),
            _ => Delta::Text(piece.into_owned()),
        };
        let index = Self::open(blocks, slot, block, out);
        out.push(StreamEvent::BlockDelta { index, delta });
    }

    fn tool_call(
        &mut self,
        call: ToolCallDelta<'_>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let id = call.id.filter(|id| !id.is_empty());
        let (name, arguments) = match call.function {
            Some(f) => (f.name.filter(|n| !n.is_empty()), f.arguments),
            None => (None, None),
        };
        // Route the fragment: by `index` while the id agrees, else by `id`; with neither, it
        // continues the most recent call (the only reading left). A fragment that names a
        // tool while its target already has a name is a new call (whole calls with no index
        // and no id, as some Gemini proxies send); continuations carry no name or `""`.
        let existing = match (call.index, id.as_deref()) {
            (Some(i), Some(id)) => self
                .by_id
                .get(id)
                .copied()
                .filter(|&s| self.calls[s].wire_index == Some(i)),
            (Some(i), None) => self.by_index.get(&i).copied(),
            (None, Some(id)) => self.by_id.get(id).copied(),
            (None, None) => self.calls.len().checked_sub(1),
        }
        .filter(|&s| id.is_some() || name.is_none() || !self.calls[s].named);
        let slot = match existing {
            Some(s) => s,
            None => {
                if self.calls.len() >= MAX_CALLS {
                    return Err(DecodeError::InvalidField {
                        provider: Provider::OpenAiChat,
                        event: "chat.completion.chunk".into(),
                        reason: "more than 4096 tool calls in one message",
                    });
                }
                if let (true, Some(next)) = (self.options.complete_on_next_index, call.index) {
                    // "The start of a higher index" ends the calls below it, only those.
                    for c in self.calls.iter_mut().filter(|c| c.open) {
                        if c.wire_index.is_some_and(|w| w < next) {
                            c.open = false;
                            out.push(StreamEvent::BlockStop { index: c.block });
                        }
                    }
                }
                let block = self.blocks.next();
                let id = id
                    .map(Cow::into_owned)
                    .unwrap_or_else(|| format!("call_{}", self.calls.len()));
                out.push(StreamEvent::BlockStart {
                    index: block,
                    block: Block::ToolUse {
                        id: id.clone(),
                        name: name.as_deref().unwrap_or_default().to_owned(),
                    },
                });
                let slot = self.calls.len();
                if let Some(i) = call.index {
                    self.by_index.insert(i, slot);
                }
                self.by_id.insert(id, slot);
                self.calls.push(CallSlot {
                    wire_index: call.index,
                    block,
                    open: true,
                    named: name.is_some(),
                });
                slot
            }
        };
        if let Some(args) = arguments.filter(|a| !a.is_empty()) {
            out.push(StreamEvent::BlockDelta {
                index: self.calls[slot].block,
                delta: Delta::ToolInput(args.into_owned()),
            });
        }
        // Gemini's thought signature rides on the call; it goes back on it as received.
        if let Some(extra) = call.extra_content.filter(|e| e.get() != "null") {
            out.push(StreamEvent::BlockDelta {
                index: self.calls[slot].block,
                delta: Delta::Verbatim(extra.get().to_owned()),
            });
        }
        Ok(())
    }

    fn finish_reason(&mut self, raw: &str, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        self.give_details(out);
        self.finished = true;
        let details = self.details.as_ref().map(|(index, _)| *index);
        let mut open: Vec<usize> = [self.thinking, self.text, self.refusal, details]
            .into_iter()
            .flatten()
            .chain(self.calls.iter().filter(|c| c.open).map(|c| c.block))
            .collect();
        open.sort_unstable();
        for c in &mut self.calls {
            c.open = false;
        }
        for index in open {
            out.push(StreamEvent::BlockStop { index });
        }
        out.push(StreamEvent::MessageDelta {
            stop_reason: Some(stop_reason(raw)),
            usage: Usage::default(),
        });
        self.stop_pending = true;
    }
}
