//! Permission requests: answering them (approve / reject with the agent's keys, verified on
//! screen), per-session policies that answer them automatically, expiry with a default action,
//! and the history of every answer.
//!
//! The detector finds and parses dialogs (`detect::prompt`); the session actor publishes
//! `permission.requested` when one appears and `permission.resolved` when it leaves the screen,
//! taking the resolution recorded here (by the API, a policy or expiry) or "dismissed" when it
//! left without us (answered by an attached human, or the agent moved on).
//!
//! Answering is done outside the actor, through the session's ordered input queue: move the
//! cursor with arrows, wait until the screen shows the cursor on the wanted option, press Enter,
//! then wait until the dialog is gone. Digit shortcuts are not used: they have regressed in
//! Claude several times and their meaning depends on the option count (peers.md §9.2).

pub mod hook;
pub mod policy;
pub mod supervisor;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::clock::now_ms;
use crate::detect::prompt::PermissionRequest;
use crate::session::SessionHandle;
use crate::vocab::{SessionMeta, SessionStatus};
pub use policy::{Action, Policy};

/// Answers kept per session. Older entries are dropped first; a session rarely sees more than
/// a few hundred prompts, and this bounds memory for one that loops.
pub const HISTORY_LIMIT: usize = 500;

/// How long to wait for the cursor to reach the wanted option after the arrow keys. Ink and
/// ratatui redraw within a frame (~16–50 ms); 2 s leaves room for a loaded machine.
pub const CURSOR_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait for the dialog to leave the screen after the confirming key.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a request was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// "approved", "rejected" or "dismissed".
    pub action: &'static str,
    pub option: Option<u32>,
    /// Who answered: "api", "policy", "expiry", "trust" or "screen".
    pub by: &'static str,
    /// Why (the policy rule, the human's feedback or reason).
    pub reason: Option<String>,
    /// The named approver/rejecter, if the client gave one.
    pub actor: Option<String>,
}

impl Resolution {
    pub fn dismissed() -> Self {
        Resolution {
            action: "dismissed",
            option: None,
            by: "screen",
            reason: None,
            actor: None,
        }
    }
}

/// One entry of a session's permission history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub request: PermissionRequest,
    pub resolution: Resolution,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

#[derive(Default)]
struct Inner {
    policy: Policy,
    /// Answers sent but not yet seen to close the dialog, by request id.
    answers: HashMap<uuid::Uuid, Resolution>,
    history: VecDeque<HistoryEntry>,
    /// A request held open by Claude Code's PermissionRequest hook (see [`hook`]).
    hook: Option<hook::Held>,
}

/// Per-session permission state, shared by the actor, the API and the supervisor.
#[derive(Default)]
pub struct SessionPermissions {
    inner: Mutex<Inner>,
}

