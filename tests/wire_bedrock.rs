//! What goes back to Bedrock (SPEC §6): the next request's assistant and tool-result
//! messages, byte for byte, for ConverseStream (reasoning, redacted reasoning, blank text,
//! empty results, `toolResult.status` by model family, `toolUse` under `end_turn`) and
//! for InvokeModel turns of Anthropic models, which go back in Anthropic's shape. Each
//! fixture runs through the turn stream as in production; each test names the error it
//! prevents.

use crate::common;

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;
use toolstream::{
    Provider, StopKind, ToolRegistry, TurnConfig, TurnEvent, TurnOutcome, TurnStream,
};

/// Runs the fixture's stream through a turn with `tools` for `model` (`None`: unknown).
async fn turn(fixture: &str, tools: ToolRegistry, model: Option<&str>) -> TurnOutcome {
    let body = std::fs::read(common::fixtures_dir().join("bedrock").join(fixture)).unwrap();
    let events = common::decode(Provider::Bedrock, &body).unwrap();
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    let mut config = TurnConfig::new(Provider::Bedrock);
    if let Some(model) = model {
        config = config.model(model);
    }
    let all: Vec<TurnEvent> = TurnStream::new(stream, Arc::new(tools), config)
        .map(|e| e.unwrap())
        .collect()
        .await;
    match all.last() {
        Some(TurnEvent::Outcome(o)) => (**o).clone(),
        other => panic!("the last event is not the outcome: {other:?}"),
    }
}

fn answer(output: Result<&'static str, &'static str>) -> impl Fn(Value) -> toolstream::ToolFuture {
    move |_| Box::pin(async move { output.map(Into::into).map_err(Into::into) })
}

fn tool(name: &str, output: Result<&'static str, &'static str>) -> ToolRegistry {
    ToolRegistry::new().with_raw_fn(name, answer(output))
}

/// Reasoning goes back as `reasoningContent`: the text with its signature, then the
/// `redactedContent` as received, then the text and the call, in the order received.
/// Without them, Claude with thinking on refuses the next request: "Expected `thinking`
/// or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final
/// `assistant` message must start with a thinking block".
#[tokio::test]
async fn reasoning_and_redacted_reasoning_go_back_before_text_and_tool_use() {
    let o = turn(
        "constructed-bedrock-conversestream-reasoning-tool-use.bin",
        tool("get_order", Ok("shipped")),
        Some("us.anthropic.claude-sonnet-4-20250514-v1:0"),
    )
    .await;
    assert!(o.committed);
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"reasoningContent":{"reasoningText":{"text":"The user asks where order A-1042 is. I should call get_order.","signature":"c3ludGhldGljLWJlZHJvY2stcmVhc29uaW5nLXNpZ25hdHVyZS1ub3QtcmVhbA=="}}},"#,
            r#"{"reasoningContent":{"redactedContent":"c3ludGhldGljLXJlZGFjdGVkLWNvbnRlbnQtbm90LWEtcmVhbC1lbmNyeXB0ZWQtYmxvYg=="}},"#,
            r#"{"text":"I'll look up order A-1042."},"#,
            r#"{"toolUse":{"toolUseId":"tooluse_Qm3Vx8Kt2RbN6Wc9Lp4HzA","name":"get_order","input":{"order_id": "A-1042"}}}"#,
            "]}"
        )
    );
    assert_eq!(
        o.results_message.unwrap().get(),
        r#"{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_Qm3Vx8Kt2RbN6Wc9Lp4HzA","content":[{"text":"shipped"}]}}]}"#
    );
}

/// Claude on Bedrock sometimes ends a `toolUse` message with `end_turn`: the message is a
/// tool-use message and commits (SPEC §4); otherwise the turn is abandoned and, in eager
/// mode, a tool that already ran has its result thrown away.
#[tokio::test]
async fn tool_use_under_end_turn_commits() {
    let o = turn(
        "constructed-bedrock-conversestream-tool-use-end-turn.bin",
        tool("list_files", Ok("a.txt")),
        Some("anthropic.claude-3-5-sonnet-20240620-v1:0"),
    )
    .await;
    assert!(o.committed);
    let stop = o.message.stop_reason.as_ref().unwrap();
    assert_eq!(stop.kind, StopKind::ToolUse);
    assert_eq!(stop.raw.as_deref(), Some("end_turn"));
    assert!(o.results_message.is_some());
}

