//! Lineage and lifecycle: spawn a child session, list children, fork a session, and the
//! lifecycle actions `complete` and `reset`, with their wire shapes.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::bad;
use crate::api::App;
use crate::api::create::to_spec;
use crate::api::error::ApiError;
use crate::api::reply::{ApiResult, json, json_sorted};
use crate::api::route::{self, Table};
use crate::api::wire::{self, CreateSessionRequest, SessionInfo};
use crate::clock::now_ms;
use crate::orchestrate::{self, Completion, lineage};
use crate::session::SessionHandle;
use crate::vocab::AgentType;

/// `POST /v1/sessions/{id}/spawn` body: a child session, started like its parent (same
/// agent, base command, permission mode, workDir and environment) unless told otherwise.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpawnRequest {
    /// The child's first prompt.
    pub prompt: Option<String>,
    pub name: Option<String>,
    /// Default: the parent's.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: Option<String>,
    /// Default: the parent's base command when the agent is the same.
    pub command: Option<Vec<String>>,
    /// Default: the parent's.
    pub work_dir: Option<String>,
    /// Default: the parent's.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::permission_mode")]
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
    let children: Vec<SessionInfo> = app
        .sessions
        .list()
        .iter()
        .filter(|h| h.meta.parent_id == Some(parent.meta.id))
        .map(SessionInfo::of)
        .collect();
    let total = children.len();
    let body = Children {
        parent_id: parent.meta.id,
        children,
        total,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// `GET /v1/sessions/{id}/children`: the sessions spawned from this one.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ChildrenResponse")]
pub struct Children {
    #[schemars(with = "String")]
    parent_id: uuid::Uuid,
    children: Vec<SessionInfo>,
    total: usize,
}

/// `POST /v1/sessions/{id}/fork` body (optional): a new session in the same workDir,
/// environment, agent and permissions, continuing the agent's conversation where the agent
/// can.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(transform = crate::api::schemas::Alias("claudeSessionId", "conversationId"))]
pub struct ForkRequest {
    pub name: Option<String>,
    /// The fork's first prompt.
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
    let context = match (m.agent_type, &opts.resume_session_id) {
        (AgentType::Claude, Some(_)) => "forked conversation (claude --resume --fork-session)",
        (AgentType::Codex, Some(_)) => {
            "resumed conversation (codex resume; shared with the parent)"
        }
        _ => "fresh conversation: same workDir, environment, agent and permissions, no history",
    };
    let body = Fork {
        session: SessionInfo::of(&h),
        forked_from: m.id,
        context,
    };
    Ok(json_sorted(StatusCode::CREATED, &body))
}

/// `POST /v1/sessions/{id}/fork`: the new session, and what it continues.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ForkedSession")]
pub struct Fork {
    #[serde(flatten)]
    session: SessionInfo,
    /// The session it was forked from.
    #[schemars(with = "String")]
    forked_from: uuid::Uuid,
    /// What the fork continues: the agent's conversation (forked or resumed), or a fresh one.
    context: &'static str,
}

/// `POST /v1/sessions/{id}/complete` body: the client declares the session's task done.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[schemars(schema_with = "complete_status")]
    pub status: String,
    #[schemars(length(max = MAX_COMMENT))]
    pub comment: Option<String>,
}

fn complete_status(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": COMPLETE_STATUSES})
}

/// `POST /v1/sessions/{id}/complete`: what was recorded.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "CompleteResponse")]
pub struct Completed {
    ok: bool,
    #[schemars(with = "String")]
    session_id: uuid::Uuid,
    #[schemars(schema_with = "complete_status")]
    status: String,
    comment: Option<String>,
    /// Epoch milliseconds.
    completed_at: u64,
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
    let body = Completed {
        ok: true,
        session_id: h.meta.id,
        status: c.status,
        comment: c.comment,
        completed_at: c.at_ms,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

async fn reset(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    h.reset_screen().await?;
    Ok(json(StatusCode::OK, &wire::OK))
}

/// The routes of this group (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on_one_body(
        route::post("/sessions/{id}/spawn")
            .body::<SpawnRequest>()
            .creates::<SessionInfo>(),
        spawn,
    );
    t.on_one(
        route::get("/sessions/{id}/children").answers::<Children>(),
        children,
    );
    t.on_one_optional_body(
        route::post("/sessions/{id}/fork")
            .optional_body::<ForkRequest>()
            .creates::<Fork>(),
        fork,
    );
    t.on_one_body(
        route::post("/sessions/{id}/complete")
            .body::<CompleteRequest>()
            .answers::<Completed>(),
        complete,
    );
    t.on_one(
        route::post("/sessions/{id}/reset").answers::<wire::Ok>(),
        reset,
    );
}
