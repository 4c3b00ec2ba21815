//! Multi-turn conversations over loopback HTTP against the mock server with reasoning on
//! (`Script::reasoning_demo`): every turn streams reasoning state (Anthropic thinking with
//! signatures and a redacted block, Responses reasoning items with encrypted content,
//! DeepSeek `reasoning_content`, Gemini thought signatures), and the mock refuses, with
//! the real API's status and message, a next request that lost or changed it.
//!
//! The positive tests need the library to echo the state back (SPEC §6, "What goes
//! back"). The negative tests send, with reqwest directly, the conversation's real history
//! with the state stripped or forged; they hold whatever the library echoes.

use serde_json::value::RawValue;
use serde_json::{json, Value};
use toolstream::mock::{MockServer, Script};
use toolstream::{Conversation, ConversationConfig, ModelClient, Provider, ToolRegistry};

const QUESTION: &str = "What's the weather in Paris and Tokyo, and should I take an umbrella?";
const SYSTEM: &str = "You are a weather assistant.";

fn script() -> Script {
    let mut s = Script::reasoning_demo();
    s.chunk_delay_ms = 0;
    s
}

fn tools() -> ToolRegistry {
    let answers = [
        ("get_weather", "18°C, light rain"),
        ("get_time", "21:04"),
        ("search", "take a compact umbrella"),
        ("get_forecast", "rain easing"),
    ];
    answers
        .into_iter()
        .fold(ToolRegistry::new(), |r, (name, text)| {
            r.with_raw_fn(name, move |_| Box::pin(async move { Ok(text.into()) }))
        })
}

fn client(server: &MockServer, provider: Provider) -> ModelClient {
    ModelClient::new(provider, "mock-1", "test-key")
        .unwrap()
        .base_url(server.base_url())
        .system(SYSTEM)
}

/// Runs the demo question; returns the conversation (its history holds every committed
/// turn, even when a later request was refused) and the failure, if any.
async fn converse(server: &MockServer, provider: Provider) -> (Conversation, Option<String>) {
    let mut c = Conversation::new(
        client(server, provider),
        tools(),
        ConversationConfig::default(),
    );
    let result = c.send(QUESTION, |_| {}).await;
    let failure = match result {
        Ok(records) => {
            assert_eq!(records.len(), 3, "{provider}");
            assert!(
                records[..2].iter().all(|r| r.outcome.committed),
                "{provider}"
            );
            let script = Script::default_demo();
            assert_eq!(
                records[2].outcome.message.text(),
                script.turns[2].text,
                "{provider}: the reasoning leaked into the answer"
            );
            None
        }
        Err(e) => Some(e.to_string()),
    };
    (c, failure)
}

fn values(history: &[Box<RawValue>]) -> Vec<Value> {
    history
        .iter()
        .map(|m| serde_json::from_str(m.get()).unwrap())
        .collect()
}

fn raws(history: &[Value]) -> Vec<Box<RawValue>> {
    history
        .iter()
        .map(|v| serde_json::value::to_raw_value(v).unwrap())
        .collect()
}

/// Whether a history item is (part of) a tool-results message.
fn is_result(provider: Provider, m: &Value) -> bool {
    let blocks = |key: &str, f: &dyn Fn(&Value) -> bool| {
        m["role"] == "user" && m[key].as_array().is_some_and(|a| a.iter().any(f))
    };
    match provider {
        Provider::Anthropic => blocks("content", &|b| b["type"] == "tool_result"),
        Provider::Gemini => blocks("parts", &|p| p.get("functionResponse").is_some()),
        Provider::OpenAiChat => m["role"] == "tool",
        _ => m["type"] == "function_call_output",
    }
}

/// The history of the second request: the question, the first turn and its results.
fn first_turn(provider: Provider, history: &[Value]) -> Vec<Value> {
    let start = history
        .iter()
        .position(|m| is_result(provider, m))
        .expect("the first turn committed");
    let end = start
        + history[start..]
            .iter()
            .take_while(|m| is_result(provider, m))
            .count();
    history[..end].to_vec()
}

