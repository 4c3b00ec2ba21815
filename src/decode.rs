//! Bytes to [`StreamEvent`]s: framing (SSE or AWS event-stream) and a provider decoder,
//! as one synchronous push parser.

mod raw_json;

use raw_json::{Next, RawJson};

use crate::error::DecodeError;
use crate::event::StreamEvent;
use crate::eventstream::{EventStreamDecoder, EventStreamLimits, Message};
use crate::provider::{Provider, ProviderChoice, ProviderDecoder};
use crate::sse::{SseDecoder, SseError, SseEvent, SseEventRef, SseLimits};

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
    /// Gemini's raw JSON error bodies (see `raw_json`): watched on SSE streams that are,
    /// or may turn out to be, Gemini's.
    raw_json: Option<RawJson>,
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
        let raw_json = matches!(provider.provider(), None | Some(Provider::Gemini))
            .then(|| RawJson::new(limits.sse.event_limit()));
        StreamDecoder {
            framing,
            limits,
            provider,
            messages: Vec::new(),
            truncated: false,
            seen_input: false,
            raw_json,
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
    /// still decoded and pushing may go on. When a chunk has several errors, the first
    /// fatal one is returned, else the first one; [`push_positioned`](Self::push_positioned)
    /// reports them all, each where it occurred.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        let mut errors = Vec::new();
        self.push_positioned(chunk, out, &mut errors);
        let mut kept: Option<DecodeError> = None;
        for (_, e) in errors {
            match &kept {
                Some(k) if k.is_fatal() || !e.is_fatal() => {}
                _ => kept = Some(e),
            }
        }
        kept.map_or(Ok(()), Err)
    }

    /// Decodes a chunk like [`push`](Self::push), reporting every error with its position:
    /// the length `out` had when it occurred. Events and errors then come out in stream
    /// order whatever the chunking. After a fatal error nothing more is decoded.
    pub fn push_positioned(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<StreamEvent>,
        errors: &mut Vec<(usize, DecodeError)>,
    ) {
        if chunk.is_empty() {
            return;
        }
        if let Err(e) = self.choose_framing(chunk[0]) {
            errors.push((out.len(), e));
            return;
        }
        let failed_before = errors.len();
        // Auto settled on another provider: stop watching for Gemini's raw JSON bodies.
        if self.raw_json.is_some()
            && self
                .provider
                .provider()
                .is_some_and(|p| p != Provider::Gemini)
        {
            self.raw_json = None;
        }
        let framed = match &mut self.framing {
            Framing::Sse(d) => match &mut self.raw_json {
                None => sse(d, &mut self.provider, chunk, out, errors),
                Some(raw) => sse_with_raw_json(d, raw, &mut self.provider, chunk, out, errors),
            },
            Framing::EventStream(d) => d.push(chunk, &mut self.messages).map_err(DecodeError::from),
            Framing::Failed => Err(DecodeError::Failed),
            Framing::Undecided => unreachable!("decided by choose_framing"),
        };
        for m in self.messages.drain(..) {
            if errors[failed_before..].iter().any(|(_, e)| e.is_fatal()) {
                break;
            }
            if let Err(err) = self.provider.push_message(&m, out) {
                errors.push((out.len(), err));
            }
        }
        self.messages.clear();
        let payload_fatal = errors[failed_before..].iter().any(|(_, e)| e.is_fatal());
        if let Err(e) = framed {
            // A framing error comes after every payload framed before it; after a fatal
            // payload error the stream had already failed.
            if !payload_fatal {
                errors.push((out.len(), e));
            }
            self.framing = Framing::Failed;
        } else if payload_fatal {
            self.framing = Framing::Failed;
        }
    }

    /// Picks the framing from the first byte of the body (`auto`), or checks it against
    /// the provider's.
    fn choose_framing(&mut self, first: u8) -> Result<(), DecodeError> {
        if self.seen_input {
            return Ok(());
        }
        self.seen_input = true;
        // An event-stream message starts with its big-endian total length (under 16 MiB,
        // so a zero byte); SSE is text and never starts with NUL. With the framing fixed,
        // any first byte the length limit allows is accepted.
        let binary = first == 0;
        let max_first_byte = self.limits.event_stream.get_max_message_bytes() >> 24;
        match (&self.framing, self.provider.provider()) {
            (Framing::Undecided, _) => {
                self.framing = if binary {
                    Framing::EventStream(EventStreamDecoder::with_limits(self.limits.event_stream))
                } else {
                    Framing::Sse(SseDecoder::with_limits(self.limits.sse))
                };
            }
            (Framing::Sse(_), Some(provider)) if binary => {
                self.framing = Framing::Failed;
                return Err(DecodeError::WrongFraming { provider });
            }
            (Framing::EventStream(_), Some(provider)) if usize::from(first) > max_first_byte => {
                self.framing = Framing::Failed;
                return Err(DecodeError::WrongFraming { provider });
            }
            _ => {}
        }
        Ok(())
    }

    /// The input failed: what the provider decoder held for input that will not come
    /// (see [`PushDecoder::interrupted`](crate::PushDecoder::interrupted)).
    pub(crate) fn interrupted(&mut self, out: &mut Vec<StreamEvent>) {
        self.provider.interrupted(out);
    }

    /// Ends the input.
    ///
    /// # Errors
    ///
    /// A truncated event-stream frame, [`DecodeError::UnknownProvider`] when `auto` never
    /// recognized a payload, or a payload error from the last events.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        match &mut self.framing {
            Framing::Sse(d) => {
                self.truncated = d.finish()?;
                // google-genai reads a last line without its line end: a balanced body there
                // is complete.
                let gemini = matches!(self.provider.provider(), None | Some(Provider::Gemini));
                let body = self.raw_json.as_mut().and_then(RawJson::finish);
                if let Some(body) = body.filter(|_| gemini) {
                    self.provider
                        .push_sse(&SseEvent::new("message", body), out)?;
                }
            }
            Framing::EventStream(d) => {
                if let Err(e) = d.finish() {
                    self.framing = Framing::Failed;
                    return Err(e.into());
                }
            }
            Framing::Failed => return Err(DecodeError::Failed),
            Framing::Undecided => {}
        }
        // `auto` over bytes that framed no event at all (random bytes are valid SSE with
        // nothing in it): say so rather than end as an empty stream. A stream cut inside its
        // first event is not that: it ends as truncated, as with a named provider.
        if self.seen_input
            && !self.truncated
            && matches!(&self.provider, ProviderDecoder::Auto(held) if held.is_empty())
        {
            return Err(DecodeError::UnknownProvider {
                reason: "the input held no events".into(),
            });
        }
        self.provider.finish(out)
    }
}

