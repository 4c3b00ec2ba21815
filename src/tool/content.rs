//! What a tool answers with: text, or content parts (text, JSON, images) that each provider
//! gets in its own format (SPEC §6; see `request::parts`).

use std::fmt::Write as _;

use serde_json::Value;

/// One part of a tool's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text(String),
    /// A JSON value: Bedrock takes it as a `json` block and Gemini as the function
    /// response's value; the others get its compact text.
    Json(Value),
    /// An image, base64-encoded.
    Image {
        /// Its media type (`image/png`, `image/jpeg`, `image/gif`, `image/webp`).
        media_type: String,
        /// The image bytes in standard base64 (RFC 4648 §4, with padding).
        data: String,
    },
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text(text.into())
    }

    /// A JSON part.
    pub fn json(value: Value) -> Self {
        ContentPart::Json(value)
    }

    /// An image part from its media type and base64 data.
    pub fn image_base64(media_type: impl Into<String>, data: impl Into<String>) -> Self {
        ContentPart::Image {
            media_type: media_type.into(),
            data: data.into(),
        }
    }

    /// The part as text, for providers with no place for it: the text itself, JSON's
    /// compact text, or a note naming the image (the model is told an image was left out,
    /// never handed base64 as prose).
    pub fn to_text(&self) -> String {
        match self {
            ContentPart::Text(t) => t.clone(),
            ContentPart::Json(v) => v.to_string(),
            ContentPart::Image { media_type, data } => {
                // Base64 length to bytes: 3 per 4 characters, less the padding.
                let padding = data.bytes().rev().take_while(|&b| b == b'=').count();
                let bytes = (data.len() / 4 * 3).saturating_sub(padding);
                format!("[{media_type} image of {bytes} bytes, left out: not content this API takes in a tool result]")
            }
        }
    }
}

/// A tool's successful answer: text (the common case, no allocation beyond the string),
/// or parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolContent {
    /// Text.
    Text(String),
    /// Content parts, in order.
    Parts(Vec<ContentPart>),
}

impl ToolContent {
    /// The answer as one text: the text, or every part's text joined by newlines.
    pub fn text(&self) -> String {
        match self {
            ToolContent::Text(t) => t.clone(),
            ToolContent::Parts(parts) => joined_text(parts),
        }
    }

    /// Splits the answer into its text and its parts (empty for a text answer).
    pub fn into_text_and_parts(self) -> (String, Vec<ContentPart>) {
        match self {
            ToolContent::Text(t) => (t, Vec::new()),
            ToolContent::Parts(parts) => (joined_text(&parts), parts),
        }
    }
}

/// Every part's text, joined by newlines.
pub(crate) fn joined_text(parts: &[ContentPart]) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match p {
            ContentPart::Text(t) => out.push_str(t),
            ContentPart::Json(v) => {
                let _ = write!(out, "{v}");
            }
            image => out.push_str(&image.to_text()),
        }
    }
    out
}

impl From<String> for ToolContent {
    fn from(text: String) -> Self {
        ToolContent::Text(text)
    }
}

impl From<&str> for ToolContent {
    fn from(text: &str) -> Self {
        ToolContent::Text(text.to_owned())
    }
}

impl From<Vec<ContentPart>> for ToolContent {
    fn from(parts: Vec<ContentPart>) -> Self {
        ToolContent::Parts(parts)
    }
}

impl From<ContentPart> for ToolContent {
    fn from(part: ContentPart) -> Self {
        ToolContent::Parts(vec![part])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_parts() {
        let content = ToolContent::from(vec![
            ContentPart::text("chart:"),
            ContentPart::json(serde_json::json!({"a": 1})),
            ContentPart::image_base64("image/png", "iVBORw0KGgo="),
        ]);
        assert_eq!(
            content.text(),
            "chart:\n{\"a\":1}\n[image/png image of 8 bytes, left out: not content this API takes in a tool result]"
        );
        let (text, parts) = ToolContent::from("plain").into_text_and_parts();
        assert_eq!((text.as_str(), parts.len()), ("plain", 0));
    }
}
