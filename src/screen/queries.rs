//! Answers to the terminal queries programs send at start-up. A real terminal answers them;
//! a daemon that stays silent makes Codex exit ("The cursor position could not be read") and
//! Gemini wait a second per query. Replies are computed from the screen model at the moment
//! the query is parsed, so a cursor report is exact even mid-chunk, and they are queued in
//! [`Term::replies`] for the session to write back.
//!
//! Answered: DSR status (`CSI 5 n`), cursor position (`CSI 6 n`, `CSI ? 6 n`; the column is
//! one past the last column while a character waits to wrap, as tmux reports it), primary,
//! secondary and tertiary device attributes (`CSI c`, `CSI > c`, `CSI = c`), XTVERSION
//! (`CSI > q`), DECRQM for the private modes the model tracks (`CSI ? n $ p`), text-area size
//! (`CSI 18 t`), and the OSC 10/11/12 colour queries. Not answered on purpose: the kitty
//! keyboard query (`CSI ? u`), since we do not implement that protocol and silence is how a
//! terminal says so; programs then fall back to legacy keys after their DA1 round trip.

use std::io::Write as _;

use super::term::{Term, mode};

pub fn status(t: &mut Term) {
    t.replies.extend_from_slice(b"\x1b[0n");
}

/// CPR (`CSI 6 n`) or DECXCPR (`CSI ? 6 n`).
pub fn cursor_position(t: &mut Term, private: bool) {
    let (row, col) = (t.cy + 1, t.cx + 1);
    let _ = if private {
        write!(t.replies, "\x1b[?{row};{col};1R")
    } else {
        write!(t.replies, "\x1b[{row};{col}R")
    };
}

/// VT220-class with ANSI colour; what many terminals report.
pub fn primary_attributes(t: &mut Term) {
    t.replies.extend_from_slice(b"\x1b[?62;22c");
}

pub fn secondary_attributes(t: &mut Term) {
    t.replies.extend_from_slice(b"\x1b[>0;10;1c");
}

pub fn tertiary_attributes(t: &mut Term) {
    t.replies.extend_from_slice(b"\x1bP!|00000000\x1b\\");
}

pub fn version(t: &mut Term) {
    let _ = write!(
        t.replies,
        "\x1bP>|aegis({})\x1b\\",
        env!("CARGO_PKG_VERSION")
    );
}

/// DECRQM for a private mode: 1 set, 2 reset, 0 not recognized.
pub fn private_mode(t: &mut Term, which: i64) {
    let state = match which {
        2004 => Some(t.mode & mode::BRACKETPASTE != 0),
        1049 | 47 | 1047 => Some(t.saved.is_some()),
        25 => Some(t.mode & mode::CURSOR != 0),
        1 => Some(t.mode & mode::KCURSOR != 0),
        7 => Some(t.mode & mode::WRAP != 0),
        6 => Some(t.mode & mode::ORIGIN != 0),
        _ => None,
    };
    let code = match state {
        Some(true) => 1,
        Some(false) => 2,
        None => 0,
    };
    let _ = write!(t.replies, "\x1b[?{which};{code}$y");
}

/// `CSI 18 t`: the text area in characters (rows; columns).
pub fn text_area_size(t: &mut Term) {
    let _ = write!(t.replies, "\x1b[8;{};{}t", t.sy, t.sx);
}

/// OSC 10/11/12 `?`: foreground, background, cursor colour. A dark theme: light grey on
/// black, which is what agents assume when they get no answer at all.
pub fn colour(t: &mut Term, which: u32) {
    let colour = match which {
        11 => "rgb:0000/0000/0000",
        _ => "rgb:d0d0/d0d0/d0d0",
    };
    let _ = write!(t.replies, "\x1b]{which};{colour}\x1b\\");
}

#[cfg(test)]
mod tests {
    use crate::screen::Screen;

    #[test]
    fn cursor_position_report_is_exact() {
        let mut s = Screen::new(80, 24, 0);
        assert_eq!(s.process(b"abc\r\nde\x1b[6n"), b"\x1b[2;3R");
        // One past the last column while a character waits to wrap, as tmux reports it.
        let mut s = Screen::new(4, 2, 0);
        assert_eq!(s.process(b"abcd\x1b[6n"), b"\x1b[1;5R");
    }

