//! Routes of the file browser and uploads (`/v1/directories`, `/v1/files`,
//! `/v1/sessions/:id/upload`) and of `/v1/diagnostics`. Confinement rules live in
//! `crate::files`; this module only parses requests and shapes responses.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::TryStreamExt;
use warp::Filter;
use warp::http::StatusCode;
use warp::hyper::body::Buf;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{query, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use crate::files::{self, FileError};

/// Most files per upload request.
pub const MAX_UPLOAD_FILES: usize = 5;

/// Largest single uploaded file: 10 MB, enough for logs, screenshots and small datasets an
/// agent needs, small enough that five of them held in memory at once stay harmless.
pub const MAX_UPLOAD_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Largest multipart body: five full files plus generous room for part headers.
const MAX_UPLOAD_BODY: u64 = (MAX_UPLOAD_FILES * MAX_UPLOAD_FILE_BYTES) as u64 + 64 * 1024;

impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        let msg = e.to_string();
        match e {
            FileError::Invalid(_) => ApiError::invalid(msg),
            FileError::Forbidden(_) => {
                ApiError::new(StatusCode::FORBIDDEN, ErrorCode::PathForbidden, msg)
            }
            FileError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, ErrorCode::PathNotFound, msg)
            }
            FileError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::FileExists, msg)
            }
            FileError::Io(_) => ApiError::internal(msg),
        }
    }
}

pub async fn directories(app: Arc<App>) -> ApiResult {
    let roots = files::resolve_roots(&app.config.project_roots);
    let list: Vec<_> = roots
        .iter()
        .map(|r| &r.real)
        .map(|r| {
            serde_json::json!({
                "path": r,
                "name": r.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| r.display().to_string()),
            })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "directories": list }),
    ))
}

pub async fn list_files(app: Arc<App>, q: HashMap<String, String>) -> ApiResult {
    let path = q
        .get("path")
        .ok_or_else(|| ApiError::invalid("path is required"))?
        .clone();
    let roots = files::resolve_roots(&app.config.project_roots);
    let (dir, entries, truncated) = tokio::task::spawn_blocking(move || {
        let dir = files::confine(&roots, &path)?;
        let (entries, truncated) = files::list(&dir)?;
        Ok::<_, FileError>((dir, entries, truncated))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "path": dir, "entries": entries, "truncated": truncated }),
    ))
}

/// Read every part of the form into memory (bounded), then check everything, then write:
/// a request with one bad part writes nothing.
pub async fn upload(
    app: Arc<App>,
    id: String,
    q: HashMap<String, String>,
    form: warp::multipart::FormData,
) -> ApiResult {
    let overwrite = match q.get("overwrite").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(o) => {
            return Err(ApiError::invalid(format!(
                "overwrite must be true or false, not {o:?}"
            )));
        }
    };
    let h = app.sessions.get(&id)?;
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut form = form;
    while let Some(part) = form.try_next().await.map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidMultipart,
            format!("invalid multipart body: {e}"),
        )
    })? {
        let Some(name) = part.filename().map(str::to_owned) else {
            return Err(ApiError::invalid(format!(
                "part {:?} has no filename; only file parts are accepted",
                part.name()
            )));
        };
        if parts.len() == MAX_UPLOAD_FILES {
            return Err(ApiError::invalid(format!(
                "at most {MAX_UPLOAD_FILES} files per upload"
            )));
        }
        files::validate_upload_name(&name)?;
        let mut data = Vec::new();
        let mut stream = part.stream();
        while let Some(mut chunk) = stream.try_next().await.map_err(|e| {
            ApiError::bad_request(
                ErrorCode::InvalidMultipart,
                format!("invalid multipart body: {e}"),
            )
        })? {
            if data.len() + chunk.remaining() > MAX_UPLOAD_FILE_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    format!("{name} is larger than {MAX_UPLOAD_FILE_BYTES} bytes"),
                ));
            }
            while chunk.has_remaining() {
                let piece = chunk.chunk();
                let n = piece.len();
                data.extend_from_slice(piece);
                chunk.advance(n);
            }
        }
        if parts.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::invalid(format!(
                "{name} appears twice in the upload"
            )));
        }
        parts.push((name, data));
    }
    if parts.is_empty() {
        return Err(ApiError::invalid("no files in the upload"));
    }
    let work_dir = h.meta.work_dir.clone();
    let mut targets = Vec::with_capacity(parts.len());
    for (name, _) in &parts {
        let target = files::upload_target(&work_dir, name)?;
        if !overwrite && target.symlink_metadata().is_ok() {
            return Err(FileError::Conflict(format!(
                "{name} already exists; pass overwrite=true to replace it"
            ))
            .into());
        }
        targets.push(target);
    }
    let mut written = Vec::new();
    for ((name, data), target) in parts.into_iter().zip(targets) {
        let size = data.len();
        files::write_upload(target.clone(), data, overwrite).await?;
        written.push(serde_json::json!({ "name": name, "path": target, "size": size }));
    }
    tracing::info!(session = %h.meta.id, files = written.len(), "files uploaded");
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({ "ok": true, "files": written }),
    ))
}

