use super::*;
use EventStreamError::*;

type Outcome = (Vec<Message>, Result<(), EventStreamError>);

fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let (mut decoder, mut out) = (EventStreamDecoder::new(), Vec::new());
    for chunk in chunks {
        if let Err(e) = decoder.push(chunk, &mut out) {
            return (out, Err(e));
        }
    }
    let end = decoder.finish();
    (out, end)
}

/// Decodes whole, split at every point and byte by byte; asserts all agree.
fn decode(bytes: &[u8]) -> Outcome {
    let whole = decode_chunks([bytes]);
    for at in 0..=bytes.len() {
        let (a, b) = bytes.split_at(at);
        assert_eq!(decode_chunks([a, b]), whole, "split at {at}");
    }
    assert_eq!(decode_chunks(bytes.chunks(1)), whole, "byte by byte");
    whole
}

fn string(name: &str, value: &str) -> Header {
    let value = HeaderValue::String(value.into());
    Header {
        name: name.into(),
        value,
    }
}

fn event(event_type: &str, payload: &str) -> Vec<u8> {
    let headers = [
        string(":event-type", event_type),
        string(":message-type", "event"),
    ];
    encode_message(&headers, payload.as_bytes())
}

/// A prelude with a correct CRC followed by `rest`.
fn prelude(total: u32, headers: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = [total.to_be_bytes(), headers.to_be_bytes()].concat();
    v.extend(crc32fast::hash(&v).to_be_bytes());
    [&v, rest].concat()
}

/// A message with correct lengths and CRCs around a raw headers section.
fn framed(block: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = (16 + block.len() + payload.len()) as u32;
    let mut v = prelude(total, block.len() as u32, &[block, payload].concat());
    v.extend(crc32fast::hash(&v).to_be_bytes());
    v
}

fn flip(mut v: Vec<u8>, at: usize) -> Vec<u8> {
    v[at] ^= 0x01;
    v
}

fn crc_at(v: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(v[at..at + 4].try_into().unwrap())
}

macro_rules! round_trip {
    ($($name:ident: $value:expr;)*) => {$(
        #[test]
        fn $name() {
            let headers = vec![Header { name: "h".into(), value: $value }];
            let (messages, end) = decode(&encode_message(&headers, b"{}"));
            assert_eq!(end, Ok(()));
            assert_eq!(messages.len(), 1);
            assert_eq!((messages[0].headers(), &messages[0].payload()[..]), (&headers[..], &b"{}"[..]));
        }
    )*};
}

round_trip! {
    header_bool_true: HeaderValue::Bool(true);
    header_bool_false: HeaderValue::Bool(false);
    header_byte: HeaderValue::Byte(-7);
    header_short: HeaderValue::Short(-12345);
    header_int: HeaderValue::Int(i32::MIN);
    header_long: HeaderValue::Long(i64::MAX);
    header_bytes: HeaderValue::Bytes(Bytes::from_static(b"\x00\xff\x10"));
    header_bytes_empty: HeaderValue::Bytes(Bytes::new());
    header_string_utf8: HeaderValue::String("héllo ✓".into());
    header_timestamp: HeaderValue::Timestamp(1_755_600_000_000);
    header_uuid: HeaderValue::Uuid(*b"0123456789abcdef");
}

/// `$bytes` decodes (whole, at every split, byte by byte) to `$n` messages, then `$end`.
macro_rules! outcome {
    ($($name:ident: $bytes:expr => ($n:literal, $end:pat);)*) => {$(
        #[test]
        fn $name() {
            let outcome = decode(&$bytes);
            assert!(matches!((outcome.0.len(), &outcome.1), ($n, $end)), "{outcome:?}");
        }
    )*};
}

