//! Provider quirks (SPEC §4), one test per quirk, on small hand-built streams.
//!
//! Each stream is fed one input event at a time (one SSE event, or one AWS event-stream
//! frame), so a test can assert the exact input event after which the assembler first
//! reports a tool call complete, not only the assembled result.

use crate::common;

use serde_json::{json, Value};
use toolstream::eventstream::{encode_message, Header, HeaderValue};
use toolstream::{
    ArgumentsError, AssembledMessage, Assembler, FramingLimits, OpenAiChatDecoder,
    OpenAiChatOptions, Provider, ProviderDecoder, StopKind, StopReason, StreamDecoder,
};

/// An SSE body with one `data:` event per payload.
fn sse(events: &[&str]) -> String {
    events.iter().map(|e| format!("data: {e}\n\n")).collect()
}

/// What a stream assembled to, and when its tool calls completed.
struct Run {
    message: AssembledMessage,
    /// `(input event, tool call)` for every completion, in the order reported. The input
    /// event is the position of the SSE event or frame that completed the call; the number
    /// of inputs means "at `finish`".
    completions: Vec<(usize, usize)>,
}

/// Feeds `inputs` to `decoder` one at a time, assembling as it goes.
fn run(mut decoder: StreamDecoder, inputs: &[Vec<u8>]) -> Run {
    let mut assembler = Assembler::new();
    let mut completions = Vec::new();
    let mut events = Vec::new();
    let mut take = |at: usize, events: &mut Vec<_>| {
        for event in events.drain(..) {
            match assembler.push(&event) {
                Ok(Some(call)) => completions.push((at, call)),
                Ok(None) => {}
                Err(e) => panic!("input {at}: assembling {event:?}: {e}"),
            }
        }
    };
    for (at, input) in inputs.iter().enumerate() {
        let pushed = decoder.push(input, &mut events);
        take(at, &mut events);
        pushed.unwrap_or_else(|e| panic!("input {at}: {e}"));
    }
    let finished = decoder.finish(&mut events);
    take(inputs.len(), &mut events);
    finished.unwrap_or_else(|e| panic!("finish: {e}"));
    Run {
        message: assembler.finish(),
        completions,
    }
}

/// Runs SSE payloads (one `data:` event each) through `decoder`.
fn run_sse_with(decoder: StreamDecoder, payloads: &[String]) -> Run {
    let inputs: Vec<Vec<u8>> = payloads.iter().map(|p| sse(&[p]).into_bytes()).collect();
    run(decoder, &inputs)
}

fn run_sse(provider: Provider, payloads: &[String]) -> Run {
    run_sse_with(StreamDecoder::new(provider), payloads)
}

fn stop(m: &AssembledMessage) -> Option<(StopKind, Option<&str>)> {
    m.stop_reason.as_ref().map(|s| (s.kind, s.raw.as_deref()))
}

/// The `(id, name, input)` of every tool call, for one-line comparisons.
fn calls(m: &AssembledMessage) -> Vec<(&str, &str, Result<Value, ArgumentsError>)> {
    m.tool_calls
        .iter()
        .map(|c| (&*c.id, &*c.name, c.input.clone()))
        .collect()
}

/// OpenAI Chat Completions and the OpenAI-compatible servers.
mod openai_chat {
    use super::*;

    /// A chunk whose choice 0 carries `delta` and, optionally, a `finish_reason`.
    fn chunk(delta: Value, finish: Option<&str>) -> String {
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
        .to_string()
    }

    /// A chunk carrying these `tool_calls` fragments.
    fn tools(fragments: Vec<Value>) -> String {
        chunk(json!({ "tool_calls": fragments }), None)
    }

    /// OpenAI's first fragment of a call: index, id, name, empty arguments.
    fn first(index: u64, id: &str, name: &str) -> Value {
        json!({"index": index, "id": id, "type": "function",
               "function": {"name": name, "arguments": ""}})
    }

    /// A continuation fragment: index and an arguments piece.
    fn args(index: u64, piece: &str) -> Value {
        json!({"index": index, "function": {"arguments": piece}})
    }

    fn text(t: &str) -> String {
        chunk(json!({ "content": t }), None)
    }

    fn finish(reason: &str) -> String {
        chunk(json!({}), Some(reason))
    }

    fn run_eager(payloads: &[String], complete_on_next_index: bool) -> Run {
        let decoder = OpenAiChatDecoder::with_options(OpenAiChatOptions {
            complete_on_next_index,
        });
        let decoder = StreamDecoder::from_provider_decoder(
            ProviderDecoder::OpenAiChat(decoder),
            FramingLimits::default(),
        );
        run_sse_with(decoder, payloads)
    }

