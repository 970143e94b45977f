//! Pane-level stand-in commands: send-keys, capture-pane, display-message, paste buffers,
//! options and environment, and the values behind `#{…}` format variables.

use std::collections::HashMap;

use super::cmd::Cmd;
use super::exec::{CmdResult, Ctx, Kind, Pane};
use super::state::EnvVar;
use crate::screen::{CaptureOptions, LineRef};

/// tmux 3.3a's default `list-sessions` format (without session groups, which Aegis lacks).
pub const LS_FORMAT: &str = "#{session_name}: #{session_windows} windows (created #{t:session_created})#{?session_attached, (attached),}";
/// tmux 3.3a's default `list-windows` format.
pub const LSW_FORMAT: &str = "#{window_index}: #{window_name}#{window_raw_flags} (#{window_panes} panes) [#{window_width}x#{window_height}] [layout #{window_layout}] #{window_id}#{?window_active, (active),}";
/// tmux 3.3a's default `list-panes` format.
pub const LSP_FORMAT: &str = "#{pane_index}: [#{pane_width}x#{pane_height}] [history #{history_size}/#{history_limit}, #{history_bytes} bytes] #{pane_id}#{?pane_active, (active),}#{?pane_dead, (dead),}";
/// tmux 3.3a's default `display-message` format.
const DISPLAY_FORMAT: &str =
    "[#{session_name}] #{window_index}:#{window_name}, current pane #{pane_index}";

/// tmux's `history-limit` default, which is also how many lines Aegis keeps.
const HISTORY_LIMIT: usize = 2000;

/// Options the stand-in accepts with `set-option`. Only `remain-on-exit`, `base-index` and
/// `pane-base-index` change behaviour; the rest are stored (tools set them routinely, and
/// Aegis already behaves sensibly: e.g. its scrollback is 2000 lines, tmux's default limit).
const KNOWN_OPTIONS: &[&str] = &[
    "aggressive-resize",
    "allow-passthrough",
    "allow-rename",
    "alternate-screen",
    "automatic-rename",
    "base-index",
    "default-command",
    "default-shell",
    "default-size",
    "default-terminal",
    "destroy-unattached",
    "escape-time",
    "exit-empty",
    "exit-unattached",
    "extended-keys",
    "focus-events",
    "history-limit",
    "mode-keys",
    "monitor-activity",
    "monitor-bell",
    "monitor-silence",
    "mouse",
    "pane-base-index",
    "prefix",
    "remain-on-exit",
    "renumber-windows",
    "set-clipboard",
    "set-titles",
    "status",
    "status-interval",
    "status-keys",
    "status-left",
    "status-position",
    "status-right",
    "status-style",
    "terminal-overrides",
    "terminal-features",
    "update-environment",
    "visual-activity",
    "visual-bell",
    "window-size",
    "wrap-search",
];

