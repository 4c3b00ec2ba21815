//! Inputs the fuzz targets in `fuzz/` found, each kept as a test of the property it broke.
//! (SSE limit findings are unit tests in `src/sse/tests.rs`.)

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::Value;
use toolstream::{
    ByteStreamExt, Provider, ProviderChoice, ToolFuture, ToolRegistry, TurnConfig, TurnEvent,
};

/// Every item a byte stream in `chunks` yields, errors as text, in order.
async fn items(provider: impl Into<ProviderChoice>, chunks: Vec<Vec<u8>>) -> Vec<String> {
    futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>))
        .stream_events(provider)
        .map(|r| match r {
            Ok(e) => format!("{e:?}"),
            Err(e) => format!("error: {e}"),
        })
        .collect()
        .await
}

/// The body whole, byte by byte, and split in two at every point.
fn chunkings(body: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut all = vec![
        vec![body.to_vec()],
        body.chunks(1).map(<[u8]>::to_vec).collect(),
    ];
    for split in 1..body.len() {
        all.push(vec![body[..split].to_vec(), body[split..].to_vec()]);
    }
    all
}

async fn same_items_whatever_the_chunking(
    provider: impl Into<ProviderChoice> + Copy,
    body: &[u8],
) -> Vec<String> {
    let whole = items(provider, vec![body.to_vec()]).await;
    for chunks in chunkings(body) {
        let n = chunks.len();
        assert_eq!(items(provider, chunks).await, whole, "{n} chunks");
    }
    whole
}

const BAD_DELTA_MIDWAY: &[u8] = b"event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"echo\",\"input\":{}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

// Found by the `turn` target: a bad payload in the middle of a chunk was yielded after
// the whole chunk's events, so the same body committed when it arrived in one piece and
// was abandoned in small ones. The error now comes where it occurred.
#[tokio::test]
async fn a_bad_payload_is_yielded_where_it_occurred() {
    let got = same_items_whatever_the_chunking(Provider::Anthropic, BAD_DELTA_MIDWAY).await;
    assert_eq!(got.len(), 6, "{got:#?}");
    assert!(got[1].starts_with("BlockStart"), "{got:#?}");
    assert!(
        got[2].starts_with("error: ") && got[2].contains("index"),
        "{got:#?}"
    );
    assert!(got[3].starts_with("BlockStop"), "{got:#?}");
}

#[tokio::test]
async fn a_bad_payload_abandons_the_turn_in_any_chunking() {
    fn echo(v: Value) -> ToolFuture {
        Box::pin(async move { Ok(v.to_string().into()) })
    }
    let tools = Arc::new(ToolRegistry::new().with_raw_fn("echo", echo));
    for chunks in [
        vec![BAD_DELTA_MIDWAY.to_vec()],
        BAD_DELTA_MIDWAY.chunks(7).map(<[u8]>::to_vec).collect(),
    ] {
        let n = chunks.len();
        let body = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>))
            .stream_events(Provider::Anthropic);
        let events: Vec<_> =
            toolstream::TurnStream::new(body, tools.clone(), TurnConfig::new(Provider::Anthropic))
                .collect()
                .await;
        let Some(Ok(TurnEvent::Outcome(outcome))) = events.last() else {
            panic!("no outcome: {events:?}");
        };
        assert!(
            !outcome.committed,
            "{n} chunks committed a turn with a lost delta"
        );
        assert_eq!(
            outcome.abandoned_because.as_deref(),
            Some("the model stream failed")
        );
        assert!(outcome.results_message.is_none());
    }
}

// A fatal error (auto detection giving up) followed, in the same chunk, by payloads it
// could recognize: nothing after the fatal error is decoded, in one chunk or many.
#[tokio::test]
async fn nothing_is_decoded_after_a_fatal_error_in_the_same_chunk() {
    let mut body = Vec::new();
    for i in 0..40 {
        body.extend_from_slice(format!("data: {{\"unknown\":{i}}}\n\n").as_bytes());
    }
    body.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    let got = same_items_whatever_the_chunking(ProviderChoice::Auto, &body).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("error: ") && got[0].contains("recogniz"),
        "{got:#?}"
    );
}
