//! Starting a pane's program as an Aegis session, as tmux's spawn does: the command (none: the
//! session's `default-command`, else the default shell as a login shell; one argument: run by
//! the shell with `-c`; several: run directly), its directory (`-c`, relative to the client's
//! directory; one that does not exist leaves the program in the server's directory while
//! `#{pane_start_path}` shows what was asked), and its environment (the server's, the
//! session's, `-e`, then `TMUX`, `TMUX_PANE`, `SHELL`). The Aegis session gets a name of its
//! own: the tmux session's name for a session's first pane when that is a valid, free Aegis
//! name, else one derived from it and the pane id.

use std::path::{Path, PathBuf};

use super::exec::Ctx;
use super::tree::Pane;
use crate::session::{CreateSpec, SessionError};
use crate::vocab::AgentType;

/// What a new pane runs and where.
pub struct Spawn<'a> {
    pub session: u32,
    pub pane_id: u32,
    pub window: u32,
    /// The command as given (`[]`: the default).
    pub args: &'a [String],
    /// `-c`, before expansion.
    pub cwd: Option<&'a str>,
    /// `-e VAR=VALUE`.
    pub env: &'a [String],
    pub sx: u32,
    pub sy: u32,
    /// The first pane of a new session: it may take the session's name.
    pub first: bool,
}

