//! Request options beyond the conversation itself: sampling, stop sequences, tool choice,
//! reasoning, extra headers and extra body fields, each written the way its provider
//! names it.

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::provider::Provider;

/// The output token limit written when none is set, for the providers that require one
/// (Anthropic's `max_tokens`, Bedrock's `inferenceConfig.maxTokens`).
pub(super) const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Options for every request a [`ModelClient`](super::ModelClient) sends.
///
/// Built with chained setters; each option is left out of the request (the provider's
/// default applies) until it is set. Check a set of options against a provider with
/// [`check`](Self::check) before sending: the providers refuse some combinations with a
/// 400, and a few options do not exist everywhere.
///
/// ```
/// use toolstream::{ReasoningEffort, RequestOptions, ToolChoice};
///
/// let options = RequestOptions::new()
///     .temperature(0.2)
///     .stop_sequences(["END"])
///     .tool_choice(ToolChoice::Tool("get_weather".into()))
///     .reasoning_effort(ReasoningEffort::High)
///     .header("anthropic-beta", "context-1m-2025-08-07")
///     .extra_body_field("metadata", serde_json::json!({"user_id": "u-42"}));
/// assert!(options.check(toolstream::Provider::Anthropic).is_ok());
/// ```
///
/// # Per provider
///
/// | option | anthropic | openai-chat | openai-responses | gemini (`generationConfig.`) | bedrock |
/// |---|---|---|---|---|---|
/// | max tokens | `max_tokens` (4096) | `max_completion_tokens` | `max_output_tokens` | `maxOutputTokens` | `inferenceConfig.maxTokens` (4096) |
/// | temperature | `temperature` (0–1) | `temperature` (0–2) | `temperature` (0–2) | `temperature` (0–2) | `inferenceConfig.temperature` (0–1) |
/// | top p | `top_p` | `top_p` | `top_p` | `topP` | `inferenceConfig.topP` |
/// | stop sequences | `stop_sequences` | `stop` (≤ 4) | error | `stopSequences` (≤ 5) | `inferenceConfig.stopSequences` |
/// | tool choice | `tool_choice` | `tool_choice` | `tool_choice` | `toolConfig.functionCallingConfig` (top level) | `toolConfig.toolChoice` (no `none`) |
/// | reasoning effort | `output_config.effort` (no `minimal`) | `reasoning_effort` | `reasoning.effort` | `thinkingConfig.thinkingLevel` | `additionalModelRequestFields.output_config.effort` (no `minimal`) |
/// | thinking budget | `thinking.budget_tokens` | error | error | `thinkingConfig.thinkingBudget` | `additionalModelRequestFields.thinking.budget_tokens` |
///
/// Max tokens in parentheses is the default written when none is set; the other
/// providers get the field only when it is set. Gemini's `thinkingConfig` also says
/// `includeThoughts: true`, so thought summaries stream as Anthropic's thinking does.
/// Bedrock's reasoning fields are Claude's (`additionalModelRequestFields` is passed to
/// the model as is); other model families take theirs through
/// [`extra_body_field`](RequestOptions::extra_body_field).
///
/// # Key order
///
/// Options never move the keys a request had without them; no option set gives exactly
/// the bytes of a client without options. The keys, in order (the options' own in
/// italics, each written only when set):
///
/// - anthropic: `model`, `max_tokens`, `stream`, *`temperature`, `top_p`,
///   `stop_sequences`, `thinking`, `output_config`*, `system`, `tools`, *`tool_choice`*,
///   `messages`;
/// - openai-chat: `model`, `stream`, `stream_options`, *`max_completion_tokens`,
///   `temperature`, `top_p`, `stop`, `reasoning_effort`*, `tools`, *`tool_choice`*,
///   `messages`;
/// - openai-responses: `model`, `stream`, *`max_output_tokens`, `temperature`, `top_p`,
///   `reasoning`*, `instructions`, `tools`, *`tool_choice`*, `input`;
/// - gemini: `systemInstruction`, `tools`, *`toolConfig`, `generationConfig`*
///   (`maxOutputTokens`, `temperature`, `topP`, `stopSequences`, `thinkingConfig`),
///   `contents`;
/// - bedrock: `messages`, `system`, `inferenceConfig` (`maxTokens`, *`temperature`,
///   `topP`, `stopSequences`*), `toolConfig` (`tools`, *`toolChoice`*),
///   *`additionalModelRequestFields`* (`thinking`, `output_config`);
///
/// then the extra body fields: a key the body has is replaced where it stands, a new key
/// is appended, in the order given.
///
/// The tool choice is written only when the request carries tools: OpenAI refuses
/// `tool_choice` without `tools`, and Bedrock's `toolChoice` lives inside a `toolConfig`
/// that needs them.
#[derive(Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestOptions {
    pub(super) max_tokens: Option<u64>,
    pub(super) temperature: Option<f64>,
    pub(super) top_p: Option<f64>,
    pub(super) stop_sequences: Vec<String>,
    pub(super) tool_choice: Option<ToolChoice>,
    pub(super) effort: Option<ReasoningEffort>,
    pub(super) thinking_budget: Option<u32>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) extra_body: Vec<(String, Value)>,
}

