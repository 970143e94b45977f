//! JSON wire shapes of the v1 API. Only this module knows the field names clients depend on
//! (camelCase, epoch-millisecond timestamps, as Aegis v0.3); internal types are free to be
//! named for what they are. The session shapes are here, the permission shapes (shared by
//! the permission routes and the permission events) in [`permissions`].

mod permissions;

pub use permissions::*;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::session::LiveState;
use crate::session::SessionHandle;
use crate::vocab::{Delivery, SessionStatus};

/// `POST /v1/sessions` body. Unknown fields are refused rather than silently ignored.
#[derive(Debug, Clone, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Absolute path of an existing directory (default: the daemon's working directory).
    pub work_dir: Option<String>,
    /// 1-128 letters, digits, '-', '_' or '.'; unique; not a UUID (default: generated).
    pub name: Option<String>,
    /// The first prompt, delivered once the agent is ready.
    pub prompt: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: Option<String>,
    /// The program and its arguments, run without a shell (default: the agent's CLI).
    pub command: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub cols: Option<u16>,
    pub rows: Option<u16>,
    /// Mapped to each agent's own flag.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::permission_mode")]
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
    /// Claude Code hooks for agentType claude (default true).
    pub hooks: Option<bool>,
    /// Memory-bridge keys whose values are prepended to the first prompt.
    pub memory_keys: Option<Vec<String>>,
    /// v0.3: approve every permission request (the `permissive` policy profile).
    pub auto_approve: Option<bool>,
    /// v0.3: a product requirements text, prepended to the first prompt.
    pub prd: Option<String>,
    /// Lines of history kept above the screen (tmux's history-limit; default 2000).
    #[schemars(range(max = crate::session::validate::MAX_HISTORY_LINES))]
    pub history_lines: Option<usize>,
    /// Byte limit of that history: 0 (none, the default) or 65536 to 1073741824.
    pub history_bytes: Option<usize>,
    /// Prompt and command marks for a bash or zsh session (default true where it applies).
    pub shell_integration: Option<bool>,
}

/// `POST /v1/sessions/batch` body: sessions created one by one, each failure reported apart.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCreateRequest {
    pub sessions: Vec<CreateSessionRequest>,
}

/// `DELETE /v1/sessions/batch` body: the sessions named by id, or all in one status.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchDeleteRequest {
    pub ids: Option<Vec<String>>,
    #[serde(default)]
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    pub status: Option<String>,
}

/// `POST /v1/sessions/{id}/send` body: text typed into the session and submitted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub text: String,
}

/// `POST /v1/sessions/{id}/keys` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysRequest {
    /// Key names as tmux's send-keys takes them (`Enter`, `C-c`, `Up`, `M-x`) or literal text.
    pub keys: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResizeRequest {
    pub cols: u16,
    pub rows: u16,
}

/// Whether the first prompt was seen submitted, and after how many tries.
#[derive(Debug, Serialize, Clone, Copy, JsonSchema)]
#[schemars(rename = "PromptDelivery")]
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

/// A session, as every session route answers it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Session")]
pub struct SessionInfo {
    pub id: String,
    pub name: String,
    /// No tmux meaning here; kept for v0.3 clients that display it.
    pub window_id: String,
    pub window_name: String,
    pub work_dir: String,
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: &'static str,
    pub command: Vec<String>,
    /// Epoch milliseconds.
    pub created_at: u64,
    /// Epoch milliseconds of the last output.
    pub last_activity: u64,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    pub status: &'static str,
    pub pid: i32,
    pub cols: u16,
    pub rows: u16,
    /// Lines of history kept above the screen.
    pub history_lines: usize,
    /// Byte limit of the history (0: lines only).
    pub history_bytes: usize,
    /// Heap bytes the session's screen model holds (screen, history, attributes), as of the
    /// last history compaction or, while output flows, the last second.
    pub screen_bytes: u64,
    /// Whether the shell runs with Aegis's prompt and command marks.
    pub shell_integration: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_delivery: Option<DeliveryWire>,
    /// Why the recording stopped (null while it records); the session goes on regardless.
    pub recording_error: Option<String>,
    #[schemars(schema_with = "crate::api::schemas::permission_mode")]
    pub permission_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Aegis v0.3's finer state vocabulary (see docs/api.md, "Status vocabulary").
    #[schemars(schema_with = "crate::api::schemas::ui_state")]
    pub ui_state: &'static str,
    /// Claude's own session id, from the SessionStart hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claude_session_id: Option<String>,
    /// Claude's JSONL transcript, from the SessionStart hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonl_path: Option<String>,
    /// Transcript bytes read so far.
    pub byte_offset: u64,
    /// Same as byteOffset (v0.3 kept two cursors on the transcript; we keep one).
    pub monitor_offset: u64,
    /// Working with no screen change for this long = stalled; 0 = never.
    pub stall_threshold_ms: u64,
    pub auto_approve: bool,
    /// Whether Claude Code hooks are wired for this session.
    pub hooks: bool,
    /// Where the session sits when it is a tmux stand-in pane (socket, session, window, pane);
    /// `windowId` and `windowName` are then the tmux window's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmux: Option<TmuxPlace>,
    pub action_hints: BTreeMap<&'static str, ActionHint>,
}

