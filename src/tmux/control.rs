//! Control mode (`tmux -C`, `-CC`), daemon side: the connection becomes a client of its server
//! (visible in `list-clients`, so commands that need a client have one), runs the command it
//! came with and then each line it sends, and writes tmux's control protocol: every command's
//! output between `%begin <time> <number> 1` and `%end …` (or `%error …`), notifications such
//! as `%session-changed`, `%window-add`, `%layout-change` and `%window-pane-changed` (found by
//! comparing the tree with what the client was last told), `%output %N <octal-escaped text>`
//! for the panes of its session, and `%exit` when it leaves. `-CC` wraps it all in a DCS sequence, as tmux does.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::clients::{Client, ClientEvent, UNATTACHED};
use super::exec::run_request;
use super::host::TmuxHost;
use super::vars::{HostInfo, Scope};
use crate::attach::proto::{self, TmuxRequest};

/// Serve one control-mode connection until it detaches, its server goes, or shutdown.
pub async fn serve(
    host: Arc<TmuxHost>,
    stream: UnixStream,
    req: TmuxRequest,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let info = HostInfo::new(&req.socket);
    if req.control > 1 {
        proto::write_frame(&mut writer, proto::OUTPUT, b"\x1bP1000p").await?;
    }
    super::exec::ensure_server(&host, &req, &info).await;
    let registered_ms = crate::clock::now_ms();
    let client = register(&host, &req, events_tx).await;
    let mut number = 0u64;
    let first = req.argv.clone();
    let mut seen = Seen::default();
    // The command the client came with is not one it sent as a line: flags 0, as in tmux.
    let ok = run_guarded(
        &host,
        &req,
        &info,
        client,
        &first,
        (&mut number, 0),
        &mut writer,
    )
    .await?;
    // The client learns its session, as tmux tells a control client that attached.
    let mut session = session_of(&host, &req.socket, client).await;
    if let Some((id, name)) = &session {
        let line = format!("%session-changed ${id} {name}\n");
        proto::write_frame(&mut writer, proto::OUTPUT, line.as_bytes()).await?;
    }
    seen.look(&host, &req.socket, &info, session.as_ref().map(|s| s.0))
        .await;
    let (frames_tx, mut frames) = mpsc::channel(64);
    let read_task = tokio::spawn(async move {
        let mut reader = reader;
        while let Ok(Some(frame)) = proto::read_frame(&mut reader).await {
            if frames_tx.send(frame).await.is_err() {
                break;
            }
        }
    });
    // Panes made after the client came are followed from their first output.
    let mut outputs = super::taps::OutputTaps::from_start_after(registered_ms);
    outputs
        .follow(session_panes(&host, &req.socket, session.as_ref().map(|s| s.0)).await)
        .await;
    let mut changes = host.changes.subscribe();
    // A first command that failed ends the client, as tmux's control client exits then.
    if ok {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                frame = frames.recv() => match frame {
                    Some((proto::INPUT, line)) => {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        let text = text.trim_end_matches(['\r', '\n']);
                        if text.is_empty() {
                            // tmux: an empty line detaches a control client.
                            break;
                        }
                        let argv = super::config::tokenize(text).unwrap_or_default();
                        run_guarded(&host, &req, &info, client, &argv, (&mut number, 1), &mut writer).await?;
                        // What the command changed is told right after its %end, as tmux does.
                        let lines = seen.look(&host, &req.socket, &info, session.as_ref().map(|s| s.0)).await;
                        write_lines(&mut writer, &lines).await?;
                    }
                    Some((proto::DETACH, _)) | None => break,
                    Some(_) => {}
                },
                ev = events.recv() => match ev {
                    Some(ClientEvent::Detach(_)) | None => break,
                    Some(ClientEvent::SessionChanged) => {
                        let now = session_of(&host, &req.socket, client).await;
                        // The attach the client came with was announced already.
                        if now.as_ref().map(|s| s.0) != session.as_ref().map(|s| s.0)
                            && let Some((id, name)) = &now
                        {
                            let line = format!("%session-changed ${id} {name}\n");
                            proto::write_frame(&mut writer, proto::OUTPUT, line.as_bytes()).await?;
                        }
                        session = now;
                        seen.look(&host, &req.socket, &info, session.as_ref().map(|s| s.0)).await;
                        outputs.follow(session_panes(&host, &req.socket, session.as_ref().map(|s| s.0)).await).await;
                    }
                    Some(ClientEvent::Notify(line)) => {
                        proto::write_frame(&mut writer, proto::OUTPUT, format!("{line}\n").as_bytes()).await?;
                    }
                },
                changed = changes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    outputs.follow(session_panes(&host, &req.socket, session.as_ref().map(|s| s.0)).await).await;
                    let lines = seen.look(&host, &req.socket, &info, session.as_ref().map(|s| s.0)).await;
                    write_lines(&mut writer, &lines).await?;
                }
                chunk = outputs.next() => {
                    if let Some((pane, bytes)) = chunk {
                        let mut line = format!("%output %{pane} ").into_bytes();
                        line.extend(octal_escape(&bytes));
                        line.push(b'\n');
                        proto::write_frame(&mut writer, proto::OUTPUT, &line).await?;
                    }
                }
            }
        }
    }
    read_task.abort();
    unregister(&host, &req.socket, client).await;
    let mut end = b"%exit\n".to_vec();
    if req.control > 1 {
        end.extend_from_slice(b"\x1b\\");
    }
    proto::write_frame(&mut writer, proto::OUTPUT, &end).await?;
    proto::write_frame(&mut writer, proto::EXIT, b"").await?;
    Ok(())
}

