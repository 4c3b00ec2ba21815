//! toolstream reads a language model's streamed output as it arrives, assembles the tool
//! calls the model makes, and hands each one over the moment its provider marks it
//! complete.
//!
//! ```text
//! bytes ──▶ framing ──────────▶ provider decoder ──────────▶ StreamEvent ──▶ assembler ──▶ ToolCall
//!          (SseDecoder, or        (anthropic, openai-chat,     (blocks, deltas,  (Assembler)
//!           EventStreamDecoder)    openai-responses, gemini,    stop reason,
//!                                  bedrock; or auto)            usage, errors)
//! ```
//!
//! Every layer is a synchronous push parser: bytes (or events) in through `push`, items
//! out into a `Vec`, an explicit `finish` at end of input. [`ByteStreamExt`] and
//! [`EventsourceExt`] are the thin `Stream` adapters for async code.
//!
//! # A first program
//!
//! A conversation with two typed tools against the bundled mock provider (no key, no
//! network), its text streamed as it arrives: `examples/quickstart.rs`. Tool schemas come
//! from the argument types (`schemars`), descriptions from their doc comments. For a real
//! provider, build the client with [`ModelClient::from_env`] instead of pointing it at the
//! mock. The entry points: [`Conversation`] (the loop, a `Stream` of
//! [`ConversationEvent`]s), [`ModelClient`] (one provider over HTTP, retries and time
//! limits), [`ToolRegistry`], and beneath them [`TurnStream`] (one turn of any stream of
//! events) and the parsers.
//!
#![cfg_attr(
    all(feature = "client", feature = "mock"),
    doc = concat!("```rust,no_run\n", include_str!("../examples/quickstart.rs"), "```\n")
)]
//!
//! # Example: the parser alone
//!
//! ```
//! use toolstream::{Assembler, Provider, StreamDecoder};
//!
//! let body = concat!(
//!     "event: content_block_start\n",
//!     "data: {\"type\":\"content_block_start\",\"index\":0,",
//!     "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"search\",\"input\":{}}}\n\n",
//!     "event: content_block_delta\n",
//!     "data: {\"type\":\"content_block_delta\",\"index\":0,",
//!     "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \\\"rust\\\"}\"}}\n\n",
//!     "event: content_block_stop\n",
//!     "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
//! );
//!
//! let mut decoder = StreamDecoder::new(Provider::Anthropic);
//! let mut assembler = Assembler::new();
//! let mut events = Vec::new();
//! // Feed the body in small pieces, as a network would.
//! for chunk in body.as_bytes().chunks(7) {
//!     decoder.push(chunk, &mut events)?;
//!     for event in events.drain(..) {
//!         if let Some(i) = assembler.push(&event)? {
//!             let call = &assembler.message().tool_calls[i];
//!             println!("tool call ready: {} {}", call.name, call.arguments);
//!         }
//!     }
//! }
//! decoder.finish(&mut events)?;
//! let message = assembler.finish();
//! assert_eq!(&*message.tool_calls[0].id, "toolu_01");
//! assert_eq!(message.tool_calls[0].input.as_ref().unwrap()["q"], "rust");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Cargo features
//!
//! The core (framing, provider decoders, assembler, executor, turn stream, next-request
//! messages) needs none of them; all are on by default. With `default-features = false`
//! the crate builds without an HTTP client, a server or a command line (no reqwest, hyper,
//! rustls, axum or clap).
//!
//! | feature | adds | pulls in |
//! |---|---|---|
//! | `client` | `ModelClient` (`client`), `Conversation` (`conversation`) | reqwest (rustls), aws-sigv4 |
//! | `mock` | `MockServer` (`mock`): scripted provider answers on loopback | axum |
//! | `proxy` | `Proxy` (`proxy`): records and replays provider traffic | axum, reqwest, sha2 |
//! | `mcp` | `McpTools` (`mcp`): the tools of MCP servers, eager from their annotations | rmcp, reqwest 0.13 (rustls with ring) |
//! | `cli` | the `toolstream` binary; enables the four above | clap, terminal_size, rmcp's server side |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod assemble;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod conversation;
#[cfg(feature = "mock")]
#[doc(hidden)]
pub mod corpus;
pub mod decode;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod eventstream;
pub mod execute;
#[cfg(feature = "mcp")]
pub mod mcp;
#[cfg(feature = "mock")]
pub mod mock;
pub mod preview;
pub mod provider;
#[cfg(feature = "proxy")]
pub mod proxy;
// The command line's JSON shapes: here, not in the binary, so that its matches over the
// `#[non_exhaustive]` event enums stay exhaustive.
#[doc(hidden)]
pub mod report;
// Without the client, the request body parts only it assembles go unused.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub mod request;
#[cfg(any(feature = "mock", feature = "proxy"))]
mod served;
pub mod sse;
pub mod stream;
pub mod tool;
pub mod turn;

pub use assemble::{
    parse_arguments, ArgumentsError, AssembleError, AssembleLimits, AssembledMessage, Assembler,
    ContentBlock, ToolCall,
};
#[cfg(feature = "client")]
pub use client::{
    ClientError, ModelClient, OptionsError, ReasoningEffort, RequestOptions, RetryPolicy, Timeout,
    ToolChoice,
};
#[cfg(feature = "client")]
pub use conversation::{
    Conversation, ConversationConfig, ConversationError, ConversationEvent, ConversationState,
    ConversationStream, TurnRecord, UserMessage,
};
pub use decode::{FramingLimits, StreamDecoder};
pub use dispatch::DispatchPolicy;
pub use error::DecodeError;
pub use event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};
pub use eventstream::{EventStreamDecoder, EventStreamError, EventStreamLimits};
pub use execute::{Orphan, OrphanBuffer, ToolErrorKind, ToolResult, TurnId};
#[cfg(feature = "mcp")]
pub use mcp::{McpError, McpServer, McpToolInfo, McpTools};
pub use preview::ArgumentPreview;
pub use provider::{OpenAiChatOptions, Provider, ProviderChoice};
pub use request::PromptCaching;
pub use sse::{SseDecoder, SseError, SseEvent, SseLimits};
pub use stream::{ByteStreamExt, EventsourceExt, StreamError};
pub use tool::{
    arguments_schema, ContentPart, IntoToolContent, RegisteredTool, Tool, ToolContent,
    ToolDefinition, ToolError, ToolFuture, ToolOptions, ToolOutput, ToolRegistry,
};
pub use turn::{TurnConfig, TurnEnding, TurnEvent, TurnOutcome, TurnStream};

// Plumbing: documented at their module paths, kept at the root for existing code.
#[doc(hidden)]
pub use assemble::parse_arguments_with_depth;
#[doc(hidden)]
pub use provider::{OpenAiChatDecoder, ProviderDecoder, UnknownProviderName};
#[doc(hidden)]
pub use sse::SseEventRef;
#[doc(hidden)]
pub use stream::{DecodeFrom, Decoded, EventsourceEvents, PushDecoder};

#[cfg(test)]
mod auto_traits {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}

    #[test]
    fn decoders_are_send_sync_unpin() {
        send_sync_unpin::<super::SseDecoder>();
        send_sync_unpin::<super::EventStreamDecoder>();
        send_sync_unpin::<super::StreamDecoder>();
        send_sync_unpin::<super::Assembler>();
        send_sync_unpin::<super::StreamEvent>();
        send_sync_unpin::<super::DecodeError>();
    }
}

/// The README's examples, compiled and run as doctests (they use the edges).
#[cfg(all(doctest, feature = "client", feature = "mock", feature = "proxy"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
