//! The fast path against the full serde path, one payload per line. Each payload is decoded
//! after the same start of a response (a message at output 0 with its text part, a
//! function call at output 1) by `push` and by the full parse alone, which must give the
//! same events and the same errors; each `same!` payload must also take the fast path, and
//! each `declines!` payload must be left to the full parse.

use super::fast::{event, Piece};
use super::*;

/// A response with a message at output 0 (text part 0 open) and a function call at
/// output 1, as OpenAI starts one.
const START: [&str; 4] = [
    r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","model":"gpt-4.1","output":[]}}"#,
    r#"{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}}"#,
    r#"{"type":"response.content_part.added","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}}"#,
    r#"{"type":"response.output_item.added","sequence_number":3,"output_index":1,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"get_weather"}}"#,
];

/// The events and errors of `START` then `payloads`, through `push` or, when `full`,
/// through the full parse only; and how many payloads took the fast path.
fn decode(payloads: &[&str], full: bool) -> (Vec<StreamEvent>, Vec<String>, usize) {
    let mut d = OpenAiResponsesDecoder::new();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in START.iter().chain(payloads) {
        let result = if full {
            d.push_full(p, &mut out)
        } else {
            d.push(p, &mut out)
        };
        if let Err(e) = result {
            errors.push(e.to_string());
        }
    }
    (out, errors, d.fast_path_payloads())
}

/// Both ways agree on `payloads`; returns how many took the fast path.
fn agree(payloads: &[&str]) -> usize {
    let (fast, fast_errors, taken) = decode(payloads, false);
    let (full, full_errors, none) = decode(payloads, true);
    assert_eq!(fast, full, "{payloads:?}");
    assert_eq!(fast_errors, full_errors, "{payloads:?}");
    assert_eq!(none, 0);
    taken
}

macro_rules! same {
    ($name:ident, $data:expr) => {
        #[test]
        fn $name() {
            let data: &str = $data;
            assert!(event(data).is_some(), "the fast path declined {data}");
            assert_eq!(agree(&[data]), 1, "{data}");
        }
    };
}

macro_rules! declines {
    ($name:ident, $data:expr) => {
        #[test]
        fn $name() {
            let data: &str = $data;
            assert!(event(data).is_none(), "the fast path took {data}");
            assert_eq!(agree(&[data]), 0, "{data}");
        }
    };
}

// OpenAI's order, as in the fixtures.
same!(
    text,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
same!(
    text_logprobs_and_obfuscation,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","logprobs":[],"obfuscation":"8hKd1x"}"#
);
same!(
    text_logprobs_only,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","logprobs":[]}"#
);
same!(
    text_obfuscation_only,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","obfuscation":"x"}"#
);
same!(
    text_no_sequence_number,
    r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
same!(
    text_escapes,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"a\"b\\c\/d\be\ff\ng\rh\ti\u00e9\u00E9\u0000\ud83d\ude00\uD83D\uDE00"}"#
);
same!(
    text_non_ascii,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"東京 café — 😀"}"#
);
same!(
    text_empty,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":""}"#
);
same!(
    text_escaped_item_id,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg\u005f1\n","output_index":0,"content_index":0,"delta":"Hi"}"#
);
// An item nobody added: the output index routes the piece; the item id is not looked at.
same!(
    text_unknown_item_id,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_zzz","output_index":0,"content_index":0,"delta":"Hi"}"#
);
// No part was opened at output 7, nor part 3 of output 0: the piece opens one, both ways.
same!(
    text_unknown_output_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_2","output_index":7,"content_index":0,"delta":"Hi"}"#
);
same!(
    text_unknown_content_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":3,"delta":"Hi"}"#
);
same!(
    text_big_numbers,
    r#"{"type":"response.output_text.delta","sequence_number":4294967295,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
same!(
    arguments,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"{\"city\": \"Par"}"#
);
same!(
    arguments_obfuscation,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"{}","obfuscation":"Qx"}"#
);
same!(
    arguments_no_sequence_number,
    r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"{}"}"#
);
same!(
    arguments_escapes,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"\"\\n\u00e9\ud83d\ude00\t"}"#
);
same!(
    arguments_empty,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":""}"#
);
// No call at output 9, and output 0 is a message: an error, both ways.
same!(
    arguments_unknown_output_index,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":9,"delta":"{}"}"#
);
same!(
    arguments_for_a_message,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"delta":"{}"}"#
);

