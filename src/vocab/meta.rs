//! The facts about a session fixed at creation, and how its prompt was delivered.

use std::path::PathBuf;

use super::{AgentType, PermissionMode};

/// Facts about a session fixed at creation.
#[derive(Debug, Clone)]
pub struct SessionMeta {
    pub id: uuid::Uuid,
    pub name: String,
    pub work_dir: PathBuf,
    pub agent_type: AgentType,
    pub command: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    pub pid: i32,
    /// The permission mode the agent was launched with (`default` when none was asked).
    pub permission_mode: PermissionMode,
    /// The session that spawned this one, if any.
    pub parent_id: Option<uuid::Uuid>,
    /// The environment the session was created with (on top of the daemon's), so a fork or a
    /// spawned child can be started the same way.
    pub env: Vec<(String, String)>,
    /// Lines of history kept above the screen (tmux's `history-limit`).
    pub history_lines: usize,
    /// Bytes of history kept at most (0: only the line limit applies).
    pub history_bytes: usize,
    /// Whether the shell was started with Aegis's prompt and command marks (OSC 133).
    pub shell_integration: bool,
}

/// History lines a session keeps when its creator names none (tmux's default `history-limit`).
pub const DEFAULT_HISTORY_LINES: usize = 2000;

impl SessionMeta {
    /// A placeholder session for unit tests of code that only needs a name and an id.
    #[cfg(test)]
    pub fn for_tests() -> SessionMeta {
        SessionMeta {
            id: uuid::Uuid::nil(),
            name: "s".into(),
            work_dir: "/".into(),
            agent_type: AgentType::Shell,
            command: vec![],
            created_at_ms: 0,
            pid: 1,
            permission_mode: PermissionMode::Default,
            parent_id: None,
            env: Vec::new(),
            history_lines: DEFAULT_HISTORY_LINES,
            history_bytes: 0,
            shell_integration: false,
        }
    }
}

/// Prompt delivery as reported to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    pub delivered: bool,
    pub attempts: u32,
}
