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

use crate::clock::now_ms;
use crate::detect::prompt::PermissionRequest;
pub use policy::{Action, Policy};

/// Answers kept per session. Older entries are dropped first; a session rarely sees more than
/// a few hundred prompts, and this bounds memory for one that loops.
pub const HISTORY_LIMIT: usize = 500;

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Rejected,
    /// It left the screen without an answer from us (a human at an attached terminal, or the
    /// agent moved on).
    Dismissed,
}

impl Outcome {
    /// Approved when `approve`, else rejected.
    pub fn of(approve: bool) -> Outcome {
        if approve {
            Outcome::Approved
        } else {
            Outcome::Rejected
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Rejected => "rejected",
            Outcome::Dismissed => "dismissed",
        }
    }
}

/// Who answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnsweredBy {
    /// A client of the API (a person, or an orchestrator acting for one).
    Api,
    /// A policy rule, flag or profile of the session.
    Policy,
    /// The request expired and the default action applied.
    Expiry,
    /// The session's trust-folder setting answered the start-up trust dialog.
    Trust,
    /// Nobody here: the dialog left the screen.
    Screen,
}

impl AnsweredBy {
    /// The answerers that are not a person: what the metrics count as automatic approvals.
    pub const AUTOMATIC: [AnsweredBy; 3] =
        [AnsweredBy::Policy, AnsweredBy::Trust, AnsweredBy::Expiry];

    pub fn is_automatic(self) -> bool {
        Self::AUTOMATIC.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AnsweredBy::Api => "api",
            AnsweredBy::Policy => "policy",
            AnsweredBy::Expiry => "expiry",
            AnsweredBy::Trust => "trust",
            AnsweredBy::Screen => "screen",
        }
    }
}

/// How a request was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub action: Outcome,
    pub option: Option<u32>,
    pub by: AnsweredBy,
    /// Why (the policy rule, the human's feedback or reason).
    pub reason: Option<String>,
    /// The named approver/rejecter, if the client gave one.
    pub actor: Option<String>,
}

impl Resolution {
    pub fn dismissed() -> Self {
        Resolution {
            action: Outcome::Dismissed,
            option: None,
            by: AnsweredBy::Screen,
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