/// Open file descriptors of the daemon and its resident memory, from /proc.
fn process_stats() -> serde_json::Value {
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).ok();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    serde_json::json!({
        "pid": std::process::id(),
        "openFds": fds,
        "rssBytes": field("VmRSS:").map(|kib| kib * 1024),
        "threads": field("Threads:"),
    })
}

pub async fn diagnostics(app: Arc<App>) -> ApiResult {
    let pty = app.pty_health();
    let all = app.sessions.list();
    let mut by_status = std::collections::BTreeMap::new();
    for h in &all {
        *by_status.entry(h.status().as_str()).or_insert(0usize) += 1;
    }
    let sessions_dir = app.config.state_dir.join("sessions");
    let holders = std::fs::read_dir(&sessions_dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("holder.sock").exists())
                .count()
        })
        .unwrap_or(0);
    let c = &app.config;
    // Only facts about the configuration: the token and key digests are never included,
    // and webhook endpoints are counted, not listed (their URLs may carry credentials).
    let config = serde_json::json!({
        "host": c.host.to_string(),
        "port": c.port,
        "stateDir": c.state_dir,
        "authTokenSet": c.auth_token.is_some(),
        "rateLimit": c.rate_limit.map(|r| serde_json::json!({"perSecond": r.per_second, "burst": r.burst})),
        "maxBodyBytes": c.max_body_bytes,
        "maxSessions": c.sessions.max_sessions,
        "quietMs": c.sessions.quiet_period.as_millis() as u64,
        "stallMs": c.sessions.stall.map(|d| d.as_millis() as u64),
        "permissionTimeoutMs": c.sessions.permission_timeout.map(|d| d.as_millis() as u64),
        "readOnly": c.read_only,
        "holders": c.durability.holders,
        "killSessionsOnExit": c.durability.kill_sessions_on_exit,
        "holderRingBytes": c.durability.ring_bytes,
        "recordingMaxBytes": c.durability.recording.max_bytes,
        "recordingKeep": c.durability.recording.keep,
        "projectRoots": c.project_roots,
        "webhookEndpoints": c.integrations.webhooks.len(),
    });
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptimeSecs": app.started.elapsed().as_secs(),
            "pty": { "healthy": pty.is_ok(), "error": pty.err() },
            "process": process_stats(),
            "sessions": { "total": all.len(), "byStatus": by_status },
            "holders": holders,
            "workers": app.work.workers.count(),
            "config": config,
        }),
    ))
}

pub fn routes(t: &mut Table) {
    t.on(route::get("/directories"), directories);
    t.on_query(route::get("/files"), list_files);
    t.route(route::post("/sessions/{id}/upload"), |p, app| {
        p.one()
            .and(with_app(app))
            .and(query())
            .and(warp::multipart::form().max_length(MAX_UPLOAD_BODY))
            .then(|id, a, q, f| async { finish(upload(a, id, q, f).await) })
    });
    t.on(route::get("/diagnostics"), diagnostics);
}
