//! Multi-turn conversations over real loopback HTTP against the mock provider server, for
//! every provider with an HTTP client: requests validated by the server, prompt-prefix
//! cache hits across turns and across runs with random tool delays, and a deliberately
//! reordered request that misses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use toolstream::mock::{MockServer, Script};
use toolstream::{
    Conversation, ConversationConfig, DispatchPolicy, ModelClient, Provider, ToolRegistry,
    TurnEvent,
};

const QUESTION: &str = "What's the weather in Paris and Tokyo, and should I take an umbrella?";

fn fast_script() -> Script {
    let mut s = Script::default_demo();
    s.chunk_delay_ms = 1;
    s
}

/// A small deterministic generator for tool delays (no RNG crate needed).
fn delays(seed: u64) -> Arc<dyn Fn() -> u64 + Send + Sync> {
    let state = Arc::new(AtomicU64::new(seed));
    Arc::new(move || {
        let x = state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (x >> 59) * 3 // 0..=93 ms
    })
}

#[derive(Deserialize)]
struct City {
    city: String,
}

fn tools(seed: u64) -> ToolRegistry {
    let d = delays(seed);
    let (d1, d2, d3, d4) = (d.clone(), d.clone(), d.clone(), d);
    ToolRegistry::new()
        .with_fn("get_weather", move |a: City| {
            let ms = d1();
            async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok::<_, String>(format!("{}: 18°C", a.city))
            }
        })
        .with_definition(
            "get_weather",
            "Current weather for a city",
            serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]}),
        )
        .with_raw_fn("get_time", move |_| {
            let ms = d2();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok("21:04".into())
            })
        })
        .with_raw_fn("search", move |_| {
            let ms = d3();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok("take a compact umbrella".into())
            })
        })
        .with_raw_fn("get_forecast", move |_| {
            let ms = d4();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok("rain easing".into())
            })
        })
}

async fn converse(
    server: &MockServer,
    provider: Provider,
    policy: DispatchPolicy,
    seed: u64,
) -> Conversation {
    let client = ModelClient::new(provider, "mock-1", "test-key")
        .unwrap()
        .base_url(server.base_url())
        .system("You are a weather assistant.");
    let config = ConversationConfig {
        policy,
        ..ConversationConfig::default()
    };
    let mut conversation = Conversation::new(client, tools(seed), config);
    let mut text = String::new();
    let records = conversation
        .send(QUESTION, |e| {
            if let TurnEvent::Model(toolstream::StreamEvent::BlockDelta {
                delta: toolstream::Delta::Text(t),
                ..
            }) = e
            {
                text.push_str(t);
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{provider} {policy}: {e}"));
    let script = Script::default_demo();
    assert_eq!(records.len(), script.turns.len(), "{provider}");
    assert!(records[..2].iter().all(|r| r.outcome.committed));
    let last = &records[2].outcome.message;
    assert_eq!(last.text(), script.turns[2].text, "{provider}");
    assert!(text.ends_with(&script.turns[2].text));
    // Results of each committed turn, in request order, all successful.
    for r in &records[..2] {
        let indices: Vec<usize> = r.outcome.results.iter().map(|x| x.index).collect();
        assert_eq!(indices, (0..indices.len()).collect::<Vec<_>>());
        assert!(
            r.outcome.results.iter().all(|x| x.is_ok()),
            "{:?}",
            r.outcome.results
        );
    }
    conversation
}

#[tokio::test]
async fn every_provider_multi_turn_with_cache_hits_across_runs() {
    for provider in [
        Provider::Anthropic,
        Provider::OpenAiChat,
        Provider::OpenAiResponses,
        Provider::Gemini,
    ] {
        let server = MockServer::start("127.0.0.1:0".parse().unwrap(), fast_script())
            .await
            .unwrap();
        let first = converse(&server, provider, DispatchPolicy::Eager, 1).await;
        let stats = server.stats();
        assert_eq!(stats.requests, 3, "{provider}: {stats:?}");
        assert_eq!(stats.rejected, 0, "{provider}: {stats:?}");
        assert_eq!(stats.order_violations, 0, "{provider}: {stats:?}");
        assert_eq!(
            (stats.cache_writes, stats.cache_hits, stats.cache_misses),
            (1, 2, 0),
            "{provider}"
        );
        // A second run, batched, with other random delays: byte-identical history.
        let second = converse(&server, provider, DispatchPolicy::Batched, 99).await;
        assert_eq!(
            first.history().iter().map(|m| m.get()).collect::<Vec<_>>(),
            second.history().iter().map(|m| m.get()).collect::<Vec<_>>(),
            "{provider}: histories differ"
        );
        let stats = server.stats();
        assert_eq!(
            (stats.cache_hits, stats.cache_misses),
            (4, 0),
            "{provider}: {stats:?}"
        );
        assert_eq!(stats.hit_rate(), 1.0);
        server.shutdown().await;
    }
}

/// The history of a run, with the first turn's tool results swapped (what a framework
/// appending results in completion order would send): the server sees a cache miss.
#[tokio::test]
async fn a_reordered_history_is_a_cache_miss() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), fast_script())
        .await
        .unwrap();
    let conversation = converse(&server, Provider::Anthropic, DispatchPolicy::Eager, 7).await;
    assert_eq!(server.stats().cache_misses, 0);
    // user, assistant 1, results 1, assistant 2, results 2, assistant 3: resend request 3
    // with results 1 reordered.
    let mut history: Vec<Box<serde_json::value::RawValue>> = conversation.history()[..5].to_vec();
    let mut results: Value = serde_json::from_str(history[2].get()).unwrap();
    results["content"].as_array_mut().unwrap().swap(0, 1);
    history[2] = serde_json::value::to_raw_value(&results).unwrap();
    let client = ModelClient::new(Provider::Anthropic, "mock-1", "k")
        .unwrap()
        .base_url(server.base_url())
        .system("You are a weather assistant.");
    let body = client.request_body(&history, &tools(0).definitions());
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mock-cache"], "miss");
    assert_eq!(server.stats().cache_misses, 1);
}

