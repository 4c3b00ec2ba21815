//! OpenRouter `reasoning_details`, merged as they stream, to go back on the assistant
//! message.
//!
//! OpenRouter, "Reasoning Tokens" (<https://openrouter.ai/docs/guides/best-practices/reasoning-tokens>,
//! "Preserving Reasoning Blocks"): the response's `reasoning_details` array (objects of
//! type `reasoning.text` with `text` and `signature`, `reasoning.summary` with `summary`,
//! `reasoning.encrypted` with `data`, each with `id`, `format` and `index`) is passed back
//! on the assistant message, unmodified, so the model continues its reasoning after tool
//! calls. Streamed, the array arrives in pieces in `choices[].delta.reasoning_details`: one
//! block is split over many chunks that share its `index` (and `type`), text in pieces and
//! the signature or encrypted payload in a last piece without text. The pieces of one block
//! are joined back into one object, as the clients that replay them do (langchain's
//! `_merge_reasoning_details`, agno's: "fragments sharing an `index` are merged into a
//! single block: text/data fields are concatenated in arrival order, all other structural
//! fields are carried through"); sending the pieces apart is a 400 (a signed thinking
//! block whose text is cut in pieces fails with "Invalid signature in thinking block").
//!
//! Rules: a piece with the `index` and `type` of an earlier one continues it: its `text`,
//! `summary` and `data` strings are appended, its other fields replace the earlier values
//! (a `null` never replaces a value), new fields are added after the earlier ones. A piece
//! without `index` is a block of its own. Fields keep the order they arrived in; values
//! other than the three strings are kept as the bytes received.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Most bytes of reasoning details one message may hold (as the assembler's text limit).
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Most blocks one message may hold.
const MAX_BLOCKS: usize = 4096;

/// Why a piece was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooLarge(pub(super) &'static str);

/// The merged blocks so far.
#[derive(Debug, Default, Clone)]
pub(super) struct ReasoningDetails {
    blocks: Vec<Detail>,
    /// The latest block of each key: a piece finds the block it continues in constant time.
    by_key: HashMap<(String, Option<String>), usize>,
    bytes: usize,
}

#[derive(Debug, Clone)]
struct Detail {
    fields: Vec<(String, Field)>,
    /// Each field's position in `fields`.
    by_name: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
enum Field {
    /// `text`, `summary` or `data`: joined across pieces.
    Joined(String),
    Raw(Box<RawValue>),
}

/// One piece as received: its fields in order, values unparsed.
struct Piece<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Piece<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Piece<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reasoning detail object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    fields.push(entry);
                }
                Ok(Piece(fields))
            }
        }
        d.deserialize_map(Fields)
    }
}

fn is_joined(name: &str) -> bool {
    matches!(name, "text" | "summary" | "data")
}

impl ReasoningDetails {
    /// Whether nothing was merged yet.
    pub(super) fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Merges one chunk's `reasoning_details` value. Entries that are not objects, and a
    /// value that is not an array, carry nothing to merge and are skipped.
    pub(super) fn merge(&mut self, value: &RawValue) -> Result<(), TooLarge> {
        let Ok(entries) = serde_json::from_str::<Vec<&RawValue>>(value.get()) else {
            return Ok(());
        };
        for entry in entries {
            if let Ok(piece) = serde_json::from_str::<Piece>(entry.get()) {
                self.merge_piece(piece)?;
            }
        }
        Ok(())
    }