impl SessionPermissions {
    pub fn new(policy: Policy) -> Self {
        SessionPermissions {
            inner: Mutex::new(Inner {
                policy,
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // No code path panics while holding the lock; a poisoned one still holds valid data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn policy(&self) -> Policy {
        self.lock().policy.clone()
    }

    pub fn set_policy(&self, f: impl FnOnce(&mut Policy)) -> Policy {
        let mut g = self.lock();
        f(&mut g.policy);
        g.policy.clone()
    }

    /// Note how `id` is being answered, before the keys are sent.
    pub fn note_answer(&self, id: uuid::Uuid, r: Resolution) {
        self.lock().answers.insert(id, r);
    }

    /// The answer recorded for `id`, or "dismissed" when nobody here answered it.
    pub fn take_answer(&self, id: uuid::Uuid) -> Resolution {
        self.lock()
            .answers
            .remove(&id)
            .unwrap_or_else(Resolution::dismissed)
    }

    pub fn record(&self, request: &PermissionRequest, resolution: &Resolution) {
        let mut g = self.lock();
        if g.history.len() >= HISTORY_LIMIT {
            g.history.pop_front();
        }
        g.history.push_back(HistoryEntry {
            request: request.clone(),
            resolution: resolution.clone(),
            at_ms: now_ms(),
        });
    }

    pub fn history(&self) -> Vec<HistoryEntry> {
        self.lock().history.iter().cloned().collect()
    }
}

/// The wire form of a request (also the `permission.requested` event detail).
pub fn request_json(meta: &SessionMeta, r: &PermissionRequest) -> Value {
    let options: Vec<Value> = r
        .options
        .iter()
        .map(|o| {
            json!({
                "index": o.index,
                "label": o.label,
                "keys": r.keys_for(o.index),
                "selected": r.selected == Some(o.index),
            })
        })
        .collect();
    json!({
        "id": r.id,
        "sessionId": meta.id,
        "sessionName": meta.name,
        "agentType": meta.agent_type.as_str(),
        "kind": r.kind.as_str(),
        "title": r.title,
        "detail": r.detail,
        "options": options,
        "rejectKeys": ["Escape"],
        "rule": r.rule,
        "createdAt": r.created_at_ms,
        "expiresAt": r.expires_at_ms,
    })
}

/// The `permission.resolved` event detail.
pub fn resolved_detail(r: &PermissionRequest, res: &Resolution) -> Value {
    json!({
        "permissionId": r.id,
        "kind": r.kind.as_str(),
        "title": r.title,
        "detail": r.detail,
        "resolution": res.action,
        "option": res.option,
        "by": res.by,
        "reason": res.reason,
        "actor": res.actor,
    })
}

pub fn history_json(e: &HistoryEntry) -> Value {
    let mut v = resolved_detail(&e.request, &e.resolution);
    v["at"] = json!(e.at_ms);
    v
}

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
    Handle(#[from] crate::session::actor::HandleError),
}

/// What an answer did.
#[derive(Debug, Clone)]
pub struct AnswerOutcome {
    pub permission_id: uuid::Uuid,
    pub action: &'static str,
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
    pub by: &'static str,
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
        // Reject: Esc is the "no" of Claude, Codex and Gemini dialogs.
        (false, None) => None,
    };
    if let Some(o) = target
        && !pending.options.is_empty()
        && !pending.options.iter().any(|x| x.index == o)
    {
        return Err(AnswerError::BadOption(o));
    }
    let action = if a.approve { "approved" } else { "rejected" };
    h.perms.note_answer(
        pending.id,
        Resolution {
            action,
            option: target,
            by: a.by,
            reason: a.reason.clone(),
            actor: a.actor.clone(),
        },
    );
    let keys = match target {
        None => vec!["Escape".to_owned()],
        Some(o) if pending.options.is_empty() => vec![o.to_string(), "Enter".to_owned()],
        Some(o) => pending.keys_for(o),
    };
    let result = press(h, &pending, target, &keys).await;
    if result.is_err() {
        // Nothing was confirmed; forget the noted answer so a later close is not misattributed.
        h.perms.take_answer(pending.id);
    }
    let closed = result?;
    tracing::info!(session = %h.meta.id, permission = %pending.id, action, option = ?target, by = a.by, closed, "permission answered");
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
    hook: hook::HookRequest,
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
    let action = if a.approve { "approved" } else { "rejected" };
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
    let Some(answered) = h.perms.hook_decide(hook::HookDecision {
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
    tracing::info!(session = %h.meta.id, permission = %answered.id, tool = %answered.tool_name, action, by = a.by, "permission answered through the hook");
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
async fn press(
    h: &SessionHandle,
    pending: &PermissionRequest,
    target: Option<u32>,
    keys: &[String],
) -> Result<bool, AnswerError> {
    let id = pending.id;
    let (moves, confirm) = keys.split_at(keys.len().saturating_sub(1));
    if !moves.is_empty() {
        h.send_keys(moves).await?;
    }
    if let Some(t) = target
        && pending.selected.is_some()
    {
        let on_target = h
            .wait_for(
                |s| {
                    s.pending
                        .as_ref()
                        .is_none_or(|p| p.id != id || p.selected == Some(t))
                },
                CURSOR_TIMEOUT,
            )
            .await;
        let still_same = h.live().pending.is_some_and(|p| p.id == id);
        if !on_target && still_same {
            return Err(AnswerError::CursorNotVerified(t));
        }
    }
    h.send_keys(confirm).await?;
    Ok(h.wait_for(
        |s| s.pending.as_ref().is_none_or(|p| p.id != id),
        CLOSE_TIMEOUT,
    )
    .await)
}
