//! Worker sessions in git worktrees: branch-name validation, the `git` commands that create
//! and remove a worktree, and the record of which worker belongs to which parent (persisted
//! in `<state dir>/workers.json`, so it survives a daemon restart like the sessions do).
//!
//! A worker's worktree lives under `<state dir>/worktrees/<session id>` (0700), on a new
//! branch of the parent's repository. When the worker is removed, its worktree is removed
//! too, unless the worker was dispatched or deleted with `keepWorktree`, or the worktree holds
//! anything `git worktree remove` would destroy: uncommitted changes, untracked files, or
//! ignored files (git deletes those without asking). Such a worktree is kept and the reason is
//! logged and reported. The branch always stays, so the worker's commits survive the worktree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::persisted::Persisted;

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
    let out = crate::pty::run::run(&argv, dir, &env, GIT_TIMEOUT, GIT_TAIL)
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum WorktreeState {
    /// Checked out and in use.
    Present,
    /// Removed when the worker was removed.
    Removed,
    /// Left in place when the worker was removed; `reason` says why.
    Kept { reason: String },
}

/// The reason a worktree shows while one caller removes it (see [`Workers::cleanup`]).
pub const CLEANUP_IN_PROGRESS: &str = "cleanup in progress";

/// One dispatched worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    pub session_id: Uuid,
    pub parent_id: Uuid,
    pub branch: String,
    /// The repository the branch belongs to (top level of the parent's work tree).
    pub repo: PathBuf,
    pub worktree: PathBuf,
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    pub keep_worktree: bool,
    pub created_at_ms: u64,
    pub worktree_state: WorktreeState,
}

/// Records of workers whose worktree is gone or kept, beyond which the oldest is forgotten.
/// They only answer `GET .../workers` about past workers; the file stays small with this many.
pub const MAX_FINISHED_WORKERS: usize = 1000;

/// File of the worker records in the state dir, and its format version.
const FILE: &str = "workers.json";
const VERSION: u32 = 1;

/// The workers of this daemon, by session id, kept in `<state dir>/workers.json` so a
/// restarted daemon (whose sessions live on in their holders) still knows them: it lists
/// them under their parent and removes their worktrees when they are removed.
pub struct Workers {
    set: Persisted<HashMap<Uuid, Worker>>,
}

impl Default for Workers {
    /// Records in memory only.
    fn default() -> Self {
        Workers {
            set: Persisted::in_memory(),
        }
    }
}

impl Workers {
    /// The records saved in `state_dir`. A cleanup that a stopped daemon left half done is
    /// marked present again, so the next removal (or [`Workers::orphans`]) finishes it.
    pub fn load(state_dir: &Path) -> Self {
        let w = Workers {
            set: Persisted::load(state_dir.join(FILE), VERSION),
        };
        let interrupted = |w: &Worker| matches!(&w.worktree_state, WorktreeState::Kept { reason } if reason == CLEANUP_IN_PROGRESS);
        if w.set.read(|m| m.values().any(interrupted)) {
            w.set.update(|m| {
                for x in m.values_mut().filter(|x| interrupted(x)) {
                    x.worktree_state = WorktreeState::Present;
                }
            });
        }
        w
    }

    pub fn insert(&self, w: Worker) {
        self.set.update(|m| {
            m.insert(w.session_id, w);
            let finished = |x: &Worker| x.worktree_state != WorktreeState::Present;
            let excess = m
                .values()
                .filter(|x| finished(x))
                .count()
                .saturating_sub(MAX_FINISHED_WORKERS);
            if excess > 0 {
                let mut old: Vec<(u64, Uuid)> = m
                    .values()
                    .filter(|x| finished(x))
                    .map(|x| (x.created_at_ms, x.session_id))
                    .collect();
                old.sort_unstable();
                for (_, id) in old.into_iter().take(excess) {
                    m.remove(&id);
                }
            }
        });
    }

    pub fn count(&self) -> usize {
        self.set.read(HashMap::len)
    }

    pub fn get(&self, id: &Uuid) -> Option<Worker> {
        self.set.read(|m| m.get(id).cloned())
    }

    /// Workers of `parent`, oldest first.
    pub fn of_parent(&self, parent: &Uuid) -> Vec<Worker> {
        let mut v: Vec<Worker> = self.set.read(|m| {
            m.values()
                .filter(|w| w.parent_id == *parent)
                .cloned()
                .collect()
        });
        v.sort_by_key(|w| w.created_at_ms);
        v
    }

