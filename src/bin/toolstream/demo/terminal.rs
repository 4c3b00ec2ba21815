//! The demo's output on a terminal, a dumb terminal or a pipe.
//!
//! What is drawn in place is one status line (the live argument preview) below everything
//! else. Everything else is appended and never erased: streamed model text, tool calls,
//! progress, results. The cursor is always in one of three places:
//!
//! ```text
//!              text                      status
//!   LineStart ───────▶ AfterText ───────────────▶ OnStatus
//!      ▲  ▲              │  (newline first: the      │ │
//!      │  └──── line ────┘   text stays on screen)   │ │ status: erase the row, redraw
//!      └────────────── line, text, clear ────────────┘ ◀┘
//!                      (erase the status row first)
//! ```
//!
//! Only the status row is ever erased, and it is cut to the terminal's width less one
//! column, so it never wraps: erasing it leaves no fragment behind.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};

/// How the demo writes, decided once from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Standard output is not a terminal (a pipe, a file): whole lines only, each model
    /// message printed once it has ended; no control sequence of any kind.
    Lines,
    /// A terminal that takes no control sequences (`TERM=dumb`, or no `TERM` at all): the
    /// text streams and lines are appended; nothing is redrawn, nothing coloured.
    Append,
    /// A terminal: the text streams, the argument preview is redrawn in place, cut to the
    /// terminal's width; coloured unless `NO_COLOR` is set.
    Redraw {
        /// Whether to use colour (SGR sequences).
        color: bool,
    },
}

