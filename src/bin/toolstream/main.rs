//! The `toolstream` command line (SPEC §7).
//!
//! JSON goes to standard output, diagnostics to standard error. Exit status 0 on success,
//! 1 when the input is malformed or a limit was exceeded (one line on standard error), 2
//! on bad usage.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod bench;
mod demo;
mod proxy;
mod run;

use std::num::NonZeroUsize;

use clap::{Parser, Subcommand};
use toolstream::report::{sse_event_json, stream_event_json, turn_json};
use toolstream::{Assembler, DispatchPolicy, ProviderChoice, SseDecoder, StreamDecoder};

#[derive(Parser)]
#[command(
    name = "toolstream",
    version,
    about = "Parse LLM provider streams and assemble their tool calls"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print each dispatched server-sent event as one JSON object per line.
    Sse {
        /// Input file, or `-` for standard input.
        file: PathBuf,
    },
    /// Print the unified events of a provider stream, one JSON object per line.
    Events {
        /// anthropic, openai-chat, openai-responses, gemini, bedrock or auto.
        #[arg(long, default_value = "auto")]
        provider: ProviderChoice,
        /// Input file, or `-` for standard input.
        file: PathBuf,
    },
    /// Print the assembled message (text, tool calls, stop reason, usage) as one JSON object.
    Turn {
        /// anthropic, openai-chat, openai-responses, gemini, bedrock or auto.
        #[arg(long, default_value = "auto")]
        provider: ProviderChoice,
        /// Input file, or `-` for standard input.
        file: PathBuf,
    },
    /// The demonstration: a mock provider on loopback, a multi-turn conversation with
    /// parallel tools over real HTTP, eager vs batched (no network, no API key).
    Demo {
        /// Also write a timeline chart (SVG) to this file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Parse-and-assemble throughput beside eventsource-stream + serde_json::Value and a
    /// typed serde_json parse of the payloads, measured in the same run.
    Bench {
        /// The provider (for FILE: auto detects; for the generated corpus: anthropic).
        #[arg(long, default_value = "auto")]
        provider: ProviderChoice,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Chunk size in bytes.
        #[arg(long, default_value = "8192")]
        chunk: NonZeroUsize,
        /// Size of the generated corpus in MB (without FILE).
        #[arg(long, default_value = "16")]
        mb: NonZeroUsize,
        /// A recorded stream; a generated corpus when absent.
        file: Option<PathBuf>,
    },
    /// Run the mock provider server (prints its address first).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: std::net::SocketAddr,
        /// A script file (see the README); the demo's script by default.
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// Apply the providers' documented minimum cacheable prompt lengths (off by
        /// default, so that short conversations show cache reads).
        #[arg(long)]
        cache_minimums: bool,
    },
    /// A recording proxy for provider APIs: record exchanges into a cassette, replay them
    /// offline byte for byte (prints its address first).
    Proxy {
        /// The provider's base URL (the real API, a compatible server, `toolstream serve`).
        #[arg(long, value_name = "URL")]
        upstream: Option<String>,
        /// The cassette directory.
        #[arg(long, value_name = "DIR")]
        cassette: PathBuf,
        /// record (always forward and store), replay (never contact the upstream) or auto
        /// (replay what is stored, record the rest).
        #[arg(long, default_value = "auto")]
        mode: toolstream::proxy::ProxyMode,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: std::net::SocketAddr,
    },
    /// Send one message to a real provider (API key from its usual environment variable)
    /// with the demo's simulated tools, printing text as it streams.
    Chat {
        /// anthropic, openai-chat, openai-responses or gemini.
        #[arg(long)]
        provider: toolstream::Provider,
        /// The model (a sensible default per provider).
        #[arg(long)]
        model: Option<String>,
        /// Send requests here instead (a proxy, a compatible server, `toolstream serve`).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// batched, eager or per-tool.
        #[arg(long, default_value = "eager")]
        dispatch: DispatchPolicy,
        /// Prompt-cache breakpoints for Anthropic and Bedrock: off, 5m or 1h.
        #[arg(long, default_value = "5m")]
        cache: toolstream::PromptCaching,
        /// The message.
        message: String,
    },
    /// Replay a stream, run simulated tools, print tool events and the next message.
    Run {
        /// anthropic, openai-chat, openai-responses, gemini, bedrock or auto.
        #[arg(long, default_value = "auto")]
        provider: ProviderChoice,
        /// Input file, or `-` for standard input.
        file: PathBuf,
        /// batched (launch with the message), eager (as each call completes) or per-tool.
        #[arg(long, default_value = "batched")]
        dispatch: DispatchPolicy,
        /// How many tools may run at once.
        #[arg(long, default_value = "8")]
        concurrency: NonZeroUsize,
        /// Per-tool timeout in milliseconds.
        #[arg(long, value_name = "MS")]
        tool_timeout: Option<u64>,
        /// Deadline for the whole turn in milliseconds.
        #[arg(long, value_name = "MS")]
        turn_timeout: Option<u64>,
        /// Wait MS milliseconds before each event, to simulate generation.
        #[arg(long, value_name = "MS")]
        pace: Option<u64>,
        /// NAME=BEHAVIOUR: echo, sleep:MS, fail:MESSAGE, panic or hang (repeatable).
        #[arg(long = "tool", value_name = "NAME=BEHAVIOUR")]
        tools: Vec<run::ToolSpec>,
        /// Tools not named with --tool are unknown (an error result) instead of echo.
        #[arg(long)]
        only_listed: bool,
    },
}

