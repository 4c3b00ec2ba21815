//! OpenAI Responses API streaming.
//!
//! Typed events name the output item they belong to by `output_index` (and a content part
//! by `content_index`): `response.output_item.added` opens an item (`message`,
//! `function_call {call_id, name}`, `reasoning`, or a provider-run tool such as
//! `web_search_call`); `response.output_text.delta`, `response.refusal.delta`,
//! `response.function_call_arguments.delta` and `response.reasoning_summary_text.delta`
//! fill it; `response.function_call_arguments.done` and `response.output_item.done` end
//! it. `response.completed` / `response.incomplete` end the message; `response.failed`
//! and `error` report errors.
//!
//! What goes back (SPEC §6): each output item as `response.output_item.done` gave it, as
//! a [`Delta::Verbatim`] on the item's block (a message's on its first content part),
//! given before the block stops. OpenAI, "Reasoning models", keeping reasoning items in
//! context: "pass in all reasoning items between the latest function call and the
//! previous user message", as openai-python's `input += response.output` does; a
//! reasoning item sent without the item that followed it (matched by its `id`, `fc_...`,
//! `msg_...`) is a 400 "Item 'rs_...' of type 'reasoning' was provided without its
//! required following item". A function call completes at `function_call_arguments.done`
//! (SPEC §4), before its `output_item.done`: its item is built there from what the stream
//! gave (the `id`, `call_id` and `name` of `output_item.added`, the final `arguments`), the
//! item `output_item.done` then repeats. An item that lacks what makes it an input item
//! (a message without `content`, a reasoning item without `id`) is not kept: the request
//! writer builds one instead.
//!
//! Tolerances (SPEC §4): `data: [DONE]` ends the stream (LiteLLM sends it; openai-python
//! and the Vercel AI SDK stop there); an OpenAI-style `{"error": {...}}` payload without
//! `type` is a provider error carrying its message.
//!
//! The two hottest events, a text piece and an argument fragment written the way OpenAI
//! (or a server with sorted keys) writes them, are read by an exact-bytes fast path
//! (`fast.rs`) and applied through the same code as a parsed event; every other event
//! takes the full serde parse.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

mod fast;
mod payload;
#[cfg(test)]
mod tests;

use super::{parse_typed, BlockCounter, Provider};
use crate::error::DecodeError;
use crate::event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};
use fast::Piece;
use payload::{Item, Payload};

/// What an open block is, for routing and ending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Call { saw_arguments: bool },
    Other,
}

/// The event types this decoder reads; others are skipped.
fn is_known(kind: &str) -> bool {
    matches!(
        kind,
        "response.created"
            | "response.in_progress"
            | "response.output_item.added"
            | "response.content_part.added"
            | "response.output_text.delta"
            | "response.refusal.delta"
            | "response.reasoning_summary_text.delta"
            | "response.reasoning_text.delta"
            | "response.function_call_arguments.delta"
            | "response.function_call_arguments.done"
            | "response.content_part.done"
            | "response.output_item.done"
            | "response.completed"
            | "response.incomplete"
            | "response.failed"
            | "error"
    )
}

/// Most blocks (output items and content parts) one response may open.
const MAX_SLOTS: usize = 4096;

#[derive(Debug, Clone)]
struct Slot {
    block: usize,
    kind: Kind,
    open: bool,
    /// A function call's item, as `output_item.added` gave it, to build the item that goes
    /// back when the call completes at `function_call_arguments.done`.
    call: Option<Box<CallItem>>,
}

/// A function call's item up to its arguments, and after them, as JSON text: written once
/// when the call is added, so completing it is two copies around the arguments as
/// received (this runs for every call of every message).
#[derive(Debug, Clone)]
struct CallItem {
    head: String,
    tail: String,
}

