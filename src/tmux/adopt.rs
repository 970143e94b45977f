//! Aegis sessions created over REST appear in the daemon's own tmux namespace, as they always
//! have: each one becomes a tmux session named after it, with one window and one pane.

use super::host::TmuxHost;
use super::tree::{Namespaces, Server};
use crate::attach::proto::TmuxRequest;

/// Make Aegis sessions created over REST the daemon's own namespace's sessions: each one a
/// tmux session named after it with one window and one pane.
pub async fn adopt(host: &TmuxHost, ns: &mut Namespaces, req: &TmuxRequest) {
    let fresh: Vec<crate::session::SessionHandle> = host
        .sessions
        .list()
        .into_iter()
        .filter(|h| !h.is_exited())
        .filter(|h| !ns.retired.contains(&h.meta.id) && ns.owner_of(h.meta.id).is_none())
        .collect();
    if fresh.is_empty() {
        return;
    }
    let now = crate::clock::now_ms();
    if !ns.servers.contains_key(&req.socket) {
        let mut s = Server::new(&req.socket, now, &req.cwd);
        s.options.session.set(
            "default-shell",
            super::options::OptValue::Single(crate::vocab::login_shell()),
        );
        ns.servers.insert(req.socket.clone(), s);
        ns.known.insert(req.socket.clone());
    }
    let Some(server) = ns.servers.get_mut(&req.socket) else {
        return;
    };
    for h in fresh {
        let name = if server.session_by_name(&h.meta.name).is_some() {
            None
        } else {
            Some(h.meta.name.clone())
        };
        let Ok((sid, name)) = server.allocate_session(name.as_deref()) else {
            continue;
        };
        let wid = server.allocate_window();
        let pid = server.allocate_pane();
        let live = h.live();
        let (sx, sy) = (u32::from(live.cols), u32::from(live.rows));
        let base = server.option_number_session(sid, "base-index");
        let wname = super::escape::window_name(&h.meta.command.join(" "));
        let mut window = super::tree::Window::new(wid, pid, sx, sy, wname, now);
        window.options.set(
            "automatic-rename",
            super::options::OptValue::Single("off".into()),
        );
        server.windows.insert(wid, window);
        server.panes.insert(
            pid,
            super::tree::Pane {
                geom: super::layout::Geometry {
                    xoff: 0,
                    yoff: 0,
                    sx,
                    sy,
                },
                adopted: true,
                ..super::tree::Pane::new(
                    pid,
                    wid,
                    h.clone(),
                    h.meta.command.clone(),
                    h.meta.work_dir.display().to_string(),
                    crate::vocab::login_shell(),
                )
            },
        );
        let mut session = super::tree::Session::new(
            sid,
            name,
            h.meta.created_at_ms,
            h.meta.work_dir.display().to_string(),
        );
        session.windows.insert(base, wid);
        session.curw = Some(base);
        session.touch(h.meta.created_at_ms);
        server.sessions.insert(sid, session);
        server.changed();
    }
}
