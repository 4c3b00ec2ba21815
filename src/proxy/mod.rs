//! `toolstream proxy` (SPEC §7): a recording proxy for provider APIs, the replay cache of
//! CI runs and offline tests.
//!
//! Point a client at the proxy instead of the provider. In `record` mode every request is
//! forwarded to the upstream and its answer streamed back **as it arrives** (chunk by
//! chunk: a client dispatching tools eagerly sees each tool call when the provider sends
//! it), and stored when it ends. In `replay` mode the upstream is never contacted: the
//! answer comes from the cassette, byte for byte, with the recorded status, headers and
//! chunking (each recorded chunk is sent as its own body frame). `auto` replays what the
//! cassette has and records the rest; new recordings are replayed at once.
//!
//! ```no_run
//! use toolstream::proxy::{Proxy, ProxyConfig, ProxyMode};
//! use toolstream::{ModelClient, Provider};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ProxyConfig::new(ProxyMode::Auto, "tests/cassettes/weather")
//!     .upstream("https://api.anthropic.com");
//! let proxy = Proxy::start("127.0.0.1:0".parse()?, config).await?;
//! let client = ModelClient::from_env(Provider::Anthropic, "claude-sonnet-4-5")?
//!     .base_url(proxy.base_url());
//! // ... run the conversation with `client` ...
//! println!("{:?}", proxy.stats());
//! proxy.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # The key
//!
//! Each exchange is stored under the SHA-256 of the request's canonical form, in lowercase
//! hex (64 characters):
//!
//! ```text
//! METHOD "\n" TARGET "\n" BODY
//! ```
//!
//! - `METHOD`: the request method as received (`POST`).
//! - `TARGET`: the path and query exactly as the request line wrote them (no
//!   percent-decoding, parameters in their order), with every query parameter that
//!   carries a secret removed, by name without case: `key` (Gemini accepts its API key as
//!   `?key=...`; `alt=sse` stays), `api-key`, `api_key`, `apikey`, `access_token`,
//!   `token`, `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`; the `?` is
//!   removed too when nothing is left of the query.
//! - `BODY`: the request body bytes as received.
//!
//! **No header takes part**, so authentication (`x-api-key`, `Authorization`,
//! `x-goog-api-key`, ...) never influences the key: the same request made with another API
//! key replays the same exchange. Headers are not stored either: no secret reaches the
//! cassette. For example `POST /v1/messages` with body `{}` has the key
//! `sha256("POST\n/v1/messages\n{}")` =
//! `a1b05e7d44b27bc4fe3f577b9aa11d1de5518463ab98f59012cf3474bcaf125b`.
//!
//! # The cassette
//!
//! A directory holding one directory per exchange, named by its key:
//!
//! ```text
//! DIR/
//!   a1b05e7d…125b/
//!     request.json    method, path (key-stripped), body
//!     response.json   status, kept headers, chunk sizes
//!     response.body   the response body bytes, chunks concatenated
//! ```
//!
//! `request.json`, pretty-printed (two-space indent): `method`, `path` (the `TARGET` of the
//! key), and the body: `body` holds it as JSON with its members **in the request's own
//! order** (re-indented; numbers as `serde_json` writes them, so `1e3` reads `1000.0`); a
//! body that is not JSON is `body_text` (a string, invalid UTF-8 replaced by U+FFFD); an
//! empty body has neither. It is there for people (and for the message of a replay miss):
//! the key is the directory's name, not recomputed from this file.
//!
//! ```json
//! {
//!   "method": "POST",
//!   "path": "/v1/messages",
//!   "body": {
//!     "model": "claude-sonnet-4-5",
//!     "max_tokens": 4096,
//!     "stream": true,
//!     "messages": ["..."]
//!   }
//! }
//! ```
//!
//! `response.json`: the status, the kept response headers as `[name, value]` pairs in the
//! upstream's order (only `content-type` and `content-encoding`: never `date`, request ids,
//! rate-limit counters, `set-cookie` or anything else that changes between runs or carries
//! secrets), and the size of each body chunk as the upstream sent it (sixteen to a line):
//!
//! ```json
//! {
//!   "status": 200,
//!   "headers": [
//!     ["content-type", "text/event-stream"]
//!   ],
//!   "chunks": [
//!     187, 97, 103
//!   ]
//! }
//! ```
//!
//! The JSON files end with a newline; no file holds a timestamp. Recording the same
//! exchanges again changes no file (an exchange whose files would be identical is not
//! rewritten at all). Writes are atomic: the three files go into a temporary directory
//! (`.tmp-KEY-PID-N`), are synced, and the directory is renamed to the key; a different
//! exchange under the same key is first moved aside (`.old-…`) and removed after. A
//! crashed proxy may leave a `.tmp-*` or `.old-*` directory behind, never half an
//! exchange; entries whose name is not a key are ignored.
//!
//! # Loading
//!
//! The cassette is loaded when the proxy starts (`record` and `auto` create the directory;
//! `replay` requires it). A malformed exchange (a missing or unreadable file, a
//! `response.json` that does not parse, an invalid status or header, a body whose size is
//! not the sum of the chunk sizes) **fails the start** with [`ProxyError::BadExchange`]
//! naming the file: a replay cache that silently skips entries turns into confusing
//! misses. A body file damaged after the start is answered with 500 `cassette_error`.
//!
//! # What is recorded
//!
//! An exchange is stored when the upstream's body ends, before the client sees that end:
//! a client that read the whole body finds it in the cassette. Clients commonly stop
//! reading at the provider's end-of-message event, a moment before the body's end; the
//! proxy then reads the rest itself and stores the exchange
//! ([`Proxy::wait_idle`] waits for that).
//!
//! Not recorded, each with a `tracing` warning: a response with a transient status (408,
//! 409, 429, 5xx, 529: what clients retry) or about the credentials (401, 403: the key
//! leaves them out), forwarded, so a rate limit or a wrong key is not replayed forever; a response larger than [`ProxyConfig::max_recorded_bytes`] (64 MiB by
//! default), forwarded whole, so memory stays bounded; a response whose stream fails; a
//! response whose upstream stays silent for 30 s after its client has gone. Request
//! bodies larger than [`ProxyConfig::max_request_bytes`] (32 MiB by default) are refused
//! with 413. Concurrent writers of one cassette directory are serialized within one
//! proxy, not across processes.
//!
//! In `record` and `auto` the client receives every upstream response header but the
//! hop-by-hop ones and `content-length`; a replay sends only the kept ones. Requests are
//! forwarded with their headers and query as received (API keys included: the upstream
//! needs them) minus hop-by-hop headers, `host`, `content-length`, `expect` and
//! `accept-encoding` (so that the upstream answers uncompressed). Redirects are passed
//! on, not followed.
//!
//! # Errors on the wire
//!
//! Failures are answered with a provider-style JSON body,
//! `{"type":"error","error":{"type":KIND,"message":MESSAGE}}`, which every client of this
//! crate reads as an HTTP error with its kind and message:
//!
//! | status | kind | when |
//! |---|---|---|
//! | 404 | `cassette_miss` | `replay` and the request is not recorded |
//! | 502 | `upstream_unreachable` | the upstream cannot be reached (the message names its URL and the cause) |
//! | 413 | `request_too_large` | the request body is over the limit |
//! | 500 | `cassette_error` | a recorded body cannot be read back |
//!
//! The message of a `cassette_miss` names the nearest recorded request with the same
//! method and path (by a structural diff of the JSON bodies, where a missing or extra
//! subtree counts as its number of leaves), its key, and the JSON path of the first
//! difference in this request's document order with both values, this request's first:
//! `messages[2].content[0].tool_use_id: "toolu_b" vs "toolu_a"` (object keys joined with
//! `.`, array indices as `[i]`, `(the whole body)` for the top). A missing value shows as
//! `(absent)`; the same members in another order are reported as such. It says so when no
//! request with that method and path (query included) was recorded, when the bodies are
//! not JSON, or when they are equal as JSON (then they differ in bytes: whitespace,
//! escapes, number spelling). For example:
//!
//! ```text
//! no recorded exchange for POST /v1/messages (key 8abd…5392); nearest recorded request:
//! 972b…2f68 (structural diff size 4); first difference (this request vs recorded):
//! messages[2].content[0].tool_use_id: "toolu_mock_0_1" vs "toolu_mock_0_0"
//! ```
//!
//! (Keys are written in full.)
//!
//! `GET /proxy/stats` answers `{"hits":N,"misses":N,"recorded":N}` ([`ProxyStats`]); it is
//! neither forwarded nor recorded.

