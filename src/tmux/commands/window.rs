//! Windows: new-window (and the window of new-session), kill-window, select-window and its
//! next/previous/last forms, rename-window, list-windows, resize-window, respawn-window,
//! select-layout and its next/previous forms, find-window; and the automatic names windows
//! take from their active pane's program.

use super::super::cmd::Cmd;
use super::super::escape::{stringify, window_name};
use super::super::exec::{CmdResult, Ctx};
use super::super::layout::set;
use super::super::options::OptValue;
use super::super::spawn::Spawn;
use super::super::target::Found;
use super::super::tree::Window;
use super::session::print_row;

/// tmux 3.3a's default `list-windows` format.
const LSW_FORMAT: &str = "#{window_index}: #{window_name}#{window_raw_flags} (#{window_panes} panes) [#{window_width}x#{window_height}] [layout #{window_layout}] #{window_id}#{?window_active, (active),}";
const LSW_ALL_FORMAT: &str = "#{session_name}:#{window_index}: #{window_name}#{window_raw_flags} (#{window_panes} panes) [#{window_width}x#{window_height}] ";
const NEW_WINDOW_FORMAT: &str = "#{session_name}:#{window_index}.#{pane_index}";

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "new-window" => new_window(ctx, c).await,
        "kill-window" => kill_window(ctx, c).await,
        "select-window" | "next-window" | "previous-window" | "last-window" => {
            select_window(ctx, c)
        }
        "rename-window" => {
            let f = ctx.tgt()?;
            let wid = f.window.ok_or("no current window")?;
            let name =
                super::super::escape::vis(&ctx.expand_simple(c.arg(0).unwrap_or(""), f.session));
            let server = ctx.server()?;
            if let Some(w) = server.window_mut(wid) {
                w.name = name.clone();
                w.options
                    .set("automatic-rename", OptValue::Single("off".into()));
            }
            server
                .clients
                .notify(None, &format!("%window-renamed @{wid} {name}"));
            server.changed();
            Ok(())
        }
        "list-windows" => list_windows(ctx, c).await,
        "resize-window" => resize_window(ctx, c),
        "respawn-window" => respawn_window(ctx, c).await,
        "select-layout" | "next-layout" | "previous-layout" => select_layout(ctx, c),
        "find-window" => find_window(ctx, c).await,
        other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
    }
}

/// What a new window is made of.
pub struct NewWindow<'a> {
    pub session: u32,
    /// The index asked for (None: the first free one from base-index).
    pub index: Option<i64>,
    pub args: &'a [String],
    pub cwd: Option<&'a str>,
    pub env: &'a [String],
    pub name: Option<&'a str>,
    /// The window size (None: the session's default size, or the target client's).
    pub size: Option<(u32, u32)>,
    pub first: bool,
}

/// Create a window in a session with its first pane (tmux's spawn_window): the index first,
/// then the window and pane ids, then the program. Returns (index, window id, pane id).
pub async fn create_window(
    ctx: &mut Ctx<'_>,
    nw: NewWindow<'_>,
) -> Result<(i64, u32, u32), String> {
    let (sx, sy) = match nw.size {
        Some(s) => s,
        None => client_size(ctx).unwrap_or_else(|| super::session::default_size(ctx, nw.session)),
    };
    let server = ctx.server()?;
    let base = server.option_number_session(nw.session, "base-index");
    let s = server.session(nw.session).ok_or("no such session")?;
    let idx = match nw.index {
        Some(i) => {
            if s.windows.contains_key(&i) {
                return Err(format!("index {i} in use"));
            }
            i
        }
        None => s
            .next_free_index(base)
            .ok_or_else(|| format!("couldn't add window {}", -1 - base))?,
    };
    let wid = server.allocate_window();
    let pid = server.allocate_pane();
    let pane = ctx
        .spawn_pane(Spawn {
            session: nw.session,
            pane_id: pid,
            window: wid,
            args: nw.args,
            cwd: nw.cwd,
            env: nw.env,
            sx,
            sy,
            first: nw.first,
        })
        .await?;
    let now = crate::clock::now_ms();
    let name = match nw.name {
        Some(n) => ctx.expand_simple(n, Some(nw.session)),
        None => {
            let cmd = stringify(&pane.argv);
            window_name(if cmd.is_empty() { &pane.shell } else { &cmd })
        }
    };
    let mut window = Window::new(wid, pid, sx, sy, name, now);
    if nw.name.is_some() {
        window
            .options
            .set("automatic-rename", OptValue::Single("off".into()));
    }
    let server = ctx.server()?;
    server.windows.insert(wid, window);
    server.panes.insert(pid, pane);
    server.link(nw.session, idx, wid)?;
    if let Some(s) = server.session_mut(nw.session)
        && s.curw.is_none()
    {
        s.curw = Some(idx);
    }
    server.fix_panes(wid);
    ctx.ns.next_active_point += 1;
    let point = ctx.ns.next_active_point;
    let server = ctx.server()?;
    if let Some(p) = server.pane_mut(pid) {
        p.active_point = point;
    }
    server
        .clients
        .notify(Some(nw.session), &format!("%window-add @{wid}"));
    Ok((idx, wid, pid))
}