// Sorted keys, `type` last: our mock (serde_json maps) and servers serializing the
// `openai` Python package's models.
same!(
    sorted_text,
    r#"{"content_index":0,"delta":"Hi\n","item_id":"msg_1","output_index":0,"type":"response.output_text.delta"}"#
);
same!(
    sorted_text_all_fields,
    r#"{"content_index":0,"delta":"Hi","item_id":"msg_1","logprobs":[],"obfuscation":"ab","output_index":0,"sequence_number":4,"type":"response.output_text.delta"}"#
);
same!(
    sorted_arguments,
    r#"{"delta":"{\"a\":1}","item_id":"fc_1","output_index":1,"type":"response.function_call_arguments.delta"}"#
);
same!(
    sorted_arguments_all_fields,
    r#"{"delta":"{","item_id":"fc_1","obfuscation":"ab","output_index":1,"sequence_number":5,"type":"response.function_call_arguments.delta"}"#
);
same!(
    sorted_arguments_unknown_output_index,
    r#"{"delta":"{","item_id":"fc_1","output_index":4,"type":"response.function_call_arguments.delta"}"#
);

declines!(
    spaced,
    r#"{"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hi"}"#
);
declines!(
    leading_space,
    r#" {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    trailing_space,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"} "#
);
declines!(
    key_order,
    r#"{"type":"response.output_text.delta","item_id":"msg_1","sequence_number":4,"output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    indices_swapped,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","content_index":0,"output_index":0,"delta":"Hi"}"#
);
declines!(
    type_not_first_nor_last,
    r#"{"sequence_number":4,"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
// Without `output_index`, the full parse finds it by `item_id`.
declines!(
    no_output_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","content_index":0,"delta":"Hi"}"#
);
declines!(
    no_output_index_arguments,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","delta":"{}"}"#
);
declines!(
    no_item_id,
    r#"{"type":"response.output_text.delta","sequence_number":4,"output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    no_content_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"delta":"Hi"}"#
);
declines!(
    no_delta,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0}"#
);
declines!(
    no_type,
    r#"{"content_index":0,"delta":"Hi","item_id":"msg_1","output_index":0}"#
);
declines!(
    extra_key,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","annotations":[]}"#
);
declines!(
    extra_key_inside,
    r#"{"type":"response.output_text.delta","sequence_number":4,"response_id":"resp_1","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    content_index_on_arguments,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"content_index":0,"delta":"{}"}"#
);
declines!(
    logprobs_on_arguments,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"{}","logprobs":[]}"#
);
declines!(
    obfuscation_before_logprobs,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","obfuscation":"x","logprobs":[]}"#
);
declines!(
    logprobs_given,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","logprobs":[{"token":"Hi","logprob":-0.1,"bytes":[72,105],"top_logprobs":[]}]}"#
);
declines!(
    logprobs_null,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","logprobs":null}"#
);
declines!(
    duplicate_delta,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","delta":"Ho"}"#
);
declines!(
    leading_zero_output_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":00,"content_index":0,"delta":"Hi"}"#
);
declines!(
    leading_zero_content_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":01,"delta":"Hi"}"#
);
declines!(
    leading_zero_sequence_number,
    r#"{"type":"response.output_text.delta","sequence_number":04,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    leading_zero_sorted,
    r#"{"delta":"{","item_id":"fc_1","output_index":01,"type":"response.function_call_arguments.delta"}"#
);
declines!(
    negative_output_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":-1,"content_index":0,"delta":"Hi"}"#
);
declines!(
    fractional_output_index,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1.0,"delta":"{}"}"#
);
declines!(
    exponent_output_index,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1e0,"delta":"{}"}"#
);
declines!(
    huge_output_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":99999999999999999999999,"content_index":0,"delta":"Hi"}"#
);
// The full parse ignores `sequence_number` whatever it holds; the fast path declines.
declines!(
    huge_sequence_number,
    r#"{"type":"response.output_text.delta","sequence_number":99999999999999999999999,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    negative_sequence_number,
    r#"{"type":"response.output_text.delta","sequence_number":-4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    string_output_index,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":"0","content_index":0,"delta":"Hi"}"#
);
declines!(
    number_delta,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":7}"#
);
declines!(
    null_delta,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":null}"#
);
declines!(
    null_item_id,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":null,"output_index":1,"delta":"{}"}"#
);
declines!(
    number_obfuscation,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","obfuscation":3}"#
);
declines!(
    control_char_in_delta,
    "{\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"a\tb\"}"
);
declines!(
    control_char_in_item_id,
    "{\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc\n1\",\"output_index\":1,\"delta\":\"{}\"}"
);
declines!(
    bad_escape,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"\q"}"#
);
declines!(
    lone_surrogate,
    r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"\ud83d"}"#
);
declines!(
    unterminated,
    r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"#
);
declines!(
    escaped_type,
    r#"{"type":"response.output_text.delt\u0061","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#
);
declines!(
    refusal,
    r#"{"type":"response.refusal.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"No"}"#
);
declines!(
    reasoning_text,
    r#"{"type":"response.reasoning_text.delta","sequence_number":4,"item_id":"rs_1","output_index":2,"content_index":0,"delta":"Hm"}"#
);
declines!(
    arguments_done,
    r#"{"type":"response.function_call_arguments.done","sequence_number":6,"item_id":"fc_1","output_index":1,"arguments":"{}"}"#
);
declines!(
    sorted_text_type_on_arguments,
    r#"{"delta":"Hi","item_id":"msg_1","output_index":0,"type":"response.output_text.delta"}"#
);
declines!(
    sorted_arguments_type_on_text,
    r#"{"content_index":0,"delta":"{","item_id":"fc_1","output_index":1,"type":"response.function_call_arguments.delta"}"#
);
declines!(
    sorted_sequence_before_output_index,
    r#"{"delta":"{","item_id":"fc_1","sequence_number":5,"output_index":1,"type":"response.function_call_arguments.delta"}"#
);
declines!(
    sorted_trailing_key,
    r#"{"delta":"{","item_id":"fc_1","output_index":1,"type":"response.function_call_arguments.delta","x":1}"#
);

