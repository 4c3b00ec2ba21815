//! Provider clients over real HTTP: request building (system prompt, history, tool
//! definitions, tool results), the API key from the provider's usual environment variable,
//! a base-URL override, streaming bodies decoded as they arrive, typed HTTP errors.
//!
//! The request body is written with its keys in a fixed order and the history embedded as
//! raw JSON, so the same conversation always produces the same bytes (prompt caches key on
//! them).

use std::fmt;

use futures_core::Stream;
use serde_json::value::RawValue;

use crate::error::DecodeError;
use crate::event::StreamEvent;
use crate::provider::Provider;
use crate::request::{to_raw, PromptCaching, J};
use crate::stream::{ByteStreamExt, StreamError};

use crate::tool::ToolDefinition;

mod body;
mod options;

pub use options::RequestOptions;

/// A client failure before the stream starts.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The provider's API key variable is not set.
    MissingApiKey {
        /// The environment variable.
        var: &'static str,
    },
    /// The provider answered with an error status.
    Http {
        /// The HTTP status.
        status: u16,
        /// The provider's error type, when its body says.
        kind: Option<String>,
        /// The provider's message (or the body).
        message: String,
    },
    /// The request could not be sent.
    Transport(reqwest::Error),
    /// The provider has no HTTP client here yet (Bedrock needs AWS signing; its request
    /// bodies are built).
    Unsupported(Provider),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::MissingApiKey { var } => {
                write!(f, "the {var} environment variable is not set")
            }
            ClientError::Http {
                status,
                kind: Some(kind),
                message,
            } => write!(f, "http {status} {kind}: {message}"),
            ClientError::Http {
                status, message, ..
            } => write!(f, "http {status}: {message}"),
            ClientError::Transport(e) => write!(f, "request failed: {e}"),
            ClientError::Unsupported(p) => write!(f, "no http client for {p}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Transport(e) => Some(e),
            _ => None,
        }
    }
}

/// The items of a model response stream.
pub type EventResult = Result<StreamEvent, StreamError<DecodeError, reqwest::Error>>;

/// A streaming client for one provider and model.
#[derive(Debug, Clone)]
pub struct ModelClient {
    http: reqwest::Client,
    provider: Provider,
    base_url: String,
    api_key: String,
    model: String,
    max_tokens: u64,
    system: Option<String>,
    caching: PromptCaching,
    options: RequestOptions,
}

