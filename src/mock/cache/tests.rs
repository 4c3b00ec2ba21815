//! The cache rules, request by request, without a server.

use super::*;

const SONNET: &str = "claude-sonnet-4-5";
const CC: fn() -> Value = || json!({"type": "ephemeral"});

fn prompt(provider: Provider, body: Value) -> Prompt {
    Prompt::of(provider, &body, SONNET)
}

fn ends(p: &Prompt) -> Vec<(u64, u64)> {
    p.units.iter().map(|u| (u.prefix, u.end)).collect()
}

fn text(s: &str, mark: bool) -> Value {
    let mut b = json!({"type": "text", "text": s});
    if mark {
        b["cache_control"] = CC();
    }
    b
}

/// Tools, system and `n` messages alternating user and assistant, breakpoints (when
/// `marks`) on the last tool, the system block and the last message.
fn conversation(n: usize, marks: bool) -> Value {
    let tool = |name: &str, mark: bool| {
        let mut t = json!({"name": name, "input_schema": {"type": "object"}});
        if mark {
            t["cache_control"] = CC();
        }
        t
    };
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            json!({"role": role, "content": [text(&format!("message {i}"), marks && i == n - 1)]})
        })
        .collect();
    json!({"tools": [tool("a", false), tool("b", marks)], "system": [text("Be brief.", marks)], "messages": messages})
}

