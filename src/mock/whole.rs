//! A request without `"stream": true` (Gemini: `:generateContent`) is answered with the
//! whole message, as the APIs answer it: the same turn the server would have streamed,
//! folded into one JSON body (Anthropic `Message`, Chat `chat.completion`, the Responses
//! `response` object, Gemini `GenerateContentResponse`, Bedrock's `Converse` answer).

use serde_json::{json, Map, Value};

use super::encode::WireEvent;
use crate::provider::Provider;

/// The whole message that `events` (the turn as the server streams it) stand for.
pub(super) fn fold(provider: Provider, events: &[WireEvent]) -> Value {
    let payloads: Vec<Value> = events
        .iter()
        .filter_map(|(_, data)| serde_json::from_str(data).ok())
        .collect();
    match provider {
        Provider::Anthropic => anthropic(&payloads),
        Provider::OpenAiChat => chat(&payloads),
        Provider::OpenAiResponses => payloads
            .iter()
            .rev()
            .find(|p| p["type"] == "response.completed")
            .map(|p| p["response"].clone())
            .unwrap_or(Value::Null),
        Provider::Bedrock => bedrock(&payloads),
        Provider::Gemini => gemini(&payloads),
    }
}

/// Bedrock `Converse`: `metrics`, `output.message` (`content`, `role`), `stopReason`,
/// `usage`, keys in alphabetical order as the service writes them, without the streams'
/// padding. Each block is what its deltas say, by `contentBlockIndex`: `reasoningContent`
/// (`reasoningText {signature, text}`, or `redactedContent`), `text`, or `toolUse {input,
/// name, toolUseId}` with the input parsed (the service answers a JSON document, not the
/// model's bytes).
fn bedrock(payloads: &[Value]) -> Value {
    let mut blocks: Vec<(u64, Value)> = Vec::new();
    let mut inputs: Vec<(u64, String)> = Vec::new();
    let (mut stop, mut metadata) = (Value::Null, &Value::Null);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for p in payloads {
        let Some(i) = p["contentBlockIndex"].as_u64() else {
            if p.get("stopReason").is_some() {
                stop = p["stopReason"].clone();
            }
            if p.get("usage").is_some() {
                metadata = p;
            }
            continue;
        };
        let at = match blocks.iter().position(|(at, _)| *at == i) {
            Some(at) => at,
            None => {
                blocks.push((i, Value::Null));
                blocks.len() - 1
            }
        };
        let b = &mut blocks[at].1;
        if let Some(t) = p["start"].get("toolUse") {
            *b = json!({"toolUse": {"name": t["name"], "toolUseId": t["toolUseId"]}});
            inputs.push((i, String::new()));
        }
        let d = &p["delta"];
        if let Some(t) = d.get("text") {
            let so_far = text(&b["text"]);
            *b = json!({"text": so_far + t.as_str().unwrap_or_default()});
        } else if let Some(input) = d["toolUse"].get("input") {
            if let Some((_, s)) = inputs.iter_mut().find(|(at, _)| *at == i) {
                s.push_str(input.as_str().unwrap_or_default());
            }
        } else if let Some(r) = d.get("reasoningContent") {
            if let Some(blob) = r.get("redactedContent") {
                *b = json!({"reasoningContent": {"redactedContent": blob}});
            } else {
                let t = &b["reasoningContent"]["reasoningText"];
                let (signature, thinking) = (text(&t["signature"]), text(&t["text"]));
                *b = json!({"reasoningContent": {"reasoningText": {
                    "signature": signature + r["signature"].as_str().unwrap_or_default(),
                    "text": thinking + r["text"].as_str().unwrap_or_default(),
                }}});
            }
        }
    }
    for (i, input) in inputs {
        if let Some((_, b)) = blocks.iter_mut().find(|(at, _)| *at == i) {
            b["toolUse"]["input"] = serde_json::from_str(&input).unwrap_or_else(|_| json!({}));
        }
    }
    blocks.sort_by_key(|(i, _)| *i);
    let content: Vec<Value> = blocks.into_iter().map(|(_, b)| b).collect();
    json!({"metrics": metadata["metrics"],
           "output": {"message": {"content": content, "role": "assistant"}},
           "stopReason": stop, "usage": metadata["usage"]})
}

