//! SPEC §9: the client places prompt-cache breakpoints itself on the providers that cache
//! only where asked (Anthropic `cache_control`, Bedrock `cachePoint`), configurable (off,
//! 5m, 1h), without changing the history's bytes.

use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use toolstream::tool::ToolDefinition;
use toolstream::{ModelClient, PromptCaching, Provider};

fn raw(v: Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(&v).unwrap()
}

fn defs() -> Vec<ToolDefinition> {
    ["get_weather", "get_time"]
        .iter()
        .map(|n| ToolDefinition {
            name: (*n).into(),
            description: format!("{n} for a city"),
            schema: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        })
        .collect()
}

/// user, assistant with two calls, results: the history of a tool turn.
fn anthropic_history() -> Vec<Box<RawValue>> {
    vec![
        raw(json!({"role": "user", "content": "Weather and time in Paris?"})),
        raw(json!({"role": "assistant", "content": [
            {"type": "thinking", "thinking": "two tools", "signature": "sig"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {"city": "Paris"}}
        ]})),
        raw(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "21:04"}
        ]})),
    ]
}

fn client(provider: Provider, model: &str, caching: PromptCaching) -> ModelClient {
    ModelClient::new(provider, model, "key")
        .unwrap()
        .system("You are terse.")
        .prompt_caching(caching)
}

fn body(c: &ModelClient, history: &[Box<RawValue>]) -> (String, Value) {
    let text = c.request_body(history, &defs());
    let v = serde_json::from_str(&text).unwrap();
    (text, v)
}

#[test]
fn anthropic_breakpoints_on_the_last_tool_the_system_prompt_and_the_last_message() {
    let c = client(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        PromptCaching::default(),
    );
    let (text, v) = body(&c, &anthropic_history());
    let marker = json!({"type": "ephemeral"});
    assert_eq!(v["tools"][1]["cache_control"], marker);
    assert!(v["tools"][0].get("cache_control").is_none());
    assert_eq!(
        v["system"],
        json!([{"type": "text", "text": "You are terse.", "cache_control": marker}])
    );
    assert_eq!(v["messages"][2]["content"][1]["cache_control"], marker);
    assert!(v["messages"][2]["content"][0]
        .get("cache_control")
        .is_none());
    // And where the previous request ended (the message before the last assistant
    // message), so that its cached prefix is read however many blocks this turn added.
    assert_eq!(v["messages"][0]["content"][0]["cache_control"], marker);
    assert!(!v["messages"][1].to_string().contains("cache_control"));
    // At most 4 allowed; four placed.
    assert_eq!(text.matches("cache_control").count(), 4);
}

