//! The failure matrix: one line per case, across framing, provider quirks, assembly,
//! dispatch, execution and the conversation loop. Each asserts the exact error kind (or
//! outcome) and that nothing is lost: every complete call is kept, every call of a
//! committed turn answered once.

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use toolstream::eventstream::{encode_message, EventStreamError, Header, HeaderValue};
use toolstream::{
    ArgumentsError, AssembleError, AssembleLimits, AssembledMessage, Assembler, Block, DecodeError,
    Delta, DispatchPolicy, FramingLimits, Provider, SseError, SseLimits, StopKind, StopReason,
    StreamDecoder, StreamEvent, ToolErrorKind, ToolRegistry, TurnConfig, TurnEvent, TurnOutcome,
    TurnStream, Usage,
};

// ---- decode + assemble ---------------------------------------------------------------

struct Run {
    m: AssembledMessage,
    decode: Vec<DecodeError>,
    assemble: Vec<AssembleError>,
}

fn decode_with(provider: Provider, limits: FramingLimits, asm: AssembleLimits, body: &[u8]) -> Run {
    let mut d = StreamDecoder::with_limits(provider, limits);
    let mut a = Assembler::with_limits(asm);
    let (mut events, mut decode, mut assemble) = (Vec::new(), Vec::new(), Vec::new());
    if let Err(e) = d.push(body, &mut events) {
        decode.push(e);
    }
    if let Err(e) = d.finish(&mut events) {
        decode.push(e);
    }
    for e in &events {
        if let Err(e) = a.push(e) {
            assemble.push(e);
        }
    }
    Run {
        m: a.finish(),
        decode,
        assemble,
    }
}

fn decode(provider: Provider, body: &[u8]) -> Run {
    decode_with(
        provider,
        FramingLimits::default(),
        AssembleLimits::new(),
        body,
    )
}

fn sse(payloads: &[serde_json::Value]) -> Vec<u8> {
    payloads
        .iter()
        .flat_map(|p| format!("data: {p}\n\n").into_bytes())
        .collect()
}

fn small_sse(line: usize, event: usize) -> FramingLimits {
    let sse = SseLimits::new()
        .max_line_bytes(NonZeroUsize::new(line).unwrap())
        .max_event_bytes(NonZeroUsize::new(event).unwrap());
    FramingLimits {
        sse,
        ..FramingLimits::default()
    }
}

fn frame(event: &str, payload: &str) -> Vec<u8> {
    let h = |n: &str, v: &str| Header {
        name: n.into(),
        value: HeaderValue::String(v.into()),
    };
    encode_message(
        &[
            h(":event-type", event),
            h(":message-type", "event"),
            h(":content-type", "application/json"),
        ],
        payload.as_bytes(),
    )
}

fn start(index: usize, id: &str) -> serde_json::Value {
    json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": "f", "input": {}}})
}

fn args(index: usize, s: &str) -> serde_json::Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": s}})
}

fn stop(index: usize) -> serde_json::Value {
    json!({"type": "content_block_stop", "index": index})
}

