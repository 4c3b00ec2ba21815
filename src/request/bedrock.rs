use serde_json::value::RawValue;

use super::{raw_input, to_raw, Context, J};
use crate::assemble::AssembledMessage;
use crate::execute::ToolResult;

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    let inputs: Vec<&RawValue> = message.tool_calls.iter().map(|c| raw_input(c)).collect();
    let text = message.text();
    let mut parts = Vec::new();

    if !text.is_empty() {
        parts.push(J::Obj(vec![("text", J::Str(&text))]));
    }
    for (c, input) in message.tool_calls.iter().zip(&inputs) {
        parts.push(J::Obj(vec![(
            "toolUse",
            J::Obj(vec![
                ("toolUseId", J::Str(&c.id)),
                ("name", J::Str(&c.name)),
                ("input", J::Raw(input)),
            ]),
        )]));
    }
    to_raw(&J::Obj(vec![
        ("role", J::Str("assistant")),
        ("content", J::Arr(parts)),
    ]))
}

/// The tool-results message, in request order.
pub(super) fn results(cx: Context<'_>, results: &[ToolResult]) -> Box<RawValue> {
    let _ = cx;

    let blocks = results
        .iter()
        .map(|r| {
            let mut b = vec![
                ("toolUseId", J::Str(&r.id)),
                (
                    "content",
                    J::Arr(vec![J::Obj(vec![("text", J::Str(&r.content))])]),
                ),
            ];
            if !r.is_ok() {
                b.push(("status", J::Str("error")));
            }
            J::Obj(vec![("toolResult", J::Obj(b))])
        })
        .collect();
    to_raw(&J::Obj(vec![
        ("role", J::Str("user")),
        ("content", J::Arr(blocks)),
    ]))
}
