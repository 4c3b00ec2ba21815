//! What the server reads from a request and checks, as the real APIs do: the prompt's
//! parts, the history, whether the previous turn's calls are all answered (in order), and
//! the provider's error body for a refused request.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::provider::Provider;

/// What a request says, whatever the provider.
pub(super) struct Request {
    /// The model (Gemini's from the path), "" when the request names none.
    pub(super) model: String,
    /// The history, each message exactly as sent.
    pub(super) messages: Vec<Box<RawValue>>,
    /// OpenAI Chat `stream_options.include_usage`: without it the API streams no usage
    /// chunk.
    pub(super) include_usage: bool,
    /// `"stream": true`: without it the answer is the whole message.
    pub(super) stream: bool,
}

/// A refused request: its status, and the provider's error fields.
pub(crate) struct Rejection {
    status: StatusCode,
    pub(crate) message: String,
    /// OpenAI's `param` (default null).
    param: Option<&'static str>,
    /// OpenAI's `code` (default null).
    code: Option<&'static str>,
    /// The AWS exception (Bedrock's `x-amzn-ErrorType`; default: the status's usual one).
    aws_type: Option<&'static str>,
}

impl Rejection {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Rejection {
            status,
            message: message.into(),
            param: None,
            code: None,
            aws_type: None,
        }
    }

    pub(crate) fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The AWS exception Bedrock names in `x-amzn-ErrorType`.
    pub(crate) fn aws(mut self, exception: &'static str) -> Self {
        self.aws_type = Some(exception);
        self
    }

    /// The AWS exception, when one was given.
    #[cfg(test)]
    pub(crate) fn aws_type(&self) -> Option<&'static str> {
        self.aws_type
    }

    /// The response, with the body the provider writes.
    pub(super) fn response(&self, provider: Provider) -> Response {
        let (status, message) = (self.status, &self.message);
        if provider == Provider::Bedrock {
            let exception = self
                .aws_type
                .unwrap_or_else(|| super::aws::default_exception(status));
            return super::aws::error_response(status, exception, message);
        }
        let body = match provider {
            Provider::Anthropic => {
                json!({"type": "error", "error": {"type": if status == StatusCode::UNAUTHORIZED { "authentication_error" } else { "invalid_request_error" }, "message": message}})
            }
            Provider::Gemini => {
                json!({"error": {"code": status.as_u16(), "message": message, "status": if status == StatusCode::UNAUTHORIZED { "UNAUTHENTICATED" } else { "INVALID_ARGUMENT" }}})
            }
            _ => {
                json!({"error": {"message": message, "type": "invalid_request_error", "param": self.param, "code": self.code}})
            }
        };
        (status, axum::Json(body)).into_response()
    }
}

pub(super) fn error(provider: Provider, status: StatusCode, message: &str) -> Response {
    Rejection::new(status, message).response(provider)
}

/// Whether the request carries a key in one of the forms the provider's official SDKs
/// send: Anthropic `x-api-key`, or `Authorization: Bearer` (anthropic-python with an auth
/// token); OpenAI `Authorization: Bearer`, or Azure's `api-key`; Gemini `x-goog-api-key`,
/// `?key=` (read into that header by the route), or `Authorization: Bearer` (OAuth);
/// Bedrock a well-formed SigV4 signature or `Authorization: Bearer` (`aws.rs`).
pub(super) fn has_key(provider: Provider, headers: &HeaderMap) -> bool {
    let present = |name: &str| headers.get(name).is_some_and(|v| !v.is_empty());
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| !token.trim().is_empty());
    match provider {
        Provider::Anthropic => present("x-api-key") || bearer,
        Provider::Gemini => present("x-goog-api-key") || bearer,
        Provider::Bedrock => super::aws::authorize(headers).is_ok(),
        _ => bearer || present("api-key"),
    }
}

