//! When a complete tool call is launched: with the whole message (batched), the moment it
//! is complete (eager), or eagerly only for tools marked safe to start early (per tool).

use std::fmt;
use std::str::FromStr;

use crate::tool::RegisteredTool;

/// The dispatch policy of a turn (SPEC §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DispatchPolicy {
    /// Complete calls wait until the message ends with stop reason `tool_use`, then all
    /// are launched together. The default.
    #[default]
    Batched,
    /// Each call is launched as soon as it is complete, while the model still streams.
    Eager,
    /// Eager for tools marked [`eager_safe`](crate::ToolOptions::eager_safe), batched for
    /// the others.
    PerTool,
}

impl DispatchPolicy {
    /// Whether a call of `tool` starts before the message ends.
    pub fn starts_early(self, tool: Option<&RegisteredTool>) -> bool {
        match self {
            DispatchPolicy::Batched => false,
            DispatchPolicy::Eager => true,
            DispatchPolicy::PerTool => tool.is_some_and(|t| t.options().is_eager_safe()),
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchPolicy::Batched => "batched",
            DispatchPolicy::Eager => "eager",
            DispatchPolicy::PerTool => "per-tool",
        }
    }
}

impl fmt::Display for DispatchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DispatchPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "batched" => Ok(DispatchPolicy::Batched),
            "eager" => Ok(DispatchPolicy::Eager),
            "per-tool" => Ok(DispatchPolicy::PerTool),
            other => Err(format!(
                "unknown dispatch policy `{other}` (expected batched, eager or per-tool)"
            )),
        }
    }
}
