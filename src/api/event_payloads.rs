//! The typed payloads of an event's wire form ([`super::event_wire`]): our `detail` and
//! Aegis v0.3's `data`, one struct per shape, so the OpenAPI document lists each payload's
//! keys instead of a free-form object. `detail` is an [`EventDetailWire`], `data` a
//! [`V03Data`], a notice's `data` a [`NoticeData`]: each an untagged union (`anyOf` in the
//! document, as some shapes are subsets of others). The event kind sits beside the payload
//! (`type`), not in it, so the document has no discriminator; each shape's description names
//! the kinds that carry it.
//!
//! Only this layer builds them, from the bus's [`crate::events::EventDetail`]; the keys and
//! values are exactly those of the `json!` objects they replace (the tests of
//! [`super::event_wire`] pin them, and those here validate every kind against the document).

use schemars::JsonSchema;
use serde::Serialize;

use super::wire::{PermissionRequestWire, PermissionResolution};

/// Our `detail` of an event: which shape depends on `type` (see each shape). Null for a
/// status change.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "EventDetail")]
pub enum EventDetailWire {
    Created(CreatedDetail),
    Exit(ExitDetail),
    Removed(RemovedDetail),
    RecordingFailed(RecordingFailedDetail),
    PermissionRequested(Box<PermissionRequestWire>),
    PermissionResolved(PermissionResolution),
    MessageSent(MessageSentDetail),
    Verification(VerificationDetail),
    ConsensusCompleted(ConsensusDetail),
    PipelineFinished(PipelineDetail),
    SessionCompleted(CompletedDetail),
}

/// `session.created`'s detail (v0.3 `data` of a creation holds the same plus `name`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SessionCreatedDetail")]
pub struct CreatedDetail {
    #[schemars(schema_with = "crate::api::schemas::agent_type")]
    pub agent_type: &'static str,
    pub work_dir: String,
}

/// The detail of `session.exited`, and of `session.idle` after a shell's command ended:
/// the exit code, null when unknown (or killed by a signal).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SessionExitDetail")]
pub struct ExitDetail {
    pub exit_code: Option<i32>,
}

/// `session.killed`'s detail: `wasRunning` tells a kill from the removal of an exited
/// session.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SessionRemovedDetail")]
pub struct RemovedDetail {
    pub exit_code: Option<i32>,
    pub was_running: bool,
}

/// `session.recording_failed`'s detail: why the recording stopped.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "RecordingFailedDetail")]
pub struct RecordingFailedDetail {
    pub error: String,
}

/// `message.sent`'s detail: `attempts` (Enter presses) when sent through the API, `source`
/// when an inbound stimulus sent it; never both.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "MessageSentDetail")]
pub struct MessageSentDetail {
    pub text: String,
    /// Whether the text was seen to leave the agent's input line.
    pub delivered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `verification`'s detail (also its v0.3 `data`): a finished quality-gate run.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "VerificationDetail")]
pub struct VerificationDetail {
    pub passed: bool,
    /// Where the checks came from.
    pub source: &'static str,
    pub checks: Vec<CheckDetail>,
}

/// One check of a [`VerificationDetail`].
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "VerificationCheck")]
pub struct CheckDetail {
    pub name: String,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
}

/// `consensus.completed`'s detail (also its v0.3 `data`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ConsensusCompletedDetail")]
pub struct ConsensusDetail {
    #[schemars(with = "String")]
    pub consensus_id: uuid::Uuid,
    /// completed or timed_out.
    pub status: &'static str,
    /// approve, reject or none; null when there was no verdict.
    pub verdict: Option<&'static str>,
    pub approvals: usize,
    pub rejections: usize,
    pub tie: bool,
    pub explanation: Option<String>,
}

/// `pipeline.finished`'s detail (also its v0.3 `data`).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "PipelineFinishedDetail")]
pub struct PipelineDetail {
    #[schemars(with = "String")]
    pub pipeline_id: uuid::Uuid,
    pub name: String,
    /// completed, failed or cancelled.
    pub status: &'static str,
    pub reason: Option<String>,
}

/// `session.completed`'s detail (also its v0.3 `data`): the status a client declared.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "SessionCompletedDetail")]
pub struct CompletedDetail {
    pub status: String,
    pub comment: Option<String>,
}

/// Aegis v0.3's `data` of an event: which shape depends on `type` (see each shape); the
/// kinds v0.3 lacks carry our `detail` here.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "EventData")]
pub enum V03Data {
    Created(V03Created),
    Status(V03Status),
    Stall(V03Stall),
    Dead(V03Dead),
    Ended(V03Ended),
    Approval(V03Approval),
    Message(V03Message),
    Ours(EventDetailWire),
}

/// v0.3 `data` of `session.created`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "V03CreatedData")]
pub struct V03Created {
    pub name: String,
    pub work_dir: Option<String>,
    #[schemars(schema_with = "crate::api::schemas::agent_type_or_null")]
    pub agent_type: Option<&'static str>,
}

/// v0.3 `data` of `session.working`, `.idle`, `.question` and `.error`: the new status in
/// v0.3's vocabulary (a UI state) and `old → new` in ours.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "V03StatusData")]
pub struct V03Status {
    #[schemars(schema_with = "crate::api::schemas::ui_state")]
    pub status: &'static str,
    pub detail: String,
}

/// v0.3 `data` of `session.stalled`: `stallType` is always `jsonl`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "V03StallData")]
pub struct V03Stall {
    pub stall_type: &'static str,
    pub detail: String,
}

/// v0.3 `data` of `session.exited`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "V03DeadData")]
pub struct V03Dead {
    pub reason: String,
    pub exit_code: Option<i32>,
}

/// v0.3 `data` of `session.killed`: `killed`, or `removed` for an exited session.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "V03EndedData")]
pub struct V03Ended {
    pub reason: &'static str,
}

/// v0.3 `data` of `permission.requested`: the dialog's text and the UI state v0.3 would
/// have sent as `status`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "V03ApprovalData")]
pub struct V03Approval {
    pub prompt: String,
    #[schemars(schema_with = "crate::api::schemas::ui_state")]
    pub status: &'static str,
    #[schemars(with = "Option<String>")]
    pub permission_id: Option<uuid::Uuid>,
    #[schemars(schema_with = "crate::api::schemas::permission_kind_or_null")]
    pub kind: Option<&'static str>,
}

/// v0.3 `data` of `message.sent`: `role` is always `user`, `contentType` always `text`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "V03MessageData")]
pub struct V03Message {
    pub role: &'static str,
    pub text: Option<String>,
    pub content_type: &'static str,
}

/// The `data` of a notice frame: `{}` for `connected` and `heartbeat`, `{reason,
/// oldestAvailable}` for `reset`.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "NoticeData")]
pub enum NoticeData {
    Empty(Empty),
    Reset(ResetData),
}

/// No payload: `{}`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "EmptyNoticeData")]
pub struct Empty {}

/// `reset`'s `data`: why, and the oldest id the replay ring still holds.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ResetNoticeData")]
pub struct ResetData {
    pub reason: &'static str,
    pub oldest_available: u64,
}
