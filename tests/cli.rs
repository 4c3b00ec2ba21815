//! The `toolstream` command line against its contract (SPEC §7): `sse`, `events` and `turn`
//! on the checked-in fixtures, malformed input (exit 1, one `toolstream: ` line on standard
//! error), bad-but-well-formed input (exit 0), bad usage (exit 2) and a closed output pipe.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A path for a generated input, private to one test.
fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-{name}", std::process::id()))
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn toolstream")
}

/// Runs the binary with `args`; standard input is `stdin` (empty when `None`).
fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = spawn(args);
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    // Write from a thread so a child that fills its stdout pipe cannot deadlock us.
    let writer = thread::spawn(move || {
        // The child may exit before reading everything (an error); that is its right.
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for toolstream");
    writer.join().unwrap();
    out
}

fn run_path(args: &[&str], path: &Path) -> Output {
    let mut args = args.to_vec();
    args.push(path.to_str().unwrap());
    run(&args, None)
}

fn stdout(out: &Output) -> &str {
    std::str::from_utf8(&out.stdout).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "status {:?}, stderr: {}",
        out.status,
        stderr(out)
    );
    assert!(out.stderr.is_empty(), "stderr: {}", stderr(out));
}

/// Exit 1 with exactly one line on standard error, `toolstream: ...`, mentioning every
/// one of `needles` (case-insensitively), and no panic.
fn assert_input_error(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "status {:?}, stderr: {err}",
        out.status
    );
    assert!(
        err.ends_with('\n'),
        "stderr not one terminated line: {err:?}"
    );
    assert_eq!(err.lines().count(), 1, "stderr is not one line: {err:?}");
    assert!(err.starts_with("toolstream: "), "stderr: {err:?}");
    let lower = err.to_lowercase();
    for needle in needles {
        assert!(
            lower.contains(&needle.to_lowercase()),
            "stderr does not mention {needle:?}: {err:?}"
        );
    }
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn turn_of(out: &Output) -> Value {
    assert_success(out);
    let lines = json_lines(out);
    assert_eq!(lines.len(), 1, "turn prints one object: {}", stdout(out));
    lines.into_iter().next().unwrap()
}

fn turn(provider: &str, rel: &str) -> Value {
    turn_of(&run_path(&["turn", "--provider", provider], &fixture(rel)))
}

// ---------------------------------------------------------------------------------------
// 1. `toolstream sse` on the WHATWG vectors
// ---------------------------------------------------------------------------------------

