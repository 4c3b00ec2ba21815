//! Bedrock authorization: a Bedrock API key sent as a bearer token, or AWS credentials and
//! a region found as the AWS SDKs find them (the part of their default chain that needs no
//! network) and each request signed with SigV4 by AWS's own `aws-sigv4`.
//!
//! Resolution order:
//!
//! 1. `AWS_BEARER_TOKEN_BEDROCK`: a Bedrock API key, sent as `Authorization: Bearer <key>`
//!    with no signing. It wins over any credentials, as in the AWS SDKs.
//! 2. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`, if set).
//! 3. The profile `AWS_PROFILE` (default `default`) in the shared credentials file
//!    (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`) and the shared config
//!    file (`AWS_CONFIG_FILE`, default `~/.aws/config`): `aws_access_key_id`,
//!    `aws_secret_access_key`, `aws_session_token`, a key of the credentials file winning
//!    over the same key of the config file.
//!
//! The region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region` in the
//! config file. SigV4 needs one; a bearer token only for the default endpoint.
//!
//! Not supported, as they need the network or another program: role assumption
//! (`role_arn`), SSO, `credential_process`, web identity, container and instance metadata.
//! A profile that asks for one of them is an error saying so, never a signature with other
//! keys. An empty variable counts as unset.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_credential_types::Credentials;

use crate::client::ClientError;

mod profile;
mod sign;

use profile::{FileKind, Profiles, Properties};

/// How requests to Bedrock are authorized.
#[derive(Clone)]
pub(crate) enum BedrockAuth {
    /// A Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`).
    Bearer {
        /// The key.
        token: String,
        /// The region, when one is configured.
        region: Option<String>,
    },
    /// AWS credentials: each request is signed with SigV4.
    SigV4 {
        /// The access key, secret and session token.
        credentials: Credentials,
        /// The region requests are signed for.
        region: String,
    },
}

// No secret in debug output: the token is hidden, `Credentials` hides its own secrets.
impl fmt::Debug for BedrockAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BedrockAuth::Bearer { region, .. } => f
                .debug_struct("Bearer")
                .field("token", &"** redacted **")
                .field("region", region)
                .finish(),
            BedrockAuth::SigV4 {
                credentials,
                region,
            } => f
                .debug_struct("SigV4")
                .field("credentials", credentials)
                .field("region", region)
                .finish(),
        }
    }
}

/// The Bedrock Runtime endpoint of `region`.
pub(crate) fn default_base_url(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

impl BedrockAuth {
    /// Authorization from the process environment and the shared files it names.
    ///
    /// # Errors
    ///
    /// [`ClientError::Credentials`], naming the variables and files looked at, when
    /// neither a Bedrock API key nor credentials are found, when SigV4 credentials have no
    /// region, or when a shared file exists but cannot be read.
    pub(crate) fn from_env() -> Result<BedrockAuth, ClientError> {
        BedrockAuth::resolve(&|name| std::env::var(name).ok())
    }

    /// Authorization from the environment variables `var` looks up (and the shared files
    /// they name, or `$HOME/.aws/...`): [`from_env`](Self::from_env) with the environment
    /// given, so tests never see the real one.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub(crate) fn resolve(
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BedrockAuth, ClientError> {
        let env = Env(var);
        let files = SharedFiles::locate(&env);
        if let Some(token) = env.get("AWS_BEARER_TOKEN_BEDROCK") {
            let region = region(&env, &files)?;
            return Ok(BedrockAuth::Bearer { token, region });
        }
        let credentials = credentials(&env, &files)?;
        let region = region(&env, &files)?.ok_or_else(|| {
            ClientError::Credentials(format!(
                "no region: AWS_REGION and AWS_DEFAULT_REGION are not set, and profile {:?} \
                 in {} has no region",
                files.profile,
                files.config.describe()
            ))
        })?;
        Ok(BedrockAuth::SigV4 {
            credentials,
            region,
        })
    }

    /// The region, when one is configured (always, for SigV4).
    pub(crate) fn region(&self) -> Option<&str> {
        match self {
            BedrockAuth::Bearer { region, .. } => region.as_deref(),
            BedrockAuth::SigV4 { region, .. } => Some(region),
        }
    }

    /// The headers that authorize one request to Bedrock, to add to those it already has:
    /// `authorization` with the bearer token; or, signed with SigV4 for the service
    /// `bedrock` at `now`, `x-amz-date`, `authorization` and `x-amz-security-token` (when
    /// the credentials have a session token).
    ///
    /// `url` must be the URL exactly as sent (the model id in its path percent-encoded
    /// once), `headers` the other headers sent that are to be signed (`content-type`,
    /// `accept`...; `host` is taken from the URL), `body` the exact body bytes.
    ///
    /// # Errors
    ///
    /// [`ClientError::Credentials`] when the request cannot be signed: `url` is not an
    /// absolute http(s) URL, or a header value is invalid.
    pub(crate) fn authorize(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        now: SystemTime,
    ) -> Result<Vec<(String, String)>, ClientError> {
        match self {
            BedrockAuth::Bearer { token, .. } => {
                Ok(vec![("authorization".into(), format!("Bearer {token}"))])
            }
            BedrockAuth::SigV4 {
                credentials,
                region,
            } => sign::sign_v4(
                credentials,
                region,
                sign::BEDROCK,
                method,
                url,
                headers,
                body,
                now,
            ),
        }
    }
}

/// The environment variables, through a lookup; empty and blank values count as unset.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// The profile in use and where the two shared files are.
struct SharedFiles {
    profile: String,
    credentials: SharedFile,
    config: SharedFile,
}

impl SharedFiles {
    fn locate(env: &Env<'_>) -> SharedFiles {
        let home = env.get("HOME").or_else(|| env.get("USERPROFILE"));
        let file = |var: &'static str, default: &'static str, kind| {
            let path = match env.get(var) {
                Some(p) => Some(expand_home(&p, home.as_deref())),
                None => home.as_ref().map(|h| Path::new(h).join(default)),
            };
            SharedFile {
                path,
                default,
                kind,
            }
        };
        SharedFiles {
            profile: env.get("AWS_PROFILE").unwrap_or_else(|| "default".into()),
            credentials: file(
                "AWS_SHARED_CREDENTIALS_FILE",
                ".aws/credentials",
                FileKind::Credentials,
            ),
            config: file("AWS_CONFIG_FILE", ".aws/config", FileKind::Config),
        }
    }
}

/// `~` or `~/...` at the start of a path set in a variable means the home directory, as in
/// the SDKs.
fn expand_home(path: &str, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(""), Some(home)) => PathBuf::from(home),
        (Some(rest), Some(home)) if rest.starts_with(['/', '\\']) => {
            Path::new(home).join(&rest[1..])
        }
        _ => PathBuf::from(path),
    }
}

