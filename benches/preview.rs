//! Live argument previews: 64 KiB of arguments in 8,000 deltas through the assembler, with
//! and without a preview kept up to date after every delta; and with it also rendered (the
//! prefix closed and parsed) 60 times along the way, as a UI would once per frame.
//!
//! `cargo bench --bench preview` measures; `cargo test --benches` runs each case once.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use toolstream::{ArgumentPreview, Assembler, Block, Delta, StreamEvent};

fn arguments() -> String {
    let mut s = String::from("{\"rows\": [");
    let mut i = 0;
    while s.len() < 64 * 1024 - 64 {
        s.push_str(&format!(
            "{{\"id\": {i}, \"name\": \"row \\\"{i}\\\" é\", \"ok\": true}}, "
        ));
        i += 1;
    }
    s.push_str("{\"id\": -1}]}");
    s
}

fn deltas(args: &str, n: usize) -> Vec<StreamEvent> {
    let per = (args.len() / n).max(1);
    let mut out = vec![StreamEvent::BlockStart {
        index: 0,
        block: Block::ToolUse {
            id: "t".into(),
            name: "f".into(),
        },
    }];
    let mut start = 0;
    while start < args.len() {
        let mut end = (start + per).min(args.len());
        while !args.is_char_boundary(end) {
            end += 1;
        }
        out.push(StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::ToolInput(args[start..end].to_owned()),
        });
        start = end;
    }
    out.push(StreamEvent::BlockStop { index: 0 });
    out
}

/// `frames`: how many times the preview is rendered (parsed into a value) along the way,
/// as a user interface would once per frame.
fn run(events: &[StreamEvent], preview: bool, frames: usize) -> usize {
    let every = (events.len() / frames.max(1)).max(1);
    let mut a = Assembler::new();
    let mut p = ArgumentPreview::new();
    let mut rendered = 0;
    for (i, e) in events.iter().enumerate() {
        if preview {
            if let StreamEvent::BlockDelta {
                delta: Delta::ToolInput(s),
                ..
            } = e
            {
                p.push(s);
                if frames > 0 && i % every == 0 {
                    rendered += p.value().map_or(0, |v| usize::from(v.is_object()));
                }
            }
        }
        a.push(e).unwrap();
    }
    let m = a.finish();
    assert!(m.tool_calls[0].input.is_ok());
    if preview {
        assert_eq!(p.value().as_ref(), m.tool_calls[0].input.as_ref().ok());
    }
    rendered
}

fn bench(c: &mut Criterion) {
    let args = arguments();
    let events = deltas(&args, 8000);
    assert!(events.len() >= 8000);
    let mut group = c.benchmark_group("arguments_64k_in_8000_deltas");
    group.throughput(Throughput::Bytes(args.len() as u64));
    group.bench_function("previews_off", |b| {
        b.iter(|| run(black_box(&events), false, 0))
    });
    group.bench_function("previews_on", |b| {
        b.iter(|| run(black_box(&events), true, 0))
    });
    group.bench_function("previews_on_rendered_60_frames", |b| {
        b.iter(|| run(black_box(&events), true, 60))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
