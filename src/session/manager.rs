//! The registry of sessions: create (validate, spawn, start the actor, deliver the first
//! prompt), find by id or name, list, remove. The registry lock guards only the maps; it is
//! never held while spawning or while talking to a session.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

use super::SessionHandle;
use super::actor::HandleError;
use super::launch::{self, LaunchOptions};
use crate::clock::now_ms;
use crate::events::{EventBus, EventDetail, EventKind};
use crate::pty::{self, SpawnSpec};
use crate::vocab::{AgentType, Delivery, PermissionMode, SessionMeta, SessionStatus};
use std::sync::Arc;

/// Defaults and limits that apply to every session.
#[derive(Debug, Clone)]
pub struct SessionDefaults {
    pub cols: u16,
    pub rows: u16,
    /// Lines vt100 keeps above the screen. Kept modest: vt100 stores 32 bytes per cell.
    pub scrollback_lines: usize,
    /// Output-free time after which the coarse detector calls a session idle.
    pub quiet_period: Duration,
    /// How long a first prompt waits for the program to become ready.
    pub prompt_ready_timeout: Duration,
    /// Most sessions alive at once.
    pub max_sessions: usize,
    /// When set, each session's pty and child live in a holder process (see `crate::holder`)
    /// so they survive the daemon; when `None`, the pty is owned by the daemon itself.
    pub holder: Option<crate::holder::client::HolderSettings>,
    /// Detection profiles (embedded defaults plus the state dir's overrides).
    pub profiles: Arc<crate::detect::profile::ProfileSet>,
    /// Working with no screen change for this long = stalled (server default; per session
    /// `stallThresholdMs`). `None` disables stall detection.
    pub stall: Option<Duration>,
    /// Permission requests expire (default action applies) after this long; `None` = never.
    pub permission_timeout: Option<Duration>,
    /// Claude Code hooks (set by `serve` once the port is known); `None` = no hooks.
    pub hooks: Option<crate::hooks::HookSettings>,
}

impl Default for SessionDefaults {
    fn default() -> Self {
        SessionDefaults {
            cols: 160,
            rows: 48,
            scrollback_lines: crate::screen::MAX_SNAPSHOT_LINES,
            quiet_period: Duration::from_millis(750),
            prompt_ready_timeout: Duration::from_secs(30),
            max_sessions: 2000,
            holder: None,
            profiles: Arc::new(
                crate::detect::profile::ProfileSet::builtin().unwrap_or_else(|e| {
                    // The embedded profiles are checked by a unit test; this cannot fire in a build
                    // that passed its tests, and an empty set still detects by activity.
                    tracing::error!(error = %e, "embedded detection profiles are invalid");
                    crate::detect::profile::ProfileSet::default()
                }),
            ),
            stall: Some(Duration::from_secs(300)),
            permission_timeout: None,
            hooks: None,
        }
    }
}

/// A validated request to create a session.
#[derive(Debug, Clone, Default)]
pub struct CreateSpec {
    pub name: Option<String>,
    pub work_dir: PathBuf,
    pub agent_type: Option<AgentType>,
    pub command: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub cols: Option<u16>,
    pub rows: Option<u16>,
    pub prompt: Option<String>,
    pub launch: LaunchOptions,
    pub parent_id: Option<Uuid>,
    /// Answer the start-up trust dialog (`true` trust, `false` decline, `None` ask a human).
    pub trust_folder: Option<bool>,
    /// Per-session stall threshold; `Some(0)` disables stall detection.
    pub stall_threshold_ms: Option<u64>,
    /// Detection profile by name (default: the agent type's).
    pub profile: Option<String>,
    /// Claude Code hooks (`None` = on for claude sessions).
    pub hooks: Option<bool>,
}

/// Why creating or finding a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session not found: {0}")]
    NotFound(String),
    #[error("a session named {0:?} already exists")]
    NameTaken(String),
    #[error("{0}")]
    Invalid(String),
    #[error("could not start {program}: {reason}")]
    Spawn { program: String, reason: String },
    #[error("session limit reached ({0} sessions)")]
    Limit(usize),
    #[error(transparent)]
    Handle(#[from] HandleError),
}

