//! An MCP server for the tests of toolstream's MCP client (tests/mcp_client.rs), written
//! with `rmcp`'s server side: it speaks MCP on standard input and output, or with
//! `--http 127.0.0.1:0` over streamable HTTP (printing `http://ADDR/mcp` as its first line).
//!
//! Its tools exercise what a client must handle: pages (`--page-size`), annotations, a
//! name MCP allows and the providers do not (`fs.read`), a result of several kinds of
//! content with `structuredContent`, `isError`, invalid params (`-32602`), a slow call that
//! notes its cancellation, a call that kills the server, a tool that vanishes after the
//! first listing, and one that adds a tool and sends `notifications/tools/list_changed`.
//!
//! Options: `--label L` (echo answers `L: text`), `--log FILE` (one line per start,
//! cancellation and finished slow call), `--page-size N` (default 3), `--fail-start`
//! (write to stderr and exit before the handshake), `--hang-start` (never answer),
//! `--stderr TEXT` (write TEXT on stderr at start).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::{json, Map, Value};

#[derive(Clone)]
struct TestServer {
    label: String,
    log: Option<PathBuf>,
    page_size: usize,
    /// `add_tool` was called: `extra` is listed.
    extra: Arc<AtomicBool>,
    /// The first listing is done: `vanishing` is gone.
    listed_once: Arc<AtomicBool>,
}

impl TestServer {
    fn note(&self, line: &str) {
        if let Some(path) = &self.log {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the log opens");
            writeln!(file, "{line}").expect("the log takes a line");
        }
    }

