//! Exact-bytes JSON pieces for the providers' fast paths: a string and an unsigned integer
//! at the start of the input, each returned with what follows it.
//!
//! Both accept only what serde_json accepts and give the same value; anything doubtful
//! (a raw control character, an unknown escape, a lone surrogate, a leading zero, an
//! integer that overflows) returns `None`, so the caller falls back to the full serde parse
//! and the error, if any, is the full parser's.

use std::borrow::Cow;

/// A JSON string at the start of `s`: its value (borrowed when it has no escapes) and
/// what follows the closing quote.
///
/// RFC 8259 §7: "All Unicode characters may be placed within the quotation marks, except
/// for the characters that MUST be escaped: quotation mark, reverse solidus, and the
/// control characters (U+0000 through U+001F)."
pub(crate) fn string(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let body = s.strip_prefix('"')?;
    let bytes = body.as_bytes();
    let end = plain_run(bytes, 0)?;
    if bytes[end] == b'"' {
        return Some((Cow::Borrowed(&body[..end]), &body[end + 1..]));
    }
    let mut value = String::with_capacity(body.len().min(64));
    value.push_str(&body[..end]);
    // `i` is at a backslash; every index below sits on an ASCII byte, so slicing `body`
    // there never splits a character.
    let mut i = end;
    loop {
        let escape = *bytes.get(i + 1)?;
        i += 2;
        value.push(match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (c, used) = unicode_escape(&bytes[i..])?;
                i += used;
                c
            }
            _ => return None,
        });
        let end = plain_run(bytes, i)?;
        value.push_str(&body[i..end]);
        if bytes[end] == b'"' {
            return Some((Cow::Owned(value), &body[end + 1..]));
        }
        i = end;
    }
}

/// The index of the next `"` or `\` at or after `from`, when no control character comes
/// before it. Eight bytes at a time while none of them is special (the short strings of a
/// stream rarely reach a second word; a whole call's arguments in one piece do).
fn plain_run(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().ok()?);
        if has_special(word) {
            break;
        }
        i += 8;
    }
    let end = i + bytes[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    (bytes[end] >= 0x20).then_some(end)
}

/// Whether any byte of `word` is `"`, `\` or below 0x20 (the "has zero byte" and "has
/// byte less than" bit tricks: no false negatives, and no false positives overall).
fn has_special(word: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    (below(quote, 1) | below(backslash, 1) | below(word, 0x20)) != 0
}

/// The character of a `\uXXXX` escape whose hex digits start `bytes`, joining a surrogate
/// pair (`\uD83D\uDE00`); the number of bytes used after the `\u`.
fn unicode_escape(bytes: &[u8]) -> Option<(char, usize)> {
    let high = hex4(bytes)?;
    match high {
        0xD800..=0xDBFF => {
            let rest = bytes.get(4..)?.strip_prefix(b"\\u")?;
            let low = hex4(rest)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let code = 0x1_0000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            Some((char::from_u32(code)?, 10))
        }
        // A lone trailing surrogate is no character.
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(high)?, 4)),
    }
}

fn hex4(bytes: &[u8]) -> Option<u32> {
    let digits = bytes.get(..4)?;
    digits
        .iter()
        .try_fold(0, |acc, &b| Some(acc << 4 | char::from(b).to_digit(16)?))
}

/// The value after `key` when `s` starts with `key`, read by `value`, and what follows it;
/// no value when `s` does not start with `key`. `None` when the key is there and its value
/// is out of shape.
pub(crate) fn optional<'a, T>(
    s: &'a str,
    key: &str,
    value: impl FnOnce(&'a str) -> Option<(T, &'a str)>,
) -> Option<(Option<T>, &'a str)> {
    match s.strip_prefix(key) {
        Some(rest) => value(rest).map(|(v, rest)| (Some(v), rest)),
        None => Some((None, s)),
    }
}

