//! Anthropic Messages API: the assistant message and the `tool_result` message.
//!
//! The assistant message holds every block the model produced, in the order received
//! (SPEC §6, "What goes back"):
//! - `thinking` with its `signature`, and `redacted_thinking` as received: "When passing
//!   thinking and redacted_thinking blocks back to the API in a multi-turn conversation,
//!   you must include the complete unmodified block back to the API for the last assistant
//!   turn" (a thinking block without a signature cannot be verified and is left out);
//! - `text`, unless empty or whitespace only ("text content blocks must be non-empty");
//! - `tool_use` with the model's own input bytes;
//! - `server_tool_use` / `mcp_tool_use` as their start object, with the input that
//!   streamed after it in place of `input` (key order kept), and the `*_tool_result`,
//!   `compaction` and other blocks that arrive whole, as received: "The result block appears
//!   immediately after the `server_tool_use` block in the same assistant turn"; after
//!   `pause_turn`, "append the assistant content to messages" and call again.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{raw_input, to_raw, J};
use crate::assemble::{AssembledMessage, ContentBlock};
use crate::event::Block;
use crate::execute::ToolResult;

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let inputs: Vec<&RawValue> = message.tool_calls.iter().map(|c| raw_input(c)).collect();
    // Server tool calls' start objects, split into their fields (borrowed by `parts`).
    let starts: Vec<Option<Fields<'_>>> = message
        .blocks
        .iter()
        .map(|b| match b.block {
            Block::ServerToolUse { .. } => verbatim(b).and_then(|raw| Fields::of(raw.get())),
            _ => None,
        })
        .collect();
    let mut parts = Vec::new();

    for (b, start) in message.blocks.iter().zip(&starts) {
        match (&b.block, b.tool_call) {
            (Block::Thinking, _) if !b.signature.is_empty() => parts.push(J::Obj(vec![
                ("type", J::Str("thinking")),
                ("thinking", J::Str(&b.text)),
                ("signature", J::Str(&b.signature)),
            ])),
            (Block::Text, _) if !b.text.trim().is_empty() => parts.push(J::Obj(vec![
                ("type", J::Str("text")),
                ("text", J::Str(&b.text)),
            ])),
            (Block::ToolUse { id, name }, Some(c)) => parts.push(J::Obj(vec![
                ("type", J::Str("tool_use")),
                ("id", J::Str(id)),
                ("name", J::Str(name)),
                ("input", J::Raw(inputs[c])),
            ])),
            (Block::ServerToolUse { id, name }, _) => {
                parts.push(server_tool_use(b, start.as_ref(), id, name));
            }
            (Block::RedactedThinking | Block::Other { .. }, _) => {
                parts.extend(verbatim(b).map(J::Raw));
            }
            _ => {}
        }
    }
    to_raw(&J::Obj(vec![
        ("role", J::Str("assistant")),
        ("content", J::Arr(parts)),
    ]))
}

/// The tool-results message, in request order.
pub(super) fn results(results: &[ToolResult]) -> Box<RawValue> {
    let blocks = results
        .iter()
        .map(|r| {
            let mut b = vec![
                ("type", J::Str("tool_result")),
                ("tool_use_id", J::Str(&r.id)),
                ("content", super::parts::anthropic(r)),
            ];
            if !r.is_ok() {
                b.push(("is_error", J::Bool(true)));
            }
            J::Obj(b)
        })
        .collect();
    to_raw(&J::Obj(vec![
        ("role", J::Str("user")),
        ("content", J::Arr(blocks)),
    ]))
}

/// The block's provider state as received, when it has some and it is JSON.
fn verbatim(b: &ContentBlock) -> Option<&RawValue> {
    serde_json::from_str(b.verbatim.as_deref()?).ok()
}

/// `{}`, for a call whose input never came.
fn empty_object() -> &'static RawValue {
    serde_json::from_str("{}").expect("`{}` is JSON")
}

/// A server tool call: its start object as received with the streamed input in place of
/// `input` (added last when the start had none, as the documented stream example shows),
/// or, without a start object, one built from its id and name.
fn server_tool_use<'a>(
    b: &'a ContentBlock,
    start: Option<&'a Fields<'a>>,
    id: &'a str,
    name: &'a str,
) -> J<'a> {
    let streamed = Some(b.text.trim())
        .filter(|t| t.starts_with('{'))
        .and_then(|t| serde_json::from_str::<&RawValue>(t).ok());
    let Some(start) = start else {
        return J::Obj(vec![
            ("type", J::Str("server_tool_use")),
            ("id", J::Str(id)),
            ("name", J::Str(name)),
            ("input", J::Raw(streamed.unwrap_or(empty_object()))),
        ]);
    };
    let mut fields: Vec<(&str, J<'_>)> = start
        .0
        .iter()
        .map(|(k, v)| match (k.as_str(), streamed) {
            ("input", Some(input)) => ("input", J::Raw(input)),
            (k, _) => (k, J::Raw(v)),
        })
        .collect();
    if !start.0.iter().any(|(k, _)| k == "input") {
        fields.push(("input", J::Raw(streamed.unwrap_or(empty_object()))));
    }
    J::Obj(fields)
}

/// A JSON object's fields in the order written, values raw.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// `None` when `json` is not an object.
    fn of(json: &'a str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push(field);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(InOrder)
    }
}