/// Add the client to its server (starting none: the first command may start it).
async fn register(
    host: &TmuxHost,
    req: &TmuxRequest,
    tx: mpsc::UnboundedSender<ClientEvent>,
) -> Option<u64> {
    let mut ns = host.state.lock().await;
    let server = ns.servers.get_mut(&req.socket)?;
    let now = crate::clock::now_ms();
    let term = req
        .env
        .iter()
        .find(|(k, _)| k == "TERM")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Some(server.clients.add(Client {
        id: 0,
        name: format!("client-{}", req.pid),
        pid: req.pid,
        session: UNATTACHED,
        control: true,
        tty: String::new(),
        term,
        cols: 80,
        rows: 24,
        created_ms: now,
        activity_ms: now,
        readonly: false,
        last_session: None,
        tx,
    }))
}

async fn unregister(host: &TmuxHost, socket: &str, client: Option<u64>) {
    let Some(id) = client else {
        return;
    };
    let mut ns = host.state.lock().await;
    if let Some(server) = ns.servers.get_mut(socket) {
        server.clients.remove(id);
        server.changed();
    }
    host.publish(&ns);
}

async fn session_of(host: &TmuxHost, socket: &str, client: Option<u64>) -> Option<(u32, String)> {
    let ns = host.state.lock().await;
    let server = ns.servers.get(socket)?;
    let s = server.clients.get(client?)?.session;
    server.session(s).map(|sess| (s, sess.name.clone()))
}

/// Run one command line for the client, framed as tmux frames it.
async fn run_guarded(
    host: &TmuxHost,
    base: &TmuxRequest,
    info: &HostInfo,
    client: Option<u64>,
    argv: &[String],
    (number, flags): (&mut u64, u8),
    writer: &mut tokio::net::unix::OwnedWriteHalf,
) -> anyhow::Result<bool> {
    let req = TmuxRequest {
        argv: argv.to_vec(),
        stdin: None,
        ..base.clone()
    };
    let mut out = String::new();
    let mut attach = None;
    let t = crate::clock::now_ms() / 1000;
    let n = *number;
    *number += 1;
    let result = run_request(host, &req, info, &mut out, client, &mut attach).await;
    let mut text = format!("%begin {t} {n} {flags}\n");
    text.push_str(&out);
    let ok = match result {
        Ok(()) => {
            text.push_str(&format!("%end {t} {n} {flags}\n"));
            true
        }
        Err(e) => {
            text.push_str(&format!("{e}\n%error {t} {n} {flags}\n"));
            false
        }
    };
    proto::write_frame(writer, proto::OUTPUT, text.as_bytes()).await?;
    Ok(ok)
}

