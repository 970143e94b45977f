//! The shared vocabulary of sessions: the words every layer uses to talk about a session
//! (its status, its agent, its fixed facts) without depending on the layer that runs it.
//!
//! A leaf: nothing here imports another module of the crate (except [`crate::clock`]'s
//! neighbours in the leaf layer), so the detector, the event bus, the store and the metrics can
//! all name a session's status without importing `session`, which sits above them.
//!
//! - [`status`]: what a session is doing ([`SessionStatus`]).
//! - [`agent`]: which agent runs ([`AgentType`]) and in which permission mode
//!   ([`PermissionMode`]).
//! - [`meta`]: the facts fixed at creation ([`SessionMeta`]) and prompt delivery
//!   ([`Delivery`]).

pub mod agent;
pub mod meta;
pub mod status;

pub use agent::{AgentType, PermissionMode, login_shell};
pub use meta::{DEFAULT_HISTORY_LINES, Delivery, SessionMeta};
pub use status::SessionStatus;
