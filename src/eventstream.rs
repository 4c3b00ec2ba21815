//! AWS event-stream decoding (`application/vnd.amazon.eventstream`), the binary framing of
//! Bedrock `ConverseStream` responses.
//!
//! ```text
//! +------------------+--------------------+-----------------+---------+---------+-------------+
//! | total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload | message_crc |
//! +------------------+--------------------+-----------------+---------+---------+-------------+
//!  <-------------------------- prelude ---------------------->          u32, of all before it
//! ```
//!
//! Integers are big-endian and both checksums are CRC-32 (IEEE). A header is
//! `name_len u8, name, value_type u8, value`. [`EventStreamDecoder`] is a synchronous push
//! parser: feed it bytes as they arrive, collect whole [`Message`]s, call `finish` at the end.

use std::fmt;
use std::num::NonZeroUsize;

use bytes::{Bytes, BytesMut};
use crc32fast::Hasher;

/// Default for [`EventStreamLimits::max_message_bytes`]: 16 MiB.
///
/// AWS caps one event-stream message at 16 MiB (`total_length`, prelude and checksums
/// included), so a larger declared length means a corrupt or hostile stream, and the decoder
/// refuses it before buffering anything towards it.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// "Prelude: Always a fixed size of 8 bytes, two fields of 4 bytes each", then its CRC.
const PRELUDE_LEN: usize = 12;
/// Offset of the prelude CRC, which the message CRC also covers.
const PRELUDE_CRC_AT: usize = 8;
/// "Total message overhead, including the prelude and both checksums, is 16 bytes."
const MIN_MESSAGE_LEN: usize = 16;
const MESSAGE_CRC_LEN: usize = 4;

/// Size limits for an [`EventStreamDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStreamLimits {
    max_message_bytes: NonZeroUsize,
}

impl EventStreamLimits {
    /// The default limits (see each setter).
    pub const fn new() -> Self {
        match NonZeroUsize::new(DEFAULT_MAX_MESSAGE_BYTES) {
            Some(max_message_bytes) => Self { max_message_bytes },
            None => panic!("default limit is non-zero"),
        }
    }

    /// Largest accepted message, counted as its `total_length` (prelude, headers, payload and
    /// both checksums). Default: [`DEFAULT_MAX_MESSAGE_BYTES`] (16 MiB).
    #[must_use]
    pub const fn max_message_bytes(mut self, n: NonZeroUsize) -> Self {
        self.max_message_bytes = n;
        self
    }

    /// The largest accepted message in bytes.
    pub const fn get_max_message_bytes(&self) -> usize {
        self.max_message_bytes.get()
    }
}

impl Default for EventStreamLimits {
    fn default() -> Self {
        Self::new()
    }
}

/// A typed header value; the comment on each variant gives its wire type tag.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderValue {
    /// 0 (true) or 1 (false), no value bytes.
    Bool(bool),
    /// 2: one signed byte.
    Byte(i8),
    /// 3: `i16`, big-endian.
    Short(i16),
    /// 4: `i32`, big-endian.
    Int(i32),
    /// 5: `i64`, big-endian.
    Long(i64),
    /// 6: `u16` big-endian length, then the bytes.
    Bytes(Bytes),
    /// 7: `u16` big-endian length, then UTF-8.
    String(String),
    /// 8: milliseconds since the Unix epoch, `i64` big-endian.
    Timestamp(i64),
    /// 9: 16 bytes.
    Uuid([u8; 16]),
}

/// One message header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name, such as `:event-type`.
    pub name: String,
    /// Header value.
    pub value: HeaderValue,
}

/// One decoded, checksum-verified event-stream message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    headers: Vec<Header>,
    payload: Bytes,
}

impl Message {
    /// All headers, in wire order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first header called `name`, if there is one and it is a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        match &self.headers.iter().find(|h| h.name == name)?.value {
            HeaderValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The `:event-type` header, such as `contentBlockDelta`.
    pub fn event_type(&self) -> Option<&str> {
        self.header_str(":event-type")
    }

    /// The `:message-type` header: `event`, `exception` or `error`.
    pub fn message_type(&self) -> Option<&str> {
        self.header_str(":message-type")
    }

    /// The `:exception-type` header of an exception message, such as `throttlingException`.
    pub fn exception_type(&self) -> Option<&str> {
        self.header_str(":exception-type")
    }

    /// The payload (JSON for Bedrock), a zero-copy slice of the received bytes.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }
}

