//! tmux's status line of an attached client: `status-left`, the window list (each window in
//! `window-status-format`, the current one in `window-status-current-format`, joined by
//! `window-status-separator`) and `status-right` flush right, cut to the client's width.

use super::format;
use super::tree::Server;
use super::vars::{HostInfo, Scope};

/// tmux's status line: `status-left`, the window list, and `status-right` on the right.
pub fn status_line(
    server: &Server,
    info: &HostInfo,
    session: u32,
    current: i64,
    cols: u16,
) -> String {
    let facts = Default::default();
    let opt = |name: &str| server.session_option(session, name).unwrap_or_default();
    let scope = Scope::new(server, info, &facts, Some(session), None, None);
    let left = format::expand(&opt("status-left"), &scope);
    let mut list = vec![];
    if let Some(s) = server.session(session) {
        for (&idx, &wid) in &s.windows {
            let fmt = if idx == current {
                server.window_option(wid, "window-status-current-format")
            } else {
                server.window_option(wid, "window-status-format")
            }
            .unwrap_or_default();
            let ws = Scope::new(server, info, &facts, Some(session), Some(idx), None);
            list.push(format::expand(&fmt, &ws));
        }
    }
    let sep = server
        .window_option(0, "window-status-separator")
        .unwrap_or_else(|| " ".into());
    let right = super::commands::io::expand_time(&format::expand(&opt("status-right"), &scope));
    let left_part = format!("{left}{}", list.join(&sep));
    let width = usize::from(cols);
    let used = left_part.chars().count() + right.chars().count();
    if used < width {
        format!("{left_part}{}{right}", " ".repeat(width - used))
    } else {
        left_part.chars().take(width).collect()
    }
}
