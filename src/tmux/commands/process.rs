//! The programs in panes: respawn-pane and respawn-window start a new one in the same pane
//! (same pane id, a new Aegis session), pipe-pane feeds a pane's output to a shell command.

use tokio_util::sync::CancellationToken;

use super::super::cmd::Cmd;
use super::super::exec::{CmdResult, Ctx};
use super::super::spawn::Spawn;

/// Start a new program in pane `pane` (respawn-pane, respawn-window): the same pane id, a new
/// Aegis session.
pub async fn respawn(ctx: &mut Ctx<'_>, pane: u32, c: &Cmd, what: &str) -> CmdResult {
    let f = ctx.tgt()?;
    let session = f.session.ok_or("no current session")?;
    let server = ctx.server()?;
    let p = server.pane(pane).ok_or("no current pane")?;
    if !p.handle.is_exited() && !c.has('k') {
        let w = server.window(p.window).ok_or("no current window")?;
        let base: usize = server
            .window_option(p.window, "pane-base-index")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let name = server
            .session(session)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        return Err(format!(
            "respawn {what} failed: pane {name}:{}.{} still active",
            f.wl.unwrap_or(0),
            w.position(pane).unwrap_or(0) + base
        ));
    }
    let old = p.handle.clone();
    let args = if c.args.is_empty() {
        p.argv.clone()
    } else {
        c.args.clone()
    };
    let cwd = c
        .value('c')
        .map(str::to_owned)
        .unwrap_or_else(|| p.start_path.clone());
    let (wid, geom) = (p.window, p.geom);
    ctx.kill_handle(&old).await;
    let new = ctx
        .spawn_pane(Spawn {
            session,
            pane_id: pane,
            window: wid,
            args: &args,
            cwd: Some(&cwd),
            env: c.values('e'),
            sx: geom.sx,
            sy: geom.sy,
            first: false,
        })
        .await
        .map_err(|e| format!("respawn {what} failed: {e}"))?;
    let server = ctx.server()?;
    if let Some(p) = server.pane_mut(pane) {
        p.handle = new.handle;
        p.argv = new.argv;
        p.start_path = new.start_path;
        p.shell = new.shell;
        p.dead_ms = None;
        p.mode = None;
    }
    server.changed();
    Ok(())
}

pub async fn pipe_pane(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    let p = ctx.tgt()?.pane.ok_or("no current pane")?;
    let cwd = ctx.req.cwd.clone();
    let server = ctx.server()?;
    let pane = server.pane_mut(p).ok_or("no current pane")?;
    let had = pane.pipe.take();
    if let Some(token) = &had {
        token.cancel();
    }
    let Some(command) = c.arg(0).filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    if c.has('o') && had.is_some() {
        return Ok(());
    }
    let token = CancellationToken::new();
    pane.pipe = Some(token.clone());
    let handle = pane.handle.clone();
    let (_, mut output) = handle.subscribe().await.map_err(|e| e.to_string())?;
    let mut child =
        super::misc::shell_with_stdin(command, &cwd).map_err(|e| format!("pipe-pane: {e}"))?;
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let Some(mut stdin) = child.stdin.take() else {
            return;
        };
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                chunk = output.recv() => match chunk {
                    Ok(bytes) => {
                        if stdin.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                },
            }
        }
        // Closing stdin ends the pipe command; the daemon's reaper collects it.
        drop(stdin);
        drop(child);
    });
    Ok(())
}
