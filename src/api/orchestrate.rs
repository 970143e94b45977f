//! Routes of the orchestration layer (`crate::orchestrate`): lineage (spawn, children, fork),
//! templates, pipelines, consensus reviews, and the session lifecycle actions `complete` and
//! `reset`. The world and swarm views are in [`super::world`]. Request shapes accept the Aegis v0.3 spellings
//! too (`focusAreas`, `reviewerCount`, per-stage `workDir` and `permissionMode`).
//!
//! The orchestrator's state and the template store belong to `App` (one per daemon);
//! `POST /v1/sessions {template}` (in `sessions`) reads templates through [`expand_template`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{finish, json_body, optional_json_body, with_app};
use super::sessions::{ApiResult, json, to_spec};
use super::wire::{CreateSessionRequest, SessionInfo};
use crate::clock::now_ms;
use crate::orchestrate::templates::Template;
use crate::orchestrate::{self, Completion, Orchestrator, consensus, lineage, pipelines};
use crate::permissions::Policy;
use crate::permissions::policy::PolicyProfile;
use crate::session::SessionHandle;
use crate::vocab::AgentType;

type Orch = Arc<Orchestrator>;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid(msg)
}

// ---- templates ---------------------------------------------------------------------------

/// Fill a `POST /v1/sessions` request from its `template` (if any): template fields first,
/// the request's own fields override them, `vars` fill the placeholders. A missing variable
/// is a 400 that names it. Returns the request (without `template`) and the policy to apply.
pub fn expand_template(
    app: &App,
    mut req: CreateSessionRequest,
) -> Result<(CreateSessionRequest, Option<Policy>), ApiError> {
    let vars = req.vars.take().unwrap_or_default();
    let Some(name) = req.template.take() else {
        if !vars.is_empty() {
            return Err(bad("vars needs a template"));
        }
        return Ok((req, None));
    };
    let t = app
        .templates
        .get(&name)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::TemplateNotFound,
                format!("template not found: {name}"),
            )
        })?;
    let x = orchestrate::templates::expand(&t, &vars).map_err(|v| {
        ApiError::bad_request(
            ErrorCode::MissingVariable,
            format!("template {name:?} needs variable {v:?}, which vars does not give"),
        )
    })?;
    req.work_dir = req.work_dir.or(x.work_dir);
    req.prompt = req.prompt.or(x.prompt);
    req.agent_type = req.agent_type.or(t.agent_type.clone());
    req.command = req.command.or(t.command.clone());
    req.permission_mode = req.permission_mode.or(t.permission_mode.clone());
    let mut env = x.env;
    env.extend(req.env.take().unwrap_or_default());
    req.env = Some(env);
    let policy = t
        .permission_profile
        .as_deref()
        .and_then(PolicyProfile::parse)
        .map(|profile| Policy {
            profile,
            trust_folder: req.trust_folder,
            ..Policy::default()
        });
    Ok((req, policy))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !n.starts_with(['-', '.'])
}

fn validate_template(t: &Template) -> Result<(), ApiError> {
    if !valid_name(&t.name) {
        return Err(bad(format!(
            "invalid template name {:?}: use 1-128 letters, digits, '-', '_' or '.'",
            t.name
        )));
    }
    if let Some(a) = &t.agent_type
        && AgentType::parse(a).is_none()
    {
        return Err(bad(format!("unknown agentType {a:?}")));
    }
    if let Some(p) = &t.permission_profile
        && PolicyProfile::parse(p).is_none()
    {
        return Err(bad(format!(
            "unknown permissionProfile {p:?}; allowed: strict, restricted, default, permissive"
        )));
    }
    if let Some(m) = &t.permission_mode
        && crate::vocab::PermissionMode::parse(m).is_none()
    {
        return Err(bad(format!("unknown permissionMode {m:?}")));
    }
    if t.command.as_ref().is_some_and(|c| c.is_empty()) {
        return Err(bad("command must not be empty"));
    }
    for k in t.env.keys() {
        let ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(bad(format!("invalid environment variable name {k:?}")));
        }
    }
    if let Some(k) = t.vars.keys().find(|k| !valid_name(k)) {
        return Err(bad(format!("invalid variable name {k:?}")));
    }
    Ok(())
}

