//! Work on a session's directory that is not the session itself: the quality gate
//! ([`verify`]), worker sessions in git worktrees ([`worktree`]), debriefs before a kill
//! ([`debrief`]), and the bounded helper-process runner they share ([`run`]).
//!
//! Only `api::work` knows the wire shapes; this module holds the logic and the state.

pub mod debrief;
pub mod run;
pub mod verify;
pub mod worktree;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::events::{EventBus, EventKind};

/// Verify runs at once, daemon-wide. Checks are builds and test suites that each want every
/// core; running more at once only makes all of them slower. Further requests wait their turn.
pub const MAX_CONCURRENT_VERIFY: usize = 2;

/// State of this module, owned by the API's `App`.
pub struct Work {
    pub workers: Arc<worktree::Workers>,
    pub verify_slots: Semaphore,
}

impl Default for Work {
    fn default() -> Self {
        Work {
            workers: Default::default(),
            verify_slots: Semaphore::new(MAX_CONCURRENT_VERIFY),
        }
    }
}

impl Work {
    /// Remove a worker's worktree whenever the worker session is removed, by whatever route
    /// (DELETE, batch delete, debrief-then-kill). Cleanup is idempotent, so a route that
    /// already cleaned up synchronously is not repeated.
    pub fn spawn_cleanup(&self, bus: &EventBus, token: CancellationToken) {
        let mut rx = bus.subscribe();
        let workers = self.workers.clone();
        tokio::spawn(async move {
            loop {
                let ev = tokio::select! {
                    _ = token.cancelled() => return,
                    ev = rx.recv() => ev,
                };
                match ev {
                    Ok(ev) if ev.kind == EventKind::SessionKilled => {
                        if workers.get(&ev.session_id).is_some() {
                            workers.cleanup(&ev.session_id).await;
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "worktree cleanup lagged the event bus; a removed worker may keep its worktree"
                        );
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
}
