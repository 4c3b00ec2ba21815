//! A shape-specialized fast path for the two hottest Chat Completions chunks, a text piece
//! and an argument fragment, exactly as OpenAI writes them (and DeepSeek, Groq and
//! OpenRouter, which drop or add the optional parts):
//!
//! ```text
//! {"id":"…","object":"chat.completion.chunk","created":N,"model":"…"[,"system_fingerprint":"…"|null],
//!  "choices":[{"index":0,"delta":DELTA[,"logprobs":null],"finish_reason":null}][,"usage":null]}
//!
//! DELTA = {"content":"…"}
//!       | {"tool_calls":[{"index":N,"function":{"arguments":"…"}}]}
//! ```
//!
//! (one line on the wire). Anything that deviates by one byte (spacing, key order, an
//! extra field, a second choice, a leading zero, a raw control character) returns `None`
//! and takes the full serde path. The fast path only reads the chunk; the decoder applies
//! it through the same code as a fully parsed one, so the output is identical either way
//! (differential tests in `tests.rs` and in `tests/fast_path.rs`).

use std::borrow::Cow;

use crate::provider::json_fast::{string, uint};

/// What a fast-path chunk carries for choice 0.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    /// `delta.content`.
    Content(Cow<'a, str>),
    /// `delta.tool_calls[0]` with an `index` and `function.arguments` only.
    Arguments {
        index: usize,
        arguments: Cow<'a, str>,
    },
}

const HEAD: &str = r#"{"id":"#;
const OBJECT: &str = r#","object":"chat.completion.chunk","created":"#;
const MODEL: &str = r#","model":"#;
const FINGERPRINT: &str = r#","system_fingerprint":"#;
const CHOICE: &str = r#","choices":[{"index":0,"delta":{"#;
const CONTENT: &str = r#""content":"#;
const CALL: &str = r#""tool_calls":[{"index":"#;
const ARGUMENTS: &str = r#","function":{"arguments":"#;
const LOGPROBS: &str = r#","logprobs":null"#;
const FINISH: &str = r#","finish_reason":null}]"#;
const USAGE: &str = r#","usage":null"#;

/// The head of the last chunk the fast path read, through `"delta":{`. Every chunk of a
/// stream repeats the same head, so a chunk that starts with these exact bytes has a valid
/// head without a second look; any other head is read in full (and remembered).
#[derive(Debug, Default, Clone)]
pub(super) struct SeenHead(String);

/// The piece, when `data` has exactly one of the two shapes.
pub(super) fn chunk<'a>(data: &'a str, seen: &mut SeenHead) -> Option<Piece<'a>> {
    let rest = match data.strip_prefix(seen.0.as_str()) {
        Some(rest) if !seen.0.is_empty() => rest,
        _ => {
            let rest = head(data)?;
            seen.0.clear();
            seen.0.push_str(&data[..data.len() - rest.len()]);
            rest
        }
    };
    let (piece, rest) = if let Some(r) = rest.strip_prefix(CONTENT) {
        let (text, r) = string(r)?;
        (Piece::Content(text), r.strip_prefix('}')?)
    } else {
        let (index, r) = uint(rest.strip_prefix(CALL)?)?;
        let (arguments, r) = string(r.strip_prefix(ARGUMENTS)?)?;
        (
            Piece::Arguments { index, arguments },
            r.strip_prefix("}}]}")?,
        )
    };
    let rest = rest.strip_prefix(LOGPROBS).unwrap_or(rest);
    let rest = rest.strip_prefix(FINISH)?;
    let rest = rest.strip_prefix(USAGE).unwrap_or(rest);
    (rest == "}").then_some(piece)
}

/// What follows the head of `data`, when the head has the shape. `id` and `model` matter
/// only for the first chunk (the decoder sends that one to the full path), but they must
/// still be valid strings.
fn head(data: &str) -> Option<&str> {
    let rest = data.strip_prefix(HEAD)?;
    let (_, rest) = string(rest)?;
    let (_, rest) = uint(rest.strip_prefix(OBJECT)?)?;
    let (_, rest) = string(rest.strip_prefix(MODEL)?)?;
    let rest = match rest.strip_prefix(FINGERPRINT) {
        Some(r) => match r.strip_prefix("null") {
            Some(r) => r,
            None => string(r)?.1,
        },
        None => rest,
    };
    rest.strip_prefix(CHOICE)
}
