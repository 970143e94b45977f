//! Windows linked into sessions (tmux's winlinks): indexes, the current window and the stack
//! of last windows, shuffling indexes up for `-a`/`-b`, renumbering, and what happens when a
//! window leaves a session (another becomes current; a session with no window left is gone).

use super::{Server, Session};

impl Session {
    /// The window at `idx`.
    pub fn window_at(&self, idx: i64) -> Option<u32> {
        self.windows.get(&idx).copied()
    }

    /// The first index of `window` in this session.
    pub fn index_of(&self, window: u32) -> Option<i64> {
        self.windows
            .iter()
            .find(|(_, w)| **w == window)
            .map(|(i, _)| *i)
    }

    /// The first free index at or after `from` (wrapping), as tmux's winlink_next_index.
    pub fn next_free_index(&self, from: i64) -> Option<i64> {
        let mut i = from;
        loop {
            if !self.windows.contains_key(&i) {
                return Some(i);
            }
            i = if i == i64::from(i32::MAX) { 0 } else { i + 1 };
            if i == from {
                return None;
            }
        }
    }

    /// Make `idx` the current window: the old current goes on top of the last-window stack
    /// (session_set_current). False if it already was current or does not exist.
    pub fn set_current(&mut self, idx: i64) -> bool {
        if !self.windows.contains_key(&idx) || self.curw == Some(idx) {
            return false;
        }
        self.lastw.retain(|&i| i != idx);
        if let Some(old) = self.curw {
            self.lastw.retain(|&i| i != old);
            self.lastw.insert(0, old);
        }
        self.curw = Some(idx);
        true
    }

    /// The next window after the current one, wrapping (session_next).
    pub fn next_index(&self) -> Option<i64> {
        let cur = self.curw?;
        self.windows
            .range(cur + 1..)
            .next()
            .or_else(|| self.windows.iter().next())
            .map(|(i, _)| *i)
    }

    /// The window before the current one, wrapping (session_previous).
    pub fn previous_index(&self) -> Option<i64> {
        let cur = self.curw?;
        self.windows
            .range(..cur)
            .next_back()
            .or_else(|| self.windows.iter().next_back())
            .map(|(i, _)| *i)
    }

    /// Move every window from `idx` up by one, to free `idx` (winlink_shuffle_up): returns
    /// the index freed.
    pub fn shuffle_up(&mut self, idx: i64) -> Option<i64> {
        let mut last = idx;
        while self.windows.contains_key(&last) {
            last += 1;
            if last >= i64::from(i32::MAX) {
                return None;
            }
        }
        while last > idx {
            if let Some(w) = self.windows.remove(&(last - 1)) {
                self.windows.insert(last, w);
                self.rename_index(last - 1, last);
            }
            last -= 1;
        }
        Some(idx)
    }

    fn rename_index(&mut self, from: i64, to: i64) {
        if self.curw == Some(from) {
            self.curw = Some(to);
        }
        for i in &mut self.lastw {
            if *i == from {
                *i = to;
            }
        }
    }

    /// Move a window from one index to another free one, keeping current/last in step.
    pub fn move_index(&mut self, from: i64, to: i64) {
        if let Some(w) = self.windows.remove(&from) {
            self.windows.insert(to, w);
            self.rename_index(from, to);
        }
    }

    /// Close the gaps, from `base` up (session_renumber_windows).
    pub fn renumber(&mut self, base: i64) {
        let old: Vec<(i64, u32)> = std::mem::take(&mut self.windows).into_iter().collect();
        let mut map = Vec::with_capacity(old.len());
        for (n, (idx, w)) in old.into_iter().enumerate() {
            let new = base + i64::try_from(n).unwrap_or(0);
            self.windows.insert(new, w);
            map.push((idx, new));
        }
        let find = |i: i64| map.iter().find(|(o, _)| *o == i).map(|(_, n)| *n);
        self.curw = self.curw.and_then(find);
        self.lastw = self.lastw.iter().filter_map(|&i| find(i)).collect();
    }
}

