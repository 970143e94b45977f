//! Panes: split-window, kill-pane, select-pane and last-pane, list-panes, resize-pane,
//! respawn-pane (and the respawn both respawn commands share), display-panes, pipe-pane,
//! clear-history.

use super::super::cmd::Cmd;
use super::super::exec::{CmdResult, Ctx};
use super::super::host::close_pane;
use super::super::layout::nav::{Direction, Placed, neighbour};
use super::super::layout::{Dir, Split};
use super::super::spawn::Spawn;
use super::super::target::Found;
use super::session::print_row;

const SPLIT_FORMAT: &str = "#{session_name}:#{window_index}.#{pane_index}";
const LSP_FORMATS: [&str; 3] = [
    "#{pane_index}: [#{pane_width}x#{pane_height}] [history #{history_size}/#{history_limit}, #{history_bytes} bytes] #{pane_id}#{?pane_active, (active),}#{?pane_dead, (dead),}",
    "#{window_index}.#{pane_index}: [#{pane_width}x#{pane_height}] [history #{history_size}/#{history_limit}, #{history_bytes} bytes] #{pane_id}#{?pane_active, (active),}#{?pane_dead, (dead),}",
    "#{session_name}:#{window_index}.#{pane_index}: [#{pane_width}x#{pane_height}] [history #{history_size}/#{history_limit}, #{history_bytes} bytes] #{pane_id}#{?pane_active, (active),}#{?pane_dead, (dead),}",
];

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "split-window" => split_window(ctx, c).await,
        "kill-pane" => kill_pane(ctx, c).await,
        "select-pane" | "last-pane" => select_pane(ctx, c),
        "list-panes" => list_panes(ctx, c).await,
        "resize-pane" => resize_pane(ctx, c).await,
        "respawn-pane" => {
            let p = ctx.tgt()?.pane.ok_or("no current pane")?;
            super::process::respawn(ctx, p, c, "pane").await
        }
        "display-panes" => Ok(()),
        "pipe-pane" => super::process::pipe_pane(ctx, c).await,
        "clear-history" => {
            let p = ctx.tgt()?.pane.ok_or("no current pane")?;
            let handle = ctx.server()?.pane(p).map(|p| p.handle.clone());
            if let Some(h) = handle {
                // A fresh model holding only what the screen shows: the history is gone.
                h.with_screen(|s| {
                    let redraw = s.redraw();
                    let (cols, rows) = s.size();
                    let mut fresh =
                        crate::screen::Screen::new(cols, rows, crate::screen::MAX_SNAPSHOT_LINES);
                    let _ = fresh.process(&redraw);
                    *s = fresh;
                })
                .await
                .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
    }
}

/// `-l N`, `-l N%` or `-p N` as a size along the split: percentages are of the target pane
/// (of the window with `-f`).
pub fn split_size(c: &Cmd, along: u32, err_prefix: &str) -> Result<Option<u32>, String> {
    if let Some(l) = c.value('l') {
        if let Some(pct) = l.strip_suffix('%') {
            let p: u64 = parse_bounded(pct).map_err(|e| format!("percentage {e}"))?;
            return Ok(u32::try_from(u64::from(along) * p / 100).ok());
        }
        let n: u64 = parse_bounded(l).map_err(|e| format!("lines {e}"))?;
        return Ok(u32::try_from(n).ok());
    }
    if let Some(p) = c.value('p') {
        let p: u64 = parse_bounded(p).map_err(|e| format!("{err_prefix}-p {e}"))?;
        return Ok(u32::try_from(u64::from(along) * p / 100).ok());
    }
    Ok(None)
}

/// A number from 0 to INT_MAX, with strtonum's complaints.
fn parse_bounded(s: &str) -> Result<u64, &'static str> {
    match s.parse::<i64>() {
        Ok(n) if n < 0 => Err("too small"),
        Ok(n) if n > i64::from(i32::MAX) => Err("too large"),
        Ok(n) => Ok(n.unsigned_abs()),
        Err(_) => Err("invalid"),
    }
}

