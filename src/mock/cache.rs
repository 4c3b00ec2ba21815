//! Prompt caching as each provider does it (SPEC §9): the prompt split into units in the
//! provider's prefix order, a token estimate per unit, and the rule that decides what a
//! request reads from the cache and what it writes.
//!
//! | provider | rule | reported as |
//! |---|---|---|
//! | anthropic, bedrock | explicit: only prefixes that end at a breakpoint are written; a read is the longest written prefix ending at a breakpoint or within the 20 blocks before one | read and write apart from the uncached input |
//! | openai-chat, openai-responses, gemini | implicit: the longest prefix that some earlier request to the model held | cached tokens, inside the prompt count |
//!
//! The estimate: each unit costs ceil(bytes / 4) tokens of its canonical JSON (keys sorted,
//! every `cache_control` member left out; Bedrock `cachePoint` blocks are markers, not
//! units), so a breakpoint moving from one message to a later one leaves the prefix as it
//! was. The provider and the model seed every prefix hash: caches are per model.
//!
//! Sources, quoted beside the code that follows them:
//! - Anthropic: <https://docs.claude.com/en/docs/build-with-claude/prompt-caching>
//! - OpenAI: <https://platform.openai.com/docs/guides/prompt-caching>
//! - Gemini: <https://ai.google.dev/gemini-api/docs/caching>
//! - Bedrock: <https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html>

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde_json::{json, Value};
use tokio::time::{Duration, Instant};

use crate::provider::Provider;

/// Anthropic: "The system only checks up to 20 blocks before each explicit `cache_control`
/// breakpoint" (its example: a breakpoint on block 30 checks 30, 29, ... 11, "check #20").
const LOOKBACK: usize = 20;

/// Anthropic: "You can define up to 4 cache breakpoints in your prompt."
const MAX_BREAKPOINTS: usize = 4;

/// OpenAI: "Caching is available for prompts containing 1024 tokens or more, with cache
/// hits occurring in increments of 128 tokens."
const OPENAI_INCREMENT: u64 = 128;

/// How long a written prefix lives after its last use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ttl {
    /// `"ttl": "5m"`, the default: "By default, the cache has a 5-minute lifetime. The
    /// cache is refreshed for no additional cost each time the cached content is used."
    FiveMinutes,
    /// `"ttl": "1h"`.
    OneHour,
}

impl Ttl {
    /// The `ttl` of a `cache_control` object or a Bedrock `cachePoint`.
    fn of(marker: &Value) -> Ttl {
        if marker["ttl"] == "1h" {
            Ttl::OneHour
        } else {
            Ttl::FiveMinutes
        }
    }

    fn duration(self) -> Duration {
        match self {
            Ttl::FiveMinutes => Duration::from_secs(5 * 60),
            Ttl::OneHour => Duration::from_secs(60 * 60),
        }
    }
}

/// One unit of a prompt: a tool, a system block, a content block or a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unit {
    /// Hash of the prompt through this unit, provider and model included.
    prefix: u64,
    /// Tokens of the prompt through this unit.
    end: u64,
    /// A breakpoint ends here (Anthropic `cache_control`, Bedrock `cachePoint`).
    breakpoint: Option<Ttl>,
}

/// A request's prompt as the cache sees it.
#[derive(Debug, Clone)]
pub(crate) struct Prompt {
    provider: Provider,
    model: String,
    seed: u64,
    units: Vec<Unit>,
    /// Breakpoint markers in the request, nested ones included (they count for the limit).
    markers: usize,
}

impl Prompt {
    /// The prompt of a request `body` to `model`, in `provider`'s prefix order.
    pub(crate) fn of(provider: Provider, body: &Value, model: &str) -> Prompt {
        let mut p = Prompt {
            provider,
            model: model.to_owned(),
            seed: hash_step(hash_step(0, provider.as_str()), model),
            units: Vec::new(),
            markers: 0,
        };
        match provider {
            Provider::Anthropic => p.anthropic(body),
            Provider::Bedrock => p.bedrock(body),
            Provider::OpenAiChat => {
                // The leading system (developer) messages are the instructions, which come
                // before the tools.
                let messages = items(&body["messages"]);
                let lead = messages
                    .iter()
                    .take_while(|m| m["role"] == "system" || m["role"] == "developer")
                    .count();
                p.units_of(&messages[..lead]);
                p.whole(&body["tools"]);
                p.units_of(&messages[lead..]);
            }
            Provider::OpenAiResponses => {
                p.whole(&body["instructions"]);
                p.whole(&body["tools"]);
                match &body["input"] {
                    Value::Array(input) => p.units_of(input),
                    other => p.whole(other),
                }
            }
            Provider::Gemini => {
                p.whole(&body["systemInstruction"]);
                p.whole(&body["tools"]);
                p.units_of(items(&body["contents"]));
            }
        }
        p
    }