/// The size of the client a command targets, when it is a terminal (not control mode).
fn client_size(ctx: &Ctx<'_>) -> Option<(u32, u32)> {
    let c = ctx.server_ref()?.clients.get(ctx.tclient?)?;
    (!c.control).then(|| {
        (
            u32::from(c.cols),
            u32::from(c.rows.saturating_sub(1).max(1)),
        )
    })
}

async fn new_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let session = f.session.ok_or("no current session")?;
    let mut idx = f.idx;
    if let (true, Some(name), None) = (c.has('S'), c.value('n'), f.idx) {
        let server = ctx.server()?;
        let s = server.session(session).ok_or("no current session")?;
        let named: Vec<i64> = s
            .windows
            .iter()
            .filter(|(_, w)| server.window(**w).is_some_and(|w| w.name == name))
            .map(|(i, _)| *i)
            .collect();
        match named.as_slice() {
            [one] => {
                if !c.has('d')
                    && let Some(s) = ctx.server()?.session_mut(session)
                {
                    s.set_current(*one);
                }
                return Ok(());
            }
            [] => {}
            _ => return Err(format!("multiple windows named {name}")),
        }
    }
    if c.has('a') || c.has('b') {
        let server = ctx.server()?;
        if let (Some(wl), Some(s)) = (f.wl, server.session_mut(session)) {
            let from = if c.has('b') { wl } else { wl + 1 };
            if let Some(i) = s.shuffle_up(from) {
                idx = Some(i);
            }
        }
    }
    let mut detached = c.has('d');
    if let Some(i) = idx {
        let server = ctx.server()?;
        let existing = server.session(session).and_then(|s| s.window_at(i));
        match existing {
            Some(_) if !c.has('k') => {
                return Err(format!("create window failed: index {i} in use"));
            }
            Some(w) => {
                let s = server.session_mut(session).ok_or("no current session")?;
                s.windows.remove(&i);
                s.lastw.retain(|x| *x != i);
                if s.curw == Some(i) {
                    s.curw = None;
                    detached = false;
                }
                let still_linked = !server.links_of(w).is_empty();
                if !still_linked {
                    for p in server.orphans() {
                        ctx.kill_handle(&p.handle).await;
                    }
                }
            }
            None => {}
        }
    }
    let (new_idx, wid, pid) = create_window(
        ctx,
        NewWindow {
            session,
            index: idx,
            args: &c.args,
            cwd: c.value('c'),
            env: c.values('e'),
            name: c.value('n'),
            size: None,
            first: false,
        },
    )
    .await
    .map_err(|e| format!("create window failed: {e}"))?;
    if !detached && let Some(s) = ctx.server()?.session_mut(session) {
        s.set_current(new_idx);
    }
    let made = Found {
        session: Some(session),
        wl: Some(new_idx),
        window: Some(wid),
        pane: Some(pid),
        idx: Some(new_idx),
    };
    ctx.print_made(c, NEW_WINDOW_FORMAT, made).await;
    Ok(())
}

async fn kill_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let (session, wid) = (
        f.session.ok_or("no current session")?,
        f.window.ok_or("no current window")?,
    );
    let server = ctx.server()?;
    if c.has('a') {
        let others: Vec<u32> = server
            .session(session)
            .map(|s| s.windows.values().copied().filter(|w| *w != wid).collect())
            .unwrap_or_default();
        for w in others {
            server.unlink_everywhere(w);
        }
    } else {
        server.unlink_everywhere(wid);
    }
    for p in server.orphans() {
        ctx.kill_handle(&p.handle).await;
    }
    Ok(())
}

