//! Deterministic, wire-accurate benchmark corpora: long streams per provider with text
//! deltas (escapes, non-ASCII), parallel tool calls with fragmented arguments, and pings,
//! as the providers send them.
//!
//! A corpus is a list of complete response bodies (one model message each), so that every
//! message can be decoded and assembled as in production.
//!
//! Not API: the input of the benchmarks, the fast-path tests and `toolstream bench`,
//! hidden from the docs. It writes the wire bytes with the mock's encoders, so it comes
//! with the `mock` feature.

use serde_json::value::RawValue;

use crate::mock::{Script, ScriptCall, ScriptTurn};
use crate::provider::Provider;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the",
    "stream",
    "of",
    "tokens",
    "arrives",
    "in",
    "small",
    "pieces",
    "and",
    "every",
    "piece",
    "is",
    "an",
    "event",
    "\"quoted\"",
    "naïve",
    "café",
    "déjà",
    "vu",
    "—",
    "→",
    "東京",
    "雨",
    "😀",
    "tab\there",
    "line\nbreak",
    "back\\slash",
    "50%",
    "<tag>",
    "{json}",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s.push('.');
    s
}

fn call(rng: &mut Rng, i: usize) -> ScriptCall {
    let input = serde_json::json!({
        "query": sentence(rng, 8),
        "filters": {"lang": "en", "max_results": rng.below(50), "since": "2025-01-01"},
        "ids": (0..4).map(|_| rng.below(100_000)).collect::<Vec<_>>(),
        "note": format!("call {i}: {}", sentence(rng, 5)),
    });
    ScriptCall {
        name: ["search", "get_weather", "read_file", "run_query"][i % 4].to_owned(),
        input: RawValue::from_string(input.to_string()).expect("json! is valid JSON"),
    }
}

