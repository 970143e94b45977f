//! What a session persists, and finding the sessions of the previous daemon again.
//!
//! [`records`] turns the live sessions into the registry's records (`store::registry` writes
//! them). At daemon start-up, [`restore`] reads them back. Sessions whose holder
//! still runs are reattached (the screen is rebuilt from the holder's ring and the session
//! carries on); sessions whose holder is gone are listed as `exited`, with the exit code the
//! holder left in `exit.json` (or the last one the registry saw) and their recording. Claude
//! sessions get their hooks back (see `crate::hooks`), and hook settings files left by sessions
//! that are gone are deleted.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use uuid::Uuid;

use super::{SessionHandle, SessionManager};
use crate::holder;
use crate::hooks::HookLink;
use crate::pty::ExitStatus;
use crate::store::registry::{self, SessionRecord, StatusChange};

/// How long one holder gets to answer a reconnect. A live holder answers in microseconds;
/// one that does not answer within this is treated as gone rather than stall start-up.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);

/// Output replayed into the screen of a session that ended while no daemon watched: enough
/// for the final screen, read from the end of its recording.
const DEAD_REPLAY_BYTES: usize = 256 * 1024;

/// The record of a live session; `hooks` is its hook link, if it has one.
pub fn record_of(h: &SessionHandle, hooks: Option<&HookLink>) -> SessionRecord {
    let live = h.live();
    let m = &h.meta;
    SessionRecord {
        id: m.id,
        name: m.name.clone(),
        work_dir: m.work_dir.clone(),
        agent_type: m.agent_type.as_str().to_owned(),
        command: m.command.clone(),
        created_at: m.created_at_ms,
        pid: m.pid,
        cols: live.cols,
        rows: live.rows,
        status: live.status.as_str().to_owned(),
        exit_code: live.exit_code,
        history: Vec::new(),
        permission_mode: Some(m.permission_mode.as_str().to_owned()),
        parent_id: m.parent_id,
        env: m.env.clone(),
        stall_threshold_ms: Some(
            h.counters
                .stall_threshold_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        ),
        hooks: hooks.map(HookLink::record),
        history_lines: Some(m.history_lines),
        history_bytes: Some(m.history_bytes),
        shell_integration: m.shell_integration,
    }
}

/// The records of every session `manager` holds, as the registry persists them.
pub fn records(manager: &SessionManager) -> Vec<SessionRecord> {
    manager
        .list()
        .iter()
        .map(|h| record_of(h, manager.hooks.get(&h.meta.id).as_deref()))
        .collect()
}

/// Restore every session in the registry; returns the loaded status histories.
pub async fn restore(
    manager: &SessionManager,
    state_dir: &Path,
) -> anyhow::Result<HashMap<Uuid, Vec<StatusChange>>> {
    let records = registry::load(state_dir)?;
    let started = std::time::Instant::now();
    let attempts = records.iter().map(|r| async move {
        let dir = crate::store::session_dir(state_dir, &r.id);
        let live = r.status != "exited" && dir.join(holder::SOCKET_FILE).exists();
        let attached = if live {
            match tokio::time::timeout(ATTACH_TIMEOUT, holder::client::attach(&dir, true)).await {
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
    let status = holder::read_exit(dir)
        .map(holder::ExitRecord::status)
        .or(r.exit_code.map(ExitStatus::Code));
    let replay = crate::store::recording::read_output(dir, 0, usize::MAX)
        .map(|s| tail(s.text, DEAD_REPLAY_BYTES).into_bytes())
        .unwrap_or_default();
    let process = holder::client::dead(r.pid, r.cols, r.rows, status, replay);
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
