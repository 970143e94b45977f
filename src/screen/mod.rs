//! The screen model of one session: a terminal with tmux 3.3a's semantics, so that what
//! Aegis shows (`/read`, `capture-pane`, attach, the detector's view) is byte for byte what
//! tmux would show for the same output, and a history kept at the cost of its content.
//!
//! Why not a terminal crate: the differential suite (`tests/screen_diff`) compares this
//! model with real tmux on ~90 programs. vt100 0.18 matched 37 of them, alacritty_terminal
//! 0.26 about 55 and could not be taught tmux's history rules (which line enters the
//! history, what counts as used, how a resize rewraps the history) without a second copy of
//! its bookkeeping that halved its speed. tmux's own rules, written down here, match all of
//! them, parse mixed output several times faster and keep history lines compact. The
//! numbers are in docs/performance.md.
//!
//! - [`parser`]: tmux's input state machine (bytes to control functions);
//! - [`term`]: the terminal state and the operations control functions perform;
//! - [`grid`]: rows of 8-byte cells and the pen table; [`history`]: compact history lines;
//! - [`reflow`]: resizing and rewrapping; [`render`] and [`capture`]: text, tmux's `-e`
//!   spelling and redraws; [`replay`]: the bytes that rebuild a whole screen and its history;
//!   [`queries`]: answers to terminal queries; [`width`]: widths; [`marks`]: the shell's
//!   prompt and command marks (OSC 133), handed to the session as they are parsed.
//!
//! Besides the grid, the screen keeps what a program says about itself out of band: the
//! window title (OSC 0/2) and its last state report (OSC 7501, which Codex CLI sends:
//! `state=working:app=codex`), both read by the detector and both rebuilt by a replay.
//!
//! Architecture invariant: only this module knows the model's types; the rest of the daemon
//! sees [`Screen`]. A panic inside the model (a bug, since no input should cause one) costs
//! the screen contents, never the session: [`Screen::process`] and [`Screen::resize`]
//! contain it and rebuild the model.

mod capture;
mod grid;
mod history;
pub mod marks;
mod parser;
mod queries;
mod reflow;
mod render;
mod replay;
mod term;
mod width;
#[rustfmt::skip]
mod width_table;

pub use capture::{CaptureOptions, LineRef};

use std::panic::{AssertUnwindSafe, catch_unwind};

use parser::Parser;
use term::{Term, mode};

/// Smallest size accepted: every model operation stays meaningful (a wide character fits).
pub const MIN_COLS: u16 = 2;
pub const MIN_ROWS: u16 = 2;
/// Largest size accepted: a visible screen costs 8 bytes per cell, so 1000×500 is 4 MB.
pub const MAX_COLS: u16 = 1000;
pub const MAX_ROWS: u16 = 500;

/// The most lines a snapshot can return (screen plus history), as in the v1 API.
pub const MAX_SNAPSHOT_LINES: usize = 2000;

/// Snapshot rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Characters only, trailing spaces trimmed.
    Text,
    /// Characters with SGR attributes, one line per row.
    Ansi,
}

/// Which mouse events a program asked for (DECSET 1000, 1002 or 1003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MouseMode {
    #[default]
    None,
    Press,
    ButtonMotion,
    AnyMotion,
}

/// Cursor and input modes (see [`Screen::modes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modes {
    pub cursor_visible: bool,
    /// Application keypad (DECKPAM).
    pub keypad: bool,
    /// Application cursor keys (DECCKM).
    pub cursor_keys: bool,
    pub mouse: MouseMode,
    /// SGR mouse encoding (DECSET 1006).
    pub mouse_sgr: bool,
}

/// How much history a screen keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Lines kept above the screen (tmux's `history-limit`).
    pub lines: usize,
    /// Bytes of history line data kept at most (0 = no byte limit).
    pub bytes: usize,
}

impl HistoryLimits {
    pub fn lines(lines: usize) -> HistoryLimits {
        HistoryLimits { lines, bytes: 0 }
    }
}

/// Rendered snapshots kept per screen (the last few distinct requests).
const SNAPSHOT_CACHE: usize = 4;

pub struct Screen {
    term: Term,
    parser: Parser,
    limits: HistoryLimits,
    /// Bumped by every change to the model, so renders can be cached.
    generation: u64,
    /// Rendered snapshots: (generation, lines, format, text).
    cache: Vec<(u64, Option<usize>, Format, String)>,
}

