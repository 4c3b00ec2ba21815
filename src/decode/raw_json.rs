//! Gemini error bodies written into the stream as raw JSON lines, without `data:`.
//!
//! Gemini (and Vertex) may end a `?alt=sse` stream with the error as a bare, often
//! pretty-printed JSON object: `{` on a line of its own, `"error": {...}` lines, `}`. SSE
//! ignores such lines (they are fields with unknown names), so the error would be lost and
//! the turn read as complete. google-genai's `_api_client` reads them: a line that does not
//! start with `data: ` is buffered, "When API returns an error message, it comes line by
//! line. So we buffer the lines until a complete JSON string is read. A complete JSON
//! string is found when the balance is 0" (counting `{` and `}`), and the object is then
//! handled as a response, an `error` in it raised. This scanner does the same at the
//! framing level:
//!
//! ```text
//!  Watching ── a line starting with '{' ──▶ BodyLine (the SSE decoder sees the line as a
//!     ▲                                        comment: ':' is put before it)
//!     │                                        │ line end
//!     │   balance 0: the body is a payload ◀───┤
//!     │                                        ▼ balance not 0
//!     └──────────────────────────────── BodyLineStart ── CR/LF (blank) ──▶ stays
//!                                              └── any other byte ──▶ BodyLine
//! ```
//!
//! Inside a body every non-blank line belongs to it (google-genai would also pass a
//! `data: ` line through; a data line inside an unbalanced error object does not occur).
//! The body is bounded by the SSE event limit. On the normal path (no body) the cost is a
//! branchless pass over a chunk without line ends (the middle of a data line), else one
//! `memchr2` pass and a look at the byte after each line end.

use memchr::memchr2_iter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside a body. `line_start`: the next byte starts a line; `after_cr`: the last
    /// line ended with CR, so an LF right here belongs to it.
    Watching { line_start: bool, after_cr: bool },
    /// In a body, inside one of its lines.
    BodyLine,
    /// In a body, at the start of a line.
    BodyLineStart { after_cr: bool },
}

/// What the caller does with the chunk it passed to [`RawJson::next`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Hand the whole chunk to the SSE decoder; the scanner read all of it.
    Pass,
    /// Hand `chunk[..at]` to the SSE decoder, then `:`; a body line starts at `at`.
    /// Call again with `chunk[at..]`.
    BodyLine { at: usize },
    /// Hand `chunk[..at]` to the SSE decoder, then the body ([`RawJson::take_body`]) to
    /// the provider decoder. Call again with `chunk[at..]`.
    Complete { at: usize },
    /// The body grew past the limit.
    TooLarge,
}

/// The scanner. See the [module docs](self).
#[derive(Debug, Clone)]
pub(super) struct RawJson {
    state: State,
    body: Vec<u8>,
    balance: i64,
    max: usize,
}

impl RawJson {
    /// A scanner at the start of a stream, bodies bounded by `max` bytes.
    pub(super) fn new(max: usize) -> Self {
        RawJson {
            state: State::Watching {
                line_start: true,
                after_cr: false,
            },
            body: Vec::new(),
            balance: 0,
            max,
        }
    }

    /// Reads `chunk` up to the next thing the caller must act on.
    pub(super) fn next(&mut self, chunk: &[u8]) -> Next {
        let mut i = 0;
        loop {
            match self.state {
                State::Watching {
                    line_start,
                    after_cr,
                } => return self.watch(chunk, i, line_start, after_cr),
                State::BodyLineStart { after_cr } => {
                    let Some(&b) = chunk.get(i) else {
                        return Next::Pass;
                    };
                    match b {
                        b'\n' if after_cr => {
                            i += 1;
                            self.state = State::BodyLineStart { after_cr: false };
                        }
                        // A blank line: SSE's (it may end an event), not the body's.
                        b'\r' | b'\n' => {
                            i += 1;
                            self.state = State::BodyLineStart {
                                after_cr: b == b'\r',
                            };
                        }
                        _ => {
                            self.state = State::BodyLine;
                            return Next::BodyLine { at: i };
                        }
                    }
                }
                State::BodyLine => {
                    let rest = &chunk[i..];
                    let end = memchr::memchr2(b'\r', b'\n', rest);
                    let line = &rest[..end.unwrap_or(rest.len())];
                    if self.body.len() + line.len() + 1 > self.max {
                        return Next::TooLarge;
                    }
                    for &b in line {
                        match b {
                            b'{' => self.balance += 1,
                            b'}' => self.balance -= 1,
                            _ => {}
                        }
                    }
                    self.body.extend_from_slice(line);
                    let Some(n) = end else {
                        return Next::Pass;
                    };
                    self.body.push(b'\n');
                    i += n + 1;
                    let after_cr = rest[n] == b'\r';
                    if self.balance == 0 {
                        self.state = State::Watching {
                            line_start: true,
                            after_cr,
                        };
                        return Next::Complete { at: i };
                    }
                    self.state = State::BodyLineStart { after_cr };
                }
            }
        }
    }

    /// The normal path: finds the next line that starts with `{`, from `chunk[i..]`.
    fn watch(&mut self, chunk: &[u8], i: usize, line_start: bool, after_cr: bool) -> Next {
        let rest = &chunk[i..];
        if rest.is_empty() {
            return Next::Pass;
        }
        // A line start carried over from the previous chunk (after a CR, an LF here
        // belongs to it, and the scan below looks after it).
        let _ = after_cr;
        if line_start && rest[0] == b'{' {
            return self.open(i);
        }
        // Most chunks are the middle of a data line: one branchless pass says so, cheaper
        // than setting up a search on a small chunk.
        if !may_hold_line_end(rest) {
            self.state = State::Watching {
                line_start: false,
                after_cr: false,
            };
            return Next::Pass;
        }
        let mut state = State::Watching {
            line_start: false,
            after_cr: false,
        };
        for k in memchr2_iter(b'\r', b'\n', rest) {
            match rest.get(k + 1) {
                Some(b'{') => return self.open(i + k + 1),
                Some(_) => {}
                None => {
                    state = State::Watching {
                        line_start: true,
                        after_cr: rest[k] == b'\r',
                    }
                }
            }
        }
        self.state = state;
        Next::Pass
    }

