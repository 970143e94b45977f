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
}

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

    // ---- lines and cells (grid-view semantics) ----

    /// Clear the wrap flag of the line above visible row `y` (the newest history line for
    /// row 0), as tmux does whenever lines are cleared or moved under it.
    fn unwrap_above(&mut self, y: usize) {
        if y > 0 {
            self.rows[y - 1].set_wrapped(false);
        } else if let Some(l) = self.hist.newest_mut() {
            l.set_wrapped(false);
        }
    }

    /// Whether "the line above row `y`" exists in tmux's grid (absolute line > 0).
    fn has_above(&self, y: usize) -> bool {
        y > 0 || !self.hist.is_empty()
    }

    /// tmux's `grid_clear_lines` on visible rows.
    fn clear_lines(&mut self, py: u32, ny: u32, bg: u32) {
        if ny == 0 {
            return;
        }
        let sy = w32(self.sy);
        if py >= sy || py.wrapping_add(ny).wrapping_sub(1) >= sy {
            return;
        }
        // tmux loops `py <= y < py + ny` in u_int: a count that wraps clears nothing.
        for y in py..py.wrapping_add(ny) {
            self.rows[y as usize].empty(self.sx, bg, &mut self.pens);
        }
        let py = py as usize;
        if self.has_above(py) {
            self.unwrap_above(py);
        }
    }

    /// tmux's `grid_clear` on visible rows.
    pub fn clear(&mut self, px: u32, py: u32, nx: u32, ny: u32, bg: u32) {
        if nx == 0 || ny == 0 {
            return;
        }
        if px == 0 && nx == w32(self.sx) {
            self.clear_lines(py, ny, bg);
            return;
        }
        let sy = w32(self.sy);
        if py >= sy || py.wrapping_add(ny).wrapping_sub(1) >= sy {
            return;
        }
        for y in py..py.wrapping_add(ny) {
            let row = &mut self.rows[y as usize];
            let size = w32(self.sx.min(row.cells.len()));
            let mut ox = nx;
            if bg == COLOUR_DEFAULT {
                if px > size {
                    continue;
                }
                if px.wrapping_add(nx) > size {
                    ox = size - px;
                }
            }
            let end = px.wrapping_add(ox);
            if end <= px {
                continue;
            }
            // A clear can only reach as far as the row could grow; guards absurd counts.
            let end = (end as usize).min(self.sx.max(row.cells.len()));
            let px = px as usize;
            if end <= px {
                continue;
            }
            row.fill_cleared(px, end - px, self.sx, bg, &mut self.pens);
        }
    }

    /// tmux's `grid_move_lines` on visible rows: move `ny` rows from `py` to `dy`.
    fn move_lines(&mut self, dy: u32, py: u32, ny: u32, bg: u32) {
        if ny == 0 || py == dy {
            return;
        }
        let sy = w32(self.sy);
        let last = |y: u32| y.wrapping_add(ny).wrapping_sub(1);
        // A count past the screen would make tmux's memmove run off its array; no caller
        // passes one, and here it is a no-op.
        if py >= sy || last(py) >= sy || dy >= sy || last(dy) >= sy || ny > sy {
            return;
        }
        let (dy, py, ny) = (dy as usize, py as usize, ny as usize);
        if self.has_above(dy) {
            self.unwrap_above(dy);
        }
        // Rows at the destination are replaced (dropped); the moved rows leave empty ones.
        if dy < py {
            for i in 0..ny {
                self.rows[dy + i] = std::mem::take(&mut self.rows[py + i]);
            }
        } else {
            for i in (0..ny).rev() {
                self.rows[dy + i] = std::mem::take(&mut self.rows[py + i]);
            }
        }
        for y in py..py + ny {
            if y < dy || y >= dy + ny {
                self.rows[y].empty(self.sx, bg, &mut self.pens);
            }
        }
        if self.has_above(py) && (py < dy || py >= dy + ny) {
            self.unwrap_above(py);
        }
    }

    /// Encode visible row `y` into the history (the row stays).
    fn push_history(&mut self, y: usize) {
        let line = self.enc.encode(&self.rows[y], &self.pens);
        self.hist.push(line);
    }

    /// tmux's `grid_scroll_history`: the whole screen moves up one line into the history.
    /// The top row moves into the history as it is (see [`History`]).
    fn scroll_history(&mut self, bg: u32) {
        let spare = self.hist.take_spare();
        if let Some(top) = self.rows.pop_front() {
            self.hist.push_row(top);
        }
        self.rows.push_back(spare);
        let sy = self.sy;
        self.rows[sy - 1].empty(self.sx, bg, &mut self.pens);
        self.hscrolled += 1;
    }

    /// tmux's `grid_scroll_history_region`: the region's top line goes into the history.
    fn scroll_history_region(&mut self, upper: usize, lower: usize, bg: u32) {
        self.push_history(upper);
        self.rows[upper].reset();
        self.rows.make_contiguous()[upper..=lower].rotate_left(1);
        self.rows[lower].empty(self.sx, bg, &mut self.pens);
        self.hscrolled += 1;
    }

    /// Encode the history lines still kept as rows (see [`History`]); for when the
    /// session is quiet. Returns whether there was anything to do.
    pub fn compact_history(&mut self) -> bool {
        self.hist.compact(&mut self.enc, &self.pens)
    }

    /// tmux's `grid_collect_history`.
    fn collect_history(&mut self) {
        self.hist.collect();
        self.hscrolled = self.hscrolled.min(self.hist.len());
    }

    /// tmux's `grid_view_scroll_region_up`.
    fn scroll_region_up(&mut self, rupper: usize, rlower: usize, bg: u32) {
        if self.history_on {
            self.collect_history();
            if rupper == 0 && rlower == self.sy - 1 {
                self.scroll_history(bg);
            } else {
                self.scroll_history_region(rupper, rlower, bg);
            }
        } else {
            self.move_lines(
                w32(rupper),
                w32(rupper + 1),
                w32(rlower).wrapping_sub(w32(rupper)),
                bg,
            );
        }
    }

    /// tmux's `grid_view_scroll_region_down`.
    fn scroll_region_down(&mut self, rupper: usize, rlower: usize, bg: u32) {
        self.move_lines(
            w32(rupper + 1),
            w32(rupper),
            w32(rlower).wrapping_sub(w32(rupper)),
            bg,
        );
    }

    /// tmux's `grid_view_clear_history`: push the used part of the screen into the history.
    fn clear_into_history(&mut self, bg: u32) {
        let last = self
            .rows
            .iter()
            .rposition(|r| r.used != 0)
            .map_or(0, |y| y + 1);
        if last == 0 {
            self.clear(0, 0, w32(self.sx), w32(self.sy), bg);
            return;
        }
        for _ in 0..last {
            self.collect_history();
            self.scroll_history(bg);
        }
        if last < self.sy {
            self.clear(0, 0, w32(self.sx), w32(self.sy - last), bg);
        }
        self.hscrolled = 0;
    }

    fn insert_cells(&mut self, px: usize, py: usize, nx: usize, bg: u32) {
        let sx = self.sx;
        if px >= sx - 1 {
            self.clear(w32(px), w32(py), 1, 1, bg);
        } else {
            let n = sx.saturating_sub(px + nx);
            self.rows[py].move_cells(px + nx, px, n, sx, bg, &mut self.pens);
        }
    }

    fn delete_cells(&mut self, px: usize, py: usize, nx: usize, bg: u32) {
        let sx = self.sx;
        let n = sx.saturating_sub(px + nx);
        self.rows[py].move_cells(px, px + nx, n, sx, bg, &mut self.pens);
        let (px32, nx32, sx32) = (w32(px), w32(nx), w32(sx));
        self.clear(
            sx32.wrapping_sub(nx32),
            w32(py),
            px32.wrapping_add(nx32)
                .wrapping_sub(sx32.wrapping_sub(nx32)),
            1,
            bg,
        );
    }

    // ---- screen-write operations ----

    pub fn linefeed(&mut self, wrapped: bool, bg: u32) {
        if wrapped {
            self.rows[self.cy].set_wrapped(true);
        }
        if self.cy == self.rlower {
            self.scroll_region_up(self.rupper, self.rlower, bg);
        } else if self.cy < self.sy - 1 {
            self.set_cursor(None, Some(self.cy + 1));
        }
    }

    pub fn reverse_index(&mut self, bg: u32) {
        if self.cy == self.rupper {
            self.scroll_region_down(self.rupper, self.rlower, bg);
        } else if self.cy > 0 {
            self.set_cursor(None, Some(self.cy - 1));
        }
    }

    pub fn scroll_region(&mut self, upper: usize, lower: usize) {
        let upper = upper.min(self.sy - 1);
        let lower = lower.min(self.sy - 1);
        if upper >= lower {
            return;
        }
        self.set_cursor(Some(0), Some(0));
        self.rupper = upper;
        self.rlower = lower;
    }

    pub fn scroll_up(&mut self, lines: usize, bg: u32) {
        let lines = lines.max(1).min(self.rlower - self.rupper + 1);
        for _ in 0..lines {
            self.scroll_region_up(self.rupper, self.rlower, bg);
        }
    }

    pub fn scroll_down(&mut self, lines: usize, bg: u32) {
        let lines = lines.max(1).min(self.rlower - self.rupper + 1);
        for _ in 0..lines {
            self.scroll_region_down(self.rupper, self.rlower, bg);
        }
    }

    pub fn clear_end_of_screen(&mut self, bg: u32) {
        let (sx, sy) = (self.sx, self.sy);
        if self.cx == 0 && self.cy == 0 && self.history_on {
            self.clear_into_history(bg);
        } else {
            if self.cx < sx {
                self.clear(w32(self.cx), w32(self.cy), w32(sx - self.cx), 1, bg);
            }
            self.clear(
                0,
                w32(self.cy + 1),
                w32(sx),
                w32(sy).wrapping_sub(w32(self.cy + 1)),
                bg,
            );
        }
    }

    pub fn clear_start_of_screen(&mut self, bg: u32) {
        let sx = self.sx;
        if self.cy > 0 {
            self.clear(0, 0, w32(sx), w32(self.cy), bg);
        }
        if self.cx > sx - 1 {
            self.clear(0, w32(self.cy), w32(sx), 1, bg);
        } else {
            self.clear(0, w32(self.cy), w32(self.cx + 1), 1, bg);
        }
    }

    pub fn clear_screen(&mut self, bg: u32) {
        if self.history_on {
            self.clear_into_history(bg);
        } else {
            self.clear(0, 0, w32(self.sx), w32(self.sy), bg);
        }
    }

    pub fn clear_history(&mut self) {
        self.hist.clear();
        self.hscrolled = 0;
    }

    pub fn clear_line(&mut self, bg: u32) {
        if self.rows[self.cy].cells.is_empty() && bg == COLOUR_DEFAULT {
            return;
        }
        self.clear(0, w32(self.cy), w32(self.sx), 1, bg);
    }

    pub fn clear_end_of_line(&mut self, bg: u32) {
        if self.cx == 0 {
            self.clear_line(bg);
            return;
        }
        let size = self.rows[self.cy].cells.len();
        if self.cx > self.sx - 1 || (self.cx >= size && bg == COLOUR_DEFAULT) {
            return;
        }
        self.clear(w32(self.cx), w32(self.cy), w32(self.sx - self.cx), 1, bg);
    }

    pub fn clear_start_of_line(&mut self, bg: u32) {
        if self.cx >= self.sx - 1 {
            self.clear_line(bg);
            return;
        }
        self.clear(0, w32(self.cy), w32(self.cx + 1), 1, bg);
    }

    pub fn insert_characters(&mut self, n: usize, bg: u32) {
        if self.cx > self.sx - 1 {
            return;
        }
        let nx = n.max(1).min(self.sx - self.cx);
        self.insert_cells(self.cx, self.cy, nx, bg);
    }

    pub fn delete_characters(&mut self, n: usize, bg: u32) {
        if self.cx > self.sx - 1 {
            return;
        }
        let nx = n.max(1).min(self.sx - self.cx);
        self.delete_cells(self.cx, self.cy, nx, bg);
    }

    pub fn erase_characters(&mut self, n: usize, bg: u32) {
        if self.cx > self.sx - 1 {
            return;
        }
        let nx = n.max(1).min(self.sx - self.cx);
        self.clear(w32(self.cx), w32(self.cy), w32(nx), 1, bg);
    }

    pub fn insert_lines(&mut self, n: usize, bg: u32) {
        let ny = n.max(1);
        let (cy, sy) = (self.cy, self.sy);
        if cy < self.rupper || cy > self.rlower {
            let ny = ny.min(sy - cy);
            if ny == 0 {
                return;
            }
            // grid_view_insert_lines
            self.move_lines(w32(cy + ny), w32(cy), w32(sy - cy - ny), bg);
            return;
        }
        let ny = ny.min(self.rlower + 1 - cy);
        if ny == 0 {
            return;
        }
        // grid_view_insert_lines_region
        let ny2 = self.rlower + 1 - cy - ny;
        self.move_lines(w32(self.rlower + 1 - ny2), w32(cy), w32(ny2), bg);
        self.clear(
            0,
            w32(cy + ny2),
            w32(self.sx),
            w32(ny).wrapping_sub(w32(ny2)),
            bg,
        );
    }

    pub fn delete_lines(&mut self, n: usize, bg: u32) {
        let ny = n.max(1);
        let (cy, sy) = (self.cy, self.sy);
        if cy < self.rupper || cy > self.rlower {
            let ny = ny.min(sy - cy);
            if ny == 0 {
                return;
            }
            self.view_delete_lines(cy, ny, bg);
            return;
        }
        let ny = ny.min(self.rlower + 1 - cy);
        if ny == 0 {
            return;
        }
        // grid_view_delete_lines_region
        let ny2 = self.rlower + 1 - cy - ny;
        self.move_lines(w32(cy), w32(cy + ny), w32(ny2), bg);
        self.clear(
            0,
            w32(cy + ny2),
            w32(self.sx),
            w32(ny).wrapping_sub(w32(ny2)),
            bg,
        );
    }

    /// tmux's `grid_view_delete_lines`.
    pub(super) fn view_delete_lines(&mut self, py: usize, ny: usize, bg: u32) {
        let sy = self.sy;
        self.move_lines(
            w32(py),
            w32(py + ny),
            w32(sy).wrapping_sub(w32(py + ny)),
            bg,
        );
        let (py32, ny32, sy32) = (w32(py), w32(ny), w32(sy));
        self.clear(
            0,
            sy32.wrapping_sub(ny32),
            w32(self.sx),
            py32.wrapping_add(ny32)
                .wrapping_sub(sy32.wrapping_sub(ny32)),
            bg,
        );
    }

    /// DECALN: fill the screen with `E`.
    pub fn alignment_test(&mut self) {
        let e = Cell {
            ch: u32::from(b'E'),
            ..Cell::DEFAULT
        };
        for y in 0..self.sy {
            for x in 0..self.sx {
                self.rows[y].set(x, e, self.sx, &mut self.pens);
            }
        }
        self.set_cursor(Some(0), Some(0));
        self.rupper = 0;
        self.rlower = self.sy - 1;
    }

    /// RIS (tmux's `input_reset_cell` + `screen_write_reset`).
    pub fn full_reset(&mut self) {
        self.cell = Pen::DEFAULT;
        self.set = 0;
        self.g0 = false;
        self.g1 = false;
        self.old.cell = Pen::DEFAULT;
        self.old.set = 0;
        self.old.g0 = false;
        self.old.g1 = false;
        self.old.cx = 0;
        self.old.cy = 0;
        self.pen_changed();
        self.reset_tabs();
        self.scroll_region(0, self.sy - 1);
        self.mode = mode::CURSOR | mode::WRAP;
        self.clear_screen(COLOUR_DEFAULT);
        self.set_cursor(Some(0), Some(0));
    }

    /// DECSC / SCOSC.
    pub fn save_state(&mut self) {
        self.old = SavedState {
            cell: self.cell,
            set: self.set,
            g0: self.g0,
            g1: self.g1,
            cx: self.cx,
            cy: self.cy,
            mode: self.mode,
        };
    }

    /// DECRC / SCORC.
    pub fn restore_state(&mut self) {
        let o = self.old;
        self.cell = o.cell;
        self.set = o.set;
        self.g0 = o.g0;
        self.g1 = o.g1;
        self.pen_changed();
        if o.mode & mode::ORIGIN != 0 {
            self.mode |= mode::ORIGIN;
        } else {
            self.mode &= !mode::ORIGIN;
        }
        self.cursor_move(Some(o.cx), Some(o.cy), false);
    }

    /// DECSCUSR (tmux's `screen_set_cursor_style`; the blinking flag is part of the style).
    pub fn set_cursor_style(&mut self, style: i64) {
        if let Ok(s @ 0..=6) = u8::try_from(style) {
            self.cursor_style = s;
            match s {
                1 | 3 | 5 => self.mode |= mode::CURSOR_BLINKING,
                2 | 4 | 6 => self.mode &= !mode::CURSOR_BLINKING,
                _ => {}
            }
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

    // ---- printing ----

    /// Whether ASCII characters take tmux's fast "collect" path (which always stores the
    /// cell, where the general path skips a default space past the row's end).
    #[inline]
    fn collecting(&self) -> bool {
        let charset = if self.set == 0 { self.g0 } else { self.g1 };
        !charset && self.mode & mode::WRAP != 0 && self.mode & mode::INSERT == 0
    }

    /// Printable ASCII (0x20-0x7e), as tmux's `input_print` for each byte.
    pub fn print_ascii(&mut self, bytes: &[u8]) {
        let Some(&last) = bytes.last() else {
            return;
        };
        if !self.collecting() {
            let charset = if self.set == 0 { self.g0 } else { self.g1 };
            for &b in bytes {
                let mut pen = self.cell;
                if charset {
                    pen.attr |= attr::CHARSET;
                } else {
                    pen.attr &= !attr::CHARSET;
                }
                self.write_cell(char::from(b), 1, pen);
            }
            self.last = Some(last);
            return;
        }
        let pen = self.current_pen();
        let sx = self.sx;
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.cx > sx - 1 {
                self.linefeed(true, COLOUR_DEFAULT);
                self.set_cursor(Some(0), None);
            }
            let n = rest.len().min(sx - self.cx);
            self.write_ascii_run(&rest[..n], pen);
            rest = &rest[n..];
        }
        self.last = Some(last);
    }

    /// tmux's `screen_write_collect_end` for a run that fits on the cursor's row.
    fn write_ascii_run(&mut self, run: &[u8], pen: u16) {
        let (cx, cy, sx) = (self.cx, self.cy, self.sx);
        let pens = &mut self.pens;
        let row = &mut self.rows[cy];
        if cx != 0 {
            // Writing over the right half of a wide character erases its left half.
            let mut xx = cx;
            let mut gc = row.get(xx);
            while xx > 0 {
                gc = row.get(xx);
                if !gc.is_padding() {
                    break;
                }
                row.set(xx, Cell::DEFAULT, sx, pens);
                xx -= 1;
            }
            if gc.width > 1 {
                row.set(xx, Cell::DEFAULT, sx, pens);
            }
        }
        let end = cx + run.len();
        let cell = |b: &u8| Cell {
            ch: u32::from(*b),
            pen,
            flags: 0,
            width: 1,
        };
        let have = row.cells.len();
        if end > have {
            // The row grows as tmux grows it (to a quarter, half or all of the width, with
            // cleared cells), but the cells the run covers are written once, not cleared
            // first.
            let size = Row::grown_size(end, sx);
            let cleared = super::grid::cleared_cell(COLOUR_DEFAULT, pens);
            if cx > have {
                row.cells.resize(cx, cleared);
            }
            let start = row.cells.len();
            for (c, b) in row.cells[cx..].iter_mut().zip(run) {
                *c = cell(b);
            }
            row.cells.extend(run[start - cx..].iter().map(cell));
            row.cells.resize(size, cleared);
        } else {
            for (c, b) in row.cells[cx..end].iter_mut().zip(run) {
                *c = cell(b);
            }
        }
        if end > usize::from(row.used) {
            row.used = clamp_u16(end);
        }
        self.cx = end;
        // And over the left half erases the padding after it.
        let mut xx = end;
        while xx < sx {
            if !row.get(xx).is_padding() {
                break;
            }
            row.set(xx, Cell::DEFAULT, sx, pens);
            xx += 1;
        }
    }

    /// A character from a UTF-8 sequence, `width` columns (0 combines).
    pub fn print_char(&mut self, c: char, width: u8) {
        self.last = None;
        let mut pen = self.cell;
        pen.attr &= !attr::CHARSET;
        self.write_cell(c, width, pen);
    }

    /// tmux's `screen_write_cell`.
    fn write_cell(&mut self, c: char, width: u8, pen: Pen) {
        if c == ZWJ {
            self.zwj = true;
            return;
        }
        if self.zwj {
            self.combine(ZWJ);
        }
        if width == 0 || self.zwj {
            self.zwj = false;
            self.combine(c);
            return;
        }
        let (sx, sy) = (self.sx, self.sy);
        let width = usize::from(width);
        let wrap = self.mode & mode::WRAP != 0;
        if !wrap && width > 1 && (width > sx || (self.cx != sx && self.cx + width > sx)) {
            return;
        }
        let mut skip = true;
        if self.mode & mode::INSERT != 0 {
            self.insert_cells(self.cx, self.cy, width, COLOUR_DEFAULT);
            skip = false;
        }
        if wrap && self.cx + width > sx {
            self.linefeed(true, COLOUR_DEFAULT);
            self.set_cursor(Some(0), None);
        }
        if self.cx + width > sx || self.cy > sy - 1 {
            return;
        }
        let (cx, cy) = (self.cx, self.cy);
        let now = self.rows[cy].get(cx);
        if self.overwrite(now, width) {
            skip = false;
        }
        for xx in cx + 1..cx + width {
            self.rows[cy].set(xx, Cell::PADDING, sx, &mut self.pens);
            skip = false;
        }
        let pen_id = if pen == self.cell && pen.attr & attr::CHARSET == 0 {
            self.current_pen()
        } else {
            self.pen(pen)
        };
        let row = &self.rows[cy];
        if skip {
            // A default space past the row's end is not stored (so it is not "used").
            skip = cx >= row.cells.len()
                && c == ' '
                && width == 1
                && pen.attr == 0
                && pen.fg == COLOUR_DEFAULT
                && pen.bg == COLOUR_DEFAULT;
        }
        if !skip {
            let cell = Cell {
                ch: u32::from(c),
                pen: pen_id,
                flags: 0,
                width: width as u8,
            };
            self.rows[cy].set(cx, cell, sx, &mut self.pens);
        }
        let last = usize::from(!wrap);
        if cx + last + width <= sx {
            self.set_cursor(Some(cx + width), None);
        } else {
            self.set_cursor(Some(sx - last), None);
        }
    }

    /// tmux's `screen_write_combine`: append `c` to the character left of the cursor.
    fn combine(&mut self, c: char) {
        let (cx, cy, sx) = (self.cx, self.cy, self.sx);
        if cx == 0 {
            return;
        }
        let row = &self.rows[cy];
        let mut n = 1;
        while n <= cx {
            if !row.get(cx - n).is_padding() {
                break;
            }
            n += 1;
        }
        if n > cx {
            return;
        }
        let xx = cx - n;
        let cell = row.get(xx);
        let mut buf = [0u8; 4];
        let mut text = row.text(&cell, &mut buf).to_owned();
        if text.len() + c.len_utf8() > CELL_BYTES {
            return;
        }
        text.push(c);
        let row = &mut self.rows[cy];
        let ch = row.add_cluster(&text);
        let combined = Cell {
            ch,
            pen: cell.pen,
            flags: (cell.flags | super::grid::CLUSTER) & !super::grid::CLEARED,
            width: cell.width,
        };
        row.set(xx, combined, sx, &mut self.pens);
    }

    /// tmux's `screen_write_overwrite`: writing over part of a wide character erases it.
    fn overwrite(&mut self, now: Cell, width: usize) -> bool {
        let (cx, cy, sx) = (self.cx, self.cy, self.sx);
        let pens = &mut self.pens;
        let row = &mut self.rows[cy];
        let mut done = false;
        if now.is_padding() {
            let mut xx = cx + 1;
            loop {
                xx -= 1;
                if xx == 0 {
                    break;
                }
                if !row.get(xx).is_padding() {
                    break;
                }
                row.set(xx, Cell::DEFAULT, sx, pens);
            }
            row.set(xx, Cell::DEFAULT, sx, pens);
            done = true;
        }
        if width != 1 || now.width != 1 || now.is_padding() {
            let mut xx = cx + width - 1;
            loop {
                xx += 1;
                if xx >= sx {
                    break;
                }
                if !row.get(xx).is_padding() {
                    break;
                }
                row.set(xx, Cell::DEFAULT, sx, pens);
                done = true;
            }
        }
        done
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

#[cfg(test)]
mod tests {
    use crate::screen::{CaptureOptions, LineRef, Screen};

    fn all(s: &Screen) -> String {
        s.capture(&CaptureOptions {
            start: Some(LineRef::Edge),
            ..Default::default()
        })
    }

    #[test]
    fn the_history_drops_a_tenth_at_the_limit() {
        let mut s = Screen::new(10, 2, 20);
        for i in 0..30 {
            s.process(format!("{i}\r\n").as_bytes());
        }
        // 29 lines left the screen; at 20 the oldest 2 go at once, twice over.
        assert_eq!(s.history_size(), 19);
        assert!(all(&s).starts_with("10\n11\n"));
    }

    #[test]
    fn a_full_clear_pushes_the_screen_into_the_history() {
        let mut s = Screen::new(10, 3, 100);
        s.process(b"one\r\ntwo\x1b[2J\x1b[Hthree");
        assert_eq!(all(&s), "one\ntwo\nthree\n\n\n");
    }

    #[test]
    fn a_scrolling_region_s_top_line_enters_the_history() {
        let mut s = Screen::new(10, 4, 100);
        s.process(b"head\x1b[2;3r\x1b[2;1Ha\r\nb\r\nc");
        assert_eq!(s.history_size(), 1);
        assert_eq!(all(&s), "a\nhead\nb\nc\n\n");
    }

    #[test]
    fn erased_cells_count_as_used_only_when_written() {
        let mut s = Screen::new(10, 2, 0);
        s.process(b"abc   \x1b[1;2H\x1b[K");
        let joined = s.capture(&CaptureOptions {
            join: true,
            ..Default::default()
        });
        // The written spaces after "abc" were erased: tmux still prints up to them.
        assert_eq!(joined, "a     \n\n");
    }
}