impl Server {
    /// Link `window` into `session` at `idx`. tmux: `index in use: N`.
    pub fn link(&mut self, session: u32, idx: i64, window: u32) -> Result<(), String> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or_else(|| "no such session".to_owned())?;
        if s.windows.contains_key(&idx) {
            return Err(format!("index in use: {idx}"));
        }
        s.windows.insert(idx, window);
        Ok(())
    }

    /// Remove the link at `idx` from `session` (session_detach): another window becomes
    /// current if it was. Returns true when the session has no window left and was destroyed.
    pub fn unlink(&mut self, session: u32, idx: i64) -> bool {
        let Some(s) = self.sessions.get_mut(&session) else {
            return false;
        };
        if s.curw == Some(idx) {
            let last = s.lastw.first().copied();
            let prev = s.previous_index().filter(|&i| i != idx);
            let next = s.next_index().filter(|&i| i != idx);
            if let Some(to) = last.or(prev).or(next) {
                s.set_current(to);
            }
        }
        s.lastw.retain(|&i| i != idx);
        s.windows.remove(&idx);
        if s.curw == Some(idx) {
            s.curw = None;
        }
        if s.windows.is_empty() {
            self.destroy_session(session);
            return true;
        }
        if self.option_flag_session(session, "renumber-windows") {
            let base = self.option_number_session(session, "base-index");
            if let Some(s) = self.sessions.get_mut(&session) {
                s.renumber(base);
            }
        }
        false
    }

    /// Forget a session; windows linked nowhere else go with it (their panes are returned by
    /// [`Server::orphans`] for the caller to kill).
    pub fn destroy_session(&mut self, session: u32) {
        self.sessions.remove(&session);
        self.clients.session_gone(session);
        self.changed();
    }

    /// Windows no session links any more, removed with their panes; returns the panes so
    /// their programs can be stopped.
    pub fn orphans(&mut self) -> Vec<super::Pane> {
        let linked: std::collections::HashSet<u32> = self
            .sessions
            .values()
            .flat_map(|s| s.windows.values().copied())
            .collect();
        let gone: Vec<u32> = self
            .windows
            .keys()
            .filter(|w| !linked.contains(w))
            .copied()
            .collect();
        let mut panes = vec![];
        for w in gone {
            if let Some(win) = self.windows.remove(&w) {
                for p in win.panes {
                    if let Some(pane) = self.panes.remove(&p) {
                        panes.push(pane);
                    }
                }
            }
        }
        if self.marked.is_some_and(|m| !self.panes.contains_key(&m)) {
            self.marked = None;
        }
        panes
    }

    /// Remove a window from every session it is linked into (kill-window).
    pub fn unlink_everywhere(&mut self, window: u32) {
        for (s, idx) in self.links_of(window) {
            self.unlink(s, idx);
        }
    }

    fn option_flag_session(&self, session: u32, name: &str) -> bool {
        self.session_option(session, name).as_deref() == Some("on")
    }

    /// A numeric session option (base-index), 0 when unset or not a number.
    pub fn option_number_session(&self, session: u32, name: &str) -> i64 {
        self.session_option(session, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// A session option's value, falling back to the global one.
    pub fn session_option(&self, session: u32, name: &str) -> Option<String> {
        self.sessions
            .get(&session)
            .and_then(|s| s.options.get_single(name))
            .or_else(|| self.options.session.get_single(name))
    }

    /// A window option's value (window, then global window options).
    pub fn window_option(&self, window: u32, name: &str) -> Option<String> {
        self.windows
            .get(&window)
            .and_then(|w| w.options.get_single(name))
            .or_else(|| self.options.window.get_single(name))
    }

    /// A pane option's value (pane, window, then global window options).
    pub fn pane_option(&self, pane: u32, name: &str) -> Option<String> {
        let p = self.panes.get(&pane)?;
        p.options
            .get_single(name)
            .or_else(|| self.window_option(p.window, name))
    }

    /// A server option's value.
    pub fn server_option(&self, name: &str) -> Option<String> {
        self.options.server.get_single(name)
    }
}
