//! Resizing within a layout, as tmux's layout code does it: how much a cell can give up,
//! spreading a change over a node's children, resizing the whole tree to a new window size,
//! one pane against its neighbours (`resize-pane`), fitting children into a resized node,
//! and spreading cells evenly (`select-layout -E`, the even layouts).

use super::{Dir, Kind, Layout, PANE_MINIMUM};

impl Layout {
    /// How much a cell can shrink along `dir` (layout_resize_check).
    pub fn resize_check(&self, i: usize, dir: Dir) -> u32 {
        let c = &self.cells[i];
        match c.kind {
            Kind::Pane(_) => self.along(i, dir).saturating_sub(PANE_MINIMUM),
            Kind::Node(d) if d == dir => {
                c.children.iter().map(|&k| self.resize_check(k, dir)).sum()
            }
            Kind::Node(_) => c
                .children
                .iter()
                .map(|&k| self.resize_check(k, dir))
                .min()
                .unwrap_or(0),
        }
    }

    /// Change a cell's size along `dir` by `change`, spreading it over its children
    /// (layout_resize_adjust). The change must already be within what is available.
    pub fn resize_adjust(&mut self, i: usize, dir: Dir, change: i64) {
        {
            let c = &mut self.cells[i];
            let v = match dir {
                Dir::LeftRight => &mut c.sx,
                Dir::TopBottom => &mut c.sy,
            };
            *v = u32::try_from((i64::from(*v) + change).max(0)).unwrap_or(u32::MAX);
        }
        let Kind::Node(own) = self.cells[i].kind else {
            return;
        };
        let children = self.cells[i].children.clone();
        if own != dir {
            for c in children {
                self.resize_adjust(c, dir, change);
            }
            return;
        }
        let mut change = change;
        while change != 0 {
            let before = change;
            for &c in &children {
                if change == 0 {
                    break;
                }
                if change > 0 {
                    self.resize_adjust(c, dir, 1);
                    change -= 1;
                } else if self.resize_check(c, dir) > 0 {
                    self.resize_adjust(c, dir, -1);
                    change += 1;
                }
            }
            if change == before {
                break; // nothing could shrink (tmux would loop forever here)
            }
        }
    }

    /// Resize the whole layout to `sx` × `sy`, never below what its panes need
    /// (layout_resize).
    pub fn resize(&mut self, sx: u32, sy: u32) {
        for (dir, want) in [(Dir::LeftRight, sx), (Dir::TopBottom, sy)] {
            let cur = self.along(self.root, dir);
            let mut change = i64::from(want) - i64::from(cur);
            let limit = i64::from(self.resize_check(self.root, dir));
            if change < 0 && change < -limit {
                change = -limit;
            }
            if limit == 0 {
                change = if want <= cur {
                    0
                } else {
                    i64::from(want - cur)
                };
            }
            if change != 0 {
                self.resize_adjust(self.root, dir, change);
            }
        }
        self.fix_offsets();
    }

    /// The cell that resizes when `pane` does along `dir`, and its parent: the pane's cell or
    /// the first ancestor whose parent is split along `dir`. None when nothing is split that
    /// way (or the pane is not in the layout).
    fn resizable_ancestor(&self, pane: u32, dir: Dir) -> Option<(usize, usize)> {
        let mut lc = self.find(pane)?;
        let mut parent = self.cells[lc].parent;
        while let Some(p) = parent {
            if self.cells[p].kind == Kind::Node(dir) {
                break;
            }
            lc = p;
            parent = self.cells[p].parent;
        }
        Some((lc, parent?))
    }

    /// Resize `pane` by `change` cells along `dir` against its neighbours
    /// (layout_resize_pane).
    pub fn resize_pane(&mut self, pane: u32, dir: Dir, change: i64, opposite: bool) {
        let Some((mut lc, p)) = self.resizable_ancestor(pane, dir) else {
            return;
        };
        if self.cells[p].children.last() == Some(&lc) {
            let pos = self.position(p, lc);
            lc = self.cells[p].children[pos - 1];
        }
        self.resize_layout(lc, dir, change, opposite);
    }

