//! Routes that Aegis v0.3 clients (its MCP server above all) call, with the shapes they read:
//! per-session and bulk health, the raw pane, escape, `!bash` and `/command` input, the
//! summary, and the protocol handshake. The shapes are pinned by `tests/compat.rs` and its
//! independent v0.3 client, `tests/support/bin/v03_contract_client.py`.
//!
//! These routes are composed before the generic session routes, because `GET
//! /sessions/health` would otherwise be read as a session named "health".

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{json_body, optional_json_body, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json, json_sorted};
use super::route::{self, Table};
use crate::clock::now_ms;
use crate::screen::Format;
use crate::session::SessionHandle;

/// The protocol version this daemon speaks, as v0.3's handshake defines it.
pub const PROTOCOL_VERSION: &str = "1";

/// What this daemon can do, in v0.3's capability vocabulary. Only what is true here:
/// - `session.resume`: `resumeSessionId` on create (Claude `--resume`, Codex `resume`);
/// - `session.events.sse` and `session.events.cursor`: SSE with `Last-Event-ID` replay;
/// - `hooks.*`: the Claude Code hook events v0.3 names that our settings file registers and
///   `/v1/hooks/<Event>` consumes (see `crate::hooks::EVENTS`).
///
/// Left out: `session.transcript` and `session.transcript.cursor` (our `/transcript` serves
/// recorded terminal output, not v0.3's transcript messages, so a client gated on them would
/// misread it) and `session.screenshot` (no screenshot route).
pub const CAPABILITIES: &[&str] = &[
    "session.create",
    "session.resume",
    "session.approve",
    "session.events.sse",
    "session.events.cursor",
    "hooks.pre_tool_use",
    "hooks.post_tool_use",
    "hooks.notification",
    "hooks.stop",
    "swarm",
    "metrics",
];

/// `GET /v1/sessions/{id}/health` (v0.3's shape).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionHealth {
    /// The agent's process runs.
    alive: bool,
    /// Always true while the session exists: there is no tmux window to lose.
    window_exists: bool,
    /// Whether the agent's own process still runs (for any agent type, not only Claude).
    claude_running: bool,
    /// The terminal's foreground command, as `tmux #{pane_current_command}` reports it.
    pane_command: Option<String>,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    status: &'static str,
    /// Claude's JSONL transcript exists (from the SessionStart hook).
    has_transcript: bool,
    /// Epoch milliseconds of the last output.
    last_activity: u64,
    /// Milliseconds since the last output.
    last_activity_ago: u64,
    /// Milliseconds since the session was created.
    session_age: u64,
    /// The same in words.
    details: String,
}

fn health_of(app: &App, h: &SessionHandle) -> SessionHealth {
    let has_transcript = app
        .sessions
        .hooks
        .get(&h.meta.id)
        .is_some_and(|l| l.facts(|f| f.transcript_path.as_ref().is_some_and(|p| p.is_file())));
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
            crate::pty::foreground(h.meta.pid).and_then(|f| f.holder.map(|h| h.name))
        } else {
            None
        },
        status: live.status.as_str(),
        has_transcript,
        last_activity: last,
        last_activity_ago: now.saturating_sub(last),
        session_age: now.saturating_sub(h.meta.created_at_ms),
        details,
    }
}

async fn session_health(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    Ok(json(StatusCode::OK, &health_of(&app, &h)))
}

/// One session of `GET /v1/sessions/health`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "SessionHealthEntry")]
struct BulkHealthEntry {
    id: String,
    name: String,
    #[serde(flatten)]
    health: SessionHealth,
}

/// `GET /v1/sessions/health`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "SessionsHealth")]
pub(crate) struct BulkHealth {
    sessions: Vec<BulkHealthEntry>,
    total: usize,
}

/// `GET /v1/sessions/{id}/pane`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Pane {
    /// The screen as text.
    pane: String,
}

/// A message of a summary: a transcript message without its tool details.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SummaryMessage {
    #[schemars(schema_with = "crate::api::transcript::roles")]
    role: &'static str,
    #[schemars(schema_with = "crate::api::transcript::content_types")]
    content_type: &'static str,
    text: String,
}

/// `GET /v1/sessions/{id}/summary`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SessionSummary")]
pub(crate) struct Summary {
    session_id: String,
    window_name: String,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    status: &'static str,
    #[schemars(schema_with = "crate::api::schemas::ui_state")]
    ui_state: &'static str,
    /// Messages in the transcript; `messages` holds the last 50.
    total_messages: u64,
    messages: Vec<SummaryMessage>,
    /// Epoch milliseconds.
    created_at: u64,
    /// Epoch milliseconds of the last output.
    last_activity: u64,
    #[schemars(schema_with = "crate::api::schemas::permission_mode")]
    permission_mode: &'static str,
}

