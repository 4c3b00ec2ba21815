//! The request body: the same conversation always gives the same bytes. Keys are written
//! in a fixed order and the history is embedded as raw JSON; prompt-cache breakpoints
//! (SPEC §9) are added to the body only, never to the stored history.

use serde_json::value::RawValue;
use serde_json::Value;

use super::options::{RequestOptions, ToolChoice, DEFAULT_MAX_TOKENS};
use super::ModelClient;
use crate::provider::Provider;
use crate::request::cache::{
    anthropic_message, bedrock_cache_points, bedrock_message, message_breakpoints,
};
use crate::request::{to_raw, J};
use crate::tool::ToolDefinition;

impl ModelClient {
    /// The request body for `history` with `tools`: same inputs, same bytes.
    ///
    /// The [request options](RequestOptions) go where [`RequestOptions`] says, in its
    /// fixed key order. Options a provider does not take are not refused here (check
    /// them first with [`RequestOptions::check`]): those with a field are written as
    /// given; stop sequences on OpenAI Responses and a thinking budget on OpenAI have
    /// none and are left out, Bedrock's tool choice `none` is written as `auto`, and
    /// Gemini given both a reasoning effort and a thinking budget gets the level.
    pub fn request_body(&self, history: &[Box<RawValue>], tools: &[ToolDefinition]) -> String {
        let o = &self.options;
        // Numbers that are not integers go out as serde_json writes an f64 (shortest
        // round-trip form), from values made once here.
        let temperature = o.temperature.map(float);
        let top_p = o.top_p.map(float);
        let max_tokens = o.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        let stop = || J::Arr(o.stop_sequences.iter().map(|s| J::Str(s)).collect());
        let choice = o.tool_choice.as_ref().filter(|_| !tools.is_empty());
        let schemas: Vec<Box<RawValue>> = tools
            .iter()
            .map(|t| RawValue::from_string(t.schema.to_string()).expect("a Value is valid JSON"))
            .collect();
        let messages = J::Arr(history.iter().map(|m| J::Raw(m)).collect());
        let system = self.system.as_deref();
        // The breakpoint marker and the messages carrying it (SPEC §9), after the tools
        // and the system prompt.
        let fixed =
            usize::from(!tools.is_empty()) + usize::from(system.is_some_and(|s| !s.is_empty()));
        let (marker, marked) = match self.provider {
            Provider::Anthropic if self.caching.is_on() => (
                raw(self.caching.anthropic_marker()),
                message_breakpoints(history, fixed, |m| anthropic_message(m, self.caching)),
            ),
            Provider::Bedrock if self.caching.is_on() => match bedrock_cache_points(&self.model) {
                Some(points) => {
                    let fixed = usize::from(system.is_some())
                        + usize::from(points.tools && !tools.is_empty());
                    (
                        raw(self.caching.bedrock_block(points.one_hour)),
                        message_breakpoints(history, fixed, |m| {
                            bedrock_message(m, self.caching, points.one_hour)
                        }),
                    )
                }
                None => (raw("null"), Vec::new()),
            },
            _ => (raw("null"), Vec::new()),
        };
        let mut body = match self.provider {
            Provider::Anthropic => {
                let caching = self.caching.is_on();
                let mut f = vec![
                    ("model", J::Str(&self.model)),
                    ("max_tokens", J::Num(max_tokens)),
                    ("stream", J::Bool(true)),
                ];
                f.extend(sampling(["temperature", "top_p"], &temperature, &top_p));
                if !o.stop_sequences.is_empty() {
                    f.push(("stop_sequences", stop()));
                }
                f.extend(claude_reasoning(o));
                if let Some(s) = system {
                    // A string system prompt cannot carry a breakpoint; one text block can
                    // (not an empty one: "cache_control cannot be set for empty text
                    // blocks").
                    f.push((
                        "system",
                        if caching && !s.is_empty() {
                            J::Arr(vec![J::Obj(vec![
                                ("type", J::Str("text")),
                                ("text", J::Str(s)),
                                ("cache_control", J::Raw(&marker)),
                            ])])
                        } else {
                            J::Str(s)
                        },
                    ));
                }
                if !tools.is_empty() {
                    let last = tools.len() - 1;
                    let mut i = 0;
                    let wrap = |mut d: Vec<_>| {
                        if caching && i == last {
                            d.push(("cache_control", J::Raw(&marker)));
                        }
                        i += 1;
                        J::Obj(d)
                    };
                    f.push((
                        "tools",
                        tool_defs(tools, &schemas, |_| Some("input_schema"), wrap),
                    ));
                }
                if let Some(c) = choice {
                    // Messages API `tool_choice`: "The model can use a specific tool, any
                    // available tool, decide by itself, or not use tools at all":
                    // `{"type": "auto" | "any" | "none"}`, `{"type": "tool", "name"}`.
                    let kind = |t| vec![("type", J::Str(t))];
                    let c = match c {
                        ToolChoice::Auto => kind("auto"),
                        ToolChoice::Any => kind("any"),
                        ToolChoice::None => kind("none"),
                        ToolChoice::Tool(name) => {
                            vec![("type", J::Str("tool")), ("name", J::Str(name))]
                        }
                    };
                    f.push(("tool_choice", J::Obj(c)));
                }
                f.push(("messages", with_marked(history, &marked)));
                f
            }
            Provider::OpenAiChat => {
                let mut all = Vec::new();
                if let Some(s) = system {
                    all.push(J::Obj(vec![
                        ("role", J::Str("system")),
                        ("content", J::Str(s)),
                    ]));
                }
                all.extend(history.iter().map(|m| J::Raw(m)));
                let mut f = vec![
                    ("model", J::Str(&self.model)),
                    ("stream", J::Bool(true)),
                    (
                        "stream_options",
                        J::Obj(vec![("include_usage", J::Bool(true))]),
                    ),
                ];
                // `max_tokens` "is now deprecated in favor of `max_completion_tokens`,
                // and is not compatible with o-series models".
                if let Some(n) = o.max_tokens {
                    f.push(("max_completion_tokens", J::Num(n)));
                }
                f.extend(sampling(["temperature", "top_p"], &temperature, &top_p));
                if !o.stop_sequences.is_empty() {
                    f.push(("stop", stop()));
                }
                if let Some(e) = o.effort {
                    f.push(("reasoning_effort", J::Str(e.as_str())));
                }
                if !tools.is_empty() {
                    let wrap =
                        |d| J::Obj(vec![("type", J::Str("function")), ("function", J::Obj(d))]);
                    f.push((
                        "tools",
                        tool_defs(tools, &schemas, |_| Some("parameters"), wrap),
                    ));
                }
                if let Some(c) = choice {
                    // Chat Completions `tool_choice`: "`none` means the model will not call
                    // any tool [...] `auto` means the model can pick [...] `required` means
                    // the model must call one or more tools. Specifying a particular tool
                    // via `{"type": "function", "function": {"name": "my_function"}}`
                    // forces the model to call that tool."
                    let c = match c {
                        ToolChoice::Tool(name) => J::Obj(vec![
                            ("type", J::Str("function")),
                            ("function", J::Obj(vec![("name", J::Str(name))])),
                        ]),
                        other => J::Str(openai_mode(other)),
                    };
                    f.push(("tool_choice", c));
                }
                f.push(("messages", J::Arr(all)));
                f
            }
            Provider::OpenAiResponses => {
                let mut f = vec![("model", J::Str(&self.model)), ("stream", J::Bool(true))];
                if let Some(n) = o.max_tokens {
                    f.push(("max_output_tokens", J::Num(n)));
                }
                f.extend(sampling(["temperature", "top_p"], &temperature, &top_p));
                if let Some(e) = o.effort {
                    f.push(("reasoning", J::Obj(vec![("effort", J::Str(e.as_str()))])));
                }
                if let Some(s) = system {
                    f.push(("instructions", J::Str(s)));
                }
                if !tools.is_empty() {
                    // SPEC §6: "Responses function tools say `strict` explicitly". Left out,
                    // Responses normalizes a tool to strict mode, where every property is
                    // required: a schema's optional parameters would become required.
                    let wrap = |mut d: Vec<_>| {
                        d.insert(0, ("type", J::Str("function")));
                        d.push(("strict", J::Bool(false)));
                        J::Obj(d)
                    };
                    f.push((
                        "tools",
                        tool_defs(tools, &schemas, |_| Some("parameters"), wrap),
                    ));
                }
                if let Some(c) = choice {
                    // Responses `tool_choice`: the options `"none" | "auto" | "required"`,
                    // or a function, `{"type": "function", "name"}`.
                    let c = match c {
                        ToolChoice::Tool(name) => {
                            J::Obj(vec![("type", J::Str("function")), ("name", J::Str(name))])
                        }
                        other => J::Str(openai_mode(other)),
                    };
                    f.push(("tool_choice", c));
                }
                f.push(("input", messages));
                f
            }
            Provider::Bedrock => {
                // ConverseStream: the model is in the path; `cachePoint` blocks end the
                // tools, the system prompt and the last message (Claude and Nova only).
                let points = bedrock_cache_points(&self.model).filter(|_| self.caching.is_on());
                let caching = points.is_some();
                let tool_points = points.is_some_and(|p| p.tools);
                let point = &marker;
                let mut f = vec![("messages", with_marked(history, &marked))];
                if let Some(s) = system {
                    let mut blocks = vec![J::Obj(vec![("text", J::Str(s))])];
                    if caching {
                        blocks.push(J::Raw(point));
                    }
                    f.push(("system", J::Arr(blocks)));
                }
                // InferenceConfiguration: maxTokens, temperature, topP, stopSequences.
                let mut config = vec![("maxTokens", J::Num(max_tokens))];
                config.extend(sampling(["temperature", "topP"], &temperature, &top_p));
                if !o.stop_sequences.is_empty() {
                    config.push(("stopSequences", stop()));
                }
                f.push(("inferenceConfig", J::Obj(config)));
                if !tools.is_empty() {
                    let J::Arr(mut list) =
                        tool_defs(tools, &schemas, |_| Some("inputSchema"), bedrock_tool)
                    else {
                        unreachable!("tool_defs writes an array")
                    };
                    if tool_points {
                        list.push(J::Raw(point));
                    }
                    let mut config = vec![("tools", J::Arr(list))];
                    if let Some(c) = choice {
                        // ToolChoice: "This data type is a UNION, so only one of the
                        // following members can be specified": `{"any": {}}`,
                        // `{"auto": {}}`, `{"tool": {"name"}}`. No `none`: `check`
                        // refuses it; it is written as `auto`, the default.
                        let c = match c {
                            ToolChoice::Any => ("any", J::Obj(vec![])),
                            ToolChoice::Tool(name) => {
                                ("tool", J::Obj(vec![("name", J::Str(name))]))
                            }
                            _ => ("auto", J::Obj(vec![])),
                        };
                        config.push(("toolChoice", J::Obj(vec![c])));
                    }
                    f.push(("toolConfig", J::Obj(config)));
                }
                // Model-specific fields go to the model as they are: Claude's thinking
                // and effort (Bedrock user guide, "Extended thinking").
                let claude = claude_reasoning(o);
                if !claude.is_empty() {
                    f.push(("additionalModelRequestFields", J::Obj(claude)));
                }
                f
            }
            Provider::Gemini => {
                let mut f = Vec::new();
                if let Some(s) = system {
                    f.push((
                        "systemInstruction",
                        J::Obj(vec![(
                            "parts",
                            J::Arr(vec![J::Obj(vec![("text", J::Str(s))])]),
                        )]),
                    ));
                }
                if !tools.is_empty() {
                    // SPEC §6: "Gemini tool schemas go in `parametersJsonSchema` (JSON
                    // Schema, not the OpenAPI subset)": `parameters` refuses
                    // `additionalProperties`, `multipleOf` and more with a 400. A schema
                    // without properties is declared with no parameters at all.
                    let key = |t: &ToolDefinition| {
                        t.schema["properties"]
                            .as_object()
                            .is_some_and(|p| !p.is_empty())
                            .then_some("parametersJsonSchema")
                    };
                    let decls = tool_defs(tools, &schemas, key, J::Obj);
                    f.push((
                        "tools",
                        J::Arr(vec![J::Obj(vec![("functionDeclarations", decls)])]),
                    ));
                }
                if let Some(c) = choice {
                    // ToolConfig.functionCallingConfig, `mode`: AUTO, "ANY: Model is
                    // constrained to always predicting function calls only. If
                    // "allowedFunctionNames" are set, the predicted function calls will be
                    // limited to any one of "allowedFunctionNames"", NONE.
                    let mode = |m| vec![("mode", J::Str(m))];
                    let config = match c {
                        ToolChoice::Any => mode("ANY"),
                        ToolChoice::None => mode("NONE"),
                        ToolChoice::Tool(name) => vec![
                            ("mode", J::Str("ANY")),
                            ("allowedFunctionNames", J::Arr(vec![J::Str(name)])),
                        ],
                        _ => mode("AUTO"),
                    };
                    f.push((
                        "toolConfig",
                        J::Obj(vec![("functionCallingConfig", J::Obj(config))]),
                    ));
                }
                // GenerationConfig: maxOutputTokens, temperature, topP, stopSequences,
                // thinkingConfig.
                let mut config = Vec::new();
                if let Some(n) = o.max_tokens {
                    config.push(("maxOutputTokens", J::Num(n)));
                }
                config.extend(sampling(["temperature", "topP"], &temperature, &top_p));
                if !o.stop_sequences.is_empty() {
                    config.push(("stopSequences", stop()));
                }
                // ThinkingConfig: `thinkingLevel` (Gemini 3) or `thinkingBudget` (2.5),
                // never both (`check`); `includeThoughts` asks for thought summaries.
                let thinking = match (o.effort, o.thinking_budget) {
                    (Some(e), _) => Some(("thinkingLevel", J::Str(e.gemini()))),
                    (None, Some(n)) => Some(("thinkingBudget", J::Num(u64::from(n)))),
                    (None, None) => None,
                };
                if let Some(level) = thinking {
                    config.push((
                        "thinkingConfig",
                        J::Obj(vec![level, ("includeThoughts", J::Bool(true))]),
                    ));
                }
                if !config.is_empty() {
                    f.push(("generationConfig", J::Obj(config)));
                }
                f.push(("contents", messages));
                f
            }
        };
        // The extra body: a key the body has is replaced in place, a new one appended.
        for (key, value) in &o.extra_body {
            match body.iter_mut().find(|(k, _)| *k == key.as_str()) {
                Some((_, v)) => *v = J::Value(value),
                None => body.push((key.as_str(), J::Value(value))),
            }
        }
        to_raw(&J::Obj(body)).get().to_owned()
    }
}

