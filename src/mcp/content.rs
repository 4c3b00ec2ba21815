//! A `tools/call` result as a tool result.
//!
//! MCP 2025-11-25, Tools, Tool Result: "Tool results can contain structured or unstructured
//! content. Unstructured content is returned in the `content` field of a result, and can
//! contain multiple content items of different types": text, image, audio, resource links
//! and embedded resources. Each becomes what the providers can take:
//!
//! | MCP content | tool result part |
//! |---|---|
//! | `text` | [`ContentPart::Text`] |
//! | `image` | [`ContentPart::Image`] (its base64 data and MIME type as given) |
//! | `resource` with `text` | [`ContentPart::Text`]: the resource's text |
//! | `resource` with `blob` | a short text naming it (URI, type, size) |
//! | `audio` | a short text naming it (type, size): no provider takes audio in a tool result |
//! | `resource_link` | a short text naming it (name, URI, description) |
//!
//! "Structured content is returned as a JSON object in the `structuredContent` field of a
//! result. For backwards compatibility, a tool that returns structured content SHOULD also
//! return the serialized JSON in a TextContent block." So `structuredContent` becomes a
//! [`ContentPart::Json`] part (after the content) only when no text block already carries
//! the same JSON, or the same value as the official Python SDK wraps it (`{"result": X}`
//! beside the text of X); otherwise the model would read it twice.
//!
//! "Any errors that originate from the tool SHOULD be reported inside the result object,
//! with `isError` set to true": such a result is the tool's own error
//! ([`ToolErrorKind::Failed`](crate::ToolErrorKind::Failed)), its text the message.
//!
//! A result of one text block is plain text ([`ToolContent::Text`]), as a Rust tool's
//! `String` is; anything else goes as parts.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::Value;

use crate::tool::{ContentPart, ToolContent, ToolError, ToolOutput};

/// Whether a text block already says what `structured` says: it is its serialized JSON, or
/// `structured` is the official Python SDK's wrapping of a tool's plain return value,
/// `{"result": X}` (its servers answer a `-> str` tool with the text and
/// `{"result": text}`), with X the text itself or its JSON.
fn carries(text: &str, structured: &Value) -> bool {
    let parsed = serde_json::from_str::<Value>(text).ok();
    if parsed.as_ref() == Some(structured) {
        return true;
    }
    match structured
        .as_object()
        .and_then(|o| o.get("result").filter(|_| o.len() == 1))
    {
        Some(Value::String(s)) => s == text,
        Some(x) => parsed.as_ref() == Some(x),
        None => false,
    }
}

/// The tool result of a `tools/call` answer.
pub(crate) fn tool_output(result: CallToolResult) -> ToolOutput {
    let mut parts: Vec<ContentPart> = result.content.into_iter().map(part).collect();
    if let Some(structured) = result.structured_content {
        let carried = parts.iter().any(|p| match p {
            ContentPart::Text(text) => carries(text, &structured),
            _ => false,
        });
        if !carried {
            parts.push(ContentPart::Json(structured));
        }
    }
    let content = match <[ContentPart; 1]>::try_from(parts) {
        Ok([ContentPart::Text(text)]) => ToolContent::Text(text),
        Ok([other]) => ToolContent::Parts(vec![other]),
        Err(parts) if parts.is_empty() => ToolContent::Text(String::new()),
        Err(parts) => ToolContent::Parts(parts),
    };
    if result.is_error == Some(true) {
        return Err(ToolError::failed(content.text()));
    }
    Ok(content)
}

/// One content block as a part.
fn part(block: ContentBlock) -> ContentPart {
    match block {
        ContentBlock::Text(t) => ContentPart::Text(t.text),
        ContentBlock::Image(image) => ContentPart::image_base64(image.mime_type, image.data),
        ContentBlock::Audio(audio) => ContentPart::Text(format!(
            "[{} audio of {} bytes, left out: no model API takes audio in a tool result]",
            audio.mime_type,
            base64_len(&audio.data)
        )),
        ContentBlock::Resource(embedded) => match embedded.resource {
            ResourceContents::TextResourceContents { text, .. } => ContentPart::Text(text),
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => ContentPart::Text(format!(
                "[resource {uri} ({}, {} bytes), left out: binary]",
                mime_type.as_deref().unwrap_or("no type given"),
                base64_len(&blob)
            )),
            // A future kind of resource contents: named by what serializes of it.
            other => ContentPart::Text(format!(
                "[resource left out: {}]",
                serde_json::to_string(&other).unwrap_or_default()
            )),
        },
        ContentBlock::ResourceLink(link) => {
            let mut text = format!("[resource link: {} at {}", link.name, link.uri);
            if let Some(description) = link.description.filter(|d| !d.trim().is_empty()) {
                text.push_str(": ");
                text.push_str(&description);
            }
            text.push(']');
            ContentPart::Text(text)
        }
        // A future kind of block: its JSON, so nothing is dropped silently.
        other => ContentPart::Json(serde_json::to_value(&other).unwrap_or(Value::Null)),
    }
}

