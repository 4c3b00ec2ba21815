#![cfg(all(
    feature = "mcp",
    feature = "mock",
    feature = "client",
    feature = "proxy"
))]
//! Tools from real MCP servers nobody here wrote (issue 18; `interop/README.md`), over
//! stdio: `@modelcontextprotocol/server-everything` (npm) and `interop/mcp_server.py`, a
//! FastMCP server of the official Python SDK (`mcp` on PyPI).
//!
//! A conversation over loopback HTTP (the mock provider, behind a recording proxy that keeps
//! the requests' bytes) whose tools come from both servers at once, under
//! `DispatchPolicy::PerTool`, run twice with the read-only calls finishing in opposite
//! orders: results in request order, the next request byte for byte the same, read-only
//! tools started while the model still streams (the FastMCP server's log says when each
//! call started), the destructive one after the message ended. Then one test per failure:
//! an unknown tool (for toolstream, and for the server), schema-invalid arguments, an
//! `isError` answer, a server that exits mid-call, a call past its timeout (the server logs
//! the cancellation of that very request); and `notifications/tools/list_changed`.
//!
//! The servers are installed by `bash interop/setup.sh` into `target/interop/` (or
//! `$TOOLSTREAM_INTEROP_DIR`). Without them the tests pass with a loud notice on standard
//! error, unless `TOOLSTREAM_INTEROP=require`: then they fail. Each test leaves its server
//! log and cassette under `target/interop/runs/mcp/<test>/`. The tests run one at a time
//! (their timing checks want the two cores to themselves).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::Mutex;
use toolstream::mock::{MockServer, MockStats, Script};
use toolstream::proxy::{Proxy, ProxyConfig, ProxyMode};
use toolstream::{
    Conversation, ConversationConfig, DispatchPolicy, McpServer, McpToolInfo, McpTools,
    ModelClient, Provider, StreamEvent, ToolErrorKind, ToolResult, TurnEvent, TurnRecord,
};

use crate::interop::{interop_src, Env, EVERYTHING};

/// One test at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

const QUESTION: &str = "Look up alpha and beta, say hello, add 2 and 3, then delete record 7.";

// ---------------------------------------------------------------------------------------
// The conversation

/// Both servers at once, twice: `lookup alpha` slow in the first run, `lookup beta` in
/// the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_servers_ordered_byte_stable_and_eager_only_when_read_only() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "conversation");
    let first =
        conversation_run(&env, &dir.join("first"), json!({"alpha": 1500, "beta": 10})).await;
    let second = conversation_run(
        &env,
        &dir.join("second"),
        json!({"alpha": 10, "beta": 1500}),
    )
    .await;
    // The lookups finished in opposite orders...
    assert_eq!(first.lookups_finished, ["beta", "alpha"]);
    assert_eq!(second.lookups_finished, ["alpha", "beta"]);
    // ... and the mock received the same bytes: the first request and the one carrying
    // the results (the cassette keys are the SHA-256 of method, path and body).
    assert_eq!(first.requests.len(), 2, "{:?}", first.requests.keys());
    assert_eq!(
        first.requests.keys().collect::<Vec<_>>(),
        second.requests.keys().collect::<Vec<_>>(),
        "the requests differ between the runs:\nfirst: {:#?}\nsecond: {:#?}",
        first.requests,
        second.requests
    );
}

/// What one run of the conversation showed.
struct ConversationRun {
    /// The keys `lookup` was called with, in the order the calls finished (server log).
    lookups_finished: Vec<String>,
    /// The proxy's cassette: key → `request.json`.
    requests: BTreeMap<String, String>,
}

