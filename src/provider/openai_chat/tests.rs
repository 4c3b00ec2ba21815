//! The fast path against the full serde path, one payload per line: each `same!` payload
//! must take the fast path and give the events the full parse gives; each `declines!`
//! payload must be left to the full parse.

use super::fast::{chunk, SeenHead};
use super::*;

/// OpenAI's head, through `"delta":{`, and its tail after the delta.
const OPENAI: &str = r#"{"id":"chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63","object":"chat.completion.chunk","created":1727346178,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd","choices":[{"index":0,"delta":{"#;
const TAIL: &str = r#"},"logprobs":null,"finish_reason":null}]}"#;

/// The first chunk of a message (always the full path: it starts the message).
const FIRST: &str = r#"{"id":"chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63","object":"chat.completion.chunk","created":1727346178,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}"#;

/// An OpenAI chunk whose delta holds `body`.
fn openai(body: &str) -> String {
    format!("{OPENAI}{body}{TAIL}")
}

/// The events of `FIRST` then `payloads`, each payload kept off the fast path when `full`
/// (it matches exact bytes only, so a leading space defeats it; serde skips the space).
fn decode(payloads: &[&str], full: bool) -> Vec<StreamEvent> {
    let mut d = OpenAiChatDecoder::new();
    let mut out = Vec::new();
    d.push(FIRST, &mut out).unwrap();
    for p in payloads {
        let p = if full { format!(" {p}") } else { p.to_string() };
        d.push(&p, &mut out).unwrap();
    }
    out
}

fn takes(data: &str) -> bool {
    chunk(data, &mut SeenHead::default()).is_some()
}

macro_rules! same {
    ($name:ident, $data:expr) => {
        #[test]
        fn $name() {
            let data: &str = &$data;
            assert!(takes(data), "the fast path declined {data}");
            assert_eq!(decode(&[data], false), decode(&[data], true));
        }
    };
}

macro_rules! declines {
    ($name:ident, $data:expr) => {
        #[test]
        fn $name() {
            let data: &str = &$data;
            assert!(!takes(data), "the fast path took {data}");
        }
    };
}

