//! Resolving `-t`/`-s` targets as tmux's cmd-find does: `$N`, `@N`, `%N`; `session:window.pane`
//! with each part optional; sessions by exact name, `=exact`, unique prefix or fnmatch
//! pattern; windows by index, `@id`, `^ $ ! + -` (and `{start}` …), name, prefix or pattern;
//! panes by index, `%id`, `! + -`, `{top}` … `{bottom-right}`, `{up-of}` …; `~`/`{marked}`.
//! Without a target the current pane is the one the client runs in (`$TMUX_PANE`), or the
//! session a control client is attached to, else the most recently active session.

mod pane;

use super::cmd::{CANFAIL, Kind, WINDOW_INDEX};
use super::format::fnmatch;
use super::tree::Server;
use pane::{map_table, pane_in_window};

/// What a target resolved to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Found {
    pub session: Option<u32>,
    /// The window's index in the session (None when only a free index was named).
    pub wl: Option<i64>,
    pub window: Option<u32>,
    pub pane: Option<u32>,
    /// With WINDOW_INDEX: the index named, even if free.
    pub idx: Option<i64>,
}

impl Found {
    fn from_session(server: &Server, s: u32) -> Found {
        let mut f = Found {
            session: Some(s),
            ..Found::default()
        };
        if let Some((idx, w, p)) = server.current_of(s) {
            f.wl = Some(idx);
            f.window = Some(w);
            f.pane = Some(p);
        }
        f
    }

    /// Every part filled in (tmux's cmd_find_valid_state).
    pub fn complete(&self) -> bool {
        self.session.is_some() && self.wl.is_some() && self.window.is_some() && self.pane.is_some()
    }
}

/// Where the command runs from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Current {
    /// `$TMUX_PANE` of the client when it runs inside this server.
    pub pane: Option<u32>,
    /// The session of the client issuing the command (control mode, attached).
    pub session: Option<u32>,
}

/// The current state: the client's session, else the pane it runs in, else the best session.
pub fn current(server: &Server, cur: Current) -> Option<Found> {
    if let Some(s) = cur.session.filter(|s| server.sessions.contains_key(s)) {
        return Some(Found::from_session(server, s));
    }
    if let Some(p) = cur.pane.filter(|p| server.panes.contains_key(p))
        && let Some(w) = server.pane(p).map(|p| p.window)
        && let Some(s) = best_session_with_window(server, w)
    {
        // tmux: the best session holding that pane's window, at its current window.
        return Some(Found::from_session(server, s));
    }
    server
        .best_session()
        .map(|s| Found::from_session(server, s))
}

fn best_session_with_window(server: &Server, window: u32) -> Option<u32> {
    let mut best: Option<&super::tree::Session> = None;
    for id in server.sessions_sorted() {
        let s = &server.sessions[&id];
        if !s.windows.values().any(|&w| w == window) {
            continue;
        }
        if best.is_none_or(|b| s.activity_seq > b.activity_seq) {
            best = Some(s);
        }
    }
    best.map(|s| s.id)
}

/// The winlink of `window` in `session`: the current one if it shows it, else the first.
fn best_winlink(server: &Server, session: u32, window: u32) -> Option<i64> {
    let s = server.session(session)?;
    if let Some(c) = s.curw
        && s.window_at(c) == Some(window)
    {
        return Some(c);
    }
    s.index_of(window)
}

fn with_window(server: &Server, window: u32) -> Option<Found> {
    let s = best_session_with_window(server, window)?;
    let wl = best_winlink(server, s, window)?;
    Some(Found {
        session: Some(s),
        wl: Some(wl),
        window: Some(window),
        pane: server.window(window).map(|w| w.active),
        idx: Some(wl),
    })
}

fn parse_id(s: &str, sigil: char) -> Option<u32> {
    s.strip_prefix(sigil)?.parse().ok()
}

fn find_session(server: &Server, name: &str, exact: bool) -> Option<u32> {
    if name.starts_with('$') {
        return parse_id(name, '$').filter(|id| server.sessions.contains_key(id));
    }
    if let Some(s) = server.session_by_name(name) {
        return Some(s.id);
    }
    if let Some(c) = server.clients.find(name) {
        return Some(c.session);
    }
    if exact {
        return None;
    }
    let unique = |pred: &dyn Fn(&str) -> bool| -> Option<Option<u32>> {
        let mut found = None;
        for id in server.sessions_sorted() {
            if pred(&server.sessions[&id].name) {
                if found.is_some() {
                    return Some(None);
                }
                found = Some(id);
            }
        }
        found.map(Some)
    };
    if let Some(r) = unique(&|n| n.starts_with(name)) {
        return r;
    }
    unique(&|n| fnmatch(name, n)).flatten()
}

