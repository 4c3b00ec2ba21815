//! The Anthropic fast path against the full serde path on every real payload: the bundled
//! fixtures and a generated corpus. A leading space keeps a payload off the fast path (it
//! matches exact bytes only), so decoding each payload both ways must agree.

mod common;

use toolstream::provider::AnthropicDecoder;
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