    fn tools(&self) -> Vec<Tool> {
        let schema = |v: Value| Arc::new(v.as_object().expect("an object schema").clone());
        let read_only = ToolAnnotations::from_raw(None, Some(true), None, None, Some(false));
        let text_arg = json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        });
        let mut tools = vec![
            Tool::new("echo", "Answers with its text.", schema(text_arg.clone()))
                .with_annotations(read_only.clone()),
            Tool::new(
                "fs.read",
                "Reads a path.",
                schema(json!({"type": "object", "properties": {"path": {"type": "string"}}})),
            )
            .with_annotations(read_only.clone()),
            Tool::new("web_search", "Searches the web.", schema(text_arg.clone()))
                .with_annotations(ToolAnnotations::from_raw(
                    None,
                    Some(true),
                    None,
                    None,
                    Some(true),
                )),
            Tool::new("write_note", "Overwrites the note.", schema(text_arg)).with_annotations(
                ToolAnnotations::from_raw(None, Some(false), Some(true), Some(true), Some(false)),
            ),
            Tool::new(
                "count",
                "Counts to n.",
                schema(json!({
                    "type": "object",
                    "properties": {"n": {"type": "integer", "minimum": 0}},
                    "required": ["n"],
                    "additionalProperties": false,
                })),
            )
            .with_annotations(read_only.clone()),
            Tool::new(
                "slow",
                "Waits ms milliseconds.",
                schema(json!({"type": "object", "properties": {"ms": {"type": "integer"}}})),
            )
            .with_annotations(read_only.clone()),
            Tool::new("fail", "Always fails.", schema(json!({"type": "object"}))),
            Tool::new(
                "die",
                "Kills the server.",
                schema(json!({"type": "object"})),
            ),
            Tool::new("picture", "A picture.", schema(json!({"type": "object"}))),
            Tool::new(
                "add_tool",
                "Adds the tool `extra`.",
                schema(json!({"type": "object"})),
            ),
            Tool::new_with_raw("undescribed", None, schema(json!({"type": "object"}))),
        ];
        if !self.listed_once.load(Ordering::SeqCst) {
            tools.push(Tool::new(
                "vanishing",
                "Gone after the first listing.",
                schema(json!({"type": "object"})),
            ));
        }
        if self.extra.load(Ordering::SeqCst) {
            tools.push(Tool::new(
                "extra",
                "Added by add_tool.",
                schema(json!({"type": "object"})),
            ));
        }
        tools
    }

    async fn call(
        &self,
        name: &str,
        args: Map<String, Value>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let text = |t: String| Ok(CallToolResult::success(vec![ContentBlock::text(t)]));
        let arg = |key: &str| args.get(key).cloned().unwrap_or(Value::Null);
        match name {
            "echo" => text(format!(
                "{}: {}",
                self.label,
                arg("text").as_str().unwrap_or("")
            )),
            "fs.read" => text(format!("read {}", arg("path"))),
            "web_search" => text(format!("found {}", arg("text"))),
            "write_note" => text("written".into()),
            "count" => match arg("n").as_i64() {
                Some(n) if n >= 0 => {
                    text((1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(" "))
                }
                _ => Err(ErrorData::invalid_params(
                    "n must be an integer of at least 0",
                    Some(json!({"n": arg("n")})),
                )),
            },
            "slow" => {
                let ms = arg("ms").as_u64().unwrap_or(1000);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(ms)) => {
                        self.note(&format!("finished slow {}", context.id));
                        text(format!("slept {ms} ms"))
                    }
                    _ = context.ct.cancelled() => {
                        self.note(&format!("cancelled slow {}", context.id));
                        text("cancelled".into())
                    }
                }
            }
            "fail" => Ok(CallToolResult::error(vec![ContentBlock::text(
                "the tool broke",
            )])),
            "die" => {
                eprintln!("dying on purpose");
                std::process::exit(3);
            }
            "picture" => {
                let mut result = CallToolResult::success(vec![
                    ContentBlock::text("a red dot"),
                    ContentBlock::image("iVBORw0KGgo=", "image/png"),
                ]);
                result.structured_content = Some(json!({"w": 1, "h": 1}));
                Ok(result)
            }
            "add_tool" => {
                self.extra.store(true, Ordering::SeqCst);
                let _ = context.peer.notify_tool_list_changed().await;
                text("added".into())
            }
            "extra" if self.extra.load(Ordering::SeqCst) => text("extra here".into()),
            "undescribed" => text("ok".into()),
            _ => Err(ErrorData::invalid_params(
                format!("Unknown tool: {name}"),
                None,
            )),
        }
    }
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.tools();
        let start: usize = match request.and_then(|r| r.cursor) {
            Some(cursor) => cursor
                .parse()
                .map_err(|_| ErrorData::invalid_params("bad cursor", None))?,
            None => 0,
        };
        let end = (start + self.page_size).min(tools.len());
        if end == tools.len() {
            self.listed_once.store(true, Ordering::SeqCst);
        }
        Ok(ListToolsResult {
            next_cursor: (end < tools.len()).then(|| end.to_string()),
            tools: tools[start.min(end)..end].to_vec(),
            ..Default::default()
        })
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        self.call(&request.name, args, context)
            .await
            .map(Into::into)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = TestServer {
        label: "test".into(),
        log: None,
        page_size: 3,
        extra: Arc::default(),
        listed_once: Arc::default(),
    };
    let mut http = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--label" => server.label = value()?,
            "--log" => server.log = Some(value()?.into()),
            "--page-size" => server.page_size = value()?.parse()?,
            "--stderr" => eprintln!("{}", value()?),
            "--http" => http = Some(value()?),
            "--fail-start" => {
                eprintln!("cannot start: bad configuration");
                std::process::exit(2);
            }
            "--hang-start" => std::future::pending::<()>().await,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    server.note(&format!("started {}", std::process::id()));
    match http {
        None => {
            server
                .serve(rmcp::transport::stdio())
                .await?
                .waiting()
                .await?;
        }
        Some(addr) => serve_http(server, &addr).await?,
    }
    Ok(())
}

/// Streamable HTTP at `/mcp`, one session per client.
async fn serve_http(server: TestServer, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("http://{}/mcp", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, router).await?;
    Ok(())
}
