//! `toolstream::proxy` over loopback HTTP, in process: the mock provider as upstream, the
//! crate's client and conversation loop as the proxy's client.
//!
//! Record a conversation with parallel tools, replay it offline with another dispatch
//! policy and other tool timings (every request hits), and show that a history in
//! completion order misses with a message naming the first difference; byte-exact replay
//! with the recorded chunking; a cassette that does not change when recorded again; no
//! secret in the cassette; `auto` mode; the error answers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::value::RawValue;
use serde_json::Value;
use toolstream::mock::{MockServer, Script};
use toolstream::proxy::{Proxy, ProxyConfig, ProxyError, ProxyMode};
use toolstream::{
    Conversation, ConversationConfig, DispatchPolicy, ModelClient, Provider, ToolRegistry,
    TurnEvent,
};

const QUESTION: &str = "What's the weather in Paris and Tokyo, and should I take an umbrella?";

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "toolstream-proxy-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn script(chunk_delay_ms: u64) -> Script {
    let mut s = Script::default_demo();
    s.chunk_delay_ms = chunk_delay_ms;
    s
}

async fn mock(chunk_delay_ms: u64) -> MockServer {
    MockServer::start(loopback(), script(chunk_delay_ms))
        .await
        .unwrap()
}

async fn start(mode: ProxyMode, dir: &Path, upstream: Option<&MockServer>) -> Proxy {
    let mut config = ProxyConfig::new(mode, dir);
    if let Some(m) = upstream {
        config = config.upstream(m.base_url());
    }
    Proxy::start(loopback(), config).await.unwrap()
}

/// Tool delays by label (`get_weather:Paris`, `get_time`, ...); the outputs do not depend
/// on them, so the requests do not either.
type Delays = &'static [(&'static str, u64)];

/// Turn 1 finishes search, Tokyo, time, Paris; turn 2 Osaka, then the forecast.
const DELAYS_A: Delays = &[
    ("search", 0),
    ("get_weather:Tokyo", 30),
    ("get_time", 60),
    ("get_weather:Paris", 90),
    ("get_weather:Osaka", 0),
    ("get_forecast", 40),
];

/// The other way round.
const DELAYS_B: Delays = &[
    ("get_weather:Paris", 0),
    ("get_time", 30),
    ("get_weather:Tokyo", 60),
    ("search", 90),
    ("get_forecast", 0),
    ("get_weather:Osaka", 40),
];

fn tools(delays: Delays, finished: Arc<Mutex<Vec<String>>>) -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    for name in ["get_weather", "get_time", "search", "get_forecast"] {
        let finished = finished.clone();
        registry = registry.with_raw_fn(name, move |input: Value| {
            let label = match input.get("city").and_then(Value::as_str) {
                Some(city) => format!("{name}:{city}"),
                None => name.to_owned(),
            };
            let ms = delays
                .iter()
                .find(|(l, _)| *l == label)
                .map_or(0, |(_, ms)| *ms);
            let finished = finished.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                finished.lock().unwrap().push(label.clone());
                Ok(format!("{label}: fine").into())
            })
        });
    }
    registry
}

fn client(provider: Provider, base_url: &str, key: &str) -> ModelClient {
    ModelClient::new(provider, "mock-1", key)
        .unwrap()
        .base_url(base_url)
}

/// What a conversation through `base_url` produced.
struct Run {
    text: String,
    history: Vec<Box<RawValue>>,
    /// Tool labels in completion order.
    finished: Vec<String>,
}