/// An event-stream decoding failure. All are fatal: the decoder is fused afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventStreamError {
    /// The prelude CRC on the wire (`expected`) differs from the one computed (`actual`).
    PreludeCrc {
        /// CRC carried by the message.
        expected: u32,
        /// CRC computed over the received prelude.
        actual: u32,
    },
    /// The message CRC on the wire (`expected`) differs from the one computed (`actual`).
    MessageCrc {
        /// CRC carried by the message.
        expected: u32,
        /// CRC computed over the received message.
        actual: u32,
    },
    /// The prelude declares a message longer than [`EventStreamLimits::max_message_bytes`].
    MessageTooLarge {
        /// Declared `total_length`.
        length: usize,
        /// The configured limit.
        limit: usize,
    },
    /// `total` is under 16, or the headers do not fit in the message.
    InvalidLength {
        /// Declared `total_length`.
        total: u32,
        /// Declared `headers_length`.
        headers: u32,
    },
    /// A header has an unknown type tag, overruns the headers section or is not UTF-8.
    InvalidHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// `finish` was called with part of a message buffered.
    Truncated {
        /// Bytes of the incomplete message.
        buffered: usize,
    },
    /// The decoder already returned an error.
    Failed,
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PreludeCrc { expected, actual } => write!(
                f,
                "event-stream prelude crc mismatch: expected {expected:#010x}, computed {actual:#010x}"
            ),
            Self::MessageCrc { expected, actual } => write!(
                f,
                "event-stream message crc mismatch: expected {expected:#010x}, computed {actual:#010x}"
            ),
            Self::MessageTooLarge { length, limit } => write!(
                f,
                "event-stream message of {length} bytes exceeds the limit of {limit} bytes"
            ),
            Self::InvalidLength { total, headers } => write!(
                f,
                "invalid event-stream lengths: total {total} bytes, headers {headers} bytes"
            ),
            Self::InvalidHeader { reason } => write!(f, "invalid event-stream header: {reason}"),
            Self::Truncated { buffered } => write!(
                f,
                "event-stream truncated: {buffered} bytes of an incomplete message at end of input"
            ),
            Self::Failed => f.write_str("event-stream decoder already failed"),
        }
    }
}

impl std::error::Error for EventStreamError {}

/// Where the decoder is in the current message.
///
/// ```text
///            12 bytes buffered; prelude CRC, lengths and limit ok
///  Prelude ───────────────────────────────────────────────────▶ Body
///     ▲                                                          │
///     └────── total_length bytes buffered, message CRC ok ───────┘ (message emitted)
///  any error ─▶ Failed (fused)
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Prelude,
    Body {
        total: usize,
        headers_len: usize,
        prelude_crc: u32,
    },
    Failed,
}

/// Incremental decoder of an AWS event-stream byte stream into [`Message`]s.
///
/// Buffering is linear and bounded: each byte is checked once, a frame is split off the
/// buffer without copying, and a message longer than the limit is refused from its prelude.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    limits: EventStreamLimits,
    buf: BytesMut,
    state: State,
}

