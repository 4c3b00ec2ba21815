//! What goes back to Anthropic (SPEC §6): the next request's assistant and tool-result
//! messages, byte for byte, for streams that carry reasoning, redacted reasoning, server
//! tools (web search, web fetch, MCP), compaction and `pause_turn`. Each fixture runs
//! through the turn stream as in production; each test names the API error it prevents.
//!
//! Fixtures: `tests/fixtures/anthropic/`; the constructed ones follow the documented
//! stream format (see their `.source.txt`).

use crate::common;

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;
use toolstream::{
    Provider, StopKind, ToolRegistry, TurnConfig, TurnEvent, TurnOutcome, TurnStream,
};

/// Runs the fixture's stream through a turn with `tools`.
async fn turn(fixture: &str, tools: ToolRegistry) -> TurnOutcome {
    let body = std::fs::read(common::fixtures_dir().join("anthropic").join(fixture)).unwrap();
    let events = common::decode(Provider::Anthropic, &body).unwrap();
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    let config = TurnConfig::new(Provider::Anthropic);
    let all: Vec<TurnEvent> = TurnStream::new(stream, Arc::new(tools), config)
        .map(|e| e.unwrap())
        .collect()
        .await;
    match all.last() {
        Some(TurnEvent::Outcome(o)) => (**o).clone(),
        other => panic!("the last event is not the outcome: {other:?}"),
    }
}

fn answer(text: &'static str) -> impl Fn(Value) -> toolstream::ToolFuture + Send + Sync {
    move |_| Box::pin(async move { Ok(text.to_owned().into()) })
}

/// Redacted thinking goes back whole, with its `data`, between the thinking block and the
/// text, in the order received. Without it: 400 "Expected `thinking` or
/// `redacted_thinking`, but found `tool_use`" (the assistant turn no longer starts with its
/// reasoning) or a signature check failure on the thinking that remains.
#[tokio::test]
async fn redacted_thinking_goes_back_whole_in_its_place() {
    let tools = ToolRegistry::new().with_raw_fn("get_order", answer("shipped"));
    let o = turn(
        "constructed-anthropic-redacted-thinking-tool-use.sse",
        tools,
    )
    .await;
    assert!(o.committed);
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"thinking","thinking":"The user asks where order A-1042 is. I should call get_order.","signature":"c3ludGhldGljLXNpZ25hdHVyZS1mb3ItcmVkYWN0ZWQtZml4dHVyZS1ub3QtcmVhbA=="},"#,
            r#"{"type":"redacted_thinking","data":"c3ludGhldGljLXJlZGFjdGVkLXRoaW5raW5nLWRhdGEtbm90LWEtcmVhbC1lbmNyeXB0ZWQtYmxvY2s="},"#,
            r#"{"type":"text","text":"I'll look up order A-1042."},"#,
            r#"{"type":"tool_use","id":"toolu_01Nf4Kc8YtB2wQx6Lr9VzH3m","name":"get_order","input":{"order_id": "A-1042"}}"#,
            "]}"
        )
    );
    assert_eq!(
        o.results_message.unwrap().get(),
        r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01Nf4Kc8YtB2wQx6Lr9VzH3m","content":"shipped"}]}"#
    );
}

