//! A shape-specialized fast path for the two hottest Anthropic events, exactly as the API
//! writes them:
//!
//! ```text
//! {"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"..."}}
//! {"type":"content_block_delta","index":N,"delta":{"type":"input_json_delta","partial_json":"..."}}
//! ```
//!
//! Anything that deviates by one byte (spacing, key order, an extra field, a leading zero,
//! a raw control character) returns `None` and takes the full serde path, so the output is
//! identical either way (differential tests below and in `tests/fast_path.rs`).

use crate::event::{Delta, StreamEvent};
use crate::provider::json_fast::{string, uint};

const PREFIX: &str = r#"{"type":"content_block_delta","index":"#;
const TEXT: &str = r#","delta":{"type":"text_delta","text":"#;
const INPUT: &str = r#","delta":{"type":"input_json_delta","partial_json":"#;

/// The event, when `data` has exactly one of the two shapes.
pub(super) fn delta(data: &str) -> Option<StreamEvent> {
    let (index, rest) = uint(data.strip_prefix(PREFIX)?)?;
    let (rest, text) = if let Some(r) = rest.strip_prefix(TEXT) {
        (r, true)
    } else {
        (rest.strip_prefix(INPUT)?, false)
    };
    let (value, tail) = string(rest)?;
    if tail != "}}" {
        return None;
    }
    let value = value.into_owned();
    let delta = if text {
        Delta::Text(value)
    } else {
        Delta::ToolInput(value)
    };
    Some(StreamEvent::BlockDelta { index, delta })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::AnthropicDecoder;

    /// What the full serde path gives for `data`.
    fn slow(data: &str) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        let wrapped = format!(" {data}"); // a leading space defeats the fast path
        AnthropicDecoder::new().push(&wrapped, &mut out).unwrap();
        out
    }

    macro_rules! same {
        ($name:ident, $data:expr) => {
            #[test]
            fn $name() {
                let data = $data;
                let fast = delta(data).expect("the fast path takes it");
                assert_eq!(vec![fast], slow(data));
            }
        };
    }

    macro_rules! declines {
        ($name:ident, $data:expr) => {
            #[test]
            fn $name() {
                assert_eq!(delta($data), None);
            }
        };
    }

    same!(
        text,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#
    );
    same!(
        text_escapes,
        r#"{"type":"content_block_delta","index":12,"delta":{"type":"text_delta","text":"a\"b\\c\nd\u00e9\ud83d\ude00"}}"#
    );
    same!(
        text_utf8,
        r#"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"東京 café 😀"}}"#
    );
    same!(
        text_empty,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}"#
    );
    same!(
        input,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}"#
    );
    same!(
        input_empty,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#
    );
    same!(
        escaped_backslash_before_quote,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"x\\"}}"#
    );
    declines!(
        spaced,
        r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}"#
    );
    declines!(
        leading_zero,
        r#"{"type":"content_block_delta","index":01,"delta":{"type":"text_delta","text":"Hi"}}"#
    );
    declines!(
        extra_field,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi","x":1}}"#
    );
    declines!(control_char, "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\tb\"}}");
    declines!(
        bad_escape,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\q"}}"#
    );
    declines!(
        unterminated,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"abc"#
    );
    declines!(
        trailing_garbage,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"abc"}} "#
    );
    declines!(
        huge_index,
        r#"{"type":"content_block_delta","index":99999999999999999999999,"delta":{"type":"text_delta","text":"a"}}"#
    );
    declines!(
        other_delta,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"a"}}"#
    );
}