/// How a handshake went.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "HandshakeResponse")]
pub(crate) struct Handshake {
    protocol_version: &'static str,
    compatible: bool,
    /// Everything this daemon offers (v0.3's name).
    capabilities: &'static [&'static str],
    /// The same.
    server_capabilities: &'static [&'static str],
    /// The client's capabilities this daemon offers; all of them when the client named none.
    negotiated_capabilities: Vec<&'static str>,
    warnings: Vec<String>,
    server_version: &'static str,
}

async fn bulk_health(app: Arc<App>) -> ApiResult {
    let all: Vec<_> = app
        .sessions
        .list()
        .iter()
        .map(|h| BulkHealthEntry {
            id: h.meta.id.to_string(),
            name: h.meta.name.clone(),
            health: health_of(&app, h),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &BulkHealth {
            total: all.len(),
            sessions: all,
        },
    ))
}

async fn pane(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let snap = h.snapshot(None, Format::Text).await?;
    Ok(json(StatusCode::OK, &Pane { pane: snap.output }))
}

async fn summary(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let t = super::transcript::view(&app, &h).await;
    // The summary carries the recent conversation only, without tool ids.
    let messages: Vec<_> = t
        .messages
        .iter()
        .rev()
        .take(SUMMARY_MESSAGES)
        .rev()
        .map(|m| SummaryMessage {
            role: m.role,
            content_type: m.content_type,
            text: m.text.clone(),
        })
        .collect();
    let body = Summary {
        session_id: h.meta.id.to_string(),
        window_name: h.meta.name.clone(),
        status: h.status().as_str(),
        ui_state: super::sessions::info(&app, &h).ui_state,
        total_messages: t.total_messages,
        messages,
        created_at: h.meta.created_at_ms,
        last_activity: h
            .counters
            .last_activity_ms
            .load(std::sync::atomic::Ordering::Relaxed),
        permission_mode: h.meta.permission_mode.as_str(),
    };
    Ok(json(StatusCode::OK, &body))
}

fn running(app: &App, id: &str) -> Result<SessionHandle, ApiError> {
    let h = app.sessions.get(id)?;
    if h.is_exited() {
        return Err(crate::session::HandleError::Exited.into());
    }
    Ok(h)
}

async fn escape(app: Arc<App>, id: String) -> ApiResult {
    running(&app, &id)?
        .send_keys(&["Escape".to_owned()])
        .await?;
    Ok(json(StatusCode::OK, &super::wire::OK))
}

/// `POST /v1/sessions/{id}/bash` and `/command` body.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandRequest {
    /// The command, with or without its `!` or `/`.
    command: String,
}

