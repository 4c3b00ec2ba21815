//! The offline commands' input (`sse`, `events`, `turn`, and `run`'s replay): a file or
//! standard input read in chunks as it arrives, decoded, and when it cannot stand though
//! the decoder took it without an error, the reason why (SPEC §7).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use toolstream::report::{sse_event_json, stream_event_json, turn_json};
use toolstream::{Assembler, ProviderChoice, SseDecoder, StreamDecoder, StreamEvent};

use crate::Failure;

fn open(path: &PathBuf) -> Result<Box<dyn Read>, Failure> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    File::open(path)
        .map(|f| Box::new(f) as Box<dyn Read>)
        .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))
}

/// Reads `path` in chunks, handing each to `f` as it arrives (so standard input streams).
fn for_each_chunk(
    path: &PathBuf,
    mut f: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut input = open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Input(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        f(&buf[..n])?;
    }
}

pub(crate) fn run_sse(path: &PathBuf, out: &mut impl Write) -> Result<(), Failure> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for_each_chunk(path, |chunk| {
        let r = decoder.push(chunk, &mut events);
        for e in events.drain(..) {
            writeln!(out, "{}", sse_event_json(&e))?;
        }
        r.map_err(|e| Failure::Input(e.to_string()))
    })?;
    decoder
        .finish()
        .map_err(|e| Failure::Input(e.to_string()))?;
    Ok(())
}

/// How much of the input's start is kept to explain an input that yields no event.
const HEAD_BYTES: usize = 64 * 1024;

/// What `events`, `turn` and `run` saw of their input, to say why it cannot stand when
/// the decoder took it without an error: no event of the provider at all (a wrong
/// `--provider`, random bytes, an empty file), or a last event cut off before its blank
/// line.
#[derive(Default)]
struct Seen {
    /// The input's first bytes, kept until the first event.
    head: Vec<u8>,
    bytes: usize,
    events: usize,
    /// The message's end was seen.
    stopped: bool,
}

