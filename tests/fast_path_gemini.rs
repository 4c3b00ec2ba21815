//! The Gemini fast path against the full serde path on every real payload: the bundled
//! fixtures and a generated corpus. A leading space keeps a payload off the fast path (it
//! matches exact bytes only), so decoding each stream both ways, payload by payload, must
//! agree.

use crate::common;

use toolstream::provider::GeminiDecoder;
use toolstream::{Provider, SseDecoder};

fn payloads(body: &[u8]) -> Vec<String> {
    let mut d = SseDecoder::new();
    let mut events = Vec::new();
    d.push(body, &mut events).unwrap();
    events.into_iter().map(|e| e.into_data()).collect()
}

/// Decodes one Gemini stream twice, payload by payload: as is, and with every payload kept
/// off the fast path; both must give the same result for each payload. Returns how many
/// payloads the fast path read, and how many are single text pieces with no finish (a
/// loose check, independent of the fast path's code).
fn agrees(body: &[u8]) -> (usize, usize) {
    let (mut fast, mut full) = (GeminiDecoder::new(), GeminiDecoder::new());
    let mut pieces = 0;
    for data in payloads(body) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ra = fast.push(&data, &mut a);
        let rb = full.push(&format!(" {data}"), &mut b);
        assert_eq!(
            ra.map_err(|e| e.to_string()),
            rb.map_err(|e| e.to_string()),
            "{data}"
        );
        assert_eq!(a, b, "{data}");
        let text =
            data.contains(r#"{"parts": [{"text": "#) || data.contains(r#"{"parts":[{"text":"#);
        pieces += usize::from(text && !data.contains("finishReason"));
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    fast.finish(&mut a).unwrap();
    full.finish(&mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        full.fast_path_payloads(),
        0,
        "a spaced payload took the fast path"
    );
    (fast.fast_path_payloads(), pieces)
}

#[test]
fn gemini_fixtures_and_corpus_decode_identically_both_ways() {
    let (mut fast, mut pieces) = (0, 0);
    for (provider, path) in common::provider_fixtures() {
        if provider == Provider::Gemini {
            let (f, p) = agrees(&std::fs::read(&path).unwrap());
            (fast, pieces) = (fast + f, pieces + p);
        }
    }
    // 32 of 41: all but the pieces with grounding or citation metadata or a thought.
    assert!(
        fast >= 30,
        "only {fast} of {pieces} fixture text pieces took the fast path"
    );
    let (mut fast, mut pieces) = (0, 0);
    for body in toolstream::corpus::generate(Provider::Gemini, 3, 500_000) {
        let (f, p) = agrees(&body);
        (fast, pieces) = (fast + f, pieces + p);
    }
    // The mock writes every text piece in shape.
    assert_eq!(fast, pieces, "corpus text pieces off the fast path");
    assert!(
        fast > 1000,
        "only {fast} corpus text pieces took the fast path"
    );
}