    #[test]
    fn parallel_interleaved_calls_complete_at_finish_reason_in_request_order() {
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                tools(vec![first(0, "call_a", "get_weather")]),
                tools(vec![first(1, "call_b", "get_time")]),
                tools(vec![args(0, r#"{"city":"#)]),
                tools(vec![args(1, r#"{"tz":"#)]),
                tools(vec![args(1, r#""CET"}"#)]),
                tools(vec![args(0, r#""Paris"}"#)]),
                finish("tool_calls"),
            ],
        );
        assert_eq!(r.completions, [(6, 0), (6, 1)]);
        assert_eq!(
            calls(&r.message),
            [
                ("call_a", "get_weather", Ok(json!({"city": "Paris"}))),
                ("call_b", "get_time", Ok(json!({"tz": "CET"}))),
            ]
        );
        assert!(r.message.tool_calls.iter().all(|c| c.complete));
        assert_eq!(
            stop(&r.message),
            Some((StopKind::ToolUse, Some("tool_calls")))
        );
    }

    #[test]
    fn missing_index_with_an_id_per_call_gives_separate_calls() {
        // Gemini's and Ollama's compatible endpoints: whole calls, no `index`.
        let whole = |id: &str, name: &str, a: &str| json!({"id": id, "type": "function", "function": {"name": name, "arguments": a}});
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                tools(vec![whole("call_a", "get_weather", r#"{"city":"Paris"}"#)]),
                tools(vec![whole("call_b", "get_time", r#"{"tz":"CET"}"#)]),
                finish("tool_calls"),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [
                ("call_a", "get_weather", Ok(json!({"city": "Paris"}))),
                ("call_b", "get_time", Ok(json!({"tz": "CET"}))),
            ]
        );
        assert_eq!(r.completions, [(2, 0), (2, 1)]);
    }

    #[test]
    fn constant_index_zero_with_different_ids_gives_separate_calls() {
        let whole = |id: &str, name: &str, a: &str| {
            json!({"index": 0, "id": id, "type": "function",
                   "function": {"name": name, "arguments": a}})
        };
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                tools(vec![whole("call_a", "get_weather", r#"{"city":"Paris"}"#)]),
                tools(vec![whole("call_b", "get_time", r#"{"tz":"CET"}"#)]),
                finish("tool_calls"),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [
                ("call_a", "get_weather", Ok(json!({"city": "Paris"}))),
                ("call_b", "get_time", Ok(json!({"tz": "CET"}))),
            ]
        );
        assert_eq!(r.message.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
    }

    #[test]
    fn new_id_on_a_reused_index_starts_a_new_call() {
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                tools(vec![first(0, "call_a", "get_weather")]),
                tools(vec![args(0, r#"{"city":"#)]),
                tools(vec![args(0, r#""Paris"}"#)]),
                tools(vec![first(0, "call_b", "get_time")]),
                tools(vec![args(0, r#"{"tz":"#)]),
                tools(vec![args(0, r#""CET"}"#)]),
                finish("tool_calls"),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [
                ("call_a", "get_weather", Ok(json!({"city": "Paris"}))),
                ("call_b", "get_time", Ok(json!({"tz": "CET"}))),
            ]
        );
    }

    #[test]
    fn whole_call_in_one_delta() {
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                tools(vec![json!({"index": 0, "id": "call_a", "type": "function",
                    "function": {"name": "get_weather", "arguments": r#"{"city":"Paris"}"#}})]),
                finish("tool_calls"),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [("call_a", "get_weather", Ok(json!({"city": "Paris"})))]
        );
        assert_eq!(r.completions, [(1, 0)]);
    }

    #[test]
    fn tool_calls_in_the_same_chunk_as_finish_reason() {
        let delta = json!({"tool_calls": [
            {"index": 0, "id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": r#"{"city":"Paris"}"#}},
        ]});
        let r = run_sse(
            Provider::OpenAiChat,
            &[text("Checking."), chunk(delta, Some("tool_calls"))],
        );
        assert_eq!(
            calls(&r.message),
            [("call_a", "get_weather", Ok(json!({"city": "Paris"})))]
        );
        assert_eq!(r.completions, [(1, 0)]);
        assert!(r.message.tool_calls[0].complete);
        assert_eq!(r.message.text(), "Checking.");
        assert_eq!(
            stop(&r.message),
            Some((StopKind::ToolUse, Some("tool_calls")))
        );
    }

    #[test]
    fn usage_chunk_with_empty_choices_after_finish_reason_is_counted() {
        let usage = json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        });
        let r = run_sse(
            Provider::OpenAiChat,
            &[text("Hi"), finish("stop"), usage.to_string()],
        );
        assert_eq!(r.message.usage.input_tokens, Some(12));
        assert_eq!(r.message.usage.output_tokens, Some(7));
        assert_eq!(stop(&r.message), Some((StopKind::EndTurn, Some("stop"))));
        assert!(r.message.complete);
    }

    #[test]
    fn done_marker_with_and_without_trailing_space() {
        for done in ["data: [DONE]\n\n", "data: [DONE] \n\n"] {
            let body = sse(&[&text("Hi"), &finish("stop")]) + done;
            let events = common::decode(Provider::OpenAiChat, body.as_bytes())
                .unwrap_or_else(|e| panic!("{done:?}: {e}"));
            let m = common::assemble(&events);
            assert_eq!(m.text(), "Hi", "{done:?}");
            assert_eq!(
                stop(&m),
                Some((StopKind::EndTurn, Some("stop"))),
                "{done:?}"
            );
        }
    }

    #[test]
    fn mistral_continuations_without_index_and_with_empty_name_join_their_call() {
        let piece = |a: &str| json!({"function": {"name": "", "arguments": a}});
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                tools(vec![json!({"id": "call_a", "type": "function",
                    "function": {"name": "get_weather", "arguments": r#"{"city":"#}})]),
                tools(vec![piece(r#""Paris""#)]),
                tools(vec![piece("}")]),
                finish("tool_calls"),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [("call_a", "get_weather", Ok(json!({"city": "Paris"})))]
        );
    }

    #[test]
    fn stop_reason_mapping() {
        for (raw, kind) in [
            ("stop", StopKind::EndTurn),
            ("tool_calls", StopKind::ToolUse),
            ("function_call", StopKind::ToolUse),
            ("length", StopKind::MaxTokens),
            ("content_filter", StopKind::ContentFilter),
            ("something_new", StopKind::Other),
        ] {
            let r = run_sse(Provider::OpenAiChat, &[text("x"), finish(raw)]);
            assert_eq!(r.message.stop_reason, Some(StopReason::new(kind, raw)));
        }
    }

    #[test]
    fn only_choice_zero_is_assembled() {
        let two = |i0: Value, i1: Value| {
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                   "choices": [i0, i1]})
            .to_string()
        };
        let choice = |index: u64, delta: Value, finish: Option<&str>| json!({"index": index, "delta": delta, "finish_reason": finish});
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                two(
                    choice(0, json!({"content": "zero"}), None),
                    choice(1, json!({"content": "one"}), None),
                ),
                two(
                    choice(
                        1,
                        json!({"tool_calls": [first(0, "call_x", "other")]}),
                        None,
                    ),
                    choice(0, json!({"content": "!"}), None),
                ),
                two(
                    choice(1, json!({}), Some("tool_calls")),
                    choice(0, json!({}), Some("stop")),
                ),
            ],
        );
        assert_eq!(r.message.text(), "zero!");
        assert!(r.message.tool_calls.is_empty());
        assert_eq!(stop(&r.message), Some((StopKind::EndTurn, Some("stop"))));
    }

    #[test]
    fn refusal_deltas_are_not_text() {
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                chunk(
                    json!({"role": "assistant", "content": null, "refusal": ""}),
                    None,
                ),
                chunk(json!({"refusal": "I can't "}), None),
                chunk(json!({"refusal": "help with that."}), None),
                finish("stop"),
            ],
        );
        assert_eq!(r.message.text(), "");
        assert_eq!(r.message.refusal(), "I can't help with that.");
    }

    #[test]
    fn complete_on_next_index_completes_a_call_when_the_next_one_starts() {
        let stream = [
            tools(vec![first(0, "call_a", "get_weather")]),
            tools(vec![args(0, r#"{"city":"Paris"}"#)]),
            tools(vec![first(1, "call_b", "get_time")]),
            tools(vec![args(1, r#"{"tz":"CET"}"#)]),
            finish("tool_calls"),
        ];
        let eager = run_eager(&stream, true);
        assert_eq!(eager.completions, [(2, 0), (4, 1)]);
        let default = run_eager(&stream, false);
        assert_eq!(default.completions, [(4, 0), (4, 1)]);
        for r in [eager, default] {
            assert_eq!(
                calls(&r.message),
                [
                    ("call_a", "get_weather", Ok(json!({"city": "Paris"}))),
                    ("call_b", "get_time", Ok(json!({"tz": "CET"}))),
                ]
            );
        }
    }

    #[test]
    fn no_finish_reason_leaves_calls_incomplete() {
        let r = run_sse(
            Provider::OpenAiChat,
            &[
                tools(vec![first(0, "call_a", "get_weather")]),
                // Parses as JSON, yet the provider never said the call was complete.
                tools(vec![args(0, r#"{"city":"Paris"}"#)]),
                tools(vec![first(1, "call_b", "get_time")]),
            ],
        );
        assert!(r.completions.is_empty());
        assert_eq!(r.message.tool_calls.len(), 2);
        for c in &r.message.tool_calls {
            assert!(!c.complete, "{}", c.id);
            assert_eq!(c.input, Err(ArgumentsError::Incomplete), "{}", c.id);
        }
        assert_eq!(r.message.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(r.message.stop_reason, None);
        assert!(!r.message.complete);
    }

    #[test]
    fn reasoning_content_and_reasoning_are_thinking() {
        for field in ["reasoning_content", "reasoning"] {
            let r = run_sse(
                Provider::OpenAiChat,
                &[
                    chunk(json!({ field: "Think " }), None),
                    chunk(json!({ field: "first." }), None),
                    text("Answer."),
                    finish("stop"),
                ],
            );
            assert_eq!(r.message.thinking(), "Think first.", "{field}");
            assert_eq!(r.message.text(), "Answer.", "{field}");
        }
    }

    #[test]
    fn error_chunk_is_a_provider_error() {
        let error =
            json!({"error": {"message": "The server had an error", "type": "server_error"}});
        let r = run_sse(Provider::OpenAiChat, &[text("Hi"), error.to_string()]);
        let e = r.message.error.as_ref().expect("a provider error");
        assert_eq!(e.kind, "server_error");
        assert_eq!(e.message, "The server had an error");
        assert_eq!(r.message.stop_kind(), Some(StopKind::Error));
    }
}

/// Anthropic Messages API.
mod anthropic {
    use super::*;

    fn message_start(input_tokens: u64) -> String {
        json!({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [], "stop_reason": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }})
        .to_string()
    }

    fn block_start(index: usize, block: Value) -> String {
        json!({"type": "content_block_start", "index": index, "content_block": block}).to_string()
    }

    fn tool_start(index: usize, id: &str, name: &str) -> String {
        block_start(
            index,
            json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
        )
    }

    fn input(index: usize, partial_json: &str) -> String {
        json!({"type": "content_block_delta", "index": index,
               "delta": {"type": "input_json_delta", "partial_json": partial_json}})
        .to_string()
    }

    fn block_stop(index: usize) -> String {
        json!({"type": "content_block_stop", "index": index}).to_string()
    }

    fn message_delta(reason: &str, usage: Value) -> String {
        json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null},
               "usage": usage})
        .to_string()
    }

    fn message_stop() -> String {
        json!({"type": "message_stop"}).to_string()
    }

    /// One tool call at block 0 with these argument fragments, ended normally.
    fn one_call(fragments: &[&str]) -> Run {
        let mut stream = vec![message_start(10), tool_start(0, "toolu_1", "search")];
        stream.extend(fragments.iter().map(|f| input(0, f)));
        stream.extend([
            block_stop(0),
            message_delta("tool_use", json!({"output_tokens": 5})),
            message_stop(),
        ]);
        run_sse(Provider::Anthropic, &stream)
    }

    #[test]
    fn interleaved_deltas_are_routed_by_block_index() {
        let r = run_sse(
            Provider::Anthropic,
            &[
                message_start(10),
                tool_start(1, "toolu_a", "get_weather"),
                tool_start(2, "toolu_b", "get_time"),
                input(2, r#"{"tz":"#),
                input(1, r#"{"city":"#),
                input(2, r#""CET"}"#),
                input(1, r#""Paris"}"#),
                block_stop(2),
                block_stop(1),
                message_delta("tool_use", json!({"output_tokens": 20})),
                message_stop(),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [
                ("toolu_a", "get_weather", Ok(json!({"city": "Paris"}))),
                ("toolu_b", "get_time", Ok(json!({"tz": "CET"}))),
            ]
        );
        // Each call completes at its own block's stop, whatever the order.
        assert_eq!(r.completions, [(7, 1), (8, 0)]);
    }

    #[test]
    fn arguments_that_parse_early_complete_only_at_content_block_stop() {
        // A lenient partial-JSON parser reads `{"q":"x"` as `{"q":"x"}`; the call is still
        // streaming `,"limit":10}`.
        let r = one_call(&[r#"{"q":"x""#, r#","limit":10"#, "}"]);
        assert_eq!(
            r.completions,
            [(5, 0)],
            "only at content_block_stop (input 5)"
        );
        assert_eq!(
            r.message.tool_calls[0].input,
            Ok(json!({"q": "x", "limit": 10}))
        );

        // The whole object in the first fragment: still only at content_block_stop.
        let r = run_sse(
            Provider::Anthropic,
            &[
                tool_start(0, "toolu_1", "search"),
                input(0, r#"{"q":"x"}"#),
                json!({"type": "ping"}).to_string(),
                block_stop(0),
            ],
        );
        assert_eq!(r.completions, [(3, 0)]);
        assert_eq!(r.message.tool_calls[0].input, Ok(json!({"q": "x"})));
    }

    #[test]
    fn empty_first_partial_json_and_no_argument_tools() {
        let r = one_call(&["", r#"{"q":"#, r#""x"}"#]);
        assert_eq!(r.message.tool_calls[0].input, Ok(json!({"q": "x"})));
        for fragments in [&[][..], &[""], &["", ""]] {
            let r = one_call(fragments);
            let call = &r.message.tool_calls[0];
            assert_eq!(call.input, Ok(json!({})), "{fragments:?}");
            assert!(call.complete, "{fragments:?}");
        }
    }

    #[test]
    fn tool_use_with_input_in_content_block_start_and_no_deltas() {
        let r = run_sse(
            Provider::Anthropic,
            &[
                message_start(10),
                block_start(
                    0,
                    json!({"type": "tool_use", "id": "toolu_1", "name": "search",
                           "input": {"q": "rust", "limit": 3}}),
                ),
                block_stop(0),
                message_delta("tool_use", json!({"output_tokens": 5})),
                message_stop(),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [("toolu_1", "search", Ok(json!({"q": "rust", "limit": 3})))]
        );
        assert_eq!(r.completions, [(2, 0)]);
    }

    #[test]
    fn server_tool_use_is_not_a_client_tool_call() {
        let r = run_sse(
            Provider::Anthropic,
            &[
                message_start(10),
                block_start(
                    0,
                    json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
                           "input": {}}),
                ),
                input(0, r#"{"query":"rust"}"#),
                block_stop(0),
                block_start(
                    1,
                    json!({"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
                           "content": []}),
                ),
                block_stop(1),
                tool_start(2, "toolu_1", "save"),
                input(2, r#"{"ok":true}"#),
                block_stop(2),
                message_delta("tool_use", json!({"output_tokens": 5})),
                message_stop(),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [("toolu_1", "save", Ok(json!({"ok": true})))]
        );
        assert_eq!(r.message.tool_calls[0].index, 0);
        assert_eq!(r.message.tool_calls[0].block, 2);
        assert_eq!(r.completions, [(8, 0)]);
    }

    #[test]
    fn unknown_event_and_block_types_are_skipped() {
        let r = run_sse(
            Provider::Anthropic,
            &[
                message_start(10),
                json!({"type": "brand_new_event", "index": 0, "stuff": [1, 2]}).to_string(),
                block_start(0, json!({"type": "brand_new_block", "payload": {"a": 1}})),
                json!({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "brand_new_delta", "value": 1}})
                .to_string(),
                block_stop(0),
                block_start(1, json!({"type": "text", "text": ""})),
                json!({"type": "content_block_delta", "index": 1,
                       "delta": {"type": "text_delta", "text": "Hello"}})
                .to_string(),
                block_stop(1),
                message_delta("end_turn", json!({"output_tokens": 5})),
                message_stop(),
            ],
        );
        assert_eq!(r.message.text(), "Hello");
        assert!(r.message.tool_calls.is_empty());
        assert_eq!(r.message.error, None);
        assert_eq!(
            stop(&r.message),
            Some((StopKind::EndTurn, Some("end_turn")))
        );
    }

    #[test]
    fn message_delta_input_tokens_override_message_start() {
        let r = run_sse(
            Provider::Anthropic,
            &[
                message_start(10),
                message_delta(
                    "end_turn",
                    json!({"input_tokens": 2500, "output_tokens": 42}),
                ),
                message_stop(),
            ],
        );
        assert_eq!(r.message.usage.input_tokens, Some(2500));
        assert_eq!(r.message.usage.output_tokens, Some(42));
    }

    #[test]
    fn invalid_json_arguments_are_an_error_never_an_empty_object() {
        let r = one_call(&[r#"{"q": "x","#, "}"]);
        let call = &r.message.tool_calls[0];
        assert!(call.complete);
        assert_eq!(call.arguments, r#"{"q": "x",}"#);
        let e = call.input.as_ref().expect_err("invalid JSON is an error");
        assert!(matches!(e, ArgumentsError::InvalidJson { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("invalid JSON in tool arguments"),
            "{e}"
        );
    }

    #[test]
    fn arguments_that_are_not_an_object_name_the_type() {
        let r = one_call(&["[1,", "2]"]);
        let e = r.message.tool_calls[0].input.as_ref().unwrap_err();
        assert_eq!(*e, ArgumentsError::NotAnObject { found: "array" });
        assert!(e.to_string().contains("array"), "{e}");
    }
}

/// OpenAI Responses API.
mod openai_responses {
    use super::*;

    fn created() -> String {
        json!({"type": "response.created", "sequence_number": 0,
               "response": {"id": "resp_1", "model": "gpt-4.1", "status": "in_progress"}})
        .to_string()
    }

    fn call_added(output: usize, call_id: &str, name: &str) -> String {
        json!({"type": "response.output_item.added", "output_index": output,
               "item": {"type": "function_call", "id": format!("fc_{output}"),
                        "call_id": call_id, "name": name, "arguments": "",
                        "status": "in_progress"}})
        .to_string()
    }

    fn args_delta(output: usize, delta: &str) -> String {
        json!({"type": "response.function_call_arguments.delta",
               "item_id": format!("fc_{output}"), "output_index": output, "delta": delta})
        .to_string()
    }

    fn args_done(output: usize, arguments: &str) -> String {
        json!({"type": "response.function_call_arguments.done",
               "item_id": format!("fc_{output}"), "output_index": output,
               "arguments": arguments})
        .to_string()
    }

    fn call_done(output: usize, call_id: &str, name: &str, arguments: &str) -> String {
        json!({"type": "response.output_item.done", "output_index": output,
               "item": {"type": "function_call", "id": format!("fc_{output}"),
                        "call_id": call_id, "name": name, "arguments": arguments,
                        "status": "completed"}})
        .to_string()
    }

    /// A whole `message` output item with this text.
    fn message(output: usize, text: &str) -> Vec<String> {
        let id = format!("msg_{output}");
        vec![
            json!({"type": "response.output_item.added", "output_index": output,
                   "item": {"type": "message", "id": id, "role": "assistant", "content": []}}),
            json!({"type": "response.content_part.added", "item_id": id,
                   "output_index": output, "content_index": 0,
                   "part": {"type": "output_text", "text": ""}}),
            json!({"type": "response.output_text.delta", "item_id": id,
                   "output_index": output, "content_index": 0, "delta": text}),
            json!({"type": "response.content_part.done", "item_id": id,
                   "output_index": output, "content_index": 0,
                   "part": {"type": "output_text", "text": text}}),
            json!({"type": "response.output_item.done", "output_index": output,
                   "item": {"type": "message", "id": id, "role": "assistant"}}),
        ]
        .into_iter()
        .map(|v| v.to_string())
        .collect()
    }

    fn completed() -> String {
        json!({"type": "response.completed",
               "response": {"id": "resp_1", "status": "completed",
                            "usage": {"input_tokens": 30, "output_tokens": 12}}})
        .to_string()
    }

    #[test]
    fn function_calls_complete_at_arguments_done() {
        let r = run_sse(
            Provider::OpenAiResponses,
            &[
                created(),
                call_added(0, "call_a", "get_weather"),
                args_delta(0, r#"{"city":"#),
                args_delta(0, r#""Paris"}"#),
                args_done(0, r#"{"city":"Paris"}"#),
                call_done(0, "call_a", "get_weather", r#"{"city":"Paris"}"#),
                call_added(1, "call_b", "get_time"),
                args_delta(1, r#"{"tz":"CET"}"#),
                args_done(1, r#"{"tz":"CET"}"#),
                call_done(1, "call_b", "get_time", r#"{"tz":"CET"}"#),
                completed(),
            ],
        );
        assert_eq!(r.completions, [(4, 0), (8, 1)]);
        assert_eq!(
            calls(&r.message),
            [
                ("call_a", "get_weather", Ok(json!({"city": "Paris"}))),
                ("call_b", "get_time", Ok(json!({"tz": "CET"}))),
            ]
        );
        assert_eq!(
            stop(&r.message),
            Some((StopKind::ToolUse, Some("completed")))
        );
        assert_eq!(r.message.usage.input_tokens, Some(30));
        assert_eq!(r.message.usage.output_tokens, Some(12));

        let mut stream = vec![created()];
        stream.extend(message(0, "Hello"));
        stream.push(completed());
        let r = run_sse(Provider::OpenAiResponses, &stream);
        assert_eq!(r.message.text(), "Hello");
        assert_eq!(
            stop(&r.message),
            Some((StopKind::EndTurn, Some("completed")))
        );
    }

    #[test]
    fn incomplete_for_max_output_tokens_is_max_tokens() {
        let mut stream = vec![created()];
        stream.extend(message(0, "Hel"));
        stream.push(
            json!({"type": "response.incomplete",
                   "response": {"id": "resp_1", "status": "incomplete",
                                "incomplete_details": {"reason": "max_output_tokens"}}})
            .to_string(),
        );
        let r = run_sse(Provider::OpenAiResponses, &stream);
        assert_eq!(
            stop(&r.message),
            Some((StopKind::MaxTokens, Some("incomplete")))
        );
    }

    #[test]
    fn arguments_given_only_at_done_are_used() {
        // In `function_call_arguments.done`.
        let r = run_sse(
            Provider::OpenAiResponses,
            &[
                created(),
                call_added(0, "call_a", "get_weather"),
                args_done(0, r#"{"city":"Paris"}"#),
                call_done(0, "call_a", "get_weather", r#"{"city":"Paris"}"#),
                completed(),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [("call_a", "get_weather", Ok(json!({"city": "Paris"})))]
        );
        assert_eq!(r.completions, [(2, 0)]);

        // Only in `output_item.done`.
        let r = run_sse(
            Provider::OpenAiResponses,
            &[
                created(),
                call_added(0, "call_a", "get_weather"),
                call_done(0, "call_a", "get_weather", r#"{"city":"Paris"}"#),
                completed(),
            ],
        );
        assert_eq!(
            calls(&r.message),
            [("call_a", "get_weather", Ok(json!({"city": "Paris"})))]
        );
        assert_eq!(r.completions, [(2, 0)]);
    }

    #[test]
    fn error_then_failed_is_an_error_stop() {
        let mut stream = vec![created()];
        stream.extend(message(0, "Hi"));
        stream.extend([
            json!({"type": "error", "code": "rate_limit_exceeded",
                   "message": "Rate limit reached", "param": null, "sequence_number": 7})
            .to_string(),
            json!({"type": "response.failed", "sequence_number": 8,
                   "response": {"id": "resp_1", "status": "failed",
                                "error": {"code": "rate_limit_exceeded",
                                          "message": "Rate limit reached"}}})
            .to_string(),
        ]);
        let r = run_sse(Provider::OpenAiResponses, &stream);
        assert_eq!(stop(&r.message), Some((StopKind::Error, Some("failed"))));
        let e = r.message.error.as_ref().expect("a provider error");
        assert_eq!(e.kind, "rate_limit_exceeded");
        assert_eq!(e.message, "Rate limit reached");
    }
}

/// Gemini `streamGenerateContent?alt=sse`.
mod gemini {
    use super::*;

    fn parts(parts: Value, finish: Option<&str>) -> String {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(reason) = finish {
            candidate["finishReason"] = json!(reason);
        }
        json!({"candidates": [candidate], "modelVersion": "gemini-2.5-flash"}).to_string()
    }

    fn finish(reason: &str) -> String {
        json!({"candidates": [{"finishReason": reason, "index": 0}],
               "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5}})
        .to_string()
    }

    #[test]
    fn two_function_calls_in_one_chunk_complete_at_once() {
        let r = run_sse(
            Provider::Gemini,
            &[
                parts(
                    json!([
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                        {"functionCall": {"name": "get_time", "args": {"tz": "CET"}}},
                    ]),
                    None,
                ),
                finish("STOP"),
            ],
        );
        assert_eq!(r.completions, [(0, 0), (0, 1)]);
        assert_eq!(
            calls(&r.message),
            [
                ("call_0", "get_weather", Ok(json!({"city": "Paris"}))),
                ("call_1", "get_time", Ok(json!({"tz": "CET"}))),
            ]
        );
        assert_eq!(stop(&r.message), Some((StopKind::ToolUse, Some("STOP"))));
        assert_eq!(r.message.usage.input_tokens, Some(10));
    }

    #[test]
    fn thought_text_is_thinking() {
        let r = run_sse(
            Provider::Gemini,
            &[
                parts(json!([{"text": "Let me think.", "thought": true}]), None),
                parts(json!([{"text": "The answer."}]), Some("STOP")),
            ],
        );
        assert_eq!(r.message.thinking(), "Let me think.");
        assert_eq!(r.message.text(), "The answer.");
        assert_eq!(stop(&r.message), Some((StopKind::EndTurn, Some("STOP"))));
    }

    #[test]
    fn finish_reason_mapping() {
        for (raw, kind) in [
            ("SAFETY", StopKind::ContentFilter),
            ("RECITATION", StopKind::ContentFilter),
            ("MAX_TOKENS", StopKind::MaxTokens),
        ] {
            let r = run_sse(
                Provider::Gemini,
                &[parts(json!([{"text": "Some text"}]), None), finish(raw)],
            );
            assert_eq!(r.message.stop_reason, Some(StopReason::new(kind, raw)));
        }
    }

    #[test]
    fn function_call_without_args_is_an_empty_object() {
        let r = run_sse(
            Provider::Gemini,
            &[parts(
                json!([{"functionCall": {"name": "get_time"}}]),
                Some("STOP"),
            )],
        );
        assert_eq!(calls(&r.message), [("call_0", "get_time", Ok(json!({})))]);
        assert!(r.message.tool_calls[0].complete);
    }
}

/// Amazon Bedrock `ConverseStream`.
mod bedrock {
    use super::*;

    fn header(name: &str, value: &str) -> Header {
        Header {
            name: name.into(),
            value: HeaderValue::String(value.into()),
        }
    }

    fn frame(event_type: &str, payload: Value) -> Vec<u8> {
        encode_message(
            &[
                header(":event-type", event_type),
                header(":content-type", "application/json"),
                header(":message-type", "event"),
            ],
            payload.to_string().as_bytes(),
        )
    }

    fn exception(exception_type: &str, message: &str) -> Vec<u8> {
        encode_message(
            &[
                header(":exception-type", exception_type),
                header(":content-type", "application/json"),
                header(":message-type", "exception"),
            ],
            json!({ "message": message }).to_string().as_bytes(),
        )
    }

    fn text(index: usize, t: &str) -> Vec<u8> {
        frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": index, "delta": {"text": t}}),
        )
    }

    fn tool_input(index: usize, input: &str) -> Vec<u8> {
        frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": input}}}),
        )
    }

    fn block_stop(index: usize) -> Vec<u8> {
        frame("contentBlockStop", json!({ "contentBlockIndex": index }))
    }

    fn message_stop(reason: &str) -> Vec<u8> {
        frame("messageStop", json!({ "stopReason": reason }))
    }

    fn message_start() -> Vec<u8> {
        frame("messageStart", json!({"role": "assistant"}))
    }

    #[test]
    fn implicit_text_block_then_a_streamed_tool_call() {
        let r = run(
            StreamDecoder::new(Provider::Bedrock),
            &[
                message_start(),
                text(0, "Let me check."),
                block_stop(0),
                frame(
                    "contentBlockStart",
                    json!({"contentBlockIndex": 1,
                           "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}}),
                ),
                tool_input(1, ""),
                tool_input(1, r#"{"city":"#),
                tool_input(1, r#""Paris"}"#),
                block_stop(1),
                message_stop("tool_use"),
                frame(
                    "metadata",
                    json!({"usage": {"inputTokens": 12, "outputTokens": 34, "totalTokens": 46},
                           "metrics": {"latencyMs": 321}}),
                ),
            ],
        );
        assert_eq!(r.message.text(), "Let me check.");
        assert_eq!(
            calls(&r.message),
            [("tooluse_1", "get_weather", Ok(json!({"city": "Paris"})))]
        );
        assert!(r.message.tool_calls[0].complete);
        assert_eq!(r.completions, [(7, 0)]);
        assert_eq!(
            stop(&r.message),
            Some((StopKind::ToolUse, Some("tool_use")))
        );
        assert_eq!(r.message.usage.input_tokens, Some(12));
        assert_eq!(r.message.usage.output_tokens, Some(34));
        assert!(r.message.complete);
    }

    #[test]
    fn exception_frame_is_a_provider_error() {
        let r = run(
            StreamDecoder::new(Provider::Bedrock),
            &[
                message_start(),
                text(0, "Partial"),
                exception("throttlingException", "Too many requests, please wait."),
            ],
        );
        let e = r.message.error.as_ref().expect("a provider error");
        assert_eq!(e.kind, "throttlingException");
        assert_eq!(e.message, "Too many requests, please wait.");
        assert_eq!(r.message.stop_kind(), Some(StopKind::Error));
    }

    #[test]
    fn guardrail_intervened_is_content_filter() {
        for raw in ["guardrail_intervened", "content_filtered"] {
            let r = run(
                StreamDecoder::new(Provider::Bedrock),
                &[
                    message_start(),
                    text(0, "x"),
                    block_stop(0),
                    message_stop(raw),
                ],
            );
            assert_eq!(
                r.message.stop_reason,
                Some(StopReason::new(StopKind::ContentFilter, raw))
            );
        }
    }
}
