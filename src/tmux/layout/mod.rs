//! Window layouts as tmux 3.3a computes them: a tree of cells, each a pane or a row
//! (left-right) or column (top-bottom) of cells, with a 1-cell border between neighbours.
//!
//! The rules restated from tmux's layout code: splitting a cell (the old pane keeps the larger
//! half; `-b` puts the new pane first; the sizes clamp so each side keeps at least one cell;
//! a split in the parent's direction inserts a sibling, any other replaces the cell with a new
//! node), closing a cell (its space and border go to the previous sibling, or the next when it
//! was first; a node left with one child collapses), resizing the window (children grow one
//! cell each in turn along their parent's axis; across it every child changes alike), and
//! resizing one pane against its neighbours ([`resize`]). Named layouts are in [`set`], the
//! layout strings (`window_layout`) in [`custom`], directional neighbours in [`nav`].
//!
//! Pure data: no panes are resized here. Callers read the geometry back with
//! [`Layout::geometry`] and resize the programs whose size changed.

pub mod custom;
pub mod nav;
mod resize;
pub mod set;

/// The smallest a pane can be along either axis (tmux's PANE_MINIMUM).
pub const PANE_MINIMUM: u32 = 1;

/// Which way a node arranges its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Side by side (`{…}` in a layout string, `split-window -h`).
    LeftRight,
    /// Stacked (`[…]`, `split-window -v`).
    TopBottom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pane(u32),
    Node(Dir),
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub kind: Kind,
    pub sx: u32,
    pub sy: u32,
    pub xoff: u32,
    pub yoff: u32,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
}

/// Where a split puts the new pane (split-window and join-pane's `-h`/`-v`, `-l`, `-b`, `-f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub dir: Dir,
    /// The new pane's size along `dir`; `None`: half.
    pub size: Option<u32>,
    /// Before (left of or above) the target rather than after it.
    pub before: bool,
    /// Split the whole window rather than the target pane's cell.
    pub full: bool,
}

/// Where a pane sits in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Geometry {
    pub xoff: u32,
    pub yoff: u32,
    pub sx: u32,
    pub sy: u32,
}

/// A layout tree; cells live in an arena indexed by `usize` (removed cells are detached and
/// reclaimed by [`Layout::compact`]).
#[derive(Debug, Clone)]
pub struct Layout {
    cells: Vec<Cell>,
    pub root: usize,
}

/// `split-window` found no room (`no space for new pane`).
#[derive(Debug, PartialEq, Eq)]
pub struct NoSpace;

impl Layout {
    /// One pane filling `sx` × `sy`.
    pub fn new(pane: u32, sx: u32, sy: u32) -> Layout {
        Layout {
            cells: vec![Cell {
                kind: Kind::Pane(pane),
                sx,
                sy,
                xoff: 0,
                yoff: 0,
                parent: None,
                children: vec![],
            }],
            root: 0,
        }
    }

    pub fn cell(&self, i: usize) -> &Cell {
        &self.cells[i]
    }

    fn cell_mut(&mut self, i: usize) -> &mut Cell {
        &mut self.cells[i]
    }

    /// A new detached cell.
    fn create(&mut self, parent: Option<usize>, kind: Kind) -> usize {
        self.cells.push(Cell {
            kind,
            sx: 0,
            sy: 0,
            xoff: 0,
            yoff: 0,
            parent,
            children: vec![],
        });
        self.cells.len() - 1
    }

    /// The root's size.
    pub fn size(&self) -> (u32, u32) {
        let r = &self.cells[self.root];
        (r.sx, r.sy)
    }

    /// The leaf cell of `pane`.
    pub fn find(&self, pane: u32) -> Option<usize> {
        let mut stack = vec![self.root];
        while let Some(i) = stack.pop() {
            match self.cells[i].kind {
                Kind::Pane(p) if p == pane => return Some(i),
                Kind::Pane(_) => {}
                Kind::Node(_) => stack.extend(self.cells[i].children.iter().rev()),
            }
        }
        None
    }

    /// Every pane, in tree order (top-left to bottom-right).
    pub fn panes(&self) -> Vec<u32> {
        let mut out = vec![];
        self.walk(self.root, &mut |c| {
            if let Kind::Pane(p) = c.kind {
                out.push(p);
            }
        });
        out
    }

    fn walk(&self, i: usize, f: &mut dyn FnMut(&Cell)) {
        f(&self.cells[i]);
        for &c in &self.cells[i].children {
            self.walk(c, f);
        }
    }

    /// Each pane's geometry.
    pub fn geometry(&self) -> Vec<(u32, Geometry)> {
        let mut out = vec![];
        self.walk(self.root, &mut |c| {
            if let Kind::Pane(p) = c.kind {
                out.push((
                    p,
                    Geometry {
                        xoff: c.xoff,
                        yoff: c.yoff,
                        sx: c.sx,
                        sy: c.sy,
                    },
                ));
            }
        });
        out
    }

