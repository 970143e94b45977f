//! `POST /v1/hooks/:event?sessionId=<id>`: Claude Code's HTTP hooks (see `crate::hooks`).
//!
//! These routes sit outside the API-token guard and are authenticated only by the session's
//! `X-Hook-Secret` (constant-time compare). The API token is never accepted in its place, a
//! wrong or missing secret (or an unknown session) is a 401 that changes nothing, and the
//! secret is never logged. The secret is checked before the body is even parsed.
//!
//! What each event does:
//! - `UserPromptSubmit`, `PreToolUse`, `PostToolUse`, `PostToolUseFailure`, `SubagentStart`:
//!   the session is working.
//! - `Stop`: idle. `StopFailure`: error.
//! - `PermissionRequest`: the structured request (tool name and input) is held open until it is
//!   approved or rejected (the reply carries the decision), the screen shows something else
//!   than a dialog, or [`crate::hooks::PERMISSION_HOLD`] passes (the reply is `{}` and Claude's
//!   own dialog takes over). A question tool's request (AskUserQuestion) is not held: it is a
//!   question, read from the screen.
//! - Every event: Claude's session id and transcript path, when they are new (enables
//!   `messages` and `tokenUsage`). Claude Code sends them with each hook; it runs no HTTP
//!   hook for `SessionStart`, so they are learnt from the first hook of any kind.
//! - `PreCompact` / `PostCompact`: the `compacting` uiState.
//! - Every other registered event is recorded (last event, count) and answered `{}`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{query, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json_sorted};
use super::route::{self, Table};
use crate::events::EventDetail;
use crate::events::detail::PermissionAsked;
use crate::permissions::hook::HookDecision;
use crate::vocab::SessionStatus;

/// What Claude Code posts to a hook: the fields read here. It sends more (`cwd`,
/// `hook_event_name`, `prompt`, ...), which are accepted and not read.
#[derive(Debug, Default, Deserialize, JsonSchema)]
struct HookPayload {
    /// Claude's own session id (every event).
    session_id: Option<String>,
    /// Claude's JSONL transcript, an absolute path (every event).
    transcript_path: Option<String>,
    /// The tool asking (PermissionRequest, PreToolUse, PostToolUse).
    tool_name: Option<String>,
    /// Its input, as the tool received it.
    tool_input: Option<Value>,
}

/// What a hook call answers: `{}` (carry on), or a PermissionRequest's decision.
#[derive(Debug, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HookReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    hook_specific_output: Option<HookOutput>,
}

/// A decided PermissionRequest, as Claude Code reads it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HookOutput {
    /// Always PermissionRequest.
    hook_event_name: &'static str,
    decision: HookVerdict,
}

fn behaviours(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": ["allow", "deny"]})
}

/// The decision on a PermissionRequest.
#[derive(Debug, Serialize, JsonSchema)]
struct HookVerdict {
    #[schemars(schema_with = "behaviours")]
    behavior: &'static str,
    /// Why, shown to the agent (a rejection's feedback).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn refused() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidHookSecret,
        "missing or wrong X-Hook-Secret for this session",
    )
}

/// A hook call's query: which session it is for (the settings file Aegis wrote for the
/// session puts it in the hook's URL).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct HookQuery {
    /// The session's id; a missing or unknown one is refused like a wrong secret.
    #[schemars(schema_with = "crate::api::schemas::uuid")]
    session_id: Option<String>,
}

async fn hook(
    app: Arc<App>,
    event: String,
    q: HookQuery,
    secret: Option<String>,
    body: warp::hyper::body::Bytes,
) -> ApiResult {
    let arrived = std::time::Instant::now();
    // Authenticate first; an unknown session looks exactly like a wrong secret.
    let id = q
        .session_id
        .as_deref()
        .and_then(|s| uuid::Uuid::parse_str(s).ok());
    let link = id.and_then(|id| app.sessions.hooks.get(&id));
    let Some(link) = link.filter(|l| secret.as_deref().is_some_and(|s| l.check(s))) else {
        tracing::warn!(%event, session = ?q.session_id, "hook call refused: wrong or missing secret");
        return Err(refused());
    };
    let Some(event) = crate::hooks::EVENTS.iter().find(|e| **e == event) else {
        return Err(ApiError::invalid(format!("unknown hook event {event:?}")));
    };
    let mut payload: HookPayload = if body.iter().all(u8::is_ascii_whitespace) {
        HookPayload::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(ErrorCode::InvalidJson, format!("invalid hook payload: {e}"))
        })?
    };
    let h = app.sessions.get(&link.session.to_string())?;
    link.facts(|f| {
        f.last_event = Some(((*event).to_owned(), crate::clock::now_ms()));
        f.events += 1;
        *f.by_event.entry((*event).to_owned()).or_default() += 1;
    });
    tracing::debug!(session = %h.meta.id, event, "hook");
    if *event == "PreToolUse" {
        crate::metrics::global().tool_call(h.meta.id);
    }
    // Every hook payload names Claude's session and transcript. Claude Code 2.1 skips HTTP
    // hooks for SessionStart, so the first hook of any kind tells them (and a `/clear`, which
    // starts a new conversation, is followed as the ids change).
    let transcript = payload
        .transcript_path
        .take()
        .filter(|p| p.starts_with('/'))
        .map(std::path::PathBuf::from);
    let known = link.facts(|f| (f.claude_session_id.clone(), f.transcript_path.clone()));
    if (payload.session_id.is_some() && payload.session_id != known.0)
        || (transcript.is_some() && transcript != known.1)
    {
        link.set_transcript(payload.session_id.take(), transcript);
        // A restarted daemon needs these to find the transcript again.
        app.sessions.hooks.facts_changed.notify_one();
    }
    let claim = match *event {
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" | "PostToolUseFailure"
        | "SubagentStart" => Some(SessionStatus::Working),
        "Stop" => Some(SessionStatus::Idle),
        "StopFailure" => Some(SessionStatus::Error),
        "PreCompact" => {
            link.facts(|f| f.compacting = true);
            None
        }
        "PostCompact" => {
            link.facts(|f| f.compacting = false);
            None
        }
        "PermissionRequest" => return permission(&app, &h, payload).await,
        _ => None,
    };
    if claim.is_some() {
        link.facts(|f| f.compacting = false);
        h.nudge(claim, event).await;
        // v0.3's hook latency: from the hook call's arrival to its state reaching the session.
        crate::metrics::global().hook_latency(h.meta.id, arrived.elapsed().as_secs_f64() * 1e3);
    }
    Ok(json_sorted(StatusCode::OK, &HookReply::default()))
}

