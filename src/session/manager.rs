//! The registry of sessions: find by id or name, list, remove; adopt the sessions of a
//! previous daemon; start a session's actor (creating one is `super::create`). The registry
//! lock guards only the maps; it is never held while spawning or while talking to a session.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

use super::HandleError;
use super::SessionHandle;
use crate::events::{EventBus, EventDetail, EventKind};
use crate::pty;
use crate::vocab::{AgentType, Delivery, SessionMeta, SessionStatus};
use std::sync::Arc;

/// Defaults and limits that apply to every session.
#[derive(Debug, Clone)]
pub struct SessionDefaults {
    pub cols: u16,
    pub rows: u16,
    /// History a session keeps above its screen when its creator names no limit.
    pub history_lines: usize,
    /// Byte limit of that history (0: lines only).
    pub history_bytes: usize,
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
    /// Where the shell integration's scripts were written (see `super::shell`); `None` = no
    /// integration.
    pub shell_scripts: Option<std::path::PathBuf>,
}

impl Default for SessionDefaults {
    fn default() -> Self {
        SessionDefaults {
            cols: 160,
            rows: 48,
            history_lines: crate::vocab::DEFAULT_HISTORY_LINES,
            history_bytes: 0,
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
            shell_scripts: None,
        }
    }
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
    /// Read on every request that names a session, written on create and remove: readers
    /// never wait for one another (a reader the OS preempted holds up no one).
    registry: RwLock<Registry>,
    /// Where session events go (status changes, creation, removal).
    pub bus: Arc<EventBus>,
    pub defaults: SessionDefaults,
    pub totals: Totals,
    /// Claude Code hook wiring of live sessions.
    pub hooks: crate::hooks::HookRegistry,
}

impl SessionManager {
    pub fn new(defaults: SessionDefaults, bus: Arc<EventBus>) -> Self {
        SessionManager {
            registry: RwLock::new(Registry::default()),
            bus,
            defaults,
            totals: Totals::default(),
            hooks: Default::default(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        // No code path panics while holding the lock, so a poisoned lock still holds valid maps.
        self.registry.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner())
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
        self.insert(&handle);
        handle
    }

    /// Claim `name` (and a place under the session limit) for a creation in progress, so
    /// spawning can happen without holding the lock.
    pub(super) fn reserve_name(&self, name: &str) -> Result<(), SessionError> {
        let mut reg = self.write();
        let alive = reg.by_id.values().filter(|h| !h.is_exited()).count() + reg.reserved.len();
        if alive >= self.defaults.max_sessions {
            return Err(SessionError::Limit(self.defaults.max_sessions));
        }
        if reg.by_name.contains_key(name) || reg.reserved.contains(name) {
            return Err(SessionError::NameTaken(name.to_owned()));
        }
        reg.reserved.insert(name.to_owned());
        Ok(())
    }

    /// Give up a name reserved by a creation that failed.
    pub(super) fn release_name(&self, name: &str) {
        self.write().reserved.remove(name);
    }

    /// Enter a started session in the registry (its name stops being merely reserved).
    pub(super) fn insert(&self, handle: &SessionHandle) {
        let mut reg = self.write();
        reg.reserved.remove(&handle.meta.name);
        reg.by_name.insert(handle.meta.name.clone(), handle.meta.id);
        reg.by_id.insert(handle.meta.id, handle.clone());
        reg.order.push(handle.meta.id);
    }

    /// Register a session's hook link, and delete its settings file when the session ends
    /// (the link itself stays until the session is removed, so an exited session still shows
    /// its transcript). A held PermissionRequest hook ends with the session.
    pub(super) fn attach_hooks(&self, link: Arc<crate::hooks::HookLink>, handle: &SessionHandle) {
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
    pub(super) fn start_actor(
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
        let handle =
            SessionHandle::start(meta, process, detector, Arc::new(perms), self.bus.clone());
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
        let reg = self.read();
        let id = Uuid::parse_str(id_or_name)
            .ok()
            .or_else(|| reg.by_name.get(id_or_name).copied());
        id.and_then(|id| reg.by_id.get(&id).cloned())
            .ok_or_else(|| SessionError::NotFound(id_or_name.to_owned()))
    }

    /// Every session, oldest first.
    pub fn list(&self) -> Vec<SessionHandle> {
        let reg = self.read();
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
            let mut reg = self.write();
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

/// A stall threshold as requested or persisted in ms (`Some(0)` = off, `None` = `default`).
pub(super) fn stall_of(ms: Option<u64>, default: Option<Duration>) -> Option<Duration> {
    match ms {
        Some(0) => None,
        Some(ms) => Some(Duration::from_millis(ms)),
        None => default,
    }
}

/// A stall threshold in ms as session info shows it and records keep it (0 = off).
pub(super) fn stall_ms(stall: Option<Duration>) -> u64 {
    stall.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The detection profile of an agent type when the request names none.
pub(super) fn default_profile(agent_type: AgentType) -> String {
    match agent_type {
        AgentType::Custom => "shell".to_owned(),
        a => a.as_str().to_owned(),
    }
}