    /// Give the leaf of `old` to `new` (swap-pane, respawn into a new program).
    pub fn replace_pane(&mut self, old: u32, new: u32) {
        if let Some(i) = self.find(old) {
            self.cells[i].kind = Kind::Pane(new);
        }
    }

    /// Swap two panes' places.
    pub fn swap_panes(&mut self, a: u32, b: u32) {
        let (Some(ia), Some(ib)) = (self.find(a), self.find(b)) else {
            return;
        };
        self.cells[ia].kind = Kind::Pane(b);
        self.cells[ib].kind = Kind::Pane(a);
    }

    /// Fix every cell's offset from the sizes (layout_fix_offsets).
    pub fn fix_offsets(&mut self) {
        let root = self.root;
        self.cells[root].xoff = 0;
        self.cells[root].yoff = 0;
        self.fix_offsets_from(root);
    }

    fn fix_offsets_from(&mut self, i: usize) {
        let Kind::Node(dir) = self.cells[i].kind else {
            return;
        };
        let (mut x, mut y) = (self.cells[i].xoff, self.cells[i].yoff);
        for c in self.cells[i].children.clone() {
            self.cells[c].xoff = x;
            self.cells[c].yoff = y;
            self.fix_offsets_from(c);
            match dir {
                Dir::LeftRight => x += self.cells[c].sx + 1,
                Dir::TopBottom => y += self.cells[c].sy + 1,
            }
        }
    }

    fn along(&self, i: usize, dir: Dir) -> u32 {
        match dir {
            Dir::LeftRight => self.cells[i].sx,
            Dir::TopBottom => self.cells[i].sy,
        }
    }

    /// Split the cell of `target` (or the whole layout with `full`) to make room for `new`.
    /// `size` is the new pane's size along `dir` (`None`: half). tmux's layout_split_pane and
    /// layout_assign_pane.
    pub fn split(&mut self, target: u32, new: u32, how: Split) -> Result<(), NoSpace> {
        let Split {
            dir,
            size,
            before,
            full,
        } = how;
        let lc = if full {
            self.root
        } else {
            self.find(target).ok_or(NoSpace)?
        };
        let Cell {
            sx, sy, xoff, yoff, ..
        } = self.cells[lc].clone();
        let saved = match dir {
            Dir::LeftRight => sx,
            Dir::TopBottom => sy,
        };
        if saved < PANE_MINIMUM * 2 + 1 {
            return Err(NoSpace);
        }
        let mut size2 = match size {
            None => saved.div_ceil(2) - 1,
            // Unsigned arithmetic as in tmux: a size beyond the cell wraps and then clamps.
            Some(s) if before => saved.wrapping_sub(s).wrapping_sub(1),
            Some(s) => s,
        };
        size2 = size2.clamp(PANE_MINIMUM, saved - 2);
        let size1 = saved - 1 - size2;
        let new_size = if before { size2 } else { size1 };
        if full && !self.set_size_check(lc, dir, new_size) {
            return Err(NoSpace);
        }
        let parent = self.cells[lc].parent;
        let mut resize_first = false;
        let lcnew;
        if let Some(p) = parent.filter(|&p| self.cells[p].kind == Kind::Node(dir)) {
            lcnew = self.create(Some(p), Kind::Pane(new));
            let pos = self.position(p, lc);
            let at = if before { pos } else { pos + 1 };
            self.cells[p].children.insert(at, lcnew);
        } else if full && parent.is_none() && self.cells[lc].kind == Kind::Node(dir) {
            match dir {
                Dir::LeftRight => self.cells[lc].sx = new_size,
                Dir::TopBottom => self.cells[lc].sy = new_size,
            }
            self.resize_child_cells(lc);
            match dir {
                Dir::LeftRight => self.cells[lc].sx = saved,
                Dir::TopBottom => self.cells[lc].sy = saved,
            }
            resize_first = true;
            lcnew = self.create(Some(lc), Kind::Pane(new));
            let rest = saved - 1 - new_size;
            let c = self.cell_mut(lcnew);
            match dir {
                Dir::LeftRight => (c.sx, c.sy) = (rest, sy),
                Dir::TopBottom => (c.sx, c.sy) = (sx, rest),
            }
            if before {
                self.cells[lc].children.insert(0, lcnew);
            } else {
                self.cells[lc].children.push(lcnew);
            }
        } else {
            let node = self.create(parent, Kind::Node(dir));
            {
                let n = self.cell_mut(node);
                (n.sx, n.sy, n.xoff, n.yoff) = (sx, sy, xoff, yoff);
            }
            match parent {
                None => self.root = node,
                Some(p) => {
                    let pos = self.position(p, lc);
                    self.cells[p].children[pos] = node;
                }
            }
            self.cells[lc].parent = Some(node);
            lcnew = self.create(Some(node), Kind::Pane(new));
            self.cells[node].children = if before {
                vec![lcnew, lc]
            } else {
                vec![lc, lcnew]
            };
        }
        let (lc1, lc2) = if before { (lcnew, lc) } else { (lc, lcnew) };
        if !resize_first {
            match dir {
                Dir::LeftRight => {
                    self.set(lc1, size1, sy, xoff, yoff);
                    self.set(lc2, size2, sy, xoff + size1 + 1, yoff);
                }
                Dir::TopBottom => {
                    self.set(lc1, sx, size1, xoff, yoff);
                    self.set(lc2, sx, size2, xoff, yoff + size1 + 1);
                }
            }
        }
        if full {
            if !resize_first {
                self.resize_child_cells(lc);
            }
            self.fix_offsets();
        }
        Ok(())
    }