async fn converse(
    provider: Provider,
    base_url: &str,
    policy: DispatchPolicy,
    delays: Delays,
) -> Run {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let config = ConversationConfig {
        policy,
        ..ConversationConfig::default()
    };
    let mut conversation = Conversation::new(
        client(provider, base_url, "test-key"),
        tools(delays, finished.clone()),
        config,
    );
    let mut streamed = String::new();
    let records = conversation
        .send(QUESTION, |e| {
            if let TurnEvent::Model(toolstream::StreamEvent::BlockDelta {
                delta: toolstream::Delta::Text(t),
                ..
            }) = e
            {
                streamed.push_str(t);
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{provider} {policy}: {e}"));
    assert_eq!(records.len(), 3, "{provider}");
    let text = records[2].outcome.message.text();
    assert!(streamed.ends_with(&text));
    let finished = finished.lock().unwrap().clone();
    Run {
        text,
        history: conversation.history().to_vec(),
        finished,
    }
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The exchange directories of a cassette.
fn exchanges(dir: &Path) -> Vec<String> {
    let mut keys: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    keys.sort();
    keys
}

async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn frames(response: reqwest::Response) -> Vec<Bytes> {
    response
        .bytes_stream()
        .map(|chunk| chunk.unwrap())
        .collect()
        .await
}

/// The `cassette_miss` error message of a 404 answer.
async fn miss_message(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "cassette_miss", "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// The auth headers `provider`'s client sends.
fn auth(provider: Provider, key: &str) -> Vec<(&'static str, String)> {
    match provider {
        Provider::Anthropic => vec![
            ("x-api-key", key.to_owned()),
            ("anthropic-version", "2023-06-01".to_owned()),
        ],
        Provider::Gemini => vec![("x-goog-api-key", key.to_owned())],
        _ => vec![("authorization", format!("Bearer {key}"))],
    }
}

/// The turn-2 request (history: user, assistant, tool results) with the first two results
/// swapped, as a framework writing results in completion order sends it; and the same
/// request unswapped. Bytes are rebuilt by the crate's own request builder and the swap
/// moves whole results, so nothing else changes.
fn turn_two_requests(provider: Provider, run: &Run) -> (String, String) {
    let c = client(provider, "http://unused", "k");
    let definitions = tools(DELAYS_A, Arc::default()).definitions();
    let (original, swapped): (Vec<Box<RawValue>>, Vec<Box<RawValue>>) = match provider {
        Provider::Anthropic => {
            #[derive(serde::Deserialize)]
            struct Results {
                role: String,
                content: Vec<Box<RawValue>>,
            }
            let results: Results = serde_json::from_str(run.history[2].get()).unwrap();
            let rebuild = |content: &[Box<RawValue>]| {
                let items: Vec<&str> = content.iter().map(|c| c.get()).collect();
                let text = format!(
                    r#"{{"role":{},"content":[{}]}}"#,
                    serde_json::to_string(&results.role).unwrap(),
                    items.join(",")
                );
                RawValue::from_string(text).unwrap()
            };
            let same = rebuild(&results.content);
            assert_eq!(
                same.get(),
                run.history[2].get(),
                "the rebuild changes nothing"
            );
            let mut content = results.content.clone();
            content.swap(0, 1);
            let head = run.history[..2].to_vec();
            let with = |m: Box<RawValue>| head.iter().cloned().chain([m]).collect();
            (with(same), with(rebuild(&content)))
        }
        Provider::OpenAiChat => {
            // user, assistant, then one `tool` message per call.
            let original = run.history[..6].to_vec();
            let mut swapped = original.clone();
            swapped.swap(2, 3);
            (original, swapped)
        }
        other => unreachable!("{other}"),
    };
    (
        c.request_body(&original, &definitions),
        c.request_body(&swapped, &definitions),
    )
}

fn path_of(provider: Provider) -> &'static str {
    match provider {
        Provider::Anthropic => "/v1/messages",
        _ => "/v1/chat/completions",
    }
}

/// SPEC §1 end to end: record a conversation with parallel tools (batched, delays A);
/// replay it with the upstream gone (eager, delays B: another completion order): every
/// request hits and the answer is the same. A turn-2 request with its results in
/// completion order misses, and the message names the first difference and both ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn record_then_replay_a_conversation_and_explain_a_completion_order_miss() {
    for (provider, field, ids) in [
        (
            Provider::Anthropic,
            "messages[2].content[0].tool_use_id",
            ("\"toolu_mock_0_1\"", "\"toolu_mock_0_0\""),
        ),
        (
            Provider::OpenAiChat,
            "messages[2].tool_call_id",
            ("\"call_mock_0_1\"", "\"call_mock_0_0\""),
        ),
    ] {
        let dir = TempDir::new("scenario");
        let upstream = mock(1).await;
        let recorder = start(ProxyMode::Record, dir.path(), Some(&upstream)).await;
        let recorded = converse(
            provider,
            &recorder.base_url(),
            DispatchPolicy::Batched,
            DELAYS_A,
        )
        .await;
        recorder.wait_idle().await;
        let stats = recorder.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.recorded),
            (0, 0, 3),
            "{provider}"
        );
        assert_eq!(upstream.stats().requests, 3);
        assert_eq!(upstream.stats().rejected, 0);
        assert_eq!(exchanges(dir.path()).len(), 3);
        recorder.shutdown().await;
        upstream.shutdown().await;

        let replayer = start(ProxyMode::Replay, dir.path(), None).await;
        let replayed = converse(
            provider,
            &replayer.base_url(),
            DispatchPolicy::Eager,
            DELAYS_B,
        )
        .await;
        assert_ne!(
            recorded.finished[..4],
            replayed.finished[..4],
            "{provider}: the tools finished in the same order"
        );
        let stats = replayer.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.recorded),
            (3, 0, 0),
            "{provider}"
        );
        assert_eq!(replayed.text, recorded.text, "{provider}");
        assert_eq!(replayed.text, Script::default_demo().turns[2].text);

        let (original, swapped) = turn_two_requests(provider, &recorded);
        let url = format!("{}{}", replayer.base_url(), path_of(provider));
        let headers = auth(provider, "another-key");
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(
            post(&url, &headers, original).await.status(),
            200,
            "{provider}"
        );
        let message = miss_message(post(&url, &headers, swapped).await).await;
        let want = format!("{field}: {} vs {}", ids.0, ids.1);
        assert!(message.contains(&want), "{provider}: {message}");
        assert!(message.contains("this request vs recorded"), "{message}");
        // It names the recorded turn-2 exchange: the nearest, not turn 1 or turn 3.
        let named: Vec<String> = exchanges(dir.path())
            .into_iter()
            .filter(|k| message.contains(&format!("nearest recorded request: {k}")))
            .collect();
        assert_eq!(named.len(), 1, "{message}");
        let request =
            std::fs::read_to_string(dir.path().join(&named[0]).join("request.json")).unwrap();
        let request: Value = serde_json::from_str(&request).unwrap();
        let messages = request["body"]["messages"].as_array().unwrap();
        assert_eq!(
            messages.len(),
            if provider == Provider::Anthropic {
                3
            } else {
                6
            }
        );
        let stats = replayer.stats();
        assert_eq!((stats.hits, stats.misses), (4, 1), "{provider}");
        replayer.shutdown().await;
    }
}

