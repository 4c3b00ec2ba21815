//! `toolstream demo`: the mock provider server and a multi-turn conversation over real
//! loopback HTTP in eager and batched mode, with a summary and a timeline chart.
//!
//! `toolstream demo --mcp` runs the same conversation with the tools served by the bundled
//! MCP server (`toolstream mcp-demo-server`, a child process on stdio) and compares
//! per-tool dispatch, where the tools' annotations decide which start early, with batched.
//!
//! On a terminal the model's text streams and stays; only the live argument preview is
//! redrawn in place, cut to the terminal's width ([`terminal`]). Piped, every line is
//! whole and nothing is redrawn. The chart is drawn by [`svg`].

use std::collections::{BTreeMap, HashMap};
use std::io::Stdout;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use toolstream::mock::{MockServer, MockStats, Script};
use toolstream::{
    ArgumentPreview, Block, Conversation, ConversationConfig, Delta, DispatchPolicy, McpServer,
    McpToolInfo, McpTools, ModelClient, Provider, StreamEvent, ToolRegistry, TurnEvent, TurnRecord,
    Usage,
};

mod svg;
mod terminal;
pub mod tools;

use terminal::{Mode, Screen};

pub const QUESTION: &str =
    "What's the weather in Paris and Tokyo right now, and do I need an umbrella in Tokyo tonight?";

/// The demo's simulated tools, run in process (see [`tools`]).
pub fn demo_tools() -> ToolRegistry {
    tools::registry()
}

/// When one call's events arrived, in ms from the start of its mode's conversation.
#[derive(Debug, Clone)]
struct CallTimes {
    name: String,
    /// Its provider marked it complete: its arguments are final.
    complete: f64,
    /// It got a concurrency slot.
    started: Option<f64>,
    /// Its tool finished.
    finished: Option<f64>,
    /// Its result was released, in request order.
    released: Option<f64>,
}

/// When one turn's events arrived, in ms from the start of its mode's conversation.
#[derive(Debug, Clone)]
struct TurnTimes {
    turn: u64,
    /// The model stream's first event.
    stream_start: f64,
    /// Its end (`MessageStop`): where a tool-use message commits.
    stream_end: Option<f64>,
    /// The calls, by position in the message.
    calls: BTreeMap<usize, CallTimes>,
}

impl TurnTimes {
    /// When the last of the turn's results was released.
    fn released(&self) -> Option<f64> {
        self.calls
            .values()
            .filter_map(|c| c.released)
            .reduce(f64::max)
    }
}

/// One mode's conversation: its records, when things happened, its history.
struct ModeRun {
    policy: DispatchPolicy,
    records: Vec<TurnRecord>,
    turns: Vec<TurnTimes>,
    /// The conversation's history as sent, for the byte-stability comparison.
    history: Vec<String>,
}

impl ModeRun {
    /// When `turn` committed: the end of its message, if the turn committed (the turn
    /// stream decides at the message's end; `Result`s follow only after).
    fn commit(&self, turn: &TurnTimes) -> Option<f64> {
        let committed = self
            .records
            .iter()
            .any(|r| r.outcome.turn.0 == turn.turn && r.outcome.committed);
        turn.stream_end.filter(|_| committed)
    }
}

/// What the event callback tracks and writes.
struct Live {
    start: Instant,
    screen: Screen<Stdout>,
    turns: Vec<TurnTimes>,
    /// The current message's text, whole.
    text: String,
    /// Argument previews of the current message's tool calls, by block index.
    previews: HashMap<usize, (String, ArgumentPreview)>,
}

impl Live {
    fn new(mode: Mode) -> Self {
        Live {
            start: Instant::now(),
            screen: Screen::new(std::io::stdout(), mode, terminal::columns),
            turns: Vec::new(),
            text: String::new(),
            previews: HashMap::new(),
        }
    }

    fn ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    fn call(&mut self, turn: u64, index: usize) -> Option<&mut CallTimes> {
        self.turns
            .iter_mut()
            .rev()
            .find(|t| t.turn == turn)?
            .calls
            .get_mut(&index)
    }

