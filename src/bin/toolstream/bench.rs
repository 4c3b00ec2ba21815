//! `toolstream bench`: parse-and-assemble throughput beside the baselines, in one run.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use toolstream::corpus::{self, measure};
use toolstream::{Provider, ProviderChoice, StreamDecoder};

/// Measures and prints. `file`: one recorded stream; else a generated corpus of `mb` MB.
pub fn bench(
    choice: ProviderChoice,
    file: Option<&Path>,
    chunk: usize,
    mb: usize,
    as_json: bool,
) -> Result<String, String> {
    let (provider, bodies) = match file {
        Some(path) => {
            let body = if path.as_os_str() == "-" {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                    .map_err(|e| e.to_string())?;
                v
            } else {
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            };
            let mut d = StreamDecoder::new(choice);
            let mut events = Vec::new();
            d.push(&body, &mut events).map_err(|e| e.to_string())?;
            d.finish(&mut events).map_err(|e| e.to_string())?;
            let provider = d
                .provider()
                .ok_or("could not detect the provider: the input holds no event")?;
            (provider, vec![body])
        }
        None => {
            let provider = match choice {
                ProviderChoice::Fixed(p) => p,
                ProviderChoice::Auto => Provider::Anthropic,
            };
            if provider == Provider::Bedrock {
                return Err("no generated corpus for bedrock: give a FILE".into());
            }
            (provider, corpus::generate(provider, 42, mb * 1_000_000))
        }
    };
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let budget = Duration::from_millis(1500);
    let events = measure::toolstream(provider, &bodies, chunk);
    let ours = measure::best_of(budget, || measure::toolstream(provider, &bodies, chunk));
    let mb_per_s = |t: Duration| bytes as f64 / 1e6 / t.as_secs_f64();
    let (baseline, floor) = if provider == Provider::Bedrock {
        (None, None)
    } else {
        let payloads = measure::payloads(&bodies);
        let baseline = measure::best_of(budget, || measure::eventsource_value(&bodies, chunk));
        let floor = measure::best_of(budget, || measure::typed_floor(provider, &payloads));
        (Some(mb_per_s(baseline)), Some(mb_per_s(floor)))
    };
    let ours_mb = mb_per_s(ours);
    let ratio = |other: Option<f64>| other.map(|o| ours_mb / o);
    if as_json {
        return Ok(json!({
            "provider": provider.as_str(),
            "bytes": bytes,
            "messages": bodies.len(),
            "events": events,
            "chunk": chunk,
            "mb_per_s": ours_mb,
            "events_per_s": events as f64 / ours.as_secs_f64(),
            "baseline_mb_per_s": baseline,
            "floor_mb_per_s": floor,
            "ratio_vs_baseline": ratio(baseline),
            "ratio_vs_floor": ratio(floor),
        })
        .to_string());
    }
    let fmt = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}"));
    Ok(format!(
        "provider {provider}: {bytes} bytes, {} messages, {events} events, {chunk}-byte chunks\n\
         toolstream (bytes -> assembled turns)      {ours_mb:>8.1} MB/s  {:>10.0} events/s\n\
         eventsource-stream + serde_json::Value     {:>8} MB/s  (toolstream {}x)\n\
         typed serde_json of extracted payloads     {:>8} MB/s  (toolstream {}x)",
        bodies.len(),
        events as f64 / ours.as_secs_f64(),
        fmt(baseline),
        fmt(ratio(baseline)),
        fmt(floor),
        fmt(ratio(floor)),
    ))
}
