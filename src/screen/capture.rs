//! tmux-compatible `capture-pane` rendering from the vt100 model, so tools that parse tmux's
//! capture output (claude-squad, agent-of-empires) read the same text from Aegis.
//!
//! Line numbering follows tmux: 0 is the top visible row, negative numbers reach into the
//! history, `-S -` is the start of the history and `-E -` the end of the visible screen.
//! Every captured line ends in `\n`; trailing spaces are trimmed unless `-J` or `-N` is
//! given; `-J` joins wrapped lines; `-e` adds SGR sequences. vt100 has no notion of a cell
//! "used" but blank, so the end of a line without trimming is its last written cell.

use vt100::{Cell, Color};

use super::Screen;

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

/// The attributes `-e` renders.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Attrs {
    fg: Color,
    bg: Color,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    inverse: bool,
}

impl Attrs {
    fn of(cell: &Cell) -> Attrs {
        Attrs {
            fg: cell.fgcolor(),
            bg: cell.bgcolor(),
            bold: cell.bold(),
            dim: cell.dim(),
            italic: cell.italic(),
            underline: cell.underline(),
            inverse: cell.inverse(),
        }
    }

    /// SGR codes that take a terminal from `prev` to `self`. Turning any flag off resets.
    fn diff(&self, prev: &Attrs, out: &mut String) {
        if self == prev {
            return;
        }
        let lost = (prev.bold && !self.bold)
            || (prev.dim && !self.dim)
            || (prev.italic && !self.italic)
            || (prev.underline && !self.underline)
            || (prev.inverse && !self.inverse);
        let base = if lost { Attrs::default() } else { *prev };
        let mut codes: Vec<String> = Vec::new();
        if lost {
            codes.push("0".into());
        }
        for (on, was, code) in [
            (self.bold, base.bold, "1"),
            (self.dim, base.dim, "2"),
            (self.italic, base.italic, "3"),
            (self.underline, base.underline, "4"),
            (self.inverse, base.inverse, "7"),
        ] {
            if on && !was {
                codes.push(code.into());
            }
        }
        if self.fg != base.fg {
            codes.push(color_code(self.fg, 30));
        }
        if self.bg != base.bg {
            codes.push(color_code(self.bg, 40));
        }
        if !codes.is_empty() {
            out.push_str("\x1b[");
            out.push_str(&codes.join(";"));
            out.push('m');
        }
    }
}

fn color_code(c: Color, base: u8) -> String {
    match c {
        Color::Default => format!("{}", base + 9),
        Color::Idx(i) if i < 8 => format!("{}", base + i),
        Color::Idx(i) if i < 16 => format!("{}", base + 60 + (i - 8)),
        Color::Idx(i) => format!("{};5;{i}", base + 8),
        Color::Rgb(r, g, b) => format!("{};2;{r};{g};{b}", base + 8),
    }
}

/// One row with SGR codes: every cell when trimming (tmux trims the finished line), else up to
/// the last written cell.
fn styled_row(
    screen: &vt100::Screen,
    row: u16,
    cols: u16,
    trim: bool,
    attrs: &mut Attrs,
) -> String {
    let mut text = String::new();
    let end = if trim {
        cols
    } else {
        (0..cols)
            .rev()
            .find(|&c| screen.cell(row, c).is_some_and(Cell::has_contents))
            .map_or(0, |c| c + 1)
    };
    for col in 0..end {
        let Some(cell) = screen.cell(row, col) else {
            break;
        };
        if cell.is_wide_continuation() {
            continue;
        }
        let now = Attrs::of(cell);
        now.diff(attrs, &mut text);
        *attrs = now;
        match cell.contents() {
            "" => text.push(' '),
            c => text.push_str(c),
        }
    }
    text
}

impl Screen {
    /// Lines of history above the visible screen.
    pub fn history_size(&self) -> usize {
        self.vt().scrollback_len()
    }

    /// Render lines as tmux's `capture-pane -p` does.
    pub fn capture(&mut self, opts: &CaptureOptions) -> String {
        let (cols, rows) = self.size();
        let hs = self.history_size() as i64;
        let last = hs + i64::from(rows) - 1;
        let resolve = |r: Option<LineRef>, edge: i64, default: i64| -> i64 {
            let v = match r {
                None => default,
                Some(LineRef::Edge) => edge,
                Some(LineRef::At(n)) if n < 0 && n.saturating_neg() > hs => 0,
                Some(LineRef::At(n)) => hs.saturating_add(n),
            };
            v.clamp(0, last)
        };
        let mut top = resolve(opts.start, 0, hs);
        let mut bottom = resolve(opts.end, last, last);
        if bottom < top {
            std::mem::swap(&mut top, &mut bottom);
        }
        let trim = !opts.join && !opts.keep_trailing;
        let mut out = String::new();
        let mut attrs = Attrs::default();
        let screen = self.parser.screen_mut();
        let mut line = top;
        while line <= bottom {
            // Show a screenful of consecutive lines that starts at or above `line`: with a
            // scrollback offset the history scrolls in from the top; at 0, the live screen.
            let (offset, first) = if line < hs {
                (hs - line, 0)
            } else {
                (0, line - hs)
            };
            screen.set_scrollback(usize::try_from(offset).unwrap_or(0));
            let count = (i64::from(rows) - first).min(bottom - line + 1).max(1);
            let first = u16::try_from(first).unwrap_or(0);
            let count_u16 = u16::try_from(count).unwrap_or(1);
            // Text captures read whole rows at once (a row lookup walks the scrollback, so
            // per-cell reads cost too much on long histories); `-e` needs each cell's style.
            let texts: Vec<String> = if opts.escapes {
                (first..first + count_u16)
                    .map(|row| styled_row(screen, row, cols, trim, &mut attrs))
                    .collect()
            } else {
                screen
                    .rows(0, cols)
                    .skip(usize::from(first))
                    .take(usize::from(count_u16))
                    .collect()
            };
            for (row, mut text) in (first..).zip(texts) {
                if trim {
                    text.truncate(text.trim_end_matches(' ').len());
                }
                out.push_str(&text);
                if !(opts.join && screen.row_wrapped(row)) {
                    out.push('\n');
                }
            }
            line += count;
        }
        screen.set_scrollback(0);
        out
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
    fn escapes_render_colours() {
        let mut s = Screen::new(10, 2, 0);
        s.process(b"\x1b[1;31mA\x1b[0mB");
        let e = s.capture(&CaptureOptions {
            escapes: true,
            ..Default::default()
        });
        assert_eq!(e, "\x1b[1;31mA\x1b[0mB\n\n");
    }
}
