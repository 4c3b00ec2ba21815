//! Gemini `contents`: the model's content echoed back part by part, and the
//! `functionResponse` parts that answer its calls.
//!
//! What goes back (SPEC §6; Gemini API, "Thought signatures"): "you must return these
//! signatures back to the model in your request exactly as they were received", on the
//! parts that carried them; "Don't concatenate parts with signatures together. Don't merge
//! one part with a signature with another part without a signature." The decoder keeps
//! each signed part in a block of its own, so the echo writes one part per block, in the
//! order received: a signed part as received (even with empty text), unsigned text unless
//! it is empty or whitespace only, unsigned thought summaries not at all (the model reads
//! nothing from them). A call goes back as the `functionCall` object received (its `id`
//! included); the crate's own `call_N` ids never go on the wire.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{raw_input, to_raw, Context, J};
use crate::assemble::{AssembledMessage, ContentBlock, ToolCall};
use crate::event::Block;
use crate::execute::ToolResult;

/// The `id` of a `functionCall` object as received, when it has one.
fn call_id(verbatim: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        id: Option<String>,
    }
    serde_json::from_str::<Id>(verbatim)
        .ok()
        .and_then(|c| c.id)
        .filter(|id| !id.is_empty())
}

/// The block that carried `call`.
fn call_block<'m>(message: &'m AssembledMessage, call: &ToolCall) -> Option<&'m ContentBlock> {
    message
        .blocks
        .iter()
        .find(|b| b.tool_call == Some(call.index))
}

/// A signed part: `part` then its signature, exactly as received.
fn signed<'a>(mut part: Vec<(&'a str, J<'a>)>, signature: &'a str) -> J<'a> {
    if !signature.is_empty() {
        part.push(("thoughtSignature", J::Str(signature)));
    }
    J::Obj(part)
}

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let inputs: Vec<&RawValue> = message.tool_calls.iter().map(|c| raw_input(c)).collect();
    // Calls whose block holds no verbatim object (or whose arguments are unusable) are
    // rebuilt: name, arguments, and the provider's id when it gave one.
    let rebuilt_ids: Vec<Option<String>> = message
        .tool_calls
        .iter()
        .map(|c| {
            call_block(message, c)
                .and_then(|b| b.verbatim.as_deref())
                .and_then(call_id)
        })
        .collect();
    let mut parts = Vec::new();
    for b in &message.blocks {
        let sig = b.signature.as_str();
        match &b.block {
            Block::Text if !sig.is_empty() || !b.text.trim().is_empty() => {
                parts.push(signed(vec![("text", J::Str(&b.text))], sig));
            }
            // A thought part goes back only when it carries a signature.
            Block::Thinking if !sig.is_empty() => {
                parts.push(signed(
                    vec![("text", J::Str(&b.text)), ("thought", J::Bool(true))],
                    sig,
                ));
            }
            Block::ToolUse { .. } => {
                let Some(c) = b.tool_call.and_then(|i| message.tool_calls.get(i)) else {
                    continue;
                };
                let call = match (&b.verbatim, &c.input) {
                    (Some(v), Ok(_)) => match serde_json::from_str::<&RawValue>(v) {
                        Ok(raw) => J::Raw(raw),
                        Err(_) => rebuilt(c, inputs[c.index], &rebuilt_ids[c.index]),
                    },
                    _ => rebuilt(c, inputs[c.index], &rebuilt_ids[c.index]),
                };
                parts.push(signed(vec![("functionCall", call)], sig));
            }
            _ => {}
        }
    }
    to_raw(&J::Obj(vec![
        ("role", J::Str("model")),
        ("parts", J::Arr(parts)),
    ]))
}

/// A `functionCall` object from the assembled call.
fn rebuilt<'a>(c: &'a ToolCall, input: &'a RawValue, id: &'a Option<String>) -> J<'a> {
    let mut call = vec![("name", J::Str(&c.name)), ("args", J::Raw(input))];
    if let Some(id) = id {
        call.push(("id", J::Str(id)));
    }
    J::Obj(call)
}

/// The tool-results message, in request order. Each `functionResponse` carries the `id`
/// of the call it answers when the provider gave the call one ("return the response with
/// the matching id", FunctionCall.id), found through the message the results answer.
pub(super) fn results(cx: Context<'_>, results: &[ToolResult]) -> Box<RawValue> {
    let ids: Vec<Option<String>> = results
        .iter()
        .map(|r| {
            cx.message
                .tool_calls
                .get(r.index)
                .filter(|c| *c.id == *r.id)
                .and_then(|c| call_block(cx.message, c))
                .and_then(|b| b.verbatim.as_deref())
                .and_then(call_id)
        })
        .collect();
    let parts = results
        .iter()
        .zip(&ids)
        .map(|(r, id)| {
            // "Use "output" key to specify function output and "error" key to
            // specify error details" (Gemini API, FunctionResponse.response).
            let key = if r.is_ok() { "output" } else { "error" };
            let mut response = Vec::with_capacity(3);
            if let Some(id) = id {
                response.push(("id", J::Str(id)));
            }
            response.push(("name", J::Str(&r.name)));
            // Errors are their message; answers in parts give the JSON value itself,
            // and images as the response's own `parts` (multimodal function responses).
            let (output, images) = match r.is_ok() {
                true => super::parts::gemini(r),
                false => (J::Str(&r.content), None),
            };
            response.push(("response", J::Obj(vec![(key, output)])));
            response.extend(images.map(|images| ("parts", images)));
            J::Obj(vec![("functionResponse", J::Obj(response))])
        })
        .collect();
    to_raw(&J::Obj(vec![
        ("role", J::Str("user")),
        ("parts", J::Arr(parts)),
    ]))
}
