//! From a create request to a running session: validate the request into a
//! [`CreateSpec`] ([`to_spec`], shared with spawn, fork, pipelines and reviews), fill it from
//! its template, prepend the PRD and memory entries to the first prompt, and launch it with
//! its policy in force before the prompt is delivered.

use std::path::PathBuf;

use super::App;
use super::error::ApiError;
use super::wire::CreateSessionRequest;
use crate::session::launch::LaunchOptions;
use crate::session::{CreateSpec, SessionHandle};
use crate::vocab::{AgentType, PermissionMode};

/// A create request, validated.
pub fn to_spec(req: CreateSessionRequest) -> Result<CreateSpec, ApiError> {
    if req.template.is_some() || req.vars.is_some() {
        return Err(ApiError::invalid(
            "template and vars are accepted only by POST /v1/sessions",
        ));
    }
    let work_dir = req
        .work_dir
        .filter(|w| !w.is_empty())
        .ok_or_else(|| ApiError::invalid("workDir is required"))?;
    let agent_type = match req.agent_type.as_deref() {
        None => None,
        Some(s) => Some(parse_agent_type(s)?),
    };
    let permission_mode = match req.permission_mode.as_deref() {
        None => None,
        Some(m) => Some(PermissionMode::parse(m).ok_or_else(|| {
            ApiError::invalid(format!(
                "unknown permissionMode {m:?}; allowed: {}",
                PermissionMode::names()
            ))
        })?),
    };
    let parent_id = match req.parent_id.as_deref() {
        None => None,
        Some(p) => Some(
            uuid::Uuid::parse_str(p)
                .map_err(|_| ApiError::invalid(format!("parentId {p:?} is not a session id")))?,
        ),
    };
    if let Some(k) = req
        .env
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| crate::session::validate::is_refused_env(k))
    {
        return Err(ApiError::invalid(format!(
            "env: {k} is refused: it would change how programs are loaded or started, \
                 or the daemon's own settings (see SECURITY.md)"
        )));
    }
    let mut command = req.command;
    if let Some(cc) = req.claude_command {
        if agent_type.is_some_and(|a| a != AgentType::Claude) {
            return Err(ApiError::invalid(
                "claudeCommand applies only to agentType claude",
            ));
        }
        if command.is_some() {
            return Err(ApiError::invalid("give command or claudeCommand, not both"));
        }
        command = Some(cc.split_whitespace().map(str::to_owned).collect());
    }
    Ok(CreateSpec {
        name: req.name,
        work_dir: PathBuf::from(work_dir),
        agent_type,
        command,
        env: req.env.unwrap_or_default().into_iter().collect(),
        cols: req.cols,
        rows: req.rows,
        prompt: req.prompt,
        launch: LaunchOptions {
            permission_mode,
            resume_session_id: req.resume_session_id,
            settings_file: None,
        },
        parent_id,
        trust_folder: req.trust_folder,
        stall_threshold_ms: req.stall_threshold_ms,
        profile: req.profile,
        hooks: req.hooks,
        history_lines: req.history_lines,
        history_bytes: req.history_bytes,
        shell_integration: req.shell_integration,
    })
}

/// The first prompt with v0.3's context blocks before it: the `prd`, then the memory entries
/// named by `memoryKeys`. An unknown key is a 400 naming it (nothing is created): a session
/// started without the context its client asked for would silently do the wrong work.
fn first_prompt(app: &App, req: &mut CreateSessionRequest) -> Result<(), ApiError> {
    let keys = req.memory_keys.take().unwrap_or_default();
    let prd = req.prd.take().filter(|p| !p.trim().is_empty());
    if keys.is_empty() && prd.is_none() {
        return Ok(());
    }
    let Some(prompt) = req.prompt.take().filter(|p| !p.is_empty()) else {
        return Err(ApiError::invalid(
            "memoryKeys and prd are prepended to the first prompt; give a prompt too",
        ));
    };
    let mut text = String::new();
    if let Some(prd) = prd {
        text.push_str(&format!("<prd>\n{}\n</prd>\n\n", prd.trim_end()));
    }
    if !keys.is_empty() {
        text.push_str("<memory-context>\n");
        for key in &keys {
            let entry = app
                .memory
                .get(key)
                .ok_or_else(|| ApiError::invalid(format!("memoryKeys: no memory entry {key:?}")))?;
            text.push_str(&format!("[{key}]\n{}\n", entry.value.trim_end()));
        }
        text.push_str("</memory-context>\n\n");
    }
    text.push_str(&prompt);
    req.prompt = Some(text);
    Ok(())
}

/// Validate a create request (filling it from its template, if it names one), create the
/// session, and apply its policy before the first prompt is delivered.
pub(super) async fn create_one(
    app: &App,
    req: CreateSessionRequest,
) -> Result<SessionHandle, ApiError> {
    // `{template, vars}` fills the request from a stored template (see api::orchestrate).
    let (mut req, mut policy) = super::orchestrate::expand_template(app, req)?;
    first_prompt(app, &mut req)?;
    if req.auto_approve.unwrap_or(false) {
        let mut p = policy.unwrap_or_default();
        p.profile = crate::permissions::policy::PolicyProfile::Permissive;
        policy = Some(p);
    }
    let spec = to_spec(req)?;
    Ok(crate::orchestrate::launch(&app.sessions, spec, policy).await?)
}

/// An `agentType` value (a creation's field, a listing's filter), or the 400 naming those
/// allowed.
pub fn parse_agent_type(s: &str) -> Result<AgentType, ApiError> {
    AgentType::parse(s).ok_or_else(|| {
        let allowed: Vec<_> = AgentType::ALL.iter().map(|a| a.as_str()).collect();
        ApiError::invalid(format!(
            "unknown agentType {s:?}; allowed: {}",
            allowed.join(", ")
        ))
    })
}