    /// Resize `pane` to `new_size` along `dir` (layout_resize_pane_to).
    pub fn resize_pane_to(&mut self, pane: u32, dir: Dir, new_size: u32) {
        let Some((lc, p)) = self.resizable_ancestor(pane, dir) else {
            return;
        };
        let size = i64::from(self.along(lc, dir));
        let change = if self.cells[p].children.last() == Some(&lc) {
            size - i64::from(new_size)
        } else {
            i64::from(new_size) - size
        };
        self.resize_pane(pane, dir, change, true);
    }

    pub(super) fn resize_layout(&mut self, lc: usize, dir: Dir, change: i64, opposite: bool) {
        let mut needed = change;
        while needed != 0 {
            let size = if change > 0 {
                let s = self.grow(lc, dir, needed, opposite);
                needed -= s;
                s
            } else {
                let s = self.shrink(lc, dir, needed);
                needed += s;
                s
            };
            if size == 0 {
                break;
            }
        }
        self.fix_offsets();
    }

    pub(super) fn sibling(&self, i: usize, step: isize) -> Option<usize> {
        let p = self.cells[i].parent?;
        let pos = self.position(p, i);
        let at = pos.checked_add_signed(step)?;
        self.cells[p].children.get(at).copied()
    }

    pub(super) fn grow(&mut self, lc: usize, dir: Dir, needed: i64, opposite: bool) -> i64 {
        let mut size = 0;
        let mut remove = self.sibling(lc, 1);
        while let Some(r) = remove {
            size = self.resize_check(r, dir);
            if size > 0 {
                break;
            }
            remove = self.sibling(r, 1);
        }
        if opposite && remove.is_none() {
            remove = self.sibling(lc, -1);
            while let Some(r) = remove {
                size = self.resize_check(r, dir);
                if size > 0 {
                    break;
                }
                remove = self.sibling(r, -1);
            }
        }
        let Some(r) = remove else {
            return 0;
        };
        let size = i64::from(size).min(needed);
        self.resize_adjust(lc, dir, size);
        self.resize_adjust(r, dir, -size);
        size
    }

    pub(super) fn shrink(&mut self, lc: usize, dir: Dir, needed: i64) -> i64 {
        let mut remove = Some(lc);
        let mut size = 0;
        while let Some(r) = remove {
            size = self.resize_check(r, dir);
            if size != 0 {
                break;
            }
            remove = self.sibling(r, -1);
        }
        let Some(r) = remove else {
            return 0;
        };
        let Some(add) = self.sibling(lc, 1) else {
            return 0;
        };
        let size = i64::from(size).min(-needed);
        self.resize_adjust(add, dir, size);
        self.resize_adjust(r, dir, -size);
        size
    }

    /// Can `i` and its children be `size` along `dir` (layout_set_size_check)?
    pub(super) fn set_size_check(&self, i: usize, dir: Dir, size: u32) -> bool {
        let c = &self.cells[i];
        let Kind::Node(own) = c.kind else {
            return size >= PANE_MINIMUM;
        };
        let count = u32::try_from(c.children.len()).unwrap_or(u32::MAX);
        if own != dir {
            return c
                .children
                .iter()
                .filter(|&&k| matches!(self.cells[k].kind, Kind::Node(_)))
                .all(|&k| self.set_size_check(k, dir, size));
        }
        let mut available = size;
        if available < count * 2 - 1 {
            return false;
        }
        let previous = self.along(i, dir);
        for (idx, &k) in c.children.iter().enumerate() {
            let idx = u32::try_from(idx).unwrap_or(u32::MAX);
            let new = self.new_pane_size(previous, k, dir, size, count - idx, available);
            if idx == count - 1 {
                if new > available {
                    return false;
                }
                available -= new;
            } else {
                if new + 1 > available {
                    return false;
                }
                available -= new + 1;
            }
            if !self.set_size_check(k, dir, new) {
                return false;
            }
        }
        true
    }

