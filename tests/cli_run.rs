//! `toolstream run` (SPEC §7): simulated tools over bundled fixtures, in real time but with
//! assertions on order and content only.

use std::process::Command;

use serde_json::Value;

fn fixture(path: &str) -> String {
    format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `toolstream run ARGS`, returning the exit code and the JSON lines.
fn run(args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn kinds(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|l| l["kind"].as_str().unwrap()).collect()
}

fn of_kind<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["kind"] == kind).collect()
}

#[test]
fn slow_first_call_still_comes_first() {
    let (code, lines, stderr) = run(&[
        "--provider",
        "anthropic",
        &fixture("anthropic/constructed-anthropic-two-parallel-tools.sse"),
        "--tool",
        "get_weather=sleep:300",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let finished: Vec<_> = of_kind(&lines, "tool_finished")
        .iter()
        .map(|l| l["index"].clone())
        .collect();
    assert_eq!(finished, [1, 0], "the fast call finishes first");
    let results = of_kind(&lines, "tool_result");
    assert_eq!(
        results
            .iter()
            .map(|l| l["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1]
    );
    assert_eq!(
        results[0]["content"],
        r#"{"location":"Paris","unit":"celsius"}"#
    );
    // Every line but the two messages at the end is timed.
    for l in &lines[..lines.len() - 2] {
        assert!(l["t_ms"].is_u64(), "{l}");
    }
    let assistant = &lines[lines.len() - 2];
    assert_eq!(assistant["kind"], "assistant_message");
    assert_eq!(assistant["message"]["role"], "assistant");
    for l in of_kind(&lines, "tool_result") {
        for key in ["turn", "index", "id", "name", "status", "content"] {
            assert!(!l[key].is_null(), "{key} missing in {l}");
        }
    }
    let last = lines.last().unwrap();
    assert_eq!(last["kind"], "next_message");
    let blocks = last["message"]["content"].as_array().unwrap();
    assert_eq!(last["message"]["role"], "user");
    assert_eq!(blocks[0]["tool_use_id"], results[0]["id"]);
    assert_eq!(blocks[1]["tool_use_id"], results[1]["id"]);
}

#[test]
fn eager_starts_before_message_stop_and_batched_after() {
    let file = fixture("anthropic/constructed-anthropic-two-parallel-tools.sse");
    for (dispatch, before) in [("eager", true), ("batched", false)] {
        let (code, lines, _) = run(&[&file, "--dispatch", dispatch, "--pace", "5"]);
        assert_eq!(code, 0);
        let k = kinds(&lines);
        let started = k.iter().position(|k| *k == "tool_started").unwrap();
        let stop = k.iter().position(|k| *k == "message_stop").unwrap();
        assert_eq!(started < stop, before, "{dispatch}: {k:?}");
        assert_eq!(lines[stop]["stop_reason"], "tool_use");
    }
}

#[test]
fn every_behaviour_answers_in_its_slot() {
    let file = fixture("anthropic/constructed-anthropic-three-parallel-tools.sse");
    let (code, lines, stderr) = run(&[
        &file,
        "--tool-timeout",
        "200",
        "--tool",
        "get_weather=hang",
        "--tool",
        "get_time=fail:clock broken",
        "--tool",
        "send_message=panic",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("panicked"),
        "simulated panics stay quiet: {stderr}"
    );
    let results = of_kind(&lines, "tool_result");
    let got: Vec<(&str, &str)> = results
        .iter()
        .map(|l| {
            (
                l["status"].as_str().unwrap(),
                l["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("error", "timed out after 200 ms"),
            ("error", "clock broken"),
            ("error", "the tool panicked"),
        ]
    );
}

#[test]
fn only_listed_makes_other_tools_unknown() {
    let file = fixture("openai-chat/openai-chat-parallel-tool-calls.sse");
    let (code, lines, _) = run(&[&file, "--only-listed", "--tool", "GetWeatherArgs=echo"]);
    assert_eq!(code, 0);
    let results = of_kind(&lines, "tool_result");
    assert_eq!(results[0]["status"], "ok");
    assert_eq!(results[1]["status"], "error");
    assert_eq!(results[1]["content"], "unknown tool `get_stock_price`");
    let message = &lines.last().unwrap()["message"];
    assert_eq!(message[0]["role"], "tool");
    assert_eq!(message[1]["tool_call_id"], "call_DNYTawLBoN8fj3KN6qU9N1Ou");
}

#[test]
fn next_message_in_each_provider_format() {
    let cases = [
        (
            "openai-responses/prism-openai-responses-stream-with-tools-responses-1.sse",
            "/0/type",
            "function_call_output",
        ),
        (
            "gemini/prism-gemini-stream-with-multiple-tools-1.sse",
            "/parts/1/functionResponse/name",
            "weather",
        ),
        (
            "bedrock/bedrock-conversestream-tool-use.bin",
            "/content/0/toolResult/toolUseId",
            "tooluse_wnjikhCUTruJciycmmm5Kg",
        ),
        (
            "openai-compatible/prism-deepseek-stream-with-tools-1.sse",
            "/1/tool_call_id",
            "call_1_b0aff31e-ccb8-4418-a5fa-2d16caaf7945",
        ),
    ];
    for (file, pointer, want) in cases {
        let (code, lines, stderr) = run(&[&fixture(file)]);
        assert_eq!(code, 0, "{file}: {stderr}");
        let message = &lines.last().unwrap()["message"];
        assert_eq!(message.pointer(pointer).unwrap(), want, "{file}: {message}");
    }
}

#[test]
fn a_turn_that_does_not_end_with_tool_use_commits_nothing() {
    // Ends with max_tokens, and, strictly, before message_stop (its last event lacks the
    // blank line): nothing runs in batched mode, both messages are null, and the input
    // could not be used, so the lines are printed and the exit status is 1 (SPEC §7).
    let file = fixture("anthropic/anthropic-sdkpy-incomplete_partial_json_response.sse");
    let (code, lines, stderr) = run(&[&file]);
    assert_eq!(code, 1);
    // The reason names the cause: the last event was not dispatched (issue 15).
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "toolstream: the input ends inside an event: its last event has no blank line after it"
        ),
        "{stderr}"
    );
    assert!(of_kind(&lines, "tool_started").is_empty());
    assert_eq!(
        lines[lines.len() - 2..],
        [
            serde_json::json!({"kind": "assistant_message", "message": null}),
            serde_json::json!({"kind": "next_message", "message": null})
        ]
    );
    // The same stream with its last blank line: complete, max_tokens, exit 0.
    let dir = std::env::temp_dir().join(format!("toolstream-max-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let whole = dir.join("whole.sse");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"\n\n");
    std::fs::write(&whole, bytes).unwrap();
    let (code, lines, stderr) = run(&[whole.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        of_kind(&lines, "message_stop")[0]["stop_reason"],
        "max_tokens"
    );
    assert!(lines.last().unwrap()["message"].is_null());
    std::fs::remove_dir_all(&dir).unwrap();
    // A provider error mid-turn: the same.
    let file = fixture("anthropic/constructed-anthropic-overloaded-midstream.sse");
    let (_, lines, _) = run(&[&file, "--dispatch", "eager"]);
    assert!(lines.last().unwrap()["message"].is_null());
}

#[test]
fn bad_usage_and_bad_input() {
    let file = fixture("anthropic/constructed-anthropic-two-parallel-tools.sse");
    for args in [
        vec![file.as_str(), "--tool", "nonsense"],
        vec![file.as_str(), "--tool", "x=sleep:soon"],
        vec![file.as_str(), "--dispatch", "sometimes"],
        vec![file.as_str(), "--concurrency", "0"],
    ] {
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    let dir = std::env::temp_dir().join(format!("toolstream-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.sse");
    std::fs::write(&bad, "event: message_start\ndata: {nope\n\n").unwrap();
    let (code, _, stderr) = run(&["--provider", "anthropic", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