/// Why a command failed: bad input (exit 1), or output that could not be written.
enum Failure {
    Input(String),
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn open(path: &PathBuf) -> Result<Box<dyn Read>, Failure> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    File::open(path)
        .map(|f| Box::new(f) as Box<dyn Read>)
        .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))
}

/// Reads `path` in chunks, handing each to `f` as it arrives (so standard input streams).
fn for_each_chunk(
    path: &PathBuf,
    mut f: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut input = open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Input(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        f(&buf[..n])?;
    }
}

fn run_sse(path: &PathBuf, out: &mut impl Write) -> Result<(), Failure> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for_each_chunk(path, |chunk| {
        let r = decoder.push(chunk, &mut events);
        for e in events.drain(..) {
            writeln!(out, "{}", sse_event_json(&e))?;
        }
        r.map_err(|e| Failure::Input(e.to_string()))
    })?;
    decoder
        .finish()
        .map_err(|e| Failure::Input(e.to_string()))?;
    Ok(())
}

fn run_events(
    provider: ProviderChoice,
    path: &PathBuf,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut decoder = StreamDecoder::new(provider);
    let mut events = Vec::new();
    for_each_chunk(path, |chunk| {
        let r = decoder.push(chunk, &mut events);
        for e in events.drain(..) {
            writeln!(out, "{}", stream_event_json(&e))?;
        }
        r.map_err(|e| Failure::Input(e.to_string()))
    })?;
    let r = decoder.finish(&mut events);
    for e in events.drain(..) {
        writeln!(out, "{}", stream_event_json(&e))?;
    }
    r.map_err(|e| Failure::Input(e.to_string()))
}

fn run_turn(provider: ProviderChoice, path: &PathBuf, out: &mut impl Write) -> Result<(), Failure> {
    let mut decoder = StreamDecoder::new(provider);
    let mut assembler = Assembler::new();
    let mut events = Vec::new();
    let mut assemble = |events: &mut Vec<_>| -> Result<(), Failure> {
        for e in events.drain(..) {
            assembler
                .push(&e)
                .map_err(|e| Failure::Input(e.to_string()))?;
        }
        Ok(())
    };
    for_each_chunk(path, |chunk| {
        let r = decoder.push(chunk, &mut events);
        assemble(&mut events)?;
        r.map_err(|e| Failure::Input(e.to_string()))
    })?;
    let r = decoder.finish(&mut events);
    assemble(&mut events)?;
    r.map_err(|e| Failure::Input(e.to_string()))?;
    let Some(provider) = decoder.provider() else {
        return Err(Failure::Input(
            "could not detect the provider: the input holds no event".into(),
        ));
    };
    writeln!(out, "{}", turn_json(provider, &assembler.finish()))?;
    Ok(())
}

