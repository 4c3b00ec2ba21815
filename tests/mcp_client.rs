//! The MCP client against real MCP servers over stdio and streamable HTTP:
//! examples/mcp_test_server.rs (rmcp's server side, written for these cases) and the
//! binary's bundled demo server (`toolstream mcp-demo-server`). Each test runs whole turns
//! through the turn stream, as an application does.
//!
//! Real child processes answer here, so time is not paused; nothing asserts how fast
//! anything is, only what happens and in which order.
#![cfg(all(feature = "mcp", feature = "cli"))]

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use serde_json::{json, Value};
use toolstream::{
    Block, ContentPart, Delta, DispatchPolicy, McpError, McpServer, McpTools, Provider, StopKind,
    StopReason, StreamEvent, ToolErrorKind, ToolOptions, ToolRegistry, ToolResult, TurnConfig,
    TurnEvent, TurnStream, Usage,
};

// ---- servers -------------------------------------------------------------------------

/// examples/mcp_test_server, built by `cargo test` beside this test's own binary.
fn test_server_program() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = target
        .join("examples")
        .join(format!("mcp_test_server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it, or `cargo build --example mcp_test_server`",
        path.display()
    );
    path
}

fn test_server(label: &str) -> McpServer {
    McpServer::stdio(label, test_server_program()).args(["--label", label])
}

/// A file the test server writes its notes to (starts, cancellations).
struct Log(PathBuf);

impl Log {
    fn new() -> Log {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "toolstream-mcp-client-{}-{n}.log",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        Log(path)
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (10 s at most) for a line starting with `prefix`.
    async fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.starts_with(prefix)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no line starting with {prefix:?} in {:?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---- turns ---------------------------------------------------------------------------

/// A message with a tool call per `(name, arguments)`, ending with `tool_use`.
fn message(calls: &[(&str, Value)]) -> Vec<StreamEvent> {
    let mut e = vec![StreamEvent::MessageStart {
        id: Some("msg_1".into()),
        model: None,
        usage: Usage::default(),
    }];
    for (index, (name, args)) in calls.iter().enumerate() {
        e.push(StreamEvent::BlockStart {
            index,
            block: Block::ToolUse {
                id: format!("toolu_{index}"),
                name: (*name).into(),
            },
        });
        e.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::ToolInput(args.to_string()),
        });
        e.push(StreamEvent::BlockStop { index });
    }
    e.push(StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
        usage: Usage::default(),
    });
    e.push(StreamEvent::MessageStop);
    e
}

/// Yields each event after `gap`, as a model generating would.
fn paced(
    events: Vec<StreamEvent>,
    gap: Duration,
) -> impl Stream<Item = Result<StreamEvent, Infallible>> {
    futures_util::stream::iter(events).then(move |e| async move {
        tokio::time::sleep(gap).await;
        Ok(e)
    })
}

async fn turn_events<S>(events: S, tools: &ToolRegistry, config: TurnConfig) -> Vec<TurnEvent>
where
    S: Stream<Item = Result<StreamEvent, Infallible>>,
{
    let stream = TurnStream::new(events, Arc::new(tools.clone()), config);
    stream.map(|e| e.unwrap()).collect().await
}

/// The results of one turn calling `calls`, in request order.
async fn results(tools: &ToolRegistry, calls: &[(&str, Value)]) -> Vec<ToolResult> {
    let events = futures_util::stream::iter(message(calls).into_iter().map(Ok));
    let all = turn_events(events, tools, TurnConfig::new(Provider::Anthropic)).await;
    all.into_iter()
        .filter_map(|e| match e {
            TurnEvent::Result(r) => Some(r),
            _ => None,
        })
        .collect()
}

async fn result(tools: &ToolRegistry, name: &str, args: Value) -> ToolResult {
    results(tools, &[(name, args)]).await.remove(0)
}

fn failed_with(r: &ToolResult, kind: ToolErrorKind, needle: &str) {
    assert_eq!(r.error.as_ref(), Some(&kind), "{r:?}");
    assert!(
        r.content.contains(needle),
        "{:?} lacks {needle:?}",
        r.content
    );
}