/// Find a window in the session of `f` (cmd_find_get_window_with_session).
fn window_in_session(
    server: &Server,
    f: &mut Found,
    window: &str,
    exact: bool,
    index_ok: bool,
) -> bool {
    let Some(sid) = f.session else {
        return false;
    };
    let Some(s) = server.session(sid) else {
        return false;
    };
    // The current window is the default when only an index is found.
    f.wl = s.curw;
    f.window = s.curw.and_then(|i| s.window_at(i));
    let set = |f: &mut Found, idx: i64| {
        f.wl = Some(idx);
        f.idx = Some(idx);
        f.window = s.window_at(idx);
        true
    };
    if let Some(id) = parse_id(window, '@') {
        if !s.windows.values().any(|&w| w == id) {
            return false;
        }
        return match best_winlink(server, sid, id) {
            Some(idx) => set(f, idx),
            None => false,
        };
    }
    if !exact && (window.starts_with('+') || window.starts_with('-')) {
        let n: i64 = if window.len() > 1 {
            window[1..].parse().unwrap_or(0)
        } else {
            1
        };
        if let Some(cur) = s.curw {
            if index_ok {
                let idx = if window.starts_with('+') {
                    cur + n
                } else {
                    cur - n
                };
                if idx < 0 {
                    return false;
                }
                f.idx = Some(idx);
                return true;
            }
            let keys: Vec<i64> = s.windows.keys().copied().collect();
            if let Some(pos) = keys.iter().position(|&k| k == cur)
                && n > 0
            {
                let len = i64::try_from(keys.len()).unwrap_or(1);
                let step = if window.starts_with('+') { n } else { -n };
                let at = (i64::try_from(pos).unwrap_or(0) + step).rem_euclid(len);
                return set(f, keys[usize::try_from(at).unwrap_or(0)]);
            }
        }
    }
    if !exact {
        let special = match window {
            "!" => Some(s.lastw.first().copied()),
            "^" => Some(s.windows.keys().next().copied()),
            "$" => Some(s.windows.keys().next_back().copied()),
            _ => None,
        };
        if let Some(idx) = special {
            return idx.is_some_and(|i| set(f, i));
        }
    }
    if !window.starts_with('+')
        && !window.starts_with('-')
        && let Ok(idx) = window.parse::<i64>()
        && (0..=i64::from(i32::MAX)).contains(&idx)
    {
        if s.windows.contains_key(&idx) {
            return set(f, idx);
        }
        if index_ok {
            f.idx = Some(idx);
            return true;
        }
    }
    let name_of = |w: u32| server.window(w).map(|w| w.name.as_str()).unwrap_or("");
    let unique = |pred: &dyn Fn(&str) -> bool| -> Option<Option<i64>> {
        let mut found = None;
        for (&idx, &w) in &s.windows {
            if pred(name_of(w)) {
                if found.is_some() {
                    return Some(None);
                }
                found = Some(idx);
            }
        }
        found.map(Some)
    };
    let is = |n: &str| n == window;
    let starts = |n: &str| n.starts_with(window);
    let pattern = |n: &str| fnmatch(window, n);
    let mut tries: Vec<&dyn Fn(&str) -> bool> = vec![&is];
    if !exact {
        tries.push(&starts);
        tries.push(&pattern);
    }
    for t in tries {
        if let Some(r) = unique(t) {
            return r.is_some_and(|idx| set(f, idx));
        }
    }
    false
}

/// Resolve `target` of `kind` (cmd_find_target). With CANFAIL a target that is not found is
/// no error: the command gets what was found before the lookup failed (tmux leaves that in
/// its state), or nothing.
pub fn resolve(
    server: &Server,
    target: Option<&str>,
    kind: Kind,
    flags: u8,
    cur: Current,
) -> Result<Option<Found>, String> {
    let mut partial = Found::default();
    match resolve_into(server, target, kind, flags, cur, &mut partial) {
        Ok(f) => Ok(Some(f)),
        Err(_) if flags & CANFAIL != 0 => Ok((partial != Found::default()).then_some(partial)),
        Err(e) => Err(e),
    }
}

