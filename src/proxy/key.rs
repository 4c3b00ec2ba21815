//! The cassette key of a request: the SHA-256 of its canonical form.
//!
//! ```text
//! METHOD "\n" TARGET "\n" BODY
//! ```
//!
//! `METHOD` as received (`POST`); `TARGET` the path and query exactly as the request line
//! wrote them (no percent-decoding, parameters in their order) with every query parameter
//! of [`SECRET_PARAMS`] removed (Gemini accepts its API key as `?key=...`), and the `?` removed with
//! the query when nothing is left; `BODY` the body bytes as received. No header takes part
//! (API keys travel in headers). The key is the digest in lowercase hex, 64 characters.
//! The form is unambiguous: HTTP allows no line feed in a method or a request target.

use sha2::{Digest, Sha256};

/// Query parameters dropped from the key and from the stored path, compared without
/// case: they carry secrets (Gemini's `key`, Azure's `api-key`, Google's `access_token`,
/// AWS presigned-URL signatures and credentials).
const SECRET_PARAMS: &[&str] = &[
    "key",
    "api-key",
    "api_key",
    "apikey",
    "access_token",
    "token",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// `target` (path and query) without its secret query parameters.
pub(crate) fn strip_secrets(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|param| {
            let name = param.split_once('=').map_or(*param, |(n, _)| n);
            !SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name))
        })
        .collect();
    let query = kept.join("&");
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The key of a request whose target is already stripped ([`strip_secrets`]).
pub(crate) fn key(method: &str, stripped_target: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(stripped_target.as_bytes());
    h.update(b"\n");
    h.update(body);
    let digest = h.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    hex
}

/// Whether `name` is a key: 64 lowercase hexadecimal digits.
pub(crate) fn is_key(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::{is_key, key, strip_secrets};

    macro_rules! strip {
        ($in:expr => $out:expr) => {
            assert_eq!(strip_secrets($in), $out, "{}", $in)
        };
    }

    #[test]
    fn secret_query_parameters_are_dropped() {
        strip!("/v1/messages" => "/v1/messages");
        strip!("/m:streamGenerateContent?alt=sse&key=SECRET" => "/m:streamGenerateContent?alt=sse");
        strip!("/m:streamGenerateContent?key=SECRET&alt=sse" => "/m:streamGenerateContent?alt=sse");
        strip!("/m?key=SECRET" => "/m");
        strip!("/m?key" => "/m");
        strip!("/m?key=a&key=b&x=1" => "/m?x=1");
        strip!("/m?keys=1&apikey=2" => "/m?keys=1");
        strip!("/m?api-key=a&API_KEY=b&Access_Token=c&X-Amz-Signature=d&beta=true" => "/m?beta=true");
        strip!("/m?" => "/m");
    }

    #[test]
    fn the_key_is_the_sha256_of_the_canonical_form() {
        // sha256("POST\n/v1/messages\n{}"), computed with coreutils' sha256sum.
        assert_eq!(
            key("POST", "/v1/messages", b"{}"),
            "a1b05e7d44b27bc4fe3f577b9aa11d1de5518463ab98f59012cf3474bcaf125b"
        );
        let k = key("POST", "/v1/messages", b"{}");
        assert!(is_key(&k));
        assert_ne!(k, key("POST", "/v1/messages", b"{ }"));
        assert_ne!(k, key("GET", "/v1/messages", b"{}"));
        assert_ne!(k, key("POST", "/v1/messages?x=1", b"{}"));
        // A method or a request target never holds a line feed (HTTP forbids it), so the
        // first two line feeds delimit the fields: a path's end cannot pass for a body.
        assert_ne!(key("POST", "/a", b"b"), key("POST", "/ab", b""));
        assert!(!is_key(&k.to_uppercase()));
        assert!(!is_key(&k[1..]));
    }
}
