//! What control functions do to lines and cells: tmux's grid-view operations (clearing,
//! moving and scrolling lines, with the history rules) and the screen-write operations built
//! on them (line feed, scrolling regions, erasing, inserting and deleting).

use super::*;

impl Term {
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

    pub(super) fn insert_cells(&mut self, px: usize, py: usize, nx: usize, bg: u32) {
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

    /// The lines insert-line or delete-line (`n`, at least one) act on from the cursor down,
    /// no further than the bottom of the scroll region, or of the screen when the cursor is
    /// outside the region; and whether it is inside. None when there are none.
    fn lines_from_cursor(&self, n: usize) -> Option<(usize, bool)> {
        let in_region = (self.rupper..=self.rlower).contains(&self.cy);
        let bottom = if in_region { self.rlower + 1 } else { self.sy };
        let ny = n.max(1).min(bottom - self.cy);
        (ny > 0).then_some((ny, in_region))
    }

    pub fn insert_lines(&mut self, n: usize, bg: u32) {
        let Some((ny, in_region)) = self.lines_from_cursor(n) else {
            return;
        };
        let (cy, sy) = (self.cy, self.sy);
        if !in_region {
            // grid_view_insert_lines
            self.move_lines(w32(cy + ny), w32(cy), w32(sy - cy - ny), bg);
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
        let Some((ny, in_region)) = self.lines_from_cursor(n) else {
            return;
        };
        let cy = self.cy;
        if !in_region {
            self.view_delete_lines(cy, ny, bg);
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
    pub(in crate::screen) fn view_delete_lines(&mut self, py: usize, ny: usize, bg: u32) {
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

    /// A fresh pen, character sets and saved cursor (tmux's `input_reset_cell`).
    pub fn reset_cell(&mut self) {
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
    }

    /// RIS (tmux's `input_reset_cell` + `screen_write_reset`).
    pub fn full_reset(&mut self) {
        self.reset_cell();
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
}
