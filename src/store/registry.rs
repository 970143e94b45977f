//! The session registry: what sessions exist, their fixed facts, their status history and
//! exit codes, persisted in `registry.json` so a restarted daemon knows its sessions again.
//!
//! Writes: a writer task follows the event bus, and whenever a session was created, changed
//! status or was removed it rewrites the whole file atomically (at most every
//! [`FLUSH_INTERVAL`]; the registry is small and rarely changes, so whole-file rewrites are
//! cheap). Each session also gets a `meta.json` in its directory at creation.
//!
//! Reads (daemon start): a missing file is an empty registry. A file with a newer `version`
//! stops the daemon with a clear error (we must not overwrite what a newer aegis wrote). A
//! file that does not parse is moved aside as `registry.json.corrupt-<ms>`, logged as an
//! error, and the registry is rebuilt from every `sessions/*/meta.json`: the sessions
//! survive (their holders are found again), only the status history is lost.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::{EventBus, EventKind};
use crate::vocab::{AgentType, SessionMeta};

/// Format version of `registry.json` and `meta.json`.
pub const VERSION: u32 = 1;
pub const FILE: &str = "registry.json";
pub const META_FILE: &str = "meta.json";

/// Status changes kept per session; older ones are dropped (the recording has the rest).
const MAX_HISTORY: usize = 100;

/// Coalesces bursts of status changes (200 sessions settling after a restart) into one write.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
}

/// What a session's Claude Code hooks told us that must outlive the daemon (see
/// `crate::hooks`). The hook secret is not here: it stays in the hook settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRecord {
    #[serde(default)]
    pub claude_session_id: Option<String>,
    #[serde(default)]
    pub transcript_path: Option<PathBuf>,
}

/// One session as persisted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub id: Uuid,
    pub name: String,
    pub work_dir: PathBuf,
    pub agent_type: String,
    pub command: Vec<String>,
    pub created_at: u64,
    pub pid: i32,
    pub cols: u16,
    pub rows: u16,
    pub status: String,
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub history: Vec<StatusChange>,
    /// Added after format version 1 was first written; older files read as `default`.
    #[serde(default)]
    pub permission_mode: Option<String>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    /// The session's creation environment (for forks after a restart); older files have none.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// The session's stall threshold in ms (0 = off); older files have none and get the
    /// daemon's default.
    #[serde(default)]
    pub stall_threshold_ms: Option<u64>,
    /// Set when the session runs with Claude Code hooks: what they told us (the secret stays
    /// in the hook settings file). Older files have none; the settings file alone then
    /// restores the hooks.
    #[serde(default)]
    pub hooks: Option<HookRecord>,
    /// The session's history limits; older files have none and get the defaults.
    #[serde(default)]
    pub history_lines: Option<usize>,
    #[serde(default)]
    pub history_bytes: Option<usize>,
    /// Whether the shell runs with Aegis's marks; older files have none (no integration).
    #[serde(default)]
    pub shell_integration: bool,
}

