//! The AWS side of the Bedrock mock: the operations under `/model/{modelId}/`, the two ways
//! Bedrock authenticates a request, the checks the service makes of a Converse body before
//! the model sees it, and AWS's error shape (restJson1: the exception's name in the
//! `x-amzn-ErrorType` header, `{"message": ...}` in the body).
//!
//! Authentication, as Bedrock Runtime takes it:
//! - SigV4: `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/bedrock/aws4_request,
//!   SignedHeaders=host;x-amz-date;..., Signature=<64 hex>` with an `X-Amz-Date` header. The
//!   mock has no secret key, so it cannot recompute the signature: it accepts any
//!   well-formed one (every part present, scoped to `bedrock`, the scope's date that of
//!   `X-Amz-Date`, `host` and every signed header present, 64 hex digits) and refuses the
//!   rest with the service's exception and message;
//! - a Bedrock API key: `Authorization: Bearer <key>` (what SDKs send when
//!   `AWS_BEARER_TOKEN_BEDROCK` is set), any non-empty key.
//!
//! No `Authorization` at all is `403 MissingAuthenticationTokenException` ("Missing
//! Authentication Token"), as AWS answers it.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::request::Rejection;

/// The exception AWS names for a refusal without a more specific one, by status.
pub(super) fn default_exception(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "ValidationException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalServerException",
    }
}

/// AWS's error answer: `x-amzn-ErrorType` `NAME:NAMESPACE` (the SDKs keep the part before
/// the colon), `x-amzn-RequestId`, and `{"message": ...}`.
pub(super) fn error_response(status: StatusCode, exception: &str, message: &str) -> Response {
    // Bedrock's own exceptions come from its service; the authentication ones from the
    // front end every AWS JSON service shares.
    let namespace = match exception {
        "ValidationException"
        | "ResourceNotFoundException"
        | "ThrottlingException"
        | "ServiceUnavailableException"
        | "ModelErrorException"
        | "ModelNotReadyException"
        | "ModelTimeoutException" => "com.amazon.bedrock",
        _ => "com.amazon.coral.service",
    };
    let mut response = (status, axum::Json(json!({ "message": message }))).into_response();
    let headers = response.headers_mut();
    let kind = format!("{exception}:http://internal.amazon.com/coral/{namespace}/");
    if let Ok(v) = HeaderValue::from_str(&kind) {
        headers.insert("x-amzn-errortype", v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id(message)) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

/// A request id in the service's UUID form, derived from `seed` (the mock's answers are
/// deterministic).
pub(super) fn request_id(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

fn refuse(status: StatusCode, exception: &'static str, message: impl Into<String>) -> Rejection {
    Rejection::new(status, message).aws(exception)
}

/// The operation a `/model/...` path names: the model id (percent-decoded: "The model ID
/// must be URL-encoded", an ARN holds `:` and `/`) and whether it streams
/// (`converse-stream`) or answers whole (`converse`).
///
/// # Errors
///
/// `404 UnknownOperationException` for another operation (InvokeModel is not served).
pub(super) fn route(path: &str) -> Result<(String, bool), Rejection> {
    let rest = path.strip_prefix("/model/").unwrap_or(path);
    let (model, streaming) = match (
        rest.strip_suffix("/converse-stream"),
        rest.strip_suffix("/converse"),
    ) {
        (Some(model), _) => (model, true),
        (None, Some(model)) => (model, false),
        (None, None) => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "the mock serves Converse and ConverseStream only (POST /model/{modelId}/converse and /converse-stream)",
            ))
        }
    };
    if model.is_empty() || model.contains('/') {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no operation at {path}: the model id must be one URL-encoded path segment"),
        ));
    }
    Ok((percent_decode(model), streaming))
}

