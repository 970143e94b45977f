//! Which agent runs in a session, and the permission mode it was launched in. The argv each
//! combination becomes is `session::launch`'s business; these are only the names.

/// Which agent runs in the session; decides the default argv (and, in `session::input`, the
/// input pacing).
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

/// The agent permission modes of Aegis v0.3, in its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionMode {
    Default,
    AcceptEdits,
    Plan,
    BypassPermissions,
    DontAsk,
    Auto,
}

impl PermissionMode {
    pub const ALL: [PermissionMode; 6] = [
        PermissionMode::Default,
        PermissionMode::AcceptEdits,
        PermissionMode::Plan,
        PermissionMode::BypassPermissions,
        PermissionMode::DontAsk,
        PermissionMode::Auto,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
            PermissionMode::DontAsk => "dontAsk",
            PermissionMode::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
