//! Session templates: named, persisted recipes for `POST /v1/sessions {template, vars}`.
//!
//! Stored as one JSON file, `templates.json` in the state dir, replaced atomically (mode 0600)
//! on every change, and read again on every use, so the file is the only copy and a restarted
//! daemon sees exactly what was saved. A template's `prompt`, `workDir` and `env` values may
//! hold `{{var}}` placeholders; `vars` gives defaults (a `null` default means "required").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Most templates kept; each is a few KB at most, and a bound keeps the file small.
pub const MAX_TEMPLATES: usize = 500;

/// File name in the state dir.
const FILE: &str = "templates.json";

/// One template, as stored and as served.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default)]
    pub agent_type: Option<String>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub work_dir: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A permission policy profile: strict, restricted, default or permissive.
    #[serde(default)]
    pub permission_profile: Option<String>,
    /// The agent's permission mode (see `session::launch`).
    #[serde(default)]
    pub permission_mode: Option<String>,
    /// Variable defaults; `null` means the caller must give a value.
    #[serde(default)]
    pub vars: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub created_at: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct File {
    templates: Vec<Template>,
}

/// The template file of one state dir. Writes are serialized by a mutex; reads take it too,
/// so a read never sees a half-applied change of this process. Each change is a
/// read-modify-write of the whole file, so there must be exactly one store per file (the
/// daemon's is in `api::App`): two stores would each hold a mutex of their own, and
/// concurrent changes through them would overwrite each other.
pub struct TemplateStore {
    path: PathBuf,
    lock: Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("template store is full ({MAX_TEMPLATES} templates)")]
    Full,
    #[error("reading or writing templates failed: {0}")]
    Io(#[from] std::io::Error),
}

impl TemplateStore {
    pub fn new(state_dir: &Path) -> Self {
        TemplateStore {
            path: state_dir.join(FILE),
            lock: Mutex::new(()),
        }
    }

    fn load(&self) -> Result<File, StoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(e.into()),
        }
    }

    pub fn list(&self) -> Result<Vec<Template>, StoreError> {
        let _g = super::lock(&self.lock);
        Ok(self.load()?.templates)
    }

    pub fn get(&self, name: &str) -> Result<Option<Template>, StoreError> {
        Ok(self.list()?.into_iter().find(|t| t.name == name))
    }

    /// Insert or replace; returns whether it replaced one.
    pub fn put(&self, t: Template) -> Result<bool, StoreError> {
        let _g = super::lock(&self.lock);
        let mut f = self.load()?;
        let replaced = match f.templates.iter_mut().find(|x| x.name == t.name) {
            Some(x) => {
                *x = t;
                true
            }
            None => {
                if f.templates.len() >= MAX_TEMPLATES {
                    return Err(StoreError::Full);
                }
                f.templates.push(t);
                false
            }
        };
        crate::store::atomic::write_json(&self.path, &f)?;
        Ok(replaced)
    }

    pub fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let _g = super::lock(&self.lock);
        let mut f = self.load()?;
        let before = f.templates.len();
        f.templates.retain(|t| t.name != name);
        if f.templates.len() == before {
            return Ok(false);
        }
        crate::store::atomic::write_json(&self.path, &f)?;
        Ok(true)
    }
}

/// A template's fields with every placeholder filled from `vars` (then the template's
/// defaults). Err names the first variable without a value.
pub struct Expanded {
    pub prompt: Option<String>,
    pub work_dir: Option<String>,
    pub env: BTreeMap<String, String>,
}

pub fn expand(t: &Template, vars: &BTreeMap<String, String>) -> Result<Expanded, String> {
    let lookup = |k: &str| {
        vars.get(k)
            .cloned()
            .or_else(|| t.vars.get(k).cloned().flatten())
    };
    let fill = |s: &Option<String>| -> Result<Option<String>, String> {
        s.as_deref()
            .map(|s| super::text::substitute(s, lookup))
            .transpose()
    };
    // Required variables are required even when no field uses them.
    if let Some((k, _)) = t
        .vars
        .iter()
        .find(|(k, d)| d.is_none() && !vars.contains_key(*k))
    {
        return Err(k.clone());
    }
    let mut env = BTreeMap::new();
    for (k, v) in &t.env {
        env.insert(k.clone(), super::text::substitute(v, lookup)?);
    }
    Ok(Expanded {
        prompt: fill(&t.prompt)?,
        work_dir: fill(&t.work_dir)?,
        env,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn store_round_trips_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let s = TemplateStore::new(dir.path());
        let t: Template = serde_json::from_value(serde_json::json!({
            "name": "rev", "prompt": "review {{area}}", "vars": {"area": null}
        }))
        .unwrap();
        assert!(!s.put(t.clone()).unwrap());
        assert!(s.put(t.clone()).unwrap());
        assert_eq!(
            TemplateStore::new(dir.path()).get("rev").unwrap(),
            Some(t.clone())
        );
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut vars = BTreeMap::new();
        assert_eq!(expand(&t, &vars).err().as_deref(), Some("area"));
        vars.insert("area".into(), "auth".into());
        assert_eq!(
            expand(&t, &vars).unwrap().prompt.as_deref(),
            Some("review auth")
        );
        assert!(s.delete("rev").unwrap());
        assert!(!s.delete("rev").unwrap());
    }
}
