//! One test binary for the HTTP edges over loopback: the client and the conversation
//! against the mock server, and the proxy.
//!
//! Each file of `tests/` is a module of one of the `suite_*` binaries (`soak.rs`, with
//! its counting allocator, is a binary of its own), so `cargo test` compiles and links
//! four test binaries instead of one per file. A new test file goes into a suite:
//! `suite_core`'s `layout::every_test_file_runs` fails on a file no suite includes.

#[path = "conversation_stream.rs"]
mod conversation_stream;
#[path = "failure_matrix.rs"]
mod failure_matrix;
#[path = "http_conversation.rs"]
mod http_conversation;
#[path = "http_pause_turn.rs"]
mod http_pause_turn;
#[path = "http_prompt_cache.rs"]
mod http_prompt_cache;
#[path = "http_reasoning.rs"]
mod http_reasoning;
#[path = "http_resilience.rs"]
mod http_resilience;
#[path = "mock_cache.rs"]
mod mock_cache;
#[path = "mock_protocol.rs"]
mod mock_protocol;
#[cfg(feature = "proxy")]
#[path = "proxy.rs"]
mod proxy;
