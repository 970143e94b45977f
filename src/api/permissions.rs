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
//! - `GET /v1/sessions/:id/detect`: the state, the rule that matched, and the matched lines.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::App;
use super::error::{ApiError, ErrorCode};
use super::filters::{json_body, with_app};
use super::reply::finish;
use super::reply::{ApiResult, json};
use super::wire::{hook_request_json, permission_history_json, permission_request_json};
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

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerRequest {
    pub permission_id: Option<String>,
    pub option: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HumanApprove {
    pub feedback: Option<String>,
    pub approved_by: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HumanReject {
    pub reason: String,
    pub rejected_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleWire {
    pub kind: Option<String>,
    pub pattern: Option<String>,
    pub action: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRequest {
    pub allow_read: Option<bool>,
    pub allow_write: Option<bool>,
    pub allow_bash: Option<bool>,
    pub rules: Option<Vec<RuleWire>>,
    pub trust_folder: Option<bool>,
    pub timeout_ms: Option<u64>,
    pub default_action: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub profile: String,
}

/// Most policy rules per session; each is a regex checked on every prompt.
const MAX_RULES: usize = 100;
/// Longest accepted rule pattern; the regex crate bounds compile size, this bounds the input.
const MAX_PATTERN: usize = 1000;

fn policy_json(p: &permissions::Policy) -> Value {
    json!({
        "allowRead": p.allow_read,
        "allowWrite": p.allow_write,
        "allowBash": p.allow_bash,
        "rules": p.rules.iter().map(|r| json!({
            "kind": r.kind.map(PermissionKind::as_str),
            "pattern": r.pattern.as_ref().map(|re| re.as_str()),
            "action": r.action.as_str(),
        })).collect::<Vec<_>>(),
        "profile": p.profile.as_str(),
        "trustFolder": p.trust_folder,
        "timeoutMs": p.timeout.map(|t| t.as_millis() as u64),
        "defaultAction": p.default_action.as_str(),
    })
}

/// The pending request of a session: the dialog on screen, the request held by Claude Code's
/// PermissionRequest hook, or both merged (`source` says which).
fn pending_of(h: &SessionHandle) -> Vec<Value> {
    let screen = h.live().pending;
    let hook = h.perms.hook_pending();
    let mut v = match (&screen, &hook) {
        (Some(p), _) => permission_request_json(h.meta.id, &h.meta.name, h.meta.agent_type, p),
        (None, Some(k)) => permission_request_json(
            h.meta.id,
            &h.meta.name,
            h.meta.agent_type,
            &k.as_permission(),
        ),
        (None, None) => return Vec::new(),
    };
    v["source"] = json!(match (&screen, &hook) {
        (Some(_), Some(_)) => "screen+hook",
        (Some(_), None) => "screen",
        _ => "hook",
    });
    if let Some(k) = &hook {
        v["hookRequestId"] = json!(k.id);
        v["toolName"] = json!(k.tool_name);
        v["toolInput"] = k.tool_input.clone();
    }
    vec![v]
}

async fn all_pending(app: Arc<App>) -> ApiResult {
    let pending: Vec<Value> = app.sessions.list().iter().flat_map(pending_of).collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "total": pending.len(), "permissions": pending }),
    ))
}

async fn session_pending(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let pending = pending_of(&h);
    Ok(json(
        StatusCode::OK,
        &json!({ "sessionId": h.meta.id, "pending": pending }),
    ))
}

async fn history(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let entries: Vec<Value> = h
        .perms
        .history()
        .iter()
        .map(permission_history_json)
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "sessionId": h.meta.id, "history": entries }),
    ))
}

fn outcome_json(h: &SessionHandle, o: &AnswerOutcome) -> Value {
    json!({
        "ok": true,
        "sessionId": h.meta.id,
        "permissionId": o.permission_id,
        "action": o.action.as_str(),
        "option": o.option,
        "keys": o.keys,
        "dialogClosed": o.closed,
        "status": o.status.as_str(),
        "via": o.via,
    })
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
    Ok(json(StatusCode::OK, &outcome_json(&h, &outcome)))
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
    let pending: Vec<Value> = app.sessions.list().iter().flat_map(pending_of).collect();
    Ok(json(
        StatusCode::OK,
        &json!({ "total": pending.len(), "approvals": pending }),
    ))
}

async fn human_get(app: Arc<App>, pid: String) -> ApiResult {
    let h = find_request(&app, &pid)?;
    let p = pending_of(&h).into_iter().next().unwrap_or(Value::Null);
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
    Ok(json(StatusCode::OK, &outcome_json(&h, &outcome)))
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
    Ok(json(StatusCode::OK, &policy_json(&policy)))
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
    Ok(json(StatusCode::OK, &policy_json(&policy)))
}

