//! Claude Code hooks: how Claude tells us its exact state.
//!
//! For each Claude session (unless `hooks: false`), [`HookLink::create`] writes a Claude Code
//! settings file (mode 0600, `<state>/hooks/<session>.json`) that registers `type: "http"`
//! hooks for every event in [`EVENTS`], each posting to
//! `<daemon>/v1/hooks/<Event>?sessionId=<id>` with an `X-Hook-Secret` header holding a
//! per-session random secret. The file is passed with `--settings <file>` (the user's own
//! settings are never touched) and removed when the session ends.
//!
//! The secret lives only in that file and in memory here: it is never in an API response or a
//! log line, and it is compared in constant time ([`HookLink::check`]).
//!
//! Daemon restarts: the agent keeps the settings file it was started with, so a session found
//! again gets its secret back from that file ([`HookRegistry::restore`]), and Claude's session
//! id and transcript path from the session's registry record ([`HookRecord`], written when a
//! hook tells new ones). Hooks reach the new daemon only if it listens on the same port, which
//! the file names (a mismatch is logged). At start-up, settings files of sessions that no
//! longer exist are deleted ([`HookRegistry::sweep`]).
//!
//! The events feed the session's state machine (see `api::hooks` and the actor's reconcile):
//! the screen still decides what the user sees, hooks only make it exact and early.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::store::registry::HookRecord;
use crate::transcript::Transcript;

/// The events registered in the settings file (Aegis v0.3's list).
pub const EVENTS: &[&str] = &[
    "Stop",
    "StopFailure",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "TaskCompleted",
    "SessionStart",
    "SessionEnd",
    "UserPromptSubmit",
    "SubagentStart",
    "SubagentStop",
    "PreCompact",
    "PostCompact",
    "FileChanged",
    "CwdChanged",
    "Notification",
    "TeammateIdle",
    "WorktreeCreate",
    "WorktreeRemove",
    "Elicitation",
    "ElicitationResult",
];

/// Seconds Claude Code waits for a hook's HTTP reply. Ordinary events are answered at once;
/// 10 s only matters if the daemon is badly overloaded.
const HOOK_TIMEOUT_SECS: u64 = 10;

/// Seconds Claude Code waits for the PermissionRequest reply: we hold that request open until
/// someone decides, up to [`PERMISSION_HOLD`], which must end first.
const PERMISSION_TIMEOUT_SECS: u64 = 600;

/// How long a PermissionRequest hook is held open waiting for a decision. After it, the hook
/// is answered without a decision and Claude shows (or keeps) its own dialog, which the screen
/// path handles. 10 s below Claude's timeout so our answer always arrives first.
pub const PERMISSION_HOLD: std::time::Duration =
    std::time::Duration::from_secs(PERMISSION_TIMEOUT_SECS - 10);

/// Where hooks post to and where settings files go.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// The daemon's own base URL (`http://127.0.0.1:<port>`).
    pub base_url: String,
    /// The directory of settings files (0700).
    pub dir: PathBuf,
}

impl HookSettings {
    /// The settings file of `session`.
    pub fn path_of(&self, session: &Uuid) -> PathBuf {
        self.dir.join(format!("{session}.json"))
    }
}

/// What the hooks told us, besides state.
#[derive(Debug, Default)]
pub struct HookFacts {
    pub claude_session_id: Option<String>,
    pub transcript_path: Option<PathBuf>,
    /// The last event and when (epoch ms).
    pub last_event: Option<(String, u64)>,
    pub events: u64,
    /// How many times each event arrived, by event name.
    pub by_event: BTreeMap<String, u64>,
    /// Between PreCompact and PostCompact.
    pub compacting: bool,
}

/// One session's hook wiring.
pub struct HookLink {
    pub session: Uuid,
    secret: String,
    pub settings_path: PathBuf,
    facts: Mutex<HookFacts>,
    transcript: Mutex<Option<Transcript>>,
}

impl std::fmt::Debug for HookLink {
    // The secret stays out of every Debug/log output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookLink")
            .field("session", &self.session)
            .field("settings_path", &self.settings_path)
            .finish_non_exhaustive()
    }
}

/// 244 random bits from two v4 UUIDs (getrandom underneath), as 64 hex digits.
fn new_secret() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// A Claude Code settings file holding only our hooks:
/// `{"hooks": {<event>: [{"hooks": [{"headers": {"X-Hook-Secret": ..}, "timeout": .., "type":
/// "http", "url": ..}]}]}}`. Fields are declared in alphabetical order, so the file reads the
/// same as one written from a JSON map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsFile {
    pub hooks: BTreeMap<String, Vec<HookMatcher>>,
}

/// The hooks run for one event (Claude Code allows a matcher here; we register no matcher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookMatcher {
    pub hooks: Vec<HttpHook>,
}

