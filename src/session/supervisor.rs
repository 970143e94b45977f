//! The per-session permission supervisor: a task that watches the session's live state and,
//! for each new request, applies the session's policy (logging the automatic answer on the
//! session history) or, when nothing decides, waits for the request's expiry and then applies
//! the default action. A request is answered only once it has stayed on screen for [`SETTLE`].
//! It ends when the session exits.

use std::time::Duration;

use super::SessionHandle;
use super::answer::{Answer, AnswerError, answer};
use crate::clock::now_ms;
use crate::permissions::{Action, AnsweredBy};
use crate::vocab::SessionStatus;

/// How long a request must stay on screen before it is answered automatically.
const SETTLE: Duration = Duration::from_millis(250);

/// How often a failed automatic answer is tried again, and after how long.
const RETRIES: u32 = 2;
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Start supervising `h`.
pub fn spawn(h: SessionHandle) {
    tokio::spawn(async move { run(h).await });
}

async fn run(h: SessionHandle) {
    let mut rx = h.watch();
    let mut handled: Option<uuid::Uuid> = None;
    // The request whose automatic answer failed, and how often it did.
    let mut failed: (Option<uuid::Uuid>, u32) = (None, 0);
    loop {
        let (status, pending) = {
            let s = rx.borrow_and_update();
            (s.status, s.pending.clone())
        };
        if status == SessionStatus::Exited {
            return;
        }
        let mut expiry: Option<Duration> = None;
        if let Some(p) = pending.filter(|p| handled != Some(p.id)) {
            let policy = h.perms.policy();
            let decided = policy.decide(&p);
            let expired = p.expires_at_ms.is_some_and(|at| now_ms() >= at)
                || policy
                    .timeout
                    .is_some_and(|t| now_ms() >= p.created_at_ms + t.as_millis() as u64);
            let auto = match decided {
                Some((a, reason, by)) => Some((a, reason, by)),
                None if expired => Some((
                    policy.default_action,
                    "expired unanswered".to_owned(),
                    AnsweredBy::Expiry,
                )),
                None => {
                    let deadline = [
                        p.expires_at_ms,
                        policy
                            .timeout
                            .map(|t| p.created_at_ms + t.as_millis() as u64),
                    ]
                    .into_iter()
                    .flatten()
                    .min();
                    expiry = deadline.map(|d| Duration::from_millis(d.saturating_sub(now_ms())));
                    None
                }
            };
            if let Some((action, reason, by)) = auto {
                // An agent's own frames can read as a dialog for a moment (Claude Code shows
                // the answered trust dialog with a check mark as it closes): only a request
                // still on screen after SETTLE is answered; one gone by then was no request.
                let id = p.id;
                let left = h
                    .wait_for(|s| s.pending.as_ref().is_none_or(|q| q.id != id), SETTLE)
                    .await;
                if left {
                    continue;
                }
                handled = Some(p.id);
                tracing::info!(session = %h.meta.id, permission = %p.id, action = action.as_str(), %reason, by = by.as_str(), "answering permission automatically");
                let result = answer(
                    &h,
                    Answer {
                        permission_id: Some(p.id.to_string()),
                        approve: action == Action::Approve,
                        option: None,
                        by,
                        reason: Some(reason),
                        actor: None,
                    },
                )
                .await;
                if let Err(e) = result {
                    tracing::warn!(session = %h.meta.id, permission = %p.id, error = %e, "automatic answer failed");
                    // The cursor not seen on the option (an app that stalled halfway through
                    // the arrows) leaves the dialog up with nothing confirmed: once the app
                    // has had time to catch up, the answer is tried again from where its
                    // cursor is, rather than leaving the dialog pending for good.
                    if failed.0 != Some(id) {
                        failed = (Some(id), 0);
                    }
                    if matches!(e, AnswerError::CursorNotVerified(_)) && failed.1 < RETRIES {
                        failed.1 += 1;
                        handled = None;
                        let _ = h
                            .wait_for(
                                |s| s.pending.as_ref().is_none_or(|q| q.id != id),
                                RETRY_AFTER,
                            )
                            .await;
                    }
                }
                continue;
            }
        }
        let changed = match expiry {
            Some(d) => tokio::time::timeout(d, rx.changed())
                .await
                .unwrap_or(Ok(())),
            None => rx.changed().await,
        };
        if changed.is_err() {
            return;
        }
    }
}
