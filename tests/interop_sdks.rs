//! The official SDKs, unchanged, against `toolstream serve` (issue 15; `interop/README.md`).
//!
//! Each test runs one multi-turn tool loop from `interop/`, written the way its SDK's docs
//! write it, against a `toolstream serve` playing `interop/script.json`, through a
//! `toolstream proxy --mode record` in front of it, twice, and checks:
//!
//! - the loop exits 0 with nothing on standard error (Python runs with `-W error`; any
//!   warning the Vercel AI SDK logs goes to standard error);
//! - the turns it prints (text and tool calls, as the SDK assembled them) are the script's,
//!   and `toolstream turn` finds the same text and calls (names, ids, inputs) in each
//!   response the proxy recorded, turn by turn;
//! - both runs print the same turns, and the mock's statistics show no order violation, no
//!   refused request, no cache miss, and one request per turn.
//!
//! The SDKs are installed by `bash interop/setup.sh` into `target/interop/` (or
//! `$TOOLSTREAM_INTEROP_DIR`). Without them the tests pass with a loud notice on standard
//! error, unless `TOOLSTREAM_INTEROP=require` (set by `.ci/run` when the registries are
//! reachable): then they fail. Each run leaves its cassettes, logs and the loop's output
//! under `target/interop/runs/<test>/` for inspection.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::interop::{interop_src, Env};

/// How long one run of a loop may take (they take a second or two).
const LOOP_TIMEOUT: Duration = Duration::from_secs(120);

/// One SDK loop.
struct Sdk {
    /// The test's name, and its folder under `runs/`.
    name: &'static str,
    runner: Runner,
    /// toolstream's name for the wire format (`turn --provider`).
    provider: &'static str,
    /// Appended to the proxy's URL to make the base URL the SDK is given.
    base_suffix: &'static str,
    /// The loop's arguments after the base URL.
    args: &'static [&'static str],
    /// Variables set for the loop once the environment is cleaned (`loop_command`).
    env: &'static [(&'static str, &'static str)],
}