impl EventStreamDecoder {
    /// A decoder with the default [`EventStreamLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: EventStreamLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Appends `input`; pushes every message completed by it onto `out`, in order.
    ///
    /// # Errors
    ///
    /// A CRC mismatch, bad lengths, an oversized message or a malformed header. Messages
    /// completed before the error stay in `out`. After any error the decoder is fused: every
    /// later call returns [`EventStreamError::Failed`].
    pub fn push(&mut self, input: &[u8], out: &mut Vec<Message>) -> Result<(), EventStreamError> {
        if self.state == State::Failed {
            return Err(EventStreamError::Failed);
        }
        self.buf.extend_from_slice(input);
        loop {
            let progressed = match self.state {
                State::Prelude => self.read_prelude(),
                State::Body {
                    total,
                    headers_len,
                    prelude_crc,
                } => self.read_body(total, headers_len, prelude_crc, out),
                State::Failed => Err(EventStreamError::Failed),
            };
            match progressed {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// Signals end of input.
    ///
    /// # Termination
    ///
    /// The stream may only end between messages: with nothing buffered this returns `Ok`; a
    /// partial message is reported, not silently dropped.
    ///
    /// # Errors
    ///
    /// [`EventStreamError::Truncated`] if part of a message is buffered, or
    /// [`EventStreamError::Failed`] after an earlier error. Either fuses the decoder.
    pub fn finish(&mut self) -> Result<(), EventStreamError> {
        match self.state {
            State::Failed => Err(EventStreamError::Failed),
            _ if self.buf.is_empty() => Ok(()),
            _ => {
                let buffered = self.buf.len();
                Err(self.fail(EventStreamError::Truncated { buffered }))
            }
        }
    }

    /// Bytes held waiting for the rest of a message.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    fn fail(&mut self, e: EventStreamError) -> EventStreamError {
        self.state = State::Failed;
        self.buf = BytesMut::new();
        e
    }

    /// `Prelude`: validate the prelude as soon as its 12 bytes are here.
    fn read_prelude(&mut self) -> Result<bool, EventStreamError> {
        let Some(prelude) = self.buf.get(..PRELUDE_LEN) else {
            return Ok(false);
        };
        let mut p = [0u8; PRELUDE_LEN];
        p.copy_from_slice(prelude);
        let [t0, t1, t2, t3, h0, h1, h2, h3, c0, c1, c2, c3] = p;
        // "Prelude CRC: the CRC32 of the prelude (total byte-length and headers byte-length)."
        let prelude_crc = crc32fast::hash(&p[..PRELUDE_CRC_AT]);
        let expected = u32::from_be_bytes([c0, c1, c2, c3]);
        if expected != prelude_crc {
            return Err(EventStreamError::PreludeCrc {
                expected,
                actual: prelude_crc,
            });
        }
        // "The total byte-length ... of the entire message, including the 4-byte length field
        // itself"; headers, payload and the 16 bytes of overhead must fit in it.
        let total32 = u32::from_be_bytes([t0, t1, t2, t3]);
        let headers32 = u32::from_be_bytes([h0, h1, h2, h3]);
        let invalid = EventStreamError::InvalidLength {
            total: total32,
            headers: headers32,
        };
        match total32.checked_sub(MIN_MESSAGE_LEN as u32) {
            Some(room) if headers32 <= room => {}
            _ => return Err(invalid),
        }
        let limit = self.limits.get_max_message_bytes();
        let total = usize::try_from(total32).unwrap_or(usize::MAX);
        if total > limit {
            return Err(EventStreamError::MessageTooLarge {
                length: total,
                limit,
            });
        }
        // headers32 <= total32 <= limit, so it fits in usize.
        let headers_len = usize::try_from(headers32).unwrap_or(usize::MAX);
        self.buf.reserve(total.saturating_sub(self.buf.len()));
        self.state = State::Body {
            total,
            headers_len,
            prelude_crc,
        };
        Ok(true)
    }

    /// `Body`: once `total` bytes are here, check the message CRC and emit the message.
    fn read_body(
        &mut self,
        total: usize,
        headers_len: usize,
        prelude_crc: u32,
        out: &mut Vec<Message>,
    ) -> Result<bool, EventStreamError> {
        if self.buf.len() < total {
            return Ok(false);
        }
        let frame = self.buf.split_to(total).freeze();
        // "Message CRC: the CRC32 from the start of the message to the start of the checksum."
        // The prelude bytes are already hashed: continue from their CRC.
        let crc_at = total - MESSAGE_CRC_LEN; // total >= 16
        let covered = frame.get(PRELUDE_CRC_AT..crc_at).unwrap_or_default();
        let mut hasher = Hasher::new_with_initial(prelude_crc);
        hasher.update(covered);
        let actual = hasher.finalize();
        let mut expected = [0u8; MESSAGE_CRC_LEN];
        expected.copy_from_slice(frame.get(crc_at..).unwrap_or(&[0; MESSAGE_CRC_LEN]));
        let expected = u32::from_be_bytes(expected);
        if expected != actual {
            return Err(EventStreamError::MessageCrc { expected, actual });
        }
        // headers_len <= total - 16 was checked with the prelude.
        let payload_at = PRELUDE_LEN + headers_len;
        let headers = parse_headers(frame.slice(PRELUDE_LEN..payload_at))?;
        let payload = frame.slice(payload_at..crc_at);
        out.push(Message { headers, payload });
        self.state = State::Prelude;
        Ok(true)
    }
}

const OVERRUN: &str = "header value overruns the headers section";

/// Splits `n` bytes off the front of `block`, or fails with `reason`.
fn take(block: &mut Bytes, n: usize, reason: &'static str) -> Result<Bytes, EventStreamError> {
    if block.len() < n {
        return Err(EventStreamError::InvalidHeader { reason });
    }
    Ok(block.split_to(n))
}

fn take_array<const N: usize>(
    block: &mut Bytes,
    reason: &'static str,
) -> Result<[u8; N], EventStreamError> {
    let mut a = [0u8; N];
    a.copy_from_slice(&take(block, N, reason)?);
    Ok(a)
}

/// Bytes or string value: "2-byte big-endian length, then the value".
fn take_sized(block: &mut Bytes) -> Result<Bytes, EventStreamError> {
    let len = u16::from_be_bytes(take_array(block, OVERRUN)?);
    take(block, usize::from(len), OVERRUN)
}

fn utf8(bytes: &[u8], reason: &'static str) -> Result<String, EventStreamError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(EventStreamError::InvalidHeader { reason }),
    }
}

/// Parses the headers section: `name_len u8, name, value_type u8, value`, repeated.
fn parse_headers(mut block: Bytes) -> Result<Vec<Header>, EventStreamError> {
    let mut headers = Vec::new();
    while !block.is_empty() {
        let [name_len] = take_array(&mut block, OVERRUN)?;
        let name = take(
            &mut block,
            usize::from(name_len),
            "header name overruns the headers section",
        )?;
        let name = utf8(&name, "header name is not valid utf-8")?;
        let [tag] = take_array(&mut block, "header has no value type")?;
        let value = match tag {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(take_array(&mut block, OVERRUN)?)),
            3 => HeaderValue::Short(i16::from_be_bytes(take_array(&mut block, OVERRUN)?)),
            4 => HeaderValue::Int(i32::from_be_bytes(take_array(&mut block, OVERRUN)?)),
            5 => HeaderValue::Long(i64::from_be_bytes(take_array(&mut block, OVERRUN)?)),
            6 => HeaderValue::Bytes(take_sized(&mut block)?),
            7 => HeaderValue::String(utf8(
                &take_sized(&mut block)?,
                "string header value is not valid utf-8",
            )?),
            8 => HeaderValue::Timestamp(i64::from_be_bytes(take_array(&mut block, OVERRUN)?)),
            9 => HeaderValue::Uuid(take_array(&mut block, OVERRUN)?),
            _ => {
                return Err(EventStreamError::InvalidHeader {
                    reason: "unknown header value type",
                })
            }
        };
        headers.push(Header { name, value });
    }
    Ok(headers)
}