#[tokio::test]
async fn the_server_refuses_unanswered_calls_and_missing_keys() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), fast_script())
        .await
        .unwrap();
    let conversation = converse(&server, Provider::OpenAiChat, DispatchPolicy::Batched, 3).await;
    // Drop one tool message of turn 1: the request no longer answers every call.
    let mut history = conversation.history()[..2].to_vec();
    history.extend(conversation.history()[3..6].iter().cloned());
    let client = ModelClient::new(Provider::OpenAiChat, "mock-1", "k")
        .unwrap()
        .base_url(server.base_url());
    let err = match client.stream(&history, &[]).await {
        Err(e) => e,
        Ok(_) => panic!("the server accepted an unanswered call"),
    };
    match &err {
        toolstream::ClientError::Http {
            status,
            kind,
            message,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(kind.as_deref(), Some("invalid_request_error"));
            assert!(message.contains("must answer every tool call"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let keyless = ModelClient::new(Provider::Anthropic, "mock-1", "")
        .unwrap()
        .base_url(server.base_url());
    let err = keyless
        .stream(&[keyless.user_message("hi")], &[])
        .await
        .err()
        .unwrap();
    // The error names the request, its status and the provider's message; 401 is not
    // retried.
    assert_eq!(
        err.to_string(),
        format!(
            "POST {}/v1/messages: http 401 authentication_error: missing or empty API key",
            server.base_url()
        )
    );
    assert!(server.stats().rejected >= 2);
}

/// A run that lists results in completion order (what a framework appending results as
/// tools finish would send) is a miss at the first reordered request, and an order
/// violation, even though each request on its own is valid.
#[tokio::test]
async fn a_run_with_results_in_completion_order_misses() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), fast_script())
        .await
        .unwrap();
    let conversation = converse(&server, Provider::Anthropic, DispatchPolicy::Eager, 5).await;
    let mut history: Vec<Box<serde_json::value::RawValue>> = conversation.history()[..3].to_vec();
    let mut results: Value = serde_json::from_str(history[2].get()).unwrap();
    results["content"].as_array_mut().unwrap().reverse();
    history[2] = serde_json::value::to_raw_value(&results).unwrap();
    let client = ModelClient::new(Provider::Anthropic, "mock-1", "k")
        .unwrap()
        .base_url(server.base_url())
        .system("You are a weather assistant.");
    let before = server.stats();
    let events = client.stream(&history, &tools(0).definitions()).await;
    assert!(events.is_ok(), "a reordered request is still valid");
    let after = server.stats();
    assert_eq!(after.cache_misses, before.cache_misses + 1);
    assert_eq!(after.order_violations, before.order_violations + 1);
}

#[tokio::test]
async fn the_server_refuses_empty_assistant_messages_and_missing_fields() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), fast_script())
        .await
        .unwrap();
    let post = |body: &'static str, version: bool| {
        let mut r = reqwest::Client::new()
            .post(format!("{}/v1/messages", server.base_url()))
            .header("x-api-key", "k");
        if version {
            r = r.header("anthropic-version", "2023-06-01");
        }
        r.body(body).send()
    };
    let empty = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[]},{"role":"user","content":"again"}]}"#;
    assert_eq!(post(empty, true).await.unwrap().status(), 400);
    let no_max = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(post(no_max, true).await.unwrap().status(), 400);
    let fine = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(
        post(fine, false).await.unwrap().status(),
        400,
        "anthropic-version is required"
    );
    assert_eq!(post(fine, true).await.unwrap().status(), 200);
}