#[test]
fn markers_already_in_the_history_count_against_the_four() {
    let c = client(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        PromptCaching::default(),
    );
    let mut history = anthropic_history();
    history[1] = raw(json!({"role": "assistant", "content": [
        {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    ]}));
    let (text, _) = body(&c, &history);
    assert_eq!(text.matches("cache_control").count(), 4, "{text}");
    // No system prompt, no tools: the two message breakpoints only.
    let c = ModelClient::new(Provider::Anthropic, "claude-sonnet-4-5", "key").unwrap();
    let text = c.request_body(&anthropic_history(), &[]);
    assert_eq!(text.matches("cache_control").count(), 2, "{text}");
}

#[test]
fn the_history_goes_out_byte_for_byte_except_the_marked_last_message() {
    let c = client(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        PromptCaching::FiveMinutes,
    );
    let history = anthropic_history();
    let (text, _) = body(&c, &history);
    assert!(
        text.contains(history[1].get()),
        "{} changed",
        history[1].get()
    );
    assert!(!text.contains(history[0].get()));
    assert!(!text.contains(history[2].get()));
    // The next request: the message that carried the breakpoint goes out as it is in the
    // history again, the marker now on the new last message.
    let mut next = history.clone();
    next.push(raw(
        json!({"role": "assistant", "content": [{"type": "text", "text": "Sunny."}]}),
    ));
    next.push(raw(json!({"role": "user", "content": "Thanks"})));
    let (text, v) = body(&c, &next);
    // The first two messages go out as they are in the history again; the previous
    // request's last message keeps its breakpoint (it is where that request wrote).
    assert!(text.contains(history[0].get()) && text.contains(history[1].get()));
    assert!(!text.contains(history[2].get()));
    assert_eq!(
        v["messages"][2]["content"][1]["cache_control"]["type"],
        "ephemeral"
    );
    assert_eq!(
        v["messages"][4]["content"],
        json!([{"type": "text", "text": "Thanks", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(text.matches("cache_control").count(), 4);
}

#[test]
fn one_hour_ttl_and_off() {
    let c = client(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        PromptCaching::OneHour,
    );
    let (text, v) = body(&c, &anthropic_history());
    assert_eq!(text.matches(r#""ttl":"1h""#).count(), 4);
    assert_eq!(v["tools"][1]["cache_control"]["ttl"], "1h");

    let c = client(Provider::Anthropic, "claude-sonnet-4-5", PromptCaching::Off);
    let (text, v) = body(&c, &anthropic_history());
    assert!(!text.contains("cache_control"));
    assert_eq!(v["system"], "You are terse.");
    let history = anthropic_history();
    assert!(text.contains(history[2].get()));
}

#[test]
fn a_last_message_of_thinking_only_gets_no_breakpoint_but_the_others_stay() {
    let c = client(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        PromptCaching::FiveMinutes,
    );
    let history = vec![
        raw(json!({"role": "user", "content": "hi"})),
        raw(json!({"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]})),
    ];
    let (text, _) = body(&c, &history);
    // Tools, system prompt and the user message that ended the previous request.
    assert_eq!(text.matches("cache_control").count(), 3);
    assert!(text.contains(history[1].get()));
}

#[test]
fn an_empty_system_prompt_carries_no_breakpoint() {
    // "cache_control cannot be set for empty text blocks".
    let c = ModelClient::new(Provider::Anthropic, "claude-sonnet-4-5", "key")
        .unwrap()
        .system("");
    let (text, v) = body(&c, &anthropic_history());
    assert_eq!(v["system"], "");
    assert_eq!(text.matches("cache_control").count(), 3);
}

#[test]
fn openai_and_gemini_requests_carry_no_markers() {
    for provider in [
        Provider::OpenAiChat,
        Provider::OpenAiResponses,
        Provider::Gemini,
    ] {
        let c = client(provider, "m", PromptCaching::OneHour);
        let history = vec![c.user_message("hi")];
        let (text, _) = body(&c, &history);
        assert!(
            !text.contains("cache_control") && !text.contains("cachePoint"),
            "{provider}: {text}"
        );
    }
}

#[test]
fn bedrock_cache_points_end_the_tools_the_system_prompt_and_the_last_message() {
    let model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let c = client(Provider::Bedrock, model, PromptCaching::default());
    let history = vec![c.user_message("Weather in Paris?")];
    let (_, v) = body(&c, &history);
    let point = json!({"cachePoint": {"type": "default"}});
    assert_eq!(
        v["system"],
        json!([{"text": "You are terse."}, point.clone()])
    );
    let tools = v["toolConfig"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 3);
    assert_eq!(tools[2], point);
    assert_eq!(tools[0]["toolSpec"]["name"], "get_weather");
    assert_eq!(
        tools[0]["toolSpec"]["inputSchema"]["json"]["properties"]["city"]["type"],
        "string"
    );
    assert_eq!(
        v["messages"][0],
        json!({"role": "user", "content": [{"text": "Weather in Paris?"}, point]})
    );
    assert_eq!(v["inferenceConfig"]["maxTokens"], 4096);

    let c = client(Provider::Bedrock, model, PromptCaching::OneHour);
    let (text, _) = body(&c, &history);
    assert_eq!(text.matches(r#""ttl":"1h""#).count(), 3);

    // Nova takes cache points in the system prompt and the messages, not in the tools.
    let c = client(
        Provider::Bedrock,
        "us.amazon.nova-pro-v1:0",
        PromptCaching::default(),
    );
    let (text, v) = body(&c, &history);
    assert_eq!(text.matches("cachePoint").count(), 2, "{text}");
    assert_eq!(v["toolConfig"]["tools"].as_array().unwrap().len(), 2);
    // The 1-hour TTL only where the model takes it (Claude 4.5); elsewhere the default.
    let c = client(
        Provider::Bedrock,
        "anthropic.claude-sonnet-4-20250514-v1:0",
        PromptCaching::OneHour,
    );
    let (text, _) = body(&c, &history);
    assert_eq!(text.matches("cachePoint").count(), 3, "{text}");
    assert!(!text.contains("ttl"), "{text}");

    // Models without prompt caching refuse cache points: none are sent.
    for (model, caching) in [
        ("meta.llama3-70b-instruct-v1:0", PromptCaching::FiveMinutes),
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            PromptCaching::FiveMinutes,
        ),
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            PromptCaching::FiveMinutes,
        ),
        (model, PromptCaching::Off),
    ] {
        let c = client(Provider::Bedrock, model, caching);
        let (text, _) = body(&c, &history);
        assert!(!text.contains("cachePoint"), "{model} {caching}: {text}");
    }
}

/// What a server saw of one request: its head (request line and headers).
async fn request_head(c: ModelClient) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let _ = socket
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            )
            .await;
        String::from_utf8_lossy(&head).to_lowercase()
    });
    let c = c.base_url(url);
    let history = vec![c.user_message("hi")];
    assert!(c.stream(&history, &defs()).await.is_err());
    server.await.unwrap()
}

#[tokio::test]
async fn the_one_hour_ttl_is_asked_for_with_its_beta_header() {
    let head = request_head(client(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        PromptCaching::OneHour,
    ))
    .await;
    assert!(
        head.contains("anthropic-beta: extended-cache-ttl-2025-04-11"),
        "{head}"
    );
    let head = request_head(client(
        Provider::Anthropic,
        "claude-sonnet-4-5",
        PromptCaching::FiveMinutes,
    ))
    .await;
    assert!(!head.contains("anthropic-beta"), "{head}");
}
