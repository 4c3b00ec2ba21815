//! `toolstream bench` (SPEC §7): the JSON report's fields, on a recorded stream and on a
//! generated corpus. Figures are reported, not asserted (no speed in tests).

use std::process::Command;

use serde_json::Value;

/// `toolstream bench ARGS`, each parser timed for 50 ms instead of 1.5 s unless ARGS say
/// (the report's fields are checked, not its figures).
fn bench(args: &[&str]) -> (i32, String, String) {
    let millis: &[&str] = if args.contains(&"--millis") {
        &[]
    } else {
        &["--millis", "50"]
    };
    let out = Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .arg("bench")
        .args(millis)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn check(report: &Value, provider: &str) {
    assert_eq!(report["provider"], provider);
    for key in [
        "mb_per_s",
        "events_per_s",
        "baseline_mb_per_s",
        "floor_mb_per_s",
        "ratio_vs_baseline",
        "ratio_vs_floor",
    ] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key} in {report}"
        );
    }
    let ratio =
        report["mb_per_s"].as_f64().unwrap() / report["baseline_mb_per_s"].as_f64().unwrap();
    assert!((ratio - report["ratio_vs_baseline"].as_f64().unwrap()).abs() < 1e-9);
}

#[test]
fn json_report_on_a_file_and_on_a_generated_corpus() {
    let file = format!(
        "{}/tests/fixtures/openai-chat/openai-chat-parallel-tool-calls.sse",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, stdout, stderr) = bench(&["--json", &file]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    check(&report, "openai-chat");
    assert_eq!(report["messages"], 1);

    let (code, stdout, stderr) = bench(&["--json", "--provider", "gemini", "--mb", "1"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    check(&report, "gemini");
    assert!(report["bytes"].as_u64().unwrap() >= 1_000_000);
}

#[test]
fn bad_input_and_usage() {
    let (code, _, stderr) = bench(&["--provider", "bedrock"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("give a FILE"), "{stderr}");
    let (code, _, _) = bench(&["--chunk", "0"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = bench(&["--millis", "0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("must be at least 1"), "{stderr}");
}
