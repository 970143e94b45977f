//! Running stand-in commands inside the daemon: namespaces, targets, and the session-level
//! commands (new/has/list/kill/attach/resize/respawn). Pane-level commands (keys, capture,
//! buffers, options, environment) are in [`super::pane`]; creating panes is in [`super::spawn`].
//!
//! tmux semantics copied here: a session whose program exited disappears (unless
//! `remain-on-exit` is on, then its pane is dead); a socket with no sessions has "no server
//! running"; commands run in order and the first error stops the chain with exit code 1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cmd::{self, Cmd};
pub use super::state::TmuxState;
use crate::attach::proto::{TmuxReply, TmuxRequest};
use crate::session::{SessionHandle, SessionManager};

/// What the stand-in's commands reach in the daemon, and nothing more: the sessions, the state
/// dir (for `#{socket_path}` and new panes' environment), the stand-in's own namespaces, and
/// the attach hub (how many clients a session has). Built once by the daemon's local socket.
pub struct TmuxHost {
    pub sessions: Arc<SessionManager>,
    pub state_dir: PathBuf,
    pub state: TmuxState,
    pub attach: Arc<crate::attach::server::Hub>,
}

/// tmux's default pane size for detached sessions (`default-size`).
pub const DEFAULT_COLS: u16 = 80;
pub const DEFAULT_ROWS: u16 = 24;

/// Where `new-session -n` keeps the window name (tmux otherwise names a window after its
/// program); an internal option name no `set-option` can reach.
pub const WINDOW_NAME: &str = " window-name";

/// A visible stand-in session: its handle and tmux number.
#[derive(Clone)]
pub struct Pane {
    pub handle: SessionHandle,
    pub n: u32,
}

/// Which kind of target a command wants; decides the error wording, as in tmux.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Session,
    Window,
    Pane,
}

pub type CmdResult = Result<(), String>;

/// One request being executed.
pub struct Ctx<'a> {
    pub host: &'a TmuxHost,
    pub req: &'a TmuxRequest,
    pub out: String,
    pub attach: Option<(String, bool)>,
}

/// Run a request's command chain.
pub async fn execute(host: &TmuxHost, req: TmuxRequest) -> TmuxReply {
    let mut ctx = Ctx {
        host,
        req: &req,
        out: String::new(),
        attach: None,
    };
    let result = ctx.run_all().await;
    let (code, stderr) = match result {
        Ok(()) => (0, String::new()),
        Err(e) => (1, format!("{e}\n")),
    };
    let (attach, read_only) = match ctx.attach.take() {
        Some((id, ro)) => (Some(id), ro),
        None => (None, false),
    };
    TmuxReply {
        code,
        stdout: std::mem::take(&mut ctx.out),
        stderr,
        attach,
        read_only,
    }
}

