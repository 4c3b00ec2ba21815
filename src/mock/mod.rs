//! A mock provider server on loopback: real HTTP, the real wire protocols (paths, headers,
//! `text/event-stream`, paced chunks), answers from a [`Script`].
//!
//! It checks requests as the real APIs do (the previous turn's calls all answered, ids
//! matching) and keeps a prompt-prefix cache like the providers' prompt caching: a hash
//! per message prefix, across conversations. A request whose history up to its last
//! assistant message was seen before byte for byte is a **hit**; anything else a **miss**.
//! Results listed in completion order instead of request order show up as misses (and as
//! order violations).
//!
//! | provider | path |
//! |---|---|
//! | anthropic | `POST /v1/messages` (`x-api-key`) |
//! | openai-chat | `POST /v1/chat/completions` (`Authorization: Bearer`) |
//! | openai-responses | `POST /v1/responses` (`Authorization: Bearer`) |
//! | gemini | `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` (`x-goog-api-key`) |
//!
//! `GET /mock/stats` returns the [`MockStats`] as JSON.
//!
//! With [`Script::reasoning`] set, every turn streams reasoning state (thinking with
//! signatures, redacted thinking, reasoning items, thought signatures) and a request
//! whose history lost or changed it is refused as the real API refuses it
//! (`reasoning.rs` lists the rules).

mod reasoning;
mod script;

pub use script::{Script, ScriptCall, ScriptReasoning, ScriptTurn};

/// The SSE events (`event:` name, `data`) answering with `turn`, number `k`, in
/// `provider`'s wire format: what the server streams, for corpora and tests.
pub fn encode_turn(
    provider: Provider,
    script: &Script,
    k: usize,
    turn: &ScriptTurn,
) -> Vec<(Option<&'static str>, String)> {
    script::encode(provider, script, k, turn)
}

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::provider::Provider;

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
    /// Requests refused (400/401/404).
    pub rejected: u64,
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
    prefixes: HashSet<u64>,
    /// Prefix hash through an assistant turn → hash of the message that followed it.
    followers: std::collections::HashMap<u64, u64>,
}

#[derive(Clone)]
struct AppState {
    script: Arc<Script>,
    shared: Arc<Mutex<Shared>>,
}

