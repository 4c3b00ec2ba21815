use serde_json::value::RawValue;

use super::{to_raw, J};
use crate::assemble::AssembledMessage;
use crate::execute::ToolResult;

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let text = message.text();

    let mut fields = vec![("role", J::Str("assistant"))];
    fields.push(("content", J::Str(&text)));
    if !message.tool_calls.is_empty() {
        let calls = message
            .tool_calls
            .iter()
            .map(|c| {
                J::Obj(vec![
                    ("id", J::Str(&c.id)),
                    ("type", J::Str("function")),
                    (
                        "function",
                        J::Obj(vec![
                            ("name", J::Str(&c.name)),
                            ("arguments", J::Str(&c.arguments)),
                        ]),
                    ),
                ])
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
                    ("content", J::Str(&r.content)),
                ])
            })
            .collect(),
    ))
}
