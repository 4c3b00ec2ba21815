//! Wraps a `reqwest` response body directly: `bytes_stream()` goes into
//! `ByteStreamExt::stream_events`, and a `TurnStream` runs the tool calls with results in
//! request order. Offline: the request goes to the bundled mock provider on loopback.
//!
//! ```sh
//! cargo run --example reqwest_stream
//! ```

use std::sync::Arc;

use futures_util::StreamExt;
use toolstream::mock::{MockServer, Script};
use toolstream::{
    ByteStreamExt, DispatchPolicy, Provider, ToolRegistry, TurnConfig, TurnEvent, TurnStream,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start("127.0.0.1:0".parse()?, Script::default_demo()).await?;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", "unused")
        .header("anthropic-version", "2023-06-01")
        .body(r#"{"model":"mock-1","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Weather?"}]}"#)
        .send()
        .await?
        .error_for_status()?;

    let events = response.bytes_stream().stream_events(Provider::Anthropic);
    let tools = ToolRegistry::new().with_raw_fn("get_weather", |input| {
        Box::pin(async move { Ok(format!("weather for {input}").into()) })
    });
    // get_time and search are not registered: their slots get "unknown tool" errors, in order.
    let config = TurnConfig::new(Provider::Anthropic).policy(DispatchPolicy::Eager);
    let mut turn = TurnStream::new(events, Arc::new(tools), config);
    while let Some(event) = turn.next().await {
        match event? {
            TurnEvent::ToolCall { call, .. } => {
                println!("call {} {} {}", call.index, call.name, call.arguments)
            }
            TurnEvent::Result(r) => println!("result {} {}: {}", r.index, r.name, r.content),
            TurnEvent::Outcome(o) => {
                println!(
                    "next message: {}",
                    o.results_message.expect("committed").get()
                )
            }
            _ => {}
        }
    }
    Ok(())
}