/// Inserts an Anthropic `ping` every `every` events.
fn with_pings(
    body: Vec<(Option<&'static str>, String)>,
    every: usize,
) -> Vec<(Option<&'static str>, String)> {
    let mut out = Vec::with_capacity(body.len() + body.len() / every + 1);
    for (i, e) in body.into_iter().enumerate() {
        if i > 0 && i % every == 0 {
            out.push((Some("ping"), r#"{"type": "ping"}"#.to_owned()));
        }
        out.push(e);
    }
    out
}

/// About `target_bytes` of `provider` streams (SSE providers only; Bedrock yields an empty
/// corpus), seeded for reproducibility. Each message streams ~4 KiB of text in pieces of a
/// few words, then four parallel tool calls whose arguments arrive in ~10-character
/// fragments.
pub fn generate(provider: Provider, seed: u64, target_bytes: usize) -> Vec<Vec<u8>> {
    if provider == Provider::Bedrock {
        return Vec::new();
    }
    let mut rng = Rng(seed);
    let mut script = Script::default_demo();
    script.chunk_chars = 16;
    script.chunk_delay_ms = 0;
    let mut total = 0;
    let mut messages = Vec::new();
    let mut k = 0;
    while total < target_bytes {
        let text: String = (0..40).map(|_| sentence(&mut rng, 12) + " ").collect();
        let turn = ScriptTurn {
            text,
            tool_calls: (0..4).map(|i| call(&mut rng, i)).collect(),
        };
        script.chunk_chars = 8 + rng.below(16) as usize;
        let mut events = crate::mock::encode_turn(provider, &script, k, &turn);
        if provider == Provider::Anthropic {
            events = with_pings(events, 25);
        }
        let mut body = Vec::new();
        for (name, data) in events {
            if let Some(n) = name {
                body.extend_from_slice(b"event: ");
                body.extend_from_slice(n.as_bytes());
                body.push(b'\n');
            }
            body.extend_from_slice(b"data: ");
            body.extend_from_slice(data.as_bytes());
            body.extend_from_slice(b"\n\n");
        }
        total += body.len();
        messages.push(body);
        k += 1;
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_assembles() {
        for provider in [
            Provider::Anthropic,
            Provider::OpenAiChat,
            Provider::OpenAiResponses,
            Provider::Gemini,
        ] {
            let a = generate(provider, 7, 200_000);
            assert_eq!(a, generate(provider, 7, 200_000), "{provider}");
            assert!(a.iter().map(Vec::len).sum::<usize>() >= 200_000);
            for body in &a {
                let mut d = crate::StreamDecoder::new(provider);
                let mut events = Vec::new();
                d.push(body, &mut events).unwrap();
                d.finish(&mut events).unwrap();
                let mut asm = crate::Assembler::new();
                for e in &events {
                    asm.push(e).unwrap();
                }
                let m = asm.finish();
                assert!(m.complete, "{provider}");
                assert_eq!(m.tool_calls.len(), 4, "{provider}");
                assert!(m.tool_calls.iter().all(|c| c.input.is_ok()), "{provider}");
                assert!(m.text().contains('東'), "{provider}");
            }
        }
    }
}

/// Throughput measurement shared by `toolstream bench` and the criterion benches.
pub mod measure {
    use std::borrow::Cow;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    use eventsource_stream::Eventsource;
    use futures_core::Stream;
    use serde::de::IgnoredAny;
    use serde::Deserialize;

    use crate::provider::Provider;
    use crate::sse::SseDecoder;
    use crate::{Assembler, StreamDecoder};

    /// Decodes and assembles every body, fed in `chunk`-byte pieces; returns the number
    /// of unified events.
    ///
    /// # Panics
    ///
    /// When a body does not decode or assemble: corpora are well formed.
    pub fn toolstream(provider: Provider, bodies: &[Vec<u8>], chunk: usize) -> usize {
        let mut events = Vec::new();
        let mut n = 0;
        for body in bodies {
            let mut d = StreamDecoder::new(provider);
            let mut a = Assembler::new();
            for c in body.chunks(chunk.max(1)) {
                d.push(c, &mut events).expect("corpus decodes");
                for e in events.drain(..) {
                    a.push(&e).expect("corpus assembles");
                    n += 1;
                }
            }
            d.finish(&mut events).expect("corpus decodes");
            n += events.len();
            for e in events.drain(..) {
                a.push(&e).expect("corpus assembles");
            }
            std::hint::black_box(a.finish());
        }
        n
    }

    /// The baseline: eventsource-stream framing and a `serde_json::Value` per event.
    pub fn eventsource_value(bodies: &[Vec<u8>], chunk: usize) -> usize {
        let mut n = 0;
        for body in bodies {
            let chunks = body
                .chunks(chunk.max(1))
                .map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::copy_from_slice(c)));
            let mut events = futures_util::stream::iter(chunks).eventsource();
            let mut cx = Context::from_waker(Waker::noop());
            // Every chunk is ready at once: polling never waits.
            // A recording may hold what this baseline cannot read (`toolstream bench
            // FILE`): such an event is not counted, rather than a panic.
            while let Poll::Ready(Some(Ok(e))) = Pin::new(&mut events).poll_next(&mut cx) {
                if e.data != "[DONE]" {
                    let v = serde_json::from_str::<serde_json::Value>(&e.data);
                    n += usize::from(v.is_ok_and(|v| !v.is_null()));
                }
            }
        }
        n
    }

    /// The payloads of every event, extracted beforehand (framing removed).
    pub fn payloads(bodies: &[Vec<u8>]) -> Vec<String> {
        let mut out = Vec::new();
        let mut events = Vec::new();
        for body in bodies {
            let mut d = SseDecoder::new();
            // What frames before an error is kept (a recording may be cut short).
            let _ = d.push(body, &mut events);
            out.extend(
                events
                    .drain(..)
                    .map(|e| e.into_data())
                    .filter(|d| d != "[DONE]"),
            );
        }
        out
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct AnthropicFloor<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        index: Option<u64>,
        #[serde(borrow)]
        delta: Option<ObjectDelta<'a>>,
        content_block: Option<IgnoredAny>,
        message: Option<IgnoredAny>,
        usage: Option<IgnoredAny>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct ObjectDelta<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<Cow<'a, str>>,
        #[serde(borrow)]
        text: Option<Cow<'a, str>>,
        #[serde(borrow)]
        partial_json: Option<Cow<'a, str>>,
        #[serde(borrow)]
        content: Option<Cow<'a, str>>,
        tool_calls: Option<IgnoredAny>,
        stop_reason: Option<IgnoredAny>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct ChatFloor<'a> {
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        choices: Vec<ChatChoice<'a>>,
        usage: Option<IgnoredAny>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct ChatChoice<'a> {
        index: Option<u64>,
        #[serde(borrow)]
        delta: Option<ObjectDelta<'a>>,
        finish_reason: Option<IgnoredAny>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct ResponsesFloor<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        output_index: Option<u64>,
        #[serde(borrow)]
        delta: Option<Cow<'a, str>>,
        item: Option<IgnoredAny>,
        response: Option<IgnoredAny>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct GeminiFloor {
        candidates: Option<IgnoredAny>,
        #[serde(rename = "usageMetadata")]
        usage_metadata: Option<IgnoredAny>,
    }

    /// The JSON floor: a typed, borrowing serde_json parse of each pre-extracted payload
    /// into a struct of the fields a decoder needs; no framing, no assembly.
    pub fn typed_floor(provider: Provider, payloads: &[String]) -> usize {
        fn count<'a, T: Deserialize<'a>>(p: &'a str) -> usize {
            usize::from(serde_json::from_str::<T>(p).is_ok())
        }
        payloads
            .iter()
            .map(|p| match provider {
                Provider::Anthropic => count::<AnthropicFloor>(p),
                Provider::OpenAiChat => count::<ChatFloor>(p),
                Provider::OpenAiResponses => count::<ResponsesFloor>(p),
                _ => count::<GeminiFloor>(p),
            })
            .sum()
    }

    /// Runs `f` repeatedly for at least `budget` (and at least 3 times); returns the best
    /// time of one run.
    pub fn best_of(budget: Duration, mut f: impl FnMut() -> usize) -> Duration {
        let start = Instant::now();
        let mut best = Duration::MAX;
        let mut runs = 0;
        while runs < 3 || start.elapsed() < budget {
            let t = Instant::now();
            std::hint::black_box(f());
            best = best.min(t.elapsed());
            runs += 1;
        }
        best
    }
}