/// Byte-exact replay with the recorded chunking. The mock sends each SSE event as its own
/// HTTP chunk, 5 ms apart; an HTTP/1.1 client never merges two chunks of the chunked
/// encoding into one frame (it could only split one, which a few hundred bytes on
/// loopback are not), so the frames the client reads are the chunks the sender wrote.
/// Asserted: the stored chunks are the upstream's events, the stored bytes are the
/// upstream's bytes, and the replay arrives as the same frames with the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_is_byte_exact_with_the_recorded_chunking() {
    let dir = TempDir::new("bytes");
    let upstream = mock(5).await;
    let c = client(Provider::Anthropic, "http://unused", "k");
    let body = c.request_body(&[c.user_message(QUESTION)], &[]);
    let headers = [("x-api-key", "k"), ("anthropic-version", "2023-06-01")];

    // The upstream's answer, from a fresh mock (the mock's prompt-cache usage fields
    // depend on what it saw before).
    let fresh = mock(5).await;
    let direct = frames(
        post(
            &format!("{}/v1/messages", fresh.base_url()),
            &headers,
            body.clone(),
        )
        .await,
    )
    .await;
    fresh.shutdown().await;
    let direct_bytes = direct.concat();
    let events: Vec<usize> = direct_bytes
        .split_inclusive(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .chunks(3) // `event:` line, `data:` line, blank line
        .map(|lines| lines.iter().map(|l| l.len()).sum())
        .collect();
    assert!(events.len() > 10);

    let recorder = start(ProxyMode::Record, dir.path(), Some(&upstream)).await;
    let url = format!("{}/v1/messages", recorder.base_url());
    let through = frames(post(&url, &headers, body.clone()).await).await;
    assert!(
        through.concat() == direct_bytes,
        "the proxy changed the bytes"
    );
    recorder.shutdown().await;
    upstream.shutdown().await;

    let keys = exchanges(dir.path());
    assert_eq!(keys.len(), 1);
    let exchange = dir.path().join(&keys[0]);
    assert!(
        std::fs::read(exchange.join("response.body")).unwrap() == direct_bytes,
        "the stored bytes are not the upstream's"
    );
    let response: Value =
        serde_json::from_slice(&std::fs::read(exchange.join("response.json")).unwrap()).unwrap();
    let stored: Vec<usize> = response["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(stored, events, "one stored chunk per upstream event");
    assert_eq!(response["status"], 200);
    assert_eq!(
        response["headers"],
        serde_json::json!([["content-type", "text/event-stream"]])
    );

    let replayer = start(ProxyMode::Replay, dir.path(), None).await;
    let response = post(
        &format!("{}/v1/messages", replayer.base_url()),
        &headers,
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let replayed = frames(response).await;
    assert!(
        replayed.concat() == direct_bytes,
        "the replay changed the bytes"
    );
    let sizes: Vec<usize> = replayed.iter().map(Bytes::len).collect();
    assert_eq!(sizes, stored, "each stored chunk is one frame");
    replayer.shutdown().await;
}

/// The same conversation recorded twice into two fresh directories: the same files, byte
/// for byte; recorded a third time over the first: no file is rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recording_again_changes_no_file() {
    let (first, second) = (TempDir::new("stable-1"), TempDir::new("stable-2"));
    for (dir, policy, delays) in [
        (&first, DispatchPolicy::Batched, DELAYS_A),
        (&second, DispatchPolicy::Eager, DELAYS_B),
        (&first, DispatchPolicy::Eager, DELAYS_B),
    ] {
        let before = tree(dir.path());
        let times: Vec<_> = before
            .keys()
            .map(|f| {
                std::fs::metadata(dir.path().join(f))
                    .unwrap()
                    .modified()
                    .unwrap()
            })
            .collect();
        let upstream = mock(1).await;
        let proxy = start(ProxyMode::Record, dir.path(), Some(&upstream)).await;
        converse(Provider::OpenAiChat, &proxy.base_url(), policy, delays).await;
        converse(Provider::Anthropic, &proxy.base_url(), policy, delays).await;
        proxy.wait_idle().await;
        assert_eq!(proxy.stats().recorded, 6);
        proxy.shutdown().await;
        if !before.is_empty() {
            assert_eq!(tree(dir.path()), before, "recording again changed a file");
            let again: Vec<_> = before
                .keys()
                .map(|f| {
                    std::fs::metadata(dir.path().join(f))
                        .unwrap()
                        .modified()
                        .unwrap()
                })
                .collect();
            assert_eq!(again, times, "recording again rewrote a file");
        }
    }
    let (a, b) = (tree(first.path()), tree(second.path()));
    assert_eq!(a.len(), 6 * 3, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs");
        if name.ends_with(".json") {
            assert!(bytes.ends_with(b"\n"), "{name}");
        }
    }
}

/// API keys in `x-api-key`, `Authorization: Bearer`, `x-goog-api-key` and `?key=` never
/// reach the cassette, and the same request with another key hits the same exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_cassette_and_any_key_replays() {
    const SECRET: &str = "sk-SECRET-7f3a9c-do-not-store";
    let dir = TempDir::new("secrets");
    let upstream = mock(0).await;
    let requests = |base: String, secret: &'static str| {
        [Provider::Anthropic, Provider::OpenAiChat, Provider::Gemini].map(|provider| {
            let c = client(provider, "http://unused", secret);
            let body = c.request_body(&[c.user_message("hi")], &[]);
            let path = match provider {
                Provider::Gemini => {
                    format!("/v1beta/models/mock-1:streamGenerateContent?alt=sse&key={secret}")
                }
                p => path_of(p).to_owned(),
            };
            (format!("{base}{path}"), auth(provider, secret), body)
        })
    };
    let proxy = start(ProxyMode::Record, dir.path(), Some(&upstream)).await;
    for (url, headers, body) in requests(proxy.base_url(), SECRET) {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = post(&url, &headers, body).await;
        assert_eq!(response.status(), 200, "{url}");
        frames(response).await;
    }
    assert_eq!(proxy.stats().recorded, 3);
    assert_eq!(
        upstream.stats().rejected,
        0,
        "the keys reached the upstream"
    );
    proxy.shutdown().await;
    upstream.shutdown().await;

    let files = tree(dir.path());
    assert_eq!(files.len(), 9);
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("SECRET"), "{name} holds the secret:\n{text}");
    }
    assert!(files
        .iter()
        .any(|(name, bytes)| name.ends_with("request.json")
            && String::from_utf8_lossy(bytes)
                .contains("\"path\": \"/v1beta/models/mock-1:streamGenerateContent?alt=sse\"")));

    let replayer = start(ProxyMode::Replay, dir.path(), None).await;
    for (url, headers, body) in requests(replayer.base_url(), "another-key") {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(post(&url, &headers, body).await.status(), 200, "{url}");
    }
    let stats = replayer.stats();
    assert_eq!((stats.hits, stats.misses), (3, 0));
}

