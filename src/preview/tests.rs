use super::*;
use serde_json::json;

macro_rules! case {
    ($name:ident, $prefix:expr, $want:expr) => {
        #[test]
        fn $name() {
            let mut p = ArgumentPreview::new();
            p.push($prefix);
            assert_eq!(p.value(), $want, "{:?}", $prefix);
        }
    };
}

case!(empty, "", None);
case!(open_object, "{", Some(json!({})));
case!(partial_key, r#"{"cit"#, Some(json!({})));
case!(key_no_value, r#"{"city":"#, Some(json!({})));
case!(
    partial_string,
    r#"{"city": "San Fr"#,
    Some(json!({"city": "San Fr"}))
);
case!(partial_number, r#"{"n": 12"#, Some(json!({})));
case!(number_then_comma, r#"{"n": 12,"#, Some(json!({"n": 12})));
case!(partial_literal, r#"{"ok": tr"#, Some(json!({})));
case!(
    nested,
    r#"{"a": {"b": [1, 2, "x"#,
    Some(json!({"a": {"b": [1, 2, "x"]}}))
);
case!(escape_pending, r#"{"q": "a\"#, Some(json!({"q": "a"})));
case!(
    unicode_escape_partial,
    r#"{"q": "caf\u00"#,
    Some(json!({"q": "caf"}))
);
case!(
    unicode_escape_done,
    r#"{"q": "caf\u00e9"#,
    Some(json!({"q": "café"}))
);
case!(
    complete,
    r#"{"a": [true, null], "b": "c"}"#,
    Some(json!({"a": [true, null], "b": "c"}))
);
case!(not_json, "hello", None);
case!(garbage_after_value, r#"{"a": 1} x"#, None);

#[test]
fn every_prefix_previews_and_the_last_is_the_value() {
    let text =
        r#"{"city": "Zürich", "days": [1, 2], "opts": {"unit": "c\"x", "deep": [{"k": -1.5e3}]}}"#;
    let mut p = ArgumentPreview::new();
    let mut previews = Vec::new();
    for (i, c) in text.char_indices() {
        p.push(&text[i..i + c.len_utf8()]);
        previews.push(p.value());
    }
    let want: Value = serde_json::from_str(text).unwrap();
    assert_eq!(previews.last().unwrap().as_ref(), Some(&want));
    // Once something is previewable, it stays previewable.
    let first = previews.iter().position(Option::is_some).unwrap();
    assert!(previews[first..].iter().all(Option::is_some));
}

#[test]
fn chunking_does_not_matter() {
    let text = r#"{"query": "rust \"sse\" parser", "limit": 10, "tags": ["a", "b"]}"#;
    for split in 0..text.len() {
        let mut whole = ArgumentPreview::new();
        whole.push(&text[..split]);
        let mut two = ArgumentPreview::new();
        two.push(&text[..split / 2]);
        two.push(&text[split / 2..split]);
        assert_eq!(whole.value(), two.value(), "split at {split}");
    }
}

// A string inside many containers: the closer comes from the stack when asked, so each
// string byte costs the same whatever the depth (the old closer was rebuilt per byte).
#[test]
fn deep_nesting_previews_with_the_right_closer() {
    let mut p = ArgumentPreview::new();
    p.push(&"{\"a\":[".repeat(40));
    p.push("\"");
    p.push(&"x".repeat(10_000));
    let mut expected = serde_json::json!("x".repeat(10_000));
    for _ in 0..40 {
        expected = serde_json::json!({ "a": [expected] });
    }
    assert_eq!(p.value(), Some(expected));
    // Deeper than serde_json parses: no preview rather than a wrong one.
    let mut deep = ArgumentPreview::new();
    deep.push(&"[".repeat(200));
    assert_eq!(deep.value(), None);
}
