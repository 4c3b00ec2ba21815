//! The names MCP tools are registered under: the rules are in the module docs of
//! `mcp` (Tool names), implemented here in the order they are given there.

use std::collections::{HashMap, HashSet};

/// The most characters a registered name has.
pub(crate) const MAX_NAME: usize = 64;

/// `name` rewritten to fit `^[a-zA-Z0-9_-]{1,64}$` (rule 1).
pub(crate) fn rewrite(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(MAX_NAME)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The registered name of every tool: `servers[i]` is server `i`'s label and its tools'
/// own names in listing order; the answer has the same shape.
pub(crate) fn assign(servers: &[(&str, Vec<&str>)]) -> Vec<Vec<String>> {
    let rewritten: Vec<Vec<String>> = servers
        .iter()
        .map(|(_, tools)| tools.iter().map(|t| rewrite(t)).collect())
        .collect();
    // Rule 2: the rewritten names offered by more than one server.
    let mut offered_by: HashMap<&str, HashSet<usize>> = HashMap::new();
    for (server, names) in rewritten.iter().enumerate() {
        for name in names {
            offered_by.entry(name).or_default().insert(server);
        }
    }
    let shared: HashSet<&str> = offered_by
        .into_iter()
        .filter(|(_, servers)| servers.len() > 1)
        .map(|(name, _)| name)
        .collect();
    // Rule 3, in listing order.
    let mut taken: HashSet<String> = HashSet::new();
    rewritten
        .iter()
        .zip(servers)
        .map(|(names, (label, _))| {
            names
                .iter()
                .map(|name| {
                    let wanted = if shared.contains(name.as_str()) {
                        cut(format!("{}__{name}", rewrite(label)), MAX_NAME)
                    } else {
                        name.clone()
                    };
                    let free = first_free(wanted, &taken);
                    taken.insert(free.clone());
                    free
                })
                .collect()
        })
        .collect()
}

/// `wanted`, or `wanted_2`, `wanted_3`, ... (the base cut to keep 64), the first not taken.
fn first_free(wanted: String, taken: &HashSet<String>) -> String {
    if !taken.contains(&wanted) {
        return wanted;
    }
    (2u64..)
        .map(|n| {
            let suffix = format!("_{n}");
            let mut name = cut(wanted.clone(), MAX_NAME - suffix.len());
            name.push_str(&suffix);
            name
        })
        .find(|name| !taken.contains(name))
        .expect("finitely many names are taken")
}

/// `name` cut to `max` characters (ASCII here: rewritten names only).
fn cut(mut name: String, max: usize) -> String {
    name.truncate(max);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! rewrites {
        ($($name:expr => $expected:expr),* $(,)?) => {$(
            assert_eq!(rewrite($name), $expected, "{:?}", $name);
        )*};
    }

    #[test]
    fn rewriting() {
        let long = "x".repeat(100);
        rewrites! {
            "get_weather" => "get_weather",
            "get-weather-2" => "get-weather-2",
            "fs.read_file" => "fs_read_file",
            "files/read file" => "files_read_file",
            "météo" => "m_t_o",
            "🙂" => "_",
            "" => "_",
            long.as_str() => "x".repeat(64),
        }
        assert_eq!(rewrite(&format!("é{}", "a".repeat(70))).len(), 64);
    }

    fn names(servers: &[(&str, &[&str])]) -> Vec<Vec<String>> {
        let servers: Vec<(&str, Vec<&str>)> = servers
            .iter()
            .map(|(label, tools)| (*label, tools.to_vec()))
            .collect();
        assign(&servers)
    }

    #[test]
    fn distinct_names_are_kept() {
        assert_eq!(
            names(&[("a", &["read", "write"]), ("b", &["search"])]),
            [vec!["read", "write"], vec!["search"]]
        );
    }

    #[test]
    fn names_shared_across_servers_are_all_prefixed() {
        assert_eq!(
            names(&[
                ("files", &["read", "list"]),
                ("web", &["read"]),
                ("db", &["read", "query"]),
            ]),
            [
                vec!["files__read", "list"],
                vec!["web__read"],
                vec!["db__read", "query"],
            ]
        );
        // Collisions are judged after rewriting; labels are rewritten too.
        assert_eq!(
            names(&[("my server", &["a.b"]), ("other", &["a_b"])]),
            [vec!["my_server__a_b"], vec!["other__a_b"]]
        );
    }

    #[test]
    fn what_still_collides_is_numbered_in_listing_order() {
        // Two tools of one server that rewrite alike.
        assert_eq!(
            names(&[("s", &["a.b", "a b", "a_b"])]),
            [vec!["a_b", "a_b_2", "a_b_3"]]
        );
        // Two servers with one label.
        assert_eq!(
            names(&[("python", &["echo"]), ("python", &["echo"])]),
            [vec!["python__echo"], vec!["python__echo_2"]]
        );
        // A prefixed name equal to another tool's own name.
        assert_eq!(
            names(&[("a", &["a__x"]), ("b", &["x"]), ("a", &["x"])]),
            [vec!["a__x"], vec!["b__x"], vec!["a__x_2"]]
        );
    }

    #[test]
    fn long_names_stay_within_64() {
        let long = "t".repeat(64);
        let got = names(&[("server", &[long.as_str()]), ("other", &[long.as_str()])]);
        assert_eq!(got[0][0], format!("server__{}", "t".repeat(56)));
        assert_eq!(got[1][0], format!("other__{}", "t".repeat(57)));
        let got = names(&[("s", &[long.as_str(), long.as_str()])]);
        assert_eq!(got[0][1], format!("{}_2", "t".repeat(62)));
        for name in got.iter().flatten() {
            assert!(name.len() <= MAX_NAME);
        }
    }

    #[test]
    fn the_same_listing_gives_the_same_names() {
        let servers: &[(&str, &[&str])] = &[("a", &["x", "y.z", "y_z"]), ("b", &["x", "q"])];
        assert_eq!(names(servers), names(servers));
    }
}
