//! Moving panes and windows: swap-pane, break-pane, join-pane and move-pane, rotate-window,
//! swap-window, move-window, link-window and unlink-window. Panes keep their ids and
//! programs; only their places change.

use super::super::cmd::{Cmd, Kind, WINDOW_INDEX};
use super::super::escape::{stringify, window_name};
use super::super::exec::{CmdResult, Ctx};
use super::super::layout::{Dir, Kind as CellKind, Split};
use super::super::options::OptValue;
use super::super::target::Found;
use super::super::tree::{Server, Window};

const BREAK_FORMAT: &str = "#{session_name}:#{window_index}.#{pane_index}";

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "swap-pane" => swap_pane(ctx, c),
        "break-pane" => break_pane(ctx, c).await,
        "join-pane" | "move-pane" => join_pane(ctx, c).await,
        "rotate-window" => rotate_window(ctx, c),
        "swap-window" => swap_window(ctx, c),
        "move-window" | "link-window" => move_window(ctx, c).await,
        "unlink-window" => {
            let f = ctx.tgt()?;
            let (s, wl, w) = (
                f.session.ok_or("no current session")?,
                f.wl.ok_or("no current window")?,
                f.window.ok_or("no current window")?,
            );
            let server = ctx.server()?;
            if !c.has('k') && server.links_of(w).len() < 2 {
                return Err("window only linked to one session".into());
            }
            server.unlink(s, wl);
            for p in server.orphans() {
                ctx.kill_handle(&p.handle).await;
            }
            Ok(())
        }
        other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
    }
}

fn unzoom(server: &mut Server, w: u32) -> bool {
    let z = server.window_mut(w).is_some_and(|w| w.unzoom());
    if z {
        server.fix_panes(w);
    }
    z
}

/// The index `-a`/`-b` make room for: windows from just after (`-a`) or at (`-b`) the target
/// window shuffle up by one. Without either flag, the index the target named (if any).
fn requested_index(
    server: &mut Server,
    c: &Cmd,
    session: u32,
    target: &Found,
) -> Result<Option<i64>, String> {
    if !(c.has('a') || c.has('b')) {
        return Ok(target.idx);
    }
    let at = target
        .wl
        .or_else(|| server.session(session).and_then(|s| s.curw))
        .ok_or("no current window")?;
    let from = if c.has('b') { at } else { at + 1 };
    let freed = server
        .session_mut(session)
        .and_then(|s| s.shuffle_up(from))
        .ok_or("no room to shuffle windows")?;
    Ok(Some(freed))
}

/// Where a window gets linked into `session`: the index asked for, else the first free one
/// from base-index.
fn link_index(server: &Server, session: u32, idx: Option<i64>) -> Result<i64, String> {
    if let Some(i) = idx {
        return Ok(i);
    }
    let base = server.option_number_session(session, "base-index");
    server
        .session(session)
        .and_then(|s| s.next_free_index(base))
        .ok_or_else(|| "no free index".into())
}

