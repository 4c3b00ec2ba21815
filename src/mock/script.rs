//! The scripted conversation a mock server plays (its wire encoding per provider is in
//! `encode.rs`).
//!
//! Script file format (JSON):
//!
//! ```json
//! {
//!   "model": "mock-1",
//!   "chunk_chars": 12,
//!   "chunk_delay_ms": 15,
//!   "turns": [
//!     {"text": "Let me look.", "tool_calls": [
//!        {"name": "get_weather", "input": {"city": "Paris"}},
//!        {"name": "get_time", "input": {"tz": "Europe/Paris"}}]},
//!     {"text": "Sunny, 21°C, and it is noon."}
//!   ]
//! }
//! ```
//!
//! Turn `k` answers the request whose history holds `k` assistant messages. Text and tool
//! arguments are streamed in pieces of `chunk_chars` characters, one SSE event each, with
//! `chunk_delay_ms` between events. Call ids are deterministic: `toolu_mock_<turn>_<i>`
//! (Anthropic), `tooluse_mock_<turn>_<i>` (Bedrock) and `call_mock_<turn>_<i>` (OpenAI);
//! Gemini calls carry none.
//!
//! With `"reasoning": {"redacted_turns": [1]}` every turn streams reasoning state before
//! its answer, and the server refuses a next request that lost it (see `reasoning.rs`).
//!
//! With `"faults": [{"kind": "rate_limit", "request": 1, "retry_after": 2}]` the server
//! answers chosen requests as a failing provider does (see `fault.rs`).
//!
//! With `"cache_minimums": true` the prompt cache applies each provider's documented
//! minimum cacheable length (see `cache.rs`); by default any prefix can be cached, so a
//! short conversation shows the mechanism.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::fault::Fault;
use crate::provider::Provider;

/// A scripted conversation.
#[derive(Debug, Clone, Deserialize)]
pub struct Script {
    /// The model name reported in the stream.
    #[serde(default = "default_model")]
    pub model: String,
    /// Characters per streamed piece of text or arguments (default 12).
    #[serde(default = "default_chunk_chars")]
    pub chunk_chars: usize,
    /// Milliseconds between streamed events (default 15).
    #[serde(default = "default_delay")]
    pub chunk_delay_ms: u64,
    /// The model's turns, in order.
    pub turns: Vec<ScriptTurn>,
    /// Reasoning streamed with every turn, and required back in the history as the real
    /// APIs require it (default: none; the turns stream no reasoning and nothing is
    /// checked).
    #[serde(default)]
    pub reasoning: Option<ScriptReasoning>,
    /// Whether the prompt cache applies the providers' documented minimum cacheable
    /// lengths (Anthropic 1024 to 4096 tokens by model, OpenAI 1024 with cached counts in
    /// increments of 128, Gemini 2048 or 4096 by model): a shorter prefix is neither
    /// written nor read (default false: any prefix is cached).
    #[serde(default)]
    pub cache_minimums: bool,
    /// Faults injected into chosen requests (default none): 429, overload, 500, an error
    /// event, a stall or a cut connection (see [`Fault`]).
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// The reasoning a script's turns stream, each in its provider's format (SPEC §6, "What
/// goes back"): Anthropic a `thinking` block with its signature, Responses a `reasoning`
/// item with `encrypted_content`, OpenAI Chat DeepSeek's `reasoning_content`, Gemini a
/// thought part and a `thoughtSignature` on the first `functionCall` part.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScriptReasoning {
    /// Turns (numbered from 0) whose Anthropic answer also carries a `redacted_thinking`
    /// block after its thinking block (default: none).
    #[serde(default)]
    pub redacted_turns: Vec<usize>,
}

fn default_model() -> String {
    "mock-1".into()
}

fn default_chunk_chars() -> usize {
    12
}

fn default_delay() -> u64 {
    15
}

/// One model turn of a script.
#[derive(Debug, Clone, Deserialize)]
pub struct ScriptTurn {
    /// Text streamed before the tool calls.
    #[serde(default)]
    pub text: String,
    /// Tool calls, in request order; none ends the conversation.
    #[serde(default)]
    pub tool_calls: Vec<ScriptCall>,
}

/// One scripted tool call.
#[derive(Debug, Clone, Deserialize)]
pub struct ScriptCall {
    /// The tool's name.
    pub name: String,
    /// Its arguments, streamed exactly as written.
    pub input: Box<RawValue>,
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    /// An empty script with the defaults (model `mock-1`, 12 characters per piece, 15 ms
    /// between events); add its turns with [`then_calls`](Self::then_calls) and
    /// [`then_answer`](Self::then_answer).
    ///
    /// ```
    /// use serde_json::json;
    /// use toolstream::mock::Script;
    ///
    /// let script = Script::new()
    ///     .then_calls("Let me check.", [("get_weather", json!({"city": "Paris"}))])
    ///     .then_answer("Sunny in Paris.");
    /// assert_eq!(script.turns.len(), 2);
    /// ```
    pub fn new() -> Script {
        Script {
            model: default_model(),
            chunk_chars: default_chunk_chars(),
            chunk_delay_ms: default_delay(),
            turns: Vec::new(),
            reasoning: None,
            cache_minimums: false,
            faults: Vec::new(),
        }
    }