/// One shared file: its path (None: no override and no home directory) and format.
struct SharedFile {
    path: Option<PathBuf>,
    /// The path under the home directory when no variable names the file.
    default: &'static str,
    kind: FileKind,
}

impl SharedFile {
    /// Its profiles; None when there is no such file.
    fn load(&self) -> Result<Option<Profiles>, ClientError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Profiles::parse(&text, self.kind))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::Credentials(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Its path for a message, saying when it is missing.
    fn describe(&self) -> String {
        match &self.path {
            Some(p) if p.exists() => p.display().to_string(),
            Some(p) => format!("{} (not found)", p.display()),
            None => format!("~/{} (HOME is not set)", self.default),
        }
    }
}

/// The region, from the environment or the profile in the config file.
fn region(env: &Env<'_>, files: &SharedFiles) -> Result<Option<String>, ClientError> {
    let (region, from) = match env.get("AWS_REGION") {
        Some(r) => (r, "AWS_REGION".to_owned()),
        None => match env.get("AWS_DEFAULT_REGION") {
            Some(r) => (r, "AWS_DEFAULT_REGION".to_owned()),
            None => {
                let config = files.config.load()?;
                let region = config
                    .as_ref()
                    .and_then(|c| c.get(&files.profile))
                    .and_then(|p| p.get("region"))
                    .filter(|r| !r.is_empty());
                match region {
                    Some(r) => (r.clone(), files.config.describe()),
                    None => return Ok(None),
                }
            }
        },
    };
    // It becomes part of a host name: letters, digits and dashes only.
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ClientError::Credentials(format!(
            "{region:?} (from {from}) is not a region name such as us-east-1"
        )));
    }
    Ok(Some(region))
}

/// The keys from the environment, else from the profile in the shared files.
fn credentials(env: &Env<'_>, files: &SharedFiles) -> Result<Credentials, ClientError> {
    let (id, secret) = (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    );
    let env_state = match (id, secret) {
        (Some(id), Some(secret)) => {
            let token = env.get("AWS_SESSION_TOKEN");
            return Ok(Credentials::new(id, secret, token, None, "environment"));
        }
        // As in the SDKs, half a key pair in the environment is skipped, not an error:
        // the profile may still have one. The message says so if it has none.
        (Some(_), None) => "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
        (None, Some(_)) => "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
        (None, None) => "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
    };
    let from_credentials = files.credentials.load()?;
    let from_config = files.config.load()?;
    let name = &files.profile;
    let sections: Vec<&Properties> = [&from_credentials, &from_config]
        .into_iter()
        .filter_map(|file| file.as_ref()?.get(name))
        .collect();
    let both = format!(
        "{} or {}",
        files.credentials.describe(),
        files.config.describe()
    );
    if sections.is_empty() {
        return Err(ClientError::Credentials(format!(
            "{env_state}, and profile {name:?} is not in {both} (a Bedrock API key may be \
             set in AWS_BEARER_TOKEN_BEDROCK instead)"
        )));
    }
    // The credentials file first: its keys win.
    let get = |key: &str| {
        sections
            .iter()
            .find_map(|s| s.get(key))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    // The SDKs assume a profile's role before looking at its keys; the other providers
    // come after the keys.
    if get("role_arn").is_some() {
        return Err(unsupported(name, &both, "role_arn (role assumption)"));
    }
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => {
            let token = get("aws_session_token");
            Ok(Credentials::new(id, secret, token, None, "profile"))
        }
        (Some(_), None) => Err(ClientError::Credentials(format!(
            "profile {name:?} in {both} has aws_access_key_id but no aws_secret_access_key"
        ))),
        (None, secret) => {
            let other = [
                ("sso_session", "sso_session (SSO)"),
                ("sso_start_url", "sso_start_url (SSO)"),
                ("credential_process", "credential_process"),
                ("web_identity_token_file", "web_identity_token_file"),
            ];
            if let Some((_, what)) = other.iter().find(|(key, _)| get(key).is_some()) {
                return Err(unsupported(name, &both, what));
            }
            let missing = match secret {
                Some(_) => "aws_access_key_id",
                None => "aws_access_key_id and aws_secret_access_key",
            };
            Err(ClientError::Credentials(format!(
                "{env_state}, and profile {name:?} in {both} has no {missing}"
            )))
        }
    }
}

fn unsupported(profile: &str, files: &str, what: &str) -> ClientError {
    ClientError::Credentials(format!(
        "profile {profile:?} in {files} uses {what}, which needs the AWS SDK; export its keys \
         instead (`aws configure export-credentials --profile {profile} --format env`) or \
         set AWS_BEARER_TOKEN_BEDROCK"
    ))
}

#[cfg(test)]
mod tests;