/// Where a tmux stand-in pane's session sits in the tmux tree.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TmuxPlace {
    /// The tmux socket path of its namespace (what `#{socket_path}` shows).
    socket: String,
    /// The tmux session's name.
    session: String,
    /// `$N`
    session_id: String,
    /// `@N`
    window: String,
    window_index: i64,
    window_name: String,
    /// `%N`
    pane: String,
    pane_index: usize,
    /// The active pane of its window.
    active: bool,
}

impl From<crate::tmux::host::Place> for TmuxPlace {
    fn from(p: crate::tmux::host::Place) -> TmuxPlace {
        TmuxPlace {
            socket: p.socket,
            session: p.session,
            session_id: p.session_id,
            window: p.window,
            window_index: p.window_index,
            window_name: p.window_name,
            pane: p.pane,
            pane_index: p.pane_index,
            active: p.active,
        }
    }
}

/// What a client can do next with a session (v0.3 `actionHints`).
#[derive(Debug, Serialize, Clone, JsonSchema)]
pub struct ActionHint {
    pub method: &'static str,
    pub url: String,
    pub description: &'static str,
}

/// The action hints for a session in `status`.
pub fn action_hints(id: &str, status: SessionStatus) -> BTreeMap<&'static str, ActionHint> {
    let hint = |method, path: &str, description| ActionHint {
        method,
        url: format!("/v1/sessions/{id}{path}"),
        description,
    };
    let mut m = BTreeMap::new();
    m.insert(
        "read",
        hint("GET", "/read", "Read the screen and transcript"),
    );
    if status == SessionStatus::Exited {
        m.insert("kill", hint("DELETE", "", "Remove the session"));
        return m;
    }
    m.insert("send", hint("POST", "/send", "Send a message"));
    m.insert(
        "interrupt",
        hint("POST", "/interrupt", "Interrupt (Ctrl-C)"),
    );
    m.insert("escape", hint("POST", "/escape", "Press Escape"));
    m.insert("kill", hint("DELETE", "", "Kill the session"));
    match status {
        SessionStatus::PermissionPrompt => {
            m.insert(
                "approve",
                hint("POST", "/approve", "Approve the pending permission"),
            );
            m.insert(
                "reject",
                hint("POST", "/reject", "Reject the pending permission"),
            );
        }
        SessionStatus::Question => {
            m.insert(
                "answer",
                hint("POST", "/answer", "Answer the question on screen"),
            );
        }
        _ => {}
    }
    m
}

/// The session's `uiState` (see `api::uistate`); `hook_compacting` is what the hooks said.
fn ui_state_of(h: &SessionHandle, live: &LiveState, hook_compacting: bool) -> &'static str {
    super::uistate::ui_state(super::uistate::UiInputs {
        status: live.status,
        pending: live
            .pending
            .as_ref()
            .map(|p| p.kind)
            .or_else(|| h.perms.hook_pending().map(|k| k.as_permission().kind)),
        hook_compacting,
        screen: live.ui,
    })
}

