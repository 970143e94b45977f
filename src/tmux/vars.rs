//! The values behind format variables: what tmux's format callbacks compute from a session,
//! window link, window, pane, client and paste buffer, here from the stand-in's tree and each
//! pane's Aegis session. As in tmux, a context filled with only a session also describes its
//! current window and that window's active pane. What a pane's screen and processes say is
//! read beforehand ([`super::facts`]).

use std::collections::HashMap;

use super::facts::tty_of;
pub use super::facts::{Facts, gather};

use super::buffers::Buffer;
use super::clients::Client;
use super::escape::{stringify, window_name};
use super::format::Context;
use super::layout::custom::dump;
use super::options::OptValue;
use super::tree::Server;

/// Facts of the daemon that formats show (`pid`, `socket_path`, …).
#[derive(Debug, Clone)]
pub struct HostInfo {
    pub pid: u32,
    pub socket: String,
    pub host: String,
    pub uid: u32,
    pub user: String,
}

impl HostInfo {
    pub fn new(socket: &str) -> HostInfo {
        let uid = nix::unistd::getuid();
        HostInfo {
            pid: std::process::id(),
            socket: socket.to_owned(),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_default(),
            uid: uid.as_raw(),
            user: nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_default(),
        }
    }
}

/// One format context.
#[derive(Clone)]
pub struct Scope<'a> {
    pub server: &'a Server,
    pub host: &'a HostInfo,
    pub facts: &'a HashMap<u32, Facts>,
    pub session: Option<u32>,
    pub wl: Option<i64>,
    pub window: Option<u32>,
    pub pane: Option<u32>,
    pub client: Option<&'a Client>,
    pub buffer: Option<&'a Buffer>,
    /// Extra variables a command sets (`line`, `session_format`, …).
    pub extra: Vec<(&'static str, String)>,
}

