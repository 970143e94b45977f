//! Worker sessions in git worktrees: branch-name validation, the `git` commands that create
//! and remove a worktree, and the record of which worker belongs to which parent.
//!
//! A worker's worktree lives under `<state dir>/worktrees/<session id>` (0700), on a new
//! branch of the parent's repository. When the worker is removed, its worktree is removed
//! too, unless the worker was dispatched or deleted with `keepWorktree`, or the worktree has
//! uncommitted changes: those are kept and the reason is logged and reported. The branch
//! always stays, so the worker's commits survive the worktree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

/// How long one `git` command may take. Creating a worktree checks out the tree, which for a
/// large repository on a slow disk takes seconds, not minutes.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Output of a `git` command kept for error messages and parsing.
const GIT_TAIL: usize = 16 * 1024;

/// Longest accepted branch name (git has no limit; refs become file names, so stay well
/// below a file system's 255-byte component limit).
const MAX_BRANCH_LEN: usize = 200;

/// Whether `name` is a valid new branch name: git's check-ref-format rules for
/// `refs/heads/<name>`, plus no leading '-', so it can never be taken for an option.
pub fn validate_branch(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid branch name {name:?}: {why}"));
    if name.is_empty() || name.len() > MAX_BRANCH_LEN {
        return bad(&format!("use 1 to {MAX_BRANCH_LEN} bytes"));
    }
    if name.starts_with('-') {
        return bad("must not start with '-'");
    }
    if name == "@" || name == "HEAD" {
        return bad("reserved name");
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return bad("must not contain '..', '@{' or '//'");
    }
    if name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        return bad("must not start or end with '/' or end with '.'");
    }
    if name
        .chars()
        .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
    {
        return bad("must not contain spaces, control characters or any of ~^:?*[\\");
    }
    for part in name.split('/') {
        if part.starts_with('.') || part.ends_with(".lock") {
            return bad("no component may start with '.' or end with '.lock'");
        }
    }
    Ok(())
}

/// Run `git` with `args` in `dir`; the trimmed output on success, else an error with it.
pub async fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["git".to_owned()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    // Never wait for a credential or editor prompt: there is no terminal to answer it.
    let env = [("GIT_TERMINAL_PROMPT", "0"), ("GIT_EDITOR", "true")];
    let out = super::run::run(&argv, dir, &env, GIT_TIMEOUT, GIT_TAIL)
        .await
        .map_err(|e| format!("could not run git: {e}"))?;
    let text = out.tail_text().trim().to_owned();
    if out.timed_out {
        return Err(format!("git {} timed out", args.join(" ")));
    }
    if out.success() {
        Ok(text)
    } else {
        Err(format!("git {} failed: {text}", args.join(" ")))
    }
}

/// What happened to a worker's worktree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum WorktreeState {
    /// Checked out and in use.
    Present,
    /// Removed when the worker was removed.
    Removed,
    /// Left in place when the worker was removed; `reason` says why.
    Kept { reason: String },
}

/// One dispatched worker.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    pub session_id: Uuid,
    pub parent_id: Uuid,
    pub branch: String,
    /// The repository the branch belongs to (top level of the parent's work tree).
    pub repo: PathBuf,
    pub worktree: PathBuf,
    pub task: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    pub keep_worktree: bool,
    pub created_at_ms: u64,
    pub worktree_state: WorktreeState,
}

/// The workers of this daemon, by session id.
#[derive(Default)]
pub struct Workers {
    map: Mutex<HashMap<Uuid, Worker>>,
}

impl Workers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Worker>> {
        // Every critical section is a map operation that cannot panic.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, w: Worker) {
        self.lock().insert(w.session_id, w);
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    pub fn get(&self, id: &Uuid) -> Option<Worker> {
        self.lock().get(id).cloned()
    }

    /// Workers of `parent`, oldest first.
    pub fn of_parent(&self, parent: &Uuid) -> Vec<Worker> {
        let mut v: Vec<Worker> = self
            .lock()
            .values()
            .filter(|w| w.parent_id == *parent)
            .cloned()
            .collect();
        v.sort_by_key(|w| w.created_at_ms);
        v
    }

    /// Ask that `id`'s worktree survive its removal. Returns false if `id` is no worker.
    pub fn set_keep(&self, id: &Uuid) -> bool {
        self.lock()
            .get_mut(id)
            .map(|w| w.keep_worktree = true)
            .is_some()
    }