// Header values may be keys: only their names are shown.
impl std::fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RequestOptions")
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .field("top_p", &self.top_p)
            .field("stop_sequences", &self.stop_sequences)
            .field("tool_choice", &self.tool_choice)
            .field("effort", &self.effort)
            .field("thinking_budget", &self.thinking_budget)
            .field("headers", &headers)
            .field("extra_body", &self.extra_body)
            .finish()
    }
}

impl RequestOptions {
    /// No option set: the request is written as without options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The output token limit (default: 4096 for Anthropic and Bedrock, which require
    /// one; none for the others, whose own default applies).
    ///
    /// [`ModelClient::max_tokens`](super::ModelClient::max_tokens) sets this option on
    /// the client's options; [`ModelClient::options`](super::ModelClient::options)
    /// replaces them all, max tokens included.
    pub fn max_tokens(mut self, n: u64) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// The sampling temperature (default: none, the provider's): 0 to 1 for Anthropic
    /// and Bedrock, 0 to 2 for OpenAI and Gemini.
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Nucleus sampling, 0 to 1 (default: none, the provider's).
    pub fn top_p(mut self, p: f64) -> Self {
        self.top_p = Some(p);
        self
    }

    /// Sequences that end the output when generated (default: none). Replaces those set
    /// before. OpenAI Responses has none: [`check`](Self::check) refuses them there.
    pub fn stop_sequences<S: Into<String>>(mut self, stop: impl IntoIterator<Item = S>) -> Self {
        self.stop_sequences = stop.into_iter().map(Into::into).collect();
        self
    }

    /// Whether and which tool the model must call (default: none, the provider's: the
    /// model decides). Written only when the request carries tools.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// How hard the model reasons (default: none, the provider's). Anthropic and
    /// Bedrock take `low`, `medium` and `high`; OpenAI and Gemini `minimal` too. Which
    /// models take which levels is the provider's to say.
    pub fn reasoning_effort(mut self, effort: ReasoningEffort) -> Self {
        self.effort = Some(effort);
        self
    }

    /// A reasoning token budget (default: none). Turns Anthropic's (and Bedrock Claude's)
    /// extended thinking on; sets Gemini's `thinkingBudget` (0 turns thinking off where
    /// the model allows it). OpenAI has no budget: [`check`](Self::check) refuses it
    /// there.
    pub fn thinking_budget(mut self, tokens: u32) -> Self {
        self.thinking_budget = Some(tokens);
        self
    }

    /// An extra HTTP header for every request (default: none), after the client's own
    /// (repeatable; a name given twice is sent twice).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The extra headers, in the order given.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// An extra top-level body field (default: none), for anything the options do not
    /// name: provider betas, `service_tier`, `metadata`, another model family's fields.
    /// A key the body already has is replaced where it stands (the options' own fields
    /// included); a new key is appended after the body's, in the order given. Setting a
    /// key twice keeps its first place and the last value.
    pub fn extra_body_field(mut self, key: impl Into<String>, value: Value) -> Self {
        let key = key.into();
        match self.extra_body.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.extra_body.push((key, value)),
        }
        self
    }

