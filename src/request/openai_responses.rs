//! Responses: the output items that go back in `input`, and the `function_call_output`
//! items.
//!
//! The assistant message is the response's output items, in the order received, each as
//! the stream gave it (the decoder's [`Delta::Verbatim`](crate::Delta::Verbatim) on the
//! item's block), as openai-python's `input += response.output` sends them. OpenAI,
//! "Reasoning models", keeping reasoning items in context: "pass in all reasoning items
//! between the latest function call and the previous user message"; each reasoning item
//! goes with the item that followed it (its `id`), or the request fails with 400 "Item
//! 'rs_...' of type 'reasoning' was provided without its required following item" (and
//! "Item 'fc_...' of type 'function_call' was provided without its required 'reasoning'
//! item" the other way round).
//!
//! Where the stream gave no item, one is built: a `message` with the text of its parts
//! (not when the text is empty or whitespace only, SPEC §6), a `function_call` from the
//! call. A reasoning item, a provider-run tool call or an unknown item is identified by an
//! `id` only the item itself carries: without it, it is left out.

use serde_json::value::RawValue;

use super::{to_raw, J};
use crate::assemble::{AssembledMessage, ContentBlock};
use crate::event::Block;
use crate::execute::ToolResult;

/// The item given for a block, when it is JSON.
fn item(block: &ContentBlock) -> Option<&RawValue> {
    serde_json::from_str(block.verbatim.as_deref()?).ok()
}

fn is_text(block: &ContentBlock) -> bool {
    matches!(block.block, Block::Text | Block::Refusal)
}

/// A `message` item built from the text of parts that came without their item.
fn built_message(text: &str) -> J<'_> {
    J::Obj(vec![
        ("type", J::Str("message")),
        ("role", J::Str("assistant")),
        (
            "content",
            J::Arr(vec![J::Obj(vec![
                ("type", J::Str("output_text")),
                ("text", J::Str(text)),
                ("annotations", J::Arr(Vec::new())),
            ])]),
        ),
    ])
}

/// The assistant message as it goes back into the history: an array of input items.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let blocks = &message.blocks;
    // Built messages' texts, kept alive while `parts` borrows them.
    let mut texts: Vec<(usize, String)> = Vec::new();
    // (block position, item) in block order; a built message is a `None` resolved below.
    let mut parts: Vec<(usize, Option<J<'_>>)> = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        let b = &blocks[i];
        if is_text(b) {
            // One message item: its first part carries the item when the stream gave it;
            // the parts after it, up to the next item, belong to it.
            let end = blocks[i + 1..]
                .iter()
                .position(|n| !is_text(n) || n.verbatim.is_some())
                .map_or(blocks.len(), |p| i + 1 + p);
            match item(b) {
                Some(raw) => parts.push((i, Some(J::Raw(raw)))),
                None => {
                    let text: String = blocks[i..end]
                        .iter()
                        .filter(|p| matches!(p.block, Block::Text))
                        .map(|p| p.text.as_str())
                        .collect();
                    if !text.trim().is_empty() {
                        texts.push((i, text));
                        parts.push((i, None));
                    }
                }
            }
            i = end;
            continue;
        }
        match (&b.block, item(b)) {
            (_, Some(raw)) => parts.push((i, Some(J::Raw(raw)))),
            (Block::ToolUse { .. }, None) => {
                if let Some(c) = b.tool_call.and_then(|c| message.tool_calls.get(c)) {
                    parts.push((
                        i,
                        Some(J::Obj(vec![
                            ("type", J::Str("function_call")),
                            ("call_id", J::Str(&c.id)),
                            ("name", J::Str(&c.name)),
                            ("arguments", J::Str(&c.arguments)),
                        ])),
                    ));
                }
            }
            _ => {}
        }
        i += 1;
    }
    let items = parts
        .into_iter()
        .map(|(at, part)| match part {
            Some(j) => j,
            None => {
                let text = texts
                    .iter()
                    .find(|(p, _)| *p == at)
                    .map_or("", |(_, t)| t.as_str());
                built_message(text)
            }
        })
        .collect();
    to_raw(&J::Arr(items))
}

/// The tool-results message, in request order.
pub(super) fn results(results: &[ToolResult]) -> Box<RawValue> {
    to_raw(&J::Arr(
        results
            .iter()
            .map(|r| {
                J::Obj(vec![
                    ("type", J::Str("function_call_output")),
                    ("call_id", J::Str(&r.id)),
                    ("output", super::parts::openai_responses(r)),
                ])
            })
            .collect(),
    ))
}
