//! Aegis v0.3's finer state vocabulary (`uiState`), derived from our coarser status, the kind
//! of the pending permission request and what the hooks said. Our `status` stays the source of
//! truth; `uiState` is what v0.3 clients compare against.
//!
//! | our status | uiState |
//! |---|---|
//! | starting | unknown |
//! | idle | idle |
//! | working, stalled | working (compacting between PreCompact and PostCompact hooks) |
//! | permission_prompt | bash_approval (shell command), plan_mode (plan approval), permission_prompt (others, incl. trust) |
//! | question | ask_question |
//! | error | error |
//! | exited | unknown |
//!
//! `context_warning`, `settings` and `waiting_for_input` are accepted by the `?status=` filter
//! but not produced yet: no detection rule distinguishes them.

use crate::detect::profile::PermissionKind;
use crate::session::SessionStatus;

/// Every uiState value v0.3 clients know.
pub const UI_STATES: &[&str] = &[
    "idle",
    "working",
    "compacting",
    "context_warning",
    "waiting_for_input",
    "permission_prompt",
    "plan_mode",
    "ask_question",
    "bash_approval",
    "settings",
    "error",
    "unknown",
];

pub fn ui_state(
    status: SessionStatus,
    pending: Option<PermissionKind>,
    compacting: bool,
) -> &'static str {
    match status {
        SessionStatus::Starting | SessionStatus::Exited => "unknown",
        SessionStatus::Idle => "idle",
        SessionStatus::Working | SessionStatus::Stalled if compacting => "compacting",
        SessionStatus::Working | SessionStatus::Stalled => "working",
        SessionStatus::PermissionPrompt => match pending {
            Some(PermissionKind::Bash) => "bash_approval",
            Some(PermissionKind::Plan) => "plan_mode",
            _ => "permission_prompt",
        },
        SessionStatus::Question => "ask_question",
        SessionStatus::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(
            ui_state(
                SessionStatus::PermissionPrompt,
                Some(PermissionKind::Bash),
                false
            ),
            "bash_approval"
        );
        assert_eq!(ui_state(SessionStatus::Working, None, true), "compacting");
        assert_eq!(
            ui_state(SessionStatus::Question, None, false),
            "ask_question"
        );
        for s in SessionStatus::ALL {
            assert!(UI_STATES.contains(&ui_state(s, None, false)));
        }
    }
}