async fn split_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let (session, wid, target) = (
        f.session.ok_or("no current session")?,
        f.window.ok_or("no current window")?,
        f.pane.ok_or("no current pane")?,
    );
    let dir = if c.has('h') {
        Dir::LeftRight
    } else {
        Dir::TopBottom
    };
    let server = ctx.server()?;
    let w = server.window(wid).ok_or("no current window")?;
    let tp = server.pane(target).ok_or("no current pane")?;
    let full = c.has('f');
    let along = match (dir, full) {
        (Dir::TopBottom, true) => w.sy,
        (Dir::LeftRight, true) => w.sx,
        (Dir::TopBottom, false) => tp.geom.sy,
        (Dir::LeftRight, false) => tp.geom.sx,
    };
    let size = split_size(c, along, "create pane failed: ")?;
    if c.args.len() == 1 && c.args[0].is_empty() {
        return Err(
            "create pane failed: empty panes are not supported by the Aegis tmux stand-in".into(),
        );
    }
    let server = ctx.server()?;
    let was_zoomed = server.window_mut(wid).is_some_and(|w| w.unzoom());
    if was_zoomed {
        server.fix_panes(wid);
    }
    // Check for room before anything is allocated, as tmux does.
    let next_id = server.next_pane;
    let mut trial = server
        .window(wid)
        .ok_or("no current window")?
        .layout
        .clone();
    let how = Split {
        dir,
        size,
        before: c.has('b'),
        full,
    };
    if trial.split(target, next_id, how).is_err() {
        rezoom(ctx, wid, was_zoomed && c.has('Z'))?;
        return Err("no space for new pane".into());
    }
    let server = ctx.server()?;
    let pid = server.allocate_pane();
    let geom = {
        let g = trial.geometry();
        g.into_iter()
            .find(|(p, _)| *p == pid)
            .map(|(_, g)| g)
            .unwrap_or_default()
    };
    let spawned = ctx
        .spawn_pane(Spawn {
            session,
            pane_id: pid,
            window: wid,
            args: &c.args,
            cwd: c.value('c'),
            env: c.values('e'),
            sx: geom.sx,
            sy: geom.sy,
            first: false,
        })
        .await;
    let pane = match spawned {
        Ok(p) => p,
        Err(e) => {
            rezoom(ctx, wid, was_zoomed && c.has('Z'))?;
            return Err(e);
        }
    };
    let server = ctx.server()?;
    server.panes.insert(pid, pane);
    if let Some(w) = server.window_mut(wid) {
        // The trial split succeeded on the same layout, so this one does too.
        let _ = w.split(target, pid, how);
    }
    server.fix_panes(wid);
    if !c.has('d') {
        ctx.set_active(pid);
    }
    rezoom(ctx, wid, c.has('Z'))?;
    if c.has('Z') {
        // tmux spawns a zoomed split without fitting it into the layout: the new pane keeps
        // the full window size it was created with.
        let server = ctx.server()?;
        let full = server.window(wid).map(|w| (w.sx, w.sy));
        if let (Some((sx, sy)), Some(p)) = (full, server.pane_mut(pid)) {
            p.geom = super::super::layout::Geometry {
                xoff: 0,
                yoff: 0,
                sx,
                sy,
            };
        }
    }
    let made = Found {
        session: Some(session),
        wl: f.wl,
        window: Some(wid),
        pane: Some(pid),
        idx: f.wl,
    };
    ctx.print_made(c, SPLIT_FORMAT, made).await;
    Ok(())
}

/// Zoom the window's active pane again (window_pop_zoom) when asked.
fn rezoom(ctx: &mut Ctx<'_>, wid: u32, zoom: bool) -> CmdResult {
    if !zoom {
        return Ok(());
    }
    let server = ctx.server()?;
    if let Some(w) = server.window_mut(wid) {
        let a = w.active;
        w.zoom(a);
    }
    server.fix_panes(wid);
    Ok(())
}

