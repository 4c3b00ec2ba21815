//! A pre-check of a call's arguments against the top level of the tool's `inputSchema`.
//!
//! MCP (2025-11-25, Tools, Error Handling) lets a server report invalid arguments in two
//! ways: a JSON-RPC error (`-32602`, invalid params) or a tool result with `isError: true`
//! ("Input validation errors (e.g., date in wrong format, value out of range)" are listed
//! among the tool execution errors). The official Python SDK (FastMCP) and TypeScript SDK
//! servers answer with `isError: true`, which reads exactly like the tool's own failure.
//! To report the model's mistake as [`InvalidArguments`](crate::ToolErrorKind::InvalidArguments)
//! whatever the server does, the call is checked first against what the schema says
//! plainly at its top level, the mistakes a model makes:
//!
//! - a property named in `required` is missing;
//! - a property's value does not have the JSON type its `type` names (`string`, `number`,
//!   `integer`, `boolean`, `array`, `object`, `null`, or a list of them);
//! - a property the schema does not list, when it says `additionalProperties: false`.
//!
//! Nothing else is judged here (no `enum`, `pattern`, ranges, nested schemas, `$ref`,
//! `anyOf`...): this is a pre-check, not a JSON Schema validator, and the server's own
//! validation stays the authority. A full validator crate was weighed and left out: the
//! well-kept one (`jsonschema`) brings a regex engine, big-number arithmetic and a dozen
//! more crates into every build with MCP.

use serde_json::{Map, Value};

/// Checks `arguments` against the top level of `schema`.
///
/// # Errors
///
/// The reason, for the model: `missing required property `city``, `property `days`:
/// expected integer, got "3"`, `unexpected property `units``.
pub(crate) fn check(
    schema: &Map<String, Value>,
    arguments: &Map<String, Value>,
) -> Result<(), String> {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        if let Some(missing) = required
            .iter()
            .filter_map(Value::as_str)
            .find(|name| !arguments.contains_key(*name))
        {
            return Err(format!("missing required property `{missing}`"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (name, value) in arguments {
        match properties.and_then(|p| p.get(name)) {
            Some(property) => {
                if let Some(expected) = property.get("type") {
                    if !has_type(value, expected) {
                        return Err(format!(
                            "property `{name}`: expected {}, got {}",
                            type_names(expected),
                            shown(value)
                        ));
                    }
                }
            }
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                return Err(format!("unexpected property `{name}`"));
            }
            None => {}
        }
    }
    Ok(())
}

/// Whether `value` has the type (or one of the types) `expected` names. A `type` this
/// check does not understand accepts anything.
fn has_type(value: &Value, expected: &Value) -> bool {
    match expected {
        Value::String(name) => is(value, name).unwrap_or(true),
        Value::Array(names) => {
            let verdicts: Vec<Option<bool>> = names
                .iter()
                .map(|n| n.as_str().and_then(|n| is(value, n)))
                .collect();
            verdicts.contains(&Some(true)) || verdicts.contains(&None)
        }
        _ => true,
    }
}

/// Whether `value` is of the JSON Schema type `name` (`None`: not a type name).
fn is(value: &Value, name: &str) -> Option<bool> {
    Some(match name {
        "string" => value.is_string(),
        "number" => value.is_number(),
        // "integer": "any number with a zero fractional part" (JSON Schema Validation 6.1.1
        // and Core 4.2.1): 1.0 is an integer.
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => return None,
    })
}

/// `expected`'s type names, for the message.
fn type_names(expected: &Value) -> String {
    match expected {
        Value::Array(names) => names
            .iter()
            .map(|n| n.as_str().unwrap_or("?"))
            .collect::<Vec<_>>()
            .join(" or "),
        other => other.as_str().unwrap_or("?").to_owned(),
    }
}

/// A value as the message shows it: short JSON, cut past 40 characters.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(v: &Value) -> Map<String, Value> {
        v.as_object().expect("an object").clone()
    }

    macro_rules! checks {
        ($schema:expr; $($arguments:expr => $expected:expr),* $(,)?) => {$(
            let arguments = $arguments;
            let got = check(&object(&$schema), &object(&arguments));
            let expected: Result<(), &str> = $expected;
            assert_eq!(got, expected.map_err(str::to_owned), "{arguments}");
        )*};
    }

    #[test]
    fn required_types_and_extras() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "scale": {"type": "number"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"type": ["string", "null"]},
                "any": {},
                "odd": {"type": "date"},
            },
            "required": ["city"],
        });
        checks! { schema.clone();
            json!({"city": "Paris"}) => Ok(()),
            json!({"city": "Paris", "days": 3, "scale": 1.5, "tags": ["a"], "note": null}) => Ok(()),
            json!({"city": "Paris", "days": 3.0, "any": [1], "odd": 7, "extra": true}) => Ok(()),
            json!({}) => Err("missing required property `city`"),
            json!({"city": 7}) => Err("property `city`: expected string, got 7"),
            json!({"city": "P", "days": "3"}) => Err("property `days`: expected integer, got \"3\""),
            json!({"city": "P", "days": 2.5}) => Err("property `days`: expected integer, got 2.5"),
            json!({"city": "P", "note": 1}) => Err("property `note`: expected string or null, got 1"),
            json!({"city": "P", "tags": "a"}) => Err("property `tags`: expected array, got \"a\""),
        }
        // Nested schemas are the server's business.
        checks! { schema;
            json!({"city": "P", "tags": [1]}) => Ok(()),
        }
        let closed =
            json!({"type": "object", "properties": {"a": {}}, "additionalProperties": false});
        checks! { closed;
            json!({"a": 1}) => Ok(()),
            json!({"a": 1, "b": 2}) => Err("unexpected property `b`"),
        }
        // A schema that says nothing accepts everything.
        checks! { json!({"type": "object"});
            json!({"x": [1, 2]}) => Ok(()),
        }
    }

    #[test]
    fn long_values_are_cut_in_the_message() {
        let schema = object(&json!({"properties": {"n": {"type": "number"}}}));
        let long = "é".repeat(100);
        let e = check(&schema, &object(&json!({ "n": long }))).unwrap_err();
        assert!(e.ends_with("...") && e.chars().count() < 90, "{e}");
    }
}