fn clamp_size(cols: u16, rows: u16) -> (usize, usize) {
    (
        usize::from(cols.clamp(MIN_COLS, MAX_COLS)),
        usize::from(rows.clamp(MIN_ROWS, MAX_ROWS)),
    )
}

impl Screen {
    pub fn new(cols: u16, rows: u16, history_lines: usize) -> Self {
        Screen::with_limits(cols, rows, HistoryLimits::lines(history_lines))
    }

    pub fn with_limits(cols: u16, rows: u16, limits: HistoryLimits) -> Self {
        let (sx, sy) = clamp_size(cols, rows);
        Screen {
            term: Term::new(sx, sy, limits.lines, limits.bytes),
            parser: Parser::default(),
            limits,
            generation: 0,
            cache: Vec::new(),
        }
    }

    /// Feed output bytes. Returns the replies owed to the child for any terminal queries in
    /// `bytes` (cursor position, device attributes, colours), to be written to its input.
    pub fn process(&mut self, bytes: &[u8]) -> Vec<u8> {
        if bytes.is_empty() {
            return Vec::new();
        }
        self.generation += 1;
        let (term, parser) = (&mut self.term, &mut self.parser);
        if catch_unwind(AssertUnwindSafe(|| parser.advance(term, bytes))).is_err() {
            tracing::error!("the screen model panicked on child output; rebuilding it");
            self.rebuild();
        }
        std::mem::take(&mut self.term.replies)
    }

    fn rebuild(&mut self) {
        let (sx, sy) = (self.term.sx, self.term.sy);
        self.term = Term::new(sx, sy, self.limits.lines, self.limits.bytes);
        self.parser = Parser::default();
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        let (sx, sy) = clamp_size(cols, rows);
        if (sx, sy) == (self.term.sx, self.term.sy) {
            return;
        }
        self.generation += 1;
        // tmux rewraps on a width change except on the alternate screen.
        let reflow = self.term.saved.is_none();
        let term = &mut self.term;
        if catch_unwind(AssertUnwindSafe(|| term.resize(sx, sy, reflow))).is_err() {
            tracing::error!("the screen model panicked on resize; rebuilding it");
            self.term = Term::new(sx, sy, self.limits.lines, self.limits.bytes);
        }
    }

    /// (cols, rows)
    pub fn size(&self) -> (u16, u16) {
        (self.term.sx as u16, self.term.sy as u16)
    }

    /// (row, col), zero-based, as tmux reports it: the column is `cols` while a character
    /// written in the last column waits to wrap.
    pub fn cursor(&self) -> (u16, u16) {
        (
            self.term.cy as u16,
            self.term.cx.min(usize::from(u16::MAX)) as u16,
        )
    }

    /// (row, col) of the cursor on the screen (the column clamped to the last one).
    pub fn cursor_on_screen(&self) -> (u16, u16) {
        let (row, col) = self.cursor();
        (row, col.min(self.size().0 - 1))
    }

    /// Whether the alternate screen is shown.
    pub fn alternate_screen(&self) -> bool {
        self.term.saved.is_some()
    }

    /// Whether the program enabled bracketed paste (DECSET 2004).
    pub fn bracketed_paste(&self) -> bool {
        self.term.mode & mode::BRACKETPASTE != 0
    }

    /// Whether the program enabled application cursor keys (DECCKM), which changes the
    /// bytes an arrow key sends.
    pub fn application_cursor(&self) -> bool {
        self.term.mode & mode::KCURSOR != 0
    }

    /// The cursor and input modes a program set, as tmux's format variables report them.
    pub fn modes(&self) -> Modes {
        let m = self.term.mode;
        Modes {
            cursor_visible: m & mode::CURSOR != 0,
            keypad: m & mode::KKEYPAD != 0,
            cursor_keys: m & mode::KCURSOR != 0,
            mouse: if m & mode::MOUSE_ALL != 0 {
                MouseMode::AnyMotion
            } else if m & mode::MOUSE_BUTTON != 0 {
                MouseMode::ButtonMotion
            } else if m & mode::MOUSE_STANDARD != 0 {
                MouseMode::Press
            } else {
                MouseMode::None
            },
            mouse_sgr: m & mode::MOUSE_SGR != 0,
        }
    }

