//! The Responses API event payloads, as serde reads them (borrowing from the SSE data).

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::provider::openai_chat::TokenDetails;
use serde_json::value::RawValue;

/// One event, every field the decoder reads (each event uses some).
#[derive(Deserialize)]
pub(super) struct Payload<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Option<Cow<'a, str>>,
    pub(super) output_index: Option<usize>,
    #[serde(borrow)]
    pub(super) item_id: Option<Cow<'a, str>>,
    pub(super) content_index: Option<usize>,
    pub(super) summary_index: Option<usize>,
    #[serde(borrow)]
    pub(super) delta: Option<Cow<'a, str>>,
    /// As received (a JSON string): decoded only when no delta gave the arguments, and
    /// written as is into the call's item.
    #[serde(borrow)]
    pub(super) arguments: Option<&'a RawValue>,
    /// Parsed into an [`Item`] when the event needs it; kept as received for the echo.
    #[serde(borrow)]
    pub(super) item: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) part: Option<Part<'a>>,
    #[serde(borrow)]
    pub(super) response: Option<Response<'a>>,
    #[serde(borrow)]
    pub(super) code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) error: Option<ErrorPayload<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Item<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) call_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) arguments: Option<Cow<'a, str>>,
    pub(super) content: Option<IgnoredAny>,
}

impl Item<'_> {
    /// Whether the item can go back as an input item as it is.
    pub(super) fn is_whole(&self) -> bool {
        match &*self.kind {
            "message" => self.content.is_some(),
            "function_call" => self.call_id.is_some() && self.arguments.is_some(),
            _ => self.id.is_some(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Part<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Cow<'a, str>,
}

#[derive(Deserialize)]
pub(super) struct Response<'a> {
    #[serde(borrow)]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) model: Option<Cow<'a, str>>,
    pub(super) usage: Option<UsagePayload>,
    #[serde(borrow)]
    pub(super) error: Option<ErrorPayload<'a>>,
    #[serde(borrow)]
    pub(super) incomplete_details: Option<IncompleteDetails<'a>>,
}

#[derive(Deserialize)]
pub(super) struct UsagePayload {
    pub(super) input_tokens: Option<u64>,
    pub(super) output_tokens: Option<u64>,
    pub(super) input_tokens_details: Option<TokenDetails>,
    pub(super) output_tokens_details: Option<TokenDetails>,
}

#[derive(Deserialize)]
pub(super) struct ErrorPayload<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Option<Cow<'a, str>>,
    /// A string on OpenAI, a number on some compatible servers (OpenRouter's HTTP codes).
    pub(super) code: Option<serde_json::Value>,
    #[serde(borrow)]
    pub(super) message: Option<Cow<'a, str>>,
}

impl ErrorPayload<'_> {
    pub(super) fn code(&self) -> Option<String> {
        match self.code.as_ref()? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct IncompleteDetails<'a> {
    #[serde(borrow)]
    pub(super) reason: Option<Cow<'a, str>>,
}
