//! The stand-in's model of tmux servers: one [`Server`] per socket path (namespace), holding
//! sessions, windows and panes with tmux's ids (`$N`, `@N`, `%N`, server-wide counters that
//! are never reused), options, environment, paste buffers and wait channels. Each pane is an
//! Aegis session; everything else lives only here, in the daemon's memory, as in a tmux
//! server. Window links (indexes, the current and last windows) are in [`links`]; a window's
//! panes, its layout and zoom in [`panes`].
//!
//! Names are decoupled: a tmux session can be called anything (tmux turns `.` and `:` into
//! `_`), and each pane's Aegis session gets a name of its own (see `spawn`).

pub mod links;
pub mod panes;

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use super::layout::{Geometry, Layout};
use super::options::OptMap;
use crate::session::SessionHandle;

/// A variable set with `set-environment`: `None` means removed (`-r`).
#[derive(Debug, Clone)]
pub struct EnvVar {
    pub value: Option<String>,
    pub hidden: bool,
}

pub type Env = BTreeMap<String, EnvVar>;

/// Every tmux server the daemon stands in for.
#[derive(Default)]
pub struct Namespaces {
    /// Socket path → running server.
    pub servers: HashMap<String, Server>,
    /// Sockets that had a server once: tmux then says "no server running" rather than
    /// "error connecting" (the socket file stays behind).
    pub known: HashSet<String>,
    /// Aegis sessions that were panes and left their tree (their program exited): a new pane
    /// may take over their name.
    pub retired: HashSet<Uuid>,
    /// tmux's `next_active_point`: which pane was active most recently, across servers.
    pub next_active_point: u64,
}

impl Namespaces {
    /// The namespace a pane's Aegis session belongs to, and its pane id.
    pub fn owner_of(&self, id: Uuid) -> Option<(&str, u32)> {
        self.servers.iter().find_map(|(sock, s)| {
            s.panes
                .values()
                .find(|p| p.handle.meta.id == id)
                .map(|p| (sock.as_str(), p.id))
        })
    }
}

pub struct Server {
    pub socket: String,
    pub started_ms: u64,
    /// The directory of the client that started the server (where a pane whose `-c` does not
    /// exist runs, as tmux's children stay in the server's directory).
    pub cwd: String,
    pub next_session: u32,
    pub next_window: u32,
    pub next_pane: u32,
    pub sessions: BTreeMap<u32, Session>,
    pub windows: BTreeMap<u32, Window>,
    pub panes: BTreeMap<u32, Pane>,
    /// Global options: server, session and window (+pane) scopes.
    pub options: super::options::Globals,
    pub env: Env,
    pub buffers: super::buffers::Buffers,
    pub waits: super::waits::Waits,
    /// The config files read when the server started (`#{config_files}`).
    pub config_files: Vec<String>,
    /// `show-messages`: (time ms, text), oldest first.
    pub messages: Vec<(u64, String)>,
    /// The marked pane (`select-pane -m`).
    pub marked: Option<u32>,
    /// Clients: control-mode clients and attached terminals.
    pub clients: super::clients::Clients,
    /// Key bindings, (table, key) → command; `None` until first used (then the defaults).
    pub keys: Option<BTreeMap<(String, String), String>>,
    /// Bumped whenever the tree changes; attach compositors and control clients watch it.
    pub generation: u64,
}

pub struct Session {
    pub id: u32,
    pub name: String,
    pub created_ms: u64,
    /// Creation, attaching and typing in an attached client update it; with no client the
    /// most active session is the default target, as in tmux.
    pub activity_ms: u64,
    /// Orders activity finer than milliseconds (see [`next_seq`]).
    pub activity_seq: u64,
    pub last_attached_ms: Option<u64>,
    /// Window index → window id (tmux's winlinks).
    pub windows: BTreeMap<i64, u32>,
    /// The current window's index.
    pub curw: Option<i64>,
    /// Earlier current windows' indexes, most recent first (never the current one).
    pub lastw: Vec<i64>,
    pub options: OptMap,
    pub env: Env,
    pub cwd: String,
}

