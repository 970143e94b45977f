//! The state directory: one directory, mode 0700, holding everything the daemon persists.
//! Only this module (and the holder, for its own session directory) decides paths inside it.
//!
//! Layout (format version 1):
//!
//! ```text
//! <state dir>/                     0700
//!   registry.json                  session registry: metadata, status history, exit codes,
//!                                  stall thresholds, what Claude's hooks reported
//!                                  (`{"version": 1, "sessions": [...]}`), replaced atomically
//!   registry.json.corrupt-<ms>     a registry that could not be read, kept for inspection
//!   memory.json                    memory bridge entries with expiry (see [`memory`])
//!   keys.json                      API keys: SHA-256 digests and scopes (see [`keys`])
//!   hooks/<id>.json                0600 Claude Code settings file of a session with hooks,
//!                                  holding its hook secret (see `crate::hooks`)
//!   workers.json                   git-worktree worker records (`work::worktree`, via
//!                                  [`persisted`])
//!   orchestration.json             session roles (pipeline stage, reviewer) and completions
//!                                  (`orchestrate`, via [`persisted`])
//!   templates.json                 session templates (`orchestrate::templates`)
//!   worktrees/<id>/                0700, the git worktree of worker session <id>
//!   debriefs/<id>.json             debriefs captured before a kill (`work::debrief`)
//!   sessions/<id>/                 0700, one per session
//!     meta.json                    the session's fixed facts, written once at creation; the
//!                                  registry can be rebuilt from these
//!     holder.sock                  the holder's socket (0600) while it runs
//!     holder.log                   the holder's log
//!     exit.json                    the child's exit status, written by the holder as it exits
//!     recording.cast               asciicast v2 recording; rotated to recording.N.cast
//! ```
//!
//! Every JSON file is written atomically ([`atomic`]: write, fsync, rename, fsync the
//! directory), so a crash leaves the old or the new version, never a torn one. Files carry a
//! `version`; a daemon refuses to start on a newer version rather than overwrite it.

pub mod atomic;
pub mod keys;
pub mod memory;
pub mod persisted;
pub mod recording;
pub mod registry;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where the state directory is when none is given (`--state-dir`, `AEGIS_STATE_DIR`):
/// `$XDG_STATE_HOME/aegis`, else `~/.local/state/aegis`.
pub fn default_state_dir() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("aegis"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("HOME is not set; pass --state-dir"))?;
    Ok(PathBuf::from(home).join(".local/state/aegis"))
}

/// The directory of session `id`.
pub fn session_dir(state_dir: &Path, id: &uuid::Uuid) -> PathBuf {
    state_dir.join("sessions").join(id.to_string())
}

/// Create `dir` (and parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Create `dir` (and parents) if needed and make sure only the owner can enter it.
pub fn prepare_state_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    create_private_dir(dir).with_context(|| format!("creating state dir {}", dir.display()))?;
    let meta =
        std::fs::metadata(dir).with_context(|| format!("reading state dir {}", dir.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), "state dir was accessible to others; setting mode 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting mode 0700 on {}", dir.display()))?;
    }
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

/// Longest path a Unix socket can have (`sun_path` is 108 bytes with the terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// A socket path that fits in `sun_path`, or why not, in words a user can act on (binding a
/// longer one fails with an error that names neither the path nor the limit).
pub fn check_socket_path(path: &Path, what: &str) -> Result<(), String> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(format!(
            "{what} {} is {len} bytes long, over the {MAX_SOCKET_PATH}-byte limit of a Unix \
             socket path; use a shorter directory",
            path.display()
        ));
    }
    Ok(())
}