// ---- listing and registering -----------------------------------------------------------

/// Every page is listed (12 tools, 3 per page), in the server's order; names that the
/// providers refuse are rewritten; annotations decide eager, and the user's word wins.
#[tokio::test]
async fn every_page_is_listed_and_annotations_decide_eager() {
    let server = test_server("t")
        .args(["--page-size", "3"])
        .eager("write_note", true)
        .eager("count", false);
    let mcp = McpTools::connect([server]).await.unwrap();
    let tools = mcp.tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "echo",
            "fs_read",
            "web_search",
            "write_note",
            "count",
            "slow",
            "fail",
            "die",
            "picture",
            "add_tool",
            "undescribed",
            "vanishing"
        ]
    );
    let info = |name: &str| tools.iter().find(|t| t.name == name).unwrap().clone();
    assert_eq!(info("fs_read").original_name, "fs.read");
    assert_eq!(info("fs_read").server, "t");
    let eager: Vec<(&str, bool)> = [
        "echo",
        "fs_read",
        "web_search",
        "write_note",
        "count",
        "fail",
    ]
    .into_iter()
    .map(|n| (n, info(n).eager))
    .collect();
    assert_eq!(
        eager,
        [
            ("echo", true),        // readOnlyHint, openWorldHint false
            ("fs_read", true),     // same
            ("web_search", false), // read-only but open world
            ("write_note", true),  // destructive, but the user said so
            ("count", false),      // read-only, but the user said no
            ("fail", false),       // no annotations
        ]
    );
    let w = info("write_note");
    assert_eq!(
        (w.read_only, w.destructive, w.idempotent, w.open_world),
        (Some(false), Some(true), Some(true), Some(false))
    );

    let registry = mcp.registry();
    assert!(registry.get("echo").unwrap().options().is_eager_safe());
    assert!(!registry
        .get("web_search")
        .unwrap()
        .options()
        .is_eager_safe());
    let definitions = registry.definitions();
    let echo = definitions.iter().find(|d| d.name == "echo").unwrap();
    assert_eq!(echo.description, "Answers with its text.");
    assert_eq!(echo.schema["required"], json!(["text"]));
    let undescribed = definitions
        .iter()
        .find(|d| d.name == "undescribed")
        .unwrap();
    assert_eq!(undescribed.description, "");
    mcp.shutdown().await;
}

/// A timeout set on a name before registering is kept.
#[tokio::test]
async fn register_keeps_a_timeout_already_set() {
    let mcp = McpTools::connect([test_server("t")]).await.unwrap();
    let mine = ToolRegistry::new()
        .with_raw_fn("echo", |_| Box::pin(async { Ok("local".into()) }))
        .with_options("echo", ToolOptions::new().timeout(Duration::from_secs(7)));
    let registry = mcp.register(mine);
    let options = registry.get("echo").unwrap().options();
    assert_eq!(options.get_timeout(), Some(Duration::from_secs(7)));
    assert!(options.is_eager_safe());
    // The MCP tool replaced the local one.
    assert_eq!(
        result(&registry, "echo", json!({"text": "hi"}))
            .await
            .content,
        "t: hi"
    );
    mcp.shutdown().await;
}

/// Tools two servers both offer are all prefixed with their server's label, and each
/// call goes to its own server.
#[tokio::test]
async fn names_shared_across_servers_are_prefixed_and_routed() {
    let mcp = McpTools::connect([test_server("alpha"), test_server("beta")])
        .await
        .unwrap();
    let names: Vec<String> = mcp.tools().into_iter().map(|t| t.name).collect();
    assert!(names.contains(&"alpha__echo".to_owned()), "{names:?}");
    assert!(names.contains(&"beta__fs_read".to_owned()), "{names:?}");
    assert!(!names.contains(&"echo".to_owned()), "{names:?}");
    let tools = mcp.registry();
    let got = results(
        &tools,
        &[
            ("beta__echo", json!({"text": "one"})),
            ("alpha__echo", json!({"text": "two"})),
        ],
    )
    .await;
    let contents: Vec<&str> = got.iter().map(|r| r.content.as_str()).collect();
    assert_eq!(contents, ["beta: one", "alpha: two"]);
    mcp.shutdown().await;
}

