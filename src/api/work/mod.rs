//! Routes of the work module: the quality gate (`verify`), git-worktree workers
//! (`dispatch-worker`, `workers`, and worktree cleanup on DELETE), and debriefs
//! (`pre-kill-debrief`, `debrief`). The wire shapes are in [`wire`]; the logic lives in
//! `crate::work`. The answers that were once built as JSON values are written with their
//! keys in name order (`json_sorted`), as they always were.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::query;
use super::reply::finish;
use super::reply::{ApiResult, json, json_sorted};
use super::route::{self, Table};
use crate::events::EventDetail;
use crate::events::EventKind;
use crate::events::detail::{CheckOutcome, Verification};
use crate::session::HandleError;
use crate::session::{CreateSpec, SessionHandle};
use crate::vocab::AgentType;
use crate::work::worktree::{self, Worker, WorktreeState};
use crate::work::{debrief, verify};
pub use wire::Deleted;
use wire::{
    Check, DebriefRequest, DebriefWire, DispatchRequest, Dispatched, Killed, VerifyReport,
    WorkerWire, Workers,
};

mod wire;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid(msg)
}

fn running(app: &App, id: &str) -> Result<SessionHandle, ApiError> {
    let h = app.sessions.get(id)?;
    if h.is_exited() {
        return Err(HandleError::Exited.into());
    }
    Ok(h)
}

// ---- verify ---------------------------------------------------------------------------------

pub async fn verify(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let work_dir = h.meta.work_dir.clone();
    let (source, checks) = verify::checks_for(&work_dir).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidVerifyConfig,
            e,
        )
    })?;
    if checks.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NoChecks,
            format!(
                "no checks for {}: add {} or a Cargo.toml, package.json test script, pytest config or Makefile test target",
                work_dir.display(),
                verify::config_path(&work_dir).display()
            ),
        ));
    }
    // The semaphore is never closed, so acquiring only waits.
    let _slot = app
        .work
        .verify_slots
        .acquire()
        .await
        .map_err(|_| ApiError::internal("verify is shutting down"))?;
    let started = std::time::Instant::now();
    let results = verify::run_checks(&work_dir, &checks).await;
    let passed = results.iter().all(|r| r.passed);
    let checks = results
        .iter()
        .map(|r| CheckOutcome {
            name: r.name.clone(),
            passed: r.passed,
            exit_code: r.exit_code,
            timed_out: r.timed_out,
            duration_ms: r.duration_ms,
        })
        .collect();
    app.sessions.bus.publish(
        EventKind::Verification,
        &h.meta,
        None,
        None,
        EventDetail::Verification(Verification {
            passed,
            source: source.as_str(),
            checks,
        }),
    );
    let report = VerifyReport {
        session_id: h.meta.id,
        work_dir,
        source: source.as_str(),
        passed,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        checks: results.into_iter().map(Check::from).collect(),
    };
    Ok(json_sorted(StatusCode::OK, &report))
}

// ---- workers --------------------------------------------------------------------------------

/// Longest task text: it is typed into the agent as its first prompt.
const MAX_TASK_BYTES: usize = 64 * 1024;

