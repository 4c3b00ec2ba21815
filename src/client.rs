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
use crate::request::cache::{
    anthropic_message, bedrock_cache_points, bedrock_message, message_breakpoints,
};
use crate::request::{to_raw, PromptCaching, J};
use crate::stream::{ByteStreamExt, StreamError};
use crate::tool::ToolDefinition;

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

    /// The request body for `history` with `tools`: same inputs, same bytes.
    pub fn request_body(&self, history: &[Box<RawValue>], tools: &[ToolDefinition]) -> String {
        let schemas: Vec<Box<RawValue>> = tools
            .iter()
            .map(|t| RawValue::from_string(t.schema.to_string()).expect("a Value is valid JSON"))
            .collect();
        let messages = J::Arr(history.iter().map(|m| J::Raw(m)).collect());
        let system = self.system.as_deref();
        // The breakpoint marker and the messages carrying it (SPEC §9), after the tools
        // and the system prompt.
        let fixed =
            usize::from(!tools.is_empty()) + usize::from(system.is_some_and(|s| !s.is_empty()));
        let (marker, marked) = match self.provider {
            Provider::Anthropic if self.caching.is_on() => (
                raw(self.caching.anthropic_marker()),
                message_breakpoints(history, fixed, |m| anthropic_message(m, self.caching)),
            ),
            Provider::Bedrock if self.caching.is_on() => match bedrock_cache_points(&self.model) {
                Some(points) => {
                    let fixed = usize::from(system.is_some())
                        + usize::from(points.tools && !tools.is_empty());
                    (
                        raw(self.caching.bedrock_block(points.one_hour)),
                        message_breakpoints(history, fixed, |m| {
                            bedrock_message(m, self.caching, points.one_hour)
                        }),
                    )
                }
                None => (raw("null"), Vec::new()),
            },
            _ => (raw("null"), Vec::new()),
        };
        let body = match self.provider {
            Provider::Anthropic => {
                let caching = self.caching.is_on();
                let mut f = vec![
                    ("model", J::Str(&self.model)),
                    ("max_tokens", J::Num(self.max_tokens)),
                    ("stream", J::Bool(true)),
                ];
                if let Some(s) = system {
                    // A string system prompt cannot carry a breakpoint; one text block can
                    // (not an empty one: "cache_control cannot be set for empty text
                    // blocks").
                    f.push((
                        "system",
                        if caching && !s.is_empty() {
                            J::Arr(vec![J::Obj(vec![
                                ("type", J::Str("text")),
                                ("text", J::Str(s)),
                                ("cache_control", J::Raw(&marker)),
                            ])])
                        } else {
                            J::Str(s)
                        },
                    ));
                }
                if !tools.is_empty() {
                    let last = tools.len() - 1;
                    let mut i = 0;
                    let wrap = |mut d: Vec<_>| {
                        if caching && i == last {
                            d.push(("cache_control", J::Raw(&marker)));
                        }
                        i += 1;
                        J::Obj(d)
                    };
                    f.push((
                        "tools",
                        tool_defs(tools, &schemas, |_| Some("input_schema"), wrap),
                    ));
                }
                f.push(("messages", with_marked(history, &marked)));
                J::Obj(f)
            }
            Provider::OpenAiChat => {
                let mut all = Vec::new();
                if let Some(s) = system {
                    all.push(J::Obj(vec![
                        ("role", J::Str("system")),
                        ("content", J::Str(s)),
                    ]));
                }
                all.extend(history.iter().map(|m| J::Raw(m)));
                let mut f = vec![
                    ("model", J::Str(&self.model)),
                    ("stream", J::Bool(true)),
                    (
                        "stream_options",
                        J::Obj(vec![("include_usage", J::Bool(true))]),
                    ),
                ];
                if !tools.is_empty() {
                    let wrap =
                        |d| J::Obj(vec![("type", J::Str("function")), ("function", J::Obj(d))]);
                    f.push((
                        "tools",
                        tool_defs(tools, &schemas, |_| Some("parameters"), wrap),
                    ));
                }
                f.push(("messages", J::Arr(all)));
                J::Obj(f)
            }
            Provider::OpenAiResponses => {
                let mut f = vec![("model", J::Str(&self.model)), ("stream", J::Bool(true))];
                if let Some(s) = system {
                    f.push(("instructions", J::Str(s)));
                }
                if !tools.is_empty() {
                    // SPEC §6: "Responses function tools say `strict` explicitly". Left out,
                    // Responses normalizes a tool to strict mode, where every property is
                    // required: a schema's optional parameters would become required.
                    let wrap = |mut d: Vec<_>| {
                        d.insert(0, ("type", J::Str("function")));
                        d.push(("strict", J::Bool(false)));
                        J::Obj(d)
                    };
                    f.push((
                        "tools",
                        tool_defs(tools, &schemas, |_| Some("parameters"), wrap),
                    ));
                }
                f.push(("input", messages));
                J::Obj(f)
            }
            Provider::Bedrock => {
                // ConverseStream: the model is in the path; `cachePoint` blocks end the
                // tools, the system prompt and the last message (Claude and Nova only).
                let points = bedrock_cache_points(&self.model).filter(|_| self.caching.is_on());
                let caching = points.is_some();
                let tool_points = points.is_some_and(|p| p.tools);
                let point = &marker;
                let mut f = vec![("messages", with_marked(history, &marked))];
                if let Some(s) = system {
                    let mut blocks = vec![J::Obj(vec![("text", J::Str(s))])];
                    if caching {
                        blocks.push(J::Raw(point));
                    }
                    f.push(("system", J::Arr(blocks)));
                }
                f.push((
                    "inferenceConfig",
                    J::Obj(vec![("maxTokens", J::Num(self.max_tokens))]),
                ));
                if !tools.is_empty() {
                    let J::Arr(mut list) =
                        tool_defs(tools, &schemas, |_| Some("inputSchema"), bedrock_tool)
                    else {
                        unreachable!("tool_defs writes an array")
                    };
                    if tool_points {
                        list.push(J::Raw(point));
                    }
                    f.push(("toolConfig", J::Obj(vec![("tools", J::Arr(list))])));
                }
                J::Obj(f)
            }
            Provider::Gemini => {
                let mut f = Vec::new();
                if let Some(s) = system {
                    f.push((
                        "systemInstruction",
                        J::Obj(vec![(
                            "parts",
                            J::Arr(vec![J::Obj(vec![("text", J::Str(s))])]),
                        )]),
                    ));
                }
                if !tools.is_empty() {
                    // SPEC §6: "Gemini tool schemas go in `parametersJsonSchema` (JSON
                    // Schema, not the OpenAPI subset)": `parameters` refuses
                    // `additionalProperties`, `multipleOf` and more with a 400. A schema
                    // without properties is declared with no parameters at all.
                    let key = |t: &ToolDefinition| {
                        t.schema["properties"]
                            .as_object()
                            .is_some_and(|p| !p.is_empty())
                            .then_some("parametersJsonSchema")
                    };
                    let decls = tool_defs(tools, &schemas, key, J::Obj);
                    f.push((
                        "tools",
                        J::Arr(vec![J::Obj(vec![("functionDeclarations", decls)])]),
                    ));
                }
                f.push(("contents", messages));
                J::Obj(f)
            }
        };
        to_raw(&body).get().to_owned()
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

/// A Bedrock `Tool`: `{"toolSpec":{name, description, inputSchema}}`, where `inputSchema`
/// is a union whose `json` member holds the JSON Schema.
fn bedrock_tool<'a>(d: Vec<(&'a str, J<'a>)>) -> J<'a> {
    let d = d
        .into_iter()
        .map(|(k, v)| match k {
            "inputSchema" => (k, J::Obj(vec![("json", v)])),
            _ => (k, v),
        })
        .collect();
    J::Obj(vec![("toolSpec", J::Obj(d))])
}

/// The history as a JSON array, the `marked` messages in their new bytes.
fn with_marked<'a>(history: &'a [Box<RawValue>], marked: &'a [(usize, Box<RawValue>)]) -> J<'a> {
    J::Arr(
        history
            .iter()
            .enumerate()
            .map(|(i, m)| match marked.iter().find(|(at, _)| *at == i) {
                Some((_, new)) => J::Raw(new),
                None => J::Raw(m),
            })
            .collect(),
    )
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).expect("a constant JSON value")
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

/// Tool definitions as every provider writes them: name, description and the schema
/// under the provider's key (`None`: no schema), each wrapped the provider's way.
fn tool_defs<'a>(
    tools: &'a [ToolDefinition],
    schemas: &'a [Box<RawValue>],
    key: impl Fn(&ToolDefinition) -> Option<&'static str>,
    mut wrap: impl FnMut(Vec<(&'a str, J<'a>)>) -> J<'a>,
) -> J<'a> {
    let list = tools.iter().zip(schemas).map(|(t, s)| {
        let mut d = vec![
            ("name", J::Str(&t.name)),
            ("description", J::Str(&t.description)),
        ];
        if let Some(key) = key(t) {
            d.push((key, J::Raw(s)));
        }
        wrap(d)
    });
    J::Arr(list.collect())
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