same!(text, openai(r#""content":"Hello""#));
same!(
    text_escapes,
    openai(r#""content":"a\"b\\c\nd\u00e9\ud83d\ude00\/""#)
);
same!(text_utf8, openai(r#""content":"東京 café 😀""#));
same!(text_empty, openai(r#""content":"""#));
same!(
    arguments,
    openai(r#""tool_calls":[{"index":0,"function":{"arguments":"{\"city\": "}}]"#)
);
same!(
    arguments_empty,
    openai(r#""tool_calls":[{"index":0,"function":{"arguments":""}}]"#)
);
// No call was started at index 12: the fragment opens one (`call_0`), both ways.
same!(
    arguments_unknown_index,
    openai(r#""tool_calls":[{"index":12,"function":{"arguments":"x"}}]"#)
);
same!(
    groq_no_fingerprint_no_logprobs,
    r#"{"id":"chatcmpl-123456789","object":"chat.completion.chunk","created":1736272055,"model":"llama-3.1-70b-versatile","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}"#
);
same!(
    openrouter_usage_null,
    r#"{"id":"gen-tool-1","object":"chat.completion.chunk","created":1737243487,"model":"openai/gpt-4-turbo","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\""}}]},"logprobs":null,"finish_reason":null}],"usage":null}"#
);
same!(
    fingerprint_null,
    r#"{"id":"x","object":"chat.completion.chunk","created":0,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}"#
);
same!(
    escaped_id_and_model,
    r#"{"id":"a\"b","object":"chat.completion.chunk","created":1,"model":"m\u00e9","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#
);

declines!(
    spaced,
    r#"{"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}"#
);
declines!(
    key_order,
    r#"{"id":"x","model":"m","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#
);
declines!(
    mistral_trailing_field,
    r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"I"},"finish_reason":null}],"p":"abc"}"#
);
declines!(
    xai_no_finish_reason,
    r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}],"system_fingerprint":"fp"}"#
);
declines!(
    other_choice,
    r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":1,"delta":{"content":"Hi"},"finish_reason":null}]}"#
);
declines!(
    two_choices,
    r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null},{"index":1,"delta":{"content":"b"},"finish_reason":null}]}"#
);
declines!(
    finish_reason_with_content,
    format!(r#"{OPENAI}"content":"Hi"}},"logprobs":null,"finish_reason":"stop"}}]}}"#)
);
declines!(
    usage_object,
    format!(r#"{OPENAI}"content":"Hi"{TAIL}"#).replace("]}", r#"],"usage":{"prompt_tokens":1}}"#)
);
declines!(
    logprobs_object,
    format!(r#"{OPENAI}"content":"Hi"}},"logprobs":{{"content":[]}},"finish_reason":null}}]}}"#)
);
declines!(content_null, openai(r#""content":null"#));
declines!(
    role_and_content,
    openai(r#""role":"assistant","content":"""#)
);
declines!(reasoning, openai(r#""reasoning_content":"hmm""#));
declines!(refusal, openai(r#""refusal":"no""#));
declines!(
    call_start,
    openai(
        r#""tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]"#
    )
);
declines!(
    two_calls,
    openai(
        r#""tool_calls":[{"index":0,"function":{"arguments":"a"}},{"index":1,"function":{"arguments":"b"}}]"#
    )
);
declines!(
    leading_zero_index,
    openai(r#""tool_calls":[{"index":01,"function":{"arguments":"a"}}]"#)
);
declines!(
    huge_index,
    openai(r#""tool_calls":[{"index":99999999999999999999999,"function":{"arguments":"a"}}]"#)
);
declines!(
    leading_zero_created,
    r#"{"id":"x","object":"chat.completion.chunk","created":01,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#
);
declines!(
    fractional_created,
    r#"{"id":"x","object":"chat.completion.chunk","created":1.5,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#
);
declines!(control_char_in_text, openai("\"content\":\"a\tb\""));
declines!(
    control_char_in_id,
    "{\"id\":\"a\nb\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}"
);
declines!(bad_escape, openai(r#""content":"\q""#));
declines!(lone_surrogate, openai(r#""content":"\ud83d""#));
declines!(unterminated, openai(r#""content":"abc"#).replace(TAIL, ""));
declines!(trailing_space, openai(r#""content":"abc""#) + " ");
declines!(done, "[DONE]");

#[test]
fn the_first_chunk_takes_the_full_path() {
    // Even in the fast path's shape, a chunk that starts the message must report its id and
    // model, which only the full parse reads.
    let data = openai(r#""content":"Hi""#);
    let mut d = OpenAiChatDecoder::new();
    let mut out = Vec::new();
    d.push(&data, &mut out).unwrap();
    assert!(matches!(
        &out[0],
        StreamEvent::MessageStart { id: Some(id), model: Some(m), .. }
            if id == "chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63" && m == "gpt-4o-2024-08-06"
    ));
    assert_eq!(out.len(), 3, "{out:?}");
}

#[test]
fn a_remembered_head_is_only_a_shortcut() {
    let a = openai(r#""content":"a""#);
    let other_head = a.replace("chatcmpl-AB", "chatcmpl-XY");
    let bad_body = openai(r#""content":"\q""#);
    let mut seen = SeenHead::default();
    assert!(chunk(&a, &mut seen).is_some());
    // The same head with a body out of shape, and a head that only starts like the
    // remembered one, are each read in full.
    assert!(chunk(&bad_body, &mut seen).is_none());
    let longer_id = a.replace("63\",", "634\",");
    assert!(chunk(&longer_id, &mut seen).is_some());
    assert!(chunk(&other_head, &mut seen).is_some());
    assert!(chunk(&a, &mut seen).is_some());
    let broken_head = a.replace("\"model\":\"gpt", "\"model\":\"\\qgpt");
    assert!(chunk(&broken_head, &mut seen).is_none());
    // And a whole message with heads changing under it decodes as the full path does.
    let args = openai(r#""tool_calls":[{"index":0,"function":{"arguments":"{}"}}]"#);
    let payloads = [&a, &other_head, &args, &a, &longer_id].map(String::as_str);
    assert_eq!(decode(&payloads, false), decode(&payloads, true));
}

#[test]
fn pieces_are_routed_like_parsed_ones() {
    // Text, then a call started by the full path, its fragments, a second call and more
    // text, then the end: every event as the full path gives it.
    let start = |i: usize, id: &str| {
        openai(&format!(
            r#""tool_calls":[{{"index":{i},"id":"{id}","type":"function","function":{{"name":"f","arguments":""}}}}]"#
        ))
    };
    let fragment = |i: usize, a: &str| {
        openai(&format!(
            r#""tool_calls":[{{"index":{i},"function":{{"arguments":{}}}}}]"#,
            serde_json::to_string(a).unwrap()
        ))
    };
    let finish = format!(r#"{OPENAI}}},"logprobs":null,"finish_reason":"tool_calls"}}]}}"#);
    let payloads = [
        openai(r#""content":"Let me ""#),
        openai(r#""content":"look.""#),
        start(0, "call_a"),
        fragment(0, r#"{"q":"#),
        fragment(0, r#""x"}"#),
        start(1, "call_b"),
        fragment(1, "{}"),
        fragment(0, ""),
        openai(r#""content":" Done.""#),
        finish,
    ];
    let payloads: Vec<&str> = payloads.iter().map(String::as_str).collect();
    let fast = decode(&payloads, false);
    assert_eq!(fast, decode(&payloads, true));
    let inputs: Vec<&Delta> = fast
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta { index: 1, delta } => Some(delta),
            _ => None,
        })
        .collect();
    assert_eq!(
        inputs,
        [
            &Delta::ToolInput(r#"{"q":"#.into()),
            &Delta::ToolInput(r#""x"}"#.into())
        ]
    );
}

/// The state that goes back on the assistant message, marked with `Verbatim` (SPEC §6).
#[test]
fn reasoning_field_details_and_extra_content_are_marked_verbatim() {
    let mut d = OpenAiChatDecoder::new();
    let mut out = Vec::new();
    for p in [
        r#"{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"a"}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"b","reasoning_details":[{"type":"reasoning.text","text":"x","index":0}]}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"reasoning_details":[{"type":"reasoning.text","text":"y","signature":"s","index":0}]}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"id":"f1","function":{"name":"f","arguments":"{}"},"extra_content":{"google":{"thought_signature":"t"}}}]}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    ] {
        d.push(p, &mut out).unwrap();
    }
    let verbatim: Vec<(usize, &str)> = out
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                index,
                delta: Delta::Verbatim(v),
            } => Some((*index, v.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        verbatim,
        [
            (0, r#""reasoning_content""#),
            (2, r#"{"google":{"thought_signature":"t"}}"#),
            (
                1,
                r#"[{"type":"reasoning.text","text":"xy","index":0,"signature":"s"}]"#
            ),
        ]
    );
    // Every Verbatim comes before its block's stop.
    let stops = out
        .iter()
        .position(|e| matches!(e, StreamEvent::BlockStop { .. }))
        .unwrap();
    assert!(
        out[..stops]
            .iter()
            .filter(|e| matches!(
                e,
                StreamEvent::BlockDelta {
                    delta: Delta::Verbatim(_),
                    ..
                }
            ))
            .count()
            == 3
    );
}

#[test]
fn an_error_payload_with_null_code_and_no_type_is_named_error() {
    let mut d = OpenAiChatDecoder::new();
    let mut out = Vec::new();
    d.push(r#"{"error":{"message":"boom","code":null}}"#, &mut out)
        .unwrap();
    assert_eq!(
        out,
        [StreamEvent::Error(ProviderError {
            kind: "error".into(),
            message: "boom".into()
        })]
    );
}
