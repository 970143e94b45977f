//! Session templates: store, list, get and delete them, and fill a create request from one
//! (`POST /v1/sessions {template, vars}`, see [`expand_template`]); the template's wire
//! shapes (the store keeps its own).

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::bad;
use crate::api::App;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::reply::{ApiResult, json, json_sorted};
use crate::api::route::{self, Table};
use crate::api::wire::{self, CreateSessionRequest};
use crate::clock::now_ms;
use crate::orchestrate::templates::Template;
use crate::orchestrate::{self};
use crate::permissions::Policy;
use crate::permissions::policy::PolicyProfile;
use crate::vocab::AgentType;

/// Fill a `POST /v1/sessions` request from its `template` (if any): template fields first,
/// the request's own fields override them, `vars` fill the placeholders. A missing variable
/// is a 400 that names it. Returns the request (without `template`) and the policy to apply.
pub fn expand_template(
    app: &App,
    mut req: CreateSessionRequest,
) -> Result<(CreateSessionRequest, Option<Policy>), ApiError> {
    let vars = req.vars.take().unwrap_or_default();
    let Some(name) = req.template.take() else {
        if !vars.is_empty() {
            return Err(bad("vars needs a template"));
        }
        return Ok((req, None));
    };
    let t = app
        .templates
        .get(&name)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::TemplateNotFound,
                format!("template not found: {name}"),
            )
        })?;
    let x = orchestrate::templates::expand(&t, &vars).map_err(|v| {
        ApiError::bad_request(
            ErrorCode::MissingVariable,
            format!("template {name:?} needs variable {v:?}, which vars does not give"),
        )
    })?;
    req.work_dir = req.work_dir.or(x.work_dir);
    req.prompt = req.prompt.or(x.prompt);
    req.agent_type = req.agent_type.or(t.agent_type.clone());
    req.command = req.command.or(t.command.clone());
    req.permission_mode = req.permission_mode.or(t.permission_mode.clone());
    let mut env = x.env;
    env.extend(req.env.take().unwrap_or_default());
    req.env = Some(env);
    let policy = t
        .permission_profile
        .as_deref()
        .and_then(PolicyProfile::parse)
        .map(|profile| Policy {
            profile,
            trust_folder: req.trust_folder,
            ..Policy::default()
        });
    Ok((req, policy))
}

/// `POST /v1/templates` body: a named recipe for `POST /v1/sessions {template, vars}`,
/// stored (or replaced) under its name.
// Read straight into the store's `Template` through serde's remote derive:
// `TemplateRequestFields` names the fields and says how each is read and described, so no
// field is copied by hand.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct TemplateRequest(
    #[serde(with = "TemplateRequestFields")]
    #[schemars(with = "TemplateRequestFields")]
    Template,
);

// The fields of a `TemplateRequest`, as the store's `Template` holds them (described inline
// in `TemplateRequest`'s schema).
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "Template", rename_all = "camelCase", deny_unknown_fields)]
#[schemars(inline)]
struct TemplateRequestFields {
    /// 1-128 letters, digits, '-', '_' or '.'.
    name: String,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    agent_type: Option<String>,
    command: Option<Vec<String>>,
    /// May hold `{{var}}` placeholders.
    work_dir: Option<String>,
    /// May hold `{{var}}` placeholders.
    prompt: Option<String>,
    /// Values may hold `{{var}}` placeholders.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The permission policy the sessions start with.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::policy_profile")]
    permission_profile: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::permission_mode")]
    permission_mode: Option<String>,
    /// Defaults of the placeholders; null means the caller must give a value.
    #[serde(default)]
    vars: BTreeMap<String, Option<String>>,
    /// Ignored: the daemon stamps the time it stored the template.
    #[serde(default)]
    created_at: u64,
}

/// A stored template.
// The store's `Template`, written through `TemplateFields` (serde's remote derive, so no
// field is copied by hand).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(rename = "Template")]
pub struct TemplateWire(
    #[serde(with = "TemplateFields")]
    #[schemars(with = "TemplateFields")]
    Template,
);

