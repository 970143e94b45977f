//! Which pane is above, below, left or right of another (`select-pane -U/-D/-L/-R`,
//! `{up-of}` targets): the panes whose edge touches this pane's opposite edge across the
//! border and overlap it, wrapping around the window's edges; among several, the one that was
//! active most recently (tmux's window_pane_find_*).

use super::Geometry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Left,
    Right,
}

/// One pane as the search sees it.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub id: u32,
    pub at: Geometry,
    /// When it was last made active (higher is more recent).
    pub active_point: u64,
}

/// The neighbour of `from` in `dir` among `panes` (window order), in a `wsx` × `wsy` window.
pub fn neighbour(panes: &[Placed], from: u32, dir: Direction, wsx: u32, wsy: u32) -> Option<u32> {
    let me = panes.iter().find(|p| p.id == from)?.at;
    // The four directions are one search on two axes: "along" is the axis the move follows,
    // "across" the one the neighbour must overlap on.
    let (vertical, backward) = match dir {
        Direction::Up => (true, true),
        Direction::Down => (true, false),
        Direction::Left => (false, true),
        Direction::Right => (false, false),
    };
    let window_len = if vertical { wsy } else { wsx };
    let ((me_off, me_len), (me_cross_off, me_cross_len)) = axes(me, vertical);
    // Where a neighbour's facing side must sit, one border cell away: for Up/Left its end + 1
    // meets my offset, for Down/Right its offset is my end + 1. Past the window's edge it
    // wraps round to the other side.
    let edge = if backward {
        if me_off == 0 { window_len + 1 } else { me_off }
    } else {
        let edge = me_off + me_len + 1;
        if edge >= window_len { 0 } else { edge }
    };
    let candidates = panes.iter().filter(|p| p.id != from).filter(|p| {
        let ((off, len), (cross_off, cross_len)) = axes(p.at, vertical);
        let touches = if backward {
            off + len + 1 == edge
        } else {
            off == edge
        };
        touches
            && overlaps(
                cross_off,
                (cross_off + cross_len).wrapping_sub(1),
                me_cross_off,
                me_cross_off + me_cross_len,
            )
    });
    // The first one wins ties, as in tmux (strictly greater replaces).
    let mut best: Option<&Placed> = None;
    for c in candidates {
        if best.is_none_or(|b| c.active_point > b.active_point) {
            best = Some(c);
        }
    }
    best.map(|b| b.id)
}

/// A pane's (offset, size) along the axis a move follows (rows when `vertical`), and across it.
fn axes(g: Geometry, vertical: bool) -> ((u32, u32), (u32, u32)) {
    if vertical {
        ((g.yoff, g.sy), (g.xoff, g.sx))
    } else {
        ((g.xoff, g.sx), (g.yoff, g.sy))
    }
}

/// Whether the span `start..=end` overlaps `lo..=hi` (tmux's window_pane_find_* test).
fn overlaps(start: u32, end: u32, lo: u32, hi: u32) -> bool {
    (start < lo && end > hi) || (start >= lo && start <= hi) || (end >= lo && end <= hi)
}
