//! The mock serves Bedrock `ConverseStream` over AWS event-stream and `Converse` whole, as
//! the service does: a multi-turn tool loop over real loopback HTTP, decoded by the
//! crate's own Bedrock decoder and answered with the crate's own request builder; results
//! out of order counted; every refusal in AWS's shape; the CLI on captured bytes.

use futures_util::StreamExt;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use toolstream::mock::{MockServer, Script};
use toolstream::request::{assistant_message, results_message_for};
use toolstream::tool::ToolDefinition;
use toolstream::{
    AssembledMessage, Assembler, Block, ByteStreamExt, ModelClient, Provider, StopKind,
    StreamEvent, ToolResult, TurnId,
};

/// A Claude model that takes `cachePoint` blocks: the requests carry them.
const MODEL: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";

fn script(reasoning: bool) -> Script {
    let mut s = if reasoning {
        Script::reasoning_demo()
    } else {
        Script::default_demo()
    };
    s.chunk_delay_ms = 0;
    s
}

async fn server(script: Script) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), script)
        .await
        .unwrap()
}

/// The operation's URL, the model id percent-encoded as the SDKs send it.
fn url(server: &MockServer, operation: &str) -> String {
    format!(
        "{}/model/{}/{operation}",
        server.base_url(),
        MODEL.replace(':', "%3A")
    )
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    /// A Bedrock API key.
    Bearer,
    /// A well-formed SigV4 signature (the mock cannot check its value).
    SigV4,
    /// SigV4 without its `Signature` part.
    SigV4Incomplete,
}

async fn post(url: String, auth: Auth, body: &str) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    let sig = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date";
    r = match auth {
        Auth::None => r,
        Auth::Bearer => r.header("authorization", "Bearer ABSKQmVkcm9ja0FQSUtleS1tb2Nr"),
        Auth::SigV4 => r.header("x-amz-date", "20250101T120000Z").header(
            "authorization",
            format!("{sig}, Signature={}", "5d".repeat(32)),
        ),
        Auth::SigV4Incomplete => r
            .header("x-amz-date", "20250101T120000Z")
            .header("authorization", sig),
    };
    r.send().await.unwrap()
}

fn client() -> ModelClient {
    ModelClient::new(Provider::Bedrock, MODEL, "unused").unwrap()
}

fn tools() -> Vec<ToolDefinition> {
    ["get_weather", "get_time", "search", "get_forecast"]
        .into_iter()
        .map(|name| ToolDefinition {
            name: name.into(),
            description: format!("The {name} tool"),
            schema: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        })
        .collect()
}

/// The streamed answer, decoded by the crate's Bedrock decoder as it arrives.
async fn decode(response: reqwest::Response) -> (AssembledMessage, Vec<StreamEvent>) {
    let mut stream = response.bytes_stream().stream_events(Provider::Bedrock);
    let (mut assembler, mut events) = (Assembler::new(), Vec::new());
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        assembler.push(&event).unwrap();
        events.push(event);
    }
    (assembler.finish(), events)
}

/// One result per call of `m`, listed in `order` (positions in the message).
fn results(k: u64, m: &AssembledMessage, order: &[usize]) -> Vec<ToolResult> {
    order
        .iter()
        .map(|&i| {
            let c = &m.tool_calls[i];
            ToolResult {
                turn: TurnId(k),
                index: i,
                id: c.id.clone(),
                name: c.name.clone(),
                error: None,
                content: format!("{} answered", c.name),
                parts: Vec::new(),
                committed: true,
            }
        })
        .collect()
}

/// Checks that `m` is turn `k` of `script`: its text, its calls (ids, names, arguments).
fn assert_turn(script: &Script, k: usize, m: &AssembledMessage) {
    let turn = script.turn(k);
    assert!(m.complete, "turn {k}");
    assert_eq!(m.text(), turn.text, "turn {k}");
    let got: Vec<(String, String, Value)> = m
        .tool_calls
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                c.name.to_string(),
                c.input.clone().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, Value)> = turn
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                format!("tooluse_mock_{k}_{i}"),
                c.name.clone(),
                serde_json::from_str(c.input.get()).unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want, "turn {k}");
    let tool_use = !turn.tool_calls.is_empty();
    assert_eq!(
        m.stop_kind() == Some(StopKind::ToolUse),
        tool_use,
        "turn {k}"
    );
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The next history: the assistant message and its results, as the crate writes them.
fn answer(history: &mut Vec<Box<RawValue>>, k: u64, m: &AssembledMessage, order: &[usize]) {
    history.push(assistant_message(Provider::Bedrock, m));
    let results = results(k, m, order);
    history.push(results_message_for(
        Provider::Bedrock,
        m,
        Some(MODEL),
        &results,
    ));
}