async fn put_template(app: Arc<App>, mut t: Template) -> ApiResult {
    validate_template(&t)?;
    t.created_at = now_ms();
    let replaced = app.templates.put(t.clone()).map_err(|e| match e {
        orchestrate::templates::StoreError::Full => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::TemplateLimit,
            e.to_string(),
        ),
        e => ApiError::internal(e.to_string()),
    })?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(status, &t))
}

async fn list_templates(app: Arc<App>) -> ApiResult {
    let all = app
        .templates
        .list()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json(
        StatusCode::OK,
        &json!({ "templates": all, "total": all.len() }),
    ))
}

fn template_404(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::TemplateNotFound,
        format!("template not found: {name}"),
    )
}

async fn get_template(app: Arc<App>, name: String) -> ApiResult {
    let t = app
        .templates
        .get(&name)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| template_404(&name))?;
    Ok(json(StatusCode::OK, &t))
}

async fn delete_template(app: Arc<App>, name: String) -> ApiResult {
    let gone = app
        .templates
        .delete(&name)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if !gone {
        return Err(template_404(&name));
    }
    Ok(json(StatusCode::OK, &json!({ "ok": true })))
}

// ---- lineage -----------------------------------------------------------------------------

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
fn child_request(
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

// ---- lifecycle ---------------------------------------------------------------------------

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

async fn complete(app: Arc<App>, orch: Orch, id: String, req: CompleteRequest) -> ApiResult {
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
    orch.complete(h.meta.id, c.clone());
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
    h.reset_screen(app.sessions.defaults.scrollback_lines)
        .await?;
    Ok(json(StatusCode::OK, &json!({ "ok": true })))
}

// ---- pipelines ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageRequest {
    pub name: String,
    pub prompt: String,
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    pub depends_on: Option<Vec<String>>,
    /// v0.3: a stage may name its own workDir.
    pub work_dir: Option<String>,
    pub permission_mode: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PipelineRequest {
    pub name: String,
    pub work_dir: Option<String>,
    pub stages: Vec<StageRequest>,
    /// Defaults for every stage.
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub permission_mode: Option<String>,
    /// Values for `{{var}}` placeholders in stage prompts (besides `stages.<name>.output`).
    pub vars: Option<BTreeMap<String, String>>,
    pub stage_timeout_ms: Option<u64>,
    pub stall_threshold_ms: Option<u64>,
    /// Leave the stage sessions running when the pipeline ends (default: they are killed).
    #[serde(default)]
    pub keep_sessions: bool,
}

async fn create_pipeline(app: Arc<App>, req: PipelineRequest) -> ApiResult {
    if req.name.trim().is_empty() || req.name.len() > 128 {
        return Err(bad("name must be 1 to 128 characters"));
    }
    let vars = req.vars.clone().unwrap_or_default();
    let mut stages = Vec::with_capacity(req.stages.len());
    for s in req.stages {
        if !valid_name(&s.name) {
            return Err(bad(format!(
                "invalid stage name {:?}: use letters, digits, '-', '_' or '.'",
                s.name
            )));
        }
        if s.prompt.trim().is_empty() {
            return Err(bad(format!("stage {:?} needs a prompt", s.name)));
        }
        // Fill pipeline vars now; stage outputs stay for the runner.
        let prompt = orchestrate::text::substitute(&s.prompt, |k| {
            if k.starts_with("stages.") {
                Some(format!("{{{{{k}}}}}"))
            } else {
                vars.get(k).cloned()
            }
        })
        .map_err(|v| {
            ApiError::bad_request(
                ErrorCode::MissingVariable,
                format!(
                    "stage {:?} uses variable {v:?}, which vars does not give",
                    s.name
                ),
            )
        })?;
        let mut env = req.env.clone().unwrap_or_default();
        env.extend(s.env.unwrap_or_default());
        let creq = CreateSessionRequest {
            work_dir: s.work_dir.or(req.work_dir.clone()),
            agent_type: s.agent_type.or(req.agent_type.clone()),
            command: s.command.or(req.command.clone()),
            env: Some(env),
            permission_mode: s.permission_mode.or(req.permission_mode.clone()),
            stall_threshold_ms: req.stall_threshold_ms,
            ..Default::default()
        };
        let session =
            to_spec(creq).map_err(|e| bad(format!("stage {:?}: {}", s.name, e.message)))?;
        if !session.work_dir.is_absolute() || !session.work_dir.is_dir() {
            return Err(bad(format!(
                "stage {:?}: workDir {} is not an existing absolute directory",
                s.name,
                session.work_dir.display()
            )));
        }
        stages.push(pipelines::StageSpec {
            name: s.name,
            prompt,
            depends_on: s.depends_on.unwrap_or_default(),
            session,
        });
    }
    pipelines::validate(&stages).map_err(bad)?;
    let work_dir = req
        .work_dir
        .map(Into::into)
        .unwrap_or_else(|| stages[0].session.work_dir.clone());
    let opts = pipelines::RunOptions {
        stage_timeout: req
            .stage_timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(pipelines::DEFAULT_STAGE_TIMEOUT),
        keep_sessions: req.keep_sessions,
    };
    let p = pipelines::start(app.orchestration(), req.name, work_dir, stages, opts);
    Ok(json(StatusCode::CREATED, &p.view()))
}

async fn list_pipelines(orch: Orch) -> ApiResult {
    // v0.3 answers a plain array.
    let all: Vec<_> = orch.pipelines.list().iter().map(|p| p.view()).collect();
    Ok(json(StatusCode::OK, &all))
}

fn pipeline_404(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::PipelineNotFound,
        format!("pipeline not found: {id}"),
    )
}

