//! What goes back to OpenAI Chat Completions (and the compatible servers) and to OpenAI
//! Responses (SPEC §4 "Tool calls under a plain stop" and "Tolerances", §6 "What goes
//! back"), each rule the way it fails in production: a stream body (a capture, or built
//! from the provider's documented format: see each fixture's `.source.txt`) decoded as the
//! client decodes it, in 64-byte chunks, through the turn stream, and the exact bytes of
//! the next request's new messages checked against the documented shape. Each test names
//! the provider error it prevents.

use crate::common;

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use toolstream::stream::ByteStreamExt;
use toolstream::{
    DispatchPolicy, ModelClient, Provider, StopKind, ToolRegistry, TurnConfig, TurnEvent,
    TurnOutcome, TurnStream,
};

/// Tools that answer `<name> result`, one per name.
fn tools(names: &[&str]) -> ToolRegistry {
    names.iter().fold(ToolRegistry::new(), |registry, name| {
        let answer = format!("{name} result");
        registry.with_raw_fn(*name, move |_| {
            let answer = answer.clone();
            Box::pin(async move { Ok(answer.into()) })
        })
    })
}

/// The fixture's body through the decoder and the turn stream, as a client runs it: the
/// errors the turn stream yielded, and its outcome.
async fn run(
    provider: Provider,
    file: &str,
    policy: DispatchPolicy,
    tools: ToolRegistry,
) -> (Vec<String>, TurnOutcome) {
    let body = std::fs::read(common::fixtures_dir().join(file)).unwrap();
    let chunks: Vec<Result<Vec<u8>, Infallible>> =
        body.chunks(64).map(|c| Ok(c.to_vec())).collect();
    let events = futures_util::stream::iter(chunks).stream_events(provider);
    let config = TurnConfig::new(provider).policy(policy);
    let mut stream = TurnStream::new(events, Arc::new(tools), config);
    let mut errors = Vec::new();
    let mut outcome = None;
    while let Some(event) = stream.next().await {
        match event {
            Ok(TurnEvent::Outcome(o)) => outcome = Some(*o),
            Ok(_) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    (
        errors,
        outcome.expect("the turn stream ends with its outcome"),
    )
}

/// Runs the fixture batched and eager: both must give these exact next-request bytes.
async fn both_policies(
    provider: Provider,
    file: &str,
    names: &[&str],
    assistant: &str,
    results: &str,
) {
    for policy in [DispatchPolicy::Batched, DispatchPolicy::Eager] {
        let (errors, o) = run(provider, file, policy, tools(names)).await;
        assert_eq!(errors, Vec::<String>::new(), "{file} {policy}");
        assert!(o.committed, "{file} {policy}: {:?}", o.abandoned_because);
        assert_eq!(o.assistant_message.get(), assistant, "{file} {policy}");
        let got = o.results_message.as_ref().map(|r| r.get());
        assert_eq!(got, Some(results), "{file} {policy}");
    }
}

// ---- OpenAI Chat Completions and compatible servers ---------------------------------

/// OpenAI with a named `tool_choice` (and vLLM, Ollama, LiteLLM) ends a tool-call message
/// with `finish_reason: "stop"`. The turn must commit, batched and eager; in eager mode
/// the tool already ran, and its result goes back instead of being thrown away (else the
/// next request carries an assistant `tool_calls` message with no `tool` answer: OpenAI 400
/// "An assistant message with 'tool_calls' must be followed by tool messages responding to
/// each 'tool_call_id'").
#[tokio::test]
async fn chat_tool_calls_under_a_plain_stop_commit_batched_and_eager() {
    let file = "openai-chat/derived-openai-chat-named-tool-choice-stop.sse";
    both_policies(
        Provider::OpenAiChat,
        file,
        &["GetWeatherArgs"],
        r#"{"role":"assistant","content":null,"tool_calls":[{"id":"call_c91SqDXlYFuETYv8mUHzz6pp","type":"function","function":{"name":"GetWeatherArgs","arguments":"{\"city\":\"Edinburgh\",\"country\":\"UK\",\"units\":\"c\"}"}}]}"#,
        r#"[{"role":"tool","tool_call_id":"call_c91SqDXlYFuETYv8mUHzz6pp","content":"GetWeatherArgs result"}]"#,
    )
    .await;
    let (_, o) = run(
        Provider::OpenAiChat,
        file,
        DispatchPolicy::Eager,
        tools(&["GetWeatherArgs"]),
    )
    .await;
    assert_eq!(o.message.stop_kind(), Some(StopKind::ToolUse));
    assert_eq!(o.message.stop_reason.unwrap().raw.as_deref(), Some("stop"));
}

/// DeepSeek in thinking mode: the `reasoning_content` of a turn with tool calls goes back
/// on the assistant message, else DeepSeek answers 400 "The `reasoning_content` in the
/// thinking mode must be passed back to the API".
#[tokio::test]
async fn deepseek_reasoning_content_goes_back_beside_the_tool_calls() {
    both_policies(
        Provider::OpenAiChat,
        "openai-compatible/constructed-deepseek-thinking-tool-call.sse",
        &["get_weather"],
        r#"{"role":"assistant","content":null,"reasoning_content":"The user wants the weather in Hangzhou. I should call get_weather.","tool_calls":[{"id":"call_00_Lw3bQ7xYkTt0pC5aW2nRsE1d","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Hangzhou\"}"}}]}"#,
        r#"[{"role":"tool","tool_call_id":"call_00_Lw3bQ7xYkTt0pC5aW2nRsE1d","content":"get_weather result"}]"#,
    )
    .await;
}

/// xAI (a capture): `reasoning_content` streamed in three pieces goes back whole, with the
/// call (the same DeepSeek-style 400 from the servers that check it).
#[tokio::test]
async fn xai_reasoning_content_goes_back_whole() {
    both_policies(
        Provider::OpenAiChat,
        "openai-compatible/prism-xai-stream-with-tools-1.sse",
        &["get_weather"],
        r#"{"role":"assistant","content":null,"reasoning_content":"Thinking... Thinking... I need to get weather information to help answer this question about what to wear.","tool_calls":[{"id":"call_47706007","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Detroit\"}"}}]}"#,
        r#"[{"role":"tool","tool_call_id":"call_47706007","content":"get_weather result"}]"#,
    )
    .await;
}

/// OpenRouter (a capture): reasoning that arrived as `reasoning` is not echoed, under that
/// name or DeepSeek's: Groq streams the same field and answers 400 "'messages.1' : for
/// 'role:assistant' ... property 'reasoning' is unsupported" when it comes back, and
/// OpenRouter keeps what it needs in `reasoning_details` (next tests).
#[tokio::test]
async fn reasoning_field_is_not_echoed_where_servers_refuse_it() {
    let file = "openai-compatible/prism-openrouter-stream-text-with-reasoning-1.sse";
    let (errors, o) = run(
        Provider::OpenAiChat,
        file,
        DispatchPolicy::Batched,
        tools(&[]),
    )
    .await;
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(
        o.assistant_message.get(),
        r#"{"role":"assistant","content":"The answer to 2 + 2 is 4."}"#
    );
}

/// OpenRouter with GPT-5 (a capture): the encrypted `reasoning_details` go back on the
/// assistant message as received; without them the reasoning chain is lost between tool
/// calls (and Anthropic and Gemini models behind OpenRouter answer 400 for missing thinking
/// blocks or thought signatures).
#[tokio::test]
async fn openrouter_encrypted_reasoning_details_go_back_as_received() {
    let file = "openai-compatible/prism-openrouter-stream-text-with-empty-parameters-tools-when-using-gpt-5-1.sse";
    let body = std::fs::read_to_string(common::fixtures_dir().join(file)).unwrap();
    // The array exactly as the stream gave it (one chunk carries it whole).
    let start = body.find(r#""reasoning_details":"#).unwrap() + r#""reasoning_details":"#.len();
    let len = body[start..].find("]}").unwrap() + 1;
    let details = &body[start..start + len];
    assert!(details.contains(r#""type":"reasoning.encrypted""#));
    let assistant = format!(
        r#"{{"role":"assistant","content":null,"reasoning_details":{details},"tool_calls":[{{"id":"call_KDpVIRBU5EIprhJ4cpxDEfPr","type":"function","function":{{"name":"time","arguments":"{{}}"}}}}]}}"#
    );
    both_policies(
        Provider::OpenAiChat,
        file,
        &["time"],
        &assistant,
        r#"[{"role":"tool","tool_call_id":"call_KDpVIRBU5EIprhJ4cpxDEfPr","content":"time result"}]"#,
    )
    .await;
}

/// OpenRouter with Claude: `reasoning_details` streamed in pieces go back as one block per
/// index, text joined and the signature kept; the pieces sent apart fail with 400 "Invalid
/// signature in thinking block".
#[tokio::test]
async fn openrouter_reasoning_detail_pieces_go_back_as_one_signed_block() {
    both_policies(
        Provider::OpenAiChat,
        "openai-compatible/constructed-openrouter-claude-reasoning-details-pieces.sse",
        &["get_weather"],
        r#"{"role":"assistant","content":null,"reasoning_details":[{"type":"reasoning.text","text":"The user asks for the weather in Paris; I will call the tool.","format":"anthropic-claude-v1","index":0,"signature":"EqQBCkgIBxABGAIqQKg0Zx3vT1mJ8rR5wYqL2nB6cD9fH4kS7uV0xZ1aE3gI6jM9oP2sU5vY8bC1dF4hK7lN0qT3wA6zC9eG2jMEgwQz8kL1mN4pR7sV0xYGgyA3dG6jK9mP2sV5yB8eH"}],"tool_calls":[{"id":"toolu_01XkR7mT3vQ9pL2wN5bY8cE4","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]}"#,
        r#"[{"role":"tool","tool_call_id":"toolu_01XkR7mT3vQ9pL2wN5bY8cE4","content":"get_weather result"}]"#,
    )
    .await;
}

/// Gemini through its OpenAI-compatible endpoint: the thought signature in the first call's
/// `extra_content` goes back on that call, as received (Gemini 3: 400 "Function call is
/// missing a thought_signature in functionCall parts"); the second call had none and gets
/// none.
#[tokio::test]
async fn gemini_compat_thought_signature_goes_back_on_its_call() {
    both_policies(
        Provider::OpenAiChat,
        "openai-compatible/constructed-gemini-openai-compat-thought-signature.sse",
        &["get_weather"],
        r#"{"role":"assistant","content":null,"tool_calls":[{"id":"function-call-1052736187406519040","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"},"extra_content":{"google":{"thought_signature":"CiQB0e2Kb7Vx3rQq9m1N8ZkTtR4yW2pL6sH0aF5cJ7dE9gU1iOwKdwHR7Ypq3Xc8vN2mB4zL6kT9sQ1fD5hJ0gA7rE3uI8oW2yC6xV9nM1bK4tP7qS0dF3gH6jL9aZ2cX5vB8nM1"}}},{"id":"function-call-1052736187406519041","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"London\"}"}}]}"#,
        r#"[{"role":"tool","tool_call_id":"function-call-1052736187406519040","content":"get_weather result"},{"role":"tool","tool_call_id":"function-call-1052736187406519041","content":"get_weather result"}]"#,
    )
    .await;
}

/// Whitespace-only text before a tool call (vLLM with Qwen) is not echoed: `content` is
/// `null` beside `tool_calls` (blank assistant text is rejected by stricter servers, and
/// Bedrock's Converse behind a proxy answers 400 "text content blocks must contain
/// non-whitespace text"); empty text (OpenAI's `"content":""` first chunk) likewise.
#[tokio::test]
async fn blank_text_is_not_echoed_beside_tool_calls() {
    both_policies(
        Provider::OpenAiChat,
        "openai-compatible/constructed-vllm-whitespace-text-tool-call.sse",
        &["get_weather"],
        r#"{"role":"assistant","content":null,"tool_calls":[{"id":"chatcmpl-tool-5d2f0c8e1b7a4f36","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]}"#,
        r#"[{"role":"tool","tool_call_id":"chatcmpl-tool-5d2f0c8e1b7a4f36","content":"get_weather result"}]"#,
    )
    .await;
}

/// An `{"error": {...}}` payload mid-stream (OpenAI's `server_error`, OpenRouter's numeric
/// code with `finish_reason: "error"`) is a provider error carrying the server's message:
/// the turn does not commit, and the call already started eagerly never reaches history
/// (a half-streamed message sent back is a 400 on the next request).
#[tokio::test]
async fn chat_error_payload_mid_stream_is_a_provider_error_with_its_message() {
    let cases = [
        (
            "openai-chat/derived-openai-chat-midstream-server-error.sse",
            "GetWeatherArgs",
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        ),
        (
            "openai-compatible/constructed-openrouter-midstream-error.sse",
            "get_weather",
            "502",
            "Provider returned error: upstream connection reset",
        ),
    ];
    for (file, tool, kind, message) in cases {
        for policy in [DispatchPolicy::Batched, DispatchPolicy::Eager] {
            let (errors, o) = run(Provider::OpenAiChat, file, policy, tools(&[tool])).await;
            assert_eq!(errors, Vec::<String>::new(), "{file}");
            assert!(!o.committed, "{file} {policy}");
            assert!(o.results_message.is_none(), "{file} {policy}");
            assert_eq!(o.message.stop_kind(), Some(StopKind::Error), "{file}");
            let e = o.message.error.as_ref().expect("a provider error");
            assert_eq!(
                (e.kind.as_str(), e.message.as_str()),
                (kind, message),
                "{file}"
            );
        }
    }
}

// ---- OpenAI Responses ----------------------------------------------------------------

/// The `item` of every `response.output_item.done` payload of a fixture, as received.
fn done_items(file: &str) -> Vec<String> {
    #[derive(Deserialize)]
    struct Done<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(borrow)]
        item: Option<&'a RawValue>,
    }
    let body = std::fs::read_to_string(common::fixtures_dir().join(file)).unwrap();
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Done>(data).ok())
        .filter(|d| d.kind == "response.output_item.done")
        .map(|d| d.item.unwrap().get().to_owned())
        .collect()
}

/// A reasoning model's output (a capture, `store: false`): the `reasoning` item (id,
/// summary, `encrypted_content`) goes back before its function call, and the call with its
/// `id` (`fc_...`), each exactly as `output_item.done` gave it (openai-python:
/// `input += response.output`). Without the reasoning item the model loses its chain; with
/// it but without the call's id, OpenAI answers 400 "Item 'rs_...' of type 'reasoning' was
/// provided without its required following item".
#[tokio::test]
async fn responses_reasoning_item_goes_back_before_its_call_as_received() {
    let file = "openai-responses/derived-vercel-openai-responses-reasoning-encrypted-tool-call.sse";
    let items = done_items(file);
    assert_eq!(items.len(), 2);
    let reasoning: Value = serde_json::from_str(&items[0]).unwrap();
    assert_eq!(reasoning["type"], "reasoning");
    assert!(reasoning["encrypted_content"]
        .as_str()
        .unwrap()
        .starts_with("gAAAA"));
    assert!(reasoning["id"].as_str().unwrap().starts_with("rs_"));
    let call: Value = serde_json::from_str(&items[1]).unwrap();
    assert!(call["id"].as_str().unwrap().starts_with("fc_"));
    both_policies(
        Provider::OpenAiResponses,
        file,
        &["calculator"],
        &format!("[{},{}]", items[0], items[1]),
        r#"[{"type":"function_call_output","call_id":"call_AB6AaRZ1FYZB2RwS6A5vbdqn","output":"calculator result"}]"#,
    )
    .await;
}

/// A reasoning item followed by a message (a capture): the message goes back with its id
/// (`msg_...`), the item that follows the reasoning item, as received (OpenAI: 400 "Item
/// 'rs_...' of type 'reasoning' was provided without its required following item" when
/// the message is rebuilt without it).
#[tokio::test]
async fn responses_reasoning_then_message_go_back_as_received() {
    let file = "openai-responses/prism-openai-responses-stream-reasoning-effort-1.sse";
    let items = done_items(file);
    assert_eq!(items.len(), 2);
    let (errors, o) = run(
        Provider::OpenAiResponses,
        file,
        DispatchPolicy::Batched,
        tools(&[]),
    )
    .await;
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(
        o.assistant_message.get(),
        format!("[{},{}]", items[0], items[1])
    );
    let sent: Value = serde_json::from_str(o.assistant_message.get()).unwrap();
    assert_eq!(sent[0]["type"], "reasoning");
    assert_eq!(sent[1]["type"], "message");
    assert!(sent[1]["id"].as_str().unwrap().starts_with("msg_"));
}

/// A Responses stream that ends with `data: [DONE]` (LiteLLM's proxy) is accepted as
/// openai-python and the Vercel AI SDK accept it: no decode error, the turn commits
/// (before: "invalid openai-responses payload", the turn stream yielding an error).
#[tokio::test]
async fn responses_done_sentinel_is_accepted() {
    let file = "openai-responses/derived-litellm-responses-done-sentinel.sse";
    for policy in [DispatchPolicy::Batched, DispatchPolicy::Eager] {
        let (errors, o) = run(
            Provider::OpenAiResponses,
            file,
            policy,
            tools(&["search", "weather"]),
        )
        .await;
        assert_eq!(errors, Vec::<String>::new(), "{policy}");
        assert!(o.committed, "{policy}");
        let results: Value = serde_json::from_str(o.results_message.unwrap().get()).unwrap();
        assert_eq!(results.as_array().unwrap().len(), 2);
    }
    let body = std::fs::read(common::fixtures_dir().join(file)).unwrap();
    assert!(common::decode(Provider::OpenAiResponses, &body).is_ok());
}

/// An OpenAI-style `{"error": {...}}` payload (no `type`) inside a Responses stream is a
/// provider error carrying the server's message (before: a decode error "missing field
/// `type`", the server's message lost), and the turn does not commit.
#[tokio::test]
async fn responses_error_payload_without_type_is_a_provider_error_with_its_message() {
    let file = "openai-responses/derived-openai-responses-error-without-type.sse";
    let (errors, o) = run(
        Provider::OpenAiResponses,
        file,
        DispatchPolicy::Batched,
        tools(&[]),
    )
    .await;
    assert_eq!(errors, Vec::<String>::new());
    assert!(!o.committed);
    let e = o.message.error.as_ref().expect("a provider error");
    assert_eq!(e.kind, "server_error");
    assert!(
        e.message
            .starts_with("The server had an error processing your request."),
        "{}",
        e.message
    );
    assert_eq!(o.message.stop_kind(), Some(StopKind::Error));
}

/// Responses function tools say `"strict": false`: without it Responses normalizes a
/// function to strict mode, where every property is required, and an optional parameter
/// becomes one the model must always invent (or, with an optional property left out of
/// `required`, a 400 "Invalid schema for function ...: 'required' is required to be
/// supplied and to be an array including every key in properties").
#[test]
fn responses_function_tools_are_not_strict() {
    let client = ModelClient::new(Provider::OpenAiResponses, "gpt-5", "sk-test").unwrap();
    let tools = tools(&[]).with_raw_fn("search", |_| Box::pin(async { Ok(String::new().into()) }));
    let mut definitions = tools.definitions();
    definitions[0].description = "Search the web".into();
    definitions[0].schema = json!({
        "type": "object",
        "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["q"]
    });
    let body: Value = serde_json::from_str(&client.request_body(&[], &definitions)).unwrap();
    let tool = &body["tools"][0];
    assert_eq!(tool["type"], "function");
    assert_eq!(tool["name"], "search");
    assert_eq!(tool["strict"], json!(false), "{tool}");
    assert_eq!(tool["parameters"]["required"], json!(["q"]));
}