/// A running mock server. Dropping it shuts the server down.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
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
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = AppState {
            script: Arc::new(script),
            shared: shared.clone(),
        };
        let app = Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/responses", post(openai_responses))
            .route("/v1beta/models/{*rest}", post(gemini))
            .route("/mock/stats", get(stats))
            .with_state(state);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockServer {
            addr,
            shared,
            shutdown: Some(tx),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base URL for clients.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The statistics so far.
    pub fn stats(&self) -> MockStats {
        lock(&self.shared).stats.clone()
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

async fn stats(State(state): State<AppState>) -> Response {
    axum::Json(lock(&state.shared).stats.clone()).into_response()
}

/// What a request says, whatever the provider.
struct Request {
    /// Parts of the prompt before the messages (model, system, tools), raw.
    header: Vec<String>,
    /// The history, each message exactly as sent.
    messages: Vec<Box<RawValue>>,
}

/// A refused request: its status, and the provider's error fields.
pub(crate) struct Rejection {
    status: StatusCode,
    pub(crate) message: String,
    /// OpenAI's `param` (default null).
    param: Option<&'static str>,
    /// OpenAI's `code` (default null).
    code: Option<&'static str>,
}

impl Rejection {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Rejection {
            status,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    pub(crate) fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The response, with the body the provider writes.
    fn response(&self, provider: Provider) -> Response {
        let (status, message) = (self.status, &self.message);
        let body = match provider {
            Provider::Anthropic => {
                json!({"type": "error", "error": {"type": if status == StatusCode::UNAUTHORIZED { "authentication_error" } else { "invalid_request_error" }, "message": message}})
            }
            Provider::Gemini => {
                json!({"error": {"code": status.as_u16(), "message": message, "status": if status == StatusCode::UNAUTHORIZED { "UNAUTHENTICATED" } else { "INVALID_ARGUMENT" }}})
            }
            _ => {
                json!({"error": {"message": message, "type": "invalid_request_error", "param": self.param, "code": self.code}})
            }
        };
        (status, axum::Json(body)).into_response()
    }
}

fn error(provider: Provider, status: StatusCode, message: &str) -> Response {
    Rejection::new(status, message).response(provider)
}

fn has_key(provider: Provider, headers: &HeaderMap) -> bool {
    let present = |name: &str| headers.get(name).is_some_and(|v| !v.is_empty());
    match provider {
        Provider::Anthropic => present("x-api-key"),
        Provider::Gemini => present("x-goog-api-key"),
        _ => headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7),
    }
}

fn parse(provider: Provider, body: &[u8], model: Option<&str>) -> Result<Request, String> {
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        model: Option<&'a RawValue>,
        #[serde(borrow)]
        system: Option<&'a RawValue>,
        #[serde(borrow)]
        instructions: Option<&'a RawValue>,
        #[serde(borrow, rename = "systemInstruction")]
        system_instruction: Option<&'a RawValue>,
        #[serde(borrow)]
        tools: Option<&'a RawValue>,
        max_tokens: Option<u64>,
        messages: Option<Vec<Box<RawValue>>>,
        input: Option<Vec<Box<RawValue>>>,
        contents: Option<Vec<Box<RawValue>>>,
    }
    let b: Body = serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    if provider == Provider::Anthropic && b.max_tokens.is_none() {
        return Err("max_tokens: Field required".into());
    }
    let raw = |v: Option<&RawValue>| v.map(|v| v.get().to_owned()).unwrap_or_default();
    let header = vec![
        model.map(str::to_owned).unwrap_or_else(|| raw(b.model)),
        raw(b.system.or(b.instructions).or(b.system_instruction)),
        raw(b.tools),
    ];
    let messages = match provider {
        Provider::Anthropic | Provider::OpenAiChat => b.messages,
        Provider::OpenAiResponses => b.input,
        _ => b.contents,
    }
    .ok_or("the request has no messages")?;
    Ok(Request { header, messages })
}

/// Where the history stands: assistant turns so far, the index of the last assistant
/// message, and the ids (names for Gemini) the trailing tool results answer.
struct Analysis {
    turns: usize,
    last_assistant: usize,
    results: Vec<String>,
}

fn analyze(provider: Provider, messages: &[Value]) -> Analysis {
    let mut turns = 0;
    let mut last_assistant = 0;
    let mut prev_assistant = false;
    for (i, m) in messages.iter().enumerate() {
        let assistant = match provider {
            Provider::Gemini => m["role"] == "model",
            Provider::OpenAiResponses => responses_output(m),
            _ => m["role"] == "assistant",
        };
        // Responses lists one turn as several items: a run of them is one turn, and the
        // previous prompt ends where the run starts.
        if assistant && !(provider == Provider::OpenAiResponses && prev_assistant) {
            turns += 1;
            last_assistant = i;
        }
        prev_assistant = assistant;
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let results = match provider {
        Provider::Anthropic => messages
            .last()
            .filter(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_array())
            .map(|blocks| {
                blocks
                    .iter()
                    .filter(|b| b["type"] == "tool_result")
                    .map(|b| text(&b["tool_use_id"]))
                    .collect()
            })
            .unwrap_or_default(),
        Provider::OpenAiChat => trailing(
            messages,
            |m| m["role"] == "tool",
            |m| text(&m["tool_call_id"]),
        ),
        Provider::OpenAiResponses => trailing(
            messages,
            |m| m["type"] == "function_call_output",
            |m| text(&m["call_id"]),
        ),
        _ => messages
            .last()
            .filter(|m| m["role"] == "user")
            .and_then(|m| m["parts"].as_array())
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|p| p.get("functionResponse"))
                    .map(|f| text(&f["name"]))
                    .collect()
            })
            .unwrap_or_default(),
    };
    Analysis {
        turns,
        last_assistant,
        results,
    }
}

/// Whether a Responses input item is model output: an assistant message, a function call,
/// a reasoning item.
fn responses_output(m: &Value) -> bool {
    m["role"] == "assistant" || m["type"] == "function_call" || m["type"] == "reasoning"
}

/// The call ids (names for Gemini) an assistant message asks for.
fn calls_of(provider: Provider, m: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let each = |list: &Value, f: &dyn Fn(&Value) -> Option<String>| -> Vec<String> {
        list.as_array()
            .map(|a| a.iter().filter_map(f).collect())
            .unwrap_or_default()
    };
    match provider {
        Provider::Anthropic => each(&m["content"], &|b| {
            (b["type"] == "tool_use").then(|| text(&b["id"]))
        }),
        Provider::OpenAiChat => each(&m["tool_calls"], &|c| Some(text(&c["id"]))),
        Provider::OpenAiResponses if m["type"] == "function_call" => vec![text(&m["call_id"])],
        Provider::OpenAiResponses => Vec::new(),
        _ => each(&m["parts"], &|p| {
            p.get("functionCall").map(|f| text(&f["name"]))
        }),
    }
}

