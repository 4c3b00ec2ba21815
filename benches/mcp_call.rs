//! Per-call cost of an MCP tool call over stdio: toolstream's [`McpTools`] against the
//! official Python SDK's client, both calling the cheapest read-only tool (`ping`, which
//! answers at once) of the same server, `interop/mcp_server.py` (FastMCP).
//!
//! toolstream's side runs one turn per call, as a conversation does: a one-call tool-use
//! message through [`TurnStream`] (assembly, dispatch, the MCP request and its answer, the
//! result written in the provider's format), the calls one after the other. The Python
//! side is `interop/mcp_bench.py`: `ClientSession.call_tool` in a loop. Both warm up
//! first; each reports the mean and the median time of a call.
//!
//! `cargo bench --bench mcp_call` makes 2,000 calls each way; `cargo test --benches` makes
//! 20 and checks the answers. Both need the interop install (`bash interop/setup.sh`);
//! without it the bench says so and does nothing, unless `TOOLSTREAM_INTEROP=require`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use toolstream::{
    Block, Delta, McpServer, McpTools, Provider, StopKind, StopReason, StreamEvent, ToolRegistry,
    TurnConfig, TurnEvent, TurnStream, Usage,
};

const WARMUP: usize = 50;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let calls = if full { 2000 } else { 20 };
    let Some(python) = environment() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mean, median) = runtime.block_on(toolstream_calls(&python, calls));
    let baseline = python_calls(&python, calls);
    println!("mcp_call: {calls} calls of `ping` over stdio, one after the other");
    println!(
        "  python sdk (ClientSession.call_tool): {:8.1} µs/call (median {:.1})",
        baseline.0, baseline.1
    );
    println!(
        "  toolstream (McpTools, a turn a call): {:8.1} µs/call (median {:.1})",
        mean, median
    );
}

/// Mean and median microseconds per call through toolstream.
async fn toolstream_calls(python: &Path, calls: usize) -> (f64, f64) {
    let server = McpServer::stdio("fastmcp", python)
        .args(["-W", "error"])
        .arg(interop().join("mcp_server.py"));
    let tools = McpTools::connect([server])
        .await
        .unwrap_or_else(|e| panic!("cannot connect to interop/mcp_server.py: {e}"));
    let registry = Arc::new(tools.registry());
    for _ in 0..WARMUP {
        call(&registry).await;
    }
    let mut each = Vec::with_capacity(calls);
    let start = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        call(&registry).await;
        each.push(t.elapsed());
    }
    let total = start.elapsed();
    tools.shutdown().await;
    (micros(total) / calls as f64, micros(median(each)))
}

/// One turn: a message calling `ping`, run to its outcome.
async fn call(tools: &Arc<ToolRegistry>) {
    let events = [
        StreamEvent::BlockStart {
            index: 0,
            block: Block::ToolUse {
                id: "toolu_ping".into(),
                name: "ping".into(),
            },
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::ToolInput("{}".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
            usage: Usage::default(),
        },
        StreamEvent::MessageStop,
    ];
    let input = futures_util::stream::iter(events.map(Ok::<_, Infallible>));
    let turn = TurnStream::new(input, tools.clone(), TurnConfig::new(Provider::Anthropic));
    let mut turn = std::pin::pin!(turn);
    let mut answer = None;
    while let Some(event) = turn.next().await {
        if let TurnEvent::Result(r) = event.unwrap() {
            answer = Some(r);
        }
    }
    // The text first (MCPServer adds `structuredContent: {"result": "pong"}`).
    let answer = answer.expect("one result");
    assert!(
        answer.is_ok() && answer.content.lines().next() == Some("pong"),
        "ping answered {answer:?}"
    );
}

/// Mean and median microseconds per call through the Python SDK (`interop/mcp_bench.py`).
fn python_calls(python: &Path, calls: usize) -> (f64, f64) {
    let out = Command::new(python)
        .args(["-W", "error"])
        .arg(interop().join("mcp_bench.py"))
        .arg(calls.to_string())
        .output()
        .expect("runs interop/mcp_bench.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "interop/mcp_bench.py failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("interop/mcp_bench.py printed {stdout:?}: {e}"));
    assert_eq!(v["calls"], calls);
    (
        v["us_per_call"].as_f64().unwrap(),
        v["us_median"].as_f64().unwrap(),
    )
}

fn median(mut each: Vec<Duration>) -> Duration {
    each.sort_unstable();
    each[each.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The venv's Python when `interop/setup.sh --check` says the install matches the pins.
///
/// # Panics
///
/// When it does not and `TOOLSTREAM_INTEROP=require`.
fn environment() -> Option<PathBuf> {
    let dir = std::env::var_os("TOOLSTREAM_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop"));
    let ready = Command::new("bash")
        .arg(interop().join("setup.sh"))
        .arg("--check")
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return Some(dir.join("venv/bin/python"));
    }
    let why = format!("no interop install matching the pins in {}", dir.display());
    if std::env::var("TOOLSTREAM_INTEROP").is_ok_and(|v| v == "require") {
        panic!("TOOLSTREAM_INTEROP=require, but {why}: run bash interop/setup.sh");
    }
    eprintln!("mcp_call: SKIPPED, {why} (bash interop/setup.sh installs it)");
    None
}