async fn kill_pane(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let (wid, pane) = (
        f.window.ok_or("no current window")?,
        f.pane.ok_or("no current pane")?,
    );
    let server = ctx.server()?;
    let victims: Vec<u32> = if c.has('a') {
        if let Some(w) = server.window_mut(wid)
            && w.unzoom()
        {
            server.fix_panes(wid);
        }
        server
            .window(wid)
            .map(|w| w.panes.iter().copied().filter(|p| *p != pane).collect())
            .unwrap_or_default()
    } else {
        vec![pane]
    };
    for p in victims {
        let server = ctx.server()?;
        if let Some(taken) = close_pane(server, p) {
            ctx.kill_handle(&taken.handle).await;
        }
    }
    Ok(())
}

fn placed(ctx: &mut Ctx<'_>, wid: u32) -> Result<(Vec<Placed>, u32, u32), String> {
    ctx.server()?
        .placed(wid)
        .ok_or_else(|| "no current window".into())
}

fn select_pane(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let wid = f.window.ok_or("no current window")?;
    let mut pane = f.pane.ok_or("no current pane")?;
    let server = ctx.server()?;
    if c.name() == "last-pane" || c.has('l') {
        let w = server.window(wid).ok_or("no current window")?;
        let last = w.last.or_else(|| {
            if w.panes.len() != 2 {
                return None;
            }
            let pos = w.position(w.active)?;
            pos.checked_sub(1)
                .and_then(|i| w.panes.get(i))
                .or_else(|| w.panes.get(pos + 1))
                .copied()
        });
        let last = last.ok_or("no last pane")?;
        if c.has('e') || c.has('d') {
            if let Some(p) = server.pane_mut(last) {
                p.input_off = c.has('d');
            }
            return Ok(());
        }
        ctx.set_active(last);
        return Ok(());
    }
    if c.has('m') || c.has('M') {
        let was = server.marked;
        server.marked = if c.has('M') || was == Some(pane) {
            None
        } else {
            Some(pane)
        };
        server.changed();
        return Ok(());
    }
    if let Some(style) = c.value('P')
        && let Some(p) = server.pane_mut(pane)
    {
        for name in ["window-style", "window-active-style"] {
            p.options.set(
                name,
                super::super::options::OptValue::Single(style.to_owned()),
            );
        }
    }
    if c.has('g') {
        let style = server.pane_option(pane, "window-style").unwrap_or_default();
        ctx.print(&style);
        return Ok(());
    }
    let dir = if c.has('L') {
        Some(Direction::Left)
    } else if c.has('R') {
        Some(Direction::Right)
    } else if c.has('U') {
        Some(Direction::Up)
    } else if c.has('D') {
        Some(Direction::Down)
    } else {
        None
    };
    if let Some(d) = dir {
        let (list, sx, sy) = placed(ctx, wid)?;
        match neighbour(&list, pane, d, sx, sy) {
            Some(p) => pane = p,
            None => return Ok(()),
        }
    }
    let server = ctx.server()?;
    if c.has('e') || c.has('d') {
        if let Some(p) = server.pane_mut(pane) {
            p.input_off = c.has('d');
        }
        return Ok(());
    }
    if let Some(title) = c.value('T') {
        let title = ctx.expand_simple(title, f.session);
        if let Some(p) = ctx.server()?.pane_mut(pane) {
            p.title = Some(title);
        }
        return Ok(());
    }
    let zoomed = server.window(wid).is_some_and(|w| w.zoomed());
    if server.window(wid).is_some_and(|w| w.active == pane) {
        return Ok(());
    }
    if zoomed && let Some(w) = server.window_mut(wid) {
        w.unzoom();
    }
    ctx.set_active(pane);
    let server = ctx.server()?;
    if zoomed
        && c.has('Z')
        && let Some(w) = server.window_mut(wid)
    {
        w.zoom(pane);
    }
    server.fix_panes(wid);
    Ok(())
}

