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
//! # Example
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
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod assemble;
pub mod client;
pub mod conversation;
pub mod corpus;
pub mod decode;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod eventstream;
pub mod execute;
pub mod mock;
pub mod preview;
pub mod provider;
pub mod proxy;
pub mod report;
pub mod request;
mod served;
pub mod sse;
pub mod stream;
pub mod tool;
pub mod turn;

pub use assemble::{
    parse_arguments, parse_arguments_with_depth, ArgumentsError, AssembleError, AssembleLimits,
    AssembledMessage, Assembler, ContentBlock, ToolCall,
};
pub use client::{
    ClientError, ModelClient, OptionsError, ReasoningEffort, RequestOptions, RetryPolicy, Timeout,
    ToolChoice,
};
pub use conversation::{Conversation, ConversationConfig, ConversationError, TurnRecord};
pub use decode::{FramingLimits, StreamDecoder};
pub use dispatch::DispatchPolicy;
pub use error::DecodeError;
pub use event::{Block, Delta, ProviderError, StopKind, StopReason, StreamEvent, Usage};
pub use eventstream::{EventStreamDecoder, EventStreamError, EventStreamLimits};
pub use execute::{Orphan, OrphanBuffer, ToolErrorKind, ToolResult, TurnId};
pub use preview::ArgumentPreview;
pub use provider::{
    OpenAiChatDecoder, OpenAiChatOptions, Provider, ProviderChoice, ProviderDecoder,
    UnknownProviderName,
};
pub use request::PromptCaching;
pub use sse::{SseDecoder, SseError, SseEvent, SseEventRef, SseLimits};
pub use stream::{
    ByteStreamExt, DecodeFrom, Decoded, EventsourceEvents, EventsourceExt, PushDecoder, StreamError,
};
pub use tool::{
    ContentPart, IntoToolContent, RegisteredTool, Tool, ToolContent, ToolFuture, ToolOptions,
    ToolOutput, ToolRegistry,
};
pub use turn::{TurnConfig, TurnEvent, TurnOutcome, TurnStream};

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

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
