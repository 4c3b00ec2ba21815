//! The mock server's prompt caches (SPEC §9), over loopback HTTP with raw request bodies:
//! Anthropic's breakpoint rule (writes, reads, the 20-block lookback, the limit of 4,
//! lifetimes), the implicit prefix caches of OpenAI Chat, Responses and Gemini, the
//! documented minimums, each reported in the provider's own usage fields and key order.

use std::time::Duration;

use serde_json::{json, Value};
use toolstream::mock::{MockServer, Script};
use toolstream::{Assembler, Provider, StreamDecoder, Usage};

fn script(minimums: bool) -> Script {
    let mut s = Script::default_demo();
    s.chunk_delay_ms = 0;
    s.cache_minimums = minimums;
    s
}

async fn server(minimums: bool) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), script(minimums))
        .await
        .unwrap()
}

/// Posts `body` to the provider's route; the status and the body text.
async fn post(server: &MockServer, provider: Provider, body: &Value) -> (u16, String) {
    let base = server.base_url();
    let client = reqwest::Client::new();
    let request = match provider {
        Provider::Anthropic => client
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01"),
        Provider::OpenAiChat => client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth("k"),
        Provider::OpenAiResponses => client.post(format!("{base}/v1/responses")).bearer_auth("k"),
        _ => client
            .post(format!(
                "{base}/v1beta/models/mock-1:streamGenerateContent?alt=sse"
            ))
            .header("x-goog-api-key", "k"),
    };
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Every JSON object that follows `key` in the stream, as written.
fn objects_after<'a>(sse: &'a str, key: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = sse;
    while let Some(at) = rest.find(key) {
        let from = &rest[at + key.len()..];
        let mut depth = 0;
        let end = from
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '{' | '[' => depth += 1,
                    '}' | ']' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i + 1)
            })
            .unwrap();
        out.push(&from[..end]);
        rest = &from[end..];
    }
    out
}

/// `json` with every number (outside strings) replaced by `N`: its shape and key order.
fn shape(json: &str) -> String {
    let (mut out, mut in_string, mut escaped, mut in_number) = (String::new(), false, false, false);
    for c in json.chars() {
        if in_string {
            (escaped, in_string) = (!escaped && c == '\\', escaped || c != '"');
        } else if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
            continue;
        } else {
            in_string = c == '"';
        }
        in_number = false;
        out.push(c);
    }
    out
}

