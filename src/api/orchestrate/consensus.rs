//! Consensus reviews: start one on a session, get one, list them
//! (`crate::orchestrate::consensus` runs them).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;

use super::bad;
use super::lineage::{SpawnRequest, child_request};
use crate::api::App;
use crate::api::create::to_spec;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::reply::{ApiResult, json};
use crate::api::route::{self, Table};
use crate::orchestrate::consensus;

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

async fn get_consensus(app: Arc<App>, id: String) -> ApiResult {
    let r = app.orch.reviews.get(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ConsensusNotFound,
            format!("consensus review not found: {id}"),
        )
    })?;
    Ok(json(StatusCode::OK, &r.view()))
}

async fn list_consensus(app: Arc<App>) -> ApiResult {
    let all: Vec<_> = app.orch.reviews.list().iter().map(|r| r.view()).collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "reviews": all, "total": all.len() }),
    ))
}

/// The routes of this group (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on_one_body(route::post("/sessions/{id}/consensus"), start_consensus);
    t.on_one(route::get("/consensus/{id}"), get_consensus);
    t.on(route::get("/consensus"), list_consensus);
}
