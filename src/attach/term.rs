//! The local terminal: raw mode that is undone on every exit path, and its size.
//!
//! Restoring happens in three places, because each covers exits the others miss: the guard's
//! `Drop` (normal returns and errors), a panic hook (panics, which may abort before drops run),
//! and the client's signal handling, which turns SIGTERM/SIGHUP/SIGINT into a normal return.

use std::os::fd::AsFd;
use std::sync::OnceLock;

use rustix::termios::{self, OptionalActions, Termios};

/// The terminal settings before raw mode, for the panic hook.
static SAVED: OnceLock<Termios> = OnceLock::new();

/// Escape codes that undo modes a program may have set on the user's terminal through the
/// attach stream: alternate screen, bracketed paste, application cursor and keypad, mouse
/// reporting, focus events, hidden cursor, and colours.
pub const RESET_MODES: &str = "\x1b[?1049l\x1b[?2004l\x1b[?1l\x1b>\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1004l\x1b[?25h\x1b[0m";

/// Raw mode for as long as this lives.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Put stdin's terminal in raw mode. Fails (ENOTTY) when stdin is not a terminal.
    pub fn enable() -> std::io::Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd())?;
        let _ = SAVED.set(saved.clone());
        install_panic_hook();
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore(&self.saved);
    }
}

fn restore(saved: &Termios) {
    use std::io::Write;
    let stdin = std::io::stdin();
    let _ = termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, saved);
    let mut out = std::io::stdout();
    let _ = out.write_all(RESET_MODES.as_bytes());
    let _ = out.flush();
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(saved) = SAVED.get() {
                restore(saved);
            }
            previous(info);
        }));
    });
}

/// The terminal's size as (cols, rows), or 80x24 when it cannot be read.
pub fn size() -> (u16, u16) {
    let stdout = std::io::stdout();
    match termios::tcgetwinsize(stdout.as_fd()) {
        Ok(ws) if ws.ws_col > 0 && ws.ws_row > 0 => (ws.ws_col, ws.ws_row),
        _ => (80, 24),
    }
}

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    termios::isatty(std::io::stdin().as_fd())
}
