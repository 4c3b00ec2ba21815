//! Tools: a registry of named async (or blocking) functions with typed arguments and
//! per-tool options.
//!
//! ```
//! use serde::Deserialize;
//! use toolstream::{ToolOptions, ToolRegistry};
//!
//! #[derive(Deserialize)]
//! struct Weather {
//!     city: String,
//! }
//!
//! let tools = ToolRegistry::new()
//!     .with_fn("get_weather", |args: Weather| async move {
//!         Ok::<_, String>(format!("sunny in {}", args.city))
//!     })
//!     .with_options("get_weather", ToolOptions::new().eager_safe(true));
//! assert!(tools.get("get_weather").is_some());
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

mod content;

pub(crate) use content::joined_text;
pub use content::{ContentPart, ToolContent};

/// What a tool gives back: the content sent to the model (text, or content parts), or its
/// own error message. `Ok("text".into())` for text.
pub type ToolOutput = Result<ToolContent, String>;

/// A boxed tool future.
pub type ToolFuture = Pin<Box<dyn Future<Output = ToolOutput> + Send + 'static>>;

/// A tool the model can call.
///
/// `call` receives the parsed arguments (always a JSON object). The future is dropped when
/// the tool times out, its turn is cancelled, or the turn stream is dropped: a tool must
/// not rely on running to completion.
pub trait Tool: Send + Sync + 'static {
    /// Runs the tool.
    fn call(&self, input: Value) -> ToolFuture;
}

/// Turns what a tool function returns into the content sent back to the model.
pub trait IntoToolContent {
    /// The content.
    fn into_content(self) -> ToolContent;
}

impl IntoToolContent for String {
    fn into_content(self) -> ToolContent {
        ToolContent::Text(self)
    }
}

impl IntoToolContent for &'static str {
    fn into_content(self) -> ToolContent {
        ToolContent::Text(self.to_owned())
    }
}

/// A JSON value goes back as its compact text (a [`ContentPart::Json`] part gives it to
/// the providers that take JSON as such).
impl IntoToolContent for Value {
    fn into_content(self) -> ToolContent {
        ToolContent::Text(self.to_string())
    }
}

impl IntoToolContent for ToolContent {
    fn into_content(self) -> ToolContent {
        self
    }
}

/// Parts in order: text, JSON, images.
impl IntoToolContent for Vec<ContentPart> {
    fn into_content(self) -> ToolContent {
        ToolContent::Parts(self)
    }
}

impl IntoToolContent for ContentPart {
    fn into_content(self) -> ToolContent {
        ToolContent::Parts(vec![self])
    }
}

struct FnTool<F>(F);

impl<F, A, Fut, R, E> Tool for Typed<F, A>
where
    F: Fn(A) -> Fut + Send + Sync + 'static,
    A: DeserializeOwned + Send + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: IntoToolContent,
    E: fmt::Display,
{
    fn call(&self, input: Value) -> ToolFuture {
        match serde_json::from_value::<A>(input) {
            Ok(args) => {
                let fut = (self.f)(args);
                Box::pin(async move {
                    fut.await
                        .map(IntoToolContent::into_content)
                        .map_err(|e| e.to_string())
                })
            }
            Err(e) => {
                let message = format!("invalid arguments: {e}");
                Box::pin(async move { Err(message) })
            }
        }
    }
}

struct Typed<F, A> {
    f: F,
    _args: std::marker::PhantomData<fn(A)>,
}

impl<F> Tool for FnTool<F>
where
    F: Fn(Value) -> ToolFuture + Send + Sync + 'static,
{
    fn call(&self, input: Value) -> ToolFuture {
        (self.0)(input)
    }
}

/// Per-tool options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolOptions {
    eager_safe: bool,
    timeout: Option<Duration>,
}

impl ToolOptions {
    /// Defaults: not eager-safe, no timeout of its own (the turn's default applies).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the tool may start before the model's message ends, under
    /// [`DispatchPolicy::PerTool`](crate::DispatchPolicy::PerTool) (default `false`). Mark
    /// read-only tools: a call that starts early is cancelled if the turn does not commit.
    pub fn eager_safe(mut self, yes: bool) -> Self {
        self.eager_safe = yes;
        self
    }

    /// A timeout for this tool, overriding the turn's default (default: none of its own).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the tool is eager-safe.
    pub fn is_eager_safe(&self) -> bool {
        self.eager_safe
    }

