//! Reasoning in the mock: what each provider streams when its model reasons before the
//! tool calls, and the checks by which the real APIs refuse a next request that lost it.
//!
//! On when the script has [`ScriptReasoning`](super::ScriptReasoning) (off by default).
//! Every turn then streams, in the provider's documented format:
//!
//! | provider | streamed before the answer | must come back (or the API refuses) |
//! |---|---|---|
//! | anthropic | a `thinking` block (`thinking_delta`, `signature_delta`), and on chosen turns a `redacted_thinking` block (`data`) | the latest assistant message starts with them, none dropped or changed; every signature and `data` intact |
//! | openai-responses | a `reasoning` item (`summary`, `encrypted_content`) | the item, with its `encrypted_content`, before its turn's `function_call` items |
//! | openai-chat | DeepSeek's `delta.reasoning_content` | `reasoning_content` on every assistant message with `tool_calls` |
//! | gemini | a `thought: true` text part; a `thoughtSignature` on the first `functionCall` part | the signature on the first `functionCall` part of each step of the current turn; every signature intact |
//! | bedrock (Claude) | `reasoningContent` deltas (`text`, then `signature`), and on chosen turns a `redactedContent` block | as anthropic, on the Converse blocks (`reasoningContent.reasoningText`, `reasoningContent.redactedContent`), refused with Claude's message behind Bedrock's "The model returned the following errors: " |
//!
//! Signatures, `data` and encrypted content are deterministic per turn (a hash of the turn
//! number and, for Anthropic signatures, the thinking text), so the server checks that they
//! come back unchanged without keeping state. The messages are the real APIs' own, as their
//! users report them (quoted beside each check).

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};

use super::script::{pieces, q, ScriptTurn};
use super::{Rejection, ScriptReasoning};
use crate::provider::Provider;

/// The reasoning of turn `k`, as the mock streams it.
pub(crate) struct TurnReasoning {
    /// The reasoning text (Anthropic thinking, Responses summary, DeepSeek
    /// `reasoning_content`, Gemini thought part).
    pub(crate) text: String,
    k: usize,
    redacted: bool,
}

impl TurnReasoning {
    /// The reasoning streamed with turn `k`.
    pub(crate) fn of(reasoning: &ScriptReasoning, k: usize, turn: &ScriptTurn) -> Self {
        let names: Vec<&str> = turn.tool_calls.iter().map(|c| c.name.as_str()).collect();
        let text = if names.is_empty() {
            format!("Step {k}: the tool results answer the question; time to reply.")
        } else {
            format!("Step {k}: I need {} to answer this.", names.join(", "))
        };
        TurnReasoning {
            text,
            k,
            redacted: reasoning.redacted_turns.contains(&k),
        }
    }

    /// Tokens it counts for in usage.
    pub(crate) fn tokens(&self) -> u64 {
        (self.text.len() / 4) as u64 + 1
    }

