//! The orchestration views over every session: `GET /v1/world` (each session with its state,
//! phase, role, group and token usage) and `GET /v1/swarm` (every running group: lineages,
//! pipelines, consensus reviews, with counts by state). Read-only; the state they show
//! belongs to `crate::orchestrate` and the session manager.
//!
//! Both answers are written with their keys in name order (`json_sorted`), as they always
//! were.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use warp::http::StatusCode;

use super::App;
use super::reply::{ApiResult, json_sorted};
use super::route::{self, Table};
use crate::orchestrate::{Completion, Orchestrator, Role};
use crate::session::SessionHandle;
use crate::vocab::SessionStatus;

/// What a session can be doing, in orchestration terms ([`phase`]).
const PHASES: [&str; 7] = [
    "starting",
    "working",
    "waiting_for_input",
    "needs_human",
    "blocked",
    "exited",
    "completed",
];

/// What a session can be to the others ([`role_of`]).
const ROLES: [&str; 5] = ["parent", "worker", "reviewer", "stage", "none"];

fn phases(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": PHASES})
}

fn roles(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": ROLES})
}

/// What a session is doing, in orchestration terms.
fn phase(h: &SessionHandle, done: Option<&Completion>) -> &'static str {
    if done.is_some() {
        return "completed";
    }
    match h.status() {
        SessionStatus::Starting => "starting",
        SessionStatus::Working => "working",
        SessionStatus::Idle => "waiting_for_input",
        SessionStatus::PermissionPrompt | SessionStatus::Question => "needs_human",
        SessionStatus::Error | SessionStatus::Stalled => "blocked",
        SessionStatus::Exited => "exited",
    }
}

/// The group a session works in: a pipeline's stage, or a consensus review's reviewer.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[schemars(rename = "WorldGroup")]
enum Group {
    Pipeline {
        #[schemars(with = "String")]
        id: Uuid,
        stage: String,
    },
    Consensus {
        #[schemars(with = "String")]
        id: Uuid,
        index: usize,
    },
}

fn role_of(
    orch: &Orchestrator,
    h: &SessionHandle,
    parents: &HashMap<Uuid, usize>,
) -> (&'static str, Option<Group>) {
    match orch.role(&h.meta.id) {
        Some(Role::Stage { pipeline, stage }) => (
            "stage",
            Some(Group::Pipeline {
                id: pipeline,
                stage,
            }),
        ),
        Some(Role::Reviewer { consensus, index }) => (
            "reviewer",
            Some(Group::Consensus {
                id: consensus,
                index,
            }),
        ),
        None if parents.contains_key(&h.meta.id) => ("parent", None),
        None if h.meta.parent_id.is_some() => ("worker", None),
        None => ("none", None),
    }
}

/// `GET /v1/world`: every session, with what it is doing for the others.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "World")]
struct World {
    sessions: Vec<WorldSession>,
    total: usize,
    /// Sessions per role.
    by_role: BTreeMap<&'static str, usize>,
    /// Sessions per status.
    by_status: BTreeMap<&'static str, usize>,
}

/// One session in `GET /v1/world`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WorldSession {
    #[schemars(with = "String")]
    id: Uuid,
    name: String,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    status: &'static str,
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    agent_type: &'static str,
    work_dir: PathBuf,
    #[schemars(schema_with = "phases")]
    phase: &'static str,
    #[schemars(schema_with = "roles")]
    role: &'static str,
    /// The pipeline or review it belongs to, for a stage or a reviewer.
    group: Option<Group>,
    #[schemars(with = "Option<String>")]
    parent_id: Option<Uuid>,
    /// How many sessions it spawned.
    children: usize,
    /// The session's token usage from its agent's transcript (as on `/read`); null when
    /// unknown (see `usageUnknownReason`), never a made-up zero.
    usage: Option<super::transcript::Usage>,
    /// Why `usage` is null.
    usage_unknown_reason: Option<String>,
    /// Bytes of output the session wrote.
    output_bytes: u64,
    /// What a client declared when it completed the session's task.
    completion: Option<WorldCompletion>,
}

/// A completion declared by `POST /v1/sessions/{id}/complete`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WorldCompletion {
    status: String,
    comment: Option<String>,
    /// Epoch milliseconds.
    completed_at: u64,
}