    /// The tool's own timeout.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

/// How a registered tool runs.
#[derive(Clone)]
pub(crate) enum Runner {
    /// An async tool: dropped on timeout and cancellation.
    Async(Arc<dyn Tool>),
    /// Synchronous work on the blocking pool: it cannot be interrupted, so a result that
    /// comes after its slot closed goes to the orphan buffer.
    Blocking(BlockingFn),
}

/// A blocking tool's function.
pub(crate) type BlockingFn = Arc<dyn Fn(Value) -> ToolOutput + Send + Sync>;

/// A registered tool.
#[derive(Clone)]
pub struct RegisteredTool {
    pub(crate) runner: Runner,
    pub(crate) options: ToolOptions,
    pub(crate) description: String,
    pub(crate) schema: Value,
}

/// What the model is told about a tool: its name, description and JSON Schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    /// The name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// The JSON Schema of its arguments (an object schema).
    pub schema: Value,
}

impl RegisteredTool {
    /// The tool's options.
    pub fn options(&self) -> ToolOptions {
        self.options
    }
}

impl fmt::Debug for RegisteredTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.runner {
            Runner::Async(_) => "async",
            Runner::Blocking(_) => "blocking",
        };
        f.debug_struct("RegisteredTool")
            .field("kind", &kind)
            .field("options", &self.options)
            .finish()
    }
}

/// The tools a turn may call, by name.
#[derive(Clone, Default, Debug)]
pub struct ToolRegistry {
    tools: HashMap<String, RegisteredTool>,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a [`Tool`] under `name` (replacing any tool of that name).
    pub fn with_tool(mut self, name: impl Into<String>, tool: impl Tool) -> Self {
        self.insert(name.into(), Runner::Async(Arc::new(tool)));
        self
    }

    /// Registers an async function with typed arguments: the JSON input is deserialized
    /// into `A` (a failure is answered as an invalid-arguments error, the function is not
    /// called); `Ok` content goes back to the model, `Err` is the tool's own error.
    pub fn with_fn<F, A, Fut, R, E>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        A: DeserializeOwned + Send + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: IntoToolContent + 'static,
        E: fmt::Display + 'static,
    {
        self.with_tool(
            name,
            Typed {
                f,
                _args: std::marker::PhantomData,
            },
        )
    }

    /// Registers an async function over the raw JSON input.
    pub fn with_raw_fn<F>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Value) -> ToolFuture + Send + Sync + 'static,
    {
        self.with_tool(name, FnTool(f))
    }

    /// Registers synchronous work, run on tokio's blocking pool. It cannot be interrupted:
    /// when it finishes after its call was answered (timeout, turn deadline, cancellation),
    /// its result goes to the orphan buffer, tagged with its turn, never into history.
    pub fn with_blocking_fn<F>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Value) -> ToolOutput + Send + Sync + 'static,
    {
        self.insert(name.into(), Runner::Blocking(Arc::new(f)));
        self
    }

    /// Sets the options of the tool `name` (no effect if there is none).
    pub fn with_options(mut self, name: &str, options: ToolOptions) -> Self {
        if let Some(t) = self.tools.get_mut(name) {
            t.options = options;
        }
        self
    }

    fn insert(&mut self, name: String, runner: Runner) {
        let (options, description, schema) = match self.tools.remove(&name) {
            Some(t) => (t.options, t.description, t.schema),
            None => (
                ToolOptions::default(),
                String::new(),
                serde_json::json!({"type": "object"}),
            ),
        };
        self.tools.insert(
            name,
            RegisteredTool {
                runner,
                options,
                description,
                schema,
            },
        );
    }

    /// Describes the tool `name` to the model: a description and the JSON Schema of its
    /// arguments (default: no description, `{"type":"object"}`). No effect if there is no
    /// such tool.
    pub fn with_definition(mut self, name: &str, description: &str, schema: Value) -> Self {
        if let Some(t) = self.tools.get_mut(name) {
            t.description = description.to_owned();
            t.schema = schema;
        }
        self
    }

    /// The definitions of every tool, sorted by name (so requests are byte-stable).
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        self.names()
            .into_iter()
            .map(|name| {
                let t = &self.tools[name];
                ToolDefinition {
                    name: name.to_owned(),
                    description: t.description.clone(),
                    schema: t.schema.clone(),
                }
            })
            .collect()
    }

    /// The tool registered as `name`.
    pub fn get(&self, name: &str) -> Option<&RegisteredTool> {
        self.tools.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tools.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}
