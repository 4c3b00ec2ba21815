//! A tool's own error: its message for the model, and whether the tool blames its
//! arguments.

use std::fmt;

use crate::execute::ToolErrorKind;

/// The error a tool returns: a message for the model, and its kind.
///
/// Most tools fail in their own way ([`ToolErrorKind::Failed`]): a `String` or `&str`
/// converts into that (`Err("no such city".into())`). A tool that refuses its arguments
/// says so with [`invalid_arguments`](Self::invalid_arguments), and its result is then
/// reported as [`ToolErrorKind::InvalidArguments`], as when the arguments do not fit a
/// typed tool: a tool whose arguments are checked elsewhere (an MCP server answering
/// JSON-RPC `-32602`, for one) reports the same thing the same way.
///
/// ```
/// use toolstream::{ToolError, ToolErrorKind};
///
/// let e: ToolError = "the service is down".into();
/// assert_eq!(e.kind(), ToolErrorKind::Failed);
/// let e = ToolError::invalid_arguments("`city` is required");
/// assert_eq!((e.kind(), e.message()), (ToolErrorKind::InvalidArguments, "`city` is required"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    invalid_arguments: bool,
    message: String,
}

impl ToolError {
    /// The tool failed: [`ToolErrorKind::Failed`] (what `From<String>` gives).
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError {
            invalid_arguments: false,
            message: message.into(),
        }
    }

    /// The tool refused its arguments: [`ToolErrorKind::InvalidArguments`].
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        ToolError {
            invalid_arguments: true,
            message: message.into(),
        }
    }

    /// [`Failed`](ToolErrorKind::Failed) or
    /// [`InvalidArguments`](ToolErrorKind::InvalidArguments): the only two a tool reports.
    pub fn kind(&self) -> ToolErrorKind {
        if self.invalid_arguments {
            ToolErrorKind::InvalidArguments
        } else {
            ToolErrorKind::Failed
        }
    }

    /// The message sent back to the model.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message, owned.
    pub fn into_message(self) -> String {
        self.message
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolError {}

impl From<String> for ToolError {
    fn from(message: String) -> Self {
        ToolError::failed(message)
    }
}

impl From<&str> for ToolError {
    fn from(message: &str) -> Self {
        ToolError::failed(message)
    }
}

/// Compares the message, whatever the kind: `assert_eq!(output, Err("boom".into()))` and
/// `assert_eq!(error, "boom")` read naturally in tests.
impl PartialEq<str> for ToolError {
    fn eq(&self, other: &str) -> bool {
        self.message == other
    }
}

impl PartialEq<&str> for ToolError {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;

    use futures_util::StreamExt;

    use super::*;
    use crate::event::{Block, Delta, StopKind, StopReason, StreamEvent, Usage};
    use crate::{Provider, ToolRegistry, TurnConfig, TurnEvent, TurnStream};

    /// One call of `name` with `{}`, ending with `tool_use`.
    fn one_call(name: &str) -> Vec<Result<StreamEvent, Infallible>> {
        [
            StreamEvent::MessageStart {
                id: None,
                model: None,
                usage: Usage::default(),
            },
            StreamEvent::BlockStart {
                index: 0,
                block: Block::ToolUse {
                    id: "toolu_0".into(),
                    name: name.into(),
                },
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: Delta::ToolInput("{}".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::new(StopKind::ToolUse, "tool_use")),
                usage: Usage::default(),
            },
            StreamEvent::MessageStop,
        ]
        .into_iter()
        .map(Ok)
        .collect()
    }

    async fn result_of(tools: ToolRegistry, name: &str) -> (Option<ToolErrorKind>, String) {
        let events = futures_util::stream::iter(one_call(name));
        let turn = TurnStream::new(
            events,
            Arc::new(tools),
            TurnConfig::new(Provider::Anthropic),
        );
        let all: Vec<TurnEvent> = turn.map(|e| e.unwrap()).collect().await;
        all.into_iter()
            .find_map(|e| match e {
                TurnEvent::Result(r) => Some((r.error, r.content)),
                _ => None,
            })
            .expect("a result")
    }

    /// A tool's own kind reaches its result: before `ToolError`, every `Err` was `Failed`.
    #[tokio::test]
    async fn a_tool_reports_its_kind() {
        let tools = ToolRegistry::new()
            .with_raw_fn("refuses", |_| {
                Box::pin(async { Err(ToolError::invalid_arguments("`city` is required")) })
            })
            .with_raw_fn("breaks", |_| {
                Box::pin(async { Err("the disk is full".into()) })
            })
            .with_raw_fn("mute", |_| {
                Box::pin(async { Err(ToolError::invalid_arguments(" ")) })
            })
            .with_blocking_fn("blocks", |_| Err(ToolError::invalid_arguments("no")));
        let cases = [
            (
                "refuses",
                ToolErrorKind::InvalidArguments,
                "`city` is required",
            ),
            ("breaks", ToolErrorKind::Failed, "the disk is full"),
            (
                "mute",
                ToolErrorKind::InvalidArguments,
                "the tool `mute` failed without a message",
            ),
            ("blocks", ToolErrorKind::InvalidArguments, "no"),
        ];
        for (name, kind, content) in cases {
            let got = result_of(tools.clone(), name).await;
            assert_eq!(got, (Some(kind), content.to_owned()), "{name}");
        }
    }

    #[test]
    fn conversions_and_comparisons() {
        let e = ToolError::from(String::from("boom"));
        assert_eq!(
            (e.kind(), e.to_string()),
            (ToolErrorKind::Failed, "boom".into())
        );
        assert_eq!(e, "boom");
        assert_eq!(e.clone().into_message(), "boom");
        let output: crate::ToolOutput = Err("boom".into());
        assert_eq!(output, Err(ToolError::failed("boom")));
    }
}