    fn merge_piece(&mut self, piece: Piece<'_>) -> Result<(), TooLarge> {
        let raw = |name: &str| piece.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        let key = raw("index").map(|index| {
            let kind = raw("type").and_then(|t| serde_json::from_str::<String>(t.get()).ok());
            (index.get().to_owned(), kind)
        });
        let at = key.as_ref().and_then(|key| self.by_key.get(key).copied());
        let at = match at {
            Some(at) => at,
            None => {
                if self.blocks.len() >= MAX_BLOCKS {
                    return Err(TooLarge("more than 4096 reasoning details in one message"));
                }
                if let Some(key) = key {
                    self.by_key.insert(key, self.blocks.len());
                }
                self.blocks.push(Detail {
                    fields: Vec::new(),
                    by_name: HashMap::new(),
                });
                self.blocks.len() - 1
            }
        };
        for (name, value) in piece.0 {
            self.bytes += name.len() + value.get().len();
            if self.bytes > MAX_BYTES {
                return Err(TooLarge("more than 16 MiB of reasoning details"));
            }
            let joined = if is_joined(&name) {
                serde_json::from_str::<String>(value.get()).ok()
            } else {
                None
            };
            let block = &mut self.blocks[at];
            let existing = block.by_name.get(&*name).copied();
            match (existing.map(|i| &mut block.fields[i].1), joined) {
                (Some(Field::Joined(old)), Some(more)) => old.push_str(&more),
                (Some(_), _) if value.get() == "null" => {}
                (Some(old), joined) => *old = field(joined, value),
                (None, joined) => {
                    block.by_name.insert(name.to_string(), block.fields.len());
                    block.fields.push((name.into_owned(), field(joined, value)));
                }
            }
        }
        Ok(())
    }

    /// The merged array as JSON text.
    pub(super) fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.bytes + 16 * self.blocks.len() + 2);
        out.push('[');
        for (i, block) in self.blocks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('{');
            for (j, (name, value)) in block.fields.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_string(&mut out, name);
                out.push(':');
                match value {
                    Field::Joined(s) => push_string(&mut out, s),
                    Field::Raw(raw) => out.push_str(raw.get()),
                }
            }
            out.push('}');
        }
        out.push(']');
        out
    }
}

fn field(joined: Option<String>, value: &RawValue) -> Field {
    match joined {
        Some(s) => Field::Joined(s),
        None => Field::Raw(value.to_owned()),
    }
}

fn push_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(chunks: &[&str]) -> String {
        let mut d = ReasoningDetails::default();
        for c in chunks {
            d.merge(serde_json::from_str(c).unwrap()).unwrap();
        }
        d.to_json()
    }

    #[test]
    fn one_whole_block_goes_back_as_received() {
        let block = r#"[{"type":"reasoning.encrypted","data":"gAAA","id":"rs_1","format":"openai-responses-v1","index":0}]"#;
        assert_eq!(merged(&[block]), block);
    }

    #[test]
    fn pieces_of_one_index_are_joined_and_the_signature_kept() {
        let got = merged(&[
            r#"[{"type":"reasoning.text","text":"Let me ","format":"anthropic-claude-v1","index":0}]"#,
            r#"[{"type":"reasoning.text","text":"think.","format":"anthropic-claude-v1","index":0}]"#,
            r#"[{"type":"reasoning.text","signature":"EqQB","format":"anthropic-claude-v1","index":0}]"#,
        ]);
        assert_eq!(
            got,
            r#"[{"type":"reasoning.text","text":"Let me think.","format":"anthropic-claude-v1","index":0,"signature":"EqQB"}]"#
        );
    }

    #[test]
    fn another_index_or_type_or_no_index_is_another_block() {
        let got = merged(&[
            r#"[{"type":"reasoning.summary","summary":"a","index":0}]"#,
            r#"[{"type":"reasoning.encrypted","data":"x","index":0},{"type":"reasoning.summary","summary":"b","index":1}]"#,
            r#"[{"type":"reasoning.summary","summary":"c","index":0},{"type":"reasoning.text","text":"t"}]"#,
        ]);
        assert_eq!(
            got,
            r#"[{"type":"reasoning.summary","summary":"ac","index":0},{"type":"reasoning.encrypted","data":"x","index":0},{"type":"reasoning.summary","summary":"b","index":1},{"type":"reasoning.text","text":"t"}]"#
        );
    }

    #[test]
    fn null_never_replaces_a_value_and_escapes_survive() {
        let got = merged(&[
            r#"[{"type":"reasoning.text","text":"a\"\n","signature":null,"id":"r1","index":0}]"#,
            r#"[{"type":"reasoning.text","text":"\u00e9","signature":"s","id":null,"index":0}]"#,
        ]);
        assert_eq!(
            got,
            r#"[{"type":"reasoning.text","text":"a\"\né","signature":"s","id":"r1","index":0}]"#
        );
    }

    #[test]
    fn what_is_not_an_array_of_objects_is_skipped() {
        assert_eq!(
            merged(&["null", r#""x""#, r#"[1,"a",null,{"index":0}]"#]),
            r#"[{"index":0}]"#
        );
    }
}
