//! Issue 14 acceptance, over loopback HTTP against the mock: the client's cache breakpoints
//! (SPEC §9) make the mock, which caches as each provider does, report cache reads in the
//! usage it streams; the conversation sees them through the normalized usage (SPEC §4).
//! Without breakpoints, Anthropic reads nothing; OpenAI and Gemini cache on their own.

use std::time::Duration;

use toolstream::mock::{MockServer, Script};
use toolstream::{
    Conversation, ConversationConfig, ModelClient, PromptCaching, Provider, ToolRegistry,
    TurnRecord, Usage,
};

fn script() -> Script {
    let mut s = Script::default_demo();
    s.chunk_delay_ms = 0;
    s
}

fn tools() -> ToolRegistry {
    let mut registry = ToolRegistry::new();
    for name in ["get_weather", "get_time", "search", "get_forecast"] {
        registry = registry
            .with_raw_fn(name, move |_| {
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    Ok(format!("{name}: fine").into())
                })
            })
            .with_definition(
                name,
                &format!("The {name} tool"),
                serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            );
    }
    registry
}

/// One run of the demo conversation; the usage of each request.
async fn run(
    server: &MockServer,
    provider: Provider,
    caching: PromptCaching,
) -> (Vec<Usage>, Usage) {
    let client = ModelClient::new(provider, "mock-1", "key")
        .unwrap()
        .base_url(server.base_url())
        .system("You are a weather assistant.")
        .prompt_caching(caching);
    let mut conversation = Conversation::new(client, tools(), ConversationConfig::default());
    let records = conversation
        .send("Weather in Paris and Tokyo?", |_| {})
        .await
        .unwrap_or_else(|e| panic!("{provider}: {e}"));
    assert_eq!(records.len(), 3, "{provider}");
    (
        records.iter().map(TurnRecord::usage).collect(),
        conversation.usage(),
    )
}

fn reads(usages: &[Usage]) -> Vec<u64> {
    usages
        .iter()
        .map(|u| u.cache_read_input_tokens.expect("reported"))
        .collect()
}

#[tokio::test]
async fn anthropic_breakpoints_give_cache_reads_on_later_turns_and_on_a_second_run() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script())
        .await
        .unwrap();
    let (first, total) = run(&server, Provider::Anthropic, PromptCaching::default()).await;
    let r = reads(&first);
    // Turn 1 writes tools, system prompt and question; turns 2 and 3 read the previous
    // request's prefix and write their new turn.
    assert_eq!(r[0], 0, "{first:?}");
    assert!(first[0].cache_write_input_tokens.unwrap() > 0);
    assert!(r[1] > 0 && r[2] > r[1], "{first:?}");
    for u in &first {
        let (input, read, write) = (
            u.input_tokens.unwrap(),
            u.cache_read_input_tokens.unwrap(),
            u.cache_write_input_tokens.unwrap(),
        );
        assert!(read + write <= input, "{u:?}");
    }
    // The conversation's total adds the requests up.
    assert_eq!(total.cache_read_input_tokens, Some(r.iter().sum::<u64>()));
    assert!(total.cache_read_share().unwrap() > 0.3, "{total:?}");

    // The same conversation again: every request reads, the first one included, and
    // turns 1 and 2 read their whole prompt up to the last breakpoint.
    let (second, _) = run(&server, Provider::Anthropic, PromptCaching::default()).await;
    let r2 = reads(&second);
    assert!(r2.iter().all(|&n| n > 0), "{second:?}");
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.input_tokens, b.input_tokens, "same prompt, same size");
    }
    assert_eq!(second[0].cache_write_input_tokens, Some(0), "{second:?}");
    let stats = server.stats();
    assert_eq!(stats.cache_read_tokens, r.iter().chain(&r2).sum::<u64>());
}

#[tokio::test]
async fn anthropic_without_breakpoints_reads_nothing() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script())
        .await
        .unwrap();
    for _ in 0..2 {
        let (usages, total) = run(&server, Provider::Anthropic, PromptCaching::Off).await;
        assert_eq!(reads(&usages), [0, 0, 0]);
        assert!(usages.iter().all(|u| u.cache_write_input_tokens == Some(0)));
        assert_eq!(total.cache_read_share(), Some(0.0));
    }
}

#[tokio::test]
async fn openai_and_gemini_read_the_longest_prefix_seen_without_breakpoints() {
    for provider in [
        Provider::OpenAiChat,
        Provider::OpenAiResponses,
        Provider::Gemini,
    ] {
        let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script())
            .await
            .unwrap();
        let (first, _) = run(&server, provider, PromptCaching::Off).await;
        let read = |u: &Usage| u.cache_read_input_tokens.unwrap_or(0);
        assert_eq!(read(&first[0]), 0, "{provider}: {first:?}");
        assert!(
            read(&first[1]) > 0 && read(&first[2]) > read(&first[1]),
            "{provider}: {first:?}"
        );
        // The cache fields OpenAI and Gemini do not have stay unknown.
        assert!(
            first.iter().all(|u| u.cache_write_input_tokens.is_none()),
            "{provider}"
        );
        let (second, _) = run(&server, provider, PromptCaching::Off).await;
        assert!(read(&second[0]) > 0, "{provider}: {second:?}");
    }
}

/// A turn of 12 parallel calls adds 25 blocks (text, 12 `tool_use`, 12 `tool_result`):
/// more than Anthropic's 20-block lookback from the last message. The breakpoint on the
/// message that ended the previous request still finds its whole prompt.
#[tokio::test]
async fn a_wide_parallel_turn_still_reads_the_previous_prompt_whole() {
    let calls: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"name": "get_weather", "input": {{"city": "c{i}"}}}}"#))
        .collect();
    let script: Script = serde_json::from_str(&format!(
        r#"{{"model": "mock-1", "chunk_chars": 64, "chunk_delay_ms": 0, "turns": [
            {{"text": "Checking all twelve.", "tool_calls": [{}]}},
            {{"text": "All sunny."}}]}}"#,
        calls.join(",")
    ))
    .unwrap();
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script)
        .await
        .unwrap();
    let client = ModelClient::new(Provider::Anthropic, "mock-1", "key")
        .unwrap()
        .base_url(server.base_url())
        .system("You are a weather assistant.");
    let mut conversation = Conversation::new(client, tools(), ConversationConfig::default());
    let records = conversation
        .send("Weather in twelve cities?", |_| {})
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    let (first, second) = (records[0].usage(), records[1].usage());
    // Request 1 wrote its whole prompt (its last breakpoint ends it); request 2 reads it.
    assert_eq!(first.cache_read_input_tokens, Some(0));
    assert_eq!(
        second.cache_read_input_tokens, first.input_tokens,
        "{first:?} {second:?}"
    );
}