/// Posts `history` as the provider's request; returns the status and the body.
async fn post(server: &MockServer, provider: Provider, history: &[Value]) -> (u16, Value) {
    let c = client(server, provider);
    let body = c.request_body(&raws(history), &tools().definitions());
    let http = reqwest::Client::new();
    let base = server.base_url();
    let request = match provider {
        Provider::Anthropic => http
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01"),
        Provider::OpenAiChat => http
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth("k"),
        Provider::OpenAiResponses => http.post(format!("{base}/v1/responses")).bearer_auth("k"),
        _ => http
            .post(format!(
                "{base}/v1beta/models/mock-1:streamGenerateContent?alt=sse"
            ))
            .header("x-goog-api-key", "k"),
    };
    let response = request
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Runs the conversation, applies `edit` to its history, posts the result and returns the
/// status, the body and the rejections the server counted for that request alone.
async fn refused(
    provider: Provider,
    edit: impl FnOnce(Vec<Value>) -> Vec<Value>,
) -> (u16, Value, u64) {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script())
        .await
        .unwrap();
    let (conversation, _) = converse(&server, provider).await;
    let history = edit(values(conversation.history()));
    let before = server.stats().rejected;
    let (status, body) = post(&server, provider, &history).await;
    let counted = server.stats().rejected - before;
    server.shutdown().await;
    (status, body, counted)
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

async fn completes(provider: Provider) -> Vec<Value> {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script())
        .await
        .unwrap();
    let (conversation, failure) = converse(&server, provider).await;
    let stats = server.stats();
    assert_eq!(failure, None, "{provider}: {stats:?}");
    assert_eq!((stats.requests, stats.rejected), (3, 0), "{provider}");
    server.shutdown().await;
    values(conversation.history())
}

// Positive: the whole conversation, nothing refused, the state in the history.

