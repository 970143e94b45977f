//! The daemon side of an attached terminal: stream a session to the client and its keys back.
//! (The local socket's accept loop, which also serves the tmux stand-in, is `daemon::socket`.)
//!
//! Size policy: the latest *active* writable client wins. A client becomes active when it
//! attaches, when it sends a resize (SIGWINCH), and when it types after another client was
//! active; the session then takes that client's size. Read-only clients never resize.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::proto::{self, AttachRequest};
use crate::fleet::Fleet;
use crate::session::{SessionHandle, SessionManager};

/// Client frames buffered between the socket reader and the session loop. Typing is a few
/// frames a second; a paste is one frame.
const CLIENT_FRAMES: usize = 64;

/// Shared state of the attached clients: who is attached to which session, and whose size
/// each session has.
pub struct Hub {
    sessions: Arc<SessionManager>,
    /// The fleet this daemon is in, to say where a session of another host lives.
    fleet: Option<Arc<Fleet>>,
    next_client: AtomicU64,
    clients: Mutex<Clients>,
}

#[derive(Default)]
struct Clients {
    /// Attached clients per session.
    attached: HashMap<Uuid, usize>,
    /// The client whose size a session has, per session.
    active: HashMap<Uuid, u64>,
}

impl Hub {
    pub fn new(sessions: Arc<SessionManager>, fleet: Option<Arc<Fleet>>) -> Hub {
        Hub {
            sessions,
            fleet,
            next_client: AtomicU64::new(1),
            clients: Mutex::new(Clients::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many clients are attached to a session (tmux's `session_attached`).
    pub fn attached(&self, id: Uuid) -> usize {
        self.lock().attached.get(&id).copied().unwrap_or(0)
    }

    /// Make `client` the one whose size the session takes, and apply its size.
    async fn activate(&self, handle: &SessionHandle, client: u64, cols: u16, rows: u16) {
        self.lock().active.insert(handle.meta.id, client);
        let live = handle.live();
        if (live.cols, live.rows) != (cols, rows)
            && let Err(e) = handle.resize(cols, rows).await
        {
            tracing::debug!(session = %handle.meta.id, error = %e, "resize on activate failed");
        }
    }

    fn is_active(&self, id: Uuid, client: u64) -> bool {
        self.lock().active.get(&id) == Some(&client)
    }

    /// Why `session` cannot be attached here, for a session this daemon does not have: the
    /// host of the fleet that owns it and where to reach it (attach needs the owner's local
    /// socket, and its terminal stream is not forwarded).
    async fn not_here(&self, session: &str) -> String {
        let missing = format!("can't find session: {session}");
        let Some(fleet) = &self.fleet else {
            return missing;
        };
        let found = match fleet.directory.locate(fleet, session).await {
            Ok(Some(found)) if found.entry.host != fleet.host_id() => found,
            Ok(_) => return missing,
            Err(e) => {
                return format!("{missing} on this host, and the fleet cannot tell where: {e}");
            }
        };
        let host = &found.entry.host;
        let api = fleet
            .hosts
            .url(host)
            .unwrap_or_else(|| "its daemon".to_owned());
        let stream = fleet
            .hosts
            .websocket_url(host, &format!("/v1/sessions/{}/stream", found.id))
            .map(|ws| format!(", or open its terminal stream at {ws}"))
            .unwrap_or_default();
        format!(
            "session {session} lives on host {host} ({api}), not on this one: run `aegis attach {session}` on host {host}{stream}"
        )
    }
}

/// Path of the socket in the state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("aegis.sock")
}

/// Why an attach loop ended.
enum End {
    Detached,
    Exited(Option<i32>),
    ClientGone,
    Shutdown,
}

/// Serve one attached terminal until it detaches, the session exits or `shutdown`.
pub async fn attach(
    hub: Arc<Hub>,
    mut stream: UnixStream,
    req: AttachRequest,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let handle = match hub.sessions.get(&req.session) {
        Ok(h) if !h.is_exited() => h,
        Ok(h) => {
            let msg = format!("session {} has exited", h.meta.name);
            proto::write_frame(&mut stream, proto::EXIT, msg.as_bytes()).await?;
            return Ok(());
        }
        Err(_) => {
            let msg = hub.not_here(&req.session).await;
            proto::write_frame(&mut stream, proto::EXIT, msg.as_bytes()).await?;
            return Ok(());
        }
    };
    let id = handle.meta.id;
    let client = hub.next_client.fetch_add(1, Ordering::Relaxed);
    *hub.lock().attached.entry(id).or_default() += 1;
    let result = attached_loop(&hub, &handle, client, stream, req, shutdown).await;
    {
        let mut c = hub.lock();
        if let Some(n) = c.attached.get_mut(&id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.attached.remove(&id);
            }
        }
        if c.active.get(&id) == Some(&client) {
            c.active.remove(&id);
        }
    }
    result
}

async fn attached_loop(
    hub: &Hub,
    handle: &SessionHandle,
    client: u64,
    stream: UnixStream,
    req: AttachRequest,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (mut size_cols, mut size_rows) = (req.cols, req.rows);
    if !req.read_only {
        hub.activate(handle, client, size_cols, size_rows).await;
    }
    let (redraw, mut output) = handle.subscribe().await?;
    let (reader, mut writer) = stream.into_split();
    let hello = serde_json::to_vec(&proto::Attached {
        id: handle.meta.id.to_string(),
        name: handle.meta.name.clone(),
        window: false,
    })?;
    proto::write_frame(&mut writer, proto::ATTACHED, &hello).await?;
    proto::write_frame(&mut writer, proto::OUTPUT, &redraw).await?;

    let (mut frames, read_task) = proto::spawn_frame_reader(reader, CLIENT_FRAMES);
    let mut live = handle.watch();
    let end = loop {
        if handle.is_exited() {
            break drain_exit(handle, &mut output, &mut writer).await?;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break End::Shutdown,
            chunk = output.recv() => match chunk {
                Ok(bytes) => proto::write_frame(&mut writer, proto::OUTPUT, &bytes).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind the live stream: start over from a fresh redraw.
                    crate::metrics::global().subscriber_lag("attach");
                    let (redraw, rx) = handle.subscribe().await?;
                    output = rx;
                    proto::write_frame(&mut writer, proto::OUTPUT, &redraw).await?;
                }
                Err(broadcast::error::RecvError::Closed) => break End::Exited(handle.live().exit_code),
            },
            changed = live.changed() => {
                if changed.is_err() {
                    break End::Exited(handle.live().exit_code);
                }
            }
            frame = frames.recv() => match frame {
                None => break End::ClientGone,
                Some((proto::DETACH, _)) => break End::Detached,
                Some((proto::RESIZE, p)) => {
                    if let Some((c, r)) = proto::parse_resize(&p) {
                        (size_cols, size_rows) = (c, r);
                        if !req.read_only {
                            hub.activate(handle, client, c, r).await;
                        }
                    }
                }
                Some((proto::INPUT, bytes)) => {
                    if req.read_only {
                        tracing::debug!(session = %handle.meta.id, "input from a read-only client refused");
                        continue;
                    }
                    if !hub.is_active(handle.meta.id, client) {
                        hub.activate(handle, client, size_cols, size_rows).await;
                    }
                    if let Err(e) = handle.send_bytes(bytes).await {
                        tracing::debug!(session = %handle.meta.id, error = %e, "attach input not delivered");
                    }
                }
                Some(_) => {} // unknown frame kinds are ignored, for forward compatibility
            },
        }
    };
    read_task.abort();
    let msg = match end {
        End::Detached => format!("[detached (from session {})]", handle.meta.name),
        End::Exited(Some(code)) => {
            format!("[session {} exited with code {code}]", handle.meta.name)
        }
        End::Exited(None) => format!("[session {} exited]", handle.meta.name),
        End::Shutdown => "[the aegis daemon is shutting down]".to_owned(),
        End::ClientGone => return Ok(()),
    };
    proto::write_frame(&mut writer, proto::EXIT, msg.as_bytes()).await?;
    writer.shutdown().await.ok();
    Ok(())
}

/// The session exited: forward output still buffered, then report the exit.
async fn drain_exit(
    handle: &SessionHandle,
    output: &mut broadcast::Receiver<Arc<[u8]>>,
    writer: &mut tokio::net::unix::OwnedWriteHalf,
) -> anyhow::Result<End> {
    while let Ok(bytes) = output.try_recv() {
        proto::write_frame(writer, proto::OUTPUT, &bytes).await?;
    }
    Ok(End::Exited(handle.live().exit_code))
}
