//! Vertex AI `streamFunctionCallArguments`: one function call's arguments streamed as
//! `partialArgs` over several `functionCall` parts.
//!
//! The documented shape (Vertex AI `FunctionCall` and `PartialArg`, v1 and v1beta1):
//!
//! > `partial_args`: "Optional. The partial argument value of the function call. If
//! > provided, represents the arguments/fields that are streamed incrementally."
//! > `will_continue`: "Optional. Whether this is the last part of the FunctionCall. If
//! > true, another partial message for the current FunctionCall is expected to follow."
//! >
//! > `PartialArg.json_path`: "Required. A JSON Path (RFC 9535) to the argument being
//! > streamed. e.g. "$.foo.bar[0].data"." One of `null_value`, `number_value`,
//! > `string_value`, `bool_value`; `will_continue`: "Whether this is not the last part of
//! > the same json_path. If true, another PartialArg message for the current json_path is
//! > expected to follow."
//!
//! Vertex opens a call with its `name` (and `id`) and `willContinue: true`, streams
//! `partialArgs`, and ends it with a part whose `willContinue` is false or absent (often an
//! empty `functionCall: {}`). [`PartialCall`] builds the arguments object from the pieces,
//! a string continued over several pieces of the same path appended in order, keys in the
//! order they first appear, numbers spelled as received.
//!
//! Bounded: the pieces of one call hold at most [`DEFAULT_MAX_ARGUMENT_BYTES`] and nest
//! at most [`DEFAULT_MAX_ARGUMENT_DEPTH`] deep; beyond that, or for a path this module does
//! not read, the piece is refused with a reason and the call is never completed (its tool
//! does not run).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::assemble::{DEFAULT_MAX_ARGUMENT_BYTES, DEFAULT_MAX_ARGUMENT_DEPTH};

/// One `PartialArg`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PartialArg<'a> {
    #[serde(borrow, default)]
    json_path: Cow<'a, str>,
    #[serde(borrow)]
    string_value: Option<Cow<'a, str>>,
    #[serde(borrow)]
    number_value: Option<&'a RawValue>,
    bool_value: Option<bool>,
    null_value: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    will_continue: bool,
}

/// A value in the arguments being built.
#[derive(Debug, Clone)]
enum Node {
    Object(Members),
    Array(Vec<Node>),
    Str(String),
    /// A number, a boolean or null, as JSON text.
    Scalar(String),
}

/// An object's members in the order they first came, with an index by key: a piece finds
/// its member in constant time, so a call of many keys costs linear time.
#[derive(Debug, Clone, Default)]
struct Members {
    order: Vec<(String, Node)>,
    index: HashMap<String, usize>,
}

impl Members {
    fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    fn push(&mut self, key: &str, node: Node) -> usize {
        let i = self.order.len();
        self.index.insert(key.to_owned(), i);
        self.order.push((key.to_owned(), node));
        i
    }
}

/// One step of a JSON path.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The arguments of one streamed call, so far.
#[derive(Debug, Clone)]
pub(super) struct PartialCall {
    root: Members,
    /// The path of the last piece when it said more of it follows.
    continuing: Option<String>,
    bytes: usize,
}

impl PartialCall {
    pub(super) fn new() -> Self {
        PartialCall {
            root: Members::default(),
            continuing: None,
            bytes: 0,
        }
    }

    /// Adds the members of an `args` object sent with a streamed call (each kept as
    /// written).
    pub(super) fn merge_args(&mut self, args: &RawValue) -> Result<(), &'static str> {
        let members = serde_json::from_str::<RawMembers>(args.get())
            .map_err(|_| "functionCall args is not an object")?;
        for (key, value) in members.0 {
            self.grow(key.len() + value.get().len())?;
            let step = Step::Key(key.into_owned());
            put(
                &mut self.root,
                &step,
                Node::Scalar(value.get().to_owned()),
                false,
            )?;
        }
        Ok(())
    }

    /// Applies one piece.
    pub(super) fn apply(&mut self, arg: PartialArg<'_>) -> Result<(), &'static str> {
        let value = if let Some(s) = arg.string_value {
            Some(Node::Str(s.into_owned()))
        } else if let Some(n) = arg.number_value {
            Some(Node::Scalar(n.get().to_owned()))
        } else if let Some(b) = arg.bool_value {
            Some(Node::Scalar(b.to_string()))
        } else if arg.null_value.is_some() {
            Some(Node::Scalar("null".into()))
        } else {
            None
        };
        let continues = self.continuing.as_deref() == Some(&arg.json_path);
        self.continuing = arg.will_continue.then(|| arg.json_path.to_string());
        let Some(value) = value else {
            return Ok(());
        };
        self.grow(arg.json_path.len() + value.len())?;
        let steps = path(&arg.json_path)?;
        let Some((last, parents)) = steps.split_last() else {
            return Err("partialArgs jsonPath addresses the whole arguments object");
        };
        // Down to the container of the last step, creating what is missing.
        let mut parent: Option<&mut Node> = None;
        for (i, step) in parents.iter().enumerate() {
            let fresh = match &steps[i + 1] {
                Step::Key(_) => Node::Object(Members::default()),
                Step::Index(_) => Node::Array(Vec::new()),
            };
            parent = Some(match parent {
                None => member(&mut self.root, step, fresh)?,
                Some(n) => child(n, step, fresh)?,
            });
        }
        match parent {
            None => put(&mut self.root, last, value, continues),
            Some(Node::Object(members)) => put(members, last, value, continues),
            Some(Node::Array(items)) => match last {
                Step::Index(i) if *i < items.len() => combine(&mut items[*i], value, continues),
                Step::Index(i) if *i == items.len() => {
                    items.push(value);
                    Ok(())
                }
                Step::Index(_) => Err("partialArgs jsonPath skips array items"),
                Step::Key(_) => Err(SHAPE),
            },
            Some(_) => Err(SHAPE),
        }
    }

    fn grow(&mut self, n: usize) -> Result<(), &'static str> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > DEFAULT_MAX_ARGUMENT_BYTES {
            return Err("streamed function call arguments larger than 16 MiB");
        }
        Ok(())
    }

    /// The arguments object as JSON.
    pub(super) fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.bytes + 16);
        write_object(&self.root, &mut out);
        out
    }
}