pub(super) fn parse(
    provider: Provider,
    body: &[u8],
    model: Option<&str>,
) -> Result<Request, String> {
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        model: Option<&'a RawValue>,
        max_tokens: Option<u64>,
        messages: Option<Vec<Box<RawValue>>>,
        input: Option<Vec<Box<RawValue>>>,
        contents: Option<Vec<Box<RawValue>>>,
        stream_options: Option<StreamOptions>,
        stream: Option<bool>,
    }
    #[derive(serde::Deserialize)]
    struct StreamOptions {
        include_usage: Option<bool>,
    }
    let b: Body = serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    if provider == Provider::Anthropic && b.max_tokens.is_none() {
        return Err("max_tokens: Field required".into());
    }
    let model = match model {
        Some(m) => m.to_owned(),
        None => b
            .model
            .and_then(|m| serde_json::from_str::<String>(m.get()).ok())
            .unwrap_or_default(),
    };
    let messages = match provider {
        Provider::Anthropic | Provider::OpenAiChat | Provider::Bedrock => b.messages,
        Provider::OpenAiResponses => b.input,
        _ => b.contents,
    }
    .ok_or("the request has no messages")?;
    let stream = b.stream.unwrap_or(false);
    let include_usage = b
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    Ok(Request {
        model,
        messages,
        include_usage,
        stream,
    })
}

/// Where the history stands: assistant turns so far, the index of the last assistant
/// message, and the ids (names for Gemini) the trailing tool results answer.
pub(super) struct Analysis {
    pub(super) turns: usize,
    pub(super) last_assistant: usize,
    pub(super) results: Vec<String>,
}

pub(super) fn analyze(provider: Provider, messages: &[Value]) -> Analysis {
    let mut turns = 0;
    let mut last_assistant = 0;
    let mut prev_assistant = false;
    for (i, m) in messages.iter().enumerate() {
        let assistant = match provider {
            Provider::Gemini => m["role"] == "model",
            Provider::OpenAiResponses => responses_output(m),
            _ => m["role"] == "assistant",
        };
        // Responses lists one turn as several items: a run of them is one turn, and the
        // previous prompt ends where the run starts.
        // google-genai chats keep one model content per streamed chunk: a run of them is
        // one turn too.
        let runs = matches!(provider, Provider::OpenAiResponses | Provider::Gemini);
        if assistant && !(runs && prev_assistant) {
            turns += 1;
            last_assistant = i;
        }
        prev_assistant = assistant;
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    // The ids (Gemini: names) of the `result` blocks in the last message's `list`, when
    // it is the user's.
    let answered_in = |list: &str, result: &str, id: &str| -> Vec<String> {
        messages
            .last()
            .filter(|m| m["role"] == "user")
            .and_then(|m| m[list].as_array())
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b.get(result))
                    .map(|r| text(&r[id]))
                    .collect()
            })
            .unwrap_or_default()
    };
    let results = match provider {
        Provider::Anthropic => messages
            .last()
            .filter(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_array())
            .map(|blocks| {
                blocks
                    .iter()
                    .filter(|b| b["type"] == "tool_result")
                    .map(|b| text(&b["tool_use_id"]))
                    .collect()
            })
            .unwrap_or_default(),
        Provider::OpenAiChat => trailing(
            messages,
            |m| m["role"] == "tool",
            |m| text(&m["tool_call_id"]),
        ),
        Provider::OpenAiResponses => trailing(
            messages,
            |m| m["type"] == "function_call_output",
            |m| text(&m["call_id"]),
        ),
        Provider::Bedrock => answered_in("content", "toolResult", "toolUseId"),
        Provider::Gemini => answered_in("parts", "functionResponse", "name"),
    };
    Analysis {
        turns,
        last_assistant,
        results,
    }
}

/// Whether a Responses input item is model output: an assistant message, a function call,
/// a reasoning item, or an `item_reference` to one of the mock's own output items (what
/// clients send instead of the item when the response was stored: the Vercel AI SDK does
/// by default).
pub(super) fn responses_output(m: &Value) -> bool {
    let ours = |id: &str| {
        ["msg_mock_", "fc_mock_", "rs_mock_"]
            .iter()
            .any(|p| id.starts_with(p))
    };
    m["role"] == "assistant"
        || m["type"] == "function_call"
        || m["type"] == "reasoning"
        || (m["type"] == "item_reference" && m["id"].as_str().is_some_and(ours))
}

