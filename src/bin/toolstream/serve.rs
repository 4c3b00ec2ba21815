//! `toolstream serve` and `toolstream chat`: the mock provider server on a loopback port,
//! and one message to a real (or mock) provider with the demo's simulated tools or the
//! tools of MCP servers.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use toolstream::mock::{Fault, MockServer, Script};
use toolstream::{
    Conversation, ConversationConfig, Delta, DispatchPolicy, McpServer, McpTools, ModelClient,
    PromptCaching, Provider, StreamEvent, TurnEvent,
};

use crate::demo::{demo_tools, usage_line};

/// `toolstream serve`: prints the address, serves until interrupted.
pub fn serve(
    addr: SocketAddr,
    script: Option<&Path>,
    cache_minimums: bool,
    faults: &[Fault],
) -> Result<(), String> {
    let mut script: Script = match script {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("invalid script {}: {e}", p.display()))?
        }
        None => Script::default_demo(),
    };
    script.cache_minimums |= cache_minimums;
    script.faults.extend_from_slice(faults);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let server = MockServer::start(addr, script)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        println!("{}", server.base_url());
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        let stats = server.stats();
        eprintln!(
            "toolstream serve: {}",
            serde_json::to_string(&stats).unwrap_or_default()
        );
        server.shutdown().await;
        Ok(())
    })
}

/// How `chat` talks to the network.
pub struct Network {
    /// Instead of the provider's own endpoint.
    pub base_url: Option<String>,
    pub retries: toolstream::RetryPolicy,
    pub idle_timeout: Option<Duration>,
    pub timeout: Option<Duration>,
}

/// `toolstream chat`: one message to a provider, with the demo's simulated tools (or the
/// tools of the MCP servers `mcp`) and the request `options`; prints the model's text as
/// it streams and each tool call.
#[allow(clippy::too_many_arguments)]
pub fn chat(
    provider: Provider,
    model: &str,
    message: &str,
    policy: DispatchPolicy,
    caching: PromptCaching,
    options: toolstream::RequestOptions,
    network: Network,
    mcp: &[McpServer],
) -> Result<(), String> {
    let mut client = ModelClient::from_env(provider, model)
        .map_err(|e| e.to_string())?
        .prompt_caching(caching)
        .options(options)
        .retries(network.retries)
        .idle_timeout(network.idle_timeout)
        .timeout(network.timeout);
    if let Some(url) = network.base_url {
        client = client.base_url(url);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let config = ConversationConfig {
            policy,
            tool_timeout: Some(Duration::from_secs(30)),
            ..ConversationConfig::default()
        };
        let served = if mcp.is_empty() {
            None
        } else {
            let tools = McpTools::connect(mcp.to_vec())
                .await
                .map_err(|e| crate::reason(&e))?;
            let names: Vec<String> = tools.tools().into_iter().map(|t| t.name).collect();
            eprintln!(
                "toolstream chat: {} tools from MCP: {}",
                names.len(),
                names.join(", ")
            );
            Some(tools)
        };
        let tools = served.as_ref().map_or_else(demo_tools, McpTools::registry);
        let mut conversation = Conversation::new(client, tools, config);
        let mut out = std::io::stdout();
        let sent = conversation
            .send(message, |e| match e {
                TurnEvent::Model(StreamEvent::BlockDelta {
                    delta: Delta::Text(t),
                    ..
                }) => {
                    let _ = write!(out, "{t}");
                    let _ = out.flush();
                }
                TurnEvent::Model(StreamEvent::MessageStop) => {
                    let _ = writeln!(out);
                }
                TurnEvent::Result(r) => {
                    let _ = writeln!(out, "  [tool {} {} -> {}]", r.index, r.name, r.content);
                }
                _ => {}
            })
            .await
            .map_err(|e| e.to_string());
        if let Some(tools) = served {
            tools.shutdown().await;
        }
        sent?;
        eprintln!("{}", usage_line(&conversation.usage()));
        Ok(())
    })
}
