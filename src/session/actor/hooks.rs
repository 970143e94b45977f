//! Combining the screen's verdict with what agent hooks claimed, and announcing the permission
//! dialogs that came and went.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Actor;
use crate::detect::prompt::PermissionRequest;
use crate::events::detail::{PermissionAnswered, PermissionAsked};
use crate::events::{EventDetail, EventKind};
use crate::vocab::SessionStatus;

/// How long a hook's claim stands against a screen that says otherwise. Hooks arrive before
/// the screen settles (Stop comes a frame or two before the spinner goes), so a short
/// disagreement is normal; 3 s is longer than any redraw and short enough that a stale claim
/// (a lost Stop, a hook from an older turn) is corrected quickly.
pub const HOOK_GRACE: Duration = Duration::from_secs(3);

/// A state reported by a hook, waiting for the screen to agree.
#[derive(Debug, Clone)]
pub(super) struct HookClaim {
    pub status: SessionStatus,
    pub event: String,
    pub at: Instant,
}

impl Actor {
    /// Combine the screen's verdict with the last hook claim. A request held open by the
    /// PermissionRequest hook is a prompt while the screen shows a dialog (or has not yet
    /// drawn it); a screen that left it releases it. Otherwise a
    /// claim stands for [`HOOK_GRACE`] against a screen that says otherwise, except against a
    /// dialog, a question or an error on screen, which are positive evidence; a claim the
    /// screen agrees with is done. A claim contradicted past the grace is corrected and logged.
    pub(super) fn reconcile(&mut self, screen: SessionStatus) -> SessionStatus {
        if let Some(held) = self.perms.hook_pending() {
            // The held request is a prompt while the screen shows its dialog, or has not
            // drawn it yet (hooks arrive before the redraw: within the grace). A screen that
            // shows something else (a question, an error, or past the grace the idle prompt)
            // has left it: the hook must not pin a state the screen no longer shows, so the
            // request is released undecided.
            let age = crate::clock::now_ms().saturating_sub(held.created_at_ms);
            let grace = u64::try_from(HOOK_GRACE.as_millis()).unwrap_or(u64::MAX);
            match screen {
                SessionStatus::PermissionPrompt => return SessionStatus::PermissionPrompt,
                SessionStatus::Question | SessionStatus::Error | SessionStatus::Exited => {}
                _ if age < grace => {
                    let until = Instant::now() + Duration::from_millis(grace - age);
                    self.recheck_at = Some(self.recheck_at.map_or(until, |r| r.min(until)));
                    return SessionStatus::PermissionPrompt;
                }
                _ => {}
            }
            if self.perms.hook_drop(Some(held.id)).is_some() {
                tracing::info!(session = %self.meta.id, permission = %held.id, tool = %held.tool_name, screen_state = screen.as_str(), "the screen shows no dialog for the held PermissionRequest hook; releasing it");
                self.corrections += 1;
            }
        }
        let Some(claim) = &self.hook else {
            return screen;
        };
        if claim.status == screen
            || matches!(
                screen,
                SessionStatus::PermissionPrompt | SessionStatus::Question | SessionStatus::Error
            )
        {
            self.hook = None;
            return screen;
        }
        let until = claim.at + HOOK_GRACE;
        if Instant::now() < until {
            self.recheck_at = Some(self.recheck_at.map_or(until, |r| r.min(until)));
            return claim.status;
        }
        tracing::info!(session = %self.meta.id, hook_state = claim.status.as_str(), hook_event = %claim.event, screen_state = screen.as_str(), grace_ms = HOOK_GRACE.as_millis() as u64, "screen contradicts the hook past the grace period; correcting to the screen's state");
        self.corrections += 1;
        self.hook = None;
        screen
    }

    /// Announce a dialog that appeared (`permission.requested`, with the parsed request) and
    /// one that left the screen (`permission.resolved`, with how it was answered).
    pub(super) fn publish_permission_changes(
        &mut self,
        old: SessionStatus,
        status: SessionStatus,
        old_pending: Option<Arc<PermissionRequest>>,
        pending: Option<Arc<PermissionRequest>>,
    ) {
        let same = |a: &Arc<PermissionRequest>, b: &Option<Arc<PermissionRequest>>| {
            b.as_ref().is_some_and(|b| b.id == a.id)
        };
        if let Some(gone) = old_pending.as_ref().filter(|p| !same(p, &pending)) {
            let resolution = self.perms.take_answer(gone.id);
            self.perms.record(gone, &resolution);
            self.bus.publish(
                EventKind::PermissionResolved,
                &self.meta,
                Some(old),
                Some(status),
                EventDetail::PermissionResolved(Box::new(PermissionAnswered {
                    request: (**gone).clone(),
                    resolution,
                })),
            );
        }
        if let Some(new) = pending.as_ref().filter(|p| !same(p, &old_pending)) {
            tracing::info!(session = %self.meta.id, permission = %new.id, kind = new.kind.as_str(), title = %new.title, "permission requested");
            self.bus.publish(
                EventKind::PermissionRequested,
                &self.meta,
                Some(old),
                Some(status),
                EventDetail::PermissionRequested(Box::new(PermissionAsked {
                    request: (**new).clone(),
                    agent_type: self.meta.agent_type,
                    hook: None,
                })),
            );
        }
    }
}
