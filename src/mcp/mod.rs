//! Tools from Model Context Protocol servers, through the official Rust SDK (`rmcp`).
//!
//! [`McpTools::connect`] starts every server (a stdio child process, or a streamable HTTP
//! endpoint), runs the `initialize` handshake and lists the tools, every page; then
//! [`McpTools::registry`] (or [`register`](McpTools::register) into a registry of your
//! own) gives a [`ToolRegistry`] whose tools call the servers: the turn stream and the
//! conversation loop run them like any other tool.
//!
//! ```no_run
//! use toolstream::{DispatchPolicy, McpServer, McpTools};
//!
//! # async fn run() -> Result<(), toolstream::McpError> {
//! let mcp = McpTools::connect([
//!     McpServer::parse("npx -y @modelcontextprotocol/server-everything")?,
//!     McpServer::stdio("files", "python3").arg("files_server.py").eager("stat", true),
//! ])
//! .await?;
//! let tools = mcp.registry();
//! for tool in mcp.tools() {
//!     println!("{} (from {}): eager {}", tool.name, tool.server, tool.eager);
//! }
//! // ... run turns with `tools` and `DispatchPolicy::PerTool` ...
//! # let _ = (tools, DispatchPolicy::PerTool);
//! if mcp.changed() && mcp.refresh().await? {
//!     let _tools = mcp.registry(); // the servers' new tool set
//! }
//! mcp.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Tool names
//!
//! MCP names a tool with any string unique within its server ("Tool names SHOULD be
//! between 1 and 128 characters", MCP 2025-11-25, Tools, Tool Names); the providers take
//! `^[a-zA-Z0-9_-]{1,64}$`. So a tool is registered under a name that fits, and called on
//! its server under its own ([`McpTools::tools`] tells which went where). The rules, in
//! order:
//!
//! 1. **Rewrite.** Every character outside `a-z A-Z 0-9 _ -` becomes `_` (one per
//!    character, not per byte), and the name is cut to 64 characters; an empty name
//!    becomes `_`. A name that already fits is kept as it is.
//! 2. **Prefix on collision across servers.** When tools of two or more servers end up
//!    with the same name, every one of them is renamed `<server label>__<name>` (the
//!    label rewritten the same way, the whole cut to 64): `files__read`, `web__read`. None
//!    keeps the plain name, which would otherwise go to whichever server came first.
//! 3. **Number what still collides.** A name already taken (two tools of one server that
//!    rewrite alike, two servers with one label, a prefixed name equal to another tool's)
//!    gets `_2`, `_3`, ... (the first free one; the base cut so the whole fits in 64),
//!    taking the tools in order: servers in the order given, tools in the order their
//!    server listed them.
//!
//! The same servers listing the same tools always give the same names.
//!
//! # Eager dispatch
//!
//! MCP 2025-11-25, Tools, Tool Annotations: "`readOnlyHint`: If true, the tool does not
//! modify its environment", "`openWorldHint`: If true, this tool may interact with an
//! 'open world' of external entities", and "Clients should never make tool use decisions
//! based on ToolAnnotations received from untrusted servers". A tool is
//! [eager-safe](crate::ToolOptions::eager_safe), so that under
//! [`DispatchPolicy::PerTool`](crate::DispatchPolicy::PerTool) it starts while the model
//! still streams, when
//!
//! - its server says `readOnlyHint: true`, and
//! - does not say `openWorldHint: true` (unless [`McpServer::eager_open_world`]): a
//!   read-only call that reaches the outside world (a web search, a paid API) still waits
//!   for the model to commit to it. An absent `openWorldHint` does not hold a tool back
//!   (the spec's default for it is `true`, but SPEC §7 makes every `readOnlyHint: true`
//!   tool eager, and servers that mark read-only tools rarely say more).
//!
//! Everything else is batched: it starts when the message ends with `tool_use`. The
//! annotations are the server's word: [`McpServer::eager`] overrides them per tool, and
//! wins both ways.
//!
//! # Results
//!
//! Text, images, embedded resources and `structuredContent` become the tool result's
//! content (see the table in `content`'s source docs, summed up here): text and embedded
//! text resources as text parts, images as image parts, `structuredContent` as a JSON part
//! when no text block already carries it, audio, blobs and resource links as a short text
//! naming them. A result with `isError: true` is an error result in its slot,
//! [`ToolErrorKind::Failed`](crate::ToolErrorKind::Failed), with the server's text as the
//! message.
//!
//! # Errors of a call
//!
//! A call never fails the turn: whatever happens is an error result in its slot.
//!
//! - Arguments that miss a `required` property, give a property a JSON type its schema's
//!   `type` does not allow, or add a property to a schema with
//!   `additionalProperties: false` are refused before the call, as
//!   [`InvalidArguments`](crate::ToolErrorKind::InvalidArguments). This checks the
//!   schema's top level only, not a full JSON Schema validation: the servers of the
//!   official Python and TypeScript SDKs answer invalid arguments with `isError: true`,
//!   which would read as the tool's own failure. See `arguments`'s source docs.
//! - A JSON-RPC error `-32602` (invalid params) is `InvalidArguments` too, unless its
//!   message says the tool is unknown (the spec's own example: `Unknown tool: ...`): then
//!   the result names the tool and the server, and [`McpTools::changed`] turns true.
//! - Any other JSON-RPC error is `Failed`, with its code and message.
//!
//! # Restart
//!
//! A server that exits or drops the connection while calls are running answers each of
//! them with an error naming the server (and quoting the end of its standard error). The
//! next call starts it again: spawn (or connect), handshake and listing, within the
//! connect timeout; if that fails, that call's result says why, and the call after tries
//! again. A restart that lists different tools sets [`McpTools::changed`].
//!
//! # Cancellation and timeouts
//!
//! MCP 2025-11-25, Cancellation: "When a party wants to cancel an in-progress request, it
//! sends a `notifications/cancelled` notification containing: The ID of the request to
//! cancel; An optional reason string". A call whose future is dropped (its tool timeout
//! passed, the turn's deadline, a turn that did not commit, a dropped turn stream) sends
//! that notification for its request: rmcp does it as the future drops. Nothing waits for
//! the server to stop: "The sender of the cancellation notification SHOULD ignore any
//! response to the request that arrives afterward".
//!
//! # Standard error of a stdio server
//!
//! MCP 2025-11-25, Transports, stdio: "The server MAY write UTF-8 strings to its standard
//! error (stderr) for any logging purposes", and "Clients MAY capture, forward, or ignore
//! this logging". It is captured, never inherited: the server cannot write into this
//! process's terminal or interleave with its standard output. Each line goes to `tracing`
//! at debug level (with the server's label), and the last KiB is quoted in the errors that
//! concern the server (a failed start, a server that exits mid-call).
//!
//! # HTTP
//!
//! [`McpServer::http`] speaks the streamable HTTP transport through rmcp's reqwest client,
//! built here with rustls and the ring provider (the same TLS as the rest of toolstream,
//! no C build) and the Mozilla root certificates. Redirects are not followed.
//!
//! # Ending
//!
//! MCP 2025-11-25, Lifecycle, Shutdown: "For the stdio transport, the client SHOULD
//! initiate shutdown by: First, closing the input stream to the child process (the server);
//! Waiting for the server to exit, or sending `SIGTERM` if the server does not exit within
//! a reasonable time; Sending `SIGKILL` if the server does not exit within a reasonable time
//! after `SIGTERM`". [`McpTools::shutdown`] does that (rmcp's steps wait 3 s each), and
//! reaps the child. When the last clone of the [`McpTools`] and of every registry holding
//! its tools is dropped, the same happens in the background (the tokio runtime must still
//! be running).

