//! Gemini and Vertex: what goes back into the next request (SPEC §6) and the stream
//! tolerances (SPEC §4), each checked the way it fails in production. Every case runs a
//! fixture's bytes through the decoder and the `TurnStream`, in one chunk and in small
//! ones, and compares the exact next-request bytes (`assistant_message`,
//! `results_message`) with the documented shape. Constructed fixtures say in their
//! `.source.txt` which document they follow.

use crate::common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::{json, Value};
use toolstream::{
    tool::ToolDefinition, ByteStreamExt, DispatchPolicy, ModelClient, Provider, ProviderChoice,
    StopKind, StreamDecoder, StreamEvent, ToolOptions, ToolRegistry, TurnConfig, TurnEvent,
    TurnOutcome, TurnStream,
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::fixtures_dir().join("gemini").join(name)).unwrap()
}

/// Eager-safe tools that answer with their input, recording every input they ran with.
fn tools(names: &[&str], runs: &Arc<Mutex<Vec<Value>>>) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    for name in names {
        let runs = runs.clone();
        registry = registry
            .with_raw_fn(*name, move |input| {
                runs.lock().unwrap().push(input.clone());
                Box::pin(async move { Ok(format!("ran with {input}").into()) })
            })
            .with_options(name, ToolOptions::new().eager_safe(true));
    }
    registry
}

/// The turn's outcome for `body` fed in `chunk`-byte pieces through the decoder and the
/// turn stream.
async fn turn(body: &[u8], chunk: usize, tools: ToolRegistry, config: TurnConfig) -> TurnOutcome {
    let pieces: Vec<Result<Vec<u8>, Infallible>> =
        body.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
    let events = futures_util::stream::iter(pieces).stream_events(Provider::Gemini);
    let stream = TurnStream::new(events, Arc::new(tools), config);
    let all: Vec<_> = stream.collect().await;
    match all.last() {
        Some(Ok(TurnEvent::Outcome(o))) => (**o).clone(),
        other => panic!("the last item is not the outcome: {other:?}"),
    }
}

/// The outcome, the same in one chunk and in 7-byte chunks (byte stability), and the
/// inputs the tools ran with.
async fn outcome(body: &[u8], names: &[&str], policy: DispatchPolicy) -> (TurnOutcome, Vec<Value>) {
    let mut seen = Vec::new();
    for chunk in [body.len().max(1), 7] {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let config = TurnConfig::new(Provider::Gemini).policy(policy);
        let o = turn(body, chunk, tools(names, &runs), config).await;
        let runs = runs.lock().unwrap().clone();
        seen.push((o, runs));
    }
    let (b, a) = (seen.pop().unwrap(), seen.pop().unwrap());
    assert_eq!(a.0.assistant_message.get(), b.0.assistant_message.get());
    assert_eq!(
        a.0.results_message.as_ref().map(|m| m.get().to_owned()),
        b.0.results_message.as_ref().map(|m| m.get().to_owned())
    );
    assert_eq!(a.1, b.1);
    a
}

/// Prevents Gemini 400 "Please ensure that the number of function response parts is
/// equal to the number of function call parts" / unmatched call ids: a `functionCall`
/// that came with an `id` goes back with it, and its `functionResponse` carries the same
/// id (FunctionCall.id: "return the response with the matching id"). The signature stays
/// on the first call's part, the parts keep the order received, and whitespace-only text
/// is not echoed (400 "contents.parts must not be empty" style rejections of blank text).
#[tokio::test]
async fn function_call_ids_go_back_in_the_call_and_in_its_response() {
    let body = fixture("constructed-function-call-ids.sse");
    let (o, runs) = outcome(&body, &["get_weather"], DispatchPolicy::Batched).await;
    assert!(o.committed);
    assert_eq!(
        runs,
        [
            json!({"city": "Paris"}),
            json!({"city": "Rome", "unit": "C"})
        ]
    );
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"model","parts":[{"text":"Let me check both cities."},"#,
            r#"{"functionCall":{"id": "fc_a1","name": "get_weather","args": {"city": "Paris"}},"thoughtSignature":"U0lHX0NBTExfMQ=="},"#,
            r#"{"functionCall":{"id": "fc_b2","name": "get_weather","args": {"city": "Rome","unit": "C"}}}]}"#
        )
    );
    assert_eq!(
        o.results_message.unwrap().get(),
        concat!(
            r#"{"role":"user","parts":["#,
            r#"{"functionResponse":{"id":"fc_a1","name":"get_weather","response":{"output":"ran with {\"city\":\"Paris\"}"}}},"#,
            r#"{"functionResponse":{"id":"fc_b2","name":"get_weather","response":{"output":"ran with {\"city\":\"Rome\",\"unit\":\"C\"}"}}}]}"#
        )
    );
}

