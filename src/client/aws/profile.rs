//! The AWS shared files (`~/.aws/credentials`, `~/.aws/config`): a small reader for the
//! INI dialect the AWS SDKs share, keeping only what credential and region lookup need.
//!
//! The format, as the SDKs read it:
//!
//! - a line whose first non-blank character is `#` or `;` is a comment, and so is the rest
//!   of a section line after its `]`;
//! - `[NAME]` opens a profile in the credentials file; the config file writes
//!   `[profile NAME]` (any blanks between the two words) and `[default]` (or
//!   `[profile default]`), and its other sections (`[sso-session x]`, `[services x]`, a
//!   bare `[x]`) hold no profile;
//! - `key = value`, blanks around both trimmed, the key's case ignored; in a value, a `#`
//!   or `;` after a blank starts a comment;
//! - an indented line after a property continues it (the sub-properties of `s3 =`): it is
//!   never a key of its own;
//! - a profile written twice is one profile, later keys overriding earlier ones.
//!
//! Anything else (a line before the first section, a line without `=`) is skipped: the SDKs
//! reject some of it, but a lookup has no use for the difference.

use std::collections::HashMap;

/// Which of the two shared files a text comes from: they name profiles differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
    /// `~/.aws/credentials`: `[NAME]`.
    Credentials,
    /// `~/.aws/config`: `[profile NAME]` and `[default]`.
    Config,
}

/// The properties of one profile, by lowercase key.
pub(super) type Properties = HashMap<String, String>;

/// The profiles of one shared file, by name.
#[derive(Debug, Default)]
pub(super) struct Profiles(HashMap<String, Properties>);

impl Profiles {
    /// Reads the text of a shared file of `kind`.
    pub(super) fn parse(text: &str, kind: FileKind) -> Profiles {
        let mut profiles: HashMap<String, Properties> = HashMap::new();
        // The profile being read (None: outside any, or in a section that is no profile),
        // and whether the last line was one of its properties (so an indented line
        // continues it).
        let mut current: Option<String> = None;
        let mut in_property = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
                continue;
            }
            if let Some(header) = trimmed.strip_prefix('[') {
                current = header
                    .split_once(']')
                    .and_then(|(name, _comment)| profile_name(name, kind));
                if let Some(name) = &current {
                    profiles.entry(name.clone()).or_default();
                }
                in_property = false;
                continue;
            }
            if in_property && line.starts_with([' ', '\t']) {
                continue;
            }
            in_property = false;
            let (Some(name), Some((key, value))) = (&current, trimmed.split_once('=')) else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            in_property = true;
            profiles
                .entry(name.clone())
                .or_default()
                .insert(key.to_ascii_lowercase(), strip_comment(value).to_owned());
        }
        Profiles(profiles)
    }

    /// The profile named `name`, if the file has it.
    pub(super) fn get(&self, name: &str) -> Option<&Properties> {
        self.0.get(name)
    }
}

/// The profile a section header (between `[` and `]`) opens, if it opens one.
fn profile_name(header: &str, kind: FileKind) -> Option<String> {
    let header = header.trim();
    let name = match kind {
        FileKind::Credentials => header,
        FileKind::Config if header == "default" => header,
        FileKind::Config => {
            let rest = header.strip_prefix("profile")?;
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            rest.trim()
        }
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// A property value without its trailing comment (`#` or `;` after a blank) and blanks.
fn strip_comment(value: &str) -> &str {
    let end = value
        .char_indices()
        .zip(value.chars().skip(1))
        .find(|&((_, c), next)| c.is_whitespace() && matches!(next, '#' | ';'))
        .map_or(value.len(), |((i, _), _)| i);
    value[..end].trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(p: &'a Profiles, profile: &str, key: &str) -> Option<&'a str> {
        p.get(profile)?.get(key).map(String::as_str)
    }

    #[test]
    fn credentials_file_sections_are_profile_names() {
        let p = Profiles::parse(
            "# comment\n; another\n[default]\naws_access_key_id = AKID1\n\n[work] ; comment\n  AWS_Secret_Access_Key=s3cret  \n",
            FileKind::Credentials,
        );
        assert_eq!(get(&p, "default", "aws_access_key_id"), Some("AKID1"));
        // The key's case is ignored; the line's indent, with no property before it, is not
        // a continuation.
        assert_eq!(get(&p, "work", "aws_secret_access_key"), Some("s3cret"));
        // In the credentials file, `[profile x]` is a profile named "profile x".
        let p = Profiles::parse("[profile x]\na = 1\n", FileKind::Credentials);
        assert_eq!(get(&p, "profile x", "a"), Some("1"));
        assert!(p.get("x").is_none());
    }

    #[test]
    fn config_file_sections_need_the_profile_prefix_except_default() {
        let text = "[default]\nregion = us-east-1\n[profile  dev ]\nregion=eu-west-1\n\
                    [bare]\nregion = ap-south-1\n[profilex]\nregion = x\n\
                    [sso-session s]\nregion = y\n[profile default]\noutput = json\n";
        let p = Profiles::parse(text, FileKind::Config);
        assert_eq!(get(&p, "default", "region"), Some("us-east-1"));
        assert_eq!(get(&p, "default", "output"), Some("json"));
        assert_eq!(get(&p, "dev", "region"), Some("eu-west-1"));
        for absent in ["bare", "profilex", "x", "sso-session s", "s"] {
            assert!(p.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn comments_in_values_need_a_blank_before_them() {
        let p = Profiles::parse(
            "[a]\nk1 = v1 # c\nk2 = v2;not-a-comment\nk3 = v3\t; c\nk4 = a#b\nk5 =\n",
            FileKind::Credentials,
        );
        assert_eq!(get(&p, "a", "k1"), Some("v1"));
        assert_eq!(get(&p, "a", "k2"), Some("v2;not-a-comment"));
        assert_eq!(get(&p, "a", "k3"), Some("v3"));
        assert_eq!(get(&p, "a", "k4"), Some("a#b"));
        assert_eq!(get(&p, "a", "k5"), Some(""));
    }

    #[test]
    fn indented_lines_after_a_property_continue_it() {
        let p = Profiles::parse(
            "[profile p]\ns3 =\n  region = nested\n  max_concurrent_requests = 10\nregion = real\n",
            FileKind::Config,
        );
        assert_eq!(get(&p, "p", "region"), Some("real"));
        assert_eq!(get(&p, "p", "max_concurrent_requests"), None);
    }

    #[test]
    fn a_profile_written_twice_is_merged_later_keys_winning() {
        let p = Profiles::parse(
            "[a]\nk = 1\nonly = here\n[b]\nk = b\n[a]\nk = 2\n",
            FileKind::Credentials,
        );
        assert_eq!(get(&p, "a", "k"), Some("2"));
        assert_eq!(get(&p, "a", "only"), Some("here"));
    }

    #[test]
    fn lines_outside_sections_and_without_equals_are_skipped() {
        let p = Profiles::parse(
            "k = orphan\n[a]\nno equals here\n= no key\nk = v\r\n[unclosed\nk = lost\n",
            FileKind::Credentials,
        );
        assert_eq!(get(&p, "a", "k"), Some("v"));
        assert!(p.get("unclosed").is_none());
        assert_eq!(p.0.len(), 1);
    }
}
