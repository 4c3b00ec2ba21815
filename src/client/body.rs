//! The request body: the same conversation always gives the same bytes. Keys are written
//! in a fixed order and the history is embedded as raw JSON; prompt-cache breakpoints
//! (SPEC §9) are added to the body only, never to the stored history.

use serde_json::value::RawValue;

use super::ModelClient;
use crate::provider::Provider;
use crate::request::cache::{
    anthropic_message, bedrock_cache_points, bedrock_message, message_breakpoints,
};
use crate::request::{to_raw, J};
use crate::tool::ToolDefinition;

impl ModelClient {
    /// The request body for `history` with `tools`: same inputs, same bytes.
    pub fn request_body(&self, history: &[Box<RawValue>], tools: &[ToolDefinition]) -> String {
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
        let body = match self.provider {
            Provider::Anthropic => {
                let caching = self.caching.is_on();
                let mut f = vec![
                    ("model", J::Str(&self.model)),
                    ("max_tokens", J::Num(self.max_tokens)),
                    ("stream", J::Bool(true)),
                ];
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
                f.push(("messages", with_marked(history, &marked)));
                J::Obj(f)
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
                if !tools.is_empty() {
                    let wrap =
                        |d| J::Obj(vec![("type", J::Str("function")), ("function", J::Obj(d))]);
                    f.push((
                        "tools",
                        tool_defs(tools, &schemas, |_| Some("parameters"), wrap),
                    ));
                }
                f.push(("messages", J::Arr(all)));
                J::Obj(f)
            }
            Provider::OpenAiResponses => {
                let mut f = vec![("model", J::Str(&self.model)), ("stream", J::Bool(true))];
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
                f.push(("input", messages));
                J::Obj(f)
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
                f.push((
                    "inferenceConfig",
                    J::Obj(vec![("maxTokens", J::Num(self.max_tokens))]),
                ));
                if !tools.is_empty() {
                    let J::Arr(mut list) =
                        tool_defs(tools, &schemas, |_| Some("inputSchema"), bedrock_tool)
                    else {
                        unreachable!("tool_defs writes an array")
                    };
                    if tool_points {
                        list.push(J::Raw(point));
                    }
                    f.push(("toolConfig", J::Obj(vec![("tools", J::Arr(list))])));
                }
                J::Obj(f)
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
                f.push(("contents", messages));
                J::Obj(f)
            }
        };
        to_raw(&body).get().to_owned()
    }
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