#[derive(Default)]
struct Registry {
    by_id: HashMap<Uuid, SessionHandle>,
    /// Creation order, for stable listings.
    order: Vec<Uuid>,
    by_name: HashMap<String, Uuid>,
    /// Names claimed by creations in progress (spawning happens outside the lock).
    reserved: HashSet<String>,
}

/// Totals over the daemon's life, including removed sessions.
#[derive(Debug, Default)]
pub struct Totals {
    pub created: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
}

pub struct SessionManager {
    registry: Mutex<Registry>,
    /// Where session events go (status changes, creation, removal).
    pub bus: Arc<EventBus>,
    pub defaults: SessionDefaults,
    pub totals: Totals,
    /// Claude Code hook wiring of live sessions.
    pub hooks: crate::hooks::HookRegistry,
}

/// Longest accepted session name; names appear in URLs and tmux targets.
const MAX_NAME_LEN: usize = 128;

impl SessionManager {
    pub fn new(defaults: SessionDefaults, bus: Arc<EventBus>) -> Self {
        SessionManager {
            registry: Mutex::new(Registry::default()),
            bus,
            defaults,
            totals: Totals::default(),
            hooks: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // No code path panics while holding the lock, so a poisoned lock still holds valid maps.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validate, spawn and register a session, then deliver its first prompt if one was given.
    pub async fn create(&self, spec: CreateSpec) -> Result<SessionHandle, SessionError> {
        let agent_type = spec.agent_type.unwrap_or(AgentType::Claude);
        let work_dir = validate_work_dir(&spec.work_dir)?;
        let base = match (&spec.command, agent_type.default_command()) {
            (Some(c), _) if !c.is_empty() => c.clone(),
            (Some(_), _) => return Err(SessionError::Invalid("command must not be empty".into())),
            (None, Some(c)) => c,
            (None, None) => {
                return Err(SessionError::Invalid(
                    "agentType custom needs a command".into(),
                ));
            }
        };
        let id = Uuid::new_v4();
        // Hook settings are written only once everything else validated (below); the argv is
        // checked here with a placeholder path of the same shape.
        let hook_settings = match (&self.defaults.hooks, agent_type, spec.hooks) {
            (Some(h), AgentType::Claude, None | Some(true)) => Some(h.clone()),
            _ => None,
        };
        let mut launch_opts = spec.launch.clone();
        launch_opts.settings_file = hook_settings
            .as_ref()
            .map(|h| h.path_of(&id).display().to_string());
        let command = launch::build_argv(agent_type, base, &launch_opts)
            .map_err(|e| SessionError::Invalid(e.0))?;
        if let Some(parent) = spec.parent_id
            && self.get(&parent.to_string()).is_err()
        {
            return Err(SessionError::Invalid(format!(
                "parentId {parent} is not a known session"
            )));
        }
        if command.iter().any(|a| a.contains('\0')) {
            return Err(SessionError::Invalid(
                "command arguments must not contain NUL".into(),
            ));
        }
        for (k, v) in &spec.env {
            validate_env(k, v)?;
        }
        let cols = spec.cols.unwrap_or(self.defaults.cols);
        let rows = spec.rows.unwrap_or(self.defaults.rows);
        validate_size(cols, rows)?;
        let profile_name = spec
            .profile
            .clone()
            .unwrap_or_else(|| default_profile(agent_type));
        let Some(profile) = self.defaults.profiles.get(&profile_name) else {
            let known: Vec<&str> = self
                .defaults
                .profiles
                .profiles
                .keys()
                .map(String::as_str)
                .collect();
            return Err(SessionError::Invalid(format!(
                "unknown detection profile {profile_name:?}; loaded: {}",
                known.join(", ")
            )));
        };
        let stall = stall_of(spec.stall_threshold_ms, self.defaults.stall);
        let name = match &spec.name {
            Some(n) => validate_name(n)?,
            None => format!("{}-{}", agent_type.as_str(), &id.simple().to_string()[..8]),
        };

        // Claim the name, then spawn without holding the lock.
        {
            let mut reg = self.lock();
            let alive = reg.by_id.values().filter(|h| !h.is_exited()).count() + reg.reserved.len();
            if alive >= self.defaults.max_sessions {
                return Err(SessionError::Limit(self.defaults.max_sessions));
            }
            if reg.by_name.contains_key(&name) || reg.reserved.contains(&name) {
                return Err(SessionError::NameTaken(name));
            }
            reg.reserved.insert(name.clone());
        }
        let hook_link = match &hook_settings {
            Some(h) => match crate::hooks::HookLink::create(h, id) {
                Ok(l) => Some(l),
                Err(e) => {
                    self.lock().reserved.remove(&name);
                    return Err(SessionError::Spawn {
                        program: command[0].clone(),
                        reason: format!("writing the hook settings file: {e}"),
                    });
                }
            },
            None => None,
        };
        let spawn_spec = SpawnSpec {
            argv: command.clone(),
            cwd: work_dir.clone(),
            env: spec.env.clone(),
            cols,
            rows,
        };
        let spawned = match &self.defaults.holder {
            Some(settings) => {
                let record = crate::store::registry::SessionRecord {
                    id,
                    name: name.clone(),
                    work_dir: work_dir.clone(),
                    agent_type: agent_type.as_str().to_owned(),
                    command: command.clone(),
                    created_at: now_ms(),
                    pid: 0,
                    cols,
                    rows,
                    status: SessionStatus::Starting.as_str().to_owned(),
                    exit_code: None,
                    history: Vec::new(),
                    permission_mode: spec.launch.permission_mode.map(|m| m.as_str().to_owned()),
                    parent_id: spec.parent_id,
                    env: spec.env.clone(),
                    stall_threshold_ms: Some(stall_ms(stall)),
                    hooks: hook_link.as_ref().map(|_| Default::default()),
                };
                spawn_held(settings, &record, &spawn_spec).await
            }
            None => pty::spawn(&spawn_spec),
        };
        let process = match spawned {
            Ok(p) => p,
            Err(e) => {
                self.lock().reserved.remove(&name);
                if let Some(l) = &hook_link {
                    l.remove_file();
                }
                return Err(SessionError::Spawn {
                    program: command[0].clone(),
                    reason: e.to_string(),
                });
            }
        };
        let meta = SessionMeta {
            id,
            name: name.clone(),
            work_dir,
            agent_type,
            command,
            created_at_ms: now_ms(),
            pid: process.pid,
            permission_mode: spec
                .launch
                .permission_mode
                .unwrap_or(PermissionMode::Default),
            parent_id: spec.parent_id,
            env: spec.env.clone(),
        };
        let handle = self.start_actor(meta, process, profile, stall, spec.trust_folder);
        if let Some(link) = hook_link {
            self.attach_hooks(link, &handle);
        }
        {
            let mut reg = self.lock();
            reg.reserved.remove(&name);
            reg.by_name.insert(name.clone(), id);
            reg.by_id.insert(id, handle.clone());
            reg.order.push(id);
        }
        self.bus.publish(
            EventKind::SessionCreated,
            &handle.meta,
            None,
            Some(SessionStatus::Starting),
            EventDetail::Created {
                agent_type,
                work_dir: handle.meta.work_dir.clone(),
            },
        );
        self.totals.created.fetch_add(1, Ordering::Relaxed);
        tracing::info!(session = %id, %name, agent = agent_type.as_str(), pid = handle.meta.pid, "session created");

        if let Some(prompt) = spec.prompt.filter(|p| !p.is_empty()) {
            let delivery = self.deliver_first_prompt(&handle, &prompt).await;
            handle.set_prompt_delivery(delivery);
        }
        Ok(handle)
    }

    /// Register a session that already runs (found again after a daemon restart, its process
    /// now `pid`) or that ended while no daemon was watching, with what its record kept: its
    /// stall threshold and, for Claude, its hooks. No creation event: it was announced when
    /// created.
    pub fn adopt(
        &self,
        record: &crate::store::registry::SessionRecord,
        pid: i32,
        process: pty::PtyProcess,
    ) -> SessionHandle {
        let meta = record.meta(pid);
        let profile = self
            .defaults
            .profiles
            .for_agent(&default_profile(meta.agent_type));
        let stall = stall_of(record.stall_threshold_ms, self.defaults.stall);
        let handle = self.start_actor(meta, process, profile, stall, None);
        if let (AgentType::Claude, Some(settings)) = (handle.meta.agent_type, &self.defaults.hooks)
            && let Some(link) =
                crate::hooks::HookRegistry::restore(settings, handle.meta.id, record.hooks.as_ref())
        {
            self.attach_hooks(link, &handle);
        }
        let mut reg = self.lock();
        reg.by_name.insert(handle.meta.name.clone(), handle.meta.id);
        reg.by_id.insert(handle.meta.id, handle.clone());
        reg.order.push(handle.meta.id);
        handle
    }

    /// Register a session's hook link, and delete its settings file when the session ends
    /// (the link itself stays until the session is removed, so an exited session still shows
    /// its transcript). A held PermissionRequest hook ends with the session.
    fn attach_hooks(&self, link: Arc<crate::hooks::HookLink>, handle: &SessionHandle) {
        self.hooks.insert(link.clone());
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut rx = handle.watch();
            let _ = rx.wait_for(|s| s.status == SessionStatus::Exited).await;
            link.remove_file();
            handle.perms.hook_drop(None);
        });
    }

