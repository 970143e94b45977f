//! Sessions and clients: new-session, has-session, kill-session, kill-server, start-server,
//! rename-session, list-sessions, attach-session, switch-client, detach-client,
//! list-clients, and the client commands that have nothing to do for the stand-in's clients
//! (lock-*, suspend-client, refresh-client), as tmux does for control clients.

use super::super::cmd::Cmd;
use super::super::exec::{AttachTo, CmdResult, Ctx};
use super::super::target::Found;
use super::super::tree::{Session, sanitize_name};
use super::super::vars::Facts;
use std::collections::HashMap;

/// tmux 3.3a's default `list-sessions` format.
pub const LS_FORMAT: &str = "#{session_name}: #{session_windows} windows (created #{t:session_created})#{?session_grouped, (group ,}#{session_group}#{?session_grouped,),}#{?session_attached, (attached),}";
const LSC_FORMAT: &str = "#{client_name}: #{session_name} [#{client_width}x#{client_height} #{client_termname}] #{?#{!=:#{client_uid},#{uid}},[user #{?client_user,#{client_user},#{client_uid},}] ,}#{?client_flags,(,}#{client_flags}#{?client_flags,),}";

pub async fn run(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "new-session" => new_session(ctx, c).await,
        "has-session" | "start-server" | "lock-server" | "lock-session" | "lock-client"
        | "suspend-client" | "refresh-client" => Ok(()),
        "kill-session" => kill_session(ctx, c).await,
        "kill-server" => kill_server(ctx).await,
        "rename-session" => rename_session(ctx, c),
        "list-sessions" => list_sessions(ctx, c).await,
        "attach-session" => attach_session(ctx, c),
        "switch-client" => switch_client(ctx, c),
        "detach-client" => detach_client(ctx, c),
        "list-clients" => list_clients(ctx, c).await,
        other => Err(format!("{other}: not supported by the Aegis tmux stand-in")),
    }
}

/// A size argument: a number from 1 to 65535 (tmux: `width too large` and so on).
pub fn size_arg(v: Option<&str>, what: &str) -> Result<Option<u32>, String> {
    match v {
        None | Some("-") => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 1 => Err(format!("{what} too small")),
            Ok(n) if n > 65535 => Err(format!("{what} too large")),
            Ok(n) => Ok(u32::try_from(n).ok()),
            Err(_) => Err(format!("{what} invalid")),
        },
    }
}

