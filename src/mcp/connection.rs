//! One MCP server: start it (spawn or connect), run the handshake, list its tools, call
//! them, start it again when it died, end it.
//!
//! ```text
//!            connect / first call
//!   (none) ─────────────────────────▶ Live ──── transport closed (exited, crashed) ──┐
//!     ▲                                 ▲                                             │
//!     │                                 └──── next call: spawn, handshake, list ◀─────┘
//!     └── start failed (that call gets the error; the next call tries again)
//!   shutdown: Live ─▶ Closed (calls fail; nothing restarts)
//! ```

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ErrorCode, Implementation, Tool,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, Peer, RoleClient, ServiceError, ServiceExt};
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;
use tokio::process::ChildStderr;

use super::server::{McpServer, Transport};
use super::{content, McpError};
use crate::tool::{ToolError, ToolOutput};

/// How much of a stdio server's standard error is kept for error messages.
const STDERR_TAIL: usize = 1024;

/// How long an error waits for a server that is exiting to finish writing its standard
/// error, so that the message quotes its last words.
const STDERR_GRACE: Duration = Duration::from_millis(200);

/// One server and its running session.
pub(crate) struct Connection {
    pub(crate) server: McpServer,
    live: tokio::sync::Mutex<State>,
    /// Set by `notifications/tools/list_changed`, and by a restart that listed other tools;
    /// cleared just before a listing.
    changed: Arc<AtomicBool>,
}

enum State {
    /// Not started yet, or its start failed.
    Idle,
    Live(Live),
    /// Shut down: calls fail, nothing restarts.
    Closed,
}

/// A running session.
struct Live {
    service: RunningService<RoleClient, Handler>,
    stderr: Option<StderrTail>,
    /// The tools listed when it started (a restart compares its listing with these).
    tools: Vec<Tool>,
}

/// The client side of the session: it hears `notifications/tools/list_changed`.
struct Handler {
    changed: Arc<AtomicBool>,
}

impl ClientHandler for Handler {
    // MCP 2025-11-25, Tools, List Changed Notification: "When the list of available tools
    // changes, servers that declared the `listChanged` capability SHOULD send a
    // notification". It is only noted here; `McpTools::refresh` lists again.
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.store(true, Ordering::SeqCst);
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("toolstream", env!("CARGO_PKG_VERSION")),
        )
    }
}

impl Connection {
    /// Starts the server and lists its tools.
    ///
    /// # Errors
    ///
    /// [`McpError`] naming the server.
    pub(crate) async fn connect(server: McpServer) -> Result<(Connection, Vec<Tool>), McpError> {
        let changed = Arc::new(AtomicBool::new(false));
        let live = start(&server, &changed).await?;
        let tools = live.tools.clone();
        let connection = Connection {
            server,
            live: tokio::sync::Mutex::new(State::Live(live)),
            changed,
        };
        Ok((connection, tools))
    }

    /// Whether the server said its tools changed since they were last listed.
    pub(crate) fn changed(&self) -> bool {
        self.changed.load(Ordering::SeqCst)
    }

    /// Lists the tools again (restarting a server that died).
    ///
    /// # Errors
    ///
    /// [`McpError::Listing`] or a restart's error.
    pub(crate) async fn list(&self) -> Result<Vec<Tool>, McpError> {
        // Cleared first: a notification that comes during the listing is not lost.
        self.changed.store(false, Ordering::SeqCst);
        let (peer, stderr) = self.peer().await?;
        match list_tools(&peer).await {
            Ok(tools) => {
                if let State::Live(live) = &mut *self.live.lock().await {
                    live.tools = tools.clone();
                }
                Ok(tools)
            }
            Err(source) => Err(McpError::Listing {
                server: self.server.name.clone(),
                source: Box::new(source),
                stderr: tail_after_exit(stderr.as_ref()).await,
            }),
        }
    }