/// An object's members, each value as written.
struct RawMembers<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawMembers<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = RawMembers<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Self::Value, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(RawMembers(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Str(s) | Node::Scalar(s) => s.len(),
            Node::Object(_) | Node::Array(_) => 0,
        }
    }
}

const SHAPE: &str = "partialArgs jsonPath does not match the shape built so far";

/// The member `step` of an object, created as `fresh` when missing.
fn member<'n>(
    members: &'n mut Members,
    step: &Step,
    fresh: Node,
) -> Result<&'n mut Node, &'static str> {
    let Step::Key(key) = step else {
        return Err(SHAPE);
    };
    let i = match members.find(key) {
        Some(i) => i,
        None => members.push(key, fresh),
    };
    Ok(&mut members.order[i].1)
}

/// The child `step` of `node`, created as `fresh` when missing. Array items come in
/// order: an index more than one past the end is refused.
fn child<'n>(node: &'n mut Node, step: &Step, fresh: Node) -> Result<&'n mut Node, &'static str> {
    match (node, step) {
        (Node::Object(members), Step::Key(_)) => member(members, step, fresh),
        (Node::Array(items), Step::Index(i)) => {
            if *i == items.len() {
                items.push(fresh);
            } else if *i > items.len() {
                return Err("partialArgs jsonPath skips array items");
            }
            Ok(&mut items[*i])
        }
        _ => Err(SHAPE),
    }
}

/// Sets member `step` of an object to `value`, or continues the string there.
fn put(
    members: &mut Members,
    step: &Step,
    value: Node,
    continues: bool,
) -> Result<(), &'static str> {
    let Step::Key(key) = step else {
        return Err(SHAPE);
    };
    match members.find(key) {
        Some(i) => combine(&mut members.order[i].1, value, continues),
        None => {
            members.push(key, value);
            Ok(())
        }
    }
}

/// A second piece for a path that holds a value: a string continued from the piece just
/// before is appended; anything else would overwrite, and is refused.
fn combine(old: &mut Node, value: Node, continues: bool) -> Result<(), &'static str> {
    match (old, value) {
        (Node::Str(old), Node::Str(more)) if continues => {
            old.push_str(&more);
            Ok(())
        }
        _ => Err("partialArgs sets the same jsonPath twice"),
    }
}

/// The steps of a JSON path: `$`, then `.name`, `['name']`, `["name"]` or `[N]`.
fn path(p: &str) -> Result<Vec<Step>, &'static str> {
    const BAD: &str = "partialArgs jsonPath is not a simple path ($.name, ['name'] or [N])";
    let mut rest = p.strip_prefix('$').ok_or(BAD)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if steps.len() >= DEFAULT_MAX_ARGUMENT_DEPTH {
            return Err("partialArgs jsonPath nests deeper than 64");
        }
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(BAD);
            }
            steps.push(Step::Key(r[..end].to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']').ok_or(BAD)?;
            let inner = &r[..close];
            if let Some(quote) = inner.chars().next().filter(|c| *c == '\'' || *c == '"') {
                // A quoted name (no escapes inside, no `]`).
                let name = inner
                    .strip_prefix(quote)
                    .and_then(|s| s.strip_suffix(quote))
                    .filter(|s| !s.contains(quote) && !s.contains('\\'))
                    .ok_or(BAD)?;
                steps.push(Step::Key(name.to_owned()));
            } else {
                let ok = !inner.is_empty()
                    && inner.bytes().all(|b| b.is_ascii_digit())
                    && (inner == "0" || !inner.starts_with('0'));
                let n: usize = inner.parse().ok().filter(|_| ok).ok_or(BAD)?;
                steps.push(Step::Index(n));
            }
            rest = &r[close + 1..];
        } else {
            return Err(BAD);
        }
    }
    Ok(steps)
}

fn write_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

fn write_object(members: &Members, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in members.order.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(k, out);
        out.push(':');
        write_node(v, out);
    }
    out.push('}');
}

fn write_node(node: &Node, out: &mut String) {
    match node {
        Node::Object(members) => write_object(members, out),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(item, out);
            }
            out.push(']');
        }
        Node::Str(s) => write_string(s, out),
        Node::Scalar(s) => out.push_str(s),
    }
}
