//! Request options (issue 16): each option in the exact request bytes of every provider
//! that has it, in the fixed key order; no option gives today's bytes; the merge rules of
//! the extra body; every validation error of `RequestOptions::check`, word for word.

use serde_json::json;
use toolstream::tool::ToolDefinition;
use toolstream::{
    ModelClient, PromptCaching, Provider, ReasoningEffort, RequestOptions, ToolChoice,
};

use Provider::{Anthropic, Bedrock, Gemini, OpenAiChat as Chat, OpenAiResponses as Responses};

fn model(provider: Provider) -> &'static str {
    match provider {
        Anthropic => "claude-sonnet-4-5",
        Chat | Responses => "gpt-5",
        Gemini => "gemini-3-pro-preview",
        Bedrock => "anthropic.claude-sonnet-4-5-20250929-v1:0",
        other => unreachable!("no model for {other}"),
    }
}

fn client(provider: Provider) -> ModelClient {
    ModelClient::new(provider, model(provider), "key")
        .unwrap()
        .prompt_caching(PromptCaching::Off)
}

fn tools() -> Vec<ToolDefinition> {
    vec![ToolDefinition {
        name: "get_weather".into(),
        description: "Weather".into(),
        schema: json!({"type": "object"}),
    }]
}

/// The request body for one user message "hi", with the options, and with the one tool
/// or none.
fn body(provider: Provider, options: RequestOptions, with_tools: bool) -> String {
    let c = client(provider).options(options);
    let tools = if with_tools { tools() } else { Vec::new() };
    c.request_body(&[c.user_message("hi")], &tools)
}

fn opts() -> RequestOptions {
    RequestOptions::new()
}

/// `name: provider, options, with tools => the exact body`.
macro_rules! bytes {
    ($($name:ident: $provider:expr, $options:expr, $tools:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(body($provider, $options, $tools), $expected);
        }
    )*};
}

/// `name: provider, options => the tool choice as written` (with the one tool).
macro_rules! choice {
    ($($name:ident: $provider:expr, $choice:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            let options = opts().tool_choice($choice);
            assert_eq!(options.check($provider), Ok(()));
            let body = body($provider, options, true);
            assert!(body.contains($expected), "{body}");
        }
    )*};
}

/// `name: provider, options => the error message` of `check`.
macro_rules! refused {
    ($($name:ident: $provider:expr, $options:expr => $message:expr;)*) => {$(
        #[test]
        fn $name() {
            let e = $options.check($provider).unwrap_err();
            assert_eq!(e.to_string(), $message);
        }
    )*};
}

/// `name: provider, options` that `check` accepts.
macro_rules! accepted {
    ($($name:ident: $provider:expr, $options:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!($options.check($provider), Ok(()));
        }
    )*};
}

const ANTHROPIC_TOOLS: &str =
    r#""tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}]"#;
const CHAT_TOOLS: &str = r#""tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object"}}}]"#;
const RESPONSES_TOOLS: &str = r#""tools":[{"type":"function","name":"get_weather","description":"Weather","parameters":{"type":"object"},"strict":false}]"#;
const GEMINI_TOOLS: &str =
    r#""tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather"}]}]"#;
const BEDROCK_TOOLS: &str = r#""tools":[{"toolSpec":{"name":"get_weather","description":"Weather","inputSchema":{"json":{"type":"object"}}}}]"#;

/// Bodies built from pieces: `{` + the parts joined by commas + `}`.
fn obj(parts: &[&str]) -> String {
    format!("{{{}}}", parts.join(","))
}

const A_HEAD: &str = r#""model":"claude-sonnet-4-5""#;
const A_MESSAGES: &str = r#""messages":[{"role":"user","content":"hi"}]"#;
const O_MESSAGES: &str = A_MESSAGES;
const R_INPUT: &str = r#""input":[{"role":"user","content":"hi"}]"#;
const G_CONTENTS: &str = r#""contents":[{"role":"user","parts":[{"text":"hi"}]}]"#;
const B_MESSAGES: &str = r#""messages":[{"role":"user","content":[{"text":"hi"}]}]"#;

