//! A terminal attached to a stand-in session (`tmux attach`, `tmux new` from a terminal): it
//! is a client of its server, shows the session's current window as tmux draws it (panes side
//! by side with borders, a status line; `attach::compose`), sends what is typed to the active
//! pane, and runs the prefix key's bindings (`C-b %` splits, `C-b o` moves to the next pane,
//! `C-b d` detaches…) as commands of that client. The window takes the size of the latest
//! client to type or resize, less the status line, as tmux's `window-size latest`.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::clients::{Client, ClientEvent};
use super::exec::run_request;
use super::facts::drawn;
use super::host::TmuxHost;
use super::taps::OutputTaps;
use super::vars::HostInfo;
use crate::attach::compose::{self, Cursor, FrameSpec, PaneView};
use crate::attach::proto::{self, AttachRequest, TmuxAttach, TmuxRequest};
use crate::session::SessionHandle;

/// The most frames per second: output is drawn at most this often.
const FRAME: Duration = Duration::from_millis(16);

/// Client frames buffered between the socket reader and the loop.
const CLIENT_FRAMES: usize = 64;

/// Serve one attached terminal until it detaches, its session or server goes, or shutdown.
pub async fn serve(
    host: Arc<TmuxHost>,
    mut stream: UnixStream,
    req: AttachRequest,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some(target) = req.tmux.clone() else {
        anyhow::bail!("not a tmux attach request");
    };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let registered = register(&host, &target, &req, events_tx).await;
    let (client, name) = match registered {
        Ok(c) => c,
        Err(msg) => {
            proto::write_frame(&mut stream, proto::EXIT, msg.as_bytes()).await?;
            return Ok(());
        }
    };
    let mut view = View {
        host: host.clone(),
        target,
        client,
        cols: req.cols.max(2),
        rows: req.rows.max(2),
        read_only: req.read_only,
        armed: false,
        last_layout: None,
        info: HostInfo::new(""),
    };
    view.info = HostInfo::new(&view.target.socket);
    let (reader, mut writer) = stream.into_split();
    let hello = serde_json::to_vec(&proto::Attached {
        id: format!("${}", view.target.session),
        name,
        window: true,
    })?;
    proto::write_frame(&mut writer, proto::ATTACHED, &hello).await?;
    let (mut frames, read_task) = proto::spawn_frame_reader(reader, CLIENT_FRAMES);
    let mut changes = host.changes.subscribe();
    let mut taps = OutputTaps::default();
    taps.follow(view.window_panes().await).await;
    let mut tick = tokio::time::interval(FRAME);
    let mut dirty = true;
    let end = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break "[the aegis daemon is shutting down]".to_owned(),
            frame = frames.recv() => match frame {
                None => break String::new(),
                Some((proto::DETACH, _)) => break view.detach_message().await,
                Some((proto::RESIZE, p)) => {
                    if let Some((c, r)) = proto::parse_resize(&p) {
                        (view.cols, view.rows) = (c.max(2), r.max(2));
                        view.touch().await;
                        dirty = true;
                    }
                }
                Some((proto::INPUT, bytes)) => {
                    if !view.read_only {
                        view.touch().await;
                        view.input(&bytes).await;
                        dirty = true;
                    }
                }
                Some(_) => {}
            },
            ev = events.recv() => match ev {
                Some(ClientEvent::Detach(msg)) => break msg,
                Some(_) => dirty = true,
                None => break "[exited]".to_owned(),
            },
            changed = changes.changed() => {
                if changed.is_err() {
                    break "[server exited]".to_owned();
                }
                taps.follow(view.window_panes().await).await;
                dirty = true;
            }
            chunk = taps.next() => {
                if chunk.is_some() {
                    dirty = true;
                }
            }
            _ = tick.tick() => {
                if dirty {
                    dirty = false;
                    match view.frame().await {
                        Some(bytes) => proto::write_frame(&mut writer, proto::OUTPUT, &bytes).await?,
                        // Gone from the server: a detach-client removes the client before
                        // its message is read here, so take that message if there is one.
                        None => break std::iter::from_fn(|| events.try_recv().ok())
                            .find_map(|e| match e {
                                ClientEvent::Detach(msg) => Some(msg),
                                _ => None,
                            })
                            .unwrap_or_else(|| "[exited]".to_owned()),
                    }
                    // The window shown may have changed (a binding, another client's command).
                    taps.follow(view.window_panes().await).await;
                }
            }
        }
    };
    read_task.abort();
    view.unregister().await;
    if !end.is_empty() {
        proto::write_frame(&mut writer, proto::EXIT, end.as_bytes()).await?;
    }
    Ok(())
}