fn sse_expected(name: &str) -> Value {
    let path = fixture(&format!("sse-vectors/{name}.sse.expected.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks `toolstream sse` output against the vector's events: as JSON values, and as raw
/// lines with the documented key order `event`, `data`, `id`, `retry`.
fn check_sse_output(name: &str, out: &Output) {
    assert_success(out);
    let expected = sse_expected(name);
    let want = expected["events"].as_array().expect("events array");
    let got = json_lines(out);
    assert_eq!(&got, want, "{name}: events differ");
    for (line, w) in stdout(out).lines().zip(want) {
        let raw = format!(
            r#"{{"event":{},"data":{},"id":{},"retry":{}}}"#,
            w["event"], w["data"], w["id"], w["retry"]
        );
        assert_eq!(line, raw, "{name}: raw line");
    }
}

fn sse_via_file(name: &str) {
    let out = run_path(&["sse"], &fixture(&format!("sse-vectors/{name}.sse")));
    check_sse_output(name, &out);
}

fn sse_via_stdin(name: &str) {
    let body = std::fs::read(fixture(&format!("sse-vectors/{name}.sse"))).unwrap();
    let expected = sse_expected(name);
    let out = match expected.get("chunks_as_yielded_by_test_hex") {
        None => run(&["sse", "-"], Some(&body)),
        Some(chunks) => {
            let chunks: Vec<Vec<u8>> = chunks
                .as_array()
                .unwrap()
                .iter()
                .map(|c| hex(c.as_str().unwrap()))
                .collect();
            assert_eq!(chunks.concat(), body, "{name}: chunks are the file");
            let mut child = spawn(&["sse", "-"]);
            let mut pipe = child.stdin.take().unwrap();
            for chunk in &chunks {
                pipe.write_all(chunk).unwrap();
                pipe.flush().unwrap();
                // Give the child time to read this chunk on its own.
                thread::sleep(Duration::from_millis(30));
            }
            drop(pipe);
            child.wait_with_output().unwrap()
        }
    };
    check_sse_output(name, &out);
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

macro_rules! sse_vectors {
    ($($test:ident => $name:literal,)*) => {
        const SSE_VECTORS: &[&str] = &[$($name),*];
        $(
            mod $test {
                #[test]
                fn file() {
                    super::sse_via_file($name);
                }
                #[test]
                fn stdin() {
                    super::sse_via_stdin($name);
                }
            }
        )*
    };
}

sse_vectors! {
    sse_sdk_error_overloaded => "sse-sdk-error-overloaded",
    sse_sdk_event_missing_data => "sse-sdk-event-missing-data",
    sse_sdk_multibyte_split_across_chunks => "sse-sdk-multibyte-split-across-chunks",
    sse_sdk_multiple_data_lines_with_empty_line => "sse-sdk-multiple-data-lines-with-empty-line",
    sse_spec_example_data_fields => "sse-spec-example-data-fields",
    sse_spec_example_space_after_colon => "sse-spec-example-space-after-colon",
    sse_spec_example_yhoo => "sse-spec-example-yhoo",
    sse_wpt_format_bom => "sse-wpt-format-bom",
    sse_wpt_format_data_before_final_empty_line => "sse-wpt-format-data-before-final-empty-line",
    sse_wpt_format_field_data => "sse-wpt-format-field-data",
    sse_wpt_format_field_event_empty => "sse-wpt-format-field-event-empty",
    sse_wpt_format_null_character => "sse-wpt-format-null-character",
}

#[test]
fn sse_every_vector_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture("sse-vectors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".sse").map(str::to_owned))
        .collect();
    on_disk.sort();
    let mut listed: Vec<&str> = SSE_VECTORS.to_vec();
    listed.sort_unstable();
    assert_eq!(on_disk, listed);
}

#[test]
fn sse_raw_line_has_documented_key_order() {
    let out = run_path(&["sse"], &fixture("sse-vectors/sse-spec-example-yhoo.sse"));
    assert_success(&out);
    let first = stdout(&out).lines().next().expect("one line");
    assert_eq!(
        first,
        r#"{"event":"message","data":"YHOO\n+2\n10","id":"","retry":null}"#
    );
}

// ---------------------------------------------------------------------------------------
// 2. `toolstream turn` on one fixture per provider folder
// ---------------------------------------------------------------------------------------

/// `want` with the two rule-based fields taken from `got` where the rule allows: an
/// expected `id: null` is our deterministic `call_<index>`, and an expected non-null
/// `input_error` is any non-empty reason.
fn normalize_expected(got: &Value, mut want: Value) -> Value {
    let got_calls = got["tool_calls"].as_array().cloned().unwrap_or_default();
    if let Some(calls) = want["tool_calls"].as_array_mut() {
        for (i, call) in calls.iter_mut().enumerate() {
            if call["id"].is_null() {
                call["id"] = Value::String(format!("call_{i}"));
            }
            let reason = got_calls.get(i).map(|g| &g["input_error"]);
            if !call["input_error"].is_null() {
                if let Some(Value::String(r)) = reason {
                    if !r.is_empty() {
                        call["input_error"] = Value::String(r.clone());
                    }
                }
            }
        }
    }
    want
}

fn check_turn_fixture(provider: &str, rel: &str) {
    let want_path = fixture(&format!("{rel}.turn.json"));
    let want: Value = serde_json::from_str(&std::fs::read_to_string(want_path).unwrap()).unwrap();
    let got = turn(provider, rel);
    assert_eq!(
        got,
        normalize_expected(&got, want),
        "{rel} with --provider {provider}"
    );
    let auto = turn("auto", rel);
    assert_eq!(
        auto, got,
        "{rel}: --provider auto differs from --provider {provider}"
    );
    // The default provider is auto.
    let default = turn_of(&run_path(&["turn"], &fixture(rel)));
    assert_eq!(default, got, "{rel}: the default provider differs");
}

macro_rules! turn_fixtures {
    ($($test:ident: $provider:literal, $rel:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check_turn_fixture($provider, $rel);
            }
        )*
    };
}

turn_fixtures! {
    turn_anthropic: "anthropic", "anthropic/prism-anthropic-stream-with-tools-1.sse";
    turn_anthropic_parallel: "anthropic", "anthropic/constructed-anthropic-three-parallel-tools.sse";
    turn_openai_chat: "openai-chat", "openai-chat/openai-chat-parallel-tool-calls.sse";
    turn_openai_compatible: "openai-chat", "openai-compatible/prism-groq-stream-with-tools-1.sse";
    turn_openai_responses: "openai-responses", "openai-responses/prism-openai-responses-stream-with-tools-responses-1.sse";
    turn_gemini: "gemini", "gemini/prism-gemini-stream-with-multiple-tools-1.sse";
    turn_bedrock: "bedrock", "bedrock/bedrock-conversestream-tool-use.bin";
    turn_bedrock_invoke: "bedrock", "bedrock/bedrock-invoke-with-response-stream-anthropic-tool-use.bin";
}

#[test]
fn turn_reads_stdin() {
    let rel = "anthropic/prism-anthropic-stream-with-tools-1.sse";
    let body = std::fs::read(fixture(rel)).unwrap();
    let piped = turn_of(&run(&["turn", "--provider", "anthropic", "-"], Some(&body)));
    assert_eq!(piped, turn("anthropic", rel));
}

// ---------------------------------------------------------------------------------------
// 3. `toolstream events`
// ---------------------------------------------------------------------------------------

#[test]
fn events_anthropic_with_tools() {
    let path = fixture("anthropic/prism-anthropic-stream-with-tools-1.sse");
    let out = run_path(&["events", "--provider", "anthropic"], &path);
    assert_success(&out);
    let events = json_lines(&out);
    let types: Vec<&str> = events
        .iter()
        .map(|e| {
            assert!(e.is_object(), "not an object: {e}");
            e["type"].as_str().unwrap_or_else(|| panic!("no type: {e}"))
        })
        .collect();
    assert_eq!(types.first(), Some(&"message_start"), "{types:?}");
    assert_eq!(types.last(), Some(&"message_stop"), "{types:?}");

    // The tool_input fragments of each tool block concatenate to that call's arguments.
    let turn = turn(
        "anthropic",
        "anthropic/prism-anthropic-stream-with-tools-1.sse",
    );
    let calls = turn["tool_calls"].as_array().unwrap();
    assert!(!calls.is_empty());
    let tool_blocks: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "block_start" && e["block"]["type"] == "tool_use")
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(tool_blocks.len(), calls.len());
    for (block, call) in tool_blocks.iter().zip(calls) {
        let start = events
            .iter()
            .find(|e| e["type"] == "block_start" && e["index"] == *block)
            .unwrap();
        assert_eq!(start["block"]["id"], call["id"]);
        assert_eq!(start["block"]["name"], call["name"]);
        let args: String = events
            .iter()
            .filter(|e| {
                e["type"] == "block_delta"
                    && e["index"] == *block
                    && e["delta"]["type"] == "tool_input"
            })
            .map(|e| e["delta"]["partial_json"].as_str().unwrap())
            .collect();
        let parsed: Value = serde_json::from_str(&args).unwrap();
        assert_eq!(parsed, call["input"], "block {block}");
    }
}

// ---------------------------------------------------------------------------------------
// 4. malformed input: exit 1, one line on standard error
// ---------------------------------------------------------------------------------------

fn write_scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The byte ranges of the AWS event-stream frames in `body`: (start, total length,
/// headers length).
fn frames(body: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let total = u32::from_be_bytes(body[at..at + 4].try_into().unwrap()) as usize;
        let headers = u32::from_be_bytes(body[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((at, total, headers));
        at += total;
    }
    assert_eq!(at, body.len(), "frames cover the file");
    out
}

fn bedrock_body() -> Vec<u8> {
    std::fs::read(fixture("bedrock/bedrock-conversestream-tool-use.bin")).unwrap()
}

#[test]
fn malformed_anthropic_payload() {
    let body = b"data: {not json}\n\n";
    for cmd in ["events", "turn"] {
        let path = write_scratch("bad-payload.sse", body);
        assert_input_error(
            &run_path(&[cmd, "--provider", "anthropic"], &path),
            &["invalid", "anthropic"],
        );
        let event = b"event: message_start\ndata: {not json}\n\n";
        let out = run(&[cmd, "--provider", "anthropic", "-"], Some(event));
        assert_input_error(&out, &["invalid", "anthropic"]);
    }
}

#[test]
fn oversize_sse_line() {
    let mut body = b"data: ".to_vec();
    body.resize(9 * 1024 * 1024, b'x');
    body.extend_from_slice(b"\n\n");
    let path = write_scratch("oversize.sse", &body);
    for args in [
        &["sse"][..],
        &["events", "--provider", "anthropic"],
        &["turn", "--provider", "anthropic"],
    ] {
        let out = run_path(args, &path);
        assert_input_error(&out, &["limit", &(8 * 1024 * 1024).to_string()]);
    }
    // Same through standard input.
    assert_input_error(&run(&["sse", "-"], Some(&body)), &["limit"]);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn bedrock_bad_message_crc() {
    let mut body = bedrock_body();
    let (start, total, headers) = frames(&body)[0];
    let payload = start + 12 + headers;
    assert!(payload < start + total - 4, "first frame has a payload");
    body[payload] ^= 0x01;
    let path = write_scratch("bad-crc.bin", &body);
    for provider in ["bedrock", "auto"] {
        for cmd in ["events", "turn"] {
            assert_input_error(&run_path(&[cmd, "--provider", provider], &path), &["crc"]);
        }
    }
}

#[test]
fn bedrock_truncated_mid_frame() {
    let body = bedrock_body();
    let f = frames(&body);
    assert!(f.len() >= 2);
    let (start, total, _) = f[1];
    let cut = &body[..start + total / 2];
    let path = write_scratch("truncated.bin", cut);
    for provider in ["bedrock", "auto"] {
        for cmd in ["events", "turn"] {
            assert_input_error(
                &run_path(&[cmd, "--provider", provider], &path),
                &["truncated"],
            );
        }
    }
    assert_input_error(
        &run(&["turn", "--provider", "bedrock", "-"], Some(cut)),
        &["truncated"],
    );
}

#[test]
fn bedrock_binary_as_anthropic_is_wrong_framing() {
    let path = fixture("bedrock/bedrock-conversestream-tool-use.bin");
    for cmd in ["events", "turn"] {
        let out = run_path(&[cmd, "--provider", "anthropic"], &path);
        // DecodeError::WrongFraming: "anthropic streams are sse, not aws event-stream".
        assert_input_error(&out, &["event-stream"]);
    }
}

#[test]
fn sse_text_as_bedrock_is_an_error() {
    let path = fixture("anthropic/prism-anthropic-stream-with-tools-1.sse");
    assert_input_error(&run_path(&["turn", "--provider", "bedrock"], &path), &[]);
}

#[test]
fn empty_input_cannot_be_detected() {
    let path = write_scratch("empty", b"");
    let out = run_path(&["turn", "--provider", "auto"], &path);
    assert_input_error(&out, &["detect"]);
    assert!(out.stdout.is_empty());
    assert_input_error(&run(&["turn", "-"], Some(b"")), &["detect"]);
}

#[test]
fn nonexistent_file() {
    let path = scratch("does-not-exist.sse");
    let shown = path.display().to_string();
    for args in [
        &["sse"][..],
        &["events", "--provider", "anthropic"],
        &["turn"],
    ] {
        assert_input_error(&run_path(args, &path), &[&shown]);
    }
}

// ---------------------------------------------------------------------------------------
// 5. bad but well-formed input: exit 0 with the right JSON
// ---------------------------------------------------------------------------------------

/// Cut inside an event: the message still prints (incomplete), then the reason, exit 1
/// (the last event was not dispatched; issue 15: never a silent success).
#[test]
fn truncated_mid_event_is_incomplete() {
    let out = run_path(
        &["turn", "--provider", "anthropic"],
        &fixture("anthropic/derived-anthropic-with-tools-1-truncated-mid-event.sse"),
    );
    assert_input_error(&out, &["no blank line after it"]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "turn prints one object: {}", stdout(&out));
    assert_eq!(lines[0]["complete"], false);
    assert_eq!(lines[0]["stop_reason"], Value::Null);
}

#[test]
fn truncated_in_arguments() {
    let t = turn(
        "anthropic",
        "anthropic/constructed-anthropic-truncated-in-arguments.sse",
    );
    let calls = t["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["complete"], true);
    assert_eq!(calls[1]["complete"], false);
    assert_eq!(calls[1]["input"], Value::Null);
    assert!(
        calls[1]["input_error"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{}",
        calls[1]
    );
}

#[test]
fn invalid_json_arguments() {
    let t = turn(
        "anthropic",
        "anthropic/constructed-anthropic-invalid-json-arguments.sse",
    );
    let bad: Vec<&Value> = t["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["input"].is_null())
        .collect();
    assert_eq!(bad.len(), 1, "{t}");
    let reason = bad[0]["input_error"].as_str().unwrap();
    assert!(
        reason.starts_with("invalid JSON in tool arguments"),
        "{reason}"
    );
    // Never coerced to {}: the good call keeps its input, the bad one has none.
    assert!(t["tool_calls"][0]["input"].is_object());
}

#[test]
fn anthropic_overloaded_midstream() {
    let t = turn(
        "anthropic",
        "anthropic/constructed-anthropic-overloaded-midstream.sse",
    );
    assert_eq!(
        t["error"],
        serde_json::json!({"type": "overloaded_error", "message": "Overloaded"})
    );
    assert_eq!(t["stop_reason"], "error");
}

#[test]
fn openai_responses_rate_limited() {
    let t = turn(
        "openai-responses",
        "openai-responses/prism-openai-responses-stream-rate-limited-1.sse",
    );
    assert_eq!(t["error"]["type"], "rate_limit_exceeded");
    assert_eq!(t["stop_reason"], "error");
}

#[test]
fn bedrock_throttling_midstream() {
    let t = turn(
        "bedrock",
        "bedrock/constructed-bedrock-conversestream-midstream-throttling-exception.bin",
    );
    assert_eq!(t["error"]["type"], "throttlingException");
    assert_eq!(t["stop_reason"], "error");
}

// ---------------------------------------------------------------------------------------
// 6. bad usage: exit 2
// ---------------------------------------------------------------------------------------

fn assert_usage_error(args: &[&str]) {
    let out = run(args, None);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: {:?} {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.is_empty(), "{args:?}: no usage message");
    assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
}

macro_rules! usage_errors {
    ($($test:ident: [$($arg:literal),*];)*) => {
        $(
            #[test]
            fn $test() {
                assert_usage_error(&[$($arg),*]);
            }
        )*
    };
}

usage_errors! {
    usage_no_subcommand: [];
    usage_unknown_subcommand: ["frobnicate", "x.sse"];
    usage_unknown_provider: ["turn", "--provider", "nope", "x.sse"];
    usage_unknown_provider_events: ["events", "--provider", "nope", "-"];
    usage_missing_file_sse: ["sse"];
    usage_missing_file_turn: ["turn", "--provider", "anthropic"];
    usage_missing_file_events: ["events"];
}

// ---------------------------------------------------------------------------------------
// 7. a closed output pipe
// ---------------------------------------------------------------------------------------

#[test]
fn closed_stdout_is_not_a_panic() {
    // About 20 MB of output: far more than a pipe buffer holds.
    let mut body = Vec::new();
    for i in 0..200_000 {
        writeln!(
            body,
            "id: {i}\ndata: {{\"n\":{i},\"pad\":\"{}\"}}\n",
            "y".repeat(40)
        )
        .unwrap();
    }
    let path = write_scratch("big.sse", &body);
    let mut child = Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .args(["sse", path.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["id"], "0");
    drop(reader);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "status {status:?}, stderr {err}");
    assert!(err.is_empty(), "stderr: {err}");
    std::fs::remove_file(path).unwrap();
}
