use serde_json::value::RawValue;

use super::{to_raw, J};
use crate::assemble::AssembledMessage;
use crate::execute::ToolResult;

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let text = message.text();
    let mut parts = Vec::new();

    if !text.is_empty() {
        parts.push(J::Obj(vec![
            ("type", J::Str("message")),
            ("role", J::Str("assistant")),
            (
                "content",
                J::Arr(vec![J::Obj(vec![
                    ("type", J::Str("output_text")),
                    ("text", J::Str(&text)),
                    ("annotations", J::Arr(Vec::new())),
                ])]),
            ),
        ]));
    }
    for c in &message.tool_calls {
        parts.push(J::Obj(vec![
            ("type", J::Str("function_call")),
            ("call_id", J::Str(&c.id)),
            ("name", J::Str(&c.name)),
            ("arguments", J::Str(&c.arguments)),
        ]));
    }
    to_raw(&J::Arr(parts))
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
                    ("output", J::Str(&r.content)),
                ])
            })
            .collect(),
    ))
}
