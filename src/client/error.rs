//! What can go wrong talking to a provider, each error naming the request it concerns.

use std::fmt;
use std::time::Duration;

use super::options::OptionsError;
use crate::provider::Provider;

/// A client failure: before the stream starts (from [`ModelClient::stream`]), or while it
/// streams (as the transport error of its items).
///
/// [`ModelClient::stream`]: super::ModelClient::stream
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The provider's API key variable is not set.
    MissingApiKey {
        /// The environment variable.
        var: &'static str,
    },
    /// AWS credentials or region could not be found (Bedrock).
    Credentials(String),
    /// The request options do not fit the provider (a stop sequence for Responses,
    /// thinking with a forced tool for Anthropic...): nothing was sent.
    Options(OptionsError),
    /// The provider answered with an error status (after the retries the status allows).
    Http {
        /// The request's method.
        method: &'static str,
        /// The request's URL (any key in its query hidden).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The provider's error type, when its body says.
        kind: Option<String>,
        /// The provider's message (or the start of the body).
        message: String,
        /// Requests sent, retries included.
        attempts: u32,
    },
    /// The request could not be sent, or its body could not be read.
    Transport {
        /// The request's URL (any key in its query hidden).
        url: String,
        /// Requests sent, retries included.
        attempts: u32,
        /// What the HTTP stack said.
        source: reqwest::Error,
    },
    /// A time limit passed ([`Timeout`] says which).
    Timeout {
        /// The limit that passed.
        which: Timeout,
        /// Its value.
        limit: Duration,
        /// The request's URL (any key in its query hidden).
        url: String,
    },
    /// The provider has no HTTP client here.
    Unsupported(Provider),
}

/// The time limits of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// Establishing the connection.
    Connect,
    /// No byte received for this long (waiting for the response head, or between two
    /// pieces of the body).
    Idle,
    /// The whole request, retries and the streamed body included.
    Total,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeout::Connect => "connect timeout",
            Timeout::Idle => "idle timeout",
            Timeout::Total => "total timeout",
        })
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempts = |f: &mut fmt::Formatter<'_>, n: u32| {
            if n > 1 {
                write!(f, " (after {n} attempts)")
            } else {
                Ok(())
            }
        };
        match self {
            ClientError::MissingApiKey { var } => {
                write!(f, "the {var} environment variable is not set")
            }
            ClientError::Credentials(m) => write!(f, "aws credentials: {m}"),
            ClientError::Options(e) => write!(f, "request options: {e}"),
            ClientError::Http {
                method,
                url,
                status,
                kind,
                message,
                attempts: n,
            } => {
                write!(f, "{method} {url}: http {status}")?;
                if let Some(kind) = kind {
                    write!(f, " {kind}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                attempts(f, *n)
            }
            ClientError::Transport {
                url,
                attempts: n,
                source,
            } => {
                write!(f, "{url}: request failed: {source}")?;
                let mut cause = std::error::Error::source(source);
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                attempts(f, *n)
            }
            ClientError::Timeout { which, limit, url } => {
                write!(f, "{url}: {which} of {limit:?} passed")
            }
            ClientError::Unsupported(p) => write!(f, "no http client for {p}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Transport { source, .. } => Some(source),
            ClientError::Options(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads the provider's error body: Anthropic `{"error":{"type","message"}}`, OpenAI
/// `{"error":{"type"|"code","message"}}`, Gemini `{"error":{"status","message"}}`,
/// Bedrock `{"message"}` with the exception in `x-amzn-errortype`
/// (`ThrottlingException:http://internal.amazon.com/...`).
pub(super) fn http_error(
    method: &'static str,
    url: &str,
    status: u16,
    aws_type: Option<&str>,
    body: &str,
) -> ClientError {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let e = &v["error"];
    let kind = e["type"]
        .as_str()
        .or_else(|| e["status"].as_str())
        .or_else(|| e["code"].as_str())
        .or_else(|| aws_type.map(|t| t.split(':').next().unwrap_or(t)))
        .map(str::to_owned);
    let message = e["message"]
        .as_str()
        .or_else(|| e.as_str())
        .or_else(|| v["message"].as_str())
        .or_else(|| v["Message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| body.trim().chars().take(500).collect());
    ClientError::Http {
        method,
        url: redact(url),
        status,
        kind,
        message,
        attempts: 1,
    }
}

/// `url` with its credentials hidden: a user name and password (`https://user:key@proxy`)
/// and the values of key-like query parameters.
pub(super) fn redact(url: &str) -> String {
    let url = match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("REDACTED");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    };
    let Some((path, query)) = url.split_once('?') else {
        return url;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret(k) => format!("{k}=REDACTED"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "key" | "api-key" | "api_key" | "apikey" | "access_token" | "token"
    ) || name.starts_with("x-amz-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_errors_name_the_request_and_the_provider_message() {
        let e = http_error(
            "POST",
            "http://h/v1/messages",
            529,
            None,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(
            e.to_string(),
            "POST http://h/v1/messages: http 529 overloaded_error: Overloaded"
        );
        let e = http_error(
            "POST",
            "http://h/model/m/converse-stream",
            429,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            r#"{"message":"Too many requests"}"#,
        );
        assert_eq!(
            e.to_string(),
            "POST http://h/model/m/converse-stream: http 429 ThrottlingException: Too many requests"
        );
        let e = http_error("POST", "http://user:sk-secret@h:8/v1/x", 404, None, "");
        assert_eq!(e.to_string(), "POST http://REDACTED@h:8/v1/x: http 404");
        let e = http_error("POST", "http://h/x?alt=sse&key=secret", 404, None, "");
        assert_eq!(
            e.to_string(),
            "POST http://h/x?alt=sse&key=REDACTED: http 404"
        );
        let e = http_error(
            "POST",
            "http://h/x",
            502,
            None,
            "<html>bad gateway</html>\n",
        );
        assert_eq!(
            e.to_string(),
            "POST http://h/x: http 502: <html>bad gateway</html>"
        );
    }
}
