//! Routes of the file browser and uploads (`/v1/directories`, `/v1/files`,
//! `/v1/sessions/:id/upload`) and of `/v1/diagnostics`. Confinement rules live in
//! `crate::files`; this module only parses requests and shapes responses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::TryStreamExt;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;
use warp::hyper::body::Buf;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{query, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json_sorted};
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

/// One directory the file browser may list (a configured project root).
#[derive(Debug, Serialize, JsonSchema)]
struct Directory {
    /// Canonical: symlinks and `..` resolved.
    path: PathBuf,
    /// Its last component.
    name: String,
}

/// `GET /v1/directories`: the project roots.
#[derive(Debug, Serialize, JsonSchema)]
struct Directories {
    directories: Vec<Directory>,
}

fn entry_kinds(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": files::ENTRY_KINDS})
}

/// One entry of a listed directory.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct FileEntry {
    name: String,
    /// A symlink is not followed.
    #[schemars(schema_with = "entry_kinds")]
    kind: &'static str,
    size: u64,
    /// Modification time, milliseconds since the Unix epoch.
    modified_ms: u64,
}

impl From<files::Entry> for FileEntry {
    fn from(e: files::Entry) -> FileEntry {
        FileEntry {
            name: e.name,
            kind: e.kind,
            size: e.size,
            modified_ms: e.modified_ms,
        }
    }
}

/// `GET /v1/files`: a directory's entries, directories first, then by name.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "FileList")]
struct Listing {
    /// The directory listed, canonical.
    path: PathBuf,
    entries: Vec<FileEntry>,
    /// More entries than one listing returns: the rest were left out.
    truncated: bool,
}

/// One file written by an upload.
#[derive(Debug, Serialize, JsonSchema)]
struct Uploaded {
    name: String,
    /// Where it was written, in the session's workDir.
    path: PathBuf,
    size: usize,
}

/// `POST /v1/sessions/{id}/upload`: the files written.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "UploadResult")]
struct Upload {
    ok: bool,
    files: Vec<Uploaded>,
}

pub async fn directories(app: Arc<App>) -> ApiResult {
    let roots = files::resolve_roots(&app.config.project_roots);
    let directories = roots
        .into_iter()
        .map(|r| Directory {
            name: r
                .real
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| r.real.display().to_string()),
            path: r.real,
        })
        .collect();
    Ok(json_sorted(StatusCode::OK, &Directories { directories }))
}

/// `GET /v1/files`'s query.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListQuery {
    /// The directory to list: an absolute path inside a project root.
    #[schemars(with = "String")]
    path: Option<String>,
}

pub async fn list_files(app: Arc<App>, q: ListQuery) -> ApiResult {
    let path = q
        .path
        .ok_or_else(|| ApiError::invalid("path is required"))?;
    let roots = files::resolve_roots(&app.config.project_roots);
    let (dir, entries, truncated) = tokio::task::spawn_blocking(move || {
        let dir = files::confine(&roots, &path)?;
        let (entries, truncated) = files::list(&dir)?;
        Ok::<_, FileError>((dir, entries, truncated))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let body = Listing {
        path: dir,
        entries: entries.into_iter().map(FileEntry::from).collect(),
        truncated,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// `POST /v1/sessions/{id}/upload`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct UploadQuery {
    /// `true` to replace files that exist (default `false`: an existing file is a 409).
    #[schemars(schema_with = "crate::api::schemas::flag")]
    overwrite: Option<String>,
}

/// Read every part of the form into memory (bounded), then check everything, then write:
/// a request with one bad part writes nothing.
pub async fn upload(
    app: Arc<App>,
    id: String,
    q: UploadQuery,
    form: warp::multipart::FormData,
) -> ApiResult {
    let overwrite = match q.overwrite.as_deref() {
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
        written.push(Uploaded {
            name,
            path: target,
            size,
        });
    }
    tracing::info!(session = %h.meta.id, files = written.len(), "files uploaded");
    let body = Upload {
        ok: true,
        files: written,
    };
    Ok(json_sorted(StatusCode::CREATED, &body))
}

/// The daemon process, from /proc (a figure /proc does not give is null).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Process {
    pid: u32,
    open_fds: Option<usize>,
    /// Resident memory.
    rss_bytes: Option<u64>,
    threads: Option<u64>,
}

/// Open file descriptors of the daemon and its resident memory, from /proc.
fn process_stats() -> Process {
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).ok();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    Process {
        pid: std::process::id(),
        open_fds: fds,
        rss_bytes: field("VmRSS:").map(|kib| kib * 1024),
        threads: field("Threads:"),
    }
}

/// `GET /v1/diagnostics`: what an operator checks first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Diagnostics {
    /// The daemon's version.
    version: &'static str,
    uptime_secs: u64,
    pty: super::wire::PtyHealth,
    process: Process,
    sessions: DiagnosedSessions,
    /// Holder processes whose socket is in the state directory.
    holders: usize,
    /// Worker records (`dispatch-worker`).
    workers: usize,
    config: Configured,
}