#[test]
fn pieces_read_by_the_fast_path() {
    assert_eq!(
        event(
            r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":2,"content_index":1,"delta":"a\nb","logprobs":[]}"#
        ),
        Some(Piece::Text {
            output_index: 2,
            content_index: 1,
            delta: "a\nb".into()
        })
    );
    assert_eq!(
        event(
            r#"{"delta":"\"","item_id":"fc_1","output_index":3,"sequence_number":9,"type":"response.function_call_arguments.delta"}"#
        ),
        Some(Piece::Arguments {
            output_index: 3,
            delta: "\"".into()
        })
    );
}

#[test]
fn a_whole_response_decodes_as_the_full_path_does() {
    // Text pieces, a refusal, a call whose arguments stream (one empty fragment), a call
    // whose arguments come only at its end, then the end of the response.
    let payloads = [
        r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Let me ","logprobs":[],"obfuscation":"a"}"#,
        r#"{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"look.\n","logprobs":[],"obfuscation":"b"}"#,
        r#"{"type":"response.refusal.delta","sequence_number":6,"item_id":"msg_1","output_index":0,"content_index":1,"delta":"no"}"#,
        r#"{"type":"response.function_call_arguments.delta","sequence_number":7,"item_id":"fc_1","output_index":1,"delta":"{\"city\":"}"#,
        r#"{"type":"response.function_call_arguments.delta","sequence_number":8,"item_id":"fc_1","output_index":1,"delta":""}"#,
        r#"{"type":"response.function_call_arguments.delta","sequence_number":9,"item_id":"fc_1","output_index":1,"delta":"\"Paris\"}"}"#,
        r#"{"type":"response.function_call_arguments.done","sequence_number":10,"item_id":"fc_1","output_index":1,"arguments":"{\"city\":\"Paris\"}"}"#,
        r#"{"type":"response.output_item.added","sequence_number":11,"output_index":2,"item":{"id":"fc_2","type":"function_call","status":"in_progress","arguments":"","call_id":"call_2","name":"f"}}"#,
        r#"{"type":"response.function_call_arguments.delta","sequence_number":12,"item_id":"fc_2","output_index":2,"delta":""}"#,
        r#"{"type":"response.function_call_arguments.done","sequence_number":13,"item_id":"fc_2","output_index":2,"arguments":"{\"x\":1}"}"#,
        r#"{"delta":"ignored","item_id":"fc_9","output_index":9,"type":"response.function_call_arguments.delta"}"#,
        r#"{"content_index":0,"delta":" Done.","item_id":"msg_1","output_index":0,"type":"response.output_text.delta"}"#,
        r#"{"type":"response.content_part.done","sequence_number":14,"item_id":"msg_1","output_index":0,"content_index":0}"#,
        r#"{"type":"response.completed","sequence_number":15,"response":{"id":"resp_1","status":"completed","usage":{"input_tokens":5,"output_tokens":9}}}"#,
    ];
    assert_eq!(agree(&payloads), 8);
    let (events, errors, _) = decode(&payloads, false);
    assert_eq!(errors.len(), 1, "{errors:?}");
    // The empty fragment of the second call still marks its arguments as streamed, so its
    // `done` adds none.
    let inputs: Vec<&Delta> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta { delta, .. } if matches!(delta, Delta::ToolInput(_)) => {
                Some(delta)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        inputs,
        [
            &Delta::ToolInput(r#"{"city":"#.into()),
            &Delta::ToolInput(r#""Paris"}"#.into())
        ]
    );
}

/// SPEC §4 "Tolerances": `[DONE]` ends the stream; an OpenAI-style error body without
/// `type` is an error event carrying its message (a numeric code is read too).
#[test]
fn done_and_error_bodies_without_type_are_accepted() {
    let mut d = OpenAiResponsesDecoder::new();
    let mut out = Vec::new();
    d.push("[DONE]", &mut out).unwrap();
    d.push(
        r#"{"error":{"message":"Provider returned error","code":502}}"#,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        [StreamEvent::Error(ProviderError {
            kind: "502".into(),
            message: "Provider returned error".into()
        })]
    );
    assert!(d.push(r#"{"delta":"x"}"#, &mut out).is_err());
}

/// Each output item goes back as `output_item.done` gave it, given before its block stops;
/// a call completed at `function_call_arguments.done` carries the item built from the
/// stream, which `output_item.done` repeats; a message without `content` is not kept.
#[test]
fn output_items_are_given_before_their_blocks_stop() {
    let done_call = r#"{"id":"fc_1","type":"function_call","status":"completed","arguments":"{}","call_id":"call_1","name":"get_weather"}"#;
    let done_message = r#"{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"Hi"}],"role":"assistant"}"#;
    let events = |message_item: &str| {
        let (out, errors, _) = decode(
            &[
                r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#,
                r#"{"type":"response.content_part.done","item_id":"msg_1","output_index":0,"content_index":0}"#,
                &format!(
                    r#"{{"type":"response.output_item.done","output_index":0,"item":{message_item}}}"#
                ),
                r#"{"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":1,"arguments":"{}"}"#,
                &format!(
                    r#"{{"type":"response.output_item.done","output_index":1,"item":{done_call}}}"#
                ),
            ],
            false,
        );
        assert_eq!(errors, Vec::<String>::new());
        out.into_iter()
            .filter(|e| {
                matches!(
                    e,
                    StreamEvent::BlockStop { .. }
                        | StreamEvent::BlockDelta {
                            delta: Delta::Verbatim(_) | Delta::ToolInput(_),
                            ..
                        }
                )
            })
            .collect::<Vec<_>>()
    };
    let verbatim = |index, v: &str| StreamEvent::BlockDelta {
        index,
        delta: Delta::Verbatim(v.into()),
    };
    let input = StreamEvent::BlockDelta {
        index: 1,
        delta: Delta::ToolInput("{}".into()),
    };
    assert_eq!(
        events(done_message),
        [
            verbatim(0, done_message),
            StreamEvent::BlockStop { index: 0 },
            input.clone(),
            verbatim(1, done_call),
            StreamEvent::BlockStop { index: 1 },
        ]
    );
    assert_eq!(
        events(r#"{"id":"msg_1","type":"message"}"#),
        [
            StreamEvent::BlockStop { index: 0 },
            input,
            verbatim(1, done_call),
            StreamEvent::BlockStop { index: 1 },
        ]
    );
}

/// A call's item is written with its `arguments` JSON string as received (escapes kept),
/// and arguments that are not a string are an error naming the field.
#[test]
fn a_calls_item_keeps_its_arguments_as_received() {
    let done = r#"{"type":"response.function_call_arguments.done","sequence_number":4,"item_id":"fc_1","output_index":1,"arguments":"{\"city\":\"Z\u00fcrich\"}"}"#;
    let (events, errors, _) = decode(&[done], false);
    assert_eq!(errors, Vec::<String>::new());
    let item = events.iter().find_map(|e| match e {
        StreamEvent::BlockDelta {
            delta: Delta::Verbatim(v),
            ..
        } => Some(v.as_str()),
        _ => None,
    });
    assert_eq!(
        item,
        Some(
            r#"{"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"city\":\"Z\u00fcrich\"}","call_id":"call_1","name":"get_weather"}"#
        )
    );
    // No delta came: the arguments are decoded from the same string.
    let input = events.iter().find_map(|e| match e {
        StreamEvent::BlockDelta {
            delta: Delta::ToolInput(s),
            ..
        } => Some(s.as_str()),
        _ => None,
    });
    assert_eq!(input, Some("{\"city\":\"Zürich\"}"));
    let bad = r#"{"type":"response.function_call_arguments.done","sequence_number":4,"item_id":"fc_1","output_index":1,"arguments":{"city":"x"}}"#;
    let (_, errors, _) = decode(&[bad], false);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("`arguments` is not a string"),
        "{errors:?}"
    );
}
