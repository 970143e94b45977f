//! The daemon side of the stand-in: its servers (one per tmux socket path) under one lock,
//! what reaches into the rest of the daemon (the session registry, the attach hub), and the
//! housekeeping a tmux server does by itself: panes whose program exited leave their window
//! (unless `remain-on-exit`), Aegis sessions made over REST join the daemon's own namespace,
//! and each pane's Aegis session has its pane's size. REST reads where each pane is through
//! [`Places`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::tree::{Namespaces, Server};
use crate::session::SessionManager;

/// Which namespace is the daemon's own (the one REST sessions appear in): the label it was
/// started with (`aegis serve -L NAME`, default `default`) or the path of `-S PATH`.
#[derive(Debug, Clone)]
pub enum Home {
    Label(String),
    Path(String),
}

impl Home {
    pub fn is_home(&self, socket: &str) -> bool {
        match self {
            Home::Label(l) => std::path::Path::new(socket)
                .file_name()
                .is_some_and(|n| n.to_string_lossy() == *l),
            Home::Path(p) => socket == p,
        }
    }
}

/// Where a pane's Aegis session sits in the tmux tree (REST shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The tmux socket path of its namespace (what `#{socket_path}` shows).
    pub socket: String,
    /// The tmux session's name.
    pub session: String,
    /// `$N`
    pub session_id: String,
    /// `@N`
    pub window: String,
    pub window_index: i64,
    pub window_name: String,
    /// `%N`
    pub pane: String,
    pub pane_index: usize,
    /// The active pane of its window.
    pub active: bool,
}

/// Aegis session id → its place, refreshed after every stand-in command.
#[derive(Default)]
pub struct Places(RwLock<HashMap<Uuid, Place>>);

impl Places {
    pub fn get(&self, id: Uuid) -> Option<Place> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    fn replace(&self, map: HashMap<Uuid, Place>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = map;
    }
}

/// What the stand-in's commands reach in the daemon, and nothing more.
pub struct TmuxHost {
    pub sessions: Arc<SessionManager>,
    /// For `AEGIS_STATE_DIR` in panes, so a nested `tmux` finds this daemon.
    pub state_dir: PathBuf,
    pub home: Home,
    pub state: tokio::sync::Mutex<Namespaces>,
    pub places: Arc<Places>,
    pub attach: Arc<crate::attach::server::Hub>,
    /// Bumped after every change; attach compositors watch it.
    pub changes: tokio::sync::watch::Sender<u64>,
}

impl TmuxHost {
    pub fn new(
        sessions: Arc<SessionManager>,
        state_dir: PathBuf,
        home: Home,
        attach: Arc<crate::attach::server::Hub>,
        places: Arc<Places>,
    ) -> Arc<TmuxHost> {
        Arc::new(TmuxHost {
            sessions,
            state_dir,
            home,
            state: Default::default(),
            places,
            attach,
            changes: tokio::sync::watch::channel(0).0,
        })
    }

    /// Keep the trees in step with the sessions outside any command: when a pane's program
    /// exits or its session is deleted over REST, the pane leaves its window at once (as a
    /// tmux server notices its children), and neighbours take its space.
    pub fn spawn_reaper(self: &Arc<Self>, shutdown: CancellationToken) {
        let host = self.clone();
        let mut rx = host.sessions.bus.subscribe();
        tokio::spawn(async move {
            use crate::events::EventKind;
            loop {
                let ev = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    ev = rx.recv() => ev,
                };
                let relevant = match &ev {
                    Ok(e) => matches!(e.kind, EventKind::SessionExited | EventKind::SessionKilled),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                if relevant {
                    let mut ns = host.state.lock().await;
                    host.housekeeping(&mut ns).await;
                }
            }
        });
    }

    /// Reap every server, resize what changed, drop servers left without sessions, publish.
    pub async fn housekeeping(&self, ns: &mut Namespaces) {
        let sockets: Vec<String> = ns.servers.keys().cloned().collect();
        for s in &sockets {
            self.reap(ns, s).await;
            self.sync_sizes(ns, s).await;
        }
        self.drop_empty(ns);
        self.publish(ns);
    }