fn num(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// The usage the crate's own decoder reads from the stream.
fn decoded(provider: Provider, sse: &str) -> Usage {
    let mut d = StreamDecoder::new(provider);
    let mut events = Vec::new();
    d.push(sse.as_bytes(), &mut events).unwrap();
    d.finish(&mut events).unwrap();
    let mut a = Assembler::new();
    for e in &events {
        a.push(e).unwrap();
    }
    let m = a.finish();
    assert!(m.complete, "{sse}");
    m.usage
}

const ANTHROPIC_START: &str = r#"{"input_tokens":N,"cache_creation_input_tokens":N,"cache_read_input_tokens":N,"cache_creation":{"ephemeral_5m_input_tokens":N,"ephemeral_1h_input_tokens":N},"output_tokens":N,"service_tier":"standard"}"#;
const ANTHROPIC_DELTA: &str = r#"{"input_tokens":N,"cache_creation_input_tokens":N,"cache_read_input_tokens":N,"output_tokens":N}"#;

/// Anthropic's prompt usage: (input, write, read), checked for its wire shape in
/// `message_start` and `message_delta`, and against the crate's decoder.
fn anthropic_usage(sse: &str) -> (u64, u64, u64) {
    let usages = objects_after(sse, r#""usage":"#);
    assert_eq!(usages.len(), 2, "{sse}");
    assert_eq!(shape(usages[0]), ANTHROPIC_START);
    assert_eq!(shape(usages[1]), ANTHROPIC_DELTA);
    let start: Value = serde_json::from_str(usages[0]).unwrap();
    let delta: Value = serde_json::from_str(usages[1]).unwrap();
    let counts = |v: &Value| {
        (
            num(v, "input_tokens"),
            num(v, "cache_creation_input_tokens"),
            num(v, "cache_read_input_tokens"),
        )
    };
    assert_eq!(counts(&start), counts(&delta));
    let (input, write, read) = counts(&start);
    let split = &start["cache_creation"];
    assert_eq!(
        num(split, "ephemeral_5m_input_tokens") + num(split, "ephemeral_1h_input_tokens"),
        write
    );
    let u = decoded(Provider::Anthropic, sse);
    assert_eq!(u.input_tokens, Some(input + write + read));
    assert_eq!(u.cache_read_input_tokens, Some(read));
    assert_eq!(u.cache_write_input_tokens, Some(write));
    (input, write, read)
}

fn text(s: &str, mark: bool) -> Value {
    let mut b = json!({"type": "text", "text": s});
    if mark {
        b["cache_control"] = json!({"type": "ephemeral"});
    }
    b
}

/// An Anthropic request of `n` messages (user, assistant, ...), with (when `marks`)
/// `cache_control` on the last tool, the system block and the last message's last block.
fn anthropic_body(system: &str, n: usize, marks: bool) -> Value {
    let tool = |name: &str, mark: bool| {
        let mut t = json!({"name": name, "description": format!("{name} for a city"), "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}});
        if mark {
            t["cache_control"] = json!({"type": "ephemeral"});
        }
        t
    };
    let tools = [tool("get_weather", false), tool("get_time", marks)];
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            let last = marks && i == n - 1;
            json!({"role": role, "content": [text(&format!("Message {i} of the conversation."), false), text("And its second block.", last)]})
        })
        .collect();
    json!({"model": "mock-1", "max_tokens": 1024, "stream": true, "tools": tools, "system": [text(system, marks)], "messages": messages})
}

#[tokio::test]
async fn anthropic_reads_the_last_breakpoint_of_the_previous_request_and_writes_the_rest() {
    let server = server(false).await;
    let (status, first) = post(
        &server,
        Provider::Anthropic,
        &anthropic_body("Be brief.", 1, true),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (input1, write1, read1) = anthropic_usage(&first);
    // The last breakpoint is the last block: everything is written, nothing is left over.
    assert_eq!((input1, read1), (0, 0));
    assert!(write1 > 0);
    let (_, second) = post(
        &server,
        Provider::Anthropic,
        &anthropic_body("Be brief.", 3, true),
    )
    .await;
    let (input2, write2, read2) = anthropic_usage(&second);
    assert_eq!(
        read2, write1,
        "request 2 reads request 1's last-breakpoint prefix"
    );
    assert!(write2 > 0);
    assert_eq!(input2, 0);
    let stats = server.stats();
    assert_eq!(stats.prompt_tokens, write1 + read2 + write2);
    assert_eq!(
        (stats.cache_read_tokens, stats.cache_write_tokens),
        (read2, write1 + write2)
    );
    // A changed system prompt keeps the tools' prefix only.
    let (_, other) = post(
        &server,
        Provider::Anthropic,
        &anthropic_body("Be long.", 3, true),
    )
    .await;
    let (_, write3, read3) = anthropic_usage(&other);
    assert!(read3 > 0 && read3 < write1, "{read3} {write1}");
    assert!(write3 > write2, "{write3} {write2}");
}

#[tokio::test]
async fn anthropic_without_breakpoints_reads_and_writes_nothing() {
    let server = server(false).await;
    let mut inputs = Vec::new();
    for n in [1, 3, 3] {
        let (_, sse) = post(
            &server,
            Provider::Anthropic,
            &anthropic_body("Be brief.", n, false),
        )
        .await;
        let (input, write, read) = anthropic_usage(&sse);
        assert_eq!((write, read), (0, 0));
        inputs.push(input);
    }
    assert!(
        inputs[0] > 0 && inputs[1] > inputs[0] && inputs[2] == inputs[1],
        "{inputs:?}"
    );
    assert_eq!(server.stats().cache_read_tokens, 0);
}

#[tokio::test]
async fn anthropic_refuses_a_fifth_breakpoint() {
    let server = server(false).await;
    let mut body = anthropic_body("Be brief.", 3, true);
    body["messages"][0]["content"][1]["cache_control"] = json!({"type": "ephemeral"});
    body["messages"][1]["content"][1]["cache_control"] = json!({"type": "ephemeral"});
    let (status, error) = post(&server, Provider::Anthropic, &body).await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&error).unwrap();
    assert_eq!(
        error,
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "A maximum of 4 blocks with cache_control may be provided. Found 5."}})
    );
    assert_eq!((server.stats().rejected, server.stats().requests), (1, 0));
}

