//! API keys created through the API (`POST /v1/auth/keys`), persisted in
//! `<state dir>/keys.json` (`{"version": 1, "keys": [...]}`, written atomically).
//!
//! A key is shown once, at creation; only its SHA-256 digest is stored. Keys are 256 random
//! bits from the OS generator, so a fast unsalted hash is safe (nobody can guess such a key at
//! any hash rate) and the digest doubles as the lookup index.
//! A short non-secret prefix is kept for display.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::now_ms;

pub const FILE: &str = "keys.json";
pub const VERSION: u32 = 1;

/// Most keys; each authentication is a hash lookup, so this only bounds the file.
pub const MAX_KEYS: usize = 1000;
/// Longest key name.
pub const MAX_NAME_LEN: usize = 128;

/// What a key may do. `Admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "sessions:read")]
    SessionsRead,
    #[serde(rename = "sessions:write")]
    SessionsWrite,
    #[serde(rename = "permissions:write")]
    PermissionsWrite,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::SessionsRead,
        Scope::SessionsWrite,
        Scope::PermissionsWrite,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsWrite => "sessions:write",
            Scope::PermissionsWrite => "permissions:write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Hex SHA-256 of the key.
    pub hash: String,
    /// The first characters of the key, for display.
    pub prefix: String,
    pub created_at: u64,
}

impl KeyRecord {
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&needed)
    }
}

#[derive(Serialize, Deserialize)]
struct KeysFile {
    version: u32,
    keys: Vec<KeyRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("saving keys failed: {0}")]
    Io(#[from] std::io::Error),
}

pub struct KeyStore {
    path: PathBuf,
    /// By hash.
    keys: Mutex<HashMap<String, KeyRecord>>,
}

fn digest_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl KeyStore {
    /// Load `keys.json`. Unlike memory, a corrupt or newer key file is an error: starting
    /// without the keys would silently lock their holders out (or, with no keys, open the
    /// daemon to anyone on loopback).
    pub fn load(state_dir: &Path) -> anyhow::Result<KeyStore> {
        let path = state_dir.join(FILE);
        let keys = match std::fs::read(&path) {
            Ok(bytes) => {
                let f: KeysFile = serde_json::from_slice(&bytes).map_err(|e| {
                    anyhow::anyhow!(
                        "{} is unreadable ({e}); fix or remove it (removing revokes every API key)",
                        path.display()
                    )
                })?;
                if f.version > VERSION {
                    anyhow::bail!(
                        "{} has format version {}, newer than this aegis understands ({VERSION})",
                        path.display(),
                        f.version
                    );
                }
                f.keys
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        };
        Ok(KeyStore {
            path,
            keys: Mutex::new(keys.into_iter().map(|k| (k.hash.clone(), k)).collect()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyRecord>> {
        // No code path panics while holding the lock.
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, map: &HashMap<String, KeyRecord>) -> std::io::Result<()> {
        let mut keys: Vec<KeyRecord> = map.values().cloned().collect();
        keys.sort_by_key(|k| k.created_at);
        super::atomic::write_json(
            &self.path,
            &KeysFile {
                version: VERSION,
                keys,
            },
        )
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Create a key; returns its record and the secret (shown once).
    pub fn create(&self, name: &str, scopes: Vec<Scope>) -> Result<(KeyRecord, String), KeyError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(KeyError::Invalid(format!(
                "name must be 1-{MAX_NAME_LEN} printable characters"
            )));
        }
        if scopes.is_empty() {
            return Err(KeyError::Invalid("scopes must not be empty".into()));
        }
        // Two v4 UUIDs: 244 bits from the OS random generator (uuid uses getrandom).
        let secret = format!(
            "aegis_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let record = KeyRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            scopes,
            hash: digest_hex(&secret),
            prefix: secret[..14].to_owned(),
            created_at: now_ms(),
        };
        let mut map = self.lock();
        if map.len() >= MAX_KEYS {
            return Err(KeyError::Invalid(format!("at most {MAX_KEYS} keys")));
        }
        map.insert(record.hash.clone(), record.clone());
        if let Err(e) = self.save(&map) {
            map.remove(&record.hash);
            return Err(e.into());
        }
        Ok((record, secret))
    }

    pub fn list(&self) -> Vec<KeyRecord> {
        let mut v: Vec<KeyRecord> = self.lock().values().cloned().collect();
        v.sort_by_key(|k| k.created_at);
        v
    }

    /// Revoke key `id`; whether it existed.
    pub fn revoke(&self, id: &str) -> Result<bool, KeyError> {
        let mut map = self.lock();
        let Some(hash) = map.values().find(|k| k.id == id).map(|k| k.hash.clone()) else {
            return Ok(false);
        };
        let old = map.remove(&hash);
        if let Err(e) = self.save(&map) {
            if let Some(o) = old {
                map.insert(hash, o);
            }
            return Err(e.into());
        }
        Ok(true)
    }

    /// The key whose secret is `candidate`, if any.
    pub fn lookup(&self, candidate: &str) -> Option<KeyRecord> {
        self.lock().get(&digest_hex(candidate)).cloned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::load(dir.path()).unwrap();
        let (rec, secret) = ks.create("ci", vec![Scope::SessionsRead]).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!text.contains(&secret));
        let again = KeyStore::load(dir.path()).unwrap();
        assert_eq!(again.lookup(&secret).unwrap().id, rec.id);
        assert!(again.lookup("aegis_wrong").is_none());
        assert!(again.revoke(&rec.id).unwrap());
        assert!(
            KeyStore::load(dir.path())
                .unwrap()
                .lookup(&secret)
                .is_none()
        );
        std::fs::write(dir.path().join(FILE), b"{").unwrap();
        assert!(KeyStore::load(dir.path()).is_err());
    }
}
