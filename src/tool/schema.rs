//! Argument schemas derived from the argument types, in the shape every provider accepts.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::Value;

/// The JSON Schema of a tool's arguments, derived from their type with
/// [`schemars`](https://docs.rs/schemars): what [`ToolRegistry::tool`](super::ToolRegistry::tool)
/// sends, and what a [`with_definition`](super::ToolRegistry::with_definition) can use for a
/// raw tool.
///
/// Doc comments become descriptions (`///` on a field describes that property); an
/// `Option` field is not required; a unit-only enum is a string `enum`.
///
/// The schema is written for the providers' tool definitions rather than as a standalone
/// document: no `$schema` key and no `title` at the root (the tool's name and description
/// say that), and every subschema written in place, with no `$ref` or `$defs`: some
/// providers refuse references inside tool schemas. Only a recursive type (a tree of
/// itself) keeps a `$ref`, to its `$defs` at the root, since its schema cannot be written
/// out in full.
///
/// # Example
///
/// ```
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Search {
///     /// What to look for.
///     query: String,
///     /// At most this many results.
///     limit: Option<u32>,
/// }
///
/// let schema = toolstream::tool::arguments_schema::<Search>();
/// assert_eq!(schema["required"], json!(["query"]));
/// assert_eq!(schema["properties"]["query"]["description"], "What to look for.");
/// ```
pub fn arguments_schema<A: JsonSchema + ?Sized>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.meta_schema = None;
            s.inline_subschemas = true;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<A>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.remove("title");
    }
    schema
}

/// Whether `schema` describes a JSON object, as a tool's arguments always are.
pub(crate) fn is_object_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
}
