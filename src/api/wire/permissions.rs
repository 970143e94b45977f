//! The wire shapes of permission requests: a pending request (the dialog on screen, the
//! request held by Claude Code's hook, or both), how one was resolved, a session's history
//! of resolutions. The permission routes answer with them and the permission events carry
//! them as their detail.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::detect::prompt::PermissionRequest;
use crate::permissions::hook::HookRequest;
use crate::permissions::{HistoryEntry, Resolution};
use crate::vocab::AgentType;

/// One answer a permission dialog offers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PermissionOption {
    pub index: u32,
    pub label: String,
    /// The keys that pick it, from where the dialog's cursor is.
    pub keys: Vec<String>,
    /// The dialog's cursor is on it.
    pub selected: bool,
}

/// A pending permission request: the dialog on screen, the request held by Claude Code's
/// PermissionRequest hook, or both merged.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "PermissionRequest")]
pub struct PermissionRequestWire {
    /// The request's id: `permissionId` of approve and reject.
    #[schemars(with = "String")]
    pub id: uuid::Uuid,
    #[schemars(with = "String")]
    pub session_id: uuid::Uuid,
    pub session_name: String,
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: &'static str,
    #[schemars(schema_with = "crate::api::schemas::permission_kind")]
    pub kind: &'static str,
    pub title: String,
    pub detail: String,
    pub options: Vec<PermissionOption>,
    /// The keys that reject it.
    pub reject_keys: [&'static str; 1],
    /// The rule that recognised the dialog.
    pub rule: String,
    /// Epoch milliseconds.
    pub created_at: u64,
    /// Epoch milliseconds; null when it never expires.
    pub expires_at: Option<u64>,
    /// Where it was seen: screen, hook or screen+hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    /// The id of the request held by the hook, when the hook holds one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub hook_request_id: Option<uuid::Uuid>,
    /// The tool's exact name, when the hook told it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// The tool's input, when the hook told it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_input: Option<Value>,
}

/// The wire form of a permission request of session (`id`, `name`, `agent`): the pending
/// request in `GET .../permissions`, and the `permission.requested` event detail.
pub fn permission_request(
    id: uuid::Uuid,
    name: &str,
    agent: AgentType,
    r: &PermissionRequest,
) -> PermissionRequestWire {
    PermissionRequestWire {
        id: r.id,
        session_id: id,
        session_name: name.to_owned(),
        agent_type: agent.as_str(),
        kind: r.kind.as_str(),
        title: r.title.clone(),
        detail: r.detail.clone(),
        options: r
            .options
            .iter()
            .map(|o| PermissionOption {
                index: o.index,
                label: o.label.clone(),
                keys: r.keys_for(o.index),
                selected: r.selected == Some(o.index),
            })
            .collect(),
        reject_keys: ["Escape"],
        rule: r.rule.clone(),
        created_at: r.created_at_ms,
        expires_at: r.expires_at_ms,
        source: None,
        hook_request_id: None,
        tool_name: None,
        tool_input: None,
    }
}

/// How a request was answered: the `permission.resolved` event detail.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionResolution {
    #[schemars(with = "String")]
    pub permission_id: uuid::Uuid,
    #[schemars(schema_with = "crate::api::schemas::permission_kind")]
    pub kind: &'static str,
    pub title: String,
    pub detail: String,
    /// approved, rejected or dismissed.
    pub resolution: &'static str,
    /// The option picked, if one was.
    pub option: Option<u32>,
    /// Who answered: api, policy, expiry, trust or screen.
    pub by: &'static str,
    /// Why (the policy rule, the human's feedback or reason).
    pub reason: Option<String>,
    /// The named approver or rejecter, if the client gave one.
    pub actor: Option<String>,
}

pub fn permission_resolution(r: &PermissionRequest, res: &Resolution) -> PermissionResolution {
    PermissionResolution {
        permission_id: r.id,
        kind: r.kind.as_str(),
        title: r.title.clone(),
        detail: r.detail.clone(),
        resolution: res.action.as_str(),
        option: res.option,
        by: res.by.as_str(),
        reason: res.reason.clone(),
        actor: res.actor.clone(),
    }
}

/// One entry of a session's permission history: its resolution and when.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "PermissionHistoryEntry")]
pub struct HistoryEntryWire {
    #[serde(flatten)]
    pub resolution: PermissionResolution,
    /// Epoch milliseconds.
    pub at: u64,
}

impl From<&HistoryEntry> for HistoryEntryWire {
    fn from(e: &HistoryEntry) -> Self {
        HistoryEntryWire {
            resolution: permission_resolution(&e.request, &e.resolution),
            at: e.at_ms,
        }
    }
}

/// A request held by Claude Code's PermissionRequest hook.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "HookPermissionRequest")]
pub struct HookRequestWire {
    #[schemars(with = "String")]
    pub id: uuid::Uuid,
    pub tool_name: String,
    pub tool_input: Value,
    /// Epoch milliseconds.
    pub created_at: u64,
}

impl From<&HookRequest> for HookRequestWire {
    fn from(k: &HookRequest) -> Self {
        HookRequestWire {
            id: k.id,
            tool_name: k.tool_name.clone(),
            tool_input: k.tool_input.clone(),
            created_at: k.created_at_ms,
        }
    }
}