#[tokio::test]
async fn anthropic_thinking_and_redacted_blocks_go_back() {
    let h = completes(Provider::Anthropic).await;
    // user, assistant 0, results 0, assistant 1, results 1, assistant 2
    for i in [1, 3] {
        let first = &h[i]["content"][0];
        assert_eq!(first["type"], "thinking", "{}", h[i]);
        assert!(first["signature"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let redacted = &h[3]["content"][1];
    assert_eq!(redacted["type"], "redacted_thinking", "{}", h[3]);
    assert!(redacted["data"].as_str().is_some_and(|s| !s.is_empty()));
}

#[tokio::test]
async fn openai_responses_reasoning_items_go_back_before_their_calls() {
    let h = completes(Provider::OpenAiResponses).await;
    for k in 0..2 {
        let id = format!("rs_mock_{k}");
        let at = h
            .iter()
            .position(|m| m["type"] == "reasoning" && m["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no {id} in {h:?}"));
        assert!(h[at]["encrypted_content"].is_string(), "{}", h[at]);
        let call = h
            .iter()
            .position(|m| m["call_id"] == format!("call_mock_{k}_0").as_str())
            .unwrap();
        assert!(at < call, "{id} after its call");
    }
}

#[tokio::test]
async fn openai_chat_reasoning_content_goes_back_with_tool_calls() {
    let h = completes(Provider::OpenAiChat).await;
    let with_calls: Vec<&Value> = h
        .iter()
        .filter(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
        .collect();
    assert_eq!(with_calls.len(), 2);
    for m in with_calls {
        assert!(
            m["reasoning_content"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{m}"
        );
    }
}

#[tokio::test]
async fn gemini_thought_signatures_go_back_on_the_first_call() {
    let h = completes(Provider::Gemini).await;
    let models: Vec<&Value> = h.iter().filter(|m| m["role"] == "model").collect();
    for m in &models[..2] {
        let first = m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p.get("functionCall").is_some())
            .unwrap();
        assert!(first["thoughtSignature"].is_string(), "{m}");
    }
}

// Negative: the real history with the state stripped or forged, refused as the real API
// refuses it.

#[tokio::test]
async fn anthropic_refuses_a_tool_loop_without_its_thinking() {
    let (status, body, counted) = refused(Provider::Anthropic, |h| {
        let mut h = first_turn(Provider::Anthropic, &h);
        let content = h[1]["content"].as_array_mut().unwrap();
        content.retain(|b| b["type"] != "thinking" && b["type"] != "redacted_thinking");
        h
    })
    .await;
    assert_eq!((status, counted), (400, 1));
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        message(&body).starts_with(
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. When `thinking` is enabled, a final `assistant` message must start with a thinking block"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn anthropic_refuses_a_forged_signature() {
    let (status, body, _) = refused(Provider::Anthropic, |h| {
        let mut h = first_turn(Provider::Anthropic, &h);
        let content = h[1]["content"].as_array_mut().unwrap();
        content.retain(|b| b["type"] != "thinking");
        content.insert(
            0,
            json!({"type": "thinking", "thinking": "Step 0: I need tools.", "signature": "forged"}),
        );
        h
    })
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "messages.1.content.0: Invalid `signature` in `thinking` block"
    );
}

#[tokio::test]
async fn anthropic_refuses_a_dropped_redacted_block() {
    let (status, body, _) = refused(Provider::Anthropic, |mut h| {
        // user, assistant 0, results 0, assistant 1 (thinking, redacted), results 1
        h.truncate(5);
        let content = h[3]["content"].as_array_mut().unwrap();
        content.retain(|b| b["type"] != "redacted_thinking");
        h
    })
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&body),
        "messages.3.content.1: `thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. These blocks must remain as they were in the original response."
    );
}

#[tokio::test]
async fn openai_responses_refuses_calls_without_their_reasoning_item() {
    let (status, body, counted) = refused(Provider::OpenAiResponses, |h| {
        let mut h = first_turn(Provider::OpenAiResponses, &h);
        h.retain(|m| m["type"] != "reasoning");
        h
    })
    .await;
    assert_eq!((status, counted), (400, 1));
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "input");
    assert_eq!(
        message(&body),
        "Item 'fc_mock_0_0' of type 'function_call' was provided without its required 'reasoning' item: 'rs_mock_0'."
    );
}

#[tokio::test]
async fn openai_responses_refuses_forged_or_missing_encrypted_content() {
    let with_reasoning = |item: Value| {
        move |h: Vec<Value>| {
            let mut h = first_turn(Provider::OpenAiResponses, &h);
            h.retain(|m| m["type"] != "reasoning");
            h.insert(1, item);
            h
        }
    };
    let forged = json!({"type": "reasoning", "id": "rs_mock_0", "summary": [], "encrypted_content": "gAAAAforgedXYZ="});
    let (status, body, _) = refused(Provider::OpenAiResponses, with_reasoning(forged)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_encrypted_content");
    assert_eq!(
        message(&body),
        "The encrypted content gAAA...XYZ= could not be verified."
    );
    let bare = json!({"type": "reasoning", "id": "rs_mock_0", "summary": []});
    let (status, body, _) = refused(Provider::OpenAiResponses, with_reasoning(bare)).await;
    assert_eq!(status, 404);
    assert_eq!(
        message(&body),
        "Item with id 'rs_mock_0' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."
    );
}

#[tokio::test]
async fn openai_chat_refuses_tool_calls_without_reasoning_content() {
    let (status, body, counted) = refused(Provider::OpenAiChat, |h| {
        let mut h = first_turn(Provider::OpenAiChat, &h);
        for m in &mut h {
            if let Some(fields) = m.as_object_mut() {
                fields.remove("reasoning_content");
            }
        }
        h
    })
    .await;
    assert_eq!((status, counted), (400, 1));
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        message(&body),
        "The `reasoning_content` in the thinking mode must be passed back to the API."
    );
}

fn gemini_first_call(h: &mut [Value]) -> &mut serde_json::Map<String, Value> {
    h[1]["parts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p.get("functionCall").is_some())
        .unwrap()
        .as_object_mut()
        .unwrap()
}

#[tokio::test]
async fn gemini_refuses_a_call_without_its_thought_signature() {
    let (status, body, counted) = refused(Provider::Gemini, |h| {
        let mut h = first_turn(Provider::Gemini, &h);
        for p in h[1]["parts"].as_array_mut().unwrap() {
            p.as_object_mut().unwrap().remove("thoughtSignature");
        }
        h
    })
    .await;
    assert_eq!((status, counted), (400, 1));
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let m = message(&body);
    assert!(
        m.starts_with("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly"),
        "{body}"
    );
    assert!(
        m.contains("function call `default_api:get_weather` , position 2."),
        "{m}"
    );
}

#[tokio::test]
async fn gemini_refuses_a_forged_thought_signature() {
    let (status, body, _) = refused(Provider::Gemini, |h| {
        let mut h = first_turn(Provider::Gemini, &h);
        gemini_first_call(&mut h).insert("thoughtSignature".into(), json!("forged"));
        h
    })
    .await;
    assert_eq!(status, 400);
    assert_eq!(message(&body), "Corrupted thought signature.");
}

/// Without reasoning in the script nothing is streamed or required: the default demo's
/// conversations (tests/http_conversation.rs) are unchanged.
#[tokio::test]
async fn without_reasoning_nothing_is_required() {
    let mut s = Script::default_demo();
    s.chunk_delay_ms = 0;
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), s)
        .await
        .unwrap();
    let (conversation, _) = converse(&server, Provider::OpenAiChat).await;
    let mut h = first_turn(Provider::OpenAiChat, &values(conversation.history()));
    for m in &mut h {
        m.as_object_mut().unwrap().remove("reasoning_content");
    }
    let (status, _) = post(&server, Provider::OpenAiChat, &h).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}