impl Seen {
    fn input(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len();
        if self.events == 0 && self.head.len() < HEAD_BYTES {
            let n = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
    }

    fn events(&mut self, events: &[StreamEvent]) {
        self.events += events.len();
        self.stopped |= events.iter().any(|e| matches!(e, StreamEvent::MessageStop));
        if self.events > 0 && !self.head.is_empty() {
            self.head = Vec::new();
        }
    }

    /// After the decoder finished without an error: why the input still cannot stand.
    ///
    /// An event without the blank line that ends it is not dispatched: the WHATWG rule,
    /// which the decoder keeps, and what the official SDKs do (anthropic-sdk-python and
    /// openai-python dispatch an event only on an empty line and drop what is pending at
    /// the end of the body). When that leaves the message without its end, the commands
    /// print what they have, then say so.
    fn verdict(&self, decoder: &StreamDecoder) -> Option<String> {
        if self.events == 0 {
            return Some(self.no_event(decoder.provider(), decoder.truncated()));
        }
        // After the message's end, a lost `data: [DONE]` changes nothing.
        (decoder.truncated() && !self.stopped)
            .then(|| format!("the input ends inside an event: {UNTERMINATED}"))
    }

    /// Why an input gave no event: names the provider (or says none was detected) and
    /// what the input holds instead.
    fn no_event(&self, provider: Option<toolstream::Provider>, truncated: bool) -> String {
        let what = match provider {
            Some(p) => format!("the input holds no {p} event"),
            None => "could not detect the provider: the input holds no event".to_owned(),
        };
        if self.bytes == 0 {
            return format!("{what}: it is empty");
        }
        // Diagnostics only, on the input's start (its last event closed as a blank line
        // would, to tell an unterminated event from bytes that frame none): errors just
        // end what is counted.
        let closed = [&self.head[..], b"\n\n"].concat();
        let mut sse = SseDecoder::new();
        let mut framed = Vec::new();
        let _ = sse.push(&self.head, &mut framed);
        let dispatched = framed.len();
        let _ = sse.push(b"\n\n", &mut framed);
        let unterminated = truncated && framed.len() > dispatched;
        let mut names: Vec<&str> = Vec::new();
        for e in &framed {
            if names.len() < 4 && !names.contains(&e.event()) {
                names.push(e.event());
            }
        }
        let mut auto = StreamDecoder::new(ProviderChoice::Auto);
        let mut events = Vec::new();
        let _ = auto.push(&closed, &mut events);
        let _ = auto.finish(&mut events);
        let detected = auto.provider().filter(|_| !events.is_empty());
        if unterminated && detected.is_some_and(|p| provider.is_none_or(|q| q == p)) {
            return format!("{what}: {UNTERMINATED}");
        }
        let reads_as = detected
            .filter(|p| Some(*p) != provider)
            .map_or_else(String::new, |p| {
                format!("; it reads as {p} (try --provider {p} or auto)")
            });
        let partial = if self.bytes > self.head.len() {
            " in its first 64 KiB"
        } else {
            ""
        };
        let last = if unterminated {
            ", the last with no blank line after it"
        } else {
            ""
        };
        if framed.is_empty() {
            format!(
                "{what}: its {} bytes hold no server-sent event{partial}{reads_as}",
                self.bytes
            )
        } else {
            format!(
                "{what}: {} server-sent event{}{partial}{last} (event types: {}){reads_as}",
                framed.len(),
                if framed.len() == 1 { "" } else { "s" },
                names.join(", ")
            )
        }
    }
}

/// The end of the reason given for an input whose last event lacks its blank line.
const UNTERMINATED: &str = "its last event has no blank line after it, so it was not \
     dispatched (as the SSE standard and the official SDKs have it)";

pub(crate) fn run_events(
    provider: ProviderChoice,
    path: &PathBuf,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut decoder = StreamDecoder::new(provider);
    let mut events = Vec::new();
    let mut seen = Seen::default();
    for_each_chunk(path, |chunk| {
        seen.input(chunk);
        let r = decoder.push(chunk, &mut events);
        seen.events(&events);
        for e in events.drain(..) {
            writeln!(out, "{}", stream_event_json(&e))?;
        }
        r.map_err(|e| Failure::Input(e.to_string()))
    })?;
    let r = decoder.finish(&mut events);
    seen.events(&events);
    for e in events.drain(..) {
        writeln!(out, "{}", stream_event_json(&e))?;
    }
    r.map_err(|e| Failure::Input(e.to_string()))?;
    seen.verdict(&decoder)
        .map_or(Ok(()), |reason| Err(Failure::Input(reason)))
}

pub(crate) fn run_turn(
    provider: ProviderChoice,
    path: &PathBuf,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut decoder = StreamDecoder::new(provider);
    let mut assembler = Assembler::new();
    let mut events = Vec::new();
    let mut seen = Seen::default();
    let mut assemble = |events: &mut Vec<_>, seen: &mut Seen| -> Result<(), Failure> {
        seen.events(events);
        for e in events.drain(..) {
            assembler
                .push(&e)
                .map_err(|e| Failure::Input(e.to_string()))?;
        }
        Ok(())
    };
    for_each_chunk(path, |chunk| {
        seen.input(chunk);
        let r = decoder.push(chunk, &mut events);
        assemble(&mut events, &mut seen)?;
        r.map_err(|e| Failure::Input(e.to_string()))
    })?;
    let r = decoder.finish(&mut events);
    assemble(&mut events, &mut seen)?;
    r.map_err(|e| Failure::Input(e.to_string()))?;
    let verdict = seen.verdict(&decoder);
    // A message with events prints even when the verdict fails it (SPEC §7: the lines,
    // then the reason); an input with no event of the provider has no message to print.
    if let (Some(provider), true) = (decoder.provider(), seen.events > 0) {
        writeln!(out, "{}", turn_json(provider, &assembler.finish()))?;
    }
    verdict.map_or(Ok(()), |reason| Err(Failure::Input(reason)))
}

/// The input of `run`: the unified events decoded up to the first decoding error (the
/// replay needs them up front), and that error.
pub(crate) struct Decoded {
    pub(crate) provider: toolstream::Provider,
    pub(crate) events: Vec<toolstream::StreamEvent>,
    pub(crate) error: Option<String>,
}

/// Decodes the whole input. A decoding error stops the decoding; the events before it are
/// still run (SPEC §7: an abandoned turn "still prints its lines, then exits 1").
pub(crate) fn read_events(provider: ProviderChoice, path: &PathBuf) -> Result<Decoded, Failure> {
    let mut decoder = StreamDecoder::new(provider);
    let mut events = Vec::new();
    let mut error = None;
    let mut seen = Seen::default();
    for_each_chunk(path, |chunk| {
        if error.is_none() {
            seen.input(chunk);
            if let Err(e) = decoder.push(chunk, &mut events) {
                error = Some(e.to_string());
            }
            seen.events(&events[seen.events..]);
        }
        Ok(())
    })?;
    if error.is_none() {
        if let Err(e) = decoder.finish(&mut events) {
            error = Some(e.to_string());
        }
        seen.events(&events[seen.events..]);
    }
    if error.is_none() {
        error = seen.verdict(&decoder);
    }
    let provider = match decoder.provider() {
        // Even with no event, a known provider makes a turn: its lines print (both
        // messages null), then the reason (SPEC §7).
        Some(provider) => provider,
        None => {
            return Err(Failure::Input(error.unwrap_or_else(|| {
                "could not detect the provider: the input holds no event".into()
            })))
        }
    };
    Ok(Decoded {
        provider,
        events,
        error,
    })
}
