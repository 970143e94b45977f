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
//! The events feed the session's state machine (see `api::hooks` and the actor's reconcile):
//! the screen still decides what the user sees, hooks only make it exact and early.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use uuid::Uuid;

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

/// What the hooks told us, besides state.
#[derive(Debug, Default)]
pub struct HookFacts {
    pub claude_session_id: Option<String>,
    pub transcript_path: Option<PathBuf>,
    /// The last event and when (epoch ms).
    pub last_event: Option<(String, u64)>,
    pub events: u64,
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

/// The settings file for `session`.
pub fn settings_json(base_url: &str, session: &Uuid, secret: &str) -> Value {
    let mut hooks = serde_json::Map::new();
    for event in EVENTS {
        let timeout = if *event == "PermissionRequest" {
            PERMISSION_TIMEOUT_SECS
        } else {
            HOOK_TIMEOUT_SECS
        };
        hooks.insert(
            (*event).to_owned(),
            json!([{ "hooks": [{
                "type": "http",
                "url": format!("{base_url}/v1/hooks/{event}?sessionId={session}"),
                "headers": { "X-Hook-Secret": secret },
                "timeout": timeout,
            }]}]),
        );
    }
    json!({ "hooks": hooks })
}

impl HookLink {
    /// Write the settings file for a new session.
    pub fn create(settings: &HookSettings, session: Uuid) -> std::io::Result<Arc<HookLink>> {
        crate::store::create_private_dir(&settings.dir)?;
        let secret = new_secret();
        let path = settings.dir.join(format!("{session}.json"));
        crate::store::atomic::write_json(
            &path,
            &settings_json(&settings.base_url, &session, &secret),
        )?;
        Ok(Arc::new(HookLink {
            session,
            secret,
            settings_path: path,
            facts: Mutex::default(),
            transcript: Mutex::new(None),
        }))
    }

    /// Whether `given` is this session's secret (constant time).
    pub fn check(&self, given: &str) -> bool {
        given.as_bytes().ct_eq(self.secret.as_bytes()).into()
    }

    pub fn remove_file(&self) {
        match std::fs::remove_file(&self.settings_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(session = %self.session, path = %self.settings_path.display(), error = %e, "could not remove the hook settings file")
            }
        }
    }

    pub fn facts<T>(&self, f: impl FnOnce(&mut HookFacts) -> T) -> T {
        f(&mut self.facts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Note a SessionStart: Claude's session id and its transcript.
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
    links: Mutex<HashMap<Uuid, Arc<HookLink>>>,
}

impl HookRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<HookLink>>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, link: Arc<HookLink>) {
        self.lock().insert(link.session, link);
    }

    pub fn get(&self, session: &Uuid) -> Option<Arc<HookLink>> {
        self.lock().get(session).cloned()
    }

    /// Forget a session's link and delete its settings file.
    pub fn remove(&self, session: &Uuid) {
        if let Some(link) = self.lock().remove(session) {
            link.remove_file();
        }
    }
}

/// Whether `path` is a settings file this module wrote (for clean-up of leftovers).
pub fn is_settings_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
        && path
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| Uuid::parse_str(s).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_register_every_event_with_the_secret_header() {
        let id = Uuid::nil();
        let v = settings_json("http://127.0.0.1:9", &id, "s3");
        for e in EVENTS {
            let h = &v["hooks"][e][0]["hooks"][0];
            assert_eq!(h["type"], "http");
            assert_eq!(
                h["url"],
                format!("http://127.0.0.1:9/v1/hooks/{e}?sessionId={id}")
            );
            assert_eq!(h["headers"]["X-Hook-Secret"], "s3");
        }
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
        assert!(is_settings_file(&link.settings_path));
        link.remove_file();
        assert!(!link.settings_path.exists());
    }
}