/// The ids (names for Gemini) answered by the message(s) starting at `j`.
fn results_at(provider: Provider, messages: &[Value], j: usize) -> Vec<String> {
    let rest = &messages[j.min(messages.len())..];
    let run = |is: &dyn Fn(&Value) -> bool, id: &str| -> Vec<String> {
        rest.iter()
            .take_while(|m| is(m))
            .map(|m| m[id].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    match provider {
        Provider::OpenAiChat => run(&|m| m["role"] == "tool", "tool_call_id"),
        Provider::OpenAiResponses => run(&|m| m["type"] == "function_call_output", "call_id"),
        _ => analyze(provider, &rest[..rest.len().min(1)]).results,
    }
}

/// Checks every assistant turn of the history: not empty, and its calls all answered by
/// what follows it. Returns whether some answers came in another order than the calls,
/// and for each turn followed by something, (its end in prefix-hash positions, the index
/// of the message after it).
fn check_turns(
    provider: Provider,
    messages: &[Value],
) -> Result<(bool, Vec<(usize, usize)>), String> {
    let assistant = |m: &Value| match provider {
        Provider::Gemini => m["role"] == "model",
        Provider::OpenAiResponses => responses_output(m),
        _ => m["role"] == "assistant",
    };
    let mut order_violation = false;
    let mut followers = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        if !assistant(&messages[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut calls = Vec::new();
        while i < messages.len() && assistant(&messages[i]) {
            let m = &messages[i];
            let empty = match provider {
                Provider::Anthropic => m["content"].as_array().is_some_and(Vec::is_empty),
                Provider::Gemini => m["parts"].as_array().is_some_and(Vec::is_empty),
                _ => false,
            };
            if empty {
                return Err(format!(
                    "message {i}: an assistant message must not be empty"
                ));
            }
            calls.extend(calls_of(provider, m));
            i += 1;
            if provider != Provider::OpenAiResponses {
                break;
            }
        }
        if i < messages.len() {
            followers.push((i, i));
        }
        if calls.is_empty() {
            continue;
        }
        let answered = results_at(provider, messages, i);
        let (mut want, mut got) = (calls.clone(), answered.clone());
        want.sort();
        got.sort();
        if want != got {
            return Err(format!(
                "tool results must answer every tool call of the assistant turn at message {start}: expected {calls:?}, got {answered:?}"
            ));
        }
        order_violation |= calls != answered;
    }
    Ok((order_violation, followers))
}

fn trailing(
    messages: &[Value],
    is: impl Fn(&Value) -> bool,
    id: impl Fn(&Value) -> String,
) -> Vec<String> {
    let n = messages.iter().rev().take_while(|m| is(m)).count();
    messages[messages.len() - n..].iter().map(id).collect()
}

fn hash_step(prev: u64, bytes: &str) -> u64 {
    let mut h = DefaultHasher::new();
    prev.hash(&mut h);
    bytes.hash(&mut h);
    h.finish()
}

async fn serve(
    state: AppState,
    provider: Provider,
    headers: HeaderMap,
    body: Bytes,
    model: Option<String>,
) -> Response {
    let reject = |status, message: &str| {
        lock(&state.shared).stats.rejected += 1;
        error(provider, status, message)
    };
    if !has_key(provider, &headers) {
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
    let Ok(values) = values else {
        return reject(StatusCode::BAD_REQUEST, "a message is not valid JSON");
    };
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
    let cache = {
        let mut shared = lock(&state.shared);
        let mut h = hash_step(0, &request.header.concat());
        let mut hashes = vec![h];
        for m in &request.messages {
            h = hash_step(h, m.get());
            hashes.push(h);
        }
        let cached = hashes
            .iter()
            .rposition(|h| shared.prefixes.contains(h))
            .unwrap_or(0);
        // A known prefix ending with an assistant turn followed by a different message
        // than before (the same calls answered in another order, say) cannot be cached.
        let mut diverged = false;
        for &(end, next) in &followers {
            let key = hashes[end];
            let next = hash_step(0, request.messages[next].get());
            match shared.followers.get(&key) {
                Some(&seen) if seen != next => diverged = true,
                Some(_) => {}
                None => {
                    shared.followers.insert(key, next);
                }
            }
        }
        shared.prefixes.extend(hashes);
        let s = &mut shared.stats;
        s.requests += 1;
        s.order_violations += u64::from(order_violation);
        if a.turns == 0 {
            s.cache_writes += 1;
            "write"
        } else if cached >= a.last_assistant && !diverged {
            s.cache_hits += 1;
            "hit"
        } else {
            s.cache_misses += 1;
            "miss"
        }
    };
    let turn = script.turn(a.turns);
    let events = script::encode(provider, script, a.turns, &turn);
    let delay = Duration::from_millis(script.chunk_delay_ms);
    let stream = futures_util::stream::iter(events).then(move |(name, data)| async move {
        tokio::time::sleep(delay).await;
        let frame = match name {
            Some(n) => format!("event: {n}\ndata: {data}\n\n"),
            None => format!("data: {data}\n\n"),
        };
        Ok::<_, std::convert::Infallible>(Bytes::from(frame))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .header("x-mock-cache", cache)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn anthropic(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    serve(state, Provider::Anthropic, headers, body, None).await
}

async fn openai_chat(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    serve(state, Provider::OpenAiChat, headers, body, None).await
}

async fn openai_responses(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(state, Provider::OpenAiResponses, headers, body, None).await
}

async fn gemini(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_start_matches("/v1beta/models/");
    let Some(model) = path.strip_suffix(":streamGenerateContent") else {
        lock(&state.shared).stats.rejected += 1;
        return error(
            Provider::Gemini,
            StatusCode::NOT_FOUND,
            "only :streamGenerateContent is served",
        );
    };
    if !uri
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
    serve(state, Provider::Gemini, headers, body, Some(model)).await
}
