//! Server-sent events: a push decoder that follows the WHATWG HTML "event stream
//! interpretation" exactly.
//!
//! The decoder is a byte-level state machine. It never buffers a whole line: field values
//! are copied straight into the buffer they belong to (`data`, `event`, `id`, `retry`) as
//! the bytes arrive, so every input byte is looked at once, whatever the chunking, and a
//! 1 MiB `data` line in 64-byte chunks costs what it costs in one chunk.
//!
//! ```text
//!            ┌────────── EF BB BF (one leading BOM, stripped) ──────────┐
//!  Bom ──────┴──────────────────────────────────────────────────────────▶ LineStart
//!  LineStart ── CR/LF ──▶ dispatch the event, stay (CR then LF counts once)
//!  LineStart ── ':' ────▶ Comment ── CR/LF ──▶ LineStart
//!  LineStart ── other ──▶ Name ── ':' ──▶ ValueStart ── ' ' (once) ──▶ Value
//!  Name ── CR/LF ──▶ field with empty value, LineStart
//!  ValueStart/Value ── CR/LF ──▶ field complete, LineStart
//! ```
//!
//! Invalid UTF-8 is replaced with U+FFFD when a value is turned into a string. Every byte
//! that ends a field or a line is ASCII, and an ASCII byte never belongs to a multi-byte
//! sequence, so decoding each value on its own gives exactly what decoding the whole
//! stream first (as the specification says) would give.

use std::borrow::Cow;
use std::sync::Arc;

mod event;
mod limits;

pub use event::{SseEvent, SseEventRef};
pub use limits::{SseError, SseLimits, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_LINE_BYTES};

/// The field a line names. Anything else is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Data,
    Event,
    Id,
    Retry,
    Ignored,
}

