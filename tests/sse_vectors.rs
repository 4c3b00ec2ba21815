//! Every WHATWG / SDK vector in `tests/fixtures/sse-vectors` through the library decoder,
//! whole, byte by byte, in the chunks the originating test used (where it records them),
//! and through the `Stream` adapter.

use crate::common;

use futures_util::StreamExt;
use serde_json::{json, Value};
use toolstream::{ByteStreamExt, SseDecoder, SseEvent};

fn to_json(events: &[SseEvent]) -> Vec<Value> {
    events
        .iter()
        .map(|e| json!({"event": e.event(), "data": e.data(), "id": e.id(), "retry": e.retry()}))
        .collect()
}

fn decode<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Value> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c, &mut out).unwrap();
    }
    d.finish().unwrap();
    to_json(&out)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> Vec<(std::path::PathBuf, Vec<u8>, Value)> {
    let dir = common::fixtures_dir().join("sse-vectors");
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sse"))
        .map(|p| {
            let body = std::fs::read(&p).unwrap();
            let expected =
                std::fs::read_to_string(format!("{}.expected.json", p.display())).unwrap();
            (p, body, serde_json::from_str(&expected).unwrap())
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn every_vector_whole_bytewise_and_in_recorded_chunks() {
    let all = vectors();
    assert_eq!(all.len(), 12);
    for (path, body, expected) in all {
        let want = expected["events"].as_array().unwrap().clone();
        assert_eq!(decode([&body[..]]), want, "{} whole", path.display());
        assert_eq!(
            decode(body.chunks(1)),
            want,
            "{} byte by byte",
            path.display()
        );
        if let Some(chunks) = expected["chunks_as_yielded_by_test_hex"].as_array() {
            let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| hex(c.as_str().unwrap())).collect();
            assert_eq!(chunks.concat(), body, "{} chunks", path.display());
            assert_eq!(
                decode(chunks.iter().map(Vec::as_slice)),
                want,
                "{}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn every_vector_through_the_stream_adapter() {
    for (path, body, expected) in vectors() {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(3).map(|c| Ok(c.to_vec())).collect();
        let events: Vec<SseEvent> = futures_util::stream::iter(chunks)
            .sse_events()
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(
            to_json(&events),
            *expected["events"].as_array().unwrap(),
            "{}",
            path.display()
        );
    }
}
