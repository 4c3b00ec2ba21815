//! Live previews of tool arguments while they stream, for user interfaces.
//!
//! [`ArgumentPreview`] scans each fragment once as it is appended (a small JSON state
//! machine: containers, strings, escapes) and remembers the last point where the text so
//! far can be closed into valid JSON, with the closing characters it would need. Pushing
//! costs only the fragment; asking for the preview costs the size of that prefix. Nothing
//! re-parses the whole buffer per delta.
//!
//! A preview is for display only: the call's real arguments are the complete text, parsed
//! once when the provider marks the call complete.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// In an object: a key or `}`.
    Key,
    /// In an object: `:` after a key.
    Colon,
    /// A value (object member, array element, or the top level).
    Value,
    /// After a value: `,` or the container's end.
    Comma,
}

/// `escape` while waiting for the character after a backslash.
const ESCAPE_CODE: u8 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Str {
    Key,
    Value,
}

/// An incrementally scanned JSON prefix. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ArgumentPreview {
    text: String,
    /// Open containers: `b'}'` or `b']'`, the byte that closes each.
    stack: Vec<u8>,
    /// What may come next; `None` once the text is not JSON.
    expect: Option<Expect>,
    string: Option<Str>,
    /// 0: none; [`ESCAPE_CODE`]: after a backslash; 1 to 4: `\u` hex digits to come.
    escape: u8,
    /// Inside a number or literal.
    scalar: bool,
    /// The longest prefix that closes cleanly, and what closes it before the open
    /// containers (the stack only changes at points that are clean, so the stack then is
    /// the stack now).
    clean_len: usize,
    clean_extra: &'static str,
}

impl Default for ArgumentPreview {
    fn default() -> Self {
        Self::new()
    }
}

impl ArgumentPreview {
    /// An empty preview.
    pub fn new() -> Self {
        ArgumentPreview {
            text: String::new(),
            stack: Vec::new(),
            expect: Some(Expect::Value),
            string: None,
            escape: 0,
            scalar: false,
            clean_len: 0,
            clean_extra: "",
        }
    }

    /// The text received so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Appends a fragment, scanning only its bytes.
    pub fn push(&mut self, fragment: &str) {
        let start = self.text.len();
        self.text.push_str(fragment);
        for i in start..self.text.len() {
            let b = self.text.as_bytes()[i];
            self.step(b, i + 1);
        }
    }

    /// One byte; `end` is the text length after it.
    fn step(&mut self, b: u8, end: usize) {
        if let Some(role) = self.string {
            self.string_byte(role, b, end);
            return;
        }
        if self.scalar {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+') {
                return;
            }
            // The delimiter ends the number or literal: everything before it is complete.
            self.scalar = false;
            self.expect = Some(Expect::Comma);
            self.clean_at(end - 1, "");
        }
        match (b, self.expect) {
            (b' ' | b'\t' | b'\n' | b'\r', _) => {}
            (b'{', Some(Expect::Value)) => {
                self.stack.push(b'}');
                self.expect = Some(Expect::Key);
                self.clean_at(end, "");
            }
            (b'[', Some(Expect::Value)) => {
                self.stack.push(b']');
                self.expect = Some(Expect::Value);
                self.clean_at(end, "");
            }
            (b'}', Some(Expect::Key | Expect::Comma))
            | (b']', Some(Expect::Value | Expect::Comma))
                if self.stack.last() == Some(&b) =>
            {
                self.stack.pop();
                self.expect = Some(Expect::Comma);
                self.clean_at(end, "");
            }
            (b'"', Some(Expect::Key)) => self.string = Some(Str::Key),
            (b'"', Some(Expect::Value)) => {
                self.string = Some(Str::Value);
                self.clean_at(end, "\"");
            }
            (b':', Some(Expect::Colon)) => self.expect = Some(Expect::Value),
            (b',', Some(Expect::Comma)) if !self.stack.is_empty() => {
                self.expect = Some(if self.stack.last() == Some(&b'}') {
                    Expect::Key
                } else {
                    Expect::Value
                });
            }
            (_, Some(Expect::Value)) => self.scalar = true,
            // Not JSON: no later point is marked clean.
            _ => self.expect = None,
        }
    }

    fn string_byte(&mut self, role: Str, b: u8, end: usize) {
        match self.escape {
            ESCAPE_CODE => {
                self.escape = if b == b'u' { 4 } else { 0 };
                if self.escape == 0 && role == Str::Value {
                    self.clean_at(end, "\"");
                }
            }
            1..=4 => {
                self.escape -= 1;
                if self.escape == 0 && role == Str::Value {
                    self.clean_at(end, "\"");
                }
            }
            _ => match b {
                b'\\' => self.escape = ESCAPE_CODE,
                b'"' => {
                    self.string = None;
                    match role {
                        Str::Key => self.expect = Some(Expect::Colon),
                        Str::Value => {
                            self.expect = Some(Expect::Comma);
                            self.clean_at(end, "");
                        }
                    }
                }
                // ASCII only: a cut never falls inside a multi-byte character.
                _ if role == Str::Value && b.is_ascii() => self.clean_at(end, "\""),
                _ => {}
            },
        }
    }

    /// Marks `len` clean. Constant time: a string of N bytes inside D containers costs N,
    /// not N × D.
    fn clean_at(&mut self, len: usize, extra: &'static str) {
        if self.expect.is_none() {
            return;
        }
        self.clean_len = len;
        self.clean_extra = extra;
    }

    /// The best-effort value of the arguments so far: the longest cleanly closable prefix,
    /// closed. `None` before anything closable arrived or once the text is not JSON.
    pub fn value(&self) -> Option<Value> {
        if self.clean_len == 0 || self.expect.is_none() {
            return None;
        }
        let mut s = String::with_capacity(self.clean_len + 1 + self.stack.len());
        s.push_str(&self.text[..self.clean_len]);
        s.push_str(self.clean_extra);
        s.extend(self.stack.iter().rev().map(|&b| char::from(b)));
        serde_json::from_str(&s).ok()
    }
}

#[cfg(test)]
mod tests;
