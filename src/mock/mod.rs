//! A mock provider server on loopback: real HTTP, the real wire protocols (paths, headers,
//! `text/event-stream`, paced chunks), answers from a [`Script`].
//!
//! It checks requests as the real APIs do (the previous turn's calls all answered, ids
//! matching) and emulates each provider's prompt cache (`cache.rs`, SPEC §9): Anthropic
//! and Bedrock write and read only prefixes ending at breakpoints (`cache_control`,
//! `cachePoint` blocks; at most 4, within a 20-block lookback, 5-minute or 1-hour
//! lifetimes); OpenAI and Gemini read the longest prefix an earlier request held. Each
//! answer reports it in the provider's usage fields (`cache_read_input_tokens` and
//! `cache_creation_input_tokens`, `cached_tokens`, `cachedContentTokenCount`,
//! `cacheReadInputTokens` and `cacheWriteInputTokens`), and [`MockStats`] adds them up.
//! Any prefix is cacheable unless [`Script::cache_minimums`] asks for the providers'
//! documented minimum lengths.
//!
//! Beside it, a verdict per request in the `x-mock-cache` header: a request whose history
//! up to its last assistant message was seen before (breakpoint markers aside) is a
//! **hit**; anything else a **miss**. Results listed in completion order instead of request
//! order show up as misses (and as order violations).
//!
//! | provider | path |
//! |---|---|
//! | anthropic | `POST /v1/messages` (`x-api-key`) |
//! | openai-chat | `POST /v1/chat/completions` (`Authorization: Bearer`) |
//! | openai-responses | `POST /v1/responses` (`Authorization: Bearer`) |
//! | gemini | `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` (`x-goog-api-key`) |
//! | bedrock | `POST /model/{modelId}/converse-stream` (AWS event-stream), `/converse` (SigV4 or `Authorization: Bearer`) |
//!
//! Bedrock's answers are `ConverseStream` events as the service streams them
//! (`application/vnd.amazon.eventstream` messages, keys in alphabetical order, the `"p"`
//! padding member) and `Converse` bodies; its refusals are AWS's (`x-amzn-ErrorType`,
//! `{"message": ...}`). A SigV4 signature cannot be checked without the secret key: a
//! well-formed one is accepted (`aws.rs`).
//!
//! `GET /mock/stats` returns the [`MockStats`] as JSON.
//!
//! With [`Script::reasoning`] set, every turn streams reasoning state (thinking with
//! signatures, redacted thinking, reasoning items, thought signatures) and a request
//! whose history lost or changed it is refused as the real API refuses it
//! (`reasoning.rs` lists the rules).

mod aws;
mod cache;
mod encode;
mod fault;
mod reasoning;
mod request;
mod script;
mod whole;

pub use fault::{Fault, FaultError, FaultKind};
pub use script::{Script, ScriptCall, ScriptReasoning, ScriptTurn};

/// The SSE events (`event:` name, `data`) answering with `turn`, number `k`, in
/// `provider`'s wire format: what the server streams, for corpora and tests (with a
/// prompt of `100 + 50 * k` tokens, nothing cached; the server reports the prompt's own).
/// For Bedrock, each event-stream message's `:event-type` and JSON payload.
pub fn encode_turn(
    provider: Provider,
    script: &Script,
    k: usize,
    turn: &ScriptTurn,
) -> Vec<(Option<&'static str>, String)> {
    let usage = PromptUsage::uncached(100 + 50 * k as u64);
    encode::encode(provider, script, k, turn, &usage)
}

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::provider::Provider;
use crate::served::Served;
use cache::{canonical_header, canonical_message, hash_step, Cache, Prompt, PromptUsage};
use request::{analyze, check_turns, error, has_key, parse, Rejection};

/// What the server saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MockStats {
    /// Requests served (streamed answers).
    pub requests: u64,
    /// Requests after the first of a conversation whose whole earlier history was cached.
    pub cache_hits: u64,
    /// Requests after the first of a conversation whose earlier history was not.
    pub cache_misses: u64,
    /// First requests of conversations (nothing to hit yet; their prefix is written).
    pub cache_writes: u64,
    /// Requests whose tool results were complete but not in the calls' order.
    pub order_violations: u64,
    /// Requests refused (400/401/403/404).
    pub rejected: u64,
    /// Faults injected (see [`Fault`]): refused requests (429, overload, 500) and streams
    /// that failed on purpose (an error event, a stall, a cut). A stream fault's request is
    /// also counted in `requests`.
    pub faults: u64,
    /// Streamed answers whose client went away before their end (the connection closed).
    pub abandoned: u64,
    /// Prompt tokens of the requests served, cached or not (the mock's estimate: a
    /// quarter of the bytes of each part of the prompt).
    pub prompt_tokens: u64,
    /// Of those, tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Of those, tokens written to the prompt cache (Anthropic; the implicit caches of
    /// OpenAI and Gemini write for free and report none).
    pub cache_write_tokens: u64,
}