/// A number that is not an integer, as JSON (a non-finite one, which JSON cannot spell
/// and `check` refuses, as `null`).
fn float(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Temperature and top p under the provider's two keys, those set.
fn sampling<'a>(
    keys: [&'a str; 2],
    temperature: &'a Option<Value>,
    top_p: &'a Option<Value>,
) -> impl Iterator<Item = (&'a str, J<'a>)> {
    let [t, p] = keys;
    let t = temperature.as_ref().map(|v| (t, J::Value(v)));
    let p = top_p.as_ref().map(|v| (p, J::Value(v)));
    t.into_iter().chain(p)
}

/// OpenAI's tool choice modes (Chat Completions and Responses): `auto`, `required`,
/// `none`.
fn openai_mode(c: &ToolChoice) -> &'static str {
    match c {
        ToolChoice::Any => "required",
        ToolChoice::None => "none",
        _ => "auto",
    }
}

/// Claude's reasoning fields, on Anthropic at the top level and on Bedrock inside
/// `additionalModelRequestFields`: `thinking: {"type": "enabled", "budget_tokens"}`
/// (Messages API `ThinkingConfigEnabled`) and `output_config: {"effort"}` (Messages API
/// `OutputConfig`, effort "low", "medium", "high"; Effort guide: "The effort parameter
/// is available on all supported models with no beta header required").
fn claude_reasoning(o: &RequestOptions) -> Vec<(&'static str, J<'static>)> {
    let mut f = Vec::new();
    if let Some(n) = o.thinking_budget {
        f.push((
            "thinking",
            J::Obj(vec![
                ("type", J::Str("enabled")),
                ("budget_tokens", J::Num(u64::from(n))),
            ]),
        ));
    }
    if let Some(e) = o.effort {
        f.push((
            "output_config",
            J::Obj(vec![("effort", J::Str(e.as_str()))]),
        ));
    }
    f
}

