//! Routes that Aegis v0.3 clients (its MCP server above all) call, with the shapes they read:
//! per-session and bulk health, the raw pane, escape, `!bash` and `/command` input, the
//! summary, and the protocol handshake. See reference/aegis-v0.3-contract.md.
//!
//! These routes are composed before the generic session routes, because `GET
//! /sessions/health` would otherwise be read as a session named "health".

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::App;
use super::error::ApiError;
use super::filters::{finish, json_body, with_app};
use super::sessions::{ApiResult, json};
use crate::screen::Format;
use crate::session::{SessionHandle, now_ms};

/// The protocol version this daemon speaks, as v0.3's handshake defines it.
pub const PROTOCOL_VERSION: &str = "1";

/// What this daemon can do, in v0.3's capability vocabulary.
pub const CAPABILITIES: &[&str] = &[
    "session.create",
    "session.approve",
    "events.sse",
    "events.cursor",
    "metrics",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionHealth {
    alive: bool,
    /// Always true while the session exists: there is no tmux window to lose.
    window_exists: bool,
    /// Whether the agent's own process still runs (for any agent type, not only Claude).
    claude_running: bool,
    /// The terminal's foreground command, as `tmux #{pane_current_command}` reports it.
    pane_command: Option<String>,
    status: &'static str,
    has_transcript: bool,
    last_activity: u64,
    last_activity_ago: u64,
    session_age: u64,
    details: String,
}

/// The command name of the terminal's foreground process group (the session leader's
/// `tpgid`), read from /proc like tmux does.
pub fn foreground_command(leader: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{leader}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    // state ppid pgrp session tty_nr tpgid
    let tpgid: i32 = rest.split(' ').nth(5)?.parse().ok()?;
    let pid = if tpgid > 0 { tpgid } else { leader };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim().to_owned())
}

fn health_of(h: &SessionHandle) -> SessionHealth {
    let live = h.live();
    let alive = live.exit_code.is_none() && !h.is_exited();
    let now = now_ms();
    let last = h
        .counters
        .last_activity_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    let details = match live.exit_code {
        Some(code) => format!("process exited with code {code}"),
        None if alive => format!("running, {}", live.status.as_str()),
        None => "exited".to_owned(),
    };
    SessionHealth {
        alive,
        window_exists: true,
        claude_running: alive,
        pane_command: if alive {
            foreground_command(h.meta.pid)
        } else {
            None
        },
        status: live.status.as_str(),
        has_transcript: false,
        last_activity: last,
        last_activity_ago: now.saturating_sub(last),
        session_age: now.saturating_sub(h.meta.created_at_ms),
        details,
    }
}

async fn session_health(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    Ok(json(StatusCode::OK, &health_of(&h)))
}

#[derive(Serialize)]
struct BulkHealthEntry {
    id: String,
    name: String,
    #[serde(flatten)]
    health: SessionHealth,
}

async fn bulk_health(app: Arc<App>) -> ApiResult {
    let all: Vec<_> = app
        .sessions
        .list()
        .iter()
        .map(|h| BulkHealthEntry {
            id: h.meta.id.to_string(),
            name: h.meta.name.clone(),
            health: health_of(h),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "sessions": all, "total": all.len() }),
    ))
}

async fn pane(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let snap = h.snapshot(None, Format::Text).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "pane": snap.output }),
    ))
}

async fn summary(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let body = serde_json::json!({
        "sessionId": h.meta.id.to_string(),
        "windowName": h.meta.name,
        "status": h.status().as_str(),
        // Transcript messages come from agent hooks/transcripts; none are known here yet.
        "totalMessages": 0,
        "messages": [],
        "createdAt": h.meta.created_at_ms,
        "lastActivity": h.counters.last_activity_ms.load(std::sync::atomic::Ordering::Relaxed),
        "permissionMode": "default",
    });
    Ok(json(StatusCode::OK, &body))
}

