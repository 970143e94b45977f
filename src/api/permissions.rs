//! Routes for permission prompts, policies and detection:
//!
//! - `GET /v1/permissions`: pending requests of every session.
//! - `GET /v1/sessions/:id/permissions/pending`, `GET .../permissions/history`.
//! - `POST /v1/sessions/:id/approve` and `/reject`, body `{permissionId?, option?}`.
//! - `GET /v1/human-approvals`, `GET /v1/human-approvals/:id`,
//!   `POST /v1/human-approvals/:id/approve {feedback?, approved_by?}` and
//!   `.../reject {reason, rejected_by?}`: the orchestrator-style aliases, same semantics.
//! - `PUT /v1/sessions/:id/permissions {allowRead?, allowWrite?, allowBash?, rules?,
//!   trustFolder?, timeoutMs?, defaultAction?}` and `PUT .../permission-profile {profile}`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::StatusCode;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{json_body, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use super::wire::{HistoryEntryWire, PermissionRequestWire, permission_request};
use crate::detect::profile::PermissionKind;
use crate::permissions::policy::{PolicyProfile, PolicyRule};
use crate::permissions::{self, Action, AnsweredBy};
use crate::session::SessionHandle;
use crate::session::answer::{self, Answer, AnswerError, AnswerOutcome};

impl From<AnswerError> for ApiError {
    fn from(e: AnswerError) -> Self {
        let msg = e.to_string();
        match e {
            AnswerError::NoPending => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::NoPendingPermission, msg)
            }
            AnswerError::Stale { .. } => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::StalePermission, msg)
            }
            AnswerError::BadOption(_) => ApiError::invalid(msg),
            AnswerError::CursorNotVerified(_) => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::CursorNotVerified, msg)
            }
            AnswerError::Handle(h) => h.into(),
        }
    }
}

/// `POST /v1/sessions/{id}/approve` and `/reject` body (optional).
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerRequest {
    /// The request meant (default: the one pending); a stale id is refused.
    pub permission_id: Option<String>,
    /// The dialog option to pick (default: the approving or rejecting one).
    pub option: Option<u32>,
}

/// `POST /v1/human-approvals/{id}/approve` body (optional).
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HumanApprove {
    pub feedback: Option<String>,
    pub approved_by: Option<String>,
}

/// `POST /v1/human-approvals/{id}/reject` body.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HumanReject {
    pub reason: String,
    pub rejected_by: Option<String>,
}

/// A policy rule as a client writes it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(rename = "PolicyRuleRequest")]
pub struct RuleWire {
    /// Match only requests of this kind.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::permission_kind")]
    pub kind: Option<String>,
    /// A regex matched against the request's title and detail (at most 1000 bytes).
    pub pattern: Option<String>,
    /// approve or reject.
    pub action: String,
}

/// `PUT /v1/sessions/{id}/permissions` body: the fields given replace the policy's.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRequest {
    pub allow_read: Option<bool>,
    pub allow_write: Option<bool>,
    pub allow_bash: Option<bool>,
    /// At most 100; the first that matches answers.
    pub rules: Option<Vec<RuleWire>>,
    /// Answer the start-up trust dialog: true trusts, false declines.
    pub trust_folder: Option<bool>,
    /// Answer a request still pending after this long with `defaultAction`; 0 disables.
    pub timeout_ms: Option<u64>,
    /// approve or reject.
    pub default_action: Option<String>,
}

/// `PUT /v1/sessions/{id}/permission-profile` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// strict, restricted, default or permissive.
    pub profile: String,
}

/// A policy rule as the policy holds it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PolicyRuleWire {
    /// bash, edit, create, mcp, trust, plan or other; null matches every kind.
    kind: Option<&'static str>,
    pattern: Option<String>,
    /// approve or reject.
    action: &'static str,
}

/// A session's permission policy, as both policy routes answer it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "PermissionPolicy")]
pub struct PolicyWire {
    allow_read: Option<bool>,
    allow_write: Option<bool>,
    allow_bash: Option<bool>,
    rules: Vec<PolicyRuleWire>,
    /// strict, restricted, default or permissive.
    profile: &'static str,
    trust_folder: Option<bool>,
    /// Null when requests never time out.
    timeout_ms: Option<u64>,
    /// approve or reject.
    default_action: &'static str,
}

