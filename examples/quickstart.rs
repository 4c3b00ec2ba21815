//! The README's first program: a conversation with two typed tools against the bundled mock
//! provider, its text streamed as it arrives. (`tests/readme.rs` checks the README holds
//! exactly this file.)
use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use toolstream::mock::{MockServer, Script};
use toolstream::{Conversation, ConversationConfig, ModelClient, Provider, ToolRegistry};

#[derive(Deserialize, JsonSchema)]
struct City {
    /// The city, in English.
    city: String,
}

#[derive(Deserialize, JsonSchema)]
struct Zone {
    /// An IANA time zone, such as `Asia/Tokyo`.
    timezone: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A scripted model on a loopback port: no key, no network. For a real one, use
    // `ModelClient::from_env(Provider::Anthropic, "claude-sonnet-4-5")?` instead.
    let script = Script::new()
        .then_calls(
            "Let me check. ",
            [
                ("get_weather", json!({"city": "Tokyo"})),
                ("get_time", json!({"timezone": "Asia/Tokyo"})),
            ],
        )
        .then_answer("It is sunny in Tokyo, 21°C, at 20:41.");
    let server = MockServer::start("127.0.0.1:0".parse()?, script).await?;
    let client =
        ModelClient::new(Provider::Anthropic, "mock-1", "key")?.base_url(server.base_url());
    let tools = ToolRegistry::new()
        .tool(
            "get_weather",
            "Current weather for a city",
            |a: City| async move { Ok::<_, String>(format!("{}: 21°C, sunny", a.city)) },
        )
        .tool(
            "get_time",
            "Local time in a time zone",
            |a: Zone| async move { Ok::<_, String>(format!("20:41 in {}", a.timezone)) },
        );
    let mut conversation = Conversation::new(client, tools, ConversationConfig::default());
    let mut events = conversation.stream("What's the weather in Tokyo, and the time?");
    while let Some(event) = events.next().await {
        let event = event?;
        if let Some(text) = event.text() {
            print!("{text}");
        }
        if let Some(result) = event.result() {
            print!("\n  [{}] {}", result.name, result.content);
        }
        if event.record().is_some() {
            println!(); // a turn ended
        }
    }
    Ok(())
}
