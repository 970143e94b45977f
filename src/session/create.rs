//! Creating a session, in named steps: [`SessionManager::create`] plans (validates everything
//! that can be checked without side effects), reserves the name (`SessionManager::reserve_name`), writes the hook settings,
//! spawns the process and registers it; a failure after the reservation releases the name
//! and removes what was written.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use uuid::Uuid;

use super::launch::{self, LaunchOptions};
use super::manager::{SessionError, default_profile, stall_ms, stall_of};
use super::{SessionHandle, SessionManager, validate};
use crate::clock::now_ms;
use crate::events::{EventDetail, EventKind};
use crate::pty::{self, SpawnSpec};
use crate::vocab::{AgentType, PermissionMode, SessionMeta, SessionStatus};

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
    /// History kept above the screen, in lines (`None`: the daemon's default).
    pub history_lines: Option<usize>,
    /// Byte limit of the history (`None`: the daemon's default; 0: lines only).
    pub history_bytes: Option<usize>,
    /// Prompt and command marks for a bash or zsh (`None`: on where it applies; `Some(true)`
    /// for any other command is an error).
    pub shell_integration: Option<bool>,
}

/// A create request after validation: what [`SessionManager::create`] spawns.
struct Plan {
    id: Uuid,
    name: String,
    agent_type: AgentType,
    work_dir: PathBuf,
    /// The full argv (launch options and hook settings applied).
    command: Vec<String>,
    cols: u16,
    rows: u16,
    profile: Arc<crate::detect::profile::Profile>,
    stall: Option<Duration>,
    /// Set when the session gets Claude Code hooks.
    hooks: Option<crate::hooks::HookSettings>,
    history: crate::screen::HistoryLimits,
    /// Environment only the child gets (the shell integration's), on top of the session's.
    child_env: Vec<(String, String)>,
    shell_integration: bool,
}

impl SessionManager {
    /// Validate, spawn and register a session, then deliver its first prompt if one was given.
    pub async fn create(&self, spec: CreateSpec) -> Result<SessionHandle, SessionError> {
        let plan = self.plan(&spec)?;
        self.reserve_name(&plan.name)?;
        // From here on the name is reserved: every failure releases it.
        let hook_link = match self.write_hook_settings(&plan) {
            Ok(l) => l,
            Err(e) => {
                self.release_name(&plan.name);
                return Err(e);
            }
        };
        let process = match self.spawn(&plan, &spec, hook_link.is_some()).await {
            Ok(p) => p,
            Err(e) => {
                self.release_name(&plan.name);
                if let Some(l) = &hook_link {
                    l.remove_file();
                }
                return Err(e);
            }
        };
        let handle = self.register(&plan, &spec, process, hook_link);
        if let Some(prompt) = spec.prompt.filter(|p| !p.is_empty()) {
            let delivery = self.deliver_first_prompt(&handle, &prompt).await;
            handle.set_prompt_delivery(delivery);
        }
        Ok(handle)
    }

