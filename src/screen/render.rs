//! Rendering lines as text: tmux's `capture-pane` spelling (grid.c `grid_string_cells`,
//! re-expressed here), plain text for `/read` and the detector, and the escape codes that
//! redraw the screen on a fresh terminal for attach and WebSocket clients.
//!
//! tmux's `-e` spelling, which tools that parse capture output expect: attributes as one
//! `CSI … m` (with `4:2`-style codes for the extra underline styles and overline), then the
//! foreground, background and underline colours as separate sequences; removing any
//! attribute starts over from `0` (and repeats the colours); indexed colours stay `38;5;n`;
//! the DEC graphics flag is SO/SI. The state carries across lines of one capture.

use std::io::Write as _;

use super::grid::{FLAG_256, FLAG_RGB, PADDING, Pen, PenTable, Row, attr};
use super::history::{CellRef, Entry, Line};
use super::term::{Term, mode};

/// A line of the history or of the screen.
#[derive(Clone, Copy)]
pub enum LineRef<'a> {
    Row(&'a Row, &'a PenTable),
    Hist(&'a Line),
}

impl LineRef<'_> {
    pub fn wrapped(&self) -> bool {
        match self {
            LineRef::Row(r, _) => r.wrapped(),
            LineRef::Hist(l) => l.wrapped(),
        }
    }

    /// Every used cell, in order, padding included.
    pub fn for_each_cell(&self, mut f: impl FnMut(CellRef<'_>)) {
        match self {
            LineRef::Row(r, pens) => {
                let mut buf = [0u8; 4];
                for c in &r.cells[..usize::from(r.used).min(r.cells.len())] {
                    let text = r.text(c, &mut buf);
                    f(CellRef {
                        text,
                        width: c.width,
                        pen: pens.get(c.pen),
                        flags: c.flags,
                    });
                }
            }
            LineRef::Hist(l) => l.for_each_cell(f),
        }
    }
}

impl Term {
    /// Line `i` of history and screen together (0 = the oldest history line).
    pub fn line(&self, i: usize) -> Option<LineRef<'_>> {
        let hs = self.hist.len();
        if i < hs {
            self.hist.get(i).map(|e| match e {
                Entry::Compact(l) => LineRef::Hist(l),
                Entry::Raw(r) => LineRef::Row(r, &self.pens),
            })
        } else {
            self.rows.get(i - hs).map(|r| LineRef::Row(r, &self.pens))
        }
    }

    /// Visible row `y`.
    pub fn row_ref(&self, y: usize) -> Option<LineRef<'_>> {
        self.rows.get(y).map(|r| LineRef::Row(r, &self.pens))
    }
}

const ATTR_CODES: [(u16, u32); 13] = [
    (attr::BRIGHT, 1),
    (attr::DIM, 2),
    (attr::ITALICS, 3),
    (attr::UNDERSCORE, 4),
    (attr::BLINK, 5),
    (attr::REVERSE, 7),
    (attr::HIDDEN, 8),
    (attr::STRIKETHROUGH, 9),
    (attr::UNDERSCORE_2, 42),
    (attr::UNDERSCORE_3, 43),
    (attr::UNDERSCORE_4, 44),
    (attr::UNDERSCORE_5, 45),
    (attr::OVERLINE, 53),
];