/// `auto` records what it misses and replays what it has; the stats say so, over HTTP too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_records_misses_and_replays_hits() {
    let dir = TempDir::new("auto");
    let upstream = mock(0).await;
    let proxy = start(ProxyMode::Auto, dir.path(), Some(&upstream)).await;
    let c = client(Provider::OpenAiChat, "http://unused", "k");
    let url = format!("{}/v1/chat/completions", proxy.base_url());
    let headers = [("authorization", "Bearer k")];
    let one = c.request_body(&[c.user_message("one")], &[]);
    let two = c.request_body(&[c.user_message("two")], &[]);
    let mut bodies = Vec::new();
    for (body, want) in [
        (&one, (0, 1, 1)),
        (&one, (1, 1, 1)),
        (&two, (1, 2, 2)),
        (&two, (2, 2, 2)),
    ] {
        let response = post(&url, &headers, body.clone()).await;
        assert_eq!(response.status(), 200);
        bodies.push(frames(response).await.concat());
        let s = proxy.stats();
        assert_eq!((s.hits, s.misses, s.recorded), want);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(
        upstream.stats().requests,
        2,
        "hits never reach the upstream"
    );
    let stats = reqwest::get(format!("{}/proxy/stats", proxy.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stats, r#"{"hits":2,"misses":2,"recorded":2}"#);
    assert_eq!(
        exchanges(dir.path()).len(),
        2,
        "the stats request is not recorded"
    );
}

#[tokio::test]
async fn replay_of_an_empty_cassette_misses_clearly() {
    let dir = TempDir::new("empty");
    let proxy = start(ProxyMode::Replay, dir.path(), None).await;
    let url = format!("{}/v1/messages", proxy.base_url());
    let message = miss_message(post(&url, &[("x-api-key", "k")], "{}").await).await;
    assert!(
        message.contains("no recorded request with method POST and path /v1/messages"),
        "{message}"
    );
    let stats = proxy.stats();
    assert_eq!((stats.hits, stats.misses, stats.recorded), (0, 1, 0));
}

#[tokio::test]
async fn start_errors_are_named() {
    let dir = TempDir::new("errors");
    for mode in [ProxyMode::Record, ProxyMode::Auto] {
        let err = Proxy::start(loopback(), ProxyConfig::new(mode, dir.path()))
            .await
            .unwrap_err();
        assert!(matches!(err, ProxyError::MissingUpstream { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("{mode} mode needs an upstream url")
        );
    }
    let config = ProxyConfig::new(ProxyMode::Record, dir.path()).upstream("ftp://example.com");
    let err = Proxy::start(loopback(), config).await.unwrap_err();
    assert!(matches!(err, ProxyError::InvalidUpstream { .. }), "{err}");
    let missing = dir.path().join("does-not-exist");
    let err = Proxy::start(loopback(), ProxyConfig::new(ProxyMode::Replay, &missing))
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::CassetteDir { .. }), "{err}");
    assert!(!missing.exists(), "replay creates nothing");
    // A malformed exchange fails the start, naming the file.
    // Named by the key of `POST /` with an empty body.
    let key = hex(&Sha256::digest(b"POST\n/\n"));
    let bad = dir.path().join(&key);
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("request.json"), r#"{"method":"POST","path":"/"}"#).unwrap();
    std::fs::write(
        bad.join("response.json"),
        r#"{"status":200,"headers":[],"chunks":[5]}"#,
    )
    .unwrap();
    std::fs::write(bad.join("response.body"), "four").unwrap();
    let err = Proxy::start(loopback(), ProxyConfig::new(ProxyMode::Replay, dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::BadExchange { .. }), "{err}");
    assert!(err.to_string().contains("response.body"), "{err}");
    std::fs::write(bad.join("response.body"), "five!").unwrap();
    let proxy = Proxy::start(loopback(), ProxyConfig::new(ProxyMode::Replay, dir.path()))
        .await
        .unwrap();
    let response = post(&format!("{}/", proxy.base_url()), &[], "").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "five!");
}

/// A small upstream under a path prefix, for what the mock cannot show: it echoes what it
/// received, streams behind a gate the test opens, answers 429, or sends a large body.
struct Upstream {
    base: String,
    gate: Arc<tokio::sync::Notify>,
    server: tokio::task::JoinHandle<()>,
}

async fn upstream() -> Upstream {
    use axum::http::{HeaderMap, Uri};
    use axum::response::IntoResponse;
    let gate = Arc::new(tokio::sync::Notify::new());
    let opened = gate.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let gate = opened.clone();
        async move {
            let path = uri.path().strip_prefix("/prefix").unwrap_or("(no prefix)");
            let headers: BTreeMap<String, String> = headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_owned()))
                .collect();
            match path {
                "/gate" => {
                    let chunks = futures_util::stream::unfold(0, move |i| {
                        let gate = gate.clone();
                        async move {
                            match i {
                                0 => Some((Ok::<_, std::convert::Infallible>("first\n"), 1)),
                                1 => {
                                    gate.notified().await;
                                    Some((Ok("second\n"), 2))
                                }
                                _ => None,
                            }
                        }
                    });
                    axum::body::Body::from_stream(chunks).into_response()
                }
                "/limited" => (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
                )
                    .into_response(),
                "/big" => {
                    let chunks = futures_util::stream::iter(
                        (0..10).map(|_| Ok::<_, std::convert::Infallible>(vec![b'x'; 1000])),
                    );
                    axum::body::Body::from_stream(chunks).into_response()
                }
                _ => (
                    [
                        ("content-type", "application/json"),
                        ("date", "Tue, 01 Jan 2030 00:00:00 GMT"),
                        ("x-request-id", "req_123"),
                        ("set-cookie", "session=abc"),
                    ],
                    serde_json::json!({"path": path, "query": uri.query(), "headers": headers})
                        .to_string(),
                )
                    .into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Upstream {
        base: format!("http://{addr}/prefix/"),
        gate,
        server,
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start_with(config: ProxyConfig) -> Proxy {
    Proxy::start(loopback(), config).await.unwrap()
}

/// The request goes to the upstream under its path prefix with its query (key included:
/// the upstream needs it) and its headers, minus `host`, `accept-encoding` and hop-by-hop
/// ones; the cassette keeps neither the key nor the unstable response headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_joins_the_prefix_and_filters_headers() {
    let up = upstream().await;
    let dir = TempDir::new("forward");
    let proxy =
        start_with(ProxyConfig::new(ProxyMode::Record, dir.path()).upstream(&up.base)).await;
    let response = reqwest::Client::new()
        .get(format!("{}/echo?alt=sse&key=SECRET-q", proxy.base_url()))
        .header("authorization", "Bearer SECRET-h")
        .header("accept-encoding", "gzip")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "1")
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-request-id"],
        "req_123",
        "passed on live"
    );
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["path"], "/echo");
    assert_eq!(echoed["query"], "alt=sse&key=SECRET-q");
    let headers = &echoed["headers"];
    assert_eq!(headers["authorization"], "Bearer SECRET-h");
    assert_eq!(headers["x-custom"], "kept");
    assert!(headers.get("accept-encoding").is_none(), "{headers}");
    assert!(headers.get("x-hop").is_none(), "{headers}");
    assert_ne!(headers["host"], proxy.addr().to_string(), "{headers}");
    proxy.wait_idle().await;
    let files = tree(dir.path());
    let text = |suffix: &str| {
        let (_, bytes) = files.iter().find(|(n, _)| n.ends_with(suffix)).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    };
    assert_eq!(
        text("request.json"),
        "{\n  \"method\": \"GET\",\n  \"path\": \"/echo?alt=sse\"\n}\n"
    );
    assert_eq!(
        text("response.json").lines().nth(3).unwrap().trim(),
        "[\"content-type\", \"application/json\"]"
    );
    // (The echo's own body repeats the secrets: the proxy stores answers as they are.)
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".json")) {
        assert!(!String::from_utf8_lossy(bytes).contains("SECRET"), "{name}");
    }
    let response = text("response.json");
    for unstable in ["date", "x-request-id", "set-cookie"] {
        assert!(!response.contains(unstable), "{response}");
    }
}

