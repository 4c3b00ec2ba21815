//! Forwarding to the upstream while recording: the request goes out with its headers
//! (hop-by-hop ones and a few others dropped), the answer comes back chunk by chunk as it
//! arrives, and a copy is stored when it ends.
//!
//! ```text
//! upstream ──chunk──▶ pump task ──chunk──▶ channel (16) ──▶ client body
//!                        │ keep a copy (≤ max_recorded_bytes)
//!                        ▼ at the upstream's end
//!                     store (spawn_blocking), then close the channel: the client
//!                     sees the end after the exchange is in the cassette
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::cassette::{Exchange, KEPT_HEADERS};
use super::server::{bump, error, Shared};

/// Hop-by-hop headers (RFC 9110 §7.6.1) and `content-length` (each side re-frames the
/// body): never passed on in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Request headers never forwarded besides those: `host` (the upstream's own is set),
/// `accept-encoding` (so the upstream answers uncompressed and the cassette holds plain
/// bytes) and `expect` (the body was already read).
const DROPPED_REQUEST_HEADERS: &[&str] = &["host", "accept-encoding", "expect"];

/// Upstream statuses forwarded but not recorded: transient failures (the ones a client
/// retries: 408, 409, 429, 5xx, Anthropic's 529 included) would otherwise replay forever.
fn transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

/// Statuses about the credentials (401, 403): the key leaves them out, so a run with a
/// wrong or missing key would otherwise replay its refusal after the key is fixed.
fn about_credentials(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403)
}

/// A request on its way upstream.
pub(crate) struct Forward {
    pub method: Method,
    /// Path and query as received (secrets included: the upstream needs them).
    pub target: String,
    /// Path and query as stored (secrets stripped).
    pub path: String,
    pub key: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Forwards to the upstream and streams its answer back as it arrives, recording it.
pub(crate) async fn forward(shared: Arc<Shared>, request: Forward) -> Response {
    let Some(upstream) = shared.upstream.as_deref() else {
        return error(
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            "the proxy has no upstream",
        );
    };
    let url = format!("{upstream}{}", request.target);
    let mut headers = request.headers.clone();
    let listed: Vec<String> = connection_tokens(&request.headers);
    for name in HOP_BY_HOP
        .iter()
        .chain(DROPPED_REQUEST_HEADERS)
        .copied()
        .chain(listed.iter().map(String::as_str))
    {
        headers.remove(name);
    }
    let sent = shared
        .http
        .request(request.method.clone(), &url)
        .headers(headers)
        .body(request.body.clone())
        .send()
        .await;
    let upstream_response = match sent {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "upstream_unreachable",
                // Without the URL: its query may hold an API key.
                &format!(
                    "cannot reach the upstream {upstream}: {}",
                    chain(&e.without_url())
                ),
            );
        }
    };
    let status = upstream_response.status();
    let mut response_headers = upstream_response.headers().clone();
    let listed = connection_tokens(&response_headers);
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(listed.iter().map(String::as_str))
    {
        response_headers.remove(name);
    }
    let kept: Vec<(String, String)> = response_headers
        .iter()
        .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let record = !transient(status) && !about_credentials(status);
    if !record {
        let path = &request.path;
        tracing::warn!(%status, path, "transient or credentials status: forwarded, not recorded");
    }
    let recording = Recording {
        shared: shared.clone(),
        request,
        status: status.as_u16(),
        kept,
        chunks: Vec::new(),
        size: 0,
        on: record,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(PUMP_CAPACITY);
    shared.spawn(pump(upstream_response, tx, recording));
    let mut response = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    response
}

/// Chunks buffered between the upstream and a slow client (then the upstream waits).
const PUMP_CAPACITY: usize = 16;

/// How long an upstream may stay silent, once the client has gone, before the
/// recording is given up.
const DRAIN_IDLE: Duration = Duration::from_secs(30);

type Chunk = Result<Bytes, reqwest::Error>;

/// Moves the upstream's chunks to the client as they arrive, keeping a copy; stores the
/// exchange when the upstream's body ends, before the client sees that end.
///
/// Clients commonly stop reading at the provider's end-of-message event, before the
/// body's end: once the client has gone, the rest is still read (and recorded) when it
/// is being recorded, and dropped otherwise.
async fn pump(upstream: reqwest::Response, tx: mpsc::Sender<Chunk>, mut rec: Recording) {
    let mut stream = upstream.bytes_stream();
    let mut client = Some(tx);
    loop {
        let next = if client.is_some() {
            stream.next().await
        } else if !rec.on {
            return;
        } else {
            match tokio::time::timeout(DRAIN_IDLE, stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    tracing::warn!(
                        key = rec.request.key,
                        "upstream silent after the client left, not recorded"
                    );
                    return;
                }
            }
        };
        match next {
            Some(Ok(chunk)) if chunk.is_empty() => {}
            Some(Ok(chunk)) => {
                rec.keep(&chunk);
                if let Some(tx) = &client {
                    if tx.send(Ok(chunk)).await.is_err() {
                        client = None;
                    }
                }
            }
            Some(Err(e)) => {
                let e = e.without_url();
                tracing::warn!(
                    key = rec.request.key,
                    "upstream stream failed, not recorded: {e}"
                );
                if let Some(tx) = client {
                    let _ = tx.send(Err(e)).await;
                }
                return;
            }
            None => {
                rec.finish().await;
                return;
            }
        }
    }
}

/// The copy of a forwarded response being recorded.
struct Recording {
    shared: Arc<Shared>,
    request: Forward,
    status: u16,
    kept: Vec<(String, String)>,
    chunks: Vec<Bytes>,
    size: usize,
    /// False once the response is known not to be stored (too large, transient status).
    on: bool,
}

impl Recording {
    fn keep(&mut self, chunk: &Bytes) {
        if !self.on {
            return;
        }
        self.size += chunk.len();
        if self.size > self.shared.max_recorded_bytes {
            tracing::warn!(
                key = self.request.key,
                limit = self.shared.max_recorded_bytes,
                "response over the recording limit: forwarded, not recorded"
            );
            self.on = false;
            self.chunks = Vec::new();
            return;
        }
        self.chunks.push(chunk.clone());
    }

    /// Stores the exchange (the client sees the end of the body after this).
    async fn finish(self) {
        if !self.on {
            return;
        }
        let Recording {
            shared,
            request,
            status,
            kept,
            chunks,
            ..
        } = self;
        let counters = shared.clone();
        let stored = tokio::task::spawn_blocking(move || {
            let method = request.method.to_string();
            let exchange = Exchange {
                method: &method,
                path: &request.path,
                body: &request.body,
                status,
                headers: kept,
                chunks,
            };
            shared
                .cassette
                .store(&request.key, &exchange)
                .map_err(|e| (request.key, e))
        })
        .await;
        match stored {
            Ok(Ok(_)) => bump(&counters.stats.recorded),
            Ok(Err((key, e))) => tracing::warn!(key, "cannot store an exchange: {e}"),
            Err(e) => tracing::warn!("cannot store an exchange: {e}"),
        }
    }
}

/// The header names a `Connection` header lists (hop-by-hop for this connection).
fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// An error and its sources, joined with `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
