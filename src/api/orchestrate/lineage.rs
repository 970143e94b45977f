//! Lineage and lifecycle: spawn a child session, list children, fork a session, and the
//! lifecycle actions `complete` and `reset`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::http::StatusCode;

use super::bad;
use crate::api::App;
use crate::api::create::to_spec;
use crate::api::error::ApiError;
use crate::api::reply::{ApiResult, json};
use crate::api::route::{self, Table};
use crate::api::wire::{CreateSessionRequest, SessionInfo};
use crate::clock::now_ms;
use crate::orchestrate::{self, Completion, lineage};
use crate::session::SessionHandle;
use crate::vocab::AgentType;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpawnRequest {
    pub prompt: Option<String>,
    pub name: Option<String>,
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    /// v0.3: defaults to the parent's.
    pub work_dir: Option<String>,
    /// v0.3: defaults to the parent's.
    pub permission_mode: Option<String>,
    /// Added to (and overriding) the parent's environment.
    pub env: Option<BTreeMap<String, String>>,
}

/// A request that starts `agent` like `parent` (same base command and permission mode when
/// the agent is the same), in the parent's workDir and environment.
pub(super) fn child_request(
    parent: &SessionHandle,
    req: SpawnRequest,
) -> Result<CreateSessionRequest, ApiError> {
    let m = &parent.meta;
    let agent = req
        .agent_type
        .clone()
        .unwrap_or_else(|| m.agent_type.as_str().to_owned());
    let same = agent == m.agent_type.as_str();
    let parent_mode = (m.permission_mode != crate::vocab::PermissionMode::Default)
        .then(|| m.permission_mode.as_str().to_owned());
    let (command, mode) = match req.command {
        Some(c) => (Some(c), req.permission_mode),
        None if same => (
            Some(lineage::base_argv(m.agent_type, &m.command).0),
            req.permission_mode.or(parent_mode),
        ),
        None => (None, req.permission_mode),
    };
    let mut env: BTreeMap<String, String> = m.env.iter().cloned().collect();
    env.extend(req.env.unwrap_or_default());
    Ok(CreateSessionRequest {
        work_dir: Some(
            req.work_dir
                .unwrap_or_else(|| m.work_dir.display().to_string()),
        ),
        name: req.name,
        agent_type: Some(agent),
        command,
        env: Some(env),
        permission_mode: mode,
        parent_id: Some(m.id.to_string()),
        ..Default::default()
    })
}

async fn spawn(app: Arc<App>, id: String, req: SpawnRequest) -> ApiResult {
    let parent = app.sessions.get(&id)?;
    let prompt = req.prompt.clone();
    let mut spec = to_spec(child_request(&parent, req)?)?;
    spec.prompt = prompt;
    let h = orchestrate::launch(&app.sessions, spec, Some(parent.perms.policy())).await?;
    Ok(json(StatusCode::CREATED, &SessionInfo::of(&h)))
}

async fn children(app: Arc<App>, id: String) -> ApiResult {
    let parent = app.sessions.get(&id)?;
    let kids: Vec<SessionInfo> = app
        .sessions
        .list()
        .iter()
        .filter(|h| h.meta.parent_id == Some(parent.meta.id))
        .map(SessionInfo::of)
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "parentId": parent.meta.id, "children": kids, "total": kids.len() }),
    ))
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForkRequest {
    pub name: Option<String>,
    pub prompt: Option<String>,
    /// The agent's own conversation id to fork (Claude session id, Codex rollout id), when
    /// the parent was not started with one.
    #[serde(alias = "claudeSessionId")]
    pub conversation_id: Option<String>,
}

async fn fork(app: Arc<App>, id: String, req: ForkRequest) -> ApiResult {
    let parent = app.sessions.get(&id)?;
    let m = &parent.meta;
    let learned = app
        .sessions
        .hooks
        .get(&m.id)
        .and_then(|link| link.facts(|f| f.claude_session_id.clone()));
    let (base, opts) = lineage::fork_launch(
        m.agent_type,
        &m.command,
        m.permission_mode,
        lineage::KnownConversation {
            requested: req.conversation_id.clone(),
            learned,
        },
    );
    let creq = CreateSessionRequest {
        work_dir: Some(m.work_dir.display().to_string()),
        name: req.name,
        agent_type: Some(m.agent_type.as_str().to_owned()),
        command: Some(base),
        env: Some(m.env.iter().cloned().collect()),
        permission_mode: (m.permission_mode != crate::vocab::PermissionMode::Default)
            .then(|| m.permission_mode.as_str().to_owned()),
        resume_session_id: opts.resume_session_id.clone(),
        ..Default::default()
    };
    let mut spec = to_spec(creq)?;
    spec.prompt = req.prompt;
    let h = orchestrate::launch(&app.sessions, spec, Some(parent.perms.policy())).await?;
    let mut body = serde_json::to_value(SessionInfo::of(&h)).unwrap_or(Value::Null);
    body["forkedFrom"] = json!(m.id);
    body["context"] = json!(match (m.agent_type, &opts.resume_session_id) {
        (AgentType::Claude, Some(_)) => "forked conversation (claude --resume --fork-session)",
        (AgentType::Codex, Some(_)) =>
            "resumed conversation (codex resume; shared with the parent)",
        _ => "fresh conversation: same workDir, environment, agent and permissions, no history",
    });
    Ok(json(StatusCode::CREATED, &body))
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub status: String,
    pub comment: Option<String>,
}

/// Accepted `complete` statuses.
const COMPLETE_STATUSES: [&str; 3] = ["completed", "failed", "cancelled"];

/// Longest completion comment kept.
const MAX_COMMENT: usize = 10_000;

async fn complete(app: Arc<App>, id: String, req: CompleteRequest) -> ApiResult {
    if !COMPLETE_STATUSES.contains(&req.status.as_str()) {
        return Err(bad(format!(
            "unknown status {:?}; allowed: {}",
            req.status,
            COMPLETE_STATUSES.join(", ")
        )));
    }
    if req.comment.as_ref().is_some_and(|c| c.len() > MAX_COMMENT) {
        return Err(bad(format!("comment is longer than {MAX_COMMENT} bytes")));
    }
    let h = app.sessions.get(&id)?;
    let c = Completion {
        status: req.status,
        comment: req.comment,
        at_ms: now_ms(),
    };
    app.orch.complete(h.meta.id, c.clone());
    app.sessions.bus.publish(
        crate::events::EventKind::SessionCompleted,
        &h.meta,
        None,
        None,
        crate::events::EventDetail::SessionCompleted {
            status: c.status.clone(),
            comment: c.comment.clone(),
        },
    );
    Ok(json(
        StatusCode::OK,
        &json!({ "ok": true, "sessionId": h.meta.id, "status": c.status, "comment": c.comment, "completedAt": c.at_ms }),
    ))
}

async fn reset(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    h.reset_screen().await?;
    Ok(json(StatusCode::OK, &json!({ "ok": true })))
}

/// The routes of this group (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on_one_body(route::post("/sessions/{id}/spawn"), spawn);
    t.on_one(route::get("/sessions/{id}/children"), children);
    t.on_one_optional_body(route::post("/sessions/{id}/fork"), fork);
    t.on_one_body(route::post("/sessions/{id}/complete"), complete);
    t.on_one(route::post("/sessions/{id}/reset"), reset);
}
