//! The `toolstream` command line (SPEC §7).
//!
//! JSON goes to standard output, diagnostics to standard error. Exit status 0 on success,
//! 1 when the input is malformed or a limit was exceeded (one line on standard error), 2
//! on bad usage.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod bench;
mod demo;
mod inspect;
mod mcp_server;
mod proxy;
mod run;
mod serve;
mod tool_definitions;

use std::num::NonZeroUsize;

use clap::{Parser, Subcommand};
use toolstream::{DispatchPolicy, McpServer, ProviderChoice};

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
        /// Serve the tools from the bundled MCP server (a child process on stdio) and
        /// compare per-tool dispatch, driven by the tools' annotations, with batched.
        #[arg(long)]
        mcp: bool,
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
        #[arg(long, default_value = "8192", value_parser = at_least_one)]
        chunk: NonZeroUsize,
        /// Size of the generated corpus in MB (without FILE).
        #[arg(long, default_value = "16", value_parser = at_least_one)]
        mb: NonZeroUsize,
        /// Milliseconds each parser (toolstream, and each baseline) is timed for: the input
        /// is parsed over and over (at least three times), and the fastest pass counts.
        #[arg(long, value_name = "MS", default_value = "1500", value_parser = at_least_one)]
        millis: NonZeroUsize,
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
        /// Inject a fault, `KIND[,FIELD=VALUE...]` (repeatable; added to the script's):
        /// KIND is rate-limit (429), overloaded (529), server-error (500), error-event,
        /// stall or cut; FIELDs are request (from 1), turn (from 0), times, after-events,
        /// retry-after, retry-after-ms, pause-ms. E.g. `--fault 429,request=1,retry-after=2`.
        #[arg(long, value_name = "FAULT")]
        fault: Vec<toolstream::mock::Fault>,
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
    /// with the demo's simulated tools or MCP servers' tools, printing text as it streams.
    Chat {
        /// anthropic, openai-chat, openai-responses, gemini or bedrock.
        #[arg(long)]
        provider: toolstream::Provider,
        /// The model (a sensible default per provider).
        #[arg(long)]
        model: Option<String>,
        /// Send requests here instead (a proxy, a compatible server, `toolstream serve`).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// batched, eager or per-tool (MCP tools annotated read-only start early).
        #[arg(long, default_value = "eager")]
        dispatch: DispatchPolicy,
        #[command(flatten)]
        mcp: McpArgs,
        /// Prompt-cache breakpoints for Anthropic and Bedrock: off, 5m or 1h.
        #[arg(long, default_value = "5m")]
        cache: toolstream::PromptCaching,
        /// The output token limit (default 4096 for Anthropic and Bedrock, the provider's
        /// own elsewhere).
        #[arg(long, value_name = "N")]
        max_tokens: Option<u64>,
        /// The sampling temperature (the provider's default when not given).
        #[arg(long, value_name = "F")]
        temperature: Option<f64>,
        /// Nucleus sampling, 0 to 1.
        #[arg(long, value_name = "F")]
        top_p: Option<f64>,
        /// A sequence that ends the output (repeatable; not on openai-responses).
        #[arg(long = "stop", value_name = "TEXT")]
        stop: Vec<String>,
        /// Retries of a request that failed before streaming (connection errors, 408, 409,
        /// 429, 5xx, overloaded), with exponential backoff and `retry-after` honoured.
        #[arg(long, value_name = "N", default_value = "2")]
        retries: u32,
        /// Seconds without a byte from the provider before the request fails (0: none).
        #[arg(long, value_name = "SECS", default_value = "120")]
        idle_timeout: u64,
        /// Seconds a whole request may take, retries and streaming included (default: no
        /// limit).
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// auto, any (a tool must be called), none, or the name of the tool to call.
        #[arg(long, value_name = "auto|any|none|NAME", value_parser = parse_tool_choice)]
        tool_choice: Option<toolstream::ToolChoice>,
        /// minimal, low, medium or high (not minimal on anthropic and bedrock).
        #[arg(long, value_name = "LEVEL")]
        reasoning_effort: Option<toolstream::ReasoningEffort>,
        /// A reasoning token budget (anthropic, bedrock: thinking on, at least 1024 and
        /// below --max-tokens; gemini: thinkingBudget).
        #[arg(long, value_name = "N")]
        thinking_budget: Option<u32>,
        /// An extra HTTP header, `Name: value` (repeatable).
        #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
        headers: Vec<(String, String)>,
        /// Extra top-level body fields, as a JSON object: a field the request has is
        /// replaced, the others are added (e.g. '{"service_tier":"auto"}').
        #[arg(long, value_name = "JSON", value_parser = parse_body)]
        body: Option<String>,
        /// The message.
        message: String,
    },
    /// Replay a stream, run simulated tools (or with --mcp, MCP servers' tools: one they do
    /// not offer is unknown; under --dispatch per-tool, those annotated read-only start
    /// early), print tool events and the next message.
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
        #[arg(long, default_value = "8", value_parser = at_least_one)]
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
        #[arg(long = "tool", value_name = "NAME=BEHAVIOUR", conflicts_with = "mcp")]
        tools: Vec<run::ToolSpec>,
        /// Tools not named with --tool are unknown (an error result) instead of echo.
        #[arg(long, conflicts_with = "mcp")]
        only_listed: bool,
        // With --mcp, the servers' tools replace the simulated ones.
        #[command(flatten)]
        mcp: McpArgs,
    },
    /// Print the tool definitions a request to the provider carries, as one JSON array:
    /// the tools of the MCP servers, or the demo's.
    Tools {
        /// anthropic, openai-chat, openai-responses, gemini or bedrock.
        #[arg(long)]
        provider: toolstream::Provider,
        #[command(flatten)]
        mcp: McpArgs,
        /// The model the request is for (Bedrock: whether the tools end with a cache
        /// point); as `chat` by default.
        #[arg(long)]
        model: Option<String>,
        /// Prompt-cache breakpoints for Anthropic and Bedrock: off, 5m or 1h (as `chat`).
        #[arg(long, default_value = "5m")]
        cache: toolstream::PromptCaching,
    },
    /// The demo's tools served over MCP on standard input and output (what `demo --mcp`
    /// spawns).
    #[command(hide = true)]
    McpDemoServer,
}

