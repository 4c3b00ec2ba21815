//! Provider decoders: each turns one provider's payloads into [`StreamEvent`]s.
//!
//! | provider | framing | a tool call is complete at |
//! |---|---|---|
//! | `anthropic` | SSE | `content_block_stop` |
//! | `openai-chat` | SSE | `finish_reason` (opt-in: the start of a higher `index`) |
//! | `openai-responses` | SSE | `function_call_arguments.done` / `output_item.done` |
//! | `gemini` | SSE | the `functionCall` part itself (calls arrive whole) |
//! | `bedrock` | AWS event-stream | `contentBlockStop` |
//!
//! Unknown event types are skipped: providers add new ones.

pub mod anthropic;
pub mod bedrock;
pub mod gemini;
mod json_fast;
pub mod openai_chat;
pub mod openai_responses;

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::error::DecodeError;
use crate::event::StreamEvent;
use crate::eventstream::Message;
use crate::sse::{SseEvent, SseEventRef};

/// What the decoders need from an SSE event, owned or borrowed.
trait SseLike {
    fn event(&self) -> &str;
    fn data(&self) -> &str;
    fn to_event(&self) -> SseEvent;
}

impl SseLike for SseEvent {
    fn event(&self) -> &str {
        SseEvent::event(self)
    }
    fn data(&self) -> &str {
        SseEvent::data(self)
    }
    fn to_event(&self) -> SseEvent {
        self.clone()
    }
}

impl SseLike for SseEventRef<'_> {
    fn event(&self) -> &str {
        SseEventRef::event(self)
    }
    fn data(&self) -> &str {
        SseEventRef::data(self)
    }
    fn to_event(&self) -> SseEvent {
        SseEventRef::to_event(self)
    }
}

pub use anthropic::AnthropicDecoder;
pub use bedrock::BedrockDecoder;
pub use gemini::GeminiDecoder;
pub use openai_chat::{OpenAiChatDecoder, OpenAiChatOptions};
pub use openai_responses::OpenAiResponsesDecoder;

/// A provider wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions and OpenAI-compatible servers (Groq, Mistral, DeepSeek,
    /// OpenRouter, xAI, ...).
    OpenAiChat,
    /// OpenAI Responses API.
    OpenAiResponses,
    /// Google Gemini `streamGenerateContent?alt=sse`.
    Gemini,
    /// Amazon Bedrock `ConverseStream` (and Anthropic models through
    /// `InvokeModelWithResponseStream`).
    Bedrock,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 5] = [
        Provider::Anthropic,
        Provider::OpenAiChat,
        Provider::OpenAiResponses,
        Provider::Gemini,
        Provider::Bedrock,
    ];

    /// The name used on the command line and in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAiChat => "openai-chat",
            Provider::OpenAiResponses => "openai-responses",
            Provider::Gemini => "gemini",
            Provider::Bedrock => "bedrock",
        }
    }

    /// Whether the provider streams AWS event-stream frames rather than SSE.
    pub fn is_event_stream(self) -> bool {
        self == Provider::Bedrock
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a provider name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProviderName(pub String);

impl fmt::Display for UnknownProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown provider `{}` (expected anthropic, openai-chat, openai-responses, gemini, bedrock or auto)",
            self.0
        )
    }
}

impl std::error::Error for UnknownProviderName {}

impl FromStr for Provider {
    type Err = UnknownProviderName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProviderName(s.to_owned()))
    }
}

/// Which decoder to use: one provider, or `auto` detection from the first events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderChoice {
    /// Detect the provider from the first events.
    Auto,
    /// This provider.
    Fixed(Provider),
}

impl FromStr for ProviderChoice {
    type Err = UnknownProviderName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            Ok(ProviderChoice::Auto)
        } else {
            s.parse().map(ProviderChoice::Fixed)
        }
    }
}

impl From<Provider> for ProviderChoice {
    fn from(p: Provider) -> Self {
        ProviderChoice::Fixed(p)
    }
}

/// A decoder for one provider's payloads: SSE events in, [`StreamEvent`]s out.
///
/// # Termination
///
/// Call [`finish`](Self::finish) at end of input. Nothing is invented at the end: a tool
/// call without its provider's end marker stays incomplete.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProviderDecoder {
    /// Anthropic.
    Anthropic(AnthropicDecoder),
    /// OpenAI Chat Completions.
    OpenAiChat(OpenAiChatDecoder),
    /// OpenAI Responses.
    OpenAiResponses(OpenAiResponsesDecoder),
    /// Gemini.
    Gemini(GeminiDecoder),
    /// Bedrock.
    Bedrock(BedrockDecoder),
    /// Not decided yet: SSE events are held until one tells the provider.
    Auto(Vec<SseEvent>),
}