    /// The request as the provider checks it: Anthropic refuses a fifth breakpoint.
    ///
    /// # Errors
    ///
    /// Anthropic's message, when there are more than 4.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.provider == Provider::Anthropic && self.markers > MAX_BREAKPOINTS {
            return Err(format!(
                "A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {}.",
                self.markers
            ));
        }
        Ok(())
    }

    /// Every prompt token.
    pub(crate) fn tokens(&self) -> u64 {
        self.units.last().map_or(0, |u| u.end)
    }

    /// Anthropic: "Cache prefixes are created in the following order: `tools`, `system`,
    /// then `messages`", one unit per tool definition, system block and content block (the
    /// message's role goes with its first block). A string `system` or `content` is the one
    /// text block it stands for.
    fn anthropic(&mut self, body: &Value) {
        for tool in items(&body["tools"]) {
            self.block(None, tool);
        }
        for block in text_blocks(&body["system"]).iter() {
            self.block(None, block);
        }
        for m in items(&body["messages"]) {
            for (i, block) in text_blocks(&m["content"]).iter().enumerate() {
                self.block((i == 0).then_some(&m["role"]), block);
            }
        }
        // Automatic caching: "Add a single `cache_control` field at the top level of your
        // request. The system automatically applies the cache breakpoint to the last
        // cacheable block".
        if let Some(marker) = body.get("cache_control").filter(|c| c.is_object()) {
            self.mark(Ttl::of(marker));
        }
    }

    /// Bedrock Converse, in the order Claude reads it (tools, system, messages): each tool
    /// (`toolConfig.tools`), system block and content block is a unit, and a
    /// `{"cachePoint": {"type": "default"}}` entry is a breakpoint at the end of what
    /// precedes it (the Bedrock guide: "cache checkpoints ... at which the entire prefix of
    /// the prompt leading up to that point is cached").
    fn bedrock(&mut self, body: &Value) {
        let entries = items(&body["toolConfig"]["tools"])
            .iter()
            .chain(items(&body["system"]))
            .map(|e| (None, e));
        let blocks = items(&body["messages"]).iter().flat_map(|m| {
            let role = &m["role"];
            let first = items(&m["content"])
                .iter()
                .position(|b| b.get("cachePoint").is_none());
            items(&m["content"])
                .iter()
                .enumerate()
                .map(move |(i, b)| ((Some(i) == first).then_some(role), b))
        });
        for (role, entry) in entries.chain(blocks) {
            match entry.get("cachePoint") {
                Some(point) => self.mark(Ttl::of(point)),
                None => self.block(role, entry),
            }
        }
    }

    /// Each of `values` a unit.
    fn units_of(&mut self, values: &[Value]) {
        for v in values {
            self.whole(v);
        }
    }

    /// `v` a unit, unless it is absent.
    fn whole(&mut self, v: &Value) {
        if !v.is_null() {
            let mut text = String::new();
            canonical_into(&mut text, v);
            self.push(&text, None);
        }
    }

    /// An Anthropic or Bedrock block a unit, with the message's role when it is the
    /// message's first, and its breakpoint (its own `cache_control`, or one on a block
    /// nested in a `tool_result`).
    fn block(&mut self, role: Option<&Value>, block: &Value) {
        let nested = items(&block["content"]).iter().map(|b| &b["cache_control"]);
        let markers: Vec<&Value> = std::iter::once(&block["cache_control"])
            .chain(nested)
            .filter(|c| c.is_object())
            .collect();
        self.markers += markers.len();
        let mut text = String::new();
        if let Some(role) = role {
            canonical_into(&mut text, role);
            text.push(':');
        }
        canonical_into(&mut text, block);
        self.push(&text, markers.into_iter().map(Ttl::of).max());
    }

    fn push(&mut self, canonical: &str, breakpoint: Option<Ttl>) {
        let (prefix, end) = self
            .units
            .last()
            .map_or((self.seed, 0), |u| (u.prefix, u.end));
        self.units.push(Unit {
            prefix: hash_step(prefix, canonical),
            end: end + (canonical.len() as u64).div_ceil(4),
            breakpoint,
        });
    }

    /// A breakpoint at the end of the units so far (a marker that is not a unit itself).
    fn mark(&mut self, ttl: Ttl) {
        self.markers += 1;
        if let Some(u) = self.units.last_mut() {
            u.breakpoint = u.breakpoint.max(Some(ttl));
        }
    }
}

