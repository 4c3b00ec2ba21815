//! Amazon Bedrock: Converse messages, or Anthropic messages for InvokeModel turns.
//!
//! Converse (`ContentBlock` union, one member per block), in the order received:
//! - `reasoningContent`: "If you pass a reasoning block back to the API in a multi-turn
//!   conversation, include the text and its signature unmodified" (`reasoningText {text,
//!   signature}`; without a signature there is nothing to verify, and it is left out), or
//!   the `redactedContent` as received. Claude with thinking refuses an assistant turn with
//!   tool use that does not start with them;
//! - `text`, unless empty or whitespace only ("The text field in the ContentBlock object is
//!   blank");
//! - `toolUse` with the model's own input bytes.
//!
//! A turn read from InvokeModel (Anthropic events in `chunk` frames) goes back as the
//! Anthropic Messages body that InvokeModel takes.

use serde_json::value::RawValue;

use super::{raw_input, to_raw, Context, J};
use crate::assemble::AssembledMessage;
use crate::event::Block;
use crate::execute::ToolResult;

/// The text of a successful result with no output: Bedrock refuses blank text ("The text
/// field in the ContentBlock object is blank"), and `text` is the one `ToolResultContentBlock`
/// member every model family takes (`image` is "only supported by Amazon Nova and
/// Anthropic Claude 3 and 4 models"; an empty `json` object would read as data).
const NO_OUTPUT: &str = "(no output)";
/// The text of a failed result with no message (the turn machine names the failure; this
/// covers callers that build results themselves).
const NO_ERROR_MESSAGE: &str = "(the tool failed without a message)";

/// Whether the message was read from InvokeModel rather than ConverseStream. InvokeModel's
/// `chunk` frames carry Anthropic's `message_start`, whose Message object requires `id`
/// and `model`; Converse's `messageStart` carries only the `role`, so the Bedrock decoder
/// never gives a Converse message either.
fn is_invoke_model(message: &AssembledMessage) -> bool {
    message.id.is_some() && message.model.is_some()
}

/// The assistant message as it goes back into the history.
pub(super) fn assistant(message: &AssembledMessage) -> Box<RawValue> {
    if is_invoke_model(message) {
        return super::anthropic::assistant(message);
    }
    let inputs: Vec<&RawValue> = message.tool_calls.iter().map(|c| raw_input(c)).collect();
    let mut parts = Vec::new();

    for b in &message.blocks {
        match (&b.block, b.tool_call) {
            (Block::Thinking, _) if !b.signature.is_empty() => parts.push(J::Obj(vec![(
                "reasoningContent",
                J::Obj(vec![(
                    "reasoningText",
                    J::Obj(vec![
                        ("text", J::Str(&b.text)),
                        ("signature", J::Str(&b.signature)),
                    ]),
                )]),
            )])),
            // `{"reasoningContent":{"redactedContent":"<base64>"}}`, as the decoder kept it.
            (Block::RedactedThinking, _) => parts.extend(
                b.verbatim
                    .as_deref()
                    .and_then(|v| serde_json::from_str::<&RawValue>(v).ok())
                    .map(J::Raw),
            ),
            (Block::Text, _) if !b.text.trim().is_empty() => {
                parts.push(J::Obj(vec![("text", J::Str(&b.text))]));
            }
            (Block::ToolUse { id, name }, Some(c)) => parts.push(J::Obj(vec![(
                "toolUse",
                J::Obj(vec![
                    ("toolUseId", J::Str(id)),
                    ("name", J::Str(name)),
                    ("input", J::Raw(inputs[c])),
                ]),
            )])),
            _ => {}
        }
    }
    to_raw(&J::Obj(vec![
        ("role", J::Str("assistant")),
        ("content", J::Arr(parts)),
    ]))
}

/// Whether the model takes `toolResult.status`: "This field is only supported by Amazon
/// Nova and Anthropic Claude 3 and 4 models" (Bedrock API reference, `ToolResultBlock`).
/// `model` is a model id (`anthropic.claude-3-5-sonnet-20240620-v1:0`), a cross-region
/// inference profile (`us.anthropic.claude-sonnet-4-...`, `global.amazon.nova-...`) or an
/// ARN ending in one of those. Unknown models (`None`, application inference profiles)
/// do not get it.
fn accepts_status(model: Option<&str>) -> bool {
    let Some(model) = model else {
        return false;
    };
    let id = model.rsplit('/').next().unwrap_or(model);
    let family = |id: &str| id.starts_with("anthropic.claude") || id.starts_with("amazon.nova");
    family(id) || id.split_once('.').is_some_and(|(_, rest)| family(rest))
}

/// The tool-results message, in request order.
pub(super) fn results(cx: Context<'_>, results: &[ToolResult]) -> Box<RawValue> {
    if is_invoke_model(cx.message) {
        return super::anthropic::results(results);
    }
    let status = accepts_status(cx.model);
    let texts: Vec<String> = results
        .iter()
        .map(|r| {
            let text = match (r.content.trim().is_empty(), r.is_ok()) {
                (false, _) => r.content.as_str(),
                (true, true) => NO_OUTPUT,
                (true, false) => NO_ERROR_MESSAGE,
            };
            // Without `status` the error is said in the text.
            if r.is_ok() || status {
                text.to_owned()
            } else {
                format!("Error: {text}")
            }
        })
        .collect();

    let blocks = results
        .iter()
        .zip(&texts)
        .map(|(r, text)| {
            // An answer in parts keeps them (text, json, image); any other result is its
            // text, never blank.
            let content = match r.is_ok() && !r.parts.is_empty() {
                true => super::parts::bedrock(r, text),
                false => vec![J::Obj(vec![("text", J::Str(text))])],
            };
            let mut b = vec![("toolUseId", J::Str(&r.id)), ("content", J::Arr(content))];
            if !r.is_ok() && status {
                b.push(("status", J::Str("error")));
            }
            J::Obj(vec![("toolResult", J::Obj(b))])
        })
        .collect();
    to_raw(&J::Obj(vec![
        ("role", J::Str("user")),
        ("content", J::Arr(blocks)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::accepts_status;

    macro_rules! status {
        ($name:ident, $model:expr, $want:expr) => {
            #[test]
            fn $name() {
                assert_eq!(accepts_status($model), $want);
            }
        };
    }

    status!(
        claude_3,
        Some("anthropic.claude-3-5-sonnet-20240620-v1:0"),
        true
    );
    status!(
        claude_4_profile,
        Some("us.anthropic.claude-sonnet-4-20250514-v1:0"),
        true
    );
    status!(
        global_profile,
        Some("global.anthropic.claude-opus-4-1-20250805-v1:0"),
        true
    );
    status!(nova, Some("amazon.nova-pro-v1:0"), true);
    status!(nova_profile, Some("eu.amazon.nova-lite-v1:0"), true);
    status!(
        foundation_model_arn,
        Some("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"),
        true
    );
    status!(
        profile_arn,
        Some("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0"),
        true
    );
    status!(titan, Some("amazon.titan-text-premier-v1:0"), false);
    status!(llama, Some("meta.llama3-1-70b-instruct-v1:0"), false);
    status!(
        mistral_profile,
        Some("us.mistral.pixtral-large-2502-v1:0"),
        false
    );
    status!(
        application_profile,
        Some("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"),
        false
    );
    status!(unknown, None, false);
}
