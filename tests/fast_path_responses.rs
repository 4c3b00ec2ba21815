//! The Responses fast path against the full serde path on every real payload: the bundled
//! fixtures and a generated corpus. A leading space keeps a payload off the fast path (it
//! matches exact bytes only), so decoding each stream both ways must agree payload by
//! payload; the decoder's count of fast-path payloads shows the comparison is not vacuous.

use crate::common;

use toolstream::provider::OpenAiResponsesDecoder;
use toolstream::{DecodeError, Provider, SseDecoder};

fn payloads(body: &[u8]) -> Vec<String> {
    let mut d = SseDecoder::new();
    let mut events = Vec::new();
    d.push(body, &mut events).unwrap();
    events.into_iter().map(|e| e.into_data()).collect()
}

/// An error as a comparable string. A parse error's column moves with the leading space,
/// so only its event and category count.
fn describe(e: &DecodeError) -> String {
    match e {
        DecodeError::InvalidPayload {
            provider,
            event,
            source,
        } => format!("{provider} {event} {:?}", source.classify()),
        e => e.to_string(),
    }
}

/// Decodes one stream twice, payload by payload: as is, and with every payload kept off
/// the fast path; both must give the same events and errors for each payload. Returns how
/// many payloads took the fast path, and how many are text pieces or argument fragments.
fn responses_agrees(body: &[u8]) -> (usize, usize) {
    let (mut fast, mut full) = (OpenAiResponsesDecoder::new(), OpenAiResponsesDecoder::new());
    let mut hot = 0;
    for data in payloads(body) {
        let kind = serde_json::from_str::<serde_json::Value>(&data).ok();
        let kind = kind.as_ref().and_then(|v| v["type"].as_str());
        hot += usize::from(matches!(
            kind,
            Some("response.output_text.delta" | "response.function_call_arguments.delta")
        ));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ra = fast.push(&data, &mut a);
        let rb = full.push(&format!(" {data}"), &mut b);
        assert_eq!(
            ra.as_ref().map_err(describe),
            rb.as_ref().map_err(describe),
            "{data}"
        );
        assert_eq!(a, b, "{data}");
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    fast.finish(&mut a).unwrap();
    full.finish(&mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(full.fast_path_payloads(), 0);
    (fast.fast_path_payloads(), hot)
}

#[test]
fn responses_fixtures_and_corpus_decode_identically_both_ways() {
    let (mut fixtures, mut fixtures_hot, mut files) = (0, 0, 0);
    for (provider, path) in common::provider_fixtures() {
        if provider == Provider::OpenAiResponses {
            let (taken, hot) = responses_agrees(&std::fs::read(&path).unwrap());
            fixtures += taken;
            fixtures_hot += hot;
            files += 1;
        }
    }
    assert!(files >= 6, "only {files} fixtures");
    // Every text piece and argument fragment in the fixtures and the corpus is written in a
    // fast-path shape, and nothing else is.
    assert_eq!(fixtures, fixtures_hot);
    assert!(
        fixtures >= 160,
        "only {fixtures} fixture payloads took the fast path"
    );
    let (mut corpus, mut corpus_hot) = (0, 0);
    for body in toolstream::corpus::generate(Provider::OpenAiResponses, 3, 700_000) {
        let (taken, hot) = responses_agrees(&body);
        corpus += taken;
        corpus_hot += hot;
    }
    assert_eq!(corpus, corpus_hot);
    assert!(
        corpus > 2000,
        "only {corpus} corpus payloads took the fast path"
    );
}