/// The size a new window of `session` gets without clients: its `default-size`.
pub fn default_size(ctx: &Ctx<'_>, session: u32) -> (u32, u32) {
    ctx.server_ref()
        .and_then(|s| s.session_option(session, "default-size"))
        .and_then(|v| {
            let (x, y) = v.split_once('x')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .unwrap_or((80, 24))
}

async fn new_session(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let name = match c.value('s') {
        Some(s) => {
            let n = ctx.expand_simple(s, None);
            if n.is_empty() {
                return Err(format!("invalid session: {n}"));
            }
            Some(sanitize_name(&n))
        }
        None => None,
    };
    if c.has('A') {
        let existing = match &name {
            Some(n) => ctx.server()?.session_by_name(n).map(|s| s.id),
            None => ctx.target.and_then(|f| f.session),
        };
        if let Some(s) = existing {
            return attach_to(ctx, s, c.has('r'), c.has('d'));
        }
    }
    if let Some(n) = &name
        && ctx.server()?.session_by_name(n).is_some()
    {
        return Err(format!("duplicate session: {n}"));
    }
    let control = ctx.client.is_some();
    let detached = c.has('d') || (!ctx.req.tty && !control);
    if !detached && !control && !ctx.req.tty {
        return Err("open terminal failed: not a terminal".into());
    }
    let dsx = super::session::size_arg(c.value('x'), "width")?;
    let dsy = super::session::size_arg(c.value('y'), "height")?;
    let (gx, gy) = ctx
        .server()?
        .options
        .session
        .get_single("default-size")
        .and_then(|v| {
            let (x, y) = v.split_once('x')?;
            Some((x.parse::<u32>().ok()?, y.parse::<u32>().ok()?))
        })
        .unwrap_or((dsx.unwrap_or(80), dsy.unwrap_or(24)));
    let (sx, sy) = if !detached && !control {
        // Attaching from a terminal: the client's size, less the status line.
        (
            u32::from(ctx.req.cols.max(1)),
            u32::from(ctx.req.rows.saturating_sub(1).max(1)),
        )
    } else {
        (dsx.unwrap_or(gx), dsy.unwrap_or(gy))
    };
    let cwd = match c.value('c') {
        Some(d) => {
            let d = ctx.expand_simple(d, None);
            if d.starts_with('/') {
                d
            } else {
                format!("{}/{d}", ctx.req.cwd)
            }
        }
        None => ctx.req.cwd.clone(),
    };
    let now = crate::clock::now_ms();
    let req = ctx.req;
    let server = ctx.server()?;
    let (sid, sname) = server.allocate_session(name.as_deref())?;
    let mut session = Session::new(sid, sname, now, cwd);
    session.touch(now);
    if dsx.is_some() || dsy.is_some() {
        session.options.set(
            "default-size",
            super::super::options::OptValue::Single(format!(
                "{}x{}",
                dsx.unwrap_or(sx),
                dsy.unwrap_or(sy)
            )),
        );
    }
    if !c.has('E') {
        update_environment(req, &server.options, &mut session.env);
    }
    for kv in c.values('e') {
        if let Some((k, v)) = kv.split_once('=') {
            session.env.insert(
                k.to_owned(),
                super::super::tree::EnvVar {
                    value: Some(v.to_owned()),
                    hidden: false,
                },
            );
        }
    }
    server.sessions.insert(sid, session);
    let made = super::window::create_window(
        ctx,
        super::window::NewWindow {
            session: sid,
            index: None,
            args: &c.args,
            cwd: c.value('c'),
            env: &[],
            name: c.value('n'),
            size: Some((sx, sy)),
            first: true,
        },
    )
    .await;
    if let Err(e) = made {
        let server = ctx.server()?;
        server.sessions.remove(&sid);
        return Err(format!("create window failed: {e}"));
    }
    let made = Found {
        session: Some(sid),
        ..Found::default()
    };
    ctx.print_made(c, "#{session_name}:", made).await;
    if !detached {
        return attach_to(ctx, sid, false, false);
    }
    Ok(())
}

/// Copy the variables named by `update-environment` from the client into a session's
/// environment (tmux's environ_update).
fn update_environment(
    req: &crate::attach::proto::TmuxRequest,
    globals: &super::super::options::Globals,
    env: &mut super::super::tree::Env,
) {
    let Some(super::super::options::OptValue::Array(names)) =
        globals.session.get("update-environment")
    else {
        return;
    };
    for pattern in names.values() {
        match req
            .env
            .iter()
            .find(|(k, _)| super::super::format::fnmatch(pattern, k))
        {
            Some((k, v)) => {
                env.insert(
                    k.clone(),
                    super::super::tree::EnvVar {
                        value: Some(v.clone()),
                        hidden: false,
                    },
                );
            }
            None => {
                env.insert(
                    pattern.clone(),
                    super::super::tree::EnvVar {
                        value: None,
                        hidden: false,
                    },
                );
            }
        }
    }
}

/// Attach the calling client to `session`: a control client switches in place, a terminal
/// client attaches after the reply.
fn attach_to(ctx: &mut Ctx<'_>, session: u32, read_only: bool, detach_others: bool) -> CmdResult {
    let now = crate::clock::now_ms();
    if let Some(id) = ctx.client {
        let server = ctx.server()?;
        if let Some(cl) = server.clients.get_mut(id) {
            cl.show_session(session);
        }
        if let Some(s) = server.session_mut(session) {
            s.last_attached_ms = Some(now);
            s.touch(now);
        }
        return Ok(());
    }
    if !ctx.req.tty {
        return Err("open terminal failed: not a terminal".into());
    }
    let socket = ctx.socket.clone();
    let server = ctx.server()?;
    if detach_others {
        for cl in server.clients.list.iter().filter(|c| c.session == session) {
            let _ = cl
                .tx
                .send(super::super::clients::ClientEvent::Detach(format!(
                    "[detached (from session {})]",
                    server
                        .session(session)
                        .map(|s| s.name.as_str())
                        .unwrap_or("")
                )));
        }
    }
    *ctx.attach = Some(AttachTo {
        socket,
        session,
        read_only,
    });
    Ok(())
}

async fn kill_session(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let target = ctx.tgt()?.session.ok_or("no current session")?;
    if c.has('C') {
        return Ok(());
    }
    let server = ctx.server()?;
    let victims: Vec<u32> = if c.has('a') {
        server
            .sessions
            .keys()
            .copied()
            .filter(|s| *s != target)
            .collect()
    } else {
        vec![target]
    };
    for s in victims {
        server.destroy_session(s);
    }
    let panes = server.orphans();
    for p in panes {
        ctx.kill_handle(&p.handle).await;
    }
    Ok(())
}

async fn kill_server(ctx: &mut Ctx<'_>) -> CmdResult {
    let socket = ctx.socket.clone();
    let Some(server) = ctx.ns.servers.remove(&socket) else {
        return Ok(());
    };
    ctx.ns.known.insert(socket);
    for c in &server.clients.list {
        let _ = c.tx.send(super::super::clients::ClientEvent::Detach(
            "[server exited]".into(),
        ));
    }
    for p in server.panes.values() {
        ctx.kill_handle(&p.handle).await;
    }
    Ok(())
}

fn rename_session(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let target = ctx.tgt()?.session.ok_or("no current session")?;
    let raw = ctx.expand_simple(c.arg(0).unwrap_or(""), Some(target));
    if raw.is_empty() {
        return Err(format!("invalid session: {raw}"));
    }
    let name = sanitize_name(&raw);
    let server = ctx.server()?;
    if server.session(target).is_some_and(|s| s.name == name) {
        return Ok(());
    }
    if server.session_by_name(&name).is_some() {
        return Err(format!("duplicate session: {name}"));
    }
    if let Some(s) = server.session_mut(target) {
        s.name = name.clone();
    }
    server
        .clients
        .notify(None, &format!("%session-renamed ${target} {name}"));
    server.changed();
    Ok(())
}

async fn list_sessions(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let fmt = c.value('F').unwrap_or(LS_FORMAT).to_owned();
    let filter = c.value('f').map(str::to_owned);
    let server = ctx.server()?;
    let ids = server.sessions_sorted();
    let panes: Vec<u32> = ids
        .iter()
        .filter_map(|s| server.current_of(*s).map(|(_, _, p)| p))
        .collect();
    let facts = ctx.facts_for(panes).await;
    for (n, s) in ids.into_iter().enumerate() {
        let found = Some(Found {
            session: Some(s),
            ..Found::default()
        });
        let extra = [("line", n.to_string()), ("session_format", "1".to_owned())];
        print_row(ctx, &fmt, filter.as_deref(), found, &facts, &extra);
    }
    Ok(())
}

/// Print one row of a list command (list-sessions, list-windows, list-panes): `fmt` expanded
/// for `found`, unless the `-f` filter expands false for it.
pub fn print_row(
    ctx: &mut Ctx<'_>,
    fmt: &str,
    filter: Option<&str>,
    found: Option<Found>,
    facts: &HashMap<u32, Facts>,
    extra: &[(&'static str, String)],
) {
    if let Some(f) = filter
        && !truthy(&ctx.expand_with(f, found, facts, extra))
    {
        return;
    }
    let line = ctx.expand_with(fmt, found, facts, extra);
    ctx.print(&line);
}

pub fn truthy(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

fn attach_session(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    if ctx.server()?.sessions.is_empty() {
        return Err("no sessions".into());
    }
    let t = c.value('t');
    let kind = if t.is_some_and(|t| t.contains([':', '.'])) {
        super::super::cmd::Kind::Pane
    } else {
        super::super::cmd::Kind::Session
    };
    let f = ctx.resolve(t, kind, 0)?.ok_or("no sessions")?;
    let session = f.session.ok_or("no sessions")?;
    select_found_pane(ctx, session, &f)?;
    attach_to(ctx, session, c.has('r'), c.has('d'))
}

/// A target that named a pane makes it the active pane and its window the session's current
/// one, as attaching or switching to it shows that pane.
fn select_found_pane(ctx: &mut Ctx<'_>, session: u32, f: &Found) -> CmdResult {
    if let (Some(wl), Some(p)) = (f.wl, f.pane) {
        ctx.set_active(p);
        if let Some(s) = ctx.server()?.session_mut(session) {
            s.set_current(wl);
        }
    }
    Ok(())
}

fn switch_client(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let Some(tc) = ctx.tclient else {
        return Err("no current client".into());
    };
    let t = c.value('t');
    let kind = if t.is_some_and(|t| t.contains([':', '.', '%'])) {
        super::super::cmd::Kind::Pane
    } else {
        super::super::cmd::Kind::Session
    };
    let found = ctx.resolve(t, kind, 0)?.ok_or("no current session")?;
    let server = ctx.server()?;
    let current = server.clients.get(tc).map(|c| c.session);
    let sorted = server.sessions_sorted();
    let pos = current.and_then(|s| sorted.iter().position(|x| *x == s));
    let session = if c.has('n') || c.has('p') {
        let Some(pos) = pos.filter(|_| sorted.len() > 1) else {
            return Err(format!(
                "can't find {} session",
                if c.has('n') { "next" } else { "previous" }
            ));
        };
        let len = sorted.len();
        sorted[if c.has('n') {
            (pos + 1) % len
        } else {
            (pos + len - 1) % len
        }]
    } else if c.has('l') {
        server
            .clients
            .get(tc)
            .and_then(|c| c.last_session)
            .filter(|s| server.sessions.contains_key(s))
            .ok_or("can't find last session")?
    } else {
        let s = found.session.ok_or("no current session")?;
        select_found_pane(ctx, s, &found)?;
        s
    };
    let server = ctx.server()?;
    if let Some(cl) = server.clients.get_mut(tc) {
        if c.has('r') {
            cl.readonly = !cl.readonly;
        }
        cl.show_session(session);
    }
    server.changed();
    Ok(())
}

fn detach_client(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let tc = ctx.tclient;
    let source_session = ctx.source.and_then(|f| f.session);
    let server = ctx.server()?;
    let message = |server: &super::super::tree::Server, s: u32| {
        format!(
            "[detached (from session {})]",
            server.session(s).map(|s| s.name.as_str()).unwrap_or("")
        )
    };
    let victims: Vec<u64> = if c.has('s') {
        let Some(s) = source_session else {
            return Ok(());
        };
        server
            .clients
            .list
            .iter()
            .filter(|c| c.session == s)
            .map(|c| c.id)
            .collect()
    } else if c.has('a') {
        server
            .clients
            .list
            .iter()
            .filter(|c| Some(c.id) != tc)
            .map(|c| c.id)
            .collect()
    } else {
        tc.into_iter().collect()
    };
    for id in victims {
        if let Some(cl) = server.clients.remove(id) {
            let _ = cl
                .tx
                .send(super::super::clients::ClientEvent::Detach(message(
                    server, cl.session,
                )));
        }
    }
    server.changed();
    Ok(())
}

async fn list_clients(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let fmt = c.value('F').unwrap_or(LSC_FORMAT).to_owned();
    let only = if c.has('t') {
        ctx.target.and_then(|f| f.session)
    } else {
        None
    };
    let server = ctx.server()?;
    let clients: Vec<(u64, u32)> = server
        .clients
        .list
        .iter()
        .filter(|cl| {
            cl.session != super::super::clients::UNATTACHED && only.is_none_or(|s| cl.session == s)
        })
        .map(|cl| (cl.id, cl.session))
        .collect();
    let facts = ctx.facts_for(vec![]).await;
    for (n, (id, session)) in clients.into_iter().enumerate() {
        let Some(server) = ctx.server_ref() else {
            break;
        };
        let mut scope =
            super::super::vars::Scope::new(server, ctx.info, &facts, Some(session), None, None);
        scope.client = server.clients.get(id);
        scope.extra = vec![("line", n.to_string())];
        let line = super::super::format::expand(&fmt, &scope);
        ctx.print(&line);
    }
    Ok(())
}