impl MockStats {
    /// Hits over hits plus misses (1.0 when there was nothing to hit).
    pub fn hit_rate(&self) -> f64 {
        let n = self.cache_hits + self.cache_misses;
        if n == 0 {
            1.0
        } else {
            self.cache_hits as f64 / n as f64
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    stats: MockStats,
    /// The providers' prompt caches.
    cache: Cache,
    /// The `x-mock-cache` verdicts' memory.
    histories: Histories,
    /// Requests received on the provider routes (the fault injection's numbering).
    received: u64,
    faults: fault::Faults,
}

/// The mock's own verdict on a request (`x-mock-cache`): a hit when the history through
/// its last assistant message was seen before (as the cache sees it: breakpoints ignored),
/// a miss otherwise, a write for a conversation's first request.
#[derive(Debug, Default)]
struct Histories {
    prefixes: HashSet<u64>,
    /// Prefix hash through an assistant turn → hash of the message that followed it.
    followers: HashMap<u64, u64>,
}

/// What [`Histories::judge`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Write,
    Hit,
    Miss,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Write => "write",
            Verdict::Hit => "hit",
            Verdict::Miss => "miss",
        }
    }
}

impl Histories {
    /// Judges a request: its `header` and `messages` (canonical:
    /// `cache::canonical_header`, `cache::canonical_message`), its turns' `followers` (end
    /// in prefix positions, index of the next message), its assistant `turns` and the
    /// index of its last assistant message.
    fn judge(
        &mut self,
        header: &str,
        messages: &[String],
        followers: &[(usize, usize)],
        turns: usize,
        last_assistant: usize,
    ) -> Verdict {
        let mut h = hash_step(0, header);
        let mut hashes = vec![h];
        for m in messages {
            h = hash_step(h, m);
            hashes.push(h);
        }
        let cached = hashes
            .iter()
            .rposition(|h| self.prefixes.contains(h))
            .unwrap_or(0);
        // A known prefix ending with an assistant turn followed by a different message
        // than before (the same calls answered in another order, say) cannot be cached.
        let mut diverged = false;
        for &(end, next) in followers {
            let next = hash_step(0, &messages[next]);
            match self.followers.get(&hashes[end]) {
                Some(&seen) => diverged |= seen != next,
                None => {
                    self.followers.insert(hashes[end], next);
                }
            }
        }
        self.prefixes.extend(hashes);
        if turns == 0 {
            Verdict::Write
        } else if cached >= last_assistant && !diverged {
            Verdict::Hit
        } else {
            Verdict::Miss
        }
    }
}

#[derive(Clone)]
struct AppState {
    script: Arc<Script>,
    shared: Arc<Mutex<Shared>>,
    /// Turns true when the server stops: stalled streams end then.
    stop: watch::Receiver<bool>,
}

/// A running mock server. Dropping it shuts the server down.
///
/// It speaks every provider's protocol on one loopback port (Anthropic Messages, OpenAI
/// Chat and Responses, Gemini, Bedrock Converse), plays its [`Script`], checks what each
/// request sends back (tool results for every call, reasoning state, the order of
/// results), emulates the provider's prompt cache and injects the faults the script names.
/// Any client works against it: a [`ModelClient`](crate::ModelClient), the official SDKs
/// (`toolstream serve` is the same server on the command line), or plain HTTP.
///
#[cfg_attr(feature = "client", doc = "```")]
#[cfg_attr(not(feature = "client"), doc = "```ignore")]
/// use serde_json::json;
/// use toolstream::mock::{Fault, FaultKind, MockServer, Script};
/// use toolstream::{Conversation, ConversationConfig, ModelClient, Provider, RetryPolicy, ToolRegistry};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mut script = Script::new()
///         .then_calls("", [("ping", json!({}))])
///         .then_answer("pong");
///     // The first request is refused with a 429 that says to retry in 0 seconds.
///     script.faults.push(Fault::new(FaultKind::RateLimit { retry_after: Some(0), retry_after_ms: None }).on_request(1));
///     let server = MockServer::start("127.0.0.1:0".parse()?, script).await?;
///
///     let client = ModelClient::new(Provider::Gemini, "mock-1", "key")?
///         .base_url(server.base_url())
///         .retries(RetryPolicy::new(1));
///     let tools = ToolRegistry::new().with_raw_fn("ping", |_| Box::pin(async { Ok("ok".into()) }));
///     let mut conversation = Conversation::new(client, tools, ConversationConfig::default());
///     conversation.send("ping?", |_| {}).await?;
///
///     let stats = server.stats();
///     // Two turns served (the call, then the answer) and one 429 refused on the way.
///     assert_eq!((stats.requests, stats.faults), (2, 1));
///     assert_eq!((stats.order_violations, stats.rejected), (0, 0));
///     server.shutdown().await;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct MockServer {
    served: Served,
    shared: Arc<Mutex<Shared>>,
    stop: watch::Sender<bool>,
}