fn select_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let session = f.session.ok_or("no current session")?;
    let name = c.name();
    let next = name == "next-window" || c.has('n');
    let previous = name == "previous-window" || c.has('p');
    let last = name == "last-window" || c.has('l');
    let server = ctx.server()?;
    let s = server.session_mut(session).ok_or("no current session")?;
    if next || previous || last {
        let to = if next {
            s.next_index().ok_or("no next window")?
        } else if previous {
            s.previous_index().ok_or("no previous window")?
        } else {
            *s.lastw.first().ok_or("no last window")?
        };
        if to == s.curw.unwrap_or(-1) && (next || previous) {
            return Err(format!(
                "no {} window",
                if next { "next" } else { "previous" }
            ));
        }
        s.set_current(to);
    } else {
        let wl = f.wl.ok_or("no current window")?;
        if c.has('T') && s.curw == Some(wl) {
            let to = *s.lastw.first().ok_or("no last window")?;
            s.set_current(to);
        } else {
            s.set_current(wl);
        }
    }
    server.changed();
    Ok(())
}

async fn list_windows(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let all = c.has('a');
    let fmt = c
        .value('F')
        .unwrap_or(if all { LSW_ALL_FORMAT } else { LSW_FORMAT })
        .to_owned();
    let filter = c.value('f').map(str::to_owned);
    let server = ctx.server()?;
    let sessions = if all {
        server.sessions_sorted()
    } else {
        vec![ctx.tgt()?.session.ok_or("no current session")?]
    };
    let server = ctx.server()?;
    let mut rows: Vec<(u32, i64, u32)> = vec![];
    for s in sessions {
        if let Some(sess) = server.session(s) {
            rows.extend(sess.windows.iter().map(|(i, w)| (s, *i, *w)));
        }
    }
    let panes: Vec<u32> = rows
        .iter()
        .filter_map(|(_, _, w)| server.window(*w).map(|w| w.active))
        .collect();
    let facts = ctx.facts_for(panes).await;
    let mut n = 0;
    let mut last_session = None;
    for (s, idx, wid) in rows {
        if last_session != Some(s) {
            n = 0;
            last_session = Some(s);
        }
        let found = Some(Found {
            session: Some(s),
            wl: Some(idx),
            window: Some(wid),
            pane: None,
            idx: Some(idx),
        });
        let extra = [("line", n.to_string()), ("window_format", "1".to_owned())];
        n += 1;
        print_row(ctx, &fmt, filter.as_deref(), found, &facts, &extra);
    }
    Ok(())
}

fn resize_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let wid = f.window.ok_or("no current window")?;
    let adjust: u32 = match c.arg(0) {
        None => 1,
        Some(a) => a
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("adjustment {a} invalid"))?,
    };
    let server = ctx.server()?;
    let w = server.window(wid).ok_or("no current window")?;
    let (mut sx, mut sy) = (w.sx, w.sy);
    if let Some(x) = super::session::size_arg(c.value('x'), "width")? {
        sx = x;
    }
    if let Some(y) = super::session::size_arg(c.value('y'), "height")? {
        sy = y;
    }
    if c.has('L') {
        sx = sx.checked_sub(adjust).unwrap_or(sx);
    } else if c.has('R') {
        sx += adjust;
    } else if c.has('U') {
        sy = sy.checked_sub(adjust).unwrap_or(sy);
    } else if c.has('D') {
        sy += adjust;
    }
    if (c.has('A') || c.has('a'))
        && let Some(s) = f.session
    {
        let sizes: Vec<(u32, u32)> = server
            .clients
            .list
            .iter()
            .filter(|cl| !cl.control && cl.session == s)
            .map(|cl| (u32::from(cl.cols), u32::from(cl.rows.saturating_sub(1))))
            .collect();
        let pick = if c.has('A') {
            sizes
                .iter()
                .copied()
                .reduce(|a, b| (a.0.max(b.0), a.1.max(b.1)))
        } else {
            sizes
                .iter()
                .copied()
                .reduce(|a, b| (a.0.min(b.0), a.1.min(b.1)))
        };
        (sx, sy) = pick.unwrap_or_else(|| super::session::default_size(ctx, s));
    }
    let server = ctx.server()?;
    if let Some(w) = server.window_mut(wid) {
        w.options
            .set("window-size", OptValue::Single("manual".into()));
    }
    server.resize_window(wid, sx, sy);
    Ok(())
}