/// The input of `run`: the unified events decoded up to the first decoding error (the
/// replay needs them up front), and that error.
struct Decoded {
    provider: toolstream::Provider,
    events: Vec<toolstream::StreamEvent>,
    error: Option<String>,
}

/// Decodes the whole input. A decoding error stops the decoding; the events before it are
/// still run (SPEC §7: an abandoned turn "still prints its lines, then exits 1").
fn read_events(provider: ProviderChoice, path: &PathBuf) -> Result<Decoded, Failure> {
    let mut decoder = StreamDecoder::new(provider);
    let mut events = Vec::new();
    let mut error = None;
    for_each_chunk(path, |chunk| {
        if error.is_none() {
            if let Err(e) = decoder.push(chunk, &mut events) {
                error = Some(e.to_string());
            }
        }
        Ok(())
    })?;
    if error.is_none() {
        if let Err(e) = decoder.finish(&mut events) {
            error = Some(e.to_string());
        }
    }
    let provider =
        decoder.provider().ok_or_else(|| {
            Failure::Input(error.clone().unwrap_or_else(|| {
                "could not detect the provider: the input holds no event".into()
            }))
        })?;
    Ok(Decoded {
        provider,
        events,
        error,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = match &cli.command {
        Command::Sse { file } => run_sse(file, &mut out),
        Command::Events { provider, file } => run_events(*provider, file, &mut out),
        Command::Turn { provider, file } => run_turn(*provider, file, &mut out),
        Command::Demo { svg } => demo::demo(svg.as_deref()).map_err(Failure::Input),
        Command::Bench {
            provider,
            json,
            chunk,
            mb,
            file,
        } => bench::bench(*provider, file.as_deref(), chunk.get(), mb.get(), *json)
            .map_err(Failure::Input)
            .and_then(|report| writeln!(out, "{report}").map_err(Failure::Output)),
        Command::Serve {
            addr,
            script,
            cache_minimums,
        } => demo::serve(*addr, script.as_deref(), *cache_minimums).map_err(Failure::Input),
        Command::Proxy {
            upstream,
            cassette,
            mode,
            addr,
        } => proxy::proxy(*addr, upstream.as_deref(), cassette, *mode).map_err(Failure::Input),
        Command::Chat {
            provider,
            model,
            base_url,
            dispatch,
            cache,
            message,
        } => {
            let model = model.clone().unwrap_or_else(|| {
                match provider {
                    toolstream::Provider::Anthropic => "claude-sonnet-4-5",
                    toolstream::Provider::Gemini => "gemini-2.5-flash",
                    _ => "gpt-4.1-mini",
                }
                .to_owned()
            });
            demo::chat(
                *provider,
                &model,
                base_url.as_deref(),
                message,
                *dispatch,
                *cache,
            )
            .map_err(Failure::Input)
        }
        Command::Run {
            provider,
            file,
            dispatch,
            concurrency,
            tool_timeout,
            turn_timeout,
            pace,
            tools,
            only_listed,
        } => read_events(*provider, file).and_then(|decoded| {
            let options = run::RunOptions {
                provider: decoded.provider,
                dispatch: *dispatch,
                concurrency: *concurrency,
                tool_timeout: *tool_timeout,
                turn_timeout: *turn_timeout,
                pace: *pace,
                tools: tools.clone(),
                only_listed: *only_listed,
            };
            let unusable = run::run(decoded.events, options, &mut out).map_err(Failure::Output)?;
            match decoded.error.or(unusable) {
                Some(reason) => Err(Failure::Input(reason)),
                None => Ok(()),
            }
        }),
    };
    let flushed = out.flush();
    match result.and(flushed.map_err(Failure::Output)) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`toolstream sse big.sse | head`) is the reader's choice, not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("toolstream: cannot write output: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Input(reason)) => {
            eprintln!("toolstream: {reason}");
            ExitCode::from(1)
        }
    }
}