    /// Start the actor of a spawned (or re-adopted) process with its detector and permission
    /// supervisor.
    fn start_actor(
        &self,
        meta: SessionMeta,
        process: pty::PtyProcess,
        profile: Arc<crate::detect::profile::Profile>,
        stall: Option<Duration>,
        trust_folder: Option<bool>,
    ) -> SessionHandle {
        let detector = crate::detect::Detector::new(
            profile,
            crate::detect::DetectConfig {
                quiet: self.defaults.quiet_period,
                stall,
                permission_timeout: self.defaults.permission_timeout,
            },
            std::time::Instant::now(),
        );
        let perms = crate::permissions::SessionPermissions::new(crate::permissions::Policy {
            trust_folder,
            ..Default::default()
        });
        let handle = SessionHandle::start(
            meta,
            process,
            self.defaults.scrollback_lines,
            detector,
            Arc::new(perms),
            self.bus.clone(),
        );
        handle
            .counters
            .stall_threshold_ms
            .store(stall_ms(stall), Ordering::Relaxed);
        super::supervisor::spawn(handle.clone());
        handle
    }

    /// Wait until the program is ready for input (idle), then type the prompt and Enter.
    pub async fn deliver_first_prompt(&self, handle: &SessionHandle, prompt: &str) -> Delivery {
        let ready = handle
            .wait_for(
                |s| matches!(s.status, SessionStatus::Idle | SessionStatus::Exited),
                self.defaults.prompt_ready_timeout,
            )
            .await;
        if handle.is_exited() {
            return Delivery {
                delivered: false,
                attempts: 0,
            };
        }
        if !ready {
            tracing::warn!(session = %handle.meta.id, "program never became ready; sending the prompt anyway");
        }
        match handle.send_text(prompt, true).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(session = %handle.meta.id, error = %e, "prompt delivery failed");
                Delivery {
                    delivered: false,
                    attempts: 1,
                }
            }
        }
    }

    /// Find by id, or by name.
    pub fn get(&self, id_or_name: &str) -> Result<SessionHandle, SessionError> {
        let reg = self.lock();
        let id = Uuid::parse_str(id_or_name)
            .ok()
            .or_else(|| reg.by_name.get(id_or_name).copied());
        id.and_then(|id| reg.by_id.get(&id).cloned())
            .ok_or_else(|| SessionError::NotFound(id_or_name.to_owned()))
    }

    /// Every session, oldest first.
    pub fn list(&self) -> Vec<SessionHandle> {
        let reg = self.lock();
        reg.order
            .iter()
            .filter_map(|id| reg.by_id.get(id).cloned())
            .collect()
    }

    /// Kill (if running) and forget a session.
    pub async fn remove(&self, handle: &SessionHandle) -> Result<(), SessionError> {
        let was_running = !handle.is_exited();
        if was_running {
            handle.kill().await?;
        }
        let removed = {
            let mut reg = self.lock();
            let removed = reg.by_id.remove(&handle.meta.id).is_some();
            self.hooks.remove(&handle.meta.id);
            reg.order.retain(|id| *id != handle.meta.id);
            reg.by_name.remove(&handle.meta.name);
            removed
        };
        if removed {
            match handle.live().exit_code {
                Some(0) => self.totals.completed.fetch_add(1, Ordering::Relaxed),
                _ => self.totals.failed.fetch_add(1, Ordering::Relaxed),
            };
            tracing::info!(session = %handle.meta.id, "session removed");
            let live = handle.live();
            self.bus.publish(
                EventKind::SessionKilled,
                &handle.meta,
                Some(live.status),
                None,
                EventDetail::Removed {
                    exit_code: live.exit_code,
                    was_running,
                },
            );
        }
        Ok(())
    }

    /// Kill every session (daemon shutdown), in parallel.
    pub async fn kill_all(&self) {
        let handles = self.list();
        let kills = handles.iter().filter(|h| !h.is_exited()).map(|h| h.kill());
        futures_util::future::join_all(kills).await;
    }
}