/// One `type: "http"` hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHook {
    pub headers: HookHeaders,
    pub timeout: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// The headers a hook sends: the session's secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookHeaders {
    #[serde(rename = "X-Hook-Secret")]
    pub secret: String,
}

impl SettingsFile {
    /// The secret of the Stop hook (every hook carries the same one).
    fn secret(&self) -> Option<&str> {
        let hook = self.hooks.get("Stop")?.first()?.hooks.first()?;
        Some(hook.headers.secret.as_str()).filter(|s| !s.is_empty())
    }
}

/// The settings file for `session`.
pub fn settings_file(base_url: &str, session: &Uuid, secret: &str) -> SettingsFile {
    let hooks = EVENTS
        .iter()
        .map(|event| {
            let timeout = if *event == "PermissionRequest" {
                PERMISSION_TIMEOUT_SECS
            } else {
                HOOK_TIMEOUT_SECS
            };
            let hook = HttpHook {
                headers: HookHeaders {
                    secret: secret.to_owned(),
                },
                timeout,
                kind: "http".to_owned(),
                url: format!("{base_url}/v1/hooks/{event}?sessionId={session}"),
            };
            ((*event).to_owned(), vec![HookMatcher { hooks: vec![hook] }])
        })
        .collect();
    SettingsFile { hooks }
}

/// Delete a settings file; one already gone is fine.
fn remove_settings_file(path: &Path, session: &Uuid) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(session = %session, path = %path.display(), error = %e, "could not remove the hook settings file")
        }
    }
}

impl HookLink {
    fn new(session: Uuid, secret: String, settings_path: PathBuf) -> Arc<HookLink> {
        Arc::new(HookLink {
            session,
            secret,
            settings_path,
            facts: Mutex::default(),
            transcript: Mutex::new(None),
        })
    }

    /// Write the settings file for a new session.
    pub fn create(settings: &HookSettings, session: Uuid) -> std::io::Result<Arc<HookLink>> {
        crate::store::create_private_dir(&settings.dir)?;
        let secret = new_secret();
        let path = settings.path_of(&session);
        crate::store::atomic::write_json(
            &path,
            &settings_file(&settings.base_url, &session, &secret),
        )?;
        Ok(Self::new(session, secret, path))
    }

    /// The link of a session whose agent runs with a settings file an earlier daemon wrote:
    /// the secret is read back from it. A file that registers other URLs than this daemon's
    /// (it listens on another port) still gives the secret, but is logged: the agent's hooks
    /// post where the file says and will not reach us.
    pub fn restore(settings: &HookSettings, session: Uuid) -> std::io::Result<Arc<HookLink>> {
        let path = settings.path_of(&session);
        let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
        let file: SettingsFile = serde_json::from_slice(&std::fs::read(&path)?)
            .map_err(|e| invalid(format!("not a hook settings file: {e}")))?;
        let secret = file
            .secret()
            .ok_or_else(|| invalid("no X-Hook-Secret for Stop".into()))?
            .to_owned();
        if file != settings_file(&settings.base_url, &session, &secret) {
            tracing::warn!(session = %session, path = %path.display(), base_url = %settings.base_url, "the session's hook settings were written for another address or version; its hooks may not reach this daemon (restart it on the same port)");
        }
        Ok(Self::new(session, secret, path))
    }

    /// Whether `given` is this session's secret (constant time).
    pub fn check(&self, given: &str) -> bool {
        given.as_bytes().ct_eq(self.secret.as_bytes()).into()
    }

    pub fn remove_file(&self) {
        remove_settings_file(&self.settings_path, &self.session);
    }

    /// What to persist in the session's record.
    pub fn record(&self) -> HookRecord {
        self.facts(|f| HookRecord {
            claude_session_id: f.claude_session_id.clone(),
            transcript_path: f.transcript_path.clone(),
        })
    }

    pub fn facts<T>(&self, f: impl FnOnce(&mut HookFacts) -> T) -> T {
        f(&mut self.facts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Note Claude's session id and its transcript, as a hook told them.
    pub fn set_transcript(&self, claude_session_id: Option<String>, path: Option<PathBuf>) {
        self.facts(|f| {
            if claude_session_id.is_some() {
                f.claude_session_id = claude_session_id;
            }
            if let Some(p) = &path {
                f.transcript_path = Some(p.clone());
            }
        });
        if let Some(p) = path {
            let mut t = self.transcript.lock().unwrap_or_else(|p| p.into_inner());
            if t.as_ref().is_none_or(|t| t.path() != p) {
                *t = Some(Transcript::new(p));
            }
        }
    }

    /// Transcript bytes consumed so far (0 without a transcript).
    pub fn transcript_offset(&self) -> u64 {
        self.transcript
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, Transcript::offset)
    }

    /// Read what the transcript gained and run `f` on it (`None` without a transcript).
    /// Blocking file I/O: call from `spawn_blocking`.
    pub fn with_transcript<T>(&self, f: impl FnOnce(&Transcript) -> T) -> Option<T> {
        let mut g = self.transcript.lock().unwrap_or_else(|p| p.into_inner());
        let t = g.as_mut()?;
        if let Err(e) = t.update() {
            tracing::debug!(session = %self.session, path = %t.path().display(), error = %e, "transcript not readable");
        }
        Some(f(t))
    }
}

/// The hook links of live sessions.
#[derive(Default)]
pub struct HookRegistry {
    /// Read on every `/read` and session info, written when a session starts or ends.
    links: RwLock<HashMap<Uuid, Arc<HookLink>>>,
    /// Poked when a fact worth persisting changed (Claude's session id), so the registry writer
    /// saves it before the next daemon restart needs it.
    pub facts_changed: Arc<tokio::sync::Notify>,
}

impl HookRegistry {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Uuid, Arc<HookLink>>> {
        self.links.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Register `link` for its session. The session layer deletes its settings file when the
    /// session ends (the link itself stays until the session is removed, so an exited session
    /// still shows its transcript).
    pub fn insert(&self, link: Arc<HookLink>) {
        self.write().insert(link.session, link);
    }

