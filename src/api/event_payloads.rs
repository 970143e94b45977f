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
#[schemars(extend("properties" = {}, "additionalProperties" = false))]
pub struct Empty {}

/// `reset`'s `data`: why, and the oldest id the replay ring still holds.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ResetNoticeData")]
pub struct ResetData {
    pub reason: &'static str,
    pub oldest_available: u64,
}

#[cfg(test)]
pub(super) mod tests {
    use serde_json::Value;

    use super::super::event_wire::{Scope, event_json, notice_json, reset_json, webhook_body};
    use crate::events::detail::*;
    use crate::events::{Event, EventDetail, EventKind};
    use crate::vocab::SessionStatus;

    fn request() -> crate::detect::prompt::PermissionRequest {
        crate::detect::prompt::PermissionRequest {
            id: uuid::Uuid::from_u128(1),
            kind: crate::detect::profile::PermissionKind::Bash,
            title: "Bash command".into(),
            detail: "rm -rf build".into(),
            options: Vec::new(),
            selected: None,
            rule: "test".into(),
            created_at_ms: 1,
            expires_at_ms: None,
            fingerprint: 0,
        }
    }

    /// The payload a publisher of `kind` sends.
    pub(in crate::api) fn sample(kind: EventKind) -> EventDetail {
        use EventKind as K;
        match kind {
            K::SessionCreated => EventDetail::Created {
                agent_type: crate::vocab::AgentType::Shell,
                work_dir: "/tmp".into(),
            },
            K::SessionExited => EventDetail::Exited { exit_code: Some(3) },
            K::SessionKilled => EventDetail::Removed {
                exit_code: None,
                was_running: true,
            },
            K::SessionRecordingFailed => EventDetail::RecordingFailed {
                error: "disk full".into(),
            },
            K::PermissionRequested => EventDetail::PermissionRequested(Box::new(PermissionAsked {
                request: request(),
                agent_type: crate::vocab::AgentType::Claude,
                hook: None,
            })),
            K::PermissionResolved => {
                EventDetail::PermissionResolved(Box::new(PermissionAnswered {
                    request: request(),
                    resolution: crate::permissions::Resolution {
                        action: crate::permissions::Outcome::Approved,
                        option: Some(1),
                        by: crate::permissions::AnsweredBy::Api,
                        reason: None,
                        actor: None,
                    },
                }))
            }
            K::MessageSent => EventDetail::MessageSent(MessageSent {
                text: "hi".into(),
                delivered: true,
                via: MessageVia::Api { attempts: 1 },
            }),
            K::Verification => EventDetail::Verification(Verification {
                passed: true,
                source: "config",
                checks: Vec::new(),
            }),
            K::ConsensusCompleted => EventDetail::ConsensusCompleted(ConsensusOutcome {
                consensus_id: uuid::Uuid::nil(),
                status: "completed",
                verdict: Some("approve"),
                approvals: 2,
                rejections: 1,
                tie: false,
                explanation: None,
            }),
            K::PipelineFinished => EventDetail::PipelineFinished(PipelineOutcome {
                pipeline_id: uuid::Uuid::nil(),
                name: "p".into(),
                status: "completed",
                reason: None,
            }),
            K::SessionCompleted => EventDetail::SessionCompleted {
                status: "done".into(),
                comment: None,
            },
            K::SessionWorking
            | K::SessionIdle
            | K::SessionStalled
            | K::SessionQuestion
            | K::SessionError => EventDetail::None,
        }
    }

