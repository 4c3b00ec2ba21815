//! The client against the mock's fault injection, over real loopback HTTP (SPEC §7
//! `chat`): retries with backoff for 429 (honouring `retry-after`), overload and 5xx;
//! never for 400 or once the stream started; the idle and total limits; dropping a
//! conversation aborts its request and its tools; base URLs with the API version.
//!
//! Time is real (tokio's paused clock advances on its own while a loopback socket is
//! still to be read, firing the idle limit early): the limits are short, and waits are
//! asserted with generous upper bounds, lower bounds exact.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use toolstream::mock::{MockServer, Script};
use toolstream::stream::StreamError;
use toolstream::{
    ClientError, Conversation, ConversationConfig, ConversationError, DispatchPolicy, ModelClient,
    Provider, RetryPolicy, Timeout, ToolRegistry,
};

const PROVIDERS: [Provider; 4] = [
    Provider::Anthropic,
    Provider::OpenAiChat,
    Provider::OpenAiResponses,
    Provider::Gemini,
];

fn script(faults: &[&str]) -> Script {
    let mut s = Script::default_demo();
    s.chunk_delay_ms = 1;
    s.faults = faults.iter().map(|f| f.parse().unwrap()).collect();
    s
}

async fn server(faults: &[&str]) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), script(faults))
        .await
        .unwrap()
}

fn tools() -> ToolRegistry {
    let answer = |text: &'static str| {
        move |_| -> toolstream::ToolFuture {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(text.into())
            })
        }
    };
    ToolRegistry::new()
        .with_raw_fn("get_weather", answer("18°C"))
        .with_raw_fn("get_time", answer("21:04"))
        .with_raw_fn("search", answer("take an umbrella"))
        .with_raw_fn("get_forecast", answer("rain easing"))
}

/// A client whose backoff ceilings are 50 ms, 100 ms, ...
fn client(server: &MockServer, provider: Provider) -> ModelClient {
    ModelClient::new(provider, "mock-1", "test-key")
        .unwrap()
        .base_url(server.base_url())
        .retries(RetryPolicy::default().initial_backoff(Duration::from_millis(50)))
}

async fn converse(client: ModelClient) -> Result<usize, ConversationError> {
    let mut c = Conversation::new(client, tools(), ConversationConfig::default());
    c.send("weather?", |_| {})
        .await
        .map(|records| records.len())
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_retried() {
    for provider in PROVIDERS {
        let server = server(&["rate-limit,request=1,retry-after=1"]).await;
        let start = tokio::time::Instant::now();
        let turns = converse(client(&server, provider)).await.unwrap();
        assert_eq!(turns, 3, "{provider}");
        let stats = server.stats();
        assert_eq!(stats.faults, 1, "{provider}");
        assert_eq!(stats.requests, 3, "{provider}");
        // The server's second, not the client's 50 ms backoff.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(1) && waited < Duration::from_secs(20),
            "{provider}: {waited:?}"
        );
    }
}

#[tokio::test]
async fn overloaded_twice_then_success_backs_off_within_the_ceilings() {
    for provider in PROVIDERS {
        let server = server(&["overloaded,turn=1,times=2"]).await;
        let start = tokio::time::Instant::now();
        assert_eq!(converse(client(&server, provider)).await.unwrap(), 3);
        let stats = server.stats();
        assert_eq!((stats.faults, stats.requests), (2, 3), "{provider}");
        // Full jitter under ceilings of 50 ms then 100 ms (generous bound: a busy machine).
        assert!(start.elapsed() < Duration::from_secs(20), "{provider}");
    }
}

#[tokio::test]
async fn a_server_error_forever_gives_up_after_the_retries_with_a_clear_error() {
    for provider in PROVIDERS {
        let server = server(&["server-error"]).await;
        let policy = RetryPolicy::new(3).initial_backoff(Duration::from_millis(20));
        let err = converse(client(&server, provider).retries(policy))
            .await
            .unwrap_err();
        let ConversationError::Client(ClientError::Http {
            status, attempts, ..
        }) = &err
        else {
            panic!("{provider}: {err}");
        };
        assert_eq!((*status, *attempts), (500, 4), "{provider}");
        assert!(err.to_string().contains("(after 4 attempts)"), "{err}");
        assert!(err.to_string().contains("http 500"), "{err}");
        assert_eq!(server.stats().faults, 4, "{provider}");
    }
}

