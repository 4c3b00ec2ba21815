//! The scripted conversation a mock server plays, and its wire encoding per provider.
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
//! (Anthropic) and `call_mock_<turn>_<i>` (OpenAI); Gemini calls carry none.
//!
//! With `"reasoning": {"redacted_turns": [1]}` every turn streams reasoning state before
//! its answer, and the server refuses a next request that lost it (see `reasoning.rs`).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::reasoning::TurnReasoning;
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

impl Script {
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

/// One SSE event to send: its `event:` name (if any) and its `data`.
pub(crate) type WireEvent = (Option<&'static str>, String);

/// `s` as a JSON string.
pub(super) fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// The SSE events answering with `turn` (number `k`) in `provider`'s wire format.
pub(crate) fn encode(
    provider: Provider,
    script: &Script,
    k: usize,
    turn: &ScriptTurn,
) -> Vec<WireEvent> {
    let n = script.chunk_chars;
    let text = pieces(&turn.text, n);
    let calls = &turn.tool_calls;
    let tool_use = !calls.is_empty();
    let reasoning = script
        .reasoning
        .as_ref()
        .map(|r| TurnReasoning::of(r, k, turn));
    let thought_tokens = reasoning.as_ref().map_or(0, TurnReasoning::tokens);
    // Every generated token, reasoning included (Gemini reports thoughts apart).
    let answer_tokens = (turn.text.len() / 4 + 20 * calls.len()) as u64;
    let out_tokens = answer_tokens + thought_tokens;
    let mut ev: Vec<WireEvent> = Vec::new();
    let data = |ev: &mut Vec<WireEvent>, name: Option<&'static str>, v: Value| {
        ev.push((name, v.to_string()))
    };
    match provider {
        // Key order as the API writes it (the decoders do not care; fast paths and byte
        // comparisons do).
        Provider::Anthropic => {
            let mut raw = |name: &'static str, v: String| ev.push((Some(name), v));
            raw(
                "message_start",
                format!(
                    r#"{{"type":"message_start","message":{{"id":"msg_mock_{k}","type":"message","role":"assistant","model":{},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":{},"output_tokens":1}}}}}}"#,
                    q(&script.model),
                    100 + 50 * k
                ),
            );
            let mut index = 0;
            if let Some(r) = &reasoning {
                let (blocks, count) = r.anthropic(n);
                for (name, data) in blocks {
                    raw(name, data);
                }
                index = count;
            }
            if !text.is_empty() {
                raw(
                    "content_block_start",
                    format!(
                        r#"{{"type":"content_block_start","index":{index},"content_block":{{"type":"text","text":""}}}}"#
                    ),
                );
                for t in &text {
                    raw(
                        "content_block_delta",
                        format!(
                            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"text_delta","text":{}}}}}"#,
                            q(t)
                        ),
                    );
                }
                raw(
                    "content_block_stop",
                    format!(r#"{{"type":"content_block_stop","index":{index}}}"#),
                );
                index += 1;
            }
            for (i, c) in calls.iter().enumerate() {
                let id = Script::call_id(provider, k, i).unwrap_or_default();
                raw(
                    "content_block_start",
                    format!(
                        r#"{{"type":"content_block_start","index":{index},"content_block":{{"type":"tool_use","id":{},"name":{},"input":{{}}}}}}"#,
                        q(&id),
                        q(&c.name)
                    ),
                );
                for a in std::iter::once("").chain(pieces(c.input.get(), n)) {
                    raw(
                        "content_block_delta",
                        format!(
                            r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"input_json_delta","partial_json":{}}}}}"#,
                            q(a)
                        ),
                    );
                }
                raw(
                    "content_block_stop",
                    format!(r#"{{"type":"content_block_stop","index":{index}}}"#),
                );
                index += 1;
            }
            let stop = if tool_use { "tool_use" } else { "end_turn" };
            raw(
                "message_delta",
                format!(
                    r#"{{"type":"message_delta","delta":{{"stop_reason":"{stop}","stop_sequence":null}},"usage":{{"output_tokens":{out_tokens}}}}}"#
                ),
            );
            raw("message_stop", r#"{"type":"message_stop"}"#.to_owned());
        }
        // Key order as the API writes it (tests/fixtures/openai-chat): every chunk repeats
        // the same head, then one choice, `delta` before `logprobs` and `finish_reason`.
        Provider::OpenAiChat => {
            let head = format!(
                r#"{{"id":"chatcmpl-mock-{k}","object":"chat.completion.chunk","created":{},"model":{},"system_fingerprint":"fp_mock","choices":"#,
                1_700_000_000 + k,
                q(&script.model)
            );
            let mut chunk = |delta: String, finish: &str| {
                ev.push((
                    None,
                    format!(
                        r#"{head}[{{"index":0,"delta":{{{delta}}},"logprobs":null,"finish_reason":{finish}}}]}}"#
                    ),
                ));
            };
            // The first chunk: the role, and `content` "" for a text answer, null for calls
            // alone.
            let content = if text.is_empty() { "null" } else { r#""""# };
            chunk(
                format!(r#""role":"assistant","content":{content},"refusal":null"#),
                "null",
            );
            for delta in reasoning.iter().flat_map(|r| r.chat_deltas(n)) {
                chunk(delta, "null");
            }
            for t in &text {
                chunk(format!(r#""content":{}"#, q(t)), "null");
            }
            for (i, c) in calls.iter().enumerate() {
                let id = Script::call_id(provider, k, i).unwrap_or_default();
                chunk(
                    format!(
                        r#""tool_calls":[{{"index":{i},"id":{},"type":"function","function":{{"name":{},"arguments":""}}}}]"#,
                        q(&id),
                        q(&c.name)
                    ),
                    "null",
                );
                for a in pieces(c.input.get(), n) {
                    chunk(
                        format!(
                            r#""tool_calls":[{{"index":{i},"function":{{"arguments":{}}}}}]"#,
                            q(a)
                        ),
                        "null",
                    );
                }
            }
            let finish = if tool_use { "tool_calls" } else { "stop" };
            chunk(String::new(), &format!(r#""{finish}""#));
            let prompt = 100 + 50 * k as u64;
            ev.push((
                None,
                format!(
                    r#"{head}[],"usage":{{"prompt_tokens":{prompt},"completion_tokens":{out_tokens},"total_tokens":{},"completion_tokens_details":{{"reasoning_tokens":{thought_tokens}}}}}}}"#,
                    prompt + out_tokens
                ),
            ));
            ev.push((None, "[DONE]".into()));
        }
        Provider::OpenAiResponses => {
            let rid = format!("resp_mock_{k}");
            data(
                &mut ev,
                Some("response.created"),
                json!({"type": "response.created", "response": {"id": rid, "status": "in_progress", "model": script.model, "output": []}}),
            );
            let mut output = 0;
            if let Some(r) = &reasoning {
                for (name, v) in r.responses(n) {
                    data(&mut ev, Some(name), v);
                }
                output = 1;
            }
            if !text.is_empty() {
                let item = format!("msg_mock_{k}");
                data(
                    &mut ev,
                    Some("response.output_item.added"),
                    json!({"type": "response.output_item.added", "output_index": output, "item": {"id": item, "type": "message", "role": "assistant", "content": []}}),
                );
                data(
                    &mut ev,
                    Some("response.content_part.added"),
                    json!({"type": "response.content_part.added", "item_id": item, "output_index": output, "content_index": 0, "part": {"type": "output_text", "text": ""}}),
                );
                for t in &text {
                    // The hot events in the API's key order, with its sequence numbers.
                    let seq = ev.len();
                    ev.push((
                        Some("response.output_text.delta"),
                        format!(
                            r#"{{"type":"response.output_text.delta","sequence_number":{seq},"item_id":{},"output_index":{output},"content_index":0,"delta":{},"logprobs":[]}}"#,
                            q(&item),
                            q(t)
                        ),
                    ));
                }
                data(
                    &mut ev,
                    Some("response.content_part.done"),
                    json!({"type": "response.content_part.done", "item_id": item, "output_index": output, "content_index": 0}),
                );
                data(
                    &mut ev,
                    Some("response.output_item.done"),
                    json!({"type": "response.output_item.done", "output_index": output, "item": {"id": item, "type": "message"}}),
                );
                output += 1;
            }
            for (i, c) in calls.iter().enumerate() {
                let call_id = Script::call_id(provider, k, i);
                let item = format!("fc_mock_{k}_{i}");
                data(
                    &mut ev,
                    Some("response.output_item.added"),
                    json!({"type": "response.output_item.added", "output_index": output, "item": {"id": item, "type": "function_call", "call_id": call_id, "name": c.name, "arguments": ""}}),
                );
                for a in pieces(c.input.get(), n) {
                    let seq = ev.len();
                    ev.push((
                        Some("response.function_call_arguments.delta"),
                        format!(
                            r#"{{"type":"response.function_call_arguments.delta","sequence_number":{seq},"item_id":{},"output_index":{output},"delta":{}}}"#,
                            q(&item),
                            q(a)
                        ),
                    ));
                }
                data(
                    &mut ev,
                    Some("response.function_call_arguments.done"),
                    json!({"type": "response.function_call_arguments.done", "item_id": item, "output_index": output, "arguments": c.input.get()}),
                );
                data(
                    &mut ev,
                    Some("response.output_item.done"),
                    json!({"type": "response.output_item.done", "output_index": output, "item": {"id": item, "type": "function_call", "call_id": call_id, "name": c.name, "arguments": c.input.get()}}),
                );
                output += 1;
            }
            data(
                &mut ev,
                Some("response.completed"),
                json!({"type": "response.completed", "response": {"id": rid, "status": "completed", "model": script.model, "usage": {"input_tokens": 100 + 50 * k, "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": thought_tokens}}}}),
            );
        }
        Provider::Gemini => {
            // Text chunks as Google writes them (a space after each colon, none after
            // commas, the prompt's usage on every chunk).
            let prompt = 100 + 50 * k;
            for t in reasoning.iter().flat_map(|r| r.gemini_thoughts(n)) {
                ev.push((
                    None,
                    format!(
                        r#"{{"candidates": [{{"content": {{"parts": [{{"text": {},"thought": true}}],"role": "model"}},"index": 0}}],"usageMetadata": {{"promptTokenCount": {prompt},"totalTokenCount": {prompt},"promptTokensDetails": [{{"modality": "TEXT","tokenCount": {prompt}}}]}},"modelVersion": {}}}"#,
                        q(t),
                        q(&script.model)
                    ),
                ));
            }
            for t in &text {
                ev.push((
                    None,
                    format!(
                        r#"{{"candidates": [{{"content": {{"parts": [{{"text": {}}}],"role": "model"}},"index": 0}}],"usageMetadata": {{"promptTokenCount": {prompt},"totalTokenCount": {prompt},"promptTokensDetails": [{{"modality": "TEXT","tokenCount": {prompt}}}]}},"modelVersion": {}}}"#,
                        q(t),
                        q(&script.model)
                    ),
                ));
            }
            let parts: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let args: Value = serde_json::from_str(c.input.get()).unwrap_or(Value::Null);
                    let mut part = json!({"functionCall": {"name": c.name, "args": args}});
                    if let (0, Some(r)) = (i, &reasoning) {
                        part["thoughtSignature"] = json!(r.gemini_signature());
                    }
                    part
                })
                .collect();
            let mut last = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 100 + 50 * k, "candidatesTokenCount": answer_tokens}, "modelVersion": script.model});
            if reasoning.is_some() {
                last["usageMetadata"]["thoughtsTokenCount"] = json!(thought_tokens);
            }
            if calls.is_empty() {
                last["candidates"][0]["content"]["parts"] = json!([]);
            }
            data(&mut ev, None, last);
        }
        Provider::Bedrock => {}
    }
    ev
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

    #[test]
    fn every_encoding_assembles_back_to_the_script() {
        for script in [Script::default_demo(), Script::reasoning_demo()] {
            assembles_back(&script);
        }
    }

    /// The reasoning streamed with a turn is reasoning, never answer text or a call.
    fn assembles_back(script: &Script) {
        for provider in [
            Provider::Anthropic,
            Provider::OpenAiChat,
            Provider::OpenAiResponses,
            Provider::Gemini,
        ] {
            for k in 0..script.turns.len() {
                let turn = script.turn(k);
                let body: String = encode(provider, script, k, &turn)
                    .into_iter()
                    .map(|(name, data)| match name {
                        Some(n) => format!("event: {n}\ndata: {data}\n\n"),
                        None => format!("data: {data}\n\n"),
                    })
                    .collect();
                let mut d = crate::StreamDecoder::new(provider);
                let mut events = Vec::new();
                d.push(body.as_bytes(), &mut events).unwrap();
                d.finish(&mut events).unwrap();
                let mut a = crate::Assembler::new();
                for e in &events {
                    a.push(e).unwrap();
                }
                let m = a.finish();
                assert!(m.complete, "{provider} turn {k}");
                assert_eq!(m.text(), turn.text, "{provider} turn {k}");
                let calls: Vec<(&str, Value)> = m
                    .tool_calls
                    .iter()
                    .map(|c| (&*c.name, c.input.clone().unwrap()))
                    .collect();
                let want: Vec<(&str, Value)> = turn
                    .tool_calls
                    .iter()
                    .map(|c| {
                        (
                            c.name.as_str(),
                            serde_json::from_str(c.input.get()).unwrap(),
                        )
                    })
                    .collect();
                assert_eq!(calls, want, "{provider} turn {k}");
                let tool_use = m.stop_kind() == Some(crate::StopKind::ToolUse);
                assert_eq!(tool_use, !turn.tool_calls.is_empty(), "{provider} turn {k}");
                let thinking = events.iter().any(|e| {
                    matches!(
                        e,
                        crate::StreamEvent::BlockStart {
                            block: crate::Block::Thinking,
                            ..
                        }
                    )
                });
                assert_eq!(thinking, script.reasoning.is_some(), "{provider} turn {k}");
            }
        }
    }
}
