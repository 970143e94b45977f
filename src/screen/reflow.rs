//! Resizing, as tmux does it (screen.c `screen_resize_cursor`, grid.c `grid_reflow`): a
//! shorter screen first drops empty rows below the cursor, then pushes rows into the
//! history; a taller one pulls back lines that scrolled into the history (not those a clear
//! pushed there), then adds blank rows; a new width rewraps every line, history and screen
//! together, as one list of logical lines, and puts the cursor back on the same character.

use super::grid::{CLEARED, COLOUR_DEFAULT, Cell, PenTable, Row, WRAPPED};
use super::history::{Entry, Line};
use super::term::Term;

/// One line during a reflow: history lines stay compact unless the reflow edits them.
#[derive(Default)]
struct Item {
    compact: Option<Line>,
    /// The cells, once decoded (or for a visible row); unused while `compact` is set.
    row: Row,
    /// Consumed by a join or split.
    dead: bool,
}

impl Item {
    fn entry(e: Entry) -> Item {
        match e {
            Entry::Compact(l) => Item {
                compact: Some(l),
                ..Item::default()
            },
            Entry::Raw(r) => Item::row(*r),
        }
    }

    fn row(r: Row) -> Item {
        Item {
            row: r,
            ..Item::default()
        }
    }

    fn dead() -> Item {
        Item {
            dead: true,
            ..Item::default()
        }
    }

    fn used(&self) -> usize {
        match &self.compact {
            Some(l) => l.used(),
            None => usize::from(self.row.used),
        }
    }

    fn wrapped(&self) -> bool {
        match &self.compact {
            Some(l) => l.wrapped(),
            None => self.row.wrapped(),
        }
    }

    /// The line as cells (decoding a compact one).
    fn cells(&mut self, pens: &mut PenTable) -> &mut Row {
        if let Some(l) = self.compact.take() {
            self.row = l.decode(pens);
        }
        &mut self.row
    }

    /// Column widths of the used cells (padding counts 0), without decoding.
    fn widths(&self, out: &mut Vec<u8>) {
        out.clear();
        match &self.compact {
            Some(l) => l.for_each_cell(|c| out.push(c.width)),
            None => out.extend(
                self.row.cells[..usize::from(self.row.used).min(self.row.cells.len())]
                    .iter()
                    .map(|c| c.width),
            ),
        }
    }
}

impl Term {
    /// tmux's `screen_resize_cursor(s, sx, sy, reflow, eat_empty = 1, cursor = 1)`.
    pub fn resize(&mut self, sx: usize, sy: usize, reflow: bool) {
        let mut cx = self.cx;
        let mut cy = self.hist.len() + self.cy;
        let mut reflow = reflow;
        if sx != self.sx {
            self.sx = sx;
            self.reset_tabs();
        } else {
            reflow = false;
        }
        if sy != self.sy {
            self.resize_y(sy, &mut cy);
        }
        if reflow {
            self.reflow(&mut cx, &mut cy);
        }
        let hsize = self.hist.len();
        if cy >= hsize {
            self.cx = cx;
            self.cy = cy - hsize;
        } else {
            self.cx = 0;
            self.cy = 0;
        }
    }

    /// tmux's `screen_resize_y` (with `eat_empty`). `cy` is the absolute cursor row.
    fn resize_y(&mut self, sy: usize, cy: &mut usize) {
        let oldy = self.sy;
        if sy < oldy {
            let mut needed = oldy - sy;
            // Empty rows below the cursor go first.
            let available = oldy - 1 - self.cy.min(oldy - 1);
            if available > 0 {
                let available = available.min(needed);
                self.view_delete_lines(oldy - available, available, COLOUR_DEFAULT);
                needed -= available;
            }
            if self.history_on {
                // Then the top rows become history lines.
                for _ in 0..needed {
                    let Some(row) = self.rows.pop_front() else {
                        break;
                    };
                    self.hist.push_row(row);
                }
                self.hscrolled += needed;
            } else if needed > 0 && self.cy > 0 {
                let available = self.cy.min(needed);
                self.view_delete_lines(0, available, COLOUR_DEFAULT);
                *cy -= available;
            }
            self.rows.truncate(sy);
        }
        if sy > oldy {
            let mut needed = sy - oldy;
            if self.history_on && self.hscrolled > 0 {
                // Lines that scrolled off come back first.
                let available = self.hscrolled.min(needed);
                self.hscrolled -= available;
                for _ in 0..available {
                    match self.hist.pop_newest() {
                        Some(Entry::Compact(line)) => {
                            self.rows.push_front(Box::new(line.decode(&mut self.pens)));
                        }
                        Some(Entry::Raw(row)) => self.rows.push_front(row),
                        None => {}
                    }
                }
                needed -= available;
            }
            for _ in 0..needed {
                self.rows.push_back(Box::default());
            }
        }
        self.rows.resize_with(sy, Box::default);
        self.sy = sy;
        self.rupper = 0;
        self.rlower = sy - 1;
    }