#[tokio::test]
async fn a_bad_request_is_never_retried() {
    let server = server(&[]).await;
    let keyless = ModelClient::new(Provider::Anthropic, "mock-1", "")
        .unwrap()
        .base_url(server.base_url());
    let err = converse(keyless).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConversationError::Client(ClientError::Http {
                status: 401,
                attempts: 1,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(server.stats().rejected, 1);
}

#[tokio::test]
async fn a_stall_after_the_first_event_fails_on_the_idle_timeout_without_a_retry() {
    for provider in PROVIDERS {
        let server = server(&["stall,request=1,after-events=1"]).await;
        let start = tokio::time::Instant::now();
        let c = client(&server, provider).idle_timeout(Some(Duration::from_millis(1500)));
        let err = converse(c).await.unwrap_err();
        match &err {
            ConversationError::Stream(StreamError::Transport(ClientError::Timeout {
                which: Timeout::Idle,
                limit,
                ..
            })) => assert_eq!(*limit, Duration::from_millis(1500)),
            other => panic!("{provider}: {other}"),
        }
        assert!(err.to_string().contains("idle timeout of 1.5s"), "{err}");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(1500) && waited < Duration::from_secs(20),
            "{provider}: {waited:?}"
        );
        assert_eq!(server.stats().requests, 1, "{provider}: not retried");
    }
}

#[tokio::test]
async fn the_total_timeout_bounds_a_slow_stream() {
    let server = server(&["stall,request=1,after-events=2,pause-ms=30000"]).await;
    let c = client(&server, Provider::Anthropic)
        .idle_timeout(Some(Duration::from_secs(60)))
        .timeout(Some(Duration::from_millis(500)));
    let err = converse(c).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConversationError::Stream(StreamError::Transport(ClientError::Timeout {
                which: Timeout::Total,
                ..
            }))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_cut_stream_is_not_retried() {
    for provider in PROVIDERS {
        let server = server(&["cut,request=1,after-events=3"]).await;
        let err = converse(client(&server, provider)).await.unwrap_err();
        assert!(
            matches!(
                err,
                ConversationError::Stream(StreamError::Transport(ClientError::Transport { .. }))
            ),
            "{provider}: {err}"
        );
        assert_eq!(server.stats().requests, 1, "{provider}");
    }
}

#[tokio::test]
async fn an_error_event_mid_stream_fails_the_turn_without_a_retry() {
    for provider in PROVIDERS {
        let server = server(&["error-event,request=2,after-events=2"]).await;
        let err = converse(client(&server, provider)).await.unwrap_err();
        assert!(
            matches!(err, ConversationError::TurnFailed { .. }),
            "{provider}: {err}"
        );
        assert_eq!(server.stats().requests, 2, "{provider}");
    }
}

#[tokio::test]
async fn connection_refused_is_retried_then_named() {
    // A port that was just free: nothing listens.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = ModelClient::new(Provider::OpenAiChat, "m", "k")
        .unwrap()
        .base_url(format!("http://{addr}/v1"));
    let err = converse(c).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            ConversationError::Client(ClientError::Transport { attempts: 3, .. })
        ),
        "{text}"
    );
    assert!(
        text.starts_with(&format!(
            "http://{addr}/v1/chat/completions: request failed"
        )),
        "{text}"
    );
}

