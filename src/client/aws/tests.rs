//! Credential and region resolution, against temporary files and a given environment
//! (never the real ones).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use super::*;

/// A directory of its own under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("toolstream-aws-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Resolves with exactly these variables (no HOME unless given: no real file is read).
fn resolve(vars: &[(&str, &str)]) -> Result<BedrockAuth, ClientError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    BedrockAuth::resolve(&|name| vars.get(name).cloned())
}

/// (access key, secret, session token, region) of a SigV4 result.
fn keys(auth: &BedrockAuth) -> (&str, &str, Option<&str>, &str) {
    match auth {
        BedrockAuth::SigV4 {
            credentials: c,
            region,
        } => (
            c.access_key_id(),
            c.secret_access_key(),
            c.session_token(),
            region,
        ),
        other => panic!("not sigv4: {other:?}"),
    }
}

fn error(r: Result<BedrockAuth, ClientError>) -> String {
    r.unwrap_err().to_string()
}

const CREDENTIALS: &str = "[default]\naws_access_key_id = FILE_DEFAULT\n\
    aws_secret_access_key = file-default-secret\n\n\
    [work]\naws_access_key_id=FILE_WORK\naws_secret_access_key=file-work-secret\n\
    aws_session_token = file-work-token\n";
const CONFIG: &str = "[default]\nregion = eu-central-1\n\
    [profile work]\nregion = ap-southeast-2\n\
    [profile cfgonly]\naws_access_key_id = CFG\naws_secret_access_key = cfg-secret\n";

#[test]
fn environment_keys_win_over_the_files() {
    let dir = TempDir::new();
    let creds = dir.file("c", CREDENTIALS);
    let config = dir.file("cfg", CONFIG);
    let auth = resolve(&[
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_SESSION_TOKEN", "env-token"),
        ("AWS_PROFILE", "work"),
        ("AWS_SHARED_CREDENTIALS_FILE", &creds),
        ("AWS_CONFIG_FILE", &config),
    ])
    .unwrap();
    // The keys from the environment, the region from the chosen profile's config.
    assert_eq!(
        keys(&auth),
        ("ENVKEY", "env-secret", Some("env-token"), "ap-southeast-2")
    );
    let auth = resolve(&[
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_REGION", "us-west-2"),
    ])
    .unwrap();
    assert_eq!(keys(&auth), ("ENVKEY", "env-secret", None, "us-west-2"));
}

#[test]
fn default_files_are_under_home_and_the_profile_is_chosen_by_aws_profile() {
    let home = TempDir::new();
    home.file(".aws/credentials", CREDENTIALS);
    home.file(".aws/config", CONFIG);
    let auth = resolve(&[("HOME", &home.path())]).unwrap();
    assert_eq!(
        keys(&auth),
        ("FILE_DEFAULT", "file-default-secret", None, "eu-central-1")
    );
    let auth = resolve(&[("HOME", &home.path()), ("AWS_PROFILE", "work")]).unwrap();
    assert_eq!(
        keys(&auth),
        (
            "FILE_WORK",
            "file-work-secret",
            Some("file-work-token"),
            "ap-southeast-2"
        )
    );
    // Keys in the config file count too (`[profile NAME]`); `~` in a variable is HOME.
    let auth = resolve(&[
        ("HOME", &home.path()),
        ("AWS_PROFILE", "cfgonly"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/nowhere"),
        ("AWS_REGION", "us-east-1"),
    ])
    .unwrap();
    assert_eq!(keys(&auth), ("CFG", "cfg-secret", None, "us-east-1"));
}

#[test]
fn a_key_in_the_credentials_file_wins_over_the_config_file() {
    let dir = TempDir::new();
    let auth = resolve(&[
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            &dir.file("c", "[p]\naws_secret_access_key = from-credentials\n"),
        ),
        (
            "AWS_CONFIG_FILE",
            &dir.file(
                "cfg",
                "[profile p]\naws_access_key_id = CFGKEY\naws_secret_access_key = from-config\nregion = sa-east-1\n",
            ),
        ),
        ("AWS_PROFILE", "p"),
    ])
    .unwrap();
    assert_eq!(
        keys(&auth),
        ("CFGKEY", "from-credentials", None, "sa-east-1")
    );
}

