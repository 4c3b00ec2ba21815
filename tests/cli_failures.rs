//! The command line never fails silently (issue 15, "the CLI, tried as a new user would"):
//! a limit, a recording of several messages, input the provider does not recognize, a last
//! event without its blank line, a zero count. SPEC §7: exit 1 with one line on standard
//! error when the input is malformed or a limit was exceeded, 2 on bad usage.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("toolstream-cli-failures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn toolstream(args: &[&str], path: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .args(args)
        .arg(path)
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Exit 1, one line `toolstream: ...` on standard error mentioning every needle.
fn assert_reason(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(
        err.starts_with("toolstream: ") && err.ends_with('\n'),
        "{err:?}"
    );
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
}

fn anthropic_event(kind: &str, data: Value) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

/// An Anthropic message with `calls` tool calls, ending with `tool_use`.
fn anthropic_with_calls(calls: usize) -> Vec<u8> {
    let mut s = anthropic_event(
        "message_start",
        serde_json::json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "model": "m", "content": [], "stop_reason": null,
            "usage": {"input_tokens": 1, "output_tokens": 1}}}),
    );
    for i in 0..calls {
        s += &anthropic_event(
            "content_block_start",
            serde_json::json!({"type": "content_block_start", "index": i,
                "content_block": {"type": "tool_use", "id": format!("toolu_{i}"), "name": "t", "input": {}}}),
        );
        s += &anthropic_event(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": i,
                "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        );
        s += &anthropic_event(
            "content_block_stop",
            serde_json::json!({"type": "content_block_stop", "index": i}),
        );
    }
    s += &anthropic_event(
        "message_delta",
        serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 5}}),
    );
    s += &anthropic_event("message_stop", serde_json::json!({"type": "message_stop"}));
    s.into_bytes()
}

// 1. A message past the tool-call limit (default 1024): the lines, then exit 1 naming it.
#[test]
fn run_past_the_tool_call_limit_exits_1_naming_the_limit() {
    let path = scratch("too-many-calls.sse", &anthropic_with_calls(1030));
    let out = toolstream(&["run", "--provider", "anthropic"], &path);
    assert_reason(&out, &["more than 1024 tool calls"]);
    let lines = lines(&out);
    let calls = lines.iter().filter(|l| l["kind"] == "tool_call").count();
    assert_eq!(calls, 1024, "the calls within the limit are still printed");
    assert_eq!(lines.last().unwrap()["kind"], "next_message");
    assert_eq!(lines.last().unwrap()["message"], Value::Null);
}

// 2. `bench FILE` on a recording of several messages measures each one.
#[test]
fn bench_measures_a_recorded_conversation_message_by_message() {
    let anthropic = std::fs::read(fixture(
        "anthropic/constructed-anthropic-three-parallel-tools.sse",
    ))
    .unwrap();
    let chat = std::fs::read_to_string(fixture("openai-chat/openai-chat-parallel-tool-calls.sse"))
        .unwrap();
    let id = chat
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(id.starts_with("chatcmpl-"), "{id}");
    // Consecutive completions, each with its own id and finish_reason, as a log of
    // several requests holds them.
    let chats: String = (0..3)
        .map(|i| chat.replace(&id, &format!("{id}-{i}")))
        .collect();
    for (name, provider, body) in [
        (
            "anthropic-conversation.sse",
            "anthropic",
            anthropic.repeat(3),
        ),
        ("chat-conversation.sse", "openai-chat", chats.into_bytes()),
    ] {
        let path = scratch(name, &body);
        for args in [
            &["bench", "--millis", "50", "--json"][..],
            &["bench", "--millis", "50", "--json", "--provider", provider],
        ] {
            let out = toolstream(args, &path);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{name} {args:?}: {err}");
            let report = &lines(&out)[0];
            assert_eq!(report["provider"], provider, "{report}");
            assert_eq!(report["messages"], 3, "{name}: {report}");
            assert!(report["mb_per_s"].as_f64().unwrap() > 0.0);
        }
    }
}

// 3. Input that holds nothing the provider recognizes: exit 1 naming the provider and what
// the input holds, with an explicit provider as with auto.
#[test]
fn input_with_no_event_of_the_provider_exits_1() {
    let anthropic = fixture("anthropic/constructed-anthropic-three-parallel-tools.sse");
    // Bytes with no line end and no `data` field: no server-sent event at all.
    let random: Vec<u8> = (0u32..3000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    let random = scratch("random.bin", &random);
    let empty = scratch("empty.sse", b"");
    for command in ["turn", "events", "run"] {
        let out = toolstream(&[command, "--provider", "openai-responses"], &anthropic);
        assert_reason(
            &out,
            &[
                "no openai-responses event",
                "server-sent events",
                "reads as anthropic",
            ],
        );
        // `run` still prints its two lines, both messages null (SPEC §7); the others
        // have nothing to print.
        let printed = lines(&out);
        if command == "run" {
            assert_eq!(printed.len(), 2, "{printed:?}");
            assert!(
                printed.iter().all(|l| l["message"].is_null()),
                "{printed:?}"
            );
        } else {
            assert!(printed.is_empty(), "{command}: {printed:?}");
        }
        let out = toolstream(&[command, "--provider", "anthropic"], &random);
        assert_reason(&out, &["no anthropic event", "no server-sent event"]);
        let out = toolstream(&[command, "--provider", "gemini"], &empty);
        assert_reason(&out, &["no gemini event", "empty"]);
        let out = toolstream(&[command, "--provider", "auto"], &random);
        assert_reason(&out, &["could not detect the provider"]);
    }
}

// 4. A last event without its blank line is not dispatched (the WHATWG rule, and what
// anthropic-sdk-python and openai-python do); the commands say so and exit 1.
#[test]
fn last_event_without_its_blank_line_is_reported() {
    // Ends `data: {"type":"message_stop"}\n`: one line end, no blank line.
    let path = fixture("anthropic/anthropic-docs-tool-use.sse");
    let body = std::fs::read(&path).unwrap();
    assert!(body.ends_with(b"}\n") && !body.ends_with(b"\n\n"));

    let out = toolstream(&["run", "--provider", "anthropic"], &path);
    assert_reason(&out, &["no blank line after it", "not dispatched"]);
    let lines = lines(&out);
    assert_eq!(lines.last().unwrap()["kind"], "next_message");

    let out = toolstream(&["turn", "--provider", "anthropic"], &path);
    assert_reason(&out, &["no blank line after it"]);
    assert_eq!(
        self::lines(&out)[0]["complete"],
        false,
        "the message still prints"
    );

    // With the blank line, the same stream commits its tool result.
    let mut whole = body.clone();
    whole.push(b'\n');
    let fixed = scratch("tool-use-terminated.sse", &whole);
    let out = toolstream(&["run", "--provider", "anthropic"], &fixed);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(self::lines(&out).last().unwrap()["message"].is_object());

    // A single event without its blank line is not "an input with no event".
    let single = scratch(
        "single.sse",
        b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n",
    );
    for command in ["turn", "events", "run"] {
        let out = toolstream(&[command], &single);
        assert_reason(&out, &["its last event has no blank line after it"]);
    }
}

// 5. A zero count is a usage error that says what is wrong.
#[test]
fn zero_concurrency_is_a_clear_usage_error() {
    let path = fixture("anthropic/constructed-anthropic-three-parallel-tools.sse");
    let out = toolstream(&["run", "--concurrency", "0"], &path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--concurrency") && err.contains("must be at least 1"),
        "{err}"
    );
    assert!(!err.contains("non-zero type"), "{err}");
}
