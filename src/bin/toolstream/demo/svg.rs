//! The demo's timeline chart: per mode, one lane per model stream and per tool call, a
//! marker where each turn committed and one where its results were released, and what
//! eager (or per-tool) dispatch saved.
//!
//! A call's lane shows three spans: held (its arguments were complete, but it waits for
//! the message to commit: batched dispatch), running, and waiting for its turn in request
//! order (finished, but an earlier call has not). Every marker and lane carries its
//! instants as `data-` attributes (whole ms), for tests and for readers of the file.

use super::{ModeRun, Savings, TurnTimes};

const LEFT: f64 = 260.0;
const WIDTH: f64 = 900.0;
const ROW: f64 = 22.0;

const STREAM: &str = "#3a78c2";
const RUN: &str = "#e07b39";
const WAIT: &str = "#f4d3bd";
const COMMIT: &str = "#2a9d3a";
const RELEASE: &str = "#7b3fb5";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every instant of the turn.
fn instants(t: &TurnTimes) -> impl Iterator<Item = f64> + '_ {
    [Some(t.stream_start), t.stream_end]
        .into_iter()
        .chain(
            t.calls
                .values()
                .flat_map(|c| [Some(c.complete), c.started, c.finished, c.released]),
        )
        .flatten()
}

/// A span of a lane, when it has a length worth drawing.
fn span(out: &mut String, x: &dyn Fn(f64) -> f64, y: f64, from: f64, to: f64, fill: &str) {
    if to - from < 0.5 {
        return;
    }
    out.push_str(&format!(
        "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"14\" rx=\"3\" fill=\"{fill}\"/>\n",
        x(from),
        (x(to) - x(from)).max(2.0),
    ));
}

/// A lane's label on the left and its times on the right of its last span.
fn label(out: &mut String, y: f64, lane: &str, right: f64, times: &str) {
    out.push_str(&format!(
        "<text x=\"10\" y=\"{:.1}\" font-size=\"12\">{}</text>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#444\">{times}</text>\n",
        y + 11.0,
        escape(lane),
        right + 4.0,
        y + 11.0,
    ));
}

/// A vertical marker across a mode's lanes: where `turn` committed (labelled above the
/// lanes) or released its results (dashed, labelled below).
fn marker(
    x: &dyn Fn(f64) -> f64,
    run: &ModeRun,
    turn: u64,
    at: f64,
    (top, bottom): (f64, f64),
    class: &str,
) -> String {
    let (color, dash, label_y, what) = match class {
        "commit" => (COMMIT, "", top + 10.0, "committed"),
        _ => (
            RELEASE,
            " stroke-dasharray=\"4 3\"",
            bottom + 10.0,
            "results released",
        ),
    };
    let policy = run.policy;
    let (x, label_x) = (x(at), x(at) + 3.0);
    format!(
        "<line class=\"{class}\" data-policy=\"{policy}\" data-turn=\"{turn}\" data-ms=\"{at:.0}\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{color}\" stroke-width=\"1.5\"{dash}/>\n<text x=\"{label_x:.1}\" y=\"{label_y:.1}\" font-size=\"10\" fill=\"{color}\">turn {turn} {what}</text>\n"
    )
}

/// The chart, as an SVG document.
pub(super) fn timeline(runs: &[ModeRun], savings: Option<&Savings>) -> String {
    let max_ms = runs
        .iter()
        .flat_map(|r| r.turns.iter().flat_map(instants))
        .fold(1.0_f64, f64::max);
    let x = |ms: f64| LEFT + ms / max_ms * WIDTH;
    let mut body = String::new();
    if let Some(s) = savings {
        body.push_str(&format!(
            "<text x=\"10\" y=\"62\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
            escape(&s.describe())
        ));
    }
    let mut y = 96.0;
    for run in runs {
        body.push_str(&format!(
            "<text x=\"10\" y=\"{y}\" font-size=\"16\" font-weight=\"bold\">{} dispatch</text>\n",
            run.policy
        ));
        // The commit labels' row, then the lanes, then the release labels' row.
        let top = y + 6.0;
        y = top + 14.0;
        for turn in &run.turns {
            y += ROW;
            let end = turn.stream_end.unwrap_or(turn.stream_start);
            span(&mut body, &x, y, turn.stream_start, end, STREAM);
            label(
                &mut body,
                y,
                &format!("turn {} model stream", turn.turn),
                x(end),
                &format!("{:.0}–{end:.0} ms", turn.stream_start),
            );
            for (index, call) in &turn.calls {
                y += ROW;
                let started = call.started.unwrap_or(call.complete);
                let finished = call.finished.unwrap_or(started);
                let released = call.released.unwrap_or(finished);
                body.push_str(&format!(
                    "<g data-policy=\"{}\" data-turn=\"{}\" data-call=\"{index}\" data-complete=\"{:.0}\" data-started=\"{started:.0}\" data-finished=\"{finished:.0}\" data-released=\"{released:.0}\">\n",
                    run.policy, turn.turn, call.complete
                ));
                span(&mut body, &x, y, call.complete, started, WAIT);
                span(&mut body, &x, y, started, finished, RUN);
                span(&mut body, &x, y, finished, released, WAIT);
                label(
                    &mut body,
                    y,
                    &format!("turn {} call {index} {}", turn.turn, call.name),
                    x(released),
                    &format!("ran {started:.0}–{finished:.0} ms"),
                );
                body.push_str("</g>\n");
            }
        }
        let bottom = y + ROW + 4.0;
        for turn in &run.turns {
            if let Some(at) = run.commit(turn) {
                body.push_str(&marker(&x, run, turn.turn, at, (top, bottom), "commit"));
            }
            if let Some(at) = turn.released() {
                body.push_str(&marker(&x, run, turn.turn, at, (top, bottom), "release"));
            }
        }
        y = bottom + 40.0;
    }
    // Time axis.
    let mut axis = String::new();
    let step = if max_ms > 4000.0 { 1000.0 } else { 500.0 };
    let mut t = 0.0;
    while t <= max_ms {
        axis.push_str(&format!(
            "<line x1=\"{0:.1}\" y1=\"76\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/>\n<text x=\"{0:.1}\" y=\"{2:.1}\" font-size=\"11\" text-anchor=\"middle\">{t:.0} ms</text>\n",
            x(t),
            y - 20.0,
            y - 6.0
        ));
        t += step;
    }
    let height = y + 10.0;
    let modes: Vec<String> = runs.iter().map(|r| r.policy.to_string()).collect();
    let modes = modes.join(" and with ");
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height:.0}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\">toolstream demo: the same conversation with {modes} dispatch</text>\n<text x=\"10\" y=\"38\" font-size=\"11\" fill=\"#444\">model streams (blue), tools running (orange), calls waiting (pale: held until the commit, or for their turn in request order); turns committing (green) and releasing their results (purple, dashed)</text>\n{axis}{body}</svg>\n",
        LEFT + WIDTH + 140.0
    )
}