impl SessionRecord {
    /// The fixed facts of the recorded session, whose process is now `pid`.
    pub fn meta(&self, pid: i32) -> SessionMeta {
        SessionMeta {
            id: self.id,
            name: self.name.clone(),
            work_dir: self.work_dir.clone(),
            agent_type: AgentType::parse(&self.agent_type).unwrap_or(AgentType::Custom),
            command: self.command.clone(),
            created_at_ms: self.created_at,
            pid,
            permission_mode: self
                .permission_mode
                .as_deref()
                .and_then(crate::vocab::PermissionMode::parse)
                .unwrap_or(crate::vocab::PermissionMode::Default),
            parent_id: self.parent_id,
            env: self.env.clone(),
            history_lines: self
                .history_lines
                .unwrap_or(crate::vocab::DEFAULT_HISTORY_LINES),
            history_bytes: self.history_bytes.unwrap_or(0),
            shell_integration: self.shell_integration,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RegistryFile {
    version: u32,
    sessions: Vec<SessionRecord>,
}

#[derive(Serialize, Deserialize)]
struct MetaFile {
    version: u32,
    session: SessionRecord,
}

/// Write a new session's `meta.json` (before its holder starts).
pub fn write_meta(dir: &Path, record: &SessionRecord) -> std::io::Result<()> {
    super::atomic::write_json(
        &dir.join(META_FILE),
        &MetaFile {
            version: VERSION,
            session: record.clone(),
        },
    )
}

/// Read the registry, recovering from a corrupt file (see the module doc).
pub fn load(state_dir: &Path) -> anyhow::Result<Vec<SessionRecord>> {
    let path = state_dir.join(FILE);
    let mut records = match std::fs::read(&path) {
        Ok(bytes) => parse_or_quarantine(&path, &bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let known: std::collections::HashSet<Uuid> = records.iter().map(|r| r.id).collect();
    let sessions = state_dir.join("sessions");
    for entry in std::fs::read_dir(&sessions).into_iter().flatten().flatten() {
        let meta_path = entry.path().join(META_FILE);
        let Ok(bytes) = std::fs::read(&meta_path) else {
            continue;
        };
        match serde_json::from_slice::<MetaFile>(&bytes) {
            Ok(m) if !known.contains(&m.session.id) => {
                tracing::warn!(session = %m.session.id, "session missing from the registry; recovered from its meta.json");
                records.push(m.session);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(file = %meta_path.display(), error = %e, "unreadable session meta.json; session skipped")
            }
        }
    }
    records.sort_by_key(|r| r.created_at);
    Ok(records)
}

fn parse_or_quarantine(path: &Path, bytes: &[u8]) -> anyhow::Result<Vec<SessionRecord>> {
    let version = serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("version")?.as_u64());
    if let Some(v) = version
        && v > u64::from(VERSION)
    {
        anyhow::bail!(
            "{} has format version {v}, newer than this aegis understands ({VERSION}); \
             refusing to start so it is not overwritten. Run a newer aegis, or move the file away",
            path.display()
        );
    }
    match serde_json::from_slice::<RegistryFile>(bytes) {
        Ok(f) => Ok(f.sessions),
        Err(e) => {
            let aside = path.with_file_name(format!("{FILE}.corrupt-{}", crate::clock::now_ms()));
            std::fs::rename(path, &aside)
                .with_context(|| format!("moving the corrupt {} aside", path.display()))?;
            tracing::error!(
                error = %e,
                moved_to = %aside.display(),
                "the session registry is corrupt; moved it aside and rebuilding it from the session directories"
            );
            Ok(Vec::new())
        }
    }
}

/// Write the registry atomically.
pub fn save(state_dir: &Path, sessions: Vec<SessionRecord>) -> std::io::Result<()> {
    super::atomic::write_json(
        &state_dir.join(FILE),
        &RegistryFile {
            version: VERSION,
            sessions,
        },
    )
}

/// Keep `registry.json` in step with the sessions until `token` is cancelled, then write it
/// one last time. `list` returns the records of the live sessions; besides
/// session events, `changed` says that something else in them changed. `history` starts from
/// what was loaded.
pub async fn run_writer(
    state_dir: PathBuf,
    bus: Arc<EventBus>,
    list: impl Fn() -> Vec<SessionRecord> + Send + 'static,
    changed: Arc<tokio::sync::Notify>,
    mut history: HashMap<Uuid, Vec<StatusChange>>,
    token: CancellationToken,
) {
    let mut events = bus.subscribe();
    let mut dirty = true;
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            ev = events.recv() => match ev {
                Ok(ev) => {
                    if let Some(s) = ev.new_status {
                        let h = history.entry(ev.session_id).or_default();
                        h.push(StatusChange { status: s.as_str().to_owned(), at: ev.timestamp_ms });
                        if h.len() > MAX_HISTORY {
                            h.remove(0);
                        }
                    }
                    if ev.kind == EventKind::SessionKilled {
                        history.remove(&ev.session_id);
                        let dir = super::session_dir(&state_dir, &ev.session_id);
                        if let Err(e) = std::fs::remove_dir_all(&dir)
                            && e.kind() != std::io::ErrorKind::NotFound
                        {
                            tracing::warn!(dir = %dir.display(), error = %e, "could not remove the session directory");
                        }
                    }
                    dirty = true;
                }
                // Lagging only means we missed some history entries; the next write still
                // has every session's current state.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    crate::metrics::global().subscriber_lag("registry");
                    dirty = true;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            () = changed.notified() => dirty = true,
            _ = tick.tick() => {
                if dirty {
                    dirty = false;
                    flush(&state_dir, &list, &history).await;
                }
            }
        }
    }
    flush(&state_dir, &list, &history).await;
}

async fn flush(
    state_dir: &Path,
    list: &impl Fn() -> Vec<SessionRecord>,
    history: &HashMap<Uuid, Vec<StatusChange>>,
) {
    let mut records = list();
    for r in &mut records {
        r.history = history.get(&r.id).cloned().unwrap_or_default();
    }
    let dir = state_dir.to_path_buf();
    let result = tokio::task::spawn_blocking(move || save(&dir, records)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "writing the session registry failed"),
        Err(e) => tracing::error!(error = %e, "registry writer panicked"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    fn record(name: &str, created_at: u64) -> SessionRecord {
        SessionRecord {
            id: Uuid::new_v4(),
            name: name.into(),
            work_dir: "/".into(),
            agent_type: "shell".into(),
            command: vec!["bash".into()],
            created_at,
            pid: 1,
            cols: 80,
            rows: 24,
            status: "idle".into(),
            exit_code: None,
            history: vec![],
            permission_mode: None,
            parent_id: None,
            env: vec![],
            stall_threshold_ms: None,
            hooks: None,
            history_lines: None,
            history_bytes: None,
            shell_integration: false,
        }
    }

    #[test]
    fn corrupt_registry_is_moved_aside_and_rebuilt_from_meta_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = record("a", 1);
        let b = record("b", 2);
        save(dir.path(), vec![a.clone(), b.clone()]).unwrap();
        for r in [&a, &b] {
            let sd = crate::store::session_dir(dir.path(), &r.id);
            crate::store::create_private_dir(&sd).unwrap();
            write_meta(&sd, r).unwrap();
        }
        assert_eq!(load(dir.path()).unwrap().len(), 2);
        // A torn write (half the file).
        let full = std::fs::read(dir.path().join(FILE)).unwrap();
        std::fs::write(dir.path().join(FILE), &full[..full.len() / 2]).unwrap();
        let names: Vec<String> = load(dir.path())
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("registry.json.corrupt-")
            })
            .count();
        assert_eq!(aside, 1);
    }

    #[test]
    fn newer_version_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), br#"{"version": 99, "sessions": []}"#).unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("newer than this aegis"), "{err}");
        // Untouched.
        assert!(dir.path().join(FILE).exists());
    }
}