impl ModelClient {
    /// The environment variable holding `provider`'s API key.
    pub fn api_key_var(provider: Provider) -> &'static str {
        match provider {
            Provider::Anthropic => "ANTHROPIC_API_KEY",
            Provider::OpenAiChat | Provider::OpenAiResponses => "OPENAI_API_KEY",
            Provider::Gemini => "GEMINI_API_KEY",
            Provider::Bedrock => "AWS_ACCESS_KEY_ID",
        }
    }

    /// The provider's public API base URL.
    pub fn default_base_url(provider: Provider) -> &'static str {
        match provider {
            Provider::Anthropic => "https://api.anthropic.com",
            Provider::OpenAiChat | Provider::OpenAiResponses => "https://api.openai.com",
            Provider::Gemini => "https://generativelanguage.googleapis.com",
            Provider::Bedrock => "https://bedrock-runtime.us-east-1.amazonaws.com",
        }
    }

    /// A client with the API key from the provider's environment variable.
    ///
    /// # Errors
    ///
    /// [`ClientError::MissingApiKey`] when it is not set; [`ClientError::Unsupported`] for
    /// Bedrock.
    pub fn from_env(provider: Provider, model: impl Into<String>) -> Result<Self, ClientError> {
        let var = Self::api_key_var(provider);
        let key = std::env::var(var).map_err(|_| ClientError::MissingApiKey { var })?;
        Self::new(provider, model, key)
    }

    /// A client with an explicit API key.
    ///
    /// # Errors
    ///
    /// None yet (a client whose HTTP stack cannot start reports it as
    /// [`ClientError::Transport`]). A Bedrock client builds request bodies; its
    /// [`stream`](Self::stream) answers [`ClientError::Unsupported`] until it can sign them.
    pub fn new(
        provider: Provider,
        model: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Result<Self, ClientError> {
        Ok(ModelClient {
            http: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .build()
                .map_err(ClientError::Transport)?,
            provider,
            base_url: Self::default_base_url(provider).to_owned(),
            api_key: api_key.into(),
            model: model.into(),
            max_tokens: 4096,
            system: None,
            caching: PromptCaching::default(),
            options: RequestOptions::default(),
        })
    }

    /// Sends requests to `base_url` instead of the provider's (a proxy, a compatible
    /// server, the mock server).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The system prompt (default: none).
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// The output token limit, where the provider asks for one (default 4096).
    pub fn max_tokens(mut self, n: u64) -> Self {
        self.max_tokens = n;
        self
    }

    /// Prompt-cache breakpoints for the providers that cache only where asked (SPEC §9;
    /// default [`PromptCaching::FiveMinutes`]): Anthropic `cache_control` on the last tool,
    /// the system prompt, the last message and the message that ended the previous request
    /// (at most 4 in all); Bedrock `cachePoint` blocks in the same places, for the models
    /// that take them. OpenAI and Gemini cache on their own.
    pub fn prompt_caching(mut self, caching: PromptCaching) -> Self {
        self.caching = caching;
        self
    }

    /// Options for every request: sampling, stop sequences, tool choice, reasoning, extra
    /// headers and body fields (default: none; the provider's defaults apply).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    /// The request options.
    pub fn request_options(&self) -> &RequestOptions {
        &self.options
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The model requests go to.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// A user message in the provider's format.
    pub fn user_message(&self, text: &str) -> Box<RawValue> {
        match self.provider {
            Provider::Gemini => to_raw(&J::Obj(vec![
                ("role", J::Str("user")),
                ("parts", J::Arr(vec![J::Obj(vec![("text", J::Str(text))])])),
            ])),
            Provider::Bedrock => to_raw(&J::Obj(vec![
                ("role", J::Str("user")),
                (
                    "content",
                    J::Arr(vec![J::Obj(vec![("text", J::Str(text))])]),
                ),
            ])),
            _ => to_raw(&J::Obj(vec![
                ("role", J::Str("user")),
                ("content", J::Str(text)),
            ])),
        }
    }

    fn url(&self) -> String {
        match self.provider {
            Provider::Anthropic => format!("{}/v1/messages", self.base_url),
            Provider::OpenAiChat => format!("{}/v1/chat/completions", self.base_url),
            Provider::OpenAiResponses => format!("{}/v1/responses", self.base_url),
            // "The model ID must be URL-encoded" (a model ARN holds `:` and `/`).
            Provider::Bedrock => format!(
                "{}/model/{}/converse-stream",
                self.base_url,
                percent_encode(&self.model)
            ),
            Provider::Gemini => format!(
                "{}/v1beta/models/{}:streamGenerateContent?alt=sse",
                self.base_url, self.model
            ),
        }
    }

    /// Sends the request and returns the response's unified events as they stream.
    ///
    /// # Errors
    ///
    /// [`ClientError::Transport`] when the request cannot be sent, [`ClientError::Http`]
    /// for an error status (with the provider's error type and message when its body has
    /// them).
    pub async fn stream(
        &self,
        history: &[Box<RawValue>],
        tools: &[ToolDefinition],
    ) -> Result<impl Stream<Item = EventResult> + Send + Unpin + 'static, ClientError> {
        if self.provider == Provider::Bedrock {
            return Err(ClientError::Unsupported(self.provider));
        }
        let mut req = self
            .http
            .post(self.url())
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(self.request_body(history, tools));
        req = match self.provider {
            Provider::Anthropic => {
                let req = req
                    .header("x-api-key", &self.api_key)
                    .header("anthropic-version", "2023-06-01");
                // The 1-hour cache TTL shipped as this beta; the API still accepts it.
                match self.caching {
                    PromptCaching::OneHour => {
                        req.header("anthropic-beta", "extended-cache-ttl-2025-04-11")
                    }
                    _ => req,
                }
            }
            Provider::Gemini => req.header("x-goog-api-key", &self.api_key),
            _ => req.bearer_auth(&self.api_key),
        };
        let response = req.send().await.map_err(ClientError::Transport)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(http_error(status.as_u16(), &body));
        }
        Ok(Box::pin(
            response.bytes_stream().stream_events(self.provider),
        ))
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters, as AWS wants a
/// path segment.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads the provider's error body: Anthropic `{"error":{"type","message"}}`, OpenAI
/// `{"error":{"type"|"code","message"}}`, Gemini `{"error":{"status","message"}}`.
fn http_error(status: u16, body: &str) -> ClientError {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let e = &v["error"];
    let kind = e["type"]
        .as_str()
        .or_else(|| e["status"].as_str())
        .or_else(|| e["code"].as_str())
        .map(str::to_owned);
    let message = e["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.chars().take(500).collect());
    ClientError::Http {
        status,
        kind,
        message,
    }
}
