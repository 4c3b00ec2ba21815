//! Faults the mock injects for clients' resilience tests: the errors real providers answer
//! with (429 with `retry-after`, overload, 500), and the ways a stream goes wrong once it
//! has started (an error event, a stall, a cut connection).
//!
//! A fault applies to one request (`request`, numbered from 1 in arrival order, refused
//! requests included), to the requests answering one scripted turn (`turn`, numbered from
//! 0 as in the script), or to every request; `times` caps how often it fires. The first
//! fault that matches a request and has fires left is the one injected.
//!
//! In a script (`"faults": [...]`) a fault is an object; on `serve`'s command line
//! (`--fault`, repeatable) the same fields after the kind, comma-separated:
//!
//! ```text
//! {"kind": "rate_limit", "request": 1, "retry_after": 2}   rate-limit,request=1,retry-after=2
//! {"kind": "overloaded", "turn": 1, "times": 2}            overloaded,turn=1,times=2
//! {"kind": "server_error"}                                 500
//! {"kind": "error_event", "after_events": 3}               error-event,after-events=3
//! {"kind": "stall", "request": 2, "after_events": 1}       stall,request=2
//! {"kind": "cut", "after_events": 5, "times": 1}           cut,after-events=5,times=1
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use crate::provider::Provider;

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// HTTP 429 with the provider's rate-limit error body; `retry-after` (seconds) and
    /// `retry-after-ms` headers when given.
    RateLimit {
        /// The `retry-after` header, in seconds.
        retry_after: Option<u64>,
        /// The `retry-after-ms` header (OpenAI's SDKs read it first).
        retry_after_ms: Option<u64>,
    },
    /// The provider's "overloaded" answer: Anthropic's 529 `overloaded_error`, 503 from
    /// the others (OpenAI `server_error`, Gemini `UNAVAILABLE`, Bedrock
    /// `ServiceUnavailableException`).
    Overloaded {
        /// The `retry-after` header, in seconds.
        retry_after: Option<u64>,
    },
    /// HTTP 500 with the provider's internal-error body.
    ServerError,
    /// The stream starts (200), then after `after_events` events carries the provider's
    /// mid-stream error event (Anthropic `event: error` with `overloaded_error`, an OpenAI
    /// error chunk, a Responses `error` event, a Gemini error object, a Bedrock
    /// `serviceUnavailableException` message) and ends.
    ErrorEvent {
        /// Events sent before the error.
        after_events: usize,
    },
    /// The stream starts, then after `after_events` events sends nothing more while the
    /// connection stays open: for `pause` when given (then the stream goes on), else until
    /// the client gives up or the server stops.
    Stall {
        /// Events sent before the stall.
        after_events: usize,
        /// How long the stall lasts (forever when `None`).
        pause: Option<Duration>,
    },
    /// The stream starts, then after `after_events` events the connection is closed without
    /// the end of the response (no final chunk): the client sees a truncated body.
    Cut {
        /// Events sent before the cut.
        after_events: usize,
    },
}

impl FaultKind {
    /// Whether it refuses the request (an HTTP error) rather than breaking its stream.
    pub fn refuses(&self) -> bool {
        matches!(
            self,
            FaultKind::RateLimit { .. } | FaultKind::Overloaded { .. } | FaultKind::ServerError
        )
    }
}

/// A fault and the requests it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawFault")]
pub struct Fault {
    kind: FaultKind,
    request: Option<u64>,
    turn: Option<usize>,
    times: Option<u64>,
}

impl Fault {
    /// A fault of `kind` for every request (narrow it with [`Fault::on_request`],
    /// [`Fault::on_turn`], [`Fault::times`]).
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            request: None,
            turn: None,
            times: None,
        }
    }

    /// Only request `n` (from 1, in arrival order, refused requests included).
    pub fn on_request(mut self, n: u64) -> Fault {
        self.request = Some(n);
        self
    }

    /// Only requests answering scripted turn `k` (from 0).
    pub fn on_turn(mut self, k: usize) -> Fault {
        self.turn = Some(k);
        self
    }

    /// At most `n` times.
    pub fn times(mut self, n: u64) -> Fault {
        self.times = Some(n);
        self
    }

    /// What goes wrong.
    pub fn kind(&self) -> FaultKind {
        self.kind
    }

    fn matches(&self, request: u64, turn: usize, fired: u64) -> bool {
        self.request.is_none_or(|r| r == request)
            && self.turn.is_none_or(|t| t == turn)
            && self.times.is_none_or(|n| fired < n)
    }
}

