//! Thin `Stream` adapters over the push decoders.
//!
//! [`ByteStreamExt`] works on any `Stream<Item = Result<B, E>>` with `B: AsRef<[u8]>`, so
//! `reqwest::Response::bytes_stream()` plugs in directly. [`EventsourceExt`] accepts what
//! users of `eventsource-stream` and `reqwest-eventsource` already have: a stream of
//! `eventsource_stream::Event`.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::stream::FusedStream;
use futures_core::Stream;
use pin_project::pin_project;

use crate::decode::StreamDecoder;
use crate::error::DecodeError;
use crate::event::StreamEvent;
use crate::provider::{ProviderChoice, ProviderDecoder};
use crate::sse::{SseDecoder, SseError, SseEvent};

/// A synchronous push decoder: input in, items out, explicit end of input. What input it
/// takes is said by [`DecodeFrom`].
pub trait PushDecoder {
    /// What it produces.
    type Item;
    /// How it fails.
    type Error;

    /// Ends the input, appending any last items to `out`.
    ///
    /// # Errors
    ///
    /// As the decoder documents.
    fn finish(&mut self, out: &mut Vec<Self::Item>) -> Result<(), Self::Error>;

    /// Whether `error` ends the stream (framing failures) or concerns one item only.
    fn is_fatal(error: &Self::Error) -> bool;

    /// The input failed (a transport error): appends what the decoder already knows to be
    /// complete but was holding for input that will not come (a message whose end marker
    /// came and whose trailing usage did not). Nothing partial is flushed. The default
    /// appends nothing.
    fn interrupted(&mut self, _out: &mut Vec<Self::Item>) {}
}

/// A [`PushDecoder`] that takes inputs of type `T` (byte chunks, or SSE events).
pub trait DecodeFrom<T>: PushDecoder {
    /// Decodes `input`, appending items to `out`.
    ///
    /// # Errors
    ///
    /// As the decoder documents.
    fn push(&mut self, input: T, out: &mut Vec<Self::Item>) -> Result<(), Self::Error>;

    /// Decodes `input`, appending items to `out` and every error to `errors` with its
    /// position (the length `out` had when it occurred), so that a stream can yield them
    /// in order. The default puts [`push`](Self::push)'s error after the input's items.
    fn push_positioned(
        &mut self,
        input: T,
        out: &mut Vec<Self::Item>,
        errors: &mut Vec<(usize, Self::Error)>,
    ) {
        if let Err(e) = self.push(input, out) {
            errors.push((out.len(), e));
        }
    }
}

impl PushDecoder for SseDecoder {
    type Item = SseEvent;
    type Error = SseError;

    fn finish(&mut self, _out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        SseDecoder::finish(self).map(drop)
    }

    fn is_fatal(_: &SseError) -> bool {
        true
    }
}

impl<B: AsRef<[u8]>> DecodeFrom<B> for SseDecoder {
    fn push(&mut self, chunk: B, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        SseDecoder::push(self, chunk.as_ref(), out)
    }
}

impl PushDecoder for StreamDecoder {
    type Item = StreamEvent;
    type Error = DecodeError;

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        StreamDecoder::finish(self, out)
    }

    fn is_fatal(e: &DecodeError) -> bool {
        e.is_fatal()
    }

    fn interrupted(&mut self, out: &mut Vec<StreamEvent>) {
        StreamDecoder::interrupted(self, out);
    }
}

impl<B: AsRef<[u8]>> DecodeFrom<B> for StreamDecoder {
    fn push(&mut self, chunk: B, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        StreamDecoder::push(self, chunk.as_ref(), out)
    }

    fn push_positioned(
        &mut self,
        chunk: B,
        out: &mut Vec<StreamEvent>,
        errors: &mut Vec<(usize, DecodeError)>,
    ) {
        StreamDecoder::push_positioned(self, chunk.as_ref(), out, errors);
    }
}

impl PushDecoder for ProviderDecoder {
    type Item = StreamEvent;
    type Error = DecodeError;

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        ProviderDecoder::finish(self, out)
    }

    fn is_fatal(e: &DecodeError) -> bool {
        e.is_fatal()
    }

    fn interrupted(&mut self, out: &mut Vec<StreamEvent>) {
        ProviderDecoder::interrupted(self, out);
    }
}

