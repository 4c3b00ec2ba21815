//! SPEC §4 "Usage": five normalized fields for every provider. `input_tokens` counts every
//! prompt token, cached or not; `output_tokens` every generated token, reasoning included;
//! cache reads, cache writes and reasoning tokens beside them, null when not reported.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use toolstream::eventstream::{encode_message, Header, HeaderValue};
use toolstream::{Provider, StreamDecoder, StreamEvent, Usage};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// `toolstream turn --provider P FILE`'s `usage` object.
fn turn_usage(provider: &str, rel: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .args(["turn", "--provider", provider])
        .arg(fixture(rel))
        .output()
        .unwrap();
    assert!(out.status.success(), "{rel}: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["usage"].clone()
}

fn usage(input: u64, output: u64, read: Value, write: Value, reasoning: Value) -> Value {
    json!({"input_tokens": input, "output_tokens": output, "cache_read_input_tokens": read,
           "cache_write_input_tokens": write, "reasoning_tokens": reasoning})
}

#[test]
fn anthropic_adds_cache_reads_and_writes_to_the_input() {
    // message_start: input 14, cache_creation 412, cache_read 3586; output 57 at the end.
    assert_eq!(
        turn_usage(
            "anthropic",
            "anthropic/constructed-anthropic-prompt-cache-read.sse"
        ),
        usage(14 + 412 + 3586, 57, json!(3586), json!(412), Value::Null)
    );
    // A live capture with zero cache fields reports zeros, not nulls.
    assert_eq!(
        turn_usage(
            "anthropic",
            "anthropic/prism-anthropic-stream-with-tools-3.sse"
        ),
        usage(200, 36, json!(0), json!(0), Value::Null)
    );
}

#[test]
fn openai_chat_cached_tokens_are_part_of_the_prompt() {
    // DeepSeek: prompt_tokens 223, prompt_tokens_details.cached_tokens 192.
    assert_eq!(
        turn_usage(
            "openai-chat",
            "openai-compatible/prism-deepseek-stream-with-tools-1.sse"
        ),
        usage(223, 43, json!(192), Value::Null, Value::Null)
    );
}

#[test]
fn openai_responses_cached_and_reasoning_tokens() {
    // input 17360 (cached 8311), output 1321 (reasoning 1152).
    assert_eq!(
        turn_usage(
            "openai-responses",
            "openai-responses/prism-openai-responses-stream-with-provider-tool-1.sse"
        ),
        usage(17360, 1321, json!(8311), Value::Null, json!(1152))
    );
}

#[test]
fn gemini_output_counts_the_thoughts() {
    // promptTokenCount 131, candidatesTokenCount 15, totalTokenCount 241: 95 thoughts.
    assert_eq!(
        turn_usage(
            "gemini",
            "gemini/prism-gemini-stream-with-tools-thought-1.sse"
        ),
        usage(131, 15 + 95, Value::Null, Value::Null, json!(95))
    );
}

fn decode(provider: Provider, body: &[u8]) -> Usage {
    let mut decoder = StreamDecoder::new(provider);
    let mut events = Vec::new();
    decoder.push(body, &mut events).unwrap();
    decoder.finish(&mut events).unwrap();
    let mut total = Usage::default();
    for e in events {
        if let StreamEvent::MessageStart { usage, .. } | StreamEvent::MessageDelta { usage, .. } = e
        {
            total.update(usage);
        }
    }
    total
}

#[test]
fn gemini_cached_content_is_a_cache_read() {
    // The documented usageMetadata of an implicit cache hit (`cachedContentTokenCount`,
    // part of `promptTokenCount`), on the compact and on Google's spaced layout.
    for data in [
        r#"{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":2152,"candidatesTokenCount":17,"totalTokenCount":2169,"cachedContentTokenCount":2048}}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": "ok"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 2152,"candidatesTokenCount": 17,"totalTokenCount": 2169,"cachedContentTokenCount": 2048,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 2152}]},"modelVersion": "gemini-2.5-flash"}"#,
    ] {
        let u = decode(Provider::Gemini, format!("data: {data}\n\n").as_bytes());
        assert_eq!(u.input_tokens, Some(2152));
        assert_eq!(u.cache_read_input_tokens, Some(2048));
        assert_eq!(u.output_tokens, Some(17));
        assert_eq!(u.reasoning_tokens, None);
    }
}

#[test]
fn an_anthropic_input_count_without_cache_fields_keeps_the_cached_part() {
    // message_delta giving `input_tokens` alone: the cache counts of message_start still
    // belong to it.
    let body = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":1}}}"#,
        "\n\n",
        "event: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":10,"output_tokens":7}}"#,
        "\n\n",
        "event: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
        // A second message of a recorded file starts from nothing.
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}"#,
        "\n\n",
    );
    let mut decoder = StreamDecoder::new(Provider::Anthropic);
    let mut events = Vec::new();
    decoder.push(body.as_bytes(), &mut events).unwrap();
    let usages: Vec<Usage> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::MessageStart { usage, .. } | StreamEvent::MessageDelta { usage, .. } => {
                Some(*usage)
            }
            _ => None,
        })
        .collect();
    assert_eq!(usages[0].input_tokens, Some(115));
    assert_eq!(usages[1].input_tokens, Some(115));
    assert_eq!(usages[1].output_tokens, Some(7));
    assert_eq!(usages[2].input_tokens, Some(3));
    assert_eq!(usages[2].cache_read_input_tokens, None);
}

