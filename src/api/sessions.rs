//! Handlers for the session routes. Each takes already-parsed input and returns a response or
//! an [`ApiError`]; routing, auth and body limits live in `api::routes`.

use super::work::Deleted;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::query_usize;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use super::wire::*;
use crate::events::EventDetail;
use crate::events::detail::{MessageSent, MessageVia};
use crate::screen::{Format, MAX_SNAPSHOT_LINES};
use crate::session::SessionError;
use crate::session::SessionHandle;
use crate::session::validate;
use crate::vocab::SessionStatus;

/// Most sessions one batch request may create.
pub const MAX_BATCH: usize = 50;

/// Session info with what the hooks added.
pub fn info(app: &App, h: &SessionHandle) -> SessionInfo {
    SessionInfo::of(h)
        .with_hooks(h, app.sessions.hooks.get(&h.meta.id).as_deref())
        .with_tmux(app.tmux_places.get(h.meta.id))
}

pub async fn create(app: Arc<App>, req: CreateSessionRequest) -> ApiResult {
    let handle = super::create::create_one(&app, req).await?;
    Ok(json(StatusCode::CREATED, &info(&app, &handle)))
}

pub async fn batch_create(app: Arc<App>, req: BatchCreateRequest) -> ApiResult {
    if req.sessions.is_empty() || req.sessions.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "sessions must hold 1 to {MAX_BATCH} entries"
        )));
    }
    let creations = req.sessions.into_iter().map(|r| {
        let app = app.clone();
        async move { super::create::create_one(&app, r).await }
    });
    let results = futures_util::future::join_all(creations).await;
    let mut sessions = Vec::new();
    let mut failed = Vec::new();
    for (index, r) in results.into_iter().enumerate() {
        match r {
            Ok(h) => sessions.push(info(&app, &h)),
            Err(e) => failed.push(BatchItemError {
                index,
                error: e.message,
                code: e.code,
            }),
        }
    }
    let status = if sessions.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    Ok(json(
        status,
        &BatchCreateResponse {
            created: sessions.len(),
            sessions,
            failed,
        },
    ))
}

/// A `status` filter: a name in our vocabulary, in v0.3's `uiState`, or in both (`idle`,
/// `working`, `permission_prompt`, `error`). A session matches when its `status` or its
/// `uiState` is that name, so every session returned shows the filter value in one of the two
/// fields. Hence `working` also finds stalled sessions, whose uiState is `working` (v0.3 has no
/// stalled state and its clients mean "busy"), while `stalled` finds only those.
#[derive(Debug, Clone)]
struct StatusFilter {
    name: String,
    /// The name as one of our states.
    status: Option<SessionStatus>,
    /// Whether the name is a uiState too.
    ui: bool,
}

impl StatusFilter {
    fn matches(&self, app: &App, h: &SessionHandle) -> bool {
        self.status.is_some_and(|s| h.status() == s)
            || (self.ui && info(app, h).ui_state == self.name)
    }
}

fn parse_status_filter(s: &str) -> Result<StatusFilter, ApiError> {
    let filter = StatusFilter {
        name: s.to_owned(),
        status: SessionStatus::parse(s),
        ui: super::uistate::UI_STATES.contains(&s),
    };
    if filter.status.is_some() || filter.ui {
        return Ok(filter);
    }
    Err(ApiError::invalid(format!(
        "unknown status {s:?}; allowed: {}, or a uiState: {}",
        status_names(),
        super::uistate::UI_STATES.join(", ")
    )))
}

/// The filters of a session listing, parsed.
struct ListFilters {
    status: Option<StatusFilter>,
    agent_type: Option<crate::vocab::AgentType>,
}

/// `GET /v1/sessions`'s query: filters and paging.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ListQuery {
    /// Only sessions with this status or UI state; another value is a 400
    /// VALIDATION_ERROR.
    #[schemars(schema_with = "crate::api::schemas::status_filter")]
    pub status: Option<String>,
    /// Only sessions of this agent type; another value is a 400 VALIDATION_ERROR.
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: Option<String>,
    /// The page, from 1 (default 1).
    #[schemars(with = "Option<u64>", range(min = 1))]
    pub page: Option<String>,
    /// Sessions per page (default 100).
    #[schemars(with = "Option<u64>", range(min = 1, max = 1000))]
    pub limit: Option<String>,
}

fn parse_filters(status: Option<&str>, agent_type: Option<&str>) -> Result<ListFilters, ApiError> {
    Ok(ListFilters {
        status: status.map(parse_status_filter).transpose()?,
        agent_type: agent_type
            .map(super::create::parse_agent_type)
            .transpose()?,
    })
}

/// Refuse the filters a listing would refuse (the fleet listing checks before asking hosts).
pub fn check_filters(status: Option<&str>, agent_type: Option<&str>) -> Result<(), ApiError> {
    parse_filters(status, agent_type).map(|_| ())
}

