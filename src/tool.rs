//! Tools: a registry of named async (or blocking) functions with typed arguments and
//! per-tool options.
//!
//! [`ToolRegistry::tool`] registers a tool whole: its name, what it does (for the model),
//! and an async function whose argument type gives the JSON Schema the model sees
//! (`#[derive(Deserialize, JsonSchema)]`, doc comments as the properties' descriptions).
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use toolstream::{ToolOptions, ToolRegistry};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Weather {
//!     /// The city, in English.
//!     city: String,
//! }
//!
//! let tools = ToolRegistry::new()
//!     .tool("get_weather", "Current weather for a city", |args: Weather| async move {
//!         Ok::<_, String>(format!("sunny in {}", args.city))
//!     })
//!     .with_options("get_weather", ToolOptions::new().eager_safe(true));
//! let definitions = tools.definitions();
//! assert_eq!(definitions[0].description, "Current weather for a city");
//! assert_eq!(definitions[0].schema["required"][0], "city");
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod content;
mod error;
mod schema;

pub(crate) use content::joined_text;
pub use content::{ContentPart, ToolContent};
pub use error::ToolError;
pub use schema::arguments_schema;

/// What a tool gives back: the content sent to the model (text, or content parts), or its
/// own error. `Ok("text".into())` for text, `Err("message".into())` for a failure,
/// `Err(ToolError::invalid_arguments(..))` for arguments the tool refuses.
pub type ToolOutput = Result<ToolContent, ToolError>;

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
        match parse_arguments::<A>(&input) {
            Ok(args) => {
                let fut = (self.f)(args);
                Box::pin(async move {
                    fut.await
                        .map(IntoToolContent::into_content)
                        .map_err(|e| ToolError::failed(e.to_string()))
                })
            }
            Err(message) => Box::pin(async move { Err(ToolError::invalid_arguments(message)) }),
        }
    }
}

struct Typed<F, A> {
    f: F,
    _args: std::marker::PhantomData<fn(A)>,
}

/// Deserializes a typed tool's arguments. The error names the field that failed
/// (`invalid arguments: unit: unknown variant `kelvin`, expected `celsius` or `fahrenheit``).
fn parse_arguments<A: DeserializeOwned>(input: &Value) -> Result<A, String> {
    serde_path_to_error::deserialize(input).map_err(|e| {
        if e.path().iter().next().is_none() {
            format!("invalid arguments: {}", e.inner())
        } else {
            format!("invalid arguments: {}: {}", e.path(), e.inner())
        }
    })
}

/// Checks a typed tool's arguments before it is launched, so that a mismatch is answered
/// as [`InvalidArguments`](crate::ToolErrorKind::InvalidArguments), not as the tool's own
/// failure.
pub(crate) type ArgumentsCheck = fn(&Value) -> Result<(), String>;

fn check_arguments<A: DeserializeOwned>(input: &Value) -> Result<(), String> {
    parse_arguments::<A>(input).map(drop)
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
    /// For a typed tool: its arguments' check, run before it is launched.
    pub(crate) check: Option<ArgumentsCheck>,
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

    /// Whether `input` fits a typed tool's arguments (always `Ok` for an untyped tool).
    ///
    /// # Errors
    ///
    /// The message sent back to the model, naming the field that failed.
    pub(crate) fn check_arguments(&self, input: &Value) -> Result<(), String> {
        self.check.map_or(Ok(()), |check| check(input))
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
            .field("description", &self.description)
            .finish()
    }
}

/// The tools a turn may call, by name.
///
/// [`tool`](Self::tool) registers a typed tool with its description and derived schema in
/// one call. The lower-level [`with_fn`](Self::with_fn), [`with_raw_fn`](Self::with_raw_fn),
/// [`with_blocking_fn`](Self::with_blocking_fn) and [`with_tool`](Self::with_tool) take a
/// [`with_definition`](Self::with_definition) for the model, before or after them.
///
/// # Warnings
///
/// [`definitions`](Self::definitions) logs a `tracing` warning, once per name, for a tool
/// with no description (the model would see only its name and `{"type":"object"}`) and
/// for a definition whose tool was never registered (a misspelled name): neither is sent
/// silently.
#[derive(Clone, Default, Debug)]
pub struct ToolRegistry {
    tools: HashMap<String, RegisteredTool>,
    /// Definitions given for names with no tool (yet): attached when the tool registers.
    unattached: HashMap<String, (String, Value)>,
    /// What was already warned about, shared by clones: each warning shows once.
    warned: Arc<Mutex<HashSet<(Warning, String)>>>,
}

