//! Keeps an existing `eventsource-stream` pipeline: its `Event`s go straight into
//! toolstream's provider decoder.
//!
//! ```sh
//! cargo run --example from_eventsource_stream
//! ```

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use toolstream::{Assembler, EventsourceExt, Provider};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let body =
        tokio::fs::read("tests/fixtures/anthropic/prism-anthropic-stream-with-tools-1.sse").await?;
    let bytes = futures_util::stream::iter([Ok::<_, std::io::Error>(body)]);

    // What a user of eventsource-stream (or reqwest-eventsource) already has:
    let sse_events = bytes.eventsource();

    let mut events = sse_events.unified_events(Provider::Anthropic);
    let mut assembler = Assembler::new();
    while let Some(event) = events.next().await {
        assembler.push(&event?)?;
    }
    let message = assembler.finish();
    for call in &message.tool_calls {
        println!("{} {} {}", call.id, call.name, call.arguments);
    }
    Ok(())
}
