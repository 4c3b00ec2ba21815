//! The next request's new messages, in each provider's wire format: the assistant message
//! echoed back, and the tool results in request order.
//!
//! Byte stability: the output depends only on the assembled message and the results'
//! contents, never on completion order or timing. Tool inputs are echoed exactly as the
//! model produced them (key order, spacing and number spelling kept), through raw JSON.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::assemble::{AssembledMessage, ToolCall};
use crate::event::Block;
use crate::execute::ToolResult;
use crate::provider::Provider;

/// A JSON value whose object keys keep the order they are written in.
pub(crate) enum J<'a> {
    Str(&'a str),
    /// JSON written as is (a tool input, a history message, a schema).
    Raw(&'a RawValue),
    Bool(bool),
    Num(u64),
    Arr(Vec<J<'a>>),
    Obj(Vec<(&'static str, J<'a>)>),
}

impl Serialize for J<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Str(v) => s.serialize_str(v),
            J::Raw(v) => v.serialize(s),
            J::Bool(v) => s.serialize_bool(*v),
            J::Num(v) => s.serialize_u64(*v),
            J::Arr(items) => s.collect_seq(items),
            J::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Writes `j` as compact JSON. serde_json's writer makes it valid by construction (raw
/// parts were validated when they became [`RawValue`]s), so it is not parsed again.
pub(crate) fn to_raw(j: &J<'_>) -> Box<RawValue> {
    serde_json::value::to_raw_value(j).expect("string keys and finite values always serialize")
}

/// The call's input as raw JSON: the model's own bytes when they are a valid object, `{}`
/// for empty arguments. Invalid arguments cannot be echoed as an object; they are echoed
/// as `{}` beside the error result that explains them (OpenAI Chat, whose arguments are a
/// string, gets the original text).
fn raw_input(call: &ToolCall) -> &RawValue {
    let empty = || serde_json::from_str("{}").expect("`{}` is JSON");
    match &call.input {
        // Parsed into a value before, so valid JSON; this pass only finds its bounds.
        Ok(_) => serde_json::from_str(&call.arguments).unwrap_or_else(|_| empty()),
        Err(_) => empty(),
    }
}

/// The assistant message of the turn, as the provider expects it back in the history.
pub fn assistant_message(provider: Provider, message: &AssembledMessage) -> Box<RawValue> {
    let inputs: Vec<&RawValue> = message.tool_calls.iter().map(|c| raw_input(c)).collect();
    let text = message.text();
    let mut parts = Vec::new();
    match provider {
        Provider::Anthropic => {
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
        Provider::OpenAiChat => {
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
        Provider::OpenAiResponses => {
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
        Provider::Gemini => {
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
        Provider::Bedrock => {
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
    }
}

/// The tool-results message: anthropic a `user` message of `tool_result` blocks;
/// openai-chat an array of `tool` role messages; openai-responses an array of
/// `function_call_output` items; gemini a `user` content of `functionResponse` parts;
/// bedrock a `user` message of `toolResult` blocks. `results` must be in request order.
pub fn results_message(provider: Provider, results: &[ToolResult]) -> Box<RawValue> {
    match provider {
        Provider::Anthropic => {
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
        Provider::OpenAiChat => to_raw(&J::Arr(
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
        )),
        Provider::OpenAiResponses => to_raw(&J::Arr(
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
        )),
        Provider::Gemini => {
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
        Provider::Bedrock => {
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
    }
}