/// Colour parameters (at most 5) for `base` 30 (fg), 40 (bg) or 50 (underline).
fn colour_values(c: u32, base: u32, out: &mut [u32; 5]) -> usize {
    if c & FLAG_256 != 0 {
        out[..3].copy_from_slice(&[base + 8, 5, c & 0xff]);
        3
    } else if c & FLAG_RGB != 0 {
        out.copy_from_slice(&[base + 8, 2, (c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff]);
        5
    } else if base == 50 {
        0
    } else {
        match c {
            0..=7 => {
                out[0] = base + c;
                1
            }
            8 => {
                out[0] = base + 9;
                1
            }
            90..=97 => {
                out[0] = if base == 30 { c } else { c + 10 };
                1
            }
            _ => 0,
        }
    }
}

fn push_num(out: &mut Vec<u8>, n: u32) {
    let _ = write!(out, "{n}");
}

/// tmux's `grid_string_cells_code`: the codes that take a terminal from `last` to `gc`.
pub fn sgr_code(last: &Pen, gc: &Pen, out: &mut Vec<u8>) {
    if last == gc {
        return;
    }
    let a = gc.attr;
    let mut lastattr = last.attr;
    let mut s = [0u32; 16];
    let mut n = 0;
    for &(mask, _) in &ATTR_CODES {
        if (a & mask == 0 && lastattr & mask != 0) || (last.us != 0 && gc.us == 0) {
            s[n] = 0;
            n += 1;
            lastattr &= attr::CHARSET;
            break;
        }
    }
    for &(mask, code) in &ATTR_CODES {
        if a & mask != 0 && lastattr & mask == 0 {
            s[n] = code;
            n += 1;
        }
    }
    if n > 0 {
        out.extend_from_slice(b"\x1b[");
        for (i, &code) in s[..n].iter().enumerate() {
            if code < 10 {
                push_num(out, code);
            } else {
                push_num(out, code / 10);
                out.push(b':');
                push_num(out, code % 10);
            }
            if i + 1 < n {
                out.push(b';');
            }
        }
        out.push(b'm');
    }
    let reset = n != 0 && s[0] == 0;
    for (new, old, base) in [
        (gc.fg, last.fg, 30),
        (gc.bg, last.bg, 40),
        (gc.us, last.us, 50),
    ] {
        let (mut nv, mut ov) = ([0u32; 5], [0u32; 5]);
        let nn = colour_values(new, base, &mut nv);
        let no = colour_values(old, base, &mut ov);
        if nn != 0 && (nn != no || nv[..nn] != ov[..no] || reset) {
            out.extend_from_slice(b"\x1b[");
            for (i, v) in nv[..nn].iter().enumerate() {
                push_num(out, *v);
                if i + 1 < nn {
                    out.push(b';');
                }
            }
            out.push(b'm');
        }
    }
    if a & attr::CHARSET != 0 && lastattr & attr::CHARSET == 0 {
        out.push(0x0e);
    }
    if a & attr::CHARSET == 0 && lastattr & attr::CHARSET != 0 {
        out.push(0x0f);
    }
}

/// tmux's `grid_string_cells` for a whole line of width `sx`: cells up to the used extent,
/// padding skipped, with codes when `codes` is given (carrying the state across lines), and
/// trailing spaces trimmed when `trim`.
pub fn line_string(
    line: LineRef<'_>,
    sx: usize,
    codes: Option<&mut Pen>,
    trim: bool,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let mut x = 0usize;
    let mut codes = codes;
    line.for_each_cell(|c| {
        if x >= sx {
            return;
        }
        x += 1;
        if c.flags & PADDING != 0 {
            return;
        }
        if let Some(last) = codes.as_deref_mut() {
            sgr_code(last, &c.pen, out);
            *last = c.pen;
        }
        out.extend_from_slice(c.text.as_bytes());
    });
    if trim {
        let keep = out[start..]
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(start, |p| start + p + 1);
        out.truncate(keep);
    }
}

/// A visible row as text, trailing spaces trimmed (as `capture-pane -p` prints it).
pub fn row_text(t: &Term, y: usize, out: &mut String) {
    out.clear();
    let Some(line) = t.row_ref(y) else {
        return;
    };
    let mut bytes = std::mem::take(out).into_bytes();
    line_string(line, t.sx, None, true, &mut bytes);
    // Cells hold whole characters, so the bytes are UTF-8.
    *out = String::from_utf8(bytes).unwrap_or_default();
}

/// A line with its own SGR codes from the default pen, ending in a reset (one row of an
/// ANSI snapshot: each row can be shown on its own).
pub fn line_ansi(line: LineRef<'_>, sx: usize, out: &mut Vec<u8>) {
    let mut pen = Pen::DEFAULT;
    line_string(line, sx, Some(&mut pen), false, out);
    out.extend_from_slice(b"\x1b[0m");
}

/// Escape codes that redraw the visible screen, its cursor and modes on a fresh terminal.
pub fn redraw(t: &Term) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.sx * t.sy + 256);
    if t.saved.is_some() {
        out.extend_from_slice(b"\x1b[?1049h");
    }
    out.extend_from_slice(b"\x1b[H\x1b[2J");
    for y in 0..t.sy {
        let row = &t.rows[y];
        // Draw up to the last cell that shows something (a character or a colour).
        let end = row
            .cells
            .iter()
            .take(t.sx)
            .rposition(|c| {
                !(c.ch == u32::from(b' ') && c.flags & super::grid::CLUSTER == 0)
                    || t.pens.get(c.pen) != Pen::DEFAULT
            })
            .map_or(0, |x| x + 1);
        if end == 0 {
            continue;
        }
        let _ = write!(out, "\x1b[{};1H", y + 1);
        let mut pen = Pen::DEFAULT;
        let mut buf = [0u8; 4];
        for c in &row.cells[..end] {
            if c.is_padding() {
                continue;
            }
            let p = t.pens.get(c.pen);
            sgr_code(&pen, &p, &mut out);
            pen = p;
            out.extend_from_slice(row.text(c, &mut buf).as_bytes());
        }
        if pen != Pen::DEFAULT {
            out.extend_from_slice(b"\x1b[0m");
        }
    }
    if t.rupper != 0 || t.rlower != t.sy - 1 {
        let _ = write!(out, "\x1b[{};{}r", t.rupper + 1, t.rlower + 1);
    }
    let _ = write!(out, "\x1b[{};{}H", t.cy + 1, t.cx.min(t.sx - 1) + 1);
    let mut pen = Pen::DEFAULT;
    let mut current = t.cell;
    current.attr &= !attr::CHARSET;
    sgr_code(&pen, &current, &mut out);
    pen = current;
    let _ = pen;
    out.extend_from_slice(&input_modes(t));
    out
}