enum Runner {
    /// A script in `interop/`, run by the venv's Python.
    Python(&'static str),
    /// `interop/vercel_ai.mjs` with this provider argument, run by the pinned Node.js.
    Vercel(&'static str),
}

#[test]
fn anthropic_python() {
    check(Sdk {
        name: "anthropic_python",
        runner: Runner::Python("anthropic_messages.py"),
        provider: "anthropic",
        base_suffix: "",
        args: &[],
        env: &[],
    });
}

#[test]
fn openai_python_chat_completions() {
    check(Sdk {
        name: "openai_python_chat_completions",
        runner: Runner::Python("openai_chat.py"),
        provider: "openai-chat",
        base_suffix: "/v1",
        args: &[],
        env: &[],
    });
}

#[test]
fn openai_python_responses() {
    check(Sdk {
        name: "openai_python_responses",
        runner: Runner::Python("openai_responses.py"),
        provider: "openai-responses",
        base_suffix: "/v1",
        args: &[],
        env: &[],
    });
}

#[test]
fn google_genai_python() {
    check(Sdk {
        name: "google_genai_python",
        runner: Runner::Python("google_genai_chat.py"),
        provider: "gemini",
        base_suffix: "",
        args: &[],
        env: &[],
    });
}

#[test]
fn vercel_ai_openai_responses() {
    check(Sdk {
        name: "vercel_ai_openai_responses",
        runner: Runner::Vercel("openai-responses"),
        provider: "openai-responses",
        base_suffix: "",
        args: &[],
        env: &[],
    });
}

#[test]
fn vercel_ai_openai_chat() {
    check(Sdk {
        name: "vercel_ai_openai_chat",
        runner: Runner::Vercel("openai-chat"),
        provider: "openai-chat",
        base_suffix: "",
        args: &[],
        env: &[],
    });
}

#[test]
fn vercel_ai_anthropic() {
    check(Sdk {
        name: "vercel_ai_anthropic",
        runner: Runner::Vercel("anthropic"),
        provider: "anthropic",
        base_suffix: "",
        args: &[],
        env: &[],
    });
}

#[test]
fn vercel_ai_google() {
    check(Sdk {
        name: "vercel_ai_google",
        runner: Runner::Vercel("gemini"),
        provider: "gemini",
        base_suffix: "",
        args: &[],
        env: &[],
    });
}

#[test]
fn bedrock_boto3_python() {
    check(Sdk {
        name: "bedrock_boto3_python",
        runner: Runner::Python("bedrock_boto3.py"),
        provider: "bedrock",
        base_suffix: "",
        // ConverseStream only: one request per turn.
        args: &["stream"],
        // SigV4 with dummy credentials (botocore sends no bearer token over http); no
        // shared config or credentials file of the developer's.
        env: &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "interop-secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ],
    });
}

// ---------------------------------------------------------------------------------------
// The environment

/// The installed SDKs, or `None` (after a notice) when they are missing and not required.
fn environment() -> Option<Env> {
    crate::interop::environment("the official SDKs", "interop_sdks.rs", &[])
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
}

// ---------------------------------------------------------------------------------------
// Processes

/// A child process, killed and reaped on drop (panics included).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `toolstream serve` or `proxy`.
struct Server {
    _process: KillOnDrop,
    /// Kept open: the server may write more than its first line.
    _stdout: BufReader<ChildStdout>,
    base: String,
}

impl Server {
    /// Starts `toolstream ARGS`, its standard error into `log`; the base URL is the first
    /// line it prints.
    fn start<S: AsRef<OsStr>>(args: &[S], log: &Path) -> Server {
        let mut process = KillOnDrop(
            bin()
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(File::create(log).unwrap())
                .spawn()
                .unwrap(),
        );
        let mut stdout = BufReader::new(process.0.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let base = first.trim().to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "toolstream {:?} printed {first:?}; see {}",
            args.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
            log.display()
        );
        Server {
            _process: process,
            _stdout: stdout,
            base,
        }
    }

    /// `GET PATH` (`/mock/stats`, `/proxy/stats`): the JSON body.
    fn get(&self, path: &str) -> Value {
        let addr = self.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {response}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }
}

/// What a loop did.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end, or kills it after `timeout`.
fn run(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let mut process = KillOnDrop(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {cmd:?}: {e}"))?,
    );
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(process.0.stdout.take().unwrap()));
    let stderr = drain(Box::new(process.0.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            drop(process);
            return Err(format!(
                "{cmd:?} did not finish in {timeout:?}; its standard error: {}",
                stderr.join().unwrap()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    })
}

/// The command running `sdk`'s loop against `base`.
fn loop_command(sdk: &Sdk, env: &Env, base: &str) -> Command {
    let mut cmd = match sdk.runner {
        Runner::Python(script) => {
            let mut cmd = Command::new(&env.python);
            // Every warning is an error (DeprecationWarning, ResourceWarning, ...); no
            // bytecode is written into the source tree.
            cmd.args(["-W", "error"])
                .arg(interop_src().join(script))
                .arg(base)
                .args(sdk.args)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env_remove("PYTHONWARNINGS")
                .current_dir(interop_src());
            cmd
        }
        Runner::Vercel(provider) => {
            // Node.js resolves the packages from the script's folder: the script goes
            // beside the installed node_modules (written whole, then renamed, as tests
            // run in parallel).
            let node_dir = env.dir.join("node");
            let script = node_dir.join("vercel_ai.mjs");
            let tmp = node_dir.join(format!("vercel_ai.mjs.{}.{}", std::process::id(), sdk.name));
            std::fs::copy(interop_src().join("vercel_ai.mjs"), &tmp).unwrap();
            std::fs::rename(&tmp, &script).unwrap();
            let mut cmd = Command::new(&env.node);
            cmd.arg(&script)
                .args([provider, base])
                .args(sdk.args)
                .env_remove("NODE_OPTIONS")
                .current_dir(node_dir);
            cmd
        }
    };
    // The SDKs read keys, base URLs and proxies from the environment: none of the
    // developer's may steer them (the keys and base URLs are passed explicitly, or in
    // `sdk.env`).
    for (name, _) in std::env::vars_os() {
        let upper = name.to_string_lossy().to_ascii_uppercase();
        let steering = [
            "ANTHROPIC_",
            "OPENAI_",
            "GOOGLE_",
            "GEMINI_",
            "AI_SDK_",
            "AWS_",
        ]
        .iter()
        .any(|p| upper.starts_with(p))
            || upper.ends_with("_PROXY");
        if steering {
            cmd.env_remove(name);
        }
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .envs(sdk.env.iter().copied());
    cmd
}

// ---------------------------------------------------------------------------------------
// The checks

/// A model turn: its text and its tool calls (`id`, `name`, `input`).
#[derive(Debug, Clone, PartialEq)]
struct Turn {
    text: String,
    calls: Vec<(Value, String, Value)>,
}

impl Turn {
    /// The loop's output: `{"turns": [{"text", "tool_calls": [{"id", "name", "input"}]}]}`.
    fn parse_output(stdout: &str) -> Result<Vec<Turn>, String> {
        let v: Value = serde_json::from_str(stdout.trim())
            .map_err(|e| format!("the loop's output is not one JSON object ({e})"))?;
        let turns = v["turns"].as_array().ok_or("no \"turns\" array")?;
        turns
            .iter()
            .map(|t| Turn::from_json(t, "tool_calls"))
            .collect()
    }

    fn from_json(t: &Value, calls: &str) -> Result<Turn, String> {
        let text = t["text"].as_str().ok_or(format!("no text in {t}"))?;
        let calls = t[calls]
            .as_array()
            .ok_or(format!("no {calls} in {t}"))?
            .iter()
            .map(|c| {
                let name = c["name"].as_str().ok_or(format!("no name in {c}"))?;
                Ok((c["id"].clone(), name.to_owned(), c["input"].clone()))
            })
            .collect::<Result<_, String>>()?;
        Ok(Turn {
            text: text.to_owned(),
            calls,
        })
    }

    /// Without the call ids (Gemini's wire carries none: each SDK makes its own).
    fn without_ids(&self) -> Turn {
        Turn {
            text: self.text.clone(),
            calls: self
                .calls
                .iter()
                .map(|(_, n, i)| (Value::Null, n.clone(), i.clone()))
                .collect(),
        }
    }
}

/// Whether `provider`'s wire format carries the call ids (Gemini's does not).
fn has_ids(provider: &str) -> bool {
    provider != "gemini"
}

/// The script's turns (`interop/script.json`), ids left out.
fn script_turns() -> Vec<Turn> {
    let script: Value =
        serde_json::from_str(&std::fs::read_to_string(interop_src().join("script.json")).unwrap())
            .unwrap();
    script["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let t = json!({"text": t["text"].as_str().unwrap_or(""), "calls": t.get("tool_calls").cloned().unwrap_or(json!([]))});
            Turn::from_json(&t, "calls").unwrap()
        })
        .collect()
}

/// The recorded exchanges of a cassette, in conversation order (each request's history
/// is longer than the one before): `(request.json, response status, response.body path)`.
fn exchanges(cassette: &Path) -> Result<Vec<(Value, u64, PathBuf)>, String> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(cassette).map_err(|e| format!("{}: {e}", cassette.display()))? {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() != 64 || !dir.is_dir() {
            continue;
        }
        let read = |f: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
        };
        let request = read("request.json");
        let status = read("response.json")["status"].as_u64().unwrap();
        all.push((request, status, dir.join("response.body")));
    }
    let history = |request: &Value| {
        let body = &request["body"];
        ["messages", "input", "contents"]
            .iter()
            .find_map(|k| body[k].as_array())
            .map_or(0, Vec::len)
    };
    all.sort_by_key(|(request, _, _)| history(request));
    for pair in all.windows(2) {
        if history(&pair[0].0) == history(&pair[1].0) {
            return Err(format!(
                "two recorded requests hold histories of the same length: {} and {}",
                pair[0].2.display(),
                pair[1].2.display()
            ));
        }
    }
    Ok(all)
}

/// `toolstream turn --provider P` on each recorded response: the same turns as the SDK's.
fn check_cassette(sdk: &Sdk, cassette: &Path, turns: &[Turn]) -> Result<(), String> {
    let recorded = exchanges(cassette)?;
    if recorded.len() != turns.len() {
        return Err(format!(
            "the proxy recorded {} exchanges for {} model turns",
            recorded.len(),
            turns.len()
        ));
    }
    for (k, ((request, status, body), sdk_turn)) in recorded.iter().zip(turns).enumerate() {
        let path = request["path"].as_str().unwrap_or_default();
        if *status != 200 {
            return Err(format!(
                "turn {k}: {path} was answered {status} ({})",
                body.display()
            ));
        }
        let out = bin()
            .args(["turn", "--provider", sdk.provider])
            .arg(body)
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(format!(
                "turn {k}: toolstream turn failed on {}: {}",
                body.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let calls_complete = v["tool_calls"].as_array().is_some_and(|c| {
            c.iter()
                .all(|c| c["complete"] == true && c["input_error"].is_null())
        });
        if v["complete"] != true || !v["error"].is_null() || !calls_complete {
            return Err(format!(
                "turn {k}: {} is not a complete message: {v}",
                body.display()
            ));
        }
        let mut ours = Turn::from_json(&v, "tool_calls")?;
        let mut theirs = sdk_turn.clone();
        if !has_ids(sdk.provider) {
            ours = ours.without_ids();
            theirs = theirs.without_ids();
        }
        if ours != theirs {
            return Err(format!(
                "turn {k}: the SDK assembled {theirs:?}, toolstream turn {ours:?} from {}",
                body.display()
            ));
        }
    }
    Ok(())
}

/// Runs `sdk`'s loop twice through a recording proxy against one `toolstream serve`, and
/// checks it (module docs).
fn check(sdk: Sdk) {
    let Some(env) = environment() else {
        return;
    };
    let runs = env.dir.join("runs").join(sdk.name);
    let _ = std::fs::remove_dir_all(&runs);
    std::fs::create_dir_all(&runs).unwrap();
    let script = interop_src().join("script.json");
    let serve = Server::start(
        &[
            OsStr::new("serve"),
            OsStr::new("--addr"),
            OsStr::new("127.0.0.1:0"),
            OsStr::new("--script"),
            script.as_os_str(),
        ],
        &runs.join("serve.log"),
    );
    let expected = script_turns();
    let fail = |run: usize, what: String| -> ! {
        panic!(
            "{} (run {run}): {what}\nmock stats: {}\ncassettes, logs and output in {}",
            sdk.name,
            serve.get("/mock/stats"),
            runs.display()
        )
    };
    let mut outputs: Vec<Vec<Turn>> = Vec::new();
    let mut sent_before = 0;
    for run_number in 1..=2 {
        let cassette = runs.join(format!("run{run_number}"));
        let proxy = Server::start(
            &[
                OsStr::new("proxy"),
                OsStr::new("--mode"),
                OsStr::new("record"),
                OsStr::new("--upstream"),
                OsStr::new(&serve.base),
                OsStr::new("--cassette"),
                cassette.as_os_str(),
                OsStr::new("--addr"),
                OsStr::new("127.0.0.1:0"),
            ],
            &runs.join(format!("proxy{run_number}.log")),
        );
        let base = format!("{}{}", proxy.base, sdk.base_suffix);
        let out = run(loop_command(&sdk, &env, &base), LOOP_TIMEOUT)
            .unwrap_or_else(|e| fail(run_number, e));
        std::fs::write(runs.join(format!("run{run_number}.stdout")), &out.stdout).unwrap();
        std::fs::write(runs.join(format!("run{run_number}.stderr")), &out.stderr).unwrap();
        // Every request the mock saw is stored once its answer has ended.
        let stats = serve.get("/mock/stats");
        let sent = stats["requests"].as_u64().unwrap() + stats["rejected"].as_u64().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while proxy.get("/proxy/stats")["recorded"].as_u64().unwrap() < sent - sent_before
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        sent_before = sent;
        drop(proxy);
        if !out.status.success() || !out.stderr.is_empty() {
            fail(
                run_number,
                format!(
                    "the loop exited with {} and wrote on standard error:\n{}\nstandard output:\n{}",
                    out.status, out.stderr, out.stdout
                ),
            );
        }
        let turns = Turn::parse_output(&out.stdout).unwrap_or_else(|e| fail(run_number, e));
        let bare: Vec<Turn> = turns.iter().map(Turn::without_ids).collect();
        if bare != expected {
            fail(
                run_number,
                format!("the SDK assembled {bare:#?}\nthe script's turns are {expected:#?}"),
            );
        }
        check_cassette(&sdk, &cassette, &turns).unwrap_or_else(|e| fail(run_number, e));
        outputs.push(turns);
        // Each conversation: its first request writes, every later one hits.
        let stats = serve.get("/mock/stats");
        let counts = [
            "requests",
            "cache_writes",
            "cache_hits",
            "cache_misses",
            "order_violations",
            "rejected",
        ]
        .map(|k| stats[k].as_u64().unwrap());
        let (r, n) = (run_number as u64, expected.len() as u64);
        if counts != [r * n, r, r * (n - 1), 0, 0, 0] {
            fail(
                run_number,
                format!(
                    "expected {} requests, {r} cache writes, {} hits, no miss, no order \
                     violation, nothing refused",
                    r * n,
                    r * (n - 1)
                ),
            );
        }
    }
    // The same conversation twice (Gemini's call ids are the SDK's own, maybe random).
    let comparable = |turns: &[Turn]| -> Vec<Turn> {
        if has_ids(sdk.provider) {
            turns.to_vec()
        } else {
            turns.iter().map(Turn::without_ids).collect()
        }
    };
    if comparable(&outputs[0]) != comparable(&outputs[1]) {
        fail(
            2,
            format!(
                "the second run differs from the first: {:#?} vs {:#?}",
                outputs[0], outputs[1]
            ),
        );
    }
}
