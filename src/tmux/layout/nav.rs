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
    let overlaps = |start: u32, end: u32, lo: u32, hi: u32| {
        (start < lo && end > hi) || (start >= lo && start <= hi) || (end >= lo && end <= hi)
    };
    let candidates = panes.iter().filter(|p| p.id != from).filter(|p| {
        let g = p.at;
        match dir {
            Direction::Up => {
                let edge = if me.yoff == 0 { wsy + 1 } else { me.yoff };
                g.yoff + g.sy + 1 == edge
                    && overlaps(
                        g.xoff,
                        (g.xoff + g.sx).wrapping_sub(1),
                        me.xoff,
                        me.xoff + me.sx,
                    )
            }
            Direction::Down => {
                let mut edge = me.yoff + me.sy + 1;
                if edge >= wsy {
                    edge = 0;
                }
                g.yoff == edge
                    && overlaps(
                        g.xoff,
                        (g.xoff + g.sx).wrapping_sub(1),
                        me.xoff,
                        me.xoff + me.sx,
                    )
            }
            Direction::Left => {
                let edge = if me.xoff == 0 { wsx + 1 } else { me.xoff };
                g.xoff + g.sx + 1 == edge
                    && overlaps(
                        g.yoff,
                        (g.yoff + g.sy).wrapping_sub(1),
                        me.yoff,
                        me.yoff + me.sy,
                    )
            }
            Direction::Right => {
                let mut edge = me.xoff + me.sx + 1;
                if edge >= wsx {
                    edge = 0;
                }
                g.xoff == edge
                    && overlaps(
                        g.yoff,
                        (g.yoff + g.sy).wrapping_sub(1),
                        me.yoff,
                        me.yoff + me.sy,
                    )
            }
        }
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
