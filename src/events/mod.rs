//! The event bus: one typed stream of everything that happens to sessions, with
//! monotonically increasing ids, a bounded replay ring (for SSE `Last-Event-ID`), and a fan-out
//! that never waits for a subscriber.
//!
//! Publishers (session actors, the manager, the permission layer) call [`EventBus::publish`].
//! Events flow one way: the bus knows no consumer. The daemon's metrics observe it
//! synchronously ([`EventBus::with_observer`]); everyone else subscribes.
//! Subscribers get a `broadcast::Receiver`; one that falls `SUBSCRIBER_BACKLOG` events behind
//! sees `Lagged` and must resync (replay from the ring, or a `reset`). Publishing takes a short
//! mutex only to assign the id and push into the ring.

pub mod detail;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::clock::now_ms;
use crate::vocab::{SessionMeta, SessionStatus};
pub use detail::EventDetail;

/// Events kept for replay. At a few hundred bytes each this is about 1 MB; a client that was
/// away for more than this many events gets an explicit `reset` instead of a silent gap.
pub const REPLAY_RING: usize = 4096;

/// Events buffered per live subscriber before it counts as lagging.
pub const SUBSCRIBER_BACKLOG: usize = 1024;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    SessionCreated,
    SessionWorking,
    SessionIdle,
    SessionStalled,
    SessionQuestion,
    SessionError,
    SessionExited,
    SessionKilled,
    PermissionRequested,
    PermissionResolved,
    MessageSent,
    /// A quality-gate run finished (`POST /v1/sessions/:id/verify`).
    Verification,
    /// A consensus review finished (verdict reached or timed out).
    ConsensusCompleted,
    /// A pipeline finished, failed or was cancelled.
    PipelineFinished,
    /// A client marked a session complete (`POST /v1/sessions/:id/complete`).
    SessionCompleted,
    /// The session's recording stopped (disk full, file-size limit); the session goes on.
    SessionRecordingFailed,
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::SessionCreated,
        EventKind::SessionWorking,
        EventKind::SessionIdle,
        EventKind::SessionStalled,
        EventKind::SessionQuestion,
        EventKind::SessionError,
        EventKind::SessionExited,
        EventKind::SessionKilled,
        EventKind::PermissionRequested,
        EventKind::PermissionResolved,
        EventKind::MessageSent,
        EventKind::Verification,
        EventKind::ConsensusCompleted,
        EventKind::PipelineFinished,
        EventKind::SessionCompleted,
        EventKind::SessionRecordingFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionCreated => "session.created",
            EventKind::SessionWorking => "session.working",
            EventKind::SessionIdle => "session.idle",
            EventKind::SessionStalled => "session.stalled",
            EventKind::SessionQuestion => "session.question",
            EventKind::SessionError => "session.error",
            EventKind::SessionExited => "session.exited",
            EventKind::SessionKilled => "session.killed",
            EventKind::PermissionRequested => "permission.requested",
            EventKind::PermissionResolved => "permission.resolved",
            EventKind::MessageSent => "message.sent",
            EventKind::Verification => "verification",
            EventKind::ConsensusCompleted => "consensus.completed",
            EventKind::PipelineFinished => "pipeline.finished",
            EventKind::SessionCompleted => "session.completed",
            EventKind::SessionRecordingFailed => "session.recording_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The event for a session entering `status`, if that status has one.
    /// (`permission_prompt` is announced by the permission layer with its parsed request.)
    pub fn for_status(status: SessionStatus) -> Option<Self> {
        match status {
            SessionStatus::Working => Some(EventKind::SessionWorking),
            SessionStatus::Idle => Some(EventKind::SessionIdle),
            SessionStatus::Stalled => Some(EventKind::SessionStalled),
            SessionStatus::Question => Some(EventKind::SessionQuestion),
            SessionStatus::Error => Some(EventKind::SessionError),
            SessionStatus::Exited => Some(EventKind::SessionExited),
            SessionStatus::Starting | SessionStatus::PermissionPrompt => None,
        }
    }
}

/// One event. `detail` carries what each kind needs (exit code, message text, request), typed
/// (see [`detail`]).
#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    pub kind: EventKind,
    pub session_id: uuid::Uuid,
    pub session_name: String,
    pub old_status: Option<SessionStatus>,
    pub new_status: Option<SessionStatus>,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub detail: EventDetail,
}

