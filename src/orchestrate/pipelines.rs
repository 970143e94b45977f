//! Pipelines: stages that run as a DAG, each in its own agent session. A stage starts when
//! every stage it depends on finished its turn (working → idle); its prompt may use
//! `{{stages.<name>.output}}`, the last output of an earlier stage it depends on (directly or
//! not), read off that stage's screen. A stage whose agent reports an error, stalls, exits
//! or does not finish within the stage timeout fails the pipeline with that reason; the
//! other running stages are then stopped (killed) and pending ones skipped. Cancelling kills
//! every running stage session.
//!
//! When the pipeline ends (completed, failed or cancelled), its stage sessions are killed:
//! an agent left idle at its prompt holds a pty, a holder and memory for nothing. Killed
//! sessions stay listed (exited) with their screens, so a failed stage can still be read. A
//! pipeline started with `keepSessions` leaves its finished stages running instead (running
//! siblings of a failed stage are stopped either way).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Role, TurnEnd, lock};
use crate::clock::now_ms;
use crate::events::detail::PipelineOutcome;
use crate::events::{EventDetail, EventKind};
use crate::session::{CreateSpec, SessionHandle};

/// Most stages in one pipeline; each is a live agent session, and a DAG wider than this is
/// better split into several pipelines.
pub const MAX_STAGES: usize = 32;

/// Default bound on one stage's turn. Agents routinely work for many minutes; an hour is
/// beyond any single turn we expect, and a stall is caught earlier by the stall detector.
pub const DEFAULT_STAGE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where a pipeline or one of its stages stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    Skipped,
}

impl Status {
    /// Every status a stage can have.
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
        Status::Skipped,
    ];

    /// The statuses a pipeline itself can have (it is never pending or skipped).
    pub const OF_PIPELINE: [Status; 4] = [
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }
}

/// A validated stage.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    pub prompt: String,
    pub depends_on: Vec<String>,
    /// Everything but the prompt; the prompt is filled in when the stage starts.
    pub session: CreateSpec,
}

/// One stage as the pipeline sees it.
#[derive(Debug, Clone)]
pub struct StageView {
    pub name: String,
    /// As given, then with the outputs of earlier stages filled in when it starts.
    pub prompt: String,
    pub depends_on: Vec<String>,
    pub work_dir: PathBuf,
    pub status: Status,
    /// Set once its session started.
    pub session_id: Option<Uuid>,
    /// Its last output, read off its screen when its turn finished.
    pub output: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Epoch milliseconds.
    pub started_at: Option<u64>,
    /// Epoch milliseconds.
    pub finished_at: Option<u64>,
}

/// A pipeline: its stages and how far each got.
#[derive(Debug, Clone)]
pub struct PipelineView {
    pub id: Uuid,
    pub name: String,
    pub work_dir: PathBuf,
    /// Whether finished stages' sessions outlive the pipeline (see the module doc).
    pub keep_sessions: bool,
    pub status: Status,
    pub reason: Option<String>,
    pub created_at: u64,
    pub finished_at: Option<u64>,
    pub stages: Vec<StageView>,
}

pub struct Pipeline {
    pub id: Uuid,
    state: Mutex<PipelineView>,
    cancel: CancellationToken,
}

impl Pipeline {
    pub fn view(&self) -> PipelineView {
        lock(&self.state).clone()
    }
    fn update(&self, f: impl FnOnce(&mut PipelineView)) {
        f(&mut lock(&self.state));
    }
}

impl super::Group for Pipeline {
    fn id(&self) -> Uuid {
        self.id
    }
    fn finished(&self) -> bool {
        self.view().finished_at.is_some()
    }
}

/// Check the DAG: unique names, known dependencies, no cycles, and stage-output references
/// only to (transitive) dependencies. Returns the stages' ancestors by name.
pub fn validate(stages: &[StageSpec]) -> Result<HashMap<String, HashSet<String>>, String> {
    if stages.is_empty() || stages.len() > MAX_STAGES {
        return Err(format!("stages must hold 1 to {MAX_STAGES} entries"));
    }
    let mut names = HashSet::new();
    for s in stages {
        if !names.insert(s.name.as_str()) {
            return Err(format!("duplicate stage name {:?}", s.name));
        }
    }
    for s in stages {
        for d in &s.depends_on {
            if !names.contains(d.as_str()) {
                return Err(format!("stage {:?} depends on unknown stage {d:?}", s.name));
            }
            if *d == s.name {
                return Err(format!("stage {:?} depends on itself", s.name));
            }
        }
    }
    // Kahn's algorithm: whatever is never freed sits on a cycle.
    let mut indegree: HashMap<&str, usize> = stages
        .iter()
        .map(|s| (s.name.as_str(), s.depends_on.len()))
        .collect();
    let mut ready: VecDeque<&str> = stages
        .iter()
        .filter(|s| s.depends_on.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    let mut order = Vec::new();
    while let Some(n) = ready.pop_front() {
        order.push(n);
        for s in stages
            .iter()
            .filter(|s| s.depends_on.iter().any(|d| d == n))
        {
            let e = indegree.entry(s.name.as_str()).or_default();
            *e -= 1;
            if *e == 0 {
                ready.push_back(s.name.as_str());
            }
        }
    }
    if order.len() != stages.len() {
        let mut cyclic: Vec<&str> = stages
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !order.contains(n))
            .collect();
        cyclic.sort_unstable();
        return Err(format!("stages form a cycle: {}", cyclic.join(", ")));
    }
    let by_name: HashMap<&str, &StageSpec> = stages.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut ancestors: HashMap<String, HashSet<String>> = HashMap::new();
    for n in order {
        let mut set = HashSet::new();
        for d in &by_name[n].depends_on {
            set.insert(d.clone());
            set.extend(ancestors.get(d).cloned().unwrap_or_default());
        }
        ancestors.insert(n.to_owned(), set);
    }
    for s in stages {
        for p in super::text::placeholders(&s.prompt) {
            let Some(rest) = p.strip_prefix("stages.") else {
                return Err(format!("stage {:?}: unknown variable {p:?}", s.name));
            };
            let Some(dep) = rest.strip_suffix(".output") else {
                return Err(format!(
                    "stage {:?}: {p:?} is not of the form stages.<name>.output",
                    s.name
                ));
            };
            if !ancestors[&s.name].contains(dep) {
                return Err(format!(
                    "stage {:?} uses the output of {dep:?}, which it does not depend on",
                    s.name
                ));
            }
        }
    }
    Ok(ancestors)
}