    /// Adds a turn that streams `text`, then calls the tools `calls` (name, arguments), in
    /// this order.
    pub fn then_calls<N: Into<String>>(
        mut self,
        text: impl Into<String>,
        calls: impl IntoIterator<Item = (N, serde_json::Value)>,
    ) -> Script {
        let tool_calls = calls
            .into_iter()
            .map(|(name, input)| ScriptCall {
                name: name.into(),
                input: serde_json::value::to_raw_value(&input)
                    .expect("a serde_json::Value always serializes"),
            })
            .collect();
        self.turns.push(ScriptTurn {
            text: text.into(),
            tool_calls,
        });
        self
    }

    /// Adds a turn that answers with `text` and calls no tool (it ends the conversation).
    pub fn then_answer(mut self, text: impl Into<String>) -> Script {
        self.turns.push(ScriptTurn {
            text: text.into(),
            tool_calls: Vec::new(),
        });
        self
    }

    /// The script `toolstream serve` and `toolstream demo` play by default: a weather
    /// question answered with three tools of different durations, then a follow-up call,
    /// then the answer.
    pub fn default_demo() -> Script {
        serde_json::from_str(DEMO_SCRIPT).expect("the embedded script is valid")
    }

    /// [`Script::default_demo`] with reasoning on: every turn reasons before it answers,
    /// and the second turn's Anthropic answer also carries a `redacted_thinking` block.
    pub fn reasoning_demo() -> Script {
        Script {
            reasoning: Some(ScriptReasoning {
                redacted_turns: vec![1],
            }),
            ..Script::default_demo()
        }
    }

    /// The call id of call `i` of turn `turn` for `provider` (`None` for Gemini).
    pub fn call_id(provider: Provider, turn: usize, i: usize) -> Option<String> {
        match provider {
            Provider::Anthropic => Some(format!("toolu_mock_{turn}_{i}")),
            Provider::Gemini => None,
            // Bedrock's own ids look like `tooluse_kZJMlvQmRJ6eAyJE5GIl7Q`.
            Provider::Bedrock => Some(format!("tooluse_mock_{turn}_{i}")),
            _ => Some(format!("call_mock_{turn}_{i}")),
        }
    }

    /// The turn answering a history with `assistant_turns` assistant messages.
    pub fn turn(&self, assistant_turns: usize) -> ScriptTurn {
        self.turns
            .get(assistant_turns)
            .cloned()
            .unwrap_or_else(|| ScriptTurn {
                text: "(the script has no more turns)".into(),
                tool_calls: Vec::new(),
            })
    }
}

const DEMO_SCRIPT: &str = r#"{
  "model": "mock-1",
  "chunk_chars": 10,
  "chunk_delay_ms": 20,
  "turns": [
    {"text": "I'll check the weather in three cities and the local time at once.",
     "tool_calls": [
       {"name": "get_weather", "input": {"city": "Paris", "unit": "celsius"}},
       {"name": "get_weather", "input": {"city": "Tokyo", "unit": "celsius"}},
       {"name": "get_time", "input": {"timezone": "Asia/Tokyo"}},
       {"name": "search", "input": {"query": "umbrella advice for light rain", "limit": 3}}
     ]},
    {"text": "Tokyo looks rainy; let me check tomorrow's forecast there.",
     "tool_calls": [
       {"name": "get_forecast", "input": {"city": "Tokyo", "days": 1}},
       {"name": "get_weather", "input": {"city": "Osaka", "unit": "celsius"}}
     ]},
    {"text": "Paris is sunny at 21°C. Tokyo is 17°C with light rain easing by tomorrow, and Osaka is dry. Take an umbrella in Tokyo this evening."}
  ]
}"#;

/// Splits `s` into pieces of at most `n` characters (never inside a character).
pub(super) fn pieces(s: &str, n: usize) -> Vec<&str> {
    let n = n.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, _) in s.char_indices() {
        if count == n {
            out.push(&s[start..i]);
            start = i;
            count = 0;
        }
        count += 1;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `s` as a JSON string.
pub(super) fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_never_split_a_character() {
        assert_eq!(pieces("aé€b", 2), ["aé", "€b"]);
        assert_eq!(pieces("", 3), Vec::<&str>::new());
        assert_eq!(pieces("abc", 0), ["a", "b", "c"]);
    }
}