use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::future::{join_all, try_join_all};
use serde_json::{Map, Value};

use crate::tool::{Tool, ToolError, ToolFuture, ToolOptions, ToolRegistry};

mod arguments;
mod command;
mod connection;
mod content;
mod error;
mod names;
mod server;

use connection::Connection;
pub use error::McpError;
pub use server::McpServer;

/// One tool of an MCP server, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct McpToolInfo {
    /// The name it is registered under and sent to the model (see
    /// [Tool names](self#tool-names)).
    pub name: String,
    /// Its server's label.
    pub server: String,
    /// The name its server gives it, used to call it.
    pub original_name: String,
    /// `readOnlyHint`, as the server says it.
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    pub destructive: Option<bool>,
    /// `idempotentHint`.
    pub idempotent: Option<bool>,
    /// `openWorldHint`.
    pub open_world: Option<bool>,
    /// Whether it is eager-safe: the decision, after the user's overrides (see
    /// [Eager dispatch](self#eager-dispatch)).
    pub eager: bool,
}

/// The tools of a set of connected MCP servers.
///
/// Cheap to clone: clones share the servers. See the [module docs](self).
#[derive(Clone)]
pub struct McpTools {
    inner: Arc<Inner>,
}

struct Inner {
    /// In the order the servers were given.
    connections: Vec<Arc<Connection>>,
    /// What each server listed last, and the tools that makes.
    listing: Mutex<Listing>,
}

