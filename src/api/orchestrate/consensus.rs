//! Consensus reviews: start one on a session, get one, list them
//! (`crate::orchestrate::consensus` runs them), and the review's wire shape.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::bad;
use super::lineage::{SpawnRequest, child_request};
use crate::api::App;
use crate::api::create::to_spec;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::reply::{ApiResult, json, json_sorted};
use crate::api::route::{self, Table};
use crate::orchestrate::consensus;

/// `POST /v1/sessions/{id}/consensus` body: reviewers are children of the session, started
/// like it unless `agentType` or `command` say otherwise.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(transform = crate::api::schemas::Alias("focusAreas", "criteria"))]
#[schemars(transform = crate::api::schemas::Alias("reviewerCount", "reviewers"))]
pub struct ConsensusRequest {
    /// Required: the criteria to judge, one-line names (or `focusAreas`).
    #[serde(alias = "focusAreas")]
    pub criteria: Option<Vec<String>>,
    /// How many reviewers (default 3).
    #[serde(alias = "reviewerCount")]
    #[schemars(range(min = 1, max = consensus::MAX_REVIEWERS))]
    pub reviewers: Option<usize>,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    /// How long the review may take (default ten minutes); at the end the verdicts received
    /// decide.
    #[schemars(range(min = 1))]
    pub timeout_ms: Option<u64>,
    /// Added to the reviewers' environment.
    pub env: Option<BTreeMap<String, String>>,
}

/// A consensus review: its reviewers, and the majority's verdict once it finished.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consensus {
    #[schemars(with = "String")]
    id: uuid::Uuid,
    /// The session whose work is reviewed.
    #[schemars(with = "String")]
    parent_id: uuid::Uuid,
    #[schemars(schema_with = "crate::api::schemas::review_status")]
    status: &'static str,
    criteria: Vec<String>,
    reviewers: Vec<Reviewer>,
    /// The majority's verdict (none: no reviewer gave one); null while it runs.
    #[schemars(schema_with = "crate::api::schemas::decision")]
    verdict: Option<&'static str>,
    approvals: usize,
    rejections: usize,
    /// As many approvals as rejections (which rejects: approval needs a strict majority).
    tie: bool,
    /// The verdict in a sentence.
    explanation: Option<String>,
    /// Each criterion over every verdict received.
    per_criterion: BTreeMap<String, Criterion>,
    /// Epoch milliseconds.
    created_at: u64,
    /// Epoch milliseconds; null while it runs.
    finished_at: Option<u64>,
    timeout_ms: u64,
}

/// One reviewer of a consensus review.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ConsensusReviewer")]
pub struct Reviewer {
    index: usize,
    /// The reviewer's session, once started.
    #[schemars(with = "Option<String>")]
    session_id: Option<uuid::Uuid>,
    #[schemars(schema_with = "crate::api::schemas::reviewer_status")]
    status: &'static str,
    #[schemars(schema_with = "crate::api::schemas::vote")]
    verdict: Option<&'static str>,
    /// Pass or fail per criterion, as this reviewer judged it.
    #[schemars(schema_with = "crate::api::schemas::marks_by_criterion")]
    criteria: BTreeMap<String, &'static str>,
    /// The reviewer's reason for its verdict.
    reason: Option<String>,
    /// Why the reviewer gave no verdict.
    error: Option<String>,
}

/// One criterion over every verdict received.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ConsensusCriterion")]
pub struct Criterion {
    pass: usize,
    fail: usize,
    #[schemars(schema_with = "crate::api::schemas::mark")]
    result: &'static str,
}

impl From<consensus::ConsensusView> for Consensus {
    fn from(v: consensus::ConsensusView) -> Consensus {
        Consensus {
            id: v.id,
            parent_id: v.parent_id,
            status: v.status.as_str(),
            criteria: v.criteria,
            reviewers: v.reviewers.into_iter().map(Reviewer::from).collect(),
            verdict: v.verdict.map(consensus::Decision::as_str),
            approvals: v.approvals,
            rejections: v.rejections,
            tie: v.tie,
            explanation: v.explanation,
            per_criterion: v
                .per_criterion
                .into_iter()
                .map(|(name, c)| {
                    let c = Criterion {
                        pass: c.pass,
                        fail: c.fail,
                        result: c.result.as_str(),
                    };
                    (name, c)
                })
                .collect(),
            created_at: v.created_at,
            finished_at: v.finished_at,
            timeout_ms: v.timeout_ms,
        }
    }
}

impl From<consensus::ReviewerView> for Reviewer {
    fn from(r: consensus::ReviewerView) -> Reviewer {
        Reviewer {
            index: r.index,
            session_id: r.session_id,
            status: r.status.as_str(),
            verdict: r.verdict.map(consensus::Decision::as_str),
            criteria: r
                .criteria
                .into_iter()
                .map(|(name, mark)| (name, mark.as_str()))
                .collect(),
            reason: r.reason,
            error: r.error,
        }
    }
}

/// `GET /v1/consensus`: every review of this daemon, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConsensusList {
    reviews: Vec<Consensus>,
    total: usize,
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
    Ok(json(StatusCode::ACCEPTED, &Consensus::from(review.view())))
}

async fn get_consensus(app: Arc<App>, id: String) -> ApiResult {
    let r = app.orch.reviews.get(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ConsensusNotFound,
            format!("consensus review not found: {id}"),
        )
    })?;
    Ok(json(StatusCode::OK, &Consensus::from(r.view())))
}

async fn list_consensus(app: Arc<App>) -> ApiResult {
    let reviews: Vec<Consensus> = app
        .orch
        .reviews
        .list()
        .iter()
        .map(|r| r.view().into())
        .collect();
    let total = reviews.len();
    Ok(json_sorted(
        StatusCode::OK,
        &ConsensusList { reviews, total },
    ))
}

/// The routes of this group (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on_one_body(
        route::post("/sessions/{id}/consensus")
            .body::<ConsensusRequest>()
            .answers_with::<Consensus>(202),
        start_consensus,
    );
    t.on_one(
        route::get("/consensus/{id}").answers::<Consensus>(),
        get_consensus,
    );
    t.on(
        route::get("/consensus").answers::<ConsensusList>(),
        list_consensus,
    );
}
