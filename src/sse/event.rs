//! The events an [`SseDecoder`](super::SseDecoder) dispatches: owned, or borrowed from the
//! decoder and its input.

use std::fmt;
use std::sync::Arc;

/// One dispatched server-sent event.
#[derive(Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub(super) event: Arc<str>,
    pub(super) data: String,
    pub(super) id: Arc<str>,
    pub(super) retry: Option<u64>,
}

impl SseEvent {
    /// An event with type `event` and `data`, an empty id and no retry.
    pub fn new(event: impl Into<Arc<str>>, data: impl Into<String>) -> Self {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: Arc::from(""),
            retry: None,
        }
    }

    /// Sets the last event id.
    pub fn with_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the reconnection time in milliseconds.
    pub fn with_retry(mut self, retry: Option<u64>) -> Self {
        self.retry = retry;
        self
    }

    /// The event type (`message` unless an `event` field said otherwise).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The data: the `data` lines joined with `\n`.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// Takes the data out of the event.
    pub fn into_data(self) -> String {
        self.data
    }

    /// The last event id in effect when the event was dispatched (empty if none).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The reconnection time in milliseconds in effect when the event was dispatched.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }
}

impl fmt::Debug for SseEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseEvent")
            .field("event", &&*self.event)
            .field("data", &self.data)
            .field("id", &&*self.id)
            .field("retry", &self.retry)
            .finish()
    }
}

impl From<eventsource_stream::Event> for SseEvent {
    fn from(e: eventsource_stream::Event) -> Self {
        SseEvent {
            event: Arc::from(e.event),
            data: e.data,
            id: Arc::from(e.id),
            retry: e
                .retry
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

/// A dispatched event borrowed from the decoder (see [`SseDecoder::push_with`](super::SseDecoder::push_with)).
#[derive(Debug)]
pub struct SseEventRef<'a> {
    pub(super) event: &'a Arc<str>,
    pub(super) data: std::borrow::Cow<'a, str>,
    pub(super) id: &'a Arc<str>,
    pub(super) retry: Option<u64>,
}

impl SseEventRef<'_> {
    /// The event type.
    pub fn event(&self) -> &str {
        self.event
    }

    /// The data.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The last event id.
    pub fn id(&self) -> &str {
        self.id
    }

    /// The reconnection time in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// The owned event, its data moved rather than copied when the decoder handed it over.
    pub fn into_event(self) -> SseEvent {
        SseEvent {
            event: self.event.clone(),
            data: self.data.into_owned(),
            id: self.id.clone(),
            retry: self.retry,
        }
    }

    /// An owned copy.
    pub fn to_event(&self) -> SseEvent {
        SseEvent {
            event: self.event.clone(),
            data: self.data.clone().into_owned(),
            id: self.id.clone(),
            retry: self.retry,
        }
    }
}
