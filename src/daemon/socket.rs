//! The daemon's local sockets (`<state dir>/aegis.sock`, mode 0600, and the tmux stand-in's
//! discovery socket `$TMUX_TMPDIR/aegis-UID/LABEL`): one accept loop each, serving two
//! protocols over the same framing (`attach::proto`). The first frame is a request; a tmux
//! stand-in command is run and answered with one reply frame (`tmux::exec`), or becomes a
//! control-mode client (`tmux::control`); an attach request becomes a streaming session
//! (`attach::server`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::attach::proto::{self, Request};
use crate::attach::server::Hub;
use crate::tmux::host::TmuxHost;

/// Connections served at once. Each attach holds a task and a subscription; tmux commands
/// finish in milliseconds. Past this, a new connection is told so and closed rather than
/// letting a runaway script exhaust the daemon.
const MAX_CONNECTIONS: usize = 512;

/// Bind the socket at `path` (mode 0600); errors are logged, never fatal: the REST API works
/// without attach. Bound before the daemon announces its port, so a client that saw the
/// announcement never finds the socket missing.
pub fn listen(path: &Path) -> Option<UnixListener> {
    if let Err(e) = crate::store::check_socket_path(path, "the local socket") {
        tracing::error!(error = %e, "cannot bind the local socket");
        return None;
    }
    match bind(path) {
        Ok(l) => {
            tracing::info!(path = %path.display(), "attach socket listening");
            Some(l)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::error!(path = %path.display(), "another Aegis daemon listens at this socket; start this one with another `-L NAME` (or `-S PATH`) to run both");
            None
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot bind the attach socket; attach and the tmux stand-in are unavailable there");
            None
        }
    }
}

/// Serve a bound socket (see [`listen`]) until `shutdown`, then remove it.
pub async fn run(
    listener: UnixListener,
    path: PathBuf,
    hub: Arc<Hub>,
    tmux: Arc<TmuxHost>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            conn = listener.accept() => match conn {
                Ok((mut stream, _)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::warn!(limit = MAX_CONNECTIONS, "attach socket: too many connections");
                        tokio::spawn(async move {
                            let msg = format!("the aegis daemon is serving {MAX_CONNECTIONS} connections already; try again");
                            let _ = proto::write_frame(&mut stream, proto::EXIT, msg.as_bytes()).await;
                        });
                        continue;
                    };
                    let (hub, tmux) = (hub.clone(), tmux.clone());
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        let _slot = slot;
                        if let Err(e) = serve_conn(hub, tmux, stream, shutdown).await {
                            tracing::debug!(error = %e, "attach connection ended with an error");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "accept on the attach socket failed"),
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    // A socket left by a daemon that died; a live daemon would answer a connect.
    if std::os::unix::net::UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path)?;
    // The state dir is 0700 already; 0600 on the socket keeps it private if the dir is not.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn serve_conn(
    hub: Arc<Hub>,
    tmux: Arc<TmuxHost>,
    mut stream: UnixStream,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some((proto::REQUEST, body)) = proto::read_frame(&mut stream).await? else {
        anyhow::bail!("the first frame must be a request");
    };
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("bad request: {e}");
            proto::write_frame(&mut stream, proto::EXIT, msg.as_bytes()).await?;
            return Ok(());
        }
    };
    match request {
        Request::Tmux(req) if req.control > 0 => {
            crate::tmux::control::serve(tmux, stream, req, shutdown).await
        }
        Request::Tmux(req) => {
            let reply = crate::tmux::exec::execute(&tmux, req).await;
            let body = serde_json::to_vec(&reply)?;
            proto::write_frame(&mut stream, proto::REPLY, &body).await?;
            Ok(())
        }
        Request::Attach(mut req) => {
            // A pane of the stand-in is shown in its window, as `tmux attach` shows it.
            if req.tmux.is_none() {
                req.tmux = crate::tmux::attached::pane_window(&tmux, &req).await;
            }
            if req.tmux.is_some() {
                crate::tmux::attached::serve(tmux, stream, req, shutdown).await
            } else {
                crate::attach::server::attach(hub, stream, req, shutdown).await
            }
        }
    }
}