/// Thinking keeps its signature and its place before the text and the calls. Without the
/// signature: 400 "messages.1.content.0.thinking.signature: Field required"; out of order:
/// "Expected `thinking` or `redacted_thinking`, but found `text`".
#[tokio::test]
async fn thinking_keeps_its_signature_before_text_and_calls() {
    let tools = ToolRegistry::new()
        .with_raw_fn("get_weather", answer("18°C, rain"))
        .with_raw_fn("create_reminder", answer("ok"));
    let o = turn("constructed-anthropic-thinking-then-tools.sse", tools).await;
    assert!(o.committed);
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"thinking","thinking":"The user wants tomorrow's weather in Paris and a reminder. I can call get_weather and create_reminder in parallel.","signature":"c3ludGhldGljLXNpZ25hdHVyZS1jb25zdHJ1Y3RlZC1maXh0dXJlLW5vdC1hLXJlYWwtc2lnbmF0dXJl"},"#,
            r#"{"type":"text","text":"I'll get the forecast and set the reminder."},"#,
            r#"{"type":"tool_use","id":"toolu_01Ck8Vn3QzB6wT2hXs9LpF4j","name":"get_weather","input":{"location": "Paris", "unit": "celsius"}},"#,
            r#"{"type":"tool_use","id":"toolu_01Rm9Bx4WkT7cJ3vNq6HyD2f","name":"create_reminder","input":{"text": "Take an umbrella", "time": "2025-06-14T08:00:00+02:00"}}"#,
            "]}"
        )
    );
}

/// A web search the API ran goes back as its `server_tool_use` (with the input that
/// streamed, in the start object's key order) and its `web_search_tool_result` as
/// received, before the client call; only the client call gets a `tool_result`. Without
/// them the citations in the text point at nothing and the model repeats the search; a
/// `tool_result` for the server call would be 400 "unexpected `tool_use_id` found in
/// `tool_result` blocks".
#[tokio::test]
async fn server_tool_blocks_go_back_as_received_and_in_order() {
    let tools = ToolRegistry::new().with_raw_fn("save_note", answer("saved"));
    let o = turn("constructed-anthropic-web-search-then-tool.sse", tools).await;
    assert!(o.committed);
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"text","text":"Let me search for that."},"#,
            r#"{"type":"server_tool_use","id":"srvtoolu_01Wd5Gm2Qp8Xc4Tn7Ks3Bv9R","name":"web_search","input":{"query": "Rust 1.80 release date"}},"#,
            r#"{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01Wd5Gm2Qp8Xc4Tn7Ks3Bv9R","content":[{"type":"web_search_result","title":"Announcing Rust 1.80.0","url":"https://blog.rust-lang.org/2024/07/25/Rust-1.80.0.html","encrypted_content":"c3ludGhldGljLWVuY3J5cHRlZC1zZWFyY2gtcmVzdWx0LW5vdC1yZWFs","page_age":"July 25, 2024"}]},"#,
            r#"{"type":"text","text":"Rust 1.80 was released on July 25, 2024. I'll save a note."},"#,
            r#"{"type":"tool_use","id":"toolu_01Mv6Hr3Xt9Bq2Wk5Ln8Cd4F","name":"save_note","input":{"text": "Rust 1.80: 2024-07-25"}}"#,
            "]}"
        )
    );
    assert_eq!(
        o.results_message.unwrap().get(),
        r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01Mv6Hr3Xt9Bq2Wk5Ln8Cd4F","content":"saved"}]}"#
    );
}

