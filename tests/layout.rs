//! The test layout: every file of `tests/` runs. `Cargo.toml` sets `autotests = false`
//! and the files are modules of the `suite_*` binaries, so a new file that no suite
//! includes would compile nowhere and pass silently; this test names it instead.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_test_file_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let mut included = BTreeSet::new();
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("tests")).expect("tests/") {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".rs") {
            continue;
        }
        let stem = name.trim_end_matches(".rs");
        if stem.starts_with("suite_") {
            let text = std::fs::read_to_string(&path).expect("a suite file");
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("#[path = \"") {
                    included.insert(rest.trim_end_matches("\"]").to_owned());
                }
            }
            assert!(
                manifest.contains(&format!("name = \"{stem}\"")),
                "tests/{name} is a suite but has no [[test]] entry in Cargo.toml"
            );
        } else if !manifest.contains(&format!("[[test]]\nname = \"{stem}\"")) {
            files.insert(name.to_owned());
        }
    }
    let orphans: Vec<_> = files.difference(&included).collect();
    assert!(
        orphans.is_empty(),
        "test files no suite includes (add each to a tests/suite_*.rs): {orphans:?}"
    );
}
