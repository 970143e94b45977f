//! The state directory: one directory, mode 0700, holding everything the daemon persists.
//! Only this module decides paths inside it.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Create `dir` (and parents) if needed and make sure only the owner can enter it.
pub fn prepare_state_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating state dir {}", dir.display()))?;
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
