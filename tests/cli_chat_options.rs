//! `toolstream chat` request options (issue 16): the flags end up in the request bytes a
//! loopback server receives; flags a provider does not take are bad usage (exit 2) and
//! no request is sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A whole Anthropic message that ends the turn: "ok", `end_turn`.
const ANSWER: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",",
    "\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,",
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,",
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,",
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",",
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":1}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

/// One request as the server read it.
struct Received {
    /// The head's lines after the request line, as sent.
    headers: Vec<String>,
    body: String,
}

/// A loopback server that answers every request with [`ANSWER`] and hands each request
/// over; its base URL.
fn capture_server() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            thread::spawn(move || serve(stream, &tx));
        }
    });
    (url, rx)
}

fn serve(stream: TcpStream, tx: &mpsc::Sender<Received>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end().to_owned();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
        headers.push(header);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let _ = tx.send(Received {
        headers,
        body: String::from_utf8(body).unwrap(),
    });
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        ANSWER.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(ANSWER.as_bytes());
}

fn chat(provider: &str, base_url: &str, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_toolstream"))
        .args(["chat", "--provider", provider, "--base-url", base_url])
        .args(flags)
        .arg("What is the weather in Paris?")
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("OPENAI_API_KEY", "dummy")
        .env("GEMINI_API_KEY", "dummy")
        .output()
        .unwrap()
}

/// Runs `chat` against the capture server and returns the one request it sent.
fn request(flags: &[&str]) -> Received {
    let (url, rx) = capture_server();
    let out = chat("anthropic", &url, flags);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(rx.try_recv().is_err(), "one request only");
    got
}

#[test]
fn sampling_stop_effort_tool_choice_and_body_fields_are_in_the_request() {
    let got = request(&[
        "--max-tokens",
        "3000",
        "--temperature",
        "0.25",
        "--top-p",
        "0.9",
        "--stop",
        "END",
        "--stop",
        "STOP",
        "--tool-choice",
        "get_weather",
        "--reasoning-effort",
        "low",
        "--body",
        r#"{"service_tier": "auto", "metadata": {"user_id": "u-1"}, "stream": true}"#,
    ]);
    let b = &got.body;
    assert!(
        b.starts_with(concat!(
            r#"{"model":"claude-sonnet-4-5","max_tokens":3000,"stream":true,"temperature":0.25,"#,
            r#""top_p":0.9,"stop_sequences":["END","STOP"],"output_config":{"effort":"low"},"#,
            r#""tools":["#
        )),
        "{b}"
    );
    assert!(
        b.contains(r#"],"tool_choice":{"type":"tool","name":"get_weather"},"messages":["#),
        "{b}"
    );
    assert!(
        b.ends_with(r#"}],"service_tier":"auto","metadata":{"user_id":"u-1"}}"#),
        "{b}"
    );
}

#[test]
fn a_thinking_budget_turns_thinking_on() {
    let got = request(&[
        "--max-tokens",
        "4000",
        "--thinking-budget",
        "2048",
        "--tool-choice",
        "auto",
    ]);
    let b = &got.body;
    assert!(
        b.starts_with(concat!(
            r#"{"model":"claude-sonnet-4-5","max_tokens":4000,"stream":true,"#,
            r#""thinking":{"type":"enabled","budget_tokens":2048},"tools":["#
        )),
        "{b}"
    );
    assert!(
        b.contains(r#"],"tool_choice":{"type":"auto"},"messages":["#),
        "{b}"
    );
}

#[test]
fn without_flags_the_request_is_as_before() {
    let got = request(&[]);
    let b = &got.body;
    assert!(
        b.starts_with(r#"{"model":"claude-sonnet-4-5","max_tokens":4096,"stream":true,"tools":["#),
        "{b}"
    );
    for key in [
        "temperature",
        "top_p",
        "stop_sequences",
        "thinking",
        "output_config",
        "tool_choice",
    ] {
        assert!(!b.contains(&format!("\"{key}\"")), "{key} in {b}");
    }
}

/// The extra headers reach the server. `RequestOptions::headers` is added to the HTTP
/// request in `ModelClient::stream`.
#[test]
fn extra_headers_are_sent() {
    let got = request(&[
        "--header",
        "X-Trace: abc 1",
        "--header",
        "anthropic-beta:b1",
    ]);
    let has = |h: &str| got.headers.iter().any(|x| x.eq_ignore_ascii_case(h));
    assert!(has("x-trace: abc 1"), "{:?}", got.headers);
    assert!(has("anthropic-beta: b1"), "{:?}", got.headers);
}

/// Bad usage: exit 2, a reason on standard error, and no request sent.
fn refused(provider: &str, flags: &[&str], reason: &str) {
    let (url, rx) = capture_server();
    let out = chat(provider, &url, flags);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(reason), "{stderr}");
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn a_body_that_is_not_a_json_object_is_bad_usage() {
    refused("anthropic", &["--body", "[1]"], "not a JSON object");
    refused("anthropic", &["--body", "{\"a\":"], "not a JSON object");
    refused("anthropic", &["--body", "\"x\""], "--body");
}

#[test]
fn options_the_provider_refuses_are_bad_usage() {
    refused(
        "anthropic",
        &["--thinking-budget", "4096"],
        "anthropic: the thinking budget (4096) must be less than max tokens (4096)",
    );
    refused(
        "anthropic",
        &["--thinking-budget", "2048", "--temperature", "0.5"],
        "anthropic: temperature 0.5 with thinking on (leave it unset, or 1)",
    );
    refused(
        "openai-responses",
        &["--stop", "END"],
        "openai-responses has no stop sequences",
    );
    refused(
        "openai-chat",
        &["--thinking-budget", "2048"],
        "openai-chat has no thinking budget",
    );
    refused(
        "anthropic",
        &["--reasoning-effort", "minimal"],
        "anthropic has no minimal reasoning effort",
    );
    refused(
        "gemini",
        &["--header", "Bad Name: x"],
        "header `Bad Name`: not a valid header name",
    );
}

#[test]
fn malformed_flags_are_bad_usage() {
    refused(
        "anthropic",
        &["--reasoning-effort", "extreme"],
        "unknown reasoning effort",
    );
    refused(
        "anthropic",
        &["--header", "no colon"],
        "is not `Name: value`",
    );
    refused("anthropic", &["--temperature", "warm"], "--temperature");
    refused(
        "anthropic",
        &["--tool-choice", ""],
        "expected auto, any, none",
    );
}
