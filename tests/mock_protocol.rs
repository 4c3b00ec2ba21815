//! The mock server speaks each protocol as the official SDKs use it (issue 15, first
//! part): every authentication form the SDKs send, Chat usage only when asked for, tool
//! arguments streamed exactly as the script wrote them.

use toolstream::mock::{MockServer, Script};

fn script() -> Script {
    serde_json::from_str(
        r#"{"model": "mock-1", "chunk_chars": 64, "chunk_delay_ms": 0, "turns": [
            {"text": "Looking.", "tool_calls": [{"name": "get_weather", "input": {"b": 1.50, "a": 2}}]},
            {"text": "Done."}]}"#,
    )
    .unwrap()
}

async fn server() -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), script())
        .await
        .unwrap()
}

/// The streaming endpoint of the script's Gemini model.
fn gemini_url(server: &MockServer) -> String {
    format!(
        "{}/v1beta/models/mock-1:streamGenerateContent?alt=sse",
        server.base_url()
    )
}

async fn post(url: String, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut request = reqwest::Client::new().post(url).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

const ANTHROPIC: &str = r#"{"model":"mock-1","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const CHAT: &str =
    r#"{"model":"mock-1","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const GEMINI: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;

#[tokio::test]
async fn every_authentication_form_the_sdks_send_is_accepted() {
    let server = server().await;
    let base = server.base_url();
    let version = ("anthropic-version", "2023-06-01");
    let messages = format!("{base}/v1/messages");
    let chat = format!("{base}/v1/chat/completions");
    let gemini = format!("{base}/v1beta/models/mock-1:streamGenerateContent?alt=sse");
    for (url, headers, body, want) in [
        (
            messages.clone(),
            vec![version, ("x-api-key", "k")],
            ANTHROPIC,
            200,
        ),
        // anthropic-python with an auth token.
        (
            messages.clone(),
            vec![version, ("authorization", "Bearer k")],
            ANTHROPIC,
            200,
        ),
        (messages.clone(), vec![version], ANTHROPIC, 401),
        (
            messages.clone(),
            vec![version, ("authorization", "Bearer ")],
            ANTHROPIC,
            401,
        ),
        (chat.clone(), vec![("authorization", "Bearer k")], CHAT, 200),
        // Azure OpenAI.
        (chat.clone(), vec![("api-key", "k")], CHAT, 200),
        (chat.clone(), vec![], CHAT, 401),
        (gemini.clone(), vec![("x-goog-api-key", "k")], GEMINI, 200),
        (format!("{gemini}&key=k"), vec![], GEMINI, 200),
        (
            gemini.clone(),
            vec![("authorization", "Bearer ya29.token")],
            GEMINI,
            200,
        ),
        (format!("{gemini}&key="), vec![], GEMINI, 401),
    ] {
        let (status, text) = post(url.clone(), &headers, body).await;
        assert_eq!(status, want, "{url} {headers:?}: {text}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn chat_usage_is_streamed_only_when_asked_for() {
    let server = server().await;
    let url = format!("{}/v1/chat/completions", server.base_url());
    let auth = [("authorization", "Bearer k")];
    let (_, plain) = post(url.clone(), &auth, CHAT).await;
    assert!(!plain.contains("\"usage\":{"), "{plain}");
    assert!(plain.ends_with("data: [DONE]\n\n"));
    let asked = CHAT.replace(
        r#""stream":true"#,
        r#""stream":true,"stream_options":{"include_usage":true}"#,
    );
    let (_, with_usage) = post(url, &auth, &asked).await;
    assert!(
        with_usage.contains(r#""choices":[],"usage":{"prompt_tokens":"#),
        "{with_usage}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn gemini_arguments_are_streamed_as_written() {
    let server = server().await;
    let url = gemini_url(&server);
    let (status, text) = post(url, &[("x-goog-api-key", "k")], GEMINI).await;
    assert_eq!(status, 200);
    assert!(text.contains(r#""args": {"b": 1.50, "a": 2}"#), "{text}");
    server.shutdown().await;
}

/// Responses events carry what openai-python and the Vercel AI SDK read: `created_at` and
/// `object` on the response, items' `status`, the message's `role` and `content`,
/// `output_text.done`, the whole `output` on `response.completed`, and a
/// `sequence_number` on every event, counting from 0.
#[tokio::test]
async fn responses_events_carry_the_fields_the_sdks_read() {
    let server = server().await;
    let (status, text) = post(
        format!("{}/v1/responses", server.base_url()),
        &[("authorization", "Bearer k")],
        r#"{"model":"mock-1","stream":true,"input":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    assert_eq!(status, 200);
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], i, "{e}");
    }
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["type"] == kind).collect()
    };
    let created = &of("response.created")[0]["response"];
    assert_eq!(created["object"], "response");
    assert!(created["created_at"].is_u64());
    let added = of("response.output_item.added");
    assert_eq!(added[0]["item"]["role"], "assistant");
    assert_eq!(added[0]["item"]["status"], "in_progress");
    assert_eq!(added[1]["item"]["status"], "in_progress");
    assert_eq!(of("response.output_text.done")[0]["text"], "Looking.");
    let completed = &of("response.completed")[0]["response"];
    let output = completed["output"].as_array().unwrap();
    assert_eq!(output.len(), 2);
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["status"], "completed");
    assert_eq!(output[0]["content"][0]["text"], "Looking.");
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["status"], "completed");
    assert_eq!(output[1]["arguments"], r#"{"b": 1.50, "a": 2}"#);
    server.shutdown().await;
}

/// google-genai chats keep one model content per streamed chunk: a run of them is one turn,
/// and the mock plays the next scripted turn. No chunk finishes with empty `parts`.
#[tokio::test]
async fn gemini_chat_histories_with_one_content_per_chunk_count_as_one_turn() {
    let server = server().await;
    let url = gemini_url(&server);
    let history = r#"{"contents":[
        {"role":"user","parts":[{"text":"hi"}]},
        {"role":"model","parts":[{"text":"Look"}]},
        {"role":"model","parts":[{"text":"ing."}]},
        {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"b": 1.50, "a": 2}}}]},
        {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"sunny"}}}]}]}"#;
    let (status, text) = post(url, &[("x-goog-api-key", "k")], history).await;
    assert_eq!(status, 200, "{text}");
    // Turn 2 of the script: "Done.", in the finishing chunk itself.
    let last = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap();
    assert!(last.contains(r#""finishReason": "STOP""#), "{last}");
    assert!(last.contains(r#""parts": [{"text": "Done."}]"#), "{last}");
    assert!(!text.contains(r#""parts": []"#), "{text}");
    server.shutdown().await;
}

/// Without `"stream": true` (Gemini: `:generateContent`) the answer is the whole message in
/// the API's non-streaming shape.
#[tokio::test]
async fn a_request_that_does_not_stream_gets_the_whole_message() {
    let server = server().await;
    let base = server.base_url();
    let json = |(status, text): (u16, String)| -> serde_json::Value {
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let unstreamed = |body: &str| body.replace(r#""stream":true,"#, "");
    let m = json(
        post(
            format!("{base}/v1/messages"),
            &[("x-api-key", "k"), ("anthropic-version", "2023-06-01")],
            &unstreamed(ANTHROPIC),
        )
        .await,
    );
    assert_eq!(m["type"], "message");
    assert_eq!(
        m["content"][0],
        serde_json::json!({"type": "text", "text": "Looking."})
    );
    assert_eq!(m["content"][1]["type"], "tool_use");
    assert_eq!(
        m["content"][1]["input"],
        serde_json::json!({"b": 1.5, "a": 2})
    );
    assert_eq!(m["stop_reason"], "tool_use");
    assert!(m["usage"]["output_tokens"].as_u64().unwrap() > 1);

    let c = json(
        post(
            format!("{base}/v1/chat/completions"),
            &[("authorization", "Bearer k")],
            &unstreamed(CHAT),
        )
        .await,
    );
    assert_eq!(c["object"], "chat.completion");
    let choice = &c["choices"][0];
    assert_eq!(choice["message"]["content"], "Looking.");
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"b": 1.50, "a": 2}"#
    );
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(c["usage"]["prompt_tokens"].is_u64());

    let r = json(
        post(
            format!("{base}/v1/responses"),
            &[("authorization", "Bearer k")],
            r#"{"model":"mock-1","input":[{"role":"user","content":"hi"}]}"#,
        )
        .await,
    );
    assert_eq!(r["object"], "response");
    assert_eq!(r["output"].as_array().unwrap().len(), 2);

    let g = json(
        post(
            format!("{base}/v1beta/models/mock-1:generateContent"),
            &[("x-goog-api-key", "k")],
            GEMINI,
        )
        .await,
    );
    let candidate = &g["candidates"][0];
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(
        candidate["content"]["parts"][0],
        serde_json::json!({"text": "Looking."})
    );
    assert_eq!(
        candidate["content"]["parts"][1]["functionCall"]["name"],
        "get_weather"
    );
    server.shutdown().await;
}

/// The Vercel AI SDK sends a stored assistant message back as an `item_reference`: it
/// counts as the model's turn (a cache hit), not as a miss.
#[tokio::test]
async fn responses_item_references_to_the_mocks_output_count_as_its_turn() {
    let server = server().await;
    let url = format!("{}/v1/responses", server.base_url());
    let auth = [("authorization", "Bearer k")];
    let first = r#"{"model":"mock-1","stream":true,"input":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(post(url.clone(), &auth, first).await.0, 200);
    let second = r#"{"model":"mock-1","stream":true,"input":[{"role":"user","content":"hi"},{"type":"item_reference","id":"msg_mock_0"},{"type":"function_call","call_id":"call_mock_0_0","name":"get_weather","arguments":"{\"b\": 1.50, \"a\": 2}"},{"type":"function_call_output","call_id":"call_mock_0_0","output":"sunny"}]}"#;
    let (status, body) = post(url.clone(), &auth, second).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Done."), "the second turn was played: {body}");
    let stats = server.stats();
    assert_eq!((stats.cache_hits, stats.cache_misses), (1, 0));
    // A reference to an item the mock never produced is not its output: that history
    // was never seen (a miss).
    let foreign = second.replace("msg_mock_0", "msg_elsewhere");
    assert_eq!(post(url, &auth, &foreign).await.0, 200);
    assert_eq!(server.stats().cache_misses, 1);
}

/// google-genai 3 asks for API version `v1`: the mock serves both.
#[tokio::test]
async fn gemini_is_served_under_v1_and_v1beta() {
    let server = server().await;
    let url = format!(
        "{}/v1/models/mock-1:streamGenerateContent?alt=sse",
        server.base_url()
    );
    let (status, body) = post(url, &[("x-goog-api-key", "k")], GEMINI).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("get_weather"), "{body}");
}