async fn conversation_run(env: &Env, dir: &Path, delays: Value) -> ConversationRun {
    std::fs::create_dir_all(dir).unwrap();
    let log = dir.join("fastmcp.log");
    let tools = connect([
        everything(env),
        fastmcp(env, &log).env("TOOLSTREAM_MCP_DELAYS", delays.to_string()),
    ])
    .await;

    // Eager from the annotations: the FastMCP server's own, and the ones server-everything
    // ships (`echo` and `get-sum`: readOnlyHint true, openWorldHint false).
    let infos = tools.tools();
    for (name, server, read_only, eager) in [
        ("lookup", "fastmcp", Some(true), true),
        ("delete_record", "fastmcp", Some(false), false),
        ("echo", "everything", Some(true), true),
        ("get-sum", "everything", Some(true), true),
    ] {
        let info = info(&infos, name);
        assert_eq!(
            (info.server.as_str(), info.read_only, info.eager),
            (server, read_only, eager),
            "{info:?}"
        );
    }
    assert_eq!(info(&infos, "delete_record").destructive, Some(true));

    let script = script(
        25,
        json!([
            {"text": "Let me look these up.", "tool_calls": [
                {"name": "lookup", "input": {"key": "alpha"}},
                {"name": "echo", "input": {"message": "hello from the mock"}},
                {"name": "lookup", "input": {"key": "beta"}},
                {"name": "delete_record", "input": {
                    "record_id": 7,
                    "reason": "the user asked for it to be removed, in so many words"}},
                {"name": "get-sum", "input": {"a": 2, "b": 3}}
            ]},
            {"text": "Alpha and beta found, 2 + 3 = 5, record 7 deleted."}
        ]),
    );
    let config = ConversationConfig {
        policy: DispatchPolicy::PerTool,
        ..ConversationConfig::default()
    };
    let run = converse(&tools, script, config, Some(&dir.join("cassette"))).await;
    tools.shutdown().await;

    assert_eq!(run.records.len(), 2);
    let results = &run.records[0].outcome.results;
    let content: Vec<&str> = results.iter().map(text).collect();
    assert_eq!(
        results.iter().map(|r| r.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "{results:?}"
    );
    assert!(results.iter().all(ToolResult::is_ok), "{results:#?}");
    assert_eq!(content[0], "alpha: the first record");
    assert!(content[1].contains("hello from the mock"), "{content:?}");
    assert_eq!(content[2], "beta: the second record");
    assert_eq!(content[3], "record 7 deleted");
    assert!(content[4].contains('5'), "{content:?}");
    assert_no_refusal(&run.stats, 2);

    // When things started: the FastMCP server's log (wall clock), and the client's own
    // progress events for server-everything's tools.
    let lines = read_log(&log);
    let start = |tool: &str, key: Option<&str>| -> f64 {
        lines
            .iter()
            .find(|l| {
                l["event"] == "start"
                    && l["tool"] == tool
                    && key.is_none_or(|k| l["args"]["key"] == k)
            })
            .unwrap_or_else(|| panic!("no start of {tool} {key:?} in {}", log.display()))["t"]
            .as_f64()
            .unwrap()
    };
    let message_end = run.message_ends[0];
    let (alpha, beta, delete) = (
        start("lookup", Some("alpha")),
        start("lookup", Some("beta")),
        start("delete_record", None),
    );
    // Read-only: started while the model still streamed (alpha has the rest of the
    // message behind it, some twenty paced events).
    assert!(
        message_end - alpha > 0.1,
        "lookup alpha started {:.3} s before the message ended",
        message_end - alpha
    );
    assert!(
        beta < message_end,
        "lookup beta started after the message ended"
    );
    for name in ["echo", "get-sum"] {
        let t = run.started[name];
        assert!(t < message_end, "{name} started after the message ended");
    }
    // Destructive: only after the message ended, and so after the read-only ones.
    assert!(
        delete > message_end,
        "delete_record started {:.3} s before the message ended",
        message_end - delete
    );
    assert!(alpha < delete && beta < delete);

    let lookups_finished = lines
        .iter()
        .filter(|l| l["event"] == "end" && l["tool"] == "lookup")
        .map(|l| l["args"]["key"].as_str().unwrap().to_owned())
        .collect();
    ConversationRun {
        lookups_finished,
        requests: run.requests,
    }
}

// ---------------------------------------------------------------------------------------
// Failures, each in its slot

/// A name no server offers: an unknown tool for toolstream; the other call of the turn
/// and the next turn run as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tool_is_an_error_in_its_slot() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "unknown_tool");
    let log = dir.join("fastmcp.log");
    let run = run_with(
        [fastmcp(&env, &log)],
        one_turn(json!([
            {"name": "lookup", "input": {"key": "gamma"}},
            {"name": "no_such_tool", "input": {"key": "gamma"}}
        ])),
    )
    .await;
    let r = &run.records[0].outcome.results;
    assert_eq!(text(&r[0]), "gamma: the third record");
    assert_eq!(r[1].error, Some(ToolErrorKind::UnknownTool), "{r:?}");
    assert!(r[1].content.contains("no_such_tool"), "{r:?}");
    assert_eq!(run.records.len(), 2);
    assert_no_refusal(&run.stats, 2);
}

