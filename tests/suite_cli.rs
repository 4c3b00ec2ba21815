//! One test binary for the `toolstream` binary, the official SDKs and the MCP servers.
//!
//! Each file of `tests/` is a module of one of the `suite_*` binaries (`soak.rs`, with
//! its counting allocator, is a binary of its own), so `cargo test` compiles and links
//! four test binaries instead of one per file. A new test file goes into a suite:
//! `suite_core`'s `layout::every_test_file_runs` fails on a file no suite includes.

#[path = "cli.rs"]
mod cli;
#[path = "cli_bench.rs"]
mod cli_bench;
#[path = "cli_chat_options.rs"]
mod cli_chat_options;
#[path = "cli_demo.rs"]
mod cli_demo;
#[path = "cli_failures.rs"]
mod cli_failures;
#[cfg(feature = "mcp")]
#[path = "cli_mcp.rs"]
mod cli_mcp;
#[path = "cli_proxy.rs"]
mod cli_proxy;
#[path = "cli_run.rs"]
mod cli_run;
#[path = "cli_run_fixtures.rs"]
mod cli_run_fixtures;
#[path = "http_bedrock.rs"]
mod http_bedrock;
#[path = "support/interop.rs"]
mod interop;
#[path = "interop_sdks.rs"]
mod interop_sdks;
#[cfg(feature = "mcp")]
#[path = "mcp_client.rs"]
mod mcp_client;
#[cfg(all(
    feature = "mcp",
    feature = "mock",
    feature = "client",
    feature = "proxy"
))]
#[path = "mcp_servers.rs"]
mod mcp_servers;
#[path = "mock_bedrock.rs"]
mod mock_bedrock;
#[path = "usage.rs"]
mod usage;
