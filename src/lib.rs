//! Aegis: a supervisor daemon for interactive coding agents in pseudo-terminals it owns.
//!
//! `ARCHITECTURE.md` at the repository root is the map: how one session's bytes flow from the
//! child to the clients, every module below with what it owns, and the invariants between them
//! (who may call whom; no two modules use each other, which `tests/tidy.rs` checks).
//! `main.rs` only parses the command line and dispatches to these modules.
//!
//! Modules are listed bottom-up, in layers; a module uses only modules of its own or lower
//! layers. `pub` modules are used by the binaries, tests, benchmarks or fuzz targets;
//! `pub(crate)` ones are internal.

// The shared vocabulary and small utilities: depend on nothing else here.
pub(crate) mod clock;
pub(crate) mod framing;
pub mod logs;
pub(crate) mod utf8;
pub(crate) mod vocab;

// Terminals, child processes, screens and what they show.
pub mod detect;
pub(crate) mod files;
pub mod pty;
pub mod screen;
pub(crate) mod transcript;

// Permission state, the event bus and its observers, state on disk.
pub(crate) mod events;
pub mod metrics;
pub(crate) mod permissions;
pub(crate) mod store;

// What a session is built on: Claude Code hooks, holder processes.
pub mod holder;
pub(crate) mod hooks;

// Sessions.
pub mod session;

// Features on top of sessions.
pub mod attach;
// Several daemons as one fleet over NATS: uses nothing else here; the daemon plugs itself in
// through `fleet::LocalNode`, the API serves its routes.
pub mod config;
pub mod fleet;
pub(crate) mod orchestrate;
pub mod tmux;
pub mod webhooks;
pub(crate) mod work;

// The HTTP API, and the daemon that wires everything together.
pub mod api;
pub mod daemon;

// Clients of a running daemon, and tools.
pub mod cli;
pub(crate) mod client;
pub mod doctor;
pub mod fuzzing;
pub mod mcp;
