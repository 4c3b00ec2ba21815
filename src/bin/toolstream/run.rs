//! `toolstream run`: replays a recorded stream (optionally paced), runs simulated tools
//! (or the tools of MCP servers, `--mcp`) through a real turn stream, and prints what
//! happens as JSON lines.

use std::collections::BTreeSet;
use std::io::Write;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use toolstream::{
    DispatchPolicy, McpServer, McpTools, Provider, StopKind, StreamEvent, ToolRegistry, TurnConfig,
    TurnEvent, TurnStream,
};

use crate::Failure;

/// What a simulated tool does (`--tool NAME=BEHAVIOUR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers with its input, as JSON text.
    Echo,
    /// Answers like `echo` after this many milliseconds.
    Sleep(u64),
    /// Returns this error.
    Fail(String),
    /// Panics.
    Panic,
    /// Never returns.
    Hang,
}

/// `NAME=BEHAVIOUR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: String,
    pub behaviour: Behaviour,
}

impl FromStr for ToolSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, behaviour) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not NAME=BEHAVIOUR"))?;
        if name.is_empty() {
            return Err(format!("`{s}` has an empty tool name"));
        }
        let behaviour = match behaviour.split_once(':') {
            None if behaviour == "echo" => Behaviour::Echo,
            None if behaviour == "panic" => Behaviour::Panic,
            None if behaviour == "hang" => Behaviour::Hang,
            Some(("sleep", ms)) => Behaviour::Sleep(
                ms.parse()
                    .map_err(|_| format!("`{ms}` in `{s}` is not a number of milliseconds"))?,
            ),
            Some(("fail", message)) => Behaviour::Fail(message.to_owned()),
            _ => {
                return Err(format!(
                    "unknown behaviour `{behaviour}` (expected echo, sleep:MS, fail:MESSAGE, panic or hang)"
                ))
            }
        };
        Ok(ToolSpec {
            name: name.to_owned(),
            behaviour,
        })
    }
}

/// The payload of the simulated `panic` behaviour.
const SIMULATED_PANIC: &str = "simulated tool panic";

/// Keeps the simulated panics quiet (they are expected and reported as results); any
/// other panic still reaches the default hook.
fn quiet_simulated_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&SIMULATED_PANIC) {
            default(info);
        }
    }));
}

fn register(tools: ToolRegistry, name: &str, behaviour: Behaviour) -> ToolRegistry {
    tools.with_raw_fn(name, move |input: Value| {
        let behaviour = behaviour.clone();
        Box::pin(async move {
            match behaviour {
                Behaviour::Echo => Ok(input.to_string().into()),
                Behaviour::Sleep(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(input.to_string().into())
                }
                Behaviour::Fail(message) => Err(message.into()),
                Behaviour::Panic => std::panic::panic_any(SIMULATED_PANIC),
                Behaviour::Hang => std::future::pending().await,
            }
        })
    })
}

/// The options of `toolstream run`.
pub struct RunOptions {
    pub provider: Provider,
    pub dispatch: DispatchPolicy,
    pub concurrency: NonZeroUsize,
    pub tool_timeout: Option<u64>,
    pub turn_timeout: Option<u64>,
    pub pace: Option<u64>,
    pub tools: Vec<ToolSpec>,
    pub only_listed: bool,
    /// MCP servers whose tools replace the simulated ones (SPEC §7, `--mcp`).
    pub mcp: Vec<McpServer>,
}

/// The simulated tools: those named with `--tool`, and unless `--only-listed`, every other
/// tool the model calls in `events`, as `echo`.
fn simulated(events: &[StreamEvent], options: &RunOptions) -> ToolRegistry {
    let mut tools = ToolRegistry::new();
    let listed: BTreeSet<&str> = options.tools.iter().map(|t| t.name.as_str()).collect();
    for spec in &options.tools {
        tools = register(tools, &spec.name, spec.behaviour.clone());
    }
    if !options.only_listed {
        for e in events {
            if let StreamEvent::BlockStart {
                block: toolstream::Block::ToolUse { name, .. },
                ..
            } = e
            {
                if !listed.contains(name.as_str()) {
                    tools = register(tools, name, Behaviour::Echo);
                }
            }
        }
    }
    tools
}

