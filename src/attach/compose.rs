//! Drawing a window of several panes on one terminal, as tmux draws it: each pane's rows in
//! its rectangle, one-cell borders between panes (box-drawing characters, the active pane's
//! border in green, half the line when there are two panes), a status line at the bottom, and the cursor where the active pane has
//! it. Pure: the caller gathers what each pane shows and writes the frame to the terminal.

/// One pane as the frame shows it.
#[derive(Debug, Clone, Default)]
pub struct PaneView {
    pub xoff: u16,
    pub yoff: u16,
    pub sx: u16,
    pub sy: u16,
    /// The pane's visible rows with their SGR attributes (missing rows are blank).
    pub rows: Vec<String>,
    pub active: bool,
}

/// The cursor to leave on the terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor {
    pub x: u16,
    pub y: u16,
    pub visible: bool,
}

/// Everything a frame needs.
#[derive(Debug, Clone, Default)]
pub struct FrameSpec<'a> {
    /// The terminal's size.
    pub cols: u16,
    pub rows: u16,
    pub panes: &'a [PaneView],
    /// The status line's text (plain; drawn black on green), or none.
    pub status: Option<&'a str>,
    pub cursor: Cursor,
    /// Input modes of the active pane (bracketed paste, cursor keys), so keys the terminal
    /// sends fit the program that gets them.
    pub modes: &'a str,
}

const ACTIVE_BORDER: &str = "\x1b[32m";

/// The bytes that draw `f` over whatever the terminal shows.
pub fn render(f: &FrameSpec<'_>) -> Vec<u8> {
    let (cols, rows) = (usize::from(f.cols), usize::from(f.rows));
    let area = if f.status.is_some() {
        rows.saturating_sub(1)
    } else {
        rows
    };
    let mut out = String::from("\x1b[?25l\x1b[0m");
    // Which terminal cells belong to a pane; the rest of the window area is border.
    let mut covered = vec![false; cols * area];
    for p in f.panes {
        for y in usize::from(p.yoff)..(usize::from(p.yoff) + usize::from(p.sy)).min(area) {
            for x in usize::from(p.xoff)..(usize::from(p.xoff) + usize::from(p.sx)).min(cols) {
                covered[y * cols + x] = true;
            }
        }
    }
    for p in f.panes {
        let width = usize::from(p.sx).min(cols.saturating_sub(usize::from(p.xoff)));
        if width == 0 {
            continue;
        }
        for r in 0..usize::from(p.sy) {
            let y = usize::from(p.yoff) + r;
            if y >= area {
                break;
            }
            out.push_str(&format!(
                "\x1b[{};{}H\x1b[0m\x1b[{}X",
                y + 1,
                usize::from(p.xoff) + 1,
                width
            ));
            if let Some(row) = p.rows.get(r) {
                out.push_str(row);
                out.push_str("\x1b[0m");
            }
        }
    }
    // Borders: only where panes meet, with the active pane's edges highlighted.
    let is_border = |x: usize, y: usize| -> bool {
        x < cols && y < area && !covered[y * cols + x] && touches_pane(f.panes, x, y)
    };
    for y in 0..area {
        for x in 0..cols {
            if !is_border(x, y) {
                continue;
            }
            let up = y > 0 && is_border(x, y - 1);
            let down = is_border(x, y + 1);
            let left = x > 0 && is_border(x - 1, y);
            let right = is_border(x + 1, y);
            let active = f
                .panes
                .iter()
                .position(|p| p.active)
                .is_some_and(|i| on_border_of(f.panes, i, x, y));
            out.push_str(&format!("\x1b[{};{}H", y + 1, x + 1));
            if active {
                out.push_str(ACTIVE_BORDER);
            }
            out.push(box_char(up, down, left, right));
            out.push_str("\x1b[0m");
        }
    }
    if let Some(status) = f.status {
        let text: String = status.chars().take(cols).collect();
        let pad = cols.saturating_sub(text.chars().count());
        out.push_str(&format!(
            "\x1b[{rows};1H\x1b[0m\x1b[30;42m{text}{}\x1b[0m",
            " ".repeat(pad)
        ));
    }
    out.push_str(f.modes);
    out.push_str(&format!(
        "\x1b[{};{}H",
        usize::from(f.cursor.y) + 1,
        usize::from(f.cursor.x) + 1
    ));
    if f.cursor.visible {
        out.push_str("\x1b[?25h");
    }
    out.into_bytes()
}

/// Whether the border cell (x, y) is pane `i`'s, and so takes its colour when it is active
/// (tmux 3.3a's screen_redraw_pane_border). With exactly two panes, tmux colours half the
/// border for each (`pane-border-indicators colour`): the left or top pane owns the first half
/// of the line between them, the other pane the rest.
fn on_border_of(panes: &[PaneView], i: usize, x: usize, y: usize) -> bool {
    let p = &panes[i];
    let (x0, y0) = (usize::from(p.xoff), usize::from(p.yoff));
    let (sx, sy) = (usize::from(p.sx), usize::from(p.sy));
    let (ex, ey) = (x0 + sx, y0 + sy);
    // The second pane of two decides the split's direction, as in tmux's pane list.
    let two_side_by_side = panes.len() == 2 && panes[1].xoff != 0;
    let two_stacked = panes.len() == 2 && panes[1].yoff != 0;
    let left_right = if two_side_by_side {
        (x0 == 0 && x == sx && y <= sy / 2) || (x0 != 0 && x + 1 == x0 && y > sy / 2)
    } else {
        (y0 == 0 || y + 1 >= y0) && y <= ey && ((x0 != 0 && x + 1 == x0) || x == ex)
    };
    let top_bottom = if two_stacked {
        (y0 == 0 && y == sy && x <= sx / 2) || (y0 != 0 && y + 1 == y0 && x > sx / 2)
    } else {
        (x0 == 0 || x + 1 >= x0) && x <= ex && ((y0 != 0 && y + 1 == y0) || y == ey)
    };
    left_right || top_bottom
}

