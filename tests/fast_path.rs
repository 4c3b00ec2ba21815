//! The fast paths against the full serde path on every real payload: the bundled fixtures
//! and a generated corpus. A leading space keeps a payload off a fast path (each matches
//! exact bytes only), so decoding each payload both ways must agree.

use crate::common;

use toolstream::provider::{AnthropicDecoder, OpenAiChatDecoder};
use toolstream::{Provider, SseDecoder};

fn payloads(body: &[u8]) -> Vec<String> {
    let mut d = SseDecoder::new();
    let mut events = Vec::new();
    d.push(body, &mut events).unwrap();
    events.into_iter().map(|e| e.into_data()).collect()
}

fn agree(data: &str) -> bool {
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    let a = AnthropicDecoder::new().push(data, &mut fast);
    let b = AnthropicDecoder::new().push(&format!(" {data}"), &mut slow);
    assert_eq!(a.is_ok(), b.is_ok(), "{data}");
    assert_eq!(fast, slow, "{data}");
    data.contains(r#""delta":{"type":"text_delta""#) || data.contains("input_json_delta")
}

#[test]
fn fixtures_and_corpus_decode_identically_both_ways() {
    let mut deltas = 0;
    for (provider, path) in common::provider_fixtures() {
        if provider != Provider::Anthropic {
            continue;
        }
        for data in payloads(&std::fs::read(&path).unwrap()) {
            deltas += usize::from(agree(&data));
        }
    }
    for body in toolstream::corpus::generate(Provider::Anthropic, 3, 500_000) {
        for data in payloads(&body) {
            deltas += usize::from(agree(&data));
        }
    }
    assert!(deltas > 3000, "only {deltas} delta payloads compared");
}

/// Decodes one Chat Completions stream twice, payload by payload: as is, and with every
/// JSON payload kept off the fast path; both must give the same result for each payload.
/// Returns how many payloads had a fast-path shape (a text piece or an argument fragment).
fn chat_agrees(body: &[u8]) -> usize {
    let (mut fast, mut full) = (OpenAiChatDecoder::new(), OpenAiChatDecoder::new());
    let mut shaped = 0;
    for data in payloads(body) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let spaced = if data.starts_with('{') {
            format!(" {data}")
        } else {
            data.clone()
        };
        let ra = fast.push(&data, &mut a);
        let rb = full.push(&spaced, &mut b);
        assert_eq!(ra.is_ok(), rb.is_ok(), "{data}");
        assert_eq!(a, b, "{data}");
        shaped += usize::from(
            data.contains(r#""delta":{"content":""#)
                || data.contains(r#""delta":{"tool_calls":[{"index":0,"function":{"arguments":""#),
        );
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    fast.finish(&mut a).unwrap();
    full.finish(&mut b).unwrap();
    assert_eq!(a, b);
    shaped
}

#[test]
fn chat_fixtures_and_corpus_decode_identically_both_ways() {
    let mut fixtures = 0;
    for (provider, path) in common::provider_fixtures() {
        if provider == Provider::OpenAiChat {
            fixtures += chat_agrees(&std::fs::read(&path).unwrap());
        }
    }
    assert!(fixtures > 400, "only {fixtures} fixture pieces compared");
    let mut corpus = 0;
    for body in toolstream::corpus::generate(Provider::OpenAiChat, 3, 500_000) {
        corpus += chat_agrees(&body);
    }
    assert!(corpus > 1500, "only {corpus} corpus pieces compared");
}