outcome! {
    empty_input: [] => (0, Ok(()));
    no_headers_no_payload: framed(&[], &[]) => (1, Ok(()));
    three_messages: [event("a", "1"), event("b", "22"), event("c", "")].concat() => (3, Ok(()));
    prelude_crc_flipped: flip(event("a", "{}"), 9) => (0, Err(PreludeCrc { .. }));
    length_flip_is_caught_by_prelude_crc: flip(event("a", "{}"), 3) => (0, Err(PreludeCrc { .. }));
    total_under_16: prelude(15, 0, &[0; 8]) => (0, Err(InvalidLength { total: 15, headers: 0 }));
    total_zero: prelude(0, 0, &[]) => (0, Err(InvalidLength { total: 0, headers: 0 }));
    headers_over_total: prelude(20, 5, &[0; 8]) => (0, Err(InvalidLength { total: 20, headers: 5 }));
    headers_u32_max: prelude(u32::MAX, u32::MAX, &[]) => (0, Err(InvalidLength { .. }));
    over_default_limit: prelude(16 << 20 | 1, 0, &[]) => (0, Err(MessageTooLarge { length: 16777217, limit: 16777216 }));
    total_u32_max: prelude(u32::MAX, 0, &[]) => (0, Err(MessageTooLarge { length: 4294967295, .. }));
    unknown_type_tag: framed(&[1, b'a', 10], b"{}") => (0, Err(InvalidHeader { reason: "unknown header value type" }));
    string_overruns: framed(&[1, b'a', 7, 0, 10, b'h', b'i'], b"") => (0, Err(InvalidHeader { reason: OVERRUN }));
    int_overruns: framed(&[1, b'a', 4, 0, 0], b"") => (0, Err(InvalidHeader { reason: OVERRUN }));
    name_overruns: framed(&[5, b'a'], b"") => (0, Err(InvalidHeader { reason: "header name overruns the headers section" }));
    missing_type_tag: framed(&[1, b'a'], b"") => (0, Err(InvalidHeader { reason: "header has no value type" }));
    name_not_utf8: framed(&[1, 0xff, 0], b"") => (0, Err(InvalidHeader { reason: "header name is not valid utf-8" }));
    string_not_utf8: framed(&[1, b'a', 7, 0, 1, 0xc3], b"") => (0, Err(InvalidHeader { reason: "string header value is not valid utf-8" }));
    truncated_prelude: event("a", "{}")[..5] => (0, Err(Truncated { buffered: 5 }));
    truncated_body: [event("a", "1"), event("b", "{}")[..20].to_vec()].concat() => (1, Err(Truncated { buffered: 20 }));
    error_after_good_message: [event("a", "1"), flip(event("b", "{}"), 0)].concat() => (1, Err(PreludeCrc { .. }));
}

#[test]
fn crc_errors_carry_wire_and_computed_values() {
    let good = event("a", "{\"x\":1}");
    let bad = flip(good.clone(), 9);
    let (expected, actual) = (crc_at(&bad, 8), crc_at(&good, 8));
    assert_eq!(decode(&bad), (vec![], Err(PreludeCrc { expected, actual })));
    let bad = flip(good.clone(), good.len() - 6); // a payload byte
    let actual = crc32fast::hash(&bad[..bad.len() - 4]);
    let expected = crc_at(&good, good.len() - 4);
    assert_eq!(decode(&bad), (vec![], Err(MessageCrc { expected, actual })));
}

#[test]
fn too_large_is_refused_from_the_prelude_alone() {
    let limits = EventStreamLimits::new().max_message_bytes(NonZeroUsize::new(64).unwrap());
    assert_eq!(limits.get_max_message_bytes(), 64);
    let mut decoder = EventStreamDecoder::with_limits(limits);
    let mut out = Vec::new();
    assert_eq!(decoder.push(&prelude(65, 0, &[])[..11], &mut out), Ok(()));
    assert_eq!(decoder.buffered_len(), 11);
    let err = decoder.push(&prelude(65, 0, &[])[11..], &mut out);
    assert_eq!(
        err,
        Err(MessageTooLarge {
            length: 65,
            limit: 64
        })
    );
    let mut decoder = EventStreamDecoder::with_limits(limits);
    assert_eq!(decoder.push(&framed(&[], &[0; 48]), &mut out), Ok(())); // exactly 64
    assert_eq!((out.len(), decoder.buffered_len()), (1, 0));
}

#[test]
fn fused_after_error() {
    let (mut decoder, mut out) = (EventStreamDecoder::new(), Vec::new());
    assert!(decoder.push(&prelude(3, 0, &[]), &mut out).is_err());
    assert_eq!(decoder.buffered_len(), 0);
    assert_eq!(decoder.push(&event("a", "{}"), &mut out), Err(Failed));
    assert_eq!(decoder.finish(), Err(Failed));
    let mut decoder = EventStreamDecoder::new();
    assert_eq!(decoder.push(&[0; 3], &mut out), Ok(()));
    assert_eq!(decoder.finish(), Err(Truncated { buffered: 3 }));
    assert_eq!(decoder.push(&event("a", "{}"), &mut out), Err(Failed));
    assert!(out.is_empty());
}

