//! What a pane's screen model and its processes say, for format variables: cursor, modes
//! and history (read from the screen model, which is asynchronous, once per command before a
//! format is expanded), and the foreground program, its directory and the terminal (from
//! /proc, as tmux reads them).

use std::collections::HashMap;

use super::tree::Server;

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
                let vt = s.vt();
                let (row, col) = vt.cursor_position();
                let (rows, cols) = vt.size();
                let cursor_char = vt
                    .cell(row, col)
                    .map(|c| {
                        let t = c.contents();
                        if t.is_empty() {
                            " ".to_owned()
                        } else {
                            t.to_owned()
                        }
                    })
                    .unwrap_or_else(|| " ".into());
                let mut used = 0;
                for r in 0..rows.get() {
                    let mut last = 0;
                    for c in 0..cols.get() {
                        if vt.cell(r, c).is_some_and(|cell| cell.has_contents()) {
                            last = usize::from(c) + 1;
                        }
                    }
                    used += last;
                }
                Facts {
                    cursor_x: col,
                    cursor_y: row,
                    cursor_visible: !vt.hide_cursor(),
                    cursor_char,
                    alternate: vt.alternate_screen(),
                    keypad: vt.application_keypad(),
                    keypad_cursor: vt.application_cursor(),
                    mouse: match vt.mouse_protocol_mode() {
                        vt100::MouseProtocolMode::None => 0,
                        vt100::MouseProtocolMode::Press
                        | vt100::MouseProtocolMode::PressRelease => 1,
                        vt100::MouseProtocolMode::ButtonMotion => 2,
                        vt100::MouseProtocolMode::AnyMotion => 3,
                    },
                    mouse_sgr: vt.mouse_protocol_encoding() == vt100::MouseProtocolEncoding::Sgr,
                    history: s.history_size(),
                    rows: rows.get(),
                    title: s.title().to_owned(),
                    used_cells: used,
                }
            })
            .await
            .unwrap_or_default();
        out.insert(p, facts);
    }
    out
}

/// The pane's foreground program (argv[0] of the terminal's foreground process group, from
/// /proc, as tmux reads it) and its directory.
pub fn foreground(pid: i32, dead: bool) -> (String, String) {
    if dead || pid <= 0 {
        return (String::new(), String::new());
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let tpgid = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 2..))
        .and_then(|rest| rest.split(' ').nth(5))
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(pid);
    let cmdline = std::fs::read(format!("/proc/{tpgid}/cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or(&[]);
    let cwd = std::fs::read_link(format!("/proc/{tpgid}/cwd"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    (String::from_utf8_lossy(argv0).into_owned(), cwd)
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
            let vt = s.vt();
            let (_, cols) = vt.size();
            let (row, col) = vt.cursor_position();
            Drawn {
                rows: vt.rows_formatted(0, cols.get()).collect(),
                cursor: (col, row),
                cursor_visible: !vt.hide_cursor(),
                modes: vt.input_mode_formatted(),
            }
        })
        .await
        .unwrap_or_default()
}