impl MockServer {
    /// Binds `addr` (use port 0 for an ephemeral port) and serves `script` from a task on
    /// the current tokio runtime.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn start(addr: SocketAddr, script: Script) -> std::io::Result<MockServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            faults: fault::Faults::new(script.faults.clone()),
            ..Shared::default()
        }));
        let (stop, stopped) = watch::channel(false);
        let state = AppState {
            script: Arc::new(script),
            shared: shared.clone(),
            stop: stopped,
        };
        let app = Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/responses", post(openai_responses))
            .route("/v1beta/models/{*rest}", post(gemini))
            // google-genai 3 asks for `v1` by default; the API serves both versions.
            .route("/v1/models/{*rest}", post(gemini))
            .route("/model/{*rest}", post(bedrock))
            .route("/mock/stats", get(stats))
            .with_state(state);
        Ok(MockServer {
            served: Served::spawn(listener, addr, app),
            shared,
            stop,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// `http://ADDR`, the base URL for clients.
    pub fn base_url(&self) -> String {
        self.served.base_url()
    }

    /// The statistics so far.
    pub fn stats(&self) -> MockStats {
        lock(&self.shared).stats.clone()
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        self.served.shutdown().await;
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn stats(State(state): State<AppState>) -> Response {
    axum::Json(lock(&state.shared).stats.clone()).into_response()
}

async fn serve(
    state: AppState,
    provider: Provider,
    headers: HeaderMap,
    body: Bytes,
    model: Option<String>,
    // Gemini says it in the path (`:streamGenerateContent` or `:generateContent`); the
    // others with `"stream": true` in the body.
    stream_path: Option<bool>,
) -> Response {
    let number = {
        let mut shared = lock(&state.shared);
        shared.received += 1;
        shared.received
    };
    let reject = |status, message: &str| {
        lock(&state.shared).stats.rejected += 1;
        error(provider, status, message)
    };
    if provider == Provider::Bedrock {
        // AWS authenticates first, then reads the body (`aws.rs`).
        let checked = aws::authorize(&headers).and_then(|()| aws::check_body(&body));
        if let Err(rejection) = checked {
            lock(&state.shared).stats.rejected += 1;
            return rejection.response(provider);
        }
    } else if !has_key(provider, &headers) {
        return reject(StatusCode::UNAUTHORIZED, "missing or empty API key");
    }
    if provider == Provider::Anthropic && headers.get("anthropic-version").is_none() {
        return reject(
            StatusCode::BAD_REQUEST,
            "anthropic-version: header is required",
        );
    }
    let request = match parse(provider, &body, model.as_deref()) {
        Ok(r) => r,
        Err(e) => return reject(StatusCode::BAD_REQUEST, &e),
    };
    let values: Result<Vec<Value>, _> = request
        .messages
        .iter()
        .map(|m| serde_json::from_str(m.get()))
        .collect();
    let (Ok(values), Ok(whole)) = (values, serde_json::from_slice::<Value>(&body)) else {
        return reject(StatusCode::BAD_REQUEST, "a message is not valid JSON");
    };
    let prompt = Prompt::of(provider, &whole, &request.model);
    if let Err(message) = prompt.check() {
        return reject(StatusCode::BAD_REQUEST, &message);
    }
    let a = analyze(provider, &values);
    // Every assistant turn's calls must be answered by the message(s) right after it,
    // by id (by name for Gemini); a different order is counted, as it breaks caching.
    let (order_violation, followers) = match check_turns(provider, &values) {
        Ok(checked) => checked,
        Err(message) => return reject(StatusCode::BAD_REQUEST, &message),
    };
    let script = &state.script;
    if let Some(r) = &script.reasoning {
        if let Err(rejection) = reasoning::check(provider, r, &values) {
            lock(&state.shared).stats.rejected += 1;
            return rejection.response(provider);
        }
    }
    // A fault answers after the checks (a refused request is refused, faults or not),
    // before the cache sees the request (a 429 reads and writes nothing).
    let streaming = stream_path.unwrap_or(request.stream);
    let fault = {
        let mut shared = lock(&state.shared);
        let fault = shared.faults.pick(number, a.turns, streaming);
        shared.stats.faults += u64::from(fault.is_some());
        fault
    };
    if let Some(refusal) = fault.and_then(|f| fault::refusal(provider, f)) {
        return refusal;
    }
    let header = canonical_header(provider, &whole, &request.model);
    let messages: Vec<String> = values
        .iter()
        .map(|m| canonical_message(provider, m))
        .collect();
    let (verdict, usage) = {
        let mut shared = lock(&state.shared);
        let verdict =
            shared
                .histories
                .judge(&header, &messages, &followers, a.turns, a.last_assistant);
        let now = tokio::time::Instant::now();
        let usage = shared.cache.serve(&prompt, script.cache_minimums, now);
        let s = &mut shared.stats;
        s.requests += 1;
        s.order_violations += u64::from(order_violation);
        match verdict {
            Verdict::Write => s.cache_writes += 1,
            Verdict::Hit => s.cache_hits += 1,
            Verdict::Miss => s.cache_misses += 1,
        }
        s.prompt_tokens += usage.total;
        s.cache_read_tokens += usage.read;
        s.cache_write_tokens += usage.write();
        (verdict, usage)
    };
    let turn = script.turn(a.turns);
    let mut events = encode::encode(provider, script, a.turns, &turn, &usage);
    if streaming && provider == Provider::OpenAiChat && !request.include_usage {
        // "If set, an additional chunk will be streamed before the data: [DONE] message":
        // not set, no usage chunk (the one whose `choices` is empty).
        events.retain(|(_, data)| !data.contains(r#""choices":[],"usage":"#));
    }
    if !streaming {
        let message = whole::fold(provider, &events);
        let mut response = (StatusCode::OK, axum::Json(message)).into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(verdict.as_str()) {
            response.headers_mut().insert("x-mock-cache", v);
        }
        return response;
    }
    let delay = Duration::from_millis(script.chunk_delay_ms);
    // One frame per event: an event-stream message for Bedrock, an SSE frame for the others.
    let frames = events
        .iter()
        .map(|(name, data)| match provider {
            Provider::Bedrock => encode::event_stream_event(name.unwrap_or_default(), data),
            _ => encode::sse_frame(*name, data),
        })
        .collect();
    let error_event = match fault {
        Some(FaultKind::ErrorEvent { after_events }) => Some(match provider {
            Provider::Bedrock => {
                let (kind, message) = fault::bedrock_stream_error();
                encode::event_stream_exception(kind, message)
            }
            _ => fault::error_event(provider, after_events),
        }),
        _ => None,
    };
    let shared = state.shared.clone();
    let abandoned = move || lock(&shared).stats.abandoned += 1;
    let stream = fault::paced(
        frames,
        delay,
        fault,
        error_event,
        state.stop.clone(),
        abandoned,
    );
    let content_type = match provider {
        Provider::Bedrock => "application/vnd.amazon.eventstream",
        _ => "text/event-stream",
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("cache-control", "no-cache")
        .header("x-mock-cache", verdict.as_str())
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn anthropic(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    serve(state, Provider::Anthropic, headers, body, None, None).await
}

async fn openai_chat(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    serve(state, Provider::OpenAiChat, headers, body, None, None).await
}

async fn openai_responses(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(state, Provider::OpenAiResponses, headers, body, None, None).await
}

async fn gemini(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let path = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))
        .unwrap_or(path);
    let (model, streaming) = match (
        path.strip_suffix(":streamGenerateContent"),
        path.strip_suffix(":generateContent"),
    ) {
        (Some(model), _) => (model, true),
        (None, Some(model)) => (model, false),
        (None, None) => {
            lock(&state.shared).stats.rejected += 1;
            return error(
                Provider::Gemini,
                StatusCode::NOT_FOUND,
                "only :streamGenerateContent and :generateContent are served",
            );
        }
    };
    if streaming
        && !uri
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|q| q == "alt=sse")
    {
        lock(&state.shared).stats.rejected += 1;
        return error(
            Provider::Gemini,
            StatusCode::BAD_REQUEST,
            "streaming needs ?alt=sse",
        );
    }
    let model = model.to_owned();
    // google-genai and REST examples may pass the key as `?key=`.
    let mut headers = headers;
    let query_key = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|q| q.strip_prefix("key="))
        .filter(|k| !k.is_empty())
        .and_then(|k| axum::http::HeaderValue::from_str(k).ok());
    if let Some(key) = query_key {
        headers.insert("x-goog-api-key", key);
    }
    serve(
        state,
        Provider::Gemini,
        headers,
        body,
        Some(model),
        Some(streaming),
    )
    .await
}

/// Bedrock: `POST /model/{modelId}/converse-stream` (streamed) or `/converse` (whole).
async fn bedrock(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (model, streaming) = match aws::route(uri.path()) {
        Ok(found) => found,
        Err(rejection) => {
            lock(&state.shared).stats.rejected += 1;
            return rejection.response(Provider::Bedrock);
        }
    };
    serve(
        state,
        Provider::Bedrock,
        headers,
        body,
        Some(model),
        Some(streaming),
    )
    .await
}
