//! The fast path against the full serde path, one payload per line: each payload is
//! decoded both ways, from a fresh decoder and after chunks that leave a text or a
//! thinking block open, and must give the same events and errors. Each `same!` payload
//! must also take the fast path; each `declines!` payload must be left to the full parse.

use super::*;

/// Google's usage on a text chunk (gemini-2.5-flash).
const USAGE: &str = r#"{"promptTokenCount": 21,"candidatesTokenCount": 50,"totalTokenCount": 166,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 21}],"thoughtsTokenCount": 95}"#;

/// A text chunk as Google writes it, `text` being the JSON of the text.
fn google(text: &str) -> String {
    google_with(text, USAGE)
}

/// A text chunk as Google writes it, with `usage` as its `usageMetadata`.
fn google_with(text: &str, usage: &str) -> String {
    format!(
        r#"{{"candidates": [{{"content": {{"parts": [{{"text": {text}}}],"role": "model"}},"index": 0}}],"usageMetadata": {usage},"modelVersion": "gemini-2.5-flash","responseId": "RUy4aObyJcTujrEPqtKYKQ"}}"#
    )
}

/// A text chunk as serde_json writes it (the mock).
fn compact(text: &str) -> String {
    format!(
        r#"{{"candidates":[{{"content":{{"parts":[{{"text":{text}}}],"role":"model"}},"index":0}}],"modelVersion":"mock-1"}}"#
    )
}

