//! A small record set held in memory and mirrored to one JSON file in the state dir, for
//! state that must outlive a daemon restart but is too small for a store of its own: worker
//! records (`work::worktree`) and orchestration roles (`orchestrate`).
//!
//! File format: `{"version": N, "data": <the set>}`, rewritten whole and atomically
//! ([`super::atomic`], mode 0600) after every change. These sets hold at most a few thousand
//! small records, so a rewrite costs milliseconds, and the file is never torn.
//!
//! Reading the file at start-up never fails the daemon: a missing file is an empty set; a
//! corrupt one is moved aside (`<file>.corrupt-<ms>`) with a logged error and the set starts
//! empty; one written by a newer aegis (a higher `version`) is left untouched and this run
//! keeps its changes in memory only, so nothing a newer daemon wrote is overwritten.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Serialize, serde::Deserialize)]
struct FileFormat<T> {
    version: u32,
    data: T,
}

/// A record set and its file.
pub struct Persisted<T> {
    /// The file; `None` keeps the set in memory only (a set nothing needs to survive).
    path: Option<PathBuf>,
    version: u32,
    value: Mutex<T>,
    /// Held by a writer from its change until its file write finished, so files are written
    /// in the order the changes were made. Readers take only `value`, never this, so a read
    /// never waits on the disk.
    write: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections are map edits and serialization, which do not panic; a poisoned
    // lock still guards a consistent value.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T: Default + Serialize + DeserializeOwned> Persisted<T> {
    /// A set that lives in memory only.
    pub fn in_memory() -> Self {
        Persisted {
            path: None,
            version: 0,
            value: Mutex::new(T::default()),
            write: Mutex::new(()),
        }
    }

    /// Load the set from `path` (see the module doc for what happens to a bad file).
    pub fn load(path: PathBuf, version: u32) -> Self {
        let (value, writable) = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (T::default(), true),
            Err(e) => {
                // Unreadable (permissions, I/O): do not overwrite what we could not read.
                tracing::error!(file = %path.display(), error = %e, "cannot read; its records are not loaded and changes stay in memory");
                (T::default(), false)
            }
            Ok(bytes) => Self::parse(&path, &bytes, version),
        };
        Persisted {
            path: writable.then_some(path),
            version,
            value: Mutex::new(value),
            write: Mutex::new(()),
        }
    }

    fn parse(path: &std::path::Path, bytes: &[u8], version: u32) -> (T, bool) {
        let found = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("version")?.as_u64());
        if found.is_some_and(|v| v > u64::from(version)) {
            tracing::error!(file = %path.display(), "written by a newer aegis; left untouched, changes stay in memory");
            return (T::default(), false);
        }
        match serde_json::from_slice::<FileFormat<T>>(bytes) {
            Ok(f) => (f.data, true),
            Err(e) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let aside = path.with_file_name(format!(
                    "{}.corrupt-{}",
                    name.unwrap_or_default(),
                    crate::clock::now_ms()
                ));
                let _ = std::fs::rename(path, &aside);
                tracing::error!(file = %path.display(), error = %e, moved_to = %aside.display(), "corrupt; moved aside, starting empty");
                (T::default(), true)
            }
        }
    }

    /// Run `f` on the set.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&lock(&self.value))
    }

    /// Change the set with `f`, then write the file. A failed write is logged, not returned:
    /// the change stands for this run (memory is the working copy), and the next successful
    /// write carries it to disk.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _writer = lock(&self.write);
        let (r, bytes) = {
            let mut v = lock(&self.value);
            let r = f(&mut v);
            let bytes = self.path.as_ref().map(|_| {
                serde_json::to_vec_pretty(&FileFormat {
                    version: self.version,
                    data: &*v,
                })
            });
            (r, bytes)
        };
        if let (Some(path), Some(bytes)) = (&self.path, bytes) {
            let written = bytes
                .map_err(std::io::Error::other)
                .and_then(|b| super::atomic::write(path, &b));
            if let Err(e) = written {
                tracing::error!(file = %path.display(), error = %e, "could not save; the change is kept in memory only");
            }
        }
        r
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    type Set = BTreeMap<String, u32>;

    #[test]
    fn survives_a_reload_and_sets_bad_files_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.json");
        let s: Persisted<Set> = Persisted::load(path.clone(), 1);
        s.update(|m| m.insert("a".into(), 1));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again: Persisted<Set> = Persisted::load(path.clone(), 1);
        assert_eq!(again.read(|m| m.get("a").copied()), Some(1));

        // A newer file is neither read nor overwritten.
        std::fs::write(&path, r#"{"version": 2, "data": {"b": 2}}"#).unwrap();
        let newer: Persisted<Set> = Persisted::load(path.clone(), 1);
        newer.update(|m| m.insert("c".into(), 3));
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"b\""));

        // A corrupt file is moved aside and the set starts empty.
        std::fs::write(&path, "{not json").unwrap();
        let fresh: Persisted<Set> = Persisted::load(path.clone(), 1);
        assert!(fresh.read(|m| m.is_empty()));
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