/// How many bytes standard base64 `data` holds: 3 per 4 characters, less the padding.
fn base64_len(data: &str) -> usize {
    let padding = data.bytes().rev().take_while(|&b| b == b'=').count();
    (data.len() / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ToolErrorKind;

    /// A `tools/call` result from its wire JSON, as a server sends it.
    fn output(wire: Value) -> ToolOutput {
        tool_output(serde_json::from_value(wire).expect("a CallToolResult"))
    }

    #[test]
    fn one_text_block_is_plain_text() {
        assert_eq!(
            output(json!({"content": [{"type": "text", "text": "sunny"}]})),
            Ok(ToolContent::Text("sunny".into()))
        );
        assert_eq!(
            output(json!({"content": []})),
            Ok(ToolContent::Text(String::new()))
        );
    }

    #[test]
    fn blocks_become_parts_in_order() {
        let got = output(json!({"content": [
            {"type": "text", "text": "chart:"},
            {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "A"}},
            {"type": "resource", "resource": {"uri": "file:///b.bin", "blob": "AAAA"}},
            {"type": "audio", "data": "AAAAAA==", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///c.md", "name": "c.md", "description": "notes"},
        ]}));
        assert_eq!(
            got,
            Ok(ToolContent::Parts(vec![
                ContentPart::text("chart:"),
                ContentPart::image_base64("image/png", "iVBORw0KGgo="),
                ContentPart::text("A"),
                ContentPart::text("[resource file:///b.bin (no type given, 3 bytes), left out: binary]"),
                ContentPart::text(
                    "[audio/wav audio of 4 bytes, left out: no model API takes audio in a tool result]"
                ),
                ContentPart::text("[resource link: c.md at file:///c.md: notes]"),
            ]))
        );
    }

    #[test]
    fn structured_content_is_added_unless_a_text_block_carries_it() {
        // Carried (the SHOULD of the spec): sent once, as the text.
        assert_eq!(
            output(json!({
                "content": [{"type": "text", "text": "{\"t\": 21}"}],
                "structuredContent": {"t": 21}
            })),
            Ok(ToolContent::Text("{\"t\": 21}".into()))
        );
        // Not carried: a JSON part after the content.
        assert_eq!(
            output(json!({
                "content": [{"type": "text", "text": "21 degrees"}],
                "structuredContent": {"t": 21}
            })),
            Ok(ToolContent::Parts(vec![
                ContentPart::text("21 degrees"),
                ContentPart::json(json!({"t": 21})),
            ]))
        );
        // The Python SDK's wrapping of a plain return value: carried by the text.
        assert_eq!(
            output(json!({
                "content": [{"type": "text", "text": "alpha: the first record"}],
                "structuredContent": {"result": "alpha: the first record"}
            })),
            Ok(ToolContent::Text("alpha: the first record".into()))
        );
        assert_eq!(
            output(json!({
                "content": [{"type": "text", "text": "42"}],
                "structuredContent": {"result": 42}
            })),
            Ok(ToolContent::Text("42".into()))
        );
        // A `result` key beside others is the tool's own structure: not carried.
        assert_eq!(
            output(json!({
                "content": [{"type": "text", "text": "42"}],
                "structuredContent": {"result": 42, "unit": "m"}
            })),
            Ok(ToolContent::Parts(vec![
                ContentPart::text("42"),
                ContentPart::json(json!({"result": 42, "unit": "m"})),
            ]))
        );
        assert_eq!(
            output(json!({"content": [], "structuredContent": {"t": 21}})),
            Ok(ToolContent::Parts(vec![ContentPart::json(
                json!({"t": 21})
            )]))
        );
    }

    #[test]
    fn is_error_is_the_tools_own_error() {
        let got = output(json!({
            "content": [{"type": "text", "text": "no such city"}, {"type": "text", "text": "try Paris"}],
            "isError": true
        }));
        let error = got.unwrap_err();
        assert_eq!(error.kind(), ToolErrorKind::Failed);
        assert_eq!(error.message(), "no such city\ntry Paris");
        assert_eq!(
            output(json!({"content": [{"type": "text", "text": "ok"}], "isError": false})),
            Ok(ToolContent::Text("ok".into()))
        );
    }
}
