//! tmux-compatible `capture-pane` rendering, so tools that parse tmux's capture output
//! (claude-squad, agent-of-empires) read the same bytes from Aegis.
//!
//! Line numbering follows tmux: 0 is the top visible row, negative numbers reach into the
//! history, `-S -` is the start of the history and `-E -` the end of the visible screen.
//! Every captured line ends in `\n` (a wrapped one does not under `-J`); lines are printed
//! up to their last used cell; trailing spaces are trimmed unless `-J` or `-N` is given;
//! `-e` adds SGR sequences in tmux's spelling (see `render`).

use super::Screen;
use super::grid::Pen;
use super::render::line_string;

/// One end of the captured range (`-S` / `-E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRef {
    /// `-`: the start of the history (for `-S`) or the end of the visible screen (for `-E`).
    Edge,
    /// A line number: 0 is the top visible row, negative numbers are history.
    At(i64),
}

impl LineRef {
    /// Parse tmux's argument: `-` or an integer.
    pub fn parse(s: &str) -> Option<LineRef> {
        if s == "-" {
            return Some(LineRef::Edge);
        }
        s.parse().ok().map(LineRef::At)
    }
}

/// `capture-pane` flags that change the rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureOptions {
    pub start: Option<LineRef>,
    pub end: Option<LineRef>,
    /// `-e`: include SGR escape sequences.
    pub escapes: bool,
    /// `-J`: join wrapped lines (and keep trailing spaces).
    pub join: bool,
    /// `-N`: keep trailing spaces.
    pub keep_trailing: bool,
}

impl Screen {
    /// Lines of history above the visible screen.
    pub fn history_size(&self) -> usize {
        self.term.history_size()
    }

    /// Render lines as tmux's `capture-pane -p` does (tmux's `cmd_capture_pane_history`).
    pub fn capture(&self, opts: &CaptureOptions) -> String {
        let t = &self.term;
        let hs = t.history_size() as i64;
        let last = hs + t.sy as i64 - 1;
        // tmux reads the number with a range of INT_MIN..SHRT_MAX; an unreadable one means
        // the default.
        let resolve = |r: Option<LineRef>, edge: i64, default: i64| -> i64 {
            let v = match r {
                None => default,
                Some(LineRef::Edge) => edge,
                Some(LineRef::At(n)) if n < i64::from(i32::MIN) || n > i64::from(i16::MAX) => {
                    default
                }
                Some(LineRef::At(n)) if n < 0 && -n > hs => 0,
                Some(LineRef::At(n)) => hs + n,
            };
            v.min(last)
        };
        let mut top = resolve(opts.start, 0, hs);
        let mut bottom = resolve(opts.end, last, last);
        if bottom < top {
            std::mem::swap(&mut top, &mut bottom);
        }
        let trim = !opts.join && !opts.keep_trailing;
        let mut out = Vec::new();
        let mut pen = Pen::DEFAULT;
        for i in top..=bottom {
            let Some(line) = usize::try_from(i).ok().and_then(|i| t.line(i)) else {
                continue;
            };
            let codes = opts.escapes.then_some(&mut pen);
            line_string(line, t.sx, codes, trim, &mut out);
            if !(opts.join && line.wrapped()) {
                out.push(b'\n');
            }
        }
        // Cells hold whole characters, so this is UTF-8.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(s: &mut Screen, start: Option<&str>, end: Option<&str>) -> String {
        s.capture(&CaptureOptions {
            start: start.and_then(LineRef::parse),
            end: end.and_then(LineRef::parse),
            ..Default::default()
        })
    }

    #[test]
    fn visible_lines_each_end_in_newline() {
        let mut s = Screen::new(10, 3, 100);
        s.process(b"a  \r\nb");
        assert_eq!(cap(&mut s, None, None), "a\nb\n\n");
    }

    #[test]
    fn history_ranges_follow_tmux() {
        let mut s = Screen::new(10, 2, 100);
        for i in 0..5 {
            s.process(format!("l{i}\r\n").as_bytes());
        }
        // history: l0..l3, screen: l4, "".
        assert_eq!(s.history_size(), 4);
        assert_eq!(cap(&mut s, Some("-2"), Some("0")), "l2\nl3\nl4\n");
        assert_eq!(cap(&mut s, Some("-"), Some("-1")), "l0\nl1\nl2\nl3\n");
        assert_eq!(cap(&mut s, Some("-100"), Some("-4")), "l0\n");
        assert_eq!(cap(&mut s, Some("1"), Some("0")), "l4\n\n");
    }

    #[test]
    fn join_and_wide_chars() {
        let mut s = Screen::new(4, 3, 10);
        s.process("abcdef\r\n表x".as_bytes());
        let joined = s.capture(&CaptureOptions {
            join: true,
            ..Default::default()
        });
        assert_eq!(joined, "abcdef\n表x\n");
    }

    #[test]
    fn escapes_use_tmux_spelling() {
        let mut s = Screen::new(10, 2, 0);
        s.process(b"\x1b[1;31mA\x1b[0mB\x1b[38;5;1mC");
        let e = s.capture(&CaptureOptions {
            escapes: true,
            ..Default::default()
        });
        assert_eq!(
            e,
            "\x1b[1m\x1b[31mA\x1b[0m\x1b[39m\x1b[49mB\x1b[38;5;1mC\n\n"
        );
    }
}
