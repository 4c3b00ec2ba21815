//! Tool results with content parts (text, JSON, images), in each provider's own format;
//! text where a provider has no place for a part. A result without parts is its text,
//! written as before (byte for byte).
//!
//! | provider | where the parts go |
//! |---|---|
//! | anthropic | `tool_result.content`: `text` and `image` (`source.type: base64`) blocks |
//! | openai-chat | `tool` message `content`: text only (images become a note) |
//! | openai-responses | `function_call_output.output`: `input_text`, `input_image` (data URL) |
//! | gemini | `functionResponse.response.output` (text, or the JSON value), images in `functionResponse.parts[].inlineData` |
//! | bedrock | `toolResult.content`: `text`, `json`, `image` (`format`, `source.bytes`) |

use super::J;
use crate::execute::ToolResult;
use crate::tool::{joined_text, ContentPart};

/// The image types Anthropic, OpenAI and Bedrock all take ("image/jpeg, image/png,
/// image/gif, image/webp"); another goes as a note in text.
/// An Anthropic image block: "image", `source.type: base64` with `media_type` and `data`
/// (tool results and user messages alike).
pub(crate) fn anthropic_image<'a>(media_type: &'a str, data: &'a str) -> J<'a> {
    J::Obj(vec![
        ("type", J::Str("image")),
        (
            "source",
            J::Obj(vec![
                ("type", J::Str("base64")),
                ("media_type", J::Str(media_type)),
                ("data", J::Str(data)),
            ]),
        ),
    ])
}

fn web_image(media_type: &str) -> bool {
    matches!(
        media_type,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp"
    )
}

/// A text part that a provider would refuse as blank (Anthropic: "text content blocks must
/// be non-empty"; Bedrock: "The text field in the ContentBlock object is blank").
fn blank(part: &ContentPart) -> bool {
    matches!(part, ContentPart::Text(t) if t.trim().is_empty())
}

/// Anthropic `tool_result.content`: the text, or blocks ("content can be a string or a list
/// of content blocks: text, image, document").
pub(super) fn anthropic(r: &ToolResult) -> J<'_> {
    if r.parts.is_empty() {
        return J::Str(&r.content);
    }
    let blocks: Vec<J<'_>> = r
        .parts
        .iter()
        .filter(|p| !blank(p))
        .map(|p| match p {
            ContentPart::Image { media_type, data } if web_image(media_type) => {
                anthropic_image(media_type, data)
            }
            ContentPart::Text(t) => J::Obj(vec![("type", J::Str("text")), ("text", J::Str(t))]),
            other => J::Obj(vec![
                ("type", J::Str("text")),
                ("text", J::String(other.to_text())),
            ]),
        })
        .collect();
    if blocks.is_empty() {
        return J::Str(&r.content);
    }
    J::Arr(blocks)
}

/// OpenAI Chat `tool` message content: "The contents of the tool message", text (or text
/// parts) only, so every part goes as text.
pub(super) fn openai_chat(r: &ToolResult) -> J<'_> {
    J::Str(&r.content)
}

/// OpenAI Responses `function_call_output.output`: a string, or a list of `input_text`,
/// `input_image` and `input_file` items.
pub(super) fn openai_responses(r: &ToolResult) -> J<'_> {
    if r.parts.is_empty() {
        return J::Str(&r.content);
    }
    J::Arr(
        r.parts
            .iter()
            .map(|p| match p {
                ContentPart::Image { media_type, data } if web_image(media_type) => J::Obj(vec![
                    ("type", J::Str("input_image")),
                    (
                        "image_url",
                        J::String(format!("data:{media_type};base64,{data}")),
                    ),
                ]),
                ContentPart::Text(t) => {
                    J::Obj(vec![("type", J::Str("input_text")), ("text", J::Str(t))])
                }
                other => J::Obj(vec![
                    ("type", J::Str("input_text")),
                    ("text", J::String(other.to_text())),
                ]),
            })
            .collect(),
    )
}

/// Gemini: the value under `response.output` ("Use "output" key to specify function
/// output"): the text, or the JSON value when the answer is one JSON part; and the
/// `functionResponse.parts` (`inlineData {mimeType, data}`) for images, `None` without.
pub(super) fn gemini(r: &ToolResult) -> (J<'_>, Option<J<'_>>) {
    let images: Vec<J<'_>> = r
        .parts
        .iter()
        .filter_map(|p| match p {
            ContentPart::Image { media_type, data } => Some(J::Obj(vec![(
                "inlineData",
                J::Obj(vec![
                    ("mimeType", J::Str(media_type)),
                    ("data", J::Str(data)),
                ]),
            )])),
            _ => None,
        })
        .collect();
    let rest: Vec<&ContentPart> = r
        .parts
        .iter()
        .filter(|p| !matches!(p, ContentPart::Image { .. }))
        .collect();
    let output = match rest.as_slice() {
        [] if r.parts.is_empty() => J::Str(&r.content),
        [ContentPart::Json(v)] => J::Value(v),
        rest => J::String(joined_text(
            &rest.iter().map(|p| (*p).clone()).collect::<Vec<_>>(),
        )),
    };
    (output, (!images.is_empty()).then_some(J::Arr(images)))
}

/// Bedrock `toolResult.content`: `text`, `json` and `image` blocks (`format` png, jpeg,
/// gif or webp; `source.bytes` base64 in the JSON protocol). Blank text is never sent:
/// when no part is left, `text` (never blank) stands for the answer.
pub(super) fn bedrock<'a>(r: &'a ToolResult, text: &'a str) -> Vec<J<'a>> {
    let blocks: Vec<J<'_>> = r
        .parts
        .iter()
        .filter(|p| !blank(p))
        .map(|p| match p {
            ContentPart::Text(t) => J::Obj(vec![("text", J::Str(t))]),
            ContentPart::Json(v) => J::Obj(vec![("json", J::Value(v))]),
            ContentPart::Image { media_type, data } => match media_type.strip_prefix("image/") {
                Some(format @ ("png" | "jpeg" | "gif" | "webp")) => J::Obj(vec![(
                    "image",
                    J::Obj(vec![
                        ("format", J::Str(format)),
                        ("source", J::Obj(vec![("bytes", J::Str(data))])),
                    ]),
                )]),
                _ => J::Obj(vec![("text", J::String(p.to_text()))]),
            },
        })
        .collect();
    if blocks.is_empty() {
        return vec![J::Obj(vec![("text", J::Str(text))])];
    }
    blocks
}
