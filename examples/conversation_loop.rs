//! The conversation loop against the bundled mock provider (real HTTP on loopback, no
//! network, no API key): the model calls tools, results go back in request order, until it
//! answers.
//!
//! ```sh
//! cargo run --example conversation_loop
//! ```
//!
//! Against a real provider, build the client with `ModelClient::from_env(provider, model)`
//! instead (it reads ANTHROPIC_API_KEY, OPENAI_API_KEY or GEMINI_API_KEY).

use schemars::JsonSchema;
use serde::Deserialize;
use toolstream::mock::{MockServer, Script};
use toolstream::{
    Conversation, ConversationConfig, DispatchPolicy, ModelClient, Provider, ToolRegistry,
    TurnEvent,
};

// Each tool's arguments are a type: serde reads them, and its JSON Schema (doc comments as
// the descriptions) is what the model is shown.

#[derive(Deserialize, JsonSchema)]
struct Weather {
    /// The city, in English.
    city: String,
    /// `celsius` (the default) or `fahrenheit`.
    unit: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct Time {
    /// An IANA timezone, such as `Asia/Tokyo`.
    timezone: String,
}

#[derive(Deserialize, JsonSchema)]
struct Search {
    /// What to look for.
    query: String,
    /// At most this many results.
    limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
struct Forecast {
    /// The city, in English.
    city: String,
    /// How many days ahead.
    days: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start("127.0.0.1:0".parse()?, Script::default_demo()).await?;
    let client =
        ModelClient::new(Provider::OpenAiChat, "mock-1", "unused")?.base_url(server.base_url());
    let tools = ToolRegistry::new()
        .tool(
            "get_weather",
            "Current weather for a city",
            |a: Weather| async move {
                let unit = a.unit.as_deref().unwrap_or("celsius");
                Ok::<_, String>(format!("{}: 20 degrees {unit}", a.city))
            },
        )
        .tool(
            "get_time",
            "Local time in a timezone",
            |a: Time| async move { Ok::<_, String>(format!("12:00 in {}", a.timezone)) },
        )
        .tool("search", "Web search", |a: Search| async move {
            let n = a.limit.unwrap_or(5);
            Ok::<_, String>(format!("{n} results for {}: bring an umbrella", a.query))
        })
        .tool(
            "get_forecast",
            "Forecast for the coming days",
            |a: Forecast| async move {
                Ok::<_, String>(format!("{}, next {} days: rain", a.city, a.days))
            },
        );
    let config = ConversationConfig {
        policy: DispatchPolicy::Eager,
        ..ConversationConfig::default()
    };
    let mut conversation = Conversation::new(client, tools, config);
    let records = conversation
        .send("Weather in Paris and Tokyo?", |event| {
            if let TurnEvent::Result(r) = event {
                println!(
                    "turn {} result {} ({}): {}",
                    r.turn, r.index, r.name, r.content
                );
            }
        })
        .await?;
    let answer = records
        .last()
        .expect("at least one turn")
        .outcome
        .message
        .text();
    println!("answer after {} turns: {answer}", records.len());
    println!("server: {:?}", server.stats());
    Ok(())
}
