//! The wire form of a bus event, shared by SSE, the WebSocket's `json_event` and webhook
//! bodies, and the frames only SSE sends (`connected`, `heartbeat`, `reset`).
//!
//! One JSON object serves two kinds of client, so neither has to be told which it is:
//! - ours read `{id, type, sessionId, sessionName, oldStatus, newStatus, timestamp, detail}`;
//! - Aegis v0.3's read `{event, sessionId, timestamp, data, id, emittedAt}`.
//!
//! The shared keys mean the same in both: `id` is the bus id (also the SSE `id:` line),
//! `sessionId` the session's UUID, `timestamp` when the event happened, in epoch milliseconds
//! (v0.3 sent an ISO string; `new Date(timestamp)` reads either). `emittedAt` is when this
//! copy was serialized, so a replayed event shows its age.
//!
//! v0.3 names an event after the route that carries it: a session's own stream says `status`
//! where the global stream says `session_status_change`. [`Scope`] picks the name. Our events
//! without a v0.3 counterpart keep our type as `event`, with our `detail` as `data`.
//!
//! | our `type` | per-session `event` | global `event` | v0.3 `data` |
//! |---|---|---|---|
//! | session.created | session.created | session_created | `{name, workDir, agentType}` |
//! | session.working, .idle, .question, .error | status | session_status_change | `{status, detail}`, status in v0.3's vocabulary (uiState) |
//! | session.stalled | stall | session_stall | `{stallType: "jsonl", detail}` |
//! | session.exited | dead | session_dead | `{reason, exitCode}` |
//! | session.killed | ended | session_ended | `{reason: "killed" \| "removed"}` |
//! | permission.requested | approval | session_approval | `{prompt, status, permissionId, kind}` |
//! | message.sent | message | session_message | `{role: "user", text, contentType: "text"}` |
//! | verification | verification | session_verification | our `detail` |
//! | any other | our type | our type | our `detail` |
//!
//! Stalls: v0.3 has no `stalled` status, only a `stall` event, and its `jsonl` type means
//! "working with no progress for the threshold", which is what our `stalled` means (we watch
//! the screen rather than the transcript). A permission dialog is announced once, as
//! `approval`, whose `data.status` carries the uiState v0.3 would have sent as `status`.
//!
//! The payloads are typed ([`super::event_payloads`]), so the document lists their keys;
//! this module picks and fills the shape of each kind.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::event_payloads::{EventDetailWire as D, *};
use super::uistate::UiInputs;
use super::wire::{PermissionRequestWire, permission_request, permission_resolution};
use crate::clock::now_ms;
use crate::events::detail::{MessageVia, PermissionAsked};
use crate::events::{Event, EventDetail, EventKind};
use crate::vocab::SessionStatus;

/// Which route an event is serialized for; v0.3 names events differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `GET /v1/sessions/:id/events` and the session's WebSocket.
    Session,
    /// `GET /v1/events` (filtered or not) and webhooks.
    Global,
}

/// v0.3's (per-session, global) names for `kind`, if v0.3 has the event.
fn v03_names(kind: EventKind) -> Option<(&'static str, &'static str)> {
    use EventKind as K;
    Some(match kind {
        // v0.3 announces a creation on the global stream only.
        K::SessionCreated => (kind.as_str(), "session_created"),
        K::SessionWorking | K::SessionIdle | K::SessionQuestion | K::SessionError => {
            ("status", "session_status_change")
        }
        K::SessionStalled => ("stall", "session_stall"),
        K::SessionExited => ("dead", "session_dead"),
        K::SessionKilled => ("ended", "session_ended"),
        K::PermissionRequested => ("approval", "session_approval"),
        K::MessageSent => ("message", "session_message"),
        K::Verification => ("verification", "session_verification"),
        K::PermissionResolved
        | K::ConsensusCompleted
        | K::PipelineFinished
        | K::SessionCompleted
        | K::SessionRecordingFailed => return None,
    })
}

/// The v0.3 `event` name of `kind` on a route of `scope`.
pub fn v03_event(kind: EventKind, scope: Scope) -> &'static str {
    match (v03_names(kind), scope) {
        (Some((one, _)), Scope::Session) => one,
        (Some((_, all)), Scope::Global) => all,
        (None, _) => kind.as_str(),
    }
}