/// `message_start`'s message with its blocks filled in by the deltas, `message_delta`'s
/// stop reason and usage.
fn anthropic(payloads: &[Value]) -> Value {
    let mut message = Value::Null;
    let mut blocks: Vec<Value> = Vec::new();
    let mut inputs: Vec<String> = Vec::new();
    for p in payloads {
        match p["type"].as_str() {
            Some("message_start") => message = p["message"].clone(),
            Some("content_block_start") => {
                blocks.push(p["content_block"].clone());
                inputs.push(String::new());
            }
            Some("content_block_delta") => {
                let (Some(b), Some(i)) = (blocks.last_mut(), inputs.last_mut()) else {
                    continue;
                };
                let d = &p["delta"];
                let append = |b: &mut Value, key: &str, piece: &Value| {
                    let text = b[key].as_str().unwrap_or_default().to_owned();
                    b[key] = json!(text + piece.as_str().unwrap_or_default());
                };
                match d["type"].as_str() {
                    Some("text_delta") => append(b, "text", &d["text"]),
                    Some("thinking_delta") => append(b, "thinking", &d["thinking"]),
                    Some("signature_delta") => append(b, "signature", &d["signature"]),
                    Some("input_json_delta") => {
                        i.push_str(d["partial_json"].as_str().unwrap_or_default())
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                message["stop_reason"] = p["delta"]["stop_reason"].clone();
                if let (Some(u), Some(later)) =
                    (message["usage"].as_object_mut(), p["usage"].as_object())
                {
                    u.extend(later.clone());
                }
            }
            _ => {}
        }
    }
    for (b, input) in blocks.iter_mut().zip(&inputs) {
        if b["type"] == "tool_use" && !input.is_empty() {
            b["input"] = serde_json::from_str(input).unwrap_or(Value::Null);
        }
    }
    message["content"] = Value::Array(blocks);
    message
}

/// The chunks' choice 0 folded into one `message`, with its tool calls by index.
fn chat(payloads: &[Value]) -> Value {
    let (mut content, mut reasoning) = (String::new(), String::new());
    let mut calls: Vec<Value> = Vec::new();
    let (mut finish, mut usage, mut head) = (Value::Null, Value::Null, Value::Null);
    for p in payloads {
        if head.is_null() {
            head = p.clone();
        }
        if !p["usage"].is_null() {
            usage = p["usage"].clone();
        }
        let Some(choice) = p["choices"].get(0) else {
            continue;
        };
        let d = &choice["delta"];
        content.push_str(d["content"].as_str().unwrap_or_default());
        reasoning.push_str(d["reasoning_content"].as_str().unwrap_or_default());
        for c in d["tool_calls"].as_array().into_iter().flatten() {
            let i = c["index"].as_u64().unwrap_or(0) as usize;
            while calls.len() <= i {
                calls.push(json!({"id": null, "type": "function", "function": {"name": null, "arguments": ""}}));
            }
            if !c["id"].is_null() {
                calls[i]["id"] = c["id"].clone();
            }
            let f = &c["function"];
            if !f["name"].is_null() {
                calls[i]["function"]["name"] = f["name"].clone();
            }
            let args = calls[i]["function"]["arguments"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            calls[i]["function"]["arguments"] =
                json!(args + f["arguments"].as_str().unwrap_or_default());
        }
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert(
        "content".into(),
        if content.is_empty() {
            Value::Null
        } else {
            json!(content)
        },
    );
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning));
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    json!({"id": head["id"], "object": "chat.completion", "created": head["created"],
           "model": head["model"],
           "choices": [{"index": 0, "message": message, "finish_reason": finish}],
           "usage": usage})
}

/// The chunks' parts in order (consecutive text parts of the same kind joined), the last
/// chunk's finish reason and usage.
fn gemini(payloads: &[Value]) -> Value {
    let mut parts: Vec<Value> = Vec::new();
    let mut last = &Value::Null;
    for p in payloads {
        last = p;
        let chunk = &p["candidates"][0]["content"]["parts"];
        for part in chunk.as_array().into_iter().flatten() {
            let joins = |prev: &Value| {
                prev["text"].is_string()
                    && part["text"].is_string()
                    && prev.get("thought") == part.get("thought")
                    && part.get("thoughtSignature").is_none()
            };
            match parts.last_mut() {
                Some(prev) if joins(prev) => {
                    let text = prev["text"].as_str().unwrap_or_default().to_owned();
                    prev["text"] = json!(text + part["text"].as_str().unwrap_or_default());
                }
                _ => parts.push(part.clone()),
            }
        }
    }
    let candidate = &last["candidates"][0];
    json!({"candidates": [{"content": {"parts": parts, "role": "model"},
                           "finishReason": candidate["finishReason"], "index": 0}],
           "usageMetadata": last["usageMetadata"], "modelVersion": last["modelVersion"]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::cache::PromptUsage;
    use crate::mock::{encode, Script};

    /// A Bedrock turn with reasoning (its redacted block too) folds into the `Converse`
    /// answer's content blocks, in order.
    #[test]
    fn bedrock_reasoning_text_and_calls_fold_into_blocks() {
        let script = Script::reasoning_demo();
        let turn = script.turn(1);
        let usage = PromptUsage::uncached(100);
        let events = encode::encode(Provider::Bedrock, &script, 1, &turn, &usage);
        let v = fold(Provider::Bedrock, &events);
        let content = v["output"]["message"]["content"].as_array().unwrap();
        let thinking = &content[0]["reasoningContent"]["reasoningText"];
        assert!(
            thinking["text"].as_str().unwrap().starts_with("Step 1:"),
            "{v}"
        );
        assert!(
            thinking["signature"]
                .as_str()
                .unwrap()
                .starts_with("EqMock"),
            "{v}"
        );
        assert!(
            content[1]["reasoningContent"]["redactedContent"].is_string(),
            "{v}"
        );
        assert_eq!(content[2], json!({"text": turn.text}));
        let calls: Vec<&Value> = content[3..].iter().map(|b| &b["toolUse"]["name"]).collect();
        let names: Vec<&str> = turn.tool_calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(calls, names);
        assert_eq!(v["stopReason"], "tool_use");
        assert_eq!(v["usage"]["inputTokens"], 100);
    }
}