#[test]
fn half_a_key_pair_in_the_environment_falls_through_to_the_profile() {
    let dir = TempDir::new();
    let creds = dir.file("c", CREDENTIALS);
    let auth = resolve(&[
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SHARED_CREDENTIALS_FILE", &creds),
        ("AWS_REGION", "us-east-1"),
    ])
    .unwrap();
    assert_eq!(keys(&auth).0, "FILE_DEFAULT");
}

#[test]
fn missing_keys_name_the_variables_and_files_looked_at() {
    let dir = TempDir::new();
    let missing = format!("{}/missing", dir.path());
    // Nothing anywhere, and no HOME.
    assert_eq!(
        error(resolve(&[("AWS_REGION", "us-east-1")])),
        "aws credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and \
         profile \"default\" is not in ~/.aws/credentials (HOME is not set) or \
         ~/.aws/config (HOME is not set) (a Bedrock API key may be set in \
         AWS_BEARER_TOKEN_BEDROCK instead)"
    );
    // The secret missing from the environment, and no such file.
    assert_eq!(
        error(resolve(&[
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SHARED_CREDENTIALS_FILE", &missing),
            ("AWS_CONFIG_FILE", &missing),
        ])),
        format!(
            "aws credentials: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not, \
             and profile \"default\" is not in {missing} (not found) or {missing} (not found) \
             (a Bedrock API key may be set in AWS_BEARER_TOKEN_BEDROCK instead)"
        )
    );
    // The secret missing from the profile.
    let creds = dir.file("c", "[default]\naws_access_key_id = K\n");
    assert_eq!(
        error(resolve(&[
            ("AWS_SHARED_CREDENTIALS_FILE", &creds),
            ("AWS_CONFIG_FILE", &missing),
        ])),
        format!(
            "aws credentials: profile \"default\" in {creds} or {missing} (not found) has \
             aws_access_key_id but no aws_secret_access_key"
        )
    );
    // A profile that exists without keys; another that is not there.
    let creds = dir.file("c2", "[default]\nregion = us-east-1\n[other]\nx = y\n");
    let vars = [
        ("AWS_SHARED_CREDENTIALS_FILE", creds.as_str()),
        ("AWS_CONFIG_FILE", &missing),
    ];
    let msg = error(resolve(&vars));
    assert!(
        msg.ends_with("has no aws_access_key_id and aws_secret_access_key"),
        "{msg}"
    );
    let msg = error(resolve(&[vars[0], vars[1], ("AWS_PROFILE", "nope")]));
    assert!(msg.contains("profile \"nope\" is not in"), "{msg}");
}

#[test]
fn profiles_that_need_the_sdk_are_refused_by_name() {
    let dir = TempDir::new();
    let config = dir.file(
        "cfg",
        "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = default\n\
         aws_access_key_id = NOT_THESE\naws_secret_access_key = s\n\
         [profile sso]\nsso_session = corp\n[profile proc]\ncredential_process = /bin/creds\n",
    );
    for (profile, what) in [
        ("role", "role_arn (role assumption)"),
        ("sso", "sso_session (SSO)"),
        ("proc", "credential_process"),
    ] {
        let msg = error(resolve(&[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_PROFILE", profile),
            ("AWS_REGION", "us-east-1"),
        ]));
        assert!(
            msg.contains(&format!("uses {what}, which needs the AWS SDK")),
            "{msg}"
        );
        assert!(msg.contains("--profile"), "{msg}");
    }
}