/// Dropping `send` mid-turn aborts the HTTP request (the server sees its stream
/// abandoned) and every running tool (its future is dropped).
#[tokio::test]
async fn dropping_the_conversation_future_aborts_the_request_and_the_tools() {
    // Turn 0 streams its four calls, then pauses before its last two events: eager
    // dispatch has started the calls. (The server notices the closed connection when it
    // next writes, after the pause.)
    let script = script(&[]);
    let events = toolstream::mock::encode_turn(Provider::Anthropic, &script, 0, &script.turns[0]);
    let fault = format!(
        "stall,request=1,after-events={},pause-ms=300",
        events.len() - 2
    );
    let server = server(&[fault.as_str()]).await;
    let started = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let slow = {
        let (started, dropped, finished) = (started.clone(), dropped.clone(), finished.clone());
        move |_| -> toolstream::ToolFuture {
            let (started, dropped, finished) = (started.clone(), dropped.clone(), finished.clone());
            Box::pin(async move {
                started.fetch_add(1, Ordering::SeqCst);
                let _guard = Guard(dropped);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                finished.store(true, Ordering::SeqCst);
                Ok("late".into())
            })
        }
    };
    let tools = ToolRegistry::new()
        .with_raw_fn("get_weather", slow.clone())
        .with_raw_fn("get_time", slow.clone())
        .with_raw_fn("search", slow.clone())
        .with_raw_fn("get_forecast", slow);
    let config = ConversationConfig {
        policy: DispatchPolicy::Eager,
        ..ConversationConfig::default()
    };
    let client = client(&server, Provider::Anthropic).idle_timeout(None);
    let mut c = Conversation::new(client, tools, config);
    {
        let send = c.send("weather?", |_| {});
        tokio::pin!(send);
        // Run until every call has started.
        while started.load(Ordering::SeqCst) < 4 {
            tokio::select! {
                r = &mut send => panic!("the turn ended: {:?}", r.map(|r| r.len())),
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
    } // dropped here
      // Aborted tasks drop their futures when the runtime next runs them.
    for _ in 0..200 {
        if dropped.load(Ordering::SeqCst) == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        4,
        "every tool future dropped"
    );
    // The server notices the closed connection.
    for _ in 0..500 {
        if server.stats().abandoned == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.stats().abandoned, 1);
    assert!(!finished.load(Ordering::SeqCst));
}

#[tokio::test]
async fn base_urls_may_carry_the_api_version() {
    let server = server(&[]).await;
    for (provider, suffix) in [
        (Provider::Anthropic, "/v1"),
        (Provider::OpenAiChat, "/v1"),
        (Provider::OpenAiResponses, "/v1/"),
        (Provider::Gemini, "/v1beta"),
    ] {
        let c = ModelClient::new(provider, "mock-1", "k")
            .unwrap()
            .base_url(format!("{}{suffix}", server.base_url()));
        assert_eq!(converse(c).await.unwrap(), 3, "{provider}");
    }
    assert_eq!(server.stats().rejected, 0);
}

/// A 400 (a history whose tool call has no answer) is the request's fault: one attempt.
#[tokio::test]
async fn a_400_is_never_retried() {
    let server = server(&[]).await;
    let client = client(&server, Provider::Anthropic);
    let unanswered: Box<serde_json::value::RawValue> = serde_json::from_str(
        r#"{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_time","input":{}}]}"#,
    )
    .unwrap();
    let history = [
        client.user_message("hi"),
        unanswered,
        client.user_message("and?"),
    ];
    let err = match client.stream(&history, &[]).await {
        Err(e) => e,
        Ok(_) => panic!("the server accepted an unanswered call"),
    };
    assert!(
        matches!(
            err,
            ClientError::Http {
                status: 400,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.stats().rejected, 1);
}

/// Keys never show: not in a client's debug output, not in an error's URL.
#[tokio::test]
async fn keys_stay_out_of_debug_output_and_errors() {
    let client = ModelClient::new(Provider::OpenAiChat, "m", "sk-SECRET")
        .unwrap()
        .options(toolstream::RequestOptions::new().header("x-org-key", "org-SECRET"));
    let shown = format!("{client:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = client
        .base_url(format!("http://user:pw-SECRET@{addr}/v1"))
        .retries(RetryPolicy::none());
    let err = converse(client).await.unwrap_err().to_string();
    assert!(!err.contains("SECRET"), "{err}");
    assert!(err.contains("REDACTED@"), "{err}");
}

/// A `retry-after` no duration can hold is ignored (the backoff applies), not a panic.
#[tokio::test]
async fn an_absurd_retry_after_falls_back_to_the_backoff() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0; 65536];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1e20\r\nretry-after-ms: 1e300\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await;
        }
    });
    let client = ModelClient::new(Provider::Anthropic, "m", "k")
        .unwrap()
        .base_url(format!("http://{addr}"))
        .retries(RetryPolicy::new(1).initial_backoff(Duration::from_millis(10)));
    let err = client
        .stream(&[client.user_message("hi")], &[])
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ClientError::Http {
                status: 429,
                attempts: 2,
                ..
            }
        ),
        "{err}"
    );
}

/// An error response whose body stalls fails on the idle limit instead of hanging.
#[tokio::test]
async fn a_stalled_error_body_fails_on_the_idle_limit() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0; 65536];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 100\r\n\r\n{\"err",
                )
                .await;
            held.push(socket);
        }
    });
    let client = ModelClient::new(Provider::Anthropic, "m", "k")
        .unwrap()
        .base_url(format!("http://{addr}"))
        .idle_timeout(Some(Duration::from_millis(300)))
        .retries(RetryPolicy::none());
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        client.stream(&[client.user_message("hi")], &[]),
    )
    .await
    .expect("the client gave up on its own")
    .err()
    .unwrap();
    assert!(
        matches!(
            err,
            ClientError::Timeout {
                which: Timeout::Idle,
                ..
            }
        ),
        "{err}"
    );
}