async fn get_pipeline(orch: Orch, id: String) -> ApiResult {
    let p = orch.pipelines.get(&id).ok_or_else(|| pipeline_404(&id))?;
    Ok(json(StatusCode::OK, &p.view()))
}

async fn delete_pipeline(app: Arc<App>, orch: Orch, id: String) -> ApiResult {
    let p = orch.pipelines.get(&id).ok_or_else(|| pipeline_404(&id))?;
    let cancelled = pipelines::cancel(&app.orchestration(), &p).await;
    let mut body = serde_json::to_value(p.view()).unwrap_or(Value::Null);
    body["cancelled"] = json!(cancelled);
    Ok(json(StatusCode::OK, &body))
}

// ---- consensus ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsensusRequest {
    #[serde(alias = "focusAreas")]
    pub criteria: Option<Vec<String>>,
    #[serde(alias = "reviewerCount")]
    pub reviewers: Option<usize>,
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    pub timeout_ms: Option<u64>,
    pub env: Option<BTreeMap<String, String>>,
}

/// Reviewers run wide so a verdict line is rarely wrapped (v0.3's panes were 220 wide).
const REVIEWER_COLS: u16 = 220;

/// Longest criterion name; criteria are short labels, and each appears in every prompt.
const MAX_CRITERION: usize = 200;

async fn start_consensus(app: Arc<App>, id: String, req: ConsensusRequest) -> ApiResult {
    let parent = app.sessions.get(&id)?;
    let criteria = req.criteria.unwrap_or_default();
    if criteria.is_empty()
        || criteria
            .iter()
            .any(|c| c.trim().is_empty() || c.len() > MAX_CRITERION || c.contains(['\n', '"']))
    {
        return Err(bad(format!(
            "criteria must be a non-empty list of one-line names (at most {MAX_CRITERION} bytes, no quotes)"
        )));
    }
    let n = req.reviewers.unwrap_or(3);
    if !(1..=consensus::MAX_REVIEWERS).contains(&n) {
        return Err(bad(format!(
            "reviewers must be 1 to {}",
            consensus::MAX_REVIEWERS
        )));
    }
    let timeout = match req.timeout_ms {
        Some(0) => return Err(bad("timeoutMs must be positive")),
        Some(ms) => Duration::from_millis(ms),
        None => consensus::DEFAULT_TIMEOUT,
    };
    let creq = child_request(
        &parent,
        SpawnRequest {
            agent_type: req.agent_type,
            command: req.command,
            env: req.env,
            ..Default::default()
        },
    )?;
    let mut spec = to_spec(creq)?;
    spec.cols = Some(REVIEWER_COLS);
    let review = consensus::start(app.orchestration(), parent, criteria, n, spec, timeout).await;
    Ok(json(StatusCode::ACCEPTED, &review.view()))
}

async fn get_consensus(orch: Orch, id: String) -> ApiResult {
    let r = orch.reviews.get(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ConsensusNotFound,
            format!("consensus review not found: {id}"),
        )
    })?;
    Ok(json(StatusCode::OK, &r.view()))
}