#[test]
fn the_bearer_token_wins_over_credentials() {
    let auth = resolve(&[
        ("AWS_BEARER_TOKEN_BEDROCK", "ABSKexample"),
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_REGION", "us-east-2"),
    ])
    .unwrap();
    assert_eq!(auth.region(), Some("us-east-2"));
    let headers = auth
        .authorize(
            "POST",
            "https://x/model/m/converse-stream",
            &[],
            b"{}",
            UNIX_EPOCH,
        )
        .unwrap();
    assert_eq!(
        headers,
        [("authorization".to_owned(), "Bearer ABSKexample".to_owned())]
    );
    assert!(!format!("{auth:?}").contains("ABSKexample"));
    // A bearer token needs no region (a base URL may be given instead).
    let auth = resolve(&[("AWS_BEARER_TOKEN_BEDROCK", "ABSKexample")]).unwrap();
    assert_eq!(auth.region(), None);
    // An empty one is unset.
    let msg = error(resolve(&[("AWS_BEARER_TOKEN_BEDROCK", " ")]));
    assert!(msg.contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"));
}

#[test]
fn region_order_is_aws_region_aws_default_region_then_the_profile() {
    let dir = TempDir::new();
    let config = dir.file("cfg", CONFIG);
    let base = [
        ("AWS_ACCESS_KEY_ID", "K"),
        ("AWS_SECRET_ACCESS_KEY", "S"),
        ("AWS_CONFIG_FILE", config.as_str()),
    ];
    let region = |extra: &[(&str, &str)]| {
        let vars: Vec<_> = base.iter().chain(extra).copied().collect();
        resolve(&vars).map(|a| a.region().unwrap().to_owned())
    };
    let both = [
        ("AWS_REGION", "us-west-1"),
        ("AWS_DEFAULT_REGION", "us-west-2"),
    ];
    assert_eq!(region(&both).unwrap(), "us-west-1");
    assert_eq!(region(&both[1..]).unwrap(), "us-west-2");
    assert_eq!(region(&[]).unwrap(), "eu-central-1");
    assert_eq!(
        region(&[("AWS_PROFILE", "work")]).unwrap(),
        "ap-southeast-2"
    );
    // The credentials file's `region` is not read (the SDKs read it from config).
    let creds = dir.file("c", "[cfgonly]\nregion = us-east-1\n");
    let msg = region(&[
        ("AWS_PROFILE", "cfgonly"),
        ("AWS_SHARED_CREDENTIALS_FILE", &creds),
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(
        msg,
        format!(
            "aws credentials: no region: AWS_REGION and AWS_DEFAULT_REGION are not set, \
             and profile \"cfgonly\" in {config} has no region"
        )
    );
    let msg = region(&[("AWS_REGION", "evil.example/x")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "aws credentials: \"evil.example/x\" (from AWS_REGION) is not a region name such \
         as us-east-1"
    );
}

#[test]
fn authorize_signs_for_bedrock_in_the_region() {
    let auth = resolve(&[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "tok"),
        ("AWS_REGION", "eu-west-3"),
    ])
    .unwrap();
    let url = format!(
        "{}/model/m/converse-stream",
        default_base_url(auth.region().unwrap())
    );
    assert_eq!(
        url,
        "https://bedrock-runtime.eu-west-3.amazonaws.com/model/m/converse-stream"
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_748_779_200);
    let headers = auth
        .authorize(
            "POST",
            &url,
            &[("content-type", "application/json")],
            b"{}",
            now,
        )
        .unwrap();
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["x-amz-date", "authorization", "x-amz-security-token"]
    );
    assert!(headers[1].1.starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250601/eu-west-3/bedrock/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
    ));
    assert!(!format!("{auth:?}").contains("wJalrXUtnFEMI"));
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    let dir = TempDir::new();
    // A directory where the file should be.
    let msg = error(resolve(&[
        ("AWS_SHARED_CREDENTIALS_FILE", &dir.path()),
        ("AWS_REGION", "us-east-1"),
    ]));
    assert!(msg.starts_with(&format!("aws credentials: cannot read {}: ", dir.path())));
}