mod cassette;
mod diff;
mod forward;
mod json;
mod key;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::served::Served;
use cassette::Cassette;
use server::{Counters, Shared};

/// How the proxy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward every request upstream and store it.
    Record,
    /// Never contact the upstream; answer from the cassette.
    Replay,
    /// Replay what the cassette has, record the rest.
    Auto,
}

impl std::str::FromStr for ProxyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "record" => Ok(ProxyMode::Record),
            "replay" => Ok(ProxyMode::Replay),
            "auto" => Ok(ProxyMode::Auto),
            _ => Err(format!("unknown proxy mode `{s}` (record, replay or auto)")),
        }
    }
}

impl fmt::Display for ProxyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyMode::Record => "record",
            ProxyMode::Replay => "replay",
            ProxyMode::Auto => "auto",
        })
    }
}

/// The proxy's configuration: mode, cassette directory, upstream and limits.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    mode: ProxyMode,
    cassette: PathBuf,
    upstream: Option<String>,
    max_request_bytes: NonZeroUsize,
    max_recorded_bytes: NonZeroUsize,
}

const MIB: usize = 1024 * 1024;

impl ProxyConfig {
    /// A proxy in `mode` over the cassette directory `cassette`, with no upstream.
    pub fn new(mode: ProxyMode, cassette: impl Into<PathBuf>) -> Self {
        ProxyConfig {
            mode,
            cassette: cassette.into(),
            upstream: None,
            max_request_bytes: NonZeroUsize::new(32 * MIB).expect("non-zero"),
            max_recorded_bytes: NonZeroUsize::new(64 * MIB).expect("non-zero"),
        }
    }