fn swap_pane(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let t = ctx.tgt()?;
    let s = ctx.source.unwrap_or(t);
    let (dst_w, dst_p) = (
        t.window.ok_or("no current window")?,
        t.pane.ok_or("no current pane")?,
    );
    let (mut src_w, mut src_p) = (
        s.window.ok_or("no current window")?,
        s.pane.ok_or("no current pane")?,
    );
    let server = ctx.server()?;
    let dst_zoomed = unzoom(server, dst_w);
    let dw = server.window(dst_w).ok_or("no current window")?;
    if c.has('D') || c.has('U') {
        src_w = dst_w;
        let pos = dw.position(dst_p).unwrap_or(0);
        let n = dw.panes.len();
        src_p = if c.has('D') {
            dw.panes[(pos + 1) % n]
        } else {
            dw.panes[(pos + n - 1) % n]
        };
    }
    let src_zoomed = src_w != dst_w && unzoom(server, src_w);
    if src_p != dst_p {
        let (Some(sg), Some(dg)) = (
            server.pane(src_p).map(|p| p.geom),
            server.pane(dst_p).map(|p| p.geom),
        ) else {
            return Err("no current pane".into());
        };
        if src_w == dst_w {
            let w = server.window_mut(dst_w).ok_or("no current window")?;
            let (a, b) = (w.position(src_p), w.position(dst_p));
            if let (Some(a), Some(b)) = (a, b) {
                w.panes.swap(a, b);
            }
            w.layout.swap_panes(src_p, dst_p);
        } else {
            for (win, from, to) in [(src_w, src_p, dst_p), (dst_w, dst_p, src_p)] {
                if let Some(w) = server.window_mut(win) {
                    if let Some(i) = w.position(from) {
                        w.panes[i] = to;
                    }
                    w.layout.replace_pane(from, to);
                    if w.active == from {
                        w.active = to;
                    }
                    if w.last == Some(from) {
                        w.last = None;
                    }
                }
            }
            if let Some(p) = server.pane_mut(src_p) {
                p.window = dst_w;
            }
            if let Some(p) = server.pane_mut(dst_p) {
                p.window = src_w;
            }
        }
        if let Some(p) = server.pane_mut(src_p) {
            p.geom = dg;
        }
        if let Some(p) = server.pane_mut(dst_p) {
            p.geom = sg;
        }
        let mut point = ctx.ns.next_active_point;
        let server = ctx.server()?;
        if !c.has('d') {
            if src_w != dst_w {
                server.set_active_pane(dst_p, &mut point);
                server.set_active_pane(src_p, &mut point);
            } else {
                server.set_active_pane(dst_p, &mut point);
            }
        } else {
            if server.window(src_w).is_some_and(|w| w.active == src_p) {
                server.set_active_pane(dst_p, &mut point);
            }
            if server.window(dst_w).is_some_and(|w| w.active == dst_p) {
                server.set_active_pane(src_p, &mut point);
            }
        }
        ctx.ns.next_active_point = point;
    }
    let server = ctx.server()?;
    for (w, z) in [
        (src_w, c.has('Z') && (dst_zoomed || src_zoomed)),
        (dst_w, false),
    ] {
        if z && let Some(win) = server.window_mut(w) {
            let a = win.active;
            win.zoom(a);
        }
        server.fix_panes(w);
    }
    Ok(())
}

async fn break_pane(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let s = ctx.source.ok_or("no current pane")?;
    let t = ctx.tgt()?;
    let (src_s, src_wl, src_w, pane) = (
        s.session.ok_or("no current session")?,
        s.wl.ok_or("no current window")?,
        s.window.ok_or("no current window")?,
        s.pane.ok_or("no current pane")?,
    );
    let dst_s = t.session.ok_or("no current session")?;
    let server = ctx.server()?;
    let idx = requested_index(server, c, dst_s, &t)?;
    unzoom(server, src_w);
    let w = server.window(src_w).ok_or("no current window")?;
    let (sx, sy) = (w.sx, w.sy);
    let new_name = c.value('n').map(str::to_owned);
    let (wl, wid) = if w.panes.len() == 1 {
        // The only pane: the window itself moves.
        let at = link_index(server, dst_s, idx)?;
        if server.session(dst_s).and_then(|s| s.window_at(at)) == Some(src_w) {
            return Err(format!("same index: {at}"));
        }
        server.link(dst_s, at, src_w)?;
        if !c.has('d')
            && let Some(s) = server.session_mut(dst_s)
        {
            s.set_current(at);
        }
        if let (Some(n), Some(w)) = (&new_name, server.window_mut(src_w)) {
            w.name = super::super::escape::vis(n);
            w.options
                .set("automatic-rename", OptValue::Single("off".into()));
        }
        server.unlink(src_s, src_wl);
        (at, src_w)
    } else {
        if let Some(i) = idx
            && server
                .session(dst_s)
                .is_some_and(|s| s.windows.contains_key(&i))
        {
            return Err(format!("index in use: {i}"));
        }
        server.detach_pane(pane);
        let wid = server.allocate_window();
        let p = server.pane(pane).ok_or("no current pane")?;
        let name = match &new_name {
            Some(n) => super::super::escape::vis(n),
            None => {
                let cmd = stringify(&p.argv);
                window_name(if cmd.is_empty() { &p.shell } else { &cmd })
            }
        };
        let mut window = Window::new(wid, pane, sx, sy, name, crate::clock::now_ms());
        if new_name.is_some() {
            window
                .options
                .set("automatic-rename", OptValue::Single("off".into()));
        }
        server.windows.insert(wid, window);
        if let Some(p) = server.pane_mut(pane) {
            p.window = wid;
        }
        server.fix_panes(wid);
        let at = link_index(server, dst_s, idx)?;
        server.link(dst_s, at, wid)?;
        if !c.has('d')
            && let Some(s) = server.session_mut(dst_s)
        {
            s.set_current(at);
        }
        (at, wid)
    };
    let made = Found {
        session: Some(dst_s),
        wl: Some(wl),
        window: Some(wid),
        pane: Some(pane),
        idx: Some(wl),
    };
    ctx.print_made(c, BREAK_FORMAT, made).await;
    Ok(())
}

