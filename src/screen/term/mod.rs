//! The terminal state and the operations escape sequences perform on it, with tmux 3.3a's
//! semantics (screen-write.c, grid-view.c, grid.c and screen.c, read and re-expressed here):
//! where the visible screen's top line goes when it scrolls (into the history, from any
//! scrolling region, and on a full clear), where the cursor may rest (one past the last
//! column until the next character wraps), which cells count as used, how wide characters
//! are split and padded, and how the alternate screen is saved and restored.
//!
//! Coordinates are view coordinates: row 0 is the top visible row. Where tmux's arithmetic
//! on unsigned ints wraps (and so turns an operation into a no-op), the same arithmetic is
//! done here with wrapping `u32`s, so the same inputs do the same nothing.

mod edit;
mod print;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use super::grid::{
    COLOUR_DEFAULT, Cell, DEFAULT_PEN, PEN_TABLE_LIMIT, Pen, PenTable, Row, attr, clamp_u16,
};
use super::history::{Encoder, History};

/// Terminal modes (tmux's `MODE_*` bits).
pub mod mode {
    pub const CURSOR: u32 = 0x1;
    pub const INSERT: u32 = 0x2;
    pub const KCURSOR: u32 = 0x4;
    pub const KKEYPAD: u32 = 0x8;
    pub const WRAP: u32 = 0x10;
    pub const MOUSE_STANDARD: u32 = 0x20;
    pub const MOUSE_BUTTON: u32 = 0x40;
    pub const CURSOR_BLINKING: u32 = 0x80;
    pub const MOUSE_UTF8: u32 = 0x100;
    pub const MOUSE_SGR: u32 = 0x200;
    pub const BRACKETPASTE: u32 = 0x400;
    pub const FOCUSON: u32 = 0x800;
    pub const MOUSE_ALL: u32 = 0x1000;
    pub const ORIGIN: u32 = 0x2000;
    pub const KEXTENDED: u32 = 0x8000;
    pub const CURSOR_VERY_VISIBLE: u32 = 0x10000;
    pub const CURSOR_BLINKING_SET: u32 = 0x20000;
    pub const ALL_MOUSE: u32 = MOUSE_STANDARD | MOUSE_BUTTON | MOUSE_ALL;
}

/// Most bytes in one cell (tmux's `UTF8_SIZE`): combining marks past this are dropped.
const CELL_BYTES: usize = 21;

const ZWJ: char = '\u{200d}';

/// The pen and character sets that `ESC 7` saves (tmux's `input_cell` and cursor).
#[derive(Debug, Clone, Copy)]
pub struct SavedState {
    pub cell: Pen,
    pub set: u8,
    pub g0: bool,
    pub g1: bool,
    pub cx: usize,
    pub cy: usize,
    pub mode: u32,
}

/// The main screen's visible rows while the alternate screen is shown.
#[derive(Debug)]
pub struct SavedGrid {
    pub rows: VecDeque<Box<Row>>,
    pub sx: usize,
    pub sy: usize,
}

#[derive(Debug)]
pub struct Term {
    pub sx: usize,
    pub sy: usize,
    /// The visible rows, `sy` of them (a ring, so a scroll moves no rows; boxed, so a row
    /// that scrolls off moves into the history as it is).
    pub rows: VecDeque<Box<Row>>,
    pub hist: History,
    /// Lines that entered the history by scrolling (not by a clear) and that a taller
    /// screen pulls back (tmux's `hscrolled`).
    pub hscrolled: usize,
    /// Lines leaving the top go to the history (off on the alternate screen).
    pub history_on: bool,
    pub pens: PenTable,
    enc: Encoder,
    pub cx: usize,
    pub cy: usize,
    pub rupper: usize,
    pub rlower: usize,
    pub mode: u32,
    tabs: Vec<bool>,
    pub saved: Option<SavedGrid>,
    saved_cx: Option<usize>,
    saved_cy: Option<usize>,
    saved_cell: Pen,
    saved_history_on: bool,
    pub title: String,
    titles: Vec<String>,
    /// The payload of the last OSC 7501 state report (see [`Term::set_report`]), empty until
    /// one arrives.
    pub report: String,
    /// DECSCUSR cursor style (0 = the terminal's default), for a redraw.
    pub cursor_style: u8,
    /// The pen characters are written with (tmux's `ictx->cell`), and the character sets:
    /// `set` selects G1 (SO) or G0 (SI); `g0`/`g1` say whether each is DEC graphics.
    pub cell: Pen,
    pub set: u8,
    pub g0: bool,
    pub g1: bool,
    pub old: SavedState,
    /// The last printed ASCII character, for REP.
    pub last: Option<u8>,
    /// A zero-width joiner was printed: the next character joins the cell before it.
    zwj: bool,
    /// `cell` interned (without the charset bit), while `cell` is unchanged.
    pen_id: Option<u16>,
    /// Bytes owed to the program (answers to its queries).
    pub replies: Vec<u8>,
    /// Shell marks seen since the owner last took them (see [`super::marks`]).
    pub marks: Vec<super::marks::ShellMark>,
}

