//! `toolstream demo`, `serve` and `chat` as a user runs them: real processes, real loopback
//! HTTP. No assertion on speed (the demo's eager-vs-batched figures are reported, not
//! tested); only structure, exit codes and the mock server's request checks.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use toolstream::mock::{MockServer, Script};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
}

#[test]
fn demo_runs_offline_and_writes_a_timeline() {
    let svg = std::env::temp_dir().join(format!("toolstream-demo-{}.svg", std::process::id()));
    let out = bin().args(["demo", "--svg"]).arg(&svg).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "== eager dispatch ==",
        "== batched dispatch ==",
        "== summary ==",
        "turn 1 latency",
        "conversation",
        // The batched run repeats the eager run's history byte for byte: all hits.
        "prompt cache: 4 hits, 0 misses, 2 first requests; 0 order violations, 0 refused requests",
        "eager and batched histories are byte-identical",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    // SPEC §9: the share of prompt tokens read from cache, from the usage the mock streamed:
    // eager reads each turn's predecessor; batched repeats eager's requests, so all of it.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("prompt read from cache"))
        .unwrap_or_else(|| panic!("no cache share in:\n{stdout}"));
    let shares: Vec<u32> = line
        .split_whitespace()
        .filter_map(|w| w.strip_suffix('%'))
        .map(|w| w.parse().unwrap())
        .collect();
    assert!(
        shares.len() == 2 && shares[0] > 20 && shares[0] < 100,
        "{line}"
    );
    assert_eq!(shares[1], 100, "{line}");
    let chart = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).unwrap();
    assert!(chart.starts_with("<svg"));
    assert!(chart.contains("eager dispatch") && chart.contains("batched dispatch"));
    assert_eq!(
        chart.matches("model stream</text>").count(),
        6,
        "3 turns x 2 modes"
    );
}

/// Kills and reaps the server however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `toolstream serve` with `flags` on an ephemeral port: the process (killed on drop) and
/// the base URL it printed first.
fn serve(flags: &[&str]) -> (KillOnDrop, String) {
    let mut child = KillOnDrop(
        bin()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, first.trim().to_owned())
}

#[test]
fn serve_prints_its_address_and_answers() {
    let (child, base) = serve(&[]);
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth("k")
            .body(r#"{"model":"mock-1","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            .send()
            .await?;
        let status = response.status();
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.text().await?;
        Ok::<_, reqwest::Error>((status, kind, body))
    });
    drop(child);
    let (status, kind, body) = result.unwrap();
    assert_eq!(status, 200);
    assert_eq!(kind, "text/event-stream");
    assert!(body.contains("chat.completion.chunk") && body.ends_with("data: [DONE]\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_talks_to_any_base_url() {
    let mut script = Script::default_demo();
    script.chunk_delay_ms = 1;
    let last = script.turns.last().unwrap().text.clone();
    let server = MockServer::start("127.0.0.1:0".parse().unwrap(), script)
        .await
        .unwrap();
    let base = server.base_url();
    for provider in ["anthropic", "openai-chat", "openai-responses", "gemini"] {
        let var = toolstream::ModelClient::api_key_var(provider.parse().unwrap());
        let base = base.clone();
        let out = tokio::task::spawn_blocking(move || {
            bin()
                .args([
                    "chat",
                    "--provider",
                    provider,
                    "--base-url",
                    &base,
                    "Weather?",
                ])
                .env(var, "test-key")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{provider}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&last), "{provider}: {stdout}");
        // The usage line: later turns read earlier ones from the (emulated) cache.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("tokens: ") && stderr.contains("% read from cache"),
            "{provider}: {stderr}"
        );
        assert!(!stderr.contains("(0% read"), "{provider}: {stderr}");
        assert!(
            stdout.contains("[tool 0 get_weather -> Paris: sunny, 21°C]"),
            "{provider}: {stdout}"
        );
    }
    let stats = server.stats();
    assert_eq!(
        (stats.requests, stats.rejected, stats.order_violations),
        (12, 0, 0)
    );
    server.shutdown().await;
}

#[test]
fn chat_without_a_key_says_which_variable() {
    let out = bin()
        .args(["chat", "--provider", "anthropic", "hello"])
        .env_remove("ANTHROPIC_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim(),
        "toolstream: the ANTHROPIC_API_KEY environment variable is not set"
    );
}

/// `serve --cache-minimums` applies the documented minimum cacheable lengths: the demo
/// conversation (a few hundred tokens) is then too short to cache; `chat --cache off`
/// places no breakpoints, so nothing is read either way.
#[test]
fn serve_cache_minimums_and_chat_cache_off_read_nothing() {
    let chat = |base: &str, cache: &str| {
        let out = bin()
            .args(["chat", "--provider", "anthropic", "--base-url", base])
            .args(["--cache", cache, "Weather?"])
            .env("ANTHROPIC_API_KEY", "test-key")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    for (flags, cache, read) in [
        (&["--cache-minimums"][..], "5m", false),
        (&[][..], "off", false),
        (&[][..], "1h", true),
    ] {
        let (_child, base) = serve(flags);
        let stderr = chat(&base, cache);
        assert_eq!(
            !stderr.contains("(0% read from cache"),
            read,
            "{flags:?} --cache {cache}: {stderr}"
        );
    }
    let out = bin()
        .args(["chat", "--provider", "anthropic", "--cache", "2h", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
