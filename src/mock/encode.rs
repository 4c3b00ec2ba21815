//! The wire encoding of a script's turns per provider: the events the server streams (SSE
//! events; for Bedrock the `:event-type` and JSON payload of each event-stream message,
//! `bedrock.rs`), in each API's key order, with the prompt's usage as the cache computed
//! it. `frame.rs` puts them on the wire.

mod bedrock;
mod frame;

pub(crate) use frame::{event_stream_event, event_stream_exception, sse_frame};

use serde_json::{json, Value};

use super::cache::PromptUsage;
use super::reasoning::TurnReasoning;
use super::script::{pieces, q, Script, ScriptTurn};
use crate::provider::Provider;

/// One event to send: its `event:` name (if any) and its `data`; for Bedrock its
/// `:event-type` and JSON payload.
pub(crate) type WireEvent = (Option<&'static str>, String);

/// The events answering with `turn` (number `k`) in `provider`'s wire format, with
/// `usage` the prompt's usage.
pub(crate) fn encode(
    provider: Provider,
    script: &Script,
    k: usize,
    turn: &ScriptTurn,
    usage: &PromptUsage,
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
    match provider {
        // Key order as the API writes it (the decoders do not care; fast paths and byte
        // comparisons do).
        Provider::Anthropic => {
            let mut raw = |name: &'static str, v: String| ev.push((Some(name), v));
            raw(
                "message_start",
                format!(
                    r#"{{"type":"message_start","message":{{"id":"msg_mock_{k}","type":"message","role":"assistant","model":{},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{}}}}}"#,
                    q(&script.model),
                    anthropic_start_usage(usage)
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
                    r#"{{"type":"message_delta","delta":{{"stop_reason":"{stop}","stop_sequence":null}},"usage":{}}}"#,
                    anthropic_delta_usage(usage, out_tokens)
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
            ev.push((
                None,
                format!(
                    r#"{head}[],"usage":{}}}"#,
                    chat_usage(usage, out_tokens, thought_tokens)
                ),
            ));
            ev.push((None, "[DONE]".into()));
        }
        Provider::OpenAiResponses => {
            // Every field the official SDKs read (openai-python builds `output_text` and the
            // next request's items from them; the Vercel AI SDK validates them with zod):
            // `object`, `created_at`, items' `status`, the message's `role` and `content`,
            // `output_text.done`, and the whole `output` again on `response.completed`.
            let rid = format!("resp_mock_{k}");
            let mut done_items: Vec<Value> = Vec::new();
            // Each event carries its `sequence_number`, its position in the stream.
            let event = |ev: &mut Vec<WireEvent>, name: &'static str, mut v: Value| {
                v["sequence_number"] = json!(ev.len());
                ev.push((Some(name), v.to_string()));
            };
            let response = |status: &str, output: &[Value]| {
                json!({"id": rid, "object": "response", "created_at": CREATED_AT, "status": status,
                       "model": script.model, "output": output})
            };
            event(
                &mut ev,
                "response.created",
                json!({"type": "response.created", "response": response("in_progress", &[])}),
            );
            event(
                &mut ev,
                "response.in_progress",
                json!({"type": "response.in_progress", "response": response("in_progress", &[])}),
            );
            let mut output = 0;
            if let Some(r) = &reasoning {
                for (name, v) in r.responses(n) {
                    if name == "response.output_item.done" {
                        done_items.push(v["item"].clone());
                    }
                    event(&mut ev, name, v);
                }
                output = 1;
            }
            if !text.is_empty() {
                let item = format!("msg_mock_{k}");
                let full = &turn.text;
                let part =
                    |text: &str| json!({"type": "output_text", "text": text, "annotations": []});
                event(
                    &mut ev,
                    "response.output_item.added",
                    json!({"type": "response.output_item.added", "output_index": output, "item": {"id": item, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
                );
                event(
                    &mut ev,
                    "response.content_part.added",
                    json!({"type": "response.content_part.added", "item_id": item, "output_index": output, "content_index": 0, "part": part("")}),
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
                event(
                    &mut ev,
                    "response.output_text.done",
                    json!({"type": "response.output_text.done", "item_id": item, "output_index": output, "content_index": 0, "text": full, "logprobs": []}),
                );
                event(
                    &mut ev,
                    "response.content_part.done",
                    json!({"type": "response.content_part.done", "item_id": item, "output_index": output, "content_index": 0, "part": part(full)}),
                );
                let done = json!({"id": item, "type": "message", "status": "completed", "role": "assistant", "content": [part(full)]});
                event(
                    &mut ev,
                    "response.output_item.done",
                    json!({"type": "response.output_item.done", "output_index": output, "item": done}),
                );
                done_items.push(done);
                output += 1;
            }
            for (i, c) in calls.iter().enumerate() {
                let call_id = Script::call_id(provider, k, i);
                let item = format!("fc_mock_{k}_{i}");
                event(
                    &mut ev,
                    "response.output_item.added",
                    json!({"type": "response.output_item.added", "output_index": output, "item": {"id": item, "type": "function_call", "status": "in_progress", "call_id": call_id, "name": c.name, "arguments": ""}}),
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
                event(
                    &mut ev,
                    "response.function_call_arguments.done",
                    json!({"type": "response.function_call_arguments.done", "item_id": item, "output_index": output, "arguments": c.input.get()}),
                );
                let done = json!({"id": item, "type": "function_call", "status": "completed", "call_id": call_id, "name": c.name, "arguments": c.input.get()});
                event(
                    &mut ev,
                    "response.output_item.done",
                    json!({"type": "response.output_item.done", "output_index": output, "item": done}),
                );
                done_items.push(done);
                output += 1;
            }
            // `usage` in the API's key order: "input_tokens", "input_tokens_details" (with
            // "cached_tokens"), "output_tokens", "output_tokens_details", "total_tokens".
            let usage = format!(
                r#"{{"input_tokens":{},"input_tokens_details":{{"cached_tokens":{}}},"output_tokens":{out_tokens},"output_tokens_details":{{"reasoning_tokens":{thought_tokens}}},"total_tokens":{}}}"#,
                usage.total,
                usage.read,
                usage.total + out_tokens
            );
            let seq = ev.len();
            ev.push((
                Some("response.completed"),
                format!(
                    r#"{{"type":"response.completed","sequence_number":{seq},"response":{{"id":{},"object":"response","created_at":{CREATED_AT},"status":"completed","model":{},"output":{},"usage":{usage}}}}}"#,
                    q(&rid),
                    q(&script.model),
                    Value::Array(done_items)
                ),
            ));
        }
        Provider::Gemini => {
            // Chunks as Google writes them (a space after each colon, none after commas,
            // the prompt's usage on every chunk).
            let prompt = gemini_usage(usage, None, None);
            for t in reasoning.iter().flat_map(|r| r.gemini_thoughts(n)) {
                ev.push((
                    None,
                    format!(
                        r#"{{"candidates": [{{"content": {{"parts": [{{"text": {},"thought": true}}],"role": "model"}},"index": 0}}],"usageMetadata": {prompt},"modelVersion": {}}}"#,
                        q(t),
                        q(&script.model)
                    ),
                ));
            }
            // The finishing chunk never has empty `parts` (google-genai takes such a chunk
            // as invalid and drops the whole turn from its chat history): without calls, the
            // last text piece goes in it.
            let (streamed, last) = match text.split_last() {
                Some((last, rest)) if calls.is_empty() => (rest, Some(last)),
                _ => (&text[..], None),
            };
            for t in streamed {
                ev.push((
                    None,
                    format!(
                        r#"{{"candidates": [{{"content": {{"parts": [{{"text": {}}}],"role": "model"}},"index": 0}}],"usageMetadata": {prompt},"modelVersion": {}}}"#,
                        q(t),
                        q(&script.model)
                    ),
                ));
            }
            let text_part = last.map(|t| format!(r#"{{"text": {}}}"#, q(t)));
            let parts: Vec<String> = text_part
                .into_iter()
                .chain(calls.iter().enumerate().map(|(i, c)| {
                    // Streamed exactly as the script wrote them (key order, number spelling).
                    let args = c.input.get();
                    let signature = match (i, &reasoning) {
                        (0, Some(r)) => {
                            format!(r#","thoughtSignature": {}"#, q(&r.gemini_signature()))
                        }
                        _ => String::new(),
                    };
                    format!(
                        r#"{{"functionCall": {{"name": {},"args": {}}}{signature}}}"#,
                        q(&c.name),
                        args
                    )
                }))
                .collect();
            let thoughts = reasoning.is_some().then_some(thought_tokens);
            ev.push((
                None,
                format!(
                    r#"{{"candidates": [{{"content": {{"parts": [{}],"role": "model"}},"finishReason": "STOP","index": 0}}],"usageMetadata": {},"modelVersion": {}}}"#,
                    parts.join(","),
                    gemini_usage(usage, Some(answer_tokens), thoughts),
                    q(&script.model)
                ),
            ));
        }
        Provider::Bedrock => {
            ev = bedrock::events(script, k, turn, reasoning.as_ref(), usage, out_tokens);
        }
    }
    ev
}

/// Anthropic's `message_start` usage: the uncached input, the writes and reads apart, the
/// writes split by lifetime.
fn anthropic_start_usage(u: &PromptUsage) -> String {
    format!(
        r#"{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"cache_creation":{{"ephemeral_5m_input_tokens":{},"ephemeral_1h_input_tokens":{}}},"output_tokens":1,"service_tier":"standard"}}"#,
        u.rest(),
        u.write(),
        u.read,
        u.write_5m,
        u.write_1h
    )
}

/// Anthropic's `message_delta` usage (cumulative: the prompt's counts again).
fn anthropic_delta_usage(u: &PromptUsage, output: u64) -> String {
    format!(
        r#"{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"output_tokens":{output}}}"#,
        u.rest(),
        u.write(),
        u.read
    )
}

/// The mock's fixed `created_at` (2025-12-01T00:00:00Z): answers, and so cassettes that
/// record them, stay byte-identical run after run.
const CREATED_AT: u64 = 1_764_547_200;

/// OpenAI Chat's usage chunk: `prompt_tokens` counts the cached tokens too.
fn chat_usage(u: &PromptUsage, completion: u64, reasoning: u64) -> String {
    format!(
        r#"{{"prompt_tokens":{},"completion_tokens":{completion},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":{},"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":{reasoning},"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}"#,
        u.total,
        u.total + completion,
        u.read
    )
}

/// Gemini's `usageMetadata`, in field-number order as Google writes it:
/// `promptTokenCount` (cached tokens included), `candidatesTokenCount`, `totalTokenCount`,
/// `cachedContentTokenCount` (only when some were), `promptTokensDetails`,
/// `cacheTokensDetails`, `thoughtsTokenCount`.
fn gemini_usage(u: &PromptUsage, candidates: Option<u64>, thoughts: Option<u64>) -> String {
    let prompt = u.total;
    let mut s = format!(r#"{{"promptTokenCount": {prompt}"#);
    if let Some(n) = candidates {
        s += &format!(r#","candidatesTokenCount": {n}"#);
    }
    let total = prompt + candidates.unwrap_or(0) + thoughts.unwrap_or(0);
    s += &format!(r#","totalTokenCount": {total}"#);
    if u.read > 0 {
        s += &format!(r#","cachedContentTokenCount": {}"#, u.read);
    }
    s += &format!(r#","promptTokensDetails": [{{"modality": "TEXT","tokenCount": {prompt}}}]"#);
    if u.read > 0 {
        s += &format!(
            r#","cacheTokensDetails": [{{"modality": "TEXT","tokenCount": {}}}]"#,
            u.read
        );
    }
    if let Some(n) = thoughts {
        s += &format!(r#","thoughtsTokenCount": {n}"#);
    }
    s + "}"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_assembles_back_to_the_script() {
        for script in [Script::default_demo(), Script::reasoning_demo()] {
            assembles_back(&script);
        }
    }

    /// The prompt's usage, decoded by the crate's own decoders, is the usage given.
    #[test]
    fn the_prompt_usage_decodes_back() {
        let usage = PromptUsage {
            total: 1000,
            read: 600,
            write_5m: 100,
            write_1h: 50,
            cache_points: true,
        };
        let script = Script::reasoning_demo();
        let turn = script.turn(0);
        for provider in ALL {
            let m = assemble(&decode(
                provider,
                encode(provider, &script, 0, &turn, &usage),
            ));
            let u = m.usage;
            assert_eq!(u.input_tokens, Some(1000), "{provider}");
            assert_eq!(u.cache_read_input_tokens, Some(600), "{provider}");
            let explicit = matches!(provider, Provider::Anthropic | Provider::Bedrock);
            let write = explicit.then_some(150);
            assert_eq!(u.cache_write_input_tokens, write, "{provider}");
        }
    }

    const ALL: [Provider; 5] = [
        Provider::Anthropic,
        Provider::OpenAiChat,
        Provider::OpenAiResponses,
        Provider::Gemini,
        Provider::Bedrock,
    ];

    /// The unified events of the `wire` events, framed as the server frames them.
    fn decode(provider: Provider, wire: Vec<WireEvent>) -> Vec<crate::StreamEvent> {
        let body: Vec<u8> = wire
            .into_iter()
            .flat_map(|(name, data)| match provider {
                Provider::Bedrock => event_stream_event(name.unwrap_or_default(), &data),
                _ => sse_frame(name, &data),
            })
            .collect();
        let mut d = crate::StreamDecoder::new(provider);
        let mut events = Vec::new();
        d.push(&body, &mut events).unwrap();
        d.finish(&mut events).unwrap();
        events
    }

    fn assemble(events: &[crate::StreamEvent]) -> crate::AssembledMessage {
        let mut a = crate::Assembler::new();
        for e in events {
            a.push(e).unwrap();
        }
        a.finish()
    }

    /// The reasoning streamed with a turn is reasoning, never answer text or a call.
    fn assembles_back(script: &Script) {
        for provider in ALL {
            for k in 0..script.turns.len() {
                let turn = script.turn(k);
                let wire = encode(provider, script, k, &turn, &PromptUsage::uncached(100));
                let events = decode(provider, wire);
                let m = assemble(&events);
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