fn status_str(s: Option<SessionStatus>) -> &'static str {
    s.map_or("unknown", SessionStatus::as_str)
}

/// Our `detail` of event `e`: each payload under the keys our clients read; `None` (null)
/// for a status change.
fn detail_of(e: &Event) -> Option<D> {
    Some(match &e.detail {
        EventDetail::None => return None,
        EventDetail::Created {
            agent_type,
            work_dir,
        } => D::Created(CreatedDetail {
            agent_type: agent_type.as_str(),
            work_dir: work_dir.to_string_lossy().into_owned(),
        }),
        EventDetail::Exited { exit_code } | EventDetail::CommandFinished { exit_code } => {
            D::Exit(ExitDetail {
                exit_code: *exit_code,
            })
        }
        EventDetail::Removed {
            exit_code,
            was_running,
        } => D::Removed(RemovedDetail {
            exit_code: *exit_code,
            was_running: *was_running,
        }),
        EventDetail::RecordingFailed { error } => D::RecordingFailed(RecordingFailedDetail {
            error: error.clone(),
        }),
        EventDetail::PermissionRequested(asked) => {
            D::PermissionRequested(Box::new(asked_of(e, asked)))
        }
        EventDetail::PermissionResolved(a) => {
            D::PermissionResolved(permission_resolution(&a.request, &a.resolution))
        }
        EventDetail::MessageSent(m) => {
            let (attempts, source) = match &m.via {
                MessageVia::Api { attempts } => (Some(*attempts), None),
                MessageVia::Stimulus { source } => (None, Some(source.clone())),
            };
            D::MessageSent(MessageSentDetail {
                text: m.text.clone(),
                delivered: m.delivered,
                attempts,
                source,
            })
        }
        EventDetail::Verification(v) => D::Verification(VerificationDetail {
            passed: v.passed,
            source: v.source,
            checks: v
                .checks
                .iter()
                .map(|c| CheckDetail {
                    name: c.name.clone(),
                    passed: c.passed,
                    exit_code: c.exit_code,
                    timed_out: c.timed_out,
                    duration_ms: c.duration_ms,
                })
                .collect(),
        }),
        EventDetail::ConsensusCompleted(c) => D::ConsensusCompleted(ConsensusDetail {
            consensus_id: c.consensus_id,
            status: c.status,
            verdict: c.verdict,
            approvals: c.approvals,
            rejections: c.rejections,
            tie: c.tie,
            explanation: c.explanation.clone(),
        }),
        EventDetail::PipelineFinished(p) => D::PipelineFinished(PipelineDetail {
            pipeline_id: p.pipeline_id,
            name: p.name.clone(),
            status: p.status,
            reason: p.reason.clone(),
        }),
        EventDetail::SessionCompleted { status, comment } => D::SessionCompleted(CompletedDetail {
            status: status.clone(),
            comment: comment.clone(),
        }),
    })
}

/// Our `detail` of event `e` as JSON (null for a status change).
#[cfg(test)]
fn detail_json(e: &Event) -> Value {
    to_value(&detail_of(e))
}

/// A permission request's detail; one held by the hook adds where it came from and the
/// tool's exact name and input.
fn asked_of(e: &Event, asked: &PermissionAsked) -> PermissionRequestWire {
    let mut v = permission_request(
        e.session_id,
        &e.session_name,
        asked.agent_type,
        &asked.request,
    );
    if let Some(hook) = &asked.hook {
        v.source = Some("hook");
        v.tool_name = Some(hook.tool_name.clone());
        v.tool_input = Some(hook.tool_input.clone());
    }
    v
}

