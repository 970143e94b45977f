//! The five named layouts (`select-layout even-horizontal|even-vertical|main-horizontal|
//! main-vertical|tiled`), as tmux 3.3a builds them from the window's panes in window order.
//! Each returns the new tree; its root size is the window's new size (a layout may need more
//! room than the window has, and the window then grows, as in tmux).

use super::{Dir, Kind, Layout, PANE_MINIMUM};

/// The layouts in tmux's order (next-layout and previous-layout cycle through it).
pub const NAMES: [&str; 5] = [
    "even-horizontal",
    "even-vertical",
    "main-horizontal",
    "main-vertical",
    "tiled",
];

/// A layout name or a unique prefix of one (layout_set_lookup).
pub fn lookup(name: &str) -> Option<usize> {
    let mut found = None;
    for (i, n) in NAMES.iter().enumerate() {
        if n.starts_with(name) {
            if found.is_some() {
                return None;
            }
            found = Some(i);
        }
    }
    found
}

/// What the main-* layouts read from the window's options.
#[derive(Debug, Clone, Default)]
pub struct MainSizes {
    pub main_height: String,
    pub main_width: String,
    pub other_height: String,
    pub other_width: String,
}

/// Build layout `which` (an index into [`NAMES`]) for `panes` in a `sx` × `sy` window; `None`
/// with fewer than two panes (tmux leaves the layout alone then).
pub fn build(which: usize, panes: &[u32], sx: u32, sy: u32, sizes: &MainSizes) -> Option<Layout> {
    if panes.len() <= 1 {
        return None;
    }
    let mut l = match which {
        0 => even(panes, Dir::LeftRight, sx, sy),
        1 => even(panes, Dir::TopBottom, sx, sy),
        2 => main(
            panes,
            Dir::TopBottom,
            sx,
            sy,
            &sizes.main_height,
            &sizes.other_height,
            24,
        ),
        3 => main(
            panes,
            Dir::LeftRight,
            sx,
            sy,
            &sizes.main_width,
            &sizes.other_width,
            80,
        ),
        _ => tiled(panes, sx, sy),
    };
    l.fix_offsets();
    Some(l)
}

fn count(panes: &[u32]) -> u32 {
    u32::try_from(panes.len()).unwrap_or(u32::MAX)
}

fn even(panes: &[u32], dir: Dir, wsx: u32, wsy: u32) -> Layout {
    let n = count(panes);
    let need = n * (PANE_MINIMUM + 1) - 1;
    let (sx, sy) = match dir {
        Dir::LeftRight => (need.max(wsx), wsy),
        Dir::TopBottom => (wsx, need.max(wsy)),
    };
    let mut l = Layout::node(dir, sx, sy);
    let root = l.root;
    for &p in panes {
        l.push_child(root, Kind::Pane(p), wsx, wsy);
    }
    l.spread_cell(root);
    l
}

/// `N` or `N%` of `of`, within 0..=of (args_string_percentage); `None` when invalid.
fn size_option(s: &str, of: u32) -> Option<u32> {
    let v = match s.strip_suffix('%') {
        Some(pct) => {
            let pct: u64 = pct.parse().ok()?;
            if pct > 100 {
                return None;
            }
            u32::try_from(u64::from(of) * pct / 100).ok()?
        }
        None => s.parse().ok()?,
    };
    (v <= of).then_some(v)
}