    fn on_event(&mut self, e: &TurnEvent) {
        let t = self.ms();
        let turn = self.turns.last().map_or(0, |x| x.turn);
        match e {
            TurnEvent::Model(StreamEvent::MessageStart { .. }) => {
                self.turns.push(TurnTimes {
                    turn: turn + 1,
                    stream_start: t,
                    stream_end: None,
                    calls: BTreeMap::new(),
                });
                self.text.clear();
                self.previews.clear();
            }
            TurnEvent::Model(StreamEvent::BlockStart {
                index,
                block: Block::ToolUse { name, .. },
            }) => {
                self.previews
                    .insert(*index, (name.clone(), ArgumentPreview::new()));
            }
            TurnEvent::Model(StreamEvent::BlockDelta { index, delta }) => match delta {
                Delta::Text(s) => {
                    if self.text.is_empty() && !s.is_empty() {
                        self.screen
                            .text(&format!("[{t:6.0} ms] turn {turn} model: "));
                    }
                    self.text.push_str(s);
                    self.screen.text(s);
                }
                Delta::ToolInput(s) => {
                    if let Some((name, p)) = self.previews.get_mut(index) {
                        p.push(s);
                        if let Mode::Redraw { .. } = self.screen.mode() {
                            let shown = p.value().map(|v| v.to_string()).unwrap_or_default();
                            self.screen.status(&format!("    {name} {shown}"));
                        }
                    }
                }
                _ => {}
            },
            TurnEvent::Model(StreamEvent::MessageStop) => {
                if let Some(x) = self.turns.last_mut() {
                    x.stream_end = Some(t);
                }
                self.screen.clear_status();
                if self.screen.mode().streams_text() {
                    self.screen.end_text();
                } else {
                    let line = format!("[{t:6.0} ms] turn {turn} model said: {}", self.text);
                    self.screen.line(&line);
                }
            }
            TurnEvent::ToolCall { turn, call } => {
                if let Some(x) = self.turns.iter_mut().rev().find(|x| x.turn == turn.0) {
                    x.calls.insert(
                        call.index,
                        CallTimes {
                            name: call.name.to_string(),
                            complete: t,
                            started: None,
                            finished: None,
                            released: None,
                        },
                    );
                }
                // The preview of this call is done: its complete arguments follow.
                self.screen.clear_status();
                self.screen.line(&format!(
                    "[{t:6.0} ms] turn {turn} call {} {} {} complete",
                    call.index, call.name, call.arguments
                ));
            }
            TurnEvent::Started {
                turn, index, name, ..
            } => {
                if let Some(c) = self.call(turn.0, *index) {
                    c.started = Some(t);
                }
                self.screen.line(&format!(
                    "[{t:6.0} ms] turn {turn} call {index} {name} started"
                ));
            }
            TurnEvent::Finished {
                turn,
                index,
                name,
                ok,
                ..
            } => {
                let start = match self.call(turn.0, *index) {
                    Some(c) => {
                        c.finished = Some(t);
                        c.started.unwrap_or(t)
                    }
                    None => t,
                };
                let status = if *ok { "ok" } else { "error" };
                let bar = "█".repeat(((t - start) / 60.0).round().max(1.0) as usize);
                self.screen.line(&format!(
                    "[{t:6.0} ms] turn {turn} call {index} {name} finished {status} {bar} {:.0} ms",
                    t - start
                ));
            }
            TurnEvent::Result(r) => {
                if let Some(c) = self.call(r.turn.0, r.index) {
                    c.released = Some(t);
                }
                if r.index == 0 {
                    self.screen.line(&format!(
                        "[{t:6.0} ms] turn {} results, in request order:",
                        r.turn
                    ));
                }
                self.screen.line(&format!(
                    "             {} {}: {}",
                    r.index, r.name, r.content
                ));
            }
            _ => {}
        }
    }
}

async fn run_mode(
    server: &MockServer,
    policy: DispatchPolicy,
    tools: ToolRegistry,
    mode: Mode,
) -> Result<ModeRun, String> {
    let client = ModelClient::new(Provider::Anthropic, "mock-1", "demo-key")
        .map_err(|e| e.to_string())?
        .base_url(server.base_url())
        .system("You are a concise weather assistant.");
    let config = ConversationConfig {
        policy,
        tool_timeout: Some(Duration::from_secs(5)),
        ..ConversationConfig::default()
    };
    let mut conversation = Conversation::new(client, tools, config);
    let live = Arc::new(Mutex::new(Live::new(mode)));
    let l = live.clone();
    let sent = conversation
        .send(QUESTION, move |e| {
            l.lock().unwrap_or_else(|p| p.into_inner()).on_event(e);
        })
        .await;
    let mut live = live.lock().unwrap_or_else(|p| p.into_inner());
    // Whatever happened, leave the cursor at the start of an empty row.
    live.screen.clear_status();
    live.screen.end_text();
    let records = sent.map_err(|e| e.to_string())?;
    let history = conversation
        .history()
        .iter()
        .map(|m| m.get().to_owned())
        .collect();
    Ok(ModeRun {
        policy,
        records,
        turns: std::mem::take(&mut live.turns),
        history,
    })
}