/// How a pipeline runs, besides its stages.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Bound on each stage's turn.
    pub stage_timeout: Duration,
    /// Leave finished stages' sessions running when the pipeline ends.
    pub keep_sessions: bool,
}

/// Start a validated pipeline in the background and return it.
pub fn start(
    ctx: super::Context,
    name: String,
    work_dir: PathBuf,
    stages: Vec<StageSpec>,
    opts: RunOptions,
) -> Arc<Pipeline> {
    let id = Uuid::new_v4();
    let view = PipelineView {
        id,
        name,
        work_dir,
        keep_sessions: opts.keep_sessions,
        status: Status::Running,
        reason: None,
        created_at: now_ms(),
        finished_at: None,
        stages: stages
            .iter()
            .map(|s| StageView {
                name: s.name.clone(),
                prompt: s.prompt.clone(),
                depends_on: s.depends_on.clone(),
                work_dir: s.session.work_dir.clone(),
                status: Status::Pending,
                session_id: None,
                output: None,
                error: None,
                started_at: None,
                finished_at: None,
            })
            .collect(),
    };
    let p = Arc::new(Pipeline {
        id,
        state: Mutex::new(view),
        cancel: ctx.shutdown.child_token(),
    });
    ctx.orch.pipelines.add(p.clone());
    ctx.tasks
        .spawn(run(ctx.clone(), p.clone(), stages, opts.stage_timeout));
    p
}

/// Cancel a running pipeline: kill its running stage sessions, skip pending stages.
pub async fn cancel(ctx: &super::Context, p: &Pipeline) -> bool {
    if p.view().finished_at.is_some() {
        return false;
    }
    p.cancel.cancel();
    finish(
        ctx,
        p,
        Status::Cancelled,
        Some("cancelled by request".into()),
    )
    .await;
    true
}

/// Mark the pipeline finished (once), stop running stages (and, unless `keepSessions`, the
/// finished ones' sessions too) and announce it.
async fn finish(ctx: &super::Context, p: &Pipeline, status: Status, reason: Option<String>) {
    let mut first = false;
    let mut to_kill = Vec::new();
    p.update(|v| {
        if v.finished_at.is_some() {
            return;
        }
        first = true;
        v.status = status;
        v.reason = reason.clone();
        v.finished_at = Some(now_ms());
        let keep = v.keep_sessions;
        for s in &mut v.stages {
            match s.status {
                Status::Pending => s.status = Status::Skipped,
                Status::Running => {
                    s.status = Status::Cancelled;
                    s.finished_at = Some(now_ms());
                    to_kill.extend(s.session_id);
                }
                _ if !keep => to_kill.extend(s.session_id),
                _ => {}
            }
        }
    });
    if !first {
        return;
    }
    for id in to_kill {
        if let Ok(h) = ctx.sessions.get(&id.to_string()) {
            let _ = h.kill().await;
        }
    }
    let view = p.view();
    tracing::info!(pipeline = %p.id, status = status.as_str(), reason = ?view.reason, "pipeline finished");
    // The bus is keyed by session; a pipeline event names its first stage's session, if any.
    let anchor = view
        .stages
        .iter()
        .find_map(|s| s.session_id)
        .and_then(|id| ctx.sessions.get(&id.to_string()).ok());
    if let Some(h) = anchor {
        ctx.sessions.bus.publish(
            EventKind::PipelineFinished,
            &h.meta,
            None,
            None,
            EventDetail::PipelineFinished(PipelineOutcome {
                pipeline_id: p.id,
                name: view.name,
                status: status.as_str(),
                reason: view.reason,
            }),
        );
    }
}

type StageResult = (String, Result<(SessionHandle, String), String>);

