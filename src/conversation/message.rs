//! User messages with content parts (text, images), in each provider's user-message format.
//!
//! | provider | text part | image part |
//! |---|---|---|
//! | anthropic | `{"type":"text","text"}` | `{"type":"image","source":{"type":"base64","media_type","data"}}` |
//! | openai-chat | `{"type":"text","text"}` | `{"type":"image_url","image_url":{"url":"data:<type>;base64,<data>"}}` |
//! | openai-responses | `{"type":"input_text","text"}` | `{"type":"input_image","image_url":"data:...","detail":"auto"}` |
//! | gemini | `{"text"}` | `{"inlineData":{"mimeType","data"}}` |
//! | bedrock | `{"text"}` | `{"image":{"format":"png","source":{"bytes"}}}` (base64 in the JSON protocol) |
//!
//! A message that is one text part is written exactly as [`ModelClient::user_message`]
//! writes text (a string `content` where the provider takes one), so a conversation's bytes
//! do not depend on which of the two made its messages.

use serde_json::value::RawValue;

use crate::client::ModelClient;
use crate::provider::Provider;
use crate::request::parts::anthropic_image;
use crate::request::{to_raw, J};
use crate::tool::ContentPart;

/// A user message: text, or content parts (text and images) that each provider gets in its
/// own format. `&str` and `String` convert into one.
///
/// ```
/// use toolstream::conversation::UserMessage;
///
/// let message = UserMessage::text("What is in this picture?")
///     .with_image_base64("image/png", "iVBORw0KGgo=");
/// assert_eq!(message.parts().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMessage {
    parts: Vec<ContentPart>,
}

impl UserMessage {
    /// A message of one text part.
    pub fn text(text: impl Into<String>) -> Self {
        UserMessage {
            parts: vec![ContentPart::Text(text.into())],
        }
    }

    /// A message of `parts`, in order. A [`ContentPart::Json`] part goes as its compact
    /// text (no provider takes JSON in a user message).
    pub fn from_parts(parts: Vec<ContentPart>) -> Self {
        UserMessage { parts }
    }

    /// Adds a text part.
    pub fn with_text(self, text: impl Into<String>) -> Self {
        self.with_part(ContentPart::Text(text.into()))
    }

    /// Adds an image from its media type and its bytes in standard base64. Anthropic,
    /// OpenAI and Bedrock take `image/jpeg`, `image/png`, `image/gif` and `image/webp`;
    /// another type is sent as given and refused by the provider, not swapped for text.
    pub fn with_image_base64(self, media_type: impl Into<String>, data: impl Into<String>) -> Self {
        self.with_part(ContentPart::image_base64(media_type, data))
    }

    /// Adds a part.
    pub fn with_part(mut self, part: ContentPart) -> Self {
        self.parts.push(part);
        self
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[ContentPart] {
        &self.parts
    }

    /// The message in `client`'s provider format.
    pub(crate) fn to_wire(&self, client: &ModelClient) -> Box<RawValue> {
        client.user_message_parts(&self.parts)
    }
}

impl From<&str> for UserMessage {
    fn from(text: &str) -> Self {
        UserMessage::text(text)
    }
}

impl From<String> for UserMessage {
    fn from(text: String) -> Self {
        UserMessage::text(text)
    }
}

impl From<Vec<ContentPart>> for UserMessage {
    fn from(parts: Vec<ContentPart>) -> Self {
        UserMessage::from_parts(parts)
    }
}

/// `parts` as a user message in `provider`'s format (see the [module docs](self)). Blank
/// text parts are left out beside other parts (Anthropic: "text content blocks must be
/// non-empty"; Bedrock refuses blank text).
pub(crate) fn user_message_parts(provider: Provider, parts: &[ContentPart]) -> Box<RawValue> {
    let kept: Vec<&ContentPart> = parts
        .iter()
        .filter(|p| !matches!(p, ContentPart::Text(t) if t.trim().is_empty()))
        .collect();
    let items: Vec<J<'_>> = kept.iter().map(|p| part(provider, p)).collect();
    let list = match provider {
        Provider::Gemini => "parts",
        _ => "content",
    };
    to_raw(&J::Obj(vec![
        ("role", J::Str("user")),
        (list, J::Arr(items)),
    ]))
}

/// One part in `provider`'s format.
fn part<'a>(provider: Provider, part: &'a ContentPart) -> J<'a> {
    let text = |t: J<'a>| match provider {
        Provider::Anthropic | Provider::OpenAiChat => {
            J::Obj(vec![("type", J::Str("text")), ("text", t)])
        }
        Provider::OpenAiResponses => J::Obj(vec![("type", J::Str("input_text")), ("text", t)]),
        Provider::Gemini | Provider::Bedrock => J::Obj(vec![("text", t)]),
    };
    let (media_type, data) = match part {
        ContentPart::Text(t) => return text(J::Str(t)),
        ContentPart::Json(v) => return text(J::String(v.to_string())),
        ContentPart::Image { media_type, data } => (media_type.as_str(), data.as_str()),
    };
    let data_url = || J::String(format!("data:{media_type};base64,{data}"));
    match provider {
        // Messages API: "image" blocks, `source.type: base64` with `media_type` and `data`.
        Provider::Anthropic => anthropic_image(media_type, data),
        // Chat Completions: `image_url.url`, "either a URL of the image or the base64
        // encoded image data" as a data URL.
        Provider::OpenAiChat => J::Obj(vec![
            ("type", J::Str("image_url")),
            ("image_url", J::Obj(vec![("url", data_url())])),
        ]),
        // Responses: `input_image` with `image_url` ("a fully qualified URL or base64
        // encoded image in a data URL") and `detail` ("Defaults to auto"; the SDKs' types
        // require it).
        Provider::OpenAiResponses => J::Obj(vec![
            ("type", J::Str("input_image")),
            ("image_url", data_url()),
            ("detail", J::Str("auto")),
        ]),
        // Gemini `Part.inlineData` (`Blob`: `mimeType`, base64 `data`).
        Provider::Gemini => J::Obj(vec![(
            "inlineData",
            J::Obj(vec![
                ("mimeType", J::Str(media_type)),
                ("data", J::Str(data)),
            ]),
        )]),
        // Converse `ImageBlock`: `format` ("png | jpeg | gif | webp") and
        // `source.bytes`, base64 in the JSON protocol.
        Provider::Bedrock => J::Obj(vec![(
            "image",
            J::Obj(vec![
                (
                    "format",
                    J::Str(media_type.strip_prefix("image/").unwrap_or(media_type)),
                ),
                ("source", J::Obj(vec![("bytes", J::Str(data))])),
            ]),
        )]),
    }
}
