//! What goes into and comes out of panes: send-keys and send-prefix (to every pane of the
//! window with synchronize-panes, never to a pane whose input is off, and to a pane's mode
//! when it is in one), capture-pane, display-message, display-popup.

use super::super::cmd::Cmd;
use super::super::exec::{CmdResult, Ctx};
use super::super::target::Found;
use crate::screen::{CaptureOptions, LineRef};

/// tmux 3.3a's default `display-message` format.
const DISPLAY_FORMAT: &str = "[#{session_name}] #{window_index}:#{window_name}, current pane #{pane_index} - (%H:%M %d-%b-%y)";

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "send-keys" => send_keys(ctx, c).await,
        "send-prefix" => {
            let f = ctx.tgt()?;
            let (s, p) = (
                f.session.ok_or("no current session")?,
                f.pane.ok_or("no current pane")?,
            );
            let name = if c.has('2') { "prefix2" } else { "prefix" };
            let key = ctx
                .server()?
                .session_option(s, name)
                .unwrap_or_else(|| "C-b".into());
            if key == "None" {
                return Ok(());
            }
            deliver(ctx, p, Input::Keys(vec![key])).await
        }
        "capture-pane" => capture(ctx, c).await,
        "display-message" => display_message(ctx, c).await,
        "display-popup" => {
            let control = ctx
                .tclient
                .and_then(|id| ctx.server_ref()?.clients.get(id))
                .map(|cl| cl.control);
            match control {
                // A control client has nothing to draw a popup on; its command runs all the
                // same, as tmux runs it.
                Some(true) => {
                    if let Some(cmd) = c.arg(0) {
                        let cwd = match c.value('d') {
                            Some(d) => ctx.expand_simple(d, ctx.target.and_then(|f| f.session)),
                            None => ctx.req.cwd.clone(),
                        };
                        let env = c
                            .values('e')
                            .iter()
                            .filter_map(|kv| kv.split_once('='))
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect();
                        ctx.next = super::super::exec::Next::Shell(super::super::exec::ShellJob {
                            command: cmd.to_owned(),
                            cwd,
                            env,
                            background: true,
                            then: None,
                        });
                    }
                    Ok(())
                }
                Some(false) => {
                    Err("display-popup: popups are not supported by the Aegis tmux stand-in".into())
                }
                None => Err("no current client".into()),
            }
        }
        other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
    }
}

enum Input {
    Keys(Vec<String>),
    Bytes(Vec<u8>),
}

/// Send input to a pane (or to every pane of its window with synchronize-panes). A pane in
/// a mode takes the keys itself: `q`, `Escape` and `C-c` leave it, as copy-mode does.
async fn deliver(ctx: &mut Ctx<'_>, pane: u32, input: Input) -> CmdResult {
    let server = ctx.server()?;
    let p = server.pane(pane).ok_or("no current pane")?;
    let targets: Vec<u32> =
        if server.pane_option(pane, "synchronize-panes").as_deref() == Some("on") {
            server
                .window(p.window)
                .map(|w| w.panes.clone())
                .unwrap_or_default()
        } else {
            vec![pane]
        };
    let mut sent = vec![];
    for t in targets {
        let server = ctx.server()?;
        let Some(tp) = server.pane_mut(t) else {
            continue;
        };
        if tp.input_off || tp.handle.is_exited() {
            continue;
        }
        if let Some(mode) = tp.mode {
            let leaves = match &input {
                Input::Keys(k) => k
                    .iter()
                    .any(|k| matches!(k.as_str(), "q" | "Escape" | "C-c")),
                Input::Bytes(b) => b.iter().any(|b| matches!(b, b'q' | 0x1b | 0x03)),
            };
            if leaves || mode == "clock-mode" {
                tp.mode = None;
            }
            continue;
        }
        let h = tp.handle.clone();
        let r = match &input {
            Input::Keys(k) => h.send_keys(k).await,
            Input::Bytes(b) => h.send_bytes(b.clone()).await,
        };
        r.map_err(|e| e.to_string())?;
        sent.push(h);
    }
    if !sent.is_empty() {
        ctx.next = super::super::exec::Next::Settle(sent);
    }
    Ok(())
}

