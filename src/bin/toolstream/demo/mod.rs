//! `toolstream demo`: the mock provider server and a multi-turn conversation over real
//! loopback HTTP in eager and batched mode, with a summary and a timeline chart.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use toolstream::mock::{MockServer, MockStats, Script};
use toolstream::{
    ArgumentPreview, Block, Conversation, ConversationConfig, Delta, DispatchPolicy, ModelClient,
    Provider, StreamEvent, ToolRegistry, TurnEvent, TurnRecord, Usage,
};

pub const QUESTION: &str =
    "What's the weather in Paris and Tokyo right now, and do I need an umbrella in Tokyo tonight?";

#[derive(Deserialize)]
struct City {
    city: String,
}

/// Simulated tools with different durations, so that overlap shows.
pub fn demo_tools() -> ToolRegistry {
    let object = |props: serde_json::Value, required: &[&str]| serde_json::json!({"type": "object", "properties": props, "required": required});
    ToolRegistry::new()
        .with_fn("get_weather", |a: City| async move {
            let (ms, report) = match a.city.as_str() {
                "Paris" => (450, "sunny, 21°C"),
                "Tokyo" => (900, "light rain, 17°C"),
                _ => (350, "dry, 19°C"),
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, String>(format!("{}: {report}", a.city))
        })
        .with_definition(
            "get_weather",
            "Current weather for a city",
            object(
                serde_json::json!({"city": {"type": "string"}, "unit": {"type": "string"}}),
                &["city"],
            ),
        )
        .with_raw_fn("get_time", |_| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok("20:41 local time".into())
            })
        })
        .with_definition(
            "get_time",
            "Local time in a timezone",
            object(
                serde_json::json!({"timezone": {"type": "string"}}),
                &["timezone"],
            ),
        )
        .with_raw_fn("search", |_| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                Ok("Light rain: a compact umbrella is enough.".into())
            })
        })
        .with_definition(
            "search",
            "Web search",
            object(
                serde_json::json!({"query": {"type": "string"}, "limit": {"type": "integer"}}),
                &["query"],
            ),
        )
        .with_raw_fn("get_forecast", |_| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                Ok("Tomorrow: rain easing by 9am, 19°C.".into())
            })
        })
        .with_definition(
            "get_forecast",
            "Forecast for the coming days",
            object(
                serde_json::json!({"city": {"type": "string"}, "days": {"type": "integer"}}),
                &["city"],
            ),
        )
}

/// One bar of the timeline.
#[derive(Debug, Clone)]
struct Bar {
    /// Sort key: turn, then the model stream before the calls in request order.
    key: (u64, usize),
    lane: String,
    start: f64,
    end: f64,
    tool: bool,
}

struct ModeRun {
    policy: DispatchPolicy,
    records: Vec<TurnRecord>,
    bars: Vec<Bar>,
    /// The conversation's history as sent, for the byte-stability comparison.
    history: Vec<String>,
}

/// What the event callback tracks.
struct Live {
    start: Instant,
    turn: u64,
    stream_start: f64,
    previews: HashMap<usize, (String, ArgumentPreview)>,
    started: HashMap<(u64, usize), f64>,
    bars: Vec<Bar>,
    lines: Vec<String>,
    tty: bool,
    text: String,
}

impl Live {
    fn ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    fn say(&mut self, line: String) {
        if self.tty {
            println!("\r\x1b[2K{line}");
        } else {
            self.lines.push(line);
        }
    }