pub async fn dispatch(app: Arc<App>, req: DispatchRequest) -> ApiResult {
    if req.task.trim().is_empty() || req.task.len() > MAX_TASK_BYTES {
        return Err(bad(format!("task must be 1 to {MAX_TASK_BYTES} bytes")));
    }
    worktree::validate_branch(&req.branch).map_err(bad)?;
    let agent = AgentType::parse(&req.agent).ok_or_else(|| {
        let allowed: Vec<_> = AgentType::ALL.iter().map(|a| a.as_str()).collect();
        bad(format!(
            "unknown agent {:?}; allowed: {}",
            req.agent,
            allowed.join(", ")
        ))
    })?;
    if req.issue.as_ref().is_some_and(|i| i.len() > 256) {
        return Err(bad("issue must be at most 256 bytes"));
    }
    let parent = app.sessions.get(&req.parent_session)?;
    let repo = worktree::git(&parent.meta.work_dir, &["rev-parse", "--show-toplevel"])
        .await
        .map(PathBuf::from)
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NotAGitRepo,
                format!(
                    "the parent's workDir {} is not in a git repository: {e}",
                    parent.meta.work_dir.display()
                ),
            )
        })?;
    let branch_ref = format!("refs/heads/{}", req.branch);
    if worktree::git(&repo, &["rev-parse", "--verify", "--quiet", &branch_ref])
        .await
        .is_ok()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::BranchExists,
            format!("branch {} already exists in {}", req.branch, repo.display()),
        ));
    }
    let id = uuid::Uuid::new_v4();
    let trees = app.config.state_dir.join("worktrees");
    crate::store::create_private_dir(&trees)
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", trees.display())))?;
    let path = trees.join(id.to_string());
    worktree::add_worktree(&repo, &req.branch, &path)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::WorktreeFailed,
                e,
            )
        })?;
    let spec = CreateSpec {
        name: req.name,
        work_dir: path.clone(),
        agent_type: Some(agent),
        command: req.command,
        env: req.env.unwrap_or_default().into_iter().collect(),
        prompt: Some(req.task.clone()),
        parent_id: Some(parent.meta.id),
        ..Default::default()
    };
    let handle = match app.sessions.create(spec).await {
        Ok(h) => h,
        Err(e) => {
            worktree::discard_worktree(&repo, &req.branch, &path).await;
            return Err(e.into());
        }
    };
    let worker = Worker {
        session_id: handle.meta.id,
        parent_id: parent.meta.id,
        branch: req.branch,
        repo,
        worktree: path,
        task: req.task,
        issue: req.issue,
        keep_worktree: req.keep_worktree,
        created_at_ms: handle.meta.created_at_ms,
        worktree_state: WorktreeState::Present,
    };
    app.work.workers.insert(worker.clone());
    tracing::info!(worker = %handle.meta.id, parent = %parent.meta.id, branch = %worker.branch, "worker dispatched");
    let body = Dispatched {
        session: super::wire::SessionInfo::of(&handle),
        worker: worker_wire(&app, worker),
    };
    Ok(json_sorted(StatusCode::CREATED, &body))
}

/// `w` with its session's status (`removed` once the session is gone).
fn worker_wire(app: &App, w: Worker) -> WorkerWire {
    let status = app
        .sessions
        .get(&w.session_id.to_string())
        .map(|h| h.status().as_str())
        .unwrap_or("removed");
    WorkerWire::of(w, status)
}

