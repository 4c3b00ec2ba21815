//! The conversation as a `Stream` over real loopback HTTP against the mock provider
//! server: the same text and results as `send`, in order; state saved and restored with
//! serde (the next request is a prompt-cache hit); user messages with images in each
//! provider's shape; the system prompt and tools changed between messages; the default
//! tool timeout; how each turn ended; dropping the stream.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use toolstream::conversation::{
    ConversationEvent, ConversationState, UserMessage, DEFAULT_TOOL_TIMEOUT,
};
use toolstream::mock::{MockServer, Script};
use toolstream::turn::TurnEnding;
use toolstream::{
    ContentPart, Conversation, ConversationConfig, ConversationError, DispatchPolicy, ModelClient,
    PromptCaching, Provider, ToolErrorKind, ToolRegistry, TurnEvent, TurnId,
};

const QUESTION: &str = "What's the weather in Paris and Tokyo, and should I take an umbrella?";
const PROVIDERS: [Provider; 4] = [
    Provider::Anthropic,
    Provider::OpenAiChat,
    Provider::OpenAiResponses,
    Provider::Gemini,
];

fn fast(mut script: Script) -> Script {
    script.chunk_delay_ms = 1;
    script
}

async fn server(script: Script) -> MockServer {
    MockServer::start("127.0.0.1:0".parse().unwrap(), fast(script))
        .await
        .unwrap()
}