// ---- results -------------------------------------------------------------------------

#[tokio::test]
async fn results_map_content_structured_content_and_is_error() {
    let mcp = McpTools::connect([test_server("t")]).await.unwrap();
    let tools = mcp.registry();
    let got = results(
        &tools,
        &[
            ("echo", json!({"text": "hello"})),
            ("picture", json!({})),
            ("fail", json!({})),
            ("fs_read", json!({"path": "/a"})),
        ],
    )
    .await;
    assert_eq!(
        (got[0].error.as_ref(), got[0].content.as_str()),
        (None, "t: hello")
    );
    assert!(got[0].parts.is_empty());
    assert_eq!(
        got[1].parts,
        [
            ContentPart::text("a red dot"),
            ContentPart::image_base64("image/png", "iVBORw0KGgo="),
            ContentPart::json(json!({"w": 1, "h": 1})),
        ]
    );
    failed_with(&got[2], ToolErrorKind::Failed, "the tool broke");
    assert_eq!(
        got[3].content, "read \"/a\"",
        "called by its own name, fs.read"
    );
    mcp.shutdown().await;
}

// ---- failures ------------------------------------------------------------------------

#[tokio::test]
async fn invalid_arguments_are_reported_as_such() {
    let log = Log::new();
    let server = test_server("t").arg("--log").arg(&log.0);
    let mcp = McpTools::connect([server]).await.unwrap();
    let tools = mcp.registry();
    let got = results(
        &tools,
        &[
            // Refused before the call: the schema's top level says so.
            ("echo", json!({})),
            ("count", json!({"n": "three"})),
            ("count", json!({"n": 1, "m": 2})),
            // Passes the pre-check; the server answers -32602.
            ("count", json!({"n": -1})),
            ("count", json!({"n": 3})),
        ],
    )
    .await;
    failed_with(
        &got[0],
        ToolErrorKind::InvalidArguments,
        "missing required property `text`",
    );
    failed_with(
        &got[1],
        ToolErrorKind::InvalidArguments,
        "property `n`: expected integer",
    );
    failed_with(
        &got[2],
        ToolErrorKind::InvalidArguments,
        "unexpected property `m`",
    );
    failed_with(
        &got[3],
        ToolErrorKind::InvalidArguments,
        "invalid arguments: n must be an integer of at least 0",
    );
    assert_eq!(
        (got[4].error.as_ref(), got[4].content.as_str()),
        (None, "1 2 3")
    );
    mcp.shutdown().await;
}

/// A tool the server no longer has: an error naming it and its server, and the tool set
/// is marked changed.
#[tokio::test]
async fn a_tool_the_server_no_longer_has_is_an_error_naming_it() {
    let mcp = McpTools::connect([test_server("t")]).await.unwrap();
    assert!(!mcp.changed());
    let r = result(&mcp.registry(), "vanishing", json!({})).await;
    failed_with(
        &r,
        ToolErrorKind::Failed,
        "the MCP server `t` has no tool `vanishing`",
    );
    assert!(mcp.changed());
    assert!(mcp.refresh().await.unwrap());
    assert!(!mcp.tools().iter().any(|t| t.name == "vanishing"));
    // A name no server offers is the turn's unknown tool, as always.
    let r = result(&mcp.registry(), "nope", json!({})).await;
    assert_eq!(r.error, Some(ToolErrorKind::UnknownTool));
    mcp.shutdown().await;
}

