//! A conversation's state, saved and restored with serde: the history (raw JSON, byte for
//! byte), the next turn id, the token counts and the orphans.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Conversation, ConversationConfig, ConversationError};
use crate::client::ModelClient;
use crate::event::Usage;
use crate::execute::{Orphan, OrphanBuffer, TurnId};
use crate::provider::Provider;
use crate::tool::ToolRegistry;

/// What [`Conversation::state`] saves and [`Conversation::restore`] resumes from. With
/// serde it is a JSON object:
///
/// ```json
/// {"provider": "anthropic", "history": [...], "next_turn": 4, "usage": {...}, "orphans": []}
/// ```
///
/// The history is kept as raw JSON, so a restored conversation sends the same bytes as one
/// that was never saved (and a provider's prompt cache still hits). The client (model,
/// system prompt, options), the tools and the config are not state: they are given again
/// to [`Conversation::restore`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationState {
    /// The provider whose wire format the history is in.
    #[serde(with = "provider_name")]
    pub provider: Provider,
    /// The history, in that provider's wire format, exactly as sent.
    pub history: Vec<Box<RawValue>>,
    /// The id the next turn gets.
    #[serde(with = "turn_number")]
    pub next_turn: TurnId,
    /// The token counts of every request so far.
    #[serde(default)]
    pub usage: Usage,
    /// Late results of earlier turns (never part of history).
    #[serde(default, with = "saved_orphans")]
    pub orphans: Vec<Orphan>,
}

impl Conversation {
    /// The conversation's state, to save (with serde) and [`restore`](Self::restore)
    /// later. Call it between messages: while a message runs, the stream holds the
    /// conversation.
    pub fn state(&self) -> ConversationState {
        ConversationState {
            provider: self.client.provider(),
            history: self.history.clone(),
            next_turn: self.next_turn,
            usage: self.usage,
            orphans: self.orphans.snapshot(),
        }
    }

    /// A conversation that resumes from `state`, with `client`, `tools` and `config`
    /// (which are not state: the system prompt, say, may differ from the saved run's).
    ///
    /// # Errors
    ///
    /// [`ConversationError::ProviderMismatch`] when `client` is for another provider than
    /// the one the state was saved with.
    pub fn restore(
        client: ModelClient,
        tools: ToolRegistry,
        config: ConversationConfig,
        state: ConversationState,
    ) -> Result<Conversation, ConversationError> {
        if client.provider() != state.provider {
            return Err(ConversationError::ProviderMismatch {
                saved: state.provider,
                client: client.provider(),
            });
        }
        let mut conversation = Conversation::new(client, tools, config);
        conversation.history = state.history;
        conversation.next_turn = state.next_turn;
        conversation.usage = state.usage;
        let orphans = OrphanBuffer::new();
        for orphan in state.orphans {
            orphans.push(orphan);
        }
        conversation.orphans = orphans;
        Ok(conversation)
    }
}

/// A provider as its name (`anthropic`, `openai-chat`, ...).
mod provider_name {
    use serde::{de, Deserialize, Deserializer, Serializer};

    use crate::provider::Provider;

    pub(super) fn serialize<S: Serializer>(provider: &Provider, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(provider.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Provider, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        name.parse().map_err(de::Error::custom)
    }
}

/// A turn id as its number.
mod turn_number {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::execute::TurnId;

    pub(super) fn serialize<S: Serializer>(turn: &TurnId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(turn.0)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TurnId, D::Error> {
        u64::deserialize(d).map(TurnId)
    }
}

/// Orphans as plain data: `{"turn", "index", "id", "name", "output"}`, the output
/// `{"text": ...}`, `{"parts": [...]}`, `{"error": ...}` or `{"invalid_arguments": ...}`.
mod saved_orphans {
    use super::*;
    use crate::execute::ToolErrorKind;
    use crate::tool::{ContentPart, ToolContent, ToolError};

    #[derive(Serialize, Deserialize)]
    struct SavedOrphan {
        turn: u64,
        index: usize,
        id: Arc<str>,
        name: Arc<str>,
        output: SavedOutput,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum SavedOutput {
        Text(String),
        Parts(Vec<SavedPart>),
        Error(String),
        /// A tool's [`ToolError::invalid_arguments`].
        InvalidArguments(String),
    }

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum SavedPart {
        Text { text: String },
        Json { value: serde_json::Value },
        Image { media_type: String, data: String },
    }

    pub(super) fn serialize<S: serde::Serializer>(
        orphans: &[Orphan],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let saved: Vec<SavedOrphan> = orphans
            .iter()
            .map(|o| SavedOrphan {
                turn: o.turn.0,
                index: o.index,
                id: o.id.clone(),
                name: o.name.clone(),
                output: match &o.output {
                    Ok(ToolContent::Text(t)) => SavedOutput::Text(t.clone()),
                    Ok(ToolContent::Parts(parts)) => {
                        SavedOutput::Parts(parts.iter().map(save_part).collect())
                    }
                    Err(e) if e.kind() == ToolErrorKind::InvalidArguments => {
                        SavedOutput::InvalidArguments(e.message().to_owned())
                    }
                    Err(e) => SavedOutput::Error(e.message().to_owned()),
                },
            })
            .collect();
        saved.serialize(s)
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Orphan>, D::Error> {
        let saved = Vec::<SavedOrphan>::deserialize(d)?;
        Ok(saved
            .into_iter()
            .map(|o| Orphan {
                turn: TurnId(o.turn),
                index: o.index,
                id: o.id,
                name: o.name,
                output: match o.output {
                    SavedOutput::Text(t) => Ok(ToolContent::Text(t)),
                    SavedOutput::Parts(parts) => Ok(ToolContent::Parts(
                        parts.into_iter().map(restore_part).collect(),
                    )),
                    SavedOutput::Error(e) => Err(ToolError::failed(e)),
                    SavedOutput::InvalidArguments(e) => Err(ToolError::invalid_arguments(e)),
                },
            })
            .collect())
    }

    fn save_part(part: &ContentPart) -> SavedPart {
        match part {
            ContentPart::Text(text) => SavedPart::Text { text: text.clone() },
            ContentPart::Json(value) => SavedPart::Json {
                value: value.clone(),
            },
            ContentPart::Image { media_type, data } => SavedPart::Image {
                media_type: media_type.clone(),
                data: data.clone(),
            },
        }
    }

    fn restore_part(part: SavedPart) -> ContentPart {
        match part {
            SavedPart::Text { text } => ContentPart::Text(text),
            SavedPart::Json { value } => ContentPart::Json(value),
            SavedPart::Image { media_type, data } => ContentPart::Image { media_type, data },
        }
    }
}
