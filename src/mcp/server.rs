//! How to reach one MCP server, and what the user says about its tools.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::model::ToolAnnotations;

use super::command;
use super::McpError;

/// The connect timeout's default.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Programs that run the server named by their first argument: a server started by one of
/// them is labelled after that argument (`npx -y @scope/server-everything` is
/// `server-everything`, `python3 fastmcp_server.py` is `fastmcp_server`).
const LAUNCHERS: &[&str] = &[
    "python", "python3", "node", "npx", "pnpx", "bunx", "uvx", "bun", "deno", "ruby", "sh", "bash",
];

/// How to reach one MCP server: a program to spawn (stdio) or a URL (streamable HTTP),
/// its label, and what the user says about its tools.
///
/// ```
/// use std::time::Duration;
/// use toolstream::McpServer;
///
/// let files = McpServer::stdio("files", "npx")
///     .args(["-y", "@modelcontextprotocol/server-filesystem", "/tmp"])
///     .eager("read_text_file", true)
///     .connect_timeout(Duration::from_secs(60));
/// let search = McpServer::http("search", "https://example.com/mcp")
///     .header("Authorization", "Bearer TOKEN");
/// let parsed = McpServer::parse("python3 'my server.py' --verbose")?;
/// assert_eq!(parsed.name(), "my server");
/// # Ok::<(), toolstream::McpError>(())
/// ```
#[derive(Clone)]
pub struct McpServer {
    pub(super) name: String,
    pub(super) transport: Transport,
    /// `eager(tool, yes)` calls, in order: the last one naming a tool wins.
    eager: Vec<(String, bool)>,
    eager_open_world: bool,
    pub(super) connect_timeout: Duration,
}

/// Where the server is.
#[derive(Clone)]
pub(super) enum Transport {
    Stdio {
        program: OsString,
        args: Vec<OsString>,
        env: Vec<(OsString, OsString)>,
        current_dir: Option<PathBuf>,
    },
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
}

impl McpServer {
    fn new(name: String, transport: Transport) -> Self {
        McpServer {
            name,
            transport,
            eager: Vec::new(),
            eager_open_world: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// A server spawned as a child process, speaking MCP on its standard input and output.
    /// `name` is the server's label: in errors, and in the prefix of tool names that
    /// collide across servers (see the [module docs](super#tool-names)).
    ///
    /// The program is looked up in `PATH` as [`std::process::Command`] does. Its standard
    /// error is captured, never mixed into this process's output (see
    /// [Standard error](super#standard-error-of-a-stdio-server)).
    pub fn stdio(name: impl Into<String>, program: impl Into<OsString>) -> Self {
        McpServer::new(
            name.into(),
            Transport::Stdio {
                program: program.into(),
                args: Vec::new(),
                env: Vec::new(),
                current_dir: None,
            },
        )
    }

    /// Adds an argument to the program (stdio only; no effect on an HTTP server).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        if let Transport::Stdio { args, .. } = &mut self.transport {
            args.push(arg.into());
        }
        self
    }

    /// Adds arguments to the program (stdio only; no effect on an HTTP server).
    pub fn args<I, S>(mut self, more: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        if let Transport::Stdio { args, .. } = &mut self.transport {
            args.extend(more.into_iter().map(Into::into));
        }
        self
    }