/// A user message of 5 blocks (a breakpoint on its last), then an assistant block and a
/// user message of `more` blocks (a breakpoint on its last, `more + 1` blocks after the
/// first one).
fn blocks_body(first: bool, more: usize) -> Value {
    let user: Vec<Value> = (0..5)
        .map(|i| text(&format!("part {i}"), first && i == 4))
        .collect();
    let mut messages = vec![json!({"role": "user", "content": user})];
    if !first {
        let next: Vec<Value> = (0..more)
            .map(|i| text(&format!("more {i}"), i == more - 1))
            .collect();
        messages.push(json!({"role": "assistant", "content": [text("Noted.", false)]}));
        messages.push(json!({"role": "user", "content": next}));
    }
    json!({"model": "mock-1", "max_tokens": 64, "stream": true, "messages": messages})
}

#[tokio::test]
async fn anthropic_looks_back_20_blocks_from_a_breakpoint() {
    // Block 4 written; the next breakpoint on block 4 + 19 reads it, on block 4 + 20 not.
    for (more, reads) in [(18, true), (19, false)] {
        let server = server(false).await;
        let (_, first) = post(&server, Provider::Anthropic, &blocks_body(true, 0)).await;
        let (_, written, _) = anthropic_usage(&first);
        let (_, second) = post(&server, Provider::Anthropic, &blocks_body(false, more)).await;
        let (input, write, read) = anthropic_usage(&second);
        assert_eq!(read, if reads { written } else { 0 }, "{more} more blocks");
        assert_eq!(input, 0);
        assert!(write > 0);
    }
}

