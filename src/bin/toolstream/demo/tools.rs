//! The demo's simulated tools: their arguments, what they answer and how long they take.
//!
//! The demo registers them in process ([`registry`]), and the bundled MCP server
//! (`toolstream mcp-demo-server`) serves the same functions, so both answer alike after
//! the same delays. Different durations make the overlap of eager dispatch show.
//!
//! The argument types carry no `///` comments: those would become descriptions in the
//! schemas, and the requests the demo sends keep the bytes they have always had.

use std::time::Duration;

use schemars::{JsonSchema, Schema};
use serde::Deserialize;
use serde_json::Value;
use toolstream::ToolRegistry;

pub const GET_WEATHER: &str = "get_weather";
pub const GET_WEATHER_DOES: &str = "Current weather for a city";
pub const GET_TIME: &str = "get_time";
pub const GET_TIME_DOES: &str = "Local time in a timezone";
pub const SEARCH: &str = "search";
pub const SEARCH_DOES: &str = "Web search";
pub const GET_FORECAST: &str = "get_forecast";
pub const GET_FORECAST_DOES: &str = "Forecast for the coming days";
/// `set_home_city`, served only by the MCP server: the one tool that changes state.
pub const SET_HOME_CITY_DOES: &str =
    "Save the user's home city, replacing the one saved before; answers with both";

// The simulated answers do not depend on the arguments the demo's model leaves to the
// tool's judgement (a unit, a limit, a number of days): they are taken, as the schemas
// say, and not read.

#[derive(Debug, Deserialize, JsonSchema)]
pub struct City {
    pub city: String,
    #[schemars(transform = omittable)]
    #[allow(dead_code)]
    pub unit: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Zone {
    #[allow(dead_code)]
    pub timezone: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Query {
    #[allow(dead_code)]
    pub query: String,
    #[schemars(transform = omittable)]
    #[allow(dead_code)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Days {
    #[allow(dead_code)]
    pub city: String,
    #[schemars(transform = omittable)]
    #[allow(dead_code)]
    pub days: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HomeCity {
    pub city: String,
}

/// The schema of an optional argument: its type alone. `Option<T>` derives as
/// `{"type": [T, "null"]}` (with a `format` for numbers); the demo's tools say
/// `{"type": T}`: the model leaves the argument out rather than sending null.
fn omittable(schema: &mut Schema) {
    let ty = schema
        .get("type")
        .and_then(Value::as_array)
        .and_then(|types| types.iter().find(|t| *t != "null"))
        .cloned();
    if let Some(ty) = ty {
        *schema = schemars::json_schema!({ "type": ty });
    }
}

/// `get_weather`: 450 ms for Paris, 900 ms for Tokyo, 350 ms elsewhere.
pub async fn weather(args: City) -> String {
    let (ms, report) = match args.city.as_str() {
        "Paris" => (450, "sunny, 21°C"),
        "Tokyo" => (900, "light rain, 17°C"),
        _ => (350, "dry, 19°C"),
    };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("{}: {report}", args.city)
}

/// `get_time`: 200 ms.
pub async fn time(_: Zone) -> String {
    tokio::time::sleep(Duration::from_millis(200)).await;
    "20:41 local time".to_owned()
}

/// `search`: 700 ms.
pub async fn search(_: Query) -> String {
    tokio::time::sleep(Duration::from_millis(700)).await;
    "Light rain: a compact umbrella is enough.".to_owned()
}

/// `get_forecast`: 600 ms.
pub async fn forecast(_: Days) -> String {
    tokio::time::sleep(Duration::from_millis(600)).await;
    "Tomorrow: rain easing by 9am, 19°C.".to_owned()
}

/// How long `set_home_city` takes.
pub const SET_HOME_CITY_MS: u64 = 300;

/// The demo's tools, run in process: typed arguments, schemas derived from them.
pub fn registry() -> ToolRegistry {
    ToolRegistry::new()
        .tool(GET_WEATHER, GET_WEATHER_DOES, |a: City| async move {
            Ok::<_, String>(weather(a).await)
        })
        .tool(GET_TIME, GET_TIME_DOES, |a: Zone| async move {
            Ok::<_, String>(time(a).await)
        })
        .tool(SEARCH, SEARCH_DOES, |a: Query| async move {
            Ok::<_, String>(search(a).await)
        })
        .tool(GET_FORECAST, GET_FORECAST_DOES, |a: Days| async move {
            Ok::<_, String>(forecast(a).await)
        })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::registry;

    /// The typed tools describe themselves to the model exactly as the demo's hand-written
    /// definitions did: the requests keep their bytes.
    #[test]
    fn schemas_keep_their_bytes() {
        let object = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
        let want = [
            (
                "get_forecast",
                "Forecast for the coming days",
                object(
                    json!({"city": {"type": "string"}, "days": {"type": "integer"}}),
                    &["city"],
                ),
            ),
            (
                "get_time",
                "Local time in a timezone",
                object(json!({"timezone": {"type": "string"}}), &["timezone"]),
            ),
            (
                "get_weather",
                "Current weather for a city",
                object(
                    json!({"city": {"type": "string"}, "unit": {"type": "string"}}),
                    &["city"],
                ),
            ),
            (
                "search",
                "Web search",
                object(
                    json!({"query": {"type": "string"}, "limit": {"type": "integer"}}),
                    &["query"],
                ),
            ),
        ];
        let got = registry().definitions();
        assert_eq!(got.len(), want.len());
        for (d, (name, description, schema)) in got.iter().zip(want) {
            assert_eq!(d.name, name);
            assert_eq!(d.description, description);
            assert_eq!(d.schema.to_string(), schema.to_string(), "{name}");
        }
    }
}