    /// The link of session `id`, found again after a daemon restart (see the module doc),
    /// with what its `record` kept. Without a settings file the session runs on the screen
    /// alone, as one created with `hooks: false` does; that is logged only if its record says
    /// it had hooks.
    pub fn restore(
        settings: &HookSettings,
        id: Uuid,
        record: Option<&HookRecord>,
    ) -> Option<Arc<HookLink>> {
        match HookLink::restore(settings, id) {
            Ok(link) => {
                if let Some(r) = record {
                    link.set_transcript(r.claude_session_id.clone(), r.transcript_path.clone());
                }
                tracing::debug!(session = %id, "hooks reattached");
                Some(link)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && record.is_none() => None,
            Err(e) => {
                tracing::warn!(session = %id, error = %e, "could not restore the session's hooks; it goes on with the screen alone");
                None
            }
        }
    }

    /// Delete the settings files in `dir` that belong to no session here: those of sessions
    /// removed while no daemon ran, or of a creation cut short by a crash. Run at start-up,
    /// after the sessions are restored and before any can be created.
    pub fn sweep(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if let Some(id) = settings_file_owner(&path)
                && self.get(&id).is_none()
            {
                tracing::info!(session = %id, path = %path.display(), "removing the hook settings file of a session that no longer exists");
                remove_settings_file(&path, &id);
            }
        }
    }

    pub fn get(&self, session: &Uuid) -> Option<Arc<HookLink>> {
        let links = self.links.read().unwrap_or_else(|p| p.into_inner());
        links.get(session).cloned()
    }

    /// Forget a session's link and delete its settings file.
    pub fn remove(&self, session: &Uuid) {
        if let Some(link) = self.write().remove(session) {
            link.remove_file();
        }
    }
}

/// The session whose settings file `path` is, if it is one this module wrote (`<id>.json`).
fn settings_file_owner(path: &Path) -> Option<Uuid> {
    if path.extension().is_none_or(|e| e != "json") {
        return None;
    }
    Uuid::parse_str(path.file_stem()?.to_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_register_every_event_with_the_secret_header() {
        let id = Uuid::nil();
        let v = serde_json::to_value(settings_file("http://127.0.0.1:9", &id, "s3"))
            .expect("serializable");
        for e in EVENTS {
            let h = &v["hooks"][e][0]["hooks"][0];
            assert_eq!(h["type"], "http");
            assert_eq!(
                h["url"],
                format!("http://127.0.0.1:9/v1/hooks/{e}?sessionId={id}")
            );
            assert_eq!(h["headers"]["X-Hook-Secret"], "s3");
        }
        // The typed file reads as a JSON map would: keys in alphabetical order.
        let text = serde_json::to_string(&v).expect("text");
        assert_eq!(
            serde_json::to_string(&settings_file("http://127.0.0.1:9", &id, "s3")).ok(),
            Some(text)
        );
        let dir = tempfile::tempdir().expect("dir");
        let s = HookSettings {
            base_url: "http://x".into(),
            dir: dir.path().join("hooks"),
        };
        let link = HookLink::create(&s, id).expect("create");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&link.settings_path)
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(link.check(&link.secret));
        assert!(!link.check("nope"));
        assert!(!format!("{link:?}").contains(&link.secret));
        assert_eq!(settings_file_owner(&link.settings_path), Some(id));
        assert_eq!(settings_file_owner(&s.dir.join("notes.json")), None);
        // The secret comes back from the file, and only the right one passes.
        let again = HookLink::restore(&s, id).expect("restore");
        assert!(again.check(&link.secret));
        assert!(!again.check("nope"));
        link.remove_file();
        assert!(!link.settings_path.exists());
        assert_eq!(
            HookLink::restore(&s, id).expect_err("gone").kind(),
            std::io::ErrorKind::NotFound
        );
    }
}