async fn send_keys(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let pane = f.pane.ok_or("no current pane")?;
    let repeat = match c.value('N') {
        None => 1,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| format!("repeat count {n} invalid"))?,
    };
    let in_mode = ctx.server()?.pane(pane).is_some_and(|p| p.mode.is_some());
    if c.has('X') {
        if !in_mode {
            return Err("not in a mode".into());
        }
        let leaves = c
            .args
            .iter()
            .any(|a| a == "cancel" || a.starts_with("copy-") && a.ends_with("-and-cancel"));
        if leaves && let Some(p) = ctx.server()?.pane_mut(pane) {
            p.mode = None;
        }
        return Ok(());
    }
    if c.has('R') {
        let h = ctx.server()?.pane(pane).map(|p| p.handle.clone());
        if let Some(h) = h {
            // RIS through the screen model: the same reset tmux gives the pane's terminal.
            h.with_screen(|s| {
                let _ = s.process(b"\x1bc");
            })
            .await
            .map_err(|e| e.to_string())?;
        }
    }
    if c.args.is_empty() {
        return Ok(());
    }
    let args: Vec<String> = if c.has('F') {
        c.args
            .iter()
            .map(|a| ctx.expand_simple(a, f.session))
            .collect()
    } else {
        c.args.clone()
    };
    let input = if c.has('H') {
        let mut bytes = Vec::with_capacity(args.len());
        for a in &args {
            let b = u8::from_str_radix(a.trim_start_matches("0x"), 16)
                .map_err(|_| format!("invalid key: {a}"))?;
            bytes.push(b);
        }
        Input::Bytes(bytes.repeat(repeat))
    } else if c.has('l') {
        Input::Bytes(args.concat().into_bytes().repeat(repeat))
    } else {
        Input::Keys((0..repeat).flat_map(|_| args.clone()).collect())
    };
    deliver(ctx, pane, input).await
}

