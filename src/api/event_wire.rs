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

use serde_json::{Value, json};

use super::uistate::UiInputs;
use crate::clock::now_ms;
use crate::detect::profile::PermissionKind;
use crate::events::{Event, EventKind};
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

/// The v0.3 `data` of event `e` (see the module table).
fn v03_data(e: &Event) -> Value {
    let d = &e.detail;
    match e.kind {
        EventKind::SessionCreated => json!({
            "name": e.session_name,
            "workDir": d["workDir"],
            "agentType": d["agentType"],
        }),
        EventKind::SessionWorking
        | EventKind::SessionIdle
        | EventKind::SessionQuestion
        | EventKind::SessionError => {
            let new = e.new_status.unwrap_or(SessionStatus::Starting);
            json!({
                "status": super::uistate::ui_state(UiInputs {
                    status: new,
                    pending: None,
                    hook_compacting: false,
                    screen: None,
                }),
                "detail": format!("{} → {}", status_str(e.old_status), new.as_str()),
            })
        }
        EventKind::SessionStalled => json!({
            "stallType": "jsonl",
            "detail": format!(
                "no screen progress while {} past the stall threshold",
                status_str(e.old_status)
            ),
        }),
        EventKind::SessionExited => {
            let reason = match d["exitCode"].as_i64() {
                Some(code) => format!("process exited with code {code}"),
                None => "process exited".to_owned(),
            };
            json!({ "reason": reason, "exitCode": d["exitCode"] })
        }
        EventKind::SessionKilled => json!({
            "reason": if d["wasRunning"] == false { "removed" } else { "killed" },
        }),
        EventKind::PermissionRequested => {
            let kind = d["kind"].as_str().and_then(PermissionKind::parse);
            let title = d["title"].as_str().unwrap_or_default();
            let prompt = match d["detail"].as_str().filter(|s| !s.is_empty()) {
                Some(detail) => format!("{title}\n{detail}"),
                None => title.to_owned(),
            };
            json!({
                "prompt": prompt,
                "status": super::uistate::ui_state(UiInputs {
                    status: SessionStatus::PermissionPrompt,
                    pending: kind,
                    hook_compacting: false,
                    screen: None,
                }),
                "permissionId": d["id"],
                "kind": d["kind"],
            })
        }
        EventKind::MessageSent => json!({
            "role": "user",
            "text": d["text"],
            "contentType": "text",
        }),
        EventKind::Verification
        | EventKind::PermissionResolved
        | EventKind::ConsensusCompleted
        | EventKind::PipelineFinished
        | EventKind::SessionCompleted
        | EventKind::SessionRecordingFailed => d.clone(),
    }
}

/// The wire form of an event as seen on a route of `scope`: our keys plus v0.3's.
pub fn event_json(e: &Event, scope: Scope) -> Value {
    json!({
        "id": e.id,
        "type": e.kind.as_str(),
        "sessionId": e.session_id.to_string(),
        "sessionName": e.session_name,
        "oldStatus": e.old_status.map(SessionStatus::as_str),
        "newStatus": e.new_status.map(SessionStatus::as_str),
        "timestamp": e.timestamp_ms,
        "detail": e.detail,
        "event": v03_event(e.kind, scope),
        "data": v03_data(e),
        "emittedAt": now_ms(),
    })
}

/// The body of an outbound webhook delivery: the event as the global stream shows it, plus
/// the delivery's idempotency id.
pub fn webhook_body(e: &Event, delivery_id: &str) -> Value {
    let mut body = event_json(e, Scope::Global);
    body["deliveryId"] = delivery_id.into();
    body
}

/// A frame that is not a bus event (`connected`, `heartbeat`, `reset`): the same keys, with
/// `type` and `event` both `kind`, no `id` and our per-event keys absent.
pub fn notice_json(kind: &str, session: Option<uuid::Uuid>, data: Value) -> Value {
    let now = now_ms();
    json!({
        "type": kind,
        "event": kind,
        "sessionId": session.map(|s| s.to_string()),
        "timestamp": now,
        "data": data,
        "emittedAt": now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        kind: EventKind,
        old: Option<SessionStatus>,
        new: Option<SessionStatus>,
        detail: Value,
    ) -> Event {
        Event {
            id: 7,
            kind,
            session_id: uuid::Uuid::nil(),
            session_name: "s".into(),
            old_status: old,
            new_status: new,
            timestamp_ms: 1_700_000_000_000,
            detail,
        }
    }

    #[test]
    fn every_kind_has_both_names_and_a_payload() {
        for kind in EventKind::ALL {
            let e = event(kind, None, Some(SessionStatus::Idle), json!({}));
            for scope in [Scope::Session, Scope::Global] {
                let v = event_json(&e, scope);
                assert_eq!(v["type"], kind.as_str());
                assert!(v["event"].is_string() && v["emittedAt"].is_u64(), "{v}");
                assert!(v["data"].is_object(), "{kind:?}: {v}");
            }
        }
    }

    #[test]
    fn v03_names_and_payloads() {
        let e = event(
            EventKind::SessionWorking,
            Some(SessionStatus::Idle),
            Some(SessionStatus::Working),
            Value::Null,
        );
        assert_eq!(event_json(&e, Scope::Session)["event"], "status");
        let v = event_json(&e, Scope::Global);
        assert_eq!(v["event"], "session_status_change");
        assert_eq!(v["data"]["status"], "working");
        assert_eq!(v["newStatus"], "working");
        let q = event(
            EventKind::SessionQuestion,
            None,
            Some(SessionStatus::Question),
            Value::Null,
        );
        assert_eq!(
            event_json(&q, Scope::Session)["data"]["status"],
            "ask_question"
        );
        let p = event(
            EventKind::PermissionRequested,
            Some(SessionStatus::Working),
            Some(SessionStatus::PermissionPrompt),
            json!({ "id": "p1", "kind": "bash", "title": "Bash command", "detail": "rm -rf build" }),
        );
        let v = event_json(&p, Scope::Session);
        assert_eq!(v["event"], "approval");
        assert_eq!(v["data"]["prompt"], "Bash command\nrm -rf build");
        assert_eq!(v["data"]["status"], "bash_approval");
        let k = event(
            EventKind::SessionKilled,
            None,
            None,
            json!({ "wasRunning": true }),
        );
        assert_eq!(event_json(&k, Scope::Global)["event"], "session_ended");
        assert_eq!(event_json(&k, Scope::Global)["data"]["reason"], "killed");
        let x = event(
            EventKind::SessionExited,
            None,
            None,
            json!({ "exitCode": 3 }),
        );
        assert_eq!(event_json(&x, Scope::Session)["event"], "dead");
        assert_eq!(
            event_json(&x, Scope::Session)["data"]["reason"],
            "process exited with code 3"
        );
        let s = event(
            EventKind::SessionStalled,
            Some(SessionStatus::Working),
            Some(SessionStatus::Stalled),
            Value::Null,
        );
        assert_eq!(event_json(&s, Scope::Session)["data"]["stallType"], "jsonl");
        let r = event(
            EventKind::PermissionResolved,
            None,
            None,
            json!({ "resolution": "approved" }),
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