#[derive(Clone, PartialEq)]
struct Listing {
    per_server: Vec<Vec<rmcp::model::Tool>>,
    tools: Vec<Listed>,
}

/// A listed tool and what registering it takes.
#[derive(Clone, PartialEq)]
struct Listed {
    info: McpToolInfo,
    description: String,
    schema: Arc<Map<String, Value>>,
    connection: usize,
}

impl McpTools {
    /// Starts every server, in parallel: spawn or connect, the `initialize` handshake, and
    /// `tools/list` followed through every page (`nextCursor`), each server within its
    /// [connect timeout](McpServer::connect_timeout).
    ///
    /// # Errors
    ///
    /// The first [`McpError`] to happen, naming its server; the servers already started
    /// are ended.
    pub async fn connect(servers: impl IntoIterator<Item = McpServer>) -> Result<Self, McpError> {
        let started = try_join_all(servers.into_iter().map(Connection::connect)).await?;
        let (connections, per_server): (Vec<_>, Vec<_>) = started
            .into_iter()
            .map(|(connection, tools)| (Arc::new(connection), tools))
            .unzip();
        let tools = listed(&connections, &per_server);
        Ok(McpTools {
            inner: Arc::new(Inner {
                connections,
                listing: Mutex::new(Listing { per_server, tools }),
            }),
        })
    }

    /// What was listed: one entry per tool, servers in the order given, tools in the order
    /// each server listed them.
    pub fn tools(&self) -> Vec<McpToolInfo> {
        self.listing().tools.into_iter().map(|t| t.info).collect()
    }

    /// Adds every tool to `registry`: its name, its description, its input schema as the
    /// server gives it, and [eager-safe](ToolOptions::eager_safe) as decided (a timeout
    /// already set for that name is kept). A tool with no description is registered
    /// with none, and [`ToolRegistry::definitions`] warns about it.
    pub fn register(&self, mut registry: ToolRegistry) -> ToolRegistry {
        for t in self.listing().tools {
            let name = t.info.name.as_str();
            let options = registry
                .get(name)
                .map_or_else(ToolOptions::new, |r| r.options())
                .eager_safe(t.info.eager);
            let tool = McpTool {
                connection: self.inner.connections[t.connection].clone(),
                original: t.info.original_name.as_str().into(),
                schema: t.schema.clone(),
            };
            registry = registry
                .with_tool(name, tool)
                .with_definition(name, &t.description, Value::Object((*t.schema).clone()))
                .with_options(name, options);
        }
        registry
    }

    /// A registry with just these tools.
    pub fn registry(&self) -> ToolRegistry {
        self.register(ToolRegistry::new())
    }

    /// Whether some server sent `notifications/tools/list_changed` since its tools were
    /// last listed (or restarted with other tools, or said a listed tool is unknown).
    pub fn changed(&self) -> bool {
        self.inner.connections.iter().any(|c| c.changed())
    }

