//! Pipelines: validate a request into stages and start, list, get or cancel a pipeline
//! (`crate::orchestrate::pipelines` runs them).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::http::StatusCode;

use super::bad;
use super::templates::valid_name;
use crate::api::App;
use crate::api::create::to_spec;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::reply::{ApiResult, json};
use crate::api::route::{self, Table};
use crate::api::wire::CreateSessionRequest;
use crate::orchestrate::{self, pipelines};

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

async fn list_pipelines(app: Arc<App>) -> ApiResult {
    // v0.3 answers a plain array.
    let all: Vec<_> = app.orch.pipelines.list().iter().map(|p| p.view()).collect();
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
    Ok(json(StatusCode::OK, &p.view()))
}

async fn delete_pipeline(app: Arc<App>, id: String) -> ApiResult {
    let p = app
        .orch
        .pipelines
        .get(&id)
        .ok_or_else(|| pipeline_404(&id))?;
    let cancelled = pipelines::cancel(&app.orchestration(), &p).await;
    let mut body = serde_json::to_value(p.view()).unwrap_or(Value::Null);
    body["cancelled"] = json!(cancelled);
    Ok(json(StatusCode::OK, &body))
}

/// The routes of this group (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on(route::get("/pipelines"), list_pipelines);
    t.on_body(route::post("/pipelines"), create_pipeline);
    t.on_one(route::get("/pipelines/{id}"), get_pipeline);
    t.on_one(route::delete("/pipelines/{id}"), delete_pipeline);
}