    /// tmux's `screen_reflow` + `grid_reflow` to the new width `self.sx`.
    fn reflow(&mut self, cx: &mut usize, cy: &mut usize) {
        let sx = self.sx;
        let mut items: Vec<Item> = self
            .hist
            .take_all()
            .into_iter()
            .map(Item::entry)
            .chain(
                std::mem::take(&mut self.rows)
                    .into_iter()
                    .map(|r| Item::row(*r)),
            )
            .collect();
        let (wx, wy) = wrap_position(&items, *cx, *cy);
        let mut target: Vec<Item> = Vec::with_capacity(items.len());
        let mut hscrolled = self.hscrolled;
        let pens = &mut self.pens;
        let total = items.len();
        let mut widths = Vec::new();
        for yy in 0..total {
            if items[yy].dead {
                continue;
            }
            items[yy].widths(&mut widths);
            let mut at = 0usize;
            let mut width = 0usize;
            for (i, &w) in widths.iter().enumerate() {
                if at == 0 && width + usize::from(w) > sx {
                    at = i;
                }
                width += usize::from(w);
            }
            if width == sx {
                target.push(std::mem::replace(&mut items[yy], Item::dead()));
                continue;
            }
            if width > sx {
                split(&mut target, &mut items, pens, sx, yy, at, &mut hscrolled);
                continue;
            }
            if items[yy].wrapped() {
                join(
                    &mut target,
                    &mut items,
                    pens,
                    sx,
                    yy,
                    width,
                    false,
                    &mut hscrolled,
                );
            } else {
                target.push(std::mem::replace(&mut items[yy], Item::dead()));
            }
        }
        while target.len() < self.sy {
            target.push(Item::row(Row::default()));
        }
        let hsize = target.len() - self.sy;
        hscrolled = hscrolled.min(hsize);
        let (x, y) = unwrap_position(&target, wx, wy);
        *cx = x;
        *cy = y;
        self.hscrolled = hscrolled;
        let mut rows = std::collections::VecDeque::with_capacity(self.sy);
        for (i, item) in target.into_iter().enumerate() {
            if i < hsize {
                match item.compact {
                    Some(l) => self.hist.push(l),
                    None => self.hist.push_row(Box::new(item.row)),
                }
            } else {
                rows.push_back(Box::new(match item.compact {
                    Some(l) => l.decode(&mut self.pens),
                    None => item.row,
                }));
            }
        }
        self.rows = rows;
    }
}

/// A cell copied by the reflow: tmux's `grid_set_cell` stores it without the cleared flag.
fn copy_cell(target: &mut Row, x: usize, cell: Cell, from: &Row, sx: usize, pens: &mut PenTable) {
    let c = Cell {
        flags: cell.flags & !CLEARED,
        ..cell
    };
    target.set_from(x, c, from, sx, pens);
}

