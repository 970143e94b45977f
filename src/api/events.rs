//! Server-sent events: the event bus as a push channel for dashboards and orchestrators.
//!
//! Routes:
//! - `GET /v1/events?session=<id|name>&types=a,b` — every session's events, filtered.
//! - `GET /v1/sessions/:id/events?types=a,b` — one session's events.
//!
//! A client that cannot set headers (EventSource) authenticates with a short-lived token
//! (`?token=`, [`super::sse_tokens`]).
//!
//! Frame layout, as Aegis v0.3 sends it: `id: <n>` and `data: <json>`, with no `event:` line,
//! so every frame reaches `EventSource.onmessage` and clients switch on the JSON. The JSON is
//! [`event_json`], which carries our keys (`type`, ...) and v0.3's (`event`, `data`,
//! `emittedAt`); see [`super::event_wire`] for both vocabularies.
//!
//! Order on a stream: a `connected` frame first, then (when resuming) a `reset` notice if one
//! is due, the replayed events and the live ones. A client resuming with `Last-Event-ID`
//! (header, or `?lastEventId=`) gets every retained event after that id, then live ones,
//! without gaps or doubles. If the id is older than the replay ring, or from a previous daemon
//! life, the `reset` frame (`type` and `event` "reset"; its `id:` is the newest lost id, so a
//! reconnect does not loop) tells the client to refetch state. After [`HEARTBEAT`] without a
//! frame, a `heartbeat` frame goes out. `connected` and `heartbeat` have no `id:` line, so they
//! never move the client's Last-Event-ID.
//!
//! Backpressure: hyper polls the stream only as fast as the socket drains, and live events
//! wait in the bus's bounded per-subscriber buffer. A client that falls behind by more than
//! that buffer is resumed from the replay ring (or gets `reset`); nothing grows per client.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::sync::broadcast;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::App;
use super::error::ApiError;
use super::event_wire::{Scope, event_json, notice_json, reset_json};
use super::filters::{query, with_app};
use super::reply::ApiResult;
use super::reply::finish;
use super::route::{self, Table};
use crate::events::{Event, EventBus, EventKind, Replay};

/// Idle time after which a `heartbeat` frame is sent, so proxies and clients see a live
/// stream. v0.3 sent one every 30 s and gave up on a stream after 90 s of silence; half of its
/// interval keeps well inside that, and is what our WebSocket pings use.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Which events a stream carries.
#[derive(Clone, Default)]
pub struct EventFilter {
    pub session: Option<uuid::Uuid>,
    pub types: Option<HashSet<EventKind>>,
}

impl EventFilter {
    pub fn matches(&self, e: &Event) -> bool {
        self.session.is_none_or(|s| s == e.session_id)
            && self.types.as_ref().is_none_or(|t| t.contains(&e.kind))
    }
}

/// `GET /v1/events`'s query (`GET /v1/sessions/{id}/events` reads the same but `session`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
struct AllEventsQuery {
    /// Only this session's events: its id or name.
    session: Option<String>,
    #[serde(flatten)]
    stream: StreamQuery,
}

/// The query of an event stream: which kinds, and where to resume.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
struct StreamQuery {
    /// Only events of these kinds, comma-separated (default: every kind).
    types: Option<String>,
    /// Resume after this event id, as the `Last-Event-ID` header does (which wins when
    /// both are given), for a client that cannot set headers.
    #[schemars(with = "Option<u64>")]
    last_event_id: Option<String>,
}

fn parse_types(raw: Option<&String>) -> Result<Option<HashSet<EventKind>>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            EventKind::parse(t).ok_or_else(|| {
                let allowed: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::invalid(format!(
                    "unknown event type {t:?}; allowed: {}",
                    allowed.join(", ")
                ))
            })
        })
        .collect::<Result<HashSet<_>, _>>()
        .map(Some)
}

fn parse_last_id(header: Option<String>, q: &StreamQuery) -> Result<Option<u64>, ApiError> {
    match header.or_else(|| q.last_event_id.clone()) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::invalid("Last-Event-ID must be a non-negative integer")),
    }
}

/// One item of an event stream: a bus event, or the notice that events were lost.
pub enum Item {
    Event(Arc<Event>),
    Reset { lost_until: u64, oldest: u64 },
}

/// A resumable, filtered subscription to the bus. Lag is repaired from the replay ring.
pub struct Follow {
    bus: Arc<EventBus>,
    filter: EventFilter,
    pending: VecDeque<Item>,
    rx: broadcast::Receiver<Arc<Event>>,
    /// The newest id handed out (or skipped by a reset); everything at or below is done.
    last: u64,
}