/// A fault as written: every field optional, checked against its kind by `TryFrom`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    kind: String,
    request: Option<u64>,
    turn: Option<usize>,
    times: Option<u64>,
    after_events: Option<usize>,
    retry_after: Option<u64>,
    retry_after_ms: Option<u64>,
    pause_ms: Option<u64>,
}

/// Why a fault cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultError(String);

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FaultError {}

const KINDS: &str =
    "rate_limit (429), overloaded (529), server_error (500), error_event, stall, cut";

impl TryFrom<RawFault> for Fault {
    type Error = FaultError;

    fn try_from(raw: RawFault) -> Result<Fault, FaultError> {
        let kind = raw.kind.replace('-', "_");
        let allow = |fields: &[&str]| -> Result<(), FaultError> {
            let given = [
                ("after_events", raw.after_events.is_some()),
                ("retry_after", raw.retry_after.is_some()),
                ("retry_after_ms", raw.retry_after_ms.is_some()),
                ("pause_ms", raw.pause_ms.is_some()),
            ];
            match given.iter().find(|(f, set)| *set && !fields.contains(f)) {
                Some((f, _)) => Err(FaultError(format!(
                    "fault {}: {f} does not apply to it",
                    raw.kind
                ))),
                None => Ok(()),
            }
        };
        let after_events = raw.after_events.unwrap_or(1);
        let kind = match kind.as_str() {
            "rate_limit" | "429" => {
                allow(&["retry_after", "retry_after_ms"])?;
                FaultKind::RateLimit {
                    retry_after: raw.retry_after,
                    retry_after_ms: raw.retry_after_ms,
                }
            }
            "overloaded" | "529" => {
                allow(&["retry_after"])?;
                FaultKind::Overloaded {
                    retry_after: raw.retry_after,
                }
            }
            "server_error" | "500" => {
                allow(&[])?;
                FaultKind::ServerError
            }
            "error_event" => {
                allow(&["after_events"])?;
                FaultKind::ErrorEvent { after_events }
            }
            "stall" => {
                allow(&["after_events", "pause_ms"])?;
                FaultKind::Stall {
                    after_events,
                    pause: raw.pause_ms.map(Duration::from_millis),
                }
            }
            "cut" => {
                allow(&["after_events"])?;
                FaultKind::Cut { after_events }
            }
            other => {
                return Err(FaultError(format!(
                    "unknown fault kind {other:?} (kinds: {KINDS})"
                )))
            }
        };
        if raw.request == Some(0) {
            return Err(FaultError("requests are numbered from 1".into()));
        }
        if raw.times == Some(0) {
            return Err(FaultError("times must be at least 1".into()));
        }
        Ok(Fault {
            kind,
            request: raw.request,
            turn: raw.turn,
            times: raw.times,
        })
    }
}

/// `KIND[,field=value...]`, the command line's form: `rate-limit,request=1,retry-after=2`.
impl FromStr for Fault {
    type Err = FaultError;

    fn from_str(s: &str) -> Result<Fault, FaultError> {
        let mut parts = s.split(',').map(str::trim);
        let kind = parts.next().unwrap_or_default();
        if kind.is_empty() {
            return Err(FaultError(format!("no fault kind (kinds: {KINDS})")));
        }
        let mut raw = RawFault {
            kind: kind.to_owned(),
            ..RawFault::default()
        };
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                return Err(FaultError(format!("{part:?} is not field=value")));
            };
            let number = |v: &str| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| FaultError(format!("{key}: {v:?} is not a whole number")))
            };
            let n = number(value)?;
            match key.trim().replace('-', "_").as_str() {
                "request" => raw.request = Some(n),
                "turn" => raw.turn = Some(n as usize),
                "times" => raw.times = Some(n),
                "after_events" => raw.after_events = Some(n as usize),
                "retry_after" => raw.retry_after = Some(n),
                "retry_after_ms" => raw.retry_after_ms = Some(n),
                "pause_ms" => raw.pause_ms = Some(n),
                other => {
                    return Err(FaultError(format!(
                        "unknown fault field {other:?} (fields: request, turn, times, \
                         after-events, retry-after, retry-after-ms, pause-ms)"
                    )))
                }
            }
        }
        Fault::try_from(raw)
    }
}

