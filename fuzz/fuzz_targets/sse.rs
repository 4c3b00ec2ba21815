//! The SSE decoder: the same events and error whatever the chunking, `push` and
//! `push_with` agree, limits hold, and what it yields follows the line rules.
#![no_main]

use std::num::NonZeroUsize;

use libfuzzer_sys::fuzz_target;
use toolstream::{SseDecoder, SseError, SseEvent, SseLimits};
use toolstream_fuzz::{chunks, split_seed};

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<SseEvent>,
    error: Option<SseError>,
    truncated: Option<bool>,
}

fn run<'a>(limits: SseLimits, input: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut d = SseDecoder::with_limits(limits);
    let mut events = Vec::new();
    let mut error = None;
    for c in input {
        if let Err(e) = d.push(c, &mut events) {
            error = Some(e);
            break;
        }
    }
    let truncated = match error {
        None => match d.finish() {
            Ok(t) => Some(t),
            Err(e) => {
                error = Some(e);
                None
            }
        },
        Some(_) => None,
    };
    Outcome {
        events,
        error,
        truncated,
    }
}

fn run_borrowed<'a>(limits: SseLimits, input: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
    let mut d = SseDecoder::with_limits(limits);
    let mut events = Vec::new();
    for c in input {
        if d.push_with(c, |e| events.push(e.to_event())).is_err() {
            break;
        }
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let (seed, body) = split_seed(data);
    let small = SseLimits::new()
        .max_line_bytes(NonZeroUsize::new(64).unwrap())
        .max_event_bytes(NonZeroUsize::new(256).unwrap());
    for limits in [SseLimits::new(), small] {
        let whole = run(limits, [body]);
        let cut = run(limits, chunks(body, seed));
        assert_eq!(whole, cut, "the chunking changed the events");
        assert_eq!(whole.events, run_borrowed(limits, chunks(body, seed)));
        for e in &whole.events {
            // The limit counts received bytes; U+FFFD repair can triple invalid ones.
            assert!(e.data().len() <= 3 * limits.event_limit());
            assert!(!e.data().contains('\r'), "CR always ends a line");
            assert!(!e.event().contains(['\r', '\n']));
            assert!(
                !e.id().contains(['\r', '\n', '\0']),
                "an id with NUL is ignored"
            );
        }
    }
});