/// `aegis attach NAME` on an Aegis session that is a pane of the stand-in: attach to the
/// pane's window with that pane active (as `tmux attach -t %N` does), so the terminal shows
/// the window's panes side by side. A session created over REST that is still alone in its
/// window stays a plain session (`None`).
pub async fn pane_window(host: &TmuxHost, req: &AttachRequest) -> Option<TmuxAttach> {
    let id = host.sessions.get(&req.session).ok()?.meta.id;
    let mut ns = host.state.lock().await;
    let (socket, pane) = ns.owner_of(id).map(|(s, p)| (s.to_owned(), p))?;
    let mut point = ns.next_active_point;
    let server = ns.servers.get_mut(&socket)?;
    let p = server.pane(pane)?;
    let alone = server
        .window(p.window)
        .is_none_or(|w| w.layout.panes().len() < 2);
    if p.adopted && alone {
        return None;
    }
    let (session, idx, _) = server.place_of(pane)?;
    server.set_active_pane(pane, &mut point);
    if let Some(s) = server.session_mut(session) {
        s.set_current(idx);
    }
    server.changed();
    ns.next_active_point = point;
    host.publish(&ns);
    Some(TmuxAttach {
        socket,
        session,
        client: req.client.clone(),
    })
}

/// Add the terminal as a client of the session's server.
async fn register(
    host: &TmuxHost,
    t: &TmuxAttach,
    req: &AttachRequest,
    tx: mpsc::UnboundedSender<ClientEvent>,
) -> Result<(u64, String), String> {
    let mut ns = host.state.lock().await;
    let server = ns
        .servers
        .get_mut(&t.socket)
        .ok_or_else(|| format!("no server running on {}", t.socket))?;
    let now = crate::clock::now_ms();
    let name = server
        .session(t.session)
        .map(|s| s.name.clone())
        .ok_or_else(|| format!("can't find session: ${}", t.session))?;
    let term = t
        .client
        .env
        .iter()
        .find(|(k, _)| k == "TERM")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let id = server.clients.add(Client {
        id: 0,
        name: if t.client.tty.starts_with("/dev/") {
            t.client.tty.clone()
        } else {
            format!("client-{}", t.client.pid)
        },
        pid: t.client.pid,
        session: t.session,
        control: false,
        tty: t.client.tty.clone(),
        term,
        cols: req.cols,
        rows: req.rows,
        created_ms: now,
        activity_ms: now,
        readonly: req.read_only,
        last_session: None,
        tx,
    });
    if let Some(s) = server.session_mut(t.session) {
        s.last_attached_ms = Some(now);
        s.touch(now);
    }
    server.changed();
    host.publish(&ns);
    Ok((id, name))
}

/// One attached terminal's state.
struct View {
    host: Arc<TmuxHost>,
    target: TmuxAttach,
    client: u64,
    cols: u16,
    rows: u16,
    read_only: bool,
    /// The prefix key was the last key typed.
    armed: bool,
    /// The pane rectangles last drawn: a change clears the terminal first.
    last_layout: Option<Vec<(u16, u16, u16, u16)>>,
    info: HostInfo,
}

/// What a frame needs from the tree, read under the lock.
struct Scene {
    panes: Vec<(u32, super::layout::Geometry, SessionHandle, bool)>,
    status: Option<String>,
}

impl View {
    /// The session this client shows now (switch-client may have moved it).
    async fn session(&self) -> Option<u32> {
        let ns = self.host.state.lock().await;
        ns.servers
            .get(&self.target.socket)?
            .clients
            .get(self.client)
            .map(|c| c.session)
    }