/// The longest OSC 7501 state report kept, in bytes. Codex's longest is 45
/// (`state=blocked:app=codex:kind=permission`); 256 leaves room for more fields while a
/// program cannot make the detector match rules against a long string at every evaluation.
pub const MAX_REPORT: usize = 256;

#[inline]
fn w32(n: usize) -> u32 {
    // Sizes are clamped far below u32::MAX; this is tmux's u_int.
    n as u32
}

impl Term {
    pub fn new(sx: usize, sy: usize, history_limit: usize, history_bytes: usize) -> Term {
        let mut t = Term {
            sx,
            sy,
            rows: (0..sy).map(|_| Box::default()).collect(),
            hist: History::new(history_limit, history_bytes),
            hscrolled: 0,
            history_on: history_limit != 0,
            pens: PenTable::default(),
            enc: Encoder::default(),
            cx: 0,
            cy: 0,
            rupper: 0,
            rlower: sy - 1,
            mode: mode::CURSOR | mode::WRAP,
            tabs: Vec::new(),
            saved: None,
            saved_cx: None,
            saved_cy: None,
            saved_cell: Pen::DEFAULT,
            saved_history_on: false,
            title: String::new(),
            titles: Vec::new(),
            report: String::new(),
            cursor_style: 0,
            cell: Pen::DEFAULT,
            set: 0,
            g0: false,
            g1: false,
            old: SavedState {
                cell: Pen::DEFAULT,
                set: 0,
                g0: false,
                g1: false,
                cx: 0,
                cy: 0,
                mode: 0,
            },
            last: None,
            zwj: false,
            pen_id: None,
            replies: Vec::new(),
            marks: Vec::new(),
        };
        t.reset_tabs();
        t
    }

    // ---- pens ----

    /// The current pen changed (SGR, restore, reset).
    #[inline]
    pub fn pen_changed(&mut self) {
        self.pen_id = None;
    }

    /// The interned id of `pen`, compacting the table first if it is full.
    fn pen(&mut self, pen: Pen) -> u16 {
        if pen == Pen::DEFAULT {
            return DEFAULT_PEN;
        }
        if self.pens.len() >= PEN_TABLE_LIMIT {
            self.compact_pens();
        }
        self.pens.intern(pen)
    }

    fn compact_pens(&mut self) {
        let saved = self.saved.as_mut().map(|s| s.rows.iter_mut());
        let rows = self
            .rows
            .iter_mut()
            .chain(saved.into_iter().flatten())
            .map(|r| &mut **r)
            .chain(self.hist.raw_rows_mut());
        self.pens.compact(rows);
        self.pen_id = None;
    }

    /// The id of the current pen for a plain character (no charset flag).
    #[inline]
    fn current_pen(&mut self) -> u16 {
        if let Some(id) = self.pen_id {
            return id;
        }
        let mut p = self.cell;
        p.attr &= !attr::CHARSET;
        let id = self.pen(p);
        self.pen_id = Some(id);
        id
    }

    // ---- tabs and cursor ----

    pub fn reset_tabs(&mut self) {
        self.tabs = (0..self.sx).map(|i| i % 8 == 0 && i != 0).collect();
    }

    pub fn tab_set(&mut self, x: usize, on: bool) {
        if let Some(t) = self.tabs.get_mut(x) {
            *t = on;
        }
    }

