//! Aegis: a supervisor daemon for interactive coding agents in pseudo-terminals it owns.
//! See DESIGN.md for the architecture; `main.rs` only dispatches to these modules.

pub mod api;
pub mod attach;
pub mod cli;
pub mod config;
pub mod detect;
pub mod doctor;
pub mod events;
pub mod files;
pub mod fleet;
pub mod framing;
pub mod fuzzing;
pub mod holder;
pub mod hooks;
pub mod logs;
pub mod mcp;
pub mod metrics;
pub mod orchestrate;
pub mod permissions;
pub mod pty;
pub mod screen;
pub mod session;
pub mod store;
pub mod tmux;
pub mod transcript;
pub mod utf8;
pub mod webhooks;
pub mod work;
