//! The memory bridge's store: small key/value entries that agents and orchestrators share,
//! with optional expiry, persisted in `<state dir>/memory.json` (`{"version": 1, "entries":
//! [...]}`, written atomically after every change; entries are few and small, so a whole-file
//! rewrite is cheap). Expiry uses wall-clock epoch milliseconds, so a TTL keeps running while
//! the daemon is down and an entry that expired meanwhile is gone after a restart.
//!
//! A corrupt file is moved aside (`memory.json.corrupt-<ms>`) with a logged error and the
//! store starts empty; a file from a newer version is left alone and the store is read-only
//! for this run, so nothing a newer aegis wrote is overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;

pub const FILE: &str = "memory.json";
pub const VERSION: u32 = 1;

/// Longest key (as Aegis v0.3: `namespace/key`, at most 256 characters).
pub const MAX_KEY_LEN: usize = 256;
/// Largest value (as Aegis v0.3: 100 KB).
pub const MAX_VALUE_BYTES: usize = 100 * 1024;
/// Most entries kept: bounds the file (and each rewrite) at about 1 GB in the very worst case,
/// and realistically a few MB.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub created_at: u64,
    pub updated_at: u64,
    /// Epoch milliseconds after which the entry no longer exists.
    pub expires_at: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct MemoryFile {
    version: u32,
    entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("{0}")]
    Invalid(String),
    #[error("memory is full ({MAX_ENTRIES} entries)")]
    Full,
    #[error("memory is read-only: {0}")]
    ReadOnly(String),
    #[error("saving memory failed: {0}")]
    Io(#[from] std::io::Error),
}

pub struct MemoryStore {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Why writes are refused (a newer file format), if they are.
    read_only: Option<String>,
}

impl MemoryStore {
    /// Load the store from `state_dir`; never fails (see the module doc).
    pub fn load(state_dir: &Path) -> MemoryStore {
        let path = state_dir.join(FILE);
        let mut read_only = None;
        let entries = match std::fs::read(&path) {
            Err(_) => Vec::new(),
            Ok(bytes) => {
                let version = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("version")?.as_u64());
                match serde_json::from_slice::<MemoryFile>(&bytes) {
                    _ if version.is_some_and(|v| v > u64::from(VERSION)) => {
                        let why = format!("{} was written by a newer aegis", path.display());
                        tracing::error!("{why}; memory is read-only");
                        read_only = Some(why);
                        Vec::new()
                    }
                    Ok(f) => f.entries,
                    Err(e) => {
                        let aside = path.with_file_name(format!("{FILE}.corrupt-{}", now_ms()));
                        let _ = std::fs::rename(&path, &aside);
                        tracing::error!(error = %e, moved_to = %aside.display(), "memory.json is corrupt; moved aside, starting empty");
                        Vec::new()
                    }
                }
            }
        };
        let now = now_ms();
        let map = entries
            .into_iter()
            .filter(|e| e.expires_at.is_none_or(|t| t > now))
            .map(|e| (e.key.clone(), e))
            .collect();
        MemoryStore {
            path,
            entries: Mutex::new(map),
            read_only,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // No code path panics while holding the lock.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, map: &BTreeMap<String, Entry>) -> Result<(), MemoryError> {
        let file = MemoryFile {
            version: VERSION,
            entries: map.values().cloned().collect(),
        };
        super::atomic::write_json(&self.path, &file)?;
        Ok(())
    }

    fn purge(map: &mut BTreeMap<String, Entry>, now: u64) {
        map.retain(|_, e| e.expires_at.is_none_or(|t| t > now));
    }

    /// Create or replace `key`.
    pub fn set(&self, key: &str, value: String, ttl_ms: Option<u64>) -> Result<Entry, MemoryError> {
        if let Some(why) = &self.read_only {
            return Err(MemoryError::ReadOnly(why.clone()));
        }
        validate_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(MemoryError::Invalid(format!(
                "value is larger than {MAX_VALUE_BYTES} bytes"
            )));
        }
        let now = now_ms();
        let mut map = self.lock();
        Self::purge(&mut map, now);
        if !map.contains_key(key) && map.len() >= MAX_ENTRIES {
            return Err(MemoryError::Full);
        }
        let created_at = map.get(key).map_or(now, |e| e.created_at);
        let entry = Entry {
            key: key.to_owned(),
            value,
            created_at,
            updated_at: now,
            expires_at: ttl_ms.map(|t| now.saturating_add(t)),
        };
        let old = map.insert(key.to_owned(), entry.clone());
        if let Err(e) = self.save(&map) {
            // Keep memory and disk in agreement: undo.
            match old {
                Some(o) => map.insert(key.to_owned(), o),
                None => map.remove(key),
            };
            return Err(e);
        }
        Ok(entry)
    }

    pub fn get(&self, key: &str) -> Option<Entry> {
        let now = now_ms();
        self.lock()
            .get(key)
            .filter(|e| e.expires_at.is_none_or(|t| t > now))
            .cloned()
    }

    /// Live entries whose key starts with `prefix`, in key order.
    pub fn list(&self, prefix: &str) -> Vec<Entry> {
        let now = now_ms();
        self.lock()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| e.expires_at.is_none_or(|t| t > now))
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Remove `key`; whether it existed.
    pub fn delete(&self, key: &str) -> Result<bool, MemoryError> {
        if let Some(why) = &self.read_only {
            return Err(MemoryError::ReadOnly(why.clone()));
        }
        let mut map = self.lock();
        let Some(old) = map.remove(key) else {
            return Ok(false);
        };
        if let Err(e) = self.save(&map) {
            map.insert(key.to_owned(), old);
            return Err(e);
        }
        Ok(old.expires_at.is_none_or(|t| t > now_ms()))
    }
}

fn validate_key(key: &str) -> Result<(), MemoryError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.chars().all(|c| !c.is_control())
        && !key.starts_with('/');
    if ok {
        Ok(())
    } else {
        Err(MemoryError::Invalid(format!(
            "invalid key {key:?}: 1-{MAX_KEY_LEN} printable characters, not starting with '/'"
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn entries_persist_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let m = MemoryStore::load(dir.path());
        m.set("ns/a", "1".into(), None).unwrap();
        m.set("ns/b", "2".into(), Some(0)).unwrap();
        m.set("other", "3".into(), Some(60_000)).unwrap();
        assert!(m.set("", "x".into(), None).is_err());
        let again = MemoryStore::load(dir.path());
        let keys: Vec<String> = again.list("ns/").into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["ns/a"]);
        assert_eq!(again.get("other").unwrap().value, "3");
        assert!(again.delete("ns/a").unwrap());
        assert!(MemoryStore::load(dir.path()).get("ns/a").is_none());
    }
}
