//! Orchestration: sessions that start other sessions and wait on them. It owns the groups
//! that tie sessions together beyond `parentId` — pipelines (a DAG of stages), consensus
//! reviews (N reviewers and a majority verdict) — plus session templates, the roles shown
//! by `/v1/world`, and client-declared completions.
//!
//! Roles and completions are kept in `<state dir>/orchestration.json`, so a restarted daemon
//! still knows its stages and reviewers; running pipelines and reviews are not resumed.
//!
//! Everything here drives sessions only through the same [`SessionManager`] and
//! [`SessionHandle`] seams the REST routes use: create, send, snapshot, kill, and the event
//! bus. "A turn finished" means the detector reported `working` and then `idle` for that
//! session; `error`, `stalled` or `exited` instead fails the turn with a reason.
//!
//! - [`text`]: `{{var}}` substitution, last-output and verdict parsing (pure).
//! - [`templates`]: the persisted template store.
//! - [`lineage`]: argv for spawned children and forks.
//! - [`pipelines`]: DAG validation and the pipeline runner.
//! - [`consensus`]: the review runner, `git diff` and the majority rule.

pub mod consensus;
pub mod lineage;
pub mod pipelines;
pub mod templates;
pub mod text;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::events::{Event, EventKind};
use crate::permissions::Policy;
use crate::screen::{Format, MAX_SNAPSHOT_LINES};
use crate::session::manager::SessionError;
use crate::session::{CreateSpec, SessionHandle, SessionManager};
use crate::store::persisted::Persisted;
use crate::vocab::SessionStatus;

/// Longest stage output or parent output kept (and substituted into later prompts). Agent
/// replies are rarely longer; a prompt built from many stages stays well under the 100k
/// prompt limit of Aegis v0.3.
pub const MAX_OUTPUT_CHARS: usize = 16 * 1024;

/// Finished pipelines and reviews kept for `GET`; the oldest finished one is dropped first,
/// so memory stays bounded for a daemon that runs thousands of them.
pub const MAX_FINISHED_GROUPS: usize = 256;

/// What pipeline and review runners need from the daemon, and nothing more: its sessions, the
/// orchestration state, and the task tracker and shutdown token the runners live under. Built
/// by the API layer from its state; cheap to clone (every field is shared).
#[derive(Clone)]
pub struct Context {
    pub sessions: Arc<SessionManager>,
    pub orch: Arc<Orchestrator>,
    /// Runners are tracked here, so the daemon's shutdown waits for them.
    pub tasks: TaskTracker,
    /// Cancelled when the daemon shuts down; a pipeline's own cancel token is its child.
    pub shutdown: CancellationToken,
}

/// Why a session exists, beyond `parentId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Role {
    /// A stage of a pipeline.
    Stage { pipeline: Uuid, stage: String },
    /// A reviewer of a consensus review.
    Reviewer { consensus: Uuid, index: usize },
}

/// A client's declaration that a session's task is done (`POST .../complete`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    pub status: String,
    pub comment: Option<String>,
    pub at_ms: u64,
}

/// What the orchestrator knows about individual sessions. Persisted, because sessions outlive
/// the daemon (in their holders): a restarted daemon still shows a stage as a stage.
#[derive(Default, Serialize, Deserialize)]
struct SessionRecords {
    roles: HashMap<Uuid, Role>,
    completions: HashMap<Uuid, Completion>,
}

/// File of [`SessionRecords`] in the state dir, and its format version.
const RECORDS_FILE: &str = "orchestration.json";
const RECORDS_VERSION: u32 = 1;

/// The orchestration state of one daemon. Locks guard maps only and are never held across
/// an await. Session records (roles, completions) persist in the state dir; pipelines and
/// reviews live in memory only: a restarted daemon neither lists nor resumes them, though
/// their sessions carry on (see docs/orchestration.md).
pub struct Orchestrator {
    records: Persisted<SessionRecords>,
    pub pipelines: Groups<pipelines::Pipeline>,
    pub reviews: Groups<consensus::Review>,
}

/// A pipeline or a consensus review, as its registry needs to see it.
pub trait Group {
    fn id(&self) -> Uuid;
    fn finished(&self) -> bool;
}

/// Every group of one kind (pipelines, reviews) of this daemon, oldest first. Holds at most
/// [`MAX_FINISHED_GROUPS`] finished ones: adding past that drops the oldest finished group.
pub struct Groups<T> {
    all: Mutex<Vec<Arc<T>>>,
}