/// Prevents sending the crate's own `call_N` ids: Gemini rejects a `functionResponse`
/// whose id matches no call it made. A real capture (Prism, Gemini 3) without ids: no
/// `id` anywhere on the wire, the call's signature on its part.
#[tokio::test]
async fn calls_without_ids_go_back_without_ids() {
    let body = fixture("prism-gemini-stream-with-tools-thought-1.sse");
    let (o, _) = outcome(&body, &["weather"], DispatchPolicy::Batched).await;
    assert!(o.committed);
    assert_eq!(&*o.message.tool_calls[0].id, "call_0");
    let assistant: Value = serde_json::from_str(o.assistant_message.get()).unwrap();
    let parts = assistant["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1, "{assistant}");
    assert_eq!(
        parts[0]["functionCall"],
        json!({"name": "weather", "args": {"city": "San Francisco"}})
    );
    assert!(parts[0]["thoughtSignature"]
        .as_str()
        .unwrap()
        .starts_with("Eq0ECqoEAdHtim8E9iAxfKwT6"));
    let results = o.results_message.unwrap();
    assert!(!results.get().contains("\"id\""), "{}", results.get());
    assert!(!o.assistant_message.get().contains("call_0"));
}

/// Prevents Gemini 3 400 "missing a thought_signature" / degraded reasoning on the next
/// turn: a signature on a text part goes back on that part, never merged into the
/// unsigned text before it, and the signature-only part with empty text that streaming
/// ends with goes back as received. The unsigned thought summary is not echoed.
#[tokio::test]
async fn text_signatures_go_back_on_the_parts_that_carried_them() {
    let body = fixture("constructed-text-thought-signatures.sse");
    let (o, _) = outcome(&body, &[], DispatchPolicy::Batched).await;
    assert_eq!(o.message.stop_kind(), Some(StopKind::EndTurn));
    assert_eq!(o.message.text(), "2 + 2 is 4. Anything else?");
    assert_eq!(
        o.assistant_message.get(),
        concat!(
            r#"{"role":"model","parts":[{"text":"2 + 2 is 4."},"#,
            r#"{"text":" Anything else?","thoughtSignature":"U0lHX1RFWFRfMQ=="},"#,
            r#"{"text":"","thoughtSignature":"U0lHX1RFWFRfMg=="}]}"#
        )
    );
}

/// Prevents an eager tool running with `{}` (the wrong arguments) and a Vertex 400 on the
/// echo: with `streamFunctionCallArguments`, a call is complete only when its stream ends
/// (`willContinue` false or absent), its arguments assembled from every `partialArgs`
/// piece, its id echoed in the call and in the response.
#[tokio::test]
async fn vertex_streamed_arguments_complete_the_call_only_at_its_end() {
    let body = fixture("constructed-vertex-stream-function-call-arguments.sse");
    let (o, runs) = outcome(&body, &["get_forecast"], DispatchPolicy::Eager).await;
    assert!(o.committed);
    let args = r#"{"location":"Boston, MA","days":3,"options":{"units":["celsius"],"alerts":true},"note":null}"#;
    assert_eq!(runs, [serde_json::from_str::<Value>(args).unwrap()]);
    assert_eq!(o.message.tool_calls[0].arguments, args);
    assert_eq!(
        o.assistant_message.get(),
        format!(
            r#"{{"role":"model","parts":[{{"functionCall":{{"name":"get_forecast","args":{args},"id":"fc-vx-1"}},"thoughtSignature":"U0lHX1ZFUlRFWA=="}}]}}"#
        )
    );
    let results: Value = serde_json::from_str(o.results_message.unwrap().get()).unwrap();
    assert_eq!(results["parts"][0]["functionResponse"]["id"], "fc-vx-1");
    assert_eq!(
        results["parts"][0]["functionResponse"]["name"],
        "get_forecast"
    );
}

/// Prevents running a tool on arguments the stream never finished: a streamed call
/// whose pieces stop without an end (`willContinue: true` to the last) is reported
/// incomplete and its tool does not run, even eagerly.
#[tokio::test]
async fn a_vertex_call_whose_stream_never_ends_never_runs() {
    let full = String::from_utf8(fixture(
        "constructed-vertex-stream-function-call-arguments.sse",
    ))
    .unwrap();
    // Drop the `functionCall: {}` end marker.
    let body: String = full
        .split("\n\n")
        .filter(|e| !e.contains(r#""functionCall": {}"#))
        .map(|e| format!("{e}\n\n"))
        .collect();
    let (o, runs) = outcome(body.as_bytes(), &["get_forecast"], DispatchPolicy::Eager).await;
    assert!(runs.is_empty(), "ran with {runs:?}");
    assert!(!o.message.tool_calls[0].complete);
}

/// Prevents a blocked prompt reading as a truncated stream (and being retried as one): a
/// chunk with `promptFeedback.blockReason` and no candidates is a complete message,
/// stopped by the content filter, raw reason kept; nothing commits. Real capture
/// (Firebase googleai mock), its last event terminated.
#[tokio::test]
async fn a_blocked_prompt_is_a_content_filter_stop() {
    let mut body = fixture("gemini-firebase-googleai-streaming-failure-prompt-blocked-safety.sse");
    body.extend_from_slice(b"\r\n");
    let (o, runs) = outcome(&body, &["get_weather"], DispatchPolicy::Batched).await;
    assert!(o.message.complete);
    assert_eq!(o.message.stop_kind(), Some(StopKind::ContentFilter));
    assert_eq!(
        o.message.stop_reason.as_ref().unwrap().raw.as_deref(),
        Some("SAFETY")
    );
    assert!(!o.committed && o.results_message.is_none() && runs.is_empty());
    assert_eq!(o.assistant_message.get(), r#"{"role":"model","parts":[]}"#);
}

/// Prevents committing a turn the server cancelled: the Vertex error body written as raw
/// JSON lines after two `data:` events (as google-genai reads it, then raises) is a
/// provider error carrying its message, never a complete turn. The Firebase vertexai
/// "error mid-stream" mock without its hand-added `finishReason`s (see the
/// `.source.txt`): the live API says `finishReason` only on the last chunk.
#[tokio::test]
async fn a_raw_json_error_body_is_a_provider_error() {
    let body = fixture("derived-vertexai-error-mid-stream-no-finish-reason.sse");
    let (o, _) = outcome(&body, &[], DispatchPolicy::Batched).await;
    assert!(!o.committed);
    assert_eq!(o.message.stop_kind(), Some(StopKind::Error));
    let error = o.message.error.as_ref().expect("the error is reported");
    assert_eq!(
        (error.kind.as_str(), error.message.as_str()),
        ("CANCELLED", "The operation was cancelled.")
    );
    assert_eq!(o.message.text(), "First Second ");
}

/// The real mock at every split point: the same events, the error last (the decoder
/// reports it; the message itself was complete at the mock's first `finishReason`).
#[test]
fn the_raw_json_error_body_is_read_at_every_split_point() {
    let body = fixture("gemini-firebase-vertexai-streaming-failure-error-mid-stream.sse");
    let whole = common::decode(Provider::Gemini, &body).unwrap();
    assert!(
        matches!(whole.last(), Some(toolstream::StreamEvent::Error(e)) if e.kind == "CANCELLED")
    );
    for at in 0..=body.len() {
        let (events, errors) = common::decode_chunks(Provider::Gemini, [&body[..at], &body[at..]]);
        assert_eq!(events, whole, "split at {at}");
        assert!(errors.is_empty(), "split at {at}: {errors:?}");
    }
    let (events, _) = common::decode_chunks(Provider::Gemini, body.chunks(1));
    assert_eq!(events, whole);
    // CRLF framing, as the live googleai captures use.
    let crlf: Vec<u8> = String::from_utf8(body)
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    let mut d = StreamDecoder::new(Provider::Gemini);
    let mut events = Vec::new();
    for c in crlf.chunks(3) {
        d.push(c, &mut events).unwrap();
    }
    d.finish(&mut events).unwrap();
    assert_eq!(events, whole);
}

/// Prevents Gemini 400 "Invalid JSON payload received. Unknown name
/// "additionalProperties"" (and `multipleOf`): JSON Schema goes under
/// `parametersJsonSchema`, which takes it, never under `parameters` (the OpenAPI subset).
#[test]
fn tool_schemas_go_under_parameters_json_schema() {
    let client = ModelClient::new(Provider::Gemini, "gemini-3-pro-preview", "key").unwrap();
    let schema = json!({
        "type": "object",
        "properties": {"n": {"type": "number", "multipleOf": 0.5}},
        "required": ["n"],
        "additionalProperties": false
    });
    let tools = [ToolDefinition {
        name: "half".into(),
        description: "Halves n".into(),
        schema: schema.clone(),
    }];
    let body: Value = serde_json::from_str(&client.request_body(&[], &tools)).unwrap();
    let declaration = &body["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["parametersJsonSchema"], schema, "{body}");
    assert!(declaration.get("parameters").is_none(), "{body}");
    assert_eq!(declaration["name"], "half");
}

/// Under `auto`, a raw JSON body is Gemini's only: after a stream that showed itself as
/// another provider's it is ignored, whatever the chunking (the same bytes in one chunk
/// and split after the first event once gave different events).
#[test]
fn a_raw_json_body_after_another_providers_event_is_ignored_at_every_split_point() {
    let body: &[u8] = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,",
        "\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n",
        "{\"error\":{\"message\":\"boom\",\"code\":500}}\n"
    )
    .as_bytes();
    let (whole, errors) = common::decode_chunks(ProviderChoice::Auto, [body]);
    assert_eq!(errors, Vec::<String>::new());
    assert!(
        !whole.iter().any(|e| matches!(e, StreamEvent::Error(_))),
        "{whole:?}"
    );
    for at in 0..=body.len() {
        let (split, _) = common::decode_chunks(ProviderChoice::Auto, [&body[..at], &body[at..]]);
        assert_eq!(split, whole, "split at {at}");
    }
}