/// Field names longer than this are never one of the four known names.
const NAME_CAP: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the very start: `matched` bytes of a UTF-8 BOM seen so far.
    Bom { matched: u8 },
    /// At the start of a line. `after_cr`: the previous line ended with CR, so an LF
    /// right here belongs to that terminator.
    LineStart { after_cr: bool },
    /// Inside a comment line.
    Comment,
    /// Collecting the field name (the first `NAME_CAP` bytes are kept).
    Name,
    /// Just after the colon: one space may be skipped.
    ValueStart(Field),
    /// Copying the value.
    Value(Field),
    /// Fused after an error.
    Failed,
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The WHATWG server-sent events decoder: a synchronous push parser.
///
/// Push bytes with [`push`](Self::push) in chunks of any size; every event they complete
/// is appended to `out`. Call [`finish`](Self::finish) at end of input.
///
/// # Termination
///
/// An event that was not ended by a blank line when the input ends is discarded, as the
/// specification says ("If the file ends in the middle of an event, before the final empty
/// line, the incomplete event is not dispatched"). [`finish`](Self::finish) reports whether
/// that happened, and resets the decoder for a new stream.
///
/// # Example
///
/// ```
/// use toolstream::SseDecoder;
///
/// let mut decoder = SseDecoder::new();
/// let mut events = Vec::new();
/// decoder.push(b"event: ping\ndata: {\"a\"", &mut events)?;
/// decoder.push(b":1}\r\n\r\ndata: cut off", &mut events)?;
/// assert_eq!(events.len(), 1);
/// assert_eq!(events[0].event(), "ping");
/// assert_eq!(events[0].data(), "{\"a\":1}");
/// assert!(decoder.finish()?, "the unterminated event was discarded");
/// # Ok::<(), toolstream::SseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SseDecoder {
    state: State,
    limits: SseLimits,
    /// Bytes of the current line so far.
    line_len: usize,
    name: [u8; NAME_CAP],
    name_len: usize,
    data: Vec<u8>,
    /// Whether any field was seen since the last dispatch (for `finish`).
    pending: bool,
    event_type: Vec<u8>,
    value: Vec<u8>,
    last_id: Arc<str>,
    retry: Option<u64>,
    /// The most recent event type, reused while it repeats (it nearly always does).
    last_type: Arc<str>,
    message_type: Arc<str>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default [`SseLimits`].
    pub fn new() -> Self {
        Self::with_limits(SseLimits::new())
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: SseLimits) -> Self {
        let message: Arc<str> = Arc::from("message");
        SseDecoder {
            state: State::Bom { matched: 0 },
            limits,
            line_len: 0,
            name: [0; NAME_CAP],
            name_len: 0,
            data: Vec::new(),
            pending: false,
            event_type: Vec::new(),
            value: Vec::new(),
            last_id: Arc::from(""),
            retry: None,
            last_type: message.clone(),
            message_type: message,
        }
    }

    /// The limits in use.
    pub fn limits(&self) -> SseLimits {
        self.limits
    }

    /// Forgets everything, as for a new connection (last event id and retry included).
    pub fn reset(&mut self) {
        *self = Self::with_limits(self.limits);
    }

    /// Whether part of an event (a field line, or an unfinished line) is buffered.
    pub fn is_mid_event(&self) -> bool {
        self.pending
            || !matches!(
                self.state,
                State::LineStart { .. } | State::Bom { matched: 0 } | State::Failed
            )
    }

    /// Decodes `input`, appending every event it completes to `out`.
    ///
    /// # Errors
    ///
    /// [`SseError::LineTooLong`] or [`SseError::EventTooLarge`] when a limit is exceeded;
    /// events completed earlier in the same chunk are already in `out`. The decoder is
    /// then fused and returns [`SseError::Failed`].
    #[inline]
    pub fn push(&mut self, input: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.append_mid_line(input) {
            return Ok(());
        }
        self.run::<true, false, _>(input, &mut |e: SseEventRef<'_>| out.push(e.into_event()))
            .map(drop)
    }

    /// Decodes `input`, handing every event it completes to `sink` as a borrowed
    /// [`SseEventRef`]: no allocation per event when the data is valid UTF-8.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn push_with<F: FnMut(SseEventRef<'_>)>(
        &mut self,
        input: &[u8],
        mut sink: F,
    ) -> Result<(), SseError> {
        if self.append_mid_line(input) {
            return Ok(());
        }
        self.run::<false, false, _>(input, &mut sink).map(drop)
    }

    /// [`push_with`](Self::push_with), stopping before a line that starts with `{`: returns
    /// that line's position in `input`, the decoder left at its start (feed the rest with
    /// [`push_with`](Self::push_with) to read it as SSE); `None` when all of `input` was
    /// read. A JSON object written into the stream without `data:` (Gemini's error bodies)
    /// starts such a line; no SSE field does.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub(crate) fn push_with_until_brace_line<F: FnMut(SseEventRef<'_>)>(
        &mut self,
        input: &[u8],
        mut sink: F,
    ) -> Result<Option<usize>, SseError> {
        if self.append_mid_line(input) {
            return Ok(None);
        }
        self.run::<false, true, _>(input, &mut sink)
    }

    /// The middle of a long data line: when the chunk is free of line ends and within both
    /// limits (`line_len` and the data never exceed theirs), appends it and says so. This is
    /// all a large line in small chunks costs per chunk, so it is tried before the state
    /// loop, inlined into the caller.
    #[inline]
    fn append_mid_line(&mut self, input: &[u8]) -> bool {
        let fits = self.state == State::Value(Field::Data)
            && self.data_line_has_room(input.len())
            && !may_hold_line_end(input);
        if fits {
            self.line_len += input.len();
            self.data.extend_from_slice(input);
        }
        fits
    }

    /// Whether `n` more bytes of a data line stay within both limits (`line_len` and the
    /// data never exceed theirs, so neither subtraction wraps).
    #[inline]
    fn data_line_has_room(&self, n: usize) -> bool {
        n <= self.limits.max_line - self.line_len && n <= self.limits.max_event - self.data.len()
    }

    /// `OWNED`: the sink keeps what it is given (`push`), so a large data buffer is handed
    /// over rather than copied.
    ///
    /// `STOP_AT_BRACE`: stop before a line that starts with `{` and return its position,
    /// leaving the decoder at that line's start (for Gemini's raw JSON error bodies, see
    /// `decode`); `None` when the whole input was read.
    fn run<const OWNED: bool, const STOP_AT_BRACE: bool, F: FnMut(SseEventRef<'_>)>(
        &mut self,
        input: &[u8],
        sink: &mut F,
    ) -> Result<Option<usize>, SseError> {
        // Fused, even for an empty chunk.
        if self.state == State::Failed {
            return Err(SseError::Failed);
        }
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Failed => return Err(SseError::Failed),
                State::Bom { matched } => {
                    // "One leading U+FEFF BYTE ORDER MARK character must be ignored if any
                    // are present."
                    if input[i] == BOM[matched as usize] {
                        i += 1;
                        self.state = if matched == 2 {
                            State::LineStart { after_cr: false }
                        } else {
                            State::Bom {
                                matched: matched + 1,
                            }
                        };
                    } else {
                        // Not a BOM after all: replay the bytes that matched so far.
                        self.state = State::LineStart { after_cr: false };
                        let partial = BOM;
                        self.run::<OWNED, false, F>(&partial[..matched as usize], sink)?;
                    }
                }
                State::LineStart { after_cr } => {
                    // The two field names nearly every line starts with, whole in the
                    // chunk: straight to the value, as the byte-by-byte path would get.
                    let rest = &input[i..];
                    let known = if rest.starts_with(b"data:") {
                        Some((Field::Data, 5))
                    } else if rest.starts_with(b"event:") {
                        Some((Field::Event, 6))
                    } else {
                        None
                    };
                    if let Some((field, n)) = known {
                        self.line_len = 0;
                        self.grow_line(n)?;
                        i += n;
                        self.begin_value(field);
                        self.state = State::ValueStart(field);
                        continue;
                    }
                    let b = input[i];
                    if STOP_AT_BRACE && b == b'{' {
                        return Ok(Some(i));
                    }
                    i += 1;
                    match b {
                        b'\n' if after_cr => self.state = State::LineStart { after_cr: false },
                        // "If the line is empty (a blank line): Dispatch the event."
                        b'\n' | b'\r' => {
                            self.dispatch::<OWNED, F>(sink);
                            self.state = State::LineStart {
                                after_cr: b == b'\r',
                            };
                        }
                        // "If the line starts with a U+003A COLON character: Ignore the line."
                        b':' => {
                            self.line_len = 1;
                            self.state = State::Comment;
                        }
                        _ => {
                            self.line_len = 1;
                            self.name[0] = b;
                            self.name_len = 1;
                            self.state = State::Name;
                        }
                    }
                }
                State::Comment => {
                    let rest = &input[i..];
                    match memchr::memchr2(b'\r', b'\n', rest) {
                        Some(n) => {
                            self.grow_line(n)?;
                            i += n + 1;
                            self.state = State::LineStart {
                                after_cr: rest[n] == b'\r',
                            };
                        }
                        None => {
                            self.grow_line(rest.len())?;
                            i = input.len();
                        }
                    }
                }
                State::Name => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b':' => {
                            self.grow_line(1)?;
                            let field = self.field();
                            self.begin_value(field);
                            self.state = State::ValueStart(field);
                        }
                        b'\r' | b'\n' => {
                            // "Otherwise, the string is not empty but does not contain a
                            // U+003A COLON character: process the field using the whole line
                            // as the field name, and the empty string as the field value."
                            let field = self.field();
                            self.begin_value(field);
                            self.end_field(field)?;
                            self.state = State::LineStart {
                                after_cr: b == b'\r',
                            };
                        }
                        _ => {
                            self.grow_line(1)?;
                            if self.name_len < NAME_CAP {
                                self.name[self.name_len] = b;
                            }
                            self.name_len = self.name_len.saturating_add(1);
                        }
                    }
                }
                State::ValueStart(field) => {
                    // "If value starts with a U+0020 SPACE character, remove it from value."
                    if input[i] == b' ' {
                        self.grow_line(1)?;
                        i += 1;
                    }
                    self.state = State::Value(field);
                }
                State::Value(field) => {
                    let rest = &input[i..];
                    let (n, end) = match memchr::memchr2(b'\r', b'\n', rest) {
                        Some(n) => (n, Some(rest[n])),
                        None => (rest.len(), None),
                    };
                    // The rest of the chunk is the middle of a data line (the chunk began
                    // with its field name): as `append_mid_line`, copy it, done.
                    if field == Field::Data && end.is_none() && self.data_line_has_room(n) {
                        self.line_len += n;
                        self.data.extend_from_slice(rest);
                        return Ok(None);
                    }
                    // An event of one data line with its blank line whole in the chunk
                    // (nearly every event): dispatched borrowing the value from the input,
                    // never copied into the data buffer. Within both limits only, so every
                    // error still comes from the path below.
                    if field == Field::Data && self.data.is_empty() && end.is_some() {
                        if let Some((used, after_cr)) = blank_line_after(rest, n) {
                            if n < self.limits.max_event
                                && n <= self.limits.max_line - self.line_len
                            {
                                self.pending = false;
                                self.deliver(utf8(&rest[..n]), sink);
                                self.event_type.clear();
                                i += used;
                                self.state = State::LineStart { after_cr };
                                continue;
                            }
                        }
                    }
                    // Both limits are checked at the byte that first exceeds one, so the
                    // error does not depend on how the input was chunked.
                    if field == Field::Data {
                        let line_room = self.limits.max_line.saturating_sub(self.line_len);
                        let data_room = self.limits.max_event - self.data.len();
                        if n > data_room && data_room < line_room {
                            return self
                                .fail(SseError::EventTooLarge {
                                    limit: self.limits.max_event,
                                })
                                .map(|()| None);
                        }
                    }
                    self.grow_line(n)?;
                    self.append_value(field, &rest[..n])?;
                    i += n;
                    if let Some(t) = end {
                        i += 1;
                        self.end_field(field)?;
                        self.state = State::LineStart {
                            after_cr: t == b'\r',
                        };
                    }
                }
            }
        }
        Ok(None)
    }

    /// Marks the end of input and resets the decoder for a new stream.
    ///
    /// Returns whether an unterminated event (or line) was discarded.
    ///
    /// # Errors
    ///
    /// [`SseError::Failed`] if an earlier call failed.
    pub fn finish(&mut self) -> Result<bool, SseError> {
        if self.state == State::Failed {
            return Err(SseError::Failed);
        }
        let discarded = self.is_mid_event();
        self.reset();
        Ok(discarded)
    }

    fn fail(&mut self, e: SseError) -> Result<(), SseError> {
        self.state = State::Failed;
        Err(e)
    }

    fn grow_line(&mut self, n: usize) -> Result<(), SseError> {
        self.line_len = self.line_len.saturating_add(n);
        if self.line_len > self.limits.max_line {
            return self.fail(SseError::LineTooLong {
                limit: self.limits.max_line,
            });
        }
        Ok(())
    }

    fn field(&self) -> Field {
        if self.name_len > NAME_CAP {
            return Field::Ignored;
        }
        match &self.name[..self.name_len] {
            b"data" => Field::Data,
            b"event" => Field::Event,
            b"id" => Field::Id,
            b"retry" => Field::Retry,
            _ => Field::Ignored,
        }
    }

    fn begin_value(&mut self, field: Field) {
        self.pending = true;
        match field {
            // "Set the event type buffer to field value."
            Field::Event => self.event_type.clear(),
            Field::Id | Field::Retry => self.value.clear(),
            Field::Data | Field::Ignored => {}
        }
    }

    fn append_value(&mut self, field: Field, bytes: &[u8]) -> Result<(), SseError> {
        match field {
            Field::Data => {
                if self.data.len() + bytes.len() > self.limits.max_event {
                    return self.fail(SseError::EventTooLarge {
                        limit: self.limits.max_event,
                    });
                }
                self.data.extend_from_slice(bytes);
            }
            Field::Event => self.event_type.extend_from_slice(bytes),
            Field::Id | Field::Retry => self.value.extend_from_slice(bytes),
            Field::Ignored => {}
        }
        Ok(())
    }

    fn end_field(&mut self, field: Field) -> Result<(), SseError> {
        match field {
            // "Append the field value to the data buffer, then append a single U+000A LINE
            // FEED (LF) character to the data buffer."
            Field::Data => self.append_value(Field::Data, b"\n")?,
            Field::Event | Field::Ignored => {}
            // "If the field value does not contain U+0000 NULL, then set the last event ID
            // buffer to the field value. Otherwise, ignore the field."
            Field::Id => {
                if !self.value.contains(&0) {
                    self.last_id = Arc::from(String::from_utf8_lossy(&self.value));
                }
            }
            // "If the field value consists of only ASCII digits, then interpret the field
            // value as an integer in base ten, and set the event stream's reconnection time
            // to that integer. Otherwise, ignore the field."
            Field::Retry => {
                if !self.value.is_empty() && self.value.iter().all(u8::is_ascii_digit) {
                    let ms = self.value.iter().fold(0u64, |acc, d| {
                        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                    });
                    self.retry = Some(ms);
                }
            }
        }
        Ok(())
    }

    /// The "dispatch the event" steps.
    fn dispatch<const OWNED: bool, F: FnMut(SseEventRef<'_>)>(&mut self, sink: &mut F) {
        self.pending = false;
        // "If the data buffer is an empty string, set the data buffer and the event type
        // buffer to the empty string and return."
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        // "If the data buffer's last character is a U+000A LINE FEED (LF) character, then
        // remove the last character from the data buffer."
        if self.data.last() == Some(&b'\n') {
            self.data.pop();
        }
        let data = std::mem::take(&mut self.data);
        if OWNED && data.len() >= HAND_OVER_BYTES {
            // Large data goes to a sink that keeps it as it is, not copied: a fresh
            // buffer grows for the next event.
            let text = match String::from_utf8(data) {
                Ok(text) => text,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            self.deliver(Cow::Owned(text), sink);
        } else {
            self.deliver(utf8(&data), sink);
            self.data = data;
        }
        // "Set the data buffer and the event type buffer to the empty string."
        self.data.clear();
        self.event_type.clear();
    }

    /// Hands the sink an event with `data`, typed by the event type buffer.
    fn deliver<F: FnMut(SseEventRef<'_>)>(&mut self, data: Cow<'_, str>, sink: &mut F) {
        // "Initialize event's type attribute to "message" ... If the event type buffer has a
        // value other than the empty string, change the type of the newly created event to
        // equal the value of the event type buffer."
        let event = if self.event_type.is_empty() {
            &self.message_type
        } else {
            if self.last_type.as_bytes() != self.event_type.as_slice() {
                self.last_type = Arc::from(String::from_utf8_lossy(&self.event_type));
            }
            &self.last_type
        };
        sink(SseEventRef {
            event,
            data,
            id: &self.last_id,
            retry: self.retry,
        });
    }
}