/// A tool the server removed after it was listed: the call reaches the server, which no
/// longer knows it; the answer is an error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_the_server_no_longer_has_is_an_error_naming_it() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "removed_tool");
    let log = dir.join("fastmcp.log");
    let run = run_with(
        [fastmcp(&env, &log)],
        script(
            1,
            json!([
                {"tool_calls": [{"name": "remove_tool", "input": {"name": "lookup"}}]},
                {"tool_calls": [{"name": "lookup", "input": {"key": "alpha"}}]},
                {"text": "It is gone."}
            ]),
        ),
    )
    .await;
    assert!(run.records[0].outcome.results[0].is_ok());
    let r = &run.records[1].outcome.results[0];
    assert!(!r.is_ok(), "{r:?}");
    assert!(r.content.contains("lookup"), "{r:?}");
    assert!(read_log(&log)
        .iter()
        .all(|l| !(l["event"] == "start" && l["tool"] == "lookup")));
    assert_no_refusal(&run.stats, 3);
}

/// Arguments that do not fit the tool's input schema (an integer from 1 to 5 and an enum;
/// two numbers for server-everything's `get-sum`): invalid arguments, and the tool never
/// ran. The valid call beside them runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_invalid_arguments_are_invalid_arguments() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "schema_invalid");
    let log = dir.join("fastmcp.log");
    let run = run_with(
        [everything(&env), fastmcp(&env, &log)],
        one_turn(json!([
            {"name": "configure", "input": {"level": "loud", "mode": "turbo"}},
            {"name": "configure", "input": {"level": 3, "mode": "safe"}},
            {"name": "get-sum", "input": {"a": "two", "b": 3}}
        ])),
    )
    .await;
    let r = &run.records[0].outcome.results;
    assert_eq!(r[0].error, Some(ToolErrorKind::InvalidArguments), "{r:?}");
    assert!(r[1].is_ok(), "{r:?}");
    assert_eq!(text(&r[1]), "level 3, mode safe");
    assert_eq!(r[2].error, Some(ToolErrorKind::InvalidArguments), "{r:?}");
    let configured: Vec<Value> = read_log(&log)
        .into_iter()
        .filter(|l| l["tool"] == "configure")
        .map(|l| l["args"].clone())
        .collect();
    assert_eq!(configured, [json!({"level": 3, "mode": "safe"})]);
    assert_no_refusal(&run.stats, 2);
}

/// A tool that answers `isError: true`: an error result in its slot, with the tool's own
/// message; the call after it is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_is_error_answer_is_an_error_result_in_its_slot() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "is_error");
    let run = run_with(
        [fastmcp(&env, &dir.join("fastmcp.log"))],
        one_turn(json!([
            {"name": "fail", "input": {"message": "the disk is on fire"}},
            {"name": "lookup", "input": {"key": "beta"}}
        ])),
    )
    .await;
    let r = &run.records[0].outcome.results;
    assert_eq!(r[0].error, Some(ToolErrorKind::Failed), "{r:?}");
    assert!(r[0].content.contains("the disk is on fire"), "{r:?}");
    assert_eq!(text(&r[1]), "beta: the second record");
    assert!(r[1].is_ok());
    assert_no_refusal(&run.stats, 2);
}