    #[test]
    fn device_attributes_and_colours() {
        let mut s = Screen::new(80, 24, 0);
        assert_eq!(s.process(b"\x1b[c"), b"\x1b[?62;22c");
        assert_eq!(s.process(b"\x1b[>c"), b"\x1b[>0;10;1c");
        assert_eq!(
            s.process(b"\x1b]11;?\x07"),
            b"\x1b]11;rgb:0000/0000/0000\x1b\\"
        );
        assert_eq!(s.process(b"\x1b[?2004h\x1b[?2004$p"), b"\x1b[?2004;1$y");
        assert_eq!(s.process(b"\x1b[18t"), b"\x1b[8;24;80t");
        assert!(s.process(b"\x1b[?u").is_empty());
    }

    #[test]
    fn a_query_split_across_chunks_is_answered_once() {
        let mut s = Screen::new(80, 24, 0);
        assert!(s.process(b"x\x1b[").is_empty());
        assert!(s.process(b"6").is_empty());
        assert_eq!(s.process(b"n"), b"\x1b[1;2R");
    }

    #[test]
    fn title_is_tracked() {
        let mut s = Screen::new(80, 24, 0);
        s.process(b"\x1b]0;\xe2\x9c\xb3 Claude Code\x07");
        assert_eq!(s.title(), "✳ Claude Code");
        s.process(b"\x1b]2;second\x1b\\");
        assert_eq!(s.title(), "second");
    }

    #[test]
    fn a_state_report_is_kept_and_replaced() {
        let mut s = Screen::new(80, 24, 0);
        assert_eq!(s.report(), "");
        s.process(b"\x1b]7501;state=working:app=codex\x07");
        assert_eq!(s.report(), "state=working:app=codex");
        // Split across chunks, terminated by ST, replacing the last one.
        s.process(b"\x1b]7501;state=blocked:app=co");
        s.process(b"dex:kind=question\x1b\\");
        assert_eq!(s.report(), "state=blocked:app=codex:kind=question");
        // Other OSCs leave it alone; the title is kept apart.
        s.process(b"\x1b]0;title\x07\x1b]750;state=idle\x07");
        assert_eq!(s.report(), "state=blocked:app=codex:kind=question");
        assert_eq!(s.title(), "title");
    }

    #[test]
    fn a_long_or_invalid_state_report_is_ignored() {
        let mut s = Screen::new(80, 24, 0);
        s.process(b"\x1b]7501;state=idle:app=codex\x07");
        let mut long = b"\x1b]7501;state=".to_vec();
        long.extend(std::iter::repeat_n(b'x', crate::screen::term::MAX_REPORT));
        long.push(0x07);
        s.process(&long);
        assert_eq!(s.report(), "state=idle:app=codex");
        // At the bound exactly it is kept.
        let mut exact = b"\x1b]7501;".to_vec();
        exact.extend(std::iter::repeat_n(b'y', crate::screen::term::MAX_REPORT));
        exact.push(0x07);
        s.process(&exact);
        assert_eq!(s.report().len(), crate::screen::term::MAX_REPORT);
        s.process(b"\x1b]7501;state=done:app=codex\x07");
        // Not UTF-8, or holding a control character (C0 ones never reach it): ignored.
        s.process(b"\x1b]7501;state=\xff\xfe\x07");
        s.process(b"\x1b]7501;state=\xc2\x85next\x07");
        assert_eq!(s.report(), "state=done:app=codex");
        // A query is not a report; `state=clear` takes the report away.
        s.process(b"\x1b]7501;?\x07");
        assert_eq!(s.report(), "state=done:app=codex");
        s.process(b"\x1b]7501;state=clear:app=codex\x07");
        assert_eq!(s.report(), "");
        // The text after it prints as usual.
        s.process(b"after");
        assert!(
            s.snapshot(None, crate::screen::Format::Text)
                .contains("after")
        );
    }

    #[test]
    fn a_state_report_survives_a_replay() {
        let mut a = Screen::new(40, 5, 100);
        a.process(b"hello\x1b]7501;state=blocked:app=codex:kind=permission\x07\r\nworld");
        let mut b = Screen::new(40, 5, 100);
        b.process(&a.replay().expect("primary screen"));
        assert_eq!(b.report(), "state=blocked:app=codex:kind=permission");
        assert_eq!(
            b.snapshot(None, crate::screen::Format::Text),
            "hello\nworld"
        );
    }
}
