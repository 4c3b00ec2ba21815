//! Regression tests for hostile or odd input found in review: each case names the input
//! and asserts the exact outcome (an error of the right kind, or the right assembly), never
//! a panic, a silent loss or unbounded growth.

use crate::common;

use serde_json::json;
use toolstream::{
    ArgumentsError, AssembleError, Assembler, Block, DecodeError, Delta, FramingLimits,
    OpenAiChatDecoder, OpenAiChatOptions, Provider, ProviderChoice, ProviderDecoder, StreamDecoder,
    StreamEvent,
};

fn sse(payloads: &[serde_json::Value]) -> Vec<u8> {
    payloads
        .iter()
        .flat_map(|p| format!("data: {p}\n\n").into_bytes())
        .collect()
}

fn chat_call(index: Option<usize>, id: &str, name: &str, args: &str) -> serde_json::Value {
    let mut call = json!({"id": id, "function": {"name": name, "arguments": args}});
    if let Some(i) = index {
        call["index"] = json!(i);
    }
    json!({"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": null}]})
}

fn finish(reason: &str) -> serde_json::Value {
    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

#[test]
fn openai_chat_call_count_is_bounded() {
    let payloads: Vec<_> = (0..4100)
        .map(|i| chat_call(Some(0), &format!("c{i}"), "f", "{}"))
        .collect();
    let (events, errors) = common::decode_chunks(Provider::OpenAiChat, [&sse(&payloads)[..]]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("more than 4096 tool calls"),
        "{errors:?}"
    );
    let starts = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::BlockStart { .. }))
        .count();
    assert_eq!(starts, 4096);
}

#[test]
fn openai_chat_whole_calls_without_index_or_id_stay_apart() {
    let body = sse(&[
        chat_call(None, "", "a", r#"{"x":1}"#),
        chat_call(None, "", "b", r#"{"y":2}"#),
        finish("tool_calls"),
    ]);
    let m = common::assemble(&common::decode(Provider::OpenAiChat, &body).unwrap());
    let calls: Vec<_> = m
        .tool_calls
        .iter()
        .map(|c| (&*c.name, c.input.clone()))
        .collect();
    assert_eq!(
        calls,
        [("a", Ok(json!({"x": 1}))), ("b", Ok(json!({"y": 2})))]
    );
}

#[test]
fn complete_on_next_index_never_closes_a_higher_index() {
    let decoder = ProviderDecoder::OpenAiChat(OpenAiChatDecoder::with_options(OpenAiChatOptions {
        complete_on_next_index: true,
    }));
    let mut d = StreamDecoder::from_provider_decoder(decoder, FramingLimits::default());
    let body = sse(&[
        chat_call(Some(1), "late", "f", r#"{"x":"#),
        chat_call(Some(0), "early", "g", "{}"),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "1}"}}]}}]}),
        finish("tool_calls"),
    ]);
    let mut events = Vec::new();
    d.push(&body, &mut events).unwrap();
    d.finish(&mut events).unwrap();
    let m = common::assemble(&events);
    assert_eq!(m.tool_calls[0].input, Ok(json!({"x": 1})));
    assert_eq!(m.tool_calls[1].input, Ok(json!({})));
}

#[test]
fn auto_detection_replays_past_a_bad_first_event() {
    let mut body = b"data: not json\n\n".to_vec();
    body.extend(sse(&[
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":1}"}}),
        json!({"type": "content_block_stop", "index": 0}),
    ]));
    let (events, errors) = common::decode_chunks(ProviderChoice::Auto, [&body[..]]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("invalid anthropic"), "{errors:?}");
    let m = common::assemble(&events);
    assert_eq!(m.tool_calls.len(), 1);
    assert_eq!(m.tool_calls[0].input, Ok(json!({"a": 1})));
}

/// Bytes that frame no event (random text is valid SSE with nothing in it): `auto` says it
/// could not tell the provider instead of ending as an empty stream; an empty body and a
/// named provider still end quietly.
#[test]
fn auto_over_input_without_events_is_an_error() {
    let finish = |choice: ProviderChoice, body: &[u8]| {
        let mut d = StreamDecoder::new(choice);
        let mut out = Vec::new();
        d.push(body, &mut out).unwrap();
        let end = d.finish(&mut out);
        assert!(out.is_empty());
        end.map_err(|e| e.to_string())
    };
    let noise = b"\x7fELF garbage: not a stream\n\n: a comment\nrandom words\n\n";
    assert_eq!(
        finish(ProviderChoice::Auto, noise),
        Err("could not detect the provider: the input held no events".to_owned())
    );
    assert_eq!(finish(ProviderChoice::Auto, b""), Ok(()));
    assert_eq!(finish(Provider::Anthropic.into(), noise), Ok(()));
    // Cut inside the first event: truncated, not "no events" (found in review).
    let cut = b"event: message_start\ndata: {\"type\":\"message_start\"";
    let mut d = StreamDecoder::new(ProviderChoice::Auto);
    let mut out = Vec::new();
    d.push(cut, &mut out).unwrap();
    assert!(d.finish(&mut out).is_ok());
    assert!(d.truncated() && out.is_empty());
}

#[test]
fn auto_detection_holds_a_bounded_amount() {
    let junk = format!("data: {{\"x\": \"{}\"}}\n\n", "a".repeat(600 * 1024));
    let body = junk.repeat(2);
    let (_, errors) = common::decode_chunks(ProviderChoice::Auto, [body.as_bytes()]);
    assert!(
        errors[0].starts_with("could not detect the provider"),
        "{errors:?}"
    );
    // Fatal: finish() then reports the decoder as failed.
    assert_eq!(errors[1..], ["decoder used after an earlier fatal error"]);
}

