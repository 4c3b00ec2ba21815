//! Sending a request as the official SDKs do: retries with exponential backoff and full
//! jitter on the failures worth retrying, `retry-after` honoured, and time limits while the
//! response streams.
//!
//! Retried (SPEC §7 `chat`): connection errors, no response head within the idle limit,
//! 408, 409, 429 and every 5xx (Anthropic's 529 `overloaded_error` included), unless the
//! server says `x-should-retry: false`. Never retried: any other status, and anything once
//! the response has started streaming (a stream that fails mid-way fails its turn).

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use super::error::{http_error, ClientError, Timeout};

/// How failed requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 2 retries (as the Anthropic and OpenAI SDKs), backoff from 0.5 s doubling up to
    /// 8 s, a server's `retry-after` followed up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// At most `n` retries, the other settings default.
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            ..RetryPolicy::default()
        }
    }

    /// No retry: the first failure is the answer.
    pub fn none() -> Self {
        RetryPolicy::new(0)
    }

    /// The backoff ceiling before retry 1; it doubles with each retry (default 0.5 s).
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The backoff ceiling's cap (default 8 s).
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The longest `retry-after` followed; a longer one falls back to the backoff
    /// (default 60 s).
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The retries allowed.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The wait before retry `retry` (from 1): the server's `retry-after` when it gave
    /// one within the cap, else a uniformly random wait up to the backoff ceiling ("full
    /// jitter").
    fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after.filter(|d| *d <= self.max_retry_after) {
            return d;
        }
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << (retry - 1).min(20))
            .min(self.max_backoff);
        let unit = (random() >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(unit)
    }
}

/// 64 random bits (from the standard library's randomly keyed hasher: no generator to
/// seed or share).
fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// Whether a response status is worth another attempt.
fn retryable(status: u16, should_retry: Option<bool>) -> bool {
    should_retry.unwrap_or(matches!(status, 408 | 409 | 429) || status >= 500)
}

/// The wait a response asks for: `retry-after-ms` (milliseconds) first, then
/// `retry-after` in seconds. (An HTTP-date `retry-after` falls back to the backoff.)
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    // A value no `Duration` holds (`1e300`) is as good as none: the backoff applies.
    let secs = |s: f64| Duration::try_from_secs_f64(s).ok();
    match get("retry-after-ms") {
        Some(ms) => secs(ms / 1000.0),
        None => get("retry-after").and_then(secs),
    }
    .filter(|d| !d.is_zero())
}

/// The time limits of one request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) connect: Duration,
    pub(super) idle: Option<Duration>,
}

/// Sends the request `build` makes (called once per attempt, so that signatures and
/// dates are fresh) and retries as `policy` allows; returns the response once its head
/// says success.
pub(super) async fn send(
    build: impl Fn() -> Result<reqwest::RequestBuilder, ClientError>,
    url: &str,
    policy: RetryPolicy,
    limits: Limits,
    deadline: Option<Instant>,
) -> Result<reqwest::Response, ClientError> {
    let url_shown = super::error::redact(url);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let head = build()?.send();
        let outcome = match limits.idle {
            Some(idle) => match tokio::time::timeout(idle, head).await {
                Ok(r) => Ok(r),
                Err(_) => Err(ClientError::Timeout {
                    which: Timeout::Idle,
                    limit: idle,
                    url: url_shown.clone(),
                }),
            },
            None => Ok(head.await),
        };
        // What failed, whether to retry, and the wait the server asked for.
        let (error, retry, asked) = match outcome {
            Ok(Ok(response)) if response.status().is_success() => return Ok(response),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let headers = response.headers();
                let should_retry = match headers.get("x-should-retry").map(|v| v.as_bytes()) {
                    Some(b"true") => Some(true),
                    Some(b"false") => Some(false),
                    _ => None,
                };
                let asked = retry_after(headers);
                let aws = headers
                    .get("x-amzn-errortype")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match error_body(response, limits.idle).await {
                    Ok(body) => {
                        let mut e = http_error("POST", url, status, aws.as_deref(), &body);
                        if let ClientError::Http { attempts, .. } = &mut e {
                            *attempts = attempt;
                        }
                        (e, retryable(status, should_retry), asked)
                    }
                    // The error body stalled: a failed attempt like a stalled head.
                    Err(()) => {
                        let e = ClientError::Timeout {
                            which: Timeout::Idle,
                            limit: limits.idle.unwrap_or_default(),
                            url: url_shown.clone(),
                        };
                        (e, true, asked)
                    }
                }
            }
            Ok(Err(source)) => {
                if source.is_connect() && source.is_timeout() {
                    // reqwest's own connect timeout.
                    let e = ClientError::Timeout {
                        which: Timeout::Connect,
                        limit: limits.connect,
                        url: url_shown.clone(),
                    };
                    (e, true, None)
                } else {
                    let retry = !source.is_builder();
                    // reqwest's message would print the URL unredacted.
                    let e = ClientError::Transport {
                        url: url_shown.clone(),
                        attempts: attempt,
                        source: source.without_url(),
                    };
                    (e, retry, None)
                }
            }
            Err(timeout) => (timeout, true, None),
        };
        if !retry || attempt > policy.max_retries {
            return Err(error);
        }
        let wait = policy.wait(attempt, asked);
        if let Some(deadline) = deadline {
            if Instant::now() + wait >= deadline {
                return Err(error);
            }
        }
        tracing::warn!(
            attempt,
            max_retries = policy.max_retries,
            wait_ms = wait.as_millis() as u64,
            reason = %error,
            "retrying the request"
        );
        tokio::time::sleep(wait).await;
    }
}

