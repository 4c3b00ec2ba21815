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
        let mut part = vec![(
            "functionCall",
            J::Obj(vec![("name", J::Str(&c.name)), ("args", J::Raw(input))]),
        )];
        let signature = message
            .blocks
            .iter()
            .find(|b| b.tool_call == Some(c.index))
            .map(|b| b.signature.as_str())
            .unwrap_or_default();
        if !signature.is_empty() {
            part.push(("thoughtSignature", J::Str(signature)));
        }
        parts.push(J::Obj(part));
    }
    to_raw(&J::Obj(vec![
        ("role", J::Str("model")),
        ("parts", J::Arr(parts)),
    ]))
}

/// The tool-results message, in request order.
pub(super) fn results(cx: Context<'_>, results: &[ToolResult]) -> Box<RawValue> {
    let _ = cx;

    let parts = results
        .iter()
        .map(|r| {
            // "Use "output" key to specify function output and "error" key to
            // specify error details" (Gemini API, FunctionResponse.response).
            let key = if r.is_ok() { "output" } else { "error" };
            J::Obj(vec![(
                "functionResponse",
                J::Obj(vec![
                    ("name", J::Str(&r.name)),
                    ("response", J::Obj(vec![(key, J::Str(&r.content))])),
                ]),
            )])
        })
        .collect();
    to_raw(&J::Obj(vec![
        ("role", J::Str("user")),
        ("parts", J::Arr(parts)),
    ]))
}