    /// Panes whose program exited (without remain-on-exit) or whose session is gone leave
    /// their window; an emptied window leaves its sessions; an emptied session goes.
    pub async fn reap(&self, ns: &mut Namespaces, socket: &str) {
        let now = crate::clock::now_ms();
        let Some(server) = ns.servers.get_mut(socket) else {
            return;
        };
        let mut gone = vec![];
        for (&id, pane) in &server.panes {
            let registered = self.sessions.get(&pane.handle.meta.id.to_string()).is_ok();
            if registered && !pane.handle.is_exited() {
                continue;
            }
            let remain = server.pane_option(id, "remain-on-exit").unwrap_or_default();
            let code = pane.handle.live().exit_code;
            let keep = registered && (remain == "on" || (remain == "failed" && code != Some(0)));
            if !keep {
                gone.push((id, registered));
            }
        }
        for (&id, pane) in server.panes.iter_mut() {
            if pane.dead_ms.is_none()
                && pane.handle.is_exited()
                && !gone.iter().any(|(g, _)| *g == id)
            {
                pane.dead_ms = Some(now);
            }
        }
        for (id, registered) in gone {
            if registered && let Some(p) = server.pane(id) {
                ns.retired.insert(p.handle.meta.id);
            }
            close_pane(server, id);
        }
    }

    /// Give each live pane's Aegis session its pane's size (at least 2×2, what the screen
    /// model supports).
    pub async fn sync_sizes(&self, ns: &mut Namespaces, socket: &str) {
        let Some(server) = ns.servers.get(socket) else {
            return;
        };
        for pane in server.panes.values() {
            if pane.handle.is_exited() {
                continue;
            }
            let want = (
                u16::try_from(pane.geom.sx)
                    .unwrap_or(u16::MAX)
                    .clamp(crate::screen::MIN_COLS, crate::screen::MAX_COLS),
                u16::try_from(pane.geom.sy)
                    .unwrap_or(u16::MAX)
                    .clamp(crate::screen::MIN_ROWS, crate::screen::MAX_ROWS),
            );
            let live = pane.handle.live();
            if (live.cols, live.rows) != want
                && let Err(e) = pane.handle.resize(want.0, want.1).await
            {
                tracing::debug!(pane = pane.id, error = %e, "resizing a pane's session failed");
            }
        }
    }

    /// A server whose last session went exits (unless `exit-empty` is off); its socket stays
    /// known, as tmux's socket file does.
    pub fn drop_empty(&self, ns: &mut Namespaces) {
        let empty: Vec<String> = ns
            .servers
            .iter()
            .filter(|(_, s)| {
                s.sessions.is_empty() && s.server_option("exit-empty").as_deref() != Some("off")
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in empty {
            if let Some(s) = ns.servers.remove(&k) {
                for c in &s.clients.list {
                    let _ = c.tx.send(super::clients::ClientEvent::Detach(
                        "[server exited]".into(),
                    ));
                }
            }
            ns.known.insert(k);
        }
    }

    /// Refresh what REST shows and wake the watchers.
    pub fn publish(&self, ns: &Namespaces) {
        let mut map = HashMap::new();
        for (socket, server) in &ns.servers {
            for pane in server.panes.values() {
                let Some((sid, idx, wid)) = server.place_of(pane.id) else {
                    continue;
                };
                let (Some(s), Some(w)) = (server.session(sid), server.window(wid)) else {
                    continue;
                };
                let base: usize = server
                    .window_option(wid, "pane-base-index")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                map.insert(
                    pane.handle.meta.id,
                    Place {
                        socket: socket.clone(),
                        session: s.name.clone(),
                        session_id: format!("${sid}"),
                        window: format!("@{wid}"),
                        window_index: idx,
                        window_name: w.name.clone(),
                        pane: format!("%{}", pane.id),
                        pane_index: w.position(pane.id).unwrap_or(0) + base,
                        active: w.active == pane.id,
                    },
                );
            }
        }
        self.places.replace(map);
        self.changes.send_modify(|g| *g += 1);
    }
}

/// Take a pane out of its server (its program is already gone or being stopped): its window
/// closes the cell, an empty window leaves every session, an empty session goes.
pub fn close_pane(server: &mut Server, pane: u32) -> Option<super::tree::Pane> {
    if let Some(empty) = server.detach_pane(pane) {
        server.unlink_everywhere(empty);
    }
    server.changed();
    let taken = server.panes.remove(&pane);
    // Windows no session links any more go with their panes.
    server.orphans();
    taken
}
