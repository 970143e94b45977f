//! What the stand-in remembers per tmux socket (namespace): which Aegis sessions belong to it
//! and their tmux numbers (`$N`, `@N`, `%N` are the same N: one window with one pane per
//! session), paste buffers, options and environment. Sessions created over REST belong to
//! the default socket. The state lives in the daemon's memory, like a tmux server's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use uuid::Uuid;

/// A variable set with `set-environment`: `None` means removed (`-r`).
#[derive(Debug, Clone)]
pub struct EnvVar {
    pub value: Option<String>,
    pub hidden: bool,
}

pub type Env = BTreeMap<String, EnvVar>;

#[derive(Default)]
pub struct Space {
    next: u32,
    /// tmux number → Aegis session.
    pub members: BTreeMap<u32, Uuid>,
    /// Most recent first.
    pub buffers: Vec<(String, Vec<u8>)>,
    next_buffer: u32,
    pub global_env: Env,
    pub session_env: HashMap<Uuid, Env>,
    pub global_options: HashMap<String, String>,
    pub session_options: HashMap<Uuid, HashMap<String, String>>,
}

impl Space {
    pub fn reserve(&mut self) -> u32 {
        let n = self.next;
        self.next += 1;
        n
    }

    pub fn option(&self, id: Uuid, name: &str) -> Option<&str> {
        self.session_options
            .get(&id)
            .and_then(|o| o.get(name))
            .or_else(|| self.global_options.get(name))
            .map(String::as_str)
    }

    pub fn new_buffer_name(&mut self) -> String {
        let n = self.next_buffer;
        self.next_buffer += 1;
        format!("buffer{n}")
    }

    pub fn set_buffer(&mut self, name: String, data: Vec<u8>) {
        self.buffers.retain(|(n, _)| *n != name);
        self.buffers.insert(0, (name, data));
    }

    pub fn forget(&mut self, id: Uuid) {
        self.members.retain(|_, v| *v != id);
        self.session_env.remove(&id);
        self.session_options.remove(&id);
    }
}

#[derive(Default)]
pub struct TmuxState {
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub struct Inner {
    /// Socket path → namespace. A socket present here "exists" even when its sessions are
    /// gone, which decides between tmux's two connection errors.
    pub spaces: HashMap<String, Space>,
    /// Sessions claimed by some namespace.
    pub owner: HashMap<Uuid, String>,
}

impl TmuxState {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // No code path panics while holding the lock, so a poisoned lock still holds valid maps.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Adopt sessions nobody owns (created over REST) into the default namespace, oldest first.
    pub fn adopt(&mut self, socket: &str, ids: impl Iterator<Item = Uuid>) {
        let fresh: Vec<Uuid> = ids.filter(|id| !self.owner.contains_key(id)).collect();
        if fresh.is_empty() {
            return;
        }
        let space = self.spaces.entry(socket.to_owned()).or_default();
        for id in fresh {
            let n = space.reserve();
            space.members.insert(n, id);
            self.owner.insert(id, socket.to_owned());
        }
    }

    pub fn claim(&mut self, socket: &str, n: u32, id: Uuid) {
        let space = self.spaces.entry(socket.to_owned()).or_default();
        space.members.insert(n, id);
        self.owner.insert(id, socket.to_owned());
    }

    pub fn forget(&mut self, socket: &str, id: Uuid) {
        if let Some(s) = self.spaces.get_mut(socket) {
            s.forget(id);
        }
        self.owner.remove(&id);
    }
}