/// The v0.3 `data` of event `e` (see the module table); `None` (null) only where our
/// `detail` is, for a kind published without its payload.
fn v03_data(e: &Event) -> Option<V03Data> {
    let exit_code = match &e.detail {
        EventDetail::Exited { exit_code } | EventDetail::Removed { exit_code, .. } => *exit_code,
        _ => None,
    };
    Some(match e.kind {
        EventKind::SessionCreated => {
            let (agent_type, work_dir) = match &e.detail {
                EventDetail::Created {
                    agent_type,
                    work_dir,
                } => (
                    Some(agent_type.as_str()),
                    Some(work_dir.to_string_lossy().into_owned()),
                ),
                _ => (None, None),
            };
            V03Data::Created(V03Created {
                name: e.session_name.clone(),
                work_dir,
                agent_type,
            })
        }
        EventKind::SessionWorking
        | EventKind::SessionIdle
        | EventKind::SessionQuestion
        | EventKind::SessionError => {
            let new = e.new_status.unwrap_or(SessionStatus::Starting);
            V03Data::Status(V03Status {
                status: super::uistate::ui_state(UiInputs {
                    status: new,
                    pending: None,
                    hook_compacting: false,
                    screen: None,
                }),
                detail: format!("{} → {}", status_str(e.old_status), new.as_str()),
            })
        }
        EventKind::SessionStalled => V03Data::Stall(V03Stall {
            stall_type: "jsonl",
            detail: format!(
                "no screen progress while {} past the stall threshold",
                status_str(e.old_status)
            ),
        }),
        EventKind::SessionExited => {
            let reason = match exit_code {
                Some(code) => format!("process exited with code {code}"),
                None => "process exited".to_owned(),
            };
            V03Data::Dead(V03Dead { reason, exit_code })
        }
        EventKind::SessionKilled => {
            let removed = matches!(
                e.detail,
                EventDetail::Removed {
                    was_running: false,
                    ..
                }
            );
            V03Data::Ended(V03Ended {
                reason: if removed { "removed" } else { "killed" },
            })
        }
        EventKind::PermissionRequested => {
            let request = match &e.detail {
                EventDetail::PermissionRequested(asked) => Some(&asked.request),
                _ => None,
            };
            let title = request.map_or("", |r| r.title.as_str());
            let prompt = match request.map(|r| r.detail.as_str()).filter(|s| !s.is_empty()) {
                Some(detail) => format!("{title}\n{detail}"),
                None => title.to_owned(),
            };
            V03Data::Approval(V03Approval {
                prompt,
                status: super::uistate::ui_state(UiInputs {
                    status: SessionStatus::PermissionPrompt,
                    pending: request.map(|r| r.kind),
                    hook_compacting: false,
                    screen: None,
                }),
                permission_id: request.map(|r| r.id),
                kind: request.map(|r| r.kind.as_str()),
            })
        }
        EventKind::MessageSent => {
            let text = match &e.detail {
                EventDetail::MessageSent(m) => Some(m.text.clone()),
                _ => None,
            };
            V03Data::Message(V03Message {
                role: "user",
                text,
                content_type: "text",
            })
        }
        EventKind::Verification
        | EventKind::PermissionResolved
        | EventKind::ConsensusCompleted
        | EventKind::PipelineFinished
        | EventKind::SessionCompleted
        | EventKind::SessionRecordingFailed => V03Data::Ours(detail_of(e)?),
    })
}

/// A bus event on the wire (an SSE `data:` line, a WebSocket `json_event`'s `event`): our
/// keys and v0.3's, see the module doc.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Event")]
pub struct EventWire {
    /// The bus id (also the SSE `id:` line); restarts at 1 with each daemon life.
    id: u64,
    /// What happened.
    #[serde(rename = "type")]
    #[schemars(schema_with = "crate::api::schemas::event_kind")]
    kind: &'static str,
    #[schemars(schema_with = "crate::api::schemas::uuid")]
    session_id: String,
    session_name: String,
    /// The status before a status change, else null.
    #[schemars(schema_with = "crate::api::schemas::session_status_or_null")]
    old_status: Option<&'static str>,
    /// The status after a status change, else null.
    #[schemars(schema_with = "crate::api::schemas::session_status_or_null")]
    new_status: Option<&'static str>,
    /// When it happened, in epoch milliseconds.
    timestamp: u64,
    /// Our payload of this `type` (see docs/api.md, "Events"); null for a status change.
    detail: Option<D>,
    /// Aegis v0.3's name of the event on this route, or our `type` where v0.3 has none.
    event: &'static str,
    /// Aegis v0.3's payload of the event.
    data: Option<V03Data>,
    /// When this copy was serialized, in epoch milliseconds.
    emitted_at: u64,
}

