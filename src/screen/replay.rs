//! A screen as the bytes that rebuild it: every history line and visible row, then the scroll
//! region, cursor, pen, modes, title and state report (OSC 7501). Fed to a fresh screen of the
//! same size and limits, it gives the same captures (text, `-J`, `-e`), title and report as
//! the screen it came from. Holders keep this
//! in place of the raw output it stands for, so a restarted daemon rebuilds the history from a
//! compact copy instead of a long tail of raw output.
//!
//! Not reproduced: a pending wrap at the right edge (the cursor is put on the last column),
//! custom tab stops, the DECSC saved cursor and the character set in use. The alternate
//! screen is not snapshotted at all (see [`replay`]).

use std::io::Write as _;

use super::grid::{Pen, attr};
use super::render::{input_modes, line_ansi, sgr_code};
use super::term::Term;

/// The escape codes that rebuild `t` on a fresh terminal of its size, or `None` while the
/// alternate screen is shown (the primary screen it hides would need a second snapshot).
pub fn replay(t: &Term) -> Option<Vec<u8>> {
    if t.saved.is_some() {
        return None;
    }
    let total = t.history_size() + t.sy;
    let mut out = Vec::with_capacity(total * 64);
    for i in 0..total {
        let line = t.line(i)?;
        line_ansi(line, t.sx, &mut out);
        // A wrapped line runs on: the next character wraps onto the next line, marking it
        // wrapped again. Each line break at the bottom scrolls one line into the history.
        if i + 1 < total && !line.wrapped() {
            out.extend_from_slice(b"\r\n");
        }
    }
    if !t.title.is_empty() {
        let _ = write!(out, "\x1b]2;{}\x1b\\", t.title);
    }
    if !t.report.is_empty() {
        let _ = write!(out, "\x1b]7501;{}\x07", t.report);
    }
    if t.rupper != 0 || t.rlower != t.sy - 1 {
        let _ = write!(out, "\x1b[{};{}r", t.rupper + 1, t.rlower + 1);
    }
    let _ = write!(out, "\x1b[{};{}H", t.cy + 1, t.cx.min(t.sx - 1) + 1);
    let mut current = t.cell;
    current.attr &= !attr::CHARSET;
    sgr_code(&Pen::DEFAULT, &current, &mut out);
    out.extend_from_slice(&input_modes(t));
    Some(out)
}

#[cfg(test)]
mod tests {
    use crate::screen::{CaptureOptions, HistoryLimits, LineRef, Screen};

    fn captures(s: &Screen) -> Vec<String> {
        let all = Some(LineRef::Edge);
        [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .map(|(join, escapes)| {
                s.capture(&CaptureOptions {
                    start: all,
                    end: all,
                    join,
                    escapes,
                    keep_trailing: false,
                })
            })
            .collect()
    }

    /// Rebuild `stream`'s screen from its replay and compare everything a client can read.
    fn round_trip(cols: u16, rows: u16, history: usize, stream: &[u8]) {
        let limits = HistoryLimits {
            lines: history,
            bytes: 0,
        };
        let mut a = Screen::with_limits(cols, rows, limits);
        a.process(stream);
        let snap = a.replay().expect("primary screen");
        let mut b = Screen::with_limits(cols, rows, limits);
        b.process(&snap);
        let (ca, cb) = (captures(&a), captures(&b));
        for (x, y) in ca.iter().zip(&cb) {
            assert_eq!(x, y, "stream {:?}", String::from_utf8_lossy(stream));
        }
        assert_eq!(a.history_size(), b.history_size());
        assert_eq!(a.cursor(), b.cursor());
        assert_eq!(a.modes(), b.modes());
        assert_eq!(a.title(), b.title());
        assert_eq!(a.report(), b.report());
        // What the program prints next lands in the same place, in the same colours.
        a.process(b"next\r\n\x1b[7mon");
        b.process(b"next\r\n\x1b[7mon");
        assert_eq!(captures(&a), captures(&b));
    }

    #[test]
    fn a_replayed_screen_reads_as_the_original() {
        let mut mixed = Vec::new();
        for i in 0..300 {
            let _ = std::io::Write::write_fmt(
                &mut mixed,
                format_args!(
                    "\x1b[3{}mline {i}\x1b[0m \u{4e2d}\u{6587} \u{1f600}\ttab {}\r\n",
                    i % 8,
                    "x".repeat(i % 97)
                ),
            );
        }
        let streams: Vec<Vec<u8>> = vec![
            b"hello\r\nworld".to_vec(),
            mixed,
            // Wrapped lines, a wide character at the right edge, colours that run across lines.
            format!("{}\u{4e2d}\u{6587}\x1b[41m{}\r\nend", "a".repeat(39), "b".repeat(90))
                .into_bytes(),
            // Scroll region, cursor position, pen and modes left set.
            b"top\r\n\x1b[2;5r\x1b[5;1Hin region\n\n\nmore\x1b[1;4;38;5;200m\x1b[?1h\x1b[?2004h\x1b[?25l\x1b[3;7H"
                .to_vec(),
            // A title, insert mode and autowrap off.
            b"\x1b]2;my title\x07\x1b[4h\x1b[?7lno wrap here at all, this line is long enough".to_vec(),
            // An agent's state report next to its title.
            b"\x1b]0;\xe2\xa0\xa6 Mock | codex\x07\x1b]7501;state=working:app=codex\x07text".to_vec(),
            // Erased and coloured backgrounds, a cleared screen that went into the history.
            b"one\r\ntwo\x1b[44m\x1b[K\x1b[0m\r\n\x1b[2Jafter clear\r\n\x1b[1;1Hover".to_vec(),
        ];
        for s in &streams {
            round_trip(40, 10, 2000, s);
            round_trip(40, 10, 50, s);
            round_trip(17, 5, 2000, s);
        }
    }

    #[test]
    fn the_alternate_screen_is_not_snapshotted() {
        let mut s = Screen::new(20, 5, 100);
        s.process(b"shell\r\n\x1b[?1049hfull screen");
        assert!(s.replay().is_none());
        s.process(b"\x1b[?1049l");
        assert!(s.replay().is_some());
    }
}