/// A server that exits during a call: that call's result names the server and quotes its
/// stderr; the call after starts the server again and succeeds.
#[tokio::test]
async fn a_server_that_dies_mid_call_is_started_again_by_the_next_call() {
    let log = Log::new();
    let server = test_server("t").arg("--log").arg(&log.0);
    let mcp = McpTools::connect([server]).await.unwrap();
    let tools = mcp.registry();
    let got = results(
        &tools,
        &[("die", json!({})), ("echo", json!({"text": "x"}))],
    )
    .await;
    failed_with(
        &got[0],
        ToolErrorKind::Failed,
        "the MCP server `t` closed the connection",
    );
    assert!(
        got[0].content.contains("dying on purpose"),
        "{}",
        got[0].content
    );
    // The other call of that turn got a result too (an error or an answer, depending on
    // which came first: the server's exit or its answer).
    assert_eq!(got.len(), 2);
    let r = result(&tools, "echo", json!({"text": "again"})).await;
    assert_eq!((r.error, r.content.as_str()), (None, "t: again"));
    let starts = log
        .lines()
        .iter()
        .filter(|l| l.starts_with("started"))
        .count();
    assert_eq!(starts, 2, "{:?}", log.lines());
    mcp.shutdown().await;
}

/// A call past its timeout: the server is told (`notifications/cancelled`) and notes it.
#[tokio::test]
async fn a_timed_out_call_is_cancelled_on_the_server() {
    let log = Log::new();
    let server = test_server("t").arg("--log").arg(&log.0);
    let mcp = McpTools::connect([server]).await.unwrap();
    let tools = mcp.registry().with_options(
        "slow",
        ToolOptions::new().timeout(Duration::from_millis(300)),
    );
    let r = result(&tools, "slow", json!({"ms": 20_000})).await;
    failed_with(&r, ToolErrorKind::TimedOut, "timed out");
    let line = log.wait_for("cancelled slow").await;
    assert!(
        !log.lines().iter().any(|l| l.starts_with("finished")),
        "{line}"
    );
    // The session is still good.
    let r = result(&tools, "slow", json!({"ms": 1})).await;
    assert_eq!(r.content, "slept 1 ms");
    mcp.shutdown().await;
}

// ---- list_changed --------------------------------------------------------------------

#[tokio::test]
async fn list_changed_then_refresh_lists_the_new_tool() {
    let mcp = McpTools::connect([test_server("t")]).await.unwrap();
    let before = mcp.tools().len();
    let r = result(&mcp.registry(), "add_tool", json!({})).await;
    assert_eq!(r.content, "added");
    // The notification comes on its own; wait for it (10 s at most).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !mcp.changed() {
        assert!(Instant::now() < deadline, "no tools/list_changed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(mcp.refresh().await.unwrap());
    assert!(!mcp.changed());
    let names: Vec<String> = mcp.tools().into_iter().map(|t| t.name).collect();
    assert!(names.contains(&"extra".to_owned()), "{names:?}");
    // `vanishing` went with the second listing; `extra` came.
    assert_eq!(names.len(), before);
    let r = result(&mcp.registry(), "extra", json!({})).await;
    assert_eq!(r.content, "extra here");
    // Nothing changed since: a refresh lists nothing and reports no difference.
    assert!(!mcp.refresh().await.unwrap());
    mcp.shutdown().await;
}

// ---- dispatch ------------------------------------------------------------------------

/// Under the per-tool policy, the read-only tool starts while the message streams; the
/// destructive one after it ends.
#[tokio::test]
async fn per_tool_dispatch_starts_read_only_tools_early() {
    let mcp = McpTools::connect([test_server("t")]).await.unwrap();
    let tools = mcp.registry();
    let events = paced(
        message(&[
            ("echo", json!({"text": "a"})),
            ("write_note", json!({"text": "b"})),
        ]),
        Duration::from_millis(30),
    );
    let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::PerTool);
    let all = turn_events(events, &tools, config).await;
    let position = |pred: &dyn Fn(&TurnEvent) -> bool| all.iter().position(pred).unwrap();
    let message_stop = position(&|e| matches!(e, TurnEvent::Model(StreamEvent::MessageStop)));
    let started =
        |i: usize| position(&|e| matches!(e, TurnEvent::Started { index, .. } if *index == i));
    assert!(started(0) < message_stop, "echo started early: {all:#?}");
    assert!(started(1) > message_stop, "write_note waited: {all:#?}");
    mcp.shutdown().await;
}

// ---- connecting ----------------------------------------------------------------------

