//! Every provider fixture against its checked-in expected `turn` object (SPEC §7).
//!
//! The expected files were read against the raw streams (see tests/fixtures/README.md and
//! the closing notes). Two fields are compared by rule rather than literally:
//! - `id: null` in an expected file (Gemini sends no call ids) means "the crate makes a
//!   deterministic one": ours must be `call_<index>`, as SPEC §7 asks;
//! - a non-null `input_error` means "some reason": the reference's wording comes from
//!   Python's JSON parser, ours from serde_json; both must say why, and `input` must be null.

use crate::common;

use serde_json::Value;
use toolstream::report::turn_json;

fn compare(path: &std::path::Path, got: &Value, want: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    for key in [
        "provider",
        "complete",
        "stop_reason",
        "raw_stop_reason",
        "text",
        "usage",
        "error",
    ] {
        if got[key] != want[key] {
            diffs.push(format!("{key}: got {} want {}", got[key], want[key]));
        }
    }
    let (g, w) = (
        got["tool_calls"].as_array().unwrap(),
        want["tool_calls"].as_array().unwrap(),
    );
    if g.len() != w.len() {
        diffs.push(format!("tool_calls: got {} want {}", g.len(), w.len()));
    }
    for (i, (g, w)) in g.iter().zip(w).enumerate() {
        for key in ["index", "name", "input", "complete"] {
            if g[key] != w[key] {
                diffs.push(format!(
                    "tool_calls[{i}].{key}: got {} want {}",
                    g[key], w[key]
                ));
            }
        }
        if w["id"].is_null() {
            if g["id"] != Value::String(format!("call_{i}")) {
                diffs.push(format!("tool_calls[{i}].id: got {} want call_{i}", g["id"]));
            }
        } else if g["id"] != w["id"] {
            diffs.push(format!(
                "tool_calls[{i}].id: got {} want {}",
                g["id"], w["id"]
            ));
        }
        match (g["input_error"].as_str(), w["input_error"].is_null()) {
            (None, true) => {}
            (Some(reason), false) if !reason.is_empty() => {}
            _ => diffs.push(format!(
                "tool_calls[{i}].input_error: got {} want {}",
                g["input_error"], w["input_error"]
            )),
        }
    }
    diffs
        .into_iter()
        .map(|d| format!("{}: {d}", path.display()))
        .collect()
}

#[test]
fn every_fixture_matches_its_expected_turn() {
    let fixtures = common::provider_fixtures();
    assert!(fixtures.len() >= 70, "fixtures missing: {}", fixtures.len());
    let mut failures = Vec::new();
    for (provider, path) in &fixtures {
        let body = std::fs::read(path).unwrap();
        let events = match common::decode(*provider, &body) {
            Ok(events) => events,
            Err(e) => {
                failures.push(format!("{}: decode error {e}", path.display()));
                continue;
            }
        };
        let message = common::assemble(&events);
        let got: Value = serde_json::from_str(&turn_json(*provider, &message)).unwrap();
        let want_path = format!("{}.turn.json", path.display());
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(want_path).unwrap()).unwrap();
        failures.extend(compare(path, &got, &want));
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn auto_detection_agrees_with_the_folder() {
    for (provider, path) in common::provider_fixtures() {
        let body = std::fs::read(&path).unwrap();
        let mut d = toolstream::StreamDecoder::new(toolstream::ProviderChoice::Auto);
        let mut events = Vec::new();
        let _ = d.push(&body, &mut events);
        let _ = d.finish(&mut events);
        let fixed = common::decode(provider, &body).unwrap();
        // A stream whose every event is unterminated has nothing to detect from.
        if fixed.is_empty() {
            continue;
        }
        assert_eq!(d.provider(), Some(provider), "{}", path.display());
        assert_eq!(events, fixed, "{}", path.display());
    }
}

/// Files whose last event lacks its blank line: appending the terminator dispatches it.
#[test]
fn unterminated_last_event_is_dispatched_once_terminated() {
    let mut checked = 0;
    for (_, path) in common::provider_fixtures() {
        let source =
            std::fs::read_to_string(format!("{}.source.txt", path.display())).unwrap_or_default();
        let suffix: &[u8] = if source.contains("termination: ends with a single line terminator") {
            b"\n"
        } else if source.contains("termination: ends with NO line terminator") {
            b"\n\n"
        } else {
            continue;
        };
        let body = std::fs::read(&path).unwrap();
        // The Vertex "error mid-stream" mock ends with bare JSON lines, not an event.
        let last_line = body
            .split(|&b| b == b'\n')
            .rev()
            .find(|l| !l.is_empty())
            .unwrap();
        if !last_line.starts_with(b"data:") {
            continue;
        }
        let mut strict = Vec::new();
        let mut d = toolstream::SseDecoder::new();
        d.push(&body, &mut strict).unwrap();
        assert!(
            d.finish().unwrap(),
            "{}: nothing was discarded",
            path.display()
        );
        let mut fixed = Vec::new();
        d.push(&body, &mut fixed).unwrap();
        d.push(suffix, &mut fixed).unwrap();
        assert!(!d.finish().unwrap());
        assert_eq!(fixed.len(), strict.len() + 1, "{}", path.display());
        assert_eq!(&fixed[..strict.len()], &strict[..]);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} unterminated fixtures found");
}