/// The most of an error body kept: enough for any provider's JSON error, not a whole
/// HTML page.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An error response's body, read piece by piece under the idle limit (`Err` when it
/// passes), and cut at [`ERROR_BODY_LIMIT`] bytes.
async fn error_body(mut response: reqwest::Response, idle: Option<Duration>) -> Result<String, ()> {
    let mut body = Vec::new();
    loop {
        let chunk = match idle {
            Some(limit) => tokio::time::timeout(limit, response.chunk())
                .await
                .map_err(|_| ())?,
            None => response.chunk().await,
        };
        match chunk {
            Ok(Some(piece)) => {
                let room = ERROR_BODY_LIMIT - body.len();
                body.extend_from_slice(&piece[..piece.len().min(room)]);
                if body.len() == ERROR_BODY_LIMIT {
                    break;
                }
            }
            // The end, or a broken body: what came is what there is.
            Ok(None) | Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A response body with the idle and total limits applied: a piece of the body must come
/// within `idle` of the previous one, and all of it before `deadline`; either failure
/// ends the stream with [`ClientError::Timeout`].
pub(super) struct Guarded<S> {
    inner: S,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    total: Option<(Duration, Pin<Box<Sleep>>)>,
    url: Arc<str>,
    done: bool,
}

impl<S> Guarded<S> {
    pub(super) fn new(
        inner: S,
        url: &str,
        idle: Option<Duration>,
        total: Option<(Duration, Instant)>,
    ) -> Self {
        Guarded {
            inner,
            idle: idle.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
            total: total.map(|(d, at)| (d, Box::pin(tokio::time::sleep_until(at)))),
            url: super::error::redact(url).into(),
            done: false,
        }
    }

    fn timeout(
        &mut self,
        which: Timeout,
        limit: Duration,
    ) -> Poll<Option<Result<Bytes, ClientError>>> {
        self.done = true;
        Poll::Ready(Some(Err(ClientError::Timeout {
            which,
            limit,
            url: self.url.to_string(),
        })))
    }
}

impl<S> Stream for Guarded<S>
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Unpin,
{
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                // A body that always has data ready still ends at the deadline.
                if let Some((d, sleep)) = &this.total {
                    if sleep.is_elapsed() {
                        let d = *d;
                        return this.timeout(Timeout::Total, d);
                    }
                }
                if let Some((d, sleep)) = &mut this.idle {
                    sleep.as_mut().reset(Instant::now() + *d);
                }
                return Poll::Ready(Some(Ok(bytes)));
            }
            Poll::Ready(Some(Err(source))) => {
                this.done = true;
                return Poll::Ready(Some(Err(ClientError::Transport {
                    url: this.url.to_string(),
                    attempts: 1,
                    source: source.without_url(),
                })));
            }
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if let Some((d, sleep)) = &mut this.total {
            if sleep.as_mut().poll(cx).is_ready() {
                let d = *d;
                return this.timeout(Timeout::Total, d);
            }
        }
        if let Some((d, sleep)) = &mut this.idle {
            if sleep.as_mut().poll(cx).is_ready() {
                let d = *d;
                return this.timeout(Timeout::Idle, d);
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_worth_a_retry() {
        for s in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(retryable(s, None), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!retryable(s, None), "{s}");
        }
        assert!(!retryable(529, Some(false)));
        assert!(retryable(400, Some(true)));
    }

    #[test]
    fn retry_after_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_micros(150_500)));
        h.remove("retry-after-ms");
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_capped_ceiling() {
        let p = RetryPolicy::default();
        for retry in 1..=10 {
            let ceiling =
                Duration::from_millis(500 * (1 << (retry - 1))).min(Duration::from_secs(8));
            for _ in 0..50 {
                assert!(p.wait(retry, None) <= ceiling);
            }
        }
        // Not constant: 200 draws under 8 s are not all equal.
        let draws: std::collections::HashSet<_> = (0..200).map(|_| p.wait(5, None)).collect();
        assert!(draws.len() > 100);
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        // Past the cap, the backoff applies instead.
        assert!(p.wait(1, Some(Duration::from_secs(3600))) <= Duration::from_millis(500));
    }
}