#[test]
fn buffered_len_tracks_the_partial_message() {
    let (mut decoder, mut out) = (EventStreamDecoder::new(), Vec::new());
    let bytes = [event("a", "1"), event("b", "2")].concat();
    let first = event("a", "1").len();
    decoder.push(&bytes[..first + 13], &mut out).unwrap();
    assert_eq!((out.len(), decoder.buffered_len()), (1, 13));
    decoder.push(&bytes[first + 13..], &mut out).unwrap();
    assert_eq!((out.len(), decoder.buffered_len()), (2, 0));
    assert_eq!(decoder.finish(), Ok(()));
    let types: Vec<_> = out.iter().map(|m| m.event_type().unwrap()).collect();
    assert_eq!(
        (types, out[1].message_type()),
        (vec!["a", "b"], Some("event"))
    );
}

#[test]
fn exception_frame() {
    let headers = [
        string(":message-type", "exception"),
        string(":exception-type", "throttlingException"),
        string(":content-type", "application/json"),
    ];
    let payload = br#"{"message":"Too many tokens"}"#;
    let (messages, end) = decode(&encode_message(&headers, payload));
    assert_eq!((messages.len(), end), (1, Ok(())));
    let m = &messages[0];
    assert_eq!(m.exception_type(), Some("throttlingException"));
    assert_eq!(
        (m.message_type(), m.event_type()),
        (Some("exception"), None)
    );
    assert_eq!(m.header_str(":content-type"), Some("application/json"));
    assert_eq!(&m.payload()[..], payload);
}

#[test]
fn header_str_is_none_for_non_strings() {
    let value = HeaderValue::Int(1);
    let headers = [Header {
        name: ":event-type".into(),
        value,
    }];
    let (messages, _) = decode_chunks([&encode_message(&headers, b"")[..]]);
    assert_eq!(messages[0].event_type(), None);
}

#[test]
fn bedrock_conversestream_capture() {
    let bytes = include_bytes!("../../tests/fixtures/bedrock/bedrock-conversestream-tool-use.bin");
    let (messages, end) = decode(bytes);
    assert_eq!(end, Ok(()));
    let types: Vec<_> = messages.iter().map(|m| m.event_type().unwrap()).collect();
    assert_eq!(types[..2], ["messageStart", "contentBlockDelta"]);
    assert_eq!(types[types.len() - 2..], ["messageStop", "metadata"]);
    assert!(types.contains(&"contentBlockStart"));
    assert!(messages.iter().all(|m| m.message_type() == Some("event")));
    assert!(messages[0].payload().starts_with(b"{\"p\":"));
    let reencoded: Vec<u8> = messages
        .iter()
        .flat_map(|m| encode_message(m.headers(), m.payload()))
        .collect();
    assert_eq!(reencoded, bytes);
}

macro_rules! displays {
    ($($error:expr => $text:literal;)*) => {$( assert_eq!($error.to_string(), $text); )*};
}

#[test]
fn errors_display_lowercase_with_numbers() {
    displays! {
        PreludeCrc { expected: 0xab, actual: 1 } => "event-stream prelude crc mismatch: expected 0x000000ab, computed 0x00000001";
        MessageCrc { expected: 2, actual: 3 } => "event-stream message crc mismatch: expected 0x00000002, computed 0x00000003";
        MessageTooLarge { length: 9, limit: 8 } => "event-stream message of 9 bytes exceeds the limit of 8 bytes";
        InvalidLength { total: 4, headers: 5 } => "invalid event-stream lengths: total 4 bytes, headers 5 bytes";
        InvalidHeader { reason: "x" } => "invalid event-stream header: x";
        Truncated { buffered: 7 } => "event-stream truncated: 7 bytes of an incomplete message at end of input";
        Failed => "event-stream decoder already failed";
    }
}

#[test]
fn defaults_and_auto_traits() {
    fn send_sync<T: Send + Sync + Unpin>() {}
    send_sync::<EventStreamDecoder>();
    send_sync::<EventStreamError>();
    let limits = EventStreamLimits::default();
    assert_eq!(limits, EventStreamLimits::new());
    assert_eq!(limits.get_max_message_bytes(), DEFAULT_MAX_MESSAGE_BYTES);
}
