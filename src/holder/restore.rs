//! Daemon start-up: find the sessions of the previous daemon again. Sessions whose holder
//! still runs are reattached (the screen is rebuilt from the holder's ring and the session
//! carries on); sessions whose holder is gone are listed as `exited`, with the exit code the
//! holder left in `exit.json` (or the last one the registry saw) and their recording. Claude
//! sessions get their hooks back (see `crate::hooks`), and hook settings files left by sessions
//! that are gone are deleted.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use uuid::Uuid;

use crate::pty::ExitStatus;
use crate::session::SessionManager;
use crate::store::registry::{self, SessionRecord, StatusChange};

/// How long one holder gets to answer a reconnect. A live holder answers in microseconds;
/// one that does not answer within this is treated as gone rather than stall start-up.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);

/// Output replayed into the screen of a session that ended while no daemon watched: enough
/// for the final screen, read from the end of its recording.
const DEAD_REPLAY_BYTES: usize = 256 * 1024;

/// Restore every session in the registry; returns the loaded status histories.
pub async fn restore(
    manager: &SessionManager,
    state_dir: &Path,
) -> anyhow::Result<HashMap<Uuid, Vec<StatusChange>>> {
    let records = registry::load(state_dir)?;
    let started = std::time::Instant::now();
    let attempts = records.iter().map(|r| async move {
        let dir = crate::store::session_dir(state_dir, &r.id);
        let live = r.status != "exited" && dir.join(super::SOCKET_FILE).exists();
        let attached = if live {
            match tokio::time::timeout(ATTACH_TIMEOUT, super::client::attach(&dir, true)).await {
                Ok(Ok(pair)) => Some(pair),
                Ok(Err(e)) => {
                    tracing::warn!(session = %r.id, error = %e, "holder did not answer; marking the session exited");
                    None
                }
                Err(_) => {
                    tracing::warn!(session = %r.id, "holder timed out; marking the session exited");
                    None
                }
            }
        } else {
            None
        };
        (r, dir, attached)
    });
    let results = futures_util::future::join_all(attempts).await;
    let (mut alive, mut dead) = (0, 0);
    let mut history = HashMap::new();
    for (r, dir, attached) in results {
        history.insert(r.id, r.history.clone());
        match attached {
            Some((process, hello)) => {
                manager.adopt(r, hello.pid, process);
                alive += 1;
            }
            None => {
                adopt_dead(manager, r, &dir);
                dead += 1;
            }
        }
    }
    // Only now is every settings file that still has a session known.
    if let Some(h) = &manager.defaults.hooks {
        manager.hooks.sweep(&h.dir);
    }
    tracing::info!(
        alive,
        exited = dead,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "sessions restored"
    );
    Ok(history)
}

fn adopt_dead(manager: &SessionManager, r: &SessionRecord, dir: &Path) {
    let status = super::read_exit(dir)
        .map(super::ExitRecord::status)
        .or(r.exit_code.map(ExitStatus::Code));
    let replay = crate::store::recording::read_output(dir, 0, usize::MAX)
        .map(|s| tail(s.text, DEAD_REPLAY_BYTES).into_bytes())
        .unwrap_or_default();
    let process = super::client::dead(r.pid, r.cols, r.rows, status, replay);
    manager.adopt(r, r.pid, process);
}

/// The last `max` bytes of `s`, cut on a character boundary.
fn tail(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut cut = s.len() - max;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    s[cut..].to_owned()
}
