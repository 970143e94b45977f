//! The pane part of a target (tmux's cmd_find_get_pane_with_window): `%id`, `!`, the
//! `{up-of}` family, `+N`/`-N` offsets, indexes (after `pane-base-index`) and the positions
//! `top`, `bottom-right` … of window_find_string; and the `{…}` aliases of window and pane
//! names (cmd_find_map_table).

use super::super::layout::nav::{Direction, neighbour};
use super::super::tree::Server;
use super::{Found, parse_id};

/// tmux's `{…}` aliases: windows map to the special characters, panes to the special
/// characters or to positions.
pub fn map_table(name: &str, pane: bool) -> &str {
    let window_table: &[(&str, &'static str)] = &[
        ("{start}", "^"),
        ("{last}", "!"),
        ("{end}", "$"),
        ("{next}", "+"),
        ("{previous}", "-"),
    ];
    let pane_table: &[(&str, &'static str)] = &[
        ("{last}", "!"),
        ("{next}", "+"),
        ("{previous}", "-"),
        ("{top}", "top"),
        ("{bottom}", "bottom"),
        ("{left}", "left"),
        ("{right}", "right"),
        ("{top-left}", "top-left"),
        ("{top-right}", "top-right"),
        ("{bottom-left}", "bottom-left"),
        ("{bottom-right}", "bottom-right"),
    ];
    let table = if pane { pane_table } else { window_table };
    table
        .iter()
        .find(|(from, _)| *from == name)
        .map_or(name, |(_, to)| to)
}

/// Find `pane` in the window of `f` and store it there; false when there is none.
pub fn pane_in_window(server: &Server, f: &mut Found, pane: &str) -> bool {
    let Some(w) = f.window.and_then(|w| server.window(w)) else {
        return false;
    };
    if pane.starts_with('%') {
        return match parse_id(pane, '%').and_then(|id| server.pane(id)) {
            Some(p) if p.window == w.id => {
                f.pane = Some(p.id);
                true
            }
            _ => false,
        };
    }
    let direction = match pane {
        "!" => {
            f.pane = w.last;
            return f.pane.is_some();
        }
        "{up-of}" => Some(Direction::Up),
        "{down-of}" => Some(Direction::Down),
        "{left-of}" => Some(Direction::Left),
        "{right-of}" => Some(Direction::Right),
        _ => None,
    };
    if let Some(dir) = direction {
        f.pane = server
            .placed(w.id)
            .and_then(|(list, sx, sy)| neighbour(&list, w.active, dir, sx, sy));
        return f.pane.is_some();
    }
    let len = w.panes.len();
    if let Some(sign) = pane.chars().next().filter(|c| *c == '+' || *c == '-')
        && len > 0
        && let Some(pos) = w.position(w.active)
    {
        let rest = &pane[1..];
        // tmux reads an unreadable count as 0 steps: the active pane.
        let n = if rest.is_empty() {
            1
        } else {
            rest.parse::<usize>().unwrap_or(0)
        } % len;
        let at = if sign == '+' {
            (pos + n) % len
        } else {
            (pos + len - n) % len
        };
        f.pane = Some(w.panes[at]);
        return true;
    }
    if let Ok(idx) = pane.parse::<usize>() {
        let base: usize = server
            .window_option(w.id, "pane-base-index")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if let Some(&p) = idx.checked_sub(base).and_then(|i| w.panes.get(i)) {
            f.pane = Some(p);
            return true;
        }
    }
    f.pane = at_position(server, w.id, pane);
    f.pane.is_some()
}

/// window_find_string: the visible pane at a named position of the window (`top`,
/// `bottom-left` …, case-insensitive); the middle of the window on the other axis.
fn at_position(server: &Server, window: u32, name: &str) -> Option<u32> {
    let w = server.window(window)?;
    let (right, bottom) = (w.sx.saturating_sub(1), w.sy.saturating_sub(1));
    let (mid_x, mid_y) = (w.sx / 2, w.sy / 2);
    let (x, y) = match name.to_ascii_lowercase().as_str() {
        "top" => (mid_x, 0),
        "bottom" => (mid_x, bottom),
        "left" => (0, mid_y),
        "right" => (right, mid_y),
        "top-left" => (0, 0),
        "top-right" => (right, 0),
        "bottom-left" => (0, bottom),
        "bottom-right" => (right, bottom),
        _ => return None,
    };
    // window_get_active_at: the first visible pane whose area, right and bottom borders
    // included, holds the point. A zoomed window shows only its active pane.
    let geometry = w.layout_geometry();
    w.panes.iter().copied().find(|&id| {
        if w.zoomed() && id != w.active {
            return false;
        }
        geometry
            .iter()
            .find(|(p, _)| *p == id)
            .is_some_and(|(_, g)| {
                x >= g.xoff && x <= g.xoff + g.sx && y >= g.yoff && y <= g.yoff + g.sy
            })
    })
}