#[test]
fn unknown_event_types_are_skipped_even_with_odd_shapes() {
    let anthropic = sse(&[
        json!({"type": "future_event", "delta": "x", "index": "nope"}),
        json!({"type": "message_stop"}),
    ]);
    assert_eq!(
        common::decode(Provider::Anthropic, &anthropic).unwrap(),
        [StreamEvent::MessageStop]
    );
    let responses = sse(&[json!({"type": "response.future", "item": {"id": 3}})]);
    assert_eq!(
        common::decode(Provider::OpenAiResponses, &responses).unwrap(),
        []
    );
    // A known type with a bad shape is still an error.
    let bad = sse(&[json!({"type": "content_block_delta", "index": "nope"})]);
    assert!(matches!(
        common::decode(Provider::Anthropic, &bad),
        Err(DecodeError::InvalidPayload { .. })
    ));
}

#[test]
fn responses_content_part_done_without_index_never_ends_a_call() {
    let body = sse(&[
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"a\":"}),
        json!({"type": "response.content_part.done", "output_index": 0}),
        json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "1}"}),
        json!({"type": "response.function_call_arguments.done", "output_index": 0, "arguments": "{\"a\":1}"}),
    ]);
    let m = common::assemble(&common::decode(Provider::OpenAiResponses, &body).unwrap());
    assert_eq!(m.tool_calls[0].input, Ok(json!({"a": 1})));
}

#[test]
fn gemini_null_args_are_an_error_not_an_empty_object() {
    let body = sse(&[
        json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": null}}]}, "finishReason": "STOP"}]}),
    ]);
    let m = common::assemble(&common::decode(Provider::Gemini, &body).unwrap());
    assert_eq!(
        m.tool_calls[0].input,
        Err(ArgumentsError::NotAnObject { found: "null" })
    );
}

#[test]
fn error_messages_stay_on_one_line() {
    use toolstream::eventstream::{encode_message, Header, HeaderValue};
    let header = |name: &str, value: &str| Header {
        name: name.into(),
        value: HeaderValue::String(value.into()),
    };
    let frame = encode_message(
        &[
            header(":event-type", "evil\nsecond line"),
            header(":message-type", "event"),
        ],
        b"\xFF",
    );
    // Unknown event types are skipped whatever their payload; a known one is checked.
    assert!(common::decode(Provider::Bedrock, &frame)
        .unwrap()
        .is_empty());
    let frame = encode_message(
        &[
            header(":event-type", "contentBlockDelta"),
            header(":message-type", "event"),
        ],
        b"{\"contentBlockIndex\": \"x\n\"}",
    );
    let err = common::decode(Provider::Bedrock, &frame)
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn a_maximum_size_first_message_is_not_mistaken_for_sse() {
    // total_length = 16 MiB exactly: the first byte is 0x01.
    let prelude = [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    let crc = crc32fast::hash(&prelude).to_be_bytes();
    let mut d = StreamDecoder::new(Provider::Bedrock);
    let mut events = Vec::new();
    d.push(&[&prelude[..], &crc[..]].concat(), &mut events)
        .unwrap();
    assert!(matches!(
        d.finish(&mut events),
        Err(DecodeError::EventStream(_))
    ));
}

#[test]
fn assembler_rejects_deltas_after_stop_and_text_past_its_limit() {
    let mut a = Assembler::with_limits(
        toolstream::AssembleLimits::new().max_text_bytes(std::num::NonZeroUsize::new(4).unwrap()),
    );
    let tool = Block::ToolUse {
        id: "t".into(),
        name: "f".into(),
    };
    a.push(&StreamEvent::BlockStart {
        index: 0,
        block: tool,
    })
    .unwrap();
    a.push(&StreamEvent::BlockStop { index: 0 }).unwrap();
    let late = StreamEvent::BlockDelta {
        index: 0,
        delta: Delta::ToolInput("{}".into()),
    };
    assert_eq!(
        a.push(&late),
        Err(AssembleError::DeltaAfterStop { index: 0 })
    );
    a.push(&StreamEvent::BlockStart {
        index: 1,
        block: Block::Text,
    })
    .unwrap();
    let text = |t: &str| StreamEvent::BlockDelta {
        index: 1,
        delta: Delta::Text(t.into()),
    };
    a.push(&text("abc")).unwrap();
    assert_eq!(
        a.push(&text("de")),
        Err(AssembleError::TextTooLarge { limit: 4 })
    );
    assert_eq!(a.finish().text(), "abc");
}

#[test]
fn a_new_message_cannot_erase_completed_calls() {
    let start = StreamEvent::MessageStart {
        id: None,
        model: None,
        usage: Default::default(),
    };
    let mut a = Assembler::new();
    a.push(&start).unwrap();
    let tool = Block::ToolUse {
        id: "t".into(),
        name: "f".into(),
    };
    a.push(&StreamEvent::BlockStart {
        index: 0,
        block: tool,
    })
    .unwrap();
    assert_eq!(a.push(&StreamEvent::BlockStop { index: 0 }), Ok(Some(0)));
    assert_eq!(
        a.push(&start),
        Err(AssembleError::RestartAfterToolCalls { completed: 1 })
    );
    assert_eq!(a.finish().tool_calls.len(), 1);
}
