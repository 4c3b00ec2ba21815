//! `toolstream run` on every bundled fixture (SPEC §7): the `assistant_message` line is
//! present, just before `next_message`; when it is not null it re-reads as an assistant
//! message of the provider's API shape; the exit status is 0 or 1 with one line on
//! standard error.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut all = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() || dir.ends_with("sse-vectors") {
            continue;
        }
        let folder = dir.file_name().unwrap().to_str().unwrap().to_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let name = file.to_str().unwrap();
            if name.ends_with(".sse") || name.ends_with(".bin") {
                all.push((folder.clone(), file));
            }
        }
    }
    all.sort();
    all
}

/// The wire shape an assistant message must have to be sent back (`Err` says what is off).
fn check_shape(shape: &str, m: &Value) -> Result<(), String> {
    let typed_blocks = |content: &Value, key: &str| -> Result<(), String> {
        let blocks = content.as_array().ok_or("content is not an array")?;
        for b in blocks {
            let obj = b.as_object().ok_or("a block is not an object")?;
            if key == "type" && !obj.get("type").is_some_and(Value::is_string) {
                return Err(format!("block without a type: {b}"));
            }
            if key == "one" && obj.len() != 1 {
                return Err(format!("a Converse block has exactly one member: {b}"));
            }
            if let Some(t) = obj.get("text") {
                if t.as_str().is_some_and(|t| t.trim().is_empty()) {
                    return Err(format!("blank text echoed: {b}"));
                }
            }
        }
        Ok(())
    };
    match shape {
        "anthropic" => {
            if m["role"] != "assistant" {
                return Err("role is not assistant".into());
            }
            typed_blocks(&m["content"], "type")
        }
        "bedrock" => {
            if m["role"] != "assistant" {
                return Err("role is not assistant".into());
            }
            typed_blocks(&m["content"], "one")
        }
        "gemini" => {
            if m["role"] != "model" {
                return Err("role is not model".into());
            }
            let parts = m["parts"].as_array().ok_or("parts is not an array")?;
            for p in parts {
                let keys = [
                    "text",
                    "functionCall",
                    "executableCode",
                    "codeExecutionResult",
                ];
                if !keys.iter().any(|k| p.get(k).is_some()) {
                    return Err(format!("a part with no data: {p}"));
                }
            }
            Ok(())
        }
        "openai-chat" => {
            if m["role"] != "assistant" {
                return Err("role is not assistant".into());
            }
            if !(m["content"].is_string() || m["content"].is_null()) {
                return Err("content is neither a string nor null".into());
            }
            for c in m["tool_calls"].as_array().into_iter().flatten() {
                if c["type"] != "function" || !c["function"]["arguments"].is_string() {
                    return Err(format!("tool call not in Chat shape: {c}"));
                }
            }
            Ok(())
        }
        "openai-responses" => {
            let items = m.as_array().ok_or("items are not an array")?;
            for i in items {
                if !i["type"].is_string() {
                    return Err(format!("an item without a type: {i}"));
                }
            }
            Ok(())
        }
        other => Err(format!("no shape for {other}")),
    }
}

#[test]
fn run_prints_an_assistant_message_for_every_fixture() {
    let all = fixtures();
    assert!(all.len() > 60, "{} fixtures", all.len());
    let mut echoed = 0;
    for (folder, file) in all {
        let provider = match folder.as_str() {
            "openai-compatible" => "openai-chat",
            other => other,
        };
        let out = Command::new(env!("CARGO_BIN_EXE_toolstream"))
            .args(["run", "--provider", provider])
            .arg(&file)
            .output()
            .unwrap();
        let name = file.display();
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(code, Some(0 | 1)), "{name}: {code:?} {stderr}");
        if code == Some(1) {
            assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        }
        let lines: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let n = lines.len();
        assert!(n >= 2, "{name}: {lines:?}");
        assert_eq!(lines[n - 2]["kind"], "assistant_message", "{name}");
        assert_eq!(lines[n - 1]["kind"], "next_message", "{name}");
        let message = &lines[n - 2]["message"];
        if message.is_null() {
            continue;
        }
        echoed += 1;
        // Bedrock InvokeModel streams carry Anthropic's events and go back in its shape.
        let shape = if name.to_string().contains("bedrock-invoke") {
            "anthropic"
        } else {
            provider
        };
        if let Err(why) = check_shape(shape, message) {
            panic!("{name}: {why}: {message}");
        }
        // A committed turn's results answer its calls, and the assistant message carries
        // those calls.
        if !lines[n - 1]["message"].is_null() {
            let calls = lines.iter().filter(|l| l["kind"] == "tool_call").count();
            let results = lines.iter().filter(|l| l["kind"] == "tool_result").count();
            assert_eq!(calls, results, "{name}");
        }
    }
    assert!(
        echoed > 30,
        "only {echoed} fixtures echoed an assistant message"
    );
}

#[test]
fn run_exits_1_after_printing_its_lines_when_the_stream_does_not_assemble() {
    // The same block index started twice: the assembler refuses it, the turn is abandoned,
    // its lines are printed, and the exit status says the input could not be used.
    let body = concat!(
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\"}}\n\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":",
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"a\",\"input\":{}}}\n\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":",
        "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"b\",\"input\":{}}}\n\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"}}\n\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );
    let dir = std::env::temp_dir().join(format!("toolstream-dup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dup.sse");
    std::fs::write(&file, body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .args(["run", "--provider", "anthropic"])
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stderr.trim(),
        "toolstream: the model stream did not assemble: content block 0 started twice"
    );
    let last: Vec<&str> = stdout.lines().rev().take(2).collect();
    assert_eq!(last[0], r#"{"kind":"next_message","message":null}"#);
    assert_eq!(last[1], r#"{"kind":"assistant_message","message":null}"#);
}
