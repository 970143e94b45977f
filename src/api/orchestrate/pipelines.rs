//! Pipelines: validate a request into stages and start, list, get or cancel a pipeline
//! (`crate::orchestrate::pipelines` runs them), and the pipeline's wire shape.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::bad;
use super::templates::valid_name;
use crate::api::App;
use crate::api::create::to_spec;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::reply::{ApiResult, json, json_sorted};
use crate::api::route::{self, Table};
use crate::api::wire::CreateSessionRequest;
use crate::orchestrate::{self, pipelines};

/// One stage of a `POST /v1/pipelines` body: its own session, which starts once every stage
/// it depends on finished its turn. Unset fields take the pipeline's.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageRequest {
    /// Unique in the pipeline: letters, digits, '-', '_' or '.'.
    pub name: String,
    /// The stage's prompt; may use `{{stages.<name>.output}}` of a stage it depends on.
    pub prompt: String,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    /// The stages that must finish first.
    pub depends_on: Option<Vec<String>>,
    /// The stage's own workDir (as v0.3 allows).
    pub work_dir: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::permission_mode")]
    pub permission_mode: Option<String>,
    /// Added to the pipeline's environment.
    pub env: Option<BTreeMap<String, String>>,
}

/// `POST /v1/pipelines` body: stages as a DAG, each in its own session.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PipelineRequest {
    /// 1 to 128 characters.
    pub name: String,
    /// The stages' workDir unless a stage names its own (default: the first stage's).
    pub work_dir: Option<String>,
    #[schemars(length(min = 1, max = pipelines::MAX_STAGES))]
    pub stages: Vec<StageRequest>,
    /// Defaults for every stage.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::permission_mode")]
    pub permission_mode: Option<String>,
    /// Values for `{{var}}` placeholders in stage prompts (besides `stages.<name>.output`).
    pub vars: Option<BTreeMap<String, String>>,
    /// Bound on each stage's turn (default one hour).
    pub stage_timeout_ms: Option<u64>,
    /// A stage with no screen progress for this long is stalled, which fails the pipeline.
    pub stall_threshold_ms: Option<u64>,
    /// Leave the stage sessions running when the pipeline ends (default: they are killed,
    /// and stay listed as exited).
    #[serde(default)]
    pub keep_sessions: bool,
}

/// A pipeline: its stages and how far each got.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    #[schemars(with = "String")]
    id: uuid::Uuid,
    name: String,
    work_dir: PathBuf,
    /// Whether finished stages' sessions outlive the pipeline.
    keep_sessions: bool,
    #[schemars(schema_with = "crate::api::schemas::pipeline_status")]
    status: &'static str,
    /// Why it failed or was cancelled.
    reason: Option<String>,
    /// Epoch milliseconds.
    created_at: u64,
    /// Epoch milliseconds; null while it runs.
    finished_at: Option<u64>,
    stages: Vec<Stage>,
}

/// One stage of a pipeline.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    name: String,
    /// The prompt, with the outputs of earlier stages filled in once it started.
    prompt: String,
    depends_on: Vec<String>,
    work_dir: PathBuf,
    #[schemars(schema_with = "crate::api::schemas::stage_status")]
    status: &'static str,
    /// The stage's session, once started.
    #[schemars(with = "Option<String>")]
    session_id: Option<uuid::Uuid>,
    /// The stage's last output, once it completed.
    output: Option<String>,
    /// Why the stage failed.
    error: Option<String>,
    /// Epoch milliseconds.
    started_at: Option<u64>,
    /// Epoch milliseconds.
    finished_at: Option<u64>,
}

impl From<pipelines::PipelineView> for Pipeline {
    fn from(v: pipelines::PipelineView) -> Pipeline {
        Pipeline {
            id: v.id,
            name: v.name,
            work_dir: v.work_dir,
            keep_sessions: v.keep_sessions,
            status: v.status.as_str(),
            reason: v.reason,
            created_at: v.created_at,
            finished_at: v.finished_at,
            stages: v.stages.into_iter().map(Stage::from).collect(),
        }
    }
}

impl From<pipelines::StageView> for Stage {
    fn from(s: pipelines::StageView) -> Stage {
        Stage {
            name: s.name,
            prompt: s.prompt,
            depends_on: s.depends_on,
            work_dir: s.work_dir,
            status: s.status.as_str(),
            session_id: s.session_id,
            output: s.output,
            error: s.error,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

/// `DELETE /v1/pipelines/{id}`: the pipeline, and whether this request cancelled it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CancelledPipeline {
    #[serde(flatten)]
    pipeline: Pipeline,
    /// Whether this request cancelled it (false: it had already finished).
    cancelled: bool,
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
    Ok(json(StatusCode::CREATED, &Pipeline::from(p.view())))
}

async fn list_pipelines(app: Arc<App>) -> ApiResult {
    // v0.3 answers a plain array.
    let all: Vec<Pipeline> = app
        .orch
        .pipelines
        .list()
        .iter()
        .map(|p| p.view().into())
        .collect();
    Ok(json(StatusCode::OK, &all))
}

fn pipeline_404(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::PipelineNotFound,
        format!("pipeline not found: {id}"),
    )
}

async fn get_pipeline(app: Arc<App>, id: String) -> ApiResult {
    let p = app
        .orch
        .pipelines
        .get(&id)
        .ok_or_else(|| pipeline_404(&id))?;
    Ok(json(StatusCode::OK, &Pipeline::from(p.view())))
}

async fn delete_pipeline(app: Arc<App>, id: String) -> ApiResult {
    let p = app
        .orch
        .pipelines
        .get(&id)
        .ok_or_else(|| pipeline_404(&id))?;
    let cancelled = pipelines::cancel(&app.orchestration(), &p).await;
    let body = CancelledPipeline {
        pipeline: p.view().into(),
        cancelled,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// The routes of this group (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on(
        route::get("/pipelines").answers::<Vec<Pipeline>>(),
        list_pipelines,
    );
    t.on_body(
        route::post("/pipelines")
            .body::<PipelineRequest>()
            .creates::<Pipeline>(),
        create_pipeline,
    );
    t.on_one(
        route::get("/pipelines/{id}").answers::<Pipeline>(),
        get_pipeline,
    );
    t.on_one(
        route::delete("/pipelines/{id}").answers::<CancelledPipeline>(),
        delete_pipeline,
    );
}