/// The first chunk reaches the client while the upstream has not yet produced the
/// second: the proxy does not wait for the whole response. (No clock: the upstream sends
/// its second chunk only when the test has read the first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_are_forwarded_as_they_arrive() {
    let up = upstream().await;
    let dir = TempDir::new("gate");
    let proxy = start_with(ProxyConfig::new(ProxyMode::Auto, dir.path()).upstream(&up.base)).await;
    let response = post(&format!("{}/gate", proxy.base_url()), &[], "{}").await;
    let mut stream = response.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the first chunk was held back")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first\n");
    up.gate.notify_one();
    let rest: Vec<Bytes> = stream.map(|c| c.unwrap()).collect().await;
    assert_eq!(rest.concat(), b"second\n");
    assert_eq!(proxy.stats().recorded, 1);
    // Replayed with the same two chunks.
    let replayed = frames(post(&format!("{}/gate", proxy.base_url()), &[], "{}").await).await;
    assert_eq!(replayed, [Bytes::from("first\n"), Bytes::from("second\n")]);
    assert_eq!(proxy.stats().hits, 1);
}

/// A transient status and an oversized response are forwarded, not recorded; a request
/// body over the limit is refused; an unreachable upstream is a 502 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_recorded_and_the_error_answers() {
    let up = upstream().await;
    let dir = TempDir::new("limits");
    let config = ProxyConfig::new(ProxyMode::Auto, dir.path())
        .upstream(&up.base)
        .max_recorded_bytes(std::num::NonZeroUsize::new(5000).unwrap())
        .max_request_bytes(std::num::NonZeroUsize::new(100).unwrap());
    let proxy = start_with(config).await;
    let limited = post(&format!("{}/limited", proxy.base_url()), &[], "{}").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    let big = frames(post(&format!("{}/big", proxy.base_url()), &[], "{}").await).await;
    assert_eq!(big.concat().len(), 10_000, "forwarded whole");
    let huge = post(&format!("{}/echo", proxy.base_url()), &[], vec![b'x'; 101]).await;
    assert_eq!(huge.status(), 413);
    let body: Value = huge.json().await.unwrap();
    assert_eq!(body["error"]["type"], "request_too_large");
    proxy.wait_idle().await;
    let stats = proxy.stats();
    assert_eq!((stats.hits, stats.misses, stats.recorded), (0, 2, 0));
    assert!(exchanges(dir.path()).is_empty());

    let closed = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap();
    let gone = format!("http://{closed}");
    let proxy = start_with(ProxyConfig::new(ProxyMode::Record, dir.path()).upstream(&gone)).await;
    let url = format!(
        "{}/v1beta/m:streamGenerateContent?alt=sse&key=SECRET-k",
        proxy.base_url()
    );
    let response = post(&url, &[], "{}").await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "upstream_unreachable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&gone), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(!message.contains("SECRET"), "{message}");
}