async fn detect(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let live = h.live();
    let e = h.explain().await?;
    let src = h.sources().await?;
    let link = app.sessions.hooks.get(&h.meta.id);
    let hook_facts = link.as_ref().map(|l| {
        l.facts(|f| {
            json!({
                "lastEvent": f.last_event.as_ref().map(|(e, _)| e),
                "lastEventAt": f.last_event.as_ref().map(|(_, at)| at),
                "events": f.events,
                "compacting": f.compacting,
                "claudeSessionId": f.claude_session_id,
            })
        })
    });
    let lines: Vec<Value> = e
        .lines
        .iter()
        .map(|l| json!({ "row": l.row, "text": l.text }))
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "sessionId": h.meta.id,
            "status": live.status.as_str(),
            "profile": e.profile,
            "profileSource": e.profile_source,
            "rule": e.rule,
            "region": e.region,
            "priority": e.priority,
            "rawState": e.raw_state.map(|s| s.as_str()),
            "evidence": e.evidence.as_str(),
            "terminal": e.terminal.as_ref().map(|t| json!({
                "pgid": t.pgid,
                "command": t.command,
                "holds": t.holds.as_str(),
                "waiting": t.waiting.map(|w| w.as_str()),
            })),
            "lines": lines,
            "uiHint": e.ui.as_ref().map(|(h, _)| h.as_str()),
            "uiRule": e.ui.as_ref().map(|(_, rule)| rule),
            "reason": e.reason,
            "unchangedMs": e.unchanged_ms,
            "evalMicros": e.eval_micros,
            "pending": pending_of(&h),
            "sources": {
                "screen": src.screen.as_str(),
                "hook": src.hook.as_ref().map(|(s, event, age)| json!({
                    "state": s.as_str(),
                    "event": event,
                    "ageMs": age,
                })),
                "hookPermission": h.perms.hook_pending().map(|k| hook_request_json(&k)),
                "hooks": hook_facts,
                "corrections": src.corrections,
                "graceMs": crate::session::actor::HOOK_GRACE.as_millis() as u64,
            },
        }),
    ))
}

/// The permission and detection routes (under `/v1` and unversioned; the caller adds it).
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let limit = app.config.max_body_bytes;
    use warp::path;
    let all = path!("permissions")
        .and(warp::get())
        .and(with_app(&app))
        .then(|a| async { finish(all_pending(a).await) });
    let s = path("sessions");
    let pending = s
        .and(path!(String / "permissions" / "pending"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|id, a| async { finish(session_pending(a, id).await) });
    let hist = s
        .and(path!(String / "permissions" / "history"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|id, a| async { finish(history(a, id).await) });
    let approve = s
        .and(path!(String / "approve"))
        .and(warp::post())
        .and(with_app(&app))
        .and(super::filters::optional_json_body::<AnswerRequest>(limit))
        .then(|id, a, b| async { finish(answer(a, id, true, b).await) });
    let reject = s
        .and(path!(String / "reject"))
        .and(warp::post())
        .and(with_app(&app))
        .and(super::filters::optional_json_body::<AnswerRequest>(limit))
        .then(|id, a, b| async { finish(answer(a, id, false, b).await) });
    let policy = s
        .and(path!(String / "permissions"))
        .and(warp::put())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|id, a, b| async { finish(put_policy(a, id, b).await) });
    let profile = s
        .and(path!(String / "permission-profile"))
        .and(warp::put())
        .and(with_app(&app))
        .and(json_body(limit))
        .then(|id, a, b| async { finish(put_profile(a, id, b).await) });
    let detect = s
        .and(path!(String / "detect"))
        .and(warp::get())
        .and(with_app(&app))
        .then(|id, a| async { finish(detect(a, id).await) });
    let ha = path("human-approvals");
    let h_list = ha
        .and(path::end())
        .and(warp::get())
        .and(with_app(&app))
        .then(|a| async { finish(human_list(a).await) });
    let h_get = ha
        .and(path!(String))
        .and(warp::get())
        .and(with_app(&app))
        .then(|pid, a| async { finish(human_get(a, pid).await) });
    let h_approve = ha
        .and(path!(String / "approve"))
        .and(warp::post())
        .and(with_app(&app))
        .and(super::filters::optional_json_body::<HumanApprove>(limit))
        .then(|pid, a, b: HumanApprove| async move {
            finish(human_answer(a, pid, true, b.feedback, b.approved_by).await)
        });
    let h_reject = ha
        .and(path!(String / "reject"))
        .and(warp::post())
        .and(with_app(&app))
        .and(json_body::<HumanReject>(limit))
        .then(|pid, a, b: HumanReject| async move {
            finish(human_answer(a, pid, false, Some(b.reason), b.rejected_by).await)
        });
    all.or(pending)
        .unify()
        .or(hist)
        .unify()
        .or(approve)
        .unify()
        .or(reject)
        .unify()
        .or(policy)
        .unify()
        .or(profile)
        .unify()
        .or(detect)
        .unify()
        .or(h_list)
        .unify()
        .or(h_get)
        .unify()
        .or(h_approve)
        .unify()
        .or(h_reject)
        .unify()
        .boxed()
}
