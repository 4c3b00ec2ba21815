//! Bedrock `ConverseStream`: the events of a turn, each an `:event-type` and its JSON
//! payload (framed as event-stream messages by `frame.rs`).
//!
//! The documented sequence (`ConverseStreamOutput`): `messageStart {role}`; per content
//! block, `contentBlockStart` (tool use only: `start.toolUse {name, toolUseId}`; text and
//! reasoning blocks start with their first delta, as in the live recordings),
//! `contentBlockDelta`s (`delta.text`, `delta.toolUse.input` — a string piece of the
//! arguments, the first one empty —, `delta.reasoningContent`), `contentBlockStop`; then
//! `messageStop {stopReason}` and `metadata {usage, metrics}`.
//!
//! As the service writes them (tests/fixtures/bedrock, live captures): the keys of every
//! object in alphabetical order, and a `"p"` member in each payload, padding of a varying
//! length (a prefix of `abc...XYZ0123456789`) that hides the size of the tokens from an
//! observer of the encrypted stream. The mock's padding lengths are deterministic.

use super::WireEvent;
use crate::mock::cache::PromptUsage;
use crate::mock::reasoning::TurnReasoning;
use crate::mock::script::{pieces, q, Script, ScriptTurn};
use crate::provider::Provider;

/// What the padding is cut from.
const PADDING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The `"p"` member of event `i` of turn `k`, as a JSON string: 1 to 60 characters.
fn padding(k: usize, i: usize) -> String {
    // A multiplicative hash: stable across builds and runs.
    let h = (k as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(i as u64)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let len = 1 + (h >> 32) as usize % 60;
    q(&PADDING[..len])
}

/// The events answering with `turn` (number `k`): `usage` the prompt's, `output` every
/// generated token.
pub(super) fn events(
    script: &Script,
    k: usize,
    turn: &ScriptTurn,
    reasoning: Option<&TurnReasoning>,
    usage: &PromptUsage,
    output: u64,
) -> Vec<WireEvent> {
    let n = script.chunk_chars;
    let mut ev: Vec<WireEvent> = Vec::new();
    // `body(p)` is the payload around its padding member.
    let push = |ev: &mut Vec<WireEvent>, name: &'static str, body: &dyn Fn(&str) -> String| {
        let p = padding(k, ev.len());
        ev.push((Some(name), body(&p)));
    };
    let delta = |ev: &mut Vec<WireEvent>, index: usize, delta: String| {
        let p = padding(k, ev.len());
        ev.push((
            Some("contentBlockDelta"),
            format!(r#"{{"contentBlockIndex":{index},"delta":{delta},"p":{p}}}"#),
        ));
    };
    let stop = |ev: &mut Vec<WireEvent>, index: usize| {
        let p = padding(k, ev.len());
        ev.push((
            Some("contentBlockStop"),
            format!(r#"{{"contentBlockIndex":{index},"p":{p}}}"#),
        ));
    };
    push(&mut ev, "messageStart", &|p| {
        format!(r#"{{"p":{p},"role":"assistant"}}"#)
    });
    let mut index = 0;
    for block in reasoning.iter().flat_map(|r| r.bedrock(n)) {
        for member in block {
            delta(
                &mut ev,
                index,
                format!(r#"{{"reasoningContent":{member}}}"#),
            );
        }
        stop(&mut ev, index);
        index += 1;
    }
    let text = pieces(&turn.text, n);
    if !text.is_empty() {
        for t in text {
            delta(&mut ev, index, format!(r#"{{"text":{}}}"#, q(t)));
        }
        stop(&mut ev, index);
        index += 1;
    }
    for (i, c) in turn.tool_calls.iter().enumerate() {
        let id = Script::call_id(Provider::Bedrock, k, i).unwrap_or_default();
        push(&mut ev, "contentBlockStart", &|p| {
            format!(
                r#"{{"contentBlockIndex":{index},"p":{p},"start":{{"toolUse":{{"name":{},"toolUseId":{}}}}}}}"#,
                q(&c.name),
                q(&id)
            )
        });
        for piece in std::iter::once("").chain(pieces(c.input.get(), n)) {
            delta(
                &mut ev,
                index,
                format!(r#"{{"toolUse":{{"input":{}}}}}"#, q(piece)),
            );
        }
        stop(&mut ev, index);
        index += 1;
    }
    let reason = if turn.tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    push(&mut ev, "messageStop", &|p| {
        format!(r#"{{"p":{p},"stopReason":"{reason}"}}"#)
    });
    // The time the stream takes as the mock paces it: deterministic, like everything the
    // mock answers (cassettes of it stay byte-identical).
    let latency = script.chunk_delay_ms * (ev.len() as u64 + 1);
    let usage = token_usage(usage, output);
    push(&mut ev, "metadata", &|p| {
        format!(r#"{{"metrics":{{"latencyMs":{latency}}},"p":{p},"usage":{usage}}}"#)
    });
    ev
}

/// `TokenUsage`: `inputTokens` leaves out what was read from and written to the cache (the
/// two are reported apart, SPEC §4); `totalTokens` counts every token, cached or not. The
/// cache fields are there when the request asked for caching (`cachePoint` blocks), with
/// `cacheDetails` ("Detailed breakdown of cache writes by TTL. Empty if no cache creation
/// occurred. Sorted by TTL duration (1h before 5m).") when something was written.
fn token_usage(u: &PromptUsage, output: u64) -> String {
    let mut s = String::from("{");
    if u.cache_points {
        if u.write() > 0 {
            let details: Vec<String> = [("1h", u.write_1h), ("5m", u.write_5m)]
                .into_iter()
                .filter(|&(_, n)| n > 0)
                .map(|(ttl, n)| format!(r#"{{"inputTokens":{n},"ttl":"{ttl}"}}"#))
                .collect();
            s += &format!(r#""cacheDetails":[{}],"#, details.join(","));
        }
        s += &format!(
            r#""cacheReadInputTokens":{},"cacheWriteInputTokens":{},"#,
            u.read,
            u.write()
        );
    }
    s + &format!(
        r#""inputTokens":{},"outputTokens":{output},"totalTokens":{}}}"#,
        u.rest(),
        u.total + output
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_a_prefix_of_the_services_alphabet() {
        for (k, i) in [(0, 0), (1, 7), (12, 345)] {
            let p: String = serde_json::from_str(&padding(k, i)).unwrap();
            assert!(
                (1..=60).contains(&p.len()) && PADDING.starts_with(&p),
                "{p}"
            );
            assert_eq!(padding(k, i), padding(k, i));
        }
    }

    #[test]
    fn usage_reports_cache_fields_only_when_asked_for() {
        let plain = PromptUsage::uncached(100);
        assert_eq!(
            token_usage(&plain, 7),
            r#"{"inputTokens":100,"outputTokens":7,"totalTokens":107}"#
        );
        let cached = PromptUsage {
            total: 1000,
            read: 600,
            write_5m: 100,
            write_1h: 50,
            cache_points: true,
        };
        assert_eq!(
            token_usage(&cached, 7),
            r#"{"cacheDetails":[{"inputTokens":50,"ttl":"1h"},{"inputTokens":100,"ttl":"5m"}],"cacheReadInputTokens":600,"cacheWriteInputTokens":150,"inputTokens":250,"outputTokens":7,"totalTokens":1007}"#
        );
        let read_only = PromptUsage {
            write_5m: 0,
            write_1h: 0,
            ..cached
        };
        assert!(token_usage(&read_only, 0).starts_with(
            r#"{"cacheReadInputTokens":600,"cacheWriteInputTokens":0,"inputTokens":400,"#
        ));
    }
}