    /// The upstream base URL, `http` or `https`, possibly with a path prefix
    /// (`https://api.example.com/proxy`); a request's path and query are appended to it.
    /// Required by `record` and `auto`, unused by `replay` (default: none).
    pub fn upstream(mut self, url: impl Into<String>) -> Self {
        self.upstream = Some(url.into());
        self
    }

    /// Request bodies over this size are refused with 413 (default 32 MiB).
    pub fn max_request_bytes(mut self, n: NonZeroUsize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// Responses over this size are forwarded but not recorded (default 64 MiB).
    pub fn max_recorded_bytes(mut self, n: NonZeroUsize) -> Self {
        self.max_recorded_bytes = n;
        self
    }

    /// The mode.
    pub fn mode(&self) -> ProxyMode {
        self.mode
    }

    /// The cassette directory.
    pub fn cassette(&self) -> &Path {
        &self.cassette
    }
}

/// What the proxy did so far, as `GET /proxy/stats` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Requests answered from the cassette.
    pub hits: u64,
    /// Requests looked up and not found (`replay`: answered 404; `auto`: forwarded).
    /// `record` looks nothing up.
    pub misses: u64,
    /// Exchanges stored in the cassette (an identical one already there counts too).
    pub recorded: u64,
}

/// Why the proxy could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProxyError {
    /// `record` or `auto` without an upstream URL.
    MissingUpstream {
        /// The mode that needs one.
        mode: ProxyMode,
    },
    /// The upstream URL is not an `http` or `https` URL without query or fragment.
    InvalidUpstream {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The cassette directory cannot be created or read.
    CassetteDir {
        /// The directory.
        path: PathBuf,
        /// The file-system error.
        source: std::io::Error,
    },
    /// A file of a recorded exchange is missing, unreadable or malformed.
    BadExchange {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The listening address cannot be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The HTTP client for the upstream cannot be built.
    Client(reqwest::Error),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::MissingUpstream { mode } => {
                write!(f, "{mode} mode needs an upstream url")
            }
            ProxyError::InvalidUpstream { url, reason } => {
                write!(f, "invalid upstream url `{url}`: {reason}")
            }
            ProxyError::CassetteDir { path, source } => {
                write!(
                    f,
                    "cannot use cassette directory {}: {source}",
                    path.display()
                )
            }
            ProxyError::BadExchange { path, source } => {
                write!(f, "bad cassette file {}: {source}", path.display())
            }
            ProxyError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ProxyError::Client(e) => write!(f, "cannot build the http client: {e}"),
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyError::CassetteDir { source, .. } | ProxyError::Bind { source, .. } => {
                Some(source)
            }
            ProxyError::BadExchange { source, .. } => Some(&**source),
            ProxyError::Client(e) => Some(e),
            _ => None,
        }
    }
}

