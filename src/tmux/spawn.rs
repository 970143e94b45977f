//! Creating panes for the stand-in: the program (tmux's shell-command rule), its directory
//! and environment (`TMUX`, `TMUX_PANE`, `set-environment`), and registering the new Aegis
//! session under its tmux number.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::exec::Ctx;
use crate::session::CreateSpec;
use crate::session::SessionHandle;
use crate::vocab::AgentType;

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)] // reason: one call site per command, all fields distinct
    pub async fn spawn(
        &self,
        name: Option<String>,
        work_dir: PathBuf,
        command: Vec<String>,
        env: Vec<(String, String)>,
        cols: u16,
        rows: u16,
        n: u32,
    ) -> Result<SessionHandle, String> {
        let agent_type = agent_of(&command);
        let spec = CreateSpec {
            name,
            work_dir,
            agent_type: Some(agent_type),
            command: Some(command),
            env,
            cols: Some(cols),
            rows: Some(rows),
            ..CreateSpec::default()
        };
        let handle = self
            .host
            .sessions
            .create(spec)
            .await
            .map_err(|e| e.to_string())?;
        self.host
            .state
            .lock()
            .claim(&self.req.socket, n, handle.meta.id);
        Ok(handle)
    }

    /// A directory argument, relative to the client's working directory.
    pub fn dir(&self, d: Option<&str>) -> PathBuf {
        let cwd = PathBuf::from(&self.req.cwd);
        match d {
            None => cwd,
            Some(d) => {
                let home = self
                    .req
                    .env
                    .iter()
                    .find(|(k, _)| k == "HOME")
                    .map(|(_, v)| v.clone());
                let d = match (d.strip_prefix('~'), home) {
                    (Some(rest), Some(h)) => format!("{h}{rest}"),
                    _ => d.to_owned(),
                };
                cwd.join(d)
            }
        }
    }

    /// tmux's command rule: no argument runs the default shell, one argument is a shell
    /// command run with `$SHELL -c` (the caller wrote shell syntax on purpose), more than one
    /// is an argv run directly.
    pub fn command(&self, args: &[String]) -> Vec<String> {
        let shell = self
            .req
            .env
            .iter()
            .find(|(k, _)| k == "SHELL")
            .map(|(_, v)| v.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(crate::vocab::login_shell);
        match args {
            [] => vec![shell],
            [one] => vec![shell, "-c".into(), one.clone()],
            many => many.to_vec(),
        }
    }

    /// The environment of a new pane: the client's (as tmux's server inherits it), then
    /// `set-environment` values, then `-e`, then `TMUX`/`TMUX_PANE`.
    pub fn child_env(
        &self,
        n: u32,
        session: Option<Uuid>,
        extra: &[String],
    ) -> Result<Vec<(String, String)>, String> {
        let mut env: Vec<(String, String)> = self
            .req
            .env
            .iter()
            .filter(|(k, _)| {
                !k.starts_with("AEGIS_")
                    && !matches!(k.as_str(), "TMUX" | "TMUX_PANE" | "TERM" | "COLORTERM")
                    && valid_env_name(k)
            })
            .cloned()
            .collect();
        let mut set = |k: &str, v: Option<&str>| {
            env.retain(|(key, _)| key != k);
            if let Some(v) = v {
                env.push((k.to_owned(), v.to_owned()));
            }
        };
        {
            let st = self.host.state.lock();
            if let Some(space) = st.spaces.get(&self.req.socket) {
                let session_env = session.and_then(|id| space.session_env.get(&id));
                for scope in std::iter::once(&space.global_env).chain(session_env) {
                    for (k, v) in scope {
                        set(k, v.value.as_deref());
                    }
                }
            }
        }
        for kv in extra {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("invalid environment: {kv}"))?;
            set(k, Some(v));
        }
        // So a nested `tmux` (the stand-in) in the pane reaches this daemon.
        let state_dir = self.host.state_dir.display().to_string();
        set("AEGIS_STATE_DIR", Some(&state_dir));
        let tmux = format!("{},{},{n}", self.req.socket, std::process::id());
        set("TMUX", Some(&tmux));
        set("TMUX_PANE", Some(&format!("%{n}")));
        Ok(env)
    }
}

fn valid_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Pick the agent type from the program name, so known agents get their input pacing.
fn agent_of(command: &[String]) -> AgentType {
    let program = match command {
        [_, flag, script] if flag == "-c" => script.split_whitespace().next().unwrap_or(""),
        [first, ..] => first.as_str(),
        [] => "",
    };
    let base = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    match AgentType::parse(base) {
        Some(a @ (AgentType::Claude | AgentType::Codex | AgentType::Gemini)) => a,
        _ => AgentType::Custom,
    }
}
