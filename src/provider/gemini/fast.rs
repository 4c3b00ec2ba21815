//! A shape-specialized fast path for the hottest Gemini chunk, a single text part of
//! candidate 0, exactly as Google's servers write it (a space after every colon, none after
//! a comma) and as serde_json writes it (no spaces, keys sorted: the mock):
//!
//! ```text
//! {"candidates": [{"content": {"parts": [{"text": "…"}],"role": "model"}[,"index": 0]}]
//!  [,"usageMetadata": USAGE][,"modelVersion": "…"][,"responseId": "…"]}
//!
//! USAGE   = {"promptTokenCount": N[,"candidatesTokenCount": N],"totalTokenCount": N,
//!            "promptTokensDetails": DETAILS[,"candidatesTokensDetails": DETAILS]
//!            [,"toolUsePromptTokenCount": N][,"toolUsePromptTokensDetails": DETAILS]
//!            [,"thoughtsTokenCount": N]}
//! DETAILS = [{"modality": "…","tokenCount": N}(,{"modality": "…","tokenCount": N})*]
//!
//! {"candidates":[{"content":{"parts":[{"text":"…"}],"role":"model"}[,"index":0]}]
//!  [,"modelVersion":"…"][,"responseId":"…"]}
//! ```
//!
//! (one line on the wire). Anything that deviates by one byte (spacing, key order, an
//! unknown key, a `finishReason`, a `thought` or `thoughtSignature`, a second part or
//! candidate, a leading zero, a raw control character) returns `None` and takes the full
//! serde path. The fast path only reads the chunk; the decoder applies it through the same
//! code as a fully parsed one, so the output is identical either way (differential tests
//! in `tests.rs` and in `tests/fast_path_gemini.rs`).

use std::borrow::Cow;

use super::UsagePayload;
use crate::provider::json_fast::{optional, string, uint};

/// What a fast-path chunk carries.
pub(super) struct Piece<'a> {
    /// The text of the only part of candidate 0.
    pub(super) text: Cow<'a, str>,
    pub(super) usage: Option<UsagePayload>,
    pub(super) model_version: Option<Cow<'a, str>>,
    pub(super) response_id: Option<Cow<'a, str>>,
}

/// The literal bytes of one writer's chunk, around the values.
struct Shape {
    /// Through `"text":`.
    head: &'static str,
    /// From the end of the text through the end of `content`.
    role: &'static str,
    index: &'static str,
    /// Through `"promptTokenCount":`, when this writer's usage is read.
    usage: Option<&'static str>,
    model_version: &'static str,
    response_id: &'static str,
}

const GOOGLE: Shape = Shape {
    head: r#"{"candidates": [{"content": {"parts": [{"text": "#,
    role: r#"}],"role": "model"}"#,
    index: r#","index": 0"#,
    usage: Some(r#","usageMetadata": {"promptTokenCount": "#),
    model_version: r#","modelVersion": "#,
    response_id: r#","responseId": "#,
};

const COMPACT: Shape = Shape {
    head: r#"{"candidates":[{"content":{"parts":[{"text":"#,
    role: r#"}],"role":"model"}"#,
    index: r#","index":0"#,
    usage: None,
    model_version: r#","modelVersion":"#,
    response_id: r#","responseId":"#,
};

const CANDIDATES_COUNT: &str = r#","candidatesTokenCount": "#;
const TOTAL_COUNT: &str = r#","totalTokenCount": "#;
const PROMPT_DETAILS: &str = r#","promptTokensDetails": "#;
const CANDIDATES_DETAILS: &str = r#","candidatesTokensDetails": "#;
const TOOL_USE_COUNT: &str = r#","toolUsePromptTokenCount": "#;
const TOOL_USE_DETAILS: &str = r#","toolUsePromptTokensDetails": "#;
const THOUGHTS_COUNT: &str = r#","thoughtsTokenCount": "#;
const MODALITY: &str = r#"{"modality": "#;
const MODALITY_COUNT: &str = r#","tokenCount": "#;

/// The piece, when `data` has exactly one of the two shapes.
pub(super) fn chunk(data: &str) -> Option<Piece<'_>> {
    let (shape, rest) = match data.strip_prefix(GOOGLE.head) {
        Some(rest) => (&GOOGLE, rest),
        None => (&COMPACT, data.strip_prefix(COMPACT.head)?),
    };
    let (text, rest) = string(rest)?;
    let rest = rest.strip_prefix(shape.role)?;
    let rest = rest.strip_prefix(shape.index).unwrap_or(rest);
    let rest = rest.strip_prefix("}]")?;
    let (usage, rest) = match shape.usage {
        Some(key) => optional(rest, key, usage)?,
        None => (None, rest),
    };
    let (model_version, rest) = optional(rest, shape.model_version, string)?;
    let (response_id, rest) = optional(rest, shape.response_id, string)?;
    (rest == "}").then_some(Piece {
        text,
        usage,
        model_version,
        response_id,
    })
}

/// `usageMetadata` from the value of `promptTokenCount` on, through the closing brace.
/// The counts the decoder reports are kept; the rest must still have the shape (a
/// `cachedContentTokenCount` takes the full path).
fn usage(s: &str) -> Option<(UsagePayload, &str)> {
    let (prompt, rest) = count(s)?;
    let (candidates, rest) = optional(rest, CANDIDATES_COUNT, count)?;
    let (_, rest) = count(rest.strip_prefix(TOTAL_COUNT)?)?;
    let (_, rest) = details(rest.strip_prefix(PROMPT_DETAILS)?)?;
    let (_, rest) = optional(rest, CANDIDATES_DETAILS, details)?;
    let (tool_use, rest) = optional(rest, TOOL_USE_COUNT, count)?;
    let (_, rest) = optional(rest, TOOL_USE_DETAILS, details)?;
    let (thoughts, rest) = optional(rest, THOUGHTS_COUNT, count)?;
    let usage = UsagePayload {
        prompt_token_count: Some(prompt),
        candidates_token_count: candidates,
        cached_content_token_count: None,
        thoughts_token_count: thoughts,
        tool_use_prompt_token_count: tool_use,
    };
    Some((usage, rest.strip_prefix('}')?))
}

/// A token count (a JSON unsigned integer that fits `u64`).
fn count(s: &str) -> Option<(u64, &str)> {
    let (n, rest) = uint(s)?;
    Some((u64::try_from(n).ok()?, rest))
}

/// A non-empty list of per-modality counts: the list as written, and what follows it.
fn details(s: &str) -> Option<(&str, &str)> {
    let mut rest = s.strip_prefix('[')?;
    loop {
        let (_, r) = string(rest.strip_prefix(MODALITY)?)?;
        let (_, r) = uint(r.strip_prefix(MODALITY_COUNT)?)?;
        let r = r.strip_prefix('}')?;
        match r.strip_prefix(',') {
            Some(r) => rest = r,
            None => {
                let r = r.strip_prefix(']')?;
                return Some((&s[..s.len() - r.len()], r));
            }
        }
    }
}