async fn list_consensus(orch: Orch) -> ApiResult {
    let all: Vec<_> = orch.reviews.list().iter().map(|r| r.view()).collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "reviews": all, "total": all.len() }),
    ))
}

// ---- routes ------------------------------------------------------------------------------

fn with_orch(
    o: &Orch,
) -> impl Filter<Extract = (Orch,), Error = std::convert::Infallible> + Clone + use<> {
    let o = o.clone();
    warp::any().map(move || o.clone())
}

/// The orchestration routes (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    use warp::path;
    let orch: Orch = app.orch.clone();
    let limit = app.config.max_body_bytes;
    let s = path("sessions");
    let spawn = s
        .and(path!(String / "spawn"))
        .and(warp::post())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|id, a, b| async { finish(spawn(a, id, b).await) });
    let children = s
        .and(path!(String / "children"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|id, a| async { finish(children(a, id).await) });
    let fork = s
        .and(path!(String / "fork"))
        .and(warp::post())
        .and(with_app(&app))
        .and(optional_json_body(limit))
        .then(|id, a, b| async { finish(fork(a, id, b).await) });
    let complete = s
        .and(path!(String / "complete"))
        .and(warp::post())
        .and(with_app(&app))
        .and(with_orch(&orch))
        .and(json_body(limit))
        .then(|id, a, o, b| async { finish(complete(a, o, id, b).await) });
    let reset = s
        .and(path!(String / "reset"))
        .and(warp::post())
        .and(with_app(&app))
        .then(|id, a| async { finish(reset(a, id).await) });
    let consensus = s
        .and(path!(String / "consensus"))
        .and(warp::post())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|id, a, b| async { finish(start_consensus(a, id, b).await) });
    let get_consensus = path!("consensus" / String)
        .and(warp::get())
        .and(with_orch(&orch))
        .then(|id, o| async { finish(get_consensus(o, id).await) });
    let list_consensus = path!("consensus")
        .and(warp::get())
        .and(with_orch(&orch))
        .then(|o| async { finish(list_consensus(o).await) });
    let templates = path!("templates");
    let list_t = templates
        .and(warp::get())
        .and(with_app(&app))
        .then(|a| async { finish(list_templates(a).await) });
    let put_t = templates
        .and(warp::post())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|a, b| async { finish(put_template(a, b).await) });
    let get_t = path!("templates" / String)
        .and(warp::get())
        .and(with_app(&app))
        .then(|n, a| async { finish(get_template(a, n).await) });
    let del_t = path!("templates" / String)
        .and(warp::delete())
        .and(with_app(&app))
        .then(|n, a| async { finish(delete_template(a, n).await) });
    let list_p = path!("pipelines")
        .and(warp::get())
        .and(with_orch(&orch))
        .then(|o| async { finish(list_pipelines(o).await) });
    let create_p = path!("pipelines")
        .and(warp::post())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|a, b| async { finish(create_pipeline(a, b).await) });
    let get_p = path!("pipelines" / String)
        .and(warp::get())
        .and(with_orch(&orch))
        .then(|id, o| async { finish(get_pipeline(o, id).await) });
    let del_p = path!("pipelines" / String)
        .and(warp::delete())
        .and(with_app(&app))
        .and(with_orch(&orch))
        .then(|id, a, o| async { finish(delete_pipeline(a, o, id).await) });
    // Boxed in small groups: one long chain of warp combinators is slow to type-check.
    let lineage = spawn
        .or(children)
        .unify()
        .or(fork)
        .unify()
        .or(complete)
        .unify()
        .or(reset)
        .unify()
        .boxed();
    let reviews = consensus
        .or(get_consensus)
        .unify()
        .or(list_consensus)
        .unify()
        .boxed();
    let templates = list_t
        .or(put_t)
        .unify()
        .or(get_t)
        .unify()
        .or(del_t)
        .unify()
        .boxed();
    let pipelines = list_p
        .or(create_p)
        .unify()
        .or(get_p)
        .unify()
        .or(del_p)
        .unify()
        .boxed();
    lineage
        .or(reviews)
        .unify()
        .or(templates)
        .unify()
        .or(pipelines)
        .unify()
        .boxed()
}