fn tools() -> ToolRegistry {
    let answer = |text: &'static str| {
        move |_| -> toolstream::ToolFuture {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
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

fn client(server: &MockServer, provider: Provider) -> ModelClient {
    ModelClient::new(provider, "mock-1", "test-key")
        .unwrap()
        .base_url(server.base_url())
        .system("You are a weather assistant.")
}

/// What a run showed: the streamed text, the tool calls' ids, the results (id, content)
/// in the order given, and each turn's ending.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    text: String,
    calls: Vec<String>,
    results: Vec<(String, String)>,
    endings: Vec<TurnEnding>,
}

impl Seen {
    fn turn_event(&mut self, e: &TurnEvent) {
        if let Some(t) = e.text() {
            self.text.push_str(t);
        }
        match e {
            TurnEvent::ToolCall { call, .. } => self.calls.push(call.id.to_string()),
            TurnEvent::Result(r) => self.results.push((r.id.to_string(), r.content.clone())),
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_stream_yields_what_send_gives_in_order() {
    let script = Script::default_demo();
    for provider in PROVIDERS {
        let server = server(Script::default_demo()).await;
        let mut by_send = Conversation::new(
            client(&server, provider),
            tools(),
            ConversationConfig::default(),
        );
        let mut sent = Seen::default();
        let records = by_send
            .send(QUESTION, |e| sent.turn_event(e))
            .await
            .unwrap();
        sent.endings = records.iter().map(|r| r.ending()).collect();

        let mut by_stream = Conversation::new(
            client(&server, provider),
            tools(),
            ConversationConfig::default(),
        );
        let mut streamed = Seen::default();
        let mut events = Vec::new();
        {
            let mut stream = by_stream.stream(QUESTION);
            while let Some(event) = stream.next().await {
                let event = event.unwrap_or_else(|e| panic!("{provider}: {e}"));
                if let Some(t) = event.text() {
                    streamed.text.push_str(t);
                }
                if let Some(call) = event.tool_call() {
                    streamed.calls.push(call.id.to_string());
                }
                if let Some(r) = event.result() {
                    streamed.results.push((r.id.to_string(), r.content.clone()));
                }
                if let Some(record) = event.record() {
                    streamed.endings.push(record.ending());
                }
                events.push(event);
            }
            assert!(futures_util::stream::FusedStream::is_terminated(&stream));
            assert!(stream.next().await.is_none(), "fused");
        }
        assert_eq!(streamed, sent, "{provider}");
        assert_eq!(
            streamed.endings,
            [
                TurnEnding::ToolResults,
                TurnEnding::ToolResults,
                TurnEnding::Answered
            ]
        );
        assert_eq!(streamed.results.len(), 6, "{provider}");
        // Gemini's calls have no ids of their own; the others' are the script's, in order.
        if provider != Provider::Gemini {
            assert_eq!(streamed.calls[0], Script::call_id(provider, 0, 0).unwrap());
        }
        // The same history, byte for byte.
        let bytes = |c: &Conversation| {
            c.history()
                .iter()
                .map(|m| m.get().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(bytes(&by_stream), bytes(&by_send), "{provider}");

        // The order: each turn starts, streams, ends; results come before their turn's
        // end and in request order; the answer is last and is the last turn's text.
        let mut turn = 0;
        let mut in_turn = false;
        let mut results_in_turn = Vec::new();
        for (i, event) in events.iter().enumerate() {
            match event {
                ConversationEvent::TurnStarted { turn: t } => {
                    assert!(!in_turn, "{provider}");
                    turn += 1;
                    assert_eq!(*t, TurnId(turn), "{provider}");
                    in_turn = true;
                    results_in_turn.clear();
                }
                ConversationEvent::Turn(e) => {
                    assert!(in_turn, "{provider}");
                    if let TurnEvent::Result(r) = e {
                        assert_eq!(r.turn, TurnId(turn));
                        results_in_turn.push(r.index);
                    }
                }
                ConversationEvent::TurnEnded(record) => {
                    assert!(in_turn, "{provider}");
                    in_turn = false;
                    assert_eq!(record.outcome.turn, TurnId(turn));
                    let expected: Vec<usize> = (0..record.outcome.results.len()).collect();
                    assert_eq!(results_in_turn, expected, "{provider}");
                }
                ConversationEvent::Answer { text } => {
                    assert_eq!(i, events.len() - 1, "{provider}: the answer is last");
                    assert_eq!(text, &script.turns[2].text, "{provider}");
                    assert!(streamed.text.ends_with(text.as_str()), "{provider}");
                }
                other => panic!("{provider}: {other:?}"),
            }
        }
        assert_eq!(turn, 3, "{provider}");
        assert_eq!(
            events.last().and_then(|e| e.answer()),
            Some(script.turns[2].text.as_str())
        );
        assert_eq!(server.stats().rejected, 0, "{provider}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn the_stream_is_send_and_unpin() {
    fn send_unpin<T: Send + Unpin>(_: &T) {}
    let server = server(Script::default_demo()).await;
    let mut c = Conversation::new(
        client(&server, Provider::Anthropic),
        tools(),
        ConversationConfig::default(),
    );
    let stream = c.stream("hi");
    send_unpin(&stream);
    // Forwarded from a spawned task, as a websocket handler would.
    let server2 = MockServer::start("127.0.0.1:0".parse().unwrap(), fast(Script::default_demo()))
        .await
        .unwrap();
    let mut owned = Conversation::new(
        client(&server2, Provider::Anthropic),
        tools(),
        ConversationConfig::default(),
    );
    let forwarded = tokio::spawn(async move {
        let mut out = Vec::new();
        let mut events = owned.stream(QUESTION);
        while let Some(event) = events.next().await {
            if let Some(t) = event.unwrap().text() {
                out.push(t.to_owned());
            }
        }
        out.concat()
    })
    .await
    .unwrap();
    assert!(forwarded.ends_with(&Script::default_demo().turns[2].text));
}

#[tokio::test]
async fn state_round_trips_through_serde_and_a_restored_conversation_continues() {
    for provider in PROVIDERS {
        let server = server(Script::default_demo()).await;
        let config = ConversationConfig::default;
        let mut first = Conversation::new(client(&server, provider), tools(), config());
        first.send(QUESTION, |_| {}).await.unwrap();
        let saved = serde_json::to_string(&first.state()).unwrap();
        let parsed: Value = serde_json::from_str(&saved).unwrap();
        assert_eq!(parsed["provider"], provider.as_str());
        assert_eq!(parsed["next_turn"], 4);
        assert_eq!(
            parsed["history"].as_array().unwrap().len(),
            first.history().len()
        );

        let state: ConversationState = serde_json::from_str(&saved).unwrap();
        let mut restored =
            Conversation::restore(client(&server, provider), tools(), config(), state).unwrap();
        let bytes = |c: &Conversation| {
            c.history()
                .iter()
                .map(|m| m.get().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(bytes(&restored), bytes(&first), "{provider}");
        assert_eq!(restored.next_turn(), TurnId(4));
        assert_eq!(restored.usage(), first.usage());
        assert_eq!(serde_json::to_string(&restored.state()).unwrap(), saved);

        // The restored conversation's next request is the uninterrupted one's, byte for
        // byte: the server's prompt cache hits.
        let follow_up = "Thanks! And tomorrow?";
        let next = |c: &Conversation| {
            let mut h = c.history().to_vec();
            h.push(c.client().user_message(follow_up));
            c.client().request_body(&h, &c.tools().definitions())
        };
        assert_eq!(next(&restored), next(&first), "{provider}");
        let before = server.stats();
        let records = restored.send(follow_up, |_| {}).await.unwrap();
        assert_eq!(records[0].outcome.turn, TurnId(4), "{provider}");
        let after = server.stats();
        assert_eq!(after.requests, before.requests + 1, "{provider}");
        assert_eq!(
            after.cache_hits,
            before.cache_hits + 1,
            "{provider}: {after:?}"
        );
        assert_eq!(after.cache_misses, 0, "{provider}");
        assert_eq!(after.rejected, 0, "{provider}");

        // The uninterrupted conversation continues to the same history.
        first.send(follow_up, |_| {}).await.unwrap();
        assert_eq!(bytes(&restored), bytes(&first), "{provider}");

        // A history seeded into a new conversation continues the same way.
        let mut seeded = Conversation::new(client(&server, provider), tools(), config())
            .with_history(first.history().to_vec());
        seeded.send("One more thing?", |_| {}).await.unwrap();
        let stats = server.stats();
        assert_eq!(stats.cache_misses, 0, "{provider}: {stats:?}");
        assert_eq!(stats.rejected, 0, "{provider}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn orphans_are_state_and_a_state_restores_only_with_its_provider() {
    let server = server(Script::default_demo()).await;
    let saved = json!({
        "provider": "anthropic",
        "history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]}],
        "next_turn": 7,
        "usage": {"input_tokens": 10, "output_tokens": 3},
        "orphans": [
            {"turn": 5, "index": 1, "id": "toolu_1", "name": "slow", "output": {"text": "late"}},
            {"turn": 6, "index": 0, "id": "toolu_2", "name": "chart", "output": {"parts": [
                {"type": "text", "text": "chart:"},
                {"type": "json", "value": {"a": 1}},
                {"type": "image", "media_type": "image/png", "data": "iVBORw0KGgo="}
            ]}},
            {"turn": 6, "index": 1, "id": "toolu_3", "name": "broken", "output": {"error": "boom"}}
        ]
    });
    let state: ConversationState = serde_json::from_value(saved.clone()).unwrap();
    let c = Conversation::restore(
        client(&server, Provider::Anthropic),
        tools(),
        ConversationConfig::default(),
        state.clone(),
    )
    .unwrap();
    let orphans = c.orphans().snapshot();
    assert_eq!(orphans.len(), 3);
    assert_eq!(orphans[0].turn, TurnId(5));
    assert_eq!(orphans[0].output, Ok("late".into()));
    assert_eq!(
        orphans[1].output,
        Ok(vec![
            ContentPart::text("chart:"),
            ContentPart::json(json!({"a": 1})),
            ContentPart::image_base64("image/png", "iVBORw0KGgo=")
        ]
        .into())
    );
    assert_eq!(orphans[2].output, Err("boom".into()));
    assert_eq!(c.next_turn(), TurnId(7));
    assert_eq!(c.usage().input_tokens, Some(10));
    let again = serde_json::to_value(c.state()).unwrap();
    assert_eq!(again["orphans"], saved["orphans"]);
    assert_eq!(again["history"], saved["history"]);

    let err = Conversation::restore(
        client(&server, Provider::OpenAiChat),
        tools(),
        ConversationConfig::default(),
        state,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ConversationError::ProviderMismatch {
            saved: Provider::Anthropic,
            client: Provider::OpenAiChat
        }
    ));
    assert_eq!(
        err.to_string(),
        "the state was saved with anthropic, the client is for openai-chat: its history is in anthropic's format"
    );
}

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

#[tokio::test]
async fn an_image_part_reaches_each_provider_in_its_shape() {
    let expected = |provider: Provider| match provider {
        Provider::Anthropic => json!({"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
        ]}),
        Provider::OpenAiChat => json!({"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}}
        ]}),
        Provider::OpenAiResponses => json!({"role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG}"), "detail": "auto"}
        ]}),
        Provider::Gemini => json!({"role": "user", "parts": [
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/png", "data": PNG}}
        ]}),
        Provider::Bedrock => json!({"role": "user", "content": [
            {"text": "What is this?"},
            {"image": {"format": "png", "source": {"bytes": PNG}}}
        ]}),
        other => panic!("{other}"),
    };
    let message = UserMessage::text("What is this?").with_image_base64("image/png", PNG);
    for provider in Provider::ALL {
        // No cache breakpoints in the body: the message as the conversation keeps it.
        let client = ModelClient::new(provider, "mock-1", "k")
            .unwrap()
            .prompt_caching(PromptCaching::Off);
        let wire = client.user_message_parts(message.parts());
        let body: Value = serde_json::from_str(&client.request_body(&[wire], &[])).unwrap();
        let sent = match provider {
            Provider::OpenAiResponses => &body["input"][0],
            Provider::Gemini => &body["contents"][0],
            _ => &body["messages"][0],
        };
        assert_eq!(sent, &expected(provider), "{provider}");
        // One text part is the text message, byte for byte.
        assert_eq!(
            client.user_message_parts(&[ContentPart::text("hi")]).get(),
            client.user_message("hi").get(),
            "{provider}"
        );
    }
    // Through the conversation: the message enters history in that shape, and the mock
    // server (which checks each provider's request) takes it.
    for provider in PROVIDERS {
        let server = server(Script::default_demo()).await;
        let mut c = Conversation::new(
            client(&server, provider),
            tools(),
            ConversationConfig::default(),
        );
        let mut answer = None;
        let mut events = c.stream(message.clone());
        while let Some(event) = events.next().await {
            let event = event.unwrap_or_else(|e| panic!("{provider}: {e}"));
            if let Some(text) = event.answer() {
                answer = Some(text.to_owned());
            }
        }
        drop(events);
        assert!(answer.is_some(), "{provider}");
        let first: Value = serde_json::from_str(c.history()[0].get()).unwrap();
        assert_eq!(first, expected(provider), "{provider}");
        assert_eq!(server.stats().rejected, 0, "{provider}");
    }
}

/// Two questions, each answered after one `get_weather` call.
fn two_questions() -> Script {
    serde_json::from_value(json!({
        "turns": [
            {"tool_calls": [{"name": "get_weather", "input": {"city": "Paris"}}]},
            {"text": "18°C in Paris."},
            {"tool_calls": [{"name": "get_weather", "input": {"city": "Paris"}}]},
            {"text": "22°C in Paris now."}
        ]
    }))
    .unwrap()
}

#[tokio::test]
async fn the_system_prompt_and_the_tools_change_between_messages() {
    let server = server(two_questions()).await;
    let weather = |answer: &'static str| {
        ToolRegistry::new().with_raw_fn("get_weather", move |_| -> toolstream::ToolFuture {
            Box::pin(async move { Ok(answer.into()) })
        })
    };
    let mut c = Conversation::new(
        client(&server, Provider::Anthropic),
        weather("18°C"),
        ConversationConfig::default(),
    );
    let system = |c: &Conversation| {
        let body: Value = serde_json::from_str(&c.client().request_body(c.history(), &[])).unwrap();
        body["system"][0]["text"].as_str().unwrap().to_owned()
    };
    let records = c.send("Weather in Paris?", |_| {}).await.unwrap();
    assert_eq!(records[0].outcome.results[0].content, "18°C");
    assert_eq!(system(&c), "You are a weather assistant.");
    let stats = server.stats();
    assert_eq!((stats.cache_hits, stats.cache_misses), (1, 0));

    c.set_system("You are terse.");
    c.set_tools(weather("22°C"));
    assert_eq!(system(&c), "You are terse.");
    let records = c.send("And now?", |_| {}).await.unwrap();
    // The new tools ran; the new system prompt reached the server, whose cache missed
    // once since the prompt's start changed.
    assert_eq!(records[0].outcome.results[0].content, "22°C");
    assert_eq!(records[1].outcome.message.text(), "22°C in Paris now.");
    let stats = server.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!((stats.cache_hits, stats.cache_misses), (2, 1), "{stats:?}");
    assert_eq!(stats.rejected, 0);
}

#[tokio::test]
async fn the_default_tool_timeout_is_five_minutes_and_none_turns_it_off() {
    assert_eq!(DEFAULT_TOOL_TIMEOUT, Duration::from_secs(300));
    assert_eq!(
        ConversationConfig::default().tool_timeout,
        Some(DEFAULT_TOOL_TIMEOUT)
    );
    let _without = ConversationConfig {
        tool_timeout: None,
        ..ConversationConfig::default()
    };

    // A tool that never ends, under the default: its call fails after 5 minutes (of paused
    // time, once it started) and the conversation goes on.
    let server = server(two_questions()).await;
    let tools = ToolRegistry::new().with_raw_fn("get_weather", |_| -> toolstream::ToolFuture {
        Box::pin(std::future::pending())
    });
    let client = client(&server, Provider::Anthropic).idle_timeout(None);
    let mut c = Conversation::new(client, tools, ConversationConfig::default());
    let mut events = c.stream("Weather in Paris?");
    let mut result = None;
    let mut answer = None;
    // Without a tool timeout the paused clock would jump to this hour and fail the test.
    let run = async {
        while let Some(event) = events.next().await {
            let event = event.unwrap();
            if let ConversationEvent::Turn(TurnEvent::Started { .. }) = event {
                tokio::time::pause();
            }
            if let Some(r) = event.result() {
                tokio::time::resume();
                result = Some(r.clone());
            }
            if let Some(text) = event.answer() {
                answer = Some(text.to_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(3600), run)
        .await
        .expect("the call timed out before the hour");
    let result = result.expect("the call was answered");
    assert_eq!(result.error, Some(ToolErrorKind::TimedOut));
    assert_eq!(result.content, "timed out after 300000 ms");
    assert_eq!(answer.as_deref(), Some("18°C in Paris."));
}

#[tokio::test]
async fn ending_says_plainly_how_each_turn_ended() {
    // An answer is not a failure, though it commits nothing.
    let demo = server(Script::default_demo()).await;
    let mut c = Conversation::new(
        client(&demo, Provider::Anthropic),
        tools(),
        ConversationConfig::default(),
    );
    let records = c.send(QUESTION, |_| {}).await.unwrap();
    let answer = &records[2];
    assert!(!answer.outcome.committed);
    assert_eq!(answer.ending(), TurnEnding::Answered);
    assert_eq!(answer.outcome.ending(), TurnEnding::Answered);
    assert!(answer.ending().enters_history());
    assert!(records[..2]
        .iter()
        .all(|r| r.ending() == TurnEnding::ToolResults && r.outcome.committed));

    // The second turn's stream carries an error event: the turn is abandoned, its record
    // says why, and the error ends the stream.
    for provider in PROVIDERS {
        let mut script = Script::default_demo();
        script.faults = vec!["error-event,request=2,after-events=2".parse().unwrap()];
        let server = server(script).await;
        let mut c = Conversation::new(
            client(&server, provider),
            tools(),
            ConversationConfig::default(),
        );
        let items: Vec<_> = c.stream(QUESTION).collect().await;
        let n = items.len();
        let endings: Vec<TurnEnding> = items
            .iter()
            .filter_map(|i| i.as_ref().ok()?.record().map(|r| r.ending()))
            .collect();
        assert_eq!(endings.len(), 2, "{provider}");
        assert_eq!(endings[0], TurnEnding::ToolResults, "{provider}");
        let TurnEnding::Abandoned { reason } = &endings[1] else {
            panic!("{provider}: {:?}", endings[1]);
        };
        assert!(!endings[1].enters_history());
        assert!(reason.contains("provider error"), "{provider}: {reason}");
        match &items[n - 1] {
            Err(ConversationError::TurnFailed { turn, reason: r }) => {
                assert_eq!(*turn, TurnId(2), "{provider}");
                assert_eq!(r, reason, "{provider}");
            }
            other => panic!("{provider}: {other:?}"),
        }
        // Nothing of the abandoned turn entered history: the question and turn 1.
        assert_eq!(c.state().next_turn, TurnId(3));
        let turn_one_len = match provider {
            Provider::OpenAiChat => 1 + 1 + 4,
            Provider::OpenAiResponses => 1 + 5 + 4,
            _ => 3,
        };
        assert_eq!(c.history().len(), turn_one_len, "{provider}");
    }
}

/// Dropping the stream mid-turn aborts the HTTP request (the server sees its stream
/// abandoned) and every running tool (its future is dropped), as dropping `send` does.
#[tokio::test]
async fn dropping_the_stream_aborts_the_request_and_the_tools() {
    // Turn 0 streams its four calls, then pauses before its last two events: eager
    // dispatch has started the calls.
    let mut script = Script::default_demo();
    let events = toolstream::mock::encode_turn(Provider::Anthropic, &script, 0, &script.turns[0]);
    script.faults = vec![format!(
        "stall,request=1,after-events={},pause-ms=300",
        events.len() - 2
    )
    .parse()
    .unwrap()];
    let server = server(script).await;
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
        let mut stream = c.stream("weather?");
        // Run until every call has started.
        while started.load(Ordering::SeqCst) < 4 {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(_)) => {}
                    other => panic!("the turn ended: {other:?}"),
                },
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
    // The user message stayed in history; the abandoned turn did not enter it.
    assert_eq!(c.history().len(), 1);
}