impl Event {
    /// Event 1 of the placeholder session ([`SessionMeta::for_tests`]), 10 s after the epoch,
    /// for unit tests of code that reads events.
    #[cfg(test)]
    pub fn for_tests(
        kind: EventKind,
        old_status: Option<SessionStatus>,
        new_status: Option<SessionStatus>,
        detail: EventDetail,
    ) -> Event {
        let m = SessionMeta::for_tests();
        Event {
            id: 1,
            kind,
            session_id: m.id,
            session_name: m.name,
            old_status,
            new_status,
            timestamp_ms: 10_000,
            detail,
        }
    }
}

/// Replay answer for a client resuming after `last_id`.
#[derive(Debug)]
pub enum Replay {
    /// Every event after `last_id`, oldest first.
    Events(Vec<Arc<Event>>),
    /// `last_id` is older than the ring: events were lost; the client must resync.
    Reset { oldest_available: u64 },
}

struct Ring {
    next_id: u64,
    events: VecDeque<Arc<Event>>,
}

/// Called synchronously for every event as it is published, in id order, before any
/// subscriber can see it (see [`EventBus::with_observer`]).
pub type Observer = Box<dyn Fn(&Event) + Send + Sync>;

pub struct EventBus {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Arc<Event>>,
    /// Sees every event synchronously (the daemon's metrics), so nothing it counts depends on
    /// a subscriber keeping up.
    observer: Option<Observer>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(SUBSCRIBER_BACKLOG);
        EventBus {
            ring: Mutex::new(Ring {
                next_id: 1,
                events: VecDeque::with_capacity(REPLAY_RING),
            }),
            tx,
            observer: None,
        }
    }

    /// A bus that hands every event to `observer` as it is published. The observer runs under
    /// the publishing lock, so it must be quick and must not publish.
    pub fn with_observer(observer: Observer) -> Self {
        EventBus {
            observer: Some(observer),
            ..Self::new()
        }
    }

    /// Publish an event about `session`; returns its id.
    pub fn publish(
        &self,
        kind: EventKind,
        session: &SessionMeta,
        old_status: Option<SessionStatus>,
        new_status: Option<SessionStatus>,
        detail: EventDetail,
    ) -> u64 {
        // Id assignment and the send happen under the ring lock, so subscribers see ids in order.
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let id = ring.next_id;
        ring.next_id += 1;
        let event = Arc::new(Event {
            id,
            kind,
            session_id: session.id,
            session_name: session.name.clone(),
            old_status,
            new_status,
            timestamp_ms: now_ms(),
            detail,
        });
        if ring.events.len() == REPLAY_RING {
            ring.events.pop_front();
        }
        ring.events.push_back(event.clone());
        if let Some(observe) = &self.observer {
            observe(&event);
        }
        // No subscribers is fine; a lagging one finds out on its next receive.
        let _ = self.tx.send(event);
        id
    }

    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Live events plus everything after `last_id`, taken atomically so nothing falls between.
    pub fn subscribe_since(&self, last_id: u64) -> (Replay, broadcast::Receiver<Arc<Event>>) {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.tx.subscribe();
        let oldest = ring.events.front().map(|e| e.id).unwrap_or(ring.next_id);
        let replay = if last_id + 1 < oldest && last_id < ring.next_id {
            Replay::Reset {
                oldest_available: oldest,
            }
        } else {
            Replay::Events(
                ring.events
                    .iter()
                    .filter(|e| e.id > last_id)
                    .cloned()
                    .collect(),
            )
        };
        (replay, rx)
    }

    /// The id the next event will get.
    pub fn next_id(&self) -> u64 {
        self.ring.lock().unwrap_or_else(|p| p.into_inner()).next_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> crate::vocab::SessionMeta {
        crate::vocab::SessionMeta::for_tests()
    }

    #[test]
    fn ids_increase_and_replay_resumes() {
        let bus = EventBus::new();
        let m = meta();
        let a = bus.publish(EventKind::SessionCreated, &m, None, None, EventDetail::None);
        let b = bus.publish(
            EventKind::SessionIdle,
            &m,
            None,
            Some(SessionStatus::Idle),
            EventDetail::None,
        );
        assert!(b > a);
        match bus.subscribe_since(a).0 {
            Replay::Events(ev) => assert_eq!(ev.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]),
            Replay::Reset { .. } => panic!("unexpected reset"),
        }
    }

    #[test]
    fn too_old_an_id_is_a_reset() {
        let bus = EventBus::new();
        let m = meta();
        for _ in 0..REPLAY_RING + 10 {
            bus.publish(EventKind::MessageSent, &m, None, None, EventDetail::None);
        }
        assert!(matches!(
            bus.subscribe_since(3).0,
            Replay::Reset {
                oldest_available: 11
            }
        ));
        assert!(matches!(bus.subscribe_since(11).0, Replay::Events(_)));
    }
}
