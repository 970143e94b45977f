//! The screen model of one session: a vt100 parser behind a wrapper that clamps sizes,
//! contains vt100 panics, answers the terminal queries agents send at start-up, and renders
//! snapshots as plain text or ANSI.
//!
//! Architecture invariant: nothing else constructs a `vt100::Parser` (clippy.toml bans the
//! raw constructors); vt100 panics below 2×2, and a panic inside it must cost us the screen
//! contents, never the session.

mod capture;
mod queries;

pub use capture::{CaptureOptions, LineRef};

use std::panic::{AssertUnwindSafe, catch_unwind};

use queries::TerminalCallbacks;

/// Smallest size vt100 handles without panicking (wide characters at 1 column panic).
pub const MIN_COLS: u16 = 2;
pub const MIN_ROWS: u16 = 2;
/// Largest size we accept: a screen costs 32 bytes per cell, so 1000×500 is 16 MB.
pub const MAX_COLS: u16 = 1000;
pub const MAX_ROWS: u16 = 500;

/// The most lines a snapshot can return (screen plus scrollback), as in the v1 API.
pub const MAX_SNAPSHOT_LINES: usize = 2000;

/// Snapshot rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Characters only, trailing spaces trimmed.
    Text,
    /// Characters with SGR attributes, one line per row.
    Ansi,
}

pub struct Screen {
    parser: vt100::Parser<TerminalCallbacks>,
    scrollback_lines: usize,
}

fn clamp_size(cols: u16, rows: u16) -> (u16, u16) {
    (
        cols.clamp(MIN_COLS, MAX_COLS),
        rows.clamp(MIN_ROWS, MAX_ROWS),
    )
}

fn new_parser(cols: u16, rows: u16, scrollback_lines: usize) -> vt100::Parser<TerminalCallbacks> {
    let (cols, rows) = clamp_size(cols, rows);
    // Clamped to at least 2 above, so both are non-zero.
    let rows = std::num::NonZeroU16::new(rows).unwrap_or(std::num::NonZeroU16::MIN);
    let cols = std::num::NonZeroU16::new(cols).unwrap_or(std::num::NonZeroU16::MIN);
    #[allow(clippy::disallowed_methods)] // reason: this is the one clamping constructor
    vt100::Parser::new_with_callbacks(rows, cols, scrollback_lines, TerminalCallbacks::default())
}

impl Screen {
    pub fn new(cols: u16, rows: u16, scrollback_lines: usize) -> Self {
        Screen {
            parser: new_parser(cols, rows, scrollback_lines),
            scrollback_lines,
        }
    }

    /// Feed output bytes. Returns the replies owed to the child for any terminal queries in
    /// `bytes` (cursor position, device attributes, colours), to be written to its input.
    pub fn process(&mut self, bytes: &[u8]) -> Vec<u8> {
        let result = catch_unwind(AssertUnwindSafe(|| self.parser.process(bytes)));
        if result.is_err() {
            let (rows, cols) = self.parser.screen().size();
            tracing::error!("vt100 panicked on child output; rebuilding the screen model");
            self.parser = new_parser(cols.get(), rows.get(), self.scrollback_lines);
        }
        std::mem::take(&mut self.parser.callbacks_mut().replies)
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        let (cols, rows) = clamp_size(cols, rows);
        let (Some(r), Some(c)) = (
            std::num::NonZeroU16::new(rows),
            std::num::NonZeroU16::new(cols),
        ) else {
            return;
        };
        if catch_unwind(AssertUnwindSafe(|| self.parser.set_size(r, c))).is_err() {
            tracing::error!("vt100 panicked on resize; rebuilding the screen model");
            self.parser = new_parser(cols, rows, self.scrollback_lines);
        }
    }

    /// (cols, rows)
    pub fn size(&self) -> (u16, u16) {
        let (rows, cols) = self.parser.screen().size();
        (cols.get(), rows.get())
    }

