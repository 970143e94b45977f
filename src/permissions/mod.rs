//! Permission requests: answering them (approve / reject with the agent's keys, verified on
//! screen), per-session policies that answer them automatically, expiry with a default action,
//! and the history of every answer.
//!
//! The detector finds and parses dialogs (`detect::prompt`); the session actor publishes
//! `permission.requested` when one appears and `permission.resolved` when it leaves the screen,
//! taking the resolution recorded here (by the API, a policy or expiry) or "dismissed" when it
//! left without us (answered by an attached human, or the agent moved on).
//!
//! This module is the state and the rules, with no I/O: answering a dialog (keys through the
//! session's input queue, or the reply to a held hook request) and the per-session supervisor
//! that applies policies and expiry are the session layer's (`session::answer`,
//! `session::supervisor`), because they drive a session.

pub mod hook;
pub mod policy;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::clock::now_ms;
use crate::detect::prompt::PermissionRequest;
use crate::vocab::SessionMeta;
pub use policy::{Action, Policy};

/// Answers kept per session. Older entries are dropped first; a session rarely sees more than
/// a few hundred prompts, and this bounds memory for one that loops.
pub const HISTORY_LIMIT: usize = 500;

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