    /// Calls the tool the server names `tool`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the call: rmcp sends `notifications/cancelled` for its
    /// request id ("When a party wants to cancel an in-progress request, it sends a
    /// `notifications/cancelled` notification containing: The ID of the request to
    /// cancel", MCP 2025-11-25, Cancellation). Dropped during a restart, the server being
    /// started is killed, and the next call starts it again.
    pub(crate) async fn call(&self, tool: &str, arguments: Map<String, Value>) -> ToolOutput {
        let name = &self.server.name;
        let (peer, stderr) = self
            .peer()
            .await
            .map_err(|e| ToolError::failed(e.to_string()))?;
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let error = match peer.call_tool(params).await {
            Ok(result) => return content::tool_output(result),
            Err(error) => error,
        };
        Err(match error {
            ServiceError::McpError(e)
                if e.code == ErrorCode::INVALID_PARAMS && names_unknown_tool(&e.message) =>
            {
                // The server's tools changed under us: a refresh lists them again.
                self.changed.store(true, Ordering::SeqCst);
                ToolError::failed(format!(
                    "the MCP server `{name}` has no tool `{tool}` (any more): {}",
                    e.message
                ))
            }
            // MCP 2025-11-25, Tools, Error Handling: "Protocol Errors: Standard JSON-RPC
            // errors for issues like: Unknown tools; Malformed requests (requests that
            // fail to satisfy CallToolRequest schema)", and JSON-RPC 2.0's -32602 is
            // "Invalid params".
            ServiceError::McpError(e) if e.code == ErrorCode::INVALID_PARAMS => {
                ToolError::invalid_arguments(with_data(
                    format!("invalid arguments: {}", e.message),
                    e.data.as_ref(),
                ))
            }
            ServiceError::McpError(e) => ToolError::failed(with_data(
                format!(
                    "the MCP server `{name}` answered with error {}: {}",
                    e.code.0, e.message
                ),
                e.data.as_ref(),
            )),
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                let mut message = format!(
                    "the MCP server `{name}` closed the connection during the call (it exited?); \
                     the next call starts it again"
                );
                if let Some(said) = tail_after_exit(stderr.as_ref()).await {
                    message.push_str(&format!("; its stderr ends: {said:?}"));
                }
                ToolError::failed(message)
            }
            other => ToolError::failed(format!("the MCP server `{name}`: {other}")),
        })
    }

    /// The live session's peer, starting the server if it is not running.
    async fn peer(&self) -> Result<(Peer<RoleClient>, Option<StderrTail>), McpError> {
        let mut state = self.live.lock().await;
        match &*state {
            State::Live(live) if !live.service.peer().is_transport_closed() => {
                return Ok((live.service.peer().clone(), live.stderr.clone()))
            }
            State::Closed => {
                return Err(McpError::BadConfig {
                    server: self.server.name.clone(),
                    reason: "it was shut down (McpTools::shutdown)".into(),
                })
            }
            State::Live(_) | State::Idle => {}
        }
        // Dead or never started: whatever is left of the old session goes first (a child
        // that is still there is killed as its transport drops).
        let before = match std::mem::replace(&mut *state, State::Idle) {
            State::Live(live) => Some(live.tools),
            _ => None,
        };
        tracing::info!(server = %self.server.name, "starting the MCP server again");
        let live = start(&self.server, &self.changed).await?;
        if before.is_some_and(|tools| tools != live.tools) {
            self.changed.store(true, Ordering::SeqCst);
        }
        let answer = (live.service.peer().clone(), live.stderr.clone());
        *state = State::Live(live);
        Ok(answer)
    }

    /// Ends the session: a stdio server's input is closed and it is waited for, then sent
    /// SIGTERM, then killed (rmcp's `graceful_shutdown`, each step waiting up to 3 s).
    pub(crate) async fn shutdown(&self) {
        let state = std::mem::replace(&mut *self.live.lock().await, State::Closed);
        if let State::Live(live) = state {
            if let Err(e) = live.service.cancel().await {
                tracing::warn!(server = %self.server.name, "ending the MCP server: {e}");
            }
        }
    }
}