pub struct Window {
    pub id: u32,
    pub name: String,
    pub layout: Layout,
    /// Pane ids in tmux's window order (pane index = position + pane-base-index).
    pub panes: Vec<u32>,
    pub active: u32,
    pub last: Option<u32>,
    /// The layout kept while a pane is zoomed.
    pub saved_layout: Option<Layout>,
    pub sx: u32,
    pub sy: u32,
    pub options: OptMap,
    /// The named layout last applied (next-layout / previous-layout cycle from it).
    pub last_layout: Option<usize>,
    /// The layout before the last select-layout (`select-layout -o`).
    pub old_layout: Option<String>,
    pub created_ms: u64,
}

pub struct Pane {
    pub id: u32,
    pub window: u32,
    pub handle: SessionHandle,
    /// The command as given (empty: the default shell), for `#{pane_start_command}`.
    pub argv: Vec<String>,
    pub start_path: String,
    pub shell: String,
    pub geom: Geometry,
    pub title: Option<String>,
    /// The mode the pane is in (`copy-mode`, `tree-mode`, `clock-mode`…), if any.
    pub mode: Option<&'static str>,
    pub input_off: bool,
    pub active_point: u64,
    pub options: OptMap,
    /// When the pane was found dead (remain-on-exit).
    pub dead_ms: Option<u64>,
    /// `pipe-pane` is running.
    pub pipe: Option<tokio_util::sync::CancellationToken>,
    /// Made from an Aegis session created over REST rather than by a tmux command: while it is
    /// alone in its window, `aegis attach` shows it as a plain session.
    pub adopted: bool,
}

/// Why a session, window or pane lookup failed.
pub type Missing = String;

impl Pane {
    /// A pane of `window` running `handle`'s program, before it has a place in the layout:
    /// no title, mode, options or pipe; made by a tmux command (not adopted).
    pub fn new(
        id: u32,
        window: u32,
        handle: SessionHandle,
        argv: Vec<String>,
        start_path: String,
        shell: String,
    ) -> Pane {
        Pane {
            id,
            window,
            handle,
            argv,
            start_path,
            shell,
            geom: Geometry::default(),
            title: None,
            mode: None,
            input_off: false,
            active_point: 0,
            options: Default::default(),
            dead_ms: None,
            pipe: None,
            adopted: false,
        }
    }
}

impl Server {
    pub fn new(socket: &str, now_ms: u64, cwd: &str) -> Server {
        Server {
            socket: socket.to_owned(),
            started_ms: now_ms,
            cwd: cwd.to_owned(),
            next_session: 0,
            next_window: 0,
            next_pane: 0,
            sessions: BTreeMap::new(),
            windows: BTreeMap::new(),
            panes: BTreeMap::new(),
            options: super::options::Globals::default(),
            env: Env::new(),
            buffers: Default::default(),
            waits: Default::default(),
            config_files: vec![],
            messages: vec![],
            marked: None,
            clients: Default::default(),
            keys: None,
            generation: 0,
        }
    }

    pub fn changed(&mut self) {
        self.generation += 1;
    }