    /// Step 1 of [`Self::create`]: check everything that can be checked before any side effect,
    /// and decide the argv, size, profile, stall threshold and name.
    fn plan(&self, spec: &CreateSpec) -> Result<Plan, SessionError> {
        let agent_type = spec.agent_type.unwrap_or(AgentType::Claude);
        let work_dir = validate::work_dir(&spec.work_dir)?;
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
        // Hook settings are written only once everything else validated (see `create`); the
        // argv is checked here with a placeholder path of the same shape.
        // Hook settings are flags of the agent; a shell line that is more than one simple
        // command cannot take them (they would be the script's `$0`).
        let fits = launch::takes_flags(&base);
        if spec.hooks == Some(true) && agent_type == AgentType::Claude && !fits {
            return Err(SessionError::Invalid(
                "hooks need claude's own command line: give the command as a list of words, \
                 or a shell line that is one simple command"
                    .into(),
            ));
        }
        let hooks = match (&self.defaults.hooks, agent_type, spec.hooks) {
            (Some(h), AgentType::Claude, None | Some(true)) if fits => Some(h.clone()),
            _ => None,
        };
        let mut launch_opts = spec.launch.clone();
        launch_opts.settings_file = hooks.as_ref().map(|h| h.path_of(&id).display().to_string());
        let command = launch::build_argv(agent_type, base, &launch_opts)
            .map_err(|e| SessionError::Invalid(e.0))?;
        let integrated = match (&self.defaults.shell_scripts, spec.shell_integration) {
            (_, Some(false)) | (None, _) => None,
            (Some(dir), _) => super::shell::launch(dir, &command, &spec.env),
        };
        if spec.shell_integration == Some(true) && integrated.is_none() {
            return Err(SessionError::Invalid(
                "shellIntegration needs a plain interactive bash or zsh (no -c, script or login \
                 flag) and a daemon with a state dir"
                    .into(),
            ));
        }
        let shell_integration = integrated.is_some();
        let (command, child_env) = match integrated {
            Some(l) => (l.argv, l.env),
            None => (
                command,
                launch::interactive_env(agent_type, &spec.env, |k| std::env::var_os(k).is_some()),
            ),
        };
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
            validate::env(k, v)?;
        }
        let cols = spec.cols.unwrap_or(self.defaults.cols);
        let rows = spec.rows.unwrap_or(self.defaults.rows);
        validate::size(cols, rows)?;
        let history = validate::history(
            spec.history_lines,
            spec.history_bytes,
            crate::screen::HistoryLimits {
                lines: self.defaults.history_lines,
                bytes: self.defaults.history_bytes,
            },
        )?;
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
        let name = match &spec.name {
            Some(n) => validate::name(n)?,
            None => format!("{}-{}", agent_type.as_str(), &id.simple().to_string()[..8]),
        };
        Ok(Plan {
            id,
            name,
            agent_type,
            work_dir,
            command,
            cols,
            rows,
            profile,
            stall: stall_of(spec.stall_threshold_ms, self.defaults.stall),
            hooks,
            history,
            child_env,
            shell_integration,
        })
    }

    /// Step 3: write the Claude Code hook settings file, if the session gets hooks.
    fn write_hook_settings(
        &self,
        plan: &Plan,
    ) -> Result<Option<Arc<crate::hooks::HookLink>>, SessionError> {
        let Some(h) = &plan.hooks else {
            return Ok(None);
        };
        crate::hooks::HookLink::create(h, plan.id)
            .map(Some)
            .map_err(|e| SessionError::Spawn {
                program: plan.command[0].clone(),
                reason: format!("writing the hook settings file: {e}"),
            })
    }

    /// Step 4: start the process, in a holder (with its session directory and `meta.json`
    /// written first) or in the daemon itself.
    async fn spawn(
        &self,
        plan: &Plan,
        spec: &CreateSpec,
        hooks: bool,
    ) -> Result<pty::PtyProcess, SessionError> {
        let spawn_spec = SpawnSpec {
            argv: plan.command.clone(),
            cwd: plan.work_dir.clone(),
            env: spec.env.iter().chain(&plan.child_env).cloned().collect(),
            cols: plan.cols,
            rows: plan.rows,
        };
        let spawned = match &self.defaults.holder {
            Some(settings) => {
                let record = crate::store::registry::SessionRecord {
                    id: plan.id,
                    name: plan.name.clone(),
                    work_dir: plan.work_dir.clone(),
                    agent_type: plan.agent_type.as_str().to_owned(),
                    command: plan.command.clone(),
                    created_at: now_ms(),
                    pid: 0,
                    cols: plan.cols,
                    rows: plan.rows,
                    status: SessionStatus::Starting.as_str().to_owned(),
                    exit_code: None,
                    history: Vec::new(),
                    permission_mode: spec.launch.permission_mode.map(|m| m.as_str().to_owned()),
                    parent_id: spec.parent_id,
                    env: spec.env.clone(),
                    stall_threshold_ms: Some(stall_ms(plan.stall)),
                    hooks: hooks.then(Default::default),
                    history_lines: Some(plan.history.lines),
                    history_bytes: Some(plan.history.bytes),
                    shell_integration: plan.shell_integration,
                };
                spawn_held(settings, &record, &spawn_spec).await
            }
            None => pty::spawn(&spawn_spec),
        };
        spawned.map_err(|e| SessionError::Spawn {
            program: plan.command[0].clone(),
            reason: e.to_string(),
        })
    }

    /// Step 5: start the actor, wire the hooks, enter the session in the registry (releasing
    /// the reserved name) and announce it.
    fn register(
        &self,
        plan: &Plan,
        spec: &CreateSpec,
        process: pty::PtyProcess,
        hook_link: Option<Arc<crate::hooks::HookLink>>,
    ) -> SessionHandle {
        let meta = SessionMeta {
            id: plan.id,
            name: plan.name.clone(),
            work_dir: plan.work_dir.clone(),
            agent_type: plan.agent_type,
            command: plan.command.clone(),
            created_at_ms: now_ms(),
            pid: process.pid,
            permission_mode: spec
                .launch
                .permission_mode
                .unwrap_or(PermissionMode::Default),
            parent_id: spec.parent_id,
            env: spec.env.clone(),
            history_lines: plan.history.lines,
            history_bytes: plan.history.bytes,
            shell_integration: plan.shell_integration,
        };
        let handle = self.start_actor(
            meta,
            process,
            plan.profile.clone(),
            plan.stall,
            spec.trust_folder,
        );
        if let Some(link) = hook_link {
            self.attach_hooks(link, &handle);
        }
        self.insert(&handle);
        self.bus.publish(
            EventKind::SessionCreated,
            &handle.meta,
            None,
            Some(SessionStatus::Starting),
            EventDetail::Created {
                agent_type: plan.agent_type,
                work_dir: handle.meta.work_dir.clone(),
            },
        );
        self.totals.created.fetch_add(1, Ordering::Relaxed);
        tracing::info!(session = %plan.id, name = %plan.name, agent = plan.agent_type.as_str(), pid = handle.meta.pid, "session created");
        handle
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
