//! The next request's new messages, in each provider's wire format: the assistant message
//! echoed back, and the tool results in request order.
//!
//! What goes back (SPEC §6): everything the provider needs to continue, exactly as received
//! and in the order received (reasoning with its signatures, redacted reasoning, server
//! tool blocks, reasoning items, thought signatures); text that is empty or whitespace
//! only is not echoed; a tool result is never empty. One file per provider.
//!
//! Byte stability: the output depends only on the assembled message and the results'
//! contents, never on completion order or timing. Tool inputs are echoed exactly as the
//! model produced them (key order, spacing and number spelling kept), through raw JSON.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

mod anthropic;
mod bedrock;
pub(crate) mod cache;
mod gemini;
mod openai_chat;
mod openai_responses;
pub(crate) mod parts;

pub use cache::PromptCaching;

use crate::assemble::{AssembledMessage, ToolCall};
use crate::execute::ToolResult;
use crate::provider::Provider;

/// A JSON value whose object keys keep the order they are written in.
pub(crate) enum J<'a> {
    Str(&'a str),
    /// A string made for this message (a data URL).
    String(String),
    /// A parsed JSON value (a tool's JSON content part).
    Value(&'a serde_json::Value),
    /// JSON written as is (a tool input, a history message, a schema).
    Raw(&'a RawValue),
    Bool(bool),
    Num(u64),
    Arr(Vec<J<'a>>),
    Obj(Vec<(&'a str, J<'a>)>),
}

impl Serialize for J<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Str(v) => s.serialize_str(v),
            J::String(v) => s.serialize_str(v),
            J::Value(v) => v.serialize(s),
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
pub(crate) fn raw_input(call: &ToolCall) -> &RawValue {
    let empty = || serde_json::from_str("{}").expect("`{}` is JSON");
    match &call.input {
        // Parsed into a value before, so valid JSON; this pass only finds its bounds.
        Ok(_) => serde_json::from_str(&call.arguments).unwrap_or_else(|_| empty()),
        Err(_) => empty(),
    }
}

/// What a wire writer needs besides the message or the results.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The model the request goes to, when known (Bedrock accepts `toolResult.status`
    /// only from some model families).
    pub(crate) model: Option<&'a str>,
    /// The message the results answer.
    pub(crate) message: &'a AssembledMessage,
}

/// The assistant message of the turn, as the provider expects it back in the history
/// (SPEC §6, "What goes back").
pub fn assistant_message(provider: Provider, message: &AssembledMessage) -> Box<RawValue> {
    match provider {
        Provider::Anthropic => anthropic::assistant(message),
        Provider::OpenAiChat => openai_chat::assistant(message),
        Provider::OpenAiResponses => openai_responses::assistant(message),
        Provider::Gemini => gemini::assistant(message),
        Provider::Bedrock => bedrock::assistant(message),
    }
}

/// The tool-results message: anthropic a `user` message of `tool_result` blocks;
/// openai-chat an array of `tool` role messages; openai-responses an array of
/// `function_call_output` items; gemini a `user` content of `functionResponse` parts;
/// bedrock a `user` message of `toolResult` blocks. `results` must be in request order.
pub fn results_message(provider: Provider, results: &[ToolResult]) -> Box<RawValue> {
    let message = AssembledMessage::default();
    results_message_in(
        provider,
        Context {
            model: None,
            message: &message,
        },
        results,
    )
}

/// [`results_message`] for the message the results answer and the model the request
/// goes to (`None`: unknown).
pub fn results_message_for(
    provider: Provider,
    message: &AssembledMessage,
    model: Option<&str>,
    results: &[ToolResult],
) -> Box<RawValue> {
    results_message_in(provider, Context { model, message }, results)
}

fn results_message_in(
    provider: Provider,
    cx: Context<'_>,
    results: &[ToolResult],
) -> Box<RawValue> {
    match provider {
        Provider::Anthropic => anthropic::results(results),
        Provider::OpenAiChat => openai_chat::results(results),
        Provider::OpenAiResponses => openai_responses::results(results),
        Provider::Gemini => gemini::results(cx, results),
        Provider::Bedrock => bedrock::results(cx, results),
    }
}