    /// A child's share of a parent resized from `previous` to `size` (layout_new_pane_size).
    pub(super) fn new_pane_size(
        &self,
        previous: u32,
        i: usize,
        dir: Dir,
        size: u32,
        count_left: u32,
        size_left: u32,
    ) -> u32 {
        if count_left == 1 {
            return size_left;
        }
        let available = self.resize_check(i, dir);
        let own = self.along(i, dir);
        let min = ((PANE_MINIMUM + 1) * (count_left - 1)).max(own - available);
        let new = if previous == 0 {
            0
        } else {
            u32::try_from(u64::from(own) * u64::from(size) / u64::from(previous))
                .unwrap_or(u32::MAX)
        };
        // As in tmux, `size_left - min` wraps when negative, which lifts the cap.
        new.min(size_left.wrapping_sub(min)).max(PANE_MINIMUM)
    }

    /// Fit the children of `i` into its size, proportionally (layout_resize_child_cells).
    pub(super) fn resize_child_cells(&mut self, i: usize) {
        let Kind::Node(dir) = self.cells[i].kind else {
            return;
        };
        let children = self.cells[i].children.clone();
        let count = u32::try_from(children.len()).unwrap_or(u32::MAX);
        let previous: u32 =
            children.iter().map(|&k| self.along(k, dir)).sum::<u32>() + count.saturating_sub(1);
        let (psx, psy, pxoff) = (self.cells[i].sx, self.cells[i].sy, self.cells[i].xoff);
        let mut available = self.along(i, dir);
        for (idx, &k) in children.iter().enumerate() {
            let left = count - u32::try_from(idx).unwrap_or(0);
            match dir {
                Dir::TopBottom => {
                    self.cells[k].sx = psx;
                    self.cells[k].xoff = pxoff;
                    let n = self.new_pane_size(previous, k, dir, psy, left, available);
                    self.cells[k].sy = n;
                    available = available.saturating_sub(n + 1);
                }
                Dir::LeftRight => {
                    let n = self.new_pane_size(previous, k, dir, psx, left, available);
                    self.cells[k].sx = n;
                    available = available.saturating_sub(n + 1);
                    self.cells[k].sy = psy;
                }
            }
            self.resize_child_cells(k);
        }
    }

    /// Spread a node's children evenly (layout_spread_cell); whether anything changed.
    pub fn spread_cell(&mut self, parent: usize) -> bool {
        let Kind::Node(dir) = self.cells[parent].kind else {
            return false;
        };
        let children = self.cells[parent].children.clone();
        let number = u32::try_from(children.len()).unwrap_or(u32::MAX);
        if number <= 1 {
            return false;
        }
        let size = self.along(parent, dir);
        if size < number - 1 {
            return false;
        }
        let mut each = (size - (number - 1)) / number;
        if each == 0 {
            return false;
        }
        let mut changed = false;
        for (n, &c) in children.iter().enumerate() {
            if n + 1 == children.len() {
                each = size - (each + 1) * (number - 1);
            }
            let change = i64::from(each) - i64::from(self.along(c, dir));
            self.resize_adjust(c, dir, change);
            changed |= change != 0;
        }
        changed
    }

    /// Spread the panes around `pane` evenly, from its parent up (`select-layout -E`).
    pub fn spread_out(&mut self, pane: u32) {
        let Some(lc) = self.find(pane) else {
            return;
        };
        let mut parent = self.cells[lc].parent;
        while let Some(p) = parent {
            if self.spread_cell(p) {
                self.fix_offsets();
                break;
            }
            parent = self.cells[p].parent;
        }
    }
}