impl Ctx<'_> {
    /// Start the program of a new pane and return the pane (not yet in its window).
    pub async fn spawn_pane(&mut self, sp: Spawn<'_>) -> Result<Pane, String> {
        let shell = self.default_shell(sp.session)?;
        let server = self.server()?;
        let session_name = server
            .session(sp.session)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let session_cwd = server.session(sp.session).map(|s| s.cwd.clone());
        let default_command = server
            .session_option(sp.session, "default-command")
            .filter(|c| !c.is_empty());
        let argv: Vec<String> = match (sp.args, &default_command) {
            ([], Some(dc)) => vec![dc.clone()],
            _ => sp.args.to_vec(),
        };
        let command = match argv.as_slice() {
            [] => vec![shell.clone(), "-l".into()],
            [one] => vec![shell.clone(), "-c".into(), one.clone()],
            many => many.to_vec(),
        };
        let start_path = match sp.cwd {
            Some(c) => {
                let c = self.expand_simple(c, Some(sp.session));
                let c = expand_home(&c, self.env_var("HOME").as_deref());
                if c.starts_with('/') {
                    c
                } else {
                    format!("{}/{c}", self.client_cwd(session_cwd.as_deref()))
                }
            }
            None => self.client_cwd(session_cwd.as_deref()),
        };
        let work_dir = if Path::new(&start_path).is_dir() {
            PathBuf::from(&start_path)
        } else {
            // tmux: chdir fails, the child stays where the server is.
            PathBuf::from(self.server_cwd())
        };
        let env = self.pane_env(sp.session, sp.pane_id, &shell, sp.env)?;
        let agent_type = agent_of(&command);
        let (cols, rows) = (
            u16::try_from(sp.sx)
                .unwrap_or(u16::MAX)
                .clamp(crate::screen::MIN_COLS, crate::screen::MAX_COLS),
            u16::try_from(sp.sy)
                .unwrap_or(u16::MAX)
                .clamp(crate::screen::MIN_ROWS, crate::screen::MAX_ROWS),
        );
        // tmux's `history-limit`, as the session has it when the pane starts (a pane keeps the
        // limit it started with, as in tmux).
        let history_lines = self
            .server()?
            .session_option(sp.session, "history-limit")
            .and_then(|v| v.parse::<usize>().ok())
            .map(|n| n.min(crate::session::MAX_HISTORY_LINES));
        let mut names = self.aegis_names(&session_name, sp.pane_id, sp.first);
        let handle = loop {
            let name = names.pop();
            let spec = CreateSpec {
                name: name.clone(),
                work_dir: work_dir.clone(),
                agent_type: Some(agent_type),
                command: Some(command.clone()),
                env: env.clone(),
                cols: Some(cols),
                rows: Some(rows),
                history_lines,
                // A pane runs its command exactly as tmux would, with no marks added.
                shell_integration: Some(false),
                ..CreateSpec::default()
            };
            match self.host.sessions.create(spec).await {
                Ok(h) => break h,
                Err(SessionError::NameTaken(_)) if !names.is_empty() => {}
                Err(SessionError::Spawn { program, reason }) => {
                    return Err(format!("create pane failed: {program}: {reason}"));
                }
                Err(e) => return Err(format!("create pane failed: {e}")),
            }
        };
        Ok(Pane::new(
            sp.pane_id, sp.window, handle, argv, start_path, shell,
        ))
    }

    /// Names to try for a pane's Aegis session, last first. A name held by an exited session
    /// that used to be a pane is taken over (tmux would have forgotten that pane).
    fn aegis_names(&mut self, session: &str, pane: u32, first: bool) -> Vec<String> {
        let clean: String = session
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let clean = clean.trim_start_matches(['-', '_']).to_owned();
        let base = if clean.is_empty() {
            "tmux".to_owned()
        } else {
            clean
        };
        let mut names = vec![
            format!(
                "{base}-{pane}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            format!("{base}-{pane}"),
        ];
        if first
            && base == session
            && session.len() <= 100
            && uuid::Uuid::parse_str(session).is_err()
        {
            names.push(session.to_owned());
        }
        for n in &names {
            if let Ok(old) = self.host.sessions.get(n)
                && old.is_exited()
                && self.ns.retired.contains(&old.meta.id)
            {
                self.ns.retired.remove(&old.meta.id);
                let sessions = self.host.sessions.clone();
                tokio::spawn(async move {
                    let _ = sessions.remove(&old).await;
                });
            }
        }
        names
    }

    /// The shell panes run: `default-shell` (chosen when the server started), else /bin/sh.
    pub fn default_shell(&mut self, session: u32) -> Result<String, String> {
        let server = self.server()?;
        Ok(server
            .session_option(session, "default-shell")
            .filter(|s| s.starts_with('/'))
            .unwrap_or_else(|| "/bin/sh".into()))
    }

    /// The client's directory when it is not attached (tmux's server_client_get_cwd), else
    /// the session's.
    pub fn client_cwd(&self, session_cwd: Option<&str>) -> String {
        if self.client.is_some()
            && let Some(c) = session_cwd
        {
            return c.to_owned();
        }
        self.req.cwd.clone()
    }

    /// A variable of the client's environment.
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.req
            .env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The environment of a new pane: the server's global environment (the first client's),
    /// the session's, `-e`, then `TMUX`, `TMUX_PANE`, `SHELL` and `AEGIS_STATE_DIR`.
    fn pane_env(
        &mut self,
        session: u32,
        pane: u32,
        shell: &str,
        extra: &[String],
    ) -> Result<Vec<(String, String)>, String> {
        let state_dir = self.host.state_dir.display().to_string();
        let pid = std::process::id();
        let socket = self.socket.clone();
        let server = self.server()?;
        let mut env: Vec<(String, String)> = vec![];
        let mut set = |k: &str, v: Option<&str>| {
            env.retain(|(key, _)| key != k);
            if let Some(v) = v {
                env.push((k.to_owned(), v.to_owned()));
            }
        };
        let session_env = server.session(session).map(|s| &s.env);
        for scope in std::iter::once(&server.env).chain(session_env) {
            for (k, v) in scope {
                if valid_env_name(k) && !is_private(k) {
                    set(k, v.value.as_deref());
                }
            }
        }
        for kv in extra {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("invalid environment: {kv}"))?;
            if valid_env_name(k) {
                set(k, Some(v));
            }
        }
        set("TMUX", Some(&format!("{socket},{pid},{session}")));
        set("TMUX_PANE", Some(&format!("%{pane}")));
        set("SHELL", Some(shell));
        // So a nested `tmux` (the stand-in) reaches this daemon whatever its environment.
        set("AEGIS_STATE_DIR", Some(&state_dir));
        Ok(env)
    }
}

/// The terminal variables are the pane's own (a client's `AEGIS_*` never reach the server's
/// environment in the first place; see `exec::start_server`).
fn is_private(k: &str) -> bool {
    matches!(k, "TERM" | "COLORTERM" | "TMUX" | "TMUX_PANE")
}

fn valid_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `~` and `~/…` in a directory, with the client's HOME.
fn expand_home(dir: &str, home: Option<&str>) -> String {
    match (dir.strip_prefix('~'), home) {
        (Some(rest), Some(h)) if rest.is_empty() || rest.starts_with('/') => format!("{h}{rest}"),
        _ => dir.to_owned(),
    }
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