/// Checks an upstream URL and returns it without a trailing `/`.
fn check_upstream(url: &str) -> Result<String, ProxyError> {
    let parsed = reqwest::Url::parse(url);
    // The URL as errors show it: without a password it may carry.
    let shown = match &parsed {
        Ok(u) if u.password().is_some() => {
            let mut u = u.clone();
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    };
    let invalid = |reason: &str| ProxyError::InvalidUpstream {
        url: shown.clone(),
        reason: reason.to_owned(),
    };
    let parsed = parsed.map_err(|e| invalid(&e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "it must carry no credentials (the client's own headers reach the upstream)",
        ));
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.host().is_none() {
        return Err(invalid("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it must have no query and no fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A running proxy. Dropping it shuts the server down.
#[derive(Debug)]
pub struct Proxy {
    served: Served,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Checks `config`, loads the cassette, binds `addr` (port 0 for an ephemeral port)
    /// and serves from a task on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ProxyError::MissingUpstream`] for `record` or `auto` without an upstream,
    /// [`ProxyError::InvalidUpstream`], [`ProxyError::CassetteDir`] (in `replay`, a
    /// directory that does not exist), [`ProxyError::BadExchange`] for a malformed
    /// exchange in the cassette, [`ProxyError::Bind`].
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub async fn start(addr: SocketAddr, config: ProxyConfig) -> Result<Proxy, ProxyError> {
        let upstream = match (config.mode, config.upstream.as_deref()) {
            (ProxyMode::Replay, None) => None,
            (mode, None) => return Err(ProxyError::MissingUpstream { mode }),
            (_, Some(url)) => Some(check_upstream(url)?),
        };
        let create = config.mode != ProxyMode::Replay;
        let dir = config.cassette.clone();
        let cassette = tokio::task::spawn_blocking(move || Cassette::open(&dir, create))
            .await
            .map_err(|e| ProxyError::CassetteDir {
                path: config.cassette.clone(),
                source: std::io::Error::other(e.to_string()),
            })??;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ProxyError::Client)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ProxyError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ProxyError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            mode: config.mode,
            upstream,
            http,
            cassette: Arc::new(cassette),
            stats: Counters::default(),
            max_request_bytes: config.max_request_bytes.get(),
            max_recorded_bytes: config.max_recorded_bytes.get(),
            tasks: std::sync::Mutex::default(),
            in_flight: tokio::sync::watch::Sender::new(0),
        });
        // Replayed chunks are written back to back: without TCP_NODELAY, Nagle's algorithm
        // holds the second write until the client's delayed ACK (40 ms on Linux).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = server::router(shared.clone());
        Ok(Proxy {
            served: Served::spawn(listener, addr, app),
            shared,
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
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats.snapshot()
    }

    /// Waits until no forwarded response is in flight: each has ended and its recording
    /// is stored. Clients often stop reading at the provider's end-of-message event, a
    /// moment before the body ends, and the exchange is recorded at the body's end: call
    /// this before looking at [`Proxy::stats`] or the cassette.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches a counter.
    pub async fn wait_idle(&self) {
        self.shared.idle().await;
    }

    /// The number of exchanges in the cassette (loaded and recorded).
    pub fn exchanges(&self) -> usize {
        self.shared.cassette.len()
    }

    /// Stops accepting connections and waits for the server task to end (responses in
    /// flight finish first, recordings included).
    pub async fn shutdown(mut self) {
        self.served.shutdown().await;
        self.shared.idle().await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The server task stops with `served`; the forwarding tasks are the proxy's own.
        self.shared.abort_tasks();
    }
}
