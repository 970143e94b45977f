//! Attach from a terminal: `aegis attach <id|name>` (the [`client`]) and the daemon's local
//! socket that serves it (the [`server`]), which also runs tmux stand-in commands.
//!
//! Transport: a unix socket, `<state dir>/aegis.sock`, mode 0600 inside the 0700 state dir,
//! not the HTTP WebSocket stream. Why:
//! - access control is the file system's: only the owning user can connect, so a local client
//!   needs no token and no port (the tmux stand-in must work with nothing but `PATH` set, as
//!   tools call plain `tmux …`);
//! - it works when the REST API is bound elsewhere or behind auth, and it is independent of
//!   the browser-facing WebSocket protocol, which can evolve for web UIs on its own;
//! - a local byte pipe with tiny frames adds no HTTP/WebSocket framing to every keystroke.
//!
//! The frame format is in [`proto`]; raw mode and terminal size in [`term`]; the detach
//! prefix and the filtering of the terminal's own query replies in [`filter`]; drawing a
//! window of several panes (a tmux stand-in session) in [`compose`].

pub mod client;
pub mod compose;
pub mod filter;
pub mod proto;
pub mod server;
pub mod term;

pub use client::AttachArgs;