pub async fn list(app: Arc<App>, q: ListQuery) -> ApiResult {
    let ListFilters { status, agent_type } =
        parse_filters(q.status.as_deref(), q.agent_type.as_deref())?;
    let page = query_usize(q.page.as_deref(), "page", 1, 1..=usize::MAX)?;
    let limit = query_usize(q.limit.as_deref(), "limit", 100, 1..=1000)?;
    let all: Vec<_> = app
        .sessions
        .list()
        .into_iter()
        .filter(|h| status.as_ref().is_none_or(|s| s.matches(&app, h)))
        .filter(|h| agent_type.is_none_or(|a| h.meta.agent_type == a))
        .collect();
    let total = all.len();
    let sessions = all
        .iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|h| info(&app, h))
        .collect();
    let pagination = Pagination {
        page,
        limit,
        total,
        total_pages: total.div_ceil(limit),
    };
    Ok(json(
        StatusCode::OK,
        &SessionList {
            sessions,
            total,
            pagination,
        },
    ))
}

pub async fn stats(app: Arc<App>) -> ApiResult {
    let all = app.sessions.list();
    let mut by_status = BTreeMap::new();
    for h in &all {
        *by_status.entry(h.status().as_str()).or_insert(0) += 1;
    }
    let totals = &app.sessions.totals;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    // Exited sessions still listed count toward completed/failed as well as removed ones.
    let (done_ok, done_err) =
        all.iter()
            .filter_map(|h| h.live().exit_code)
            .fold(
                (0, 0),
                |(ok, err), c| if c == 0 { (ok + 1, err) } else { (ok, err + 1) },
            );
    let body = Stats {
        active: all.iter().filter(|h| !h.is_exited()).count(),
        by_status,
        total_created: load(&totals.created),
        total_completed: load(&totals.completed) + done_ok,
        total_failed: load(&totals.failed) + done_err,
    };
    Ok(json(StatusCode::OK, &body))
}

pub async fn get(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    Ok(json(StatusCode::OK, &info(&app, &h)))
}

/// `GET /v1/sessions/{id}/read`'s query.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ReadQuery {
    /// `text` (default) or `ansi` (with colours and attributes as escape sequences).
    #[schemars(schema_with = "crate::api::schemas::screen_format")]
    pub format: Option<String>,
    /// How many lines of the screen and its history, newest last (default: the screen).
    #[schemars(with = "Option<u64>", range(min = 1, max = MAX_SNAPSHOT_LINES))]
    pub lines: Option<String>,
}

pub async fn read(app: Arc<App>, id: String, q: ReadQuery) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let format = match q.format.as_deref() {
        None | Some("text") => Format::Text,
        Some("ansi") => Format::Ansi,
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidFormat,
                format!("invalid format {other:?}; allowed: text, ansi"),
            ));
        }
    };
    let lines = match q.lines.as_deref() {
        None => None,
        Some(v) => Some(query_usize(Some(v), "lines", 0, 1..=MAX_SNAPSHOT_LINES)?),
    };
    let read = h.read(lines, format).await?;
    let (output, line_count) = read.output_json.of(&read.snapshot.output).clone();
    let snap = read.snapshot;
    let status_text = match (h.live().pending, h.perms.hook_pending()) {
        (_, Some(k)) => Some(format!("{}: {}", k.tool_name, k.as_permission().detail)),
        (Some(p), None) => Some(format!("{}: {}", p.title, p.detail)),
        _ => read.evidence,
    };
    let transcript = super::transcript::view(&app, &h).await;
    let ui_state = super::wire::ui_state(&h, app.sessions.hooks.get(&h.meta.id).as_deref());
    let body = ReadResponse {
        id: h.meta.id.to_string(),
        status: snap.status.as_str(),
        lines: line_count,
        output,
        format: if format == Format::Ansi {
            "ansi"
        } else {
            "text"
        },
        cols: snap.cols,
        rows: snap.rows,
        cursor: Cursor {
            row: snap.cursor.0,
            col: snap.cursor.1,
        },
        title: snap.title,
        ui_state,
        messages: transcript.messages.into_iter().map(Into::into).collect(),
        status_text,
        interactive_content: read.dialog,
        token_usage: transcript.token_usage.map(Into::into),
        token_usage_unknown_reason: transcript.unknown_reason,
    };
    Ok(json(StatusCode::OK, &body))
}

fn running(app: &App, id: &str) -> Result<SessionHandle, ApiError> {
    let h = app.sessions.get(id)?;
    if h.is_exited() {
        return Err(ApiError::from(SessionError::Handle(
            crate::session::HandleError::Exited,
        )));
    }
    Ok(h)
}

