//! Answers to the terminal queries programs send at start-up. A real terminal answers them;
//! a daemon that stays silent makes Codex exit ("The cursor position could not be read") and
//! Gemini wait a second per query. Replies are computed from the screen model at the moment
//! the query is parsed, so a cursor report is exact even mid-chunk.
//!
//! Answered: DSR status (`CSI 5 n`), cursor position (`CSI 6 n`, `CSI ? 6 n`), primary,
//! secondary and tertiary device attributes (`CSI c`, `CSI > c`, `CSI = c`), XTVERSION
//! (`CSI > q`), DECRQM for the private modes the model tracks (`CSI ? n $ p`), text-area size
//! (`CSI 18 t`), and the OSC 10/11/12 colour queries. Not answered on purpose: the kitty
//! keyboard query (`CSI ? u`), since we do not implement that protocol and silence is how a
//! terminal says so; programs then fall back to legacy keys after their DA1 round trip.

use std::fmt::Write as _;

#[derive(Default)]
pub struct TerminalCallbacks {
    /// Bytes owed to the child, drained after each `process` call.
    pub replies: Vec<u8>,
    /// Last OSC 0/2 window title.
    pub title: String,
}

fn first_param(params: &[&[u16]]) -> u16 {
    params.first().and_then(|p| p.first()).copied().unwrap_or(0)
}

impl vt100::Callbacks for TerminalCallbacks {
    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let mut reply = String::new();
        let p = first_param(params);
        match (i1, i2, c) {
            (None, None, 'n') if p == 5 => reply.push_str("\x1b[0n"),
            (None, None, 'n') if p == 6 => {
                let (row, col) = screen.cursor_position();
                let _ = write!(reply, "\x1b[{};{}R", row + 1, col + 1);
            }
            (Some(b'?'), None, 'n') if p == 6 => {
                let (row, col) = screen.cursor_position();
                let _ = write!(reply, "\x1b[?{};{};1R", row + 1, col + 1);
            }
            // VT220-class with ANSI colour; what tmux and many terminals report.
            (None, None, 'c') if p == 0 => reply.push_str("\x1b[?62;22c"),
            (Some(b'>'), None, 'c') if p == 0 => reply.push_str("\x1b[>0;10;1c"),
            (Some(b'='), None, 'c') if p == 0 => reply.push_str("\x1bP!|00000000\x1b\\"),
            (Some(b'>'), None, 'q') => {
                let _ = write!(reply, "\x1bP>|aegis({})\x1b\\", env!("CARGO_PKG_VERSION"));
            }
            (Some(b'?'), Some(b'$'), 'p') => {
                let state = match p {
                    2004 => Some(screen.bracketed_paste()),
                    1049 | 47 | 1047 => Some(screen.alternate_screen()),
                    25 => Some(!screen.hide_cursor()),
                    1 => Some(screen.application_cursor()),
                    _ => None,
                };
                // 1 = set, 2 = reset, 0 = not recognized.
                let code = match state {
                    Some(true) => 1,
                    Some(false) => 2,
                    None => 0,
                };
                let _ = write!(reply, "\x1b[?{p};{code}$y");
            }
            (None, None, 't') if p == 18 => {
                let (rows, cols) = screen.size();
                let _ = write!(reply, "\x1b[8;{rows};{cols}t");
            }
            _ => {}
        }
        self.replies.extend_from_slice(reply.as_bytes());
    }

    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        // OSC 10/11/12 ; ? — foreground, background, cursor colour. A dark theme: light grey
        // on black, which is what agents assume when they get no answer at all.
        if let [which, b"?"] = params {
            let colour = match *which {
                b"10" => "rgb:d0d0/d0d0/d0d0",
                b"11" => "rgb:0000/0000/0000",
                b"12" => "rgb:d0d0/d0d0/d0d0",
                _ => return,
            };
            let which = String::from_utf8_lossy(which);
            self.replies
                .extend_from_slice(format!("\x1b]{which};{colour}\x1b\\").as_bytes());
        }
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = String::from_utf8_lossy(title).into_owned();
    }
}

#[cfg(test)]
mod tests {
    use crate::screen::Screen;

    #[test]
    fn cursor_position_report_is_exact() {
        let mut s = Screen::new(80, 24, 0);
        let replies = s.process(b"abc\r\nde\x1b[6n");
        assert_eq!(replies, b"\x1b[2;3R");
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
        assert!(s.process(b"\x1b[?u").is_empty());
    }

    #[test]
    fn title_is_tracked() {
        let mut s = Screen::new(80, 24, 0);
        s.process(b"\x1b]0;\xe2\x9c\xb3 Claude Code\x07");
        assert_eq!(s.title(), "✳ Claude Code");
    }
}