    /// The panes of the window shown, for following their output.
    async fn window_panes(&self) -> Vec<(u32, SessionHandle)> {
        let session = self.session().await;
        let ns = self.host.state.lock().await;
        let Some(server) = ns.servers.get(&self.target.socket) else {
            return vec![];
        };
        let Some((_, w, _)) = session.and_then(|s| server.current_of(s)) else {
            return vec![];
        };
        server
            .window(w)
            .map(|w| {
                w.layout
                    .panes()
                    .into_iter()
                    .filter_map(|p| server.pane(p).map(|pane| (p, pane.handle.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// This client typed or resized: it is the latest, whose size the window takes.
    async fn touch(&self) {
        let mut ns = self.host.state.lock().await;
        let now = crate::clock::now_ms();
        if let Some(server) = ns.servers.get_mut(&self.target.socket)
            && let Some(c) = server.clients.get_mut(self.client)
        {
            c.activity_ms = now;
            c.cols = self.cols;
            c.rows = self.rows;
            let s = c.session;
            if let Some(sess) = server.session_mut(s) {
                sess.touch(now);
            }
        }
    }

    async fn detach_message(&self) -> String {
        let ns = self.host.state.lock().await;
        let name = ns
            .servers
            .get(&self.target.socket)
            .and_then(|s| {
                let c = s.clients.get(self.client)?;
                s.session(c.session).map(|s| s.name.clone())
            })
            .unwrap_or_default();
        format!("[detached (from session {name})]")
    }

    async fn unregister(&self) {
        let mut ns = self.host.state.lock().await;
        if let Some(server) = ns.servers.get_mut(&self.target.socket) {
            server.clients.remove(self.client);
            server.changed();
        }
        self.host.publish(&ns);
    }

    /// Read what to draw, sizing the window to this client when it is the latest one.
    async fn scene(&self) -> Option<Scene> {
        let mut ns = self.host.state.lock().await;
        let socket = self.target.socket.clone();
        let server = ns.servers.get_mut(&socket)?;
        let c = server.clients.get(self.client)?;
        let session = c.session;
        let status_on = server.session_option(session, "status").as_deref() != Some("off");
        let area = (
            u32::from(self.cols),
            u32::from(if status_on { self.rows - 1 } else { self.rows }.max(1)),
        );
        let latest = server
            .clients
            .best(Some(session))
            .is_some_and(|b| b.id == self.client);
        let (idx, wid, _) = server.current_of(session)?;
        let manual = server.window_option(wid, "window-size").as_deref() == Some("manual");
        if latest
            && !self.read_only
            && !manual
            && server.window(wid).is_some_and(|w| (w.sx, w.sy) != area)
        {
            server.resize_window(wid, area.0, area.1);
        }
        let w = server.window(wid)?;
        let panes = w
            .layout
            .panes()
            .into_iter()
            .filter_map(|p| {
                let pane = server.pane(p)?;
                Some((p, pane.geom, pane.handle.clone(), w.active == p))
            })
            .collect();
        let status = status_on
            .then(|| super::status::status_line(server, &self.info, session, idx, self.cols));
        if latest {
            self.host.sync_sizes(&mut ns, &socket).await;
        }
        Some(Scene { panes, status })
    }

    /// The next frame, or `None` when the client's session is gone.
    async fn frame(&mut self) -> Option<Vec<u8>> {
        let scene = self.scene().await?;
        let mut views = Vec::with_capacity(scene.panes.len());
        let mut cursor = Cursor::default();
        let mut modes = String::new();
        for (_, g, handle, active) in &scene.panes {
            let d = drawn(handle).await;
            let clip = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
            if *active {
                cursor = Cursor {
                    x: clip(g.xoff) + d.cursor.0,
                    y: clip(g.yoff) + d.cursor.1,
                    visible: d.cursor_visible && !handle.is_exited(),
                };
                modes = d.modes.clone();
            }
            views.push(PaneView {
                xoff: clip(g.xoff),
                yoff: clip(g.yoff),
                sx: clip(g.sx),
                sy: clip(g.sy),
                rows: d.rows,
                active: *active,
            });
        }
        let layout: Vec<_> = views.iter().map(|v| (v.xoff, v.yoff, v.sx, v.sy)).collect();
        let mut out = Vec::new();
        if self.last_layout.as_ref() != Some(&layout) {
            out.extend_from_slice(b"\x1b[0m\x1b[H\x1b[2J");
            self.last_layout = Some(layout);
        }
        out.extend(compose::render(&FrameSpec {
            cols: self.cols,
            rows: self.rows,
            panes: &views,
            status: scene.status.as_deref(),
            cursor,
            modes: &modes,
        }));
        Some(out)
    }

    /// Keys typed: the prefix key and what follows it run a binding; the rest go to the
    /// active pane (or its mode).
    async fn input(&mut self, bytes: &[u8]) {
        let prefix = self.prefix_byte().await;
        let mut plain = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.armed {
                self.armed = false;
                let (key, used) = key_name(rest);
                rest = &rest[used..];
                self.send_to_pane(std::mem::take(&mut plain)).await;
                self.run_binding(&key).await;
                continue;
            }
            if Some(rest[0]) == prefix {
                self.armed = true;
                rest = &rest[1..];
                continue;
            }
            plain.push(rest[0]);
            rest = &rest[1..];
        }
        self.send_to_pane(plain).await;
    }

    async fn prefix_byte(&self) -> Option<u8> {
        let session = self.session().await?;
        let ns = self.host.state.lock().await;
        let name = ns
            .servers
            .get(&self.target.socket)?
            .session_option(session, "prefix")
            .unwrap_or_else(|| "C-b".into());
        match crate::session::keys::encode(&name, false).as_slice() {
            [b] => Some(*b),
            _ => None,
        }
    }

    async fn send_to_pane(&self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let Some(session) = self.session().await else {
            return;
        };
        let handle = {
            let mut ns = self.host.state.lock().await;
            let Some(server) = ns.servers.get_mut(&self.target.socket) else {
                return;
            };
            let Some((_, _, p)) = server.current_of(session) else {
                return;
            };
            let Some(pane) = server.pane_mut(p) else {
                return;
            };
            if pane.input_off {
                return;
            }
            if pane.mode.is_some() {
                // Keys go to the pane's mode; q, Escape and C-c leave it.
                if bytes.iter().any(|b| matches!(b, b'q' | 0x1b | 0x03)) {
                    pane.mode = None;
                    server.changed();
                }
                return;
            }
            pane.handle.clone()
        };
        if let Err(e) = handle.send_bytes(bytes).await {
            tracing::debug!(error = %e, "attached input not delivered");
        }
    }

    /// Run the prefix table's binding for `key` as a command of this client.
    async fn run_binding(&self, key: &str) {
        let command = {
            let mut ns = self.host.state.lock().await;
            let Some(server) = ns.servers.get_mut(&self.target.socket) else {
                return;
            };
            let keys = server
                .keys
                .get_or_insert_with(super::commands::misc::default_keys);
            keys.get(&("prefix".to_owned(), key.to_owned())).cloned()
        };
        let Some(command) = command else {
            return;
        };
        let argv = super::config::tokenize(&command).unwrap_or_default();
        let req = TmuxRequest {
            socket: self.target.socket.clone(),
            argv,
            cwd: self.target.client.cwd.clone(),
            env: self.target.client.env.clone(),
            pid: self.target.client.pid,
            ..TmuxRequest::default()
        };
        let mut out = String::new();
        let mut attach = None;
        if let Err(e) = run_request(
            &self.host,
            &req,
            &self.info,
            &mut out,
            Some(self.client),
            &mut attach,
        )
        .await
        {
            tracing::debug!(key, error = %e, "attached client: a binding failed");
        }
    }
}

/// The key a byte sequence starts with, tmux-named, and how many bytes it took.
fn key_name(b: &[u8]) -> (String, usize) {
    let arrows: [(&[u8], &str); 8] = [
        (b"\x1b[A", "Up"),
        (b"\x1b[B", "Down"),
        (b"\x1b[C", "Right"),
        (b"\x1b[D", "Left"),
        (b"\x1bOA", "Up"),
        (b"\x1bOB", "Down"),
        (b"\x1bOC", "Right"),
        (b"\x1bOD", "Left"),
    ];
    for (seq, name) in arrows {
        if b.starts_with(seq) {
            return ((*name).to_owned(), seq.len());
        }
    }
    match b[0] {
        c @ 1..=26 => (format!("C-{}", char::from(b'a' + c - 1)), 1),
        0x1b => ("Escape".into(), 1),
        c if c < 0x80 => (char::from(c).to_string(), 1),
        _ => {
            let len = std::str::from_utf8(&b[..b.len().min(4)])
                .ok()
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8);
            (String::from_utf8_lossy(&b[..len]).into_owned(), len)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_after_the_prefix_are_named_like_tmux() {
        assert_eq!(super::key_name(b"%x"), ("%".into(), 1));
        assert_eq!(super::key_name(b"\x1b[Aq"), ("Up".into(), 3));
        assert_eq!(super::key_name(b"\x02"), ("C-b".into(), 1));
        assert_eq!(super::key_name("é".as_bytes()), ("é".into(), 2));
    }
}