/// Start a session in a holder process: its directory and `meta.json` first (so a crash
/// right after the spawn still leaves the session findable), then the holder.
async fn spawn_held(
    settings: &crate::holder::client::HolderSettings,
    record: &crate::store::registry::SessionRecord,
    spec: &SpawnSpec,
) -> std::io::Result<pty::PtyProcess> {
    let dir = crate::store::session_dir(&settings.state_dir, &record.id);
    crate::store::create_private_dir(&dir)?;
    let result = match crate::store::registry::write_meta(&dir, record) {
        Ok(()) => crate::holder::client::spawn(settings, &dir, spec).await,
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// A stall threshold as requested or persisted in ms (`Some(0)` = off, `None` = `default`).
fn stall_of(ms: Option<u64>, default: Option<Duration>) -> Option<Duration> {
    match ms {
        Some(0) => None,
        Some(ms) => Some(Duration::from_millis(ms)),
        None => default,
    }
}

/// A stall threshold in ms as session info shows it and records keep it (0 = off).
fn stall_ms(stall: Option<Duration>) -> u64 {
    stall.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The detection profile of an agent type when the request names none.
fn default_profile(agent_type: AgentType) -> String {
    match agent_type {
        AgentType::Custom => "shell".to_owned(),
        a => a.as_str().to_owned(),
    }
}

fn validate_work_dir(dir: &Path) -> Result<PathBuf, SessionError> {
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

fn validate_name(name: &str) -> Result<String, SessionError> {
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

fn validate_env(key: &str, value: &str) -> Result<(), SessionError> {
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
pub fn validate_size(cols: u16, rows: u16) -> Result<(), SessionError> {
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
        assert!(validate_name("worker-1.a_b").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("6f9619ff-8b86-d011-b42d-00c04fc964ff").is_err());
        assert!(validate_env("FOO_1", "x").is_ok());
        assert!(validate_env("1FOO", "x").is_err());
        assert!(validate_env("A=B", "x").is_err());
        assert!(is_refused_env("LD_PRELOAD"));
        assert!(is_refused_env("ld_library_path"));
        assert!(is_refused_env("BASH_ENV"));
        assert!(is_refused_env("AEGIS_AUTH_TOKEN"));
        assert!(!is_refused_env("OLDPWD"));
        assert!(validate_work_dir(Path::new("relative")).is_err());
        assert!(validate_work_dir(Path::new("/definitely/missing/dir")).is_err());
        assert!(validate_size(1, 10).is_err());
    }
}
