//! The file browser's rules: which directories may be listed (the configured project roots)
//! and where an upload may land (inside a session's workDir).
//!
//! Confinement is decided twice: first on the path as written (`.` and `..` resolved as
//! text), which must be a root or below one before the file system is touched, so a refusal
//! never tells whether something outside exists; then on the resolved path (symlinks and `..`
//! resolved by the kernel's view of the file system), which must also be below a root. A
//! symlink inside a root that points outside is therefore refused, however it is reached. Upload names are plain file names: no separators, no `..`, nothing hidden
//! behind a symlink; the file is created with `O_EXCL` (or `O_NOFOLLOW` when replacing), so
//! a symlink planted at the target is never followed.

use std::path::{Path, PathBuf};

/// Most entries one listing returns; a directory with more is truncated (and says so) rather
/// than building an unbounded response.
pub const MAX_LIST_ENTRIES: usize = 5000;

/// Why a path was refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Io(String),
}

/// A configured project root.
#[derive(Debug, Clone)]
pub struct Root {
    /// As configured, with `.` and `..` resolved lexically: how clients spell paths below it.
    pub configured: PathBuf,
    /// Resolved by the file system (symlinks followed): what confinement finally checks.
    pub real: PathBuf,
}

/// The configured roots; roots that do not exist are dropped with a warning.
pub fn resolve_roots(roots: &[PathBuf]) -> Vec<Root> {
    roots
        .iter()
        .filter_map(|r| match r.canonicalize() {
            Ok(c) if c.is_dir() => Some(Root {
                configured: lexical(r),
                real: c,
            }),
            _ => {
                tracing::warn!(root = %r.display(), "project root does not exist or is not a directory; ignored");
                None
            }
        })
        .collect()
}

/// `path` with `.` and `..` components resolved as text, without asking the file system
/// (`..` at the root stays at the root, as the kernel does).
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Check `path` lies within one of `roots`, then resolve it. Two checks, in this order:
/// 1. As text: a path not below a root (as configured, or as resolved) is refused before the
///    file system is asked anything about it, so the answer (403, never 404) reveals nothing
///    about what exists outside the roots.
/// 2. As resolved by the kernel: symlinks and `..` through them may lead elsewhere; the real
///    path must still be below a real root.
pub fn confine(roots: &[Root], path: &str) -> Result<PathBuf, FileError> {
    if path.is_empty() || path.contains('\0') {
        return Err(FileError::Invalid("path is required".into()));
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(FileError::Invalid(format!("path must be absolute: {path}")));
    }
    let forbidden =
        || FileError::Forbidden(format!("{path} is outside the configured project roots"));
    let spelled = lexical(p);
    if !roots
        .iter()
        .any(|r| spelled.starts_with(&r.configured) || spelled.starts_with(&r.real))
    {
        return Err(forbidden());
    }
    let real = p
        .canonicalize()
        .map_err(|_| FileError::NotFound(format!("no such directory: {path}")))?;
    if roots.iter().any(|r| real.starts_with(&r.real)) {
        Ok(real)
    } else {
        Err(forbidden())
    }
}

/// One directory entry.
/// The kinds of [`Entry`].
pub const ENTRY_KINDS: [&str; 4] = ["file", "dir", "symlink", "other"];

/// One entry of a listed directory.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    /// `file`, `dir`, `symlink` or `other` (a symlink is not followed).
    pub kind: &'static str,
    pub size: u64,
    /// Modification time, milliseconds since the Unix epoch.
    pub modified_ms: u64,
}

/// List a directory (already confined), directories first, then by name.
pub fn list(dir: &Path) -> Result<(Vec<Entry>, bool), FileError> {
    let rd = std::fs::read_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            FileError::NotFound(format!("no such directory: {}", dir.display()))
        }
        std::io::ErrorKind::NotADirectory => {
            FileError::Invalid(format!("not a directory: {}", dir.display()))
        }
        std::io::ErrorKind::PermissionDenied => {
            FileError::Forbidden(format!("permission denied: {}", dir.display()))
        }
        _ => FileError::Io(e.to_string()),
    })?;
    let mut out = Vec::new();
    let mut truncated = false;
    for e in rd.flatten() {
        if out.len() >= MAX_LIST_ENTRIES {
            truncated = true;
            break;
        }
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            "symlink"
        } else if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        };
        let modified_ms = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        out.push(Entry {
            name: e.file_name().to_string_lossy().into_owned(),
            kind,
            size: m.len(),
            modified_ms,
        });
    }
    out.sort_by(|a, b| (a.kind != "dir", &a.name).cmp(&(b.kind != "dir", &b.name)));
    Ok((out, truncated))
}