/// The faults of a server and how often each fired.
#[derive(Debug, Default)]
pub(super) struct Faults {
    faults: Vec<Fault>,
    fired: Vec<u64>,
}

impl Faults {
    pub(super) fn new(faults: Vec<Fault>) -> Faults {
        let fired = vec![0; faults.len()];
        Faults { faults, fired }
    }

    /// The fault for request number `request` (from 1) answering turn `turn`, if any; it
    /// counts as fired. A request answered with a whole message (`streaming` false) has no
    /// stream to break: stream faults pass it by, neither fired nor in the way.
    pub(super) fn pick(&mut self, request: u64, turn: usize, streaming: bool) -> Option<FaultKind> {
        let i = self
            .faults
            .iter()
            .zip(&self.fired)
            .position(|(f, &fired)| {
                (streaming || f.kind.refuses()) && f.matches(request, turn, fired)
            })?;
        self.fired[i] += 1;
        Some(self.faults[i].kind)
    }
}

/// The HTTP answer of a fault that refuses the request, `None` for a stream fault.
pub(super) fn refusal(provider: Provider, kind: FaultKind) -> Option<Response> {
    let (status, retry_after, retry_after_ms) = match kind {
        FaultKind::RateLimit {
            retry_after,
            retry_after_ms,
        } => (StatusCode::TOO_MANY_REQUESTS, retry_after, retry_after_ms),
        FaultKind::Overloaded { retry_after } => {
            let status = match provider {
                // "529 - overloaded_error: The API is temporarily overloaded."
                Provider::Anthropic => StatusCode::from_u16(529).ok()?,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, retry_after, None)
        }
        FaultKind::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, None, None),
        _ => return None,
    };
    let (kind, message) = describe(provider, kind);
    let body = match provider {
        Provider::Anthropic => {
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        Provider::Gemini => {
            json!({"error": {"code": status.as_u16(), "message": message, "status": kind}})
        }
        // Bedrock: the message in the body, the exception's name in a header.
        Provider::Bedrock => json!({"message": message}),
        _ => {
            let code = (status == StatusCode::TOO_MANY_REQUESTS).then_some(kind);
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
    };
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if provider == Provider::Bedrock {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
    }
    if let Some(s) = retry_after {
        headers.insert("retry-after", HeaderValue::from(s));
    }
    if let Some(ms) = retry_after_ms {
        headers.insert("retry-after-ms", HeaderValue::from(ms));
    }
    Some(response)
}

/// The provider's error type and message for a fault.
fn describe(provider: Provider, kind: FaultKind) -> (&'static str, &'static str) {
    use FaultKind::*;
    match (provider, kind) {
        (Provider::Anthropic, RateLimit { .. }) => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        ),
        (Provider::Anthropic, ServerError) => ("api_error", "Internal server error"),
        (Provider::Anthropic, _) => ("overloaded_error", "Overloaded"),
        (Provider::Gemini, RateLimit { .. }) => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        (Provider::Gemini, ServerError) => (
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
        (Provider::Gemini, _) => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        (Provider::Bedrock, RateLimit { .. }) => (
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        (Provider::Bedrock, ServerError) => (
            "InternalServerException",
            "The server encountered an error processing your request.",
        ),
        (Provider::Bedrock, _) => (
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
        (_, RateLimit { .. }) => (
            "rate_limit_exceeded",
            "Rate limit reached for requests. Please try again in 1s.",
        ),
        (_, ServerError) => (
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        ),
        (_, _) => (
            "server_error",
            "The engine is currently overloaded, please try again later.",
        ),
    }
}

/// The provider's mid-stream error event, as an SSE frame: Anthropic's `error` event
/// ("we may occasionally send errors in the event stream", e.g. `overloaded_error`), an
/// OpenAI error chunk, a Responses `error` event (numbered `sequence_number`), a Gemini
/// error object. (Bedrock's is an event-stream exception: [`bedrock_stream_error`].)
pub(super) fn error_event(provider: Provider, sequence_number: usize) -> Bytes {
    let (kind, message) = describe(provider, FaultKind::Overloaded { retry_after: None });
    let (name, data) = match provider {
        Provider::Anthropic => (
            Some("error"),
            json!({"type": "error", "error": {"type": kind, "message": message}}),
        ),
        Provider::OpenAiResponses => (
            Some("error"),
            json!({"type": "error", "code": kind, "message": message, "param": null, "sequence_number": sequence_number}),
        ),
        Provider::Gemini => (
            None,
            json!({"error": {"code": 503, "message": message, "status": kind}}),
        ),
        _ => (
            None,
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
        ),
    };
    super::encode::sse_frame(name, &data.to_string())
}

/// Bedrock's mid-stream error: the `:exception-type` and message of a
/// `serviceUnavailableException` (a `ConverseStreamOutput` error member).
pub(super) fn bedrock_stream_error() -> (&'static str, &'static str) {
    (
        "serviceUnavailableException",
        "Bedrock is unable to process your request.",
    )
}

/// The frames of an answer, `delay` apart, with a stream fault applied: `frames` stops
/// after the fault's event count and `error` (the error event) follows, or nothing follows
/// for `pause` (forever when `None`, until `stop` turns true), or the body fails (a cut).
/// `abandoned` runs when the client goes away before the end.
pub(super) fn paced(
    frames: Vec<Bytes>,
    delay: Duration,
    fault: Option<FaultKind>,
    error: Option<Bytes>,
    mut stop: watch::Receiver<bool>,
    abandoned: impl FnOnce() + Send + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let feed = move |tx: tokio::sync::mpsc::Sender<_>| async move {
        // At least the last event is held back: a fault after the whole message would be
        // no fault.
        let limit = match fault {
            Some(
                FaultKind::ErrorEvent { after_events }
                | FaultKind::Stall { after_events, .. }
                | FaultKind::Cut { after_events },
            ) => after_events.min(frames.len().saturating_sub(1)),
            _ => usize::MAX,
        };
        let mut frames = frames.into_iter();
        for frame in frames.by_ref().take(limit) {
            tokio::time::sleep(delay).await;
            if tx.send(Ok(frame)).await.is_err() {
                return;
            }
        }
        let cut = || std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "fault: cut");
        match fault {
            Some(FaultKind::ErrorEvent { .. }) => {
                if let Some(e) = error {
                    let _ = tx.send(Ok(e)).await;
                }
                return;
            }
            Some(FaultKind::Cut { .. }) => {
                let _ = tx.send(Err(cut())).await;
                return;
            }
            Some(FaultKind::Stall { pause, .. }) => {
                let stopped = async {
                    let _ = stop.wait_for(|s| *s).await;
                };
                match pause {
                    Some(p) => {
                        tokio::select! {
                            () = tokio::time::sleep(p) => {}
                            () = stopped => {
                                let _ = tx.send(Err(cut())).await;
                                return;
                            }
                        }
                    }
                    None => {
                        tokio::select! {
                            () = stopped => {}
                            () = tx.closed() => return,
                        }
                        let _ = tx.send(Err(cut())).await;
                        return;
                    }
                }
            }
            _ => {}
        }
        for frame in frames {
            tokio::time::sleep(delay).await;
            if tx.send(Ok(frame)).await.is_err() {
                return;
            }
        }
    };
    async_stream(feed, abandoned)
}

/// A stream fed by a task: `body` gets the sender; the stream ends when it returns (or
/// the task is aborted when the stream is dropped). `abandoned` runs if the stream is
/// dropped before its end (the client went away and the server noticed).
fn async_stream<F, Fut>(
    body: F,
    abandoned: impl FnOnce() + Send + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let task = tokio::spawn(body(tx));
    let feed = Feed {
        task,
        abandoned: Some(Box::new(abandoned)),
    };
    futures_util::stream::unfold((rx, feed), |(mut rx, mut feed)| async move {
        let item = rx.recv().await;
        // The end, or a failure on purpose (a cut): not abandoned.
        if !matches!(item, Some(Ok(_))) {
            feed.abandoned = None;
        }
        item.map(|item| (item, (rx, feed)))
    })
}

/// The task feeding a response body: aborted when the body is dropped, and reported as
/// abandoned if that happens before the body's end.
struct Feed {
    task: tokio::task::JoinHandle<()>,
    abandoned: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(report) = self.abandoned.take() {
            report();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_and_json_forms_agree() {
        let cli: Fault = "rate-limit,request=1,retry-after=2".parse().unwrap();
        let json: Fault =
            serde_json::from_str(r#"{"kind": "rate_limit", "request": 1, "retry_after": 2}"#)
                .unwrap();
        assert_eq!(cli, json);
        assert_eq!(
            cli,
            Fault::new(FaultKind::RateLimit {
                retry_after: Some(2),
                retry_after_ms: None
            })
            .on_request(1)
        );
        let stall: Fault = "stall,after-events=3,pause-ms=250,turn=1".parse().unwrap();
        assert_eq!(
            stall,
            Fault::new(FaultKind::Stall {
                after_events: 3,
                pause: Some(Duration::from_millis(250))
            })
            .on_turn(1)
        );
        assert_eq!(
            "529".parse::<Fault>().unwrap().kind(),
            FaultKind::Overloaded { retry_after: None }
        );
        assert_eq!(
            "cut".parse::<Fault>().unwrap().kind(),
            FaultKind::Cut { after_events: 1 }
        );
    }

    #[test]
    fn bad_faults_are_named() {
        let err = |s: &str| s.parse::<Fault>().unwrap_err().to_string();
        assert!(err("teapot").contains("unknown fault kind \"teapot\""));
        assert!(err("").contains("no fault kind"));
        assert!(err("500,retry-after=1").contains("retry_after does not apply"));
        assert!(err("cut,after=2").contains("unknown fault field \"after\""));
        assert!(err("stall,pause-ms=soon").contains("\"soon\" is not a whole number"));
        assert!(err("429,request=0").contains("numbered from 1"));
        assert!(err("429,times=0").contains("at least 1"));
        assert!(err("429,request").contains("is not field=value"));
        let json = serde_json::from_str::<Fault>(r#"{"kind": "cut", "reqest": 2}"#)
            .unwrap_err()
            .to_string();
        assert!(json.contains("unknown field `reqest`"), "{json}");
    }

    #[test]
    fn first_matching_fault_with_fires_left_wins() {
        let mut faults = Faults::new(vec![
            "overloaded,turn=1,times=2".parse().unwrap(),
            "429,request=1".parse().unwrap(),
            "500,turn=2".parse().unwrap(),
        ]);
        let over = FaultKind::Overloaded { retry_after: None };
        let limit = FaultKind::RateLimit {
            retry_after: None,
            retry_after_ms: None,
        };
        assert_eq!(faults.pick(1, 0, true), Some(limit));
        assert_eq!(faults.pick(2, 0, true), None);
        assert_eq!(faults.pick(3, 1, true), Some(over));
        assert_eq!(faults.pick(4, 1, true), Some(over));
        assert_eq!(faults.pick(5, 1, true), None);
        // No `times`: every request answering turn 2.
        for n in 6..10 {
            assert_eq!(faults.pick(n, 2, true), Some(FaultKind::ServerError));
        }
        // A whole-message request passes a stream fault by, which stays for the next.
        let mut faults = Faults::new(vec![
            "cut,times=1".parse().unwrap(),
            "429,request=1".parse().unwrap(),
        ]);
        assert_eq!(faults.pick(1, 0, false), Some(limit));
        assert_eq!(faults.pick(2, 0, false), None);
        assert_eq!(
            faults.pick(3, 0, true),
            Some(FaultKind::Cut { after_events: 1 })
        );
    }
}