impl EventWire {
    fn of(e: &Event, scope: Scope) -> EventWire {
        EventWire {
            id: e.id,
            kind: e.kind.as_str(),
            session_id: e.session_id.to_string(),
            session_name: e.session_name.clone(),
            old_status: e.old_status.map(SessionStatus::as_str),
            new_status: e.new_status.map(SessionStatus::as_str),
            timestamp: e.timestamp_ms,
            detail: detail_of(e),
            event: v03_event(e.kind, scope),
            data: v03_data(e),
            emitted_at: now_ms(),
        }
    }
}

/// The wire form of an event as seen on a route of `scope`: our keys plus v0.3's.
pub fn event_json(e: &Event, scope: Scope) -> Value {
    to_value(&EventWire::of(e, scope))
}

/// The body of an outbound webhook delivery: the event as the global stream shows it, plus
/// the delivery's idempotency id.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery<'a> {
    #[serde(flatten)]
    event: EventWire,
    /// The same for every attempt of one delivery, so a receiver can drop repeats.
    delivery_id: &'a str,
}

/// The body of an outbound webhook delivery (see [`WebhookDelivery`]).
pub fn webhook_body(e: &Event, delivery_id: &str) -> Value {
    to_value(&WebhookDelivery {
        event: EventWire::of(e, Scope::Global),
        delivery_id,
    })
}

/// A frame that is not a bus event (`connected`, `heartbeat`, `reset`): the same keys, with
/// `type` and `event` both its kind, no `id` and our per-event keys absent.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventNotice<'a> {
    /// `connected`, `heartbeat` or `reset`.
    #[serde(rename = "type")]
    #[schemars(schema_with = "crate::api::schemas::notice_kind")]
    kind: &'a str,
    /// The same as `type`.
    #[schemars(schema_with = "crate::api::schemas::notice_kind")]
    event: &'a str,
    /// The session of a session's stream; null on the global stream.
    #[schemars(schema_with = "crate::api::schemas::uuid_or_null")]
    session_id: Option<String>,
    /// Epoch milliseconds.
    timestamp: u64,
    /// `{}`, or for `reset` `{reason, oldestAvailable}`.
    data: NoticeData,
    /// Epoch milliseconds (the same as `timestamp`).
    emitted_at: u64,
    /// `reset` only: the id of the last event lost (also the SSE `id:` line).
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    /// `reset` only: why (as in `data`, for the clients that read it here).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// `reset` only: the oldest id the replay ring still holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    oldest_available: Option<u64>,
}

impl<'a> EventNotice<'a> {
    fn new(kind: &'a str, session: Option<uuid::Uuid>, data: NoticeData) -> EventNotice<'a> {
        let now = now_ms();
        EventNotice {
            kind,
            event: kind,
            session_id: session.map(|s| s.to_string()),
            timestamp: now,
            data,
            emitted_at: now,
            id: None,
            reason: None,
            oldest_available: None,
        }
    }
}

/// A notice frame of `kind` with no payload (`connected`, `heartbeat`; see [`EventNotice`]).
pub fn notice_json(kind: &str, session: Option<uuid::Uuid>) -> Value {
    to_value(&EventNotice::new(
        kind,
        session,
        NoticeData::Empty(Empty {}),
    ))
}

/// The `reset` notice: the events up to `lost_until` are lost, `oldest` is the oldest the
/// replay ring still holds.
pub fn reset_json(session: Option<uuid::Uuid>, lost_until: u64, oldest: u64) -> Value {
    let reason = "requested events are older than the replay ring; refetch state";
    let data = NoticeData::Reset(ResetData {
        reason,
        oldest_available: oldest,
    });
    to_value(&EventNotice {
        id: Some(lost_until),
        reason: Some(reason),
        oldest_available: Some(oldest),
        ..EventNotice::new("reset", session, data)
    })
}

/// `v` as a JSON value; serializing these wire types (strings, numbers and JSON values)
/// cannot fail.
fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::event_payloads::tests::sample;
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_has_both_names_and_a_payload() {
        for kind in EventKind::ALL {
            let e = Event::for_tests(kind, None, Some(SessionStatus::Idle), sample(kind));
            for scope in [Scope::Session, Scope::Global] {
                let v = event_json(&e, scope);
                assert_eq!(v["type"], kind.as_str());
                assert!(v["event"].is_string() && v["emittedAt"].is_u64(), "{v}");
                assert!(v["data"].is_object(), "{kind:?}: {v}");
            }
        }
    }

