//! Chunk independence: every fixture decoded whole, byte by byte, and split in two at every
//! point gives identical events, at the SSE level and at the unified-event level.

use crate::common;

use toolstream::{SseDecoder, SseEvent, StreamEvent};

fn sse_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.push(c, &mut out).unwrap();
    }
    d.finish().unwrap();
    out
}

fn events_chunks<'a>(
    provider: toolstream::Provider,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<StreamEvent> {
    let (events, errors) = common::decode_chunks(provider, chunks);
    assert!(errors.is_empty(), "{errors:?}");
    events
}

#[test]
fn every_fixture_at_every_split_point() {
    let fixtures = common::provider_fixtures();
    for (provider, path) in &fixtures {
        let body = std::fs::read(path).unwrap();
        let whole = events_chunks(*provider, [&body[..]]);
        let bytewise = events_chunks(*provider, body.chunks(1));
        assert_eq!(bytewise, whole, "{} byte by byte", path.display());
        for split in 1..body.len() {
            let (a, b) = body.split_at(split);
            let got = events_chunks(*provider, [a, b]);
            assert!(got == whole, "{} split at {split}", path.display());
        }
        if !provider.is_event_stream() {
            let whole = sse_chunks([&body[..]]);
            for split in 1..body.len() {
                let (a, b) = body.split_at(split);
                assert!(
                    sse_chunks([a, b]) == whole,
                    "{} sse split at {split}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn odd_chunk_sizes() {
    for (provider, path) in common::provider_fixtures() {
        let body = std::fs::read(&path).unwrap();
        let whole = events_chunks(provider, [&body[..]]);
        for size in [2, 3, 5, 13, 64, 1000] {
            assert_eq!(
                events_chunks(provider, body.chunks(size)),
                whole,
                "{} in {size}-byte chunks",
                path.display()
            );
        }
    }
}
