//! The orchestration views over every session: `GET /v1/world` (each session with its state,
//! phase, role, group and token usage) and `GET /v1/swarm` (every running group: lineages,
//! pipelines, consensus reviews, with counts by state). Read-only; the state they show
//! belongs to `crate::orchestrate` and the session manager.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::StatusCode;

use super::App;
use super::reply::{ApiResult, json};
use super::route::{self, Query, Table};
use crate::orchestrate::{Completion, Orchestrator, Role};
use crate::session::SessionHandle;
use crate::vocab::SessionStatus;

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

fn role_of(
    orch: &Orchestrator,
    h: &SessionHandle,
    parents: &HashMap<uuid::Uuid, usize>,
) -> (&'static str, Value) {
    match orch.role(&h.meta.id) {
        Some(Role::Stage { pipeline, stage }) => (
            "stage",
            json!({ "kind": "pipeline", "id": pipeline, "stage": stage }),
        ),
        Some(Role::Reviewer { consensus, index }) => (
            "reviewer",
            json!({ "kind": "consensus", "id": consensus, "index": index }),
        ),
        None if parents.contains_key(&h.meta.id) => ("parent", Value::Null),
        None if h.meta.parent_id.is_some() => ("worker", Value::Null),
        None => ("none", Value::Null),
    }
}

async fn world(app: Arc<App>) -> ApiResult {
    let orch = &app.orch;
    let all = app.sessions.list();
    let mut parents: HashMap<uuid::Uuid, usize> = HashMap::new();
    for h in &all {
        if let Some(p) = h.meta.parent_id {
            *parents.entry(p).or_default() += 1;
        }
    }
    let mut by_role: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let usages = super::transcript::usages(&app, &all).await;
    let sessions: Vec<Value> = all
        .iter()
        .zip(usages)
        .map(|(h, usage)| {
            let done = orch.completion(&h.meta.id);
            let (role, group) = role_of(orch, h, &parents);
            *by_role.entry(role).or_default() += 1;
            *by_status.entry(h.status().as_str()).or_default() += 1;
            json!({
                "id": h.meta.id,
                "name": h.meta.name,
                "status": h.status().as_str(),
                "agentType": h.meta.agent_type.as_str(),
                "workDir": h.meta.work_dir,
                "phase": phase(h, done.as_ref()),
                "role": role,
                "group": group,
                "parentId": h.meta.parent_id,
                "children": parents.get(&h.meta.id).copied().unwrap_or(0),
                // From the agent's own records; null (with the reason) when unknown, never 0.
                "usage": usage.as_ref().ok(),
                "usageUnknownReason": usage.as_ref().err(),
                "outputBytes": h.counters.bytes_out.load(std::sync::atomic::Ordering::Relaxed),
                "completion": done.map(|c| json!({ "status": c.status, "comment": c.comment, "completedAt": c.at_ms })),
            })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "sessions": sessions, "total": all.len(), "byRole": by_role, "byStatus": by_status }),
    ))
}

fn counts(hs: &[SessionHandle]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for h in hs {
        *m.entry(h.status().as_str()).or_default() += 1;
    }
    m
}

async fn swarm(app: Arc<App>, q: Query) -> ApiResult {
    let orch = &app.orch;
    let everything = q.get("all").is_some_and(|v| v == "true" || v == "1");
    let all = app.sessions.list();
    let by_id: HashMap<uuid::Uuid, SessionHandle> =
        all.iter().map(|h| (h.meta.id, h.clone())).collect();
    let mut groups = Vec::new();
    // Parent/children, leaving out reviewers and stages (their groups are listed below).
    let mut lineages: BTreeMap<uuid::Uuid, Vec<SessionHandle>> = BTreeMap::new();
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
            groups.push(json!({
                "kind": "lineage",
                "id": parent,
                "name": by_id.get(&parent).map(|h| h.meta.name.clone()),
                "status": if running { "running" } else { "finished" },
                "sessions": members.iter().map(|h| h.meta.id).collect::<Vec<_>>(),
                "counts": counts(&members),
            }));
        }
    }
    for p in orch.pipelines.list() {
        let v = p.view();
        if v.finished_at.is_some() && !everything {
            continue;
        }
        let members: Vec<SessionHandle> = v
            .stages
            .iter()
            .filter_map(|s| s.session_id.and_then(|id| by_id.get(&id).cloned()))
            .collect();
        let mut stage_counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &v.stages {
            *stage_counts.entry(s.status.as_str()).or_default() += 1;
        }
        groups.push(json!({
            "kind": "pipeline",
            "id": v.id,
            "name": v.name,
            "status": v.status.as_str(),
            "sessions": members.iter().map(|h| h.meta.id).collect::<Vec<_>>(),
            "counts": counts(&members),
            "stageCounts": stage_counts,
        }));
    }
    for r in orch.reviews.list() {
        let v = r.view();
        if v.finished_at.is_some() && !everything {
            continue;
        }
        let members: Vec<SessionHandle> = v
            .reviewers
            .iter()
            .filter_map(|x| x.session_id.and_then(|id| by_id.get(&id).cloned()))
            .collect();
        groups.push(json!({
            "kind": "consensus",
            "id": v.id,
            "parentId": v.parent_id,
            "status": v.status,
            "sessions": members.iter().map(|h| h.meta.id).collect::<Vec<_>>(),
            "counts": counts(&members),
        }));
    }
    Ok(json(
        StatusCode::OK,
        &json!({
            "groups": groups,
            "totalGroups": groups.len(),
            "sessions": { "total": all.len(), "byStatus": counts(&all) },
        }),
    ))
}

/// The view routes (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on(route::get("/world"), world);
    t.on_query(route::get("/swarm"), swarm);
}