    fn on_event(&mut self, e: &TurnEvent) {
        let t = self.ms();
        match e {
            TurnEvent::Model(StreamEvent::MessageStart { .. }) => {
                self.turn += 1;
                self.stream_start = t;
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
                    self.text.push_str(s);
                    if self.tty {
                        print!("{s}");
                        let _ = std::io::stdout().flush();
                    }
                }
                Delta::ToolInput(s) => {
                    if let Some((name, p)) = self.previews.get_mut(index) {
                        p.push(s);
                        if self.tty {
                            let shown = p.value().map(|v| v.to_string()).unwrap_or_default();
                            print!("\r\x1b[2K    \x1b[2m{name} {shown}\x1b[0m");
                            let _ = std::io::stdout().flush();
                        }
                    }
                }
                _ => {}
            },
            TurnEvent::Model(StreamEvent::MessageStop) => {
                let turn = self.turn;
                self.bars.push(Bar {
                    key: (turn, 0),
                    lane: format!("turn {turn} model stream"),
                    start: self.stream_start,
                    end: t,
                    tool: false,
                });
                if !self.tty {
                    let text = self.text.clone();
                    self.say(format!("[{t:6.0} ms] turn {turn} model said: {text}"));
                } else {
                    println!();
                }
            }
            TurnEvent::ToolCall { turn, call } => {
                let line = format!(
                    "[{t:6.0} ms] turn {turn} call {} {} {} complete",
                    call.index, call.name, call.arguments
                );
                self.say(line);
            }
            TurnEvent::Started {
                turn, index, name, ..
            } => {
                self.started.insert((turn.0, *index), t);
                self.say(format!(
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
                let start = self.started.get(&(turn.0, *index)).copied().unwrap_or(t);
                self.bars.push(Bar {
                    key: (turn.0, index + 1),
                    lane: format!("turn {turn} call {index} {name}"),
                    start,
                    end: t,
                    tool: true,
                });
                let status = if *ok { "ok" } else { "error" };
                let bar = "█".repeat(((t - start) / 60.0).round().max(1.0) as usize);
                self.say(format!(
                    "[{t:6.0} ms] turn {turn} call {index} {name} finished {status} {bar} {:.0} ms",
                    t - start
                ));
            }
            TurnEvent::Result(r) if r.index == 0 => {
                self.say(format!(
                    "[{t:6.0} ms] turn {} results, in request order:",
                    r.turn
                ));
                self.say(format!(
                    "             {} {}: {}",
                    r.index, r.name, r.content
                ));
            }
            TurnEvent::Result(r) => {
                self.say(format!(
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
    tty: bool,
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
    let mut conversation = Conversation::new(client, demo_tools(), config);
    let live = Arc::new(Mutex::new(Live {
        start: Instant::now(),
        turn: 0,
        stream_start: 0.0,
        previews: HashMap::new(),
        started: HashMap::new(),
        bars: Vec::new(),
        lines: Vec::new(),
        tty,
        text: String::new(),
    }));
    let l = live.clone();
    let records = conversation
        .send(QUESTION, move |e| {
            let mut live = l.lock().unwrap_or_else(|p| p.into_inner());
            live.on_event(e);
            for line in std::mem::take(&mut live.lines) {
                println!("{line}");
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut bars = std::mem::take(&mut live.lock().unwrap_or_else(|p| p.into_inner()).bars);
    bars.sort_by_key(|b| b.key);
    let history = conversation
        .history()
        .iter()
        .map(|m| m.get().to_owned())
        .collect();
    Ok(ModeRun {
        policy,
        records,
        bars,
        history,
    })
}

fn latency(r: &TurnRecord) -> f64 {
    (r.ended - r.started).as_secs_f64() * 1000.0
}

/// Runs the demo. Returns an error line on failure.
pub fn demo(svg: Option<&Path>) -> Result<(), String> {
    let tty = std::io::stdout().is_terminal();
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
        println!("question: {QUESTION}");
        let mut runs = Vec::new();
        for policy in [DispatchPolicy::Eager, DispatchPolicy::Batched] {
            println!();
            println!("== {policy} dispatch ==");
            runs.push(run_mode(&server, policy, tty).await?);
        }
        let stats = server.stats();
        summary(&runs, &stats);
        if let Some(path) = svg {
            std::fs::write(path, timeline_svg(&runs))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("timeline written to {}", path.display());
        }
        server.shutdown().await;
        Ok(())
    })
}

fn summary(runs: &[ModeRun], stats: &MockStats) {
    println!();
    println!("== summary ==");
    println!("{:<22}{:>12}{:>12}", "", "eager", "batched");
    let turns = runs[0].records.len().min(runs[1].records.len());
    for t in 0..turns {
        println!(
            "{:<22}{:>9.0} ms{:>9.0} ms",
            format!("turn {} latency", t + 1),
            latency(&runs[0].records[t]),
            latency(&runs[1].records[t])
        );
    }
    let total = |r: &ModeRun| {
        r.records
            .last()
            .map_or(0.0, |x| x.ended.as_secs_f64() * 1000.0)
    };
    println!(
        "{:<22}{:>9.0} ms{:>9.0} ms",
        "conversation",
        total(&runs[0]),
        total(&runs[1])
    );
    let saved: f64 = (0..turns)
        .map(|t| latency(&runs[1].records[t]) - latency(&runs[0].records[t]))
        .sum();
    if saved > 0.0 {
        println!(
            "eager finished its tool turns {saved:.0} ms sooner in total: tools ran while the model was still streaming"
        );
    } else {
        println!("eager was not faster this time ({saved:.0} ms)");
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
    let (eager, batched) = (usage(&runs[0]), usage(&runs[1]));
    println!(
        "{:<22}{:>12}{:>12}",
        "prompt read from cache",
        percent(eager.cache_read_share()),
        percent(batched.cache_read_share())
    );
    println!(
        "{:<22}{:>12}{:>12}",
        "prompt tokens",
        eager.input_tokens.unwrap_or(0),
        batched.input_tokens.unwrap_or(0)
    );
    println!(
        "cache breakpoints on the tools, the system prompt and the last two requests' ends: each turn reads the one before; the batched run repeats the eager run's requests byte for byte, so it reads them whole"
    );
    println!(
        "prompt cache: {} hits, {} misses, {} first requests; {} order violations, {} refused requests",
        stats.cache_hits, stats.cache_misses, stats.cache_writes, stats.order_violations, stats.rejected
    );
    if runs[0].history == runs[1].history {
        println!(
            "eager and batched histories are byte-identical ({} messages): results are ordered by request, not by completion",
            runs[0].history.len()
        );
    } else {
        println!("eager and batched histories differ");
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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A timeline chart: per mode, one lane per model stream and per tool call.
fn timeline_svg(runs: &[ModeRun]) -> String {
    let max_ms = runs
        .iter()
        .flat_map(|r| r.bars.iter().map(|b| b.end))
        .fold(1.0_f64, f64::max);
    let (left, width, row) = (260.0, 900.0, 22.0);
    let x = |ms: f64| left + ms / max_ms * width;
    let mut body = String::new();
    let mut y = 40.0;
    for run in runs {
        body.push_str(&format!(
            "<text x=\"10\" y=\"{y}\" font-size=\"16\" font-weight=\"bold\">{} dispatch</text>\n",
            run.policy
        ));
        y += 12.0;
        for bar in &run.bars {
            y += row;
            let color = if bar.tool { "#e07b39" } else { "#3a78c2" };
            body.push_str(&format!(
                "<text x=\"10\" y=\"{:.1}\" font-size=\"12\">{}</text>\n<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" rx=\"3\" fill=\"{color}\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#444\">{:.0}–{:.0} ms</text>\n",
                y + 11.0,
                escape(&bar.lane),
                x(bar.start),
                y,
                (x(bar.end) - x(bar.start)).max(2.0),
                x(bar.end) + 4.0,
                y + 11.0,
                bar.start,
                bar.end,
            ));
        }
        y += 30.0;
    }
    // Time axis.
    let mut axis = String::new();
    let step = if max_ms > 4000.0 { 1000.0 } else { 500.0 };
    let mut t = 0.0;
    while t <= max_ms {
        axis.push_str(&format!(
            "<line x1=\"{0:.1}\" y1=\"30\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\n<text x=\"{0:.1}\" y=\"{2:.1}\" font-size=\"11\" text-anchor=\"middle\">{t:.0} ms</text>\n",
            x(t),
            y,
            y + 14.0
        ));
        t += step;
    }
    let height = y + 30.0;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height:.0}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\">toolstream demo: model streams (blue) and tool calls (orange), eager vs batched</text>\n{axis}{body}</svg>\n",
        left + width + 120.0
    )
}