/// What [`ToolRegistry::definitions`] warns about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Warning {
    NoDescription,
    NoTool,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a typed async tool whole: its name, what it does (the model reads this to
    /// decide when to call it), and its function. The JSON Schema the model sees is derived
    /// from the argument type `A` (`#[derive(Deserialize, JsonSchema)]`; see
    /// [`arguments_schema`]), with `///` doc comments as the properties' descriptions.
    ///
    /// Arguments that do not fit `A` are answered as
    /// [`InvalidArguments`](crate::ToolErrorKind::InvalidArguments), naming the field,
    /// and the function is not called; `Ok` content goes back to the model, `Err` is the
    /// tool's own error. Replaces any tool of that name (keeping its options).
    ///
    /// `A` should be a struct (or a map): tool arguments are always a JSON object. Another
    /// type is logged as a `tracing` warning.
    ///
    /// ```
    /// use schemars::JsonSchema;
    /// use serde::Deserialize;
    /// use toolstream::ToolRegistry;
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Search {
    ///     /// What to look for.
    ///     query: String,
    /// }
    ///
    /// let tools = ToolRegistry::new().tool("search", "Search the web", |args: Search| async move {
    ///     Ok::<_, String>(format!("no results for {}", args.query))
    /// });
    /// assert_eq!(tools.definitions()[0].schema["properties"]["query"]["type"], "string");
    /// ```
    pub fn tool<F, A, Fut, R, E>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        f: F,
    ) -> Self
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        A: DeserializeOwned + JsonSchema + Send + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: IntoToolContent + 'static,
        E: fmt::Display + 'static,
    {
        let name = name.into();
        let schema = arguments_schema::<A>();
        if !schema::is_object_schema(&schema) {
            tracing::warn!(
                tool = %name,
                "the arguments of the tool `{name}` are not a JSON object (schema {schema}): \
                 the model always sends an object, so every call will be refused; use a struct"
            );
        }
        let mut registry = self.with_fn(name.clone(), f);
        let tool = registry.tools.get_mut(&name).expect("registered just now");
        tool.description = description.into();
        tool.schema = schema;
        registry
    }

    /// Registers a [`Tool`] under `name` (replacing any tool of that name).
    pub fn with_tool(mut self, name: impl Into<String>, tool: impl Tool) -> Self {
        self.insert(name.into(), Runner::Async(Arc::new(tool)), None);
        self
    }

    /// Registers an async function with typed arguments: the JSON input is deserialized
    /// into `A` (a failure is answered as an invalid-arguments error naming the field, the
    /// function is not called); `Ok` content goes back to the model, `Err` is the tool's
    /// own error. Describe it with [`with_definition`](Self::with_definition), or use
    /// [`tool`](Self::tool), which derives the schema from `A`.
    pub fn with_fn<F, A, Fut, R, E>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        A: DeserializeOwned + Send + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
        R: IntoToolContent + 'static,
        E: fmt::Display + 'static,
    {
        let tool = Typed {
            f,
            _args: std::marker::PhantomData,
        };
        self.insert(
            name.into(),
            Runner::Async(Arc::new(tool)),
            Some(check_arguments::<A>),
        );
        self
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
        self.insert(name.into(), Runner::Blocking(Arc::new(f)), None);
        self
    }

    /// Sets the options of the tool `name` (no effect if there is none).
    pub fn with_options(mut self, name: &str, options: ToolOptions) -> Self {
        if let Some(t) = self.tools.get_mut(name) {
            t.options = options;
        }
        self
    }

    /// Registers the tool `name`, keeping the options and definition of the tool it
    /// replaces, or taking the definition given for it beforehand.
    fn insert(&mut self, name: String, runner: Runner, check: Option<ArgumentsCheck>) {
        let replaced = self.tools.remove(&name);
        let options = replaced.as_ref().map(|t| t.options).unwrap_or_default();
        let (description, schema) = match (self.unattached.remove(&name), replaced) {
            (Some(definition), _) => definition,
            (None, Some(t)) => (t.description, t.schema),
            (None, None) => (String::new(), serde_json::json!({"type": "object"})),
        };
        self.tools.insert(
            name,
            RegisteredTool {
                runner,
                options,
                description,
                schema,
                check,
            },
        );
    }

    /// Describes the tool `name` to the model: a description and the JSON Schema of its
    /// arguments (default: no description, `{"type":"object"}`;
    /// [`arguments_schema`] derives one from a type).
    ///
    /// The order does not matter: a definition given before its tool is registered is
    /// attached when it is. One whose tool never registers (a misspelled name) is not sent,
    /// and [`definitions`](Self::definitions) logs a warning naming it.
    pub fn with_definition(mut self, name: &str, description: &str, schema: Value) -> Self {
        let definition = (description.to_owned(), schema);
        match self.tools.get_mut(name) {
            Some(t) => (t.description, t.schema) = definition,
            None => {
                self.unattached.insert(name.to_owned(), definition);
            }
        }
        self
    }

    /// The definitions of every tool, sorted by name (so requests are byte-stable).
    ///
    /// Logs a `tracing` warning, once per name for this registry and its clones, for each
    /// tool with no description and each definition with no tool (see
    /// [Warnings](Self#warnings)).
    pub fn definitions(&self) -> Vec<ToolDefinition> {
        let mut unattached: Vec<&str> = self.unattached.keys().map(String::as_str).collect();
        unattached.sort_unstable();
        for name in unattached {
            self.warn_once(Warning::NoTool, name);
        }
        self.names()
            .into_iter()
            .map(|name| {
                let t = &self.tools[name];
                if t.description.trim().is_empty() {
                    self.warn_once(Warning::NoDescription, name);
                }
                ToolDefinition {
                    name: name.to_owned(),
                    description: t.description.clone(),
                    schema: t.schema.clone(),
                }
            })
            .collect()
    }

    fn warn_once(&self, warning: Warning, name: &str) {
        // A panic while holding this lock cannot leave the set inconsistent.
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if !warned.insert((warning, name.to_owned())) {
            return;
        }
        match warning {
            Warning::NoDescription => tracing::warn!(
                tool = name,
                "the tool `{name}` has no description: the model sees only its name; \
                 register it with `ToolRegistry::tool` or give it a `with_definition`"
            ),
            Warning::NoTool => tracing::warn!(
                tool = name,
                "`with_definition(\"{name}\", ..)` names no registered tool: the definition \
                 is not sent (is the name misspelled?)"
            ),
        }
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