async fn list_panes(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let server = ctx.server()?;
    let (kind, links): (usize, Vec<(u32, i64, u32)>) = if c.has('a') {
        let mut v = vec![];
        for s in server.sessions_sorted() {
            if let Some(sess) = server.session(s) {
                v.extend(sess.windows.iter().map(|(i, w)| (s, *i, *w)));
            }
        }
        (2, v)
    } else if c.has('s') {
        let s = f.session.ok_or("no current session")?;
        let v = server
            .session(s)
            .map(|sess| sess.windows.iter().map(|(i, w)| (s, *i, *w)).collect())
            .unwrap_or_default();
        (1, v)
    } else {
        (
            0,
            vec![(
                f.session.ok_or("no current session")?,
                f.wl.ok_or("no current window")?,
                f.window.ok_or("no current window")?,
            )],
        )
    };
    let fmt = c.value('F').unwrap_or(LSP_FORMATS[kind]).to_owned();
    let filter = c.value('f').map(str::to_owned);
    let mut rows = vec![];
    for (s, idx, wid) in links {
        if let Some(w) = server.window(wid) {
            for (n, p) in w.panes.iter().enumerate() {
                rows.push((s, idx, wid, *p, n));
            }
        }
    }
    let facts = ctx.facts_for(rows.iter().map(|r| r.3).collect()).await;
    for (s, idx, wid, p, n) in rows {
        let found = Some(Found {
            session: Some(s),
            wl: Some(idx),
            window: Some(wid),
            pane: Some(p),
            idx: Some(idx),
        });
        let extra = [("line", n.to_string()), ("pane_format", "1".to_owned())];
        print_row(ctx, &fmt, filter.as_deref(), found, &facts, &extra);
    }
    Ok(())
}

/// `N` or `N%` of `of` (args_percentage).
fn percentage_arg(v: &str, of: u32, what: &str) -> Result<u32, String> {
    let n = match v.strip_suffix('%') {
        Some(p) => {
            let p: u64 = parse_bounded(p).map_err(|e| format!("{what} {e}"))?;
            u64::from(of) * p / 100
        }
        None => parse_bounded(v).map_err(|e| format!("{what} {e}"))?,
    };
    u32::try_from(n).map_err(|_| format!("{what} too large"))
}

async fn resize_pane(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let f = ctx.tgt()?;
    let (wid, pane) = (
        f.window.ok_or("no current window")?,
        f.pane.ok_or("no current pane")?,
    );
    if c.has('T') || c.has('M') {
        return Ok(());
    }
    let server = ctx.server()?;
    let w = server.window_mut(wid).ok_or("no current window")?;
    if c.has('Z') {
        if !w.unzoom() && w.panes.len() > 1 {
            // tmux's window_zoom makes the zoomed pane the active one.
            ctx.set_active(pane);
            let server = ctx.server()?;
            if let Some(w) = server.window_mut(wid) {
                w.zoom(pane);
            }
        }
        ctx.server()?.fix_panes(wid);
        return Ok(());
    }
    if w.unzoom() {
        server.fix_panes(wid);
    }
    let adjust: i64 = match c.arg(0) {
        None => 1,
        Some(a) => a
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=i64::from(i32::MAX)).contains(n))
            .ok_or_else(|| format!("adjustment {a} invalid"))?,
    };
    let server = ctx.server()?;
    let (sx, sy) = server
        .window(wid)
        .map(|w| (w.sx, w.sy))
        .ok_or("no current window")?;
    let x = c
        .value('x')
        .map(|v| percentage_arg(v, sx, "width"))
        .transpose()?;
    let y = c
        .value('y')
        .map(|v| percentage_arg(v, sy, "height"))
        .transpose()?;
    let w = server.window_mut(wid).ok_or("no current window")?;
    if let Some(x) = x {
        w.layout.resize_pane_to(pane, Dir::LeftRight, x);
    }
    if let Some(y) = y {
        w.layout.resize_pane_to(pane, Dir::TopBottom, y);
    }
    if c.has('L') {
        w.layout.resize_pane(pane, Dir::LeftRight, -adjust, true);
    } else if c.has('R') {
        w.layout.resize_pane(pane, Dir::LeftRight, adjust, true);
    } else if c.has('U') {
        w.layout.resize_pane(pane, Dir::TopBottom, -adjust, true);
    } else if c.has('D') {
        w.layout.resize_pane(pane, Dir::TopBottom, adjust, true);
    }
    server.fix_panes(wid);
    Ok(())
}