/// tmux's `grid_reflow_join`: pull cells of the following wrapped lines onto line `yy`.
#[allow(clippy::too_many_arguments)] // reason: the reflow's shared state, as in tmux
fn join(
    target: &mut Vec<Item>,
    items: &mut [Item],
    pens: &mut PenTable,
    sx: usize,
    yy: usize,
    mut width: usize,
    already: bool,
    hscrolled: &mut usize,
) {
    let to;
    if !already {
        to = target.len();
        let moved = std::mem::replace(&mut items[yy], Item::dead());
        target.push(moved);
    } else {
        to = target.len() - 1;
    }
    let mut gl = std::mem::replace(&mut target[to], Item::dead());
    let glr = gl.cells(pens);
    let mut at = usize::from(glr.used);
    let total = items.len();
    let mut lines = 0usize;
    let mut wrapped = true;
    let mut from: Option<usize> = None;
    let mut want = 0usize;
    loop {
        if yy + 1 + lines == total {
            break;
        }
        let line = yy + 1 + lines;
        if !items[line].wrapped() {
            wrapped = false;
        }
        if items[line].used() == 0 {
            if !wrapped {
                break;
            }
            lines += 1;
            continue;
        }
        let src = items[line].cells(pens);
        let first = src.get(0);
        if width + usize::from(first.width) > sx {
            break;
        }
        width += usize::from(first.width);
        copy_cell(glr, at, first, src, sx, pens);
        at += 1;
        from = Some(line);
        want = 1;
        let used = usize::from(src.used);
        while want < used {
            let c = src.get(want);
            if width + usize::from(c.width) > sx {
                break;
            }
            width += usize::from(c.width);
            copy_cell(glr, at, c, src, sx, pens);
            at += 1;
            want += 1;
        }
        lines += 1;
        if !wrapped || want != used || width == sx {
            break;
        }
    }
    if lines == 0 {
        target[to] = gl;
        return;
    }
    let left = from.map_or(0, |f| items[f].used().saturating_sub(want));
    if left != 0 {
        let line = yy + lines;
        let src = items[line].cells(pens);
        src.move_cells(0, want, left, sx, super::grid::COLOUR_DEFAULT, pens);
        src.cells.truncate(left);
        src.used = super::grid::clamp_u16(left);
        lines -= 1;
    } else if !wrapped {
        glr.set_wrapped(false);
    }
    for item in items.iter_mut().skip(yy + 1).take(lines) {
        *item = Item::dead();
    }
    target[to] = gl;
    if *hscrolled > to + lines {
        *hscrolled -= lines;
    } else if *hscrolled > to {
        *hscrolled = to;
    }
}

/// tmux's `grid_reflow_split`: line `yy` is wider than `sx`; cut it at cell `at`.
fn split(
    target: &mut Vec<Item>,
    items: &mut [Item],
    pens: &mut PenTable,
    sx: usize,
    yy: usize,
    at: usize,
    hscrolled: &mut usize,
) {
    let mut gl = std::mem::replace(&mut items[yy], Item::dead());
    let src = gl.cells(pens);
    let used = usize::from(src.used);
    let flags = src.flags;
    let mut lines = 2usize;
    let mut width = 0usize;
    for i in at..used {
        let w = usize::from(src.get(i).width);
        if width + w > sx {
            lines += 1;
            width = 0;
        }
        width += w;
    }
    let first = target.len();
    let mut line = first + 1;
    for _ in 0..lines {
        target.push(Item::row(Row::default()));
    }
    width = 0;
    let mut xx = 0usize;
    for i in at..used {
        let c = src.get(i);
        let w = usize::from(c.width);
        if width + w > sx {
            target[line].row.flags |= WRAPPED;
            line += 1;
            width = 0;
            xx = 0;
        }
        width += w;
        copy_cell(&mut target[line].row, xx, c, src, sx, pens);
        xx += 1;
    }
    if flags & WRAPPED != 0 {
        target[line].row.flags |= WRAPPED;
    }
    src.cells.truncate(at);
    src.used = super::grid::clamp_u16(at);
    src.flags |= WRAPPED;
    target[first] = gl;
    if yy <= *hscrolled {
        *hscrolled += lines - 1;
    }
    if width < sx && flags & WRAPPED != 0 {
        join(target, items, pens, sx, yy, width, true, hscrolled);
    }
}

/// tmux's `grid_wrap_position`: the cursor as (offset in its logical line, logical line).
fn wrap_position(items: &[Item], px: usize, py: usize) -> (usize, usize) {
    let mut ax = 0usize;
    let mut ay = 0usize;
    for item in items.iter().take(py) {
        if item.wrapped() {
            ax += item.used();
        } else {
            ax = 0;
            ay += 1;
        }
    }
    let used = items.get(py).map_or(0, Item::used);
    if px >= used {
        (usize::MAX, ay)
    } else {
        (ax + px, ay)
    }
}

/// tmux's `grid_unwrap_position`: back to (column, absolute row) after the reflow.
fn unwrap_position(items: &[Item], wx: usize, wy: usize) -> (usize, usize) {
    let total = items.len();
    let mut ay = 0usize;
    let mut yy = 0usize;
    while yy < total.saturating_sub(1) {
        if ay == wy {
            break;
        }
        if !items[yy].wrapped() {
            ay += 1;
        }
        yy += 1;
    }
    let mut wx = wx;
    if wx == usize::MAX {
        while yy + 1 < total && items[yy].wrapped() {
            yy += 1;
        }
        wx = items.get(yy).map_or(0, Item::used);
    } else {
        while yy + 1 < total && items[yy].wrapped() {
            let used = items[yy].used();
            if wx < used {
                break;
            }
            wx -= used;
            yy += 1;
        }
    }
    (wx, yy)
}
