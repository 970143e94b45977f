//! A window's panes: their order (pane indexes), the active and last pane, the layout they
//! sit in and the geometry each pane takes from it, and zoom (one pane fills the window while
//! the layout waits aside).

use super::{Server, Window};
use crate::tmux::layout::nav::Placed;
use crate::tmux::layout::{Geometry, Layout, NoSpace, Split};

impl Window {
    pub fn new(id: u32, first_pane: u32, sx: u32, sy: u32, name: String, now_ms: u64) -> Window {
        Window {
            id,
            name,
            layout: Layout::new(first_pane, sx, sy),
            panes: vec![first_pane],
            active: first_pane,
            last: None,
            saved_layout: None,
            sx,
            sy,
            options: Default::default(),
            last_layout: None,
            old_layout: None,
            created_ms: now_ms,
        }
    }

    pub fn zoomed(&self) -> bool {
        self.saved_layout.is_some()
    }

    /// A pane's position in the window's order.
    pub fn position(&self, pane: u32) -> Option<usize> {
        self.panes.iter().position(|&p| p == pane)
    }

    /// Insert `new` after `other` (or before with `before`; at the end or start with `full`),
    /// as tmux's window_add_pane.
    pub fn insert_pane(&mut self, new: u32, other: u32, before: bool, full: bool) {
        let at = match (before, full) {
            (true, true) => 0,
            (false, true) => self.panes.len(),
            (true, false) => self.position(other).unwrap_or(0),
            (false, false) => self.position(other).map_or(self.panes.len(), |i| i + 1),
        };
        self.panes.insert(at, new);
    }

    /// Split the layout for `new` next to `target`.
    pub fn split(&mut self, target: u32, new: u32, how: Split) -> Result<(), NoSpace> {
        self.layout.split(target, new, how)?;
        self.insert_pane(new, target, how.before, how.full);
        Ok(())
    }

    /// The geometry every pane in the current layout has.
    pub fn layout_geometry(&self) -> Vec<(u32, Geometry)> {
        self.layout.geometry()
    }

    /// Undo zoom (window_unzoom); true if the window was zoomed.
    pub fn unzoom(&mut self) -> bool {
        match self.saved_layout.take() {
            Some(saved) => {
                self.layout = saved;
                true
            }
            None => false,
        }
    }

    /// Zoom `pane` to fill the window (window_zoom); false if already zoomed or alone.
    pub fn zoom(&mut self, pane: u32) -> bool {
        if self.zoomed() || self.panes.len() == 1 {
            return false;
        }
        let full = Layout::new(pane, self.sx, self.sy);
        self.saved_layout = Some(std::mem::replace(&mut self.layout, full));
        true
    }
}

impl Server {
    /// The panes of `window` as the direction search sees them, on the unzoomed layout (as
    /// tmux's push/pop zoom does), with the window's size.
    pub fn placed(&self, window: u32) -> Option<(Vec<Placed>, u32, u32)> {
        let w = self.window(window)?;
        let geometry: std::collections::HashMap<_, _> = w
            .saved_layout
            .as_ref()
            .unwrap_or(&w.layout)
            .geometry()
            .into_iter()
            .collect();
        let list = w
            .panes
            .iter()
            .filter_map(|p| self.pane(*p))
            .map(|p| Placed {
                id: p.id,
                at: geometry.get(&p.id).copied().unwrap_or(p.geom),
                active_point: p.active_point,
            })
            .collect();
        Some((list, w.sx, w.sy))
    }

    /// Copy the layout's geometry into the panes it holds (layout_fix_panes); panes outside
    /// the layout (hidden by zoom) keep theirs.
    pub fn fix_panes(&mut self, window: u32) {
        let Some(w) = self.windows.get(&window) else {
            return;
        };
        for (p, g) in w.layout_geometry() {
            if let Some(pane) = self.panes.get_mut(&p) {
                pane.geom = g;
            }
        }
        self.changed();
    }

    /// Make `pane` its window's active pane (window_set_active_pane): the previous one
    /// becomes the last pane.
    pub fn set_active_pane(&mut self, pane: u32, next_point: &mut u64) {
        let Some(w) = self.panes.get(&pane).map(|p| p.window) else {
            return;
        };
        let Some(win) = self.windows.get_mut(&w) else {
            return;
        };
        if win.active == pane {
            return;
        }
        win.last = Some(win.active);
        win.active = pane;
        *next_point += 1;
        if let Some(p) = self.panes.get_mut(&pane) {
            p.active_point = *next_point;
        }
        self.changed();
    }

    /// Remove a pane from its window (window_remove_pane + layout_close_pane): its cell goes
    /// to a neighbour and a new active pane is chosen. Returns the window id when the window
    /// is now empty (the caller unlinks it).
    pub fn detach_pane(&mut self, pane: u32) -> Option<u32> {
        let w = self.panes.get(&pane)?.window;
        let win = self.windows.get_mut(&w)?;
        if win.zoomed() && win.panes.len() > 1 {
            win.unzoom();
        }
        let pos = win.position(pane)?;
        let mut new_active = None;
        if win.active == pane {
            // tmux: the last pane if any, else the previous one, else the next.
            let candidate = win
                .last
                .filter(|&l| l != pane)
                .or_else(|| pos.checked_sub(1).map(|i| win.panes[i]))
                .or_else(|| win.panes.get(pos + 1).copied());
            new_active = candidate;
            win.last = None;
        } else if win.last == Some(pane) {
            win.last = None;
        }
        win.panes.remove(pos);
        if win.panes.is_empty() {
            return Some(w);
        }
        win.layout.close(pane);
        if let Some(a) = new_active {
            win.active = a;
        }
        self.fix_panes(w);
        if self.marked == Some(pane) {
            self.marked = None;
        }
        None
    }

    /// Resize a window to `sx` × `sy` (resize_window): the layout follows, and the window is
    /// never smaller than its layout needs.
    pub fn resize_window(&mut self, window: u32, sx: u32, sy: u32) {
        let Some(win) = self.windows.get_mut(&window) else {
            return;
        };
        let (sx, sy) = (sx.clamp(1, 10_000), sy.clamp(1, 10_000));
        let zoomed = win.unzoom();
        win.layout.resize(sx, sy);
        let (lx, ly) = win.layout.size();
        win.sx = sx.max(lx);
        win.sy = sy.max(ly);
        if zoomed {
            let active = win.active;
            win.zoom(active);
        }
        self.fix_panes(window);
    }

    /// Apply a rebuilt layout whose root size becomes the window size.
    pub fn apply_layout(&mut self, window: u32, layout: Layout) {
        let Some(win) = self.windows.get_mut(&window) else {
            return;
        };
        let (sx, sy) = layout.size();
        win.layout = layout;
        win.sx = sx;
        win.sy = sy;
        self.fix_panes(window);
    }
}
