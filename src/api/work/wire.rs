//! The wire shapes of the work routes, converted from `crate::work`'s records (which keep
//! their own form on disk): a verify report, a worker, a debrief, and what deleting a worker
//! did with its worktree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::wire::SessionInfo;
use crate::work::debrief::Debrief;
use crate::work::verify::{CheckResult, Source};
use crate::work::worktree::{Worker, WorktreeState};

/// `POST /v1/sessions/dispatch-worker` body: a worker session on a new branch, in its own
/// git worktree of the parent's repository.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DispatchRequest {
    /// The parent session (id or name); its workDir must be in a git repository.
    pub parent_session: String,
    /// The worker's first prompt (at most 64 KiB).
    pub task: String,
    /// The new branch (git's ref-name rules, no leading '-'); it must not exist yet.
    pub branch: String,
    /// Agent type of the worker.
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent: String,
    /// A tracker reference kept with the worker (at most 256 bytes).
    pub issue: Option<String>,
    /// Keep the worktree when the worker is removed.
    #[serde(default)]
    pub keep_worktree: bool,
    /// Argv overriding the agent's default program (required for `custom`).
    pub command: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub name: Option<String>,
}

/// `POST /v1/sessions/{id}/pre-kill-debrief` body (optional).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DebriefRequest {
    /// How long to wait for the debrief turn (default 120 000).
    #[schemars(range(min = 1, max = 600_000))]
    pub wait_ms: Option<u64>,
}

/// Where the checks came from: `.aegis/verify.toml`, or detected from the project.
fn sources(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": Source::ALL.map(Source::as_str)})
}

/// `POST /v1/sessions/{id}/verify`: the quality gate's checks, run in the session's workDir.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    #[schemars(with = "String")]
    pub session_id: Uuid,
    pub work_dir: PathBuf,
    #[schemars(schema_with = "sources")]
    pub source: &'static str,
    /// Every check passed.
    pub passed: bool,
    pub duration_ms: u64,
    pub checks: Vec<Check>,
}

/// One check of a verify report.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "CheckResult")]
pub struct Check {
    name: String,
    argv: Vec<String>,
    passed: bool,
    /// Null when it timed out or could not run.
    exit_code: Option<i32>,
    duration_ms: u64,
    timed_out: bool,
    /// The end of its output.
    output_tail: String,
    /// Why the check could not run at all (program not found), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<CheckResult> for Check {
    fn from(r: CheckResult) -> Check {
        Check {
            name: r.name,
            argv: r.argv,
            passed: r.passed,
            exit_code: r.exit_code,
            duration_ms: r.duration_ms,
            timed_out: r.timed_out,
            output_tail: r.output_tail,
            error: r.error,
        }
    }
}

/// What became of a worker's worktree.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum Worktree {
    /// Checked out and in use.
    Present,
    /// Removed when the worker was removed.
    Removed,
    /// Left in place when the worker was removed; `reason` says why.
    Kept { reason: String },
}

impl From<WorktreeState> for Worktree {
    fn from(s: WorktreeState) -> Worktree {
        match s {
            WorktreeState::Present => Worktree::Present,
            WorktreeState::Removed => Worktree::Removed,
            WorktreeState::Kept { reason } => Worktree::Kept { reason },
        }
    }
}

/// A worker: a session on its own branch in its own git worktree.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Worker")]
pub struct WorkerWire {
    #[schemars(with = "String")]
    session_id: Uuid,
    #[schemars(with = "String")]
    parent_id: Uuid,
    branch: String,
    /// The repository the branch belongs to (top level of the parent's work tree).
    repo: PathBuf,
    worktree: PathBuf,
    task: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    issue: Option<String>,
    keep_worktree: bool,
    /// Epoch milliseconds.
    created_at_ms: u64,
    worktree_state: Worktree,
    /// The session's status, or `removed`.
    status: &'static str,
}

impl WorkerWire {
    /// `w` with its session's `status`.
    pub fn of(w: Worker, status: &'static str) -> WorkerWire {
        WorkerWire {
            session_id: w.session_id,
            parent_id: w.parent_id,
            branch: w.branch,
            repo: w.repo,
            worktree: w.worktree,
            task: w.task,
            issue: w.issue,
            keep_worktree: w.keep_worktree,
            created_at_ms: w.created_at_ms,
            worktree_state: w.worktree_state.into(),
            status,
        }
    }
}

/// `POST /v1/sessions/dispatch-worker`: the worker's session and its record.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "DispatchedWorker")]
pub struct Dispatched {
    pub session: SessionInfo,
    pub worker: WorkerWire,
}

/// `GET /v1/sessions/{id}/workers`: the workers a session dispatched, present and past.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workers {
    #[schemars(with = "String")]
    pub parent_id: Uuid,
    pub workers: Vec<WorkerWire>,
}

/// `DELETE /v1/sessions/{id}`: done; for a worker, what became of its worktree.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    pub ok: bool,
    /// Only when the session was a worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<Worktree>,
}

/// The kinds of debrief: `hotwash` for a young session, `aar` (after-action review) for an
/// older one.
fn debrief_kinds(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": crate::work::debrief::KINDS})
}

/// A debrief: what an agent said about its work when asked before its session was killed.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Debrief")]
pub struct DebriefWire {
    #[schemars(with = "String")]
    session_id: Uuid,
    session_name: String,
    #[schemars(schema_with = "debrief_kinds")]
    kind: String,
    /// The request typed to the agent.
    prompt: String,
    /// What the agent wrote after the request.
    text: String,
    /// Whether the turn finished within the wait (false: `text` is what was there at the end).
    complete: bool,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    status_at_capture: String,
    waited_ms: u64,
    /// Epoch milliseconds.
    captured_at_ms: u64,
}

impl From<Debrief> for DebriefWire {
    fn from(d: Debrief) -> DebriefWire {
        DebriefWire {
            session_id: d.session_id,
            session_name: d.session_name,
            kind: d.kind,
            prompt: d.prompt,
            text: d.text,
            complete: d.complete,
            status_at_capture: d.status_at_capture,
            waited_ms: d.waited_ms,
            captured_at_ms: d.captured_at_ms,
        }
    }
}

/// `POST /v1/sessions/{id}/pre-kill-debrief`: the debrief, stored, and the session killed.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "KilledDebrief")]
pub struct Killed {
    #[serde(flatten)]
    pub debrief: DebriefWire,
    /// Always true: the session was removed after its debrief was stored.
    pub killed: bool,
}