/// What a request's prompt cost, in the terms every provider reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PromptUsage {
    /// Every prompt token.
    pub(crate) total: u64,
    /// Tokens read from the cache.
    pub(crate) read: u64,
    /// Tokens written with a 5-minute lifetime.
    pub(crate) write_5m: u64,
    /// Tokens written with a 1-hour lifetime.
    pub(crate) write_1h: u64,
    /// The request carried breakpoints (Bedrock reports its cache fields only then).
    pub(crate) cache_points: bool,
}

impl PromptUsage {
    /// A prompt of `total` tokens, nothing read or written.
    pub(crate) fn uncached(total: u64) -> Self {
        PromptUsage {
            total,
            ..PromptUsage::default()
        }
    }

    /// Tokens written (Anthropic `cache_creation_input_tokens`).
    pub(crate) fn write(&self) -> u64 {
        self.write_5m + self.write_1h
    }

    /// Tokens neither read nor written (Anthropic `input_tokens`).
    pub(crate) fn rest(&self) -> u64 {
        self.total - self.read - self.write()
    }
}

/// What the server remembers of earlier prompts.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// Prefixes written at breakpoints (Anthropic, Bedrock): when each expires.
    written: HashMap<u64, Entry>,
    /// Every prefix of every earlier prompt (OpenAI, Gemini).
    seen: HashSet<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    expires: Instant,
    ttl: Ttl,
}

impl Cache {
    /// Serves `prompt` at `now`: what it reads, what it writes. With `minimums`, a prefix
    /// shorter than the model's documented minimum is neither written nor read, and OpenAI
    /// counts cached tokens in increments of 128.
    pub(crate) fn serve(&mut self, prompt: &Prompt, minimums: bool, now: Instant) -> PromptUsage {
        let minimum = if minimums {
            minimum(prompt.provider, &prompt.model)
        } else {
            0
        };
        match prompt.provider {
            Provider::Anthropic | Provider::Bedrock => self.explicit(prompt, minimum, now),
            Provider::OpenAiChat | Provider::OpenAiResponses if minimums => {
                let mut usage = self.implicit(prompt, minimum);
                usage.read -= usage.read % OPENAI_INCREMENT;
                usage
            }
            _ => self.implicit(prompt, minimum),
        }
    }

    /// Anthropic: "When you explicitly cache a block with `cache_control`, the cache hash key
    /// is generated by hashing all previous blocks"; "The system checks for cache hits by
    /// working backwards from your explicit breakpoint, checking each previous block in
    /// reverse order" within the lookback window. Billing ("Mixing different TTLs"): A is
    /// the highest cache hit, B the highest 1-hour breakpoint after A, C the last
    /// breakpoint; "Cache read tokens for A. 1-hour cache write tokens for (B - A). 5-minute
    /// cache write tokens for (C - B)."
    fn explicit(&mut self, prompt: &Prompt, minimum: u64, now: Instant) -> PromptUsage {
        self.written.retain(|_, e| e.expires > now);
        let units = &prompt.units;
        let breakpoints: Vec<usize> = (0..units.len())
            .filter(|&i| units[i].breakpoint.is_some())
            .collect();
        // "Shorter prompts cannot be cached, even if marked with `cache_control`."
        let cached =
            |i: usize| units[i].end >= minimum && self.written.contains_key(&units[i].prefix);
        let hit = breakpoints
            .iter()
            .filter_map(|&b| {
                (b.saturating_sub(LOOKBACK - 1)..=b)
                    .rev()
                    .find(|&i| cached(i))
            })
            .max();
        let read = hit.map_or(0, |i| units[i].end);
        // "The cache is refreshed for no additional cost each time the cached content is
        // used."
        for u in &units[..hit.map_or(0, |h| h + 1)] {
            if let Some(e) = self.written.get_mut(&u.prefix) {
                e.expires = e.expires.max(now + e.ttl.duration());
            }
        }
        let (mut b, mut c) = (read, read);
        for &i in breakpoints.iter().filter(|&&i| hit.is_none_or(|h| i > h)) {
            let (unit, ttl) = (units[i], units[i].breakpoint.unwrap_or(Ttl::FiveMinutes));
            if unit.end < minimum {
                continue;
            }
            let e = self
                .written
                .entry(unit.prefix)
                .or_insert(Entry { expires: now, ttl });
            e.ttl = e.ttl.max(ttl);
            e.expires = e.expires.max(now + ttl.duration());
            c = unit.end;
            if ttl == Ttl::OneHour {
                b = unit.end;
            }
        }
        PromptUsage {
            total: prompt.tokens(),
            read,
            write_1h: b - read,
            write_5m: c - b,
            cache_points: prompt.markers > 0,
        }
    }

