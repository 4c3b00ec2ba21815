//! Prompt-cache breakpoints (SPEC §9): "Against Anthropic (and Bedrock Claude), the client
//! places cache breakpoints itself by default (`cache_control` on the tools, the system
//! prompt and the last message of each request; Bedrock `cachePoint` blocks), configurable
//! (off, TTL 5m or 1h)."
//!
//! Anthropic caches only the prefixes that end at a block carrying `cache_control`, and a
//! request may carry at most 4 of them; a later request reads the longest cached prefix
//! ending within 20 blocks before one of its own breakpoints. So one breakpoint at the end
//! of the tools, one at the end of the system prompt, one on the last message and one on
//! the message that ended the previous request give every turn of a conversation the whole
//! previous turn from cache, however many blocks the turn added.
//!
//! The breakpoints are written into the request body only: the history keeps the messages
//! as they were sent without them, and the cache key (the rendered prompt, not the JSON
//! markers) is the same whether the breakpoint is on a message or on a later one.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Where and for how long the client asks for prompt caching, on the providers that cache
/// only where asked (Anthropic, Bedrock Claude and Nova). OpenAI and Gemini cache
/// implicitly and ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PromptCaching {
    /// No breakpoints: nothing is cached.
    Off,
    /// Breakpoints on the tools, the system prompt and the last message, kept for 5
    /// minutes after their last use (the providers' default, written without a `ttl`).
    #[default]
    FiveMinutes,
    /// The same breakpoints kept for an hour (writes cost more; see the provider's
    /// pricing).
    OneHour,
}

impl PromptCaching {
    /// Whether breakpoints are placed at all.
    pub fn is_on(self) -> bool {
        self != PromptCaching::Off
    }

    /// Anthropic's `cache_control` object.
    pub(crate) fn anthropic_marker(self) -> &'static str {
        match self {
            PromptCaching::OneHour => r#"{"type":"ephemeral","ttl":"1h"}"#,
            _ => r#"{"type":"ephemeral"}"#,
        }
    }

    /// A Bedrock `cachePoint` content block (`CachePointBlock`: `type` "default", `ttl`
    /// "5m" or "1h", optional); the 1-hour TTL only where the model takes it.
    pub(crate) fn bedrock_block(self, one_hour_taken: bool) -> &'static str {
        match self {
            PromptCaching::OneHour if one_hour_taken => {
                r#"{"cachePoint":{"type":"default","ttl":"1h"}}"#
            }
            _ => r#"{"cachePoint":{"type":"default"}}"#,
        }
    }
}

impl fmt::Display for PromptCaching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PromptCaching::Off => "off",
            PromptCaching::FiveMinutes => "5m",
            PromptCaching::OneHour => "1h",
        })
    }
}

impl FromStr for PromptCaching {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(PromptCaching::Off),
            "5m" => Ok(PromptCaching::FiveMinutes),
            "1h" => Ok(PromptCaching::OneHour),
            _ => Err(format!("unknown prompt caching `{s}` (off, 5m or 1h)")),
        }
    }
}

/// A JSON object whose members keep their order and their bytes.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Ordered(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Ordered {
    fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    fn set(&mut self, key: &str, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    fn to_raw(&self) -> Box<RawValue> {
        serde_json::value::to_raw_value(self).expect("raw members serialize")
    }
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).expect("a constant JSON value")
}

