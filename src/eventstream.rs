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
        // Reserve for the declared length only up to a modest size: a 12-byte prelude must
        // not be able to claim the full limit before any of the body arrives.
        const UPFRONT: usize = 64 * 1024;
        self.buf
            .reserve(total.saturating_sub(self.buf.len()).min(UPFRONT));
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
mod tests;
