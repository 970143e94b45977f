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

use std::path::PathBuf;
use std::time::Duration;

pub use actor::{SessionHandle, Snapshot};
pub use manager::{CreateSpec, SessionManager};

/// What a session is doing. Serialized in snake_case on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    Starting,
    Idle,
    Working,
    PermissionPrompt,
    Question,
    Error,
    Stalled,
    Exited,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 8] = [
        SessionStatus::Starting,
        SessionStatus::Idle,
        SessionStatus::Working,
        SessionStatus::PermissionPrompt,
        SessionStatus::Question,
        SessionStatus::Error,
        SessionStatus::Stalled,
        SessionStatus::Exited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Starting => "starting",
            SessionStatus::Idle => "idle",
            SessionStatus::Working => "working",
            SessionStatus::PermissionPrompt => "permission_prompt",
            SessionStatus::Question => "question",
            SessionStatus::Error => "error",
            SessionStatus::Stalled => "stalled",
            SessionStatus::Exited => "exited",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Which agent runs in the session; decides the default argv and input pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentType {
    Claude,
    Codex,
    Gemini,
    Shell,
    Custom,
}

impl AgentType {
    pub const ALL: [AgentType; 5] = [
        AgentType::Claude,
        AgentType::Codex,
        AgentType::Gemini,
        AgentType::Shell,
        AgentType::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentType::Claude => "claude",
            AgentType::Codex => "codex",
            AgentType::Gemini => "gemini",
            AgentType::Shell => "shell",
            AgentType::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The argv used when the request gives none. `None` for custom, which must give one.
    pub fn default_command(self) -> Option<Vec<String>> {
        match self {
            AgentType::Claude => Some(vec!["claude".into()]),
            AgentType::Codex => Some(vec!["codex".into()]),
            AgentType::Gemini => Some(vec!["gemini".into()]),
            AgentType::Shell => Some(vec![login_shell()]),
            AgentType::Custom => None,
        }
    }

    /// How this agent takes text, given whether it enabled bracketed paste.
    pub fn text_input(self, bracketed_paste: bool) -> input::TextInput {
        match self {
            _ if !bracketed_paste => input::TextInput::Typed,
            AgentType::Codex | AgentType::Gemini => input::TextInput::PasteAll,
            _ => input::TextInput::PasteLong,
        }
    }

    /// Pause between the text and its Enter. Codex treats an Enter within 120 ms of a typed
    /// burst as a newline; Claude's Ink input drops an Enter that follows a paste too closely
    /// (peers use 100–300 ms); a shell's line discipline needs no gap, but a short one keeps
    /// the two writes distinct for readline.
    pub fn enter_delay(self) -> Duration {
        match self {
            AgentType::Codex => Duration::from_millis(250),
            AgentType::Claude | AgentType::Gemini => Duration::from_millis(150),
            AgentType::Shell | AgentType::Custom => Duration::from_millis(30),
        }
    }
}

/// The user's login shell from the password database, then `$SHELL`, then `/bin/sh`.
pub fn login_shell() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.shell.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("SHELL").ok())
        .unwrap_or_else(|| "/bin/sh".into())
}

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
    pub permission_mode: launch::PermissionMode,
    /// The session that spawned this one, if any.
    pub parent_id: Option<uuid::Uuid>,
    /// The environment the session was created with (on top of the daemon's), so a fork or a
    /// spawned child can be started the same way.
    pub env: Vec<(String, String)>,
}

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
            permission_mode: launch::PermissionMode::Default,
            parent_id: None,
            env: Vec::new(),
        }
    }
}

/// Prompt delivery as reported to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    pub delivered: bool,
    pub attempts: u32,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
