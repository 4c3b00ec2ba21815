//! The nearest recorded request and the first difference from it, for the message of a
//! replay miss.
//!
//! **Distance** ([`distance`]) is a structural diff size: equal scalars cost 0, two
//! different scalars 1, a member or element present on one side only costs its number of
//! leaves ([`Node::leaves`]), two values of different kinds cost the larger leaf count.
//! Arrays are compared index by index. So the turn-2 request of a conversation is nearer
//! to the recorded turn 2 (a few values differ) than to turn 1 or turn 3 (whole messages
//! missing or extra).
//!
//! **First difference** ([`first_difference`]) walks this request's body in document
//! order: the members of an object in the order this request wrote them, then the members
//! only the recorded body has (in its order), then, when every member matched, the order
//! of the keys; arrays element by element. Paths join object keys with `.` (a key that is
//! not made of letters, digits, `_` and `-` is written `["key"]`) and write array indices
//! as `[i]`: `messages[2].content[0].tool_use_id`.

use std::collections::HashMap;
use std::fmt;

use super::json::Node;

/// How many bytes of each value a message shows.
const PREVIEW: usize = 200;

/// Where two bodies first differ, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Difference {
    /// The JSON path; empty for the whole body.
    pub path: String,
    /// What differs there.
    pub kind: DifferenceKind,
}

/// What differs at a [`Difference`]'s path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DifferenceKind {
    /// Two values (compact JSON); `None` when that side has nothing there.
    Value {
        this: Option<String>,
        recorded: Option<String>,
    },
    /// The same members, in another order.
    KeyOrder {
        this: Vec<String>,
        recorded: Vec<String>,
    },
}

impl fmt::Display for Difference {
    /// `PATH: THIS vs RECORDED`, `(absent)` for a missing value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(the whole body)"
        } else {
            &self.path
        };
        let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        match &self.kind {
            DifferenceKind::Value { this, recorded } => {
                write!(f, "{path}: {} vs {}", side(this), side(recorded))
            }
            DifferenceKind::KeyOrder { this, recorded } => {
                let list = |keys: &[String]| serde_json::to_string(keys).unwrap_or_default();
                write!(
                    f,
                    "{path}: the same keys in another order: {} vs {}",
                    list(this),
                    list(recorded)
                )
            }
        }
    }
}

/// Members of an object by key (first occurrence), hashed when there are many.
enum Lookup<'a> {
    Scan(&'a [(String, Node)]),
    Map(HashMap<&'a str, &'a Node>),
}

impl<'a> Lookup<'a> {
    fn new(members: &'a [(String, Node)]) -> Self {
        if members.len() <= 16 {
            return Lookup::Scan(members);
        }
        let mut map = HashMap::with_capacity(members.len());
        for (k, v) in members {
            map.entry(k.as_str()).or_insert(v);
        }
        Lookup::Map(map)
    }

    fn get(&self, key: &str) -> Option<&'a Node> {
        match self {
            Lookup::Scan(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Lookup::Map(map) => map.get(key).copied(),
        }
    }
}

/// The structural diff size between two bodies (0 when equal as JSON, key order aside).
pub(crate) fn distance(a: &Node, b: &Node) -> usize {
    match (a, b) {
        (Node::Obj(ma), Node::Obj(mb)) => {
            let (la, lb) = (Lookup::new(ma), Lookup::new(mb));
            let here: usize = ma
                .iter()
                .map(|(k, va)| lb.get(k).map_or_else(|| va.leaves(), |vb| distance(va, vb)))
                .sum();
            let only_b: usize = mb
                .iter()
                .filter(|(k, _)| la.get(k).is_none())
                .map(|(_, vb)| vb.leaves())
                .sum();
            here + only_b
        }
        (Node::Arr(xa), Node::Arr(xb)) => {
            let common: usize = xa.iter().zip(xb).map(|(x, y)| distance(x, y)).sum();
            let extra: usize = xa[xb.len().min(xa.len())..]
                .iter()
                .chain(&xb[xa.len().min(xb.len())..])
                .map(Node::leaves)
                .sum();
            common + extra
        }
        (Node::Obj(_) | Node::Arr(_), _) | (_, Node::Obj(_) | Node::Arr(_)) => {
            a.leaves().max(b.leaves())
        }
        _ => usize::from(a != b),
    }
}

/// The first difference between this request's body `a` and the recorded body `b`, in
/// `a`'s document order; `None` when they are equal as ordered JSON.
pub(crate) fn first_difference(a: &Node, b: &Node) -> Option<Difference> {
    let mut path = Vec::new();
    walk(a, b, &mut path).map(|kind| Difference {
        path: render(&path),
        kind,
    })
}

/// One step of a path.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn value(this: Option<&Node>, recorded: Option<&Node>) -> DifferenceKind {
    DifferenceKind::Value {
        this: this.map(|n| n.preview(PREVIEW)),
        recorded: recorded.map(|n| n.preview(PREVIEW)),
    }
}