// No option: today's bytes, byte for byte, with and without tools.
bytes! {
    anthropic_without_options: Anthropic, opts(), false =>
        obj(&[A_HEAD, r#""max_tokens":4096"#, r#""stream":true"#, A_MESSAGES]);
    anthropic_with_tools_without_options: Anthropic, opts(), true =>
        obj(&[A_HEAD, r#""max_tokens":4096"#, r#""stream":true"#, ANTHROPIC_TOOLS, A_MESSAGES]);
    chat_without_options: Chat, opts(), false =>
        obj(&[r#""model":"gpt-5","stream":true,"stream_options":{"include_usage":true}"#, O_MESSAGES]);
    chat_with_tools_without_options: Chat, opts(), true =>
        obj(&[r#""model":"gpt-5","stream":true,"stream_options":{"include_usage":true}"#, CHAT_TOOLS, O_MESSAGES]);
    responses_without_options: Responses, opts(), false =>
        obj(&[r#""model":"gpt-5","stream":true"#, R_INPUT]);
    responses_with_tools_without_options: Responses, opts(), true =>
        obj(&[r#""model":"gpt-5","stream":true"#, RESPONSES_TOOLS, R_INPUT]);
    gemini_without_options: Gemini, opts(), false => obj(&[G_CONTENTS]);
    gemini_with_tools_without_options: Gemini, opts(), true => obj(&[GEMINI_TOOLS, G_CONTENTS]);
    bedrock_without_options: Bedrock, opts(), false =>
        obj(&[B_MESSAGES, r#""inferenceConfig":{"maxTokens":4096}"#]);
    bedrock_with_tools_without_options: Bedrock, opts(), true =>
        obj(&[B_MESSAGES, r#""inferenceConfig":{"maxTokens":4096}"#, &format!(r#""toolConfig":{{{BEDROCK_TOOLS}}}"#)]);
}

// Every option, in the documented key order.
bytes! {
    anthropic_sampling_stop_effort_and_a_named_tool: Anthropic,
        opts().max_tokens(1000).temperature(0.2).top_p(0.9).stop_sequences(["END", "STOP"])
            .tool_choice(ToolChoice::Tool("get_weather".into())).reasoning_effort(ReasoningEffort::Low),
        true => obj(&[
            A_HEAD, r#""max_tokens":1000"#, r#""stream":true"#, r#""temperature":0.2"#, r#""top_p":0.9"#,
            r#""stop_sequences":["END","STOP"]"#, r#""output_config":{"effort":"low"}"#, ANTHROPIC_TOOLS,
            r#""tool_choice":{"type":"tool","name":"get_weather"}"#, A_MESSAGES,
        ]);
    anthropic_thinking_with_effort: Anthropic,
        opts().max_tokens(16000).thinking_budget(10000).top_p(0.95).tool_choice(ToolChoice::Auto)
            .reasoning_effort(ReasoningEffort::High),
        true => obj(&[
            A_HEAD, r#""max_tokens":16000"#, r#""stream":true"#, r#""top_p":0.95"#,
            r#""thinking":{"type":"enabled","budget_tokens":10000}"#, r#""output_config":{"effort":"high"}"#,
            ANTHROPIC_TOOLS, r#""tool_choice":{"type":"auto"}"#, A_MESSAGES,
        ]);
    chat_every_option: Chat,
        opts().max_tokens(500).temperature(1.5).top_p(0.5).stop_sequences(["END"])
            .reasoning_effort(ReasoningEffort::Minimal).tool_choice(ToolChoice::Tool("get_weather".into())),
        true => obj(&[
            r#""model":"gpt-5","stream":true,"stream_options":{"include_usage":true}"#,
            r#""max_completion_tokens":500"#, r#""temperature":1.5"#, r#""top_p":0.5"#, r#""stop":["END"]"#,
            r#""reasoning_effort":"minimal""#, CHAT_TOOLS,
            r#""tool_choice":{"type":"function","function":{"name":"get_weather"}}"#, O_MESSAGES,
        ]);
    responses_every_option: Responses,
        opts().max_tokens(500).temperature(0.7).top_p(1.0).reasoning_effort(ReasoningEffort::Medium)
            .tool_choice(ToolChoice::Tool("get_weather".into())),
        true => obj(&[
            r#""model":"gpt-5","stream":true"#, r#""max_output_tokens":500"#, r#""temperature":0.7"#,
            r#""top_p":1.0"#, r#""reasoning":{"effort":"medium"}"#, RESPONSES_TOOLS,
            r#""tool_choice":{"type":"function","name":"get_weather"}"#, R_INPUT,
        ]);
    gemini_every_option_with_a_thinking_level: Gemini,
        opts().max_tokens(2048).temperature(1.5).top_p(0.9).stop_sequences(["END"])
            .reasoning_effort(ReasoningEffort::High).tool_choice(ToolChoice::Tool("get_weather".into())),
        true => obj(&[
            GEMINI_TOOLS,
            r#""toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}"#,
            r#""generationConfig":{"maxOutputTokens":2048,"temperature":1.5,"topP":0.9,"stopSequences":["END"],"thinkingConfig":{"thinkingLevel":"HIGH","includeThoughts":true}}"#,
            G_CONTENTS,
        ]);
    gemini_thinking_budget: Gemini, opts().thinking_budget(1024), false => obj(&[
        r#""generationConfig":{"thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}}"#, G_CONTENTS,
    ]);
    gemini_max_tokens_only: Gemini, opts().max_tokens(100), false =>
        obj(&[r#""generationConfig":{"maxOutputTokens":100}"#, G_CONTENTS]);
    bedrock_sampling_stop_effort_and_any_tool: Bedrock,
        opts().max_tokens(2000).temperature(0.3).top_p(0.8).stop_sequences(["END"])
            .tool_choice(ToolChoice::Any).reasoning_effort(ReasoningEffort::Low),
        true => obj(&[
            B_MESSAGES, r#""inferenceConfig":{"maxTokens":2000,"temperature":0.3,"topP":0.8,"stopSequences":["END"]}"#,
            &format!(r#""toolConfig":{{{BEDROCK_TOOLS},"toolChoice":{{"any":{{}}}}}}"#),
            r#""additionalModelRequestFields":{"output_config":{"effort":"low"}}"#,
        ]);
    bedrock_thinking: Bedrock,
        opts().max_tokens(8000).thinking_budget(4000).tool_choice(ToolChoice::Auto),
        true => obj(&[
            B_MESSAGES, r#""inferenceConfig":{"maxTokens":8000}"#,
            &format!(r#""toolConfig":{{{BEDROCK_TOOLS},"toolChoice":{{"auto":{{}}}}}}"#),
            r#""additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":4000}}"#,
        ]);
}

// The tool choice in each provider's form.
choice! {
    anthropic_auto: Anthropic, ToolChoice::Auto => r#""tool_choice":{"type":"auto"},"messages""#;
    anthropic_any: Anthropic, ToolChoice::Any => r#""tool_choice":{"type":"any"},"messages""#;
    anthropic_none: Anthropic, ToolChoice::None => r#""tool_choice":{"type":"none"},"messages""#;
    anthropic_tool: Anthropic, ToolChoice::Tool("x".into()) => r#""tool_choice":{"type":"tool","name":"x"},"messages""#;
    chat_auto: Chat, ToolChoice::Auto => r#""tool_choice":"auto","messages""#;
    chat_any_is_required: Chat, ToolChoice::Any => r#""tool_choice":"required","messages""#;
    chat_none: Chat, ToolChoice::None => r#""tool_choice":"none","messages""#;
    chat_tool: Chat, ToolChoice::Tool("x".into()) => r#""tool_choice":{"type":"function","function":{"name":"x"}},"messages""#;
    responses_auto: Responses, ToolChoice::Auto => r#""tool_choice":"auto","input""#;
    responses_any_is_required: Responses, ToolChoice::Any => r#""tool_choice":"required","input""#;
    responses_none: Responses, ToolChoice::None => r#""tool_choice":"none","input""#;
    responses_tool: Responses, ToolChoice::Tool("x".into()) => r#""tool_choice":{"type":"function","name":"x"},"input""#;
    gemini_auto: Gemini, ToolChoice::Auto => r#""toolConfig":{"functionCallingConfig":{"mode":"AUTO"}},"contents""#;
    gemini_any: Gemini, ToolChoice::Any => r#""toolConfig":{"functionCallingConfig":{"mode":"ANY"}},"contents""#;
    gemini_none: Gemini, ToolChoice::None => r#""toolConfig":{"functionCallingConfig":{"mode":"NONE"}},"contents""#;
    gemini_tool: Gemini, ToolChoice::Tool("x".into()) => r#""toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["x"]}},"contents""#;
    bedrock_auto: Bedrock, ToolChoice::Auto => r#""toolChoice":{"auto":{}}}"#;
    bedrock_any: Bedrock, ToolChoice::Any => r#""toolChoice":{"any":{}}}"#;
    bedrock_tool: Bedrock, ToolChoice::Tool("x".into()) => r#""toolChoice":{"tool":{"name":"x"}}}"#;
}

/// OpenAI refuses `tool_choice` without `tools` ("'tool_choice' is only allowed when
/// 'tools' are specified"), and Bedrock's `toolChoice` lives in the `toolConfig` that
/// needs them: without tools the choice is not written.
#[test]
fn a_tool_choice_without_tools_is_not_written() {
    for provider in [Anthropic, Chat, Responses, Gemini, Bedrock] {
        for choice in [
            ToolChoice::Auto,
            ToolChoice::Any,
            ToolChoice::Tool("x".into()),
        ] {
            assert_eq!(
                body(provider, opts().tool_choice(choice), false),
                body(provider, opts(), false),
                "{provider}"
            );
        }
    }
}

/// A client without `options` and one with empty options write the same bytes.
#[test]
fn empty_options_are_no_options() {
    for provider in [Anthropic, Chat, Responses, Gemini, Bedrock] {
        for with_tools in [false, true] {
            let plain = client(provider);
            let tools = if with_tools { tools() } else { Vec::new() };
            let history = [plain.user_message("hi")];
            assert_eq!(
                plain.request_body(&history, &tools),
                body(provider, opts(), with_tools),
                "{provider}"
            );
        }
    }
}

/// `ModelClient::max_tokens` keeps working: it is the option, explicit for every
/// provider.
#[test]
fn model_client_max_tokens_is_the_option() {
    let written = |provider| {
        let c = client(provider).max_tokens(1234);
        assert_eq!(c.request_options(), &opts().max_tokens(1234));
        c.request_body(&[c.user_message("hi")], &[])
    };
    assert!(written(Anthropic).contains(r#""max_tokens":1234,"stream""#));
    assert!(written(Chat).contains(r#""max_completion_tokens":1234,"messages""#));
    assert!(written(Responses).contains(r#""max_output_tokens":1234,"input""#));
    assert!(written(Gemini).contains(r#""generationConfig":{"maxOutputTokens":1234}"#));
    assert!(written(Bedrock).contains(r#""inferenceConfig":{"maxTokens":1234}"#));
}

/// The same options always give the same bytes (prompt caches key on them).
#[test]
fn the_same_options_give_the_same_bytes() {
    let build = || {
        opts()
            .temperature(0.1 + 0.2)
            .stop_sequences(["a", "b"])
            .extra_body_json(r#"{"b":{"y":1,"x":2},"a":[1.50,2]}"#)
            .unwrap()
    };
    for provider in [Anthropic, Chat, Gemini, Bedrock] {
        let one = body(provider, build(), true);
        assert_eq!(one, body(provider, build(), true));
        assert!(one.contains("0.30000000000000004"), "{one}");
    }
}

// The extra body: a key the body has is replaced where it stands, a new key appended
// in the order given.
bytes! {
    extra_body_new_keys_go_last_in_the_order_given: Anthropic,
        opts().extra_body_field("service_tier", json!("auto")).extra_body_field("metadata", json!({"user_id": "u-1"})),
        false => obj(&[
            A_HEAD, r#""max_tokens":4096"#, r#""stream":true"#, A_MESSAGES,
            r#""service_tier":"auto""#, r#""metadata":{"user_id":"u-1"}"#,
        ]);
    extra_body_replaces_a_body_key_in_place: Anthropic,
        opts().extra_body_field("max_tokens", json!(99)).extra_body_field("stream", json!(false)),
        false => obj(&[A_HEAD, r#""max_tokens":99"#, r#""stream":false"#, A_MESSAGES]);
    extra_body_replaces_an_option_in_place: Chat,
        opts().temperature(0.5).top_p(0.5).extra_body_field("temperature", json!(0)),
        false => obj(&[
            r#""model":"gpt-5","stream":true,"stream_options":{"include_usage":true}"#,
            r#""temperature":0"#, r#""top_p":0.5"#, O_MESSAGES,
        ]);
    extra_body_key_set_twice_keeps_its_first_place_and_last_value: Responses,
        opts().extra_body_field("store", json!(true)).extra_body_field("user", json!("u"))
            .extra_body_field("store", json!(false)),
        false => obj(&[r#""model":"gpt-5","stream":true"#, R_INPUT, r#""store":false"#, r#""user":"u""#]);
    extra_body_json_keeps_the_texts_order: Anthropic,
        opts().extra_body_json(r#"{"z": 1, "a": 2, "max_tokens": 7}"#).unwrap(),
        false => obj(&[A_HEAD, r#""max_tokens":7"#, r#""stream":true"#, A_MESSAGES, r#""z":1"#, r#""a":2"#]);
    extra_body_replaces_gemini_generation_config_whole: Gemini,
        opts().temperature(0.5).extra_body_field("generationConfig", json!({"candidateCount": 1})),
        false => obj(&[r#""generationConfig":{"candidateCount":1}"#, G_CONTENTS]);
    extra_body_on_bedrock_goes_after_the_model_fields: Bedrock,
        opts().thinking_budget(1024).extra_body_field("additionalModelResponseFieldPaths", json!(["/stop_sequence"])),
        false => obj(&[
            B_MESSAGES, r#""inferenceConfig":{"maxTokens":4096}"#,
            r#""additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}}"#,
            r#""additionalModelResponseFieldPaths":["/stop_sequence"]"#,
        ]);
}

#[test]
fn extra_body_json_must_be_an_object() {
    for text in ["[1]", "\"x\"", "3", "null", "{", "{\"a\":}"] {
        assert!(opts().extra_body_json(text).is_err(), "{text}");
    }
    let e = opts().extra_body_json("[1]").unwrap_err();
    assert!(e.to_string().contains("expected a JSON object"), "{e}");
}

#[test]
fn headers_are_kept_in_order() {
    let o = opts()
        .header("anthropic-beta", "a")
        .header("X-Trace", "1")
        .header("anthropic-beta", "b");
    let names: Vec<_> = o
        .headers()
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    assert_eq!(
        names,
        ["anthropic-beta: a", "X-Trace: 1", "anthropic-beta: b"]
    );
    assert_eq!(o.check(Anthropic), Ok(()));
    // Headers are not in the body.
    assert_eq!(body(Anthropic, o, false), body(Anthropic, opts(), false));
}

// Every validation error, word for word.
refused! {
    bad_header_name: Anthropic, opts().header("Bad Name", "x") => "header `Bad Name`: not a valid header name";
    empty_header_name: Chat, opts().header("", "x") => "header ``: not a valid header name";
    header_value_with_a_newline: Gemini, opts().header("X-A", "a\r\nX-B: b") =>
        "header `X-A`: its value holds a control character";
    anthropic_temperature_above_1: Anthropic, opts().temperature(1.5) =>
        "anthropic: temperature 1.5 is out of range (0 to 1)";
    bedrock_temperature_above_1: Bedrock, opts().temperature(1.01) =>
        "bedrock: temperature 1.01 is out of range (0 to 1)";
    chat_temperature_above_2: Chat, opts().temperature(2.5) =>
        "openai-chat: temperature 2.5 is out of range (0 to 2)";
    responses_temperature_below_0: Responses, opts().temperature(-0.1) =>
        "openai-responses: temperature -0.1 is out of range (0 to 2)";
    gemini_temperature_not_a_number: Gemini, opts().temperature(f64::NAN) =>
        "gemini: temperature NaN is out of range (0 to 2)";
    top_p_above_1: Chat, opts().top_p(1.5) => "openai-chat: top_p 1.5 is out of range (0 to 1)";
    responses_has_no_stop_sequences: Responses, opts().stop_sequences(["END"]) =>
        "openai-responses has no stop sequences";
    chat_takes_at_most_4_stop_sequences: Chat, opts().stop_sequences(["a", "b", "c", "d", "e"]) =>
        "openai-chat: stop sequences 5 is out of range (at most 4)";
    gemini_takes_at_most_5_stop_sequences: Gemini, opts().stop_sequences(["a", "b", "c", "d", "e", "f"]) =>
        "gemini: stop sequences 6 is out of range (at most 5)";
    bedrock_refuses_an_empty_stop_sequence: Bedrock, opts().stop_sequences(["END", ""]) =>
        "bedrock: stop sequence \"\" is out of range (at least 1 character)";
    bedrock_has_no_tool_choice_none: Bedrock, opts().tool_choice(ToolChoice::None) =>
        "bedrock has no tool choice none";
    anthropic_has_no_minimal_effort: Anthropic, opts().reasoning_effort(ReasoningEffort::Minimal) =>
        "anthropic has no minimal reasoning effort (low, medium or high)";
    bedrock_has_no_minimal_effort: Bedrock, opts().reasoning_effort(ReasoningEffort::Minimal) =>
        "bedrock has no minimal reasoning effort (low, medium or high)";
    chat_has_no_thinking_budget: Chat, opts().thinking_budget(2048) =>
        "openai-chat has no thinking budget (use a reasoning effort)";
    responses_has_no_thinking_budget: Responses, opts().thinking_budget(2048) =>
        "openai-responses has no thinking budget (use a reasoning effort)";
    gemini_refuses_a_level_and_a_budget: Gemini,
        opts().reasoning_effort(ReasoningEffort::Low).thinking_budget(1024) =>
        "gemini: a reasoning effort and a thinking budget cannot both be set";
    anthropic_budget_below_1024: Anthropic, opts().thinking_budget(1000) =>
        "anthropic: thinking budget 1000 is out of range (at least 1024)";
    anthropic_budget_not_below_the_default_max_tokens: Anthropic, opts().thinking_budget(4096) =>
        "anthropic: the thinking budget (4096) must be less than max tokens (4096)";
    anthropic_budget_not_below_max_tokens: Anthropic, opts().max_tokens(2000).thinking_budget(2000) =>
        "anthropic: the thinking budget (2000) must be less than max tokens (2000)";
    bedrock_budget_not_below_max_tokens: Bedrock, opts().max_tokens(1500).thinking_budget(2048) =>
        "bedrock: the thinking budget (2048) must be less than max tokens (1500)";
    anthropic_temperature_with_thinking: Anthropic, opts().thinking_budget(2048).temperature(0.5) =>
        "anthropic: temperature 0.5 with thinking on (leave it unset, or 1)";
    bedrock_temperature_with_thinking: Bedrock, opts().thinking_budget(2048).temperature(0.0) =>
        "bedrock: temperature 0 with thinking on (leave it unset, or 1)";
    anthropic_low_top_p_with_thinking: Anthropic, opts().thinking_budget(2048).top_p(0.9) =>
        "anthropic: top_p 0.9 with thinking on (0.95 to 1 allowed)";
    bedrock_top_p_with_thinking: Bedrock, opts().thinking_budget(2048).top_p(0.97) =>
        "bedrock: top_p 0.97 with thinking on (leave it unset)";
    anthropic_any_tool_with_thinking: Anthropic, opts().thinking_budget(2048).tool_choice(ToolChoice::Any) =>
        "anthropic: tool choice any forces tool use, which thinking does not allow (auto or none)";
    anthropic_named_tool_with_thinking: Anthropic,
        opts().thinking_budget(2048).tool_choice(ToolChoice::Tool("x".into())) =>
        "anthropic: tool choice `x` forces tool use, which thinking does not allow (auto or none)";
    bedrock_any_tool_with_thinking: Bedrock, opts().thinking_budget(2048).tool_choice(ToolChoice::Any) =>
        "bedrock: tool choice any forces tool use, which thinking does not allow (auto or none)";
    bedrock_max_tokens_0: Bedrock, opts().max_tokens(0) => "bedrock: max tokens 0 is out of range (at least 1)";
}

accepted! {
    nothing_anywhere_anthropic: Anthropic, opts();
    nothing_anywhere_chat: Chat, opts();
    nothing_anywhere_responses: Responses, opts();
    nothing_anywhere_gemini: Gemini, opts();
    nothing_anywhere_bedrock: Bedrock, opts();
    temperature_1_with_thinking: Anthropic, opts().thinking_budget(2048).temperature(1.0);
    top_p_095_with_thinking: Anthropic, opts().thinking_budget(2048).top_p(0.95);
    tool_choice_none_with_thinking: Anthropic, opts().thinking_budget(2048).tool_choice(ToolChoice::None);
    effort_without_thinking_leaves_sampling_free: Anthropic,
        opts().reasoning_effort(ReasoningEffort::Medium).temperature(0.0).tool_choice(ToolChoice::Any);
    anthropic_effort_and_budget_together: Anthropic,
        opts().max_tokens(8000).thinking_budget(4000).reasoning_effort(ReasoningEffort::Low);
    chat_4_stop_sequences: Chat, opts().stop_sequences(["a", "b", "c", "d"]);
    chat_minimal_effort: Chat, opts().reasoning_effort(ReasoningEffort::Minimal);
    gemini_minimal_effort: Gemini, opts().reasoning_effort(ReasoningEffort::Minimal);
    gemini_budget_0: Gemini, opts().thinking_budget(0);
    gemini_temperature_2: Gemini, opts().temperature(2.0);
    anthropic_many_stop_sequences: Anthropic, opts().stop_sequences(["a", "b", "c", "d", "e", "f"]);
    bedrock_named_tool: Bedrock, opts().tool_choice(ToolChoice::Tool("x".into()));
    extra_anything: Responses, opts().extra_body_field("service_tier", json!("flex")).header("OpenAI-Beta", "x");
}

#[test]
fn reasoning_effort_parses_its_four_levels() {
    for (text, level) in [
        ("minimal", ReasoningEffort::Minimal),
        ("low", ReasoningEffort::Low),
        ("medium", ReasoningEffort::Medium),
        ("high", ReasoningEffort::High),
    ] {
        assert_eq!(text.parse::<ReasoningEffort>(), Ok(level));
        assert_eq!(level.to_string(), text);
    }
    assert_eq!(
        "max".parse::<ReasoningEffort>().unwrap_err(),
        "unknown reasoning effort `max` (expected minimal, low, medium or high)"
    );
}