    pub fn vt(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// Whether the program enabled bracketed paste (DECSET 2004).
    pub fn bracketed_paste(&self) -> bool {
        self.parser.screen().bracketed_paste()
    }

    /// Whether the program enabled application cursor keys (DECCKM), which changes the
    /// bytes an arrow key sends.
    pub fn application_cursor(&self) -> bool {
        self.parser.screen().application_cursor()
    }

    /// The last window title set with OSC 0/2.
    pub fn title(&self) -> &str {
        &self.parser.callbacks().title
    }

    /// The bottom `lines` lines (screen plus scrollback; `None` = the visible screen).
    /// Text lines have trailing spaces trimmed, and trailing blank lines are dropped.
    pub fn snapshot(&mut self, lines: Option<usize>, format: Format) -> String {
        let rows = self.rows(lines, format);
        let mut out = rows.join("\n");
        if format == Format::Ansi {
            out.push_str("\x1b[0m");
        }
        out
    }

    /// The bottom `lines` rows as strings (see [`Screen::snapshot`]). Blank rows below the last
    /// non-blank one do not count toward `lines`.
    pub fn rows(&mut self, lines: Option<usize>, format: Format) -> Vec<String> {
        let (cols, rows) = self.size();
        let rows = usize::from(rows);
        let wanted = lines.unwrap_or(rows).clamp(1, MAX_SNAPSHOT_LINES);
        // One text render of the visible screen finds the trailing blank rows and, for a text
        // snapshot, is also the visible part of the answer (rendering rows is the cost of a read).
        let visible: Vec<String> = self
            .vt()
            .rows(0, cols)
            .map(|r| r.trim_end().to_owned())
            .collect();
        let trailing_blank = visible.iter().rev().take_while(|r| r.is_empty()).count();
        let from_scrollback = match lines {
            // The visible screen only.
            None => 0,
            Some(_) => (wanted + trailing_blank)
                .saturating_sub(rows)
                .min(self.vt().scrollback_len()),
        };
        let mut out = Vec::with_capacity(from_scrollback + rows);
        let render = |screen: &vt100::Screen, out: &mut Vec<String>, take: usize| match format {
            Format::Text => out.extend(
                screen
                    .rows(0, cols)
                    .take(take)
                    .map(|r| r.trim_end().to_owned()),
            ),
            Format::Ansi => out.extend(
                screen
                    .rows_formatted(0, cols)
                    .take(take)
                    .map(|r| format!("{r}\x1b[0m")),
            ),
        };
        // With a scrollback offset `o`, vt100 shows scrollback lines from `len - o` onwards in
        // place of the screen's top rows, one screen height at a time.
        let screen = self.parser.screen_mut();
        let mut offset = from_scrollback;
        while offset > 0 {
            screen.set_scrollback(offset);
            render(screen, &mut out, offset.min(rows));
            offset = offset.saturating_sub(rows);
        }
        screen.set_scrollback(0);
        let keep = rows - trailing_blank.min(rows - 1);
        match format {
            Format::Text => out.extend(visible.into_iter().take(keep)),
            Format::Ansi => render(self.parser.screen(), &mut out, keep),
        }
        if out.len() > wanted {
            out.drain(..out.len() - wanted);
        }
        out
    }

    /// Escape codes that redraw the whole visible screen, its modes and cursor on a fresh
    /// terminal (used by attach and WebSocket snapshots).
    pub fn redraw(&self) -> Vec<u8> {
        let s = self.vt();
        let mut out = Vec::new();
        if s.alternate_screen() {
            out.extend_from_slice(b"\x1b[?1049h");
        }
        out.extend_from_slice(b"\x1b[H\x1b[2J");
        out.extend_from_slice(s.contents_formatted().as_bytes());
        out.extend_from_slice(s.input_mode_formatted().as_bytes());
        out
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
    fn snapshot_reaches_into_scrollback() {
        let mut s = Screen::new(20, 3, 100);
        for i in 0..10 {
            s.process(format!("line{i}\r\n").as_bytes());
        }
        let text = s.snapshot(Some(6), Format::Text);
        assert_eq!(text, "line4\nline5\nline6\nline7\nline8\nline9");
        // The live view is restored afterwards.
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
    fn ansi_snapshot_strips_to_text() {
        let mut s = Screen::new(20, 3, 0);
        s.process(b"\x1b[31mred\x1b[0m plain");
        let ansi = s.snapshot(None, Format::Ansi);
        assert!(ansi.contains("\x1b[31m"), "{ansi:?}");
    }
}