impl Mode {
    /// The mode for this process's standard output and environment.
    pub(super) fn detect() -> Mode {
        Mode::from_env(
            std::io::stdout().is_terminal(),
            std::env::var_os("TERM").as_deref(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    /// The mode for a standard output that `is_terminal` or not, under `TERM` and
    /// `NO_COLOR` (no-color.org: "when present and not an empty string, prevents the
    /// addition of ANSI color").
    pub(super) fn from_env(
        is_terminal: bool,
        term: Option<&OsStr>,
        no_color: Option<&OsStr>,
    ) -> Mode {
        if !is_terminal {
            return Mode::Lines;
        }
        // An unset or empty TERM says nothing about what the terminal understands: treat it
        // as dumb, as terminfo does.
        match term {
            None => return Mode::Append,
            Some(t) if t.is_empty() || t == "dumb" => return Mode::Append,
            Some(_) => {}
        }
        Mode::Redraw {
            color: no_color.is_none_or(OsStr::is_empty),
        }
    }

    /// Whether model text is shown as it streams (otherwise once its message ended).
    pub(super) fn streams_text(self) -> bool {
        self != Mode::Lines
    }
}

/// The columns of standard output's terminal: its window size, else `COLUMNS`, else 80.
/// Asked again at every redraw, so a resized window is followed.
pub(super) fn columns() -> usize {
    columns_from(
        terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0),
        std::env::var("COLUMNS").ok().as_deref(),
    )
}

/// The width: the terminal's own when it tells one, else a positive `COLUMNS`, else 80.
pub(super) fn columns_from(window: Option<u16>, columns_var: Option<&str>) -> usize {
    window
        .filter(|&w| w > 0)
        .map(usize::from)
        .or_else(|| {
            columns_var
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&c| c > 0)
        })
        .unwrap_or(80)
}

/// The columns `c` takes on a terminal, never fewer than it does: 2 for the East Asian
/// wide and fullwidth blocks and the emoji blocks (whole blocks, so some narrow characters
/// are counted wide), 1 otherwise (combining marks too). A line cut by this count may end
/// shorter than the terminal, never longer.
pub(super) fn char_columns(c: char) -> usize {
    match u32::from(c) {
        0x1100..=0x115F
        | 0x2300..=0x23FF
        | 0x2600..=0x27BF
        | 0x2B00..=0x2BFF
        | 0x2E80..=0xA4CF
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE10..=0xFE19
        | 0xFE30..=0xFE6F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F000..=0x1FAFF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// The columns `s` takes (see [`char_columns`]).
pub(super) fn str_columns(s: &str) -> usize {
    s.chars().map(char_columns).sum()
}

/// `s` cut to at most `width` columns, ending in `…` when it was cut.
pub(super) fn truncate(s: &str, width: usize) -> String {
    if str_columns(s) <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    // Room for the ellipsis (one column).
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_columns(c);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `s` with every control character but newline and tab replaced by `�`: text from the
/// model must not move the cursor or send sequences of its own.
pub(super) fn sanitize(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\n' if keep_newlines => c,
            '\t' => c,
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Where the cursor is (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    /// At the start of an empty row.
    LineStart,
    /// After streamed text, on its row: that row is never erased.
    AfterText,
    /// On the status row, which holds the status and nothing else.
    OnStatus,
}

/// Erase the whole row: carriage return, then EL 2 (erase in line, entire line).
const ERASE_ROW: &str = "\r\x1b[2K";
/// SGR 2 (faint) and SGR 0 (reset).
const FAINT: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// The demo's output: appended lines, streamed text and, in [`Mode::Redraw`], one status
/// line redrawn in place below them.
pub(super) struct Screen<W> {
    out: W,
    mode: Mode,
    columns: fn() -> usize,
    cursor: Cursor,
    /// The status as last set (uncut: the width may change before the next redraw).
    status: Option<String>,
}

impl<W: Write> Screen<W> {
    /// A screen writing to `out` in `mode`, asking `columns` for the width at each redraw.
    pub(super) fn new(out: W, mode: Mode, columns: fn() -> usize) -> Self {
        Screen {
            out,
            mode,
            columns,
            cursor: Cursor::LineStart,
            status: None,
        }
    }

    /// The mode.
    pub(super) fn mode(&self) -> Mode {
        self.mode
    }

    /// Appends a whole line (it may wrap: it is never erased).
    pub(super) fn line(&mut self, line: &str) {
        let line = match self.mode {
            Mode::Lines => line.to_owned(),
            _ => sanitize(line, true),
        };
        self.leave_status();
        self.end_text();
        self.put(&line);
        self.put("\n");
        self.cursor = Cursor::LineStart;
        self.draw_status();
        self.flush();
    }

    /// Appends streamed text where the last text ended (nothing in [`Mode::Lines`]).
    pub(super) fn text(&mut self, text: &str) {
        if !self.mode.streams_text() || text.is_empty() {
            return;
        }
        self.leave_status();
        let text = sanitize(text, true);
        self.put(&text);
        self.cursor = if text.ends_with('\n') {
            Cursor::LineStart
        } else {
            Cursor::AfterText
        };
        self.flush();
    }

    /// Ends the streamed text's row, if the cursor is on it.
    pub(super) fn end_text(&mut self) {
        if self.cursor == Cursor::AfterText {
            self.put("\n");
            self.cursor = Cursor::LineStart;
            self.flush();
        }
    }

    /// Shows `status` on the status row (only in [`Mode::Redraw`]), below the text.
    pub(super) fn status(&mut self, status: &str) {
        if let Mode::Redraw { .. } = self.mode {
            self.status = Some(sanitize(status, false));
            self.end_text();
            self.draw_status();
            self.flush();
        }
    }

    /// Removes the status row's content; the cursor stays at the start of that row.
    pub(super) fn clear_status(&mut self) {
        self.status = None;
        self.leave_status();
        self.flush();
    }

    /// Erases the status row, if the cursor is on it (the status is kept, for redrawing).
    fn leave_status(&mut self) {
        if self.cursor == Cursor::OnStatus {
            self.put(ERASE_ROW);
            self.cursor = Cursor::LineStart;
        }
    }

    /// Draws the status, cut to one column less than the width (a full row would leave the
    /// cursor waiting to wrap, where terminals differ), on the cursor's row.
    fn draw_status(&mut self) {
        let Mode::Redraw { color } = self.mode else {
            return;
        };
        let Some(status) = &self.status else {
            return;
        };
        debug_assert_ne!(self.cursor, Cursor::AfterText, "text is never erased");
        let shown = truncate(status, (self.columns)().saturating_sub(1));
        let drawn = if color {
            format!("{ERASE_ROW}{FAINT}{shown}{RESET}")
        } else {
            format!("{ERASE_ROW}{shown}")
        };
        self.put(&drawn);
        self.cursor = Cursor::OnStatus;
    }

    // A demo whose output went away (a closed pipe) still finishes: write errors are
    // ignored.
    fn put(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// The writer (tests read what was written).
    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! cut {
        ($($name:ident: $s:expr, $width:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                let got = truncate($s, $width);
                assert_eq!(got, $want);
                assert!(str_columns(&got) <= $width, "{got:?} is wider than {}", $width);
            }
        )*};
    }

    cut! {
        cut_fits_untouched: "get_weather {\"city\": \"Paris\"}", 40 => "get_weather {\"city\": \"Paris\"}";
        cut_exact_fit_untouched: "abcdef", 6 => "abcdef";
        cut_one_over: "abcdefg", 6 => "abcde…";
        cut_to_one_column: "abc", 1 => "…";
        cut_to_nothing: "abc", 0 => "";
        cut_empty: "", 0 => "";
        cut_multibyte_narrow: "17°C light rain", 6 => "17°C …";
        cut_wide_never_half: "東京の天気", 6 => "東京…";
        cut_wide_odd_room: "東京の天気", 5 => "東京…";
        cut_emoji_wide: "☔☔☔☔", 4 => "☔…";
    }

    #[test]
    fn columns_come_from_the_window_then_columns_then_80() {
        assert_eq!(columns_from(Some(60), Some("100")), 60);
        // A pty nobody sized says 0 columns: not a width.
        assert_eq!(columns_from(Some(0), Some("100")), 100);
        assert_eq!(columns_from(None, Some(" 72 ")), 72);
        assert_eq!(columns_from(None, Some("0")), 80);
        assert_eq!(columns_from(None, Some("wide")), 80);
        assert_eq!(columns_from(None, None), 80);
    }

    #[test]
    fn mode_follows_the_terminal_term_and_no_color() {
        let os = |s: &'static str| Some(OsStr::new(s));
        assert_eq!(Mode::from_env(false, os("xterm"), None), Mode::Lines);
        assert_eq!(Mode::from_env(false, os("dumb"), os("1")), Mode::Lines);
        assert_eq!(
            Mode::from_env(true, os("xterm-256color"), None),
            Mode::Redraw { color: true }
        );
        // no-color.org: set and not empty.
        assert_eq!(
            Mode::from_env(true, os("xterm"), os("1")),
            Mode::Redraw { color: false }
        );
        assert_eq!(
            Mode::from_env(true, os("xterm"), os("")),
            Mode::Redraw { color: true }
        );
        assert_eq!(Mode::from_env(true, os("dumb"), None), Mode::Append);
        assert_eq!(Mode::from_env(true, os(""), None), Mode::Append);
        assert_eq!(Mode::from_env(true, None, None), Mode::Append);
    }

    fn screen(mode: Mode) -> Screen<Vec<u8>> {
        Screen::new(Vec::new(), mode, || 20)
    }

    fn written(s: Screen<Vec<u8>>) -> String {
        String::from_utf8(s.into_inner()).unwrap()
    }

    /// Text, then a preview, then a line, then more previews: the text's row is ended with
    /// a newline before anything is erased, and only the status row is erased.
    #[test]
    fn text_is_never_erased() {
        let mut s = screen(Mode::Redraw { color: false });
        s.text("I'll check ");
        s.text("the weather.");
        s.status("    get_weather {\"city\": \"Paris\", \"unit\": \"celsius\"}");
        s.line("call 0 complete");
        s.status("    get_time {}");
        s.clear_status();
        s.end_text();
        assert_eq!(
            written(s),
            "I'll check the weather.\n\
             \r\x1b[2K    get_weather {\"…\
             \r\x1b[2Kcall 0 complete\n\
             \r\x1b[2K    get_weather {\"…\
             \r\x1b[2K    get_time {}\
             \r\x1b[2K"
        );
    }

    #[test]
    fn status_is_faint_with_colour_and_cut_before_the_sequences() {
        let mut s = screen(Mode::Redraw { color: true });
        s.status("0123456789012345678901234");
        assert_eq!(written(s), "\r\x1b[2K\x1b[2m012345678901234567…\x1b[0m");
    }

    #[test]
    fn a_dumb_terminal_gets_appended_text_and_lines_only() {
        let mut s = screen(Mode::Append);
        s.text("Tokyo looks rainy;");
        s.status("    get_forecast {\"city\": \"Tokyo\"}");
        s.text(" let me check.");
        s.line("call 0 complete");
        s.clear_status();
        s.end_text();
        assert_eq!(
            written(s),
            "Tokyo looks rainy; let me check.\ncall 0 complete\n"
        );
    }

    #[test]
    fn a_pipe_gets_lines_only() {
        let mut s = screen(Mode::Lines);
        s.text("streamed");
        s.status("preview");
        s.line("a line");
        s.end_text();
        assert_eq!(written(s), "a line\n");
    }

    #[test]
    fn model_text_cannot_move_the_cursor() {
        let mut s = screen(Mode::Redraw { color: true });
        s.text("a\rb\x1b[2Kc\n");
        s.status("x\ny");
        assert_eq!(
            written(s),
            "a\u{fffd}b\u{fffd}[2Kc\n\r\x1b[2K\x1b[2mx\u{fffd}y\x1b[0m"
        );
    }
}