/// The MCP servers whose tools `run`, `chat` and `tools` use.
#[derive(clap::Args)]
struct McpArgs {
    /// The tools of the MCP server this command line starts (stdio), instead of the
    /// demo's or simulated ones (repeatable). Split like a shell does: quotes and
    /// backslashes, no variables or globs. An http(s):// URL reaches a streamable HTTP
    /// server.
    #[arg(long = "mcp", value_name = "COMMAND", value_parser = parse_mcp)]
    mcp: Vec<McpServer>,
    /// Seconds each MCP server may take to start, answer the handshake and list its tools
    /// (default 30).
    #[arg(long, value_name = "SECS", value_parser = at_least_one, requires = "mcp")]
    mcp_timeout: Option<NonZeroUsize>,
}

impl McpArgs {
    /// The servers, with the connect timeout given.
    fn servers(&self) -> Vec<McpServer> {
        let timeout = self
            .mcp_timeout
            .map(|s| Duration::from_secs(s.get() as u64));
        self.mcp
            .iter()
            .map(|server| match timeout {
                Some(t) => server.clone().connect_timeout(t),
                None => server.clone(),
            })
            .collect()
    }
}

/// `--mcp COMMAND`: a command line split like a shell does, or an http(s):// URL.
fn parse_mcp(s: &str) -> Result<McpServer, String> {
    McpServer::parse(s).map_err(|e| reason(&e))
}

/// An error and its sources on one line (`a: b: c`), each source once: a reason for
/// standard error.
fn reason(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = s.source();
    }
    let parts: Vec<&str> = line
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join("; ")
}

/// The model `chat` and `tools` use when none is given.
fn default_model(provider: toolstream::Provider) -> String {
    match provider {
        toolstream::Provider::Anthropic => "claude-sonnet-4-5",
        toolstream::Provider::Gemini => "gemini-2.5-flash",
        toolstream::Provider::Bedrock => "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        _ => "gpt-4.1-mini",
    }
    .to_owned()
}

/// A count that must be at least 1 (a `NonZeroUsize`), with a message that says so rather
/// than Rust's "number would be zero for non-zero type".
fn at_least_one(s: &str) -> Result<NonZeroUsize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    NonZeroUsize::new(n).ok_or_else(|| "must be at least 1".to_owned())
}

/// `chat --tool-choice`: auto, any, none, or a tool's name.
fn parse_tool_choice(s: &str) -> Result<toolstream::ToolChoice, String> {
    use toolstream::ToolChoice;
    Ok(match s {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Any,
        "none" => ToolChoice::None,
        "" => return Err("expected auto, any, none or a tool's name".to_owned()),
        name => ToolChoice::Tool(name.to_owned()),
    })
}

