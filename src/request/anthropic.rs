use serde_json::value::RawValue;

use super::{raw_input, to_raw, J};
use crate::assemble::AssembledMessage;
use crate::event::Block;
use crate::execute::ToolResult;

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let inputs: Vec<&RawValue> = message.tool_calls.iter().map(|c| raw_input(c)).collect();
    let mut parts = Vec::new();

    for b in &message.blocks {
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
                ("content", J::Str(&r.content)),
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
