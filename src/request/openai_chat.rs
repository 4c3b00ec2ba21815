//! Chat Completions: the assistant message and the `tool` role messages.
//!
//! What goes back on the assistant message besides `content` and `tool_calls` is what the
//! decoder marked with [`Delta::Verbatim`](crate::Delta::Verbatim) (see
//! `provider::openai_chat`):
//! - the reasoning text when it arrived as `reasoning_content` (the field is named by the
//!   thinking block's verbatim). DeepSeek, "Thinking Mode": "for turns that do perform
//!   tool calls, the `reasoning_content` must be fully passed back to the API in all
//!   subsequent requests. If your code does not correctly pass back `reasoning_content`,
//!   the API will return a 400 error". Reasoning that arrived as `reasoning` (Groq,
//!   OpenRouter) is not echoed: Groq refuses the field ("'messages.1' : for
//!   'role:assistant' ... property 'reasoning' is unsupported"), and OpenRouter keeps its
//!   reasoning in `reasoning_details`;
//! - OpenRouter's `reasoning_details` array as received (pieces merged). OpenRouter,
//!   "Reasoning Tokens", "Preserving Reasoning Blocks": pass `reasoning_details` back on
//!   the assistant message, unmodified;
//! - each tool call's `extra_content` as received. Gemini API, "OpenAI compatibility":
//!   the thought signature of a function call comes in
//!   `extra_content.google.thought_signature` on the tool call and must go back on it
//!   (Gemini 3 answers 400 "Function call is missing a thought_signature" otherwise).
//!
//! Text that is empty or whitespace only is not echoed (SPEC §6): `content` is `null` when
//! the message has tool calls (OpenAI: `content` is "required unless `tool_calls` or
//! `function_call` is specified"), `""` otherwise.

use serde_json::value::RawValue;

use super::{to_raw, J};
use crate::assemble::AssembledMessage;
use crate::event::Block;
use crate::execute::ToolResult;

/// The block kind that carries OpenRouter's `reasoning_details`.
const REASONING_DETAILS: &str = "reasoning_details";

/// JSON text given by the decoder, when it is JSON.
fn raw(json: &str) -> Option<&RawValue> {
    serde_json::from_str(json).ok()
}

fn null() -> &'static RawValue {
    serde_json::from_str("null").expect("`null` is JSON")
}

/// The field the reasoning text goes back in: `reasoning_content` when it arrived there;
/// none for `reasoning` (see the module docs).
fn reasoning_field(message: &AssembledMessage) -> Option<&'static str> {
    let named = message.blocks.iter().find_map(|b| match b.block {
        Block::Thinking => b.verbatim.as_deref(),
        _ => None,
    })?;
    match serde_json::from_str::<&str>(named).ok()? {
        "reasoning_content" => Some("reasoning_content"),
        _ => None,
    }
}

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let text = message.text();
    let thinking = message.thinking();
    let has_calls = !message.tool_calls.is_empty();

    let mut fields = vec![("role", J::Str("assistant"))];
    let content = match (text.trim().is_empty(), has_calls) {
        (false, _) => J::Str(&text),
        (true, true) => J::Raw(null()),
        (true, false) => J::Str(""),
    };
    fields.push(("content", content));
    if let (Some(field), false) = (reasoning_field(message), thinking.is_empty()) {
        fields.push((field, J::Str(&thinking)));
    }
    let details = message.blocks.iter().find_map(|b| match &b.block {
        Block::Other { kind } if kind == REASONING_DETAILS => b.verbatim.as_deref().and_then(raw),
        _ => None,
    });
    if let Some(details) = details {
        fields.push(("reasoning_details", J::Raw(details)));
    }
    if has_calls {
        // Each call's `extra_content`, found through its block.
        let mut extra: Vec<Option<&RawValue>> = vec![None; message.tool_calls.len()];
        for b in &message.blocks {
            if let (Some(c), Some(v)) = (b.tool_call, b.verbatim.as_deref()) {
                if let Some(slot) = extra.get_mut(c) {
                    *slot = raw(v);
                }
            }
        }
        let calls = message
            .tool_calls
            .iter()
            .zip(extra)
            .map(|(c, extra)| {
                let mut call = vec![
                    ("id", J::Str(&c.id)),
                    ("type", J::Str("function")),
                    (
                        "function",
                        J::Obj(vec![
                            ("name", J::Str(&c.name)),
                            ("arguments", J::Str(&c.arguments)),
                        ]),
                    ),
                ];
                if let Some(extra) = extra {
                    call.push(("extra_content", J::Raw(extra)));
                }
                J::Obj(call)
            })
            .collect();
        fields.push(("tool_calls", J::Arr(calls)));
    }
    to_raw(&J::Obj(fields))
}

/// The tool-results message, in request order.
pub(super) fn results(results: &[ToolResult]) -> Box<RawValue> {
    to_raw(&J::Arr(
        results
            .iter()
            .map(|r| {
                J::Obj(vec![
                    ("role", J::Str("tool")),
                    ("tool_call_id", J::Str(&r.id)),
                    ("content", super::parts::openai_chat(r)),
                ])
            })
            .collect(),
    ))
}