/// Whole milliseconds.
fn whole_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn latency(r: &TurnRecord) -> i64 {
    whole_ms(r.ended.saturating_sub(r.started))
}

/// The conversation's duration: until its last turn's outcome.
fn total(run: &ModeRun) -> i64 {
    run.records.last().map_or(0, |r| whole_ms(r.ended))
}

/// What starting tools early saved over batched dispatch, in whole milliseconds.
struct Savings {
    /// The policy that starts tools early: eager, or per-tool (with `--mcp`).
    early: DispatchPolicy,
    early_ms: i64,
    batched: i64,
    /// Per turn that ran tools: batched latency − early latency.
    turns: Vec<(u64, i64)>,
}

impl Savings {
    /// From a batched run and one that starts tools early, when both are there.
    fn of(runs: &[ModeRun]) -> Option<Savings> {
        let early = runs.iter().find(|r| r.policy != DispatchPolicy::Batched)?;
        let batched = runs.iter().find(|r| r.policy == DispatchPolicy::Batched)?;
        let turns = early
            .records
            .iter()
            .zip(&batched.records)
            .filter(|(e, _)| !e.outcome.message.tool_calls.is_empty())
            .map(|(e, b)| (e.outcome.turn.0, latency(b) - latency(e)))
            .collect();
        Some(Savings {
            early: early.policy,
            early_ms: total(early),
            batched: total(batched),
            turns,
        })
    }

    fn total(&self) -> i64 {
        self.batched - self.early_ms
    }

    /// `time eager saved: 432 ms = batched 3279 ms − eager 2847 ms (turn 1: 241 ms, …)`.
    fn describe(&self) -> String {
        let early = self.early;
        let mut s = format!(
            "time {early} saved: {} ms = batched {} ms − {early} {} ms",
            self.total(),
            self.batched,
            self.early_ms
        );
        if !self.turns.is_empty() {
            let turns: Vec<String> = self
                .turns
                .iter()
                .map(|(t, ms)| format!("turn {t}: {ms} ms"))
                .collect();
            s.push_str(&format!(" ({})", turns.join(", ")));
        }
        s
    }
}

/// The label of the bundled MCP server (`demo --mcp`).
const DEMO_SERVER: &str = "toolstream-demo";

/// Starts the bundled MCP server: this program's hidden `mcp-demo-server` command, a child
/// process spoken to over its standard input and output (no network), and lists its tools.
async fn connect_demo_server() -> Result<McpTools, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program to start its MCP server: {e}"))?;
    let server = McpServer::stdio(DEMO_SERVER, exe).arg("mcp-demo-server");
    McpTools::connect([server])
        .await
        .map_err(|e| crate::reason(&e))
}

/// What a tool's annotations say it does, in a few words. MCP's defaults: a tool is not
/// read-only, and one that is not read-only may be destructive.
fn hints(tool: &McpToolInfo) -> &'static str {
    match (tool.read_only, tool.destructive, tool.open_world) {
        (Some(true), _, Some(true)) => "read-only, open world",
        (Some(true), _, _) => "read-only",
        (_, Some(false), _) => "writes (additive)",
        _ => "destructive",
    }
}

/// Where the tools come from, one line per tool with what per-tool dispatch makes of it.
fn print_origins(tools: &McpTools) {
    let listed = tools.tools();
    println!(
        "tools: {} from the MCP server `{DEMO_SERVER}` (`toolstream mcp-demo-server`, a child process on stdio, written with rmcp); per-tool dispatch starts the read-only ones early:",
        listed.len()
    );
    for t in &listed {
        let when = if t.eager { "eager" } else { "batched" };
        println!("  {:<16}{:<24}{when}", t.name, hints(t));
    }
}