/// `%XX` escapes decoded (a malformed one is kept as written).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks the request's authentication as Bedrock does (see the module docs).
///
/// # Errors
///
/// `403` with `MissingAuthenticationTokenException`, `IncompleteSignatureException` or
/// `InvalidSignatureException`, and the service's message.
pub(super) fn authorize(headers: &HeaderMap) -> Result<(), Rejection> {
    let forbidden = StatusCode::FORBIDDEN;
    let Some(auth) = headers.get("authorization").filter(|v| !v.is_empty()) else {
        return Err(refuse(
            forbidden,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let auth = auth.to_str().unwrap_or_default().trim();
    if let Some(key) = auth
        .strip_prefix("Bearer")
        .filter(|k| k.is_empty() || k.starts_with(' '))
    {
        if key.trim().is_empty() {
            return Err(refuse(
                forbidden,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        }
        return Ok(());
    }
    sigv4(headers, auth)
}

/// A SigV4 `Authorization` value, well-formed or not.
fn sigv4(headers: &HeaderMap, auth: &str) -> Result<(), Rejection> {
    let forbidden = StatusCode::FORBIDDEN;
    let params = auth
        .strip_prefix("AWS4-HMAC-SHA256")
        .filter(|p| p.is_empty() || p.starts_with(' '))
        .unwrap_or_default();
    let param = |name: &str| {
        params
            .split(',')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let date = headers
        .get("x-amz-date")
        .or_else(|| headers.get("date"))
        .and_then(|d| d.to_str().ok());
    let mut missing: Vec<String> = ["Credential", "Signature", "SignedHeaders"]
        .iter()
        .filter(|p| param(p).is_none())
        .map(|p| format!("Authorization header requires '{p}' parameter."))
        .collect();
    if date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        );
    }
    let (Some(credential), Some(signature), Some(signed), Some(date), true) = (
        param("Credential"),
        param("Signature"),
        param("SignedHeaders"),
        date,
        missing.is_empty(),
    ) else {
        return Err(refuse(
            forbidden,
            "IncompleteSignatureException",
            format!("{} Authorization={auth}", missing.join(" ")),
        ));
    };
    let invalid = |message: String| Err(refuse(forbidden, "InvalidSignatureException", message));
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, day, region, service, terminator] = scope[..] else {
        return Err(refuse(
            forbidden,
            "IncompleteSignatureException",
            format!("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"),
        ));
    };
    if key.is_empty() || region.is_empty() {
        return invalid("The security token included in the request is invalid.".into());
    }
    if service != "bedrock" {
        return invalid("Credential should be scoped to correct service: 'bedrock'. ".into());
    }
    if terminator != "aws4_request" {
        return invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        ));
    }
    let iso = date.len() == 16
        && date.as_bytes()[8] == b'T'
        && date.ends_with('Z')
        && date[..8]
            .bytes()
            .chain(date[9..15].bytes())
            .all(|c| c.is_ascii_digit());
    if headers.contains_key("x-amz-date") && !iso {
        return invalid(format!(
            "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ));
    }
    if iso && day != &date[..8] {
        return invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{day}' != '{}', from 'X-Amz-Date'.",
            &date[..8]
        ));
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"host") {
        return invalid("'Host' must be a 'SignedHeader' in the AWS Authorization.".into());
    }
    let all_present = names.iter().all(|n| headers.contains_key(*n));
    let hex = signature.len() == 64
        && signature
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if !all_present || !hex {
        return invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
                .into(),
        );
    }
    Ok(())
}