impl CallItem {
    fn new(id: Option<&str>, call_id: &str, name: &str) -> Self {
        let string = |out: &mut String, v: &str| {
            out.push_str(&serde_json::to_string(v).expect("a string always serializes"));
        };
        let mut head = String::with_capacity(80);
        head.push('{');
        if let Some(id) = id {
            head.push_str(r#""id":"#);
            string(&mut head, id);
            head.push(',');
        }
        head.push_str(r#""type":"function_call","status":"completed","arguments":"#);
        let mut tail = String::with_capacity(32 + call_id.len() + name.len());
        tail.push_str(r#","call_id":"#);
        string(&mut tail, call_id);
        tail.push_str(r#","name":"#);
        string(&mut tail, name);
        tail.push('}');
        CallItem { head, tail }
    }

    /// The item `output_item.done` gives for this call, in OpenAI's key order, with the
    /// `arguments` JSON string as received.
    fn done(&self, arguments: &RawValue) -> String {
        let arguments = arguments.get();
        let mut item = String::with_capacity(self.head.len() + arguments.len() + self.tail.len());
        item.push_str(&self.head);
        item.push_str(arguments);
        item.push_str(&self.tail);
        item
    }
}

/// A JSON string value, decoded (`None` when it is not a string).
fn string_value(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str(raw.get()).ok()
}

/// Decoder for Responses API events. See the [module docs](self).
#[derive(Debug, Default, Clone)]
pub struct OpenAiResponsesDecoder {
    started: bool,
    blocks: BlockCounter,
    slots: Vec<Slot>,
    /// Output item ids and their `output_index`, for events that give only `item_id`.
    items: HashMap<String, usize>,
    /// (`output_index`, content part) → slot. Item-level blocks (function calls,
    /// reasoning) have no content part; text parts always have one.
    keys: HashMap<(usize, Option<usize>), usize>,
    /// `output_index` → its slots, for `output_item.done`.
    by_output: HashMap<usize, Vec<usize>>,
    calls: usize,
    errored: bool,
    /// Payloads the fast path read.
    fast_payloads: usize,
}

impl OpenAiResponsesDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one payload (the SSE `data`).
    ///
    /// # Errors
    ///
    /// [`DecodeError::InvalidPayload`] when the payload is not an event, or a known event
    /// lacks the index it needs.
    pub fn push(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        // The two hottest events skip serde when they have one of the exact shapes in
        // `fast.rs`; the piece read is applied by the same code as a parsed event.
        match fast::event(data) {
            Some(Piece::Text {
                output_index,
                content_index,
                delta,
            }) => {
                self.fast_payloads += 1;
                self.text_delta(Block::Text, output_index, content_index, delta, out)
            }
            Some(Piece::Arguments {
                output_index,
                delta,
            }) => {
                self.fast_payloads += 1;
                self.arguments_delta(output_index, Some(delta), out)
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
        // LiteLLM ends Responses streams as Chat Completions streams end; openai-python
        // (`if sse.data.startswith("[DONE]"): break`) and the Vercel AI SDK stop there.
        if data.trim_end() == "[DONE]" {
            return Ok(());
        }
        let Some(mut p) = parse_typed::<Payload>(Provider::OpenAiResponses, data, is_known)? else {
            return Ok(());
        };
        // An OpenAI-style error body, `{"error": {"message", "type", "code", ...}}`, has no
        // `type` of its own: it is an `error` event (SPEC §4, "Tolerances").
        let kind: Cow<str> = match p.kind.take() {
            Some(kind) => kind,
            None if p.error.is_some() => Cow::Borrowed("error"),
            None => {
                return Err(DecodeError::InvalidField {
                    provider: Provider::OpenAiResponses,
                    event: "message".into(),
                    reason: "missing field `type`",
                })
            }
        };
        let missing = |reason| DecodeError::InvalidField {
            provider: Provider::OpenAiResponses,
            event: kind.to_string(),
            reason,
        };
        // Unknown events are skipped whatever their `item` holds (providers add events).
        let raw_item = p.item.filter(|_| is_known(&kind));
        let item = match raw_item {
            Some(raw) => Some(serde_json::from_str::<Item>(raw.get()).map_err(|source| {
                DecodeError::InvalidPayload {
                    provider: Provider::OpenAiResponses,
                    event: kind.to_string(),
                    source,
                }
            })?),
            None => None,
        };
        // Events name their item by `output_index`; when one leaves it out, its `item_id`
        // (or its item's `id`) finds the index given when the item was added.
        let item_id = p
            .item_id
            .as_deref()
            .or_else(|| item.as_ref().and_then(|i| i.id.as_deref()));
        let output_index = p.output_index.or_else(|| {
            let id = item_id?;
            self.items.get(id).copied()
        });
        let output_index = output_index.ok_or_else(|| missing("missing `output_index`"));
        match &*kind {
            "response.created" | "response.in_progress" if !self.started => {
                self.started = true;
                let (id, model) = match p.response {
                    Some(r) => (r.id.map(Cow::into_owned), r.model.map(Cow::into_owned)),
                    None => (None, None),
                };
                out.push(StreamEvent::MessageStart {
                    id,
                    model,
                    usage: Usage::default(),
                });
            }
            "response.output_item.added" => {
                let output = output_index?;
                let item = item.ok_or_else(|| missing("missing `item`"))?;
                if let Some(id) = &item.id {
                    self.items.insert(id.to_string(), output);
                }
                let owned = |s: Option<Cow<str>>| s.map(Cow::into_owned).unwrap_or_default();
                let (block, kind) = match &*item.kind {
                    // Text arrives in content parts, opened by `content_part.added`.
                    "message" => return Ok(()),
                    "function_call" => {
                        self.calls += 1;
                        let item_id = item.id.as_deref().map(str::to_owned);
                        let call_id = owned(item.call_id.or(item.id));
                        let name = owned(item.name);
                        let call = CallItem::new(item_id.as_deref(), &call_id, &name);
                        let block = Block::ToolUse { id: call_id, name };
                        let kind = Kind::Call {
                            saw_arguments: false,
                        };
                        let slot = self.open(output, None, block, kind, out)?;
                        self.slots[slot].call = Some(Box::new(call));
                        return Ok(());
                    }
                    "reasoning" => (Block::Thinking, Kind::Other),
                    k if k.ends_with("_call") => (
                        Block::ServerToolUse {
                            id: owned(item.id),
                            name: k.trim_end_matches("_call").to_owned(),
                        },
                        Kind::Other,
                    ),
                    k => (Block::Other { kind: k.to_owned() }, Kind::Other),
                };
                self.open(output, None, block, kind, out)?;
            }
            "response.content_part.added" => {
                let output = output_index?;
                let block = match p.part.as_ref().map(|x| &*x.kind) {
                    Some("refusal") => Block::Refusal,
                    _ => Block::Text,
                };
                let content = Some(p.content_index.unwrap_or(0));
                self.open(output, content, block, Kind::Text, out)?;
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let output = output_index?;
                let block = if kind.starts_with("response.refusal") {
                    Block::Refusal
                } else {
                    Block::Text
                };
                let content = p.content_index.unwrap_or(0);
                let text = p.delta.unwrap_or_default();
                self.text_delta(block, output, content, text, out)?;
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let output = output_index?;
                let _ = p.summary_index;
                let index = self.find_or_open(output, None, Block::Thinking, out)?;
                let text = p.delta.unwrap_or_default().into_owned();
                out.push(StreamEvent::BlockDelta {
                    index,
                    delta: Delta::Thinking(text),
                });
            }
            "response.function_call_arguments.delta" => {
                self.arguments_delta(output_index?, p.delta, out)?;
            }
            "response.function_call_arguments.done" => {
                let output = output_index?;
                if let Some(slot) = self.find(output, None) {
                    // The call completes here: the item that goes back is built now.
                    if p.arguments.is_some_and(|a| !a.get().starts_with('"')) {
                        return Err(missing("`arguments` is not a string"));
                    }
                    let item = match (&self.slots[slot].call, p.arguments) {
                        (Some(call), Some(arguments)) => Some(call.done(arguments)),
                        _ => None,
                    };
                    // Decoded only when no delta gave the arguments.
                    let only_here = self.slots[slot].kind
                        == Kind::Call {
                            saw_arguments: false,
                        };
                    let arguments = p.arguments.filter(|_| only_here).and_then(string_value);
                    self.end(slot, arguments, item, out);
                }
            }
            // Text parts end with their item (`output_item.done`), which carries the
            // message to echo: the part is not ended here.
            "response.content_part.done" => {
                output_index?;
            }
            "response.output_item.done" => {
                let output = output_index?;
                let whole = item.as_ref().is_some_and(Item::is_whole);
                let arguments = item.and_then(|i| i.arguments);
                // Every block of this output item ends here, in block order; the first
                // carries the item, as received.
                let slots = self.by_output.get(&output).cloned().unwrap_or_default();
                let mut verbatim = raw_item.filter(|_| whole).map(|r| r.get().to_owned());
                for slot in slots {
                    self.end(slot, arguments.clone(), verbatim.take(), out);
                }
            }
            "response.completed" | "response.incomplete" => {
                let r = p.response;
                let (usage, reason) = match r {
                    Some(r) => (
                        // `input_tokens` counts the cached ones, `output_tokens` the
                        // reasoning ones, as SPEC §4 normalizes them.
                        r.usage.map(|u| Usage {
                            input_tokens: u.input_tokens,
                            output_tokens: u.output_tokens,
                            cache_read_input_tokens: u
                                .input_tokens_details
                                .and_then(|d| d.cached_tokens),
                            cache_write_input_tokens: None,
                            reasoning_tokens: u
                                .output_tokens_details
                                .and_then(|d| d.reasoning_tokens),
                        }),
                        r.incomplete_details.and_then(|d| d.reason),
                    ),
                    None => (None, None),
                };
                let stop = if kind == "response.completed" {
                    let kind = if self.calls > 0 {
                        StopKind::ToolUse
                    } else {
                        StopKind::EndTurn
                    };
                    StopReason::new(kind, "completed")
                } else {
                    let kind = match reason.as_deref() {
                        Some("max_output_tokens") => StopKind::MaxTokens,
                        Some("content_filter") => StopKind::ContentFilter,
                        _ => StopKind::Other,
                    };
                    StopReason::new(kind, "incomplete")
                };
                self.close_all(out);
                out.push(StreamEvent::MessageDelta {
                    stop_reason: Some(stop),
                    usage: usage.unwrap_or_default(),
                });
                out.push(StreamEvent::MessageStop);
            }
            "response.failed" => {
                let r = p.response;
                if let Some(e) = r.and_then(|r| r.error) {
                    if !self.errored {
                        self.errored = true;
                        out.push(StreamEvent::Error(ProviderError {
                            kind: e.code().unwrap_or_else(|| "error".into()),
                            message: e.message.map(Cow::into_owned).unwrap_or_default(),
                        }));
                    }
                }
                out.push(StreamEvent::MessageDelta {
                    stop_reason: Some(StopReason::new(StopKind::Error, "failed")),
                    usage: Usage::default(),
                });
            }
            // Documented with `code` and `message` at the top level; the live API nests
            // them in `error` (with a `type` such as "tokens").
            "error" => {
                self.errored = true;
                let (code, message) = match p.error {
                    Some(e) => (e.code().or(e.kind.map(Cow::into_owned)), e.message),
                    None => (p.code.map(Cow::into_owned), p.message),
                };
                out.push(StreamEvent::Error(ProviderError {
                    kind: code.unwrap_or_else(|| "error".into()),
                    message: message.map(Cow::into_owned).unwrap_or_default(),
                }));
            }
            _ => {}
        }
        Ok(())
    }

    /// End of input.
    ///
    /// # Errors
    ///
    /// None today; the signature matches the other decoders.
    pub fn finish(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        Ok(())
    }

    /// A piece of text or refusal for content part `content` of output item `output`
    /// (opening its block when no `content_part.added` did).
    fn text_delta(
        &mut self,
        block: Block,
        output: usize,
        content: usize,
        text: Cow<'_, str>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let index = self.find_or_open(output, Some(content), block, out)?;
        out.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::Text(text.into_owned()),
        });
        Ok(())
    }

    /// A fragment of the arguments of the function call at output item `output`.
    fn arguments_delta(
        &mut self,
        output: usize,
        delta: Option<Cow<'_, str>>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let slot = self
            .find(output, None)
            .filter(|&s| matches!(self.slots[s].kind, Kind::Call { .. }))
            .ok_or_else(|| DecodeError::InvalidField {
                provider: Provider::OpenAiResponses,
                event: "response.function_call_arguments.delta".into(),
                reason: "arguments for a function call that never started",
            })?;
        let s = &mut self.slots[slot];
        s.kind = Kind::Call {
            saw_arguments: true,
        };
        if let Some(d) = delta.filter(|d| !d.is_empty()) {
            out.push(StreamEvent::BlockDelta {
                index: s.block,
                delta: Delta::ToolInput(d.into_owned()),
            });
        }
        Ok(())
    }

    fn find(&self, output: usize, content: Option<usize>) -> Option<usize> {
        self.keys.get(&(output, content)).copied()
    }

    fn open(
        &mut self,
        output: usize,
        content: Option<usize>,
        block: Block,
        kind: Kind,
        out: &mut Vec<StreamEvent>,
    ) -> Result<usize, DecodeError> {
        if self.slots.len() >= MAX_SLOTS {
            return Err(DecodeError::InvalidField {
                provider: Provider::OpenAiResponses,
                event: "response.output_item.added".into(),
                reason: "more than 4096 output items and parts in one response",
            });
        }
        let index = self.blocks.next();
        out.push(StreamEvent::BlockStart { index, block });
        let slot = self.slots.len();
        self.slots.push(Slot {
            block: index,
            kind,
            open: true,
            call: None,
        });
        self.keys.insert((output, content), slot);
        self.by_output.entry(output).or_default().push(slot);
        Ok(slot)
    }

    fn find_or_open(
        &mut self,
        output: usize,
        content: Option<usize>,
        block: Block,
        out: &mut Vec<StreamEvent>,
    ) -> Result<usize, DecodeError> {
        let slot = match self.find(output, content) {
            Some(s) => s,
            None => self.open(output, content, block, Kind::Text, out)?,
        };
        Ok(self.slots[slot].block)
    }

    /// Ends a block: arguments given only at the end first, then the item to echo, then
    /// the stop.
    fn end(
        &mut self,
        slot: usize,
        arguments: Option<Cow<'_, str>>,
        verbatim: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) {
        let s = &mut self.slots[slot];
        if !s.open {
            return;
        }
        s.open = false;
        // Arguments given only at the end (no deltas): the `done` event carries them whole.
        if s.kind
            == (Kind::Call {
                saw_arguments: false,
            })
        {
            if let Some(args) = arguments.filter(|a| !a.is_empty()) {
                out.push(StreamEvent::BlockDelta {
                    index: s.block,
                    delta: Delta::ToolInput(args.into_owned()),
                });
            }
        }
        if let Some(item) = verbatim {
            out.push(StreamEvent::BlockDelta {
                index: s.block,
                delta: Delta::Verbatim(item),
            });
        }
        out.push(StreamEvent::BlockStop { index: s.block });
    }

    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        for s in self.slots.iter_mut().filter(|s| s.open) {
            s.open = false;
            // A function call never ended by its own event is not complete: leave it open.
            if matches!(s.kind, Kind::Call { .. }) {
                continue;
            }
            out.push(StreamEvent::BlockStop { index: s.block });
        }
    }
}
