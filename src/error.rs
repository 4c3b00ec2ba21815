//! Errors of the decoding pipeline.

use std::fmt;

use crate::eventstream::EventStreamError;
use crate::provider::Provider;
use crate::sse::SseError;

/// A failure to decode a provider stream.
///
/// Framing errors ([`DecodeError::Sse`], [`DecodeError::EventStream`]) are fatal: the
/// decoder is fused after one. A payload that does not parse
/// ([`DecodeError::InvalidPayload`]) concerns one event; that event is skipped and decoding
/// may go on.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// The SSE framing failed (a size limit was exceeded).
    Sse(SseError),
    /// The AWS event-stream framing failed (bad CRC, bad length, truncated frame).
    EventStream(EventStreamError),
    /// An event of a known type carried a payload that is not what the provider documents.
    InvalidPayload {
        /// The provider whose format was expected.
        provider: Provider,
        /// The event type (SSE event name, payload `type`, or event-stream `:event-type`).
        event: String,
        /// Why it did not parse.
        source: serde_json::Error,
    },
    /// A payload field had a value the provider does not document.
    InvalidField {
        /// The provider whose format was expected.
        provider: Provider,
        /// The event type.
        event: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// The input is SSE but the provider speaks AWS event-stream, or the reverse.
    WrongFraming {
        /// The provider whose decoder got the frame.
        provider: Provider,
    },
    /// `auto` could not tell the provider from the first events.
    UnknownProvider {
        /// What was seen.
        reason: String,
    },
    /// The decoder was used after a fatal error.
    Failed,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Sse(e) => fmt::Display::fmt(e, f),
            DecodeError::EventStream(e) => fmt::Display::fmt(e, f),
            DecodeError::InvalidPayload {
                provider,
                event,
                source,
            } => write!(f, "invalid {provider} {event:?} payload: {source}"),
            DecodeError::InvalidField {
                provider,
                event,
                reason,
            } => write!(f, "invalid {provider} {event:?} payload: {reason}"),
            DecodeError::WrongFraming { provider } => match provider {
                Provider::Bedrock => f.write_str("bedrock streams are aws event-stream, not sse"),
                _ => write!(f, "{provider} streams are sse, not aws event-stream"),
            },
            DecodeError::UnknownProvider { reason } => {
                write!(f, "could not detect the provider: {reason}")
            }
            DecodeError::Failed => f.write_str("decoder used after an earlier fatal error"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Sse(e) => Some(e),
            DecodeError::EventStream(e) => Some(e),
            DecodeError::InvalidPayload { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl DecodeError {
    /// Whether the decoder is fused after this error (framing failures).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            DecodeError::Sse(_)
                | DecodeError::EventStream(_)
                | DecodeError::WrongFraming { .. }
                | DecodeError::UnknownProvider { .. }
                | DecodeError::Failed
        )
    }
}

impl From<SseError> for DecodeError {
    fn from(e: SseError) -> Self {
        DecodeError::Sse(e)
    }
}

impl From<EventStreamError> for DecodeError {
    fn from(e: EventStreamError) -> Self {
        DecodeError::EventStream(e)
    }
}
