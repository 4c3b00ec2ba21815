//! What the executor hands out: results, their error kinds, the turn they belong to, and
//! orphans (outputs that came after their call was answered).

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::tool::ToolOutput;

/// A turn's number: monotonic per conversation, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TurnId(pub u64);

impl TurnId {
    /// The turn after this one.
    pub fn next(self) -> TurnId {
        TurnId(self.0 + 1)
    }
}

impl fmt::Display for TurnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a call got an error result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolErrorKind {
    /// The tool returned an error of its own.
    Failed,
    /// The tool panicked.
    Panicked,
    /// No tool of that name is registered.
    UnknownTool,
    /// The arguments were not a complete, valid JSON object.
    InvalidArguments,
    /// The tool's timeout expired; its future was dropped.
    TimedOut,
    /// The turn's deadline expired before the tool finished; its future was dropped.
    TurnDeadline,
    /// The turn did not commit (it did not end with `tool_use`); the call was cancelled.
    Cancelled,
}

impl ToolErrorKind {
    /// A short snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ToolErrorKind::Failed => "failed",
            ToolErrorKind::Panicked => "panicked",
            ToolErrorKind::UnknownTool => "unknown_tool",
            ToolErrorKind::InvalidArguments => "invalid_arguments",
            ToolErrorKind::TimedOut => "timed_out",
            ToolErrorKind::TurnDeadline => "turn_deadline",
            ToolErrorKind::Cancelled => "cancelled",
        }
    }
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The turn the call belongs to.
    pub turn: TurnId,
    /// The call's position in the message: the ordering key.
    pub index: usize,
    /// The call's id.
    pub id: Arc<str>,
    /// The tool's name.
    pub name: Arc<str>,
    /// `None` for success, else why it failed.
    pub error: Option<ToolErrorKind>,
    /// The text sent back to the model: the tool's content, or a message saying what
    /// happened. For an answer in parts, every part's text joined by newlines.
    pub content: String,
    /// The tool's answer in parts (text, JSON, images) as it gave them, each written in the
    /// provider's own format; empty for a text answer and for errors.
    pub parts: Vec<crate::tool::ContentPart>,
    /// Whether the result belongs to a committed turn (and so to history).
    pub committed: bool,
}

impl ToolResult {
    /// Whether the tool succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// A result that arrived after its call was already answered (a blocking tool that ran
/// past its timeout, or work that finished as it was being cancelled). Kept apart: it never
/// enters history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The turn the call belonged to.
    pub turn: TurnId,
    /// The call's position in its message.
    pub index: usize,
    /// The call's id.
    pub id: Arc<str>,
    /// The tool's name.
    pub name: Arc<str>,
    /// What the tool produced.
    pub output: ToolOutput,
}

/// Where orphans go: shared by the turns of a conversation and observable by the caller.
#[derive(Debug, Clone, Default)]
pub struct OrphanBuffer {
    inner: Arc<Mutex<VecDeque<Orphan>>>,
}

impl OrphanBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an orphan.
    pub fn push(&self, orphan: Orphan) {
        self.lock().push_back(orphan);
    }

    /// Takes every orphan collected so far.
    pub fn drain(&self) -> Vec<Orphan> {
        self.lock().drain(..).collect()
    }

    /// The orphans collected so far, left in place.
    pub fn snapshot(&self) -> Vec<Orphan> {
        self.lock().iter().cloned().collect()
    }

    /// How many orphans are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Orphan>> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