/// `GET /v1/permissions`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PendingPermissions {
    total: usize,
    permissions: Vec<PermissionRequestWire>,
}

/// `GET /v1/human-approvals`: the pending requests under the orchestrator's name.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HumanApprovals {
    total: usize,
    approvals: Vec<PermissionRequestWire>,
}

/// `GET /v1/sessions/{id}/permissions/pending`: empty, or the one pending request.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPending {
    #[schemars(with = "String")]
    session_id: uuid::Uuid,
    pending: Vec<PermissionRequestWire>,
}

/// `GET /v1/sessions/{id}/permissions/history`: answered requests, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionHistory {
    #[schemars(with = "String")]
    session_id: uuid::Uuid,
    history: Vec<HistoryEntryWire>,
}

/// How an approve or reject went.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswerResult {
    ok: bool,
    #[schemars(with = "String")]
    session_id: uuid::Uuid,
    #[schemars(with = "String")]
    permission_id: uuid::Uuid,
    /// approved or rejected.
    action: &'static str,
    /// The dialog option picked, if one was.
    option: Option<u32>,
    /// The keys typed into the dialog (empty when the hook answered).
    keys: Vec<String>,
    /// The dialog left the screen.
    dialog_closed: bool,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    status: &'static str,
    /// keys (typed into the dialog) or hook (the reply to a held PermissionRequest hook).
    via: &'static str,
}

/// Most policy rules per session; each is a regex checked on every prompt.
const MAX_RULES: usize = 100;
/// Longest accepted rule pattern; the regex crate bounds compile size, this bounds the input.
const MAX_PATTERN: usize = 1000;

impl From<&permissions::Policy> for PolicyWire {
    fn from(p: &permissions::Policy) -> Self {
        PolicyWire {
            allow_read: p.allow_read,
            allow_write: p.allow_write,
            allow_bash: p.allow_bash,
            rules: p
                .rules
                .iter()
                .map(|r| PolicyRuleWire {
                    kind: r.kind.map(PermissionKind::as_str),
                    pattern: r.pattern.as_ref().map(|re| re.as_str().to_owned()),
                    action: r.action.as_str(),
                })
                .collect(),
            profile: p.profile.as_str(),
            trust_folder: p.trust_folder,
            timeout_ms: p.timeout.map(|t| t.as_millis() as u64),
            default_action: p.default_action.as_str(),
        }
    }
}

/// The pending request of a session: the dialog on screen, the request held by Claude Code's
/// PermissionRequest hook, or both merged (`source` says which).
pub(crate) fn pending_of(h: &SessionHandle) -> Vec<PermissionRequestWire> {
    let screen = h.live().pending;
    let hook = h.perms.hook_pending();
    let mut v = match (&screen, &hook) {
        (Some(p), _) => permission_request(h.meta.id, &h.meta.name, h.meta.agent_type, p),
        (None, Some(k)) => permission_request(
            h.meta.id,
            &h.meta.name,
            h.meta.agent_type,
            &k.as_permission(),
        ),
        (None, None) => return Vec::new(),
    };
    v.source = Some(match (&screen, &hook) {
        (Some(_), Some(_)) => "screen+hook",
        (Some(_), None) => "screen",
        _ => "hook",
    });
    if let Some(k) = hook {
        v.hook_request_id = Some(k.id);
        v.tool_name = Some(k.tool_name);
        v.tool_input = Some(k.tool_input);
    }
    vec![v]
}

async fn all_pending(app: Arc<App>) -> ApiResult {
    let permissions: Vec<_> = app.sessions.list().iter().flat_map(pending_of).collect();
    Ok(json(
        StatusCode::OK,
        &PendingPermissions {
            total: permissions.len(),
            permissions,
        },
    ))
}