    /// Lists again the tools of the servers that [changed](Self::changed), in parallel.
    /// Returns whether the tool set is different (names, descriptions, schemas or
    /// annotations). Registries made before keep the old tools: make one again with
    /// [`registry`](Self::registry) or [`register`](Self::register).
    ///
    /// # Errors
    ///
    /// The first server whose listing failed; the others' new listings are kept.
    pub async fn refresh(&self) -> Result<bool, McpError> {
        let to_list: Vec<usize> = (0..self.inner.connections.len())
            .filter(|&i| self.inner.connections[i].changed())
            .collect();
        let listings = join_all(to_list.iter().map(|&i| self.inner.connections[i].list())).await;
        let mut first_error = None;
        let mut listing = self.inner.listing.lock().unwrap_or_else(|e| e.into_inner());
        let before = listing.tools.clone();
        for (i, result) in to_list.into_iter().zip(listings) {
            match result {
                Ok(tools) => listing.per_server[i] = tools,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        listing.tools = listed(&self.inner.connections, &listing.per_server);
        let different = listing.tools != before;
        drop(listing);
        match first_error {
            Some(e) => Err(e),
            None => Ok(different),
        }
    }

    /// Ends every server, in parallel; stdio children are waited for (and killed if they
    /// do not exit), so none is left running. Calls made after this (through a registry
    /// that outlives it) fail with an error saying the server was shut down.
    pub async fn shutdown(self) {
        join_all(self.inner.connections.iter().map(|c| c.shutdown())).await;
    }

    fn listing(&self) -> Listing {
        self.inner
            .listing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl fmt::Debug for McpTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<&str> = self
            .inner
            .connections
            .iter()
            .map(|c| c.server.name())
            .collect();
        let tools: Vec<String> = self
            .listing()
            .tools
            .into_iter()
            .map(|t| t.info.name)
            .collect();
        f.debug_struct("McpTools")
            .field("servers", &servers)
            .field("tools", &tools)
            .finish()
    }
}

/// The tools of every server, named (see [Tool names](self#tool-names)) and judged eager.
fn listed(connections: &[Arc<Connection>], per_server: &[Vec<rmcp::model::Tool>]) -> Vec<Listed> {
    let labelled: Vec<(&str, Vec<&str>)> = connections
        .iter()
        .zip(per_server)
        .map(|(c, tools)| {
            (
                c.server.name(),
                tools.iter().map(|t| t.name.as_ref()).collect(),
            )
        })
        .collect();
    let names = names::assign(&labelled);
    let mut out = Vec::new();
    for (i, (tools, names)) in per_server.iter().zip(names).enumerate() {
        let server = &connections[i].server;
        for (tool, name) in tools.iter().zip(names) {
            let a = tool.annotations.as_ref();
            let eager = server.decide_eager(&tool.name, &name, a);
            out.push(Listed {
                info: McpToolInfo {
                    server: server.name().to_owned(),
                    original_name: tool.name.to_string(),
                    read_only: a.and_then(|a| a.read_only_hint),
                    destructive: a.and_then(|a| a.destructive_hint),
                    idempotent: a.and_then(|a| a.idempotent_hint),
                    open_world: a.and_then(|a| a.open_world_hint),
                    eager,
                    name,
                },
                description: tool.description.as_deref().unwrap_or_default().to_owned(),
                schema: tool.input_schema.clone(),
                connection: i,
            });
        }
    }
    out
}

/// A registered MCP tool: calls its server.
struct McpTool {
    connection: Arc<Connection>,
    original: Arc<str>,
    schema: Arc<Map<String, Value>>,
}

impl Tool for McpTool {
    fn call(&self, input: Value) -> ToolFuture {
        let connection = self.connection.clone();
        let original = self.original.clone();
        let schema = self.schema.clone();
        Box::pin(async move {
            let arguments = match input {
                Value::Object(arguments) => arguments,
                other => {
                    return Err(ToolError::invalid_arguments(format!(
                        "invalid arguments: expected a JSON object, got {other}"
                    )))
                }
            };
            arguments::check(&schema, &arguments)
                .map_err(|why| ToolError::invalid_arguments(format!("invalid arguments: {why}")))?;
            connection.call(&original, arguments).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        send_sync::<McpTools>();
        send_sync::<McpServer>();
        send_sync::<McpError>();
        send_sync::<McpToolInfo>();
    }
}