    pub fn session(&self, id: u32) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn session_mut(&mut self, id: u32) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }

    pub fn window(&self, id: u32) -> Option<&Window> {
        self.windows.get(&id)
    }

    pub fn window_mut(&mut self, id: u32) -> Option<&mut Window> {
        self.windows.get_mut(&id)
    }

    pub fn pane(&self, id: u32) -> Option<&Pane> {
        self.panes.get(&id)
    }

    pub fn pane_mut(&mut self, id: u32) -> Option<&mut Pane> {
        self.panes.get_mut(&id)
    }

    pub fn session_by_name(&self, name: &str) -> Option<&Session> {
        self.sessions.values().find(|s| s.name == name)
    }

    /// Sessions in tmux's order: by name, byte-wise.
    pub fn sessions_sorted(&self) -> Vec<u32> {
        let mut v: Vec<&Session> = self.sessions.values().collect();
        v.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        v.into_iter().map(|s| s.id).collect()
    }

    /// A name for a new session: the given one (`.` and `:` become `_`), or the session's id
    /// as tmux does (ids are consumed until the name is free).
    pub fn allocate_session(&mut self, name: Option<&str>) -> Result<(u32, String), String> {
        match name {
            Some(n) => {
                let n = sanitize_name(n);
                if self.session_by_name(&n).is_some() {
                    return Err(format!("duplicate session: {n}"));
                }
                let id = self.next_session;
                self.next_session += 1;
                Ok((id, n))
            }
            None => loop {
                let id = self.next_session;
                self.next_session += 1;
                let n = id.to_string();
                if self.session_by_name(&n).is_none() {
                    return Ok((id, n));
                }
            },
        }
    }

    pub fn allocate_window(&mut self) -> u32 {
        let id = self.next_window;
        self.next_window += 1;
        id
    }

    pub fn allocate_pane(&mut self) -> u32 {
        let id = self.next_pane;
        self.next_pane += 1;
        id
    }

    /// The sessions a window is linked into, with the index it has in each.
    pub fn links_of(&self, window: u32) -> Vec<(u32, i64)> {
        let mut out = vec![];
        for s in self.sessions.values() {
            for (&idx, &w) in &s.windows {
                if w == window {
                    out.push((s.id, idx));
                }
            }
        }
        out
    }

    /// The session, window index and window a pane is in (its first link).
    pub fn place_of(&self, pane: u32) -> Option<(u32, i64, u32)> {
        let w = self.panes.get(&pane)?.window;
        let (s, idx) = *self.links_of(w).first()?;
        Some((s, idx, w))
    }

    /// A session's current window id and its active pane.
    pub fn current_of(&self, session: u32) -> Option<(i64, u32, u32)> {
        let s = self.sessions.get(&session)?;
        let idx = s.curw?;
        let w = *s.windows.get(&idx)?;
        let p = self.windows.get(&w)?.active;
        Some((idx, w, p))
    }

    /// The clients whose session's current window is `window` (they show it).
    pub fn clients_showing(
        &self,
        window: u32,
    ) -> impl Iterator<Item = &super::clients::Client> + '_ {
        self.clients.list.iter().filter(move |c| {
            self.current_of(c.session)
                .is_some_and(|(_, w, _)| w == window)
        })
    }

    /// The most recently active session (tmux's default when nothing else says); among
    /// equals, the first by name.
    pub fn best_session(&self) -> Option<u32> {
        let mut best: Option<&Session> = None;
        for id in self.sessions_sorted() {
            let s = &self.sessions[&id];
            if best.is_none_or(|b| s.activity_seq > b.activity_seq) {
                best = Some(s);
            }
        }
        best.map(|s| s.id)
    }
}

/// A process-wide increasing number: tmux compares activity times in microseconds, which
/// never tie between two commands; this keeps that order.
pub fn next_seq() -> u64 {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Session {
    /// A session with no windows yet, made at `created_ms` (which counts as its first
    /// activity).
    pub fn new(id: u32, name: String, created_ms: u64, cwd: String) -> Session {
        Session {
            id,
            name,
            created_ms,
            activity_ms: created_ms,
            activity_seq: 0,
            last_attached_ms: None,
            windows: Default::default(),
            curw: None,
            lastw: vec![],
            options: Default::default(),
            env: Default::default(),
            cwd,
        }
    }

    /// Mark the session active now (creation, attach, input).
    pub fn touch(&mut self, now_ms: u64) {
        self.activity_ms = now_ms;
        self.activity_seq = next_seq();
    }
}

/// tmux replaces `.` and `:` in session names (they separate target parts).
pub fn sanitize_name(name: &str) -> String {
    name.replace(['.', ':'], "_")
}