impl DecodeFrom<eventsource_stream::Event> for ProviderDecoder {
    fn push(
        &mut self,
        event: eventsource_stream::Event,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        self.push_sse(&SseEvent::from(event), out)
    }
}

impl DecodeFrom<SseEvent> for ProviderDecoder {
    fn push(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        self.push_sse(&event, out)
    }
}

/// An error from a decoding stream: the decoder's, or the transport's (kept as is).
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError<D, T> {
    /// The decoder failed.
    Decode(D),
    /// The underlying stream yielded an error; the stream ends after it.
    Transport(T),
}

impl<D: fmt::Display, T: fmt::Display> fmt::Display for StreamError<D, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Decode(e) => fmt::Display::fmt(e, f),
            StreamError::Transport(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl<D, T> std::error::Error for StreamError<D, T>
where
    D: std::error::Error + 'static,
    T: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Decode(e) => Some(e),
            StreamError::Transport(e) => Some(e),
        }
    }
}

/// Items decoded and not yet yielded, with the errors among them.
#[derive(Debug)]
struct Pending<I, E> {
    /// Items in reverse order, so `pop` yields the oldest; refilled only when empty, so
    /// its allocation is reused.
    items: Vec<I>,
    /// How many items of the current batch were yielded.
    taken: usize,
    /// Errors of the current batch with their positions, latest first.
    errors: Vec<(usize, E)>,
    done: bool,
}

impl<I, E> Pending<I, E> {
    fn new() -> Self {
        Pending {
            items: Vec::new(),
            taken: 0,
            errors: Vec::new(),
            done: false,
        }
    }

    fn next(&mut self) -> Option<Result<I, E>> {
        if self.errors.last().is_some_and(|(at, _)| *at <= self.taken) {
            return self.errors.pop().map(|(_, e)| Err(e));
        }
        let item = self.items.pop()?;
        self.taken += 1;
        Some(Ok(item))
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty() && self.errors.is_empty()
    }

    fn fill<F>(
        &mut self,
        f: impl FnOnce(&mut Vec<I>, &mut Vec<(usize, F)>),
        wrap: impl Fn(F) -> E,
    ) {
        debug_assert!(self.is_empty());
        let mut errors = Vec::new();
        f(&mut self.items, &mut errors);
        self.items.reverse();
        self.taken = 0;
        self.errors
            .extend(errors.into_iter().rev().map(|(at, e)| (at, wrap(e))));
    }
}

/// A stream of decoded items from a stream of inputs (byte chunks, or SSE events). See
/// [`ByteStreamExt`] and [`EventsourceExt`].
///
/// Fused after a transport error or a fatal decode error; a non-fatal decode error (one
/// bad payload) is yielded and decoding goes on.
///
/// # Cancel safety
///
/// Dropping it drops the inner stream; nothing else is held.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct Decoded<S, D: PushDecoder, E> {
    #[pin]
    inner: S,
    decoder: D,
    pending: Pending<D::Item, StreamError<D::Error, E>>,
}

impl<S, D: PushDecoder, E> Decoded<S, D, E> {
    /// Wraps `inner` with `decoder`.
    pub fn new(inner: S, decoder: D) -> Self {
        Decoded {
            inner,
            decoder,
            pending: Pending::new(),
        }
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The decoder (for example to ask [`StreamDecoder::truncated`] at the end).
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// The inner stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner stream; undelivered items are dropped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug, D: PushDecoder + fmt::Debug, E> fmt::Debug for Decoded<S, D, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoded")
            .field("inner", &self.inner)
            .field("decoder", &self.decoder)
            .field("buffered", &self.pending.items.len())
            .field("done", &self.pending.done)
            .finish()
    }
}