    /// Payloads besides [`sample`]'s: the other variant of each shape.
    fn variants() -> Vec<(EventKind, EventDetail)> {
        let hook = crate::permissions::hook::HookRequest {
            id: uuid::Uuid::from_u128(2),
            tool_name: "Bash".into(),
            tool_input: serde_json::json!({ "command": "ls" }),
            created_at_ms: 1,
        };
        vec![
            (
                EventKind::SessionIdle,
                EventDetail::CommandFinished { exit_code: Some(1) },
            ),
            (
                EventKind::PermissionRequested,
                EventDetail::PermissionRequested(Box::new(PermissionAsked {
                    request: request(),
                    agent_type: crate::vocab::AgentType::Claude,
                    hook: Some(hook),
                })),
            ),
            (
                EventKind::MessageSent,
                EventDetail::MessageSent(MessageSent {
                    text: "hi".into(),
                    delivered: false,
                    via: MessageVia::Stimulus {
                        source: "github".into(),
                    },
                }),
            ),
            (
                EventKind::Verification,
                EventDetail::Verification(Verification {
                    passed: false,
                    source: "auto",
                    checks: vec![CheckOutcome {
                        name: "test".into(),
                        passed: false,
                        exit_code: None,
                        timed_out: true,
                        duration_ms: 5,
                    }],
                }),
            ),
        ]
    }

    /// The hook's tool input is whatever the agent's tool takes: the one free-form object.
    const FREE_FORM: &[&str] = &["toolInput"];

