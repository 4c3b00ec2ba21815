//! `toolstream demo`, `serve` and `chat` as a user runs them: real processes, real loopback
//! HTTP. No assertion on speed (the demo's eager-vs-batched figures are reported, not
//! tested); only structure, exit codes and the mock server's request checks.
//!
//! The demo in a terminal runs under a real pseudo-terminal (util-linux `script`, sized with
//! `stty`); what it wrote is replayed on a small terminal model to get the screen a person
//! would see at the end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use toolstream::mock::{MockServer, Script};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
}

/// What the demo's model says, turn by turn (the mock's demo script).
fn model_texts() -> Vec<String> {
    Script::default_demo()
        .turns
        .into_iter()
        .map(|t| t.text)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The value of attribute `name` in an SVG tag.
fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let from = tag
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 3;
    let len = tag[from..].find('"').unwrap();
    &tag[from..from + len]
}

/// The tags of the chart that start with `start`.
fn tags<'a>(chart: &'a str, start: &str) -> Vec<&'a str> {
    chart
        .match_indices(start)
        .map(|(i, _)| &chart[i..i + chart[i..].find('>').unwrap()])
        .collect()
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
    // Piped, nothing is redrawn: whole lines, each message's text once it ended.
    assert!(!stdout.contains(['\x1b', '\r']), "{stdout:?}");
    for text in model_texts() {
        let said = format!("model said: {text}");
        assert_eq!(
            stdout.lines().filter(|l| l.ends_with(&said)).count(),
            2,
            "{said:?} in:\n{stdout}"
        );
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
    chart_marks_commits_releases_and_savings(&chart, &stdout);
}

/// The chart marks where each tool turn committed and released its results, and states
/// what eager saved, as the summary does. Only orderings the turn stream guarantees are
/// checked, never durations.
fn chart_marks_commits_releases_and_savings(chart: &str, stdout: &str) {
    // Turns 1 and 2 call tools, in both modes; turn 3 answers.
    assert_eq!(chart.matches("committed</text>").count(), 4, "{chart}");
    assert_eq!(
        chart.matches("results released</text>").count(),
        4,
        "{chart}"
    );
    let ms = |tag: &str, name: &str| attr(tag, name).parse::<u64>().unwrap();
    let markers = |class: &str| {
        let found: Vec<(String, u64, u64)> = tags(chart, &format!("<line class=\"{class}\""))
            .into_iter()
            .map(|t| {
                (
                    attr(t, "data-policy").to_owned(),
                    ms(t, "data-turn"),
                    ms(t, "data-ms"),
                )
            })
            .collect();
        assert_eq!(found.len(), 4, "{class} markers in {chart}");
        found
    };
    let (commits, releases) = (markers("commit"), markers("release"));
    for (policy, turn, commit) in &commits {
        let (_, _, release) = releases
            .iter()
            .find(|(p, t, _)| p == policy && t == turn)
            .unwrap_or_else(|| panic!("no release of {policy} turn {turn}"));
        // Results leave only once the turn has committed.
        assert!(
            release >= commit,
            "{policy} turn {turn}: {release} < {commit}"
        );
        let calls = tags(
            chart,
            &format!("<g data-policy=\"{policy}\" data-turn=\"{turn}\""),
        );
        assert!(!calls.is_empty(), "{policy} turn {turn} has no calls");
        for call in calls {
            let started = ms(call, "data-started");
            let finished = ms(call, "data-finished");
            let released = ms(call, "data-released");
            assert!(
                ms(call, "data-complete") <= started && started <= finished,
                "{call}"
            );
            assert!(
                finished <= released && *commit <= released && released <= *release,
                "{call}"
            );
            if policy == "batched" {
                // Batched holds every call until the message commits.
                assert!(started >= *commit, "{call} started before {commit}");
            }
        }
    }
    // "time eager saved: S ms = batched B ms − eager E ms (turn 1: …, turn 2: …)", in the
    // chart and in the summary, with the summary's conversation times.
    let statement = |text: &str| {
        let at = text
            .find("time eager saved: ")
            .unwrap_or_else(|| panic!("no savings in {text}"));
        let line = text[at..]
            .lines()
            .next()
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        let numbers: Vec<i64> = line
            .split(|c: char| !c.is_ascii_digit() && c != '-')
            .filter_map(|w| w.parse().ok())
            .collect();
        (line, numbers)
    };
    let (line, numbers) = statement(chart);
    assert_eq!(
        statement(stdout)
            .0
            .split(": tools ran")
            .next()
            .unwrap()
            .split(": eager was")
            .next()
            .unwrap(),
        line
    );
    // S, B, E, then "turn 1", its saving, "turn 2", its saving.
    assert_eq!(numbers.len(), 7, "{line}");
    let (saved, batched, eager) = (numbers[0], numbers[1], numbers[2]);
    assert_eq!(saved, batched - eager, "{line}");
    assert_eq!((numbers[3], numbers[5]), (1, 2), "{line}");
    let conversation = stdout
        .lines()
        .find(|l| l.starts_with("conversation "))
        .unwrap();
    let totals: Vec<i64> = conversation
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(totals, [eager, batched], "{conversation}");
}

/// The demo under a pseudo-terminal `columns` wide, with `env` (TERM, NO_COLOR and COLUMNS
/// otherwise unset): everything it wrote. `None` where there is no util-linux `script`.
fn demo_in_a_terminal(columns: u16, env: &[(&str, &str)]) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let bin = env!("CARGO_BIN_EXE_toolstream").replace('\'', r"'\''");
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c"])
        .arg(format!("stty cols {columns} rows 50 && exec '{bin}' demo"))
        .arg("/dev/null")
        .env_remove("TERM")
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env("SHELL", "/bin/sh")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let out = match script.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("no `script` (util-linux): the terminal test is skipped");
            return None;
        }
        Err(e) => panic!("script: {e}"),
    };
    let written = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{written}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(written)
}

