//! Answering a session's permission prompt: through the session's ordered input queue (move
//! the cursor with arrows, wait until the screen shows the cursor on the wanted option, press
//! Enter, then wait until the dialog is gone; see [`press`] for dialogs that redraw or drop
//! keys meanwhile), or, for a request held open by Claude Code's
//! PermissionRequest hook, by replying to the hook. Digit shortcuts are not used: they have
//! regressed in Claude several times and their meaning depends on the option count.
//!
//! The permission state this records answers in (policy, answers in flight, history) is
//! `crate::permissions`'; this module is what drives the session.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::HandleError;
use super::SessionHandle;
use super::handle::LiveState;
use crate::detect::prompt::PermissionRequest;
use crate::permissions::hook::{HookDecision, HookRequest};
use crate::permissions::{AnsweredBy, Outcome, Resolution};
use crate::vocab::SessionStatus;

/// How long to wait for the cursor to reach the wanted option after the arrow keys. Ink and
/// ratatui redraw within a frame (~16–50 ms); 2 s leaves room for a loaded machine.
pub const CURSOR_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait for the dialog to leave the screen after the confirming key.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a dialog that shows no sign of having read the confirming key (the same dialog,
/// not a byte of output since) is given before the key is pressed again.
pub const CONFIRM_RETRY: Duration = Duration::from_millis(1500);

/// How long a dialog that left the screen before its answer was confirmed is given to come
/// back: an agent redrawing its whole screen shows a frame or two without it (Gemini's last
/// 30-60 ms), more on a loaded machine.
pub const REDRAW_GRACE: Duration = CURSOR_TIMEOUT;

/// Why an answer could not be given.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("no permission prompt is pending on this session")]
    NoPending,
    #[error("permission {given} is no longer pending (pending: {pending})")]
    Stale { given: String, pending: String },
    #[error("option {0} is not offered by this prompt")]
    BadOption(u32),
    #[error("the cursor did not reach option {0}; Enter was not pressed")]
    CursorNotVerified(u32),
    #[error(transparent)]
    Handle(#[from] HandleError),
}

/// What an answer did.
#[derive(Debug, Clone)]
pub struct AnswerOutcome {
    pub permission_id: uuid::Uuid,
    pub action: Outcome,
    pub option: Option<u32>,
    pub keys: Vec<String>,
    /// The dialog left the screen within [`CLOSE_TIMEOUT`].
    pub closed: bool,
    pub status: SessionStatus,
    /// "keys" (typed into the dialog) or "hook" (the reply to a held PermissionRequest hook).
    pub via: &'static str,
}

/// A request to answer a prompt.
#[derive(Debug, Clone)]
pub struct Answer {
    pub permission_id: Option<String>,
    pub approve: bool,
    pub option: Option<u32>,
    pub by: AnsweredBy,
    pub reason: Option<String>,
    pub actor: Option<String>,
}

/// Answer the pending prompt of `h` (see the module doc for the key sequence).
pub async fn answer(h: &SessionHandle, a: Answer) -> Result<AnswerOutcome, AnswerError> {
    // A specific option ("don't ask again") exists only on the dialog: keys. Otherwise a held
    // hook request is answered through its reply.
    if a.option.is_none()
        && let Some(hook) = h.perms.hook_pending()
    {
        return answer_hook(h, hook, a).await;
    }
    let pending = h.live().pending.ok_or(AnswerError::NoPending)?;
    if let Some(given) = &a.permission_id
        && *given != pending.id.to_string()
    {
        return Err(AnswerError::Stale {
            given: given.clone(),
            pending: pending.id.to_string(),
        });
    }
    let target = match (a.approve, a.option) {
        (_, Some(o)) => Some(o),
        (true, None) => Some(pending.default_approve()),
        // Reject: Esc is the "no" of Claude, Codex and Gemini dialogs, except where a trust
        // dialog offers its own "no" (Gemini exits on Esc there).
        (false, None) => pending.default_reject(),
    };
    if let Some(o) = target
        && !pending.options.is_empty()
        && !pending.options.iter().any(|x| x.index == o)
    {
        return Err(AnswerError::BadOption(o));
    }
    let action = Outcome::of(a.approve);
    let resolution = Resolution {
        action,
        option: target,
        by: a.by,
        reason: a.reason.clone(),
        actor: a.actor.clone(),
    };
    let keys = match target {
        None => vec!["Escape".to_owned()],
        Some(o) if pending.options.is_empty() => vec![o.to_string(), "Enter".to_owned()],
        Some(o) => pending.keys_for(o),
    };
    let mut dialog = Followed {
        request: &pending,
        resolution: &resolution,
        noted: Vec::new(),
    };
    let result = press(h, &mut dialog, target, &keys).await;
    if result.is_err() {
        // Nothing was confirmed; forget the noted answer so a later close is not misattributed.
        dialog.forget(h);
    }
    let closed = result?;
    tracing::info!(session = %h.meta.id, permission = %pending.id, action = action.as_str(), option = ?target, by = a.by.as_str(), closed, "permission answered");
    Ok(AnswerOutcome {
        permission_id: pending.id,
        action,
        option: target,
        keys,
        closed,
        status: h.status(),
        via: "keys",
    })
}

/// Answer a request held open by the PermissionRequest hook: reply to the hook (no keys), then
/// wait for a dialog that showed the same request to leave the screen.
async fn answer_hook(
    h: &SessionHandle,
    hook: HookRequest,
    a: Answer,
) -> Result<AnswerOutcome, AnswerError> {
    let screen = h.live().pending;
    if let Some(given) = &a.permission_id {
        let known = *given == hook.id.to_string()
            || screen.as_ref().is_some_and(|p| *given == p.id.to_string());
        if !known {
            return Err(AnswerError::Stale {
                given: given.clone(),
                pending: hook.id.to_string(),
            });
        }
    }
    let action = Outcome::of(a.approve);
    let resolution = Resolution {
        action,
        option: None,
        by: a.by,
        reason: a.reason.clone(),
        actor: a.actor.clone(),
    };
    if let Some(p) = &screen {
        h.perms.note_answer(p.id, resolution.clone());
    }
    let Some(answered) = h.perms.hook_decide(HookDecision {
        allow: a.approve,
        message: a.reason.clone(),
    }) else {
        return Err(AnswerError::NoPending);
    };
    h.perms.record(&answered.as_permission(), &resolution);
    h.nudge(None, "PermissionRequest answered").await;
    let closed = match &screen {
        Some(p) => {
            let id = p.id;
            h.wait_for(
                |s| s.pending.as_ref().is_none_or(|p| p.id != id),
                CLOSE_TIMEOUT,
            )
            .await
        }
        None => true,
    };
    tracing::info!(session = %h.meta.id, permission = %answered.id, tool = %answered.tool_name, action = action.as_str(), by = a.by.as_str(), "permission answered through the hook");
    Ok(AnswerOutcome {
        permission_id: answered.id,
        action,
        option: None,
        keys: Vec::new(),
        closed,
        status: h.status(),
        via: "hook",
    })
}

/// Send `keys`: cursor moves first, verified on screen, then the confirming key; then wait for
/// the dialog to leave. Returns whether it left.
///
/// The dialog is followed by what it asks (its fingerprint), not by its id: an agent that
/// redraws its whole screen (Gemini while it starts) can make the same dialog a new request
/// between two keys, with its cursor back on the first option. Such a dialog gets the moves
/// again from where its cursor is ([`Followed::place_cursor`]), and the answer is noted under
/// the id the dialog has when the confirming key goes out. That key is pressed only while the
/// screen shows the cursor on the wanted option, never on whatever a redraw left selected.
async fn press(
    h: &SessionHandle,
    dialog: &mut Followed<'_>,
    target: Option<u32>,
    keys: &[String],
) -> Result<bool, AnswerError> {
    let (moves, confirm) = keys.split_at(keys.len().saturating_sub(1));
    if !moves.is_empty() {
        h.send_keys(moves).await?;
    }
    let tracked = target.filter(|_| dialog.request.selected.is_some());
    if let Some(t) = tracked {
        dialog.place_cursor(h, t).await?;
    }
    let fingerprint = dialog.request.fingerprint;
    let gone = |s: &LiveState| {
        s.pending
            .as_ref()
            .is_none_or(|p| p.fingerprint != fingerprint)
    };
    let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
    loop {
        dialog.note(h);
        h.send_keys(confirm).await?;
        let pressed_at = crate::clock::now_ms();
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        if h.wait_for(gone, wait.min(CONFIRM_RETRY)).await {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        // Still up. An app that took the key redraws; one that dropped it shows the very
        // same frame (Codex drains the input that reached its security-sensitive dialogs
        // before they accept a decision, and a key sent right after the dialog was drawn
        // can fall in that window). Only then is the key pressed again, once the cursor is
        // seen on the wanted option again.
        let quiet = h.counters.last_activity_ms.load(Ordering::Relaxed) < pressed_at;
        if !quiet || dialog.shown(h).is_none() {
            return Ok(h
                .wait_for(
                    gone,
                    deadline.saturating_duration_since(tokio::time::Instant::now()),
                )
                .await);
        }
        if let Some(t) = tracked {
            dialog.place_cursor(h, t).await?;
        }
        tracing::info!(session = %h.meta.id, permission = %dialog.request.id, "the dialog did not take the confirming key; pressing it again");
    }
}

/// The dialog an answer is typed into, followed across redraws that give it new ids.
struct Followed<'a> {
    request: &'a PermissionRequest,
    resolution: &'a Resolution,
    /// The ids the answer is noted under: the dialog's, each time a key confirmed it.
    noted: Vec<uuid::Uuid>,
}

impl Followed<'_> {
    /// The dialog as the screen shows it now (under whichever id), if it does.
    fn shown(&self, h: &SessionHandle) -> Option<Arc<PermissionRequest>> {
        h.live()
            .pending
            .filter(|p| p.fingerprint == self.request.fingerprint)
    }

    /// Note the answer under the dialog's id right before a key confirms it: the close that
    /// key causes is attributed to this answer, and an id the dialog had only until a redraw
    /// is recorded as what it was (dismissed), not as answered.
    fn note(&mut self, h: &SessionHandle) {
        let id = self.shown(h).map_or(self.request.id, |p| p.id);
        if !self.noted.contains(&id) {
            h.perms.note_answer(id, self.resolution.clone());
            self.noted.push(id);
        }
    }

    /// Wait until the screen shows the dialog's cursor on option `t`. A dialog that left the
    /// screen is given [`REDRAW_GRACE`] to come back; one that does not was answered or
    /// dismissed some other way ([`AnswerError::NoPending`]: nothing was confirmed). A cursor
    /// left elsewhere gets the moves again, once, from where it is, but only when the dialog
    /// came back under a new id (drawn again from scratch, the moves lost with the old one).
    /// An app that is merely slow, or stalled halfway, may still have moves queued, and more
    /// would overshoot (Gemini's lists wrap around) with Enter behind them: it gets
    /// [`AnswerError::CursorNotVerified`] instead, and nothing is confirmed.
    async fn place_cursor(&self, h: &SessionHandle, t: u32) -> Result<(), AnswerError> {
        let fingerprint = self.request.fingerprint;
        let same = move |s: &LiveState| {
            s.pending
                .as_ref()
                .filter(|p| p.fingerprint == fingerprint)
                .map(|p| p.selected)
        };
        let mut moved_to = self.request.id;
        let mut moved_again = false;
        // A dialog that keeps leaving and coming back is not followed for ever.
        let give_up = tokio::time::Instant::now() + 3 * CURSOR_TIMEOUT;
        loop {
            let _ = h
                .wait_for(|s| same(s).is_none_or(|sel| sel == Some(t)), CURSOR_TIMEOUT)
                .await;
            let Some(shown) = self.shown(h) else {
                if !h.wait_for(|s| same(s).is_some(), REDRAW_GRACE).await {
                    return Err(AnswerError::NoPending);
                }
                if tokio::time::Instant::now() >= give_up {
                    return Err(AnswerError::CursorNotVerified(t));
                }
                continue;
            };
            if shown.selected == Some(t) {
                return Ok(());
            }
            let lost = shown.id != moved_to;
            if moved_again || !lost || tokio::time::Instant::now() >= give_up {
                return Err(AnswerError::CursorNotVerified(t));
            }
            let keys = shown.keys_for(t);
            let (moves, _) = keys.split_at(keys.len().saturating_sub(1));
            tracing::info!(session = %h.meta.id, permission = %shown.id, selected = ?shown.selected, option = t, "the cursor is not on the option; moving it again");
            h.send_keys(moves).await?;
            (moved_to, moved_again) = (shown.id, true);
        }
    }

    /// Forget the noted answer (nothing was confirmed).
    fn forget(&self, h: &SessionHandle) {
        for id in &self.noted {
            h.perms.take_answer(*id);
        }
    }
}