/// Check an upload's file name: a single plain component, no `..`, no separators.
pub fn validate_upload_name(name: &str) -> Result<(), FileError> {
    let bad = |why: &str| {
        Err(FileError::Invalid(format!(
            "invalid file name {name:?}: {why}"
        )))
    };
    if name.is_empty() || name.len() > 255 {
        return bad("use 1 to 255 bytes");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("no directories or path separators");
    }
    if name == "." || name == ".." {
        return bad("not a file name");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("no control characters");
    }
    Ok(())
}

/// Where an upload named `name` goes in `work_dir`: the canonical workDir joined with the
/// name. A target that exists as a symlink, or a workDir whose resolved path differs from the
/// one whose contents we check, is refused by the caller's exclusive open.
pub fn upload_target(work_dir: &Path, name: &str) -> Result<PathBuf, FileError> {
    validate_upload_name(name)?;
    let base = work_dir
        .canonicalize()
        .map_err(|e| FileError::Io(format!("workDir is not accessible: {e}")))?;
    let target = base.join(name);
    match target.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => Err(FileError::Forbidden(format!(
            "{name} is a symlink in the workDir; uploads never write through symlinks"
        ))),
        Ok(m) if !m.is_file() => Err(FileError::Conflict(format!(
            "{name} exists and is not a regular file"
        ))),
        _ => Ok(target),
    }
}

/// Write `bytes` to `target` (from [`upload_target`]): exclusive create, or replace when
/// `overwrite`; never through a symlink. Mode 0644 minus the umask, as a user's own file.
pub async fn write_upload(
    target: PathBuf,
    bytes: Vec<u8>,
    overwrite: bool,
) -> Result<(), FileError> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).custom_flags(libc::O_NOFOLLOW);
        if overwrite {
            opts.create(true).truncate(true);
        } else {
            opts.create_new(true);
        }
        let mut f = opts.open(&target).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => FileError::Conflict(format!(
                "{} already exists; pass overwrite=true to replace it",
                target.display()
            )),
            _ if e.raw_os_error() == Some(libc::ELOOP) => FileError::Forbidden(format!(
                "{} is a symlink; uploads never write through symlinks",
                target.display()
            )),
            _ => FileError::Io(e.to_string()),
        })?;
        f.write_all(&bytes)
            .map_err(|e| FileError::Io(e.to_string()))
    })
    .await
    .map_err(|e| FileError::Io(e.to_string()))?
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn upload_names_are_plain() {
        for ok in ["a.txt", "notes.md", ".env.example", "a b"] {
            assert!(validate_upload_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "a\nb"] {
            assert!(validate_upload_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn confinement_resolves_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        let roots = resolve_roots(std::slice::from_ref(&root));
        assert!(confine(&roots, root.join("sub").to_str().unwrap()).is_ok());
        assert!(matches!(
            confine(&roots, root.join("escape").to_str().unwrap()),
            Err(FileError::Forbidden(_))
        ));
        assert!(matches!(
            confine(&roots, root.join("sub/../../outside").to_str().unwrap()),
            Err(FileError::Forbidden(_))
        ));
        assert!(matches!(
            confine(&roots, "relative"),
            Err(FileError::Invalid(_))
        ));
        // Outside the roots, existing or not, is the same refusal.
        for outside in ["/etc", "/etc/does-not-exist-aegis", "/"] {
            assert!(
                matches!(confine(&roots, outside), Err(FileError::Forbidden(_))),
                "{outside}"
            );
        }
        assert!(matches!(
            confine(&roots, root.join("missing").to_str().unwrap()),
            Err(FileError::NotFound(_))
        ));
        assert_eq!(lexical(Path::new("/a/./b/../../../c")), Path::new("/c"));
    }
}