/// Decodes an SSE chunk: each event goes straight from the SSE decoder's buffer to the
/// provider decoder. Payload errors are collected in `errors`; the framing error returned.
fn sse(
    d: &mut SseDecoder,
    provider: &mut ProviderDecoder,
    chunk: &[u8],
    out: &mut Vec<StreamEvent>,
    errors: &mut Vec<(usize, DecodeError)>,
) -> Result<(), DecodeError> {
    d.push_with(chunk, to_provider(provider, out, errors))
        .map_err(DecodeError::from)
}

/// Where the SSE decoder hands each event: straight from its buffer to the provider
/// decoder, payload errors collected (none after a fatal one).
fn to_provider<'a>(
    provider: &'a mut ProviderDecoder,
    out: &'a mut Vec<StreamEvent>,
    errors: &'a mut Vec<(usize, DecodeError)>,
) -> impl FnMut(SseEventRef<'_>) + 'a {
    let mut fatal = errors.iter().any(|(_, e)| e.is_fatal());
    move |e| {
        if fatal {
            return;
        }
        if let Err(err) = provider.push_sse_ref(&e, out) {
            fatal = err.is_fatal();
            errors.push((out.len(), err));
        }
    }
}

/// [`sse`], watching for Gemini's raw JSON error bodies: the SSE decoder stops before a
/// line that starts with `{`; from there the body's lines are read by `raw` (and by the
/// SSE decoder too, to which they are fields it ignores), and the body, once its braces
/// balance, is decoded as a payload where it ends, in stream order.
fn sse_with_raw_json(
    d: &mut SseDecoder,
    raw: &mut RawJson,
    provider: &mut ProviderDecoder,
    chunk: &[u8],
    out: &mut Vec<StreamEvent>,
    errors: &mut Vec<(usize, DecodeError)>,
) -> Result<(), DecodeError> {
    let mut rest = chunk;
    loop {
        if !raw.in_body() {
            let stop = d
                .push_with_until_brace_line(rest, to_provider(provider, out, errors))
                .map_err(DecodeError::from)?;
            let Some(at) = stop else {
                return Ok(());
            };
            raw.begin();
            rest = &rest[at..];
        }
        match raw.next(rest) {
            Next::Pass => return sse(d, provider, rest, out, errors),
            Next::Abandoned { at } => {
                sse(d, provider, &rest[..at], out, errors)?;
                rest = &rest[at..];
            }
            Next::Complete { at } => {
                sse(d, provider, &rest[..at], out, errors)?;
                let body = SseEvent::new("message", raw.take_body());
                // Gemini's only: under `auto`, decided by what the stream said before the
                // body (whatever the chunking), never by where a chunk happened to end.
                let gemini = matches!(provider.provider(), None | Some(Provider::Gemini));
                if gemini && !errors.iter().any(|(_, e)| e.is_fatal()) {
                    if let Err(err) = provider.push_sse(&body, out) {
                        errors.push((out.len(), err));
                    }
                }
                rest = &rest[at..];
            }
            Next::TooLarge => {
                return Err(SseError::EventTooLarge {
                    limit: raw_json_limit(d),
                }
                .into())
            }
        }
    }
}

fn raw_json_limit(d: &SseDecoder) -> usize {
    d.limits().event_limit()
}