/// A Bedrock `Tool`: `{"toolSpec":{name, description, inputSchema}}`, where `inputSchema`
/// is a union whose `json` member holds the JSON Schema.
fn bedrock_tool<'a>(d: Vec<(&'a str, J<'a>)>) -> J<'a> {
    let d = d
        .into_iter()
        .map(|(k, v)| match k {
            "inputSchema" => (k, J::Obj(vec![("json", v)])),
            _ => (k, v),
        })
        .collect();
    J::Obj(vec![("toolSpec", J::Obj(d))])
}

/// The history as a JSON array, the `marked` messages in their new bytes.
fn with_marked<'a>(history: &'a [Box<RawValue>], marked: &'a [(usize, Box<RawValue>)]) -> J<'a> {
    J::Arr(
        history
            .iter()
            .enumerate()
            .map(|(i, m)| match marked.iter().find(|(at, _)| *at == i) {
                Some((_, new)) => J::Raw(new),
                None => J::Raw(m),
            })
            .collect(),
    )
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).expect("a constant JSON value")
}

/// Tool definitions as every provider writes them: name, description and the schema
/// under the provider's key (`None`: no schema), each wrapped the provider's way.
fn tool_defs<'a>(
    tools: &'a [ToolDefinition],
    schemas: &'a [Box<RawValue>],
    key: impl Fn(&ToolDefinition) -> Option<&'static str>,
    mut wrap: impl FnMut(Vec<(&'a str, J<'a>)>) -> J<'a>,
) -> J<'a> {
    let list = tools.iter().zip(schemas).map(|(t, s)| {
        let mut d = vec![
            ("name", J::Str(&t.name)),
            ("description", J::Str(&t.description)),
        ];
        if let Some(key) = key(t) {
            d.push((key, J::Raw(s)));
        }
        wrap(d)
    });
    J::Arr(list.collect())
}
