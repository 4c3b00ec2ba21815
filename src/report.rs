//! The JSON shapes of the command line (SPEC §7): one SSE event, one unified event, one
//! assembled turn. Keys come out in the documented order.
//!
//! Not API: the binary's output and tests/turn_fixtures.rs's expected objects, hidden from
//! the docs.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::assemble::{AssembledMessage, ToolCall};
use crate::event::{Block, Delta, ProviderError, StreamEvent, Usage};
use crate::provider::Provider;
use crate::sse::SseEvent;

#[derive(Serialize)]
struct SseJson<'a> {
    event: &'a str,
    data: &'a str,
    id: &'a str,
    retry: Option<u64>,
}

/// `{"event":"message","data":"...","id":"","retry":null}`
pub fn sse_event_json(e: &SseEvent) -> String {
    serde_json::to_string(&SseJson {
        event: e.event(),
        data: e.data(),
        id: e.id(),
        retry: e.retry(),
    })
    .expect("plain structs serialize")
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

impl<'a> From<&'a ProviderError> for ErrorJson<'a> {
    fn from(e: &'a ProviderError) -> Self {
        ErrorJson {
            kind: &e.kind,
            message: &e.message,
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockJson<'a> {
    Text,
    ToolUse { id: &'a str, name: &'a str },
    ServerToolUse { id: &'a str, name: &'a str },
    Thinking,
    RedactedThinking,
    Refusal,
    Other { kind: &'a str },
}

impl<'a> From<&'a Block> for BlockJson<'a> {
    fn from(b: &'a Block) -> Self {
        match b {
            Block::Text => BlockJson::Text,
            Block::ToolUse { id, name } => BlockJson::ToolUse { id, name },
            Block::ServerToolUse { id, name } => BlockJson::ServerToolUse { id, name },
            Block::Thinking => BlockJson::Thinking,
            Block::RedactedThinking => BlockJson::RedactedThinking,
            Block::Refusal => BlockJson::Refusal,
            Block::Other { kind } => BlockJson::Other { kind },
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DeltaJson<'a> {
    Text { text: &'a str },
    ToolInput { partial_json: &'a str },
    Thinking { thinking: &'a str },
    Signature { signature: &'a str },
    Verbatim { json: &'a RawValue },
    Other,
}

impl<'a> From<&'a Delta> for DeltaJson<'a> {
    fn from(d: &'a Delta) -> Self {
        match d {
            Delta::Text(text) => DeltaJson::Text { text },
            Delta::ToolInput(partial_json) => DeltaJson::ToolInput { partial_json },
            Delta::Thinking(thinking) => DeltaJson::Thinking { thinking },
            Delta::Signature(signature) => DeltaJson::Signature { signature },
            // Decoders only ever put JSON text here; anything else is shown as a string.
            Delta::Verbatim(json) => match serde_json::from_str::<&RawValue>(json) {
                Ok(json) => DeltaJson::Verbatim { json },
                Err(_) => DeltaJson::Text { text: json },
            },
            Delta::Other => DeltaJson::Other,
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventJson<'a> {
    MessageStart {
        id: Option<&'a str>,
        model: Option<&'a str>,
        usage: Usage,
    },
    BlockStart {
        index: usize,
        block: BlockJson<'a>,
    },
    BlockDelta {
        index: usize,
        delta: DeltaJson<'a>,
    },
    BlockStop {
        index: usize,
    },
    MessageDelta {
        stop_reason: Option<&'static str>,
        raw_stop_reason: Option<&'a str>,
        usage: Usage,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorJson<'a>,
    },
}

/// One unified event as a JSON object with a `type` key, for example
/// `{"type":"block_delta","index":1,"delta":{"type":"tool_input","partial_json":"{\"q\""}}`.
pub fn stream_event_json(e: &StreamEvent) -> String {
    let json = match e {
        StreamEvent::MessageStart { id, model, usage } => EventJson::MessageStart {
            id: id.as_deref(),
            model: model.as_deref(),
            usage: *usage,
        },
        StreamEvent::BlockStart { index, block } => EventJson::BlockStart {
            index: *index,
            block: block.into(),
        },
        StreamEvent::BlockDelta { index, delta } => EventJson::BlockDelta {
            index: *index,
            delta: delta.into(),
        },
        StreamEvent::BlockStop { index } => EventJson::BlockStop { index: *index },
        StreamEvent::MessageDelta { stop_reason, usage } => EventJson::MessageDelta {
            stop_reason: stop_reason.as_ref().map(|s| s.kind.as_str()),
            raw_stop_reason: stop_reason.as_ref().and_then(|s| s.raw.as_deref()),
            usage: *usage,
        },
        StreamEvent::MessageStop => EventJson::MessageStop,
        StreamEvent::Ping => EventJson::Ping,
        StreamEvent::Error(e) => EventJson::Error { error: e.into() },
    };
    serde_json::to_string(&json).expect("plain structs serialize")
}

#[derive(Serialize)]
struct ToolCallJson<'a> {
    index: usize,
    id: &'a str,
    name: &'a str,
    input: Option<Box<RawValue>>,
    input_error: Option<String>,
    complete: bool,
}

/// The tool input as the model wrote it (key order and number spelling kept), `{}` for
/// empty arguments, or `None` when the call has no valid input.
fn input_json(call: &ToolCall) -> Option<Box<RawValue>> {
    call.input.as_ref().ok()?;
    let text = if call.arguments.trim().is_empty() {
        "{}".to_owned()
    } else {
        call.arguments.trim().to_owned()
    };
    RawValue::from_string(text).ok()
}

#[derive(Serialize)]
struct TurnJson<'a> {
    provider: &'a str,
    complete: bool,
    stop_reason: Option<&'static str>,
    raw_stop_reason: Option<&'a str>,
    text: String,
    tool_calls: Vec<ToolCallJson<'a>>,
    usage: Usage,
    error: Option<ErrorJson<'a>>,
}

/// The `toolstream turn` object of SPEC §7.
pub fn turn_json(provider: Provider, m: &AssembledMessage) -> String {
    let json = TurnJson {
        provider: provider.as_str(),
        complete: m.complete,
        stop_reason: m.stop_reason.as_ref().map(|s| s.kind.as_str()),
        raw_stop_reason: m.stop_reason.as_ref().and_then(|s| s.raw.as_deref()),
        text: m.text(),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| ToolCallJson {
                index: c.index,
                id: &c.id,
                name: &c.name,
                input: input_json(c),
                input_error: c.input.as_ref().err().map(ToString::to_string),
                complete: c.complete,
            })
            .collect(),
        usage: m.usage,
        error: m.error.as_ref().map(ErrorJson::from),
    };
    serde_json::to_string(&json).expect("plain structs serialize")
}