async fn world(app: Arc<App>) -> ApiResult {
    let orch = &app.orch;
    let all = app.sessions.list();
    let mut parents: HashMap<Uuid, usize> = HashMap::new();
    for h in &all {
        if let Some(p) = h.meta.parent_id {
            *parents.entry(p).or_default() += 1;
        }
    }
    let mut by_role: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut by_status: BTreeMap<&'static str, usize> = BTreeMap::new();
    let usages = super::transcript::usages(&app, &all).await;
    let sessions: Vec<WorldSession> = all
        .iter()
        .zip(usages)
        .map(|(h, usage)| {
            let done = orch.completion(&h.meta.id);
            let (role, group) = role_of(orch, h, &parents);
            *by_role.entry(role).or_default() += 1;
            *by_status.entry(h.status().as_str()).or_default() += 1;
            let (usage, usage_unknown_reason) = match usage {
                Ok(u) => (Some(u.into()), None),
                Err(reason) => (None, Some(reason)),
            };
            WorldSession {
                id: h.meta.id,
                name: h.meta.name.clone(),
                status: h.status().as_str(),
                agent_type: h.meta.agent_type.as_str(),
                work_dir: h.meta.work_dir.clone(),
                phase: phase(h, done.as_ref()),
                role,
                group,
                parent_id: h.meta.parent_id,
                children: parents.get(&h.meta.id).copied().unwrap_or(0),
                usage,
                usage_unknown_reason,
                output_bytes: h
                    .counters
                    .bytes_out
                    .load(std::sync::atomic::Ordering::Relaxed),
                completion: done.map(|c| WorldCompletion {
                    status: c.status,
                    comment: c.comment,
                    completed_at: c.at_ms,
                }),
            }
        })
        .collect();
    let body = World {
        total: sessions.len(),
        sessions,
        by_role,
        by_status,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

fn counts(hs: &[SessionHandle]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for h in hs {
        *m.entry(h.status().as_str()).or_default() += 1;
    }
    m
}

/// `GET /v1/swarm`: the groups sessions work in, and every session counted by status.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Swarm")]
struct Swarm {
    groups: Vec<SwarmGroup>,
    total_groups: usize,
    sessions: SwarmSessions,
}

/// Every session of the daemon, counted.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct SwarmSessions {
    total: usize,
    by_status: BTreeMap<&'static str, usize>,
}

// A group's members that still exist, and how many are in each status (a part of each
// `SwarmGroup`, whose doc says so).
#[derive(Debug, Serialize, JsonSchema)]
struct Members {
    #[schemars(with = "Vec<String>")]
    sessions: Vec<Uuid>,
    counts: BTreeMap<&'static str, usize>,
}

impl Members {
    fn of(hs: &[SessionHandle]) -> Members {
        Members {
            sessions: hs.iter().map(|h| h.meta.id).collect(),
            counts: counts(hs),
        }
    }
}

/// A group of sessions: a parent and the children it spawned, a pipeline's stages, or a
/// consensus review's reviewers. `sessions` lists its members, `counts` counts them by
/// status.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum SwarmGroup {
    #[serde(rename_all = "camelCase")]
    Lineage {
        /// The parent's id.
        #[schemars(with = "String")]
        id: Uuid,
        /// The parent's name; null when the parent is gone.
        name: Option<String>,
        /// running while a member runs, else finished.
        status: &'static str,
        #[serde(flatten)]
        members: Members,
    },
    #[serde(rename_all = "camelCase")]
    Pipeline {
        #[schemars(with = "String")]
        id: Uuid,
        name: String,
        #[schemars(schema_with = "crate::api::schemas::pipeline_status")]
        status: &'static str,
        #[serde(flatten)]
        members: Members,
        /// The stages, counted by their status.
        stage_counts: BTreeMap<&'static str, usize>,
    },
    #[serde(rename_all = "camelCase")]
    Consensus {
        #[schemars(with = "String")]
        id: Uuid,
        /// The reviewed session.
        #[schemars(with = "String")]
        parent_id: Uuid,
        #[schemars(schema_with = "crate::api::schemas::review_status")]
        status: &'static str,
        #[serde(flatten)]
        members: Members,
    },
}

/// `GET /v1/swarm`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
struct SwarmQuery {
    /// `true` (or `1`) to include finished groups; anything else leaves them out.
    all: Option<String>,
}

/// The members of a group that still exist: its members' ids (`None` for a member that
/// has no session yet) looked up in `by_id`.
fn present(
    by_id: &HashMap<Uuid, SessionHandle>,
    ids: impl Iterator<Item = Option<Uuid>>,
) -> Members {
    let hs: Vec<SessionHandle> = ids
        .flatten()
        .filter_map(|id| by_id.get(&id).cloned())
        .collect();
    Members::of(&hs)
}

async fn swarm(app: Arc<App>, q: SwarmQuery) -> ApiResult {
    let orch = &app.orch;
    let everything = q.all.is_some_and(|v| v == "true" || v == "1");
    let all = app.sessions.list();
    let by_id: HashMap<Uuid, SessionHandle> = all.iter().map(|h| (h.meta.id, h.clone())).collect();
    let mut groups = Vec::new();
    // Parent/children, leaving out reviewers and stages (their groups are listed below).
    let mut lineages: BTreeMap<Uuid, Vec<SessionHandle>> = BTreeMap::new();
    for h in &all {
        if let Some(p) = h.meta.parent_id
            && orch.role(&h.meta.id).is_none()
        {
            lineages.entry(p).or_default().push(h.clone());
        }
    }
    for (parent, kids) in lineages {
        let mut members = kids;
        if let Some(p) = by_id.get(&parent) {
            members.insert(0, p.clone());
        }
        let running = members.iter().any(|h| !h.is_exited());
        if running || everything {
            groups.push(SwarmGroup::Lineage {
                id: parent,
                name: by_id.get(&parent).map(|h| h.meta.name.clone()),
                status: if running { "running" } else { "finished" },
                members: Members::of(&members),
            });
        }
    }
    for p in orch.pipelines.list() {
        let v = p.view();
        if v.finished_at.is_some() && !everything {
            continue;
        }
        let members = present(&by_id, v.stages.iter().map(|s| s.session_id));
        let mut stage_counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for s in &v.stages {
            *stage_counts.entry(s.status.as_str()).or_default() += 1;
        }
        groups.push(SwarmGroup::Pipeline {
            id: v.id,
            name: v.name,
            status: v.status.as_str(),
            members,
            stage_counts,
        });
    }
    for r in orch.reviews.list() {
        let v = r.view();
        if v.finished_at.is_some() && !everything {
            continue;
        }
        let members = present(&by_id, v.reviewers.iter().map(|x| x.session_id));
        groups.push(SwarmGroup::Consensus {
            id: v.id,
            parent_id: v.parent_id,
            status: v.status.as_str(),
            members,
        });
    }
    let body = Swarm {
        total_groups: groups.len(),
        groups,
        sessions: SwarmSessions {
            total: all.len(),
            by_status: counts(&all),
        },
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// The view routes (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on(route::get("/world").answers::<World>(), world);
    t.on_query(route::get("/swarm").answers::<Swarm>(), swarm);
}