    /// [`extra_body_field`](Self::extra_body_field) for each member of a JSON object
    /// text, in the text's order.
    ///
    /// # Errors
    ///
    /// The text is not JSON, or not an object.
    pub fn extra_body_json(mut self, object: &str) -> Result<Self, serde_json::Error> {
        let Fields(fields) = serde_json::from_str(object)?;
        for (k, v) in fields {
            self = self.extra_body_field(k, v);
        }
        Ok(self)
    }

    /// Whether `provider` takes these options: each option exists there, each value is
    /// in its documented range, and no two options are ones the provider refuses
    /// together. Model-specific limits (which effort levels a model takes, whether it
    /// thinks at all) are left to the provider.
    ///
    /// # Errors
    ///
    /// The first rule broken, in this order: headers, temperature, top p, stop
    /// sequences, tool choice, reasoning effort, thinking budget (and what thinking
    /// rules out), max tokens.
    pub fn check(&self, provider: Provider) -> Result<(), OptionsError> {
        use Provider::*;
        for (name, value) in &self.headers {
            check_header(name, value)?;
        }
        let out_of_range = |option, value: f64, range| OptionsError::OutOfRange {
            provider,
            option,
            value: value.to_string(),
            range,
        };
        if let Some(t) = self.temperature {
            // Anthropic: "Ranges from `0.0` to `1.0`" (Messages API, `temperature`);
            // OpenAI: "between 0 and 2" (Chat Completions and Responses); Gemini:
            // "Values can range from [0.0, 2.0]" (GenerationConfig); Bedrock
            // InferenceConfiguration: "Minimum value of 0. Maximum value of 1."
            let (max, range) = match provider {
                Anthropic | Bedrock => (1.0, "0 to 1"),
                OpenAiChat | OpenAiResponses | Gemini => (2.0, "0 to 2"),
            };
            if !(0.0..=max).contains(&t) {
                return Err(out_of_range("temperature", t, range));
            }
        }
        if let Some(p) = self.top_p {
            if !(0.0..=1.0).contains(&p) {
                return Err(out_of_range("top_p", p, "0 to 1"));
            }
        }
        self.check_stop_sequences(provider)?;
        if provider == Bedrock && self.tool_choice == Some(ToolChoice::None) {
            // Bedrock ToolChoice is a union of `any`, `auto` and `tool` only.
            return Err(OptionsError::Unsupported {
                provider,
                option: "tool choice none",
            });
        }
        if matches!(provider, Anthropic | Bedrock) && self.effort == Some(ReasoningEffort::Minimal)
        {
            // Anthropic `output_config.effort`: "low", "medium", "high", "xhigh", "max".
            return Err(OptionsError::Unsupported {
                provider,
                option: "minimal reasoning effort (low, medium or high)",
            });
        }
        if let Some(budget) = self.thinking_budget {
            match provider {
                OpenAiChat | OpenAiResponses => {
                    return Err(OptionsError::Unsupported {
                        provider,
                        option: "thinking budget (use a reasoning effort)",
                    })
                }
                // "You cannot use both thinking_level and the legacy thinking_budget
                // parameter in the same request. Doing so will return a 400 error."
                // (Gemini 3 developer guide)
                Gemini if self.effort.is_some() => {
                    return Err(OptionsError::Conflict {
                        provider,
                        reason: "a reasoning effort and a thinking budget cannot both be set"
                            .into(),
                    })
                }
                Gemini => {}
                Anthropic | Bedrock => self.check_claude_thinking(provider, budget)?,
            }
        }
        if provider == Bedrock && self.max_tokens == Some(0) {
            // InferenceConfiguration `maxTokens`: "Minimum value of 1."
            return Err(out_of_range("max tokens", 0.0, "at least 1"));
        }
        Ok(())
    }

