//! The proxy's HTTP handling: the stats route, replay from the cassette, the message of a
//! miss and the error bodies (forwarding is in `forward.rs`).
//!
//! One handler serves every method and path:
//!
//! ```text
//! request ─▶ GET /proxy/stats? ──yes──▶ stats JSON
//!               │ no
//!               ▼
//!           read body (≤ limit, else 413) ─▶ key
//!               │
//!   replay ─────┼──── auto ──────────────┬──── record
//!   hit: replay │     hit: replay        │
//!   miss: 404   │     miss: forward ─────┴──▶ forward: stream upstream chunks to the client
//!                                             as they arrive, keep a copy, store at the end
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::cassette::{Cassette, Recorded, StoredBody};
use super::diff::{distance, first_difference};
use super::forward::{forward, Forward};
use super::json::Node;
use super::key::{key, strip_secrets};
use super::{ProxyMode, ProxyStats};

/// Everything the handler needs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub mode: ProxyMode,
    /// The upstream base URL without a trailing `/` (`None` in replay mode).
    pub upstream: Option<String>,
    pub http: reqwest::Client,
    pub cassette: Arc<Cassette>,
    pub stats: Counters,
    pub max_request_bytes: usize,
    pub max_recorded_bytes: usize,
    /// The tasks moving forwarded responses (aborted when the proxy is dropped).
    pub tasks: Mutex<JoinSet<()>>,
    /// How many of them are running.
    pub in_flight: watch::Sender<usize>,
}

impl Shared {
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let guard = InFlight::new(self.in_flight.clone());
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            let _guard = guard;
            task.await;
        });
    }

    /// Aborts every task moving a response.
    pub(crate) fn abort_tasks(&self) {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .abort_all();
    }

    /// Waits until no task moves a response (recordings included). Cancel safe.
    pub(crate) async fn idle(&self) {
        let _ = self.in_flight.subscribe().wait_for(|n| *n == 0).await;
    }
}

/// Counts a running task while it lives (its future is dropped when it ends or aborts).
struct InFlight(watch::Sender<usize>);

impl InFlight {
    fn new(count: watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        InFlight(count)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// The counters behind [`ProxyStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    pub recorded: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ProxyStats {
        ProxyStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            recorded: self.recorded.load(Ordering::Relaxed),
        }
    }
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A provider-style error: `{"type":"error","error":{"type":KIND,"message":MESSAGE}}`.
pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"type": "error", "error": {"type": kind, "message": message}});
    (status, axum::Json(body)).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    if method == Method::GET && parts.uri.path() == "/proxy/stats" {
        return axum::Json(shared.stats.snapshot()).into_response();
    }
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let body = match read_body(body, shared.max_request_bytes).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let path = strip_secrets(&target);
    let key = key(method.as_str(), &path, &body);
    if shared.mode != ProxyMode::Record {
        if let Some(recorded) = shared.cassette.get(&key) {
            return replay(&shared, key, recorded).await;
        }
        bump(&shared.stats.misses);
        if shared.mode == ProxyMode::Replay {
            let cassette = shared.cassette.clone();
            let method = method.to_string();
            let message = tokio::task::spawn_blocking(move || {
                miss_message(&cassette, &method, &path, &key, &body)
            })
            .await
            .unwrap_or_else(|_| "no recorded exchange for this request".into());
            return error(StatusCode::NOT_FOUND, "cassette_miss", &message);
        }
    }
    let request = Forward {
        method,
        target,
        path,
        key,
        headers: parts.headers,
        body,
    };
    forward(shared, request).await
}

/// Reads the whole request body, refusing one over `limit` bytes with 413.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            &format!("the request body is over the proxy's limit of {limit} bytes"),
        )
    };
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("cannot read the request body: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Answers from the cassette: the stored status and headers, each stored chunk as its own
/// body frame.
async fn replay(shared: &Shared, key: String, recorded: Arc<Recorded>) -> Response {
    let cassette = shared.cassette.clone();
    let rec = recorded.clone();
    let chunks = tokio::task::spawn_blocking(move || cassette.response_body(&key, &rec)).await;
    let chunks = match chunks {
        Ok(Ok(chunks)) => chunks,
        Ok(Err(e)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cassette_error",
                &format!("cannot replay a recorded exchange: {e}"),
            )
        }
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cassette_error",
                &e.to_string(),
            )
        }
    };
    bump(&shared.stats.hits);
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
    )));
    *response.status_mut() = StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in &recorded.headers {
        // Checked when the cassette was loaded or written.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    response
}

/// The message of a replay miss: the nearest recorded request with the same method and
/// path, and the first difference from it (see [`super::diff`]).
fn miss_message(cassette: &Cassette, method: &str, path: &str, key: &str, body: &[u8]) -> String {
    let head = format!("no recorded exchange for {method} {path} (key {key})");
    let candidates = cassette.candidates(method, path);
    if candidates.is_empty() {
        return format!(
            "{head}; the cassette has no recorded request with method {method} and path {path} \
             ({} exchanges in the cassette)",
            cassette.len()
        );
    }
    let n = candidates.len();
    let Some(this) = (!body.is_empty()).then(|| Node::parse(body)).flatten() else {
        return format!(
            "{head}; the request body is not JSON and differs in bytes from the {n} recorded \
             request(s) with the same method and path"
        );
    };
    let nearest = candidates
        .iter()
        .filter_map(|k| match cassette.request_body(k) {
            Some(StoredBody::Json(b)) => Some((distance(&this, &b), k, b)),
            _ => None,
        })
        .min_by_key(|(d, _, _)| *d);
    match nearest {
        None => format!(
            "{head}; the {n} recorded request(s) with the same method and path have bodies \
             that are not JSON: the bodies differ in bytes"
        ),
        Some((d, k, recorded)) => match first_difference(&this, &recorded) {
            Some(diff) => format!(
                "{head}; nearest recorded request: {k} (structural diff size {d}); first \
                 difference (this request vs recorded): {diff}"
            ),
            None => format!(
                "{head}; nearest recorded request {k} has the same JSON body: the bodies differ \
                 in bytes (whitespace, escapes or number spelling)"
            ),
        },
    }
}