async fn join_pane(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let t = ctx.tgt()?;
    let s = ctx.source.ok_or("no current pane")?;
    let (dst_s, dst_wl, dst_w, dst_p) = (
        t.session.ok_or("no current session")?,
        t.wl.ok_or("no current window")?,
        t.window.ok_or("no current window")?,
        t.pane.ok_or("no current pane")?,
    );
    let (src_w, src_p) = (
        s.window.ok_or("no current window")?,
        s.pane.ok_or("no current pane")?,
    );
    let server = ctx.server()?;
    unzoom(server, dst_w);
    unzoom(server, src_w);
    if src_p == dst_p {
        return Err("source and target panes must be different".into());
    }
    let dir = if c.has('h') {
        Dir::LeftRight
    } else {
        Dir::TopBottom
    };
    let dg = server
        .pane(dst_p)
        .map(|p| p.geom)
        .ok_or("no current pane")?;
    let along = if dir == Dir::LeftRight { dg.sx } else { dg.sy };
    let size = match (c.value('l'), c.value('p')) {
        (Some(l), _) => Some(
            super::pane::split_size(c, along, "")
                .map_err(|e| format!("size {}", e.rsplit(' ').next().unwrap_or(&e)))?
                .unwrap_or(0),
        )
        .filter(|_| !l.is_empty()),
        (None, Some(p)) => {
            let pct: u32 = p
                .parse()
                .ok()
                .filter(|n| *n <= 100)
                .ok_or_else(|| format!("size {p} invalid"))?;
            Some(along * pct / 100)
        }
        (None, None) => None,
    };
    let how = Split {
        dir,
        size,
        before: c.has('b'),
        full: c.has('f'),
    };
    let w = server.window_mut(dst_w).ok_or("no current window")?;
    let mut trial = w.layout.clone();
    if trial.split(dst_p, src_p, how).is_err() {
        return Err("create pane failed: pane too small".into());
    }
    // Out of the source window (its cell goes to a neighbour)…
    let emptied = server.detach_pane(src_p);
    // …into the target window, next to the target pane.
    if let Some(w) = server.window_mut(dst_w) {
        let _ = w.split(dst_p, src_p, how);
    }
    if let Some(p) = server.pane_mut(src_p) {
        p.window = dst_w;
    }
    server.fix_panes(dst_w);
    if !c.has('d') {
        let mut point = ctx.ns.next_active_point;
        let server = ctx.server()?;
        server.set_active_pane(src_p, &mut point);
        if let Some(s) = server.session_mut(dst_s) {
            s.set_current(dst_wl);
        }
        ctx.ns.next_active_point = point;
    }
    let server = ctx.server()?;
    if let Some(w) = emptied {
        server.unlink_everywhere(w);
        for p in server.orphans() {
            ctx.kill_handle(&p.handle).await;
        }
    }
    Ok(())
}

