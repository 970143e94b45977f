//! Sessions: one supervised program on a pty, with its screen model and input queue.
//!
//! - [`actor`]: the task that owns a session's pty, screen and detector.
//! - [`handle`]: what everyone else holds, a cloneable [`SessionHandle`]; typing into a
//!   session (paced text, keys, bytes) is `send.rs`.
//! - [`readings`]: the actor's last readings of an unchanged screen, answered without it.
//! - [`commands`]: the commands a shell's marks told of, and the output an exec captures.
//! - [`exec`]: running one command line in an idle shell and answering its status and output.
//! - [`answer`]: answering a permission prompt (keys verified on screen, or the held hook).
//! - [`supervisor`]: the per-session task that answers prompts by policy or on expiry.
//! - [`input`]: turning text and key names into ordered, paced writes.
//! - [`keys`]: tmux key names to bytes.
//! - [`manager`]: the registry of sessions (find by id or name, list, remove).
//! - [`create`]: creating a session, in named steps.
//! - [`validate`]: checks on a create request (work dir, name, environment, size).
//! - [`persist`]: what a session persists, and finding the previous daemon's sessions again.
//! - [`shell`]: shell integration, the prompt and command marks bash and zsh are started with.

pub mod actor;
pub mod answer;
pub mod commands;
pub mod create;
pub mod exec;
pub mod handle;
pub mod input;
pub mod keys;
pub mod launch;
pub mod manager;
pub mod persist;
pub mod readings;
mod send;
pub mod shell;
pub mod supervisor;
pub mod validate;

pub use create::CreateSpec;
pub use handle::{HandleError, LiveState, SessionHandle};
pub use manager::{SessionError, SessionManager};
pub use validate::MAX_HISTORY_LINES;