/// How many undecidable SSE events `auto` holds before giving up.
const AUTO_MAX_HELD: usize = 16;
/// How many bytes of undecidable SSE data `auto` holds before giving up.
const AUTO_MAX_HELD_BYTES: usize = 1024 * 1024;

impl ProviderDecoder {
    /// A decoder for `choice`.
    pub fn new(choice: impl Into<ProviderChoice>) -> Self {
        match choice.into() {
            ProviderChoice::Auto => ProviderDecoder::Auto(Vec::new()),
            ProviderChoice::Fixed(p) => Self::for_provider(p),
        }
    }

    fn for_provider(p: Provider) -> Self {
        match p {
            Provider::Anthropic => ProviderDecoder::Anthropic(AnthropicDecoder::new()),
            Provider::OpenAiChat => ProviderDecoder::OpenAiChat(OpenAiChatDecoder::new()),
            Provider::OpenAiResponses => {
                ProviderDecoder::OpenAiResponses(OpenAiResponsesDecoder::new())
            }
            Provider::Gemini => ProviderDecoder::Gemini(GeminiDecoder::new()),
            Provider::Bedrock => ProviderDecoder::Bedrock(BedrockDecoder::new()),
        }
    }

    /// The provider, once known.
    pub fn provider(&self) -> Option<Provider> {
        match self {
            ProviderDecoder::Anthropic(_) => Some(Provider::Anthropic),
            ProviderDecoder::OpenAiChat(_) => Some(Provider::OpenAiChat),
            ProviderDecoder::OpenAiResponses(_) => Some(Provider::OpenAiResponses),
            ProviderDecoder::Gemini(_) => Some(Provider::Gemini),
            ProviderDecoder::Bedrock(_) => Some(Provider::Bedrock),
            ProviderDecoder::Auto(_) => None,
        }
    }

    /// Decodes one SSE event.
    ///
    /// # Errors
    ///
    /// [`DecodeError::InvalidPayload`] when a known event does not parse (the event is
    /// skipped; decoding may go on), [`DecodeError::WrongFraming`] for Bedrock.
    pub fn push_sse(
        &mut self,
        event: &SseEvent,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        self.push_any(event, out)
    }

    /// Decodes one SSE event borrowed from the decoder (no copy of its data).
    ///
    /// # Errors
    ///
    /// As [`push_sse`](Self::push_sse).
    pub fn push_sse_ref(
        &mut self,
        event: &SseEventRef<'_>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        self.push_any(event, out)
    }

    fn push_any<E: SseLike>(
        &mut self,
        event: &E,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let result = match self {
            ProviderDecoder::Anthropic(d) => d.push(event.data(), out),
            ProviderDecoder::OpenAiChat(d) => d.push(event.data(), out),
            ProviderDecoder::OpenAiResponses(d) => d.push(event.data(), out),
            ProviderDecoder::Gemini(d) => d.push(event.data(), out),
            ProviderDecoder::Bedrock(_) => Err(DecodeError::WrongFraming {
                provider: Provider::Bedrock,
            }),
            ProviderDecoder::Auto(held) => match detect(event.data()) {
                Some(p) => {
                    let held = std::mem::take(held);
                    *self = Self::for_provider(p);
                    // Replay everything, the current event included, even past a bad one;
                    // report the first error.
                    let mut first_error = None;
                    for e in &held {
                        if let Err(err) = self.push_sse(e, out) {
                            first_error.get_or_insert(err);
                        }
                    }
                    if let Err(err) = self.push_any(event, out) {
                        first_error.get_or_insert(err);
                    }
                    first_error.map_or(Ok(()), Err)
                }
                None => {
                    let bytes =
                        held.iter().map(|e| e.data().len()).sum::<usize>() + event.data().len();
                    if held.len() < AUTO_MAX_HELD && bytes <= AUTO_MAX_HELD_BYTES {
                        held.push(event.to_event());
                        Ok(())
                    } else {
                        Err(DecodeError::UnknownProvider {
                            reason: format!(
                                "none of the first {} events ({bytes} bytes) is recognizable",
                                held.len() + 1
                            ),
                        })
                    }
                }
            },
        };
        // A payload that is not JSON at all is best named by its SSE event name.
        result.map_err(|e| match e {
            DecodeError::InvalidPayload {
                provider, source, ..
            } if event.event() != "message" && source.is_syntax() => DecodeError::InvalidPayload {
                provider,
                event: event.event().to_owned(),
                source,
            },
            e => e,
        })
    }

    /// Decodes one AWS event-stream message.
    ///
    /// # Errors
    ///
    /// As [`push_sse`](Self::push_sse); [`DecodeError::WrongFraming`] for SSE providers.
    pub fn push_message(
        &mut self,
        message: &Message,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        if let ProviderDecoder::Auto(held) = self {
            if !held.is_empty() {
                return Err(DecodeError::UnknownProvider {
                    reason: "sse events then aws event-stream frames".into(),
                });
            }
            *self = Self::for_provider(Provider::Bedrock);
        }
        match self {
            ProviderDecoder::Bedrock(d) => d.push(message, out),
            other => Err(DecodeError::WrongFraming {
                provider: other.provider().unwrap_or(Provider::Anthropic),
            }),
        }
    }

