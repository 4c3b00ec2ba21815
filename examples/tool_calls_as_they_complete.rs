//! Streams a provider response and prints each tool call the moment its provider marks it
//! complete, then the assembled message.
//!
//! ```sh
//! cargo run --example tool_calls_as_they_complete -- tests/fixtures/openai-chat/openai-chat-parallel-tool-calls.sse
//! ```
//!
//! The body is fed in 256-byte chunks through the same `Stream` adapter an HTTP body
//! (`reqwest::Response::bytes_stream()`) would use.

use futures_util::StreamExt;
use toolstream::{Assembler, ByteStreamExt, ProviderChoice};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        "tests/fixtures/anthropic/constructed-anthropic-two-parallel-tools.sse".into()
    });
    let body = tokio::fs::read(&path).await?;
    let chunks = futures_util::stream::iter(
        body.chunks(256)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );

    let mut events = chunks.stream_events(ProviderChoice::Auto);
    let mut assembler = Assembler::new();
    while let Some(event) = events.next().await {
        if let Some(i) = assembler.push(&event?)? {
            let call = &assembler.message().tool_calls[i];
            match &call.input {
                Ok(input) => println!("call {i} ready: {}({input})", call.name),
                Err(why) => println!("call {i} unusable: {} ({why})", call.name),
            }
        }
    }
    let message = assembler.finish();
    println!(
        "text: {:?}\nstop: {:?}\nusage: {:?}",
        message.text(),
        message.stop_reason,
        message.usage
    );
    Ok(())
}
