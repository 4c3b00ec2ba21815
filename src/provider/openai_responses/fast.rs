//! A shape-specialized fast path for the two hottest Responses events, a text piece and an
//! argument fragment, in the two key orders they are written in (one line on the wire).
//!
//! OpenAI writes `type` first, then the fields in the order its API reference lists them;
//! `sequence_number` is left out by some compatible servers, `logprobs` comes with text
//! when the request asks for no log probabilities, and `obfuscation` (random padding)
//! unless the request turns it off:
//!
//! ```text
//! {"type":"response.output_text.delta"[,"sequence_number":N],"item_id":"…","output_index":N,
//!  "content_index":N,"delta":"…"[,"logprobs":[]][,"obfuscation":"…"]}
//! {"type":"response.function_call_arguments.delta"[,"sequence_number":N],"item_id":"…",
//!  "output_index":N,"delta":"…"[,"obfuscation":"…"]}
//! ```
//!
//! Servers that serialize the `openai` Python package's event models (whose fields are
//! declared in alphabetical order), and any writer that sorts keys, put `type` last:
//!
//! ```text
//! {"content_index":N,"delta":"…","item_id":"…"[,"logprobs":[]][,"obfuscation":"…"],
//!  "output_index":N[,"sequence_number":N],"type":"response.output_text.delta"}
//! {"delta":"…","item_id":"…"[,"obfuscation":"…"],"output_index":N[,"sequence_number":N],
//!  "type":"response.function_call_arguments.delta"}
//! ```
//!
//! Anything that deviates by one byte (spacing, key order, an extra or missing field, a
//! `logprobs` that is not `[]`, a leading zero, a raw control character) returns `None`
//! and takes the full serde path. The fast path only reads the event; the decoder applies
//! it through the same code as a fully parsed one, so the output is identical either way
//! (differential tests in `tests.rs` and in `tests/fast_path_responses.rs`).

use std::borrow::Cow;

use crate::provider::json_fast::{optional, string, uint};

/// What a fast-path event carries.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    /// `response.output_text.delta`.
    Text {
        output_index: usize,
        content_index: usize,
        delta: Cow<'a, str>,
    },
    /// `response.function_call_arguments.delta`.
    Arguments {
        output_index: usize,
        delta: Cow<'a, str>,
    },
}

const TEXT: &str = r#""response.output_text.delta""#;
const ARGUMENTS: &str = r#""response.function_call_arguments.delta""#;

const TYPE_FIRST: &str = r#"{"type":"#;
const SEQUENCE: &str = r#","sequence_number":"#;
const ITEM_ID: &str = r#","item_id":"#;
const OUTPUT_INDEX: &str = r#","output_index":"#;
const CONTENT_INDEX: &str = r#","content_index":"#;
const DELTA: &str = r#","delta":"#;
const LOGPROBS: &str = r#","logprobs":[]"#;
const OBFUSCATION: &str = r#","obfuscation":"#;

const SORTED_TEXT: &str = r#"{"content_index":"#;
const SORTED_ARGUMENTS: &str = r#"{"delta":"#;
const TYPE_LAST: &str = r#","type":"#;

/// The piece, when `data` has exactly one of the shapes above.
pub(super) fn event(data: &str) -> Option<Piece<'_>> {
    match data.strip_prefix(TYPE_FIRST) {
        Some(rest) => type_first(rest),
        None => type_last(data),
    }
}

/// OpenAI's order, after `{"type":`.
fn type_first(rest: &str) -> Option<Piece<'_>> {
    let (text, rest) = match rest.strip_prefix(TEXT) {
        Some(rest) => (true, rest),
        None => (false, rest.strip_prefix(ARGUMENTS)?),
    };
    let (_, rest) = optional(rest, SEQUENCE, uint)?;
    let (_item_id, rest) = string(rest.strip_prefix(ITEM_ID)?)?;
    let (output_index, rest) = uint(rest.strip_prefix(OUTPUT_INDEX)?)?;
    let (content_index, rest) = if text {
        let (content_index, rest) = uint(rest.strip_prefix(CONTENT_INDEX)?)?;
        (Some(content_index), rest)
    } else {
        (None, rest)
    };
    let (delta, rest) = string(rest.strip_prefix(DELTA)?)?;
    let rest = if text {
        rest.strip_prefix(LOGPROBS).unwrap_or(rest)
    } else {
        rest
    };
    let (_, rest) = optional(rest, OBFUSCATION, string)?;
    (rest == "}").then(|| piece(output_index, content_index, delta))
}

/// Sorted keys, `type` last.
fn type_last(data: &str) -> Option<Piece<'_>> {
    let (content_index, rest) = match data.strip_prefix(SORTED_TEXT) {
        Some(rest) => {
            let (content_index, rest) = uint(rest)?;
            (Some(content_index), rest.strip_prefix(DELTA)?)
        }
        None => (None, data.strip_prefix(SORTED_ARGUMENTS)?),
    };
    let (delta, rest) = string(rest)?;
    let (_item_id, rest) = string(rest.strip_prefix(ITEM_ID)?)?;
    let text = content_index.is_some();
    let rest = if text {
        rest.strip_prefix(LOGPROBS).unwrap_or(rest)
    } else {
        rest
    };
    let (_, rest) = optional(rest, OBFUSCATION, string)?;
    let (output_index, rest) = uint(rest.strip_prefix(OUTPUT_INDEX)?)?;
    let (_, rest) = optional(rest, SEQUENCE, uint)?;
    let kind = if text { TEXT } else { ARGUMENTS };
    let rest = rest.strip_prefix(TYPE_LAST)?.strip_prefix(kind)?;
    (rest == "}").then(|| piece(output_index, content_index, delta))
}

fn piece(output_index: usize, content_index: Option<usize>, delta: Cow<'_, str>) -> Piece<'_> {
    match content_index {
        Some(content_index) => Piece::Text {
            output_index,
            content_index,
            delta,
        },
        None => Piece::Arguments {
            output_index,
            delta,
        },
    }
}