    /// Anthropic: the content blocks before the text, from index 0, as (event, data) pairs;
    /// returns them and the number of blocks. Documented sequence (extended thinking,
    /// streaming): `content_block_start` with an empty `thinking` block, `thinking_delta`s,
    /// one `signature_delta` just before `content_block_stop`; a `redacted_thinking` block
    /// arrives whole in its `content_block_start`.
    pub(crate) fn anthropic(&self, n: usize) -> (Vec<(&'static str, String)>, usize) {
        let mut ev = vec![(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#.to_owned(),
        )];
        for t in pieces(&self.text, n) {
            ev.push((
                "content_block_delta",
                format!(
                    r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"thinking_delta","thinking":{}}}}}"#,
                    q(t)
                ),
            ));
        }
        ev.push((
            "content_block_delta",
            format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"signature_delta","signature":{}}}}}"#,
                q(&anthropic_signature(self.k, &self.text))
            ),
        ));
        ev.push((
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#.to_owned(),
        ));
        if !self.redacted {
            return (ev, 1);
        }
        ev.push((
            "content_block_start",
            format!(
                r#"{{"type":"content_block_start","index":1,"content_block":{{"type":"redacted_thinking","data":{}}}}}"#,
                q(&redacted_data(self.k))
            ),
        ));
        ev.push((
            "content_block_stop",
            r#"{"type":"content_block_stop","index":1}"#.to_owned(),
        ));
        (ev, 2)
    }

    /// OpenAI Responses: the `reasoning` output item at `output_index` 0, its summary
    /// streamed, and `encrypted_content` in its `output_item.done` (as returned with
    /// `include: ["reasoning.encrypted_content"]`).
    pub(crate) fn responses(&self, n: usize) -> Vec<(&'static str, Value)> {
        let id = responses_item_id(self.k);
        let text = &self.text;
        let mut ev = vec![
            (
                "response.output_item.added",
                json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": id, "type": "reasoning", "summary": []}}),
            ),
            (
                "response.reasoning_summary_part.added",
                json!({"type": "response.reasoning_summary_part.added", "item_id": id, "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
            ),
        ];
        for t in pieces(text, n) {
            ev.push((
                "response.reasoning_summary_text.delta",
                json!({"type": "response.reasoning_summary_text.delta", "item_id": id, "output_index": 0, "summary_index": 0, "delta": t}),
            ));
        }
        ev.extend([
            (
                "response.reasoning_summary_text.done",
                json!({"type": "response.reasoning_summary_text.done", "item_id": id, "output_index": 0, "summary_index": 0, "text": text}),
            ),
            (
                "response.reasoning_summary_part.done",
                json!({"type": "response.reasoning_summary_part.done", "item_id": id, "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": text}}),
            ),
            (
                "response.output_item.done",
                json!({"type": "response.output_item.done", "output_index": 0, "item": {"id": id, "type": "reasoning", "encrypted_content": encrypted_content(self.k), "summary": [{"type": "summary_text", "text": text}]}}),
            ),
        ]);
        ev
    }

    /// OpenAI Chat (DeepSeek): the `delta` bodies carrying `reasoning_content`, streamed
    /// before the content and the tool calls.
    pub(crate) fn chat_deltas(&self, n: usize) -> Vec<String> {
        pieces(&self.text, n)
            .into_iter()
            .map(|t| format!(r#""content":null,"reasoning_content":{}"#, q(t)))
            .collect()
    }

    /// Gemini: the thought part's text pieces (`"thought": true`).
    pub(crate) fn gemini_thoughts(&self, n: usize) -> Vec<&str> {
        pieces(&self.text, n)
    }

    /// Gemini: the signature on the first `functionCall` part ("Parallel function calls:
    /// ... the thought_signature is attached only to the first functionCall part").
    pub(crate) fn gemini_signature(&self) -> String {
        gemini_signature(self.k)
    }

    /// Bedrock (Claude through ConverseStream): for each reasoning block, from index 0, the
    /// `delta.reasoningContent` objects it streams (`ReasoningContentBlockDelta`): the text
    /// in pieces, then the signature; on chosen turns a second block whose
    /// `redactedContent` (a blob: base64 in JSON) is Anthropic's redacted `data`. The
    /// blocks have no `contentBlockStart`, as in the service's streams.
    pub(crate) fn bedrock(&self, n: usize) -> Vec<Vec<String>> {
        let mut thinking: Vec<String> = pieces(&self.text, n)
            .into_iter()
            .map(|t| format!(r#"{{"text":{}}}"#, q(t)))
            .collect();
        thinking.push(format!(
            r#"{{"signature":{}}}"#,
            q(&anthropic_signature(self.k, &self.text))
        ));
        let mut blocks = vec![thinking];
        if self.redacted {
            let blob = BASE64.encode(redacted_data(self.k));
            blocks.push(vec![format!(r#"{{"redactedContent":{}}}"#, q(&blob))]);
        }
        blocks
    }
}

/// 64-bit FNV-1a over the parts, each ended by a zero byte: stable across builds.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.iter().chain(&[0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn seal(kind: &str, k: usize, content: &str) -> String {
    let k = k.to_string();
    let a = fnv(&[kind.as_bytes(), k.as_bytes(), content.as_bytes()]);
    let b = fnv(&[content.as_bytes(), k.as_bytes(), kind.as_bytes()]);
    format!("{a:016x}{b:016x}")
}

/// The signature of turn `k`'s thinking block: over the text, as the real one is (a
/// changed text invalidates it).
fn anthropic_signature(k: usize, thinking: &str) -> String {
    format!("EqMock{}", seal("anthropic-signature", k, thinking))
}

fn redacted_data(k: usize) -> String {
    format!("EmwMock{}", seal("anthropic-redacted", k, ""))
}

fn responses_item_id(k: usize) -> String {
    format!("rs_mock_{k}")
}

fn encrypted_content(k: usize) -> String {
    format!("gAAAAABmock{}==", seal("responses-encrypted", k, ""))
}

fn gemini_signature(k: usize) -> String {
    format!("CiQBMock{}", seal("gemini-thought", k, ""))
}

/// Checks `messages` (the request's history) as the provider does when reasoning is on.
///
/// # Errors
///
/// The rejection the real API answers with.
pub(crate) fn check(
    provider: Provider,
    reasoning: &ScriptReasoning,
    messages: &[Value],
) -> Result<(), Rejection> {
    match provider {
        Provider::Anthropic => anthropic(reasoning, messages),
        Provider::OpenAiResponses => responses(messages),
        Provider::OpenAiChat => deepseek(messages),
        Provider::Gemini => gemini(messages),
        Provider::Bedrock => bedrock(reasoning, messages),
    }
}

/// Bedrock with Claude: the model checks its own blocks, and Bedrock passes its message
/// on ("The model returned the following errors: messages.1.content.0.type: Expected
/// `thinking` or `redacted_thinking`, but found `tool_use`. ..."). The Converse history is
/// read as the Anthropic messages it stands for (`cachePoint` markers left out).
fn bedrock(reasoning: &ScriptReasoning, messages: &[Value]) -> Result<(), Rejection> {
    let as_anthropic: Vec<Value> = messages
        .iter()
        .map(|m| {
            let blocks = m["content"].as_array().map_or(&[][..], Vec::as_slice);
            let content: Vec<Value> = blocks
                .iter()
                .filter(|b| b.get("cachePoint").is_none())
                .map(anthropic_block)
                .collect();
            json!({"role": m["role"], "content": content})
        })
        .collect();
    anthropic(reasoning, &as_anthropic).map_err(|mut r| {
        r.message = format!("The model returned the following errors: {}", r.message);
        r
    })
}

/// The Anthropic block a Converse `ContentBlock` stands for (its one member names it).
fn anthropic_block(b: &Value) -> Value {
    let r = &b["reasoningContent"];
    if let Some(t) = r.get("reasoningText") {
        let mut block = json!({"type": "thinking", "thinking": t["text"]});
        if let Some(s) = t.get("signature") {
            block["signature"] = s.clone();
        }
        return block;
    }
    if let Some(blob) = r["redactedContent"].as_str() {
        // The blob carries Anthropic's `data`; what does not decode cannot match it.
        let data = BASE64
            .decode(blob)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_else(|| blob.to_owned());
        return json!({"type": "redacted_thinking", "data": data});
    }
    let kind = match b.as_object().and_then(|o| o.keys().next()) {
        Some(k) if k == "toolUse" => "tool_use",
        Some(k) if k == "toolResult" => "tool_result",
        Some(k) if k == "reasoningContent" => "thinking",
        Some(k) => k.as_str(),
        None => "",
    };
    json!({"type": kind})
}

fn bad(message: String) -> Rejection {
    Rejection::new(StatusCode::BAD_REQUEST, message)
}

fn is_reasoning_block(b: &Value) -> bool {
    b["type"] == "thinking" || b["type"] == "redacted_thinking"
}

/// Anthropic (extended thinking with tool use): "you must pass thinking blocks back to
/// the API for the last assistant message", "including the complete unmodified block";
/// redacted blocks go back as received.
fn anthropic(reasoning: &ScriptReasoning, messages: &[Value]) -> Result<(), Rejection> {
    let assistants: Vec<usize> = (0..messages.len())
        .filter(|&i| messages[i]["role"] == "assistant")
        .collect();
    let empty = Vec::new();
    let blocks = |i: usize| messages[i]["content"].as_array().unwrap_or(&empty);
    for (k, &i) in assistants.iter().enumerate() {
        for (j, b) in blocks(i).iter().enumerate() {
            if b["type"] == "thinking" {
                let thinking = b["thinking"].as_str().unwrap_or_default();
                match b["signature"].as_str() {
                    None => {
                        return Err(bad(format!(
                            "messages.{i}.content.{j}.signature: Field required"
                        )))
                    }
                    // "messages.1.content.0: Invalid `signature` in `thinking` block"
                    Some(s) if s != anthropic_signature(k, thinking) => {
                        return Err(bad(format!(
                            "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                        )))
                    }
                    Some(_) => {}
                }
            }
            // "messages.23.content.2: Invalid `data` in `redacted_thinking` block"
            if b["type"] == "redacted_thinking" && b["data"].as_str() != Some(&redacted_data(k)) {
                return Err(bad(format!(
                    "messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block"
                )));
            }
        }
        let content = blocks(i);
        if content.iter().any(is_reasoning_block) && !is_reasoning_block(&content[0]) {
            return Err(bad(format!(
                "messages.{i}.content.0: If an assistant message contains any thinking blocks, the first block must be `thinking` or `redacted_thinking`. Found `{}`.",
                content[0]["type"].as_str().unwrap_or_default()
            )));
        }
    }
    // The last assistant message, while its tool results are answered (the tool-use
    // loop): it must start with its reasoning, all of it, as it was sent.
    let Some(&i) = assistants.last() else {
        return Ok(());
    };
    let k = assistants.len() - 1;
    let answered = messages.get(i + 1).is_some_and(|m| {
        m["role"] == "user"
            && m["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
    });
    let content = blocks(i);
    if !answered || !content.iter().any(|b| b["type"] == "tool_use") {
        return Ok(());
    }
    let first = content
        .first()
        .and_then(|b| b["type"].as_str())
        .unwrap_or_default();
    if !is_reasoning_block(&content[0]) {
        return Err(bad(format!(
            "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        )));
    }
    let sent: &[&str] = if reasoning.redacted_turns.contains(&k) {
        &["thinking", "redacted_thinking"]
    } else {
        &["thinking"]
    };
    let got: Vec<(usize, &str)> = content
        .iter()
        .enumerate()
        .filter(|(_, b)| is_reasoning_block(b))
        .map(|(j, b)| (j, b["type"].as_str().unwrap_or_default()))
        .collect();
    let types: Vec<&str> = got.iter().map(|&(_, t)| t).collect();
    if types != sent {
        // Where the first block differs (or the one after the last kept).
        let j = got
            .iter()
            .zip(sent)
            .find(|((_, t), s)| t != *s)
            .map(|((j, _), _)| *j)
            .unwrap_or_else(|| got.last().map_or(0, |&(j, _)| j + 1));
        return Err(bad(format!(
            "messages.{i}.content.{j}: `thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. These blocks must remain as they were in the original response."
        )));
    }
    Ok(())
}

/// The turn a mock id names (`call_mock_<k>_<i>`, `rs_mock_<k>`).
fn turn_of(id: &str, prefix: &str) -> Option<usize> {
    id.strip_prefix(prefix)?.split('_').next()?.parse().ok()
}

/// OpenAI Responses (reasoning items, manual context with `store: false`): a reasoning
/// model's function calls need their reasoning item before them, and the item needs its
/// `encrypted_content` when nothing is stored server-side.
fn responses(messages: &[Value]) -> Result<(), Rejection> {
    let assistant_side = |m: &Value| {
        m["type"] == "reasoning" || m["type"] == "function_call" || m["role"] == "assistant"
    };
    for (i, m) in messages.iter().enumerate() {
        if m["type"] == "reasoning" {
            let id = m["id"].as_str().unwrap_or_default();
            let Some(content) = m["encrypted_content"].as_str() else {
                // Nothing stored (the mock keeps no items): what `store: false` answers.
                return Err(Rejection::new(
                    StatusCode::NOT_FOUND,
                    format!("Item with id '{id}' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."),
                )
                .param("input"));
            };
            if turn_of(id, "rs_mock_").map(encrypted_content).as_deref() != Some(content) {
                // "The encrypted content gAAA...DQ== could not be verified."
                let chars: Vec<char> = content.chars().collect();
                let head: String = chars.iter().take(4).collect();
                let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
                return Err(bad(format!(
                    "The encrypted content {head}...{tail} could not be verified."
                ))
                .code("invalid_encrypted_content"));
            }
            let followed = messages
                .get(i + 1)
                .is_some_and(|n| n["type"] == "function_call" || n["role"] == "assistant");
            if !followed {
                return Err(bad(format!(
                    "Item '{id}' of type 'reasoning' was provided without its required following item."
                ))
                .param("input"));
            }
        }
        if m["type"] == "function_call" {
            let call_id = m["call_id"].as_str().unwrap_or_default();
            let Some(k) = turn_of(call_id, "call_mock_") else {
                continue;
            };
            let rs = responses_item_id(k);
            let found = messages[..i]
                .iter()
                .rev()
                .take_while(|p| assistant_side(p))
                .any(|p| p["type"] == "reasoning" && p["id"] == rs.as_str());
            if !found {
                let item = m["id"].as_str().map_or_else(
                    || call_id.replacen("call_mock_", "fc_mock_", 1),
                    str::to_owned,
                );
                return Err(bad(format!(
                    "Item '{item}' of type 'function_call' was provided without its required 'reasoning' item: '{rs}'."
                ))
                .param("input"));
            }
        }
    }
    Ok(())
}

/// DeepSeek (thinking mode, tool calls): "For turns that do perform tool calls, the
/// reasoning_content must be fully passed back to the API in all subsequent requests".
fn deepseek(messages: &[Value]) -> Result<(), Rejection> {
    let lost = messages.iter().any(|m| {
        m["role"] == "assistant"
            && m["tool_calls"].as_array().is_some_and(|c| !c.is_empty())
            && !m["reasoning_content"].is_string()
    });
    if lost {
        return Err(bad(
            "The `reasoning_content` in the thinking mode must be passed back to the API."
                .to_owned(),
        )
        .code("invalid_request_error"));
    }
    Ok(())
}

/// Gemini 3 (thought signatures, function calling): "The first functionCall part in each
/// step of the current turn must include its thought_signature"; the current turn starts
/// after the most recent user content with standard content (not a `functionResponse`).
fn gemini(messages: &[Value]) -> Result<(), Rejection> {
    fn parts(m: &Value) -> &[Value] {
        m["parts"].as_array().map_or(&[], Vec::as_slice)
    }
    for (k, m) in messages.iter().filter(|m| m["role"] == "model").enumerate() {
        for p in parts(m) {
            if let Some(s) = p["thoughtSignature"].as_str() {
                if s != gemini_signature(k) {
                    return Err(bad("Corrupted thought signature.".to_owned()));
                }
            }
        }
    }
    let start = messages
        .iter()
        .rposition(|m| {
            m["role"] == "user" && parts(m).iter().any(|p| p.get("functionResponse").is_none())
        })
        .map_or(0, |i| i + 1);
    for (i, m) in messages.iter().enumerate().skip(start) {
        if m["role"] != "model" {
            continue;
        }
        let Some(call) = parts(m).iter().find(|p| p.get("functionCall").is_some()) else {
            continue;
        };
        if call.get("thoughtSignature").is_none() {
            // "position" as users report it: the content's place in `contents`, from 1.
            return Err(bad(format!(
                "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{}` , position {}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                call["functionCall"]["name"].as_str().unwrap_or_default(),
                i + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_are_stable_and_distinct() {
        assert_eq!(anthropic_signature(1, "x"), anthropic_signature(1, "x"));
        assert_ne!(anthropic_signature(1, "x"), anthropic_signature(2, "x"));
        assert_ne!(anthropic_signature(1, "x"), anthropic_signature(1, "y"));
        assert_ne!(gemini_signature(0), gemini_signature(1));
        assert_eq!(turn_of("call_mock_12_3", "call_mock_"), Some(12));
        assert_eq!(turn_of("rs_mock_4", "rs_mock_"), Some(4));
        assert_eq!(turn_of("rs_other", "rs_mock_"), None);
    }

    #[test]
    fn gemini_current_turn_starts_after_the_last_user_text() {
        let fc = |sig: bool| {
            let mut p = json!({"functionCall": {"name": "f", "args": {}}});
            if sig {
                p["thoughtSignature"] = json!(gemini_signature(0));
            }
            p
        };
        let user = json!({"role": "user", "parts": [{"text": "hi"}]});
        let answer =
            json!({"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]});
        // An earlier turn's call without a signature is not validated.
        let old = [
            user.clone(),
            json!({"role": "model", "parts": [fc(false)]}),
            answer.clone(),
            json!({"role": "model", "parts": [{"text": "done"}]}),
            user.clone(),
        ];
        assert!(gemini(&old).is_ok());
        let current = [user, json!({"role": "model", "parts": [fc(false)]}), answer];
        let e = gemini(&current).unwrap_err();
        assert!(
            e.message.contains("`default_api:f` , position 2."),
            "{}",
            e.message
        );
    }
}
