//! SigV4 signing of one request with AWS's `aws-sigv4`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use crate::client::ClientError;

/// The name Bedrock Runtime is signed for: its service model's `signingName` (the host's
/// prefix is `bedrock-runtime`, the credential scope says `bedrock`).
pub(super) const BEDROCK: &str = "bedrock";

/// The headers that sign a request to `service` in `region`: `x-amz-date`,
/// `authorization`, and `x-amz-security-token` when the credentials have a session token.
///
/// `url` is the URL exactly as it will be sent; `headers` are the other headers sent with
/// it that should be signed (`host` comes from the URL; `authorization`, `user-agent`,
/// `transfer-encoding` and `x-amzn-trace-id` are never signed, as proxies may change them).
///
/// # Errors
///
/// [`ClientError::Credentials`] when `url` is not an absolute http(s) URL with a host, or
/// a header or the session token is not a valid header value.
#[allow(clippy::too_many_arguments)]
pub(super) fn sign_v4(
    credentials: &Credentials,
    region: &str,
    service: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    now: SystemTime,
) -> Result<Vec<(String, String)>, ClientError> {
    let failed = |e: &dyn std::fmt::Display| {
        ClientError::Credentials(format!("cannot sign the request to {url}: {e}"))
    };
    // The URL as reqwest will send it (its parser normalizes), checked here because the
    // signer panics on a URL without a host.
    let parsed = reqwest::Url::parse(url).map_err(|e| failed(&e))?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err(failed(&"not an http(s) URL with a host"));
    }

    // The canonical URI. AWS's SigV4 rules: "Normalize URI paths according to RFC 3986"
    // and "each path segment must be URI-encoded twice (except for Amazon S3 which only
    // gets URI-encoded once)". The URL on the wire already carries the model id encoded
    // once (`/model/arn%3Aaws%3Abedrock%3A...%3Ainference-profile%2Fus.anthropic...`,
    // "the model ID must be URL-encoded"); Bedrock checks the signature against that path
    // encoded once more (`arn%253Aaws...%252F...`), so the mode is `Double`, which
    // re-encodes each `%` of the path as given. `Single` (with normalization off) is S3's
    // setting only; Bedrock takes what every other service takes, as botocore's
    // `SigV4Auth` (S3 has its own `S3SigV4Auth`) and the Rust SDK's `bedrockruntime` do.
    // Both are the defaults: set here anyway, because a Bedrock ARN signs wrongly under
    // anything else. No `x-amz-content-sha256` header either (S3's; Bedrock signs the
    // body's hash inside the canonical request only).
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;

    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let request = SignableRequest::new(
        method,
        parsed.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _signature) = sign(request, &params).map_err(|e| failed(&e))?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// 2015-08-30T12:36:00Z, the time of AWS's published examples.
    const AUG_30_2015: u64 = 1_440_938_160;
    /// 2025-06-01T12:00:00Z.
    const JUN_1_2025: u64 = 1_748_779_200;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn header<'a>(signed: &'a [(String, String)], name: &str) -> Option<&'a str> {
        signed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The example of the AWS General Reference ("Signature Version 4 signing process",
    /// IAM `ListUsers`): the exact `Authorization` header it publishes.
    #[test]
    fn iam_list_users_example() {
        let creds = Credentials::new(AKID, SECRET, None, None, "test");
        let signed = sign_v4(
            &creds,
            "us-east-1",
            "iam",
            "GET",
            "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            b"",
            at(AUG_30_2015),
        )
        .unwrap();
        assert_eq!(header(&signed, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            header(&signed, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
            )
        );
        assert_eq!(header(&signed, "x-amz-security-token"), None);
        assert_eq!(signed.len(), 2);
    }

    /// One case of AWS's SigV4 test suite (the CRT suite `aws-sigv4` ships in
    /// `aws-signing-test-suite/v4/NAME`): host `example.amazonaws.com`, us-east-1, service
    /// `service`, 20150830T123600Z, the example keys; the expected `SignedHeaders` and
    /// signature are those of its `header-signed-request.txt`.
    macro_rules! suite {
        ($name:ident, $method:literal, $path:literal, [$($h:expr),*], $token:expr,
         $signed:literal, $sig:literal) => {
            #[test]
            fn $name() {
                let token: Option<&str> = $token;
                let creds = Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "test");
                let url = concat!("https://example.amazonaws.com", $path);
                let signed = sign_v4(
                    &creds, "us-east-1", "service", $method, url, &[$($h),*], b"",
                    at(AUG_30_2015),
                )
                .unwrap();
                let expected = concat!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ",
                    "SignedHeaders=", $signed, ", Signature=", $sig
                );
                assert_eq!(header(&signed, "authorization"), Some(expected));
                assert_eq!(header(&signed, "x-amz-security-token"), token);
            }
        };
    }

    #[rustfmt::skip]
    mod aws_suite {
        use super::*;

        suite!(get_vanilla, "GET", "/", [], None, "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        suite!(get_vanilla_query_order_key_case, "GET", "/?Param2=value2&Param1=value1", [], None,
            "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
        suite!(get_vanilla_query_unreserved, "GET",
            "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            [], None, "host;x-amz-date",
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
        suite!(get_header_value_trim, "GET", "/", [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            None, "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
        suite!(get_header_key_duplicate, "GET", "/",
            [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")], None,
            "host;my-header1;x-amz-date",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
        suite!(get_slashes_normalized, "GET", "//example//", [], None, "host;x-amz-date",
            "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84");
        suite!(get_relative_relative_normalized, "GET", "/example1/example2/../..", [], None,
            "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        suite!(post_vanilla, "POST", "/", [], None, "host;x-amz-date",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
        suite!(post_vanilla_query, "POST", "/?Param1=value1", [], None, "host;x-amz-date",
            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
        suite!(post_header_key_sort, "POST", "/", [("My-Header1", "value1")], None,
            "host;my-header1;x-amz-date",
            "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c");
        suite!(post_header_value_case, "POST", "/", [("My-Header1", "VALUE1")], None,
            "host;my-header1;x-amz-date",
            "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
        suite!(get_vanilla_with_session_token, "GET", "/", [],
            Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
            "host;x-amz-date;x-amz-security-token",
            "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
    }

    /// A ConverseStream request whose model id is an inference-profile ARN (`:` and `/`,
    /// percent-encoded once in the URL, as sent). The expected headers were computed with
    /// botocore 1.43.11, the signer of the AWS CLI and boto3, independently of aws-sigv4:
    ///
    /// ```python
    /// creds = botocore.credentials.Credentials(AKID, SECRET, token)
    /// req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body, headers={
    ///     "content-type": "application/json", "accept": "application/vnd.amazon.eventstream"})
    /// # with botocore.auth.datetime.datetime's utcnow/now patched to 2025-06-01T12:00:00Z:
    /// botocore.auth.SigV4Auth(creds, "bedrock", region).add_auth(req)
    /// ```
    ///
    /// Its canonical URI was
    /// `/model/arn%253Aaws%253Abedrock%253Aus-west-2%253A123456789012%253Ainference-profile%252Fus.anthropic.claude-sonnet-4-20250514-v1%253A0/converse-stream`:
    /// the path as sent, encoded once more.
    #[test]
    fn bedrock_converse_stream_with_an_arn_matches_botocore() {
        let url = "https://bedrock-runtime.us-west-2.amazonaws.com/model/\
                   arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2F\
                   us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream";
        let body = br#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#;
        let headers = [
            ("content-type", "application/json"),
            ("accept", "application/vnd.amazon.eventstream"),
        ];
        let sign = |token: Option<&str>, url: &str| {
            let creds = Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "test");
            sign_v4(
                &creds,
                "us-west-2",
                BEDROCK,
                "POST",
                url,
                &headers,
                body,
                at(JUN_1_2025),
            )
            .unwrap()
        };
        let scope =
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250601/us-west-2/bedrock/aws4_request";

        let signed = sign(None, url);
        assert_eq!(header(&signed, "x-amz-date"), Some("20250601T120000Z"));
        assert_eq!(
            header(&signed, "authorization").unwrap(),
            format!(
                "{scope}, SignedHeaders=accept;content-type;host;x-amz-date, \
                 Signature=96495743372033c15e5009f9e1c2cac46356faea3612bef30b22b6da2a1ea7bd"
            )
        );

        let token = "FQoGZXIvYXdzEXAMPLESESSIONTOKEN";
        let signed = sign(Some(token), url);
        assert_eq!(header(&signed, "x-amz-security-token"), Some(token));
        assert_eq!(
            header(&signed, "authorization").unwrap(),
            format!(
                "{scope}, SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, \
                 Signature=b1727548c86b08268d74a4511e3c0e6a2da2fd902943fdaa4add0db744f08162"
            )
        );

        // The mock server: plain http, a port, which the signed `host` keeps.
        let signed = sign(
            None,
            "http://127.0.0.1:8080/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream",
        );
        assert_eq!(
            header(&signed, "authorization").unwrap(),
            format!(
                "{scope}, SignedHeaders=accept;content-type;host;x-amz-date, \
                 Signature=8197e836bde5ab332383fbc6e0b99f7ddcd8556244088ff84fb59e3443791a2b"
            )
        );
    }

    #[test]
    fn a_url_without_a_host_is_an_error_not_a_panic() {
        let creds = Credentials::new(AKID, SECRET, None, None, "test");
        for url in ["/model/m/converse-stream", "unix:/run/sock", "not a url"] {
            let e = sign_v4(&creds, "us-east-1", BEDROCK, "POST", url, &[], b"", at(0));
            let msg = e.unwrap_err().to_string();
            assert!(
                msg.starts_with("aws credentials: cannot sign the request to"),
                "{msg}"
            );
        }
    }
}