/// Starts a session within the connect timeout: spawn or connect, handshake, list.
async fn start(server: &McpServer, changed: &Arc<AtomicBool>) -> Result<Live, McpError> {
    let name = &server.name;
    let handler = Handler {
        changed: changed.clone(),
    };
    let (stderr, session) = match &server.transport {
        Transport::Stdio {
            program,
            args,
            env,
            current_dir,
        } => {
            let mut command = tokio::process::Command::new(program);
            command.args(args).envs(env.iter().map(|(k, v)| (k, v)));
            if let Some(dir) = current_dir {
                command.current_dir(dir);
            }
            let (transport, stderr) = TokioChildProcess::builder(command)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| McpError::Spawn {
                    server: name.clone(),
                    program: program.to_string_lossy().into_owned(),
                    source,
                })?;
            let stderr = stderr.map(|pipe| StderrTail::start(pipe, name));
            let session = session(handler, transport);
            (
                stderr,
                tokio::time::timeout(server.connect_timeout, session).await,
            )
        }
        Transport::Http { url, headers } => {
            let client = http_client(name)?;
            let mut custom = HashMap::new();
            for (key, value) in headers {
                let bad = |what: &str| McpError::BadConfig {
                    server: name.clone(),
                    reason: format!("the header {key:?} has a {what} HTTP does not allow"),
                };
                let key_parsed =
                    http::HeaderName::try_from(key.as_str()).map_err(|_| bad("name"))?;
                let value =
                    http::HeaderValue::try_from(value.as_str()).map_err(|_| bad("value"))?;
                custom.insert(key_parsed, value);
            }
            if reqwest13::Url::parse(url).is_err() {
                return Err(McpError::BadConfig {
                    server: name.clone(),
                    reason: format!("{url:?} is not a URL"),
                });
            }
            let config =
                StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(custom);
            let transport = StreamableHttpClientTransport::with_client(client, config);
            let session = session(handler, transport);
            (
                None,
                tokio::time::timeout(server.connect_timeout, session).await,
            )
        }
    };
    let failure = match session {
        Ok(Ok((service, tools))) => {
            return Ok(Live {
                service,
                stderr,
                tools,
            })
        }
        Ok(Err(failure)) => failure,
        Err(_elapsed) => {
            return Err(McpError::Timeout {
                server: name.clone(),
                after: server.connect_timeout,
                stderr: tail_after_exit(stderr.as_ref()).await,
            })
        }
    };
    let stderr = tail_after_exit(stderr.as_ref()).await;
    let server = name.clone();
    Err(match failure {
        Failure::Handshake(source) => McpError::Handshake {
            server,
            source,
            stderr,
        },
        Failure::Listing(source) => McpError::Listing {
            server,
            source: Box::new(source),
            stderr,
        },
    })
}

/// Which step of a start failed.
enum Failure {
    Handshake(Box<rmcp::service::ClientInitializeError>),
    Listing(ServiceError),
}

/// The handshake ("The initialization phase MUST be the first interaction between client
/// and server", MCP 2025-11-25, Lifecycle), then the listing.
async fn session<T, E, A>(
    handler: Handler,
    transport: T,
) -> Result<(RunningService<RoleClient, Handler>, Vec<Tool>), Failure>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let service = handler
        .serve(transport)
        .await
        .map_err(|e| Failure::Handshake(Box::new(e)))?;
    let tools = list_tools(service.peer()).await.map_err(Failure::Listing)?;
    Ok((service, tools))
}

/// Every page of `tools/list`, when the server has tools: "Servers that support tools
/// MUST declare the `tools` capability" (MCP 2025-11-25, Tools, Capabilities); one that
/// does not has none.
async fn list_tools(peer: &Peer<RoleClient>) -> Result<Vec<Tool>, ServiceError> {
    let has_tools = peer
        .peer_info()
        .is_none_or(|info| info.capabilities.tools.is_some());
    if !has_tools {
        return Ok(Vec::new());
    }
    peer.list_all_tools().await
}

