//! Printing characters: tmux's fast path for ASCII runs and its general path for wide
//! characters, combining marks and overwriting parts of wide characters.

use super::*;

impl Term {
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
            let cleared = crate::screen::grid::cleared_cell(COLOUR_DEFAULT, pens);
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
            flags: (cell.flags | crate::screen::grid::CLUSTER) & !crate::screen::grid::CLEARED,
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
}
