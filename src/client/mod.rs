//! Provider clients over real HTTP: request building (system prompt, history, tool
//! definitions, tool results), the API key from the provider's usual environment variable,
//! a base-URL override, streaming bodies decoded as they arrive, typed HTTP errors.
//!
//! The request body is written with its keys in a fixed order and the history embedded as
//! raw JSON, so the same conversation always produces the same bytes (prompt caches key on
//! them).

use std::time::Duration;

use futures_core::Stream;
use serde_json::value::RawValue;

use crate::error::DecodeError;
use crate::event::StreamEvent;
use crate::provider::Provider;
use crate::request::{to_raw, PromptCaching, J};
use crate::stream::{ByteStreamExt, StreamError};

use crate::tool::ToolDefinition;

mod aws;
mod body;
mod error;
mod options;
mod transport;

pub use error::{ClientError, Timeout};
pub use options::{OptionsError, ReasoningEffort, RequestOptions, ToolChoice};
pub use transport::RetryPolicy;

/// The items of a model response stream.
pub type EventResult = Result<StreamEvent, StreamError<DecodeError, ClientError>>;

/// A streaming client for one provider and model.
///
/// It builds each request in the provider's wire format, sends it (retrying what the
/// provider says may be retried, under connect, idle and total time limits) and yields the
/// response's unified events as they stream. A [`Conversation`](crate::Conversation) drives
/// it turn after turn; one request by hand:
///
#[cfg_attr(feature = "mock", doc = "```")]
#[cfg_attr(not(feature = "mock"), doc = "```ignore")]
/// use std::time::Duration;
/// use futures_util::StreamExt;
/// use toolstream::mock::{MockServer, Script};
/// use toolstream::{ModelClient, Provider, RequestOptions, RetryPolicy};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let server = MockServer::start("127.0.0.1:0".parse()?, Script::new().then_answer("Hi!")).await?;
///     // `ModelClient::from_env(Provider::OpenAiResponses, "gpt-5")?` reads OPENAI_API_KEY.
///     let client = ModelClient::new(Provider::OpenAiResponses, "mock-1", "key")?
///         .base_url(server.base_url())
///         .system("Be brief.")
///         .options(RequestOptions::new().max_tokens(200))
///         .retries(RetryPolicy::new(3))
///         .idle_timeout(Some(Duration::from_secs(60)));
///     let history = [client.user_message("Hello")];
///     let mut events = client.stream(&history, &[]).await?;
///     let mut text = String::new();
///     while let Some(event) = events.next().await {
///         text.extend(event?.text());
///     }
///     assert_eq!(text, "Hi!");
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct ModelClient {
    http: reqwest::Client,
    provider: Provider,
    base_url: String,
    api_key: String,
    model: String,
    system: Option<String>,
    caching: PromptCaching,
    options: RequestOptions,
    retry: RetryPolicy,
    connect_timeout: Duration,
    idle_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    /// How Bedrock requests are authorized (`None` for the other providers).
    bedrock: Option<aws::BedrockAuth>,
}

// No key in debug output.
impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelClient")
            .field("provider", &self.provider)
            .field("base_url", &error::redact(&self.base_url))
            .field("api_key", &"** redacted **")
            .field("model", &self.model)
            .field("system", &self.system)
            .field("caching", &self.caching)
            .field("options", &self.options)
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("bedrock", &self.bedrock)
            .finish_non_exhaustive()
    }
}

/// The connect timeout by default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The idle timeout by default: no byte for this long fails the request.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