impl<'a> Scope<'a> {
    /// A context filled down as tmux's format_defaults: a session implies its current window
    /// and that window's active pane.
    pub fn new(
        server: &'a Server,
        host: &'a HostInfo,
        facts: &'a HashMap<u32, Facts>,
        session: Option<u32>,
        wl: Option<i64>,
        pane: Option<u32>,
    ) -> Scope<'a> {
        let wl = wl.or_else(|| session.and_then(|s| server.session(s)?.curw));
        let window = session
            .zip(wl)
            .and_then(|(s, i)| server.session(s)?.window_at(i))
            .or_else(|| pane.and_then(|p| Some(server.pane(p)?.window)));
        let pane = pane.or_else(|| window.and_then(|w| Some(server.window(w)?.active)));
        Scope {
            server,
            host,
            facts,
            session,
            wl,
            window,
            pane,
            client: None,
            buffer: server.buffers.top(),
            extra: vec![],
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    fn option(&self, name: &str) -> Option<String> {
        let m = super::options::match_name(name).ok()?;
        if m.name != name.split('[').next().unwrap_or(name) {
            return None; // formats want exact option names
        }
        let s = self.server;
        let maps = [
            Some(&s.options.server),
            self.pane.and_then(|p| s.pane(p)).map(|p| &p.options),
            self.window.and_then(|w| s.window(w)).map(|w| &w.options),
            Some(&s.options.window),
            self.session
                .and_then(|id| s.session(id))
                .map(|s| &s.options),
            Some(&s.options.session),
        ];
        let v = maps.into_iter().flatten().find_map(|m2| m2.get(&m.name))?;
        let flag = super::options::find(&m.name)
            .is_some_and(|o| matches!(o.kind, super::options::Kind::Flag));
        Some(match (v, m.index) {
            // Formats show a flag as a number (options_to_string with `numeric`).
            (OptValue::Single(v), _) if flag => bool_str(v == "on"),
            (OptValue::Single(v), _) => v.clone(),
            (OptValue::Array(a), Some(i)) => a.get(&i).cloned().unwrap_or_default(),
            (OptValue::Array(a), None) => a.values().cloned().collect::<Vec<_>>().join(" "),
        })
    }

    fn session_var(&self, name: &str) -> Option<String> {
        let s = self.server.session(self.session?)?;
        let server = self.server;
        let attached = server.clients.attached_to(s.id);
        Some(match name {
            "session_name" => s.name.clone(),
            "session_id" => format!("${}", s.id),
            "session_created" => (s.created_ms / 1000).to_string(),
            "session_activity" => (s.activity_ms / 1000).to_string(),
            "session_last_attached" => return s.last_attached_ms.map(|t| (t / 1000).to_string()),
            "session_windows" => s.windows.len().to_string(),
            "session_attached" => attached.to_string(),
            "session_many_attached" => bool_str(attached > 1),
            "session_attached_list" => {
                let names: Vec<&str> = server
                    .clients
                    .list
                    .iter()
                    .filter(|c| c.session == s.id)
                    .map(|c| c.name.as_str())
                    .collect();
                return (!names.is_empty()).then(|| names.join(","));
            }
            "session_path" => s.cwd.clone(),
            "session_grouped" | "session_marked" => {
                let marked = name == "session_marked"
                    && server
                        .marked
                        .and_then(|p| server.place_of(p))
                        .is_some_and(|(sid, _, _)| sid == s.id);
                bool_str(marked)
            }
            "session_stack" => {
                let mut v: Vec<String> = s.curw.iter().map(|i| i.to_string()).collect();
                v.extend(s.lastw.iter().map(|i| i.to_string()));
                v.join(",")
            }
            "active_window_index" => s.curw?.to_string(),
            "last_window_index" => s.windows.keys().next_back()?.to_string(),
            "session_alerts"
            | "session_group"
            | "session_group_list"
            | "session_group_attached_list"
            | "session_group_size"
            | "session_group_attached"
            | "session_group_many_attached" => return None,
            _ => return None,
        })
    }

    fn window_var(&self, name: &str) -> Option<String> {
        let server = self.server;
        let wid = self.window?;
        let w = server.window(wid)?;
        let link = self.session.zip(self.wl);
        let session = self.session.and_then(|s| server.session(s));
        let links = server.links_of(wid);
        let current_in = |sid: u32| {
            server.session(sid).is_some_and(|s| {
                s.curw.and_then(|i| s.window_at(i)) == Some(wid)
                    && links
                        .iter()
                        .any(|(ls, li)| *ls == sid && Some(*li) == s.curw)
            })
        };
        let names = |pred: &dyn Fn(u32) -> bool| -> Vec<String> {
            links
                .iter()
                .filter(|(s, _)| pred(*s))
                .filter_map(|(s, _)| server.session(*s).map(|s| s.name.clone()))
                .collect()
        };
        let activity = w
            .panes
            .iter()
            .filter_map(|p| server.pane(*p))
            .map(|p| {
                p.handle
                    .counters
                    .last_activity_ms
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .max()
            .unwrap_or(w.created_ms)
            .max(w.created_ms);
        Some(match name {
            "window_id" => format!("@{wid}"),
            "window_name" => w.name.clone(),
            "window_width" => w.sx.to_string(),
            "window_height" => w.sy.to_string(),
            "window_panes" => w.panes.len().to_string(),
            "window_layout" => dump(w.saved_layout.as_ref().unwrap_or(&w.layout)),
            "window_visible_layout" => dump(&w.layout),
            "window_zoomed_flag" => bool_str(w.zoomed()),
            "window_activity" => (activity / 1000).to_string(),
            "window_index" => self.wl?.to_string(),
            "window_active" => bool_str(session.is_some_and(|s| s.curw == self.wl)),
            "window_last_flag" => {
                bool_str(session.is_some_and(|s| s.lastw.first() == self.wl.as_ref()))
            }
            "window_start_flag" => {
                bool_str(session.is_some_and(|s| s.windows.keys().next() == self.wl.as_ref()))
            }
            "window_end_flag" => {
                bool_str(session.is_some_and(|s| s.windows.keys().next_back() == self.wl.as_ref()))
            }
            "window_flags" | "window_raw_flags" => {
                let (sid, idx) = link?;
                let s = server.session(sid)?;
                let mut f = String::new();
                if s.curw == Some(idx) {
                    f.push('*');
                }
                if s.lastw.first() == Some(&idx) {
                    f.push('-');
                }
                if server
                    .marked
                    .and_then(|p| server.pane(p))
                    .is_some_and(|p| p.window == wid)
                {
                    f.push('M');
                }
                if w.zoomed() {
                    f.push('Z');
                }
                f
            }
            "window_stack_index" => {
                let s = session?;
                match s.lastw.iter().position(|i| Some(*i) == self.wl) {
                    Some(pos) => (pos + 1).to_string(),
                    None => "0".into(),
                }
            }
            "window_linked" => bool_str(links.len() > 1),
            "window_linked_sessions" => links.len().to_string(),
            "window_linked_sessions_list" => names(&|_| true).join(","),
            "window_active_sessions" => links
                .iter()
                .filter(|(s, _)| current_in(*s))
                .count()
                .to_string(),
            "window_active_sessions_list" => {
                let n = names(&|s| current_in(s));
                return (!n.is_empty()).then(|| n.join(","));
            }
            "window_active_clients" => server.clients_showing(wid).count().to_string(),
            "window_active_clients_list" => {
                let n: Vec<String> = server
                    .clients_showing(wid)
                    .map(|c| c.name.clone())
                    .collect();
                return (!n.is_empty()).then(|| n.join(","));
            }
            "window_cell_width" => "16".into(),
            "window_cell_height" => "32".into(),
            "window_activity_flag" | "window_bell_flag" | "window_silence_flag" => "0".into(),
            "window_marked_flag" => bool_str(
                server
                    .marked
                    .and_then(|p| server.pane(p))
                    .is_some_and(|p| p.window == wid),
            ),
            "window_bigger" | "window_offset_x" | "window_offset_y" => {
                return self.client.map(|_| "0".to_owned());
            }
            _ => return None,
        })
    }

    fn pane_var(&self, name: &str) -> Option<String> {
        let server = self.server;
        let pid = self.pane?;
        let p = server.pane(pid)?;
        let w = server.window(p.window)?;
        let f = self.facts.get(&pid).cloned().unwrap_or_default();
        let live = p.handle.live();
        let dead = p.handle.is_exited();
        let g = p.geom;
        let base: usize = server
            .window_option(p.window, "pane-base-index")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Some(match name {
            "pane_id" => format!("%{pid}"),
            "pane_index" => (w.position(pid)? + base).to_string(),
            "pane_width" => g.sx.to_string(),
            "pane_height" => g.sy.to_string(),
            "pane_left" => g.xoff.to_string(),
            "pane_top" => g.yoff.to_string(),
            "pane_right" => (g.xoff + g.sx).saturating_sub(1).to_string(),
            "pane_bottom" => (g.yoff + g.sy).saturating_sub(1).to_string(),
            "pane_at_left" => bool_str(g.xoff == 0),
            "pane_at_top" => bool_str(g.yoff == 0),
            "pane_at_right" => bool_str(g.xoff + g.sx == w.sx),
            "pane_at_bottom" => bool_str(g.yoff + g.sy == w.sy),
            "pane_active" => bool_str(w.active == pid),
            "pane_last" => bool_str(w.last == Some(pid)),
            "pane_pid" => p.handle.meta.pid.to_string(),
            "pane_dead" => bool_str(dead),
            "pane_dead_status" => return live.exit_code.filter(|_| dead).map(|c| c.to_string()),
            "pane_dead_signal" => return None,
            "pane_dead_time" => return p.dead_ms.map(|t| (t / 1000).to_string()),
            "pane_start_command" => stringify(&p.argv),
            "pane_start_path" => p.start_path.clone(),
            "pane_current_command" => {
                let cmd = live_foreground(p.handle.meta.pid, dead)
                    .and_then(|f| f.argv0())
                    .unwrap_or_else(|| {
                        let s = stringify(&p.argv);
                        if s.is_empty() { p.shell.clone() } else { s }
                    });
                window_name(&cmd)
            }
            "pane_current_path" => {
                return live_foreground(p.handle.meta.pid, dead)
                    .and_then(|f| f.cwd())
                    .map(|p| p.display().to_string());
            }
            "pane_tty" => tty_of(p.handle.meta.pid, dead),
            "pane_title" => p
                .title
                .clone()
                .or_else(|| (!f.title.is_empty()).then(|| f.title.clone()))
                .unwrap_or_else(|| self.host.host.clone()),
            "pane_in_mode" => bool_str(p.mode.is_some()),
            "pane_mode" => return p.mode.map(str::to_owned),
            "pane_input_off" => bool_str(p.input_off),
            "pane_marked" => bool_str(server.marked == Some(pid)),
            "pane_marked_set" => bool_str(server.marked.is_some()),
            "pane_pipe" => bool_str(p.pipe.is_some()),
            "pane_synchronized" => {
                bool_str(server.pane_option(pid, "synchronize-panes").as_deref() == Some("on"))
            }
            "pane_format" | "pane_marked_format" => "0".into(),
            "pane_fg" | "pane_bg" => "default".into(),
            "pane_tabs" => {
                let stops: Vec<String> = (1..)
                    .map(|k| k * 8)
                    .take_while(|&c| c < g.sx)
                    .map(|c| c.to_string())
                    .collect();
                stops.join(",")
            }
            "pane_path" | "pane_search_string" => return None,
            "cursor_x" => f.cursor_x.to_string(),
            "cursor_y" => f.cursor_y.to_string(),
            "cursor_flag" => bool_str(f.cursor_visible && !dead),
            "cursor_character" => f.cursor_char.clone(),
            "alternate_on" => bool_str(f.alternate),
            "alternate_saved_x" | "alternate_saved_y" => {
                if f.alternate {
                    "0".into()
                } else {
                    u32::MAX.to_string()
                }
            }
            "insert_flag" | "origin_flag" => "0".into(),
            "keypad_flag" => bool_str(f.keypad),
            "keypad_cursor_flag" => bool_str(f.keypad_cursor),
            "wrap_flag" => "1".into(),
            "mouse_any_flag" => bool_str(f.mouse > 0),
            "mouse_standard_flag" => bool_str(f.mouse == 1),
            "mouse_button_flag" => bool_str(f.mouse == 2),
            "mouse_all_flag" => bool_str(f.mouse == 3),
            "mouse_sgr_flag" => bool_str(f.mouse_sgr),
            "mouse_utf8_flag" => "0".into(),
            "scroll_region_upper" => "0".into(),
            "scroll_region_lower" => g.sy.saturating_sub(1).to_string(),
            "history_size" => f.history.to_string(),
            // The limit the pane started with, as tmux keeps it per pane.
            "history_limit" => p.handle.meta.history_lines.to_string(),
            "history_bytes" => ((f.history + usize::try_from(g.sy).unwrap_or(0)) * 32
                + f.used_cells * 5)
                .to_string(),
            _ => return None,
        })
    }

    fn other_var(&self, name: &str) -> Option<String> {
        let server = self.server;
        Some(match name {
            "version" => "3.3a".into(),
            "pid" => self.host.pid.to_string(),
            "socket_path" => self.host.socket.clone(),
            "host" => self.host.host.clone(),
            "host_short" => self.host.host.split('.').next().unwrap_or("").to_owned(),
            "uid" => self.host.uid.to_string(),
            "user" => self.host.user.clone(),
            "start_time" => (server.started_ms / 1000).to_string(),
            "next_session_id" => format!("${}", server.next_session),
            "config_files" => server.config_files.join(","),
            "session_format" | "window_format" | "pane_format" => "0".into(),
            _ => return self.client_var(name).or_else(|| self.buffer_var(name)),
        })
    }

    fn client_var(&self, name: &str) -> Option<String> {
        let c = self.client?;
        let session = self.server.session(c.session);
        Some(match name {
            "client_name" => c.name.clone(),
            "client_pid" => c.pid.to_string(),
            "client_tty" => c.tty.clone(),
            "client_termname" => c.term.clone(),
            "client_termtype" | "client_termfeatures" => String::new(),
            "client_width" => c.cols.to_string(),
            "client_height" => c.rows.to_string(),
            "client_cell_width" => "16".into(),
            "client_cell_height" => "32".into(),
            "client_control_mode" => bool_str(c.control),
            "client_readonly" => bool_str(c.readonly),
            "client_session" => session?.name.clone(),
            "client_last_session" => self.server.session(c.last_session?)?.name.clone(),
            "client_created" => (c.created_ms / 1000).to_string(),
            "client_activity" => (c.activity_ms / 1000).to_string(),
            "client_uid" => self.host.uid.to_string(),
            "client_user" => self.host.user.clone(),
            "client_utf8" => "1".into(),
            "client_prefix" => "0".into(),
            "client_key_table" => "root".into(),
            "client_flags" => {
                let mut f = vec!["attached", "focused", "UTF-8"];
                if c.control {
                    f.insert(0, "control-mode");
                }
                if c.readonly {
                    f.push("read-only");
                }
                f.join(",")
            }
            "client_written" | "client_discarded" => "0".into(),
            _ => return None,
        })
    }

    fn buffer_var(&self, name: &str) -> Option<String> {
        let b = self.buffer?;
        Some(match name {
            "buffer_name" => b.name.clone(),
            "buffer_size" => b.data.len().to_string(),
            "buffer_created" => (b.created_ms / 1000).to_string(),
            "buffer_sample" => sample(&b.data),
            _ => return None,
        })
    }
}

impl Context for Scope<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.extra.iter().find(|(n, _)| *n == name) {
            return Some(v.clone());
        }
        if name.contains('-') || name.starts_with('@') {
            return self.option(name);
        }
        self.session_var(name)
            .or_else(|| self.window_var(name))
            .or_else(|| self.pane_var(name))
            .or_else(|| self.other_var(name))
    }

    fn children(&self, kind: char) -> Vec<(Box<dyn Context + '_>, bool)> {
        let server = self.server;
        let base = Scope {
            extra: vec![],
            ..self.clone()
        };
        match kind {
            'S' => server
                .sessions_sorted()
                .into_iter()
                .map(|s| {
                    let c = Scope::new(server, self.host, self.facts, Some(s), None, None);
                    (Box::new(c) as Box<dyn Context>, Some(s) == self.session)
                })
                .collect(),
            'W' => {
                let Some(s) = self.session.and_then(|s| server.session(s)) else {
                    return vec![];
                };
                s.windows
                    .keys()
                    .map(|&i| {
                        let c =
                            Scope::new(server, self.host, self.facts, Some(s.id), Some(i), None);
                        (Box::new(c) as Box<dyn Context>, s.curw == Some(i))
                    })
                    .collect()
            }
            'P' => {
                let Some(w) = self.window.and_then(|w| server.window(w)) else {
                    return vec![];
                };
                w.panes
                    .iter()
                    .map(|&p| {
                        let c = Scope {
                            pane: Some(p),
                            ..base.clone()
                        };
                        (Box::new(c) as Box<dyn Context>, w.active == p)
                    })
                    .collect()
            }
            _ => vec![],
        }
    }
}

/// Who holds a live pane's terminal (tmux reads the foreground program and its directory from
/// the same place).
fn live_foreground(pid: i32, dead: bool) -> Option<crate::pty::Foreground> {
    if dead {
        return None;
    }
    crate::pty::foreground(pid)
}

fn bool_str(b: bool) -> String {
    if b { "1" } else { "0" }.to_owned()
}

/// list-buffers' `buffer_sample`: the start of the data with unprintable bytes escaped.
fn sample(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(&data[..data.len().min(200)]);
    let mut out = String::new();
    for c in text.chars().take(50) {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    if text.chars().count() > 50 {
        out.push_str("...");
    }
    out
}