/// The server's process exits in the middle of a call: that call's result is an error
/// naming the server, and the next turn still runs (its call restarts the server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_mid_call_fails_that_call_and_the_next_turn_runs() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "exit_mid_call");
    let log = dir.join("fastmcp.log");
    let run = run_with(
        [fastmcp(&env, &log)],
        script(
            1,
            json!([
                {"tool_calls": [{"name": "crash", "input": {}}]},
                {"tool_calls": [{"name": "lookup", "input": {"key": "alpha"}}]},
                {"text": "Back again."}
            ]),
        ),
    )
    .await;
    let crashed = &run.records[0].outcome.results[0];
    assert!(!crashed.is_ok(), "{crashed:?}");
    assert!(crashed.content.contains("fastmcp"), "{crashed:?}");
    assert_eq!(run.records.len(), 3);
    let again = &run.records[1].outcome.results[0];
    assert_eq!(text(again), "alpha: the first record", "{again:?}");
    // Two processes: the one that exited, and the one that answered the next turn.
    let lines = read_log(&log);
    let ready: Vec<&Value> = lines.iter().filter(|l| l["event"] == "ready").collect();
    assert_eq!(ready.len(), 2, "{lines:#?}");
    assert_ne!(ready[0]["pid"], ready[1]["pid"]);
    assert!(lines.iter().any(|l| l["event"] == "exit"));
    assert_no_refusal(&run.stats, 3);
}

/// A call past its timeout: its slot says it timed out, and the server observes
/// `notifications/cancelled` for that request (its log names the request id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_timeout_is_cancelled_on_the_server() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "timeout");
    let log = dir.join("fastmcp.log");
    let tools = connect([fastmcp(&env, &log)]).await;
    let config = ConversationConfig {
        tool_timeout: Some(Duration::from_secs(1)),
        ..ConversationConfig::default()
    };
    let started = Instant::now();
    let run = converse(
        &tools,
        one_turn(json!([
            {"name": "sleep", "input": {"seconds": 60}},
            {"name": "lookup", "input": {"key": "alpha"}}
        ])),
        config,
        None,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(30));
    let r = &run.records[0].outcome.results;
    assert_eq!(r[0].error, Some(ToolErrorKind::TimedOut), "{r:?}");
    assert!(r[1].is_ok(), "{r:?}");
    // The cancellation reaches the server a moment after the timeout.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (request, cancelled) = loop {
        let lines = read_log(&log);
        let request = lines
            .iter()
            .find(|l| l["event"] == "start" && l["tool"] == "sleep")
            .map(|l| l["request_id"].clone())
            .expect("sleep started");
        let cancelled: Vec<Value> = lines
            .iter()
            .filter(|l| l["event"] == "cancelled")
            .map(|l| l["request_id"].clone())
            .collect();
        if !cancelled.is_empty() || Instant::now() > deadline {
            break (request, cancelled);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(cancelled, [request], "see {}", log.display());
    assert!(read_log(&log)
        .iter()
        .all(|l| !(l["event"] == "end" && l["tool"] == "sleep")));
    tools.shutdown().await;
    assert_no_refusal(&run.stats, 2);
}

// ---------------------------------------------------------------------------------------
// The tool list

/// A tool registered at run time: the server sends `notifications/tools/list_changed`,
/// `changed()` turns true, `refresh()` lists the new tool, and it can be called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_changed_notification_is_seen_and_refresh_lists_the_new_tool() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "list_changed");
    let tools = connect([fastmcp(&env, &dir.join("fastmcp.log"))]).await;
    assert!(!tools.changed());
    assert!(tools.tools().iter().all(|t| t.name != "late_tool"));
    let run = converse(
        &tools,
        one_turn(json!([{"name": "add_tool", "input": {"name": "late_tool"}}])),
        ConversationConfig::default(),
        None,
    )
    .await;
    assert_eq!(text(&run.records[0].outcome.results[0]), "added late_tool");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tools.changed() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(tools.changed(), "no notifications/tools/list_changed seen");
    assert!(tools.refresh().await.unwrap(), "refresh found no new tool");
    assert!(!tools.changed());
    let infos = tools.tools();
    let late = info(&infos, "late_tool");
    assert_eq!((late.read_only, late.eager), (Some(true), true));
    // The new tool is called like the others.
    let run = converse(
        &tools,
        one_turn(json!([{"name": "late_tool", "input": {}}])),
        ConversationConfig::default(),
        None,
    )
    .await;
    let r = &run.records[0].outcome.results[0];
    assert_eq!(text(r), "late_tool was added at run time", "{r:?}");
    tools.shutdown().await;
}

