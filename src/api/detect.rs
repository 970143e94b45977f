//! `GET /v1/sessions/:id/detect`: why the detector says what it says: the state, the rule
//! that matched and the lines it matched, which evidence decided (the screen, the title or the
//! agent's own state report), who holds the terminal, and what the hooks claim.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use warp::http::StatusCode;

use super::App;
use super::permissions::pending_of;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use super::wire::{HookRequestWire, PermissionRequestWire};

async fn detect(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let live = h.live();
    let e = h.explain().await?;
    let src = h.sources().await?;
    let link = app.sessions.hooks.get(&h.meta.id);
    let hooks = link.as_ref().map(|l| {
        l.facts(|f| HookFactsWire {
            last_event: f.last_event.as_ref().map(|(e, _)| e.clone()),
            last_event_at: f.last_event.as_ref().map(|(_, at)| *at),
            events: f.events,
            by_event: f.by_event.clone(),
            compacting: f.compacting,
            claude_session_id: f.claude_session_id.clone(),
        })
    });
    let lines = e
        .lines
        .iter()
        .map(|l| MatchedLine {
            row: l.row,
            text: l.text.clone(),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &Detection {
            session_id: h.meta.id,
            status: live.status.as_str(),
            profile: e.profile,
            profile_source: e.profile_source,
            rule: e.rule,
            region: e.region,
            priority: e.priority,
            raw_state: e.raw_state.map(|s| s.as_str()),
            evidence: e.evidence.as_str(),
            title: e.title,
            report: (!e.report.is_empty()).then_some(e.report),
            terminal: e.terminal.as_ref().map(|t| TerminalWire {
                pgid: t.pgid,
                command: t.command.clone(),
                holds: t.holds.as_str(),
                waiting: t.waiting.map(|w| w.as_str()),
            }),
            lines,
            ui_hint: e.ui.as_ref().map(|(h, _)| h.as_str()),
            ui_rule: e.ui.as_ref().map(|(_, rule)| rule.clone()),
            reason: e.reason,
            unchanged_ms: e.unchanged_ms,
            eval_micros: e.eval_micros,
            pending: pending_of(&h),
            sources: DetectionSources {
                screen: src.screen.as_str(),
                hook: src.hook.map(|(s, event, age_ms)| HookClaim {
                    state: s.as_str(),
                    event,
                    age_ms,
                }),
                hook_permission: h.perms.hook_pending().as_ref().map(Into::into),
                hooks,
                corrections: src.corrections,
                grace_ms: crate::session::actor::HOOK_GRACE.as_millis() as u64,
            },
        },
    ))
}

/// `GET /v1/sessions/{id}/detect`: why the detector says what it says.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Detection {
    #[schemars(with = "String")]
    session_id: uuid::Uuid,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    status: &'static str,
    /// The detection profile in use.
    profile: String,
    /// Where the profile came from.
    profile_source: String,
    /// The rule that matched, if any.
    rule: Option<String>,
    /// The screen region the rule looked at.
    region: Option<&'static str>,
    priority: Option<i32>,
    /// The state the rule (or the fallback) says before hysteresis and stall.
    raw_state: Option<&'static str>,
    /// What decided rawState: `screen`, `title` or `report` (a rule matched the screen's text,
    /// the window title or the agent's state report), `terminal`, `output`, `marks` or `none`.
    #[schemars(schema_with = "crate::api::schemas::detect_evidence")]
    evidence: &'static str,
    /// The window title (OSC 0/2) the detector read; empty when the program set none.
    title: String,
    /// The agent's last state report (the payload of OSC 7501, as Codex CLI sends it:
    /// `state=working:app=codex`, `state=blocked:app=codex:kind=question`); null when it sent
    /// none.
    report: Option<String>,
    /// Who held the terminal at the last evaluation that read it.
    terminal: Option<TerminalWire>,
    /// The lines that matched the rule's patterns.
    lines: Vec<MatchedLine>,
    /// The finer uiState reading of the screen.
    ui_hint: Option<&'static str>,
    /// The rule (state rule or mark) uiHint came from.
    ui_rule: Option<String>,
    reason: String,
    /// Milliseconds since the screen last changed.
    unchanged_ms: u64,
    /// Microseconds the last evaluation took.
    eval_micros: u64,
    pending: Vec<PermissionRequestWire>,
    sources: DetectionSources,
}

/// The terminal's foreground process, as the detector read it.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "DetectionTerminal")]
pub struct TerminalWire {
    /// The foreground process group.
    pgid: i32,
    /// The group leader's executable name.
    command: Option<String>,
    holds: &'static str,
    waiting: Option<&'static str>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MatchedLine {
    /// Zero-based row on the visible screen.
    row: u16,
    text: String,
}

/// What each source of state says.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetectionSources {
    /// The detector's verdict from the screen alone.
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    screen: &'static str,
    /// The state the last hook claimed, not yet confirmed or corrected.
    hook: Option<HookClaim>,
    /// The request Claude Code's PermissionRequest hook holds.
    hook_permission: Option<HookRequestWire>,
    /// What the session's hooks told (null without hooks).
    hooks: Option<HookFactsWire>,
    /// Hook claims the screen contradicted past the grace period.
    corrections: u64,
    /// How long a hook's claim stands before the screen may contradict it.
    grace_ms: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookClaim {
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    state: &'static str,
    /// The hook event that claimed it.
    event: String,
    age_ms: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "HookFacts")]
pub struct HookFactsWire {
    last_event: Option<String>,
    /// Epoch milliseconds.
    last_event_at: Option<u64>,
    events: u64,
    /// How many times each hook event arrived, by event name (`{"Stop": 2, ...}`).
    by_event: std::collections::BTreeMap<String, u64>,
    /// Between PreCompact and PostCompact.
    compacting: bool,
    claude_session_id: Option<String>,
}

/// The detection route (under `/v1` and unversioned; the caller adds it).
pub fn routes(t: &mut Table) {
    t.on_one(
        route::get("/sessions/{id}/detect").answers::<Detection>(),
        detect,
    );
}
