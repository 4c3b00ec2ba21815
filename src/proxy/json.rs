//! An ordered JSON tree: object members stay in the order the document wrote them.
//!
//! `serde_json::Value` sorts object keys here (the crate is built without
//! `preserve_order`), which would make the cassette's `request.json` lie about the body it
//! recorded and make "the first difference" depend on the alphabet instead of the
//! document. [`Node`] keeps members as a list; its hand-written `Deserialize` visitor and
//! `Serialize` impl read and write them in order.
//!
//! Depth is bounded by `serde_json`'s recursion limit (128): a deeper body fails to parse
//! and is treated as a body that is not JSON, so the recursive functions below (diff,
//! leaf count, drop) never recurse deeper than that.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their members in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Node>),
    /// Members in document order (duplicates kept as written).
    Obj(Vec<(String, Node)>),
}

impl Node {
    /// Parses `bytes` as one JSON document; `None` when it is not JSON.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Node> {
        serde_json::from_slice(bytes).ok()
    }

    /// The number of leaves: a scalar, an empty array and an empty object count 1.
    pub(crate) fn leaves(&self) -> usize {
        match self {
            Node::Arr(items) if !items.is_empty() => items.iter().map(Node::leaves).sum(),
            Node::Obj(members) if !members.is_empty() => {
                members.iter().map(|(_, v)| v.leaves()).sum()
            }
            _ => 1,
        }
    }

    /// The value as compact JSON, cut after about `max` bytes (with `…` appended).
    pub(crate) fn preview(&self, max: usize) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        if s.len() > max {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
        s
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Num(n) => n.serialize(serializer),
            Node::Str(s) => serializer.serialize_str(s),
            Node::Arr(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Obj(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Node, E> {
        Ok(Node::Num(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Node, E> {
        Ok(Node::Num(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        // JSON has no NaN or infinity; `from_f64` refuses them.
        serde_json::Number::from_f64(n)
            .map(Node::Num)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Node, E> {
        Ok(Node::Str(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Node, E> {
        Ok(Node::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((k, v)) = map.next_entry::<String, Node>()? {
            members.push((k, v));
        }
        Ok(Node::Obj(members))
    }
}

#[cfg(test)]
mod tests {
    use super::Node;

    #[test]
    fn keeps_document_order_and_round_trips() {
        let text = r#"{"z":1,"a":[true,null,{"y":"s","b":-2.5}],"m":{}}"#;
        let node = Node::parse(text.as_bytes()).unwrap();
        assert_eq!(serde_json::to_string(&node).unwrap(), text);
        assert_eq!(node.leaves(), 6);
    }

    #[test]
    fn not_json_and_too_deep_are_none() {
        assert!(Node::parse(b"{\"a\":").is_none());
        assert!(Node::parse(b"hello").is_none());
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(Node::parse(deep.as_bytes()).is_none());
    }

    #[test]
    fn preview_cuts_on_a_character_boundary() {
        let node = Node::Str("ééééé".into());
        assert_eq!(node.preview(4), "\"é…");
    }
}