/// Two servers offering the same tools: every colliding name is prefixed with its
/// server's label, and each call goes to its own server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_names_are_prefixed_with_the_server_label() {
    let Some(env) = environment() else { return };
    let _serial = SERIAL.lock().await;
    let dir = run_dir(&env, "collisions");
    let tools = connect([
        labelled_fastmcp("left", &env, &dir.join("left.log")),
        labelled_fastmcp("right", &env, &dir.join("right.log")),
    ])
    .await;
    let infos = tools.tools();
    let lookup = info(&infos, "right__lookup");
    assert_eq!(
        (lookup.server.as_str(), lookup.original_name.as_str()),
        ("right", "lookup")
    );
    assert!(infos
        .iter()
        .all(|t| t.name.starts_with("left__") || t.name.starts_with("right__")));
    let run = converse(
        &tools,
        one_turn(json!([
            {"name": "left__lookup", "input": {"key": "alpha"}},
            {"name": "right__lookup", "input": {"key": "beta"}}
        ])),
        ConversationConfig::default(),
        None,
    )
    .await;
    tools.shutdown().await;
    let r = &run.records[0].outcome.results;
    assert_eq!(text(&r[0]), "alpha: the first record");
    assert_eq!(text(&r[1]), "beta: the second record");
    for (log, key) in [("left.log", "alpha"), ("right.log", "beta")] {
        let keys: Vec<Value> = read_log(&dir.join(log))
            .into_iter()
            .filter(|l| l["event"] == "start")
            .map(|l| l["args"]["key"].clone())
            .collect();
        assert_eq!(keys, [json!(key)], "{log}");
    }
}

// ---------------------------------------------------------------------------------------
// Running a conversation

/// What a conversation did.
struct Run {
    records: Vec<TurnRecord>,
    stats: MockStats,
    /// When the client saw each model message end (seconds since the Unix epoch).
    message_ends: Vec<f64>,
    /// When the client started each tool, by name (the first start of each).
    started: BTreeMap<String, f64>,
    /// With a cassette: key → `request.json` of each request the mock received.
    requests: BTreeMap<String, String>,
}

/// Runs one user message against a mock playing `script`, with `tools`; with `cassette`,
/// through a recording proxy whose cassette keeps the requests.
async fn converse(
    tools: &McpTools,
    script: Script,
    config: ConversationConfig,
    cassette: Option<&Path>,
) -> Run {
    let mock = MockServer::start("127.0.0.1:0".parse().unwrap(), script)
        .await
        .unwrap();
    let proxy = match cassette {
        Some(dir) => {
            let _ = std::fs::remove_dir_all(dir);
            let config = ProxyConfig::new(ProxyMode::Record, dir).upstream(mock.base_url());
            Some(
                Proxy::start("127.0.0.1:0".parse().unwrap(), config)
                    .await
                    .unwrap(),
            )
        }
        None => None,
    };
    let base = proxy.as_ref().map_or(mock.base_url(), Proxy::base_url);
    let client = ModelClient::new(Provider::Anthropic, "mock-1", "test-key")
        .unwrap()
        .base_url(base)
        .system("You run tools from MCP servers.");
    let mut conversation = Conversation::new(client, tools.registry(), config);
    let mut message_ends = Vec::new();
    let mut started = BTreeMap::new();
    let records = conversation
        .send(QUESTION, |e| match e {
            TurnEvent::Model(StreamEvent::MessageStop) => message_ends.push(now()),
            TurnEvent::Started { name, .. } => {
                started.entry(name.to_string()).or_insert_with(now);
            }
            _ => {}
        })
        .await
        .unwrap_or_else(|e| panic!("the conversation failed: {e}"));
    let mut requests = BTreeMap::new();
    if let (Some(proxy), Some(dir)) = (proxy, cassette) {
        proxy.wait_idle().await;
        proxy.shutdown().await;
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64 {
                let request = std::fs::read_to_string(entry.path().join("request.json")).unwrap();
                requests.insert(name, request);
            }
        }
    }
    let stats = mock.stats();
    mock.shutdown().await;
    Run {
        records,
        stats,
        message_ends,
        started,
        requests,
    }
}