async fn session_pending(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    Ok(json(
        StatusCode::OK,
        &SessionPending {
            session_id: h.meta.id,
            pending: pending_of(&h),
        },
    ))
}

async fn history(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let history = h.perms.history().iter().map(Into::into).collect();
    Ok(json(
        StatusCode::OK,
        &PermissionHistory {
            session_id: h.meta.id,
            history,
        },
    ))
}

fn outcome_wire(h: &SessionHandle, o: AnswerOutcome) -> AnswerResult {
    AnswerResult {
        ok: true,
        session_id: h.meta.id,
        permission_id: o.permission_id,
        action: o.action.as_str(),
        option: o.option,
        keys: o.keys,
        dialog_closed: o.closed,
        status: o.status.as_str(),
        via: o.via,
    }
}

async fn answer(app: Arc<App>, id: String, approve: bool, req: AnswerRequest) -> ApiResult {
    let h = app.sessions.get(&id)?;
    if h.is_exited() {
        return Err(crate::session::HandleError::Exited.into());
    }
    let outcome = answer::answer(
        &h,
        Answer {
            permission_id: req.permission_id,
            approve,
            option: req.option,
            by: AnsweredBy::Api,
            reason: None,
            actor: None,
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &outcome_wire(&h, outcome)))
}

/// The session whose pending request has this id.
fn find_request(app: &App, permission_id: &str) -> Result<SessionHandle, ApiError> {
    app.sessions
        .list()
        .into_iter()
        .find(|h| {
            h.live()
                .pending
                .is_some_and(|p| p.id.to_string() == permission_id)
                || h.perms
                    .hook_pending()
                    .is_some_and(|k| k.id.to_string() == permission_id)
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ApprovalNotFound,
                format!("no pending approval {permission_id:?}"),
            )
        })
}

async fn human_list(app: Arc<App>) -> ApiResult {
    let approvals: Vec<_> = app.sessions.list().iter().flat_map(pending_of).collect();
    Ok(json(
        StatusCode::OK,
        &HumanApprovals {
            total: approvals.len(),
            approvals,
        },
    ))
}

async fn human_get(app: Arc<App>, pid: String) -> ApiResult {
    let h = find_request(&app, &pid)?;
    // Null only if the request was answered between finding it and reading it.
    let p = pending_of(&h).into_iter().next();
    Ok(json(StatusCode::OK, &p))
}

async fn human_answer(
    app: Arc<App>,
    pid: String,
    approve: bool,
    reason: Option<String>,
    actor: Option<String>,
) -> ApiResult {
    let h = find_request(&app, &pid)?;
    let outcome = answer::answer(
        &h,
        Answer {
            permission_id: Some(pid),
            approve,
            option: None,
            by: AnsweredBy::Api,
            reason,
            actor,
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &outcome_wire(&h, outcome)))
}

fn parse_rules(rules: Vec<RuleWire>) -> Result<Vec<PolicyRule>, ApiError> {
    if rules.len() > MAX_RULES {
        return Err(ApiError::invalid(format!("at most {MAX_RULES} rules")));
    }
    rules
        .into_iter()
        .map(|r| {
            let action = Action::parse(&r.action).ok_or_else(|| {
                ApiError::invalid(format!("unknown action {:?}; allowed: approve, reject", r.action),
                )
            })?;
            let kind = r
                .kind
                .as_deref()
                .map(|k| {
                    PermissionKind::parse(k).ok_or_else(|| {
                        ApiError::invalid(format!(
                                "unknown kind {k:?}; allowed: bash, edit, create, mcp, trust, plan, other"
                            ),
                        )
                    })
                })
                .transpose()?;
            let pattern = r
                .pattern
                .as_deref()
                .map(|p| {
                    if p.len() > MAX_PATTERN {
                        return Err(ApiError::invalid(format!("pattern longer than {MAX_PATTERN} bytes"),
                        ));
                    }
                    regex::Regex::new(p).map_err(|e| {
                        ApiError::invalid(format!("invalid pattern: {e}"))
                    })
                })
                .transpose()?;
            Ok(PolicyRule {
                kind,
                pattern,
                action,
            })
        })
        .collect()
}