fn frame(event: &str, payload: &str) -> Vec<u8> {
    let h = |name: &str, v: &str| Header {
        name: name.into(),
        value: HeaderValue::String(v.into()),
    };
    encode_message(
        &[
            h(":event-type", event),
            h(":content-type", "application/json"),
            h(":message-type", "event"),
        ],
        payload.as_bytes(),
    )
}

#[test]
fn bedrock_adds_cache_reads_and_writes_to_the_input() {
    // ConverseStream `metadata.usage` (TokenUsage: inputTokens, outputTokens, totalTokens,
    // cacheReadInputTokens, cacheWriteInputTokens); inputTokens leaves the cache out.
    let mut body = frame("messageStart", r#"{"role":"assistant"}"#);
    body.extend(frame(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
    ));
    body.extend(frame("contentBlockStop", r#"{"contentBlockIndex":0}"#));
    body.extend(frame("messageStop", r#"{"stopReason":"end_turn"}"#));
    body.extend(frame(
        "metadata",
        r#"{"usage":{"inputTokens":6,"outputTokens":262,"totalTokens":3460,"cacheReadInputTokens":3192,"cacheWriteInputTokens":0},"metrics":{"latencyMs":886}}"#,
    ));
    let u = decode(Provider::Bedrock, &body);
    assert_eq!(u.input_tokens, Some(3198));
    assert_eq!(u.cache_read_input_tokens, Some(3192));
    assert_eq!(u.cache_write_input_tokens, Some(0));
    assert_eq!(u.output_tokens, Some(262));
}

#[test]
fn usage_adds_up_and_gives_the_cache_share() {
    let mut total = Usage::default();
    assert_eq!(total.cache_read_share(), None);
    total.add(Usage::new(Some(100), Some(10)));
    total.add(Usage {
        input_tokens: Some(300),
        cache_read_input_tokens: Some(200),
        ..Usage::default()
    });
    assert_eq!(total.input_tokens, Some(400));
    assert_eq!(total.output_tokens, Some(10));
    assert_eq!(total.cache_read_input_tokens, Some(200));
    assert_eq!(total.cache_write_input_tokens, None);
    assert_eq!(total.cache_read_share(), Some(0.5));
    // Serialized as SPEC §7's usage object.
    assert_eq!(
        serde_json::to_value(total).unwrap(),
        usage(400, 10, json!(200), Value::Null, Value::Null)
    );
}

/// The events of `body`, decoded whole.
fn events(provider: Provider, body: &[u8]) -> Vec<StreamEvent> {
    let mut decoder = StreamDecoder::new(provider);
    let mut events = Vec::new();
    decoder.push(body, &mut events).unwrap();
    decoder.finish(&mut events).unwrap();
    events
}

/// Whether the message's usage comes before its `MessageStop`: a turn ends at the stop, so
/// usage after it would never reach the turn's outcome.
fn usage_before_stop(events: &[StreamEvent]) -> bool {
    let stop = events
        .iter()
        .position(|e| matches!(e, StreamEvent::MessageStop))
        .expect("the message stops");
    events[..stop].iter().any(
        |e| matches!(e, StreamEvent::MessageDelta { usage, .. } if usage.input_tokens.is_some()),
    ) && stop == events.len() - 1
}

#[test]
fn openai_chat_and_bedrock_usage_after_the_stop_marker_is_part_of_the_message() {
    // Chat: finish_reason, then the usage chunk (`include_usage`), then [DONE].
    let chat = concat!(
        r#"data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#,
        "\n\n",
        "data: [DONE]\n\n",
    );
    assert!(usage_before_stop(&events(
        Provider::OpenAiChat,
        chat.as_bytes()
    )));
    // Without a usage chunk the stop comes at [DONE], or at the end of input.
    let lines: Vec<&str> = chat.split("\n\n").collect();
    for body in [
        format!("{}\n\n{}\n\n{}\n\n", lines[0], lines[1], lines[3]),
        format!("{}\n\n{}\n\n", lines[0], lines[1]),
    ] {
        let ev = events(Provider::OpenAiChat, body.as_bytes());
        assert!(
            matches!(ev.last(), Some(StreamEvent::MessageStop)),
            "{ev:?}"
        );
    }
    // Bedrock: messageStop, then metadata with the usage.
    let mut body = frame("messageStart", r#"{"role":"assistant"}"#);
    body.extend(frame(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
    ));
    body.extend(frame("contentBlockStop", r#"{"contentBlockIndex":0}"#));
    body.extend(frame("messageStop", r#"{"stopReason":"end_turn"}"#));
    let no_metadata = body.clone();
    body.extend(frame(
        "metadata",
        r#"{"usage":{"inputTokens":6,"outputTokens":2,"totalTokens":8},"metrics":{"latencyMs":86}}"#,
    ));
    assert!(usage_before_stop(&events(Provider::Bedrock, &body)));
    let ev = events(Provider::Bedrock, &no_metadata);
    assert!(
        matches!(ev.last(), Some(StreamEvent::MessageStop)),
        "{ev:?}"
    );
}

/// A Chat tool-call message up to its `finish_reason` chunk, as bytes.
fn chat_tool_call_body() -> Vec<u8> {
    concat!(
        r#"data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"read","arguments":"{}"}}]},"finish_reason":null}]}"#,
        "\n\n",
        r#"data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        "\n\n",
    )
    .as_bytes()
    .to_vec()
}

/// The outcome of a turn over `chunks` decoded as OpenAI Chat.
async fn chat_turn(
    chunks: impl futures_util::Stream<Item = Result<Vec<u8>, &'static str>> + Send + Unpin + 'static,
) -> toolstream::TurnOutcome {
    use futures_util::StreamExt;
    use std::sync::Arc;
    use toolstream::{ByteStreamExt, ToolRegistry, TurnConfig, TurnEvent, TurnStream};
    let tools = ToolRegistry::new().with_raw_fn("read", |_| Box::pin(async { Ok("ok".into()) }));
    let events = chunks.stream_events(Provider::OpenAiChat);
    let stream = TurnStream::new(
        events,
        Arc::new(tools),
        TurnConfig::new(Provider::OpenAiChat),
    );
    let all: Vec<_> = stream.collect().await;
    match all.into_iter().last() {
        Some(Ok(TurnEvent::Outcome(o))) => *o,
        other => panic!("{other:?}"),
    }
}

/// The held stop must not cost a turn what it had before: a connection that fails after
/// `finish_reason`, or stays open after `[DONE]`, still commits.
#[tokio::test(start_paused = true)]
async fn a_chat_turn_commits_after_a_transport_error_or_done_on_an_open_connection() {
    use futures_util::stream::{iter, pending, StreamExt};
    let failed = iter(vec![Ok(chat_tool_call_body()), Err("connection reset")]);
    let o = chat_turn(failed).await;
    assert!(o.committed, "{:?}", o.abandoned_because);
    assert_eq!(o.results.len(), 1);

    let kept_open = iter(vec![
        Ok(chat_tool_call_body()),
        Ok(b"data: [DONE]\n\n".to_vec()),
    ])
    .chain(pending());
    let o = chat_turn(kept_open).await;
    assert!(o.committed, "{:?}", o.abandoned_because);
}

/// Counts at the edge of `u64` saturate instead of overflowing (a panic before).
#[test]
fn absurd_cache_counts_saturate() {
    let body = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":5,"cache_creation_input_tokens":1,"cache_read_input_tokens":18446744073709551615,"output_tokens":1}}}"#,
        "\n\n",
    );
    let u = decode(Provider::Anthropic, body.as_bytes());
    assert_eq!(u.input_tokens, Some(u64::MAX));
}

/// The usage of one Chat stream whose last chunk carries `usage`.
fn chat_usage(usage: &str) -> Usage {
    let body = format!(
        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        r#"{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#,
        format_args!(
            r#"{{"id":"c","object":"chat.completion.chunk","model":"m","choices":[],"usage":{usage}}}"#
        ),
    );
    decode(Provider::OpenAiChat, body.as_bytes())
}

#[test]
fn compatible_servers_report_cache_and_reasoning_their_own_way() {
    // xAI: completion_tokens leaves the reasoning out; total_tokens has it.
    let u = chat_usage(
        r#"{"prompt_tokens":30,"completion_tokens":10,"total_tokens":240,"completion_tokens_details":{"reasoning_tokens":200},"prompt_tokens_details":{"cached_tokens":6}}"#,
    );
    assert_eq!(
        (u.output_tokens, u.reasoning_tokens),
        (Some(210), Some(200))
    );
    assert_eq!(u.cache_read_input_tokens, Some(6));
    // OpenAI: completion_tokens counts the reasoning already.
    let u = chat_usage(
        r#"{"prompt_tokens":30,"completion_tokens":210,"total_tokens":240,"completion_tokens_details":{"reasoning_tokens":200}}"#,
    );
    assert_eq!(u.output_tokens, Some(210));
    // OpenRouter: cache writes beside the reads.
    let u = chat_usage(
        r#"{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":900}}"#,
    );
    assert_eq!(
        (u.cache_read_input_tokens, u.cache_write_input_tokens),
        (Some(0), Some(900))
    );
    // Moonshot: cached_tokens at the top level; DeepSeek: prompt_cache_hit_tokens.
    let u = chat_usage(
        r#"{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"cached_tokens":64}"#,
    );
    assert_eq!(u.cache_read_input_tokens, Some(64));
    let u = chat_usage(
        r#"{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_cache_hit_tokens":32,"prompt_cache_miss_tokens":68}"#,
    );
    assert_eq!(u.cache_read_input_tokens, Some(32));
}

#[test]
fn gemini_tool_use_prompt_tokens_are_input() {
    let data = r#"{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":7,"totalTokenCount":157,"toolUsePromptTokenCount":50}}"#;
    let u = decode(Provider::Gemini, format!("data: {data}\n\n").as_bytes());
    assert_eq!(u.input_tokens, Some(150));
}