pub async fn send(app: Arc<App>, id: String, req: SendRequest) -> ApiResult {
    if req.text.is_empty() {
        return Err(ApiError::invalid("text must not be empty"));
    }
    let h = running(&app, &id)?;
    let d = h.send_text(&req.text, true).await?;
    app.sessions.bus.publish(
        crate::events::EventKind::MessageSent,
        &h.meta,
        None,
        None,
        EventDetail::MessageSent(MessageSent {
            text: req.text.clone(),
            delivered: d.delivered,
            via: MessageVia::Api {
                attempts: d.attempts,
            },
        }),
    );
    Ok(json(
        StatusCode::OK,
        &SendResponse {
            ok: true,
            delivered: d.delivered,
            attempts: d.attempts,
        },
    ))
}

pub async fn keys(app: Arc<App>, id: String, req: KeysRequest) -> ApiResult {
    if req.keys.is_empty() || req.keys.iter().any(String::is_empty) {
        return Err(ApiError::invalid(
            "keys must be a non-empty list of non-empty key names",
        ));
    }
    let h = running(&app, &id)?;
    h.send_keys(&req.keys).await?;
    Ok(json(StatusCode::OK, &OK))
}

pub async fn interrupt(app: Arc<App>, id: String) -> ApiResult {
    let h = running(&app, &id)?;
    h.send_keys(&h.profile.settings.interrupt_keys).await?;
    Ok(json(StatusCode::OK, &OK))
}

pub async fn resize(app: Arc<App>, id: String, req: ResizeRequest) -> ApiResult {
    validate::size(req.cols, req.rows)?;
    let h = running(&app, &id)?;
    h.resize(req.cols, req.rows).await?;
    Ok(json(StatusCode::OK, &OK))
}

pub async fn delete(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    app.sessions.remove(&h).await?;
    // A worker's removal is answered by `work` (with its worktree); this is everyone else's.
    let done = Deleted {
        ok: true,
        worktree: None,
    };
    Ok(json(StatusCode::OK, &done))
}

pub async fn batch_delete(app: Arc<App>, req: BatchDeleteRequest) -> ApiResult {
    let status = req.status.as_deref().map(parse_status_filter).transpose()?;
    if req.ids.is_none() && status.is_none() {
        return Err(ApiError::invalid("give ids, status, or both"));
    }
    let mut not_found = Vec::new();
    let mut targets: Vec<SessionHandle> = match &req.ids {
        Some(ids) => {
            let mut missing = HashSet::new();
            ids.iter()
                .filter_map(|id| match app.sessions.get(id) {
                    Ok(h) => Some(h),
                    Err(_) => {
                        if missing.insert(id) {
                            not_found.push(id.clone());
                        }
                        None
                    }
                })
                .collect()
        }
        None => app.sessions.list(),
    };
    if let Some(s) = status {
        targets.retain(|h| s.matches(&app, h));
    }
    // The same session named twice (or by id and by name) is removed, and counted, once.
    let mut seen = HashSet::new();
    targets.retain(|h| seen.insert(h.meta.id));
    let removals = targets.iter().map(|h| app.sessions.remove(h));
    let results = futures_util::future::join_all(removals).await;
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    let body = BatchDeleteResponse {
        deleted: targets.len() - errors.len(),
        not_found,
        errors,
    };
    Ok(json(StatusCode::OK, &body))
}

/// The session routes.
pub fn routes(t: &mut Table) {
    // `stats` and `batch` before `{id}`, so they are not taken for session names.
    t.on(route::get("/sessions/stats").answers::<Stats>(), stats);
    t.on_body(
        route::post("/sessions/batch")
            .body::<BatchCreateRequest>()
            .creates::<BatchCreateResponse>(),
        batch_create,
    );
    t.on_body(
        route::delete("/sessions/batch")
            .body::<BatchDeleteRequest>()
            .answers::<BatchDeleteResponse>(),
        batch_delete,
    );
    t.on_body(
        route::post("/sessions")
            .body::<CreateSessionRequest>()
            .creates::<SessionInfo>(),
        create,
    );
    t.on_query(route::get("/sessions").answers::<SessionList>(), list);
    t.on_one(route::get("/sessions/{id}").answers::<SessionInfo>(), get);
    t.on_one(route::delete("/sessions/{id}").answers::<Deleted>(), delete);
    t.on_one_query(
        route::get("/sessions/{id}/read").answers::<ReadResponse>(),
        read,
    );
    t.on_one_body(
        route::post("/sessions/{id}/send")
            .body::<SendRequest>()
            .answers::<SendResponse>(),
        send,
    );
    t.on_one_body(
        route::post("/sessions/{id}/keys")
            .body::<KeysRequest>()
            .answers::<Ok>(),
        keys,
    );
    t.on_one(
        route::post("/sessions/{id}/interrupt").answers::<Ok>(),
        interrupt,
    );
    t.on_one_body(
        route::post("/sessions/{id}/resize")
            .body::<ResizeRequest>()
            .answers::<Ok>(),
        resize,
    );
}