/// Whether an Anthropic content block may carry `cache_control`: not thinking blocks
/// ("Thinking blocks cannot be marked with `cache_control` directly") and not empty text
/// ("cache_control cannot be set for empty text blocks").
fn anthropic_cacheable(block: &Ordered) -> bool {
    let kind = block.get("type").map(RawValue::get);
    match kind {
        Some(r#""thinking""#) | Some(r#""redacted_thinking""#) => false,
        Some(r#""text""#) => block.get("text").is_some_and(|t| t.get() != r#""""#),
        _ => true,
    }
}

/// `message` (an Anthropic Messages history entry) with a breakpoint on its last block
/// that may carry one; string content becomes the one text block it stands for. `None`
/// when no block may carry it (or the message is not an object with content).
pub(crate) fn anthropic_message(
    message: &RawValue,
    caching: PromptCaching,
) -> Option<Box<RawValue>> {
    let mut m: Ordered = serde_json::from_str(message.get()).ok()?;
    let content = m.get("content")?;
    let marker = raw(caching.anthropic_marker());
    let blocks = if content.get().starts_with('"') {
        if content.get() == r#""""# {
            return None;
        }
        let block = Ordered(vec![
            ("type".into(), raw(r#""text""#)),
            ("text".into(), content.to_owned()),
            ("cache_control".into(), marker),
        ]);
        vec![block.to_raw()]
    } else {
        let mut blocks: Vec<Box<RawValue>> = serde_json::from_str(content.get()).ok()?;
        let (i, mut block) = blocks.iter().enumerate().rev().find_map(|(i, b)| {
            let block: Ordered = serde_json::from_str(b.get()).ok()?;
            anthropic_cacheable(&block).then_some((i, block))
        })?;
        block.set("cache_control", marker);
        blocks[i] = block.to_raw();
        blocks
    };
    let content = serde_json::value::to_raw_value(&blocks).expect("raw blocks serialize");
    m.set("content", content);
    Some(m.to_raw())
}

/// `message` (a Bedrock Converse history entry) with a `cachePoint` block after its content.
pub(crate) fn bedrock_message(
    message: &RawValue,
    caching: PromptCaching,
    one_hour_taken: bool,
) -> Option<Box<RawValue>> {
    let mut m: Ordered = serde_json::from_str(message.get()).ok()?;
    let mut blocks: Vec<Box<RawValue>> = serde_json::from_str(m.get("content")?.get()).ok()?;
    if blocks.is_empty() {
        return None;
    }
    blocks.push(raw(caching.bedrock_block(one_hour_taken)));
    let content = serde_json::value::to_raw_value(&blocks).expect("raw blocks serialize");
    m.set("content", content);
    Some(m.to_raw())
}

/// The breakpoints both providers allow in one request ("A maximum of 4 blocks with
/// cache_control may be provided"; Bedrock: up to four cache checkpoints).
const MAX_BREAKPOINTS: usize = 4;

/// The history messages that carry a breakpoint, each with its new bytes: the last message,
/// and the message that ended the previous request (the one before the last assistant
/// message). Anthropic reads a cached prefix only within 20 blocks before a breakpoint,
/// and a turn with many parallel calls adds more than 20 (text, N `tool_use`, N
/// `tool_result`): the second breakpoint sits exactly where the previous request wrote, so
/// it is read whatever the turn added. `fixed` breakpoints (tools, system prompt) are
/// already placed; markers a caller put in the history count too, so that no request goes
/// past the limit.
pub(crate) fn message_breakpoints(
    history: &[Box<RawValue>],
    fixed: usize,
    mark: impl Fn(&RawValue) -> Option<Box<RawValue>>,
) -> Vec<(usize, Box<RawValue>)> {
    // A key, not text: inside a JSON string its quotes are escaped.
    let existing: usize = history
        .iter()
        .map(|m| {
            m.get().matches(r#""cache_control""#).count()
                + m.get().matches(r#""cachePoint""#).count()
        })
        .sum();
    let mut budget = MAX_BREAKPOINTS.saturating_sub(fixed + existing);
    let mut marked = Vec::new();
    let Some(last) = history.len().checked_sub(1) else {
        return marked;
    };
    #[derive(Deserialize)]
    struct Role<'a> {
        #[serde(borrow)]
        role: Option<std::borrow::Cow<'a, str>>,
    }
    let assistant = history.iter().rposition(|m| {
        serde_json::from_str::<Role>(m.get()).is_ok_and(|r| r.role.as_deref() == Some("assistant"))
    });
    let previous = assistant
        .and_then(|a| a.checked_sub(1))
        .filter(|&p| p < last);
    for i in [Some(last), previous].into_iter().flatten() {
        if budget == 0 {
            break;
        }
        if let Some(m) = mark(&history[i]) {
            marked.push((i, m));
            budget -= 1;
        }
    }
    marked
}

/// Where a Bedrock model takes `cachePoint` blocks, by model id, inference profile or ARN
/// ("Supported models, regions, and limits" in the Bedrock prompt-caching guide):
/// Claude 3.5 Haiku, 3.7 Sonnet and the Claude 4 family in the system prompt, the messages
/// and the tools; Amazon Nova in the system prompt and the messages only (a `cachePoint`
/// in `toolConfig.tools` is "extraneous key [cachePoint] is not permitted"). Older Claude
/// models and other families refuse the request, so they get none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BedrockCachePoints {
    pub(crate) tools: bool,
    /// Whether the 1-hour TTL is taken (the Claude 4.5 models); otherwise the points are
    /// written with the default TTL.
    pub(crate) one_hour: bool,
}

pub(crate) fn bedrock_cache_points(model: &str) -> Option<BedrockCachePoints> {
    let m = model.to_ascii_lowercase();
    if m.contains("amazon.nova") {
        return Some(BedrockCachePoints {
            tools: false,
            one_hour: false,
        });
    }
    let claude = [
        "claude-3-5-haiku",
        "claude-3-7-sonnet",
        "claude-sonnet-4",
        "claude-opus-4",
        "claude-haiku-4",
    ];
    if m.contains("anthropic.") && claude.iter().any(|c| m.contains(c)) {
        let one_hour = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"]
            .iter()
            .any(|c| m.contains(c));
        return Some(BedrockCachePoints {
            tools: true,
            one_hour,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn string_content_becomes_one_text_block_with_the_marker() {
        let m = msg(r#"{"role":"user","content":"hi"}"#);
        let out = anthropic_message(&m, PromptCaching::FiveMinutes).unwrap();
        assert_eq!(
            out.get(),
            r#"{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}"#
        );
    }

    #[test]
    fn the_last_cacheable_block_gets_the_marker_and_bytes_elsewhere_are_kept() {
        let m = msg(
            r#"{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"n","input":{"b": 1.50,"a":2}},{"type":"thinking","thinking":"x","signature":"s"}]}"#,
        );
        let out = anthropic_message(&m, PromptCaching::OneHour).unwrap();
        assert_eq!(
            out.get(),
            r#"{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"n","input":{"b": 1.50,"a":2},"cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"thinking","thinking":"x","signature":"s"}]}"#
        );
    }

    #[test]
    fn no_cacheable_block_means_no_breakpoint() {
        for m in [
            r#"{"role":"user","content":""}"#,
            r#"{"role":"user","content":[{"type":"text","text":""}]}"#,
            r#"{"role":"assistant","content":[{"type":"redacted_thinking","data":"d"}]}"#,
            r#"{"role":"user"}"#,
            r#"[1]"#,
        ] {
            assert!(
                anthropic_message(&msg(m), PromptCaching::FiveMinutes).is_none(),
                "{m}"
            );
        }
    }

    #[test]
    fn an_existing_marker_is_replaced_not_repeated() {
        let m = msg(
            r#"{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral","ttl":"1h"}}]}"#,
        );
        let out = anthropic_message(&m, PromptCaching::FiveMinutes).unwrap();
        assert_eq!(out.get().matches("cache_control").count(), 1);
        assert!(out
            .get()
            .ends_with(r#""cache_control":{"type":"ephemeral"}}]}"#));
    }

    #[test]
    fn bedrock_gets_a_cache_point_block_after_the_content() {
        let m = msg(r#"{"role":"user","content":[{"text":"hi"}]}"#);
        let out = bedrock_message(&m, PromptCaching::FiveMinutes, false).unwrap();
        assert_eq!(
            out.get(),
            r#"{"role":"user","content":[{"text":"hi"},{"cachePoint":{"type":"default"}}]}"#
        );
        assert!(bedrock_message(
            &msg(r#"{"role":"user","content":[]}"#),
            PromptCaching::OneHour,
            true
        )
        .is_none());
    }

    #[test]
    fn caching_names_round_trip() {
        for c in [
            PromptCaching::Off,
            PromptCaching::FiveMinutes,
            PromptCaching::OneHour,
        ] {
            assert_eq!(c.to_string().parse::<PromptCaching>(), Ok(c));
        }
        assert!("2h"
            .parse::<PromptCaching>()
            .unwrap_err()
            .contains("off, 5m or 1h"));
    }
}
