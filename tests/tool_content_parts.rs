//! Tool results with content parts (text, JSON, an image) go back in each provider's own
//! format, text where a provider has no place for a part (SPEC §6; issue 13, build 3).

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use toolstream::{
    Block, ContentPart, Delta, Provider, StopKind, StopReason, StreamEvent, ToolRegistry,
    TurnConfig, TurnEvent, TurnStream, Usage,
};

/// A 1x1 PNG's first bytes, base64: 8 bytes.
const PNG: &str = "iVBORw0KGgo=";

/// One message calling `chart` then `stats`, in the unified events every provider maps to.
fn events() -> Vec<Result<StreamEvent, std::convert::Infallible>> {
    let call = |index: usize, id: &str, name: &str, args: &str| {
        [
            StreamEvent::BlockStart {
                index,
                block: Block::ToolUse {
                    id: id.into(),
                    name: name.into(),
                },
            },
            StreamEvent::BlockDelta {
                index,
                delta: Delta::ToolInput(args.into()),
            },
            StreamEvent::BlockStop { index },
        ]
    };
    let mut all = vec![StreamEvent::MessageStart {
        id: None,
        model: None,
        usage: Usage::default(),
    }];
    all.extend(call(0, "call_1", "chart", r#"{"q":"x"}"#));
    all.extend(call(1, "call_2", "stats", r#"{"q":"y"}"#));
    all.push(StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
        usage: Usage::default(),
    });
    all.push(StreamEvent::MessageStop);
    all.into_iter().map(Ok).collect()
}

#[derive(Deserialize)]
struct Query {
    q: String,
}

fn tools() -> ToolRegistry {
    ToolRegistry::new()
        .with_fn("chart", |a: Query| async move {
            Ok::<_, String>(vec![
                ContentPart::text(format!("chart for {}", a.q)),
                ContentPart::json(serde_json::json!({"points": 3})),
                ContentPart::image_base64("image/png", PNG),
            ])
        })
        .with_fn("stats", |_: Query| async move {
            Ok::<_, String>(ContentPart::json(serde_json::json!({"mean": 1.5})))
        })
}

async fn next_message(provider: Provider) -> String {
    let config = TurnConfig::new(provider).model("anthropic.claude-sonnet-4-v1:0");
    let mut turn = TurnStream::new(
        futures_util::stream::iter(events()),
        Arc::new(tools()),
        config,
    );
    while let Some(event) = turn.next().await {
        if let TurnEvent::Outcome(o) = event.unwrap() {
            assert!(o.committed);
            // The text view every provider can fall back on.
            assert_eq!(
                o.results[0].content,
                format!(
                    "chart for x\n{{\"points\":3}}\n[image/png image of 8 bytes, left out: not content this API takes in a tool result]"
                )
            );
            return o.results_message.unwrap().get().to_owned();
        }
    }
    panic!("no outcome");
}

macro_rules! parts_case {
    ($name:ident, $provider:expr, $want:expr) => {
        #[tokio::test]
        async fn $name() {
            assert_eq!(next_message($provider).await, $want);
        }
    };
}

// Anthropic: "content" is a list of text and image blocks (JSON as text).
parts_case!(
    anthropic_tool_result_blocks,
    Provider::Anthropic,
    concat!(
        r#"{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":["#,
        r#"{"type":"text","text":"chart for x"},{"type":"text","text":"{\"points\":3}"},"#,
        r#"{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},"#,
        r#"{"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"{\"mean\":1.5}"}]}]}"#
    )
);

// OpenAI Chat: tool messages take text only; the image is named, not sent.
parts_case!(
    openai_chat_tool_messages_are_text,
    Provider::OpenAiChat,
    concat!(
        r#"[{"role":"tool","tool_call_id":"call_1","content":"chart for x\n{\"points\":3}\n"#,
        r#"[image/png image of 8 bytes, left out: not content this API takes in a tool result]"},"#,
        r#"{"role":"tool","tool_call_id":"call_2","content":"{\"mean\":1.5}"}]"#
    )
);

// OpenAI Responses: `output` is a list of input_text and input_image items.
parts_case!(
    openai_responses_output_items,
    Provider::OpenAiResponses,
    concat!(
        r#"[{"type":"function_call_output","call_id":"call_1","output":["#,
        r#"{"type":"input_text","text":"chart for x"},{"type":"input_text","text":"{\"points\":3}"},"#,
        r#"{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo="}]},"#,
        r#"{"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"{\"mean\":1.5}"}]}]"#
    )
);

// Gemini: the JSON value itself under `output` when the answer is one JSON part; images
// as the function response's own inlineData parts.
parts_case!(
    gemini_function_response_value_and_inline_data,
    Provider::Gemini,
    concat!(
        r#"{"role":"user","parts":[{"functionResponse":{"name":"chart","response":{"output":"chart for x\n{\"points\":3}"},"#,
        r#""parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}},"#,
        r#"{"functionResponse":{"name":"stats","response":{"output":{"mean":1.5}}}}]}"#
    )
);

// Bedrock: text, json and image blocks.
parts_case!(
    bedrock_tool_result_blocks,
    Provider::Bedrock,
    concat!(
        r#"{"role":"user","content":[{"toolResult":{"toolUseId":"call_1","content":["#,
        r#"{"text":"chart for x"},{"json":{"points":3}},"#,
        r#"{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}}]}},"#,
        r#"{"toolResult":{"toolUseId":"call_2","content":[{"json":{"mean":1.5}}]}}]}"#
    )
);

/// An image of a type the API does not take (Anthropic, OpenAI and Bedrock take jpeg, png,
/// gif and webp; anything else is a 400) goes as a note in text.
#[tokio::test]
async fn images_of_other_types_go_as_a_note() {
    let events = vec![
        StreamEvent::BlockStart {
            index: 0,
            block: Block::ToolUse {
                id: "call_1".into(),
                name: "scan".into(),
            },
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
            usage: Usage::default(),
        },
        StreamEvent::MessageStop,
    ];
    let note =
        "[image/bmp image of 8 bytes, left out: not content this API takes in a tool result]";
    for (provider, want) in [
        (
            Provider::Anthropic,
            format!(
                r#"{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"call_1","content":[{{"type":"text","text":"{note}"}}]}}]}}"#
            ),
        ),
        (
            Provider::OpenAiResponses,
            format!(
                r#"[{{"type":"function_call_output","call_id":"call_1","output":[{{"type":"input_text","text":"{note}"}}]}}]"#
            ),
        ),
        (
            Provider::Bedrock,
            format!(
                r#"{{"role":"user","content":[{{"toolResult":{{"toolUseId":"call_1","content":[{{"text":"{note}"}}]}}}}]}}"#
            ),
        ),
    ] {
        let tools = ToolRegistry::new().with_raw_fn("scan", |_| {
            Box::pin(async { Ok(ContentPart::image_base64("image/bmp", "Qk0AAAAAAAA=").into()) })
        });
        let stream = futures_util::stream::iter(
            events
                .clone()
                .into_iter()
                .map(Ok::<_, std::convert::Infallible>),
        );
        let mut turn = TurnStream::new(stream, Arc::new(tools), TurnConfig::new(provider));
        let mut got = None;
        while let Some(event) = turn.next().await {
            if let TurnEvent::Outcome(o) = event.unwrap() {
                got = o.results_message.map(|m| m.get().to_owned());
            }
        }
        assert_eq!(got.as_deref(), Some(want.as_str()), "{provider}");
    }
}