async fn respawn_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let (session, wid, wl) = (
        f.session.ok_or("no current session")?,
        f.window.ok_or("no current window")?,
        f.wl.ok_or("no current window")?,
    );
    let server = ctx.server()?;
    let w = server.window(wid).ok_or("no current window")?;
    let live = w
        .panes
        .iter()
        .any(|p| server.pane(*p).is_some_and(|p| !p.handle.is_exited()));
    if live && !c.has('k') {
        let name = server
            .session(session)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        return Err(format!(
            "respawn window failed: window {name}:{wl} still active"
        ));
    }
    // Every pane but the first goes; the first is respawned at the window's full size.
    let first = w.panes[0];
    let others: Vec<u32> = w.panes[1..].to_vec();
    let (sx, sy) = (w.sx, w.sy);
    let removed: Vec<_> = others
        .iter()
        .filter_map(|p| server.panes.remove(p))
        .collect();
    for pane in removed {
        ctx.kill_handle(&pane.handle).await;
    }
    let server = ctx.server()?;
    if let Some(w) = server.window_mut(wid) {
        w.panes = vec![first];
        w.layout = super::super::layout::Layout::new(first, sx, sy);
        w.saved_layout = None;
        w.active = first;
        w.last = None;
    }
    server.fix_panes(wid);
    super::process::respawn(ctx, first, c, "window").await
}

fn select_layout(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let wid = f.window.ok_or("no current window")?;
    let pane = f.pane;
    let server = ctx.server()?;
    let sizes = set::MainSizes {
        main_height: server
            .window_option(wid, "main-pane-height")
            .unwrap_or_default(),
        main_width: server
            .window_option(wid, "main-pane-width")
            .unwrap_or_default(),
        other_height: server
            .window_option(wid, "other-pane-height")
            .unwrap_or_default(),
        other_width: server
            .window_option(wid, "other-pane-width")
            .unwrap_or_default(),
    };
    let w = server.window_mut(wid).ok_or("no current window")?;
    if w.unzoom() {
        server.fix_panes(wid);
    }
    let w = server.window_mut(wid).ok_or("no current window")?;
    let old = super::super::layout::custom::dump(&w.layout);
    let previous_old = w.old_layout.replace(old);
    let (panes, sx, sy, last) = (w.panes.clone(), w.sx, w.sy, w.last_layout);
    let count = set::NAMES.len();
    let which = if c.name() == "next-layout" || c.has('n') {
        Some(last.map_or(0, |l| (l + 1) % count))
    } else if c.name() == "previous-layout" || c.has('p') {
        Some(last.map_or(count - 1, |l| (l + count - 1) % count))
    } else if c.has('E') {
        if let Some(p) = pane {
            w.layout.spread_out(p);
        }
        server.fix_panes(wid);
        return Ok(());
    } else if c.has('o') {
        None
    } else {
        match c.arg(0) {
            None => last,
            Some(n) => set::lookup(n),
        }
    };
    if let Some(which) = which {
        if let Some(l) = set::build(which, &panes, sx, sy, &sizes) {
            server.apply_layout(wid, l);
        }
        if let Some(w) = server.window_mut(wid) {
            w.last_layout = Some(which);
        }
        return Ok(());
    }
    let text = match c.arg(0) {
        Some(t) => Some(t.to_owned()),
        None if c.has('o') => previous_old.clone(),
        None => None,
    };
    let Some(text) = text else {
        return Ok(());
    };
    match super::super::layout::custom::parse(&text, &panes) {
        Ok(l) => {
            server.apply_layout(wid, l);
            Ok(())
        }
        Err(e) => {
            if let Some(w) = server.window_mut(wid) {
                w.old_layout = previous_old;
            }
            Err(format!("{e}: {text}"))
        }
    }
}

async fn find_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    // Without a client to show results to, tmux puts the pane in tree mode with the matches.
    let f = ctx.tgt()?;
    let _ = c;
    if let Some(p) = f.pane
        && let Some(pane) = ctx.server()?.pane_mut(p)
    {
        pane.mode = Some("tree-mode");
    }
    Ok(())
}