/// Data at least this large is handed to a `push` caller's event without a copy.
const HAND_OVER_BYTES: usize = 64 * 1024;

/// The data as text: `from_utf8` is the fast check; the lossy repair (U+FFFD for each bad
/// byte, as the specification's decoding does) only runs for invalid input.
fn utf8(data: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(data) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(data),
    }
}

/// False when `bytes` certainly holds no CR or LF; true when it may (it does, or it holds
/// a vertical tab or form feed, bytes 0x0B and 0x0C, which lie between the two).
///
/// Each 64-byte block is folded without branches into one range check per byte, which the
/// compiler turns into a few vector instructions: on a 64-byte chunk that is cheaper than a
/// call to `memchr2`, whose setup is paid on every call. Blocks end the scan
/// early, so a line end near the start of a large chunk is found quickly.
fn may_hold_line_end(bytes: &[u8]) -> bool {
    // LF (0x0A) ..= CR (0x0D) as one unsigned compare.
    let near_end = |b: u8| u8::from(b.wrapping_sub(b'\n') <= b'\r' - b'\n');
    let mut blocks = bytes.chunks_exact(64);
    for block in &mut blocks {
        if block.iter().fold(0, |seen, &b| seen | near_end(b)) != 0 {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| near_end(b) != 0)
}

/// Where a data line ending at `rest[n]` is followed by a blank line within `rest`: the
/// bytes the line, its terminator and the blank line take, and whether the blank line
/// ended with a CR (whose LF, if one follows, is not a line of its own).
fn blank_line_after(rest: &[u8], n: usize) -> Option<(usize, bool)> {
    let mut j = n + 1;
    if rest[n] == b'\r' && rest.get(j) == Some(&b'\n') {
        j += 1;
    }
    match rest.get(j) {
        Some(&b) if b == b'\n' || b == b'\r' => Some((j + 1, b == b'\r')),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
