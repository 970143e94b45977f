//! What a session is doing: the states the detector decides between.

/// What a session is doing. Its `as_str` spelling (snake_case) is the one on the wire and in
/// the registry file.
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