/// The session's `uiState` alone, as [`SessionInfo`] has it with its hooks' `link`, without
/// building the rest (`GET /read` shows only this of it).
pub fn ui_state(h: &SessionHandle, link: Option<&crate::hooks::HookLink>) -> &'static str {
    let live = h.live();
    let mut compacting = false;
    if let Some(link) = link {
        link.facts(|f| compacting = f.compacting);
    }
    ui_state_of(h, &live, compacting)
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
            history_lines: m.history_lines,
            history_bytes: m.history_bytes,
            screen_bytes: h
                .counters
                .screen_bytes
                .load(std::sync::atomic::Ordering::Relaxed),
            shell_integration: m.shell_integration,
            exit_code: live.exit_code,
            prompt_delivery: h.prompt_delivery().map(Into::into),
            recording_error: h.recording_error(),
            permission_mode: m.permission_mode.as_str(),
            parent_id: m.parent_id.map(|p| p.to_string()),
            ui_state: ui_state_of(h, &live, false),
            claude_session_id: None,
            jsonl_path: None,
            byte_offset: 0,
            monitor_offset: 0,
            stall_threshold_ms: h
                .counters
                .stall_threshold_ms
                .load(std::sync::atomic::Ordering::Relaxed),
            auto_approve: h.perms.policy().profile
                == crate::permissions::policy::PolicyProfile::Permissive,
            hooks: false,
            tmux: None,
            action_hints: action_hints(&m.id.to_string(), live.status),
        }
    }

    /// Add where the session sits in the tmux stand-in: its window id and name are then tmux's.
    pub fn with_tmux(mut self, place: Option<crate::tmux::host::Place>) -> Self {
        if let Some(p) = &place {
            self.window_id = p.window.clone();
            self.window_name = p.window_name.clone();
        }
        self.tmux = place.map(TmuxPlace::from);
        self
    }

    /// Add what the session's Claude Code hooks told us.
    pub fn with_hooks(mut self, h: &SessionHandle, link: Option<&crate::hooks::HookLink>) -> Self {
        let Some(link) = link else {
            return self;
        };
        let live = h.live();
        link.facts(|f| {
            self.claude_session_id.clone_from(&f.claude_session_id);
            self.jsonl_path = f.transcript_path.as_ref().map(|p| p.display().to_string());
            self.ui_state = ui_state_of(h, &live, f.compacting);
        });
        self.byte_offset = link.transcript_offset();
        self.monitor_offset = self.byte_offset;
        self.hooks = true;
        self
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: usize,
    pub limit: usize,
    pub total: usize,
    pub total_pages: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
    /// Also at the top level: the v0.3 MCP client reads it there.
    pub total: usize,
    pub pagination: Pagination,
}

/// `GET /v1/sessions/stats`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SessionStats")]
pub struct Stats {
    pub active: usize,
    pub by_status: BTreeMap<&'static str, usize>,
    pub total_created: u64,
    pub total_completed: u64,
    pub total_failed: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Cursor {
    pub row: u16,
    pub col: u16,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadResponse {
    pub id: String,
    #[schemars(schema_with = "crate::api::schemas::session_status")]
    pub status: &'static str,
    /// The screen (and history, with `?lines=`), as `format` says.
    #[schemars(with = "String")]
    pub output: Box<serde_json::value::RawValue>,
    /// text | ansi
    pub format: &'static str,
    /// Lines in `output`.
    pub lines: usize,
    pub cols: u16,
    pub rows: u16,
    pub cursor: Cursor,
    /// The terminal title the program set.
    pub title: String,
    #[schemars(schema_with = "crate::api::schemas::ui_state")]
    pub ui_state: &'static str,
    /// The agent's transcript messages (Claude with hooks), oldest first.
    pub messages: Vec<super::transcript::TranscriptMessage>,
    /// The line that shows what the agent is doing (spinner, dialog title, error), if any;
    /// `<Event> hook` while an agent hook decided a status the screen does not show yet.
    pub status_text: Option<String>,
    /// The dialog or question on screen, if any.
    pub interactive_content: Option<String>,
    /// Token counts and estimated cost from the transcript; null when unknown.
    pub token_usage: Option<super::transcript::Usage>,
    /// Why tokenUsage is null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_usage_unknown_reason: Option<String>,
}

/// What `send` did: `delivered` once the text was seen submitted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SendResponse {
    pub ok: bool,
    pub delivered: bool,
    pub attempts: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Ok {
    pub ok: bool,
}

pub const OK: Ok = Ok { ok: true };

#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchItemError {
    /// Position of the failed request in `sessions`.
    pub index: usize,
    pub error: String,
    pub code: super::error::ErrorCode,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchCreateResponse {
    pub sessions: Vec<SessionInfo>,
    pub created: usize,
    pub failed: Vec<BatchItemError>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchDeleteResponse {
    pub deleted: usize,
    pub not_found: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionCounts {
    pub active: usize,
    pub total: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PtyHealth {
    pub healthy: bool,
    pub error: Option<String>,
}

/// `GET /v1/health`: answered without a token.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// ok
    pub status: &'static str,
    pub version: &'static str,
    pub platform: &'static str,
    /// Seconds since the daemon started.
    pub uptime: u64,
    pub sessions: SessionCounts,
    pub pty: PtyHealth,
    /// RFC 3339.
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

/// A wire type as JSON. Serializing these plain structs cannot fail; `Null` stands in if it
/// ever did.
pub fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
