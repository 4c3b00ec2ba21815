//! Bytes to [`StreamEvent`]s: framing (SSE or AWS event-stream) and a provider decoder,
//! as one synchronous push parser.

use crate::error::DecodeError;
use crate::event::StreamEvent;
use crate::eventstream::{EventStreamDecoder, EventStreamLimits, Message};
use crate::provider::{Provider, ProviderChoice, ProviderDecoder};
use crate::sse::{SseDecoder, SseLimits};

/// Limits for the framing layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FramingLimits {
    /// SSE limits.
    pub sse: SseLimits,
    /// AWS event-stream limits.
    pub event_stream: EventStreamLimits,
}

#[derive(Debug)]
enum Framing {
    /// Not known yet (`auto` before the first byte).
    Undecided,
    Sse(SseDecoder),
    EventStream(EventStreamDecoder),
    Failed,
}

/// Decodes a provider's raw response body into [`StreamEvent`]s.
///
/// With [`ProviderChoice::Auto`], the first byte picks the framing (AWS event-stream
/// messages start with a big-endian length, so a zero byte; SSE is text) and the first
/// recognizable payload picks the provider.
///
/// # Termination
///
/// [`finish`](Self::finish) ends the input: an unterminated SSE event is discarded (the
/// WHATWG rule) and reported by [`truncated`](Self::truncated); a partial event-stream
/// frame is an error.
///
/// # Example
///
/// ```
/// use toolstream::{Provider, StreamDecoder, StreamEvent};
///
/// let body = b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
/// let mut decoder = StreamDecoder::new(Provider::Anthropic);
/// let mut events = Vec::new();
/// decoder.push(body, &mut events)?;
/// decoder.finish(&mut events)?;
/// assert_eq!(events, [StreamEvent::MessageStop]);
/// # Ok::<(), toolstream::DecodeError>(())
/// ```
#[derive(Debug)]
pub struct StreamDecoder {
    framing: Framing,
    limits: FramingLimits,
    provider: ProviderDecoder,
    messages: Vec<Message>,
    truncated: bool,
    seen_input: bool,
    /// The first payload error of the chunk being decoded.
    first_error: Option<DecodeError>,
}

impl StreamDecoder {
    /// A decoder for `provider` (a [`Provider`] or [`ProviderChoice::Auto`]) with default
    /// limits.
    pub fn new(provider: impl Into<ProviderChoice>) -> Self {
        Self::with_limits(provider, FramingLimits::default())
    }

    /// A decoder with the given framing limits.
    pub fn with_limits(provider: impl Into<ProviderChoice>, limits: FramingLimits) -> Self {
        Self::from_provider_decoder(ProviderDecoder::new(provider), limits)
    }

    /// A decoder around a configured provider decoder (for example an
    /// [`OpenAiChatDecoder`](crate::OpenAiChatDecoder) with options).
    pub fn from_provider_decoder(provider: ProviderDecoder, limits: FramingLimits) -> Self {
        let framing = match provider.provider() {
            None => Framing::Undecided,
            Some(p) if p.is_event_stream() => {
                Framing::EventStream(EventStreamDecoder::with_limits(limits.event_stream))
            }
            Some(_) => Framing::Sse(SseDecoder::with_limits(limits.sse)),
        };
        StreamDecoder {
            framing,
            limits,
            provider,
            messages: Vec::new(),
            truncated: false,
            seen_input: false,
            first_error: None,
        }
    }

    /// The provider, once known.
    pub fn provider(&self) -> Option<Provider> {
        self.provider.provider()
    }

    /// Whether [`finish`](Self::finish) discarded an unterminated SSE event.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Decodes a chunk of the body, appending the events it completes to `out`.
    ///
    /// # Errors
    ///
    /// Framing errors are fatal (later calls return [`DecodeError::Failed`]). A payload
    /// error ([`DecodeError::InvalidPayload`]) skips that payload; the rest of the chunk is
    /// still decoded and pushing may go on.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if !self.seen_input {
            self.seen_input = true;
            // An event-stream message starts with its big-endian total length (under
            // 16 MiB, so a zero byte); SSE is text and never starts with NUL. With the
            // framing fixed, any first byte the length limit allows is accepted.
            let binary = chunk[0] == 0;
            let max_first_byte = self.limits.event_stream.get_max_message_bytes() >> 24;
            match (&self.framing, self.provider.provider()) {
                (Framing::Undecided, _) => {
                    self.framing = if binary {
                        Framing::EventStream(EventStreamDecoder::with_limits(
                            self.limits.event_stream,
                        ))
                    } else {
                        Framing::Sse(SseDecoder::with_limits(self.limits.sse))
                    };
                }
                (Framing::Sse(_), Some(provider)) if binary => {
                    self.framing = Framing::Failed;
                    return Err(DecodeError::WrongFraming { provider });
                }
                (Framing::EventStream(_), Some(provider))
                    if usize::from(chunk[0]) > max_first_byte =>
                {
                    self.framing = Framing::Failed;
                    return Err(DecodeError::WrongFraming { provider });
                }
                _ => {}
            }
        }
        let framed = match &mut self.framing {
            // Each event goes straight from the SSE decoder's buffer to the provider decoder.
            Framing::Sse(d) => {
                let provider = &mut self.provider;
                let first = &mut self.first_error;
                d.push_with(chunk, |e| {
                    if let Err(err) = provider.push_sse_ref(&e, out) {
                        first.get_or_insert(err);
                    }
                })
                .map_err(DecodeError::from)
            }
            Framing::EventStream(d) => d.push(chunk, &mut self.messages).map_err(DecodeError::from),
            Framing::Failed => return Err(DecodeError::Failed),
            Framing::Undecided => unreachable!("decided above"),
        };
        let decoded = self.drain(out);
        if let Err(e) = framed {
            self.framing = Framing::Failed;
            return Err(e);
        }
        decoded
    }

    /// Ends the input.
    ///
    /// # Errors
    ///
    /// A truncated event-stream frame, [`DecodeError::UnknownProvider`] when `auto` never
    /// recognized a payload, or a payload error from the last events.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        match &mut self.framing {
            Framing::Sse(d) => self.truncated = d.finish()?,
            Framing::EventStream(d) => {
                if let Err(e) = d.finish() {
                    self.framing = Framing::Failed;
                    return Err(e.into());
                }
            }
            Framing::Failed => return Err(DecodeError::Failed),
            Framing::Undecided => {}
        }
        self.provider.finish(out)
    }

    /// Hands the framed payloads to the provider decoder. Every payload is decoded even
    /// when one fails; the first error is returned.
    fn drain(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let mut first_error = self.first_error.take();
        for m in self.messages.drain(..) {
            if let Err(err) = self.provider.push_message(&m, out) {
                first_error.get_or_insert(err);
            }
        }
        match first_error {
            Some(e) if e.is_fatal() => {
                self.framing = Framing::Failed;
                Err(e)
            }
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
