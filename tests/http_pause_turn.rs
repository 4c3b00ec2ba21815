//! Anthropic `pause_turn` over real loopback HTTP (SPEC §6): "Anthropic `pause_turn` is
//! continued: its content goes back as the assistant message and the model is called
//! again, with no tool results." A server that pauses a long server-tool turn, then
//! finishes it, answered by `Conversation::send`.
//!
//! The two bodies are written from Anthropic's documented stream format (the web search
//! tool page's `pause_turn` section: "If the response has `stop_reason: pause_turn`, ...
//! you can provide the response back as-is in a subsequent request to let Claude continue
//! its turn").

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use toolstream::{Conversation, ConversationConfig, ModelClient, Provider, StopKind, ToolRegistry};

fn sse(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

/// The paused turn: a web search the server ran, its result, then `pause_turn`.
fn paused() -> String {
    sse(&[
        json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":20,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"rust\"}"}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","title":"Rust","url":"https://www.rust-lang.org","encrypted_content":"ZW5j"}]}}),
        json!({"type":"content_block_stop","index":1}),
        json!({"type":"message_delta","delta":{"stop_reason":"pause_turn"},"usage":{"output_tokens":9}}),
        json!({"type":"message_stop"}),
    ])
}

/// The continued turn: the answer.
fn finished() -> String {
    sse(&[
        json!({"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":40,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Rust is a language."}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}),
        json!({"type":"message_stop"}),
    ])
}

type Seen = Arc<Mutex<Vec<Value>>>;

async fn messages(State(seen): State<Seen>, body: Bytes) -> impl IntoResponse {
    let request: Value = serde_json::from_slice(&body).unwrap();
    let n = {
        let mut seen = seen.lock().unwrap();
        seen.push(request);
        seen.len()
    };
    let body = if n == 1 { paused() } else { finished() };
    ([(header::CONTENT_TYPE, "text/event-stream")], body)
}

#[tokio::test]
async fn a_paused_turn_is_sent_back_as_is_and_continued() {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/messages", post(messages))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = ModelClient::new(Provider::Anthropic, "claude-x", "key")
        .unwrap()
        .base_url(format!("http://{addr}"));
    let mut conversation =
        Conversation::new(client, ToolRegistry::new(), ConversationConfig::default());
    let records = conversation
        .send("What is Rust?", |_| {})
        .await
        .expect("a paused turn is continued, not a failure");
    server.abort();

    assert_eq!(records.len(), 2);
    let first = &records[0].outcome;
    assert_eq!(first.message.stop_kind(), Some(StopKind::PauseTurn));
    assert!(!first.committed && first.results_message.is_none());

    // The second request carries the paused content as received, and no tool results;
    // being the last message, its last block carries a cache breakpoint (SPEC §9), and so
    // does the question, where the first request ended.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let mut second = seen[1]["messages"].clone();
    let last = &mut second[1]["content"][1];
    assert_eq!(last["cache_control"], json!({"type": "ephemeral"}));
    last.as_object_mut().unwrap().remove("cache_control");
    assert_eq!(
        second[0]["content"],
        json!([{"type": "text", "text": "What is Rust?", "cache_control": {"type": "ephemeral"}}])
    );
    second[0]["content"] = json!("What is Rust?");
    let second = &second;
    assert_eq!(
        second,
        &json!([
            {"role": "user", "content": "What is Rust?"},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rust"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                    {"type": "web_search_result", "title": "Rust", "url": "https://www.rust-lang.org", "encrypted_content": "ZW5j"}]}
            ]}
        ])
    );
    // The history ends with the answer.
    let history = conversation.history();
    assert_eq!(history.len(), 3);
    assert_eq!(
        serde_json::from_str::<Value>(history[2].get()).unwrap(),
        json!({"role": "assistant", "content": [{"type": "text", "text": "Rust is a language."}]})
    );
}