/// Chunks that leave the decoder in each state a text chunk can meet (always decoded in
/// full).
const BEFORE: &[&[&str]] = &[
    &[],
    &[r#"{"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}]}"#],
    &[
        r#"{"candidates": [{"content": {"parts": [{"text": "hmm","thought": true}],"role": "model"}}]}"#,
    ],
    &[
        r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f","args": {}}}],"role": "model"}}]}"#,
    ],
];

/// The events and error of `before` (full path) then `data`, through the fast path when
/// `fast` allows it.
fn decode(before: &[&str], data: &str, fast: bool) -> (Vec<StreamEvent>, Option<String>) {
    let mut d = GeminiDecoder::new();
    let mut out = Vec::new();
    for b in before {
        d.push_full(b, &mut out).unwrap();
    }
    let result = if fast {
        d.push(data, &mut out)
    } else {
        d.push_full(data, &mut out)
    };
    (out, result.err().map(|e| format!("{e:?}")))
}

/// Whether `data` takes the fast path; asserts it decodes the same both ways.
fn check(data: &str) -> bool {
    for before in BEFORE {
        assert_eq!(
            decode(before, data, true),
            decode(before, data, false),
            "{data} after {before:?}"
        );
    }
    fast::chunk(data).is_some()
}

macro_rules! same {
    ($name:ident, $data:expr) => {
        #[test]
        fn $name() {
            let data: &str = &$data;
            assert!(check(data), "the fast path declined {data}");
        }
    };
}

macro_rules! declines {
    ($name:ident, $data:expr) => {
        #[test]
        fn $name() {
            let data: &str = &$data;
            assert!(!check(data), "the fast path took {data}");
        }
    };
}

same!(text, google(r#""Hello""#));
same!(text_compact, compact(r#""Hello""#));
same!(simple_escapes, google(r#""a\"b\\c\/d\be\ff\ng\rh\ti""#));
same!(
    simple_escapes_compact,
    compact(r#""line\nbreak tab\there back\\slash \"quoted\"""#)
);
same!(
    unicode_escapes,
    google(r#""\u003cstyle\u003e \u00e9\u6771\u0000""#)
);
same!(surrogate_pair, google(r#""a\ud83d\ude00b\uD83D\uDE00""#));
same!(utf8, google(r#""東京 café 😀 75° —""#));
same!(empty_text, google(r#""""#));
same!(empty_text_compact, compact(r#""""#));
same!(
    no_index,
    r#"{"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 7,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]},"modelVersion": "gemini-2.0-flash"}"#
);
same!(
    no_usage,
    r#"{"candidates": [{"content": {"parts": [{"text": "Hello"}],"role": "model"}}],"modelVersion": "gemini-2.0-flash"}"#
);
same!(
    candidates_only,
    r#"{"candidates": [{"content": {"parts": [{"text": "Hello"}],"role": "model"}}]}"#
);
same!(
    candidates_only_compact,
    r#"{"candidates":[{"content":{"parts":[{"text":"Hello"}],"role":"model"}}]}"#
);
same!(
    response_id_without_model,
    r#"{"candidates": [{"content": {"parts": [{"text": "Hello"}],"role": "model"}}],"responseId": "r1"}"#
);
same!(
    compact_response_id,
    r#"{"candidates":[{"content":{"parts":[{"text":"Hello"}],"role":"model"},"index":0}],"modelVersion":"m","responseId":"r"}"#
);
same!(
    escaped_model_and_id,
    r#"{"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}],"modelVersion": "m\u00e9\"","responseId": "a\\b"}"#
);
same!(
    usage_minimal,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 7,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
same!(
    usage_candidates_details,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 7,"candidatesTokenCount": 10,"totalTokenCount": 17,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}],"candidatesTokensDetails": [{"modality": "TEXT","tokenCount": 10}]}"#
    )
);
same!(
    usage_tool_use,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 21,"candidatesTokenCount": 116,"totalTokenCount": 475,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 21}],"toolUsePromptTokenCount": 243,"toolUsePromptTokensDetails": [{"modality": "TEXT","tokenCount": 243}],"thoughtsTokenCount": 95}"#
    )
);
same!(
    usage_modalities,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 300,"totalTokenCount": 300,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 42},{"modality": "IMAGE","tokenCount": 258}]}"#
    )
);
same!(
    usage_zero_and_large,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 0,"candidatesTokenCount": 18446744073709551615,"totalTokenCount": 0,"promptTokensDetails": [{"modality": "T\u0045XT","tokenCount": 0}]}"#
    )
);

declines!(
    finish_reason,
    r#"{"candidates": [{"content": {"parts": [{"text": " wear a coat."}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 159,"candidatesTokenCount": 22,"totalTokenCount": 181,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 159}]},"modelVersion": "gemini-2.5-flash","responseId": "WE2DaN7iMqz2nsEPkfWRoQw"}"#
);
declines!(
    finish_reason_compact,
    r#"{"candidates":[{"content":{"parts":[{"text":"x"}],"role":"model"},"finishReason":"STOP","index":0}],"modelVersion":"mock-1"}"#
);
declines!(thought, google(r#""hmm","thought": true"#));
declines!(thought_false, google(r#""hmm","thought": false"#));
declines!(
    thought_signature,
    google(r#""Hi","thoughtSignature": "c2ln""#)
);
declines!(
    function_call,
    r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "now","args": {}}}],"role": "model"},"index": 0}]}"#
);
declines!(two_parts, google(r#""a"},{"text": "b""#));
declines!(
    two_candidates,
    r#"{"candidates": [{"content": {"parts": [{"text": "a"}],"role": "model"},"index": 0},{"content": {"parts": [{"text": "b"}],"role": "model"},"index": 1}]}"#
);
declines!(
    other_candidate,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"},"index": 1}]}"#
);
declines!(
    leading_zero_index,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"},"index": 00}]}"#
);
declines!(
    fractional_index,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"},"index": 0.0}]}"#
);
declines!(
    other_role,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "user"}}]}"#
);
declines!(
    no_role,
    r#"{"candidates": [{"content": {"parts": [{"text": "First "}]},"index": 0}]}"#
);
declines!(
    role_first,
    r#"{"candidates": [{"content": {"role": "model","parts": [{"text": "b"}]}}]}"#
);
declines!(
    index_first,
    r#"{"candidates": [{"index": 0,"content": {"parts": [{"text": "b"}],"role": "model"}}]}"#
);
declines!(
    model_before_usage,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"}}],"modelVersion": "m","usageMetadata": {"promptTokenCount": 7,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}}"#
);
declines!(
    id_before_model,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"}}],"responseId": "r","modelVersion": "m"}"#
);
declines!(
    duplicate_model,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"}}],"modelVersion": "m","modelVersion": "m"}"#
);
declines!(
    grounding_metadata,
    r#"{"candidates": [{"content": {"parts": [{"text": "The current weather in"}],"role": "model"},"index": 0,"groundingMetadata": {}}]}"#
);
declines!(
    citation_metadata,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"},"citationMetadata": {"citationSources": []}}]}"#
);
declines!(
    prompt_feedback,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role": "model"}}],"promptFeedback": {}}"#
);
declines!(
    unknown_usage_key,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 7,"cachedContentTokenCount": 3,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
declines!(
    usage_reordered,
    google_with(
        r#""Hi""#,
        r#"{"totalTokenCount": 7,"promptTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
declines!(
    usage_total_only,
    google_with(r#""Hi""#, r#"{"totalTokenCount": 7}"#)
);
declines!(usage_empty, google_with(r#""Hi""#, "{}"));
declines!(usage_null, google_with(r#""Hi""#, "null"));
declines!(usage_string, google_with(r#""Hi""#, r#""7""#));
declines!(
    usage_no_details,
    google_with(r#""Hi""#, r#"{"promptTokenCount": 7,"totalTokenCount": 7}"#)
);
declines!(
    usage_empty_details,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 7,"totalTokenCount": 7,"promptTokensDetails": []}"#
    )
);
declines!(
    count_as_string,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": "7","totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
declines!(
    count_leading_zero,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 07,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
declines!(
    count_negative,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": -7,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
declines!(
    count_fractional,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 7.5,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
declines!(
    count_overflow,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 18446744073709551616,"totalTokenCount": 7,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 7}]}"#
    )
);
declines!(
    modality_number,
    google_with(
        r#""Hi""#,
        r#"{"promptTokenCount": 7,"totalTokenCount": 7,"promptTokensDetails": [{"modality": 1,"tokenCount": 7}]}"#
    )
);
declines!(text_number, google("5"));
declines!(text_null, google("null"));
declines!(model_number, compact(r#""Hi""#).replace(r#""mock-1""#, "1"));
declines!(
    spaced_after_comma,
    google(r#""Hi""#).replace(r#","role""#, r#", "role""#)
);
declines!(
    compact_head_google_tail,
    r#"{"candidates":[{"content":{"parts":[{"text":"b"}],"role": "model"}}]}"#
);
declines!(
    google_head_compact_tail,
    r#"{"candidates": [{"content": {"parts": [{"text": "b"}],"role":"model"}}]}"#
);
declines!(
    compact_usage,
    r#"{"candidates":[{"content":{"parts":[{"text":"b"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":7}}"#
);
declines!(control_char_in_text, google("\"a\tb\""));
declines!(
    control_char_in_model,
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}],\"role\":\"model\"}}],\"modelVersion\":\"a\nb\"}"
);
declines!(bad_escape, google(r#""\q""#));
declines!(lone_surrogate, google(r#""\ud83d""#));
declines!(unterminated, compact(r#""abc"#));
declines!(leading_space, format!(" {}", google(r#""Hi""#)));
declines!(trailing_space, google(r#""Hi""#) + " ");
declines!(trailing_garbage, google(r#""Hi""#) + "}");
declines!(
    error,
    r#"{"error": {"code": 499,"message": "The operation was cancelled.","status": "CANCELLED"}}"#
);
declines!(empty_object, "{}");
declines!(not_json, "[DONE]");

#[test]
fn a_message_decodes_alike_with_and_without_the_fast_path() {
    // Thinking, text, a call, more text, usage, the finish: fast and full chunks mixed.
    let message = [
        r#"{"candidates": [{"content": {"parts": [{"text": "**Plan**\n","thought": true}],"role": "model"},"index": 0}],"modelVersion": "gemini-2.5-flash","responseId": "r1"}"#.to_owned(),
        google(r#""Let me ""#),
        google(r#""look.\n""#),
        r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "now","args": {}},"thoughtSignature": "c2ln"}],"role": "model"},"index": 0}]}"#.to_owned(),
        compact(r#""Done \u00e9""#),
        google(r#""""#),
        r#"{"candidates": [{"content": {"parts": [{"text": "!"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 21,"candidatesTokenCount": 9,"totalTokenCount": 30,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 21}]}}"#.to_owned(),
    ];
    let (mut fast, mut full) = (GeminiDecoder::new(), GeminiDecoder::new());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for data in &message {
        fast.push(data, &mut a).unwrap();
        full.push_full(data, &mut b).unwrap();
    }
    assert_eq!(a, b);
    let taken = message.iter().filter(|d| fast::chunk(d).is_some()).count();
    assert_eq!(taken, 4);
    assert!(matches!(
        &a[0],
        StreamEvent::MessageStart { id: Some(id), model: Some(m), .. }
            if id == "r1" && m == "gemini-2.5-flash"
    ));
}

#[test]
fn the_first_chunk_starts_the_message_on_the_fast_path() {
    let data = google(r#""Hi""#);
    assert!(fast::chunk(&data).is_some());
    let mut out = Vec::new();
    GeminiDecoder::new().push(&data, &mut out).unwrap();
    assert_eq!(
        out,
        [
            StreamEvent::MessageStart {
                id: Some("RUy4aObyJcTujrEPqtKYKQ".into()),
                model: Some("gemini-2.5-flash".into()),
                usage: Usage::default(),
            },
            StreamEvent::BlockStart {
                index: 0,
                block: Block::Text
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::Text("Hi".into())
            },
            StreamEvent::MessageDelta {
                stop_reason: None,
                // 50 candidates + 95 thoughts (SPEC §4: output counts the reasoning).
                usage: Usage {
                    reasoning_tokens: Some(95),
                    ..Usage::new(Some(21), Some(50 + 95))
                },
            },
        ]
    );
}

/// The events of `chunks`, decoded in full, and the errors.
fn events(chunks: &[&str]) -> (Vec<StreamEvent>, Vec<String>) {
    let mut d = GeminiDecoder::new();
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    for c in chunks {
        if let Err(e) = d.push(c, &mut out) {
            errors.push(e.to_string());
        }
    }
    (out, errors)
}

fn delta(index: usize, delta: Delta) -> StreamEvent {
    StreamEvent::BlockDelta { index, delta }
}

#[test]
fn a_signed_text_part_is_a_block_of_its_own() {
    let (out, errors) = events(&[
        r#"{"candidates": [{"content": {"parts": [{"text": "a"},{"text": "b","thoughtSignature": "s1"},{"text": "c"},{"text": "","thoughtSignature": "s2"}],"role": "model"}}]}"#,
    ]);
    assert!(errors.is_empty());
    let text = |i| StreamEvent::BlockStart {
        index: i,
        block: Block::Text,
    };
    assert_eq!(
        out[1..],
        [
            text(0),
            delta(0, Delta::Text("a".into())),
            StreamEvent::BlockStop { index: 0 },
            text(1),
            delta(1, Delta::Text("b".into())),
            delta(1, Delta::Signature("s1".into())),
            StreamEvent::BlockStop { index: 1 },
            text(2),
            delta(2, Delta::Text("c".into())),
            StreamEvent::BlockStop { index: 2 },
            text(3),
            delta(3, Delta::Text(String::new())),
            delta(3, Delta::Signature("s2".into())),
            StreamEvent::BlockStop { index: 3 },
        ]
    );
}

#[test]
fn a_blocked_prompt_ends_the_message_with_its_reason() {
    let (out, _) = events(&[r#"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}"#]);
    assert_eq!(
        out[1..],
        [
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::new(
                    StopKind::ContentFilter,
                    "PROHIBITED_CONTENT"
                )),
                usage: Usage::default(),
            },
            StreamEvent::MessageStop,
        ]
    );
    // Feedback without a block reason, or beside candidates, blocks nothing.
    let (out, _) = events(&[r#"{"promptFeedback": {"safetyRatings": []}}"#]);
    assert!(out.is_empty());
}

#[test]
fn a_whole_call_keeps_its_object_as_received() {
    let call = r#"{"id": "c9","name": "f","args": {"x": 1.50}}"#;
    let chunk = format!(
        r#"{{"candidates": [{{"content": {{"parts": [{{"functionCall": {call}}}],"role": "model"}}}}]}}"#
    );
    let (out, _) = events(&[&chunk]);
    assert!(out.contains(&delta(0, Delta::Verbatim(call.into()))));
    assert!(out.contains(&delta(0, Delta::ToolInput(r#"{"x": 1.50}"#.into()))));
    // The end marker of a streamed call that already ended starts nothing.
    let (out, errors) = events(&[
        r#"{"candidates": [{"content": {"parts": [{"functionCall": {}}],"role": "model"}}]}"#,
    ]);
    assert!(errors.is_empty());
    assert!(!out
        .iter()
        .any(|e| matches!(e, StreamEvent::BlockStart { .. })));
}

#[test]
fn streamed_arguments_complete_the_call_at_the_end_of_its_stream() {
    let piece = |fc: &str| {
        format!(r#"{{"candidates": [{{"content": {{"parts": [{{"functionCall": {fc}}}]}}}}]}}"#)
    };
    let chunks = [
        piece(r#"{"name": "f","willContinue": true}"#),
        piece(
            r#"{"partialArgs": [{"jsonPath": "$.q","stringValue": "a","willContinue": true}],"willContinue": true}"#,
        ),
        piece(
            r#"{"partialArgs": [{"jsonPath": "$.q","stringValue": "b"},{"jsonPath": "$['n'][0]","numberValue": 2e3}]}"#,
        ),
    ];
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let (out, errors) = events(&chunks[..2]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!out.contains(&StreamEvent::BlockStop { index: 0 }));
    let (out, _) = events(&chunks);
    let stop = out
        .iter()
        .position(|e| *e == StreamEvent::BlockStop { index: 0 });
    assert_eq!(stop, Some(out.len() - 1));
    assert!(out.contains(&delta(
        0,
        Delta::ToolInput(r#"{"q":"ab","n":[2e3]}"#.into())
    )));
}

#[test]
fn a_refused_piece_leaves_the_streamed_call_incomplete() {
    let piece = |fc: &str| {
        format!(r#"{{"candidates": [{{"content": {{"parts": [{{"functionCall": {fc}}}]}}}}]}}"#)
    };
    for bad in [
        r#"{"jsonPath": "q","stringValue": "x"}"#,
        r#"{"jsonPath": "$..q","stringValue": "x"}"#,
        r#"{"jsonPath": "$[0]","stringValue": "x"}"#,
        r#"{"jsonPath": "$.a[2]","stringValue": "x"}"#,
        r#"{"jsonPath": "$","stringValue": "x"}"#,
    ] {
        let chunks = [
            piece(r#"{"name": "f","willContinue": true}"#),
            piece(&format!(r#"{{"partialArgs": [{bad}]}}"#)),
        ];
        let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let (out, errors) = events(&chunks);
        assert_eq!(errors.len(), 1, "{bad}");
        assert!(errors[0].contains("partialArgs"), "{errors:?}");
        assert!(!out.contains(&StreamEvent::BlockStop { index: 0 }), "{bad}");
    }
    // A value set twice is refused, not overwritten.
    let chunks = [
        piece(
            r#"{"name": "f","partialArgs": [{"jsonPath": "$.q","stringValue": "x"}],"willContinue": true}"#,
        ),
        piece(r#"{"partialArgs": [{"jsonPath": "$.q","stringValue": "y"}]}"#),
    ];
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let (_, errors) = events(&chunks);
    assert!(errors[0].contains("twice"), "{errors:?}");
}

#[test]
fn an_unchanged_usage_is_not_repeated() {
    // Gemini repeats `usageMetadata` in every chunk: only a change is an event.
    let chunk = |text: &str, prompt: u64| {
        format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"{text}"}}],"role":"model"}},"index":0}}],"usageMetadata":{{"promptTokenCount":{prompt},"totalTokenCount":{prompt}}}}}"#
        )
    };
    let (a, b, c) = (chunk("a", 7), chunk("b", 7), chunk("c", 9));
    let (out, errors) = events(&[&a, &b, &c]);
    assert!(errors.is_empty(), "{errors:?}");
    let usages: Vec<Option<u64>> = out
        .iter()
        .filter_map(|e| match e {
            StreamEvent::MessageDelta { usage, .. } => Some(usage.input_tokens),
            _ => None,
        })
        .collect();
    assert_eq!(usages, [Some(7), Some(9)]);
}