impl Follow {
    pub fn new(bus: Arc<EventBus>, filter: EventFilter, since: Option<u64>) -> Follow {
        let (pending, rx, last) = match since {
            None => {
                // Read the next id before subscribing: an event published in between is
                // simply "before" this client, and nothing received is wrongly skipped.
                let last = bus.next_id().saturating_sub(1);
                let rx = bus.subscribe();
                (VecDeque::new(), rx, last)
            }
            Some(id) if id >= bus.next_id() => {
                // An id this daemon never issued (it restarted, and ids with it): the client's
                // state is from another life, so it gets a reset and resumes from now.
                let last = bus.next_id().saturating_sub(1);
                let rx = bus.subscribe();
                let reset = Item::Reset {
                    lost_until: last,
                    oldest: last + 1,
                };
                (VecDeque::from([reset]), rx, last)
            }
            Some(id) => {
                let (replay, rx) = bus.subscribe_since(id);
                let mut f = Follow {
                    bus: bus.clone(),
                    filter: filter.clone(),
                    pending: VecDeque::new(),
                    rx,
                    last: id,
                };
                f.absorb(replay);
                return f;
            }
        };
        Follow {
            bus,
            filter,
            pending,
            rx,
            last,
        }
    }

    fn absorb(&mut self, replay: Replay) {
        match replay {
            Replay::Events(evs) => self.pending.extend(
                evs.into_iter()
                    .filter(|e| e.id > self.last)
                    .map(Item::Event),
            ),
            Replay::Reset { oldest_available } => {
                let lost_until = oldest_available.saturating_sub(1);
                self.pending.push_back(Item::Reset {
                    lost_until,
                    oldest: oldest_available,
                });
                self.last = lost_until;
                let (replay, rx) = self.bus.subscribe_since(lost_until);
                self.rx = rx;
                if let Replay::Events(evs) = replay {
                    self.pending.extend(evs.into_iter().map(Item::Event));
                }
            }
        }
    }

    /// The next item for this subscriber; `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                match &item {
                    Item::Event(e) if e.id <= self.last => continue,
                    Item::Event(e) => {
                        self.last = e.id;
                        if !self.filter.matches(e) {
                            continue;
                        }
                    }
                    Item::Reset { .. } => {}
                }
                return Some(item);
            }
            match self.rx.recv().await {
                Ok(e) => self.pending.push_back(Item::Event(e)),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    crate::metrics::global().subscriber_lag("sse");
                    tracing::debug!(
                        missed = n,
                        last = self.last,
                        "event subscriber lagged; resuming from the ring"
                    );
                    let (replay, rx) = self.bus.subscribe_since(self.last);
                    self.rx = rx;
                    self.absorb(replay);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// One SSE frame: its `id:` line (none for `connected` and `heartbeat`) and its JSON.
#[derive(Debug)]
pub struct Frame {
    pub id: Option<u64>,
    pub data: serde_json::Value,
}

fn item_frame(item: Item, scope: Scope, session: Option<uuid::Uuid>) -> Frame {
    match item {
        Item::Event(e) => Frame {
            id: Some(e.id),
            data: event_json(&e, scope),
        },
        Item::Reset { lost_until, oldest } => Frame {
            id: Some(lost_until),
            data: reset_json(session, lost_until, oldest),
        },
    }
}

/// The frames of one stream: `connected`, then `follow`'s items, with a `heartbeat` after
/// each `heartbeat` of silence. Ends when the bus does.
pub fn frames(
    follow: Follow,
    scope: Scope,
    heartbeat: Duration,
) -> impl futures_util::Stream<Item = Frame> {
    let session = follow.filter.session;
    let connected = Frame {
        id: None,
        data: notice_json("connected", session),
    };
    let rest = futures_util::stream::unfold(follow, move |mut f| async move {
        // Dropping `next()` at the timeout loses nothing: it only waits in the broadcast
        // receiver's `recv`, which is cancel-safe, and moves items into `pending` without
        // awaiting.
        let frame = match tokio::time::timeout(heartbeat, f.next()).await {
            Ok(item) => item_frame(item?, scope, session),
            Err(_) => Frame {
                id: None,
                data: notice_json("heartbeat", session),
            },
        };
        Some((frame, f))
    });
    futures_util::stream::once(std::future::ready(connected)).chain(rest)
}

fn sse_event(frame: Frame) -> warp::sse::Event {
    let ev = warp::sse::Event::default().data(frame.data.to_string());
    match frame.id {
        Some(id) => ev.id(id.to_string()),
        None => ev,
    }
}

/// An SSE response over `follow`, ended by daemon shutdown.
fn sse_reply(app: &App, follow: Follow, scope: Scope) -> Response {
    let shutdown = app.shutdown.clone().cancelled_owned();
    let stream = frames(follow, scope, HEARTBEAT)
        .map(|f| Ok::<_, Infallible>(sse_event(f)))
        .take_until(shutdown);
    warp::sse::reply(stream).into_response()
}

async fn all_events(app: Arc<App>, last: Option<String>, q: AllEventsQuery) -> ApiResult {
    let session = match q.session.as_ref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            app.sessions
                .get(s)
                .map(|h| h.meta.id)
                .or_else(|e| uuid::Uuid::parse_str(s).map_err(|_| ApiError::from(e)))?,
        ),
    };
    let filter = EventFilter {
        session,
        types: parse_types(q.stream.types.as_ref())?,
    };
    let since = parse_last_id(last, &q.stream)?;
    Ok(sse_reply(
        &app,
        Follow::new(app.sessions.bus.clone(), filter, since),
        Scope::Global,
    ))
}