/// A whitespace-only text block is not echoed, and a tool that returned nothing gets a
/// non-blank text. Both would be 400 "The text field in the ContentBlock object is blank.
/// Add text to the text field, and try again."
#[tokio::test]
async fn blank_text_and_empty_results_never_go_back_blank() {
    let o = turn(
        "constructed-bedrock-conversestream-tool-use-end-turn.bin",
        tool("list_files", Ok("")),
        Some("anthropic.claude-3-5-sonnet-20240620-v1:0"),
    )
    .await;
    assert_eq!(
        o.assistant_message.get(),
        r#"{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_Hx7Wq2Vn5Kt8Rb3Lc6MpZd","name":"list_files","input":{"dir": "/tmp/empty"}}}]}"#
    );
    assert_eq!(
        o.results_message.unwrap().get(),
        r#"{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_Hx7Wq2Vn5Kt8Rb3Lc6MpZd","content":[{"text":"(no output)"}]}}]}"#
    );
}

/// `toolResult.status` "is only supported by Amazon Nova and Anthropic Claude 3 and 4
/// models": they get `"status":"error"`; other models and an unknown model get the error
/// said in the text instead (a model that does not take the field refuses the request:
/// "This model doesn't support the toolResult.status field").
#[tokio::test]
async fn tool_result_status_only_for_model_families_that_take_it() {
    let with_status = r#"{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_wnjikhCUTruJciycmmm5Kg","content":[{"text":"weather service unavailable"}],"status":"error"}}]}"#;
    let in_text = r#"{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_wnjikhCUTruJciycmmm5Kg","content":[{"text":"Error: weather service unavailable"}]}}]}"#;
    for (model, want) in [
        (
            Some("anthropic.claude-3-5-sonnet-20240620-v1:0"),
            with_status,
        ),
        (
            Some("us.anthropic.claude-sonnet-4-20250514-v1:0"),
            with_status,
        ),
        (Some("amazon.nova-pro-v1:0"), with_status),
        (Some("meta.llama3-1-70b-instruct-v1:0"), in_text),
        (Some("mistral.mistral-large-2407-v1:0"), in_text),
        (None, in_text),
    ] {
        let o = turn(
            "bedrock-conversestream-tool-use.bin",
            tool("get_weather", Err("weather service unavailable")),
            model,
        )
        .await;
        assert_eq!(o.results_message.unwrap().get(), want, "{model:?}");
    }
}

/// An InvokeModel turn (Anthropic events in `chunk` frames) goes back as the Anthropic
/// Messages body InvokeModel takes: Converse shapes there are 400 "messages.0.content.0:
/// Input tag 'toolUse' found using 'type' does not match any of the expected tags".
#[tokio::test]
async fn invoke_model_turns_go_back_in_anthropic_shape() {
    let o = turn(
        "bedrock-invoke-with-response-stream-anthropic-tool-use.bin",
        tool("get_weather", Ok("72°F, sunny")),
        Some("anthropic.claude-3-sonnet-20240229-v1:0"),
    )
    .await;
    assert!(o.committed);
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"assistant","content":["#,
            r#"{"type":"text","text":"Okay, let's get the current weather for San Francisco:"},"#,
            r#"{"type":"tool_use","id":"toolu_bdrk_01SmuLWbQxzvE6WD3Th711eg","name":"get_weather","input":{"location": "San Francisco, CA", "unit": "fahrenheit"}}"#,
            "]}"
        )
    );
    assert_eq!(
        o.results_message.unwrap().get(),
        r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_bdrk_01SmuLWbQxzvE6WD3Th711eg","content":"72°F, sunny"}]}"#
    );
}

/// A failed InvokeModel call is answered with Anthropic's `is_error`, never Converse's
/// `status` (400 "messages.1.content.0.tool_result.status: Extra inputs are not permitted").
#[tokio::test]
async fn invoke_model_errors_use_is_error() {
    let o = turn(
        "bedrock-invoke-with-response-stream-anthropic-tool-use.bin",
        tool("get_weather", Err("weather service unavailable")),
        None,
    )
    .await;
    assert_eq!(
        o.results_message.unwrap().get(),
        r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_bdrk_01SmuLWbQxzvE6WD3Th711eg","content":"weather service unavailable","is_error":true}]}"#
    );
}
