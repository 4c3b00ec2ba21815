//! What bounds an [`SseDecoder`](super::SseDecoder), and the errors it reports.

use std::fmt;
use std::num::NonZeroUsize;

/// Default for [`SseLimits::max_line_bytes`]: 8 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Default for [`SseLimits::max_event_bytes`]: 16 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Size limits for [`SseDecoder`](super::SseDecoder).
///
/// The defaults let the largest real provider events through (a few hundred KiB) with a
/// wide margin, and keep the memory a hostile stream can claim per decoder bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    pub(super) max_line: usize,
    pub(super) max_event: usize,
}

impl SseLimits {
    /// The default limits: lines up to 8 MiB, events up to 16 MiB of data.
    pub fn new() -> Self {
        SseLimits {
            max_line: DEFAULT_MAX_LINE_BYTES,
            max_event: DEFAULT_MAX_EVENT_BYTES,
        }
    }

    /// Longest accepted line in bytes, terminator excluded (default 8 MiB,
    /// [`DEFAULT_MAX_LINE_BYTES`]). Comment lines count too.
    pub fn max_line_bytes(mut self, limit: NonZeroUsize) -> Self {
        self.max_line = limit.get();
        self
    }

    /// Largest accepted event: the bytes of its data buffer, the newline between `data`
    /// lines included (default 16 MiB, [`DEFAULT_MAX_EVENT_BYTES`]). Bytes are counted as
    /// received: replacing invalid UTF-8 with U+FFFD can make the delivered string up to
    /// three times larger (each bad byte becomes three).
    pub fn max_event_bytes(mut self, limit: NonZeroUsize) -> Self {
        self.max_event = limit.get();
        self
    }

    /// The line limit in bytes.
    pub fn line_limit(&self) -> usize {
        self.max_line
    }

    /// The event limit in bytes.
    pub fn event_limit(&self) -> usize {
        self.max_event
    }
}

impl Default for SseLimits {
    fn default() -> Self {
        Self::new()
    }
}

/// An error from [`SseDecoder`](super::SseDecoder). The decoder is fused after one: later calls return
/// [`SseError::Failed`] until [`SseDecoder::reset`](super::SseDecoder::reset).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SseError {
    /// A line was longer than [`SseLimits::max_line_bytes`].
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// An event's data was larger than [`SseLimits::max_event_bytes`].
    EventTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The decoder failed earlier and was not reset.
    Failed,
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::LineTooLong { limit } => {
                write!(f, "sse line longer than the limit of {limit} bytes")
            }
            SseError::EventTooLarge { limit } => {
                write!(f, "sse event data larger than the limit of {limit} bytes")
            }
            SseError::Failed => f.write_str("sse decoder used after an earlier error"),
        }
    }
}

impl std::error::Error for SseError {}
