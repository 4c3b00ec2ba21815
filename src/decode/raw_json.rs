//! Gemini error bodies written into the stream as raw JSON lines, without `data:`.
//!
//! Gemini (and Vertex) may end a `?alt=sse` stream with the error as a bare, often
//! pretty-printed JSON object: `{` on a line of its own, `"error": {...}` lines, `}`. SSE
//! ignores such lines (they are fields with unknown names), so the error would be lost and
//! the turn read as complete. google-genai's `_api_client` reads them: a line that does not
//! start with `data: ` is buffered, "When API returns an error message, it comes line by
//! line. So we buffer the lines until a complete JSON string is read. A complete JSON
//! string is found when the balance is 0" (counting `{` and `}`), and the object is then
//! handled as a response, an `error` in it raised.
//!
//! The SSE decoder finds where a body starts (it stops before a line that starts with `{`,
//! which no SSE field does, at no cost to the lines it reads anyway); from there this
//! scanner reads the body's lines alongside it until the braces balance:
//!
//! ```text
//!  (begin) ──▶ BodyLine ── line end, balance 0 ──▶ Complete: the body is a payload
//!                 ▲   └─── line end, balance not 0 ──▶ BodyLineStart ── CR/LF (blank) ──▶ stays
//!                 └────────────────────────────────────────┴── any other byte
//! ```
//!
//! The SSE decoder still reads every byte: a body's lines are fields with unknown names to
//! it (nothing happens). Inside a body every non-blank line belongs to it (google-genai
//! would also pass a `data: ` line through; a data line inside an unbalanced error object
//! does not occur); a blank line before the braces balance ends the watch with no body (a
//! stray `{` line must not swallow the stream). The body is bounded by the SSE event
//! limit.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not in a body.
    Idle,
    /// In a body, inside one of its lines.
    BodyLine,
    /// In a body, at the start of a line. `after_cr`: the last line ended with CR, so an
    /// LF right here belongs to it.
    BodyLineStart { after_cr: bool },
}

/// Where a chunk passed to [`RawJson::next`] stands.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// The body goes on past the chunk.
    Pass,
    /// The body ended with the line end just before `at`: take it
    /// ([`RawJson::take_body`]); the rest of the chunk is SSE again.
    Complete { at: usize },
    /// A blank line before the braces balanced (at `at`): it was not a body (a lone `{`
    /// line); the rest of the chunk, the blank line included, is SSE again.
    Abandoned { at: usize },
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
            state: State::Idle,
            body: Vec::new(),
            balance: 0,
            max,
        }
    }

    /// Whether a body is open.
    pub(super) fn in_body(&self) -> bool {
        self.state != State::Idle
    }

    /// A body starts here (the SSE decoder stopped before a line starting with `{`).
    pub(super) fn begin(&mut self) {
        self.state = State::BodyLine;
        self.body.clear();
        self.balance = 0;
    }

    /// Reads `chunk`, in a body, up to the body's end.
    pub(super) fn next(&mut self, chunk: &[u8]) -> Next {
        let mut i = 0;
        loop {
            match self.state {
                State::Idle => return Next::Complete { at: i },
                State::BodyLineStart { after_cr } => {
                    let Some(&b) = chunk.get(i) else {
                        return Next::Pass;
                    };
                    match b {
                        b'\n' if after_cr => {
                            i += 1;
                            self.state = State::BodyLineStart { after_cr: false };
                        }
                        // A blank line before the braces balance: no error body has one
                        // (google-genai skips blank lines, but a line that opened a brace
                        // and never closed it must not swallow the rest of the stream: an
                        // SSE event ends at the next blank line).
                        b'\r' | b'\n' => {
                            self.state = State::Idle;
                            self.body.clear();
                            return Next::Abandoned { at: i };
                        }
                        _ => self.state = State::BodyLine,
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
                        // The SSE decoder reads the LF of a CRLF after this as that line's.
                        self.state = State::Idle;
                        return Next::Complete { at: i };
                    }
                    self.state = State::BodyLineStart { after_cr };
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a body that starts at the start of `input`, split at `splits`: the bodies and
    /// where the last one ended in `input`.
    fn run(input: &[u8], splits: &[usize]) -> (Vec<String>, Option<usize>) {
        let mut raw = RawJson::new(1 << 20);
        raw.begin();
        let (mut bodies, mut end) = (Vec::new(), None);
        let mut cuts = vec![0];
        cuts.extend_from_slice(splits);
        cuts.push(input.len());
        for w in cuts.windows(2) {
            if !raw.in_body() {
                break;
            }
            match raw.next(&input[w[0]..w[1]]) {
                Next::Pass | Next::Abandoned { .. } => {}
                Next::Complete { at } => {
                    bodies.push(raw.take_body());
                    end = Some(w[0] + at);
                }
                Next::TooLarge => panic!("too large"),
            }
        }
        bodies.extend(raw.finish());
        (bodies, end)
    }

    const BODY: &[u8] = b"{\r\n  \"error\": {\r\n    \"code\": 499\r\n  }\r\n}\r\ndata: x\n\n";

    #[test]
    fn a_body_ends_where_its_braces_balance() {
        let (bodies, end) = run(BODY, &[]);
        assert_eq!(bodies, ["{\n  \"error\": {\n    \"code\": 499\n  }\n}"]);
        // Just after the CR of the closing line: the LF is the SSE decoder's to read.
        assert_eq!(&BODY[end.unwrap()..], b"\ndata: x\n\n");
    }

    #[test]
    fn every_split_point_and_every_byte_alone_give_the_same() {
        let whole = run(BODY, &[]);
        for at in 0..=BODY.len() {
            assert_eq!(run(BODY, &[at]), whole, "split at {at}");
        }
        let bytes: Vec<usize> = (1..BODY.len()).collect();
        assert_eq!(run(BODY, &bytes), whole);
    }

    #[test]
    fn line_ends_cr_lf_and_crlf_and_one_line_bodies() {
        for input in [
            &b"{\"error\":{}}\r"[..],
            b"{\"error\":{}}\n",
            b"{\"error\":{}}\r\n",
            b"{\"error\":{}}",
        ] {
            let whole = run(input, &[]);
            assert_eq!(whole.0, ["{\"error\":{}}"], "{input:?}");
            for at in 0..=input.len() {
                assert_eq!(run(input, &[at]), whole, "{input:?} split at {at}");
            }
        }
    }

    #[test]
    fn an_unbalanced_end_is_not_a_body() {
        assert_eq!(run(b"{\n  \"error\": {\n", &[]).0, Vec::<String>::new());
    }

    #[test]
    fn a_blank_line_before_the_braces_balance_ends_the_watch() {
        for input in [
            &b"{ stray\n\ndata: {}\n\n"[..],
            b"{ stray\r\n\r\n",
            b"{\r\r",
        ] {
            let whole = run(input, &[]);
            assert_eq!(whole, (Vec::new(), None), "{input:?}");
            for at in 0..=input.len() {
                assert_eq!(run(input, &[at]), whole, "{input:?} split at {at}");
            }
        }
        // Where the watch ends: at the blank line, which the SSE decoder then reads.
        let mut raw = RawJson::new(1 << 10);
        raw.begin();
        assert_eq!(
            raw.next(b"{ stray\r\n\r\ndata: x"),
            Next::Abandoned { at: 9 }
        );
        assert!(!raw.in_body());
    }

    #[test]
    fn a_body_past_the_limit_is_refused() {
        let mut raw = RawJson::new(8);
        raw.begin();
        assert_eq!(raw.next(b"{\"error\": 1}\n"), Next::TooLarge);
    }
}
