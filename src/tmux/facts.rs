//! What a pane's screen model and its processes say, for format variables: cursor, modes
//! and history (read from the screen model, which is asynchronous, once per command before a
//! format is expanded), and the terminal (from /proc, as tmux reads it; the foreground
//! program is `pty::foreground`'s).

use std::collections::HashMap;

use super::tree::Server;
use crate::screen::{Format, MouseMode};

/// What a pane's screen says, read once per command.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub cursor_x: u16,
    pub cursor_y: u16,
    pub cursor_visible: bool,
    pub cursor_char: String,
    pub alternate: bool,
    pub keypad: bool,
    pub keypad_cursor: bool,
    pub mouse: u8,
    pub mouse_sgr: bool,
    pub history: usize,
    pub rows: u16,
    pub title: String,
    /// Cells written per line (for `history_bytes`).
    pub used_cells: usize,
}

/// Read the facts of `panes` from their screen models.
pub async fn gather(server: &Server, panes: &[u32]) -> HashMap<u32, Facts> {
    let mut out = HashMap::new();
    for &p in panes {
        let Some(pane) = server.pane(p) else {
            continue;
        };
        let facts = pane
            .handle
            .with_screen(|s| {
                // tmux reports the column as `cols` while a write waits to wrap.
                let (row, col) = s.cursor();
                let modes = s.modes();
                Facts {
                    cursor_x: col,
                    cursor_y: row,
                    cursor_visible: modes.cursor_visible,
                    cursor_char: {
                        let (row, col) = s.cursor_on_screen();
                        s.cell_text(row, col)
                    },
                    alternate: s.alternate_screen(),
                    keypad: modes.keypad,
                    keypad_cursor: modes.cursor_keys,
                    mouse: match modes.mouse {
                        MouseMode::None => 0,
                        MouseMode::Press => 1,
                        MouseMode::ButtonMotion => 2,
                        MouseMode::AnyMotion => 3,
                    },
                    mouse_sgr: modes.mouse_sgr,
                    history: s.history_size(),
                    rows: s.size().1,
                    title: s.title().to_owned(),
                    used_cells: s.used_cells(),
                }
            })
            .await
            .unwrap_or_default();
        out.insert(p, facts);
    }
    out
}

/// The pane's terminal device, from the program's standard input.
pub fn tty_of(pid: i32, dead: bool) -> String {
    if dead || pid <= 0 {
        return String::new();
    }
    std::fs::read_link(format!("/proc/{pid}/fd/0"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// What the attach compositor draws of a pane: its visible rows with attributes, the cursor
/// and whether it shows, and the input modes its program asked for.
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    pub rows: Vec<String>,
    pub cursor: (u16, u16),
    pub cursor_visible: bool,
    pub modes: String,
}

/// Read a pane's screen for drawing.
pub async fn drawn(handle: &crate::session::SessionHandle) -> Drawn {
    handle
        .with_screen(|s| {
            let (row, col) = s.cursor_on_screen();
            Drawn {
                rows: s.rows(None, Format::Ansi),
                cursor: (col, row),
                cursor_visible: s.modes().cursor_visible,
                modes: String::from_utf8_lossy(&s.input_modes()).into_owned(),
            }
        })
        .await
        .unwrap_or_default()
}
