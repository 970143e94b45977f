//! JSON wire shapes of the v1 API. Only this module knows the field names clients depend on
//! (camelCase, epoch-millisecond timestamps, as Aegis v0.3); internal types are free to be
//! named for what they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::session::{Delivery, SessionHandle, SessionStatus};

/// `POST /v1/sessions` body. Unknown fields are refused rather than silently ignored.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionRequest {
    pub work_dir: Option<String>,
    pub name: Option<String>,
    pub prompt: Option<String>,
    pub agent_type: Option<String>,
    pub command: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub cols: Option<u16>,
    pub rows: Option<u16>,
    /// default | acceptEdits | plan | bypassPermissions | dontAsk | auto, mapped per agent.
    pub permission_mode: Option<String>,
    /// Resume the agent's own conversation (Claude `--resume`, Codex `resume`).
    pub resume_session_id: Option<String>,
    /// v0.3: a whitespace-separated command line replacing `claude` (no shell, no quoting).
    pub claude_command: Option<String>,
    /// The session that spawned this one.
    pub parent_id: Option<String>,
    /// Answer the agent's start-up trust dialog: true trusts, false declines.
    pub trust_folder: Option<bool>,
    /// Working with no screen change for this long = stalled; 0 disables.
    pub stall_threshold_ms: Option<u64>,
    /// Detection profile (claude, codex, gemini, aider, shell, or a user profile).
    pub profile: Option<String>,
    /// Create from this stored template (`/v1/templates`); the other fields override it.
    pub template: Option<String>,
    /// Values for the template's `{{var}}` placeholders.
    pub vars: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchCreateRequest {
    pub sessions: Vec<CreateSessionRequest>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BatchDeleteRequest {
    pub ids: Option<Vec<String>>,
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysRequest {
    pub keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizeRequest {
    pub cols: u16,
    pub rows: u16,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct DeliveryWire {
    pub delivered: bool,
    pub attempts: u32,
}

impl From<Delivery> for DeliveryWire {
    fn from(d: Delivery) -> Self {
        DeliveryWire {
            delivered: d.delivered,
            attempts: d.attempts,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub id: String,
    pub name: String,
    /// No tmux meaning here; kept for v0.3 clients that display it.
    pub window_id: String,
    pub window_name: String,
    pub work_dir: String,
    pub agent_type: &'static str,
    pub command: Vec<String>,
    pub created_at: u64,
    pub last_activity: u64,
    pub status: &'static str,
    pub pid: i32,
    pub cols: u16,
    pub rows: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_delivery: Option<DeliveryWire>,
    pub permission_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

impl SessionInfo {
    pub fn of(h: &SessionHandle) -> Self {
        let live = h.live();
        let m = &h.meta;
        SessionInfo {
            id: m.id.to_string(),
            name: m.name.clone(),
            window_id: format!("@{}", &m.id.simple().to_string()[..8]),
            window_name: m.name.clone(),
            work_dir: m.work_dir.display().to_string(),
            agent_type: m.agent_type.as_str(),
            command: m.command.clone(),
            created_at: m.created_at_ms,
            last_activity: h
                .counters
                .last_activity_ms
                .load(std::sync::atomic::Ordering::Relaxed),
            status: live.status.as_str(),
            pid: m.pid,
            cols: live.cols,
            rows: live.rows,
            exit_code: live.exit_code,
            prompt_delivery: h.prompt_delivery().map(Into::into),
            permission_mode: m.permission_mode.as_str(),
            parent_id: m.parent_id.map(|p| p.to_string()),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: usize,
    pub limit: usize,
    pub total: usize,
    pub total_pages: usize,
}

#[derive(Debug, Serialize)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
    /// Also at the top level: the v0.3 MCP client reads it there.
    pub total: usize,
    pub pagination: Pagination,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub active: usize,
    pub by_status: BTreeMap<&'static str, usize>,
    pub total_created: u64,
    pub total_completed: u64,
    pub total_failed: u64,
}

#[derive(Debug, Serialize)]
pub struct Cursor {
    pub row: u16,
    pub col: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadResponse {
    pub id: String,
    pub status: &'static str,
    pub output: String,
    pub format: &'static str,
    pub lines: usize,
    pub cols: u16,
    pub rows: u16,
    pub cursor: Cursor,
    pub title: String,
}

#[derive(Debug, Serialize)]
pub struct SendResponse {
    pub ok: bool,
    pub delivered: bool,
    pub attempts: u32,
}

#[derive(Debug, Serialize)]
pub struct Ok {
    pub ok: bool,
}

pub const OK: Ok = Ok { ok: true };

#[derive(Debug, Serialize)]
pub struct BatchItemError {
    pub index: usize,
    pub error: String,
    pub code: &'static str,
}

#[derive(Debug, Serialize)]
pub struct BatchCreateResponse {
    pub sessions: Vec<SessionInfo>,
    pub created: usize,
    pub failed: Vec<BatchItemError>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDeleteResponse {
    pub deleted: usize,
    pub not_found: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SessionCounts {
    pub active: usize,
    pub total: usize,
}

#[derive(Debug, Serialize)]
pub struct PtyHealth {
    pub healthy: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub platform: &'static str,
    /// Seconds since the daemon started.
    pub uptime: u64,
    pub sessions: SessionCounts,
    pub pty: PtyHealth,
    pub timestamp: String,
}

/// Statuses accepted by filters, for error messages.
pub fn status_names() -> String {
    SessionStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