    fn set(&mut self, i: usize, sx: u32, sy: u32, xoff: u32, yoff: u32) {
        let c = self.cell_mut(i);
        (c.sx, c.sy, c.xoff, c.yoff) = (sx, sy, xoff, yoff);
    }

    fn position(&self, parent: usize, child: usize) -> usize {
        self.cells[parent]
            .children
            .iter()
            .position(|&c| c == child)
            .unwrap_or(0)
    }

    /// Remove `pane`'s cell, giving its space to a neighbour (layout_close_pane). Returns
    /// false when it was the last pane.
    pub fn close(&mut self, pane: u32) -> bool {
        match self.find(pane) {
            Some(lc) => self.close_cell(lc),
            None => true,
        }
    }

    /// Remove a cell (layout_destroy_cell); false when it is the root.
    pub(crate) fn close_cell(&mut self, lc: usize) -> bool {
        let Some(parent) = self.cells[lc].parent else {
            return false;
        };
        let pos = self.position(parent, lc);
        let siblings = self.cells[parent].children.clone();
        let other = if pos == 0 {
            siblings.get(1).copied()
        } else {
            siblings.get(pos - 1).copied()
        };
        if let (Some(o), Kind::Node(dir)) = (other, self.cells[parent].kind) {
            let grow = i64::from(self.along(lc, dir)) + 1;
            self.resize_adjust(o, dir, grow);
        }
        self.cells[parent].children.remove(pos);
        self.cells[lc].parent = None;
        if self.cells[parent].children.len() == 1 {
            let only = self.cells[parent].children[0];
            let grand = self.cells[parent].parent;
            self.cells[only].parent = grand;
            match grand {
                None => {
                    self.cells[only].xoff = 0;
                    self.cells[only].yoff = 0;
                    self.root = only;
                }
                Some(g) => {
                    let at = self.position(g, parent);
                    self.cells[g].children[at] = only;
                }
            }
            self.cells[parent].children.clear();
        }
        self.fix_offsets();
        self.compact_if_sparse();
        true
    }

    /// Drop detached cells when they outnumber the live ones.
    fn compact_if_sparse(&mut self) {
        if self.cells.len() > 64 {
            *self = self.compacted();
        }
    }

    /// The same tree in a fresh arena.
    pub fn compacted(&self) -> Layout {
        let mut out = Layout {
            cells: vec![],
            root: 0,
        };
        out.root = self.copy_into(&mut out, self.root, None);
        out
    }

    fn copy_into(&self, out: &mut Layout, i: usize, parent: Option<usize>) -> usize {
        let c = &self.cells[i];
        let at = out.create(parent, c.kind);
        out.set(at, c.sx, c.sy, c.xoff, c.yoff);
        let kids: Vec<usize> = c
            .children
            .iter()
            .map(|&k| self.copy_into(out, k, Some(at)))
            .collect();
        out.cells[at].children = kids;
        at
    }

    /// A layout built by hand (named layouts, parsing): a root node of `dir`.
    pub(crate) fn node(dir: Dir, sx: u32, sy: u32) -> Layout {
        let mut l = Layout {
            cells: vec![],
            root: 0,
        };
        let r = l.create(None, Kind::Node(dir));
        l.set(r, sx, sy, 0, 0);
        l
    }

    /// Append a child cell to `parent`; returns its index.
    pub(crate) fn push_child(&mut self, parent: usize, kind: Kind, sx: u32, sy: u32) -> usize {
        let c = self.create(Some(parent), kind);
        self.set(c, sx, sy, 0, 0);
        self.cells[parent].children.push(c);
        c
    }

    pub(crate) fn set_kind(&mut self, i: usize, kind: Kind) {
        self.cells[i].kind = kind;
    }
}

#[cfg(test)]
mod tests;
