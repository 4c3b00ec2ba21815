//! The answer's events framed for the wire, one function per framing: an SSE frame per
//! event for the SSE providers; for Bedrock an AWS event-stream message per event
//! (`application/vnd.amazon.eventstream`: prelude with total and headers lengths and its
//! CRC-32, string headers, the JSON payload, the message CRC-32; [`crate::eventstream`]
//! draws the layout), and an exception message for a stream that fails after it started.

use axum::body::Bytes;

use crate::eventstream::{encode_message, Header, HeaderValue};

/// One SSE event: an `event:` line when it is named, its `data:` line, and the blank line
/// that dispatches it. `data` must not hold a line break (every payload the mock sends is
/// compact JSON or `[DONE]`).
pub(crate) fn sse_frame(name: Option<&str>, data: &str) -> Bytes {
    let frame = match name {
        Some(n) => format!("event: {n}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    };
    Bytes::from(frame)
}

/// One event-stream message with `headers` (name, string value), in the order given, and
/// `payload` (through [`crate::eventstream::encode_message`], the decoder's own encoder).
///
/// # Panics
///
/// When the message would be longer than `u32::MAX` bytes (4 GiB; AWS caps a message at
/// 16 MiB). A header name longer than 255 bytes or a value longer than 65,535 bytes is
/// cut (at a character boundary) to what the framing can say.
pub(crate) fn event_stream_message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers: Vec<Header> = headers
        .iter()
        .map(|(name, value)| Header {
            name: cut(name, usize::from(u8::MAX)).to_owned(),
            value: HeaderValue::String(cut(value, usize::from(u16::MAX)).to_owned()),
        })
        .collect();
    Bytes::from(encode_message(&headers, payload))
}

/// A Bedrock event: headers `:event-type`, `:content-type` `application/json` and
/// `:message-type` `event`, in the order the service writes them, and the JSON `payload`.
pub(crate) fn event_stream_event(event_type: &str, payload: &str) -> Bytes {
    event_stream_message(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.as_bytes(),
    )
}

/// A Bedrock exception message, as the service ends a stream that failed after it
/// started: headers `:exception-type` (a `ConverseStreamOutput` member such as
/// `throttlingException`, `serviceUnavailableException`, `modelStreamErrorException`,
/// `internalServerException`, `validationException`), `:content-type` `application/json`,
/// `:message-type` `exception`, and the payload `{"message": MESSAGE}`.
pub(crate) fn event_stream_exception(exception_type: &str, message: &str) -> Bytes {
    let payload = serde_json::json!({ "message": message }).to_string();
    event_stream_message(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.as_bytes(),
    )
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventstream::{EventStreamDecoder, Message};

    fn decode(bytes: &[u8]) -> Vec<Message> {
        let mut d = EventStreamDecoder::new();
        let mut out = Vec::new();
        d.push(bytes, &mut out).unwrap();
        d.finish().unwrap();
        out
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/bedrock/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn strings(m: &Message) -> Vec<(&str, &str)> {
        m.headers()
            .iter()
            .map(|h| match &h.value {
                HeaderValue::String(v) => (h.name.as_str(), v.as_str()),
                other => panic!("{}: not a string: {other:?}", h.name),
            })
            .collect()
    }

    /// Every message of the live recordings, encoded again from its headers and payload,
    /// is the recorded bytes exactly.
    #[test]
    fn live_recordings_are_encoded_byte_for_byte() {
        for name in [
            "bedrock-conversestream-tool-use.bin",
            "bedrock-conversestream-text.bin",
        ] {
            let recorded = fixture(name);
            let mut again = Vec::new();
            for m in decode(&recorded) {
                again.extend_from_slice(&event_stream_message(&strings(&m), m.payload()));
            }
            assert_eq!(again, recorded, "{name}");
        }
    }

    #[test]
    fn events_carry_the_headers_bedrock_sends_in_its_order() {
        let m = decode(&event_stream_event(
            "messageStop",
            r#"{"stopReason":"end_turn"}"#,
        ));
        assert_eq!(
            strings(&m[0]),
            [
                (":event-type", "messageStop"),
                (":content-type", "application/json"),
                (":message-type", "event")
            ]
        );
        assert_eq!(&m[0].payload()[..], br#"{"stopReason":"end_turn"}"#);
    }

    #[test]
    fn an_exception_decodes_as_the_providers_error() {
        let bytes = event_stream_exception("throttlingException", "Too \"many\" tokens");
        let m = decode(&bytes);
        assert_eq!(m[0].message_type(), Some("exception"));
        assert_eq!(m[0].exception_type(), Some("throttlingException"));
        let mut d = crate::StreamDecoder::new(crate::Provider::Bedrock);
        let mut events = Vec::new();
        d.push(&bytes, &mut events).unwrap();
        d.finish(&mut events).unwrap();
        assert!(
            matches!(&events[..], [crate::StreamEvent::Error(e)] if e.kind == "throttlingException" && e.message == "Too \"many\" tokens"),
            "{events:?}"
        );
    }

    #[test]
    fn oversized_headers_are_cut_not_a_panic() {
        let long = "é".repeat(40_000);
        let m = decode(&event_stream_message(&[(&long, &long)], b""));
        let h = &m[0].headers()[0];
        assert!(h.name.len() <= 255 && long.starts_with(&h.name));
        assert!(
            matches!(&h.value, HeaderValue::String(v) if v.len() <= 65_535 && long.starts_with(v.as_str()))
        );
    }

    #[test]
    fn sse_frames() {
        assert_eq!(
            &sse_frame(Some("ping"), "{}")[..],
            b"event: ping\ndata: {}\n\n"
        );
        assert_eq!(&sse_frame(None, "[DONE]")[..], b"data: [DONE]\n\n");
    }
}