impl Ctx<'_> {
    pub async fn run_pane_command(&mut self, c: &Cmd) -> CmdResult {
        match c.spec.name {
            "send-keys" => self.send_keys(c).await,
            "capture-pane" => self.capture(c).await,
            "display-message" => {
                // tmux resolves display-message's target leniently: a miss is no error.
                let p = self.target(c.value('t'), Kind::Pane).ok();
                let fmt = c
                    .args
                    .first()
                    .map(String::as_str)
                    .or(c.value('F'))
                    .unwrap_or(DISPLAY_FORMAT)
                    .to_owned();
                let line = self.expand(&fmt, p.as_ref()).await;
                self.out.push_str(&line);
                self.out.push('\n');
                Ok(())
            }
            "set-option" | "set-window-option" => self.set_option(c),
            "set-environment" => self.set_environment(c),
            "show-environment" => self.show_environment(c),
            "load-buffer" => self.load_buffer(c),
            "paste-buffer" => self.paste_buffer(c).await,
            "delete-buffer" => {
                let mut st = self.host.state.lock();
                let space = st.spaces.entry(self.req.socket.clone()).or_default();
                match c.value('b') {
                    Some(b) if space.buffers.iter().any(|(n, _)| n == b) => {
                        space.buffers.retain(|(n, _)| n != b);
                        Ok(())
                    }
                    Some(b) => Err(format!("unknown buffer: {b}")),
                    None if space.buffers.is_empty() => Err("no buffer".into()),
                    None => {
                        space.buffers.remove(0);
                        Ok(())
                    }
                }
            }
            other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
        }
    }

    async fn send_keys(&mut self, c: &Cmd) -> CmdResult {
        let p = self.target(c.value('t'), Kind::Pane)?;
        let repeat = match c.value('N') {
            None => 1,
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| format!("repeat count {n} invalid"))?,
        };
        if p.handle.is_exited() || c.args.is_empty() {
            return Ok(());
        }
        let result = if c.has('H') {
            let mut bytes = Vec::with_capacity(c.args.len());
            for a in &c.args {
                let b = u8::from_str_radix(a.trim_start_matches("0x"), 16)
                    .map_err(|_| format!("invalid key: {a}"))?;
                bytes.push(b);
            }
            p.handle.send_bytes(bytes.repeat(repeat)).await
        } else if c.has('l') {
            p.handle
                .send_bytes(c.args.concat().into_bytes().repeat(repeat))
                .await
        } else {
            let keys: Vec<String> = (0..repeat).flat_map(|_| c.args.clone()).collect();
            p.handle.send_keys(&keys).await
        };
        result.map_err(|e| e.to_string())
    }

    async fn capture(&mut self, c: &Cmd) -> CmdResult {
        let p = match self.target(c.value('t'), Kind::Pane) {
            Ok(p) => p,
            Err(_) if c.has('q') => return Ok(()),
            Err(e) => return Err(e),
        };
        let parse = |f: char| -> Result<Option<LineRef>, String> {
            match c.value(f) {
                None => Ok(None),
                Some(v) => Ok(Some(LineRef::parse(v).unwrap_or(LineRef::At(0)))),
            }
        };
        let opts = CaptureOptions {
            start: parse('S')?,
            end: parse('E')?,
            escapes: c.has('e'),
            join: c.has('J'),
            keep_trailing: c.has('N'),
        };
        let text = p
            .handle
            .with_screen(move |s| s.capture(&opts))
            .await
            .map_err(|e| e.to_string())?;
        if c.has('p') {
            self.out.push_str(&text);
        } else {
            let mut st = self.host.state.lock();
            let space = st.spaces.entry(self.req.socket.clone()).or_default();
            let name = match c.value('b') {
                Some(b) => b.to_owned(),
                None => space.new_buffer_name(),
            };
            space.set_buffer(name, text.into_bytes());
        }
        Ok(())
    }

    fn set_option(&mut self, c: &Cmd) -> CmdResult {
        let name = c.args.first().cloned().unwrap_or_default();
        if !name.starts_with('@') && !KNOWN_OPTIONS.contains(&name.as_str()) {
            return if c.has('q') {
                Ok(())
            } else {
                Err(format!("invalid option: {name}"))
            };
        }
        let value = c.args.get(1).cloned().unwrap_or_else(|| "on".into());
        let session = if c.has('g') {
            None
        } else {
            Some(self.target(c.value('t'), Kind::Pane)?.handle.meta.id)
        };
        let mut st = self.host.state.lock();
        let space = st.spaces.entry(self.req.socket.clone()).or_default();
        let map: &mut HashMap<String, String> = match session {
            None => &mut space.global_options,
            Some(id) => space.session_options.entry(id).or_default(),
        };
        if c.has('u') || c.has('U') {
            map.remove(&name);
        } else if c.has('o') && map.contains_key(&name) {
            return Err(format!("already set: {name}"));
        } else if c.has('a') {
            map.entry(name).or_default().push_str(&value);
        } else {
            map.insert(name, value);
        }
        Ok(())
    }

    fn set_environment(&mut self, c: &Cmd) -> CmdResult {
        let name = c.args.first().cloned().unwrap_or_default();
        if name.is_empty() || name.contains('=') {
            return Err("empty variable name".into());
        }
        let session = if c.has('g') {
            None
        } else {
            Some(self.target(c.value('t'), Kind::Session)?.handle.meta.id)
        };
        let value = c.args.get(1).cloned();
        if value.is_none() && !c.has('u') && !c.has('r') {
            return Err("no value specified".into());
        }
        let mut st = self.host.state.lock();
        let space = st.spaces.entry(self.req.socket.clone()).or_default();
        let env = match session {
            None => &mut space.global_env,
            Some(id) => space.session_env.entry(id).or_default(),
        };
        if c.has('u') {
            env.remove(&name);
        } else {
            let value = if c.has('r') { None } else { value };
            env.insert(
                name,
                EnvVar {
                    value,
                    hidden: c.has('h'),
                },
            );
        }
        Ok(())
    }

    fn show_environment(&mut self, c: &Cmd) -> CmdResult {
        let session = if c.has('g') {
            None
        } else {
            Some(self.target(c.value('t'), Kind::Session)?.handle.meta.id)
        };
        let st = self.host.state.lock();
        let empty = Default::default();
        let env = st
            .spaces
            .get(&self.req.socket)
            .map_or(&empty, |s| match session {
                None => &s.global_env,
                Some(id) => s.session_env.get(&id).unwrap_or(&empty),
            });
        let mut out = String::new();
        let mut found = false;
        for (k, v) in env {
            if v.hidden != c.has('h') || c.args.first().is_some_and(|n| n != k) {
                continue;
            }
            found = true;
            match &v.value {
                Some(val) => out.push_str(&format!("{k}={val}\n")),
                None => out.push_str(&format!("-{k}\n")),
            }
        }
        drop(st);
        if let Some(n) = c.args.first()
            && !found
        {
            return Err(format!("unknown variable: {n}"));
        }
        self.out.push_str(&out);
        Ok(())
    }

    fn load_buffer(&mut self, c: &Cmd) -> CmdResult {
        let path = c.args.first().cloned().unwrap_or_default();
        let data = if path == "-" {
            self.req.stdin.clone().unwrap_or_default()
        } else {
            let full = std::path::Path::new(&self.req.cwd).join(&path);
            std::fs::read(&full).map_err(|e| format!("{path}: {e}"))?
        };
        let mut st = self.host.state.lock();
        let space = st.spaces.entry(self.req.socket.clone()).or_default();
        let name = match c.value('b') {
            Some(b) => b.to_owned(),
            None => space.new_buffer_name(),
        };
        space.set_buffer(name, data);
        Ok(())
    }

    async fn paste_buffer(&mut self, c: &Cmd) -> CmdResult {
        let p = self.target(c.value('t'), Kind::Pane)?;
        let data = {
            let st = self.host.state.lock();
            let buffers = st.spaces.get(&self.req.socket).map(|s| &s.buffers);
            let found = match c.value('b') {
                Some(b) => buffers.and_then(|bs| bs.iter().find(|(n, _)| n == b)),
                None => buffers.and_then(|bs| bs.first()),
            };
            match found {
                Some((_, d)) => d.clone(),
                None => return Err(format!("no buffer {}", c.value('b').unwrap_or(""))),
            }
        };
        let sep = c.value('s').unwrap_or("\r").as_bytes().to_vec();
        let mut body = Vec::with_capacity(data.len());
        if c.has('r') {
            body = data;
        } else {
            for (i, line) in data.split(|b| *b == b'\n').enumerate() {
                if i > 0 {
                    body.extend_from_slice(&sep);
                }
                body.extend_from_slice(line);
            }
        }
        if c.has('p') && p.handle.live().bracketed_paste {
            let text = String::from_utf8_lossy(&body).into_owned();
            body = crate::session::input::bracketed(&text);
        }
        if !p.handle.is_exited() && !body.is_empty() {
            p.handle.send_bytes(body).await.map_err(|e| e.to_string())?;
        }
        if c.has('d') {
            let mut st = self.host.state.lock();
            if let Some(s) = st.spaces.get_mut(&self.req.socket) {
                match c.value('b') {
                    Some(b) => s.buffers.retain(|(n, _)| n != b),
                    None if !s.buffers.is_empty() => {
                        s.buffers.remove(0);
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }

    /// Expand a format for a pane (or for no pane: session variables are then empty).
    pub async fn expand(&self, fmt: &str, p: Option<&Pane>) -> String {
        let vars = match p {
            Some(p) => self.pane_vars(p).await,
            None => HashMap::new(),
        };
        let socket = self.req.socket.clone();
        let host = hostname();
        super::format::expand(fmt, &move |name: &str| match name {
            "version" => Some("3.3a".into()),
            "pid" => Some(std::process::id().to_string()),
            "socket_path" => Some(socket.clone()),
            "host" => Some(host.clone()),
            "host_short" => Some(host.split('.').next().unwrap_or("").to_owned()),
            _ => vars.get(name).cloned(),
        })
    }

    async fn pane_vars(&self, p: &Pane) -> HashMap<&'static str, String> {
        let h = &p.handle;
        let live = h.live();
        let dead = live.status == crate::vocab::SessionStatus::Exited;
        let screen = h
            .with_screen(|s| {
                let (row, col) = s.cursor();
                (row, col, s.alternate_screen(), s.history_size())
            })
            .await
            .unwrap_or((0, 0, false, 0));
        let (command, path) = foreground(h.meta.pid, dead);
        let created = (h.meta.created_at_ms / 1000).to_string();
        let activity = (h
            .counters
            .last_activity_ms
            .load(std::sync::atomic::Ordering::Relaxed)
            / 1000)
            .to_string();
        let window_index = self.index_option(p, "base-index").to_string();
        let window_name = {
            let st = self.host.state.lock();
            st.spaces
                .get(&self.req.socket)
                .and_then(|s| s.option(h.meta.id, super::exec::WINDOW_NAME))
                .map(str::to_owned)
        }
        .unwrap_or_else(|| command.clone());
        let pane_index = self.index_option(p, "pane-base-index").to_string();
        let layout_body = format!("{}x{},0,0,{}", live.cols, live.rows, p.n);
        let b = |v: bool| if v { "1" } else { "0" }.to_owned();
        HashMap::from([
            ("session_name", h.meta.name.clone()),
            ("session_id", format!("${}", p.n)),
            ("session_created", created),
            ("session_activity", activity.clone()),
            ("window_activity", activity),
            (
                "session_attached",
                self.host.attach.attached(h.meta.id).to_string(),
            ),
            ("session_windows", "1".into()),
            ("session_path", h.meta.work_dir.display().to_string()),
            ("window_id", format!("@{}", p.n)),
            ("window_index", window_index),
            ("window_name", window_name),
            ("window_flags", "*".into()),
            ("window_raw_flags", "*".into()),
            ("window_active", "1".into()),
            ("window_panes", "1".into()),
            ("window_width", live.cols.to_string()),
            ("window_height", live.rows.to_string()),
            (
                "window_layout",
                format!("{:04x},{layout_body}", layout_checksum(&layout_body)),
            ),
            ("pane_id", format!("%{}", p.n)),
            ("pane_index", pane_index),
            ("pane_active", "1".into()),
            ("pane_pid", h.meta.pid.to_string()),
            ("pane_dead", b(dead)),
            (
                "pane_dead_status",
                live.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            ),
            ("pane_current_command", command),
            ("pane_current_path", path),
            ("pane_start_command", h.meta.command.join(" ")),
            ("pane_width", live.cols.to_string()),
            ("pane_height", live.rows.to_string()),
            ("pane_title", hostname()),
            ("pane_in_mode", "0".into()),
            ("cursor_x", screen.1.to_string()),
            ("cursor_y", screen.0.to_string()),
            ("alternate_on", b(screen.2)),
            ("history_size", screen.3.to_string()),
            ("history_limit", HISTORY_LIMIT.to_string()),
            ("history_bytes", "0".into()),
        ])
    }
}

/// tmux's layout checksum (layout.c `layout_checksum`).
fn layout_checksum(layout: &str) -> u16 {
    let mut csum: u16 = 0;
    for b in layout.bytes() {
        csum = (csum >> 1) | ((csum & 1) << 15);
        csum = csum.wrapping_add(u16::from(b));
    }
    csum
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The pane's foreground program and its directory, from the terminal's foreground process
/// group as /proc reports it for the session leader (tmux asks the pty the same question).
fn foreground(pid: i32, dead: bool) -> (String, String) {
    if dead {
        return (String::new(), String::new());
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let tpgid = stat
        .rfind(')')
        .and_then(|i| stat[i + 2..].split(' ').nth(5))
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(pid);
    let comm = std::fs::read_to_string(format!("/proc/{tpgid}/comm"))
        .map(|c| c.trim().to_owned())
        .unwrap_or_default();
    let cwd = std::fs::read_link(format!("/proc/{tpgid}/cwd"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    (comm, cwd)
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_checksum_matches_tmux() {
        // From `tmux list-windows` for a 40x10 window: "9f5d,40x10,0,0,0".
        assert_eq!(super::layout_checksum("40x10,0,0,0"), 0x9f5d);
    }
}