    /// Where `v` breaks `schema` (an OpenAPI 3.0 schema in `doc`), read strictly: an object
    /// may hold only keys its schema lists, and must hold the ones it requires; an object
    /// whose schema lists no keys (free-form) is a break unless its key is in [`FREE_FORM`].
    fn breaks(doc: &Value, schema: &Value, v: &Value, at: &str) -> Vec<String> {
        if let Some(r) = schema["$ref"].as_str() {
            let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
            return match target {
                Some(t) => breaks(doc, t, v, at),
                None => vec![format!("{at}: unknown {r}")],
            };
        }
        if v.is_null() && schema["nullable"] == true {
            return Vec::new();
        }
        if let Some(all) = schema["allOf"].as_array() {
            return all.iter().flat_map(|s| breaks(doc, s, v, at)).collect();
        }
        if let Some(any) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
            let tried: Vec<Vec<String>> = any.iter().map(|s| breaks(doc, s, v, at)).collect();
            return match tried.iter().any(Vec::is_empty) {
                true => Vec::new(),
                false => vec![format!("{at}: {v} matches no branch: {tried:?}")],
            };
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.contains(v)
        {
            return vec![format!("{at}: {v} is not one of {values:?}")];
        }
        let fits = match (schema["type"].as_str(), v) {
            (Some("object"), Value::Object(_)) => true,
            (Some("array"), Value::Array(_)) => true,
            (Some("string"), Value::String(_)) => true,
            (Some("boolean"), Value::Bool(_)) => true,
            (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Some("number"), Value::Number(_)) => true,
            (None, _) => FREE_FORM.iter().any(|k| at.ends_with(k)),
            _ => false,
        };
        if !fits {
            return vec![format!("{at}: {v} is not {schema}")];
        }
        let mut out = Vec::new();
        match v {
            Value::Object(m) => {
                let props = schema["properties"].as_object();
                if props.is_none() && !FREE_FORM.iter().any(|k| at.ends_with(k)) {
                    out.push(format!("{at}: a free-form object"));
                }
                for (k, x) in m {
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => out.extend(breaks(doc, s, x, &format!("{at}.{k}"))),
                        None if props.is_some() => out.push(format!("{at}: {k} not in the schema")),
                        None => {}
                    }
                }
                for k in schema["required"].as_array().into_iter().flatten() {
                    if !k.as_str().is_some_and(|k| m.contains_key(k)) {
                        out.push(format!("{at}: required {k} missing"));
                    }
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    out.extend(breaks(doc, &schema["items"], x, &format!("{at}[{i}]")));
                }
            }
            _ => {}
        }
        out
    }

    fn check(doc: &Value, name: &str, v: &Value) {
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        let found = breaks(doc, &schema, v, name);
        assert!(found.is_empty(), "{v}\n{found:#?}");
    }

    #[test]
    fn every_event_validates_against_the_document() {
        let doc = super::super::openapi::spec();
        let mut events: Vec<(EventKind, EventDetail)> =
            EventKind::ALL.iter().map(|&k| (k, sample(k))).collect();
        events.extend(variants());
        for (kind, detail) in events {
            let statuses = [None, Some(SessionStatus::Working)];
            for (old, new) in statuses.into_iter().zip(statuses.into_iter().rev()) {
                let e = Event::for_tests(kind, old, new, detail.clone());
                check(doc, "Event", &event_json(&e, Scope::Session));
                check(doc, "Event", &event_json(&e, Scope::Global));
                check(doc, "WebhookDelivery", &webhook_body(&e, "d"));
            }
        }
        for kind in ["connected", "heartbeat"] {
            check(doc, "EventNotice", &notice_json(kind, None));
        }
        check(
            doc,
            "EventNotice",
            &reset_json(Some(uuid::Uuid::nil()), 3, 9),
        );
    }

    /// Every schema reachable from `schema` that lets any object (or any value) through,
    /// by where it sits; a key in [`FREE_FORM`] is allowed.
    fn free_forms(doc: &Value, schema: &Value, at: &str, seen: &mut Vec<String>) -> Vec<String> {
        if let Some(r) = schema["$ref"].as_str() {
            if seen.iter().any(|s| s == r) {
                return Vec::new();
            }
            seen.push(r.to_owned());
            let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
            return free_forms(doc, target.unwrap_or(&Value::Null), r, seen);
        }
        let mut out = Vec::new();
        for key in ["allOf", "anyOf", "oneOf"] {
            for s in schema[key].as_array().into_iter().flatten() {
                out.extend(free_forms(doc, s, at, seen));
            }
        }
        let combined = ["allOf", "anyOf", "oneOf", "enum"]
            .iter()
            .any(|k| schema.get(k).is_some());
        let open = match schema["type"].as_str() {
            Some("object") => schema.get("properties").is_none(),
            Some(_) => false,
            None => !combined,
        };
        if open && !FREE_FORM.iter().any(|k| at.ends_with(k)) {
            out.push(at.to_owned());
        }
        for (k, s) in schema["properties"].as_object().into_iter().flatten() {
            out.extend(free_forms(doc, s, &format!("{at}.{k}"), seen));
        }
        out.extend(free_forms_items(doc, schema, at, seen));
        out
    }

    fn free_forms_items(
        doc: &Value,
        schema: &Value,
        at: &str,
        seen: &mut Vec<String>,
    ) -> Vec<String> {
        match schema.get("items") {
            Some(items) => free_forms(doc, items, &format!("{at}[]"), seen),
            None => Vec::new(),
        }
    }

    #[test]
    fn no_event_schema_is_free_form() {
        let doc = super::super::openapi::spec();
        for name in ["Event", "WebhookDelivery", "EventNotice"] {
            let root = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
            let open = free_forms(doc, &root, name, &mut Vec::new());
            assert!(open.is_empty(), "{name}: free-form schemas at {open:?}");
        }
    }

    /// The validator is strict: a key the schema lacks, a wrong type or a free-form object
    /// is found.
    #[test]
    fn the_validator_finds_what_the_schema_lacks() {
        let doc = super::super::openapi::spec();
        let e = Event::for_tests(
            EventKind::SessionKilled,
            None,
            None,
            sample(EventKind::SessionKilled),
        );
        let good = event_json(&e, Scope::Global);
        let schema = serde_json::json!({ "$ref": "#/components/schemas/Event" });
        assert!(breaks(doc, &schema, &good, "Event").is_empty());
        let mut extra = good.clone();
        extra["detail"]["surprise"] = 1.into();
        assert!(!breaks(doc, &schema, &extra, "Event").is_empty());
        let mut wrong = good.clone();
        wrong["data"]["reason"] = 1.into();
        assert!(!breaks(doc, &schema, &wrong, "Event").is_empty());
        let free = serde_json::json!({ "type": "object" });
        assert!(!breaks(doc, &free, &serde_json::json!({}), "detail").is_empty());
        assert_eq!(
            free_forms(doc, &free, "detail", &mut Vec::new()),
            ["detail"]
        );
        let any = serde_json::json!({ "properties": { "data": {} }, "type": "object" });
        assert_eq!(
            free_forms(doc, &any, "Event", &mut Vec::new()),
            ["Event.data"]
        );
    }
}