/// Tools whose "permission" is really a question to the user: Claude Code fires its
/// permission hooks for them too, but the dialog asks for a choice, not an approval. Such a
/// request is not held: Claude draws its own dialog, which the screen reads as a question
/// (answered with `/answer`).
const QUESTION_TOOLS: &[&str] = &["AskUserQuestion"];

/// Hold a PermissionRequest open until it is decided, the session ends, or the hold passes.
async fn permission(
    app: &App,
    h: &crate::session::SessionHandle,
    payload: HookPayload,
) -> ApiResult {
    let tool_name = payload.tool_name.unwrap_or_else(|| "unknown".to_owned());
    if QUESTION_TOOLS.contains(&tool_name.as_str()) {
        tracing::debug!(session = %h.meta.id, tool = %tool_name, "question tool: left to the agent's own dialog");
        h.nudge(None, "PermissionRequest").await;
        return Ok(json_sorted(StatusCode::OK, &HookReply::default()));
    }
    let tool_input = payload.tool_input.unwrap_or(Value::Null);
    let (request, decision) = h.perms.hook_open(tool_name, tool_input);
    tracing::info!(session = %h.meta.id, permission = %request.id, tool = %request.tool_name, "permission requested by hook");
    let detail = EventDetail::PermissionRequested(Box::new(PermissionAsked {
        request: request.as_permission(),
        agent_type: h.meta.agent_type,
        hook: Some(request.clone()),
    }));
    app.sessions.bus.publish(
        crate::events::EventKind::PermissionRequested,
        &h.meta,
        Some(h.status()),
        Some(SessionStatus::PermissionPrompt),
        detail,
    );
    h.nudge(None, "PermissionRequest").await;
    let exited = h.wait_for(
        |s| s.status == SessionStatus::Exited,
        crate::hooks::PERMISSION_HOLD,
    );
    let reply = tokio::select! {
        d = decision => d.ok(),
        _ = exited => None,
    };
    let body = match reply {
        Some(d) => hook_reply(&d),
        None => {
            if h.perms.hook_drop(Some(request.id)).is_some() {
                tracing::info!(session = %h.meta.id, permission = %request.id, "hook permission request released undecided");
                h.nudge(None, "PermissionRequest released").await;
            }
            HookReply::default()
        }
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// The hook routes (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    let spec = route::post("/hooks/{event}")
        .optional_body::<HookPayload>()
        .answers::<HookReply>()
        .query::<HookQuery>();
    t.route(spec, |p, app| {
        p.one()
            .and(with_app(app))
            .and(query::<HookQuery>())
            .and(warp::header::optional::<String>("x-hook-secret"))
            .and(warp::body::content_length_limit(app.config.max_body_bytes))
            .and(warp::body::bytes())
            .then(|event, a, q, s, b| async move { finish(hook(a, event, q, s, b).await) })
    });
}

/// The reply Claude Code reads for a decided PermissionRequest hook:
/// `{"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":..}}}`.
fn hook_reply(d: &HookDecision) -> HookReply {
    HookReply {
        hook_specific_output: Some(HookOutput {
            hook_event_name: "PermissionRequest",
            decision: HookVerdict {
                behavior: if d.allow { "allow" } else { "deny" },
                message: d.message.clone(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_reply_has_the_documented_shape() {
        let r = hook_reply(&HookDecision {
            allow: false,
            message: Some("no".into()),
        });
        assert_eq!(
            crate::api::wire::to_value(&r),
            serde_json::json!({"hookSpecificOutput":{"hookEventName":"PermissionRequest","decision":{"behavior":"deny","message":"no"}}})
        );
    }
}