    /// The input failed: the stop of a message that had ended, if it was held for the
    /// usage that follows it (OpenAI Chat, Bedrock).
    pub(crate) fn interrupted(&mut self, out: &mut Vec<StreamEvent>) {
        match self {
            ProviderDecoder::OpenAiChat(d) => d.release_stop(out),
            ProviderDecoder::Bedrock(d) => d.release_stop(out),
            _ => {}
        }
    }

    /// End of input.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownProvider`] when `auto` held events and never recognized one.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        match self {
            ProviderDecoder::Anthropic(d) => d.finish(out),
            ProviderDecoder::OpenAiChat(d) => d.finish(out),
            ProviderDecoder::OpenAiResponses(d) => d.finish(out),
            ProviderDecoder::Gemini(d) => d.finish(out),
            ProviderDecoder::Bedrock(d) => d.finish(out),
            ProviderDecoder::Auto(held) if held.is_empty() => Ok(()),
            ProviderDecoder::Auto(held) => Err(DecodeError::UnknownProvider {
                reason: format!("{} events, none recognizable", held.len()),
            }),
        }
    }
}

/// Tells the provider from one SSE payload, if it can.
///
/// Anthropic and Responses payloads carry a `type` (`message_start`, `response.created`);
/// Chat Completions chunks have `"object":"chat.completion.chunk"` or `choices`; Gemini
/// chunks have `candidates`, `usageMetadata` or `promptFeedback`.
pub fn detect(data: &str) -> Option<Provider> {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
        object: Option<std::borrow::Cow<'a, str>>,
        choices: Option<serde::de::IgnoredAny>,
        candidates: Option<serde::de::IgnoredAny>,
        #[serde(rename = "usageMetadata")]
        usage_metadata: Option<serde::de::IgnoredAny>,
        #[serde(rename = "promptFeedback")]
        prompt_feedback: Option<serde::de::IgnoredAny>,
        error: Option<serde::de::IgnoredAny>,
        sequence_number: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_str(data).ok()?;
    if let Some(kind) = probe.kind.as_deref() {
        if kind.starts_with("response.") {
            return Some(Provider::OpenAiResponses);
        }
        match kind {
            // Responses numbers its events; Anthropic's error event has no sequence number.
            "error" if probe.error.is_some() && probe.sequence_number.is_none() => {
                return Some(Provider::Anthropic)
            }
            k if k != "error" && anthropic::is_known(k) => return Some(Provider::Anthropic),
            "error" => return Some(Provider::OpenAiResponses),
            _ => {}
        }
    }
    if probe.object.as_deref() == Some("chat.completion.chunk") || probe.choices.is_some() {
        return Some(Provider::OpenAiChat);
    }
    if probe.candidates.is_some()
        || probe.usage_metadata.is_some()
        || probe.prompt_feedback.is_some()
    {
        return Some(Provider::Gemini);
    }
    None
}

/// Parses a payload, naming the provider and event on failure.
pub(crate) fn parse<'a, T: Deserialize<'a>>(
    provider: Provider,
    event: &str,
    data: &'a str,
) -> Result<T, DecodeError> {
    serde_json::from_str(data).map_err(|source| DecodeError::InvalidPayload {
        provider,
        event: event.to_owned(),
        source,
    })
}

/// Parses a payload whose JSON `type` names the event. When the typed parse fails and the
/// `type` is not one `known` accepts, the event is skipped (`Ok(None)`): providers add
/// event types, and a new one may reuse a field name with another shape.
pub(crate) fn parse_typed<'a, T: Deserialize<'a>>(
    provider: Provider,
    data: &'a str,
    known: fn(&str) -> bool,
) -> Result<Option<T>, DecodeError> {
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    match serde_json::from_str(data) {
        Ok(t) => Ok(Some(t)),
        Err(source) => match serde_json::from_str::<Kind>(data) {
            Ok(k) if !known(&k.kind) => Ok(None),
            Ok(k) => Err(DecodeError::InvalidPayload {
                provider,
                event: k.kind.into_owned(),
                source,
            }),
            Err(_) => Err(DecodeError::InvalidPayload {
                provider,
                event: "message".into(),
                source,
            }),
        },
    }
}

/// Hands out block indices in order of appearance, for providers whose wire format has
/// no block index of its own (or one that does not count blocks).
#[derive(Debug, Default, Clone)]
pub(crate) struct BlockCounter(usize);

impl BlockCounter {
    pub(crate) fn next(&mut self) -> usize {
        let i = self.0;
        self.0 += 1;
        i
    }
}