impl<S, T, E, D> Stream for Decoded<S, D, E>
where
    S: Stream<Item = Result<T, E>>,
    D: DecodeFrom<T>,
{
    type Item = Result<D::Item, StreamError<D::Error, E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            match this.pending.next() {
                Some(Err(StreamError::Decode(e))) if D::is_fatal(&e) => {
                    // Nothing is decoded after a fatal error.
                    this.pending.done = true;
                    this.pending.items.clear();
                    this.pending.errors.clear();
                    return Poll::Ready(Some(Err(StreamError::Decode(e))));
                }
                Some(next) => return Poll::Ready(Some(next)),
                None => {}
            }
            if this.pending.done {
                return Poll::Ready(None);
            }
            let decoder = &mut *this.decoder;
            match ready!(this.inner.as_mut().poll_next(cx)) {
                Some(Ok(input)) => this.pending.fill(
                    |out, errors| decoder.push_positioned(input, out, errors),
                    StreamError::Decode,
                ),
                Some(Err(e)) => {
                    this.pending.done = true;
                    // A message that had ended before the failure still ends.
                    this.pending.fill(
                        |out, errors| {
                            decoder.interrupted(out);
                            errors.push((out.len(), e));
                        },
                        StreamError::Transport,
                    );
                }
                None => {
                    this.pending.done = true;
                    this.pending.fill(
                        |out, errors| {
                            if let Err(e) = decoder.finish(out) {
                                errors.push((out.len(), e));
                            }
                        },
                        StreamError::Decode,
                    );
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.pending.items.len() + self.pending.errors.len();
        if self.pending.done {
            (buffered, Some(buffered))
        } else {
            (buffered, None)
        }
    }
}

impl<S, T, E, D> FusedStream for Decoded<S, D, E>
where
    S: Stream<Item = Result<T, E>>,
    D: DecodeFrom<T>,
{
    fn is_terminated(&self) -> bool {
        self.pending.done && self.pending.is_empty()
    }
}

/// Decoding adapters for streams of byte chunks.
///
/// ```
/// use futures_util::StreamExt;
/// use toolstream::{ByteStreamExt, Provider, StreamEvent};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let chunks = vec![
///     Ok::<_, std::io::Error>(&b"data: {\"type\":\"message_st"[..]),
///     Ok(&b"op\"}\n\n"[..]),
/// ];
/// let mut events = futures_util::stream::iter(chunks).stream_events(Provider::Anthropic);
/// assert_eq!(events.next().await.unwrap().unwrap(), StreamEvent::MessageStop);
/// assert!(events.next().await.is_none());
/// # });
/// ```
pub trait ByteStreamExt<B, E>: Stream<Item = Result<B, E>> + Sized
where
    B: AsRef<[u8]>,
{
    /// Server-sent events, decoded with the WHATWG rules.
    fn sse_events(self) -> Decoded<Self, SseDecoder, E> {
        Decoded::new(self, SseDecoder::new())
    }

    /// The unified events of `provider` (or [`ProviderChoice::Auto`]).
    fn stream_events(self, provider: impl Into<ProviderChoice>) -> Decoded<Self, StreamDecoder, E> {
        Decoded::new(self, StreamDecoder::new(provider))
    }

    /// The unified events, with a configured [`StreamDecoder`].
    fn stream_events_with(self, decoder: StreamDecoder) -> Decoded<Self, StreamDecoder, E> {
        Decoded::new(self, decoder)
    }
}

impl<S, B, E> ByteStreamExt<B, E> for S
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
}

/// Unified events from a stream of `eventsource_stream::Event`. See [`EventsourceExt`].
pub type EventsourceEvents<S, E> = Decoded<S, ProviderDecoder, E>;

/// Adapters for streams of `eventsource_stream::Event` (from `eventsource-stream` or
/// `reqwest-eventsource`).
pub trait EventsourceExt<E>: Stream<Item = Result<eventsource_stream::Event, E>> + Sized {
    /// The unified events of `provider` (or [`ProviderChoice::Auto`]). Bedrock is not SSE
    /// and yields [`DecodeError::WrongFraming`].
    fn unified_events(self, provider: impl Into<ProviderChoice>) -> EventsourceEvents<Self, E> {
        Decoded::new(self, ProviderDecoder::new(provider))
    }
}

impl<S, E> EventsourceExt<E> for S where S: Stream<Item = Result<eventsource_stream::Event, E>> {}