    /// The character in the visible cell (`row`, `col`), a space for an empty cell.
    pub fn cell_text(&self, row: u16, col: u16) -> String {
        let Some(r) = self.term.rows.get(usize::from(row)) else {
            return " ".into();
        };
        let cell = r.get(usize::from(col));
        let mut buf = [0u8; 4];
        match r.text(&cell, &mut buf) {
            "" | "\0" => " ".into(),
            t => t.to_owned(),
        }
    }

    /// Cells in use on the visible screen (tmux's per-line `cellused`, summed).
    pub fn used_cells(&self) -> usize {
        self.term.rows.iter().map(|r| usize::from(r.used)).sum()
    }

    /// The shell marks parsed since the last call, in order (see [`marks`]).
    pub fn take_marks(&mut self) -> Vec<marks::ShellMark> {
        std::mem::take(&mut self.term.marks)
    }

    /// The last window title set with OSC 0/2 (or APC).
    pub fn title(&self) -> &str {
        &self.term.title
    }

    /// The payload of the last state report the program sent with OSC 7501 (Codex CLI's
    /// `state=working:app=codex`), empty until one arrives. Kept like the title: a new report
    /// replaces it, one that is too long or not text is ignored (see `term::MAX_REPORT`).
    pub fn report(&self) -> &str {
        &self.term.report
    }

    /// The modes a program set that change what input it expects (cursor keys, keypad,
    /// bracketed paste, mouse), as escape codes that set them again on a fresh screen.
    pub fn input_modes(&self) -> Vec<u8> {
        render::input_modes(&self.term)
    }

    /// Visible row `row` as text, trailing spaces trimmed, into `out`.
    pub fn row_text(&self, row: usize, out: &mut String) {
        render::row_text(&self.term, row, out);
    }

    /// The cursor's row up to the cursor (up to what was written there), spaces kept: at a
    /// shell's prompt, the prompt as shown.
    pub fn text_before_cursor(&self) -> String {
        let (row, col) = self.cursor();
        let Some(line) = self.term.row_ref(usize::from(row)) else {
            return String::new();
        };
        let mut bytes = Vec::new();
        render::line_string(line, usize::from(col), None, false, &mut bytes);
        // Cells hold whole characters, so the bytes are UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Encode the history lines that scrolled off since the last call into their compact
    /// form. Until then they are kept as the rows they were (a flood drops most of them
    /// unread, unencoded); call this when the session goes quiet. Changes no content.
    pub fn compact_history(&mut self) -> bool {
        let term = &mut self.term;
        catch_unwind(AssertUnwindSafe(|| term.compact_history())).unwrap_or(false)
    }

    /// A number that changes whenever the screen may have changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Heap bytes of the model (cells, history, pens), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.term.heap_bytes()
    }

    /// The bottom `lines` lines (screen plus history; `None` = the visible screen). Text
    /// lines have trailing spaces trimmed, and trailing blank lines are dropped. Rendered
    /// once per change of the screen: repeated reads of an unchanged screen are copies.
    pub fn snapshot(&mut self, lines: Option<usize>, format: Format) -> String {
        let key = (self.generation, lines, format);
        if let Some(hit) = self.cache.iter().find(|(g, l, f, _)| (*g, *l, *f) == key) {
            return hit.3.clone();
        }
        let rows = self.rows(lines, format);
        let mut out = rows.join("\n");
        if format == Format::Ansi {
            out.push_str("\x1b[0m");
        }
        self.cache.retain(|(g, ..)| *g == key.0);
        if self.cache.len() >= SNAPSHOT_CACHE {
            self.cache.remove(0);
        }
        self.cache.push((key.0, lines, format, out.clone()));
        out
    }