    pub fn tabs_clear(&mut self) {
        self.tabs.iter_mut().for_each(|t| *t = false);
    }

    fn is_tab(&self, x: usize) -> bool {
        self.tabs.get(x).copied().unwrap_or(false)
    }

    /// tmux's `screen_write_set_cursor`: the column may rest one past the last column.
    pub fn set_cursor(&mut self, cx: Option<usize>, cy: Option<usize>) {
        if let Some(x) = cx {
            self.cx = if x > self.sx { self.sx - 1 } else { x };
        }
        if let Some(y) = cy {
            self.cy = y.min(self.sy - 1);
        }
    }

    pub fn tab(&mut self) {
        if self.cx >= self.sx - 1 {
            return;
        }
        loop {
            self.cx += 1;
            if self.is_tab(self.cx) || self.cx >= self.sx - 1 {
                break;
            }
        }
    }

    /// CBT: back `n` tab stops.
    pub fn back_tab(&mut self, n: usize) {
        let mut cx = self.cx.min(self.sx - 1);
        let mut n = n;
        while cx > 0 && n > 0 {
            n -= 1;
            loop {
                cx -= 1;
                if cx == 0 || self.is_tab(cx) {
                    break;
                }
            }
        }
        self.cx = cx;
    }

    pub fn cursor_up(&mut self, n: usize) {
        let mut ny = n.max(1);
        let (mut cx, mut cy) = (self.cx, self.cy);
        if cy < self.rupper {
            ny = ny.min(cy);
        } else {
            ny = ny.min(cy - self.rupper);
        }
        if cx == self.sx {
            cx -= 1;
        }
        cy -= ny;
        self.set_cursor(Some(cx), Some(cy));
    }

    pub fn cursor_down(&mut self, n: usize) {
        let mut ny = n.max(1);
        let (mut cx, mut cy) = (self.cx, self.cy);
        if cy > self.rlower {
            ny = ny.min(self.sy - 1 - cy);
        } else {
            ny = ny.min(self.rlower.saturating_sub(cy));
        }
        if cx == self.sx {
            cx -= 1;
        } else if ny == 0 {
            return;
        }
        cy += ny;
        self.set_cursor(Some(cx), Some(cy));
    }

    pub fn cursor_right(&mut self, n: usize) {
        // tmux's u_int arithmetic: from one past the last column nothing limits the move,
        // and the cursor lands on the last column.
        let limit = w32(self.sx).wrapping_sub(1).wrapping_sub(w32(self.cx));
        let nx = w32(n.max(1)).min(limit);
        if nx == 0 {
            return;
        }
        self.set_cursor(Some(self.cx + nx as usize), Some(self.cy));
    }

    pub fn cursor_left(&mut self, n: usize) {
        let nx = n.max(1).min(self.cx);
        if nx == 0 {
            return;
        }
        self.set_cursor(Some(self.cx - nx), Some(self.cy));
    }

    pub fn backspace(&mut self) {
        let (mut cx, mut cy) = (self.cx, self.cy);
        if cx == 0 {
            if cy == 0 {
                return;
            }
            if self.row_wrapped_above(cy) {
                cy -= 1;
                cx = self.sx - 1;
            }
        } else {
            cx -= 1;
        }
        self.set_cursor(Some(cx), Some(cy));
    }

    /// Whether the line above visible row `y` (the newest history line for row 0) wraps.
    fn row_wrapped_above(&self, y: usize) -> bool {
        if y > 0 {
            self.rows[y - 1].wrapped()
        } else {
            self.hist
                .get(self.hist.len().wrapping_sub(1))
                .is_some_and(|l| l.wrapped())
        }
    }

    pub fn carriage_return(&mut self) {
        self.set_cursor(Some(0), None);
    }

    /// tmux's `screen_write_cursormove`: `origin` applies origin mode to the row.
    pub fn cursor_move(&mut self, px: Option<usize>, py: Option<usize>, origin: bool) {
        let mut py = py;
        if origin
            && let Some(y) = py
            && self.mode & mode::ORIGIN != 0
        {
            py = Some(if y > self.rlower - self.rupper {
                self.rlower
            } else {
                y + self.rupper
            });
        }
        let px = px.map(|x| x.min(self.sx - 1));
        let py = py.map(|y| y.min(self.sy - 1));
        self.set_cursor(px, py);
    }