    /// Claim the cleanup of `id`'s worktree: returns the worker if its worktree is still
    /// present, and marks it so that a concurrent caller does not clean up twice.
    fn claim_cleanup(&self, id: &Uuid) -> Option<Worker> {
        let mut map = self.lock();
        let w = map.get_mut(id)?;
        if w.worktree_state != WorktreeState::Present {
            return None;
        }
        let claimed = w.clone();
        w.worktree_state = WorktreeState::Kept {
            reason: "cleanup in progress".into(),
        };
        Some(claimed)
    }

    fn set_state(&self, id: &Uuid, state: WorktreeState) {
        if let Some(w) = self.lock().get_mut(id) {
            w.worktree_state = state;
        }
    }

    /// The worker `id` was removed: remove its worktree unless it must be kept. Returns the
    /// resulting state (`None` if `id` is no worker or was already cleaned up).
    pub async fn cleanup(&self, id: &Uuid) -> Option<WorktreeState> {
        let w = self.claim_cleanup(id)?;
        let state = remove_worktree(&w).await;
        match &state {
            WorktreeState::Kept { reason } => {
                tracing::warn!(worker = %id, worktree = %w.worktree.display(), %reason, "worktree kept")
            }
            _ => tracing::info!(worker = %id, worktree = %w.worktree.display(), "worktree removed"),
        }
        self.set_state(id, state.clone());
        Some(state)
    }
}

async fn remove_worktree(w: &Worker) -> WorktreeState {
    if w.keep_worktree {
        return WorktreeState::Kept {
            reason: "keepWorktree was requested".into(),
        };
    }
    if !w.worktree.is_dir() {
        return WorktreeState::Kept {
            reason: "the worktree directory no longer exists".into(),
        };
    }
    match git(
        &w.worktree,
        &["status", "--porcelain", "--untracked-files=all"],
    )
    .await
    {
        Ok(s) if !s.is_empty() => {
            return WorktreeState::Kept {
                reason: format!(
                    "uncommitted changes in {} path(s); commit or remove them, then run `git worktree remove`",
                    s.lines().count()
                ),
            };
        }
        Ok(_) => {}
        Err(e) => {
            return WorktreeState::Kept {
                reason: format!("could not check for uncommitted changes: {e}"),
            };
        }
    }
    let path = w.worktree.to_string_lossy().into_owned();
    // No --force: git itself refuses a dirty or locked worktree, a second safety net.
    match git(&w.repo, &["worktree", "remove", "--", &path]).await {
        Ok(_) => WorktreeState::Removed,
        Err(e) => WorktreeState::Kept {
            reason: format!("git refused to remove it: {e}"),
        },
    }
}

/// Create a worktree at `path` on the new branch `branch`, starting at the repository's HEAD.
pub async fn add_worktree(repo: &Path, branch: &str, path: &Path) -> Result<(), String> {
    let p = path.to_string_lossy().into_owned();
    git(repo, &["worktree", "add", "-b", branch, "--", &p, "HEAD"])
        .await
        .map(drop)
}

/// Undo [`add_worktree`] after the worker could not be started (nothing was done in it yet).
pub async fn discard_worktree(repo: &Path, branch: &str, path: &Path) {
    let p = path.to_string_lossy().into_owned();
    if let Err(e) = git(repo, &["worktree", "remove", "--force", "--", &p]).await {
        tracing::warn!(error = %e, "could not remove a worktree whose worker failed to start");
    }
    if let Err(e) = git(repo, &["branch", "-D", "--", branch]).await {
        tracing::warn!(error = %e, "could not delete the branch of a worker that failed to start");
    }
}

#[cfg(test)]
mod tests {
    use super::validate_branch;

    #[test]
    fn branch_names_follow_check_ref_format() {
        for ok in ["feature/x", "worker-1", "a.b", "issue_9/fix-it", "UPPER"] {
            assert!(validate_branch(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", "--force", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "/a",
            "a/", "a.", ".a", "a/.b", "a.lock", "a/b.lock", "a@{1}", "@", "HEAD", "a//b",
            "a\u{7f}", "a\tb",
        ] {
            assert!(validate_branch(bad).is_err(), "{bad:?}");
        }
    }
}
