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

use serde::Deserialize;
use toolstream::mock::{MockServer, Script};
use toolstream::{
    Conversation, ConversationConfig, DispatchPolicy, ModelClient, Provider, ToolRegistry,
    TurnEvent,
};

#[derive(Deserialize)]
struct City {
    city: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start("127.0.0.1:0".parse()?, Script::default_demo()).await?;
    let client =
        ModelClient::new(Provider::OpenAiChat, "mock-1", "unused")?.base_url(server.base_url());
    let tools = ToolRegistry::new()
        .with_fn("get_weather", |a: City| async move {
            Ok::<_, String>(format!("{}: 20°C", a.city))
        })
        .with_raw_fn("get_time", |_| Box::pin(async { Ok("12:00".into()) }))
        .with_raw_fn("search", |_| {
            Box::pin(async { Ok("bring an umbrella".into()) })
        })
        .with_raw_fn("get_forecast", |_| Box::pin(async { Ok("rain".into()) }));
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