    fn check_stop_sequences(&self, provider: Provider) -> Result<(), OptionsError> {
        let n = self.stop_sequences.len();
        if n == 0 {
            return Ok(());
        }
        // The limits: OpenAI Chat `stop`: "Up to 4 sequences"; Gemini `stopSequences`:
        // "The set of character sequences (up to 5)"; Bedrock `stopSequences`: "Maximum
        // number of 2500 items", each of "Minimum length of 1". The Responses API has no
        // stop parameter.
        let (max, empty_ok) = match provider {
            Provider::OpenAiResponses => {
                return Err(OptionsError::Unsupported {
                    provider,
                    option: "stop sequences",
                })
            }
            Provider::OpenAiChat => (4, true),
            Provider::Gemini => (5, true),
            Provider::Bedrock => (2500, false),
            Provider::Anthropic => (usize::MAX, true),
        };
        if n > max {
            return Err(OptionsError::OutOfRange {
                provider,
                option: "stop sequences",
                value: n.to_string(),
                range: match max {
                    4 => "at most 4",
                    5 => "at most 5",
                    _ => "at most 2500",
                },
            });
        }
        if !empty_ok && self.stop_sequences.iter().any(String::is_empty) {
            return Err(OptionsError::OutOfRange {
                provider,
                option: "stop sequence",
                value: "\"\"".into(),
                range: "at least 1 character",
            });
        }
        Ok(())
    }

    /// Claude's extended thinking, on Anthropic and on Bedrock.
    ///
    /// Anthropic `thinking.budget_tokens`: "Must be ≥1024 and less than `max_tokens`."
    /// Extended thinking, feature compatibility: "Thinking isn't compatible with
    /// `temperature` or `top_k` modifications as well as forced tool use." "When thinking
    /// is enabled, you can set `top_p` to values between 1 and 0.95." Tool use with
    /// thinking: "only supports `tool_choice: {"type": "auto"}` (the default) or
    /// `tool_choice: {"type": "none"}`". Bedrock's guide to Claude's extended thinking is
    /// stricter on `top_p`: "Thinking isn't compatible with temperature, top_p, or top_k
    /// modifications or forced tool use."
    fn check_claude_thinking(&self, provider: Provider, budget: u32) -> Result<(), OptionsError> {
        let conflict = |reason: String| Err(OptionsError::Conflict { provider, reason });
        if budget < 1024 {
            return Err(OptionsError::OutOfRange {
                provider,
                option: "thinking budget",
                value: budget.to_string(),
                range: "at least 1024",
            });
        }
        let max = self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        if u64::from(budget) >= max {
            return conflict(format!(
                "the thinking budget ({budget}) must be less than max tokens ({max})"
            ));
        }
        if let Some(t) = self.temperature.filter(|t| *t != 1.0) {
            return conflict(format!(
                "temperature {t} with thinking on (leave it unset, or 1)"
            ));
        }
        match (provider, self.top_p) {
            (Provider::Anthropic, Some(p)) if !(0.95..=1.0).contains(&p) => {
                return conflict(format!("top_p {p} with thinking on (0.95 to 1 allowed)"))
            }
            (Provider::Bedrock, Some(p)) => {
                return conflict(format!("top_p {p} with thinking on (leave it unset)"))
            }
            _ => {}
        }
        if let Some(c @ (ToolChoice::Any | ToolChoice::Tool(_))) = &self.tool_choice {
            return conflict(format!(
                "tool choice {c} forces tool use, which thinking does not allow (auto or none)"
            ));
        }
        Ok(())
    }
}