async fn capture(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let Some(pane) = f.pane else {
        return if c.has('q') {
            Ok(())
        } else {
            Err("no current pane".into())
        };
    };
    let h = ctx
        .server()?
        .pane(pane)
        .map(|p| p.handle.clone())
        .ok_or("no current pane")?;
    let text = if c.has('P') {
        // Only an incomplete escape sequence would show here; the screen model has none.
        String::new()
    } else if c.has('a') {
        let (alt, rows) = h
            .with_screen(|s| (s.alternate_screen(), s.size().1))
            .await
            .map_err(|e| e.to_string())?;
        if !alt {
            if c.has('q') {
                String::new()
            } else {
                return Err("no alternate screen".into());
            }
        } else {
            // The screen model does not keep the normal screen while the alternate one is
            // on; it is captured as blank lines (a documented difference).
            "\n".repeat(usize::from(rows))
        }
    } else {
        let parse = |flag: char| {
            c.value(flag)
                .map(|v| LineRef::parse(v).unwrap_or(LineRef::At(0)))
        };
        let opts = CaptureOptions {
            start: parse('S'),
            end: parse('E'),
            escapes: c.has('e'),
            join: c.has('J'),
            keep_trailing: c.has('N'),
        };
        h.with_screen(move |s| s.capture(&opts))
            .await
            .map_err(|e| e.to_string())?
    };
    let text = if c.has('C') {
        escape_octal(&text)
    } else {
        text
    };
    if c.has('p') {
        // tmux prints the capture without its last newline, then a newline: an empty
        // capture is one empty line.
        ctx.out.push_str(text.strip_suffix('\n').unwrap_or(&text));
        ctx.out.push('\n');
        return Ok(());
    }
    let now = crate::clock::now_ms();
    let server = ctx.server()?;
    let limit = server
        .server_option("buffer-limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    server
        .buffers
        .set(c.value('b'), text.into_bytes(), now, limit);
    Ok(())
}

/// `-C`: non-printable characters as octal escapes, backslashes doubled.
fn escape_octal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' => out.push('\n'),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03o}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

async fn display_message(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    if c.has('F') && !c.args.is_empty() {
        return Err("only one of -F or argument must be given".into());
    }
    if let Some(d) = c.value('d')
        && d.parse::<u32>().is_err()
    {
        return Err(format!("delay {d} invalid"));
    }
    let f = ctx.target;
    if c.has('I') {
        return Ok(());
    }
    let fmt = c
        .arg(0)
        .or(c.value('F'))
        .unwrap_or(DISPLAY_FORMAT)
        .to_owned();
    let facts = ctx
        .facts_for(f.and_then(|f| f.pane).into_iter().collect())
        .await;
    let found = f.or(Some(Found::default()));
    // tmux: the client named by -c when it shows the target's session, else that session's
    // most recent client.
    let session = f.and_then(|f| f.session);
    if let Some(server) = ctx.server_ref() {
        let tc = ctx.tclient.and_then(|id| server.clients.get(id));
        ctx.format_client = match (tc, session) {
            (Some(c), Some(s)) if c.session == s => Some(c.id),
            (_, Some(s)) => server.clients.best(Some(s)).map(|c| c.id),
            _ => None,
        };
    }
    if c.has('a') {
        let lines = {
            let Some(server) = ctx.server_ref() else {
                return Ok(());
            };
            let fd = found.unwrap_or_default();
            let mut scope = super::super::vars::Scope::new(
                server, ctx.info, &facts, fd.session, fd.wl, fd.pane,
            );
            scope.client = ctx.tclient.and_then(|id| server.clients.get(id));
            let mut lines = vec![];
            for name in ALL_VARIABLES {
                if let Some(v) = super::super::format::Context::lookup(&scope, name) {
                    lines.push(format!("{name}={v}"));
                }
            }
            lines
        };
        for l in lines {
            ctx.print(&l);
        }
        return Ok(());
    }
    let msg = ctx.expand_with(
        &expand_time(&fmt),
        found,
        &facts,
        &[("pane_format", "1".to_owned())],
    );
    if c.has('v') {
        ctx.print(&format!("# expanding format: {fmt}"));
        ctx.print(&format!("# result is: {msg}"));
    }
    if c.has('p') {
        ctx.print(&msg);
    } else if let Some(tc) = ctx.tclient {
        let server = ctx.server()?;
        server.messages.push((crate::clock::now_ms(), msg.clone()));
        server.clients.notify(None, &format!("%message {msg}"));
        let _ = tc;
    }
    Ok(())
}

/// The strftime sequences display-message formats may hold (`%H:%M %d-%b-%y`).
pub fn expand_time(fmt: &str) -> String {
    if !fmt.contains('%') {
        return fmt.to_owned();
    }
    let now = time::OffsetDateTime::now_utc();
    let month = now.month().to_string();
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('H') => out.push_str(&format!("{:02}", now.hour())),
            Some('M') => out.push_str(&format!("{:02}", now.minute())),
            Some('S') => out.push_str(&format!("{:02}", now.second())),
            Some('d') => out.push_str(&format!("{:02}", now.day())),
            Some('m') => out.push_str(&format!("{:02}", u8::from(now.month()))),
            Some('y') => out.push_str(&format!("{:02}", now.year() % 100)),
            Some('Y') => out.push_str(&now.year().to_string()),
            Some('b') => out.push_str(&month[..3.min(month.len())]),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// The variables `display-message -a` lists, alphabetically as tmux does.
const ALL_VARIABLES: &[&str] = &[
    "active_window_index",
    "alternate_on",
    "alternate_saved_x",
    "alternate_saved_y",
    "buffer_created",
    "buffer_name",
    "buffer_sample",
    "buffer_size",
    "client_activity",
    "client_cell_height",
    "client_cell_width",
    "client_control_mode",
    "client_created",
    "client_discarded",
    "client_flags",
    "client_height",
    "client_key_table",
    "client_last_session",
    "client_name",
    "client_pid",
    "client_prefix",
    "client_readonly",
    "client_session",
    "client_termfeatures",
    "client_termname",
    "client_termtype",
    "client_tty",
    "client_uid",
    "client_user",
    "client_utf8",
    "client_width",
    "client_written",
    "config_files",
    "cursor_character",
    "cursor_flag",
    "cursor_x",
    "cursor_y",
    "history_bytes",
    "history_limit",
    "history_size",
    "host",
    "host_short",
    "insert_flag",
    "keypad_cursor_flag",
    "keypad_flag",
    "last_window_index",
    "mouse_all_flag",
    "mouse_any_flag",
    "mouse_button_flag",
    "mouse_sgr_flag",
    "mouse_standard_flag",
    "mouse_utf8_flag",
    "next_session_id",
    "origin_flag",
    "pane_active",
    "pane_at_bottom",
    "pane_at_left",
    "pane_at_right",
    "pane_at_top",
    "pane_bg",
    "pane_bottom",
    "pane_current_command",
    "pane_current_path",
    "pane_dead",
    "pane_dead_signal",
    "pane_dead_status",
    "pane_dead_time",
    "pane_fg",
    "pane_format",
    "pane_height",
    "pane_id",
    "pane_in_mode",
    "pane_index",
    "pane_input_off",
    "pane_last",
    "pane_left",
    "pane_marked",
    "pane_marked_set",
    "pane_mode",
    "pane_path",
    "pane_pid",
    "pane_pipe",
    "pane_right",
    "pane_search_string",
    "pane_start_command",
    "pane_start_path",
    "pane_synchronized",
    "pane_tabs",
    "pane_title",
    "pane_top",
    "pane_tty",
    "pane_width",
    "pid",
    "scroll_region_lower",
    "scroll_region_upper",
    "session_activity",
    "session_alerts",
    "session_attached",
    "session_attached_list",
    "session_created",
    "session_format",
    "session_group",
    "session_group_attached",
    "session_group_attached_list",
    "session_group_list",
    "session_group_many_attached",
    "session_group_size",
    "session_grouped",
    "session_id",
    "session_last_attached",
    "session_many_attached",
    "session_marked",
    "session_name",
    "session_path",
    "session_stack",
    "session_windows",
    "socket_path",
    "start_time",
    "uid",
    "user",
    "version",
    "window_active",
    "window_active_clients",
    "window_active_clients_list",
    "window_active_sessions",
    "window_active_sessions_list",
    "window_activity",
    "window_activity_flag",
    "window_bell_flag",
    "window_bigger",
    "window_cell_height",
    "window_cell_width",
    "window_end_flag",
    "window_flags",
    "window_format",
    "window_height",
    "window_id",
    "window_index",
    "window_last_flag",
    "window_layout",
    "window_linked",
    "window_linked_sessions",
    "window_linked_sessions_list",
    "window_marked_flag",
    "window_name",
    "window_offset_x",
    "window_offset_y",
    "window_panes",
    "window_raw_flags",
    "window_silence_flag",
    "window_stack_index",
    "window_start_flag",
    "window_visible_layout",
    "window_width",
    "window_zoomed_flag",
    "wrap_flag",
];
