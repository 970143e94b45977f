//! Per-session statistics (`GET /v1/sessions/:id/metrics`, `/latency`): created on first use,
//! forgotten when the session is removed, with tombstones so a late event of a removed session
//! does not bring its statistics back.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{Latencies, Metrics};
use crate::vocab::SessionStatus;

/// Status changes kept per session for `statusChanges`; a session that flaps for days keeps
/// only its most recent ones.
pub const STATUS_HISTORY: usize = 200;

/// Ids of removed sessions remembered, so that a late event of a removed session does not
/// bring its statistics back (and leak them).
const TOMBSTONES: usize = 4096;

/// Per-session statistics (`GET /v1/sessions/:id/metrics`, `/latency`).
#[derive(Debug, Default)]
pub struct SessionStats {
    /// Texts sent to the session (API sends, first prompts, bash/command, stimuli).
    pub messages: AtomicU64,
    /// Tool calls reported by the agent's hooks (see [`Metrics::tool_call`]).
    pub tool_calls: AtomicU64,
    /// Permission prompts approved by a person (the API or an attached terminal).
    pub approvals: AtomicU64,
    /// Permission prompts approved by a policy, the trust setting or expiry.
    pub auto_approvals: AtomicU64,
    /// Epoch ms of the exit; 0 while running.
    pub exited_at_ms: AtomicU64,
    /// Epoch ms of the creation event; 0 for sessions adopted after a restart.
    pub(super) created_ms: AtomicU64,
    status_changes: Mutex<VecDeque<&'static str>>,
    /// The pending permission request and when it appeared (epoch ms).
    pub(super) asked: Mutex<Option<(Uuid, u64)>>,
    pub latency: Latencies,
}

impl SessionStats {
    /// The statuses the session went through, oldest first.
    pub fn status_changes(&self) -> Vec<&'static str> {
        self.status_changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    pub(super) fn push_status(&self, s: SessionStatus) {
        let mut g = self
            .status_changes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if g.len() >= STATUS_HISTORY {
            g.pop_front();
        }
        g.push_back(s.as_str());
    }
}

#[derive(Default)]
pub(super) struct PerSession {
    stats: HashMap<Uuid, Arc<SessionStats>>,
    removed: HashSet<Uuid>,
    removed_order: VecDeque<Uuid>,
}

impl Metrics {
    pub(super) fn per_session(&self) -> std::sync::MutexGuard<'_, PerSession> {
        // Nothing panics under this lock; a poisoned one still holds valid maps.
        self.per_session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The statistics of a session; created on first use unless the session was removed.
    pub fn session(&self, id: Uuid) -> Option<Arc<SessionStats>> {
        let mut g = self.per_session();
        if g.removed.contains(&id) {
            return None;
        }
        Some(g.stats.entry(id).or_default().clone())
    }

    pub(super) fn forget(&self, id: Uuid) {
        let mut g = self.per_session();
        g.stats.remove(&id);
        if g.removed.insert(id) {
            g.removed_order.push_back(id);
        }
        if g.removed_order.len() > TOMBSTONES
            && let Some(old) = g.removed_order.pop_front()
        {
            g.removed.remove(&old);
        }
    }
}