    #[test]
    fn details_keep_their_wire_keys() {
        let detail = |kind| detail_json(&Event::for_tests(kind, None, None, sample(kind)));
        assert_eq!(
            detail(EventKind::SessionCreated),
            json!({ "agentType": "shell", "workDir": "/tmp" })
        );
        assert_eq!(
            detail(EventKind::SessionKilled),
            json!({ "exitCode": null, "wasRunning": true })
        );
        assert_eq!(
            detail(EventKind::MessageSent),
            json!({ "text": "hi", "delivered": true, "attempts": 1 })
        );
        let asked = detail(EventKind::PermissionRequested);
        assert_eq!(asked["id"], "00000000-0000-0000-0000-000000000001");
        assert_eq!(asked["sessionName"], "s");
        assert_eq!(asked["agentType"], "claude");
        assert_eq!(asked["rejectKeys"], json!(["Escape"]));
        assert_eq!(
            detail(EventKind::PermissionResolved),
            json!({
                "permissionId": "00000000-0000-0000-0000-000000000001",
                "kind": "bash", "title": "Bash command", "detail": "rm -rf build",
                "resolution": "approved", "option": 1, "by": "api", "reason": null, "actor": null,
            })
        );
        assert_eq!(detail(EventKind::SessionIdle), Value::Null);
    }

    #[test]
    fn v03_names_and_payloads() {
        let e = Event::for_tests(
            EventKind::SessionWorking,
            Some(SessionStatus::Idle),
            Some(SessionStatus::Working),
            EventDetail::None,
        );
        assert_eq!(event_json(&e, Scope::Session)["event"], "status");
        let v = event_json(&e, Scope::Global);
        assert_eq!(v["event"], "session_status_change");
        assert_eq!(v["data"]["status"], "working");
        assert_eq!(v["newStatus"], "working");
        let q = Event::for_tests(
            EventKind::SessionQuestion,
            None,
            Some(SessionStatus::Question),
            EventDetail::None,
        );
        assert_eq!(
            event_json(&q, Scope::Session)["data"]["status"],
            "ask_question"
        );
        let p = Event::for_tests(
            EventKind::PermissionRequested,
            Some(SessionStatus::Working),
            Some(SessionStatus::PermissionPrompt),
            sample(EventKind::PermissionRequested),
        );
        let v = event_json(&p, Scope::Session);
        assert_eq!(v["event"], "approval");
        assert_eq!(v["data"]["prompt"], "Bash command\nrm -rf build");
        assert_eq!(v["data"]["status"], "bash_approval");
        assert_eq!(v["data"]["kind"], "bash");
        let k = Event::for_tests(
            EventKind::SessionKilled,
            None,
            None,
            sample(EventKind::SessionKilled),
        );
        assert_eq!(event_json(&k, Scope::Global)["event"], "session_ended");
        assert_eq!(event_json(&k, Scope::Global)["data"]["reason"], "killed");
        let x = Event::for_tests(
            EventKind::SessionExited,
            None,
            None,
            sample(EventKind::SessionExited),
        );
        assert_eq!(event_json(&x, Scope::Session)["event"], "dead");
        assert_eq!(
            event_json(&x, Scope::Session)["data"]["reason"],
            "process exited with code 3"
        );
        let s = Event::for_tests(
            EventKind::SessionStalled,
            Some(SessionStatus::Working),
            Some(SessionStatus::Stalled),
            EventDetail::None,
        );
        assert_eq!(event_json(&s, Scope::Session)["data"]["stallType"], "jsonl");
        let r = Event::for_tests(
            EventKind::PermissionResolved,
            None,
            None,
            sample(EventKind::PermissionResolved),
        );
        assert_eq!(
            event_json(&r, Scope::Global)["event"],
            "permission.resolved"
        );
        assert_eq!(
            event_json(&r, Scope::Global)["data"]["resolution"],
            "approved"
        );
    }
}