fn chat(calls: serde_json::Value, finish: Option<&str>) -> serde_json::Value {
    json!({"choices": [{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": finish}]})
}

macro_rules! case {
    ($name:ident, $run:expr, |$r:ident| $check:expr) => {
        #[test]
        fn $name() {
            let $r = $run;
            $check;
        }
    };
}

// One line per case: kept unformatted on purpose.
#[rustfmt::skip]
mod decoding {
use super::*;

// framing
case!(sse_line_over_limit, decode_with(Provider::Anthropic, small_sse(16, 1024), AssembleLimits::new(), b"data: 0123456789abcdefghij\n\n"), |r| assert!(matches!(r.decode[0], DecodeError::Sse(SseError::LineTooLong { limit: 16 }))));
case!(sse_event_over_limit, decode_with(Provider::Anthropic, small_sse(1024, 8), AssembleLimits::new(), b"data: 12345\ndata: 6789\n\n"), |r| assert!(matches!(r.decode[0], DecodeError::Sse(SseError::EventTooLarge { limit: 8 }))));
case!(sse_after_fatal_error_is_failed, decode_with(Provider::Anthropic, small_sse(4, 1024), AssembleLimits::new(), b"data: toolong\n\n"), |r| assert!(matches!(r.decode[1], DecodeError::Failed)));
case!(truncated_mid_event_is_incomplete_not_an_error, decode(Provider::Anthropic, &[sse(&[start(0, "a"), args(0, "{}"), stop(0)]), b"data: {\"type\":\"message_st".to_vec()].concat()), |r| { assert!(r.decode.is_empty() && !r.m.complete); assert_eq!(r.m.tool_calls.len(), 1) });
case!(eventstream_bad_prelude_crc, decode(Provider::Bedrock, &{ let mut f = frame("messageStart", "{}"); f[9] ^= 1; f }), |r| assert!(matches!(r.decode[0], DecodeError::EventStream(EventStreamError::PreludeCrc { .. }))));
case!(eventstream_bad_message_crc, decode(Provider::Bedrock, &{ let mut f = frame("messageStart", "{}"); let n = f.len(); f[n - 6] ^= 1; f }), |r| assert!(matches!(r.decode[0], DecodeError::EventStream(EventStreamError::MessageCrc { .. }))));
case!(eventstream_truncated_frame, decode(Provider::Bedrock, &frame("messageStart", "{}")[..20]), |r| assert!(matches!(r.decode[0], DecodeError::EventStream(EventStreamError::Truncated { buffered: 20 }))));
case!(eventstream_given_to_an_sse_provider, decode(Provider::Anthropic, &frame("messageStart", "{}")), |r| assert!(matches!(r.decode[0], DecodeError::WrongFraming { provider: Provider::Anthropic })));
case!(sse_given_to_bedrock, decode(Provider::Bedrock, b"data: {}\n\n"), |r| assert!(matches!(r.decode[0], DecodeError::WrongFraming { provider: Provider::Bedrock })));

// provider quirks
case!(anthropic_payload_not_json, decode(Provider::Anthropic, b"event: message_start\ndata: {nope\n\n"), |r| assert!(matches!(&r.decode[0], DecodeError::InvalidPayload { event, .. } if event == "message_start")));
case!(anthropic_delta_without_index, decode(Provider::Anthropic, &sse(&[json!({"type": "content_block_stop"})])), |r| assert!(matches!(r.decode[0], DecodeError::InvalidField { reason: "missing `index`", .. })));
case!(unknown_event_types_are_skipped, decode(Provider::Anthropic, &sse(&[json!({"type": "brand_new", "x": [1]}), start(0, "a"), stop(0)])), |r| { assert!(r.decode.is_empty()); assert_eq!(r.m.tool_calls[0].input, Ok(json!({}))) });
case!(openai_new_id_on_reused_index_is_a_new_call, decode(Provider::OpenAiChat, &sse(&[chat(json!([{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]), None), chat(json!([{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]), Some("tool_calls"))])), |r| assert_eq!(r.m.tool_calls.iter().map(|c| &*c.id).collect::<Vec<_>>(), ["a", "b"]));
case!(openai_interleaved_fragments_by_index, decode(Provider::OpenAiChat, &sse(&[chat(json!([{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\":"}}, {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{\"y\":"}}]), None), chat(json!([{"index": 1, "function": {"arguments": "2}"}}, {"index": 0, "function": {"arguments": "1}"}}]), Some("tool_calls"))])), |r| { assert_eq!(r.m.tool_calls[0].input, Ok(json!({"x": 1}))); assert_eq!(r.m.tool_calls[1].input, Ok(json!({"y": 2}))) });
case!(openai_done_before_finish_reason_leaves_calls_incomplete, decode(Provider::OpenAiChat, &[sse(&[chat(json!([{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]), None)]), b"data: [DONE]\n\n".to_vec()].concat()), |r| { assert!(!r.m.tool_calls[0].complete); assert_eq!(r.m.tool_calls[0].input, Err(ArgumentsError::Incomplete)) });
case!(responses_arguments_for_a_call_never_started, decode(Provider::OpenAiResponses, &sse(&[json!({"type": "response.function_call_arguments.delta", "output_index": 3, "delta": "{"})])), |r| assert!(matches!(r.decode[0], DecodeError::InvalidField { .. })));
case!(gemini_error_object_is_a_provider_error, decode(Provider::Gemini, &sse(&[json!({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})])), |r| { assert_eq!(r.m.error.as_ref().unwrap().kind, "RESOURCE_EXHAUSTED"); assert_eq!(r.m.stop_kind(), Some(StopKind::Error)) });
case!(bedrock_exception_frame_is_a_provider_error, decode(Provider::Bedrock, &encode_message(&[Header { name: ":message-type".into(), value: HeaderValue::String("exception".into()) }, Header { name: ":exception-type".into(), value: HeaderValue::String("throttlingException".into()) }], br#"{"message":"slow down"}"#)), |r| assert_eq!(r.m.error.as_ref().map(|e| (e.kind.as_str(), e.message.as_str())), Some(("throttlingException", "slow down"))));

// assembly
case!(delta_for_a_block_that_never_started, decode(Provider::Anthropic, &sse(&[args(4, "{}")])), |r| assert_eq!(r.assemble, [AssembleError::UnknownBlock { index: 4 }]));
case!(a_block_started_twice, decode(Provider::Anthropic, &sse(&[start(0, "a"), start(0, "b")])), |r| assert_eq!(r.assemble, [AssembleError::DuplicateBlock { index: 0 }]));
case!(arguments_that_are_not_json, decode(Provider::Anthropic, &sse(&[start(0, "a"), args(0, "{\"q\": \"x\",}"), stop(0)])), |r| assert!(matches!(r.m.tool_calls[0].input, Err(ArgumentsError::InvalidJson { .. }))));
case!(arguments_that_are_not_an_object, decode(Provider::Anthropic, &sse(&[start(0, "a"), args(0, "\"text\""), stop(0)])), |r| assert_eq!(r.m.tool_calls[0].input, Err(ArgumentsError::NotAnObject { found: "string" })));
case!(a_call_cut_off_by_the_end_of_input, decode(Provider::Anthropic, &sse(&[start(0, "a"), args(0, "{\"q\": \"x\"}")])), |r| assert_eq!(r.m.tool_calls[0].input, Err(ArgumentsError::Incomplete)));
case!(too_many_blocks, decode_with(Provider::Anthropic, FramingLimits::default(), AssembleLimits::new().max_blocks(NonZeroUsize::new(2).unwrap()), &sse(&[start(0, "a"), start(1, "b"), start(2, "c")])), |r| { assert_eq!(r.assemble, [AssembleError::TooManyBlocks { limit: 2 }]); assert_eq!(r.m.tool_calls.len(), 2) });
case!(arguments_over_the_limit, decode_with(Provider::Anthropic, FramingLimits::default(), AssembleLimits::new().max_argument_bytes(NonZeroUsize::new(8).unwrap()), &sse(&[start(0, "a"), args(0, "{\"q\": \"0123456789\"}"), stop(0)])), |r| assert_eq!(r.m.tool_calls[0].input, Err(ArgumentsError::TooLarge { limit: 8 })));

}

// dispatch and execution
fn message(calls: &[(&str, &str)]) -> Vec<StreamEvent> {
    let mut e = Vec::new();
    for (index, (id, name)) in calls.iter().enumerate() {
        e.push(StreamEvent::BlockStart {
            index,
            block: Block::ToolUse {
                id: (*id).into(),
                name: (*name).into(),
            },
        });
        e.push(StreamEvent::BlockDelta {
            index,
            delta: Delta::ToolInput(format!("{{\"n\":{index}}}")),
        });
        e.push(StreamEvent::BlockStop { index });
    }
    e.push(StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
        usage: Usage::default(),
    });
    e.push(StreamEvent::MessageStop);
    e
}

fn tools() -> ToolRegistry {
    ToolRegistry::new()
        .with_raw_fn("ok", |i| Box::pin(async move { Ok(i.to_string().into()) }))
        .with_raw_fn("slow", |i| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(i.to_string().into())
            })
        })
        .with_raw_fn("boom", |_| Box::pin(async { panic!("boom") }))
}

fn turn(events: Vec<StreamEvent>, config: TurnConfig) -> TurnOutcome {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(async {
            let input = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
            let mut s = std::pin::pin!(TurnStream::new(input, Arc::new(tools()), config));
            let mut outcome = None;
            while let Some(e) = s.next().await {
                if let Ok(TurnEvent::Outcome(o)) = e {
                    outcome = Some(*o);
                }
            }
            outcome.unwrap()
        })
}

fn kinds(o: &TurnOutcome) -> Vec<Option<ToolErrorKind>> {
    o.results.iter().map(|r| r.error.clone()).collect()
}

fn config() -> TurnConfig {
    TurnConfig::new(Provider::Anthropic)
}

#[rustfmt::skip]
mod execution {
use super::*;

case!(provider_reuses_ids_each_call_answered, turn(message(&[("same", "ok"), ("same", "ok")]), config()), |o| { assert!(o.committed); assert_eq!(kinds(&o), [None, None]) });
case!(unknown_tool_in_its_slot, turn(message(&[("a", "ok"), ("b", "nope"), ("c", "ok")]), config()), |o| assert_eq!(kinds(&o), [None, Some(ToolErrorKind::UnknownTool), None]));
case!(panic_in_its_slot, turn(message(&[("a", "boom"), ("b", "ok")]), config()), |o| assert_eq!(kinds(&o), [Some(ToolErrorKind::Panicked), None]));
case!(timeout_in_its_slot, turn(message(&[("a", "slow"), ("b", "ok")]), config().tool_timeout(Duration::from_secs(1))), |o| assert_eq!(kinds(&o), [Some(ToolErrorKind::TimedOut), None]));
case!(turn_deadline_in_the_unfinished_slots, turn(message(&[("a", "ok"), ("b", "slow")]), config().turn_timeout(Duration::from_secs(1))), |o| assert_eq!(kinds(&o), [None, Some(ToolErrorKind::TurnDeadline)]));
case!(too_many_tool_calls_abandons_the_turn, turn(message(&[("a", "ok"), ("b", "ok"), ("c", "ok")]), config().limits(AssembleLimits::new().max_tool_calls(NonZeroUsize::new(2).unwrap()))), |o| { assert!(!o.committed && o.results_message.is_none()); assert!(o.abandoned_because.as_deref().unwrap().contains("more than 2 tool calls"), "{:?}", o.abandoned_because) });
case!(arguments_nested_too_deep_are_answered_never_run, turn({ let mut m = message(&[("a", "ok"), ("b", "ok")]); m[1] = StreamEvent::BlockDelta { index: 0, delta: Delta::ToolInput("{\"a\":{\"b\":{}}}".into()) }; m }, config().limits(AssembleLimits::new().max_argument_depth(NonZeroUsize::new(2).unwrap()))), |o| { assert!(o.committed); assert_eq!(kinds(&o), [Some(ToolErrorKind::InvalidArguments), None]); assert!(o.results[0].content.contains("nested deeper than the limit of 2"), "{}", o.results[0].content) });
case!(max_tokens_commits_nothing_and_cancels_eager, turn({ let mut m = message(&[("a", "slow")]); m[3] = StreamEvent::MessageDelta { stop_reason: Some(StopReason::new(StopKind::MaxTokens, "max_tokens")), usage: Usage::default() }; m }, config().policy(DispatchPolicy::Eager)), |o| { assert!(!o.committed && o.results_message.is_none()); assert_eq!(kinds(&o), [Some(ToolErrorKind::Cancelled)]) });

}

#[test]
fn transport_error_mid_turn_while_eager_tools_run() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut items: Vec<Result<StreamEvent, &str>> = message(&[("a", "slow")])
            .into_iter()
            .take(3)
            .map(Ok)
            .collect();
        items.push(Err("reset"));
        let mut s = std::pin::pin!(TurnStream::new(
            futures_util::stream::iter(items),
            Arc::new(tools()),
            config().policy(DispatchPolicy::Eager)
        ));
        let (mut errors, mut outcome) = (0, None);
        while let Some(e) = s.next().await {
            match e {
                Err("reset") => errors += 1,
                Ok(TurnEvent::Outcome(o)) => outcome = Some(o),
                _ => {}
            }
        }
        let o = outcome.unwrap();
        assert_eq!((errors, o.committed), (1, false));
        assert_eq!(kinds(&o), [Some(ToolErrorKind::Cancelled)]);
    });
}

#[test]
fn consumer_drops_the_stream_and_every_task_ends() {
    let live = Arc::new(AtomicUsize::new(0));
    struct Live(Arc<AtomicUsize>);
    impl Drop for Live {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let l = live.clone();
    let tools = ToolRegistry::new().with_raw_fn("hang", move |_| {
        l.fetch_add(1, Ordering::SeqCst);
        let guard = Live(l.clone());
        Box::pin(async move {
            let _guard = guard;
            std::future::pending().await
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let input = futures_util::stream::iter(
            message(&[("a", "hang"), ("b", "hang")])
                .into_iter()
                .map(Ok::<_, Infallible>),
        );
        let mut s = Box::pin(TurnStream::new(input, Arc::new(tools), config()));
        let mut started = 0;
        while started < 2 {
            if let Some(Ok(TurnEvent::Started { .. })) = s.next().await {
                started += 1;
            }
        }
        // `Started` means the task holds its slot and is spawned; let both run to their
        // first await.
        tokio::task::yield_now().await;
        assert_eq!(live.load(Ordering::SeqCst), 2);
        drop(s);
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        assert_eq!(live.load(Ordering::SeqCst), 0, "no task left running");
    });
}

// conversation loop
#[test]
fn conversation_stops_after_max_turns() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut script = toolstream::mock::Script::default_demo();
        script.chunk_delay_ms = 0;
        let server = toolstream::mock::MockServer::start("127.0.0.1:0".parse().unwrap(), script)
            .await
            .unwrap();
        let client = toolstream::ModelClient::new(Provider::Anthropic, "mock-1", "k")
            .unwrap()
            .base_url(server.base_url());
        let tools = ToolRegistry::new()
            .with_raw_fn("get_weather", |_| Box::pin(async { Ok("sunny".into()) }))
            .with_raw_fn("get_time", |_| Box::pin(async { Ok("noon".into()) }))
            .with_raw_fn("search", |_| Box::pin(async { Ok("found".into()) }));
        let config = toolstream::ConversationConfig {
            max_turns: NonZeroUsize::new(1).unwrap(),
            ..Default::default()
        };
        let mut c = toolstream::Conversation::new(client, tools, config);
        let err = c.send("hi", |_| {}).await.unwrap_err();
        assert!(
            matches!(
                err,
                toolstream::ConversationError::TooManyTurns { limit: 1 }
            ),
            "{err}"
        );
        // The committed turn is in history: user, assistant, results.
        assert_eq!(c.history().len(), 3);
        server.shutdown().await;
    });
}

#[test]
fn conversation_against_a_refusing_server_is_a_typed_client_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = toolstream::mock::MockServer::start(
            "127.0.0.1:0".parse().unwrap(),
            toolstream::mock::Script::default_demo(),
        )
        .await
        .unwrap();
        let client = toolstream::ModelClient::new(Provider::Anthropic, "mock-1", "")
            .unwrap()
            .base_url(server.base_url());
        let mut c = toolstream::Conversation::new(client, ToolRegistry::new(), Default::default());
        let err = c.send("hi", |_| {}).await.unwrap_err();
        assert!(
            matches!(
                err,
                toolstream::ConversationError::Client(toolstream::ClientError::Http {
                    status: 401,
                    ..
                })
            ),
            "{err}"
        );
    });
}
