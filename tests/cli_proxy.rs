//! `toolstream proxy` as a user runs it: a real process on loopback, its address on the
//! first line of standard output, killed at the end of each test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use toolstream::mock::{MockServer, Script};
use toolstream::{ModelClient, Provider};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
}

/// Kills and reaps the proxy however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "toolstream-cli-proxy-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `toolstream proxy ARGS` and returns it with the base URL it printed first.
fn spawn(args: &[&str]) -> (KillOnDrop, String) {
    let mut child = KillOnDrop(
        bin()
            .arg("proxy")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first.trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first:?}");
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_prints_its_address_and_serves() {
    let dir = TempDir::new("replay");
    let cassette = dir.0.to_str().unwrap();
    let (child, base) = spawn(&[
        "--mode",
        "replay",
        "--cassette",
        cassette,
        "--addr",
        "127.0.0.1:0",
    ]);
    let stats = reqwest::get(format!("{base}/proxy/stats"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stats, r#"{"hits":0,"misses":0,"recorded":0}"#);
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", "k")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "cassette_miss");
    drop(child);
}

/// Record through one process, replay through another with the upstream gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_across_processes() {
    let dir = TempDir::new("cycle");
    let cassette = dir.0.to_str().unwrap();
    let mut script = Script::default_demo();
    script.chunk_delay_ms = 0;
    let upstream = MockServer::start("127.0.0.1:0".parse().unwrap(), script)
        .await
        .unwrap();
    let client = |base: &str| {
        ModelClient::new(Provider::OpenAiChat, "mock-1", "k")
            .unwrap()
            .base_url(base)
    };
    let ask = |base: String| async move {
        let c = client(&base);
        let response = reqwest::Client::new()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth("k")
            .body(c.request_body(&[c.user_message("hi")], &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap()
    };
    let (recorder, base) = spawn(&[
        "--mode",
        "record",
        "--upstream",
        &upstream.base_url(),
        "--cassette",
        cassette,
    ]);
    let recorded = ask(base).await;
    drop(recorder);
    upstream.shutdown().await;
    let (replayer, base) = spawn(&["--mode", "replay", "--cassette", cassette]);
    assert_eq!(ask(base.clone()).await, recorded);
    let stats = reqwest::get(format!("{base}/proxy/stats"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(stats, r#"{"hits":1,"misses":0,"recorded":0}"#);
    drop(replayer);
}

#[test]
fn bad_usage_exits_2_and_a_missing_upstream_exits_1() {
    let dir = TempDir::new("usage");
    let cassette = dir.0.to_str().unwrap();
    let out = bin()
        .args(["proxy", "--mode", "rewind", "--cassette", cassette])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rewind"));
    for mode in ["record", "auto"] {
        let out = bin()
            .args(["proxy", "--mode", mode, "--cassette", cassette])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{mode}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("needs --upstream URL"), "{stderr}");
    }
    let missing = dir.0.join("nope");
    let out = bin()
        .args(["proxy", "--mode", "replay", "--cassette"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot use cassette directory"));
}