/// `pause_turn`: the paused turn commits nothing and has no results, and its assistant
/// message carries every server block so far, to be sent back as is ("append the assistant
/// content to messages" and call again). Dropping them restarts the server-side loop from
/// scratch; a `server_tool_use` without its result pairs nothing.
#[tokio::test]
async fn a_paused_turn_carries_its_server_blocks_and_does_not_commit() {
    let o = turn(
        "constructed-anthropic-pause-turn-server-tools.sse",
        ToolRegistry::new(),
    )
    .await;
    assert!(!o.committed);
    assert!(o.results_message.is_none());
    assert_eq!(o.message.stop_kind(), Some(StopKind::PauseTurn));
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"text","text":"I'll research this."},"#,
            r#"{"type":"server_tool_use","id":"srvtoolu_01Pc4Vn8Rk2Wt6Lx9Hq3Bd7M","name":"web_search","input":{"query": "Rust 1.80 release"}},"#,
            r#"{"type":"web_search_tool_result","tool_use_id":"srvtoolu_01Pc4Vn8Rk2Wt6Lx9Hq3Bd7M","content":[{"type":"web_search_result","title":"Announcing Rust 1.80.0","url":"https://blog.rust-lang.org/2024/07/25/Rust-1.80.0.html","encrypted_content":"c3ludGhldGljLWVuY3J5cHRlZC1zZWFyY2gtcmVzdWx0LW5vdC1yZWFs","page_age":"July 25, 2024"}]},"#,
            r#"{"type":"server_tool_use","id":"srvtoolu_01Fk7Pq2Wn5Rt8Xc3Lm6Bv9D","name":"web_fetch","input":{"url": "https://blog.rust-lang.org/2024/07/25/Rust-1.80.0.html"}},"#,
            r#"{"type":"web_fetch_tool_result","tool_use_id":"srvtoolu_01Fk7Pq2Wn5Rt8Xc3Lm6Bv9D","content":{"type":"web_fetch_result","url":"https://blog.rust-lang.org/2024/07/25/Rust-1.80.0.html","content":{"type":"document","source":{"type":"text","media_type":"text/plain","data":"Announcing Rust 1.80.0. The Rust team is happy to announce a new version of Rust, 1.80.0."},"title":"Announcing Rust 1.80.0"},"retrieved_at":"2025-06-01T12:00:00.000000+00:00"}}"#,
            "]}"
        )
    );
}

/// MCP connector blocks: `mcp_tool_use` keeps its `server_name` and gets its streamed
/// input; `mcp_tool_result` goes back as received. Without the pair the next turn loses
/// what the MCP server answered.
#[tokio::test]
async fn mcp_blocks_go_back_with_their_server_name_and_result() {
    let o = turn(
        "constructed-anthropic-mcp-tool-use.sse",
        ToolRegistry::new(),
    )
    .await;
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"mcp_tool_use","id":"mcptoolu_01Gt5Xb8Wq3Nk6Rv2Lc9Hm4P","name":"echo","server_name":"example-mcp","input":{"message": "Hello from MCP"}},"#,
            r#"{"type":"mcp_tool_result","tool_use_id":"mcptoolu_01Gt5Xb8Wq3Nk6Rv2Lc9Hm4P","is_error":false,"content":[{"type":"text","text":"Hello from MCP"}]},"#,
            r#"{"type":"text","text":"The MCP server answered: Hello from MCP."}"#,
            "]}"
        )
    );
}

/// A compaction block (one `compaction_delta` with the whole summary and its
/// `encrypted_content`) goes back first: "You must pass the `compaction` block back to the
/// API on subsequent requests to continue the conversation with the shortened prompt".
/// Dropped, the next request carries the whole uncompacted history again (and, past the
/// window, fails with "prompt is too long").
#[tokio::test]
async fn a_compaction_block_goes_back_with_its_encrypted_content() {
    let o = turn(
        "anthropic-sdkpy-compaction_response.sse",
        ToolRegistry::new(),
    )
    .await;
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"compaction","content":"Earlier conversation summarized.","encrypted_content":"EpwBCioIDxgCEAEYASJALd_opaque_compaction_payload"},"#,
            r#"{"type":"text","text":"Hello there!"}"#,
            "]}"
        )
    );
}

/// The documented web search stream (the docs' example, verbatim) starts
/// `server_tool_use` without an `input` key; the echo adds the streamed input last, since
/// the block param requires it (400 "messages.1.content.0.input: Field required").
#[tokio::test]
async fn a_server_call_started_without_input_gets_its_streamed_input() {
    let o = turn(
        "constructed-anthropic-docs-web-search-no-input-key.sse",
        ToolRegistry::new(),
    )
    .await;
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"server_tool_use","id":"srvtoolu_xyz789","name":"web_search","input":{"query":"latest quantum computing breakthroughs 2025"}},"#,
            // As received, spacing included.
            r#"{"type": "web_search_tool_result", "tool_use_id": "srvtoolu_xyz789", "content": [{"type": "web_search_result", "title": "Quantum Computing Breakthroughs in 2025", "url": "https://example.com"}]}"#,
            "]}"
        )
    );
}
