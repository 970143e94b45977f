//! Running stand-in command lines inside the daemon, as a tmux server's command queue does:
//! parse the whole line first (command aliases included), start the server if a command
//! needs one (reading its config files), then for each command resolve its target and source
//! and run it; the first error stops the chain with exit code 1. A command that waits
//! (`wait-for`) or runs a shell (`run-shell`, `if-shell`) does so with the lock released.
//! The commands themselves are in [`super::commands`].

use std::collections::HashMap;

use tokio::sync::oneshot;

use super::cmd::{self, Cmd};
use super::host::TmuxHost;
use super::target::{self, Current, Found};
use super::tree::{Namespaces, Server};
use super::vars::{Facts, HostInfo, Scope};
use crate::attach::proto::{TmuxReply, TmuxRequest};

pub type CmdResult = Result<(), String>;

/// What the chain does after a command, with the lock released.
pub enum Next {
    Continue,
    /// Block until the channel fires (wait-for).
    Wait(oneshot::Receiver<()>),
    /// Run a shell command (run-shell, if-shell).
    Shell(ShellJob),
    /// Let these panes' programs answer the input just sent (see [`settle`]).
    Settle(Vec<crate::session::SessionHandle>),
}

pub struct ShellJob {
    pub command: String,
    pub cwd: String,
    /// Variables added to the client's environment.
    pub env: Vec<(String, String)>,
    /// Without `-b`, wait for it and print its output; with `if-shell`, the commands to run
    /// on success and failure.
    pub background: bool,
    pub then: Option<(String, Option<String>)>,
}

/// A client attaching after the reply: which server and session.
#[derive(Debug, Clone)]
pub struct AttachTo {
    pub socket: String,
    pub session: u32,
    pub read_only: bool,
}

/// One command being executed.
pub struct Ctx<'a> {
    pub host: &'a TmuxHost,
    pub ns: &'a mut Namespaces,
    pub req: &'a TmuxRequest,
    pub socket: String,
    pub out: &'a mut String,
    pub info: &'a HostInfo,
    /// The client running the command (control mode), if any.
    pub client: Option<u64>,
    /// The client the command acts on (`-c`/`-t` of client commands, else the current one).
    pub tclient: Option<u64>,
    /// The client whose `client_*` variables formats show (display-message picks one).
    pub format_client: Option<u64>,
    pub target: Option<Found>,
    pub source: Option<Found>,
    pub next: Next,
    pub attach: &'a mut Option<AttachTo>,
    /// source-file / if-shell nesting, bounded.
    pub depth: usize,
}

impl<'a> Ctx<'a> {
    /// A context for running commands of a chain, before any target, source or acting client
    /// is picked.
    #[allow(clippy::too_many_arguments)] // reason: the chain's state, passed through once
    pub fn new(
        host: &'a TmuxHost,
        ns: &'a mut Namespaces,
        req: &'a TmuxRequest,
        out: &'a mut String,
        info: &'a HostInfo,
        client: Option<u64>,
        attach: &'a mut Option<AttachTo>,
        depth: usize,
    ) -> Ctx<'a> {
        Ctx {
            host,
            ns,
            req,
            socket: req.socket.clone(),
            out,
            info,
            client,
            tclient: None,
            format_client: None,
            target: None,
            source: None,
            next: Next::Continue,
            attach,
            depth,
        }
    }
}

/// Run a request's command chain and answer it.
pub async fn execute(host: &TmuxHost, req: TmuxRequest) -> TmuxReply {
    let info = HostInfo::new(&req.socket);
    let mut out = String::new();
    let mut attach = None;
    let result = run_request(host, &req, &info, &mut out, None, &mut attach).await;
    let (code, stderr) = match result {
        Ok(()) => (0, String::new()),
        Err(e) => (1, format!("{e}\n")),
    };
    TmuxReply {
        code,
        stdout: out,
        stderr,
        attach: None,
        attach_tmux: attach.as_ref().map(|a| crate::attach::proto::TmuxAttach {
            socket: a.socket.clone(),
            session: a.session,
            ..Default::default()
        }),
        read_only: attach.is_some_and(|a| a.read_only),
    }
}

/// Parse `argv` into commands, expanding `command-alias` entries.
pub fn parse_line(argv: &[String], server: Option<&Server>) -> Result<Vec<Cmd>, String> {
    let mut cmds = vec![];
    for line in cmd::split(argv) {
        let line = expand_alias(line, server);
        for sub in cmd::split(&line) {
            cmds.push(cmd::parse(&sub)?);
        }
    }
    Ok(cmds)
}

