//! Aegis: a supervisor daemon for interactive coding agents in pseudo-terminals it owns.
//!
//! `ARCHITECTURE.md` at the repository root is the map: how one session's bytes flow from the
//! child to the clients, every module below with what it owns, and the invariants between them
//! (who may call whom; no two modules use each other, which `tests/tidy.rs` checks).
//! `main.rs` only parses the command line and dispatches to these modules.
//!
//! Modules are listed bottom-up, in the layers of ARCHITECTURE.md's code map; a module uses
//! only modules of its own or lower layers (`tests/tidy.rs` checks the map against the code).
//! `pub` modules are used by the binaries, tests, benchmarks or fuzz targets; `pub(crate)`
//! ones are internal.

// Leaves: the shared vocabulary and small utilities; they depend on nothing else here.
pub(crate) mod allocator;
pub(crate) mod clock;
pub(crate) mod files;
pub(crate) mod framing;
pub mod logs;
pub(crate) mod utf8;
pub(crate) mod vocab;

// Terminal: child processes on ptys, and the screen model.
pub mod pty;
pub mod screen;

// Reading a session: detection, permission state, the event bus and its observers,
// transcripts, state on disk.
pub mod detect;
pub(crate) mod events;
pub mod metrics;
pub(crate) mod permissions;
pub(crate) mod store;
pub(crate) mod transcript;

// What a session is built on: holder processes, Claude Code hooks.
pub mod holder;
pub(crate) mod hooks;

// Sessions.
pub mod session;

// Features on top of sessions.
pub mod attach;
// Several daemons as one fleet over NATS: uses nothing else here; the daemon plugs itself in
// through `fleet::LocalNode`, the API serves its routes.
pub mod fleet;
pub(crate) mod orchestrate;
pub mod tmux;
pub mod webhooks;
pub(crate) mod work;

// Edges: the HTTP API, the configuration, the daemon that wires everything together, and
// the clients of a running daemon and tools.
pub mod api;
pub mod cli;
pub(crate) mod client;
pub mod config;
pub mod daemon;
pub mod doctor;
pub mod fuzzing;
pub mod mcp;
