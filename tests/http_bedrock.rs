//! Bedrock through the client, over loopback HTTP against the mock's ConverseStream
//! endpoint (AWS event-stream): a Bedrock API key as a bearer token, SigV4 with credentials
//! from the environment (`toolstream chat`, a child process with its own environment),
//! and a throttled request retried.

use std::process::Command;
use std::time::Duration;

use toolstream::mock::{MockServer, Script};
use toolstream::{
    Conversation, ConversationConfig, ModelClient, Provider, RetryPolicy, ToolRegistry,
};

const MODEL: &str = "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0";

fn script(faults: &[&str]) -> Script {
    let mut s = Script::default_demo();
    s.chunk_delay_ms = 1;
    s.faults = faults.iter().map(|f| f.parse().unwrap()).collect();
    s
}

fn tools() -> ToolRegistry {
    let answer = |text: &'static str| {
        move |_| -> toolstream::ToolFuture { Box::pin(async move { Ok(text.into()) }) }
    };
    ToolRegistry::new()
        .with_raw_fn("get_weather", answer("18°C"))
        .with_raw_fn("get_time", answer("21:04"))
        .with_raw_fn("search", answer("take an umbrella"))
        .with_raw_fn("get_forecast", answer("rain easing"))
}

#[tokio::test]
async fn a_bedrock_api_key_runs_a_conversation_with_cache_hits() {
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script(&[]))
        .await
        .unwrap();
    let client = ModelClient::new(Provider::Bedrock, MODEL, "bedrock-api-key")
        .unwrap()
        .base_url(server.base_url())
        .system("You are a weather assistant.");
    let mut c = Conversation::new(client, tools(), ConversationConfig::default());
    let records = c.send("weather?", |_| {}).await.unwrap();
    let script = Script::default_demo();
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].outcome.message.text(), script.turns[2].text);
    assert_eq!(records[0].outcome.message.tool_calls.len(), 4);
    let stats = server.stats();
    assert_eq!(
        (
            stats.requests,
            stats.cache_hits,
            stats.cache_misses,
            stats.rejected
        ),
        (3, 2, 0, 0)
    );
    // Claude models on Bedrock get `cachePoint` blocks: the later requests read the cache.
    assert!(
        c.usage().cache_read_input_tokens.unwrap_or(0) > 0,
        "{:?}",
        c.usage()
    );
}

#[tokio::test]
async fn a_throttled_bedrock_request_is_retried() {
    let server = MockServer::start(
        "127.0.0.1:0".parse().unwrap(),
        script(&["rate-limit,request=2"]),
    )
    .await
    .unwrap();
    let client = ModelClient::new(Provider::Bedrock, MODEL, "k")
        .unwrap()
        .base_url(server.base_url())
        .retries(RetryPolicy::default().initial_backoff(Duration::from_millis(20)));
    let mut c = Conversation::new(client, tools(), ConversationConfig::default());
    assert_eq!(c.send("weather?", |_| {}).await.unwrap().len(), 3);
    let stats = server.stats();
    assert_eq!((stats.faults, stats.requests), (1, 3));
}

/// `toolstream chat --provider bedrock` with AWS credentials in its environment signs its
/// requests (the mock checks the SigV4 header's form: scope, date, signed headers).
#[test]
fn chat_signs_bedrock_requests_with_credentials_from_the_environment() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(MockServer::start(
            "127.0.0.1:0".parse().unwrap(),
            script(&[]),
        ))
        .unwrap();
    let home = std::env::temp_dir().join(format!("toolstream-bedrock-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_toolstream"));
        cmd.args([
            "chat",
            "--provider",
            "bedrock",
            "--model",
            MODEL,
            "--base-url",
        ])
        .arg(server.base_url())
        .arg("What's the weather?")
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "session"),
        ("AWS_REGION", "us-west-2"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Take an umbrella in Tokyo"), "{stdout}");
    let stats = server.stats();
    assert_eq!((stats.requests, stats.rejected), (3, 0));

    // No credentials anywhere: a clear error naming what was looked at, nothing sent.
    let out = run(&[("AWS_REGION", "us-west-2")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
    assert!(stderr.contains(".aws/credentials"), "{stderr}");
    assert_eq!(server.stats().requests, 3);
    let _ = std::fs::remove_dir_all(&home);
}