/// `chat --header`: `Name: value` (the value's surrounding spaces trimmed).
fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not `Name: value`"))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// `chat --body`: a JSON object.
fn parse_body(s: &str) -> Result<String, String> {
    toolstream::RequestOptions::new()
        .extra_body_json(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("not a JSON object: {e}"))
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::McpDemoServer = cli.command {
        // Standard output is the protocol's: not locked or written here.
        return match mcp_server::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => {
                eprintln!("toolstream mcp-demo-server: {reason}");
                ExitCode::from(1)
            }
        };
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = match &cli.command {
        Command::Sse { file } => inspect::run_sse(file, &mut out),
        Command::Events { provider, file } => inspect::run_events(*provider, file, &mut out),
        Command::Turn { provider, file } => inspect::run_turn(*provider, file, &mut out),
        Command::Demo { svg, mcp } => demo::demo(svg.as_deref(), *mcp).map_err(Failure::Input),
        Command::Bench {
            provider,
            json,
            chunk,
            mb,
            millis,
            file,
        } => bench::bench(
            *provider,
            file.as_deref(),
            chunk.get(),
            mb.get(),
            Duration::from_millis(millis.get() as u64),
            *json,
        )
        .map_err(Failure::Input)
        .and_then(|report| writeln!(out, "{report}").map_err(Failure::Output)),
        Command::Serve {
            addr,
            script,
            cache_minimums,
            fault,
        } => serve::serve(*addr, script.as_deref(), *cache_minimums, fault).map_err(Failure::Input),
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
            mcp,
            cache,
            max_tokens,
            temperature,
            top_p,
            stop,
            tool_choice,
            reasoning_effort,
            thinking_budget,
            headers,
            body,
            retries,
            idle_timeout,
            timeout,
            message,
        } => {
            let network = serve::Network {
                base_url: base_url.clone(),
                retries: toolstream::RetryPolicy::new(*retries),
                idle_timeout: (*idle_timeout > 0).then(|| Duration::from_secs(*idle_timeout)),
                timeout: timeout.map(Duration::from_secs),
            };
            let mut options = toolstream::RequestOptions::new().stop_sequences(stop);
            if let Some(n) = max_tokens {
                options = options.max_tokens(*n);
            }
            if let Some(t) = temperature {
                options = options.temperature(*t);
            }
            if let Some(p) = top_p {
                options = options.top_p(*p);
            }
            if let Some(c) = tool_choice {
                options = options.tool_choice(c.clone());
            }
            if let Some(e) = reasoning_effort {
                options = options.reasoning_effort(*e);
            }
            if let Some(n) = thinking_budget {
                options = options.thinking_budget(*n);
            }
            for (name, value) in headers {
                options = options.header(name, value);
            }
            if let Some(json) = body {
                options = options
                    .extra_body_json(json)
                    .expect("checked by the argument parser");
            }
            // Options the provider does not take are bad usage (exit 2), said before any
            // request is sent.
            if let Err(e) = options.check(*provider) {
                <Cli as clap::CommandFactory>::command()
                    .error(clap::error::ErrorKind::ValueValidation, e)
                    .exit();
            }
            let model = model.clone().unwrap_or_else(|| default_model(*provider));
            serve::chat(
                *provider,
                &model,
                message,
                *dispatch,
                *cache,
                options,
                network,
                &mcp.servers(),
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
            mcp,
        } => inspect::read_events(*provider, file).and_then(|decoded| {
            let options = run::RunOptions {
                provider: decoded.provider,
                dispatch: *dispatch,
                concurrency: *concurrency,
                tool_timeout: *tool_timeout,
                turn_timeout: *turn_timeout,
                pace: *pace,
                tools: tools.clone(),
                only_listed: *only_listed,
                mcp: mcp.servers(),
            };
            let unusable = run::run(decoded.events, options, &mut out)?;
            match decoded.error.or(unusable) {
                Some(reason) => Err(Failure::Input(reason)),
                None => Ok(()),
            }
        }),
        Command::Tools {
            provider,
            mcp,
            model,
            cache,
        } => {
            let model = model.clone().unwrap_or_else(|| default_model(*provider));
            tool_definitions::print(*provider, &model, *cache, &mcp.servers(), &mut out)
        }
        Command::McpDemoServer => unreachable!("served above"),
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