/// Runs the turn over `events` and prints one JSON object per line to `out`. Returns why
/// the input could not be used, when it could not (SPEC §7: the stream did not assemble,
/// a limit was exceeded, or it ended before the message did); a turn that simply ends
/// without tool use is not such a case.
///
/// With MCP servers, their tools are the only ones: a tool they do not offer is unknown,
/// and under per-tool dispatch their annotations say which start early. The servers are
/// connected before the clock starts, and ended after the turn.
///
/// # Errors
///
/// An MCP server that cannot be started or listed (the reason names it), or output that
/// cannot be written.
pub fn run(
    events: Vec<StreamEvent>,
    options: RunOptions,
    out: &mut impl Write,
) -> Result<Option<String>, Failure> {
    quiet_simulated_panics();
    let unusable = unusable(&events);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tools, mcp) = if options.mcp.is_empty() {
        (simulated(&events, &options), None)
    } else {
        let mcp = runtime
            .block_on(McpTools::connect(options.mcp.clone()))
            .map_err(|e| Failure::Input(crate::reason(&e)))?;
        (mcp.registry(), Some(mcp))
    };
    let mut config = TurnConfig::new(options.provider)
        .policy(options.dispatch)
        .concurrency(options.concurrency);
    if let Some(ms) = options.tool_timeout {
        config = config.tool_timeout(Duration::from_millis(ms));
    }
    if let Some(ms) = options.turn_timeout {
        config = config.turn_timeout(Duration::from_millis(ms));
    }
    let pace = options.pace.map(Duration::from_millis);
    runtime.block_on(async move {
        let start = Instant::now();
        let input = futures_util::stream::iter(events).then(move |e| async move {
            if let Some(pace) = pace {
                tokio::time::sleep(pace).await;
            }
            Ok::<_, std::convert::Infallible>(e)
        });
        let mut turn = std::pin::pin!(TurnStream::new(input, Arc::new(tools), config));
        let mut stop_reason: Option<&'static str> = None;
        while let Some(event) = turn.next().await {
            let Ok(event) = event;
            let t_ms = start.elapsed().as_millis() as u64;
            let line = match event {
                // As the assembler decides: an error in the stream wins over a later reason.
                TurnEvent::Model(StreamEvent::Error(_)) => {
                    stop_reason = Some("error");
                    None
                }
                TurnEvent::Model(StreamEvent::MessageDelta {
                    stop_reason: Some(s),
                    ..
                }) => {
                    if stop_reason != Some("error") {
                        stop_reason = Some(s.kind.as_str());
                    }
                    None
                }
                TurnEvent::Model(StreamEvent::MessageStop) => Some(obj(&[
                    ("t_ms", json!(t_ms)),
                    ("kind", json!("message_stop")),
                    ("stop_reason", json!(stop_reason)),
                ])),
                TurnEvent::Model(_) => None,
                TurnEvent::ToolCall { turn, call } => Some(obj(&[
                    ("t_ms", json!(t_ms)),
                    ("kind", json!("tool_call")),
                    ("turn", json!(turn.0)),
                    ("index", json!(call.index)),
                    ("id", json!(&*call.id)),
                    ("name", json!(&*call.name)),
                ])),
                TurnEvent::Started {
                    turn,
                    index,
                    id,
                    name,
                } => Some(obj(&[
                    ("t_ms", json!(t_ms)),
                    ("kind", json!("tool_started")),
                    ("turn", json!(turn.0)),
                    ("index", json!(index)),
                    ("id", json!(&*id)),
                    ("name", json!(&*name)),
                ])),
                TurnEvent::Finished {
                    turn,
                    index,
                    id,
                    name,
                    ok,
                } => Some(obj(&[
                    ("t_ms", json!(t_ms)),
                    ("kind", json!("tool_finished")),
                    ("turn", json!(turn.0)),
                    ("index", json!(index)),
                    ("id", json!(&*id)),
                    ("name", json!(&*name)),
                    ("status", json!(if ok { "ok" } else { "error" })),
                ])),
                TurnEvent::Result(r) => {
                    let mut fields = vec![
                        ("t_ms", json!(t_ms)),
                        ("kind", json!("tool_result")),
                        ("turn", json!(r.turn.0)),
                        ("index", json!(r.index)),
                        ("id", json!(&*r.id)),
                        ("name", json!(&*r.name)),
                        ("status", json!(if r.is_ok() { "ok" } else { "error" })),
                        ("content", json!(r.content)),
                    ];
                    if !r.committed {
                        fields.push(("committed", json!(false)));
                    }
                    Some(obj(&fields))
                }
                TurnEvent::Outcome(o) => {
                    for orphan in &o.orphans {
                        let line = obj(&[
                            ("t_ms", json!(t_ms)),
                            ("kind", json!("orphan")),
                            ("turn", json!(orphan.turn.0)),
                            ("index", json!(orphan.index)),
                            ("id", json!(&*orphan.id)),
                            ("name", json!(&*orphan.name)),
                            (
                                "status",
                                json!(if orphan.output.is_ok() { "ok" } else { "error" }),
                            ),
                        ]);
                        writeln!(out, "{line}")?;
                    }
                    // SPEC §7: the assistant message as it goes into history, or null when
                    // the turn is abandoned; then the tool-results message.
                    // A complete answer (end_turn, stop_sequence) and a paused turn go into
                    // history too; max_tokens, refusals, errors and cut streams do not.
                    let kept = o.committed
                        || (o.message.complete
                            && matches!(
                                o.message.stop_kind(),
                                Some(
                                    StopKind::EndTurn
                                        | StopKind::StopSequence
                                        | StopKind::PauseTurn
                                )
                            ));
                    let assistant = if kept {
                        o.assistant_message.get()
                    } else {
                        "null"
                    };
                    writeln!(
                        out,
                        "{{\"kind\":\"assistant_message\",\"message\":{assistant}}}"
                    )?;
                    let message = o.results_message.as_ref().map_or("null", |raw| raw.get());
                    writeln!(out, "{{\"kind\":\"next_message\",\"message\":{message}}}")?;
                    None
                }
                _ => None,
            };
            if let Some(line) = line {
                writeln!(out, "{line}")?;
                // Lines appear as things happen (the point of --pace).
                out.flush()?;
            }
        }
        if let Some(mcp) = mcp {
            mcp.shutdown().await;
        }
        Ok::<_, Failure>(unusable)
    })
}

/// Why these events cannot make a turn, if they cannot: the first event the assembler
/// refuses (a limit, blocks that do not fit), or a message with no end.
fn unusable(events: &[StreamEvent]) -> Option<String> {
    let mut assembler = toolstream::Assembler::new();
    for e in events {
        if let Err(e) = assembler.push(e) {
            return Some(format!("the model stream did not assemble: {e}"));
        }
    }
    let m = assembler.finish();
    (!m.complete && m.error.is_none()).then(|| "the stream ended before the message did".to_owned())
}

/// One JSON object with its keys in the given order (`t_ms` and `kind` first).
fn obj(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
        .collect();
    format!("{{{}}}", body.join(","))
}