/// Runs the demo; with `mcp`, its tools are served by the bundled MCP server and the
/// dispatch that starts tools early is per-tool, from their annotations. Returns an error
/// line on failure.
pub fn demo(svg_path: Option<&Path>, mcp: bool) -> Result<(), String> {
    let mode = Mode::detect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let server = MockServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), Script::default_demo())
            .await
            .map_err(|e| format!("cannot start the mock server: {e}"))?;
        println!(
            "toolstream demo: a mock provider (Anthropic wire format) on {}, real HTTP, no network, no API key",
            server.base_url()
        );
        let served = if mcp {
            let tools = connect_demo_server().await?;
            print_origins(&tools);
            Some(tools)
        } else {
            None
        };
        println!("question: {QUESTION}");
        let early = if mcp {
            DispatchPolicy::PerTool
        } else {
            DispatchPolicy::Eager
        };
        let mut runs = Vec::new();
        for policy in [early, DispatchPolicy::Batched] {
            println!();
            println!("== {policy} dispatch ==");
            let tools = served.as_ref().map_or_else(demo_tools, McpTools::registry);
            runs.push(run_mode(&server, policy, tools, mode).await?);
        }
        let stats = server.stats();
        let savings = Savings::of(&runs);
        summary(&runs, savings.as_ref(), &stats);
        if served.is_some() {
            let calls: usize = runs[0]
                .records
                .iter()
                .map(|r| r.outcome.message.tool_calls.len())
                .sum();
            println!(
                "tool calls: {calls} per mode, each a `tools/call` request to the MCP server `{DEMO_SERVER}` over stdio"
            );
        }
        if let Some(path) = svg_path {
            std::fs::write(path, svg::timeline(&runs, savings.as_ref()))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("timeline written to {}", path.display());
        }
        if let Some(tools) = served {
            tools.shutdown().await;
        }
        server.shutdown().await;
        Ok(())
    })
}

fn summary(runs: &[ModeRun], savings: Option<&Savings>, stats: &MockStats) {
    let (first, second) = (runs[0].policy, runs[1].policy);
    println!();
    println!("== summary ==");
    println!("{:<22}{:>12}{:>12}", "", first.as_str(), second.as_str());
    let turns = runs[0].records.len().min(runs[1].records.len());
    for t in 0..turns {
        println!(
            "{:<22}{:>9} ms{:>9} ms",
            format!("turn {} latency", t + 1),
            latency(&runs[0].records[t]),
            latency(&runs[1].records[t])
        );
    }
    println!(
        "{:<22}{:>9} ms{:>9} ms",
        "conversation",
        total(&runs[0]),
        total(&runs[1])
    );
    if let Some(s) = savings {
        let why = if s.total() > 0 {
            "tools ran while the model was still streaming".to_owned()
        } else {
            format!("{} was not faster this time", s.early)
        };
        println!("{}: {why}", s.describe());
    }
    // SPEC §9: "the demo and `chat` print the share of prompt tokens that were read from
    // cache", from the usage each response reported.
    let usage = |r: &ModeRun| {
        let mut total = Usage::default();
        for record in &r.records {
            total.add(record.usage());
        }
        total
    };
    let (a, b) = (usage(&runs[0]), usage(&runs[1]));
    println!(
        "{:<22}{:>12}{:>12}",
        "prompt read from cache",
        percent(a.cache_read_share()),
        percent(b.cache_read_share())
    );
    println!(
        "{:<22}{:>12}{:>12}",
        "prompt tokens",
        a.input_tokens.unwrap_or(0),
        b.input_tokens.unwrap_or(0)
    );
    println!(
        "cache breakpoints on the tools, the system prompt and the last two requests' ends: each turn reads the one before; the {second} run repeats the {first} run's requests byte for byte, so it reads them whole"
    );
    println!(
        "prompt cache: {} hits, {} misses, {} first requests; {} order violations, {} refused requests",
        stats.cache_hits, stats.cache_misses, stats.cache_writes, stats.order_violations, stats.rejected
    );
    if runs[0].history == runs[1].history {
        println!(
            "{first} and {second} histories are byte-identical ({} messages): results are ordered by request, not by completion",
            runs[0].history.len()
        );
    } else {
        println!("{first} and {second} histories differ");
    }
}

/// A share as a whole percentage, or `-` when unknown.
fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_owned(), |s| format!("{:.0}%", s * 100.0))
}

/// One line on the conversation's tokens: prompt, share read from cache, written, output.
pub fn usage_line(u: &Usage) -> String {
    let mut line = format!(
        "tokens: {} prompt ({} read from cache",
        u.input_tokens.map_or("?".into(), |n| n.to_string()),
        percent(u.cache_read_share())
    );
    if let Some(w) = u.cache_write_input_tokens {
        line.push_str(&format!(", {w} written to cache"));
    }
    line.push_str(&format!(
        "), {} output",
        u.output_tokens.map_or("?".into(), |n| n.to_string())
    ));
    if let Some(r) = u.reasoning_tokens {
        line.push_str(&format!(" ({r} reasoning)"));
    }
    line
}
