//! Checks on what a create request asks for: the work dir, the name, the environment. Each
//! failure is a [`SessionError::Invalid`] whose message names the field and the rule.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::manager::SessionError;

/// Longest accepted session name; names appear in URLs and tmux targets.
const MAX_NAME_LEN: usize = 128;

/// Most history lines a session may keep: compact lines cost ~100 bytes each, so this bounds
/// one session's history near 10 MB whatever a client asks.
pub const MAX_HISTORY_LINES: usize = 100_000;

/// The byte limit of a history, when one is set: below the smallest, a single full screen of
/// colourful output would not fit; the largest keeps one session from taking the machine.
const HISTORY_BYTES: std::ops::RangeInclusive<usize> = 64 * 1024..=1024 * 1024 * 1024;

/// The history limits asked for, each falling back to the daemon's default.
pub(super) fn history(
    lines: Option<usize>,
    bytes: Option<usize>,
    default: crate::screen::HistoryLimits,
) -> Result<crate::screen::HistoryLimits, SessionError> {
    let lines = lines.unwrap_or(default.lines);
    if lines > MAX_HISTORY_LINES {
        return Err(SessionError::Invalid(format!(
            "historyLines must be 0-{MAX_HISTORY_LINES}, not {lines}"
        )));
    }
    let bytes = bytes.unwrap_or(default.bytes);
    if bytes != 0 && !HISTORY_BYTES.contains(&bytes) {
        return Err(SessionError::Invalid(format!(
            "historyBytes must be 0 (no byte limit) or {}-{}, not {bytes}",
            HISTORY_BYTES.start(),
            HISTORY_BYTES.end()
        )));
    }
    Ok(crate::screen::HistoryLimits { lines, bytes })
}

pub(super) fn work_dir(dir: &Path) -> Result<PathBuf, SessionError> {
    if dir.as_os_str().is_empty() {
        return Err(SessionError::Invalid("workDir is required".into()));
    }
    if !dir.is_absolute() {
        return Err(SessionError::Invalid(format!(
            "workDir must be an absolute path: {}",
            dir.display()
        )));
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(dir.to_path_buf()),
        Ok(_) => Err(SessionError::Invalid(format!(
            "workDir is not a directory: {}",
            dir.display()
        ))),
        Err(_) => Err(SessionError::Invalid(format!(
            "workDir does not exist: {}",
            dir.display()
        ))),
    }
}

pub(super) fn name(name: &str) -> Result<String, SessionError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['-', '.']);
    if !ok {
        return Err(SessionError::Invalid(format!(
            "invalid name {name:?}: use 1-{MAX_NAME_LEN} letters, digits, '-', '_' or '.', not starting with '-' or '.'"
        )));
    }
    if Uuid::parse_str(name).is_ok() {
        return Err(SessionError::Invalid(
            "a name must not look like a session id".into(),
        ));
    }
    Ok(name.to_owned())
}

pub(super) fn env(key: &str, value: &str) -> Result<(), SessionError> {
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(SessionError::Invalid(format!(
            "invalid environment variable name {key:?}"
        )));
    }
    if value.contains('\0') {
        return Err(SessionError::Invalid(format!(
            "environment variable {key} contains NUL"
        )));
    }
    Ok(())
}

/// Environment names a REST create request may not set (SECURITY.md, "Environment
/// injection"); the tmux stand-in, whose caller is the local user passing their own
/// environment, is not limited:
/// dynamic-loader controls (`LD_*`, and `DYLD_*` on macOS) inject code into every program
/// the session starts, including ones a profile or the tmux stand-in chose, not the caller;
/// `BASH_ENV` and `ENV` make every non-interactive shell source a file; `AEGIS_*` are the
/// daemon's own settings and credentials, which a child must neither receive nor fake.
pub fn is_refused_env(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    ["LD_", "DYLD_", "AEGIS_"]
        .iter()
        .any(|p| upper.starts_with(p))
        || upper == "BASH_ENV"
        || upper == "ENV"
}

/// Check a requested terminal size against what the screen model supports.
pub fn size(cols: u16, rows: u16) -> Result<(), SessionError> {
    use crate::screen::{MAX_COLS, MAX_ROWS, MIN_COLS, MIN_ROWS};
    if !(MIN_COLS..=MAX_COLS).contains(&cols) || !(MIN_ROWS..=MAX_ROWS).contains(&rows) {
        return Err(SessionError::Invalid(format!(
            "size {cols}x{rows} is out of range: cols {MIN_COLS}..={MAX_COLS}, rows {MIN_ROWS}..={MAX_ROWS}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_env_are_validated() {
        assert!(name("worker-1.a_b").is_ok());
        assert!(name("").is_err());
        assert!(name("-x").is_err());
        assert!(name("a b").is_err());
        assert!(name("6f9619ff-8b86-d011-b42d-00c04fc964ff").is_err());
        assert!(env("FOO_1", "x").is_ok());
        assert!(env("1FOO", "x").is_err());
        assert!(env("A=B", "x").is_err());
        assert!(is_refused_env("LD_PRELOAD"));
        assert!(is_refused_env("ld_library_path"));
        assert!(is_refused_env("BASH_ENV"));
        assert!(is_refused_env("AEGIS_AUTH_TOKEN"));
        assert!(!is_refused_env("OLDPWD"));
        assert!(work_dir(Path::new("relative")).is_err());
        assert!(work_dir(Path::new("/definitely/missing/dir")).is_err());
        assert!(size(1, 10).is_err());
    }
}
