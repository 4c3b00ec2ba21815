//! Helpers shared by the fuzz targets: a chunking chosen by the input, and the decode
//! outcome that must not depend on it.

use toolstream::{DecodeError, ProviderChoice, StreamDecoder, StreamEvent};

/// Splits the fuzz input into a chunking seed (its first two bytes) and the body.
pub fn split_seed(data: &[u8]) -> (u16, &[u8]) {
    match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (0, data),
    }
}

/// Cuts `body` into chunks whose sizes a small generator derives from `seed`: from one
/// byte at a time to a few KiB, so every split point is reachable.
pub fn chunks(body: &[u8], seed: u16) -> Vec<&[u8]> {
    let max = [1usize, 2, 3, 7, 16, 64, 509, 4096][usize::from(seed & 7)];
    let mut state = u32::from(seed) | 0x9E37_0000;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = 1 + (state as usize) % max;
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// What decoding a body produced: the events, whether any error was reported, and the
/// fatal error (as text) if there was one.
#[derive(Debug, PartialEq)]
pub struct Decoded {
    pub events: Vec<StreamEvent>,
    pub any_error: bool,
    pub fatal: Option<String>,
}

/// Decodes `chunks` with a fresh decoder for `provider`, then finishes.
pub fn decode<'a>(
    provider: impl Into<ProviderChoice>,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Decoded {
    let mut decoder = StreamDecoder::new(provider);
    let mut events = Vec::new();
    let mut any_error = false;
    let mut fatal = None;
    let mut note = |e: DecodeError, fatal: &mut Option<String>| {
        any_error = true;
        if e.is_fatal() && fatal.is_none() {
            *fatal = Some(e.to_string());
        }
    };
    for c in chunks {
        if let Err(e) = decoder.push(c, &mut events) {
            note(e, &mut fatal);
        }
    }
    if let Err(e) = decoder.finish(&mut events) {
        note(e, &mut fatal);
    }
    Decoded {
        events,
        any_error,
        fatal,
    }
}

/// The provider-decoder property: the same events and the same fatal error whatever the
/// chunking, and the events assemble without a panic into a message whose tool calls
/// are consistent.
pub fn check_provider(provider: impl Into<ProviderChoice> + Copy, data: &[u8]) {
    let (seed, body) = split_seed(data);
    let whole = decode(provider, [body]);
    let cut = decode(provider, chunks(body, seed));
    assert_eq!(whole, cut, "the chunking changed the decoded stream");
    check_assembly(&whole.events);
}

/// Assembles `events` and checks what the assembler promises about tool calls.
pub fn check_assembly(events: &[StreamEvent]) {
    let mut assembler = toolstream::Assembler::new();
    for e in events {
        let _ = assembler.push(e);
    }
    let message = assembler.finish();
    for (i, call) in message.tool_calls.iter().enumerate() {
        assert_eq!(call.index, i, "tool calls are numbered in request order");
        if !call.complete {
            assert!(call.input.is_err(), "an incomplete call is never parsed");
        }
        if let Ok(v) = &call.input {
            assert!(v.is_object(), "parsed arguments are always an object");
        }
    }
}