fn walk<'a>(a: &'a Node, b: &'a Node, path: &mut Vec<Seg<'a>>) -> Option<DifferenceKind> {
    match (a, b) {
        (Node::Obj(ma), Node::Obj(mb)) => {
            let (la, lb) = (Lookup::new(ma), Lookup::new(mb));
            for (k, va) in ma {
                path.push(Seg::Key(k));
                let found = match lb.get(k) {
                    Some(vb) => walk(va, vb, path),
                    None => Some(value(Some(va), None)),
                };
                if found.is_some() {
                    return found;
                }
                path.pop();
            }
            if let Some((k, vb)) = mb.iter().find(|(k, _)| la.get(k).is_none()) {
                path.push(Seg::Key(k));
                return Some(value(None, Some(vb)));
            }
            let keys = |m: &[(String, Node)]| m.iter().map(|(k, _)| k.clone()).collect();
            let (ka, kb): (Vec<String>, Vec<String>) = (keys(ma), keys(mb));
            (ka != kb).then_some(DifferenceKind::KeyOrder {
                this: ka,
                recorded: kb,
            })
        }
        (Node::Arr(xa), Node::Arr(xb)) => {
            for i in 0..xa.len().max(xb.len()) {
                path.push(Seg::Index(i));
                let found = match (xa.get(i), xb.get(i)) {
                    (Some(x), Some(y)) => walk(x, y, path),
                    (x, y) => Some(value(x, y)),
                };
                if found.is_some() {
                    return found;
                }
                path.pop();
            }
            None
        }
        _ => (a != b).then(|| value(Some(a), Some(b))),
    }
}

fn render(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k)
                if !k.is_empty()
                    && k.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') =>
            {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Key(k) => {
                out.push('[');
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{distance, first_difference, Node};

    fn n(s: &str) -> Node {
        Node::parse(s.as_bytes()).unwrap()
    }

    fn first(a: &str, b: &str) -> String {
        first_difference(&n(a), &n(b))
            .map(|d| d.to_string())
            .unwrap_or_else(|| "equal".into())
    }

    macro_rules! case {
        ($a:expr, $b:expr => $want:expr) => {
            assert_eq!(first($a, $b), $want, "{} vs {}", $a, $b)
        };
    }

    #[test]
    fn first_difference_in_document_order() {
        case!(r#"{"a":1}"#, r#"{"a":1}"# => "equal");
        case!(r#"{"b":1,"a":2}"#, r#"{"a":3,"b":4}"# => "b: 1 vs 4");
        case!(r#"{"m":[{"c":[{"id":"x"}]}]}"#, r#"{"m":[{"c":[{"id":"y"}]}]}"# => r#"m[0].c[0].id: "x" vs "y""#);
        case!(r#"{"a":1,"z":2}"#, r#"{"a":1}"# => "z: 2 vs (absent)");
        case!(r#"{"a":1}"#, r#"{"a":1,"y":[1]}"# => "y: (absent) vs [1]");
        case!(r#"[1,2]"#, r#"[1,2,{"k":3}]"# => r#"[2]: (absent) vs {"k":3}"#);
        case!(r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"# => r#"(the whole body): the same keys in another order: ["a","b"] vs ["b","a"]"#);
        case!(r#"{"a b":{"c.d":0}}"#, r#"{"a b":{"c.d":1}}"# => r#"["a b"]["c.d"]: 0 vs 1"#);
        case!(r#"1"#, r#""1""# => r#"(the whole body): 1 vs "1""#);
    }

    #[test]
    fn distance_counts_missing_subtrees_by_leaves() {
        assert_eq!(distance(&n(r#"{"a":[1,2,3]}"#), &n(r#"{"a":[1,2,3]}"#)), 0);
        assert_eq!(distance(&n(r#"{"a":[1,2,3]}"#), &n(r#"{"a":[1,9,3]}"#)), 1);
        assert_eq!(distance(&n(r#"{"a":[1,2,3]}"#), &n(r#"{"a":[1]}"#)), 2);
        assert_eq!(distance(&n(r#"{"a":{"x":1,"y":{}}}"#), &n(r#"{}"#)), 2);
        assert_eq!(distance(&n(r#"{"a":[1,2]}"#), &n(r#"{"a":"s"}"#)), 2);
        // Many keys: the hashed lookup gives the same answer.
        let big = |v: u32| {
            let members: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{}", i + v)).collect();
            n(&format!("{{{}}}", members.join(",")))
        };
        assert_eq!(distance(&big(0), &big(0)), 0);
        assert_eq!(distance(&big(0), &big(1)), 40);
    }

    /// Turn 2 swapped is nearer to the recorded turn 2 than to turns 1 and 3.
    #[test]
    fn a_swapped_turn_is_nearest_to_its_own_turn() {
        let user = r#"{"role":"user","content":"q"}"#;
        let asst = r#"{"role":"assistant","content":[{"type":"tool_use","id":"a"},{"type":"tool_use","id":"b"}]}"#;
        let res = |x: &str, y: &str| {
            format!(
                r#"{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"{x}","content":"r{x}"}},{{"type":"tool_result","tool_use_id":"{y}","content":"r{y}"}}]}}"#
            )
        };
        let body = |msgs: Vec<String>| {
            n(&format!(
                r#"{{"model":"m","messages":[{}]}}"#,
                msgs.join(",")
            ))
        };
        let turn1 = body(vec![user.into()]);
        let turn2 = body(vec![user.into(), asst.into(), res("a", "b")]);
        let turn3 = body(vec![
            user.into(),
            asst.into(),
            res("a", "b"),
            asst.into(),
            res("a", "b"),
        ]);
        let swapped = body(vec![user.into(), asst.into(), res("b", "a")]);
        let d = |x: &Node| distance(&swapped, x);
        assert!(d(&turn2) < d(&turn1) && d(&turn2) < d(&turn3));
        assert_eq!(
            first_difference(&swapped, &turn2).unwrap().to_string(),
            r#"messages[2].content[0].tool_use_id: "b" vs "a""#
        );
    }
}