fn http_client(connect: Duration) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .build()
        .map_err(|source| ClientError::Transport {
            url: String::new(),
            attempts: 0,
            source,
        })
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

    /// A client with the API key from the provider's environment variable. For Bedrock,
    /// the AWS way: a Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`), or credentials from
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` or the shared
    /// files' profile (`AWS_PROFILE`), each request signed with SigV4; the region from
    /// `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile.
    ///
    /// # Errors
    ///
    /// [`ClientError::MissingApiKey`] when the key is not set; for Bedrock,
    /// [`ClientError::Credentials`] naming the variables and files looked at.
    pub fn from_env(provider: Provider, model: impl Into<String>) -> Result<Self, ClientError> {
        if provider == Provider::Bedrock {
            let auth = aws::BedrockAuth::from_env()?;
            let mut client = Self::new(provider, model, "")?;
            // Without a region (a Bedrock API key alone), only an explicit base URL works.
            client.base_url = auth.region().map(aws::default_base_url).unwrap_or_default();
            client.bedrock = Some(auth);
            return Ok(client);
        }
        let var = Self::api_key_var(provider);
        let key = std::env::var(var).map_err(|_| ClientError::MissingApiKey { var })?;
        Self::new(provider, model, key)
    }

    /// A client with an explicit API key (for Bedrock, a Bedrock API key, sent as a bearer
    /// token to the us-east-1 endpoint unless [`base_url`](Self::base_url) says otherwise;
    /// [`from_env`](Self::from_env) signs with AWS credentials).
    ///
    /// # Errors
    ///
    /// [`ClientError::Transport`] when the HTTP stack cannot start.
    pub fn new(
        provider: Provider,
        model: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Result<Self, ClientError> {
        let api_key = api_key.into();
        let bedrock = (provider == Provider::Bedrock).then(|| aws::BedrockAuth::Bearer {
            token: api_key.clone(),
            region: None,
        });
        Ok(ModelClient {
            http: http_client(CONNECT_TIMEOUT)?,
            provider,
            base_url: Self::default_base_url(provider).to_owned(),
            api_key,
            model: model.into(),
            system: None,
            caching: PromptCaching::default(),
            options: RequestOptions::default(),
            retry: RetryPolicy::default(),
            connect_timeout: CONNECT_TIMEOUT,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            total_timeout: None,
            bedrock,
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

    /// The output token limit: [`RequestOptions::max_tokens`] on the client's options
    /// (default 4096 where the provider asks for one, none elsewhere).
    pub fn max_tokens(mut self, n: u64) -> Self {
        self.options.max_tokens = Some(n);
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

    /// How failed requests are retried (default [`RetryPolicy::default`]: 2 retries with
    /// exponential backoff and full jitter, `retry-after` honoured up to 60 s). Only a
    /// request whose response has not started streaming is retried.
    pub fn retries(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The limit for establishing a connection (default 10 s).
    ///
    /// # Errors
    ///
    /// [`ClientError::Transport`] when the HTTP stack cannot be rebuilt with it.
    pub fn connect_timeout(mut self, limit: Duration) -> Result<Self, ClientError> {
        self.http = http_client(limit)?;
        self.connect_timeout = limit;
        Ok(self)
    }

    /// The longest wait for the next byte, for the response head and between pieces of the
    /// body (default [`DEFAULT_IDLE_TIMEOUT`], 120 s; `None`: wait forever). A stalled
    /// stream fails with [`ClientError::Timeout`] naming [`Timeout::Idle`].
    pub fn idle_timeout(mut self, limit: Option<Duration>) -> Self {
        self.idle_timeout = limit;
        self
    }

    /// The limit for a whole request, retries and the streamed body included (default
    /// none).
    pub fn timeout(mut self, limit: Option<Duration>) -> Self {
        self.total_timeout = limit;
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

    /// The endpoint: the base URL, then the provider's path. A base URL that already ends
    /// with the API version (`.../v1`, Gemini's `.../v1beta`, as SDKs write them) does not
    /// get it twice.
    fn url(&self) -> String {
        let base = &self.base_url;
        let versioned = |version: &str, rest: &str| match base.strip_suffix(version) {
            Some(_) => format!("{base}{rest}"),
            None => format!("{base}{version}{rest}"),
        };
        match self.provider {
            Provider::Anthropic => versioned("/v1", "/messages"),
            Provider::OpenAiChat => versioned("/v1", "/chat/completions"),
            Provider::OpenAiResponses => versioned("/v1", "/responses"),
            // "The model ID must be URL-encoded" (a model ARN holds `:` and `/`).
            Provider::Bedrock => format!(
                "{base}/model/{}/converse-stream",
                percent_encode(&self.model)
            ),
            Provider::Gemini => {
                let rest = format!("/models/{}:streamGenerateContent?alt=sse", self.model);
                match base.strip_suffix("/v1") {
                    Some(_) => format!("{base}{rest}"),
                    None => versioned("/v1beta", &rest),
                }
            }
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
        if self.base_url.is_empty() {
            return Err(ClientError::Credentials(
                "no region for the Bedrock endpoint: set AWS_REGION, or give a base URL".into(),
            ));
        }
        self.options
            .check(self.provider)
            .map_err(ClientError::Options)?;
        let url = self.url();
        let body = self.request_body(history, tools);
        let build = || {
            let accept = match self.provider {
                Provider::Bedrock => "application/vnd.amazon.eventstream",
                _ => "text/event-stream",
            };
            let mut headers: Vec<(String, String)> = vec![
                ("content-type".into(), "application/json".into()),
                ("accept".into(), accept.into()),
            ];
            match self.provider {
                Provider::Anthropic => {
                    headers.push(("x-api-key".into(), self.api_key.clone()));
                    headers.push(("anthropic-version".into(), "2023-06-01".into()));
                    // The 1-hour cache TTL shipped as this beta; the API still accepts it.
                    if self.caching == PromptCaching::OneHour {
                        headers.push((
                            "anthropic-beta".into(),
                            "extended-cache-ttl-2025-04-11".into(),
                        ));
                    }
                }
                Provider::Gemini => headers.push(("x-goog-api-key".into(), self.api_key.clone())),
                // Bedrock's authorization comes from the signature (or its API key) below.
                Provider::Bedrock => {}
                _ => headers.push(("authorization".into(), format!("Bearer {}", self.api_key))),
            }
            // The user's headers replace the client's of the same name, except
            // `anthropic-beta`, a list: the betas are joined.
            for (name, value) in self.options.headers() {
                match headers
                    .iter_mut()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                {
                    Some((n, v)) if n.eq_ignore_ascii_case("anthropic-beta") => {
                        *v = format!("{v},{value}");
                    }
                    Some(slot) => *slot = (name.clone(), value.clone()),
                    None => headers.push((name.clone(), value.clone())),
                }
            }
            if self.provider == Provider::Bedrock {
                // Signed anew for each attempt (a signature carries its time), over every
                // header sent, the user's included.
                let auth = self
                    .bedrock
                    .as_ref()
                    .ok_or(ClientError::Unsupported(self.provider))?;
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
                let signed: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let auth_headers = auth.authorize(
                    "POST",
                    &url,
                    &signed,
                    body.as_bytes(),
                    std::time::SystemTime::now(),
                )?;
                headers.extend(auth_headers);
            }
            Ok(headers
                .iter()
                .fold(self.http.post(&url).body(body.clone()), |req, (n, v)| {
                    req.header(n, v)
                }))
        };
        let deadline = self
            .total_timeout
            .map(|d| (d, tokio::time::Instant::now() + d));
        let limits = transport::Limits {
            connect: self.connect_timeout,
            idle: self.idle_timeout,
        };
        let sent = transport::send(build, &url, self.retry, limits, deadline.map(|(_, at)| at));
        let response = match deadline {
            Some((limit, at)) => match tokio::time::timeout_at(at, sent).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(ClientError::Timeout {
                        which: Timeout::Total,
                        limit,
                        url: error::redact(&url),
                    })
                }
            },
            None => sent.await?,
        };
        let body =
            transport::Guarded::new(response.bytes_stream(), &url, self.idle_timeout, deadline);
        Ok(Box::pin(body.stream_events(self.provider)))
    }

    /// A user message of content parts (text, images) in the provider's format: Anthropic
    /// `image` blocks with a base64 `source`, OpenAI Chat `image_url` parts, Responses
    /// `input_image`, Gemini `inlineData`, Bedrock `image` blocks with `source.bytes`. One
    /// text part gives the same bytes as [`user_message`](Self::user_message).
    pub fn user_message_parts(&self, parts: &[crate::tool::ContentPart]) -> Box<RawValue> {
        match parts {
            [crate::tool::ContentPart::Text(text)] => self.user_message(text),
            _ => crate::conversation::user_message_parts(self.provider, parts),
        }
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
