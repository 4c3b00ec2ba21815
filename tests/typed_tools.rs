//! Typed tools (issue 17): schemas derived from the argument types, descriptions required
//! or warned about, definitions that do not depend on registration order, and typed
//! arguments that do not fit answered as `InvalidArguments`, naming the field.

use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use toolstream::tool::{arguments_schema, ToolDefinition};
use toolstream::{
    Block, Delta, Provider, StopKind, StopReason, StreamEvent, ToolErrorKind, ToolRegistry,
    TurnConfig, TurnEvent, TurnOutcome, TurnStream, Usage,
};

// ---- the argument types --------------------------------------------------------------

/// The weather where the user is going.
#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
struct Forecast {
    /// The city, in English.
    city: String,
    /// How many days ahead (default 1).
    days: Option<u8>,
    /// The temperature unit.
    unit: Unit,
    /// Where to look when the city's name is ambiguous.
    near: Place,
    /// A second place to compare with.
    compare_with: Option<Place>,
    /// Which measurements to include.
    fields: Vec<String>,
}

#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Unit {
    Celsius,
    Fahrenheit,
}

#[allow(dead_code)]
#[derive(Deserialize, JsonSchema)]
struct Place {
    /// ISO 3166 country code.
    country: String,
    /// The region, if any.
    region: Option<String>,
}

/// The schema every provider gets for `Forecast`: written out in place.
fn forecast_schema() -> Value {
    json!({
        "description": "The weather where the user is going.",
        "type": "object",
        "properties": {
            "city": {"description": "The city, in English.", "type": "string"},
            "days": {
                "description": "How many days ahead (default 1).",
                "type": ["integer", "null"],
                "format": "uint8",
                "minimum": 0,
                "maximum": 255
            },
            "unit": {
                "description": "The temperature unit.",
                "type": "string",
                "enum": ["celsius", "fahrenheit"]
            },
            "near": {
                "description": "Where to look when the city's name is ambiguous.",
                "type": "object",
                "properties": {
                    "country": {"description": "ISO 3166 country code.", "type": "string"},
                    "region": {"description": "The region, if any.", "type": ["string", "null"]}
                },
                "required": ["country"]
            },
            "compare_with": {
                "description": "A second place to compare with.",
                "type": ["object", "null"],
                "properties": {
                    "country": {"description": "ISO 3166 country code.", "type": "string"},
                    "region": {"description": "The region, if any.", "type": ["string", "null"]}
                },
                "required": ["country"]
            },
            "fields": {
                "description": "Which measurements to include.",
                "type": "array",
                "items": {"type": "string"}
            }
        },
        "required": ["city", "unit", "near", "fields"]
    })
}

fn forecast_tools() -> ToolRegistry {
    ToolRegistry::new().tool(
        "get_forecast",
        "Forecast for the coming days",
        |args: Forecast| async move { Ok::<_, String>(format!("rain in {}", args.city)) },
    )
}

/// Every key anywhere in `v`.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

// ---- schemas ---------------------------------------------------------------------------

#[test]
fn the_schema_is_derived_from_the_type_and_written_out_in_place() {
    let schema = arguments_schema::<Forecast>();
    assert_eq!(schema, forecast_schema());
    let mut all = Vec::new();
    keys(&schema, &mut all);
    for refused in ["$schema", "$ref", "$defs", "definitions", "title"] {
        assert!(!all.iter().any(|k| k == refused), "{refused} in {schema}");
    }
}

#[test]
fn one_call_registers_the_name_description_schema_and_function() {
    let definitions = forecast_tools().definitions();
    assert_eq!(
        definitions,
        vec![ToolDefinition {
            name: "get_forecast".into(),
            description: "Forecast for the coming days".into(),
            schema: forecast_schema(),
        }]
    );
}

// ---- with_definition in any order -------------------------------------------------------

fn raw_ok(_: Value) -> toolstream::ToolFuture {
    Box::pin(async { Ok("ok".into()) })
}

#[test]
fn a_definition_given_before_its_tool_is_kept() {
    let schema = json!({"type": "object", "properties": {"q": {"type": "string"}}});
    let before = ToolRegistry::new()
        .with_definition("search", "Search the web", schema.clone())
        .with_raw_fn("search", raw_ok);
    let after = ToolRegistry::new()
        .with_raw_fn("search", raw_ok)
        .with_definition("search", "Search the web", schema.clone());
    let expected = vec![ToolDefinition {
        name: "search".into(),
        description: "Search the web".into(),
        schema,
    }];
    assert_eq!(before.definitions(), expected);
    assert_eq!(after.definitions(), expected);
}

// ---- warnings ---------------------------------------------------------------------------

/// The messages of the warnings logged while `f` runs.
fn warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = tracing::subscriber::with_default(Warnings(seen.clone()), f);
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

/// A minimal subscriber that keeps the message of each `WARN` event.
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[test]
fn a_tool_without_a_description_is_warned_about_once_by_name() {
    let tools = ToolRegistry::new()
        .with_raw_fn("lookup", raw_ok)
        .with_fn("get_order", |_: Value| async { Ok::<_, String>("shipped") });
    let (_, first) = warnings(|| tools.definitions());
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first[0].contains("the tool `get_order` has no description"));
    assert!(first[1].contains("the tool `lookup` has no description"));
    // Once: the conversation asks for the definitions at every message.
    let (_, again) = warnings(|| tools.clone().definitions());
    assert_eq!(again, Vec::<String>::new());
}