/// RFC 9110: a field name is a token (`tchar`s); a field value has no CR, LF or NUL
/// (and no other control character but tab).
fn check_header(name: &str, value: &str) -> Result<(), OptionsError> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let invalid = |reason| {
        Err(OptionsError::InvalidHeader {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() || !name.bytes().all(tchar) {
        return invalid("not a valid header name");
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return invalid("its value holds a control character");
    }
    Ok(())
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolChoice {
    /// The model decides: anthropic `{"type":"auto"}`, openai `"auto"`, gemini `AUTO`,
    /// bedrock `{"auto":{}}`.
    Auto,
    /// The model must call a tool, any of them: anthropic `{"type":"any"}`, openai
    /// `"required"`, gemini `ANY`, bedrock `{"any":{}}`.
    Any,
    /// The model must not call a tool: anthropic `{"type":"none"}`, openai `"none"`,
    /// gemini `NONE`; Bedrock has no such choice.
    None,
    /// The model must call this tool: anthropic `{"type":"tool","name"}`, openai-chat
    /// `{"type":"function","function":{"name"}}`, openai-responses
    /// `{"type":"function","name"}`, gemini `ANY` with `allowedFunctionNames: [name]`,
    /// bedrock `{"tool":{"name"}}`.
    Tool(String),
}

impl fmt::Display for ToolChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolChoice::Auto => f.write_str("auto"),
            ToolChoice::Any => f.write_str("any"),
            ToolChoice::None => f.write_str("none"),
            ToolChoice::Tool(name) => write!(f, "`{name}`"),
        }
    }
}

/// How hard the model reasons, in the levels the providers share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReasoningEffort {
    /// `minimal` (OpenAI, Gemini `MINIMAL`; not Anthropic).
    Minimal,
    /// `low` (Gemini `LOW`).
    Low,
    /// `medium` (Gemini `MEDIUM`).
    Medium,
    /// `high` (Gemini `HIGH`).
    High,
}

impl ReasoningEffort {
    /// The level as Anthropic and OpenAI spell it: `minimal`, `low`, `medium`, `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }

    /// Gemini's `ThinkingLevel` enum name.
    pub(super) fn gemini(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "MINIMAL",
            ReasoningEffort::Low => "LOW",
            ReasoningEffort::Medium => "MEDIUM",
            ReasoningEffort::High => "HIGH",
        }
    }
}

impl fmt::Display for ReasoningEffort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReasoningEffort {
    type Err = String;

    /// `minimal`, `low`, `medium` or `high`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "minimal" => Ok(ReasoningEffort::Minimal),
            "low" => Ok(ReasoningEffort::Low),
            "medium" => Ok(ReasoningEffort::Medium),
            "high" => Ok(ReasoningEffort::High),
            _ => Err(format!(
                "unknown reasoning effort `{s}` (expected minimal, low, medium or high)"
            )),
        }
    }
}

/// Options a provider does not take.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OptionsError {
    /// The provider has no such option (or no such value of it).
    Unsupported {
        /// The provider.
        provider: Provider,
        /// What it lacks.
        option: &'static str,
    },
    /// A value outside the provider's documented range.
    OutOfRange {
        /// The provider.
        provider: Provider,
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        range: &'static str,
    },
    /// Options the provider refuses together.
    Conflict {
        /// The provider.
        provider: Provider,
        /// Which and why.
        reason: String,
    },
    /// An extra header HTTP cannot carry.
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::Unsupported { provider, option } => {
                write!(f, "{provider} has no {option}")
            }
            OptionsError::OutOfRange {
                provider,
                option,
                value,
                range,
            } => write!(f, "{provider}: {option} {value} is out of range ({range})"),
            OptionsError::Conflict { provider, reason } => write!(f, "{provider}: {reason}"),
            OptionsError::InvalidHeader { name, reason } => {
                write!(f, "header `{}`: {reason}", name.escape_debug())
            }
        }
    }
}

impl std::error::Error for OptionsError {}

/// A JSON object's members in the text's order (`serde_json::Map` sorts its keys).
struct Fields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    fields.push(member);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Members)
    }
}