/// The HTTP client of streamable HTTP servers: rustls with the ring provider and the
/// Mozilla roots (toolstream's TLS everywhere), no redirects (a redirected POST would
/// lose its body, or carry the session to another origin), no idle pooling (rmcp's own
/// choice: a reused connection whose last body was not read to the end stalls).
fn http_client(name: &str) -> Result<reqwest13::Client, McpError> {
    let bad = |reason: String| McpError::BadConfig {
        server: name.to_owned(),
        reason,
    };
    // rustls 0.23.48 deprecates ring's provider (it has no post-quantum key exchange).
    // Kept: aws-lc-rs, the provider that has one, is a C and assembly build, and the
    // provider reqwest 0.12 gives the model clients is ring's too.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest13::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest13::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| bad(format!("the HTTP client could not be built: {e}")))
}

/// Whether an invalid-params message says the tool does not exist (the spec's example:
/// `"Unknown tool: invalid_tool_name"`).
fn names_unknown_tool(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("unknown tool") || message.contains("tool not found")
}

/// `message`, then the error's `data` when it says something.
fn with_data(mut message: String, data: Option<&Value>) -> String {
    match data {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            message.push_str(": ");
            message.push_str(text);
        }
        Some(other) => {
            message.push_str(": ");
            message.push_str(&other.to_string());
        }
    }
    message
}

/// The end of a stdio server's standard error, after giving an exiting server a moment
/// to finish writing it.
async fn tail_after_exit(stderr: Option<&StderrTail>) -> Option<String> {
    let stderr = stderr?;
    let mut ended = stderr.ended.clone();
    let _ = tokio::time::timeout(STDERR_GRACE, ended.wait_for(|ended| *ended)).await;
    stderr.text()
}

/// What a stdio server writes on its standard error. It is read as it comes (a full pipe
/// would block the server), passed to `tracing` one line at a time (debug level, with the
/// server's label), and its last [`STDERR_TAIL`] bytes kept for error messages.
#[derive(Clone)]
struct StderrTail {
    tail: Arc<SyncMutex<Vec<u8>>>,
    /// Turns `true` when the pipe is closed.
    ended: tokio::sync::watch::Receiver<bool>,
}

impl StderrTail {
    fn start(mut pipe: ChildStderr, server: &str) -> StderrTail {
        let tail = Arc::new(SyncMutex::new(Vec::new()));
        let (ended_tx, ended) = tokio::sync::watch::channel(false);
        let kept = tail.clone();
        let server = server.to_owned();
        tokio::spawn(async move {
            let mut line = Vec::new();
            let mut buf = [0u8; 4096];
            // Ends at end of file (the server exited) or on a read error.
            while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                let chunk = &buf[..n];
                {
                    let mut tail = kept.lock().unwrap_or_else(|e| e.into_inner());
                    tail.extend_from_slice(chunk);
                    let excess = tail.len().saturating_sub(STDERR_TAIL);
                    tail.drain(..excess);
                }
                for &b in chunk {
                    if b == b'\n' || line.len() >= STDERR_TAIL {
                        log_line(&server, &line);
                        line.clear();
                    }
                    if b != b'\n' {
                        line.push(b);
                    }
                }
            }
            log_line(&server, &line);
            let _ = ended_tx.send(true);
        });
        StderrTail { tail, ended }
    }

    /// The kept end, trimmed (`None` when the server wrote nothing).
    fn text(&self) -> Option<String> {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&tail);
        // The cut may have split a character: its remains are dropped.
        let text = text.trim_start_matches('\u{FFFD}').trim();
        (!text.is_empty()).then(|| text.to_owned())
    }
}

fn log_line(server: &str, line: &[u8]) {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end();
    if !line.is_empty() {
        tracing::debug!(server, "MCP server stderr: {line}");
    }
}
