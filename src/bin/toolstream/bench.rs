//! `toolstream bench`: parse-and-assemble throughput beside the baselines, in one run.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use toolstream::corpus::{self, measure};
use toolstream::{Assembler, Provider, ProviderChoice, StreamDecoder, StreamEvent};

/// Measures and prints. `file`: a recorded stream, one message or a whole conversation
/// (measured message by message); else a generated corpus of `mb` MB. Each parser is timed
/// for `budget`, and its fastest pass counts.
pub fn bench(
    choice: ProviderChoice,
    file: Option<&Path>,
    chunk: usize,
    mb: usize,
    budget: Duration,
    as_json: bool,
) -> Result<String, String> {
    let (provider, bodies) = match file {
        Some(path) => {
            let body = if path.as_os_str() == "-" {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                    .map_err(|e| e.to_string())?;
                v
            } else {
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            };
            recorded(choice, &body)?
        }
        None => {
            let provider = match choice {
                ProviderChoice::Fixed(p) => p,
                ProviderChoice::Auto => Provider::Anthropic,
            };
            if provider == Provider::Bedrock {
                return Err("no generated corpus for bedrock: give a FILE".into());
            }
            (provider, corpus::generate(provider, 42, mb * 1_000_000))
        }
    };
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let events = measure::toolstream(provider, &bodies, chunk);
    let ours = measure::best_of(budget, || measure::toolstream(provider, &bodies, chunk));
    let mb_per_s = |t: Duration| bytes as f64 / 1e6 / t.as_secs_f64();
    let (baseline, floor) = if provider == Provider::Bedrock {
        (None, None)
    } else {
        let payloads = measure::payloads(&bodies);
        let baseline = measure::best_of(budget, || measure::eventsource_value(&bodies, chunk));
        let floor = measure::best_of(budget, || measure::typed_floor(provider, &payloads));
        (Some(mb_per_s(baseline)), Some(mb_per_s(floor)))
    };
    let ours_mb = mb_per_s(ours);
    let ratio = |other: Option<f64>| other.map(|o| ours_mb / o);
    if as_json {
        return Ok(json!({
            "provider": provider.as_str(),
            "bytes": bytes,
            "messages": bodies.len(),
            "events": events,
            "chunk": chunk,
            "mb_per_s": ours_mb,
            "events_per_s": events as f64 / ours.as_secs_f64(),
            "baseline_mb_per_s": baseline,
            "floor_mb_per_s": floor,
            "ratio_vs_baseline": ratio(baseline),
            "ratio_vs_floor": ratio(floor),
        })
        .to_string());
    }
    let fmt = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}"));
    Ok(format!(
        "provider {provider}: {bytes} bytes, {} messages, {events} events, {chunk}-byte chunks\n\
         toolstream (bytes -> assembled turns)      {ours_mb:>8.1} MB/s  {:>10.0} events/s\n\
         eventsource-stream + serde_json::Value     {:>8} MB/s  (toolstream {}x)\n\
         typed serde_json of extracted payloads     {:>8} MB/s  (toolstream {}x)",
        bodies.len(),
        events as f64 / ours.as_secs_f64(),
        fmt(baseline),
        fmt(ratio(baseline)),
        fmt(floor),
        fmt(ratio(floor)),
    ))
}

/// A recording split into its messages, each checked to decode and assemble (so that the
/// measurement, which expects well-formed input, never meets anything else).
fn recorded(choice: ProviderChoice, body: &[u8]) -> Result<(Provider, Vec<Vec<u8>>), String> {
    let mut d = StreamDecoder::new(choice);
    let mut events = Vec::new();
    // The first error is reported per message below; here only the provider is wanted.
    let _ = d.push(body, &mut events);
    let _ = d.finish(&mut events);
    let provider = match (d.provider(), choice) {
        (Some(p), _) | (None, ProviderChoice::Fixed(p)) => p,
        (None, ProviderChoice::Auto) => {
            return Err("could not detect the provider: the input holds no event".into())
        }
    };
    let messages = split_messages(provider, body);
    let n = messages.len();
    let mut events_seen = 0;
    for (i, message) in messages.iter().enumerate() {
        let which = |e: &dyn std::fmt::Display| {
            if n == 1 {
                e.to_string()
            } else {
                format!("message {} of {n}: {e}", i + 1)
            }
        };
        let mut d = StreamDecoder::new(provider);
        let mut a = Assembler::new();
        let mut events = Vec::new();
        d.push(message, &mut events).map_err(|e| which(&e))?;
        d.finish(&mut events).map_err(|e| which(&e))?;
        events_seen += events.len();
        for e in &events {
            a.push(e).map_err(|e| which(&e))?;
        }
    }
    if events_seen == 0 {
        return Err(format!("the input holds no {provider} event"));
    }
    Ok((provider, messages))
}

/// Splits a recorded conversation (several responses, one after the other, as a log of
/// requests holds them) into one body per message, at event boundaries: a message ends
/// once its stop was seen and the next event starts a message. Events after a stop that
/// start none (`data: [DONE]`, Chat's usage chunk) stay with their message.
fn split_messages(provider: Provider, body: &[u8]) -> Vec<Vec<u8>> {
    let ends = if provider.is_event_stream() {
        frame_ends(body)
    } else {
        event_ends(body)
    };
    let mut messages = Vec::new();
    let (mut start, mut at) = (0, 0);
    let mut current = StreamDecoder::new(provider);
    let mut stopping = false;
    let mut out = Vec::new();
    for end in ends {
        let event = &body[at..end];
        out.clear();
        let _ = current.push(event, &mut out);
        let stops_here = out.iter().any(|e| matches!(e, StreamEvent::MessageStop));
        if stopping && !stops_here && starts_message(provider, event) {
            messages.push(body[start..at].to_vec());
            start = at;
            current = StreamDecoder::new(provider);
            stopping = false;
            out.clear();
            let _ = current.push(event, &mut out);
        }
        stopping |= out.iter().any(|e| {
            matches!(
                e,
                StreamEvent::MessageStop
                    | StreamEvent::Error(_)
                    | StreamEvent::MessageDelta {
                        stop_reason: Some(_),
                        ..
                    }
            )
        });
        at = end;
    }
    if start < body.len() || messages.is_empty() {
        messages.push(body[start..].to_vec());
    }
    messages
}

/// Whether `event`, alone, starts a message.
fn starts_message(provider: Provider, event: &[u8]) -> bool {
    let mut d = StreamDecoder::new(provider);
    let mut out = Vec::new();
    let _ = d.push(event, &mut out);
    out.iter()
        .any(|e| matches!(e, StreamEvent::MessageStart { .. }))
}

/// Where each SSE event ends: after the blank line that dispatches it (lines end in CRLF,
/// LF or CR).
fn event_ends(body: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let (mut i, mut line_start) = (0, 0);
    while i < body.len() {
        let eol = match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => 2,
            b'\r' | b'\n' => 1,
            _ => {
                i += 1;
                continue;
            }
        };
        if i == line_start && i > 0 {
            ends.push(i + eol);
        }
        i += eol;
        line_start = i;
    }
    ends
}

/// Where each AWS event-stream frame ends (its first 4 bytes: the total length, big-endian).
fn frame_ends(body: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 0;
    while let Some(prelude) = body.get(at..at + 4) {
        let len = u32::from_be_bytes([prelude[0], prelude[1], prelude[2], prelude[3]]) as usize;
        if len < 16 || at + len > body.len() {
            break;
        }
        at += len;
        ends.push(at);
    }
    ends
}
