//! The metrics' view of the event bus: [`Metrics::on_event`], which the daemon's bus calls
//! synchronously for every event (see `crate::events`), counts transitions, creations, exits,
//! permission answers and their response time, and keeps each session's status history.

use std::sync::atomic::Ordering;

use super::{LatencyKind, Metrics, OutcomeLabels, PermissionLabels, TransitionLabels};
use crate::events::{Event, EventDetail, EventKind};
use crate::permissions::Outcome;
use crate::vocab::SessionStatus;

impl Metrics {
    /// Called by the event bus for every published event.
    pub fn on_event(&self, e: &Event) {
        let status_event = EventKind::for_status(e.new_status.unwrap_or(SessionStatus::Starting))
            .is_some_and(|k| k == e.kind);
        let into_prompt = e.kind == EventKind::PermissionRequested
            && e.new_status == Some(SessionStatus::PermissionPrompt);
        match e.kind {
            EventKind::SessionCreated => {
                self.created.inc();
                if let Some(s) = self.session(e.session_id) {
                    s.created_ms.store(e.timestamp_ms, Ordering::Relaxed);
                    s.push_status(SessionStatus::Starting);
                }
            }
            EventKind::SessionKilled => self.forget(e.session_id),
            EventKind::PermissionRequested => {
                if let (Some(s), EventDetail::PermissionRequested(asked)) =
                    (self.session(e.session_id), &e.detail)
                {
                    let at = (asked.request.id, asked.request.created_at_ms);
                    *s.asked.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
                }
            }
            EventKind::PermissionResolved => self.on_resolved(e),
            EventKind::SessionExited => self.on_exited(e),
            _ => {}
        }
        if (status_event || into_prompt)
            && let (Some(old), Some(new)) = (e.old_status, e.new_status)
            && old != new
        {
            self.transitions
                .get_or_create(&TransitionLabels {
                    from: old.as_str(),
                    to: new.as_str(),
                })
                .inc();
            if let Some(s) = self.session(e.session_id) {
                s.push_status(new);
            }
        }
    }

    fn on_resolved(&self, e: &Event) {
        let answered = match &e.detail {
            EventDetail::PermissionResolved(a) => Some(a),
            _ => None,
        };
        let resolution = answered.map_or("unknown", |a| a.resolution.action.as_str());
        let by = answered.map_or("unknown", |a| a.resolution.by.as_str());
        self.permissions
            .get_or_create(&PermissionLabels {
                resolution: resolution.to_owned(),
                by: by.to_owned(),
            })
            .inc();
        let Some(s) = self.session(e.session_id) else {
            return;
        };
        if let Some(a) = answered.filter(|a| a.resolution.action == Outcome::Approved) {
            let automatic = a.resolution.by.is_automatic();
            let c = if automatic {
                &s.auto_approvals
            } else {
                &s.approvals
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
        let asked = s.asked.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((id, at)) = asked
            && answered.is_some_and(|a| a.request.id == id)
        {
            let ms = e.timestamp_ms.saturating_sub(at) as f64;
            self.observe_latency(LatencyKind::PermissionResponse, Some(e.session_id), ms);
        }
    }

    fn on_exited(&self, e: &Event) {
        let outcome = match e.detail {
            EventDetail::Exited { exit_code: Some(0) } => "completed",
            _ => "failed",
        };
        self.exits.get_or_create(&OutcomeLabels { outcome }).inc();
        let Some(s) = self.session(e.session_id) else {
            return;
        };
        s.exited_at_ms.store(e.timestamp_ms, Ordering::Relaxed);
        let created = s.created_ms.load(Ordering::Relaxed);
        if created > 0 {
            let lifetime_ms = e.timestamp_ms.saturating_sub(created);
            self.session_seconds.observe(lifetime_ms as f64 / 1000.0);
            self.duration_ms.fetch_add(lifetime_ms, Ordering::Relaxed);
            self.timed_exits.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Aggregate;
    use crate::permissions::AnsweredBy;
    use crate::vocab::AgentType;
    use uuid::Uuid;

    #[test]
    fn events_feed_transitions_approvals_and_status_history() {
        use crate::events::detail::{PermissionAnswered, PermissionAsked};
        use SessionStatus::*;
        let m = Metrics::new();
        let null = EventDetail::None;
        let request = crate::detect::prompt::PermissionRequest {
            id: Uuid::from_u128(1),
            kind: crate::detect::profile::PermissionKind::Bash,
            title: "Bash command".into(),
            detail: "ls".into(),
            options: Vec::new(),
            selected: None,
            rule: "test".into(),
            // A second before the test events (`Event::for_tests` is at 10 s): the latency below.
            created_at_ms: 9_000,
            expires_at_ms: None,
            fingerprint: 0,
        };
        m.on_event(&Event::for_tests(
            EventKind::SessionCreated,
            None,
            Some(Starting),
            null.clone(),
        ));
        m.on_event(&Event::for_tests(
            EventKind::SessionWorking,
            Some(Starting),
            Some(Working),
            null.clone(),
        ));
        m.on_event(&Event::for_tests(
            EventKind::PermissionRequested,
            Some(Working),
            Some(PermissionPrompt),
            EventDetail::PermissionRequested(Box::new(PermissionAsked {
                request: request.clone(),
                agent_type: AgentType::Claude,
                hook: None,
            })),
        ));
        // Leaving the prompt is announced twice (resolved + idle); counted once.
        m.on_event(&Event::for_tests(
            EventKind::PermissionResolved,
            Some(PermissionPrompt),
            Some(Idle),
            EventDetail::PermissionResolved(Box::new(PermissionAnswered {
                request,
                resolution: crate::permissions::Resolution {
                    action: Outcome::Approved,
                    option: None,
                    by: AnsweredBy::Policy,
                    reason: None,
                    actor: None,
                },
            })),
        ));
        m.on_event(&Event::for_tests(
            EventKind::SessionIdle,
            Some(PermissionPrompt),
            Some(Idle),
            null.clone(),
        ));
        let s = m.session(Uuid::nil()).expect("stats exist");
        assert_eq!(
            s.status_changes(),
            ["starting", "working", "permission_prompt", "idle"]
        );
        assert_eq!(s.auto_approvals.load(Ordering::Relaxed), 1);
        assert_eq!(s.approvals.load(Ordering::Relaxed), 0);
        assert_eq!(
            s.latency.aggregated()[2],
            (
                LatencyKind::PermissionResponse,
                Aggregate {
                    min: Some(1000.0),
                    max: Some(1000.0),
                    avg: Some(1000.0),
                    count: 1
                }
            )
        );
        let text = m.render([]);
        assert!(
            text.contains(
                "aegis_state_transitions_total{from=\"working\",to=\"permission_prompt\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "aegis_state_transitions_total{from=\"permission_prompt\",to=\"idle\"} 1"
            ),
            "{text}"
        );
        m.on_event(&Event::for_tests(
            EventKind::SessionKilled,
            Some(Idle),
            None,
            null.clone(),
        ));
        assert!(
            m.session(Uuid::nil()).is_none(),
            "a removed session stays removed"
        );
    }
}