fn resolve_into(
    server: &Server,
    target: Option<&str>,
    kind: Kind,
    flags: u8,
    cur: Current,
    partial: &mut Found,
) -> Result<Found, String> {
    let fail = |msg: String| -> Result<Found, String> { Err(msg) };
    let Some(current) = current(server, cur) else {
        return fail("no current target".into());
    };
    let Some(t) = target.filter(|t| !t.is_empty()) else {
        let mut f = current;
        if flags & WINDOW_INDEX != 0 {
            f.idx = None;
        }
        return Ok(f);
    };
    if t == "~" || t == "{marked}" {
        return match server.marked.and_then(|p| {
            let (s, idx, w) = server.place_of(p)?;
            Some(Found {
                session: Some(s),
                wl: Some(idx),
                window: Some(w),
                pane: Some(p),
                idx: Some(idx),
            })
        }) {
            Some(f) => Ok(f),
            None => fail("no marked target".into()),
        };
    }
    let (mut session, mut window, mut pane) = (None, None, None);
    let (mut window_only, mut pane_only) = (false, false);
    match t.split_once(':') {
        Some((s, rest)) => {
            session = Some(s);
            window_only = true;
            match rest.split_once('.') {
                Some((w, p)) => {
                    window = Some(w);
                    pane = Some(p);
                    pane_only = true;
                }
                None => window = Some(rest),
            }
        }
        None => match t.split_once('.') {
            Some((w, p)) => {
                window = Some(w);
                pane = Some(p);
                pane_only = true;
            }
            None if t.starts_with('$') => session = Some(t),
            None if t.starts_with('@') => window = Some(t),
            None if t.starts_with('%') => pane = Some(t),
            None => match kind {
                Kind::Session => session = Some(t),
                Kind::Window => window = Some(t),
                Kind::Pane => pane = Some(t),
            },
        },
    }
    let mut exact_session = false;
    let mut exact_window = false;
    if let Some(s) = session.and_then(|s| s.strip_prefix('=')) {
        session = Some(s);
        exact_session = true;
    }
    if let Some(w) = window.and_then(|w| w.strip_prefix('=')) {
        window = Some(w);
        exact_window = true;
    }
    let session = session.filter(|s| !s.is_empty());
    let window = window
        .filter(|w| !w.is_empty())
        .map(|w| map_table(w, false));
    let pane = pane.filter(|p| !p.is_empty()).map(|p| map_table(p, true));
    let index_ok = flags & WINDOW_INDEX != 0;
    if pane.is_some() && index_ok {
        return fail("can't specify pane here".into());
    }
    let no_session = |s: &str| fail(format!("can't find session: {s}"));
    let no_window = |w: &str| fail(format!("can't find window: {w}"));
    let no_pane = |p: &str| fail(format!("can't find pane: {p}"));
    let mut f = Found::default();
    if let Some(s) = session {
        let Some(sid) = find_session(server, s, exact_session) else {
            return no_session(s);
        };
        f = Found::from_session(server, sid);
        *partial = f;
        match (window, pane) {
            (None, None) => {}
            (Some(w), None) => {
                if !window_in_session(server, &mut f, w, exact_window, index_ok) {
                    return no_window(w);
                }
                f.pane = f.window.and_then(|w| server.window(w)).map(|w| w.active);
            }
            (None, Some(p)) => {
                if let Some(id) = parse_id(p, '%') {
                    let Some(win) = server.pane(id).map(|p| p.window) else {
                        return no_pane(p);
                    };
                    let Some(wl) = best_winlink(server, sid, win) else {
                        return no_pane(p);
                    };
                    f.window = Some(win);
                    f.wl = Some(wl);
                    f.idx = Some(wl);
                    f.pane = Some(id);
                } else if !pane_in_window(server, &mut f, p) {
                    return no_pane(p);
                }
            }
            (Some(w), Some(p)) => {
                if !window_in_session(server, &mut f, w, exact_window, index_ok) {
                    return no_window(w);
                }
                if !pane_in_window(server, &mut f, p) {
                    return no_pane(p);
                }
            }
        }
        return Ok(f);
    }
    match (window, pane) {
        (Some(w), p) => {
            if !get_window(
                server,
                &mut f,
                w,
                window_only,
                exact_window,
                index_ok,
                &current,
            ) {
                return no_window(w);
            }
            match p {
                Some(p) => {
                    if !pane_in_window(server, &mut f, p) {
                        return no_pane(p);
                    }
                }
                None => f.pane = f.window.and_then(|w| server.window(w)).map(|w| w.active),
            }
            Ok(f)
        }
        (None, Some(p)) => {
            if let Some(id) = parse_id(p, '%') {
                let Some(w) = server.pane(id).map(|p| p.window) else {
                    return no_pane(p);
                };
                let Some(mut found) = with_window(server, w) else {
                    return no_pane(p);
                };
                found.pane = Some(id);
                return Ok(found);
            }
            f = current;
            if pane_in_window(server, &mut f, p) {
                return Ok(f);
            }
            if !pane_only {
                f = current;
                if get_window(server, &mut f, p, false, false, index_ok, &current) {
                    f.pane = f.window.and_then(|w| server.window(w)).map(|w| w.active);
                    return Ok(f);
                }
            }
            no_pane(p)
        }
        (None, None) => Ok(current),
    }
}

/// cmd_find_get_window: `@id` anywhere, else in the current session, else as a session.
fn get_window(
    server: &Server,
    f: &mut Found,
    window: &str,
    only: bool,
    exact: bool,
    index_ok: bool,
    current: &Found,
) -> bool {
    if let Some(id) = parse_id(window, '@') {
        return match with_window(server, id) {
            Some(found) => {
                *f = found;
                true
            }
            None => false,
        };
    }
    f.session = current.session;
    if window_in_session(server, f, window, exact, index_ok) {
        return true;
    }
    if !only && let Some(s) = find_session(server, window, false) {
        let idx = f.idx;
        *f = Found::from_session(server, s);
        if index_ok {
            f.idx = idx;
        } else {
            f.idx = f.wl;
        }
        return true;
    }
    false
}