fn expand_alias(line: Vec<String>, server: Option<&Server>) -> Vec<String> {
    let Some(name) = line.first() else {
        return line;
    };
    let aliases: Vec<String> = match server.and_then(|s| s.options.server.get("command-alias")) {
        Some(super::options::OptValue::Array(a)) => a.values().cloned().collect(),
        _ => super::options_table::OPTIONS
            .iter()
            .find(|o| o.name == "command-alias")
            .map(|o| o.default.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_default(),
    };
    for a in aliases {
        if let Some((from, to)) = a.split_once('=')
            && from == name
        {
            let mut v = super::config::tokenize(to).unwrap_or_default();
            v.extend(line[1..].iter().cloned());
            return v;
        }
    }
    line
}

/// Run the commands of `req` (for a control client, `client` is set).
pub async fn run_request(
    host: &TmuxHost,
    req: &TmuxRequest,
    info: &HostInfo,
    out: &mut String,
    client: Option<u64>,
    attach: &mut Option<AttachTo>,
) -> Result<(), String> {
    let mut guard = host.state.lock().await;
    let cmds = parse_line(&req.argv, guard.servers.get(&req.socket))?;
    if host.home.is_home(&req.socket) {
        super::adopt::adopt(host, &mut guard, req).await;
    }
    host.reap(&mut guard, &req.socket).await;
    let starts = !req.no_start && cmds.iter().any(|c| c.spec.starts_server);
    if !guard.servers.contains_key(&req.socket) {
        if !starts {
            return Err(if guard.known.contains(&req.socket) {
                format!("no server running on {}", req.socket)
            } else {
                format!(
                    "error connecting to {} (No such file or directory)",
                    req.socket
                )
            });
        }
        start_server(host, &mut guard, req, info).await;
    }
    let mut result = Ok(());
    for c in &cmds {
        let next = {
            let mut ctx = Ctx::new(host, &mut guard, req, out, info, client, attach, 0);
            match ctx.run(c).await {
                Ok(()) => ctx.next,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        };
        match next {
            Next::Continue => {}
            Next::Wait(rx) => {
                finish(host, &mut guard, &req.socket).await;
                drop(guard);
                let _ = rx.await;
                guard = host.state.lock().await;
            }
            Next::Settle(handles) => {
                finish(host, &mut guard, &req.socket).await;
                drop(guard);
                settle(&handles).await;
                guard = host.state.lock().await;
            }
            Next::Shell(job) => {
                finish(host, &mut guard, &req.socket).await;
                drop(guard);
                let outcome = super::shell::run_shell(&job, req).await;
                guard = host.state.lock().await;
                if let Err(e) = super::shell::after_shell(
                    host, &mut guard, req, info, out, client, attach, job, outcome,
                )
                .await
                {
                    result = Err(e);
                    break;
                }
            }
        }
    }
    finish(host, &mut guard, &req.socket).await;
    result
}

/// Wait, with the lock released, until the programs that were just sent input have answered
/// (their output went quiet) or stay silent. A pane's output reaches its screen model through
/// the holder and the session's actor, a few hops more than in tmux; without this a
/// `capture-pane` right after `send-keys` (as libtmux and agent tools do) could miss the echo
/// tmux would already show. Bounded: at most [`SETTLE_LIMIT`].
pub async fn settle(handles: &[crate::session::SessionHandle]) {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    const FIRST: Duration = Duration::from_millis(60);
    const QUIET: Duration = Duration::from_millis(15);
    let read = || -> u64 {
        handles
            .iter()
            .map(|h| h.counters.bytes_out.load(Ordering::Relaxed))
            .sum()
    };
    let start = Instant::now();
    let mut last = read();
    let mut changed_at: Option<Instant> = None;
    while start.elapsed() < SETTLE_LIMIT {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = read();
        if now != last {
            last = now;
            changed_at = Some(Instant::now());
        }
        match changed_at {
            None if start.elapsed() >= FIRST => break,
            Some(t) if t.elapsed() >= QUIET => break,
            _ => {}
        }
    }
}

/// The longest [`settle`] waits.
pub const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_millis(300);

/// Commands whose `-t` names a client, not a target.
fn client_t_flag(name: &str) -> bool {
    cmd::client_flag(name).is_some_and(|(f, _)| f == 't')
}

/// Start the server of `req.socket` if it is not running and the command line would start
/// one (a control client registers itself before its first command runs).
pub async fn ensure_server(host: &TmuxHost, req: &TmuxRequest, info: &HostInfo) {
    let mut guard = host.state.lock().await;
    if guard.servers.contains_key(&req.socket) || req.no_start {
        return;
    }
    let starts = parse_line(&req.argv, None)
        .map(|cmds| cmds.iter().any(|c| c.spec.starts_server))
        .unwrap_or(false);
    if starts {
        start_server(host, &mut guard, req, info).await;
    }
}

/// After a chain: resize what changed, let an empty server exit, tell REST and watchers.
async fn finish(host: &TmuxHost, ns: &mut Namespaces, socket: &str) {
    host.reap(ns, socket).await;
    host.sync_sizes(ns, socket).await;
    host.drop_empty(ns);
    host.publish(ns);
}

/// Start a server for `req.socket`: global environment and default shell from the client,
/// then its config files.
pub(crate) async fn start_server(
    host: &TmuxHost,
    ns: &mut Namespaces,
    req: &TmuxRequest,
    info: &HostInfo,
) {
    let now = crate::clock::now_ms();
    let mut server = Server::new(&req.socket, now, &req.cwd);
    for (k, v) in &req.env {
        if !k.starts_with("AEGIS_") && k != "TMUX" && k != "TMUX_PANE" {
            server.env.insert(
                k.clone(),
                super::tree::EnvVar {
                    value: Some(v.clone()),
                    hidden: false,
                },
            );
        }
    }
    let shell = super::options::shell_for_client(
        req.env
            .iter()
            .find(|(k, _)| k == "SHELL")
            .map(|(_, v)| v.as_str()),
    );
    server
        .options
        .session
        .set("default-shell", super::options::OptValue::Single(shell));
    ns.servers.insert(req.socket.clone(), server);
    ns.known.insert(req.socket.clone());
    let files = super::config::config_files(req);
    let mut loaded = vec![];
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        loaded.push(f.clone());
        let mut out = String::new();
        let mut attach = None;
        let mut ctx = Ctx::new(host, ns, req, &mut out, info, None, &mut attach, 1);
        if let Err(e) = ctx.source_text(&text, &f).await {
            tracing::debug!(file = %f, error = %e, "tmux stand-in: config file error");
        }
    }
    if let Some(s) = ns.servers.get_mut(&req.socket) {
        s.config_files = loaded;
    }
}

impl Ctx<'_> {
    /// This request's server.
    pub fn server(&mut self) -> Result<&mut Server, String> {
        let socket = self.socket.clone();
        self.ns
            .servers
            .get_mut(&socket)
            .ok_or_else(|| format!("no server running on {socket}"))
    }

    pub fn server_ref(&self) -> Option<&Server> {
        self.ns.servers.get(&self.socket)
    }

    /// Where commands without a target start: the client's session, or the pane the client
    /// runs in.
    pub fn current(&self) -> Current {
        let session = self
            .client
            .and_then(|c| self.server_ref()?.clients.get(c))
            .map(|c| c.session);
        let pane = self
            .req
            .current_pane
            .as_deref()
            .and_then(|p| p.strip_prefix('%'))
            .and_then(|n| n.parse().ok());
        Current { pane, session }
    }

    /// Resolve a target string of `kind` (for commands that find more than one).
    pub fn resolve(
        &mut self,
        t: Option<&str>,
        kind: cmd::Kind,
        flags: u8,
    ) -> Result<Option<Found>, String> {
        let cur = self.current();
        let server = self.server()?;
        target::resolve(server, t, kind, flags, cur)
    }

    /// The client a command means: by name or terminal, else the current one (the issuing
    /// client if attached, else the most recently active client of the session the caller
    /// runs in or of the best session). tmux's cmd_find_client.
    pub fn find_client(&self, name: Option<&str>) -> Result<Option<u64>, String> {
        let Some(server) = self.server_ref() else {
            return Ok(None);
        };
        if let Some(n) = name {
            return server
                .clients
                .find(n)
                .map(|c| Some(c.id))
                .ok_or_else(|| format!("can't find client: {}", n.strip_suffix(':').unwrap_or(n)));
        }
        if let Some(c) = self.client.filter(|c| server.clients.get(*c).is_some()) {
            return Ok(Some(c));
        }
        let session = target::current(server, self.current()).and_then(|f| f.session);
        let pick = session
            .filter(|s| server.clients.attached_to(*s) > 0)
            .and_then(|s| server.clients.best(Some(s)))
            .or_else(|| server.clients.best(None));
        Ok(pick.map(|c| c.id))
    }

    /// Run one command: resolve its client, source and target, then dispatch.
    pub async fn run(&mut self, c: &Cmd) -> CmdResult {
        if self.server_ref().is_none() && !c.spec.starts_server {
            return Err(format!("no server running on {}", self.socket));
        }
        match cmd::client_flag(c.name()) {
            Some((flag, canfail)) => {
                let name = if flag == ' ' { None } else { c.value(flag) };
                match self.find_client(name) {
                    Ok(Some(id)) => self.tclient = Some(id),
                    Ok(None) if canfail => self.tclient = None,
                    Ok(None) => return Err("no current client".into()),
                    Err(_) if canfail => self.tclient = None,
                    Err(e) => return Err(e),
                }
            }
            None => self.tclient = self.find_client(None).ok().flatten(),
        }
        if let Some(f) = c.spec.source {
            let flags = if f.flags & cmd::DEFAULT_MARKED != 0
                && !c.has(f.flag)
                && self.server_ref().is_some_and(|s| s.marked.is_some())
            {
                self.source = self.resolve(Some("~"), f.kind, 0)?;
                None
            } else {
                Some(f.flags)
            };
            if let Some(flags) = flags {
                self.source = self.resolve(c.value(f.flag), f.kind, flags)?;
            }
        }
        if let Some(f) = c.spec.target
            && !(client_t_flag(c.name()) && f.flag == 't')
        {
            self.target = self.resolve(c.value(f.flag), f.kind, f.flags)?;
        }
        super::commands::dispatch(self, c).await
    }

    /// The resolved target, which a command without CANFAIL always has.
    pub fn tgt(&self) -> Result<Found, String> {
        self.target.ok_or_else(|| "no current target".to_owned())
    }

    /// Expand a format with a context built from the target (or `scope`), reading the pane
    /// facts it may need first.
    pub async fn expand(&mut self, fmt: &str, found: Option<Found>) -> String {
        let facts = self
            .facts_for(found.and_then(|f| f.pane).into_iter().collect())
            .await;
        self.expand_with(fmt, found, &facts, &[])
    }

    /// Read the screen facts of these panes (or, with none given, nothing).
    pub async fn facts_for(&self, panes: Vec<u32>) -> HashMap<u32, Facts> {
        match self.server_ref() {
            Some(s) => super::vars::gather(s, &panes).await,
            None => HashMap::new(),
        }
    }

    /// Expand synchronously with facts already read.
    pub fn expand_with(
        &self,
        fmt: &str,
        found: Option<Found>,
        facts: &HashMap<u32, Facts>,
        extra: &[(&'static str, String)],
    ) -> String {
        let Some(server) = self.server_ref() else {
            return super::format::expand(fmt, &|_: &str| None);
        };
        let f = found.unwrap_or_default();
        let mut scope = Scope::new(server, self.info, facts, f.session, f.wl, f.pane);
        scope.client = self
            .format_client
            .or(self.client)
            .and_then(|c| server.clients.get(c));
        scope.extra = extra.to_vec();
        super::format::expand(fmt, &scope)
    }

    /// A format with no pane facts (directory arguments, names).
    pub fn expand_simple(&self, fmt: &str, session: Option<u32>) -> String {
        if !fmt.contains('#') {
            return fmt.to_owned();
        }
        let found = self.target.or(session.map(|s| Found {
            session: Some(s),
            ..Found::default()
        }));
        self.expand_with(fmt, found, &HashMap::new(), &[])
    }

    /// Where the server runs (for a pane whose directory does not exist).
    pub fn server_cwd(&self) -> String {
        self.server_ref()
            .map(|s| s.cwd.clone())
            .filter(|c| std::path::Path::new(c).is_dir())
            .unwrap_or_else(|| "/".into())
    }

    /// Make `pane` its window's active pane (the previous one becomes the last pane).
    pub fn set_active(&mut self, pane: u32) {
        let mut point = self.ns.next_active_point;
        if let Some(server) = self.ns.servers.get_mut(&self.socket) {
            server.set_active_pane(pane, &mut point);
        }
        self.ns.next_active_point = point;
    }

    /// With `-P`, print what the command made in its `-F` format, else `default` (tmux's
    /// new-session, new-window, split-window and break-pane).
    pub async fn print_made(&mut self, c: &Cmd, default: &str, made: Found) {
        if c.has('P') {
            let fmt = c.value('F').unwrap_or(default).to_owned();
            let line = self.expand(&fmt, Some(made)).await;
            self.print(&line);
        }
    }

    /// Print a line of output.
    pub fn print(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
    }

    /// Stop a pane's program and forget its Aegis session (kill-pane and friends).
    pub async fn kill_handle(&self, h: &crate::session::SessionHandle) {
        if let Err(e) = self.host.sessions.remove(h).await {
            tracing::debug!(session = %h.meta.id, error = %e, "tmux stand-in: removing a session failed");
        }
    }

    /// Run tmux command text (a config file, an if-shell branch) line by line.
    pub async fn source_text(&mut self, text: &str, origin: &str) -> CmdResult {
        if self.depth > 10 {
            return Err(format!("{origin}: too many nested files"));
        }
        let commands = super::config::parse_text(text).map_err(|e| format!("{origin}:{e}"))?;
        for (line, argv) in commands {
            let cmds = parse_line(&argv, self.server_ref())
                .map_err(|e| format!("{origin}:{line}: {e}"))?;
            for c in &cmds {
                let mut sub = Ctx::new(
                    self.host,
                    &mut *self.ns,
                    self.req,
                    &mut *self.out,
                    self.info,
                    self.client,
                    &mut *self.attach,
                    self.depth + 1,
                );
                Box::pin(sub.run(c)).await?;
            }
        }
        Ok(())
    }
}