    /// OpenAI: "Cache hits are only possible for exact prefix matches within a prompt";
    /// Gemini: "Implicit caching is enabled by default ... We automatically pass on cost
    /// savings if your request hits caches." Every prefix of every request is remembered.
    fn implicit(&mut self, prompt: &Prompt, minimum: u64) -> PromptUsage {
        let units = &prompt.units;
        let cacheable = |u: &&Unit| u.end >= minimum;
        let read = units
            .iter()
            .rev()
            .filter(cacheable)
            .find(|u| self.seen.contains(&u.prefix))
            .map_or(0, |u| u.end);
        self.seen
            .extend(units.iter().filter(cacheable).map(|u| u.prefix));
        PromptUsage {
            total: prompt.tokens(),
            read,
            ..PromptUsage::default()
        }
    }
}

/// The documented minimum cacheable prompt length of `model`.
fn minimum(provider: Provider, model: &str) -> u64 {
    let m = model.to_ascii_lowercase();
    let any = |names: &[&str]| names.iter().any(|n| m.contains(n));
    match provider {
        // Anthropic, "Cache limitations": "4096 tokens for Claude Opus 4.5 ... 1024 tokens
        // for Claude Opus 4.1, Claude Opus 4, Claude Sonnet 4.5, Claude Sonnet 4, and
        // Claude Sonnet 3.7 ... 4096 tokens for Claude Haiku 4.5 ... 2048 tokens for Claude
        // Haiku 3.5 and Claude Haiku 3" (later versions add Opus 4.6 to the 4096 list).
        // Bedrock model ids name the same models.
        Provider::Anthropic | Provider::Bedrock => {
            if any(&["opus-4-5", "opus-4-6", "haiku-4-5"]) {
                4096
            } else if any(&["3-haiku", "3-5-haiku", "haiku-3"]) {
                2048
            } else {
                1024
            }
        }
        // Gemini ("Min token limit"): Gemini 2.5 Flash and 2.5 Pro 2,048; Gemini 3 and
        // later 4,096. Another name gets the smallest.
        Provider::Gemini => {
            if m.contains("gemini-") && !m.contains("gemini-2") && !m.contains("gemini-1") {
                4096
            } else {
                2048
            }
        }
        // OpenAI: "Caching is available for prompts containing 1024 tokens or more".
        _ => 1024,
    }
}

/// The part of a request before its messages, as the cache sees it: the model, the
/// system prompt and the tools.
pub(super) fn canonical_header(provider: Provider, body: &Value, model: &str) -> String {
    let mut out = format!("{model}\n");
    let system = match provider {
        Provider::Anthropic => Value::Array(text_blocks(&body["system"]).into_owned()),
        Provider::Bedrock => without_points(&body["system"]),
        Provider::OpenAiResponses => body["instructions"].clone(),
        Provider::Gemini => body["systemInstruction"].clone(),
        Provider::OpenAiChat => Value::Null,
    };
    canonical_into(&mut out, &system);
    out.push('\n');
    match provider {
        Provider::Bedrock => {
            canonical_into(&mut out, &without_points(&body["toolConfig"]["tools"]))
        }
        _ => canonical_into(&mut out, &body["tools"]),
    }
    out
}

/// A message as the cache sees it: breakpoints left out, Anthropic string content as the
/// text block it stands for.
pub(super) fn canonical_message(provider: Provider, m: &Value) -> String {
    let mut out = String::new();
    match provider {
        // A message that is not an object (refused by the real APIs) is hashed as it is.
        Provider::Anthropic if m.is_object() => {
            let mut m = m.clone();
            m["content"] = Value::Array(text_blocks(&m["content"]).into_owned());
            canonical_into(&mut out, &m);
        }
        Provider::Bedrock if m.is_object() => {
            let mut m = m.clone();
            m["content"] = without_points(&m["content"]);
            canonical_into(&mut out, &m);
        }
        _ => canonical_into(&mut out, m),
    }
    out
}

/// `v` as JSON with object keys sorted and every `cache_control` member left out.
fn canonical_into(out: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| *k != "cache_control").collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                canonical_into(out, &map[k]);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_into(out, x);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The blocks an Anthropic `system` or `content` stands for: a string is one text block.
fn text_blocks(v: &Value) -> Cow<'_, [Value]> {
    match v {
        Value::String(s) => Cow::Owned(vec![json!({"type": "text", "text": s})]),
        other => Cow::Borrowed(items(other)),
    }
}

/// A Bedrock list without its `cachePoint` entries.
fn without_points(v: &Value) -> Value {
    match v {
        Value::Array(a) => a
            .iter()
            .filter(|e| e.get("cachePoint").is_none())
            .cloned()
            .collect(),
        other => other.clone(),
    }
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

pub(super) fn hash_step(prev: u64, bytes: &str) -> u64 {
    let mut h = DefaultHasher::new();
    prev.hash(&mut h);
    bytes.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests;