impl<T> Default for Groups<T> {
    fn default() -> Self {
        Groups {
            all: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Group> Groups<T> {
    pub fn list(&self) -> Vec<Arc<T>> {
        lock(&self.all).clone()
    }

    pub fn get(&self, id: &str) -> Option<Arc<T>> {
        let id = Uuid::parse_str(id).ok()?;
        lock(&self.all).iter().find(|g| g.id() == id).cloned()
    }

    fn add(&self, g: Arc<T>) {
        let mut all = lock(&self.all);
        let finished = all.iter().filter(|g| g.finished()).count();
        if finished >= MAX_FINISHED_GROUPS
            && let Some(i) = all.iter().position(|g| g.finished())
        {
            all.remove(i);
        }
        all.push(g);
    }
}

impl Orchestrator {
    /// The orchestrator of a daemon whose state dir is `state_dir`.
    pub fn load(state_dir: &Path) -> Self {
        Orchestrator {
            records: Persisted::load(state_dir.join(RECORDS_FILE), RECORDS_VERSION),
            pipelines: Groups::default(),
            reviews: Groups::default(),
        }
    }

    pub fn set_role(&self, id: Uuid, role: Role) {
        self.records.update(|r| r.roles.insert(id, role));
    }

    pub fn role(&self, id: &Uuid) -> Option<Role> {
        self.records.read(|r| r.roles.get(id).cloned())
    }

    pub fn complete(&self, id: Uuid, c: Completion) {
        self.records.update(|r| r.completions.insert(id, c));
    }

    pub fn completion(&self, id: &Uuid) -> Option<Completion> {
        self.records.read(|r| r.completions.get(id).cloned())
    }

    /// Drop the records of sessions for which `exists` is false (removed sessions), so the
    /// records stay as many as the sessions.
    pub fn retain(&self, exists: impl Fn(&Uuid) -> bool) {
        let stale = self.records.read(|r| {
            r.roles.keys().any(|id| !exists(id)) || r.completions.keys().any(|id| !exists(id))
        });
        if stale {
            self.records.update(|r| {
                r.roles.retain(|id, _| exists(id));
                r.completions.retain(|id, _| exists(id));
            });
        }
    }
}

/// Lock a map; no code panics while holding these locks, so a poisoned one is still valid.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Create a session, apply its permission policy, then deliver its first prompt (so the
/// policy is in force before the agent can ask anything).
pub async fn launch(
    sessions: &SessionManager,
    mut spec: CreateSpec,
    policy: Option<Policy>,
) -> Result<SessionHandle, SessionError> {
    let prompt = spec.prompt.take();
    let h = sessions.create(spec).await?;
    if let Some(p) = policy {
        h.perms.set_policy(|x| *x = p);
    }
    if let Some(p) = prompt.filter(|p| !p.is_empty()) {
        let d = sessions.deliver_first_prompt(&h, &p).await;
        h.set_prompt_delivery(d);
    }
    Ok(h)
}

/// A group member's session (a pipeline stage, a reviewer): started without its prompt and
/// given its `role` first, so the role is known before the agent works. Returns the prompt
/// for the caller to [`deliver`] once it recorded the session.
async fn launch_member(
    ctx: &Context,
    mut spec: CreateSpec,
    role: Role,
) -> Result<(SessionHandle, Option<String>), SessionError> {
    let prompt = spec.prompt.take();
    let h = launch(&ctx.sessions, spec, None).await?;
    ctx.orch.set_role(h.meta.id, role);
    Ok((h, prompt))
}

/// Deliver a member's first prompt (see [`launch_member`]).
async fn deliver(ctx: &Context, h: &SessionHandle, prompt: Option<String>) {
    if let Some(p) = prompt {
        let d = ctx.sessions.deliver_first_prompt(h, &p).await;
        h.set_prompt_delivery(d);
    }
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnd {
    /// The agent worked and went idle.
    Done,
    Failed(String),
}

/// Wait until `h` finished its turn (working, then idle), reading `events` (a bus
/// subscription taken before the prompt was sent, so no transition is missed).
pub async fn await_turn(
    h: &SessionHandle,
    events: &mut broadcast::Receiver<Arc<Event>>,
    timeout: Duration,
) -> TurnEnd {
    if h.prompt_delivery().is_some_and(|d| !d.delivered) {
        return TurnEnd::Failed("the prompt was not delivered to the agent".into());
    }
    let id = h.meta.id;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut worked = false;
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::time::sleep_until(deadline) => {
                return TurnEnd::Failed(format!(
                    "no finished turn within {} s (status {})",
                    timeout.as_secs(),
                    h.status().as_str()
                ));
            }
        };
        match ev {
            Ok(e) if e.session_id == id => match e.kind {
                EventKind::SessionWorking => worked = true,
                EventKind::SessionIdle if worked => {
                    settle(h).await;
                    return TurnEnd::Done;
                }
                EventKind::SessionError => {
                    return TurnEnd::Failed(format!(
                        "the agent reported an error: {}",
                        error_line(h).await
                    ));
                }
                EventKind::SessionStalled => {
                    return TurnEnd::Failed("stalled: working with no screen progress".into());
                }
                EventKind::SessionExited | EventKind::SessionKilled => {
                    return TurnEnd::Failed(match h.live().exit_code {
                        Some(c) => format!("the session exited (code {c})"),
                        None => "the session exited".into(),
                    });
                }
                _ => {}
            },
            Ok(_) => {}
            // Missed events: judge from the live state (idle after a lag means the turn ended).
            Err(broadcast::error::RecvError::Lagged(_)) => match h.status() {
                SessionStatus::Idle => {
                    settle(h).await;
                    return TurnEnd::Done;
                }
                SessionStatus::Exited => return TurnEnd::Failed("the session exited".into()),
                SessionStatus::Working => worked = true,
                _ => {}
            },
            Err(broadcast::error::RecvError::Closed) => {
                return TurnEnd::Failed("the event bus closed (daemon shutting down)".into());
            }
        }
    }
}

/// The screen is quiet when no output arrived for this long.
const SETTLE_QUIET: Duration = Duration::from_millis(250);
/// Longest wait for a quiet screen that reads idle by itself: an agent animating at its
/// prompt must not hold up a turn.
const SETTLE_MAX: Duration = Duration::from_secs(10);

/// Wait until the screen stopped changing and the screen alone reads the turn as over
/// (bounded). A Claude `Stop` hook reports idle before the agent drew its final frame (the
/// spinner still turns, the reply not yet drawn); what the turn said is read off the screen,
/// so read it once the screen caught up.
async fn settle(h: &SessionHandle) {
    use std::sync::atomic::Ordering;
    let deadline = tokio::time::Instant::now() + SETTLE_MAX;
    let quiet = u64::try_from(SETTLE_QUIET.as_millis()).unwrap_or(u64::MAX);
    loop {
        let last = h.counters.last_activity_ms.load(Ordering::Relaxed);
        let since = crate::clock::now_ms().saturating_sub(last);
        if tokio::time::Instant::now() >= deadline {
            return;
        }
        if since < quiet {
            tokio::time::sleep(Duration::from_millis(quiet - since)).await;
            continue;
        }
        let screen = h.sources().await.map(|s| s.screen);
        if !matches!(screen, Ok(SessionStatus::Working)) {
            return;
        }
        tokio::time::sleep(SETTLE_QUIET).await;
    }
}

/// The bottom non-blank line of the screen, to say why an agent is in `error`.
async fn error_line(h: &SessionHandle) -> String {
    h.snapshot(None, Format::Text)
        .await
        .ok()
        .and_then(|s| {
            s.output
                .lines()
                .rev()
                .find(|l| {
                    let t = l.to_lowercase();
                    t.contains("limit") || t.contains("error") || t.contains("fail")
                })
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "see the session's screen".into())
}

/// The text of the session's screen and scrollback.
pub async fn screen_text(h: &SessionHandle) -> String {
    h.snapshot(Some(MAX_SNAPSHOT_LINES), Format::Text)
        .await
        .map(|s| s.output)
        .unwrap_or_default()
}

/// What the agent said last (see [`text::last_output`]), bounded to [`MAX_OUTPUT_CHARS`].
pub async fn last_output(h: &SessionHandle) -> String {
    truncate(text::last_output(&screen_text(h).await), MAX_OUTPUT_CHARS)
}

/// Keep the last `max` characters of `s` (the end of an output is what matters).
pub fn truncate(s: String, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s;
    }
    s.chars().skip(n - max).collect()
}
