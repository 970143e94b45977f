//! Work on a session's directory that is not the session itself: the quality gate
//! ([`verify`]), worker sessions in git worktrees ([`worktree`]), debriefs before a kill
//! ([`debrief`]), and the bounded helper-process runner they share ([`run`]).
//!
//! Only `api::work` knows the wire shapes; this module holds the logic and the state.

pub mod debrief;
pub mod verify;
pub mod worktree;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;

/// Verify runs at once, daemon-wide. Checks are builds and test suites that each want every
/// core; running more at once only makes all of them slower. Further requests wait their turn.
pub const MAX_CONCURRENT_VERIFY: usize = 2;

/// State of this module, owned by the API's `App`.
pub struct Work {
    pub workers: Arc<worktree::Workers>,
    pub verify_slots: Semaphore,
}

impl Work {
    /// The state of a daemon whose state dir is `state_dir` (worker records are loaded from it).
    pub fn load(state_dir: &Path) -> Self {
        Work {
            workers: Arc::new(worktree::Workers::load(state_dir)),
            verify_slots: Semaphore::new(MAX_CONCURRENT_VERIFY),
        }
    }

    /// The worker `id` was removed, by whatever route (DELETE, batch delete, debrief-then-kill,
    /// or while no daemon ran): remove its worktree in the background unless it must be kept.
    /// Cleanup is idempotent, so a route that already cleaned up synchronously is not repeated.
    pub fn spawn_cleanup(&self, id: uuid::Uuid) {
        if self.workers.get(&id).is_none() {
            return;
        }
        let workers = self.workers.clone();
        // A task per worker: git may take seconds, and the caller (the bus listener) must not
        // fall behind the bus meanwhile.
        tokio::spawn(async move {
            workers.cleanup(&id).await;
        });
    }
}
