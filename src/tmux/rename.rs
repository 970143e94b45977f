//! `automatic-rename`: a window takes the name its `automatic-rename-format` gives (by default
//! the active pane's foreground program, `[tmux]` in a mode, `[dead]` after it), as tmux's
//! check_window_name does. Driven by events, never by polling: a window is checked when its
//! active pane prints something or changes (another pane made active, a mode, its program
//! gone), at most once per [`NAME_INTERVAL`]; a change inside the interval is checked when the
//! interval ends, so the program a shell starts right after echoing its command line is seen.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::host::TmuxHost;
use super::taps::OutputTaps;
use super::tree::Namespaces;
use super::vars::{HostInfo, Scope};

/// tmux's NAME_INTERVAL: the least time between two checks of one window's name.
const NAME_INTERVAL: Duration = Duration::from_millis(500);

/// A window of one namespace.
type WindowKey = (String, u32);

/// What makes a window's name worth checking again without output: its active pane, whether
/// that pane is in a mode, and whether its program has exited.
type ActiveState = (u32, bool, bool);

/// Rename windows after their active pane's program until `shutdown`.
pub fn spawn(host: Arc<TmuxHost>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut renamer = Renamer::default();
        let mut changes = host.changes.subscribe();
        renamer.follow(&host).await;
        loop {
            let due = renamer.next_due();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    renamer.follow(&host).await;
                }
                chunk = renamer.taps.next() => {
                    if let Some((key, _)) = chunk
                        && let Some(w) = renamer.followed.get(key as usize)
                    {
                        renamer.pending.insert(w.clone());
                    }
                }
                _ = sleep_until(due) => {}
            }
            renamer.check_due(&host).await;
        }
    });
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[derive(Default)]
struct Renamer {
    /// The active pane of every window with automatic-rename on, followed for output; a
    /// chunk's key is its window's index in `followed`.
    taps: OutputTaps,
    followed: Vec<WindowKey>,
    seen: HashMap<WindowKey, ActiveState>,
    /// Every window that existed at the last look, automatic-rename on or off.
    known: HashSet<WindowKey>,
    /// Windows whose active pane changed since their last check.
    pending: HashSet<WindowKey>,
    checked: HashMap<WindowKey, Instant>,
}

impl Renamer {
    /// Follow the active pane of every window; a window whose active pane changed is pending.
    async fn follow(&mut self, host: &TmuxHost) {
        let mut handles = vec![];
        let mut followed = vec![];
        let mut seen = HashMap::new();
        let mut known = HashSet::new();
        {
            let ns = host.state.lock().await;
            for (socket, server) in &ns.servers {
                for (&wid, w) in &server.windows {
                    let key = (socket.clone(), wid);
                    known.insert(key.clone());
                    let was_known = self.known.contains(&key);
                    if server.window_option(wid, "automatic-rename").as_deref() != Some("on") {
                        continue;
                    }
                    let Some(pane) = server.pane(w.active) else {
                        continue;
                    };
                    let state = (pane.id, pane.mode.is_some(), pane.handle.is_exited());
                    // A change of the active pane, or automatic-rename just turned on (tmux
                    // marks the active pane changed then); a new window waits for output.
                    if was_known && self.seen.get(&key) != Some(&state) {
                        self.pending.insert(key.clone());
                    }
                    seen.insert(key.clone(), state);
                    let index = u32::try_from(followed.len()).unwrap_or(u32::MAX);
                    handles.push((index, pane.handle.clone()));
                    followed.push(key);
                }
            }
        }
        self.pending.retain(|k| seen.contains_key(k));
        self.checked.retain(|k, _| seen.contains_key(k));
        self.seen = seen;
        self.known = known;
        self.followed = followed;
        self.taps.follow(handles).await;
    }

    /// When the next pending window may be checked.
    fn next_due(&self) -> Option<Instant> {
        self.pending
            .iter()
            .map(|k| {
                self.checked
                    .get(k)
                    .map_or_else(Instant::now, |t| *t + NAME_INTERVAL)
            })
            .min()
    }

    /// Check every pending window whose interval has passed.
    async fn check_due(&mut self, host: &TmuxHost) {
        let now = Instant::now();
        let due: Vec<WindowKey> = self
            .pending
            .iter()
            .filter(|k| {
                self.checked
                    .get(*k)
                    .is_none_or(|t| now >= *t + NAME_INTERVAL)
            })
            .cloned()
            .collect();
        if due.is_empty() {
            return;
        }
        let mut ns = host.state.lock().await;
        let mut renamed = false;
        for key in due {
            self.pending.remove(&key);
            self.checked.insert(key.clone(), now);
            renamed |= check_window(&mut ns, &key);
        }
        if renamed {
            host.publish(&ns);
        }
    }
}

/// Give a window the name its format gives now, if automatic-rename is on; true if renamed.
fn check_window(ns: &mut Namespaces, (socket, wid): &WindowKey) -> bool {
    let Some(server) = ns.servers.get_mut(socket) else {
        return false;
    };
    if server.window_option(*wid, "automatic-rename").as_deref() != Some("on") {
        return false;
    }
    let Some(w) = server.window(*wid) else {
        return false;
    };
    let fmt = server
        .window_option(*wid, "automatic-rename-format")
        .unwrap_or_default();
    let (info, facts) = (HostInfo::new(socket), HashMap::new());
    // As tmux's format_window_name: the window and its active pane, no session.
    let scope = Scope::new(server, &info, &facts, None, None, Some(w.active));
    let name = super::escape::vis(&super::format::expand(&fmt, &scope));
    if name == w.name {
        return false;
    }
    if let Some(w) = server.window_mut(*wid) {
        w.name = name.clone();
    }
    server
        .clients
        .notify(None, &format!("%window-renamed @{wid} {name}"));
    server.changed();
    true
}