    /// The bottom `lines` rows as strings (see [`Screen::snapshot`]). Blank rows below the
    /// last non-blank one do not count toward `lines`.
    pub fn rows(&self, lines: Option<usize>, format: Format) -> Vec<String> {
        let t = &self.term;
        let sy = t.sy;
        let wanted = lines.unwrap_or(sy).clamp(1, MAX_SNAPSHOT_LINES);
        let mut text = String::new();
        let mut visible: Vec<String> = Vec::with_capacity(sy);
        for y in 0..sy {
            render::row_text(t, y, &mut text);
            visible.push(std::mem::take(&mut text));
        }
        let trailing_blank = visible.iter().rev().take_while(|r| r.is_empty()).count();
        let keep = sy - trailing_blank.min(sy - 1);
        let from_history = match lines {
            None => 0,
            Some(_) => wanted.saturating_sub(keep).min(t.history_size()),
        };
        let hs = t.history_size();
        let mut out = Vec::with_capacity(from_history + keep);
        let render_line = |line: render::LineRef<'_>| -> String {
            let mut b = Vec::new();
            match format {
                Format::Text => render::line_string(line, t.sx, None, true, &mut b),
                Format::Ansi => render::line_ansi(line, t.sx, &mut b),
            }
            String::from_utf8(b).unwrap_or_default()
        };
        for i in hs - from_history..hs {
            if let Some(line) = t.line(i) {
                out.push(render_line(line));
            }
        }
        match format {
            Format::Text => out.extend(visible.into_iter().take(keep)),
            Format::Ansi => {
                for y in 0..keep {
                    if let Some(line) = t.row_ref(y) {
                        out.push(render_line(line));
                    }
                }
            }
        }
        if out.len() > wanted {
            out.drain(..out.len() - wanted);
        }
        out
    }

    /// Escape codes that redraw the whole visible screen, its modes and cursor on a fresh
    /// terminal (used by attach and WebSocket snapshots).
    pub fn redraw(&self) -> Vec<u8> {
        render::redraw(&self.term)
    }

    /// Escape codes that rebuild this screen and its history in a fresh screen of the same
    /// size and limits (see [`replay`]); `None` on the alternate screen.
    pub fn replay(&self) -> Option<Vec<u8>> {
        // Mid-sequence, the output that follows would not make sense after a replay.
        if !self.parser.at_rest() {
            return None;
        }
        replay::replay(&self.term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_snapshot_trims_and_reports_lines() {
        let mut s = Screen::new(20, 5, 100);
        s.process(b"hello   \r\nworld\r\n");
        assert_eq!(s.snapshot(None, Format::Text), "hello\nworld");
    }

    #[test]
    fn snapshot_reaches_into_history() {
        let mut s = Screen::new(20, 3, 100);
        for i in 0..10 {
            s.process(format!("line{i}\r\n").as_bytes());
        }
        let text = s.snapshot(Some(6), Format::Text);
        assert_eq!(text, "line4\nline5\nline6\nline7\nline8\nline9");
        assert_eq!(s.snapshot(None, Format::Text), "line8\nline9");
    }

    #[test]
    fn tiny_sizes_are_clamped_not_panicking() {
        let mut s = Screen::new(0, 0, 0);
        s.process("表表表🙂".as_bytes());
        s.resize(1, 1);
        assert_eq!(s.size(), (MIN_COLS, MIN_ROWS));
    }

    #[test]
    fn ansi_snapshot_keeps_colours() {
        let mut s = Screen::new(20, 3, 0);
        s.process(b"\x1b[31mred\x1b[0m plain");
        let ansi = s.snapshot(None, Format::Ansi);
        assert!(ansi.contains("\x1b[31m"), "{ansi:?}");
    }

    #[test]
    fn snapshots_are_rendered_once_per_change() {
        let mut s = Screen::new(20, 3, 0);
        s.process(b"one");
        let g = s.generation();
        assert_eq!(s.snapshot(None, Format::Text), "one");
        assert_eq!(s.snapshot(None, Format::Text), "one");
        assert_eq!(s.generation(), g);
        s.process(b" two");
        assert_eq!(s.snapshot(None, Format::Text), "one two");
    }

    #[test]
    fn history_lines_round_trip_through_a_resize() {
        let mut s = Screen::new(10, 3, 100);
        s.process("\x1b[1;31mabc\x1b[0m表x\r\n2\r\n3\r\n4\r\n5".as_bytes());
        let before = s.capture(&CaptureOptions {
            start: Some(LineRef::Edge),
            escapes: true,
            ..Default::default()
        });
        s.resize(10, 6);
        s.resize(10, 3);
        let after = s.capture(&CaptureOptions {
            start: Some(LineRef::Edge),
            escapes: true,
            ..Default::default()
        });
        assert_eq!(before, after);
    }
}