/// A JSON unsigned integer at the start of `s` that fits `usize`, and what follows it.
/// JSON numbers have no leading zeros.
pub(crate) fn uint(s: &str) -> Option<(usize, &str)> {
    let bytes = s.as_bytes();
    let mut value: usize = 0;
    let mut digits = 0;
    while let Some(&b @ b'0'..=b'9') = bytes.get(digits) {
        value = value.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
        digits += 1;
    }
    if digits == 0 || (digits > 1 && bytes[0] == b'0') {
        return None;
    }
    Some((value, &s[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast scan and serde_json agree on `json` (a JSON string then `,rest`), or the
    /// fast scan declines.
    fn agrees(json: &str) -> bool {
        let input = format!("{json},rest");
        let full: Option<String> = serde_json::from_str(json).ok();
        match string(&input) {
            Some((value, tail)) => {
                assert_eq!(Some(value.as_ref()), full.as_deref(), "{json}");
                assert_eq!(tail, ",rest", "{json}");
                true
            }
            None => false,
        }
    }

    macro_rules! same {
        ($name:ident, $json:expr) => {
            #[test]
            fn $name() {
                assert!(agrees($json), "the fast scan declined {}", $json);
            }
        };
    }

    macro_rules! declines {
        ($name:ident, $json:expr) => {
            #[test]
            fn $name() {
                assert!(!agrees($json), "the fast scan took {}", $json);
            }
        };
    }

    same!(plain, r#""Hello""#);
    same!(empty, r#""""#);
    same!(utf8, r#""東京 café 😀""#);
    same!(simple_escapes, r#""a\"b\\c\/d\be\ff\ng\rh\ti""#);
    same!(escape_first_and_last, r#""\nmiddle\t""#);
    same!(escaped_backslash_before_quote, r#""x\\""#);
    same!(unicode_bmp, r#""\u00e9\u00E9\u6771\u0000""#);
    same!(surrogate_pair, r#""a\ud83d\ude00b\uD83D\uDE00""#);
    same!(escaped_json, r#""{\"city\":\"Paris\",\"n\":[1,2]}""#);
    declines!(raw_tab, "\"a\tb\"");
    declines!(raw_newline_after_escape, "\"\\n\n\"");
    declines!(unknown_escape, r#""\q""#);
    declines!(short_unicode, r#""\u12""#);
    declines!(bad_hex, r#""\u12g4""#);
    declines!(lone_leading_surrogate, r#""\ud83d""#);
    declines!(leading_surrogate_then_text, r#""\ud83dx""#);
    declines!(leading_surrogate_then_bmp, r#""\ud83d\u0041""#);
    declines!(lone_trailing_surrogate, r#""\ude00""#);
    declines!(unterminated, r#""abc"#);
    declines!(unterminated_after_escape, r#""abc\""#);
    declines!(backslash_at_end, r#""abc\"#);

    #[test]
    fn not_a_string() {
        assert_eq!(string("abc\""), None);
        assert_eq!(string(""), None);
    }

    #[test]
    fn every_byte_escape_round_trips() {
        // Every char serde_json escapes, and the surrounding plain runs.
        let s: String = (0u8..0x80).map(char::from).chain(['é', '😀']).collect();
        let json = serde_json::to_string(&s).unwrap();
        assert!(agrees(&json));
        // And every char written as `\uXXXX` (astral ones as surrogate pairs).
        let mut units = [0u16; 2];
        let escaped: String = s
            .chars()
            .flat_map(|c| c.encode_utf16(&mut units).to_vec())
            .map(|u| format!("\\u{u:04x}"))
            .collect();
        assert!(agrees(&format!("\"{escaped}\"")));
    }

    #[test]
    fn special_bytes_in_every_lane() {
        for b in 0..=u8::MAX {
            for lane in 0..8 {
                let mut word = [b'a'; 8];
                word[lane] = b;
                let special = b == b'"' || b == b'\\' || b < 0x20;
                assert_eq!(
                    has_special(u64::from_le_bytes(word)),
                    special,
                    "{b:#x} {lane}"
                );
            }
        }
    }

    #[test]
    fn long_runs_cross_words() {
        for len in 0..40 {
            let plain = "é".repeat(len / 2) + &"x".repeat(len % 2);
            for tail in ["", "\\n", "\\u00e9", "\\\"q"] {
                assert!(agrees(&format!("\"{plain}{tail}{plain}\"")));
            }
            assert!(!agrees(&format!("\"{plain}\u{1}{plain}\"")));
        }
    }

    #[test]
    fn unsigned_integers() {
        assert_eq!(uint("0,"), Some((0, ",")));
        assert_eq!(uint("1727346178}"), Some((1_727_346_178, "}")));
        assert_eq!(uint("01"), None);
        assert_eq!(uint("-1"), None);
        assert_eq!(uint(""), None);
        assert_eq!(uint("99999999999999999999999"), None);
    }
}
