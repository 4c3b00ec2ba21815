//! What can go wrong reaching MCP servers: each error names the server.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A failure to reach an MCP server, list its tools, or read a `--mcp` command line.
///
/// Calls do not fail with this: a call that goes wrong is an error result in its slot
/// (see the [module docs](super#errors-of-a-call)).
#[derive(Debug)]
#[non_exhaustive]
pub enum McpError {
    /// A `--mcp` command line that cannot be run ([`McpServer::parse`](super::McpServer::parse)).
    BadCommand {
        /// The command line as given.
        command: String,
        /// Why.
        reason: String,
    },
    /// A server's configuration cannot be used (a bad URL or header).
    BadConfig {
        /// The server's label.
        server: String,
        /// Why.
        reason: String,
    },
    /// The server's program could not be started.
    Spawn {
        /// The server's label.
        server: String,
        /// The program.
        program: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The `initialize` handshake failed (the server exited, answered with an error, or
    /// spoke something else than MCP on its standard output).
    Handshake {
        /// The server's label.
        server: String,
        /// What rmcp said.
        source: Box<dyn Error + Send + Sync>,
        /// The end of what a stdio server wrote on its standard error, if anything.
        stderr: Option<String>,
    },
    /// `tools/list` failed.
    Listing {
        /// The server's label.
        server: String,
        /// What rmcp said.
        source: Box<dyn Error + Send + Sync>,
        /// The end of what a stdio server wrote on its standard error, if anything.
        stderr: Option<String>,
    },
    /// The handshake and listing did not finish within the connect timeout.
    Timeout {
        /// The server's label.
        server: String,
        /// The timeout ([`McpServer::connect_timeout`](super::McpServer::connect_timeout)).
        after: Duration,
        /// The end of what a stdio server wrote on its standard error, if anything.
        stderr: Option<String>,
    },
}

impl McpError {
    /// The label of the server the error concerns (`None` for a bad command line).
    pub fn server(&self) -> Option<&str> {
        match self {
            McpError::BadCommand { .. } => None,
            McpError::BadConfig { server, .. }
            | McpError::Spawn { server, .. }
            | McpError::Handshake { server, .. }
            | McpError::Listing { server, .. }
            | McpError::Timeout { server, .. } => Some(server),
        }
    }
}

impl fmt::Display for McpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            McpError::BadCommand { command, reason } => {
                write!(f, "bad MCP server command {command:?}: {reason}")
            }
            McpError::BadConfig { server, reason } => write!(f, "MCP server `{server}`: {reason}"),
            McpError::Spawn {
                server,
                program,
                source,
            } => write!(
                f,
                "MCP server `{server}`: could not start {program:?}: {source}"
            ),
            McpError::Handshake {
                server,
                source,
                stderr,
            } => {
                write!(
                    f,
                    "MCP server `{server}`: the initialize handshake failed: {source}"
                )?;
                said(f, stderr)
            }
            McpError::Listing {
                server,
                source,
                stderr,
            } => {
                write!(
                    f,
                    "MCP server `{server}`: listing its tools failed: {source}"
                )?;
                said(f, stderr)
            }
            McpError::Timeout {
                server,
                after,
                stderr,
            } => {
                write!(
                    f,
                    "MCP server `{server}`: no answer to the handshake and tool listing within {} ms",
                    after.as_millis()
                )?;
                said(f, stderr)
            }
        }
    }
}

/// Appends what the server wrote on its standard error.
fn said(f: &mut fmt::Formatter<'_>, stderr: &Option<String>) -> fmt::Result {
    match stderr {
        Some(text) => write!(f, " (its stderr ends: {text:?})"),
        None => Ok(()),
    }
}

impl Error for McpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            McpError::Spawn { source, .. } => Some(source),
            McpError::Handshake { source, .. } | McpError::Listing { source, .. } => {
                Some(source.as_ref())
            }
            McpError::BadCommand { .. } | McpError::BadConfig { .. } | McpError::Timeout { .. } => {
                None
            }
        }
    }
}