/// `%output` escaping: bytes below space and backslash as three-digit octal, the rest as
/// they are (UTF-8 passes through).
fn octal_escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if b < b' ' || b == b'\\' {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// Every pane of a session's windows, with its Aegis session.
async fn session_panes(
    host: &TmuxHost,
    socket: &str,
    session: Option<u32>,
) -> Vec<(u32, crate::session::SessionHandle)> {
    let ns = host.state.lock().await;
    let Some(server) = ns.servers.get(socket) else {
        return vec![];
    };
    let Some(s) = session.and_then(|s| server.session(s)) else {
        return vec![];
    };
    s.windows
        .values()
        .filter_map(|w| server.window(*w))
        .flat_map(|w| w.panes.iter())
        .filter_map(|p| server.pane(*p).map(|pane| (*p, pane.handle.clone())))
        .collect()
}

async fn write_lines(
    writer: &mut tokio::net::unix::OwnedWriteHalf,
    lines: &[String],
) -> anyhow::Result<()> {
    if !lines.is_empty() {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        proto::write_frame(writer, proto::OUTPUT, text.as_bytes()).await?;
    }
    Ok(())
}

/// What a control client was last told of the tree, to notify it of changes however they
/// came (its own commands, other clients, key bindings, panes exiting), as tmux does:
/// `%session-window-changed` (a session's current window), `%window-pane-changed` (a window's
/// active pane) and `%layout-change` (a window of its session changed layout, zoom or flags).
#[derive(Default)]
struct Seen {
    current: HashMap<u32, u32>,
    active: HashMap<u32, u32>,
    /// The layout and visible layout of each window of the client's session, and its flags
    /// (told with a change, never a change by themselves, as in tmux).
    layouts: HashMap<u32, (String, String)>,
}

impl Seen {
    /// Look at the tree again; the notifications for what changed since the last look.
    async fn look(
        &mut self,
        host: &TmuxHost,
        socket: &str,
        info: &HostInfo,
        session: Option<u32>,
    ) -> Vec<String> {
        let ns = host.state.lock().await;
        let Some(server) = ns.servers.get(socket) else {
            *self = Seen::default();
            return vec![];
        };
        let current: HashMap<u32, u32> = server
            .sessions
            .values()
            .filter_map(|s| Some((s.id, *s.windows.get(&s.curw?)?)))
            .collect();
        let active: HashMap<u32, u32> = server
            .windows
            .iter()
            .map(|(&w, win)| (w, win.active))
            .collect();
        let facts = HashMap::new();
        let layouts: HashMap<u32, (String, String)> = session
            .and_then(|s| server.session(s))
            .map(|s| {
                s.windows
                    .iter()
                    .map(|(&idx, &w)| {
                        let scope = Scope::new(server, info, &facts, Some(s.id), Some(idx), None);
                        let layout = super::format::expand(LAYOUTS, &scope);
                        (
                            w,
                            (layout, super::format::expand("#{window_flags}", &scope)),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut lines = vec![];
        for (s, w) in &current {
            if self.current.get(s).is_some_and(|old| old != w) {
                lines.push(format!("%session-window-changed ${s} @{w}"));
            }
        }
        for (w, p) in &active {
            if self.active.get(w).is_some_and(|old| old != p) {
                lines.push(format!("%window-pane-changed @{w} %{p}"));
            }
        }
        for (w, (layout, flags)) in &layouts {
            if self.layouts.get(w).is_some_and(|(old, _)| old != layout) {
                lines.push(format!("%layout-change @{w} {layout} {flags}"));
            }
        }
        *self = Seen {
            current,
            active,
            layouts,
        };
        lines
    }
}

/// The layouts `%layout-change` tells.
const LAYOUTS: &str = "#{window_layout} #{window_visible_layout}";