async fn run(
    ctx: super::Context,
    p: Arc<Pipeline>,
    stages: Vec<StageSpec>,
    stage_timeout: Duration,
) {
    let mut outputs: BTreeMap<String, String> = BTreeMap::new();
    let mut started: HashSet<String> = HashSet::new();
    let mut running = tokio::task::JoinSet::<StageResult>::new();
    loop {
        for s in &stages {
            if started.contains(&s.name) || !s.depends_on.iter().all(|d| outputs.contains_key(d)) {
                continue;
            }
            started.insert(s.name.clone());
            // Validation guaranteed every placeholder names a finished ancestor.
            let prompt = super::text::substitute(&s.prompt, |k| {
                k.strip_prefix("stages.")
                    .and_then(|r| r.strip_suffix(".output"))
                    .and_then(|d| outputs.get(d).cloned())
            })
            .unwrap_or_else(|_| s.prompt.clone());
            let mut spec = s.session.clone();
            spec.prompt = Some(prompt.clone());
            p.update(|v| {
                if let Some(st) = v.stages.iter_mut().find(|x| x.name == s.name) {
                    st.status = Status::Running;
                    st.prompt = prompt;
                    st.started_at = Some(now_ms());
                }
            });
            let (ctx2, p2, name) = (ctx.clone(), p.clone(), s.name.clone());
            running.spawn(async move {
                let r = run_stage(&ctx2, &p2, &name, spec, stage_timeout).await;
                (name, r)
            });
        }
        let next = tokio::select! {
            _ = p.cancel.cancelled() => return,
            n = running.join_next() => n,
        };
        let Some(joined) = next else {
            finish(&ctx, &p, Status::Completed, None).await;
            return;
        };
        let (name, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                finish(
                    &ctx,
                    &p,
                    Status::Failed,
                    Some(format!("a stage task failed: {e}")),
                )
                .await;
                return;
            }
        };
        match result {
            Ok((_h, output)) => {
                p.update(|v| {
                    if let Some(st) = v.stages.iter_mut().find(|x| x.name == name) {
                        st.status = Status::Completed;
                        st.output = Some(output.clone());
                        st.finished_at = Some(now_ms());
                    }
                });
                outputs.insert(name, output);
            }
            Err(reason) => {
                p.update(|v| {
                    if let Some(st) = v.stages.iter_mut().find(|x| x.name == name) {
                        st.status = Status::Failed;
                        st.error = Some(reason.clone());
                        st.finished_at = Some(now_ms());
                    }
                });
                finish(
                    &ctx,
                    &p,
                    Status::Failed,
                    Some(format!("stage {name:?} failed: {reason}")),
                )
                .await;
                running.abort_all();
                return;
            }
        }
    }
}

async fn run_stage(
    ctx: &super::Context,
    p: &Pipeline,
    name: &str,
    spec: CreateSpec,
    timeout: Duration,
) -> Result<(SessionHandle, String), String> {
    // Subscribe before the prompt goes out so the working → idle pair cannot be missed.
    let mut events = ctx.sessions.bus.subscribe();
    // Create first (no prompt), record the session, then deliver the prompt.
    let role = Role::Stage {
        pipeline: p.id,
        stage: name.to_owned(),
    };
    let (h, prompt) = super::launch_member(ctx, spec, role)
        .await
        .map_err(|e| format!("could not start the stage's session: {e}"))?;
    p.update(|v| {
        if let Some(st) = v.stages.iter_mut().find(|x| x.name == name) {
            st.session_id = Some(h.meta.id);
        }
    });
    if p.cancel.is_cancelled() {
        let _ = h.kill().await;
        return Err("cancelled".into());
    }
    super::deliver(ctx, &h, prompt).await;
    match super::await_turn(&h, &mut events, timeout).await {
        TurnEnd::Done => {
            let out = super::last_output(&h).await;
            Ok((h, out))
        }
        TurnEnd::Failed(r) => Err(r),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // reason: a failed unwrap is a failed test
mod tests {
    use super::*;

    fn st(name: &str, deps: &[&str], prompt: &str) -> StageSpec {
        StageSpec {
            name: name.into(),
            prompt: prompt.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            session: CreateSpec::default(),
        }
    }

    #[test]
    fn dag_validation() {
        assert!(validate(&[st("a", &[], "x"), st("b", &["a"], "{{stages.a.output}}")]).is_ok());
        let e = validate(&[st("a", &["b"], "x"), st("b", &["a"], "y")]).unwrap_err();
        assert!(e.contains("cycle"), "{e}");
        let e = validate(&[st("a", &["zz"], "x")]).unwrap_err();
        assert!(e.contains("unknown stage \"zz\""), "{e}");
        let e = validate(&[st("a", &[], "x"), st("b", &[], "{{stages.a.output}}")]).unwrap_err();
        assert!(e.contains("does not depend"), "{e}");
        // Transitive dependencies count.
        assert!(
            validate(&[
                st("a", &[], "x"),
                st("b", &["a"], "y"),
                st("c", &["b"], "{{stages.a.output}}")
            ])
            .is_ok()
        );
        assert!(validate(&[st("a", &[], "{{nope}}")]).is_err());
    }
}
