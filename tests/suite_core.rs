//! One test binary for the parsers, the assembler, the executor, the turn stream and the
//! request bodies (with the `client` or `mock` feature where a file needs one).
//!
//! Each file of `tests/` is a module of one of the `suite_*` binaries (`soak.rs`, with
//! its counting allocator, is a binary of its own), so `cargo test` compiles and links
//! four test binaries instead of one per file. A new test file goes into a suite:
//! `suite_core`'s `layout::every_test_file_runs` fails on a file no suite includes. The
//! helpers of `common/` are `crate::common` in every module.

#[path = "chunking.rs"]
mod chunking;
mod common;
#[path = "eventsource_interop.rs"]
mod eventsource_interop;
#[path = "executor.rs"]
mod executor;
#[cfg(feature = "mock")]
#[path = "fast_path.rs"]
mod fast_path;
#[cfg(feature = "mock")]
#[path = "fast_path_gemini.rs"]
mod fast_path_gemini;
#[cfg(feature = "mock")]
#[path = "fast_path_responses.rs"]
mod fast_path_responses;
#[path = "fuzz_regressions.rs"]
mod fuzz_regressions;
#[path = "hostile.rs"]
mod hostile;
#[path = "layout.rs"]
mod layout;
#[cfg(feature = "client")]
#[path = "prompt_caching.rs"]
mod prompt_caching;
#[path = "properties.rs"]
mod properties;
#[path = "provider_quirks.rs"]
mod provider_quirks;
#[path = "readme.rs"]
mod readme;
#[cfg(feature = "client")]
#[path = "request_options.rs"]
mod request_options;
#[path = "sse_vectors.rs"]
mod sse_vectors;
#[path = "tool_content_parts.rs"]
mod tool_content_parts;
#[path = "turn_fixtures.rs"]
mod turn_fixtures;
#[path = "turn_stream.rs"]
mod turn_stream;
#[cfg(feature = "client")]
#[path = "typed_tools.rs"]
mod typed_tools;
#[path = "wire_anthropic.rs"]
mod wire_anthropic;
#[path = "wire_bedrock.rs"]
mod wire_bedrock;
#[cfg(feature = "client")]
#[path = "wire_gemini.rs"]
mod wire_gemini;
#[cfg(feature = "client")]
#[path = "wire_openai.rs"]
mod wire_openai;