    /// Workers whose worktree is still present although `exists` says their session is gone
    /// (removed while no daemon ran, or before a crash let the cleanup finish).
    pub fn orphans(&self, exists: impl Fn(&Uuid) -> bool) -> Vec<Uuid> {
        self.set.read(|m| {
            m.values()
                .filter(|w| w.worktree_state == WorktreeState::Present && !exists(&w.session_id))
                .map(|w| w.session_id)
                .collect()
        })
    }

    /// Ask that `id`'s worktree survive its removal. Returns false if `id` is no worker.
    pub fn set_keep(&self, id: &Uuid) -> bool {
        self.set
            .update(|m| m.get_mut(id).map(|w| w.keep_worktree = true).is_some())
    }

    /// Claim the cleanup of `id`'s worktree: returns the worker if its worktree is still
    /// present, and marks it so that a concurrent caller does not clean up twice.
    fn claim_cleanup(&self, id: &Uuid) -> Option<Worker> {
        if self.get(id)?.worktree_state != WorktreeState::Present {
            return None;
        }
        self.set.update(|m| {
            let w = m.get_mut(id)?;
            // Checked again under the lock: another caller may have claimed it meanwhile.
            if w.worktree_state != WorktreeState::Present {
                return None;
            }
            let claimed = w.clone();
            w.worktree_state = WorktreeState::Kept {
                reason: CLEANUP_IN_PROGRESS.into(),
            };
            Some(claimed)
        })
    }

    fn set_state(&self, id: &Uuid, state: WorktreeState) {
        self.set.update(|m| {
            if let Some(w) = m.get_mut(id) {
                w.worktree_state = state;
            }
        });
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
    // --ignored: `git worktree remove` deletes ignored files (build output, but also a
    // `.env`) without complaint, so they count as something to keep. Untracked directories
    // are listed whole (`normal`), which keeps a huge ignored `target/` to one line.
    match git(
        &w.worktree,
        &[
            "status",
            "--porcelain",
            "--untracked-files=normal",
            "--ignored=traditional",
        ],
    )
    .await
    {
        Ok(s) if !s.is_empty() => {
            return WorktreeState::Kept {
                reason: dirty_reason(&s),
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

/// Why a worktree whose `git status --porcelain --ignored` printed `status` must be kept:
/// how many paths are changed or untracked and how many are ignored, with a few examples.
fn dirty_reason(status: &str) -> String {
    /// Paths named in the reason; the rest are counted.
    const EXAMPLES: usize = 3;
    // A line is `XY <path>`; `git` trimmed the output, so the first line may have lost the
    // blank X of an unstaged change. Splitting at the first space after the code copes.
    let entries = status.lines().filter_map(|l| {
        let (code, path) = l.trim_start().split_once(' ')?;
        Some((code == "!!", path.trim_start()))
    });
    let (ignored, changed): (Vec<_>, Vec<_>) = entries.partition(|(ignored, _)| *ignored);
    let part = |lines: &[(bool, &str)], what: &str| {
        let names: Vec<&str> = lines.iter().take(EXAMPLES).map(|(_, p)| *p).collect();
        let more = if lines.len() > EXAMPLES { ", ..." } else { "" };
        format!("{} {what} ({}{more})", lines.len(), names.join(", "))
    };
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(part(&changed, "path(s) with uncommitted changes"));
    }
    if !ignored.is_empty() {
        parts.push(part(
            &ignored,
            "ignored path(s) that `git worktree remove` would delete",
        ));
    }
    format!(
        "{}; commit, move or delete them, then run `git worktree remove`",
        parts.join(" and ")
    )
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
    use super::{dirty_reason, validate_branch};

    #[test]
    fn dirty_reason_counts_changes_and_ignored_paths() {
        let r = dirty_reason("M README\n?? new.txt\n!! target/\n!! .env");
        assert!(
            r.starts_with(
                "2 path(s) with uncommitted changes (README, new.txt) and 2 ignored path(s)"
            ),
            "{r}"
        );
        assert!(r.contains("(target/, .env)"), "{r}");
        let r = dirty_reason("!! a\n!! b\n!! c\n!! d");
        assert!(
            r.starts_with(
                "4 ignored path(s) that `git worktree remove` would delete (a, b, c, ...)"
            ),
            "{r}"
        );
    }

    #[test]
    fn branch_names_follow_check_ref_format() {
        for ok in ["feature/x", "worker-1", "a.b", "bug_9/fix-it", "UPPER"] {
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