/// The lines a terminal `columns` wide shows after `written`, each with the rows it wrapped
/// onto joined back (as `tmux capture-pane -J` gives them), trailing blanks trimmed. Knows
/// printable characters (one column each), CR, LF, EL (`ESC [ n K`) and SGR (`ESC [ … m`);
/// anything else fails the test, and so does erasing a row that belongs to a wrapped line:
/// the rest of that line would stay behind as a fragment.
fn screen(written: &str, columns: usize) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    // wrapped[r]: row r continues row r - 1.
    let mut wrapped = vec![false];
    let (mut row, mut col) = (0, 0);
    let mut chars = written.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                if row == rows.len() {
                    rows.push(Vec::new());
                    wrapped.push(false);
                }
            }
            '\x1b' => {
                assert_eq!(chars.next(), Some('['), "only CSI sequences");
                let mut params = String::new();
                let last = loop {
                    let c = chars.next().expect("an unterminated sequence");
                    if c.is_ascii_digit() || c == ';' {
                        params.push(c);
                    } else {
                        break c;
                    }
                };
                match (last, params.as_str()) {
                    ('m', _) => {}
                    ('K', "2") => {
                        let spans_rows = wrapped[row] || wrapped.get(row + 1) == Some(&true);
                        assert!(
                            !spans_rows,
                            "erased row {row} of a wrapped line: {:?}",
                            rows[row].iter().collect::<String>()
                        );
                        rows[row].clear();
                    }
                    ('K', "" | "0") => rows[row].truncate(col),
                    _ => panic!("unexpected sequence ESC [{params}{last}"),
                }
            }
            c if c.is_control() && c != '\t' => panic!("unexpected control character {c:?}"),
            c => {
                if col == columns {
                    row += 1;
                    col = 0;
                    if row == rows.len() {
                        rows.push(Vec::new());
                        wrapped.push(true);
                    }
                    wrapped[row] = true;
                }
                let r = &mut rows[row];
                if r.len() <= col {
                    r.resize(col + 1, ' ');
                }
                r[col] = c;
                col += 1;
            }
        }
    }
    let mut lines: Vec<String> = Vec::new();
    for (r, cells) in rows.iter().enumerate() {
        let cells: String = cells.iter().collect();
        match lines.last_mut() {
            Some(last) if wrapped[r] => last.push_str(&cells),
            _ => lines.push(cells),
        }
    }
    lines.iter().map(|l| l.trim_end().to_owned()).collect()
}

/// What the model said is on the final screen, once per mode, each on its line.
fn assert_every_text_stays(lines: &[String], what: &str) {
    for text in model_texts() {
        let on = lines
            .iter()
            .filter(|l| l.ends_with(&format!("model: {text}")))
            .count();
        assert_eq!(
            on,
            2,
            "{what}: {text:?} is not on the final screen:\n{}",
            lines.join("\n")
        );
    }
}

/// The final screen of a terminal 80 or 60 columns wide keeps every line of model text,
/// erased rows never belonged to a wrapped line, and no argument preview is left behind.
#[test]
fn demo_in_a_terminal_keeps_the_model_text() {
    for columns in [80, 60] {
        let Some(written) = demo_in_a_terminal(columns, &[("TERM", "xterm-256color")]) else {
            return;
        };
        // The preview was drawn in place, faint.
        assert!(
            written.contains("\r\x1b[2K\x1b[2m    get_weather"),
            "{written:?}"
        );
        let lines = screen(&written, usize::from(columns));
        assert_every_text_stays(&lines, &format!("{columns} columns"));
        let previews: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
            .collect();
        assert!(
            previews.is_empty(),
            "{columns} columns: previews left: {previews:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("eager and batched histories are byte-identical")),
            "{}",
            lines.join("\n")
        );
    }
}

/// `TERM=dumb`: no escape sequence and no carriage return of the demo's own (the terminal
/// driver turns each LF into CR LF); the text streams onto appended lines.
#[test]
fn demo_on_a_dumb_terminal_appends_plain_lines() {
    let Some(written) = demo_in_a_terminal(60, &[("TERM", "dumb")]) else {
        return;
    };
    assert!(!written.contains('\x1b'), "{written:?}");
    assert!(!written.replace("\r\n", "\n").contains('\r'), "{written:?}");
    let lines: Vec<String> = written.lines().map(|l| l.trim_end().to_owned()).collect();
    assert_every_text_stays(&lines, "TERM=dumb");
}

/// `NO_COLOR` (no-color.org): set and not empty, no colour; the preview is still redrawn.
#[test]
fn demo_with_no_color_draws_no_colour() {
    let Some(written) = demo_in_a_terminal(80, &[("TERM", "xterm-256color"), ("NO_COLOR", "1")])
    else {
        return;
    };
    let sgr = written
        .match_indices("\x1b[")
        .filter(|(i, _)| {
            written[i + 2..]
                .chars()
                .find(|c| !c.is_ascii_digit() && *c != ';')
                == Some('m')
        })
        .count();
    assert_eq!(sgr, 0, "{written:?}");
    assert!(written.contains("\r\x1b[2K    get_weather"), "{written:?}");
    assert_every_text_stays(&screen(&written, 80), "NO_COLOR=1");
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