#[tokio::test]
async fn a_tool_loop_streams_the_scripted_turns_and_caches_each_prefix() {
    let script = script(false);
    let server = server(script.clone()).await;
    let client = client();
    let mut history = vec![client.user_message("Weather in Paris and Tokyo?")];
    for k in 0..script.turns.len() {
        let body = client.request_body(&history, &tools());
        assert!(body.contains("cachePoint"), "{body}");
        // Both ways Bedrock authenticates, turn about.
        let auth = if k % 2 == 0 {
            Auth::SigV4
        } else {
            Auth::Bearer
        };
        let response = post(url(&server, "converse-stream"), auth, &body).await;
        assert_eq!(response.status(), 200, "turn {k}");
        assert_eq!(
            header(&response, "content-type"),
            "application/vnd.amazon.eventstream"
        );
        let verdict = header(&response, "x-mock-cache").to_owned();
        assert_eq!(verdict, if k == 0 { "write" } else { "hit" }, "turn {k}");
        let (m, _) = decode(response).await;
        assert_turn(&script, k, &m);
        // The first request writes its prefix at its cache points; each later one reads
        // the previous request's whole prompt and writes what it added.
        let u = &m.usage;
        let (read, write) = (
            u.cache_read_input_tokens.unwrap(),
            u.cache_write_input_tokens.unwrap(),
        );
        assert!(write > 0, "turn {k}: {u:?}");
        assert_eq!(read > 0, k > 0, "turn {k}: {u:?}");
        assert!(u.input_tokens.unwrap() >= read + write, "{u:?}");
        let order: Vec<usize> = (0..m.tool_calls.len()).collect();
        answer(&mut history, k as u64, &m, &order);
    }
    let stats = server.stats();
    assert_eq!(
        (
            stats.requests,
            stats.cache_hits,
            stats.order_violations,
            stats.rejected
        ),
        (3, 2, 0, 0),
        "{stats:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn results_in_completion_order_are_accepted_but_counted_and_miss() {
    let script = script(false);
    let server = server(script.clone()).await;
    let client = client();
    let history = vec![client.user_message("Weather?")];
    let body = client.request_body(&history, &tools());
    let (m, _) = decode(post(url(&server, "converse-stream"), Auth::Bearer, &body).await).await;
    assert_eq!(m.tool_calls.len(), 4);
    // The same turn answered twice: in the calls' order (what a cache keeps), then in
    // completion order (another prompt: it cannot read the first one's cache).
    for (order, verdict) in [([0, 1, 2, 3], "hit"), ([2, 0, 3, 1], "miss")] {
        let mut next = history.clone();
        answer(&mut next, 0, &m, &order);
        let body = client.request_body(&next, &tools());
        let response = post(url(&server, "converse-stream"), Auth::Bearer, &body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-mock-cache"), verdict, "{order:?}");
        let (m, _) = decode(response).await;
        assert_turn(&script, 1, &m);
    }
    let stats = server.stats();
    assert_eq!(
        (stats.requests, stats.order_violations, stats.cache_misses),
        (3, 1, 1),
        "{stats:?}"
    );
    server.shutdown().await;
}

/// (auth, body, operation, status, exception, a piece of the message)
#[tokio::test]
async fn refusals_are_awss() {
    let server = server(script(false)).await;
    let client = client();
    let user = client.user_message("Weather?");
    let first = client.request_body(std::slice::from_ref(&user), &tools());
    // A turn with calls, then a user message that answers none of them.
    let (m, _) = decode(post(url(&server, "converse-stream"), Auth::Bearer, &first).await).await;
    let unanswered = client.request_body(
        &[
            user.clone(),
            assistant_message(Provider::Bedrock, &m),
            client.user_message("never mind"),
        ],
        &tools(),
    );
    // One result of four.
    let mut partial = vec![user.clone()];
    answer(&mut partial, 0, &m, &[0]);
    let partial = client.request_body(&partial, &tools());
    let cases: [(Auth, &str, &str, u16, &str, &str); 7] = [
        (Auth::None, &first, "converse-stream", 403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
        (Auth::SigV4Incomplete, &first, "converse-stream", 403, "IncompleteSignatureException", "requires 'Signature' parameter"),
        (Auth::Bearer, r#"{"messages": [{"role": "user""#, "converse-stream", 400, "SerializationException", "not valid JSON"),
        (Auth::Bearer, &unanswered, "converse-stream", 400, "ValidationException", "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_mock_0_0, tooluse_mock_0_1, tooluse_mock_0_2, tooluse_mock_0_3"),
        (Auth::Bearer, &partial, "converse", 400, "ValidationException", "for the following Ids: tooluse_mock_0_1, tooluse_mock_0_2, tooluse_mock_0_3"),
        (Auth::Bearer, r#"{"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}"#, "converse-stream", 400, "ValidationException", "A conversation must start with a user message"),
        (Auth::Bearer, &first, "invoke", 404, "UnknownOperationException", "Converse and ConverseStream only"),
    ];
    for (auth, body, operation, status, exception, message) in cases {
        let response = post(url(&server, operation), auth, body).await;
        assert_eq!(response.status(), status, "{exception}");
        assert_eq!(header(&response, "content-type"), "application/json");
        let kind = header(&response, "x-amzn-errortype").to_owned();
        assert_eq!(kind.split(':').next(), Some(exception), "{kind}");
        assert!(!header(&response, "x-amzn-requestid").is_empty());
        let body: Value = response.json().await.unwrap();
        let text = body["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{exception}: {body}");
    }
    let stats = server.stats();
    assert_eq!((stats.requests, stats.rejected), (1, 7), "{stats:?}");
    server.shutdown().await;
}

/// `Converse` answers the whole message: `output.message`, `stopReason`, `usage`,
/// `metrics`, keys in the service's alphabetical order.
#[tokio::test]
async fn converse_answers_the_whole_message() {
    let script = script(false);
    let server = server(script.clone()).await;
    let client = client();
    let body = client.request_body(&[client.user_message("Weather?")], &tools());
    let response = post(url(&server, "converse"), Auth::SigV4, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    let text = response.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["metrics", "output", "stopReason", "usage"], "{text}");
    assert_eq!(v["stopReason"], "tool_use");
    let message = &v["output"]["message"];
    assert_eq!(message["role"], "assistant");
    let turn = script.turn(0);
    let content = message["content"].as_array().unwrap();
    assert_eq!(content[0], json!({"text": turn.text}));
    for (i, (block, call)) in content[1..].iter().zip(&turn.tool_calls).enumerate() {
        let input: Value = serde_json::from_str(call.input.get()).unwrap();
        assert_eq!(
            block,
            &json!({"toolUse": {"input": input, "name": call.name, "toolUseId": format!("tooluse_mock_0_{i}")}})
        );
    }
    assert_eq!(content.len(), 1 + turn.tool_calls.len());
    let usage = &v["usage"];
    let total = [
        "inputTokens",
        "outputTokens",
        "cacheReadInputTokens",
        "cacheWriteInputTokens",
    ]
    .iter()
    .map(|k| usage[k].as_u64().unwrap())
    .sum::<u64>();
    assert_eq!(usage["totalTokens"].as_u64(), Some(total), "{usage}");
    assert!(v["metrics"]["latencyMs"].is_u64());
    assert!(
        !text.contains(r#""p":"#),
        "no padding in a whole answer: {text}"
    );
    server.shutdown().await;
}

/// Reasoning streams as `reasoningContent` deltas (text, signature; a redacted block on
/// the script's redacted turn) and must come back as Claude on Bedrock requires it.
#[tokio::test]
async fn reasoning_streams_and_must_come_back_unmodified() {
    let script = script(true);
    let server = server(script.clone()).await;
    let client = client();
    let mut history = vec![client.user_message("Weather?")];
    let mut last = None;
    for k in 0..script.turns.len() {
        let body = client.request_body(&history, &tools());
        let response = post(url(&server, "converse-stream"), Auth::Bearer, &body).await;
        assert_eq!(response.status(), 200, "turn {k}");
        let (m, events) = decode(response).await;
        assert_turn(&script, k, &m);
        assert!(
            m.thinking().starts_with(&format!("Step {k}:")),
            "{}",
            m.thinking()
        );
        let redacted = events.iter().any(|e| {
            matches!(
                e,
                StreamEvent::BlockStart {
                    block: Block::RedactedThinking,
                    ..
                }
            )
        });
        assert_eq!(redacted, k == 1, "turn {k}");
        if m.tool_calls.is_empty() {
            break;
        }
        last = Some((history.clone(), m.clone()));
        let order: Vec<usize> = (0..m.tool_calls.len()).collect();
        answer(&mut history, k as u64, &m, &order);
    }
    // The last tool turn again, its reasoning dropped or its signature changed.
    let (mut before, m) = last.unwrap();
    let sent = assistant_message(Provider::Bedrock, &m);
    let mut stripped: Value = serde_json::from_str(sent.get()).unwrap();
    let mut forged = stripped.clone();
    let blocks = stripped["content"].as_array_mut().unwrap();
    blocks.retain(|b| b.get("reasoningContent").is_none());
    forged["content"][0]["reasoningContent"]["reasoningText"]["text"] = json!("edited");
    let n = before.len();
    for (assistant, want) in [
        (stripped, "The model returned the following errors: messages.3.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`."),
        (forged, "The model returned the following errors: messages.3.content.0: Invalid `signature` in `thinking` block"),
    ] {
        before.truncate(n);
        before.push(RawValue::from_string(assistant.to_string()).unwrap());
        let results = results(1, &m, &(0..m.tool_calls.len()).collect::<Vec<_>>());
        before.push(results_message_for(Provider::Bedrock, &m, Some(MODEL), &results));
        let body = client.request_body(&before, &tools());
        let response = post(url(&server, "converse-stream"), Auth::Bearer, &body).await;
        assert_eq!(response.status(), 400);
        assert!(header(&response, "x-amzn-errortype").starts_with("ValidationException:"));
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().starts_with(want), "{body}");
    }
    server.shutdown().await;
}

/// `toolstream turn --provider bedrock` reads the bytes the mock streamed.
#[tokio::test]
async fn the_cli_assembles_captured_mock_bytes() {
    let script = script(false);
    let server = server(script.clone()).await;
    let client = client();
    let body = client.request_body(&[client.user_message("Weather?")], &tools());
    let bytes = post(url(&server, "converse-stream"), Auth::Bearer, &body)
        .await
        .bytes()
        .await
        .unwrap();
    let path = std::env::temp_dir().join(format!("mock_bedrock_{}.bin", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .args(["turn", "--provider", "bedrock"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let turn: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(turn["complete"], true);
    assert_eq!(turn["stop_reason"], "tool_use");
    assert_eq!(turn["text"], script.turn(0).text);
    let calls: Vec<(String, String, Value)> = turn["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
                c["input"].clone(),
            )
        })
        .collect();
    let want: Vec<(String, String, Value)> = script
        .turn(0)
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                format!("tooluse_mock_0_{i}"),
                c.name.clone(),
                serde_json::from_str(c.input.get()).unwrap(),
            )
        })
        .collect();
    assert_eq!(calls, want);
    server.shutdown().await;
}

/// The tool arguments stream exactly as scripted, in `chunk_chars` pieces, the first
/// delta of each call empty; every message is written as in the live recordings
/// (tests/fixtures/bedrock): headers `:event-type`, `:content-type`, `:message-type`, a
/// compact JSON payload with its keys in alphabetical order and a `"p"` padding member.
#[tokio::test]
async fn events_are_written_as_the_service_writes_them() {
    let script: Script = serde_json::from_str(
        r#"{"chunk_chars": 5, "chunk_delay_ms": 0, "turns": [
            {"tool_calls": [{"name": "f", "input": {"b": 1.50, "a": "é€"}}]}]}"#,
    )
    .unwrap();
    let server = server(script).await;
    let client = client();
    let body = client.request_body(&[client.user_message("go")], &[]);
    let bytes = post(url(&server, "converse-stream"), Auth::Bearer, &body)
        .await
        .bytes()
        .await
        .unwrap();
    let mut decoder = toolstream::EventStreamDecoder::new();
    let mut messages = Vec::new();
    decoder.push(&bytes, &mut messages).unwrap();
    decoder.finish().unwrap();
    let pieces: Vec<String> = messages
        .iter()
        .filter(|m| m.event_type() == Some("contentBlockDelta"))
        .map(|m| {
            let v: Value = serde_json::from_slice(m.payload()).unwrap();
            v["delta"]["toolUse"]["input"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        pieces,
        ["", r#"{"b":"#, r#" 1.50"#, r#", "a""#, r#": "é€"#, r#""}"#]
    );
    let names: Vec<&str> = messages.iter().map(|m| m.event_type().unwrap()).collect();
    assert_eq!(names[0], "messageStart");
    assert_eq!(names[names.len() - 2..], ["messageStop", "metadata"]);
    for m in &messages {
        let headers: Vec<&str> = m.headers().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(headers, [":event-type", ":content-type", ":message-type"]);
        assert_eq!(m.header_str(":content-type"), Some("application/json"));
        assert_eq!(m.message_type(), Some("event"));
        let payload = std::str::from_utf8(m.payload()).unwrap();
        // serde_json's map keeps keys sorted: written back, a sorted payload is unchanged.
        let v: Value = serde_json::from_str(payload).unwrap();
        assert_eq!(v.to_string(), payload);
        let p = v["p"].as_str().unwrap();
        assert!(
            !p.is_empty()
                && "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".starts_with(p),
            "{payload}"
        );
    }
    server.shutdown().await;
}