/// Sessions by status.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct DiagnosedSessions {
    total: usize,
    by_status: BTreeMap<&'static str, usize>,
}

/// Facts about the configuration, and only those: never the token or key digests, and the
/// webhook endpoints counted, not listed (their URLs may carry credentials).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "DiagnosedConfig")]
struct Configured {
    host: String,
    port: u16,
    state_dir: PathBuf,
    auth_token_set: bool,
    /// Null when rate limiting is off.
    rate_limit: Option<RateLimit>,
    max_body_bytes: u64,
    max_sessions: usize,
    quiet_ms: u64,
    /// Null when stall detection is off.
    stall_ms: Option<u64>,
    /// Null when permission requests wait forever.
    permission_timeout_ms: Option<u64>,
    read_only: bool,
    /// Whether sessions run in holder processes.
    holders: bool,
    kill_sessions_on_exit: bool,
    holder_ring_bytes: usize,
    recording_max_bytes: u64,
    recording_keep: u32,
    project_roots: Vec<PathBuf>,
    webhook_endpoints: usize,
}

/// Requests per second allowed per credential, and the burst above it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct RateLimit {
    per_second: u32,
    burst: u32,
}

pub async fn diagnostics(app: Arc<App>) -> ApiResult {
    let pty = app.pty_health();
    let all = app.sessions.list();
    let mut by_status = BTreeMap::new();
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
    let config = Configured {
        host: c.host.to_string(),
        port: c.port,
        state_dir: c.state_dir.clone(),
        auth_token_set: c.auth_token.is_some(),
        rate_limit: c.rate_limit.map(|r| RateLimit {
            per_second: r.per_second,
            burst: r.burst,
        }),
        max_body_bytes: c.max_body_bytes,
        max_sessions: c.sessions.max_sessions,
        quiet_ms: c.sessions.quiet_period.as_millis() as u64,
        stall_ms: c.sessions.stall.map(|d| d.as_millis() as u64),
        permission_timeout_ms: c.sessions.permission_timeout.map(|d| d.as_millis() as u64),
        read_only: c.read_only,
        holders: c.durability.holders,
        kill_sessions_on_exit: c.durability.kill_sessions_on_exit,
        holder_ring_bytes: c.durability.ring_bytes,
        recording_max_bytes: c.durability.recording.max_bytes,
        recording_keep: c.durability.recording.keep,
        project_roots: c.project_roots.clone(),
        webhook_endpoints: c.integrations.webhooks.len(),
    };
    let body = Diagnostics {
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: app.started.elapsed().as_secs(),
        pty: super::wire::PtyHealth {
            healthy: pty.is_ok(),
            error: pty.err(),
        },
        process: process_stats(),
        sessions: DiagnosedSessions {
            total: all.len(),
            by_status,
        },
        holders,
        workers: app.work.workers.count(),
        config,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

pub fn routes(t: &mut Table) {
    t.on(
        route::get("/directories").answers::<Directories>(),
        directories,
    );
    t.on_query(route::get("/files").answers::<Listing>(), list_files);
    t.route(
        route::post("/sessions/{id}/upload")
            .creates::<Upload>()
            .query::<UploadQuery>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .and(query::<UploadQuery>())
                .and(warp::multipart::form().max_length(MAX_UPLOAD_BODY))
                .then(|id, a, q, f| async { finish(upload(a, id, q, f).await) })
        },
    );
    t.on(
        route::get("/diagnostics").answers::<Diagnostics>(),
        diagnostics,
    );
}
