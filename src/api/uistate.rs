//! Aegis v0.3's finer state vocabulary (`uiState`), derived from our coarser status, the kind
//! of the pending permission request, what the hooks said and the screen's `ui` hint (profile
//! rules, see `detect::profile`). Our `status` stays the source of truth; `uiState` is what
//! v0.3 clients compare against.
//!
//! | our status | uiState |
//! |---|---|
//! | starting | unknown (settings when a settings panel is open) |
//! | idle | idle; context_warning (low-context footer), waiting_for_input (the reply asks the user something), settings (a settings panel) |
//! | working, stalled | working; compacting (PreCompact..PostCompact hooks, or "Compacting conversation…" on screen) |
//! | permission_prompt | bash_approval (shell command), plan_mode (plan approval), permission_prompt (others, incl. trust) |
//! | question | ask_question |
//! | error | error |
//! | exited | unknown |
//!
//! A settings panel is a viewer mode: the profile's rule keeps the previous status (usually
//! idle) and only `uiState` says `settings`.

use crate::detect::profile::{PermissionKind, UiHint};
use crate::vocab::SessionStatus;

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

/// What `uiState` is derived from.
#[derive(Debug, Clone, Copy)]
pub struct UiInputs {
    pub status: SessionStatus,
    /// The kind of the pending permission request (screen or hook).
    pub pending: Option<PermissionKind>,
    /// Between the PreCompact and PostCompact hooks.
    pub hook_compacting: bool,
    /// The screen's finer reading.
    pub screen: Option<UiHint>,
}

pub fn ui_state(i: UiInputs) -> &'static str {
    match (i.status, i.screen) {
        (SessionStatus::Exited, _) => "unknown",
        (_, Some(UiHint::Settings)) => "settings",
        (SessionStatus::Starting, _) => "unknown",
        (SessionStatus::Idle, Some(UiHint::ContextWarning)) => "context_warning",
        (SessionStatus::Idle, Some(UiHint::WaitingForInput)) => "waiting_for_input",
        (SessionStatus::Idle, _) => "idle",
        (SessionStatus::Working | SessionStatus::Stalled, screen)
            if i.hook_compacting || screen == Some(UiHint::Compacting) =>
        {
            "compacting"
        }
        (SessionStatus::Working | SessionStatus::Stalled, _) => "working",
        (SessionStatus::PermissionPrompt, _) => match i.pending {
            Some(PermissionKind::Bash) => "bash_approval",
            Some(PermissionKind::Plan) => "plan_mode",
            _ => "permission_prompt",
        },
        (SessionStatus::Question, _) => "ask_question",
        (SessionStatus::Error, _) => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui(status: SessionStatus, screen: Option<UiHint>) -> &'static str {
        ui_state(UiInputs {
            status,
            pending: None,
            hook_compacting: false,
            screen,
        })
    }

    #[test]
    fn mapping() {
        assert_eq!(
            ui_state(UiInputs {
                status: SessionStatus::PermissionPrompt,
                pending: Some(PermissionKind::Bash),
                hook_compacting: false,
                screen: None,
            }),
            "bash_approval"
        );
        assert_eq!(
            ui_state(UiInputs {
                status: SessionStatus::Stalled,
                pending: None,
                hook_compacting: true,
                screen: None,
            }),
            "compacting"
        );
        assert_eq!(
            ui(SessionStatus::Working, Some(UiHint::Compacting)),
            "compacting"
        );
        assert_eq!(ui(SessionStatus::Question, None), "ask_question");
        assert_eq!(
            ui(SessionStatus::Idle, Some(UiHint::ContextWarning)),
            "context_warning"
        );
        assert_eq!(
            ui(SessionStatus::Idle, Some(UiHint::WaitingForInput)),
            "waiting_for_input"
        );
        assert_eq!(ui(SessionStatus::Idle, Some(UiHint::Settings)), "settings");
        // A mark never outranks what the status says about work in progress.
        assert_eq!(
            ui(SessionStatus::Working, Some(UiHint::ContextWarning)),
            "working"
        );
        assert_eq!(ui(SessionStatus::Exited, Some(UiHint::Settings)), "unknown");
        for s in SessionStatus::ALL {
            for h in [None].into_iter().chain(UiHint::ALL.map(Some)) {
                assert!(UI_STATES.contains(&ui(s, h)));
            }
        }
    }
}