// The fields of a `TemplateWire` (described inline in its schema).
#[derive(Serialize, JsonSchema)]
#[serde(remote = "Template", rename_all = "camelCase")]
#[schemars(inline)]
struct TemplateFields {
    name: String,
    agent_type: Option<String>,
    command: Option<Vec<String>>,
    work_dir: Option<String>,
    prompt: Option<String>,
    env: BTreeMap<String, String>,
    permission_profile: Option<String>,
    permission_mode: Option<String>,
    /// Defaults of the placeholders; null means the caller must give a value.
    vars: BTreeMap<String, Option<String>>,
    /// Epoch milliseconds.
    created_at: u64,
}

/// `GET /v1/templates`: every stored template, by name.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TemplateList {
    templates: Vec<TemplateWire>,
    total: usize,
}

pub(super) fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !n.starts_with(['-', '.'])
}

fn validate_template(t: &Template) -> Result<(), ApiError> {
    if !valid_name(&t.name) {
        return Err(bad(format!(
            "invalid template name {:?}: use 1-128 letters, digits, '-', '_' or '.'",
            t.name
        )));
    }
    if let Some(a) = &t.agent_type
        && AgentType::parse(a).is_none()
    {
        return Err(bad(format!("unknown agentType {a:?}")));
    }
    if let Some(p) = &t.permission_profile
        && PolicyProfile::parse(p).is_none()
    {
        return Err(bad(format!(
            "unknown permissionProfile {p:?}; allowed: strict, restricted, default, permissive"
        )));
    }
    if let Some(m) = &t.permission_mode
        && crate::vocab::PermissionMode::parse(m).is_none()
    {
        return Err(bad(format!("unknown permissionMode {m:?}")));
    }
    if t.command.as_ref().is_some_and(|c| c.is_empty()) {
        return Err(bad("command must not be empty"));
    }
    for k in t.env.keys() {
        let ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(bad(format!("invalid environment variable name {k:?}")));
        }
    }
    if let Some(k) = t.vars.keys().find(|k| !valid_name(k)) {
        return Err(bad(format!("invalid variable name {k:?}")));
    }
    Ok(())
}

async fn put_template(app: Arc<App>, TemplateRequest(mut t): TemplateRequest) -> ApiResult {
    validate_template(&t)?;
    t.created_at = now_ms();
    let replaced = app.templates.put(t.clone()).map_err(|e| match e {
        orchestrate::templates::StoreError::Full => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::TemplateLimit,
            e.to_string(),
        ),
        e => ApiError::internal(e.to_string()),
    })?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(status, &TemplateWire(t)))
}

async fn list_templates(app: Arc<App>) -> ApiResult {
    let all = app
        .templates
        .list()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let templates: Vec<TemplateWire> = all.into_iter().map(TemplateWire).collect();
    let total = templates.len();
    Ok(json_sorted(
        StatusCode::OK,
        &TemplateList { templates, total },
    ))
}

fn template_404(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::TemplateNotFound,
        format!("template not found: {name}"),
    )
}

async fn get_template(app: Arc<App>, name: String) -> ApiResult {
    let t = app
        .templates
        .get(&name)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| template_404(&name))?;
    Ok(json(StatusCode::OK, &TemplateWire(t)))
}

async fn delete_template(app: Arc<App>, name: String) -> ApiResult {
    let gone = app
        .templates
        .delete(&name)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if !gone {
        return Err(template_404(&name));
    }
    Ok(json(StatusCode::OK, &wire::OK))
}

/// The routes of this group (under `/v1` and unversioned; the caller adds the prefix).
pub fn routes(t: &mut Table) {
    t.on(
        route::get("/templates").answers::<TemplateList>(),
        list_templates,
    );
    t.on_body(
        route::post("/templates")
            .body::<TemplateRequest>()
            .creates::<TemplateWire>()
            .answers::<TemplateWire>(),
        put_template,
    );
    t.on_one(
        route::get("/templates/{name}").answers::<TemplateWire>(),
        get_template,
    );
    t.on_one(
        route::delete("/templates/{name}").answers::<wire::Ok>(),
        delete_template,
    );
}