fn rotate_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let wid = ctx.tgt()?.window.ok_or("no current window")?;
    let server = ctx.server()?;
    let zoomed = unzoom(server, wid);
    let w = server.window_mut(wid).ok_or("no current window")?;
    let old = w.panes.clone();
    if old.len() > 1 {
        let mut new = old.clone();
        if c.has('D') {
            new.rotate_right(1);
        } else {
            new.rotate_left(1);
        }
        // The cell that held the i-th pane now holds the i-th pane of the new order.
        let cells: Vec<Option<usize>> = old.iter().map(|p| w.layout.find(*p)).collect();
        for (cell, p) in cells.into_iter().zip(&new) {
            if let Some(cell) = cell {
                w.layout.set_kind(cell, CellKind::Pane(*p));
            }
        }
        let pos = w.position(w.active).unwrap_or(0);
        w.panes = new;
        let next = if c.has('D') {
            // The pane before the active one in the new order.
            let at = w.position(old[pos]).unwrap_or(0);
            w.panes[(at + w.panes.len() - 1) % w.panes.len()]
        } else {
            let at = w.position(old[pos]).unwrap_or(0);
            w.panes[(at + 1) % w.panes.len()]
        };
        let mut point = ctx.ns.next_active_point;
        let server = ctx.server()?;
        server.fix_panes(wid);
        server.set_active_pane(next, &mut point);
        ctx.ns.next_active_point = point;
    }
    let server = ctx.server()?;
    if zoomed
        && c.has('Z')
        && let Some(w) = server.window_mut(wid)
    {
        let a = w.active;
        w.zoom(a);
    }
    server.fix_panes(wid);
    Ok(())
}

fn swap_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let t = ctx.tgt()?;
    let s = ctx.source.ok_or("no current window")?;
    let (ss, sl, sw) = (
        s.session.ok_or("no current session")?,
        s.wl.ok_or("no current window")?,
        s.window.ok_or("no current window")?,
    );
    let (ds, dl, dw) = (
        t.session.ok_or("no current session")?,
        t.wl.ok_or("no current window")?,
        t.window.ok_or("no current window")?,
    );
    if sw == dw {
        return Ok(());
    }
    let server = ctx.server()?;
    if let Some(s) = server.session_mut(ds) {
        s.windows.insert(dl, sw);
    }
    if let Some(s) = server.session_mut(ss) {
        s.windows.insert(sl, dw);
    }
    if c.has('d') {
        if let Some(s) = server.session_mut(ds) {
            s.set_current(dl);
        }
        if ss != ds
            && let Some(s) = server.session_mut(ss)
        {
            s.set_current(sl);
        }
    }
    server.changed();
    Ok(())
}

async fn move_window(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let link_only = c.name() == "link-window";
    if c.has('r') && !link_only {
        let s = ctx
            .resolve(c.value('t'), Kind::Session, 0)?
            .and_then(|f| f.session)
            .ok_or("no current session")?;
        let server = ctx.server()?;
        let base = server.option_number_session(s, "base-index");
        if let Some(sess) = server.session_mut(s) {
            sess.renumber(base);
        }
        server.changed();
        return Ok(());
    }
    let src = ctx.source.ok_or("no current window")?;
    let (ss, sl, sw) = (
        src.session.ok_or("no current session")?,
        src.wl.ok_or("no current window")?,
        src.window.ok_or("no current window")?,
    );
    let t = ctx
        .resolve(c.value('t'), Kind::Window, WINDOW_INDEX)?
        .ok_or("no current session")?;
    let ds = t.session.ok_or("no current session")?;
    let server = ctx.server()?;
    let idx = requested_index(server, c, ds, &t)?;
    let mut select = !c.has('d');
    if let Some(i) = idx
        && let Some(existing) = server.session(ds).and_then(|s| s.window_at(i))
    {
        if existing == sw {
            return Err(format!("same index: {i}"));
        }
        if c.has('k') {
            let sess = server.session_mut(ds).ok_or("no current session")?;
            sess.windows.remove(&i);
            sess.lastw.retain(|x| *x != i);
            if sess.curw == Some(i) {
                sess.curw = None;
                select = true;
            }
        }
    }
    let at = link_index(server, ds, idx)?;
    server.link(ds, at, sw)?;
    if select && let Some(s) = server.session_mut(ds) {
        s.set_current(at);
    }
    if !link_only {
        // Unlinking renumbers the source session when renumber-windows is on.
        server.unlink(ss, sl);
    }
    let server = ctx.server()?;
    for p in server.orphans() {
        ctx.kill_handle(&p.handle).await;
    }
    Ok(())
}