#[test]
fn a_definition_whose_tool_never_registers_is_warned_about_not_dropped_silently() {
    let tools = ToolRegistry::new()
        .tool("get_forecast", "Forecast", |_: Forecast| async {
            Ok::<_, String>("rain")
        })
        .with_definition("get_forcast", "Forecast", json!({"type": "object"}));
    let (definitions, seen) = warnings(|| tools.definitions());
    assert_eq!(definitions.len(), 1);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains(r#"`with_definition("get_forcast", ..)` names no registered tool"#));
}

#[test]
fn a_described_tool_is_not_warned_about() {
    let (_, seen) = warnings(|| forecast_tools().definitions());
    assert_eq!(seen, Vec::<String>::new());
}

// ---- wrong-typed arguments through a turn --------------------------------------------

/// One model message calling `get_forecast` with `arguments`, ending with `tool_use`.
fn calling(arguments: &str) -> Vec<StreamEvent> {
    vec![
        StreamEvent::MessageStart {
            id: Some("msg_1".into()),
            model: None,
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: Block::ToolUse {
                id: "toolu_1".into(),
                name: "get_forecast".into(),
            },
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::ToolInput(arguments.into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
            usage: Usage::default(),
        },
        StreamEvent::MessageStop,
    ]
}

async fn run(tools: ToolRegistry, events: Vec<StreamEvent>) -> TurnOutcome {
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    let all: Vec<TurnEvent> = TurnStream::new(
        stream,
        Arc::new(tools),
        TurnConfig::new(Provider::Anthropic),
    )
    .map(|e| e.unwrap())
    .collect()
    .await;
    match all.last() {
        Some(TurnEvent::Outcome(o)) => (**o).clone(),
        other => panic!("the last event is not the outcome: {other:?}"),
    }
}

#[tokio::test]
async fn wrong_typed_arguments_are_invalid_arguments_naming_the_field() {
    let called = Arc::new(Mutex::new(0));
    let count = called.clone();
    let tools = ToolRegistry::new().tool("get_forecast", "Forecast", move |_: Forecast| {
        *count.lock().unwrap() += 1;
        async { Ok::<_, String>("rain") }
    });
    let o = run(
        tools,
        calling(r#"{"city":"Paris","unit":"kelvin","near":{"country":"FR"},"fields":[]}"#),
    )
    .await;
    assert!(o.committed);
    let r = &o.results[0];
    assert_eq!(r.error, Some(ToolErrorKind::InvalidArguments));
    assert!(
        r.content
            .starts_with("invalid arguments: unit: unknown variant `kelvin`"),
        "{}",
        r.content
    );
    assert_eq!(*called.lock().unwrap(), 0, "the function is not called");
}

#[tokio::test]
async fn a_nested_field_of_the_wrong_type_is_named_by_its_path() {
    let o = run(
        forecast_tools(),
        calling(r#"{"city":"Paris","unit":"celsius","near":{"country":33},"fields":[]}"#),
    )
    .await;
    let r = &o.results[0];
    assert_eq!(r.error, Some(ToolErrorKind::InvalidArguments));
    assert_eq!(
        r.content,
        "invalid arguments: near.country: invalid type: integer `33`, expected a string"
    );
}

#[tokio::test]
async fn a_missing_field_is_invalid_arguments_for_with_fn_too() {
    let tools = ToolRegistry::new().with_fn("get_forecast", |_: Forecast| async {
        Ok::<_, String>("rain")
    });
    let o = run(tools, calling(r#"{"city":"Paris"}"#)).await;
    let r = &o.results[0];
    assert_eq!(r.error, Some(ToolErrorKind::InvalidArguments));
    assert_eq!(r.content, "invalid arguments: missing field `unit`");
}

#[tokio::test]
async fn arguments_that_fit_reach_the_function() {
    let o = run(
        forecast_tools(),
        calling(r#"{"city":"Paris","unit":"celsius","near":{"country":"FR"},"fields":["wind"]}"#),
    )
    .await;
    assert_eq!(o.results[0].error, None);
    assert_eq!(o.results[0].content, "rain in Paris");
}

// ---- the request bytes --------------------------------------------------------------

/// Each provider's request carries the derived schema under its own key, byte for byte.
#[cfg(feature = "client")]
#[test]
fn every_provider_request_carries_the_derived_schema() {
    use toolstream::ModelClient;

    let tools = forecast_tools();
    let schema = forecast_schema().to_string();
    for (provider, key) in [
        (Provider::Anthropic, r#""input_schema":"#),
        (Provider::OpenAiChat, r#""parameters":"#),
        (Provider::OpenAiResponses, r#""parameters":"#),
        (Provider::Gemini, r#""parametersJsonSchema":"#),
        (Provider::Bedrock, r#""inputSchema":{"json":"#),
    ] {
        let client = ModelClient::new(provider, "m", "k").unwrap();
        let history = vec![client.user_message("Rain in Paris?")];
        let body = client.request_body(&history, &tools.definitions());
        assert!(
            body.contains(&format!("{key}{schema}")),
            "{provider:?}: no {key}{schema} in {body}"
        );
        assert!(
            body.contains(r#""Forecast for the coming days""#),
            "{provider:?}: {body}"
        );
    }
}
