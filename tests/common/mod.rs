//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use toolstream::{
    AssembledMessage, Assembler, DecodeError, Provider, ProviderChoice, StreamDecoder, StreamEvent,
};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every provider fixture (`.sse` or `.bin`) that has an expected `.turn.json`, with the
/// provider its folder stands for.
pub fn provider_fixtures() -> Vec<(Provider, PathBuf)> {
    let mut all = Vec::new();
    for (dir, provider) in [
        ("anthropic", Provider::Anthropic),
        ("openai-chat", Provider::OpenAiChat),
        ("openai-compatible", Provider::OpenAiChat),
        ("openai-responses", Provider::OpenAiResponses),
        ("gemini", Provider::Gemini),
        ("bedrock", Provider::Bedrock),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.to_string_lossy();
                (name.ends_with(".sse") || name.ends_with(".bin"))
                    && Path::new(&format!("{name}.turn.json")).exists()
            })
            .collect();
        files.sort();
        all.extend(files.into_iter().map(|p| (provider, p)));
    }
    all
}

/// Decodes `body` fed in the given chunks; payload errors are collected, not fatal.
pub fn decode_chunks<'a>(
    provider: impl Into<ProviderChoice>,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<StreamEvent>, Vec<String>) {
    let mut d = StreamDecoder::new(provider);
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for c in chunks {
        if let Err(e) = d.push(c, &mut events) {
            errors.push(e.to_string());
        }
    }
    if let Err(e) = d.finish(&mut events) {
        errors.push(e.to_string());
    }
    (events, errors)
}

pub fn decode(
    provider: impl Into<ProviderChoice>,
    body: &[u8],
) -> Result<Vec<StreamEvent>, DecodeError> {
    let mut d = StreamDecoder::new(provider);
    let mut events = Vec::new();
    d.push(body, &mut events)?;
    d.finish(&mut events)?;
    Ok(events)
}

pub fn assemble(events: &[StreamEvent]) -> AssembledMessage {
    let mut a = Assembler::new();
    for e in events {
        a.push(e)
            .unwrap_or_else(|err| panic!("assembling {e:?}: {err}"));
    }
    a.finish()
}