async fn session_events(
    app: Arc<App>,
    id: String,
    last: Option<String>,
    q: StreamQuery,
) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let filter = EventFilter {
        session: Some(h.meta.id),
        types: parse_types(q.types.as_ref())?,
    };
    let since = parse_last_id(last, &q)?;
    Ok(sse_reply(
        &app,
        Follow::new(app.sessions.bus.clone(), filter, since),
        Scope::Session,
    ))
}

/// The SSE routes (the caller adds `/v1` and auth).
pub fn routes(t: &mut Table) {
    let last = || warp::header::optional::<String>("last-event-id");
    t.route(route::get("/events").query::<AllEventsQuery>(), |p, app| {
        p.none()
            .and(with_app(app))
            .and(last())
            .and(query::<AllEventsQuery>())
            .then(|a, l, q| async { finish(all_events(a, l, q).await) })
    });
    t.route(
        route::get("/sessions/{id}/events").query::<StreamQuery>(),
        |p, app| {
            p.one()
                .and(with_app(app))
                .and(last())
                .and(query::<StreamQuery>())
                .then(|id, a, l, q| async { finish(session_events(a, id, l, q).await) })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> crate::vocab::SessionMeta {
        crate::vocab::SessionMeta::for_tests()
    }

    fn ids(items: &[Item]) -> Vec<i64> {
        items
            .iter()
            .map(|i| match i {
                Item::Event(e) => e.id as i64,
                Item::Reset { .. } => -1,
            })
            .collect()
    }

    #[tokio::test]
    async fn follow_resets_when_too_old_and_resumes_after_lag() {
        use crate::events::{REPLAY_RING, SUBSCRIBER_BACKLOG};
        let bus = Arc::new(EventBus::new());
        let m = meta();
        let publish = |n: usize| {
            for _ in 0..n {
                bus.publish(
                    EventKind::MessageSent,
                    &m,
                    None,
                    None,
                    crate::events::EventDetail::None,
                );
            }
        };
        publish(REPLAY_RING + 5);
        // Id 1 fell out of the ring: a reset first, then everything still kept, in order.
        let mut f = Follow::new(bus.clone(), EventFilter::default(), Some(1));
        let mut got = vec![];
        for _ in 0..3 {
            got.push(f.next().await.expect("item"));
        }
        assert_eq!(ids(&got), vec![-1, 6, 7]);
        // An id from the future (a restarted daemon) is a reset, then live events.
        let mut future = Follow::new(bus.clone(), EventFilter::default(), Some(1_000_000));
        assert!(matches!(future.next().await, Some(Item::Reset { .. })));
        publish(1);
        assert!(matches!(future.next().await, Some(Item::Event(_))));
        // A live follower that lags past its buffer is repaired from the ring without gaps.
        let mut live = Follow::new(bus.clone(), EventFilter::default(), None);
        let start = bus.next_id();
        publish(SUBSCRIBER_BACKLOG + 10);
        let mut seen = vec![];
        for _ in 0..SUBSCRIBER_BACKLOG + 10 {
            seen.push(live.next().await.expect("item"));
        }
        let want: Vec<i64> = (start..start + (SUBSCRIBER_BACKLOG as u64) + 10)
            .map(|i| i as i64)
            .collect();
        assert_eq!(ids(&seen), want);
    }

    #[tokio::test]
    async fn frames_start_connected_and_heartbeat_without_ids() {
        let bus = Arc::new(EventBus::new());
        let m = meta();
        let filter = EventFilter {
            session: Some(m.id),
            types: None,
        };
        // A client resuming with an id from another daemon life: connected, then reset.
        let follow = Follow::new(bus.clone(), filter, Some(99));
        let mut s = Box::pin(frames(follow, Scope::Session, Duration::from_millis(20)));
        let c = s.next().await.expect("connected");
        assert_eq!(
            (c.id, &c.data["type"], &c.data["event"]),
            (None, &"connected".into(), &"connected".into())
        );
        assert_eq!(c.data["sessionId"], m.id.to_string());
        let r = s.next().await.expect("reset");
        assert_eq!((r.id, &r.data["type"]), (Some(0), &"reset".into()));
        assert!(r.data["data"]["reason"].is_string() && r.data["reason"].is_string());
        // Silence: a heartbeat with no id, then the stream goes on with the next event.
        let h = s.next().await.expect("heartbeat");
        assert_eq!((h.id, &h.data["event"]), (None, &"heartbeat".into()));
        let id = bus.publish(
            EventKind::SessionIdle,
            &m,
            Some(crate::vocab::SessionStatus::Working),
            Some(crate::vocab::SessionStatus::Idle),
            crate::events::EventDetail::None,
        );
        let e = loop {
            let f = s.next().await.expect("frame");
            if f.data["type"] != "heartbeat" {
                break f;
            }
        };
        assert_eq!(e.id, Some(id));
        assert_eq!(
            (&e.data["event"], &e.data["data"]["status"]),
            (&"status".into(), &"idle".into())
        );
    }
}
