//! Sessions: one supervised program on a pty, with its screen model and input queue.
//!
//! - [`actor`]: the task that owns a session's pty, screen and detector; everyone else holds
//!   a [`SessionHandle`].
//! - [`input`]: turning text and key names into ordered, paced writes.
//! - [`keys`]: tmux key names to bytes.
//! - [`manager`]: the registry of sessions (create, find by id or name, list, remove).

pub mod actor;
pub mod input;
pub mod keys;
pub mod launch;
pub mod manager;

pub use actor::{SessionHandle, Snapshot};
pub use manager::{CreateSpec, SessionManager};
