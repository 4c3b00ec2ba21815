//! `toolstream mcp-demo-server` (hidden): the demo's tools served over MCP on standard
//! input and output, written with `rmcp`, the official Rust SDK. `toolstream demo --mcp`
//! spawns it, and tests use it as a server that needs no installing.
//!
//! The tools answer as the demo's in-process ones do, after the same delays
//! ([`crate::demo::tools`]); their argument types give the input schemas. The annotations
//! say what each does to the world, and so which start early under per-tool dispatch:
//!
//! | tool | annotations |
//! |---|---|
//! | `get_weather`, `get_time`, `search`, `get_forecast` | `readOnlyHint: true`, `openWorldHint: false` |
//! | `set_home_city` (replaces the saved city) | `readOnlyHint: false`, `destructiveHint: true`, `idempotentHint: true`, `openWorldHint: false` |
//!
//! Standard output carries the protocol only; nothing else is printed there.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_handler, tool_router, ServerHandler, ServiceExt};

use crate::demo::tools::{self, City, Days, HomeCity, Query, Zone};

/// The server: the tool router and the one piece of state a tool changes.
#[derive(Clone)]
struct DemoServer {
    tool_router: ToolRouter<Self>,
    /// The city `set_home_city` saved last.
    home: Arc<Mutex<Option<String>>>,
}

#[tool_router]
impl DemoServer {
    fn new() -> Self {
        DemoServer {
            tool_router: Self::tool_router(),
            home: Arc::new(Mutex::new(None)),
        }
    }

    #[tool(
        name = "get_weather",
        description = tools::GET_WEATHER_DOES,
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_weather(&self, Parameters(args): Parameters<City>) -> String {
        tools::weather(args).await
    }

    #[tool(
        name = "get_time",
        description = tools::GET_TIME_DOES,
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_time(&self, Parameters(args): Parameters<Zone>) -> String {
        tools::time(args).await
    }

    #[tool(
        name = "search",
        description = tools::SEARCH_DOES,
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(&self, Parameters(args): Parameters<Query>) -> String {
        tools::search(args).await
    }

    #[tool(
        name = "get_forecast",
        description = tools::GET_FORECAST_DOES,
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_forecast(&self, Parameters(args): Parameters<Days>) -> String {
        tools::forecast(args).await
    }

    /// Replaces the saved city: not read-only, destructive (the previous city is gone),
    /// idempotent (saving the same city twice changes nothing more).
    #[tool(
        name = "set_home_city",
        description = tools::SET_HOME_CITY_DOES,
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn set_home_city(&self, Parameters(args): Parameters<HomeCity>) -> String {
        tokio::time::sleep(Duration::from_millis(tools::SET_HOME_CITY_MS)).await;
        let before = self
            .home
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(args.city.clone());
        match before {
            Some(before) => format!("home city set to {} (was {before})", args.city),
            None => format!("home city set to {} (was none)", args.city),
        }
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "toolstream-demo",
    instructions = "The toolstream demo's weather tools: four read-only lookups and one that saves a home city."
)]
impl ServerHandler for DemoServer {}

/// Serves until the client closes standard input (or the session fails).
///
/// # Errors
///
/// A line saying why the session could not start or ended in error.
pub fn serve() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let served = runtime.block_on(async {
        let service = DemoServer::new()
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("the MCP session did not start: {}", crate::reason(&e)))?;
        service
            .waiting()
            .await
            .map(drop)
            .map_err(|e| format!("the MCP session failed: {e}"))
    });
    // A read of standard input cannot be cancelled: do not wait for one on the way out.
    runtime.shutdown_background();
    served
}