    /// Sets an environment variable of the program, on top of this process's environment
    /// (stdio only; no effect on an HTTP server).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        if let Transport::Stdio { env, .. } = &mut self.transport {
            env.push((key.into(), value.into()));
        }
        self
    }

    /// The program's working directory (default: this process's; stdio only).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        if let Transport::Stdio { current_dir, .. } = &mut self.transport {
            *current_dir = Some(dir.into());
        }
        self
    }

    /// A server at `url`, over the streamable HTTP transport. `https` uses rustls with the
    /// Mozilla root certificates (`webpki-roots`). Redirects are not followed.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Self {
        McpServer::new(
            name.into(),
            Transport::Http {
                url: url.into(),
                headers: Vec::new(),
            },
        )
    }

    /// Adds an HTTP header to every request, `Authorization` included (HTTP only; no
    /// effect on a stdio server). A name or value HTTP does not allow fails
    /// [`McpTools::connect`](super::McpTools::connect) with [`McpError::BadConfig`].
    /// Values are hidden from `Debug`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Transport::Http { headers, .. } = &mut self.transport {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// The command line form (SPEC §7, `--mcp "COMMAND"`): an `http://` or `https://` URL
    /// is a streamable HTTP server labelled with the URL's host; anything else is a
    /// command line, split into words as a POSIX shell does (blanks separate words;
    /// single quotes, double quotes and backslashes quote), with no variables, globs or
    /// operators, and spawned as a stdio server. Its label is the program's file stem, or
    /// for a launcher (`python3`, `node`, `npx`, `uvx`, ...) the stem of the first argument
    /// that is not an option (`npx -y @modelcontextprotocol/server-everything` is
    /// `server-everything`).
    ///
    /// # Errors
    ///
    /// [`McpError::BadCommand`]: an empty line, an unclosed quote, a trailing backslash,
    /// an unquoted shell operator (`|`, `&`, `;`, `<`, `>`, `(`, `)`, `` ` ``), or a URL
    /// that does not parse.
    pub fn parse(line: &str) -> Result<Self, McpError> {
        let bad = |reason: String| McpError::BadCommand {
            command: line.to_owned(),
            reason,
        };
        let trimmed = line.trim();
        let lower = trimmed.get(..8).unwrap_or(trimmed).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = reqwest13::Url::parse(trimmed).map_err(|e| bad(format!("bad URL: {e}")))?;
            let host = url.host_str().unwrap_or("http").to_owned();
            return Ok(McpServer::http(host, trimmed));
        }
        let mut words = command::split(line)
            .map_err(|e| bad(e.to_string()))?
            .into_iter();
        let program = words.next().expect("split gives a word or an error");
        if program.is_empty() {
            return Err(bad("the program is an empty word".into()));
        }
        let args: Vec<String> = words.collect();
        Ok(McpServer::stdio(label(&program, &args), program).args(args))
    }

    /// Overrides, for the tool `tool`, the eager eligibility its annotations give (see
    /// [Eager dispatch](super#eager-dispatch)): `true` lets it start while the model still
    /// streams under [`DispatchPolicy::PerTool`](crate::DispatchPolicy::PerTool), `false`
    /// keeps it batched. `tool` is the name the server gives it, or the name it is
    /// registered under. Default: no override; the last call naming a tool wins.
    pub fn eager(mut self, tool: &str, yes: bool) -> Self {
        self.eager.push((tool.to_owned(), yes));
        self
    }

    /// Whether a read-only tool that says `openWorldHint: true` is eager too (default
    /// `false`: a tool that reaches the outside world waits for the message to end).
    pub fn eager_open_world(mut self, yes: bool) -> Self {
        self.eager_open_world = yes;
        self
    }

    /// How long the `initialize` handshake and the tool listing may take together, at
    /// connect and at each restart (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The server's label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a tool may start early, from its annotations and the user's overrides.
    pub(super) fn decide_eager(
        &self,
        original: &str,
        registered: &str,
        annotations: Option<&ToolAnnotations>,
    ) -> bool {
        let chosen = self
            .eager
            .iter()
            .rev()
            .find(|(tool, _)| tool == original || tool == registered);
        if let Some((_, yes)) = chosen {
            return *yes;
        }
        let hint = |f: fn(&ToolAnnotations) -> Option<bool>| annotations.and_then(f);
        hint(|a| a.read_only_hint) == Some(true)
            && (self.eager_open_world || hint(|a| a.open_world_hint) != Some(true))
    }
}

/// A parsed command's label: the program's file stem, or its script's for a launcher.
fn label(program: &str, args: &[String]) -> String {
    let stem = |word: &str| {
        Path::new(word)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| word.to_owned())
    };
    let own = stem(program);
    let launcher = own.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if LAUNCHERS.contains(&own.as_str()) || LAUNCHERS.contains(&launcher) {
        if let Some(script) = args.iter().find(|a| !a.starts_with('-') && !a.is_empty()) {
            return stem(script);
        }
    }
    own
}

