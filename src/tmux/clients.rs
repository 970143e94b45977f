//! The clients of a stand-in server: control-mode clients (`tmux -C`) and attached
//! terminals. They make `list-clients`, `session_attached`, `switch-client`, `detach-client`
//! and `display-message -c` work as they do with tmux; each client's connection task gets
//! what concerns it through a channel.

use tokio::sync::mpsc;

/// What the server tells a client's connection task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Detach, with the line to print (`[detached (from session x)]`).
    Detach(String),
    /// The client now shows another session.
    SessionChanged,
    /// A control-mode notification line (without the newline), e.g. `%window-add @3`.
    Notify(String),
}

/// The session of a client attached to none yet (a control client before its first
/// `attach-session`); such a client is not listed, as in tmux.
pub const UNATTACHED: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub struct Client {
    pub id: u64,
    /// `client-<pid>` for a client without a terminal, else its terminal's path.
    pub name: String,
    pub pid: u32,
    pub session: u32,
    pub control: bool,
    pub tty: String,
    pub term: String,
    pub cols: u16,
    pub rows: u16,
    pub created_ms: u64,
    pub activity_ms: u64,
    pub readonly: bool,
    /// The session before the last switch (`switch-client -l`).
    pub last_session: Option<u32>,
    pub tx: mpsc::UnboundedSender<ClientEvent>,
}

impl Client {
    /// Show `session` (attach or switch): the one shown before becomes the last session, and
    /// the connection task hears of the change.
    pub fn show_session(&mut self, session: u32) {
        if self.session != session {
            self.last_session = Some(self.session);
        }
        self.session = session;
        // A closed connection task has nothing left to redraw.
        let _ = self.tx.send(ClientEvent::SessionChanged);
    }
}

#[derive(Debug, Default)]
pub struct Clients {
    pub list: Vec<Client>,
    next_id: u64,
}

impl Clients {
    pub fn add(&mut self, mut c: Client) -> u64 {
        self.next_id += 1;
        c.id = self.next_id;
        let id = c.id;
        self.list.push(c);
        id
    }

    pub fn remove(&mut self, id: u64) -> Option<Client> {
        let at = self.list.iter().position(|c| c.id == id)?;
        Some(self.list.remove(at))
    }

    pub fn get(&self, id: u64) -> Option<&Client> {
        self.list.iter().find(|c| c.id == id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Client> {
        self.list.iter_mut().find(|c| c.id == id)
    }

    /// A client by name or terminal (`/dev/pts/3` or `pts/3`), as tmux's `-c`/`-t` targets;
    /// a trailing colon is ignored.
    pub fn find(&self, target: &str) -> Option<&Client> {
        let t = target.strip_suffix(':').unwrap_or(target);
        self.list
            .iter()
            .filter(|c| c.session != UNATTACHED)
            .find(|c| {
                c.name == t
                    || (!c.tty.is_empty() && (c.tty == t || c.tty.strip_prefix("/dev/") == Some(t)))
            })
    }

    /// How many clients show a session.
    pub fn attached_to(&self, session: u32) -> usize {
        self.list.iter().filter(|c| c.session == session).count()
    }

    /// The most recently active client (of a session, if given).
    pub fn best(&self, session: Option<u32>) -> Option<&Client> {
        self.list
            .iter()
            .filter(|c| c.session != UNATTACHED && session.is_none_or(|s| c.session == s))
            .max_by_key(|c| (c.activity_ms, c.id))
    }

    /// A session went away: its clients detach (tmux's `detach-on-destroy on`).
    pub fn session_gone(&mut self, session: u32) {
        for c in self.list.iter().filter(|c| c.session == session) {
            let _ = c.tx.send(ClientEvent::Detach("[exited]".into()));
        }
        self.list.retain(|c| c.session != session);
    }

    /// Tell every control client of `session` (or all, with `None`) a notification.
    pub fn notify(&self, session: Option<u32>, line: &str) {
        for c in &self.list {
            if c.control && session.is_none_or(|s| c.session == s) {
                let _ = c.tx.send(ClientEvent::Notify(line.to_owned()));
            }
        }
    }
}