/// A script: `turns` streamed in pieces of 8 characters, `delay_ms` apart.
fn script(delay_ms: u64, turns: Value) -> Script {
    let script =
        json!({"model": "mock-1", "chunk_chars": 8, "chunk_delay_ms": delay_ms, "turns": turns});
    serde_json::from_str(&script.to_string()).unwrap()
}

/// One turn of `calls`, then an answer.
fn one_turn(calls: Value) -> Script {
    script(
        1,
        json!([{"text": "", "tool_calls": calls}, {"text": "That is all."}]),
    )
}

/// The mock served `requests` and refused none; results came back in request order.
fn assert_no_refusal(stats: &MockStats, requests: u64) {
    assert_eq!(
        (stats.requests, stats.rejected, stats.order_violations),
        (requests, 0, 0),
        "{stats:?}"
    );
}

/// A result's text answer: the first line of its content. MCPServer (FastMCP) answers a tool
/// returning `str` with that text and `structuredContent: {"result": text}`; what McpTools
/// sends of the second is its own rule (its unit tests), not these tests' concern.
fn text(r: &ToolResult) -> &str {
    r.content.lines().next().unwrap_or_default()
}

fn info<'a>(infos: &'a [McpToolInfo], name: &str) -> &'a McpToolInfo {
    infos
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name} in {infos:#?}"))
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---------------------------------------------------------------------------------------
// The servers

/// The conversation `script` with the tools of `servers` (default configuration, no
/// cassette); the servers are shut down after it.
async fn run_with(servers: impl IntoIterator<Item = McpServer>, script: Script) -> Run {
    let tools = connect(servers).await;
    let run = converse(&tools, script, ConversationConfig::default(), None).await;
    tools.shutdown().await;
    run
}

async fn connect(servers: impl IntoIterator<Item = McpServer>) -> McpTools {
    McpTools::connect(servers)
        .await
        .unwrap_or_else(|e| panic!("connecting to the MCP servers failed: {e}"))
}

/// `interop/mcp_server.py` on the venv's Python, labelled `fastmcp`, logging to `log`.
fn fastmcp(env: &Env, log: &Path) -> McpServer {
    labelled_fastmcp("fastmcp", env, log)
}

/// `interop/mcp_server.py` labelled `label`, logging to `log` (emptied first).
fn labelled_fastmcp(label: &str, env: &Env, log: &Path) -> McpServer {
    let _ = std::fs::remove_file(log);
    McpServer::stdio(label, &env.python)
        .args(["-W", "error"])
        .arg(interop_src().join("mcp_server.py"))
        .env("TOOLSTREAM_MCP_LOG", log)
        .connect_timeout(Duration::from_secs(60))
}

/// `@modelcontextprotocol/server-everything` on the pinned Node.js, labelled `everything`.
fn everything(env: &Env) -> McpServer {
    McpServer::stdio("everything", &env.node)
        .arg(env.dir.join(EVERYTHING))
        .arg("stdio")
        .connect_timeout(Duration::from_secs(60))
}

/// The server log: one JSON object per line.
fn read_log(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", log.display())))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The environment

/// A fresh folder for a test's logs and cassettes: `runs/mcp/<name>/`.
fn run_dir(env: &Env, name: &str) -> PathBuf {
    let dir = env.dir.join("runs/mcp").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The installed servers, or `None` (after a notice) when they are missing and not
/// required.
fn environment() -> Option<Env> {
    crate::interop::environment("the MCP servers", "mcp_servers.rs", &[EVERYTHING])
}