/// Environment values and header values are left out: they often hold credentials.
impl fmt::Debug for McpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("McpServer");
        d.field("name", &self.name);
        match &self.transport {
            Transport::Stdio {
                program,
                args,
                env,
                current_dir,
            } => {
                let env: Vec<_> = env.iter().map(|(k, _)| k).collect();
                d.field("program", program)
                    .field("args", args)
                    .field("env (values hidden)", &env)
                    .field("current_dir", current_dir);
            }
            Transport::Http { url, headers } => {
                let headers: Vec<_> = headers.iter().map(|(k, _)| k).collect();
                d.field("url", url)
                    .field("headers (values hidden)", &headers);
            }
        }
        d.field("eager", &self.eager)
            .field("eager_open_world", &self.eager_open_world)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(read_only: Option<bool>, open_world: Option<bool>) -> ToolAnnotations {
        ToolAnnotations::from_raw(None, read_only, None, None, open_world)
    }

    /// One line per case: annotations (read-only, open-world), then the decision.
    macro_rules! eager {
        ($server:expr; $($read_only:expr, $open_world:expr => $expected:expr),* $(,)?) => {$(
            let (read_only, open_world): (Option<bool>, Option<bool>) = ($read_only, $open_world);
            let a = annotations(read_only, open_world);
            assert_eq!(
                $server.decide_eager("t", "t", Some(&a)),
                $expected,
                "readOnlyHint {read_only:?}, openWorldHint {open_world:?}"
            );
        )*};
    }

    #[test]
    fn eager_from_annotations() {
        let s = McpServer::stdio("s", "x");
        eager! { s;
            Some(true), None => true,
            Some(true), Some(false) => true,
            Some(true), Some(true) => false,
            Some(false), None => false,
            Some(false), Some(false) => false,
            None, None => false,
            None, Some(false) => false,
        }
        assert!(!s.decide_eager("t", "t", None));
        let open = McpServer::stdio("s", "x").eager_open_world(true);
        eager! { open;
            Some(true), Some(true) => true,
            Some(false), Some(true) => false,
            None, None => false,
        }
    }

    #[test]
    fn a_user_override_wins() {
        let s = McpServer::stdio("s", "x")
            .eager("write", true)
            .eager("fetch", false)
            .eager("web__read", false);
        let read_only = annotations(Some(true), Some(false));
        let destructive = annotations(Some(false), None);
        assert!(s.decide_eager("write", "write", Some(&destructive)));
        assert!(!s.decide_eager("fetch", "fetch", Some(&read_only)));
        // By the registered name too.
        assert!(!s.decide_eager("read", "web__read", Some(&read_only)));
        // The last override naming a tool wins.
        let s = s.eager("write", false);
        assert!(!s.decide_eager("write", "write", None));
    }

    fn stdio_parts(server: &McpServer) -> (String, Vec<String>) {
        match &server.transport {
            Transport::Stdio { program, args, .. } => (
                program.to_string_lossy().into_owned(),
                args.iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            ),
            Transport::Http { .. } => panic!("not stdio"),
        }
    }

    #[test]
    fn parse_a_command_line() {
        let s = McpServer::parse("/usr/local/bin/my-server --root '/data dir'").unwrap();
        assert_eq!(s.name(), "my-server");
        assert_eq!(
            stdio_parts(&s),
            (
                "/usr/local/bin/my-server".into(),
                vec!["--root".into(), "/data dir".into()]
            )
        );
        for (line, label) in [
            (
                "npx -y @modelcontextprotocol/server-everything",
                "server-everything",
            ),
            ("python3 interop/fastmcp_server.py", "fastmcp_server"),
            ("python3.12 -u srv.py", "srv"),
            (
                "uvx mcp-server-time --local-timezone UTC",
                "mcp-server-time",
            ),
            ("node", "node"),
            ("toolstream mcp-demo-server", "toolstream"),
        ] {
            assert_eq!(McpServer::parse(line).unwrap().name(), label, "{line}");
        }
    }

    #[test]
    fn parse_a_url() {
        let s = McpServer::parse("  https://Example.com:8443/mcp  ").unwrap();
        assert_eq!(s.name(), "example.com");
        assert!(
            matches!(&s.transport, Transport::Http { url, .. } if url == "https://Example.com:8443/mcp")
        );
        assert!(matches!(
            McpServer::parse("http://"),
            Err(McpError::BadCommand { .. })
        ));
    }

    #[test]
    fn parse_refuses_what_it_cannot_run() {
        for line in ["", "  ", "'unclosed", "a | b", "''", "server \\"] {
            let e = McpServer::parse(line).unwrap_err();
            assert!(matches!(e, McpError::BadCommand { .. }), "{line:?}: {e}");
            assert!(e.to_string().starts_with("bad MCP server command"), "{e}");
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let s = McpServer::http("h", "https://x/mcp").header("Authorization", "Bearer SECRET");
        let e = McpServer::stdio("s", "x").env("API_KEY", "SECRET");
        for text in [format!("{s:?}"), format!("{e:?}")] {
            assert!(!text.contains("SECRET"), "{text}");
        }
        assert!(format!("{s:?}").contains("Authorization"));
    }

    #[test]
    fn setters_of_the_other_transport_do_nothing() {
        let s = McpServer::http("h", "http://x")
            .arg("a")
            .env("k", "v")
            .current_dir("/");
        assert!(matches!(&s.transport, Transport::Http { headers, .. } if headers.is_empty()));
        let s = McpServer::stdio("s", "x").header("a", "b");
        assert_eq!(stdio_parts(&s).1, Vec::<String>::new());
    }
}