/// The modes that change what the terminal sends or how it draws (cursor keys, keypad,
/// bracketed paste, mouse, focus, cursor visibility and style, wrap, insert, origin), as
/// escape codes a fresh terminal (or a fresh model) can replay.
pub fn input_modes(t: &Term) -> Vec<u8> {
    let mut out = Vec::new();
    let m = t.mode;
    let flags: [(u32, &[u8]); 9] = [
        (mode::KCURSOR, b"\x1b[?1h"),
        (mode::BRACKETPASTE, b"\x1b[?2004h"),
        (mode::MOUSE_STANDARD, b"\x1b[?1000h"),
        (mode::MOUSE_BUTTON, b"\x1b[?1002h"),
        (mode::MOUSE_ALL, b"\x1b[?1003h"),
        (mode::MOUSE_SGR, b"\x1b[?1006h"),
        (mode::MOUSE_UTF8, b"\x1b[?1005h"),
        (mode::FOCUSON, b"\x1b[?1004h"),
        (mode::INSERT, b"\x1b[4h"),
    ];
    for (bit, code) in flags {
        if m & bit != 0 {
            out.extend_from_slice(code);
        }
    }
    if m & mode::KKEYPAD != 0 {
        out.extend_from_slice(b"\x1b=");
    }
    if m & mode::WRAP == 0 {
        out.extend_from_slice(b"\x1b[?7l");
    }
    if m & mode::CURSOR == 0 {
        out.extend_from_slice(b"\x1b[?25l");
    }
    if t.cursor_style != 0 {
        let _ = write!(out, "\x1b[{} q", t.cursor_style);
    }
    out
}