/// Type `prefix + command` and Enter: `!cmd` runs a shell command in Claude Code, `/cmd` a
/// slash command. A prefix the client already included is not doubled.
async fn prefixed(app: Arc<App>, id: String, req: CommandRequest, prefix: char) -> ApiResult {
    let command = req.command.trim();
    if command.is_empty() || command == prefix.to_string() {
        return Err(ApiError::invalid("command must not be empty"));
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

/// Messages in a summary: the recent ones (the full list is on `read`).
const SUMMARY_MESSAGES: usize = 50;

/// `POST /v1/sessions/{id}/answer` body: the answer to the question on screen.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(rename = "QuestionAnswerRequest")]
struct AnswerRequest {
    /// Echoed back; we have no question ids of our own (the question is whatever is on screen).
    question_id: Option<String>,
    /// An option's number picks it; any other text is typed and submitted.
    answer: String,
}

/// `POST /v1/sessions/{id}/answer`: how the answer was delivered.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "AnswerResponse")]
struct Answered {
    ok: bool,
    /// The request's `questionId`, echoed.
    question_id: Option<String>,
    delivered: bool,
    attempts: u32,
}

/// Answer the question on screen (AskUserQuestion): an option number picks that option with
/// its digit; any other text is typed and submitted.
async fn answer(app: Arc<App>, id: String, req: AnswerRequest) -> ApiResult {
    let h = running(&app, &id)?;
    if h.status() != crate::vocab::SessionStatus::Question {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoPendingQuestion,
            format!("no question is pending (status {})", h.status().as_str()),
        ));
    }
    let answer = req.answer.trim();
    if answer.is_empty() {
        return Err(ApiError::invalid("answer must not be empty"));
    }
    let (delivered, attempts) = if answer.len() <= 2 && answer.bytes().all(|b| b.is_ascii_digit()) {
        h.send_keys(&[answer.to_owned()]).await?;
        (true, 1)
    } else {
        let d = h.send_text(answer, true).await?;
        (d.delivered, d.attempts)
    };
    let body = Answered {
        ok: true,
        question_id: req.question_id,
        delivered,
        attempts,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// `POST /v1/handshake` body (optional). Unknown fields are ignored, as v0.3 does.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::schemas::Alias("capabilities", "clientCapabilities"))]
pub(crate) struct HandshakeRequest {
    /// The protocol the client speaks; another than ours is refused.
    protocol_version: Option<String>,
    /// What the client can use (`capabilities` is accepted in its place); the answer's
    /// `negotiatedCapabilities` is the intersection with ours, or all of ours when this is
    /// absent or empty.
    #[serde(default, alias = "capabilities")]
    client_capabilities: Vec<String>,
}

async fn handshake(req: HandshakeRequest) -> ApiResult {
    if let Some(v) = req.protocol_version.as_deref()
        && v != PROTOCOL_VERSION
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ProtocolIncompatible,
            format!(
                "protocol version {v:?} is not supported; this daemon speaks {PROTOCOL_VERSION:?}"
            ),
        ));
    }
    let mut warnings = Vec::new();
    let negotiated: Vec<&str> = if req.client_capabilities.is_empty() {
        CAPABILITIES.to_vec()
    } else {
        let unknown: Vec<&str> = req
            .client_capabilities
            .iter()
            .map(String::as_str)
            .filter(|c| !CAPABILITIES.contains(c))
            .collect();
        if !unknown.is_empty() {
            warnings.push(format!(
                "capabilities not offered here: {}",
                unknown.join(", ")
            ));
        }
        CAPABILITIES
            .iter()
            .copied()
            .filter(|c| req.client_capabilities.iter().any(|x| x == c))
            .collect()
    };
    let body = Handshake {
        protocol_version: PROTOCOL_VERSION,
        compatible: true,
        capabilities: CAPABILITIES,
        server_capabilities: CAPABILITIES,
        negotiated_capabilities: negotiated,
        warnings,
        server_version: env!("CARGO_PKG_VERSION"),
    };
    Ok(json(StatusCode::OK, &body))
}

/// The v0.3 compatibility routes.
pub fn routes(t: &mut Table) {
    t.on(
        route::get("/sessions/health").answers::<BulkHealth>(),
        bulk_health,
    );
    t.on_one(
        route::get("/sessions/{id}/health").answers::<SessionHealth>(),
        session_health,
    );
    t.on_one(route::get("/sessions/{id}/pane").answers::<Pane>(), pane);
    t.on_one(
        route::get("/sessions/{id}/summary").answers::<Summary>(),
        summary,
    );
    t.on_one(
        route::post("/sessions/{id}/escape").answers::<super::wire::Ok>(),
        escape,
    );
    for (path, prefix) in [
        ("/sessions/{id}/bash", '!'),
        ("/sessions/{id}/command", '/'),
    ] {
        t.route(
            route::post(path)
                .body::<CommandRequest>()
                .answers::<super::wire::SendResponse>(),
            move |p, app| {
                p.one()
                    .and(with_app(app))
                    .and(json_body(app.config.max_body_bytes))
                    .then(move |id, a, b| async move { finish(prefixed(a, id, b, prefix).await) })
            },
        );
    }
    t.on_one_body(
        route::post("/sessions/{id}/answer")
            .body::<AnswerRequest>()
            .answers::<Answered>(),
        answer,
    );
    t.route(
        route::post("/handshake")
            .optional_body::<HandshakeRequest>()
            .answers::<Handshake>(),
        |p, app| {
            p.none()
                .and(optional_json_body::<HandshakeRequest>(
                    app.config.max_body_bytes,
                ))
                .then(|r| async { finish(handshake(r).await) })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `hooks.*` capability is claimed only for a hook event the settings file registers.
    #[test]
    fn hook_capabilities_are_registered_events() {
        let mut hooks = 0;
        for cap in CAPABILITIES {
            let Some(name) = cap.strip_prefix("hooks.") else {
                continue;
            };
            hooks += 1;
            let camel: String = name
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            assert!(
                crate::hooks::EVENTS.contains(&camel.as_str()),
                "{cap}: {camel}"
            );
        }
        assert_eq!(hooks, 4);
    }
}
