#![cfg(all(feature = "cli", feature = "mcp"))]
//! The command line with tools from MCP servers (SPEC §7, issue 18): `tools --mcp`,
//! `run --mcp`, `chat --mcp` and `demo --mcp`, against the bundled server
//! (`toolstream mcp-demo-server`, written with rmcp), and against commands that are not
//! MCP servers at all. Real processes; timing asserted only as an order (a tool started
//! before the message ended), with `--pace` giving a wide margin.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use toolstream::mock::{MockServer, Script};
use toolstream::{McpServer, McpTools, ModelClient, Provider};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
}

/// The `--mcp` command line that starts the bundled server.
fn demo_server() -> String {
    format!("{} mcp-demo-server", env!("CARGO_BIN_EXE_toolstream"))
}

fn fixture(path: &str) -> String {
    format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The stream whose calls name the bundled server's tools: get_weather, set_home_city,
/// book_flight (no server offers it), get_time, search.
fn demo_server_calls() -> String {
    fixture("anthropic/constructed-anthropic-demo-server-tools.sse")
}

/// The bundled server's tools, as listed (by name).
const SERVED: [&str; 5] = [
    "get_forecast",
    "get_time",
    "get_weather",
    "search",
    "set_home_city",
];

/// What a finished command left: exit code, standard output, standard error.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `toolstream ARGS`, failing the test if it takes longer than `limit` (then it is
/// killed). Output goes to files, not pipes: a child it leaves behind cannot hold the test
/// waiting for the end of a pipe.
fn run_within(args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Finished {
    let dir = std::env::temp_dir();
    let tag = format!(
        "toolstream-cli-mcp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (out_path, err_path): (PathBuf, PathBuf) = (
        dir.join(format!("{tag}.out")),
        dir.join(format!("{tag}.err")),
    );
    let mut command = bin();
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`toolstream {}` still running after {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &PathBuf| {
        let text = std::fs::read_to_string(p).unwrap();
        std::fs::remove_file(p).unwrap();
        text
    };
    Finished {
        code: status.code(),
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// Runs `toolstream ARGS` (a minute at most).
fn toolstream(args: &[&str]) -> Finished {
    run_within(args, &[], Duration::from_secs(60))
}

/// The JSON lines of `run`.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn of_kind<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["kind"] == kind).collect()
}

/// The `t_ms` of the line of `kind` for call `index` (the first such line).
fn t_ms(lines: &[Value], kind: &str, index: u64) -> u64 {
    lines
        .iter()
        .find(|l| l["kind"] == kind && l["index"] == index)
        .unwrap_or_else(|| panic!("no {kind} of call {index} in {lines:#?}"))["t_ms"]
        .as_u64()
        .unwrap()
}

/// Whether `text` has `word` as a whole word (between characters that are not letters,
/// digits, `-` or `_`).
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .any(|w| w == word)
}

/// The one line a failed command leaves on standard error.
fn one_line_reason(f: &Finished) -> &str {
    assert_eq!(f.code, Some(1), "stdout {}\nstderr {}", f.stdout, f.stderr);
    assert_eq!(f.stderr.lines().count(), 1, "{:?}", f.stderr);
    let line = f.stderr.trim_end();
    assert!(line.starts_with("toolstream: "), "{line}");
    line
}

// `toolstream tools`

/// What each provider's tool format must hold for one tool: the name, the description and
/// the schema (an object schema with properties) under the provider's keys.
fn tool_of(provider: Provider, tool: &Value) -> (String, String, Value) {
    let fields = |t: &Value, schema: &str| {
        (
            t["name"].as_str().unwrap().to_owned(),
            t["description"].as_str().unwrap().to_owned(),
            t[schema].clone(),
        )
    };
    match provider {
        Provider::Anthropic => fields(tool, "input_schema"),
        Provider::OpenAiChat => {
            assert_eq!(tool["type"], "function", "{tool}");
            assert_eq!(tool.as_object().unwrap().len(), 2, "{tool}");
            fields(&tool["function"], "parameters")
        }
        Provider::OpenAiResponses => {
            assert_eq!(tool["type"], "function", "{tool}");
            assert_eq!(tool["strict"], false, "{tool}");
            fields(tool, "parameters")
        }
        Provider::Gemini => fields(tool, "parametersJsonSchema"),
        Provider::Bedrock => {
            let (name, description, schema) = fields(&tool["toolSpec"], "inputSchema");
            (name, description, schema["json"].clone())
        }
        other => panic!("no tool format for {other}"),
    }
}

#[test]
fn tools_prints_the_definitions_each_provider_is_sent() {
    let server = demo_server();
    // The definitions as the library lists them, for the request bodies to compare with.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mcp = runtime
        .block_on(McpTools::connect([McpServer::stdio(
            "toolstream",
            env!("CARGO_BIN_EXE_toolstream"),
        )
        .arg("mcp-demo-server")]))
        .unwrap();
    let definitions = mcp.registry().definitions();
    runtime.block_on(mcp.shutdown());
    for provider in Provider::ALL {
        let p = provider.as_str();
        let f = toolstream(&["tools", "--mcp", &server, "--provider", p]);
        assert_eq!(f.code, Some(0), "{p}: {}", f.stderr);
        assert_eq!(
            f.stdout.lines().count(),
            1,
            "{p}: one JSON array: {}",
            f.stdout
        );
        let printed = f.stdout.trim_end();
        let array: Value = serde_json::from_str(printed).unwrap();
        let mut tools: Vec<&Value> = array.as_array().unwrap().iter().collect();
        match provider {
            // One Tool holding every declaration.
            Provider::Gemini => {
                assert_eq!(tools.len(), 1, "{p}: {printed}");
                tools = tools[0]["functionDeclarations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .collect();
            }
            // The Claude model `chat` uses by default caches the tools: a cache point
            // closes the list.
            Provider::Bedrock => {
                let last = tools.pop().unwrap();
                assert!(last.get("cachePoint").is_some(), "{p}: {printed}");
            }
            // The breakpoint on the last tool (`--cache 5m`, the default).
            Provider::Anthropic => {
                assert!(
                    tools.last().unwrap().get("cache_control").is_some(),
                    "{p}: {printed}"
                );
            }
            _ => {}
        }
        let listed: Vec<(String, String, Value)> =
            tools.iter().map(|t| tool_of(provider, t)).collect();
        let names: Vec<&str> = listed.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, SERVED, "{p}: {printed}");
        for (name, description, schema) in &listed {
            assert!(!description.is_empty(), "{p} {name}");
            assert_eq!(schema["type"], "object", "{p} {name}: {schema}");
        }
        let weather = &listed[2].2;
        assert_eq!(weather["properties"]["city"]["type"], "string", "{p}");
        assert_eq!(weather["required"], serde_json::json!(["city"]), "{p}");
        // Byte for byte what a request to the provider carries.
        let client = ModelClient::new(provider, default_model(provider), "k").unwrap();
        let body = client.request_body(&[], &definitions);
        assert!(body.contains(printed), "{p}:\n{printed}\nnot in\n{body}");
    }
}

/// The model `tools` assumes when none is given (as `chat`).
fn default_model(provider: Provider) -> &'static str {
    match provider {
        Provider::Anthropic => "claude-sonnet-4-5",
        Provider::Gemini => "gemini-2.5-flash",
        Provider::Bedrock => "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        _ => "gpt-4.1-mini",
    }
}

// `toolstream run --mcp`

#[test]
fn run_answers_with_the_servers_tools_in_request_order() {
    let server = demo_server();
    let calls = demo_server_calls();
    let f = toolstream(&["run", "--provider", "anthropic", &calls, "--mcp", &server]);
    assert_eq!(f.code, Some(0), "{}", f.stderr);
    let lines = json_lines(&f.stdout);
    let results: Vec<(u64, &str, &str, &str)> = of_kind(&lines, "tool_result")
        .iter()
        .map(|l| {
            (
                l["index"].as_u64().unwrap(),
                l["name"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
                l["content"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = [
        (0, "get_weather", "ok", "Paris: sunny, 21°C"),
        (
            1,
            "set_home_city",
            "ok",
            "home city set to Tokyo (was none)",
        ),
        (3, "get_time", "ok", "20:41 local time"),
        (
            4,
            "search",
            "ok",
            "Light rain: a compact umbrella is enough.",
        ),
    ];
    assert_eq!(results.len(), 5, "{results:?}");
    // Request order, whatever the order the tools finished in.
    assert_eq!(
        results.iter().map(|r| r.0).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    for want in expected {
        assert_eq!(results[want.0 as usize], want);
    }
    // No server offers `book_flight`: an unknown tool, answered in its slot.
    let (_, name, status, content) = results[2];
    assert_eq!((name, status), ("book_flight", "error"));
    assert!(
        content.contains("unknown tool") && content.contains("book_flight"),
        "{content}"
    );
    // The results message carries them in the same order.
    let next = &lines.last().unwrap()["message"];
    let ids: Vec<&str> = next["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["tool_use_id"].as_str().unwrap())
        .collect();
    let called: Vec<&str> = of_kind(&lines, "tool_call")
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, called);
    assert_eq!(next["content"][0]["content"], "Paris: sunny, 21°C");
}

#[test]
fn per_tool_dispatch_starts_the_read_only_tools_while_the_model_streams() {
    let server = demo_server();
    let calls = demo_server_calls();
    // 35 events, 40 ms apart: get_weather's arguments are complete about a second before
    // the message ends.
    let paced = |dispatch: &str| {
        let f = toolstream(&[
            "run",
            "--provider",
            "anthropic",
            &calls,
            "--mcp",
            &server,
            "--dispatch",
            dispatch,
            "--pace",
            "40",
        ]);
        assert_eq!(f.code, Some(0), "{}", f.stderr);
        let lines = json_lines(&f.stdout);
        let stop = of_kind(&lines, "message_stop")[0]["t_ms"].as_u64().unwrap();
        (lines, stop)
    };
    let (lines, stop) = paced("per-tool");
    // Read-only (readOnlyHint true, openWorldHint false): eager.
    for index in [0, 3, 4] {
        let started = t_ms(&lines, "tool_started", index);
        assert!(
            started < stop,
            "call {index} started at {started}, message ended at {stop}"
        );
    }
    // Destructive: held until the message ends.
    let started = t_ms(&lines, "tool_started", 1);
    assert!(
        started >= stop,
        "set_home_city started at {started}, message ended at {stop}"
    );
    let position = |kind: &str, index: Option<u64>| {
        lines
            .iter()
            .position(|l| l["kind"] == kind && index.is_none_or(|i| l["index"] == i))
            .unwrap()
    };
    assert!(position("tool_started", Some(0)) < position("message_stop", None));
    assert!(position("tool_started", Some(1)) > position("message_stop", None));
    // The same servers under batched dispatch: every call waits for the message's end.
    let (lines, stop) = paced("batched");
    for index in [0, 1, 3, 4] {
        let started = t_ms(&lines, "tool_started", index);
        assert!(
            started >= stop,
            "call {index} started at {started} before {stop}"
        );
    }
}

// `toolstream chat --mcp`

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_runs_the_conversation_with_the_servers_tools() {
    let mut script = Script::default_demo();
    script.chunk_delay_ms = 1;
    let last = script.turns.last().unwrap().text.clone();
    let mock = MockServer::start("127.0.0.1:0".parse().unwrap(), script)
        .await
        .unwrap();
    let base = mock.base_url();
    let server = demo_server();
    let f = tokio::task::spawn_blocking(move || {
        run_within(
            &[
                "chat",
                "--provider",
                "anthropic",
                "--base-url",
                &base,
                "--dispatch",
                "per-tool",
                "--mcp",
                &server,
                "Weather?",
            ],
            &[("ANTHROPIC_API_KEY", "test-key")],
            Duration::from_secs(60),
        )
    })
    .await
    .unwrap();
    assert_eq!(f.code, Some(0), "{}", f.stderr);
    assert!(f.stdout.contains(&last), "{}", f.stdout);
    for answer in [
        "[tool 0 get_weather -> Paris: sunny, 21°C]",
        "[tool 1 get_weather -> Tokyo: light rain, 17°C]",
        "[tool 2 get_time -> 20:41 local time]",
        "[tool 0 get_forecast -> Tomorrow: rain easing by 9am, 19°C.]",
    ] {
        assert!(f.stdout.contains(answer), "{answer} in {}", f.stdout);
    }
    // The tools the model was offered are the server's, set_home_city included.
    assert!(
        f.stderr.contains("tools from MCP") && f.stderr.contains("set_home_city"),
        "{}",
        f.stderr
    );
    let stats = mock.stats();
    assert_eq!((stats.requests, stats.rejected), (3, 0));
    mock.shutdown().await;
}

// `toolstream demo --mcp`

#[test]
fn demo_serves_its_tools_from_the_bundled_server() {
    let f = toolstream(&["demo", "--mcp"]);
    assert_eq!(f.code, Some(0), "{}\n{}", f.stdout, f.stderr);
    let out = &f.stdout;
    assert!(
        out.contains("tools: 5 from the MCP server `toolstream-demo`"),
        "{out}"
    );
    // Each tool with what its annotations make of it.
    let line_of = |tool: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{tool} ")))
            .unwrap_or_else(|| panic!("no line for {tool} in:\n{out}"))
    };
    for tool in ["get_weather", "get_time", "search", "get_forecast"] {
        let line = line_of(tool);
        assert!(
            line.contains("read-only") && line.ends_with("eager"),
            "{line}"
        );
    }
    let line = line_of("set_home_city");
    assert!(
        line.contains("destructive") && line.ends_with("batched"),
        "{line}"
    );
    for needle in [
        "== per-tool dispatch ==",
        "== batched dispatch ==",
        "== summary ==",
        "time per-tool saved: ",
        "prompt cache: 4 hits, 0 misses, 2 first requests; 0 order violations, 0 refused requests",
        "per-tool and batched histories are byte-identical",
        "tool calls: 6 per mode, each a `tools/call` request to the MCP server `toolstream-demo` over stdio",
        // The server's answers, as the in-process tools give them.
        "0 get_weather: Paris: sunny, 21°C",
        "3 search: Light rain: a compact umbrella is enough.",
        "0 get_forecast: Tomorrow: rain easing by 9am, 19°C.",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    for turn in Script::default_demo().turns {
        let said = format!("model said: {}", turn.text);
        assert_eq!(
            out.lines().filter(|l| l.ends_with(&said)).count(),
            2,
            "{said:?} in:\n{out}"
        );
    }
}

// Servers that cannot be used

#[test]
fn a_program_that_does_not_exist_is_named_in_one_line() {
    let missing = "/nonexistent/toolstream-no-such-mcp-server --flag";
    let calls = demo_server_calls();
    let limit = Duration::from_secs(30);
    for args in [
        vec!["tools", "--provider", "anthropic", "--mcp", missing],
        vec!["run", "--provider", "anthropic", &calls, "--mcp", missing],
        vec![
            "chat",
            "--provider",
            "anthropic",
            "--base-url",
            "http://127.0.0.1:9",
            "--mcp",
            missing,
            "hi",
        ],
    ] {
        let f = run_within(&args, &[("ANTHROPIC_API_KEY", "test-key")], limit);
        let line = one_line_reason(&f);
        assert!(
            line.contains("toolstream-no-such-mcp-server"),
            "{args:?}: {line}"
        );
        assert!(f.stdout.is_empty(), "{args:?}: {}", f.stdout);
    }
}

#[test]
fn a_program_that_is_not_an_mcp_server_fails_without_hanging() {
    let calls = demo_server_calls();
    // `true` exits at once: the handshake fails as soon as its output ends.
    for args in [
        vec!["tools", "--provider", "anthropic", "--mcp", "true"],
        vec!["run", "--provider", "anthropic", &calls, "--mcp", "true"],
    ] {
        let f = run_within(&args, &[], Duration::from_secs(15));
        let line = one_line_reason(&f);
        assert!(has_word(line, "true"), "{args:?}: {line}");
    }
    // `cat` stays up and echoes the client's own messages back, which no MCP client
    // takes for an answer: it fails when the connect timeout runs out (here 2 s, not the
    // default 30: the 15 s limit shows `--mcp-timeout` applied).
    for args in [
        vec![
            "tools",
            "--provider",
            "anthropic",
            "--mcp",
            "cat",
            "--mcp-timeout",
            "2",
        ],
        vec![
            "run",
            "--provider",
            "anthropic",
            &calls,
            "--mcp",
            "cat",
            "--mcp-timeout",
            "2",
        ],
    ] {
        let f = run_within(&args, &[], Duration::from_secs(15));
        let line = one_line_reason(&f);
        assert!(has_word(line, "cat"), "{args:?}: {line}");
    }
}