    // ---- shell marks ----

    /// An OSC 133 mark `payload` whose sequence of `len` bytes ended `end` bytes into the
    /// chunk being parsed. Marks are kept until taken, at most [`super::marks::MAX_PENDING`].
    pub fn shell_mark(&mut self, payload: &[u8], end: usize, len: usize) {
        if self.marks.len() < super::marks::MAX_PENDING
            && let Some(kind) = super::marks::MarkKind::parse(payload)
        {
            self.marks.push(super::marks::ShellMark { end, len, kind });
        }
    }

    // ---- titles ----

    pub fn set_title(&mut self, title: &[u8]) {
        if let Ok(t) = std::str::from_utf8(title) {
            t.clone_into(&mut self.title);
        }
    }

    /// Titles pushed with `CSI 22 t`, bounded so a program cannot grow it forever.
    pub fn push_title(&mut self) {
        if self.titles.len() < 64 {
            self.titles.push(self.title.clone());
        }
    }

    pub fn pop_title(&mut self) {
        if let Some(t) = self.titles.pop() {
            self.title = t;
        }
    }

    // ---- state reports ----

    /// Keep the payload of an OSC 7501 state report (`state=working:app=codex`), replacing
    /// the last one; `state=clear` takes it away. One that is longer than [`MAX_REPORT`], not
    /// UTF-8 or holds a control character is ignored, as is a query (`?`, which asks the
    /// terminal whether it reads reports): the previous report stands.
    pub fn set_report(&mut self, payload: &[u8]) {
        if payload.len() > MAX_REPORT || payload == b"?" {
            return;
        }
        let Ok(r) = std::str::from_utf8(payload) else {
            return;
        };
        if r.chars().any(char::is_control) {
            return;
        }
        if r == "state=clear" || r.starts_with("state=clear:") {
            self.report.clear();
        } else {
            r.clone_into(&mut self.report);
        }
    }

    // ---- alternate screen ----

    /// tmux's `screen_alternate_on`.
    pub fn alternate_on(&mut self, cursor: bool) {
        if self.saved.is_some() {
            return;
        }
        self.saved = Some(SavedGrid {
            rows: self.rows.clone(),
            sx: self.sx,
            sy: self.sy,
        });
        if cursor {
            self.saved_cx = Some(self.cx);
            self.saved_cy = Some(self.cy);
        }
        self.saved_cell = self.cell;
        self.clear(0, 0, w32(self.sx), w32(self.sy), COLOUR_DEFAULT);
        self.saved_history_on = self.history_on;
        self.history_on = false;
    }

    /// tmux's `screen_alternate_off`.
    pub fn alternate_off(&mut self, cursor: bool) {
        let (sx, sy) = (self.sx, self.sy);
        if let Some((ssx, ssy)) = self.saved.as_ref().map(|s| (s.sx, s.sy)) {
            self.resize(ssx, ssy, true);
        }
        if cursor && let (Some(x), Some(y)) = (self.saved_cx, self.saved_cy) {
            self.cx = x;
            self.cy = y;
            self.cell = self.saved_cell;
            self.pen_changed();
        }
        let Some(saved) = self.saved.take() else {
            self.cx = self.cx.min(self.sx - 1);
            self.cy = self.cy.min(self.sy - 1);
            return;
        };
        for (dst, src) in self.rows.iter_mut().zip(saved.rows) {
            *dst = src;
        }
        if self.saved_history_on {
            self.history_on = true;
        }
        self.resize(sx, sy, true);
        self.cx = self.cx.min(self.sx - 1);
        self.cy = self.cy.min(self.sy - 1);
    }

    // ---- reads ----

    pub fn history_size(&self) -> usize {
        self.hist.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.rows.iter().map(|r| r.heap_bytes()).sum::<usize>()
            + self
                .saved
                .as_ref()
                .map_or(0, |s| s.rows.iter().map(|r| r.heap_bytes()).sum::<usize>())
            + self.hist.heap_bytes()
            + self.pens.heap_bytes()
    }
}