#[tokio::test]
async fn connect_failures_name_the_server() {
    let e = McpTools::connect([McpServer::stdio("ghost", "/nonexistent/mcp-server")])
        .await
        .unwrap_err();
    assert!(matches!(e, McpError::Spawn { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("MCP server `ghost`: could not start"),
        "{e}"
    );

    let e = McpTools::connect([test_server("ok"), test_server("broken").arg("--fail-start")])
        .await
        .unwrap_err();
    assert!(matches!(e, McpError::Handshake { .. }), "{e}");
    assert_eq!(e.server(), Some("broken"));
    assert!(
        e.to_string().contains("cannot start: bad configuration"),
        "{e}"
    );

    let hanging = test_server("slowpoke")
        .arg("--hang-start")
        .connect_timeout(Duration::from_millis(500));
    let e = McpTools::connect([hanging]).await.unwrap_err();
    assert!(matches!(e, McpError::Timeout { .. }), "{e}");
    assert!(
        e.to_string().contains("`slowpoke`") && e.to_string().contains("500 ms"),
        "{e}"
    );

    let e = McpServer::parse("server 'unclosed").unwrap_err();
    assert!(matches!(e, McpError::BadCommand { .. }), "{e}");
}

/// After `shutdown` the child is gone, and a registry that outlived it says so.
#[tokio::test]
async fn shutdown_ends_the_server() {
    let log = Log::new();
    let server = test_server("t").arg("--log").arg(&log.0);
    let mcp = McpTools::connect([server]).await.unwrap();
    let tools = mcp.registry();
    let pid: u32 = log.wait_for("started").await["started ".len()..]
        .parse()
        .unwrap();
    mcp.shutdown().await;
    if cfg!(target_os = "linux") {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the server (pid {pid}) is still there"
        );
    }
    let r = result(&tools, "echo", json!({"text": "x"})).await;
    failed_with(&r, ToolErrorKind::Failed, "shut down");
}

// ---- streamable HTTP -----------------------------------------------------------------

/// The test server over streamable HTTP on loopback: listing, a call, `isError`.
#[tokio::test]
async fn streamable_http() {
    use tokio::io::AsyncBufReadExt;

    let mut child = tokio::process::Command::new(test_server_program())
        .args(["--label", "web", "--http", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .unwrap();
    let url = first.trim();
    let mut server = McpServer::parse(url).unwrap();
    assert_eq!(server.name(), "127.0.0.1");
    server = server.header("X-Test", "yes");
    let mcp = McpTools::connect([server]).await.unwrap();
    assert_eq!(mcp.tools().len(), 12);
    let tools = mcp.registry();
    let got = results(
        &tools,
        &[("echo", json!({"text": "over http"})), ("fail", json!({}))],
    )
    .await;
    assert_eq!(got[0].content, "web: over http");
    failed_with(&got[1], ToolErrorKind::Failed, "the tool broke");
    mcp.shutdown().await;

    let bad = McpServer::http("h", "http://127.0.0.1:1/mcp").header("bad header", "x");
    let e = McpTools::connect([bad]).await.unwrap_err();
    assert!(matches!(e, McpError::BadConfig { .. }), "{e}");
    child.kill().await.unwrap();
}

// ---- the bundled demo server ---------------------------------------------------------

/// `toolstream mcp-demo-server`: its read-only lookups are eager, `set_home_city` is not,
/// and a call answers.
#[tokio::test]
async fn the_bundled_demo_server() {
    let server = McpServer::stdio("demo", env!("CARGO_BIN_EXE_toolstream")).arg("mcp-demo-server");
    let mcp = McpTools::connect([server]).await.unwrap();
    let tools = mcp.tools();
    let eager = |name: &str| tools.iter().find(|t| t.name == name).map(|t| t.eager);
    assert_eq!(eager("get_weather"), Some(true));
    assert_eq!(eager("set_home_city"), Some(false));
    let r = result(&mcp.registry(), "get_weather", json!({"city": "Paris"})).await;
    assert!(r.is_ok(), "{r:?}");
    assert!(r.content.contains("Paris"), "{}", r.content);
    mcp.shutdown().await;
}