/// Whether a pane is next to the cell (x, y), diagonals included.
fn adjacent(p: &PaneView, x: usize, y: usize) -> bool {
    let (x0, y0) = (usize::from(p.xoff), usize::from(p.yoff));
    let (x1, y1) = (x0 + usize::from(p.sx), y0 + usize::from(p.sy));
    x + 1 >= x0 && x <= x1 && y + 1 >= y0 && y <= y1
}

fn touches_pane(panes: &[PaneView], x: usize, y: usize) -> bool {
    panes.iter().any(|p| adjacent(p, x, y))
}

/// The box-drawing character joining the borders around a cell.
fn box_char(up: bool, down: bool, left: bool, right: bool) -> char {
    match (up, down, left, right) {
        (true, true, true, true) => '┼',
        (true, true, true, false) => '┤',
        (true, true, false, true) => '├',
        (false, true, true, true) => '┬',
        (true, false, true, true) => '┴',
        (false, true, false, true) => '┌',
        (false, true, true, false) => '┐',
        (true, false, false, true) => '└',
        (true, false, true, false) => '┘',
        (_, _, true, _) | (_, _, _, true) => '─',
        _ => '│',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(xoff: u16, yoff: u16, sx: u16, sy: u16, active: bool) -> PaneView {
        PaneView {
            xoff,
            yoff,
            sx,
            sy,
            rows: vec![],
            active,
        }
    }

    /// The border cells drawn in the active colour, as (x, y).
    fn coloured(panes: &[PaneView], cols: u16, rows: u16) -> Vec<(usize, usize)> {
        let frame = String::from_utf8(render(&FrameSpec {
            cols,
            rows,
            panes,
            ..FrameSpec::default()
        }))
        .expect("utf-8");
        let mut out = vec![];
        for y in 0..usize::from(rows) {
            for x in 0..usize::from(cols) {
                if frame.contains(&format!("\x1b[{};{}H{ACTIVE_BORDER}", y + 1, x + 1)) {
                    out.push((x, y));
                }
            }
        }
        out
    }

    #[test]
    fn two_panes_colour_only_the_active_half_of_the_border_as_tmux() {
        // Side by side, 4 rows: the left pane owns rows 0..=2 (sy / 2 = 2), the right the rest.
        let left = [pane(0, 0, 4, 4, true), pane(5, 0, 4, 4, false)];
        assert_eq!(coloured(&left, 9, 4), vec![(4, 0), (4, 1), (4, 2)]);
        let right = [pane(0, 0, 4, 4, false), pane(5, 0, 4, 4, true)];
        assert_eq!(coloured(&right, 9, 4), vec![(4, 3)]);
        // Stacked, 6 columns: the top pane owns columns 0..=3, the bottom the rest.
        let top = [pane(0, 0, 6, 2, true), pane(0, 3, 6, 2, false)];
        assert_eq!(coloured(&top, 6, 5), vec![(0, 2), (1, 2), (2, 2), (3, 2)]);
        let bottom = [pane(0, 0, 6, 2, false), pane(0, 3, 6, 2, true)];
        assert_eq!(coloured(&bottom, 6, 5), vec![(4, 2), (5, 2)]);
    }

    #[test]
    fn three_panes_colour_the_whole_border_of_the_active_pane() {
        // Left pane full height; right column split in two; the bottom right pane active.
        let panes = [
            pane(0, 0, 4, 5, false),
            pane(5, 0, 4, 2, false),
            pane(5, 3, 4, 2, true),
        ];
        assert_eq!(
            coloured(&panes, 9, 5),
            vec![(4, 2), (5, 2), (6, 2), (7, 2), (8, 2), (4, 3), (4, 4)]
        );
    }

    fn screen_of(bytes: &[u8], cols: u16, rows: u16) -> Vec<String> {
        let mut s = crate::screen::Screen::new(cols, rows, 0);
        s.process(bytes);
        s.rows(None, crate::screen::Format::Text)
    }

    #[test]
    fn two_panes_side_by_side_with_a_border_and_status() {
        let panes = [
            PaneView {
                xoff: 0,
                yoff: 0,
                sx: 4,
                sy: 3,
                rows: vec!["left".into()],
                active: true,
            },
            PaneView {
                xoff: 5,
                yoff: 0,
                sx: 4,
                sy: 3,
                rows: vec!["rght".into(), "2".into()],
                active: false,
            },
        ];
        let frame = render(&FrameSpec {
            cols: 9,
            rows: 4,
            panes: &panes,
            status: Some("[s] 0:sh*"),
            cursor: Cursor {
                x: 1,
                y: 0,
                visible: true,
            },
            modes: "",
        });
        let shown = screen_of(&frame, 9, 4);
        assert_eq!(shown, vec!["left│rght", "    │2", "    │", "[s] 0:sh*"]);
    }
}