/// The call ids (names for Gemini) an assistant message asks for.
pub(super) fn calls_of(provider: Provider, m: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let each = |list: &Value, f: &dyn Fn(&Value) -> Option<String>| -> Vec<String> {
        list.as_array()
            .map(|a| a.iter().filter_map(f).collect())
            .unwrap_or_default()
    };
    match provider {
        Provider::Anthropic => each(&m["content"], &|b| {
            (b["type"] == "tool_use").then(|| text(&b["id"]))
        }),
        Provider::OpenAiChat => each(&m["tool_calls"], &|c| Some(text(&c["id"]))),
        Provider::OpenAiResponses if m["type"] == "function_call" => vec![text(&m["call_id"])],
        Provider::OpenAiResponses => Vec::new(),
        Provider::Bedrock => each(&m["content"], &|b| {
            b.get("toolUse").map(|t| text(&t["toolUseId"]))
        }),
        Provider::Gemini => each(&m["parts"], &|p| {
            p.get("functionCall").map(|f| text(&f["name"]))
        }),
    }
}

/// The ids (names for Gemini) answered by the message(s) starting at `j`.
pub(super) fn results_at(provider: Provider, messages: &[Value], j: usize) -> Vec<String> {
    let rest = &messages[j.min(messages.len())..];
    let run = |is: &dyn Fn(&Value) -> bool, id: &str| -> Vec<String> {
        rest.iter()
            .take_while(|m| is(m))
            .map(|m| m[id].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    match provider {
        Provider::OpenAiChat => run(&|m| m["role"] == "tool", "tool_call_id"),
        Provider::OpenAiResponses => run(&|m| m["type"] == "function_call_output", "call_id"),
        _ => analyze(provider, &rest[..rest.len().min(1)]).results,
    }
}

/// Checks every assistant turn of the history: not empty, and its calls all answered by
/// what follows it. Returns whether some answers came in another order than the calls,
/// and for each turn followed by something, (its end in prefix-hash positions, the index
/// of the message after it).
pub(super) fn check_turns(
    provider: Provider,
    messages: &[Value],
) -> Result<(bool, Vec<(usize, usize)>), String> {
    let assistant = |m: &Value| match provider {
        Provider::Gemini => m["role"] == "model",
        Provider::OpenAiResponses => responses_output(m),
        _ => m["role"] == "assistant",
    };
    let mut order_violation = false;
    let mut followers = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        if !assistant(&messages[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut calls = Vec::new();
        while i < messages.len() && assistant(&messages[i]) {
            let m = &messages[i];
            let empty = match provider {
                Provider::Anthropic | Provider::Bedrock => {
                    m["content"].as_array().is_some_and(Vec::is_empty)
                }
                Provider::Gemini => m["parts"].as_array().is_some_and(Vec::is_empty),
                _ => false,
            };
            if empty {
                return Err(format!(
                    "message {i}: an assistant message must not be empty"
                ));
            }
            calls.extend(calls_of(provider, m));
            i += 1;
            if !matches!(provider, Provider::OpenAiResponses | Provider::Gemini) {
                break;
            }
        }
        if i < messages.len() {
            followers.push((i, i));
        }
        if calls.is_empty() {
            continue;
        }
        let answered = results_at(provider, messages, i);
        let (mut want, mut got) = (calls.clone(), answered.clone());
        want.sort();
        got.sort();
        if want != got && provider == Provider::Bedrock {
            return Err(bedrock_unanswered(&calls, &answered, i));
        }
        if want != got {
            return Err(format!(
                "tool results must answer every tool call of the assistant turn at message {start}: expected {calls:?}, got {answered:?}"
            ));
        }
        order_violation |= calls != answered;
    }
    Ok((order_violation, followers))
}

/// Bedrock's refusal of a turn whose calls the next message does not answer one for one:
/// "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_a,
/// tooluse_b", or, with more results than calls, "The number of toolResult blocks at
/// messages.2.content exceeds the number of toolUse blocks of previous turn."
fn bedrock_unanswered(calls: &[String], answered: &[String], next: usize) -> String {
    let missing: Vec<&str> = calls
        .iter()
        .filter(|c| !answered.contains(c))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        format!("The number of toolResult blocks at messages.{next}.content exceeds the number of toolUse blocks of previous turn.")
    } else {
        format!(
            "Expected toolResult blocks at messages.{next}.content for the following Ids: {}",
            missing.join(", ")
        )
    }
}

pub(super) fn trailing(
    messages: &[Value],
    is: impl Fn(&Value) -> bool,
    id: impl Fn(&Value) -> String,
) -> Vec<String> {
    let n = messages.iter().rev().take_while(|m| is(m)).count();
    messages[messages.len() - n..].iter().map(id).collect()
}