/// main-horizontal (`dir` TopBottom: the main pane on top) or main-vertical (LeftRight: the
/// main pane on the left).
fn main(
    panes: &[u32],
    dir: Dir,
    wsx: u32,
    wsy: u32,
    main_opt: &str,
    other_opt: &str,
    fallback: u32,
) -> Layout {
    let n = count(panes) - 1;
    // Along the main axis, one line goes to the border.
    let avail = match dir {
        Dir::TopBottom => wsy,
        Dir::LeftRight => wsx,
    }
    .saturating_sub(1);
    let mut mainv = size_option(main_opt, avail).unwrap_or(fallback);
    let otherv;
    if mainv + PANE_MINIMUM >= avail {
        mainv = if avail <= PANE_MINIMUM * 2 {
            PANE_MINIMUM
        } else {
            avail - PANE_MINIMUM
        };
        otherv = PANE_MINIMUM;
    } else {
        match size_option(other_opt, avail) {
            None | Some(0) => otherv = avail - mainv,
            Some(o) if o > avail || avail - o < mainv => otherv = avail - mainv,
            Some(o) => {
                otherv = o;
                mainv = avail - o;
            }
        }
    }
    // Across the main axis: room for every other pane.
    let across_need = n * (PANE_MINIMUM + 1) - 1;
    let (root_sx, root_sy, main_sx, main_sy, other_sx, other_sy) = match dir {
        Dir::TopBottom => {
            let sx = across_need.max(wsx);
            (sx, mainv + otherv + 1, sx, mainv, sx, otherv)
        }
        Dir::LeftRight => {
            let sy = across_need.max(wsy);
            (mainv + otherv + 1, sy, mainv, sy, otherv, sy)
        }
    };
    let mut l = Layout::node(dir, root_sx, root_sy);
    let root = l.root;
    l.push_child(root, Kind::Pane(panes[0]), main_sx, main_sy);
    if n == 1 {
        l.push_child(root, Kind::Pane(panes[1]), other_sx, other_sy);
    } else {
        let across = match dir {
            Dir::TopBottom => Dir::LeftRight,
            Dir::LeftRight => Dir::TopBottom,
        };
        let other = l.push_child(root, Kind::Node(across), other_sx, other_sy);
        for &p in &panes[1..] {
            match across {
                Dir::LeftRight => l.push_child(other, Kind::Pane(p), PANE_MINIMUM, otherv),
                Dir::TopBottom => l.push_child(other, Kind::Pane(p), otherv, PANE_MINIMUM),
            };
        }
        l.spread_cell(other);
    }
    l
}

fn tiled(panes: &[u32], wsx: u32, wsy: u32) -> Layout {
    let n = count(panes);
    let (mut rows, mut columns) = (1u32, 1u32);
    while rows * columns < n {
        rows += 1;
        if rows * columns < n {
            columns += 1;
        }
    }
    let width = (wsx.saturating_sub(columns - 1) / columns).max(PANE_MINIMUM);
    let height = (wsy.saturating_sub(rows - 1) / rows).max(PANE_MINIMUM);
    let sx = ((width + 1) * columns - 1).max(wsx);
    let sy = ((height + 1) * rows - 1).max(wsy);
    let mut l = Layout::node(Dir::TopBottom, sx, sy);
    let root = l.root;
    let mut next = panes.iter().copied().peekable();
    for j in 0..rows {
        let Some(&first) = next.peek() else {
            break;
        };
        let row = l.push_child(root, Kind::Pane(first), wsx, height);
        if n - j * columns == 1 || columns == 1 {
            next.next();
            continue;
        }
        l.set_kind(row, Kind::Node(Dir::LeftRight));
        let mut i = 0;
        while i < columns {
            let Some(p) = next.next() else {
                break;
            };
            l.push_child(row, Kind::Pane(p), width, height);
            if next.peek().is_none() {
                break;
            }
            i += 1;
        }
        if i == columns {
            i -= 1;
        }
        let used = (i + 1) * (width + 1) - 1;
        if wsx > used
            && let Some(&last) = l.cell(row).children.last()
        {
            l.resize_adjust(last, Dir::LeftRight, i64::from(wsx - used));
        }
    }
    let used = rows * height + rows - 1;
    if wsy > used
        && let Some(&last) = l.cell(root).children.last()
    {
        l.resize_adjust(last, Dir::TopBottom, i64::from(wsy - used));
    }
    l
}