#[tokio::test(start_paused = true)]
async fn anthropic_entries_live_5_minutes_after_their_last_use_or_an_hour() {
    let server = server(false).await;
    let mut body = anthropic_body("Be brief.", 1, true);
    let minutes = |m: u64| tokio::time::advance(Duration::from_secs(60 * m));
    let (_, sse) = post(&server, Provider::Anthropic, &body).await;
    let (_, written, _) = anthropic_usage(&sse);
    minutes(4).await;
    let (_, sse) = post(&server, Provider::Anthropic, &body).await;
    assert_eq!(anthropic_usage(&sse), (0, 0, written));
    // Used at minute 4: alive at 8, gone at 14.
    minutes(4).await;
    let (_, sse) = post(&server, Provider::Anthropic, &body).await;
    assert_eq!(anthropic_usage(&sse), (0, 0, written));
    minutes(6).await;
    let (_, sse) = post(&server, Provider::Anthropic, &body).await;
    assert_eq!(anthropic_usage(&sse), (0, written, 0));
    minutes(6).await;
    // With the tools and system written for an hour, 30 minutes later they are still there.
    for at in ["/tools/1", "/system/0"] {
        *body.pointer_mut(&format!("{at}/cache_control")).unwrap() =
            json!({"type": "ephemeral", "ttl": "1h"});
    }
    let (_, sse) = post(&server, Provider::Anthropic, &body).await;
    let start: Value = serde_json::from_str(objects_after(&sse, r#""usage":"#)[0]).unwrap();
    let hour = num(&start["cache_creation"], "ephemeral_1h_input_tokens");
    let five = num(&start["cache_creation"], "ephemeral_5m_input_tokens");
    assert!(hour > 0 && five > 0 && hour + five == written, "{start}");
    minutes(30).await;
    let (_, sse) = post(&server, Provider::Anthropic, &body).await;
    assert_eq!(anthropic_usage(&sse), (0, five, hour));
}

/// The cached count and the prompt count of an implicit-cache provider's answer, its
/// usage checked for the API's shape.
fn implicit_usage(provider: Provider, sse: &str) -> (u64, u64) {
    let (cached, prompt) = match provider {
        Provider::OpenAiChat => {
            let usage = objects_after(sse, r#""usage":"#);
            assert_eq!(usage.len(), 1);
            assert_eq!(
                shape(usage[0]),
                r#"{"prompt_tokens":N,"completion_tokens":N,"total_tokens":N,"prompt_tokens_details":{"cached_tokens":N,"audio_tokens":N},"completion_tokens_details":{"reasoning_tokens":N,"audio_tokens":N,"accepted_prediction_tokens":N,"rejected_prediction_tokens":N}}"#
            );
            let u: Value = serde_json::from_str(usage[0]).unwrap();
            (
                num(&u["prompt_tokens_details"], "cached_tokens"),
                num(&u, "prompt_tokens"),
            )
        }
        Provider::OpenAiResponses => {
            let usage = objects_after(sse, r#""usage":"#);
            assert_eq!(usage.len(), 1);
            assert_eq!(
                shape(usage[0]),
                r#"{"input_tokens":N,"input_tokens_details":{"cached_tokens":N},"output_tokens":N,"output_tokens_details":{"reasoning_tokens":N},"total_tokens":N}"#
            );
            let u: Value = serde_json::from_str(usage[0]).unwrap();
            (
                num(&u["input_tokens_details"], "cached_tokens"),
                num(&u, "input_tokens"),
            )
        }
        _ => {
            let usage = objects_after(sse, r#""usageMetadata": "#);
            let last = usage.last().unwrap();
            let u: Value = serde_json::from_str(last).unwrap();
            let cached = u["cachedContentTokenCount"].as_u64().unwrap_or(0);
            // `cachedContentTokenCount` only when some tokens were, as the API writes it.
            let want = if cached > 0 {
                r#"{"promptTokenCount": N,"candidatesTokenCount": N,"totalTokenCount": N,"cachedContentTokenCount": N,"promptTokensDetails": [{"modality": "TEXT","tokenCount": N}],"cacheTokensDetails": [{"modality": "TEXT","tokenCount": N}]}"#
            } else {
                r#"{"promptTokenCount": N,"candidatesTokenCount": N,"totalTokenCount": N,"promptTokensDetails": [{"modality": "TEXT","tokenCount": N}]}"#
            };
            assert_eq!(shape(last), want);
            assert!(usage
                .iter()
                .all(|u| u.contains("cachedContentTokenCount") == (cached > 0)));
            (cached, num(&u, "promptTokenCount"))
        }
    };
    let u = decoded(provider, sse);
    assert_eq!(
        u.input_tokens,
        Some(prompt),
        "{provider}: cached tokens are in the prompt count"
    );
    assert_eq!(u.cache_read_input_tokens.unwrap_or(0), cached, "{provider}");
    (cached, prompt)
}

/// A request of `n` turns (user, assistant, ...) with `system` as its instructions.
fn implicit_body(provider: Provider, system: &str, n: usize) -> Value {
    let said = |i: usize| format!("Message {i} of the conversation.");
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    match provider {
        Provider::OpenAiChat => {
            let mut messages = vec![json!({"role": "system", "content": system})];
            messages.extend((0..n).map(|i| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                json!({"role": role, "content": said(i)})
            }));
            json!({"model": "mock-1", "stream": true, "stream_options": {"include_usage": true}, "tools": tools, "messages": messages})
        }
        Provider::OpenAiResponses => {
            let input: Vec<Value> = (0..n)
                .map(|i| {
                    let role = if i % 2 == 0 { "user" } else { "assistant" };
                    json!({"role": role, "content": said(i)})
                })
                .collect();
            json!({"model": "mock-1", "stream": true, "instructions": system, "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}], "input": input})
        }
        _ => {
            let contents: Vec<Value> = (0..n)
                .map(|i| {
                    let role = if i % 2 == 0 { "user" } else { "model" };
                    json!({"role": role, "parts": [{"text": said(i)}]})
                })
                .collect();
            json!({"systemInstruction": {"parts": [{"text": system}]}, "tools": [{"functionDeclarations": [{"name": "get_weather"}]}], "contents": contents})
        }
    }
}

const IMPLICIT: [Provider; 3] = [
    Provider::OpenAiChat,
    Provider::OpenAiResponses,
    Provider::Gemini,
];

#[tokio::test]
async fn implicit_caches_read_the_longest_prefix_an_earlier_request_held() {
    for provider in IMPLICIT {
        let server = server(false).await;
        let (status, first) =
            post(&server, provider, &implicit_body(provider, "Be brief.", 1)).await;
        assert_eq!(status, 200, "{provider}: {first}");
        let (cached, prompt1) = implicit_usage(provider, &first);
        assert_eq!(cached, 0, "{provider}");
        let (_, second) = post(&server, provider, &implicit_body(provider, "Be brief.", 3)).await;
        let (cached, prompt2) = implicit_usage(provider, &second);
        assert_eq!(cached, prompt1, "{provider}: the first request's prompt");
        assert!(prompt2 > prompt1);
        let (_, changed) = post(&server, provider, &implicit_body(provider, "Be long.", 3)).await;
        assert_eq!(
            implicit_usage(provider, &changed).0,
            0,
            "{provider}: a changed system prompt"
        );
        let stats = server.stats();
        assert_eq!(
            (stats.cache_read_tokens, stats.cache_write_tokens),
            (prompt1, 0)
        );
    }
}

#[tokio::test]
async fn with_minimums_short_prompts_are_not_cached_and_openai_counts_by_128() {
    let server = server(true).await;
    // Anthropic: the short conversation writes and reads nothing; a long system prompt
    // (over 1024 tokens) does.
    for n in [1, 3] {
        let (_, sse) = post(
            &server,
            Provider::Anthropic,
            &anthropic_body("Be brief.", n, true),
        )
        .await;
        let (input, write, read) = anthropic_usage(&sse);
        assert_eq!((write, read), (0, 0));
        assert!(input > 0);
    }
    let long = "Answer in the style of a weather report. ".repeat(300);
    let (_, first) = post(
        &server,
        Provider::Anthropic,
        &anthropic_body(&long, 1, true),
    )
    .await;
    let (_, written, _) = anthropic_usage(&first);
    assert!(written > 2048, "{written}");
    let (_, second) = post(
        &server,
        Provider::Anthropic,
        &anthropic_body(&long, 3, true),
    )
    .await;
    assert_eq!(anthropic_usage(&second).2, written);
    for provider in IMPLICIT {
        for system in ["Be brief.", long.as_str()] {
            let (_, first) = post(&server, provider, &implicit_body(provider, system, 1)).await;
            let (_, prompt1) = implicit_usage(provider, &first);
            let (_, second) = post(&server, provider, &implicit_body(provider, system, 3)).await;
            let (cached, _) = implicit_usage(provider, &second);
            if system.len() < 100 {
                assert_eq!(cached, 0, "{provider}: short");
                continue;
            }
            assert!(cached > 0, "{provider}: long");
            if provider == Provider::Gemini {
                assert_eq!(cached, prompt1, "{provider}");
            } else {
                assert_eq!(cached, prompt1 / 128 * 128, "{provider}");
                assert!(cached >= 1024 && cached % 128 == 0, "{provider}: {cached}");
            }
        }
    }
}

/// A message that is not an object is answered (the real API refuses it with a 400), not a
/// dropped connection from a panicking handler.
#[tokio::test]
async fn a_message_that_is_not_an_object_is_answered() {
    let server = toolstream::mock::MockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        toolstream::mock::Script::default_demo(),
    )
    .await
    .unwrap();
    for messages in [r#"["hi"]"#, "[1]", "[null]"] {
        let body = format!(
            r#"{{"model":"m","max_tokens":10,"stream":true,"system":[{{"type":"text","text":"s","cache_control":{{"type":"ephemeral"}}}}],"messages":{messages}}}"#
        );
        let response = reqwest::Client::new()
            .post(format!("{}/v1/messages", server.base_url()))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .body(body)
            .send()
            .await
            .expect("an answer, not a dropped connection");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            status == 200 || status == 400,
            "{messages}: {status} {text}"
        );
    }
    server.shutdown().await;
}