fn running(app: &App, id: &str) -> Result<SessionHandle, ApiError> {
    let h = app.sessions.get(id)?;
    if h.is_exited() {
        return Err(crate::session::actor::HandleError::Exited.into());
    }
    Ok(h)
}

async fn escape(app: Arc<App>, id: String) -> ApiResult {
    running(&app, &id)?
        .send_keys(&["Escape".to_owned()])
        .await?;
    Ok(json(StatusCode::OK, &super::wire::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandRequest {
    command: String,
}

/// Type `prefix + command` and Enter: `!cmd` runs a shell command in Claude Code, `/cmd` a
/// slash command. A prefix the client already included is not doubled.
async fn prefixed(app: Arc<App>, id: String, req: CommandRequest, prefix: char) -> ApiResult {
    let command = req.command.trim();
    if command.is_empty() || command == prefix.to_string() {
        return Err(ApiError::bad_request(
            "VALIDATION_ERROR",
            "command must not be empty",
        ));
    }
    let text = if command.starts_with(prefix) {
        command.to_owned()
    } else {
        format!("{prefix}{command}")
    };
    let h = running(&app, &id)?;
    let d = h.send_text(&text, true).await?;
    Ok(json(
        StatusCode::OK,
        &super::wire::SendResponse {
            ok: true,
            delivered: d.delivered,
            attempts: d.attempts,
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HandshakeRequest {
    protocol_version: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // reason: accepted for v0.3 clients; we do not negotiate features yet
    capabilities: Vec<String>,
}

async fn handshake(req: HandshakeRequest) -> ApiResult {
    if let Some(v) = req.protocol_version.as_deref()
        && v != PROTOCOL_VERSION
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "PROTOCOL_INCOMPATIBLE",
            format!(
                "protocol version {v:?} is not supported; this daemon speaks {PROTOCOL_VERSION:?}"
            ),
        ));
    }
    let body = serde_json::json!({
        "protocolVersion": PROTOCOL_VERSION,
        "compatible": true,
        "capabilities": CAPABILITIES,
        "serverVersion": env!("CARGO_PKG_VERSION"),
    });
    Ok(json(StatusCode::OK, &body))
}

/// The v0.3 compatibility routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    use warp::path;
    let limit = app.config.max_body_bytes;
    let s = path("sessions");
    let bulk = s
        .and(path!("health"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|a| async { finish(bulk_health(a).await) });
    let one = s
        .and(path!(String / "health"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|id, a| async { finish(session_health(a, id).await) });
    let pane = s
        .and(path!(String / "pane"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|id, a| async { finish(pane(a, id).await) });
    let summary = s
        .and(path!(String / "summary"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|id, a| async { finish(summary(a, id).await) });
    let escape = s
        .and(path!(String / "escape"))
        .and(warp::post())
        .and(with_app(&app))
        .then(|id, a| async { finish(escape(a, id).await) });
    let bash = s
        .and(path!(String / "bash"))
        .and(warp::post())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|id, a, b| async { finish(prefixed(a, id, b, '!').await) });
    let command = s
        .and(path!(String / "command"))
        .and(warp::post())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|id, a, b| async { finish(prefixed(a, id, b, '/').await) });
    let handshake = path!("handshake")
        .and(warp::post())
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .then(|b: warp::hyper::body::Bytes| async move {
            let req = if b.is_empty() {
                Ok(HandshakeRequest::default())
            } else {
                serde_json::from_slice(&b)
            };
            match req {
                Ok(r) => finish(handshake(r).await),
                Err(e) => {
                    ApiError::bad_request("INVALID_JSON", format!("invalid request body: {e}"))
                        .into_response()
                }
            }
        });
    bulk.or(one)
        .unify()
        .or(pane)
        .unify()
        .or(summary)
        .unify()
        .or(escape)
        .unify()
        .or(bash)
        .unify()
        .or(command)
        .unify()
        .or(handshake)
        .unify()
        .boxed()
}