/// The checks the service makes of a Converse body before the model sees it: JSON (else
/// `SerializationException`, as restJson1 services answer an unreadable body), `messages`
/// present, roles `user` or `assistant`, starting with `user` and alternating, no message
/// without content, no blank text.
///
/// # Errors
///
/// `400` with `SerializationException` or `ValidationException` and the service's message.
pub(super) fn check_body(body: &[u8]) -> Result<(), Rejection> {
    let bad = StatusCode::BAD_REQUEST;
    let invalid = |message: String| Err(refuse(bad, "ValidationException", message));
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        refuse(
            bad,
            "SerializationException",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    if !v.is_object() {
        return Err(refuse(
            bad,
            "SerializationException",
            "the request body must be a JSON object",
        ));
    }
    let Some(messages) = v.get("messages").filter(|m| !m.is_null()) else {
        return invalid("1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null".into());
    };
    let Some(messages) = messages.as_array() else {
        return Err(refuse(
            bad,
            "SerializationException",
            "`messages` must be a list",
        ));
    };
    let mut previous: Option<&str> = None;
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        if role != "user" && role != "assistant" {
            return invalid(format!(
                "1 validation error detected: Value '{role}' at 'messages.{}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]",
                i + 1
            ));
        }
        if previous.is_none() && role != "user" {
            break;
        }
        if previous == Some(role) {
            return invalid("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".into());
        }
        previous = Some(role);
        let content = m["content"].as_array().map_or(&[][..], Vec::as_slice);
        if content.is_empty() {
            return invalid(format!("The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."));
        }
        for (j, b) in content.iter().enumerate() {
            if b["text"].as_str().is_some_and(|t| t.trim().is_empty()) {
                return invalid(format!("The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to the text field, and try again."));
            }
        }
    }
    if previous.is_none() {
        return invalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1:1"));
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn sigv4_header(credential: &str, signed: &str, signature: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature={signature}")
    }

    /// (authorization, x-amz-date, the exception refusing it or "" for accepted)
    macro_rules! auth {
        ($name:ident, $auth:expr, $date:expr, $want:expr) => {
            #[test]
            fn $name() {
                let auth: String = $auth;
                let mut pairs = vec![];
                if !auth.is_empty() {
                    pairs.push(("authorization", auth.as_str()));
                }
                if !$date.is_empty() {
                    pairs.push(("x-amz-date", $date));
                }
                let got = authorize(&headers(&pairs))
                    .err()
                    .map(|r| (r.aws_type(), r.message));
                let want: &str = $want;
                match got {
                    None => assert_eq!(want, "", "accepted"),
                    Some((kind, message)) => assert_eq!(kind, Some(want), "{message}"),
                }
            }
        };
    }

    const CRED: &str = "AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request";
    const DATE: &str = "20250101T120000Z";

    auth!(
        sigv4_well_formed,
        sigv4_header(CRED, "host;x-amz-date", SIGNATURE),
        DATE,
        ""
    );
    auth!(bearer_key, "Bearer ABSKQmVkcm9jaw==".into(), "", "");
    auth!(
        nothing,
        String::new(),
        "",
        "MissingAuthenticationTokenException"
    );
    auth!(
        blank_bearer,
        "Bearer  ".into(),
        "",
        "MissingAuthenticationTokenException"
    );
    auth!(
        no_signature,
        format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host"),
        DATE,
        "IncompleteSignatureException"
    );
    auth!(
        no_date,
        sigv4_header(CRED, "host", SIGNATURE),
        "",
        "IncompleteSignatureException"
    );
    auth!(
        other_scheme,
        "Basic dTpw".into(),
        DATE,
        "IncompleteSignatureException"
    );
    auth!(
        short_scope,
        sigv4_header("AKID/20250101/us-east-1/bedrock", "host", SIGNATURE),
        DATE,
        "IncompleteSignatureException"
    );
    auth!(
        wrong_service,
        sigv4_header("AKID/20250101/us-east-1/s3/aws4_request", "host", SIGNATURE),
        DATE,
        "InvalidSignatureException"
    );
    auth!(
        scope_date_differs,
        sigv4_header(CRED, "host;x-amz-date", SIGNATURE),
        "20250102T000000Z",
        "InvalidSignatureException"
    );
    auth!(
        host_not_signed,
        sigv4_header(CRED, "x-amz-date", SIGNATURE),
        DATE,
        "InvalidSignatureException"
    );
    auth!(
        signed_header_absent,
        sigv4_header(CRED, "host;x-amz-date;x-amz-security-token", SIGNATURE),
        DATE,
        "InvalidSignatureException"
    );
    auth!(
        signature_not_hex,
        sigv4_header(CRED, "host;x-amz-date", "xyz"),
        DATE,
        "InvalidSignatureException"
    );

    #[test]
    fn routes() {
        assert_eq!(
            route("/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream").ok(),
            Some(("us.anthropic.claude-sonnet-4-20250514-v1:0".into(), true))
        );
        assert_eq!(
            route("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx/converse")
                .ok(),
            Some((
                "arn:aws:bedrock:us-east-1:1:inference-profile/x".into(),
                false
            ))
        );
        for path in ["/model/m/invoke", "/model//converse", "/model/a/b/converse"] {
            let e = route(path).unwrap_err();
            assert_eq!(e.aws_type(), Some("UnknownOperationException"), "{path}");
        }
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    /// (body, the exception refusing it or "" for accepted)
    #[test]
    fn bodies() {
        let user = r#"{"role":"user","content":[{"text":"hi"}]}"#;
        let assistant = r#"{"role":"assistant","content":[{"text":"yes"}]}"#;
        for (body, want) in [
            (format!(r#"{{"messages":[{user}]}}"#), ""),
            (format!(r#"{{"messages":[{user},{assistant},{user}]}}"#), ""),
            ("{".into(), "SerializationException"),
            ("[1]".into(), "SerializationException"),
            ("{}".into(), "ValidationException"),
            (r#"{"messages":[]}"#.into(), "ValidationException"),
            (
                format!(r#"{{"messages":[{assistant}]}}"#),
                "ValidationException",
            ),
            (
                format!(r#"{{"messages":[{user},{user}]}}"#),
                "ValidationException",
            ),
            (
                r#"{"messages":[{"role":"system","content":[{"text":"x"}]}]}"#.into(),
                "ValidationException",
            ),
            (
                r#"{"messages":[{"role":"user","content":[]}]}"#.into(),
                "ValidationException",
            ),
            (
                r#"{"messages":[{"role":"user","content":[{"text":" "}]}]}"#.into(),
                "ValidationException",
            ),
        ] {
            let got = check_body(body.as_bytes()).err().map(|r| r.aws_type());
            match got {
                None => assert_eq!(want, "", "{body}"),
                Some(kind) => assert_eq!(kind, Some(want), "{body}"),
            }
        }
    }

    #[test]
    fn request_ids_look_like_the_services() {
        let id = request_id("x");
        assert_eq!(id.len(), 36);
        assert_eq!(id, request_id("x"));
        assert_ne!(id, request_id("y"));
    }
}