    fn open(&mut self, at: usize) -> Next {
        self.state = State::BodyLine;
        self.body.clear();
        self.balance = 0;
        Next::BodyLine { at }
    }

    /// The completed body, as text (invalid UTF-8 replaced).
    pub(super) fn take_body(&mut self) -> String {
        let body = std::mem::take(&mut self.body);
        if body.last() == Some(&b'\n') {
            String::from_utf8_lossy(&body[..body.len() - 1]).into_owned()
        } else {
            String::from_utf8_lossy(&body).into_owned()
        }
    }

    /// End of input: a body whose last line was not terminated but balances is complete
    /// (google-genai reads the last line without its line end); `None` otherwise.
    pub(super) fn finish(&mut self) -> Option<String> {
        let complete = self.state == State::BodyLine && self.balance == 0 && !self.body.is_empty();
        let body = complete.then(|| self.take_body());
        *self = RawJson::new(self.max);
        body
    }
}

/// False when `bytes` certainly holds no CR or LF; true when it may (it does, or it holds
/// byte 0x0B or 0x0C, which lie between the two). Each 64-byte block is folded without
/// branches into one range check per byte, which compiles to a few vector instructions
/// (the same check the SSE decoder makes before its own search).
fn may_hold_line_end(bytes: &[u8]) -> bool {
    let near_end = |b: u8| u8::from(b.wrapping_sub(b'\n') <= b'\r' - b'\n');
    let mut blocks = bytes.chunks_exact(64);
    for block in &mut blocks {
        if block.iter().fold(0, |seen, &b| seen | near_end(b)) != 0 {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| near_end(b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `input` split at `at`: the SSE bytes (with `:` before body lines) and bodies.
    fn run(input: &[u8], splits: &[usize]) -> (Vec<u8>, Vec<String>) {
        let mut raw = RawJson::new(1 << 20);
        let (mut sse, mut bodies) = (Vec::new(), Vec::new());
        let mut cuts = vec![0];
        cuts.extend_from_slice(splits);
        cuts.push(input.len());
        for w in cuts.windows(2) {
            let mut rest = &input[w[0]..w[1]];
            loop {
                match raw.next(rest) {
                    Next::Pass => {
                        sse.extend_from_slice(rest);
                        break;
                    }
                    Next::BodyLine { at } => {
                        sse.extend_from_slice(&rest[..at]);
                        sse.push(b':');
                        rest = &rest[at..];
                    }
                    Next::Complete { at } => {
                        sse.extend_from_slice(&rest[..at]);
                        bodies.push(raw.take_body());
                        rest = &rest[at..];
                    }
                    Next::TooLarge => panic!("too large"),
                }
            }
        }
        bodies.extend(raw.finish());
        (sse, bodies)
    }

    const STREAM: &[u8] = b"data: {\"a\":1}\r\n\r\n{\r\n  \"error\": {\r\n    \"code\": 499\r\n  }\r\n}\r\ndata: x\n\n";

    #[test]
    fn a_body_is_read_and_commented_out() {
        let (sse, bodies) = run(STREAM, &[]);
        assert_eq!(bodies, ["{\n  \"error\": {\n    \"code\": 499\n  }\n}"]);
        assert_eq!(
            sse,
            b"data: {\"a\":1}\r\n\r\n:{\r\n:  \"error\": {\r\n:    \"code\": 499\r\n:  }\r\n:}\r\ndata: x\n\n"
        );
    }

    #[test]
    fn every_split_point_and_every_byte_alone_give_the_same() {
        let whole = run(STREAM, &[]);
        for at in 0..=STREAM.len() {
            assert_eq!(run(STREAM, &[at]), whole, "split at {at}");
        }
        let bytes: Vec<usize> = (1..STREAM.len()).collect();
        assert_eq!(run(STREAM, &bytes), whole);
    }

    #[test]
    fn line_ends_cr_lf_and_crlf_and_one_line_bodies() {
        for input in [
            &b"data: a\r\r{\"error\":{}}\r"[..],
            b"data: a\n\n{\"error\":{}}\n",
            b"data: a\r\n\r\n{\"error\":{}}\r\n",
            b"{\"error\":{}}",
        ] {
            let whole = run(input, &[]);
            assert_eq!(whole.1, ["{\"error\":{}}"], "{input:?}");
            for at in 0..=input.len() {
                assert_eq!(run(input, &[at]), whole, "{input:?} split at {at}");
            }
        }
    }

    #[test]
    fn braces_inside_data_lines_and_an_unbalanced_end_are_not_bodies() {
        assert_eq!(run(b"data: {\n\ndata: }{\n\n", &[]).1, Vec::<String>::new());
        assert_eq!(
            run(b"data: a\n\n{\n  \"error\": {\n", &[]).1,
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_body_past_the_limit_is_refused() {
        let mut raw = RawJson::new(8);
        assert_eq!(raw.next(b"{"), Next::BodyLine { at: 0 });
        assert_eq!(raw.next(b"{\"error\": 1}\n"), Next::TooLarge);
    }
}
