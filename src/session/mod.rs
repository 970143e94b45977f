//! Sessions: one supervised program on a pty, with its screen model and input queue.
//!
//! - [`actor`]: the task that owns a session's pty, screen and detector; everyone else holds
//!   a [`SessionHandle`].
//! - [`answer`]: answering a permission prompt (keys verified on screen, or the held hook).
//! - [`supervisor`]: the per-session task that answers prompts by policy or on expiry.
//! - [`input`]: turning text and key names into ordered, paced writes.
//! - [`keys`]: tmux key names to bytes.
//! - [`manager`]: the registry of sessions (create, find by id or name, list, remove).
//! - [`persist`]: what a session persists, and finding the previous daemon's sessions again.

pub mod actor;
pub mod answer;
pub mod input;
pub mod keys;
pub mod launch;
pub mod manager;
pub mod persist;
pub mod supervisor;

pub use actor::{SessionHandle, Snapshot};
pub use manager::{CreateSpec, SessionManager};