impl Ctx<'_> {
    async fn run_all(&mut self) -> CmdResult {
        let lines = cmd::split(&self.req.argv);
        let mut cmds = Vec::with_capacity(lines.len());
        for line in &lines {
            cmds.push(cmd::parse(line)?);
        }
        if !cmds.iter().any(|c| c.spec.starts_server) {
            let exists = self.host.state.lock().spaces.contains_key(&self.req.socket);
            if self.panes().is_empty() {
                return Err(if exists || self.is_default_socket() && self.has_any() {
                    format!("no server running on {}", self.req.socket)
                } else {
                    format!(
                        "error connecting to {} (No such file or directory)",
                        self.req.socket
                    )
                });
            }
        }
        for c in &cmds {
            self.run(c).await?;
        }
        Ok(())
    }

    fn has_any(&self) -> bool {
        !self.host.sessions.list().is_empty()
    }

    fn is_default_socket(&self) -> bool {
        Path::new(&self.req.socket)
            .file_name()
            .is_some_and(|n| n == "default")
    }

    async fn run(&mut self, c: &Cmd) -> CmdResult {
        match c.spec.name {
            "new-session" => self.new_session(c).await,
            "has-session" => self.target(c.value('t'), Kind::Session).map(drop),
            "list-sessions" => self.list(c, None, super::pane::LS_FORMAT).await,
            "list-windows" => {
                let scope = (!c.has('a')).then(|| self.target(c.value('t'), Kind::Session));
                self.list(c, scope.transpose()?, super::pane::LSW_FORMAT)
                    .await
            }
            "list-panes" => {
                let scope = (!c.has('a')).then(|| self.target(c.value('t'), Kind::Window));
                self.list(c, scope.transpose()?, super::pane::LSP_FORMAT)
                    .await
            }
            "kill-session" => self.kill_session(c).await,
            "kill-server" => {
                for p in self.all_members() {
                    self.remove(&p.handle).await;
                }
                Ok(())
            }
            "start-server" => {
                self.host
                    .state
                    .lock()
                    .spaces
                    .entry(self.req.socket.clone())
                    .or_default();
                Ok(())
            }
            "attach-session" => {
                if !self.req.tty {
                    return Err("open terminal failed: not a terminal".into());
                }
                let p = self.target(c.value('t'), Kind::Session)?;
                self.attach = Some((p.handle.meta.id.to_string(), c.has('r')));
                Ok(())
            }
            "resize-window" => self.resize_window(c).await,
            "respawn-pane" => self.respawn(c).await,
            _ => self.run_pane_command(c).await,
        }
    }

    /// Every session of this namespace that tmux would show: alive, or dead with
    /// `remain-on-exit`. Sessions created over REST join the default namespace.
    pub fn panes(&self) -> Vec<Pane> {
        let sessions = self.host.sessions.list();
        let mut st = self.host.state.lock();
        if self.is_default_socket() {
            st.adopt(&self.req.socket, sessions.iter().map(|h| h.meta.id));
        }
        let Some(space) = st.spaces.get(&self.req.socket) else {
            return vec![];
        };
        let mut panes: Vec<Pane> = space
            .members
            .iter()
            .filter_map(|(n, id)| {
                let handle = sessions.iter().find(|h| h.meta.id == *id)?.clone();
                let keep = !handle.is_exited() || space.option(*id, "remain-on-exit") == Some("on");
                keep.then_some(Pane { handle, n: *n })
            })
            .collect();
        // tmux keeps sessions in a tree ordered by name; listings follow it.
        panes.sort_by(|a, b| a.handle.meta.name.cmp(&b.handle.meta.name));
        panes
    }

    /// Every session of this namespace, dead ones included.
    fn all_members(&self) -> Vec<Pane> {
        let sessions = self.host.sessions.list();
        let st = self.host.state.lock();
        let Some(space) = st.spaces.get(&self.req.socket) else {
            return vec![];
        };
        space
            .members
            .iter()
            .filter_map(|(n, id)| {
                let handle = sessions.iter().find(|h| h.meta.id == *id)?.clone();
                Some(Pane { handle, n: *n })
            })
            .collect()
    }

    /// Resolve `-t` as tmux does: `$N`/`@N`/`%N`, `=name` (exact), a name, or a unique
    /// prefix, optionally followed by `:window` and `.pane`. No target means the pane this
    /// client runs in, else the most recent session.
    pub fn target(&self, target: Option<&str>, kind: Kind) -> Result<Pane, String> {
        let panes = self.panes();
        let Some(t) = target.filter(|t| !t.is_empty()) else {
            let current = self
                .req
                .current_pane
                .as_deref()
                .and_then(|p| p.strip_prefix('%'))
                .and_then(|n| n.parse::<u32>().ok());
            return current
                .and_then(|n| panes.iter().find(|p| p.n == n))
                .or_else(|| panes.iter().max_by_key(|p| p.n))
                .cloned()
                .ok_or_else(|| "no current session".to_owned());
        };
        let what = match kind {
            Kind::Session => "session",
            Kind::Window => "window",
            Kind::Pane => "pane",
        };
        for (sigil, word) in [('$', "session"), ('@', "window"), ('%', "pane")] {
            if let Some(n) = t.strip_prefix(sigil) {
                return n
                    .parse::<u32>()
                    .ok()
                    .and_then(|n| panes.iter().find(|p| p.n == n))
                    .cloned()
                    .ok_or_else(|| format!("can't find {word}: {t}"));
            }
        }
        let (session, window) = match t.split_once(':') {
            Some((s, w)) => (s, Some(w)),
            None => (t, None),
        };
        let found = find_session(&panes, session).ok_or_else(|| match window {
            Some(_) => format!("can't find session: {}", session.trim_start_matches('=')),
            None => format!("can't find {what}: {}", t.trim_start_matches('=')),
        })?;
        if let Some(w) = window {
            let (win, pane) = match w.split_once('.') {
                Some((w, p)) => (w, Some(p)),
                None => (w, None),
            };
            let base = self.index_option(&found, "base-index");
            if !window_matches(win, found.n, base) {
                return Err(format!("can't find window: {win}"));
            }
            let pane_base = self.index_option(&found, "pane-base-index");
            if let Some(p) = pane
                && !pane_matches(p, found.n, pane_base)
            {
                return Err(format!("can't find pane: {p}"));
            }
        }
        Ok(found)
    }

    pub fn index_option(&self, p: &Pane, name: &str) -> u32 {
        let st = self.host.state.lock();
        st.spaces
            .get(&self.req.socket)
            .and_then(|s| s.option(p.handle.meta.id, name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    async fn list(&mut self, c: &Cmd, scope: Option<Pane>, default: &str) -> CmdResult {
        let fmt = c.value('F').unwrap_or(default).to_owned();
        let panes = match scope {
            Some(p) => vec![p],
            None => self.panes(),
        };
        for p in panes {
            let line = self.expand(&fmt, Some(&p)).await;
            self.out.push_str(&line);
            self.out.push('\n');
        }
        Ok(())
    }

    async fn remove(&self, handle: &SessionHandle) {
        if let Err(e) = self.host.sessions.remove(handle).await {
            tracing::warn!(session = %handle.meta.id, error = %e, "tmux stand-in: removing a session failed");
        }
        self.host
            .state
            .lock()
            .forget(&self.req.socket, handle.meta.id);
    }

    async fn kill_session(&mut self, c: &Cmd) -> CmdResult {
        let target = self.target(c.value('t'), Kind::Session)?;
        if c.has('a') {
            for p in self.panes() {
                if p.n != target.n {
                    self.remove(&p.handle).await;
                }
            }
        } else {
            self.remove(&target.handle).await;
        }
        Ok(())
    }

    async fn resize_window(&mut self, c: &Cmd) -> CmdResult {
        let p = self.target(c.value('t'), Kind::Window)?;
        if c.has('A') && !c.has('x') && !c.has('y') {
            return Ok(()); // sizing follows the latest attach client already
        }
        let live = p.handle.live();
        let cols = size_arg(c.value('x'), "width")?.unwrap_or(live.cols);
        let rows = size_arg(c.value('y'), "height")?.unwrap_or(live.rows);
        crate::session::validate::size(cols, rows).map_err(|e| e.to_string())?;
        p.handle.resize(cols, rows).await.map_err(|e| e.to_string())
    }

    async fn new_session(&mut self, c: &Cmd) -> CmdResult {
        if !c.has('d') && !self.req.tty {
            return Err("open terminal failed: not a terminal".into());
        }
        let panes = self.panes();
        let name = match c.value('s') {
            Some(s) => s.replace(['.', ':'], "_"),
            None => (0..)
                .map(|i: u32| i.to_string())
                .find(|n| !panes.iter().any(|p| p.handle.meta.name == *n))
                .unwrap_or_default(),
        };
        if let Some(existing) = panes.iter().find(|p| p.handle.meta.name == name) {
            if c.has('A') {
                if !c.has('d') {
                    self.attach = Some((existing.handle.meta.id.to_string(), false));
                }
                return Ok(());
            }
            return Err(format!("duplicate session: {name}"));
        }
        // An exited session (tmux would have destroyed it) still holds the Aegis name.
        if let Ok(old) = self.host.sessions.get(&name) {
            let ours = self.host.state.lock().owner.get(&old.meta.id) == Some(&self.req.socket);
            if old.is_exited() && (ours || self.is_default_socket()) {
                self.remove(&old).await;
            } else {
                return Err(format!("duplicate session: {name}"));
            }
        }
        let cols = size_arg(c.value('x'), "width")?.unwrap_or(DEFAULT_COLS);
        let rows = size_arg(c.value('y'), "height")?.unwrap_or(DEFAULT_ROWS);
        let work_dir = self.dir(c.value('c'));
        let n = self
            .host
            .state
            .lock()
            .spaces
            .entry(self.req.socket.clone())
            .or_default()
            .reserve();
        let env = self.child_env(n, None, c.values('e'))?;
        let command = self.command(&c.args);
        let handle = self
            .spawn(Some(name), work_dir, command, env, cols, rows, n)
            .await?;
        if let Some(window) = c.value('n') {
            let mut st = self.host.state.lock();
            let space = st.spaces.entry(self.req.socket.clone()).or_default();
            space
                .session_options
                .entry(handle.meta.id)
                .or_default()
                .insert(WINDOW_NAME.into(), window.to_owned());
        }
        if c.has('P') {
            let fmt = c.value('F').unwrap_or("#{session_name}:").to_owned();
            let p = Pane {
                handle: handle.clone(),
                n,
            };
            let line = self.expand(&fmt, Some(&p)).await;
            self.out.push_str(&line);
            self.out.push('\n');
        }
        if !c.has('d') {
            self.attach = Some((handle.meta.id.to_string(), false));
        }
        Ok(())
    }

    async fn respawn(&mut self, c: &Cmd) -> CmdResult {
        let p = self.target(c.value('t'), Kind::Pane)?;
        if !p.handle.is_exited() && !c.has('k') {
            return Err(format!(
                "respawn pane failed: pane {}:{}.{} still active",
                p.handle.meta.name,
                self.index_option(&p, "base-index"),
                self.index_option(&p, "pane-base-index")
            ));
        }
        let meta = p.handle.meta.clone();
        let work_dir = match c.value('c') {
            Some(d) => self.dir(Some(d)),
            None => meta.work_dir.clone(),
        };
        let command = if c.args.is_empty() {
            meta.command.clone()
        } else {
            self.command(&c.args)
        };
        let env = self.child_env(p.n, Some(meta.id), c.values('e'))?;
        let (cols, rows) = {
            let l = p.handle.live();
            (l.cols, l.rows)
        };
        let options = {
            let st = self.host.state.lock();
            st.spaces
                .get(&self.req.socket)
                .and_then(|s| s.session_options.get(&meta.id).cloned())
        };
        self.remove(&p.handle).await;
        let handle = self
            .spawn(
                Some(meta.name.clone()),
                work_dir,
                command,
                env,
                cols,
                rows,
                p.n,
            )
            .await?;
        if let Some(o) = options {
            let mut st = self.host.state.lock();
            if let Some(s) = st.spaces.get_mut(&self.req.socket) {
                s.session_options.insert(handle.meta.id, o);
            }
        }
        Ok(())
    }
}

fn size_arg(v: Option<&str>, what: &str) -> Result<Option<u16>, String> {
    match v {
        None => Ok(None),
        Some(s) => s
            .parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| format!("{what} {s}")),
    }
}

/// tmux's session lookup: `=name` exact; otherwise exact, then a unique prefix.
fn find_session(panes: &[Pane], name: &str) -> Option<Pane> {
    if let Some(exact) = name.strip_prefix('=') {
        return panes.iter().find(|p| p.handle.meta.name == exact).cloned();
    }
    if let Some(p) = panes.iter().find(|p| p.handle.meta.name == name) {
        return Some(p.clone());
    }
    let mut prefixed = panes
        .iter()
        .filter(|p| p.handle.meta.name.starts_with(name));
    match (prefixed.next(), prefixed.next()) {
        (Some(one), None) => Some(one.clone()),
        _ => None,
    }
}

fn window_matches(w: &str, n: u32, base: u32) -> bool {
    w.is_empty()
        || matches!(w, "^" | "$" | "!" | "{start}" | "{end}" | "{last}")
        || w.strip_prefix('@').and_then(|x| x.parse().ok()) == Some(n)
        || w.trim_start_matches('=').parse::<u32>().ok() == Some(base)
}

fn pane_matches(p: &str, n: u32, base: u32) -> bool {
    p.is_empty()
        || matches!(p, "^" | "$" | "!" | "{top}" | "{bottom}" | "{last}")
        || p.strip_prefix('%').and_then(|x| x.parse().ok()) == Some(n)
        || p.parse::<u32>().ok() == Some(base)
}