pub async fn workers(app: Arc<App>, id: String) -> ApiResult {
    let parent = app.sessions.get(&id)?;
    let list: Vec<_> = app
        .work
        .workers
        .of_parent(&parent.meta.id)
        .into_iter()
        .map(|w| worker_wire(&app, w))
        .collect();
    let body = Workers {
        parent_id: parent.meta.id,
        workers: list,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// `DELETE /v1/sessions/:id` for a worker: remove the session, then its worktree (unless
/// `?keepWorktree=true`, the dispatch asked to keep it, or it is dirty), and report which.
/// The query of `DELETE /v1/sessions/{id}` that only a worker reads.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
struct DeleteWorkerQuery {
    /// For a worker: `true` keeps its git worktree (default `false`: removed unless the
    /// dispatch asked to keep it or it has uncommitted changes). Other sessions ignore it.
    #[schemars(schema_with = "crate::api::schemas::flag")]
    keep_worktree: Option<String>,
}

async fn delete_worker(app: Arc<App>, h: SessionHandle, q: DeleteWorkerQuery) -> ApiResult {
    match q.keep_worktree.as_deref() {
        None | Some("false") => {}
        Some("true") => {
            app.work.workers.set_keep(&h.meta.id);
        }
        Some(other) => {
            return Err(bad(format!(
                "keepWorktree must be true or false, not {other:?}"
            )));
        }
    }
    app.sessions.remove(&h).await?;
    // The bus listener may have claimed the cleanup first; either way the record has the result.
    let state = match app.work.workers.cleanup(&h.meta.id).await {
        Some(s) => s,
        None => wait_cleanup(&app, &h.meta.id).await,
    };
    let body = Deleted {
        ok: true,
        worktree: Some(state.into()),
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// How long DELETE waits for a cleanup the bus listener is running (git status + worktree
/// remove; see `worktree::GIT_TIMEOUT` for the worst case of one command).
const CLEANUP_WAIT: Duration = Duration::from_secs(130);

async fn wait_cleanup(app: &App, id: &uuid::Uuid) -> WorktreeState {
    let deadline = tokio::time::Instant::now() + CLEANUP_WAIT;
    loop {
        let state = app.work.workers.get(id).map(|w| w.worktree_state);
        match state {
            Some(WorktreeState::Kept { reason }) if reason == worktree::CLEANUP_IN_PROGRESS => {}
            Some(s) => return s,
            None => return WorktreeState::Removed,
        }
        if tokio::time::Instant::now() > deadline {
            return WorktreeState::Kept {
                reason: worktree::CLEANUP_IN_PROGRESS.into(),
            };
        }
        // Polling a map entry is cheap; cleanup finishes in tens of milliseconds normally.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- debriefs -------------------------------------------------------------------------------

pub async fn pre_kill_debrief(app: Arc<App>, id: String, req: DebriefRequest) -> ApiResult {
    let wait = match req.wait_ms {
        None => debrief::DEFAULT_WAIT,
        Some(ms) if (1..=debrief::MAX_WAIT.as_millis() as u64).contains(&ms) => {
            Duration::from_millis(ms)
        }
        Some(_) => {
            return Err(bad(format!(
                "waitMs must be in 1..={}",
                debrief::MAX_WAIT.as_millis()
            )));
        }
    };
    let h = running(&app, &id)?;
    let d = debrief::capture(&app.sessions.bus, &h, wait).await;
    let state_dir = app.config.state_dir.clone();
    let stored = d.clone();
    tokio::task::spawn_blocking(move || debrief::store(&state_dir, &stored))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| {
            // Not killed: the caller can retry rather than lose the debrief.
            ApiError::internal(format!(
                "could not store the debrief ({e}); session not killed"
            ))
        })?;
    app.sessions.remove(&h).await?;
    let body = Killed {
        debrief: d.into(),
        killed: true,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

pub async fn get_debrief(app: Arc<App>, id: String) -> ApiResult {
    let uuid = match uuid::Uuid::parse_str(&id) {
        Ok(u) => u,
        Err(_) => app.sessions.get(&id)?.meta.id,
    };
    let state_dir = app.config.state_dir.clone();
    let d = tokio::task::spawn_blocking(move || debrief::load(&state_dir, &uuid))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    match d {
        Some(d) => Ok(json(StatusCode::OK, &DebriefWire::from(d))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::DebriefNotFound,
            format!("no debrief stored for session {id}"),
        )),
    }
}

/// The work routes. They go before the session routes: `dispatch-worker` must not be taken
/// for a session name, and DELETE of a worker session is handled here (other sessions fall
/// through to the plain DELETE).
pub fn routes(t: &mut Table) {
    t.on_body(
        route::post("/sessions/dispatch-worker")
            .body::<DispatchRequest>()
            .creates::<Dispatched>(),
        dispatch,
    );
    t.on_one(
        route::post("/sessions/{id}/verify").answers::<VerifyReport>(),
        verify,
    );
    t.on_one(
        route::get("/sessions/{id}/workers").answers::<Workers>(),
        workers,
    );
    let delete = route::delete("/sessions/{id}").query::<DeleteWorkerQuery>();
    t.takeover(delete, |p, app| {
        let app = app.clone();
        p.one().and(query::<DeleteWorkerQuery>()).and_then(
            move |id: String, q: DeleteWorkerQuery| {
                let app = app.clone();
                async move {
                    match app.sessions.get(&id) {
                        Ok(h) if app.work.workers.get(&h.meta.id).is_some() => {
                            Ok(finish(delete_worker(app, h, q).await))
                        }
                        _ => Err(warp::reject::not_found()),
                    }
                }
            },
        )
    });
    t.on_one_optional_body(
        route::post("/sessions/{id}/pre-kill-debrief")
            .optional_body::<DebriefRequest>()
            .answers::<Killed>(),
        pre_kill_debrief,
    );
    t.on_one(
        route::get("/sessions/{id}/debrief").answers::<DebriefWire>(),
        get_debrief,
    );
}
