//! The audit log: one JSON line per write request the API handled (any method but GET/HEAD),
//! saying who (the API key's id and name, `token` for the master token, `local` for an open
//! loopback daemon, `sse-token`), what (method, route, the session named in the path, the
//! response status) and when (RFC 3339 UTC).
//!
//! The log is `audit.jsonl` in the state directory, mode 0600, opened append-only. It is
//! bounded: past [`MAX_BYTES`] it is renamed `audit.1.jsonl` (replacing the previous one) and
//! a fresh file starts, so at most twice that stays on disk. Requests refused before a handler
//! ran (no valid token: 401, rate limit: 429) are not write actions and are not logged here;
//! the daemon's tracing log records them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::guard::Principal;

/// Rotate past this size: 8 MiB is tens of thousands of write actions, enough for a forensic
/// look back over days of agent supervision without ever filling the disk.
pub const MAX_BYTES: u64 = 8 * 1024 * 1024;

/// File name of the current log inside the state directory.
pub const FILE: &str = "audit.jsonl";
/// File name of the previous (rotated) log.
pub const ROTATED: &str = "audit.1.jsonl";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    time: String,
    who: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    status: u16,
}

/// Appends entries to the audit file; a failed write is logged, never fatal to the request.
pub struct AuditLog {
    dir: PathBuf,
    file: Mutex<Option<(std::fs::File, u64)>>,
}

impl AuditLog {
    pub fn new(state_dir: &Path) -> AuditLog {
        AuditLog {
            dir: state_dir.to_owned(),
            file: Mutex::new(None),
        }
    }

    fn open(&self) -> std::io::Result<(std::fs::File, u64)> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(self.dir.join(FILE))?;
        let len = f.metadata()?.len();
        Ok((f, len))
    }

    /// Record one handled write request.
    pub fn record(&self, who: &Principal, method: &Method, path: &str, status: StatusCode) {
        let (who_s, key_id) = match who {
            Principal::Open => ("local".to_owned(), None),
            Principal::Master => ("token".to_owned(), None),
            Principal::SseToken => ("sse-token".to_owned(), None),
            Principal::Key(k) => (format!("key:{}", k.name), Some(k.id.as_str())),
            Principal::Peer(_) => (who.name(), None),
        };
        let entry = Entry {
            time: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            who: who_s,
            key_id,
            method: method.as_str(),
            path,
            session: session_in(path),
            status: status.as_u16(),
        };
        let Ok(mut line) = serde_json::to_vec(&entry) else {
            return;
        };
        line.push(b'\n');
        if let Err(e) = self.append(&line) {
            tracing::warn!(error = %e, "audit log write failed");
        }
    }

    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let mut slot = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|(_, len)| *len >= MAX_BYTES) {
            if slot.take().is_some()
                || self
                    .dir
                    .join(FILE)
                    .metadata()
                    .is_ok_and(|m| m.len() >= MAX_BYTES)
            {
                std::fs::rename(self.dir.join(FILE), self.dir.join(ROTATED))?;
            }
            *slot = Some(self.open()?);
        }
        let Some((f, len)) = slot.as_mut() else {
            return Ok(());
        };
        f.write_all(line)?;
        *len += line.len() as u64;
        Ok(())
    }
}

/// The session id or name in a `/sessions/{id}/...` path.
fn session_in(path: &str) -> Option<&str> {
    let mut segs = path.split('/').skip_while(|s| *s != "sessions").skip(1);
    segs.next().filter(|s| !s.is_empty() && *s != "batch")
}

/// Run `inner` behind `guard`, and record every write it answers in the app's audit log.
pub fn wrap<G, F>(
    audit: Arc<AuditLog>,
    guard: G,
    inner: F,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    G: Filter<Extract = (Principal,), Error = Rejection> + Clone + Send + Sync + 'static,
    F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
{
    guard
        .and(warp::method())
        .and(warp::path::full())
        .and(inner)
        .map(
            move |who: Principal, method: Method, path: warp::path::FullPath, resp: Response| {
                if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
                    audit.record(&who, &method, path.as_str(), resp.status());
                }
                resp
            },
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn session_from_path() {
        assert_eq!(session_in("/v1/sessions/abc/send"), Some("abc"));
        assert_eq!(session_in("/sessions/abc"), Some("abc"));
        assert_eq!(session_in("/v1/sessions/batch"), None);
        assert_eq!(session_in("/v1/sessions"), None);
        assert_eq!(session_in("/v1/memory"), None);
    }

    #[test]
    fn rotates_past_the_limit_and_keeps_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path());
        let long = "x".repeat(64 * 1024);
        let rounds = MAX_BYTES / (64 * 1024) + 2;
        for _ in 0..rounds {
            log.record(&Principal::Master, &Method::POST, &long, StatusCode::OK);
        }
        let cur = std::fs::metadata(dir.path().join(FILE)).unwrap();
        let old = std::fs::metadata(dir.path().join(ROTATED)).unwrap();
        assert!(
            cur.len() < MAX_BYTES && old.len() >= MAX_BYTES,
            "{} {}",
            cur.len(),
            old.len()
        );
        assert_eq!(cur.permissions().mode() & 0o777, 0o600);
        let last = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let v: serde_json::Value = serde_json::from_str(last.lines().next().unwrap()).unwrap();
        assert_eq!(v["who"], "token");
        assert_eq!(v["method"], "POST");
    }
}