/// Encodes one message (used by tests, fuzz seeds and the mock server).
///
/// # Panics
///
/// If a header name is longer than 255 bytes, a string or byte-array value longer than
/// 65535 bytes, or the whole message longer than `u32::MAX` bytes: none is representable.
pub fn encode_message(headers: &[Header], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for Header { name, value } in headers {
        let name_len = u8::try_from(name.len()).expect("header name longer than 255 bytes");
        block.push(name_len);
        block.extend_from_slice(name.as_bytes());
        let sized = |block: &mut Vec<u8>, tag: u8, v: &[u8]| {
            let len = u16::try_from(v.len()).expect("header value longer than 65535 bytes");
            block.push(tag);
            block.extend_from_slice(&len.to_be_bytes());
            block.extend_from_slice(v);
        };
        match value {
            HeaderValue::Bool(b) => block.push(if *b { 0 } else { 1 }),
            HeaderValue::Byte(v) => block.extend_from_slice(&[2, v.to_be_bytes()[0]]),
            HeaderValue::Short(v) => block.extend([3].into_iter().chain(v.to_be_bytes())),
            HeaderValue::Int(v) => block.extend([4].into_iter().chain(v.to_be_bytes())),
            HeaderValue::Long(v) => block.extend([5].into_iter().chain(v.to_be_bytes())),
            HeaderValue::Bytes(v) => sized(&mut block, 6, v),
            HeaderValue::String(v) => sized(&mut block, 7, v.as_bytes()),
            HeaderValue::Timestamp(v) => block.extend([8].into_iter().chain(v.to_be_bytes())),
            HeaderValue::Uuid(v) => block.extend([9].into_iter().chain(*v)),
        }
    }
    let total = MIN_MESSAGE_LEN
        .checked_add(block.len())
        .and_then(|n| n.checked_add(payload.len()))
        .and_then(|n| u32::try_from(n).ok())
        .expect("event-stream message longer than u32::MAX bytes");
    let headers_len = u32::try_from(block.len()).expect("checked with total");
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&headers_len.to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&block);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
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
        let bytes = include_bytes!("../tests/fixtures/bedrock/bedrock-conversestream-tool-use.bin");
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
}