/// Misses whose bodies are not JSON, or equal as JSON but not as bytes, say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_messages_for_bodies_that_are_not_json_or_differ_in_bytes() {
    let up = upstream().await;
    let dir = TempDir::new("bytes-miss");
    let proxy =
        start_with(ProxyConfig::new(ProxyMode::Record, dir.path()).upstream(&up.base)).await;
    for body in ["plain text", r#"{"a":1,"b":[1,2]}"#] {
        let response = post(&format!("{}/echo", proxy.base_url()), &[], body).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    proxy.shutdown().await;
    let proxy = start(ProxyMode::Replay, dir.path(), None).await;
    let url = format!("{}/echo", proxy.base_url());
    for (body, want) in [
        (
            "other text",
            "the request body is not JSON and differs in bytes",
        ),
        (
            r#"{"a":1, "b":[1,2]}"#,
            "has the same JSON body: the bodies differ in bytes",
        ),
        (
            r#"{"b":[1,2],"a":1}"#,
            r#"(the whole body): the same keys in another order: ["b","a"] vs ["a","b"]"#,
        ),
        (r#"{"a":1,"b":[1]}"#, "b[1]: (absent) vs 2"),
        (r#"{"a":1,"b":[1,2],"c":null}"#, "c: null vs (absent)"),
    ] {
        let message = miss_message(post(&url, &[], body).await).await;
        assert!(message.contains(want), "{body}: {message}");
    }
    let message = miss_message(post(&format!("{url}/other"), &[], "{}").await).await;
    assert!(message.contains("no recorded request with method POST and path /echo/other (2 exchanges in the cassette)"), "{message}");
}

/// Not a test of speed: prints per-request times over loopback (median of 200 each) of a
/// direct request to the mock, the same through the proxy in `record` mode, a replay, and
/// a minimal server sending the same chunks from memory (what a replay costs without the
/// proxy's work: reading the body, hashing it, reading the cassette).
/// `cargo test --release --test suite_http -- --ignored --nocapture replay_overhead`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn replay_overhead() {
    const N: usize = 200;
    let dir = TempDir::new("overhead");
    let upstream = mock(0).await;
    let c = client(Provider::Anthropic, "http://unused", "k");
    let body = c.request_body(&[c.user_message(QUESTION)], &[]);
    let http = reqwest::Client::new();
    let time = |url: String| {
        let http = http.clone();
        let body = body.clone();
        async move {
            let mut times = Vec::with_capacity(N);
            let mut bytes = Bytes::new();
            for i in 0..N + 20 {
                let start = std::time::Instant::now();
                bytes = http
                    .post(&url)
                    .header("x-api-key", "k")
                    .header("anthropic-version", "2023-06-01")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                if i >= 20 {
                    times.push(start.elapsed());
                }
            }
            times.sort();
            (times[N / 2], bytes)
        }
    };
    let (direct, _) = time(format!("{}/v1/messages", upstream.base_url())).await;
    let recorder = start(ProxyMode::Record, dir.path(), Some(&upstream)).await;
    let (forwarded, _) = time(format!("{}/v1/messages", recorder.base_url())).await;
    recorder.shutdown().await;
    let replayer = start(ProxyMode::Replay, dir.path(), None).await;
    let (replayed, bytes) = time(format!("{}/v1/messages", replayer.base_url())).await;
    assert_eq!(replayer.stats().hits as usize, N + 20);
    let exchange = dir.path().join(&exchanges(dir.path())[0]);
    let response: Value =
        serde_json::from_slice(&std::fs::read(exchange.join("response.json")).unwrap()).unwrap();
    let sizes: Vec<usize> = response["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap() as usize)
        .collect();
    let mut chunks = Vec::new();
    let mut at = 0;
    for n in &sizes {
        chunks.push(bytes.slice(at..at + n));
        at += n;
    }
    let app = axum::Router::new().fallback(move || {
        let chunks = chunks.clone();
        async move {
            axum::body::Body::from_stream(futures_util::stream::iter(
                chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
            ))
        }
    });
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (minimal, _) = time(format!("http://{addr}/v1/messages")).await;
    server.abort();
    println!(
        "{}-byte response in {} chunks, median of {N}: direct to the mock {direct:?} (the mock \
         sleeps ~1 ms per event even at chunk_delay_ms 0); through the proxy in record mode \
         {forwarded:?}; replay {replayed:?}; a minimal server sending the same chunks from \
         memory {minimal:?}",
        bytes.len(),
        sizes.len()
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Proxy>();
    send_sync::<ProxyConfig>();
    send_sync::<ProxyError>();
    send_sync::<toolstream::proxy::ProxyStats>();
}

/// Review fixes: a refused key is not recorded (it would replay after the key is fixed);
/// other secret-carrying query parameters are stripped; a body nested to serde_json's depth
/// limit is stored as text so the cassette still loads; an upstream URL with a password is
/// refused without echoing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_never_recorded_and_deep_bodies_still_load() {
    let dir = TempDir::new("review");
    let upstream = mock(0).await;
    let proxy = start(ProxyMode::Auto, dir.path(), Some(&upstream)).await;
    let c = client(Provider::Anthropic, "http://unused", "k");
    let body = c.request_body(&[c.user_message("hi")], &[]);
    let url = format!("{}/v1/messages", proxy.base_url());
    // No key: the mock answers 401, forwarded, not recorded.
    let refused = post(&url, &[("anthropic-version", "2023-06-01")], body.clone()).await;
    assert_eq!(refused.status(), 401);
    frames(refused).await;
    proxy.wait_idle().await;
    assert_eq!(proxy.stats().recorded, 0);
    assert!(exchanges(dir.path()).is_empty());
    // With a key the same request is recorded; other secrets in the query are not stored.
    let secret_url = format!("{url}?api-key=AZSECRET&Access_Token=TOKSECRET&beta=true");
    let headers = [("anthropic-version", "2023-06-01"), ("x-api-key", "k")];
    let ok = post(&secret_url, &headers, body.clone()).await;
    assert_eq!(ok.status(), 200);
    frames(ok).await;
    // A body nested 127 levels deep (serde_json's limit is 128).
    let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let echoed = post(&format!("{}/v1/deep", proxy.base_url()), &headers, deep).await;
    frames(echoed).await;
    proxy.wait_idle().await;
    proxy.shutdown().await;
    for (name, bytes) in tree(dir.path()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("SECRET"), "{name}: {text}");
        if name.ends_with("request.json") && text.contains("/v1/messages") {
            assert!(
                text.contains("\"path\": \"/v1/messages?beta=true\""),
                "{text}"
            );
        }
    }
    // The cassette loads (the deep body was stored as text), and replays.
    let replayer = start(ProxyMode::Replay, dir.path(), None).await;
    let hit = post(
        &format!(
            "{}/v1/messages?api-key=OTHER&beta=true",
            replayer.base_url()
        ),
        &headers,
        body,
    )
    .await;
    assert_eq!(hit.status(), 200);
    replayer.shutdown().await;

    let err = Proxy::start(
        loopback(),
        ProxyConfig::new(ProxyMode::Record, dir.path())
            .upstream("http://user:PASSWORD@127.0.0.1:9"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProxyError::InvalidUpstream { .. }), "{err}");
    assert!(!err.to_string().contains("PASSWORD"), "{err}");
}