async fn put_policy(app: Arc<App>, id: String, req: PolicyRequest) -> ApiResult {
    let h = app.sessions.get(&id)?;
    // Validate everything before changing anything.
    let rules = req.rules.map(parse_rules).transpose()?;
    let default_action = req
        .default_action
        .as_deref()
        .map(|a| {
            Action::parse(a).ok_or_else(|| {
                ApiError::invalid(format!(
                    "unknown defaultAction {a:?}; allowed: approve, reject"
                ))
            })
        })
        .transpose()?;
    let policy = h.perms.set_policy(|p| {
        p.allow_read = req.allow_read.or(p.allow_read);
        p.allow_write = req.allow_write.or(p.allow_write);
        p.allow_bash = req.allow_bash.or(p.allow_bash);
        if let Some(r) = rules {
            p.rules = r;
        }
        if req.trust_folder.is_some() {
            p.trust_folder = req.trust_folder;
        }
        if let Some(ms) = req.timeout_ms {
            p.timeout = (ms > 0).then(|| std::time::Duration::from_millis(ms));
        }
        if let Some(a) = default_action {
            p.default_action = a;
        }
    });
    Ok(json(StatusCode::OK, &PolicyWire::from(&policy)))
}

async fn put_profile(app: Arc<App>, id: String, req: ProfileRequest) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let profile = PolicyProfile::parse(&req.profile).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown profile {:?}; allowed: strict, restricted, default, permissive",
            req.profile
        ))
    })?;
    let policy = h.perms.set_policy(|p| p.profile = profile);
    Ok(json(StatusCode::OK, &PolicyWire::from(&policy)))
}

/// The permission routes (under `/v1` and unversioned; the caller adds it).
pub fn routes(t: &mut Table) {
    t.on(
        route::get("/permissions").answers::<PendingPermissions>(),
        all_pending,
    );
    t.on_one(
        route::get("/sessions/{id}/permissions/pending").answers::<SessionPending>(),
        session_pending,
    );
    t.on_one(
        route::get("/sessions/{id}/permissions/history").answers::<PermissionHistory>(),
        history,
    );
    for (path, approve) in [
        ("/sessions/{id}/approve", true),
        ("/sessions/{id}/reject", false),
    ] {
        t.route(
            route::post(path)
                .optional_body::<AnswerRequest>()
                .answers::<AnswerResult>(),
            move |p, app| {
                p.one()
                    .and(with_app(app))
                    .and(super::filters::optional_json_body::<AnswerRequest>(
                        app.config.max_body_bytes,
                    ))
                    .then(move |id, a, b| async move { finish(answer(a, id, approve, b).await) })
            },
        );
    }
    t.on_one_body(
        route::put("/sessions/{id}/permissions")
            .body::<PolicyRequest>()
            .answers::<PolicyWire>(),
        put_policy,
    );
    t.on_one_body(
        route::put("/sessions/{id}/permission-profile")
            .body::<ProfileRequest>()
            .answers::<PolicyWire>(),
        put_profile,
    );
    t.on(
        route::get("/human-approvals").answers::<HumanApprovals>(),
        human_list,
    );
    t.on_one(
        route::get("/human-approvals/{id}").answers::<PermissionRequestWire>(),
        human_get,
    );
    t.route(
        route::post("/human-approvals/{id}/approve")
            .optional_body::<HumanApprove>()
            .answers::<AnswerResult>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .and(super::filters::optional_json_body::<HumanApprove>(
                    app.config.max_body_bytes,
                ))
                .then(|pid, a, b: HumanApprove| async move {
                    finish(human_answer(a, pid, true, b.feedback, b.approved_by).await)
                })
        },
    );
    t.route(
        route::post("/human-approvals/{id}/reject")
            .body::<HumanReject>()
            .answers::<AnswerResult>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .and(json_body::<HumanReject>(app.config.max_body_bytes))
                .then(|pid, a, b: HumanReject| async move {
                    finish(human_answer(a, pid, false, Some(b.reason), b.rejected_by).await)
                })
        },
    );
}
