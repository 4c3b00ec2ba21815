//! `toolstream tools`: the tool definitions a request to a provider carries, as one JSON
//! array, byte for byte.
//!
//! The array is cut out of the request body the client itself writes
//! ([`ModelClient::request_body`]), so what is printed is what is sent: Anthropic's
//! `tools` (`input_schema`, the cache breakpoint on the last tool), OpenAI Chat's
//! `{"type":"function","function":{..}}`, Responses' flat functions with `strict`, Gemini's
//! `[{"functionDeclarations":[..]}]`, Bedrock's `toolConfig.tools` (`toolSpec`, and a
//! `cachePoint` after them where the model takes one).

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::value::RawValue;
use toolstream::{McpServer, McpTools, ModelClient, PromptCaching, Provider};

use crate::demo::demo_tools;
use crate::Failure;

/// Prints the definitions of the tools of `servers` (the demo's tools when there is none)
/// as a request to `provider` for `model` carries them.
///
/// # Errors
///
/// A server that cannot be reached or listed (its reason, naming it), or output that
/// cannot be written.
pub fn print(
    provider: Provider,
    model: &str,
    caching: PromptCaching,
    servers: &[McpServer],
    out: &mut impl Write,
) -> Result<(), Failure> {
    let registry = if servers.is_empty() {
        demo_tools()
    } else {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let tools = McpTools::connect(servers.to_vec())
                .await
                .map_err(|e| Failure::Input(crate::reason(&e)))?;
            let registry = tools.registry();
            tools.shutdown().await;
            Ok::<_, Failure>(registry)
        })?
    };
    let client = ModelClient::new(provider, model, "unused")
        .map_err(|e| Failure::Input(crate::reason(&e)))?
        .prompt_caching(caching);
    let body = client.request_body(&[], &registry.definitions());
    let array = tool_array(&body).map_err(Failure::Input)?;
    writeln!(out, "{array}")?;
    Ok(())
}

/// The tools array of a request body, as written: `tools` at the top level, or Bedrock's
/// `toolConfig.tools`; `[]` when the body has none (no tools).
fn tool_array(body: &str) -> Result<String, String> {
    let unreadable = |e: serde_json::Error| format!("the request body does not read back: {e}");
    let fields: BTreeMap<String, &RawValue> = serde_json::from_str(body).map_err(unreadable)?;
    if let Some(tools) = fields.get("tools") {
        return Ok(tools.get().to_owned());
    }
    if let Some(config) = fields.get("toolConfig") {
        let config: BTreeMap<String, &RawValue> =
            serde_json::from_str(config.get()).map_err(unreadable)?;
        if let Some(tools) = config.get("tools") {
            return Ok(tools.get().to_owned());
        }
    }
    Ok("[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::tool_array;

    #[test]
    fn the_array_is_cut_out_as_written() {
        let body = r#"{"model":"m","tools":[{"name":"b","z":1,"a":2}],"messages":[]}"#;
        assert_eq!(tool_array(body).unwrap(), r#"[{"name":"b","z":1,"a":2}]"#);
        let bedrock = r#"{"messages":[],"toolConfig":{"tools":[{"toolSpec":{}},{"cachePoint":{"type":"default"}}]}}"#;
        assert_eq!(
            tool_array(bedrock).unwrap(),
            r#"[{"toolSpec":{}},{"cachePoint":{"type":"default"}}]"#
        );
        assert_eq!(tool_array(r#"{"messages":[]}"#).unwrap(), "[]");
    }
}