#[test]
fn string_content_and_moved_breakpoints_leave_the_prefix_as_it_was() {
    let plain = prompt(
        Provider::Anthropic,
        json!({"system": "S", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let marked = prompt(
        Provider::Anthropic,
        json!({"system": [text("S", true)], "messages": [{"role": "user", "content": [{"text": "hi", "type": "text", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]}),
    );
    assert_eq!(ends(&plain), ends(&marked));
    // {"text":"S","type":"text"} is 26 bytes, "user":{"text":"hi","type":"text"} 34.
    assert_eq!(
        plain.units.iter().map(|u| u.end).collect::<Vec<_>>(),
        [7, 16]
    );
    assert_eq!((plain.markers, marked.markers), (0, 2));
    assert_eq!(marked.units[1].breakpoint, Some(Ttl::OneHour));
    let other_model = Prompt::of(
        Provider::Anthropic,
        &json!({"system": "S"}),
        "claude-opus-4-1",
    );
    assert_ne!(other_model.units[0].prefix, plain.units[0].prefix);
}

#[test]
fn anthropic_reads_the_last_written_breakpoint_and_writes_up_to_its_own() {
    let (mut cache, now) = (Cache::default(), Instant::now());
    let first = prompt(Provider::Anthropic, conversation(1, true));
    let second = prompt(Provider::Anthropic, conversation(3, true));
    let u1 = cache.serve(&first, false, now);
    assert_eq!((u1.read, u1.write(), u1.rest()), (0, first.tokens(), 0));
    let u2 = cache.serve(&second, false, now);
    assert_eq!(u2.read, first.tokens());
    assert_eq!(u2.write_5m, second.tokens() - first.tokens());
    assert_eq!((u2.write_1h, u2.rest()), (0, 0));
    // Without breakpoints nothing is read or written, however often it is sent.
    for _ in 0..2 {
        let plain = prompt(Provider::Anthropic, conversation(3, false));
        let u = Cache::default().serve(&plain, false, now);
        assert_eq!(u, PromptUsage::uncached(plain.tokens()));
        assert_eq!(
            cache.serve(&plain, false, now),
            PromptUsage::uncached(plain.tokens())
        );
    }
}

/// One user message of `n` blocks, a breakpoint on block `mark`.
fn blocks(n: usize, mark: usize) -> Prompt {
    let content: Vec<Value> = (0..n).map(|i| text(&format!("b{i}"), i == mark)).collect();
    prompt(
        Provider::Anthropic,
        json!({"messages": [{"role": "user", "content": content}]}),
    )
}

#[test]
fn the_lookback_is_20_blocks_the_breakpoint_included() {
    for (last, read) in [(23, true), (24, false)] {
        let (mut cache, now) = (Cache::default(), Instant::now());
        let first = blocks(5, 4);
        cache.serve(&first, false, now);
        let u = cache.serve(&blocks(last + 1, last), false, now);
        let want = if read { first.tokens() } else { 0 };
        assert_eq!(u.read, want, "breakpoint on block {last}");
    }
}

#[test]
fn entries_expire_after_their_ttl_since_last_use() {
    let (mut cache, t0) = (Cache::default(), Instant::now());
    let minutes = |m: u64| t0 + Duration::from_secs(60 * m);
    let p = prompt(Provider::Anthropic, conversation(1, true));
    assert_eq!(cache.serve(&p, false, t0).read, 0);
    assert_eq!(cache.serve(&p, false, minutes(4)).read, p.tokens());
    // Refreshed at minute 4: alive at 8, gone at 14.
    assert_eq!(cache.serve(&p, false, minutes(8)).read, p.tokens());
    let u = cache.serve(&p, false, minutes(14));
    assert_eq!((u.read, u.write()), (0, p.tokens()));
    // A 1-hour system breakpoint before a 5-minute one on the message.
    let mut body = conversation(1, true);
    body["system"][0]["cache_control"]["ttl"] = json!("1h");
    let p = prompt(Provider::Anthropic, body);
    let system_end = p.units[2].end;
    let mut cache = Cache::default();
    let u = cache.serve(&p, false, t0);
    assert_eq!(
        (u.write_1h, u.write_5m),
        (system_end, p.tokens() - system_end)
    );
    let u = cache.serve(&p, false, minutes(30));
    assert_eq!(
        (u.read, u.write_1h, u.write_5m),
        (system_end, 0, p.tokens() - system_end)
    );
}

#[test]
fn a_fifth_breakpoint_is_refused() {
    let content: Vec<Value> = (0..5).map(|i| text(&format!("b{i}"), true)).collect();
    let p = prompt(
        Provider::Anthropic,
        json!({"messages": [{"role": "user", "content": content}]}),
    );
    assert_eq!(
        p.check().unwrap_err(),
        "A maximum of 4 blocks with cache_control may be provided. Found 5."
    );
    let mut body = conversation(1, true);
    assert!(prompt(Provider::Anthropic, body.clone()).check().is_ok());
    body["cache_control"] = CC();
    body["messages"][0]["content"][0]["content"] = json!([text("nested", true)]);
    assert!(prompt(Provider::Anthropic, body)
        .check()
        .unwrap_err()
        .ends_with("Found 5."));
}

macro_rules! minimum {
    ($provider:ident, $model:expr, $tokens:expr) => {
        assert_eq!(minimum(Provider::$provider, $model), $tokens, "{}", $model)
    };
}

#[test]
fn documented_minimums() {
    minimum!(Anthropic, "claude-sonnet-4-5", 1024);
    minimum!(Anthropic, "claude-opus-4-1-20250805", 1024);
    minimum!(Anthropic, "claude-opus-4-5", 4096);
    minimum!(Anthropic, "claude-haiku-4-5-20251001", 4096);
    minimum!(Anthropic, "claude-3-5-haiku-20241022", 2048);
    minimum!(Anthropic, "claude-3-haiku-20240307", 2048);
    minimum!(Bedrock, "anthropic.claude-haiku-4-5-20251001-v1:0", 4096);
    minimum!(OpenAiChat, "gpt-4o", 1024);
    minimum!(Gemini, "gemini-2.5-flash", 2048);
    minimum!(Gemini, "gemini-3-pro-preview", 4096);
    minimum!(Gemini, "mock-1", 2048);
}

#[test]
fn with_minimums_short_prefixes_are_not_cached_and_openai_counts_by_128() {
    let now = Instant::now();
    let mut cache = Cache::default();
    let short = prompt(Provider::Anthropic, conversation(1, true));
    cache.serve(&short, true, now);
    assert_eq!(
        cache.serve(&short, true, now),
        PromptUsage {
            cache_points: true,
            ..PromptUsage::uncached(short.tokens())
        }
    );
    let mut body = conversation(1, true);
    body["system"][0]["text"] = json!("x".repeat(6000));
    let long = prompt(Provider::Anthropic, body);
    assert_eq!(cache.serve(&long, true, now).write(), long.tokens());
    assert_eq!(cache.serve(&long, true, now).read, long.tokens());
    let chat = |n: usize| {
        let mut messages = vec![json!({"role": "system", "content": "y".repeat(6000)})];
        messages.extend((0..n).map(|i| json!({"role": "user", "content": format!("q{i}")})));
        prompt(Provider::OpenAiChat, json!({"messages": messages}))
    };
    let (first, second) = (chat(1), chat(2));
    assert_eq!(cache.serve(&first, true, now).read, 0);
    let read = cache.serve(&second, true, now).read;
    assert_eq!(read, first.tokens() / 128 * 128);
    assert!(read >= 1024 && read < first.tokens(), "{read}");
}

#[test]
fn implicit_caches_read_the_longest_prefix_of_any_earlier_request() {
    let now = Instant::now();
    let chat = |system: &str, n: usize| {
        let mut messages = vec![json!({"role": "system", "content": system})];
        messages.extend((0..n).map(|i| json!({"role": "user", "content": format!("q{i}")})));
        prompt(
            Provider::OpenAiChat,
            json!({"messages": messages, "tools": [{"type": "function"}]}),
        )
    };
    let mut cache = Cache::default();
    let first = chat("Be brief.", 1);
    assert_eq!(cache.serve(&first, false, now).read, 0);
    assert_eq!(
        cache.serve(&chat("Be brief.", 3), false, now).read,
        first.tokens()
    );
    assert_eq!(cache.serve(&chat("Be long.", 3), false, now).read, 0);
    // Other prefixes: the whole of an earlier one, or part of it.
    assert_eq!(
        cache.serve(&chat("Be brief.", 2), false, now).read,
        chat("Be brief.", 2).tokens()
    );
}

#[test]
fn bedrock_cache_points_mark_the_end_of_what_precedes_them() {
    let body = json!({
        "system": [{"text": "You are terse."}, {"cachePoint": {"type": "default"}}],
        "toolConfig": {"tools": [
            {"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}},
            {"cachePoint": {"type": "default"}}]},
        "messages": [
            {"role": "user", "content": [{"text": "Weather?"}, {"cachePoint": {"type": "default", "ttl": "1h"}}]},
            {"role": "assistant", "content": [{"text": "Sunny."}]},
            {"role": "user", "content": [{"cachePoint": {"type": "default"}}, {"text": "Thanks"}]}]
    });
    let p = prompt(Provider::Bedrock, body.clone());
    let marks: Vec<Option<Ttl>> = p.units.iter().map(|u| u.breakpoint).collect();
    let five = Some(Ttl::FiveMinutes);
    // tool, system, "Weather?", "Sunny." (the point before "Thanks" marks it), "Thanks".
    assert_eq!(marks, [five, five, Some(Ttl::OneHour), five, None]);
    assert_eq!(p.markers, 4);
    // The same prompt without its points: the same units, the same tokens.
    let mut plain = body;
    plain["system"] = without_points(&plain["system"]);
    plain["toolConfig"]["tools"] = without_points(&plain["toolConfig"]["tools"]);
    for m in plain["messages"].as_array_mut().unwrap() {
        m["content"] = without_points(&m["content"]);
    }
    assert_eq!(ends(&prompt(Provider::Bedrock, plain)), ends(&p));
    // "Thanks" carries its message's role although a point comes first.
    let role = format!("\"user\":{}", json!({"text": "Thanks"}));
    assert_eq!(
        p.units[4].end - p.units[3].end,
        (role.len() as u64).div_ceil(4)
    );
    // The breakpoint rule is Anthropic's.
    let mut cache = Cache::default();
    let u = cache.serve(&p, false, Instant::now());
    assert_eq!(
        (u.read, u.write_1h, u.write_5m),
        (0, p.units[2].end, p.units[3].end - p.units[2].end)
    );
    let u = cache.serve(&p, false, Instant::now());
    assert_eq!(
        (u.read, u.rest()),
        (p.units[3].end, p.tokens() - p.units[3].end)
    );
}
