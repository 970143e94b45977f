//! Every event of every host in one JetStream stream, `AEGIS_EVENTS`, and the reader that
//! replays it for `GET /v1/fleet/events`.
//!
//! Publishing: each event of the local bus becomes a message on
//! `aegis.events.<host>.<session>.<type>` whose payload is the event's `/v1/events` JSON
//! plus `host`, with `Nats-Msg-Id: <host>.<boot>.<local id>` so a message resent after a
//! lost ack is stored once (the stream's dedupe window is [`DEDUPE_WINDOW`]). Events go
//! through a bounded queue ([`FleetConfig::event_buffer`] entries): while NATS is away they
//! wait there and are published on reconnect, in order; when it is full the oldest is dropped
//! and counted in `events_dropped`, as is every event the local bus dropped because the
//! publisher lagged. Sending is pipelined: up to [`WINDOW`] messages in flight, acks awaited
//! in order, and an event leaves the queue only once JetStream acknowledged it.
//!
//! Reading: a fleet SSE client gets an ordered push consumer (ephemeral, no server state
//! beyond the connection) starting after its `Last-Event-ID`, which is the stream sequence.
//! So resuming works through any node and across daemon restarts: the sequence belongs to the
//! stream, not to a daemon. An id older than what the stream keeps (max age/bytes) starts
//! with a `reset` notice, like the local event stream.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::Notify;

use super::{EVENTS_PREFIX, EVENTS_STREAM, Fleet, FleetConfig, FleetError, LocalEvent, LocalFeed};

/// Messages in flight before the publisher waits for acks. JetStream acks a loopback publish
/// in well under a millisecond, so 256 keeps the pipe full without holding much on a failure.
pub const WINDOW: usize = 256;

/// How long JetStream remembers a message id. A resend after a reconnect comes within
/// seconds; two minutes is the server's default and covers a slow reconnect too.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(120);

/// Get or create the event stream.
pub(super) async fn ensure_stream(
    js: &jetstream::Context,
    config: &FleetConfig,
) -> Result<stream::Stream, async_nats::Error> {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: EVENTS_STREAM.into(),
            description: Some("Aegis fleet: every event of every host".into()),
            subjects: vec![format!("{EVENTS_PREFIX}.>")],
            storage: stream::StorageType::File,
            max_age: config.events_max_age,
            max_bytes: config.events_max_bytes,
            discard: stream::DiscardPolicy::Old,
            duplicate_window: DEDUPE_WINDOW,
            ..Default::default()
        })
        .await?;
    Ok(stream)
}

/// The subject of one event. Each part is made a valid token: host ids already are, session
/// ids are UUIDs, and an event type keeps its dots but nothing a subject cannot hold.
pub fn subject(host: &str, session: &uuid::Uuid, kind: &str) -> String {
    let kind: String = kind
        .split('.')
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(".");
    let kind = if kind.is_empty() {
        "unknown".into()
    } else {
        kind
    };
    format!("{EVENTS_PREFIX}.{host}.{session}.{kind}")
}

/// One event waiting for JetStream.
struct Pending {
    /// Position in this daemon's queue, so the sender can drop exactly what was acked even
    /// if the feeder dropped older entries meanwhile.
    n: u64,
    subject: String,
    msg_id: String,
    payload: Bytes,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Pending>,
    next_n: u64,
}

fn message(fleet: &Fleet, ev: &LocalEvent) -> Option<(String, String, Bytes)> {
    let mut json = ev.json.clone();
    if let Some(obj) = json.as_object_mut() {
        obj.insert("host".into(), fleet.config.host_id.clone().into());
    }
    let payload = serde_json::to_vec(&json).ok()?;
    Some((
        subject(&fleet.config.host_id, &ev.session_id, &ev.kind),
        format!("{}.{}.{}", fleet.config.host_id, fleet.boot_id, ev.id),
        payload.into(),
    ))
}

/// Move the local bus into the stream until the fleet stops.
pub(super) async fn publish(fleet: Arc<Fleet>) {
    let queue = Arc::new(Mutex::new(Queue::default()));
    let wake = Arc::new(Notify::new());
    let feeder = {
        let (fleet, queue, wake) = (fleet.clone(), queue.clone(), wake.clone());
        tokio::spawn(async move { feed(fleet, queue, wake).await })
    };
    send(&fleet, &queue, &wake).await;
    feeder.abort();
}

/// How often at most the log says that the outage buffer overflowed: during a long outage
/// every new event drops one, and the metric counts each; the log only has to say it is
/// happening.
const DROP_WARNING_EVERY: Duration = Duration::from_secs(30);

/// Events dropped from the full outage buffer since the last warning about it.
#[derive(Default)]
struct Overflow {
    unreported: u64,
    warned_at: Option<tokio::time::Instant>,
}

impl Overflow {
    fn dropped(&mut self, buffer: usize) {
        self.unreported += 1;
        let now = tokio::time::Instant::now();
        if self
            .warned_at
            .is_none_or(|at| now.duration_since(at) >= DROP_WARNING_EVERY)
        {
            tracing::warn!(
                dropped = self.unreported,
                buffer,
                "NATS is still away and the fleet event buffer is full: the oldest events are \
                 dropped (counted in aegis_fleet_events_dropped_total; --fleet-event-buffer \
                 raises the bound)"
            );
            self.unreported = 0;
            self.warned_at = Some(now);
        }
    }
}

/// Local bus -> bounded queue. Never waits on NATS, so the bus never waits on us.
async fn feed(fleet: Arc<Fleet>, queue: Arc<Mutex<Queue>>, wake: Arc<Notify>) {
    let mut feed = fleet.node.subscribe();
    let mut overflow = Overflow::default();
    while let Some(item) = feed.next().await {
        match item {
            LocalFeed::Event(ev) => {
                let Some((subject, msg_id, payload)) = message(&fleet, &ev) else {
                    continue;
                };
                let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                if q.items.len() >= fleet.config.event_buffer {
                    q.items.pop_front();
                    fleet.stats.events_dropped.fetch_add(1, Ordering::Relaxed);
                    overflow.dropped(fleet.config.event_buffer);
                }
                let n = q.next_n;
                q.next_n += 1;
                q.items.push_back(Pending {
                    n,
                    subject,
                    msg_id,
                    payload,
                });
                fleet
                    .stats
                    .events_buffered
                    .store(q.items.len() as u64, Ordering::Relaxed);
            }
            LocalFeed::Lagged(missed) => {
                tracing::warn!(
                    missed,
                    "fleet publisher lagged the local event bus; events dropped"
                );
                fleet
                    .stats
                    .events_dropped
                    .fetch_add(missed, Ordering::Relaxed);
            }
        }
        wake.notify_one();
    }
}

/// Queue -> JetStream, a window at a time.
async fn send(fleet: &Fleet, queue: &Mutex<Queue>, wake: &Notify) {
    let mut changes = fleet.bus_changes();
    loop {
        let batch: Vec<(u64, String, String, Bytes)> = {
            let q = queue.lock().unwrap_or_else(|p| p.into_inner());
            q.items
                .iter()
                .take(WINDOW)
                .map(|p| (p.n, p.subject.clone(), p.msg_id.clone(), p.payload.clone()))
                .collect()
        };
        let bus = fleet.bus();
        let (Ok(bus), false) = (bus, batch.is_empty()) else {
            tokio::select! {
                _ = fleet.shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = changes.changed() => {}
            }
            continue;
        };
        let mut acks = Vec::with_capacity(batch.len());
        for (n, subject, msg_id, payload) in batch {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", msg_id.as_str());
            match bus.js.publish_with_headers(subject, headers, payload).await {
                Ok(ack) => acks.push((n, ack)),
                Err(_) => break,
            }
        }
        let mut acked = None;
        let mut failed = acks.is_empty();
        for (n, ack) in acks {
            match ack.await {
                Ok(_) => acked = Some(n),
                Err(e) => {
                    tracing::debug!(error = %e, "event not acknowledged; will resend");
                    failed = true;
                    break;
                }
            }
        }
        if let Some(n) = acked {
            let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
            let before = q.items.len();
            q.items.retain(|p| p.n > n);
            let done = before - q.items.len();
            fleet
                .stats
                .events_published
                .fetch_add(done as u64, Ordering::Relaxed);
            fleet
                .stats
                .events_buffered
                .store(q.items.len() as u64, Ordering::Relaxed);
        }
        if failed {
            // NATS is going or gone: wait for the next bus rather than spinning.
            tokio::select! {
                _ = fleet.shutdown.cancelled() => return,
                _ = changes.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// Which events a fleet reader wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub host: Option<String>,
    pub session: Option<uuid::Uuid>,
    /// Event types; empty = all.
    pub types: Vec<String>,
}

impl Filter {
    /// The consumer's filter subject: host and session narrow it on the server; types are
    /// checked here (one consumer cannot filter several subjects on NATS 2.9).
    fn subject(&self) -> String {
        let host = self.host.as_deref().unwrap_or("*");
        let session = self.session.map(|s| s.to_string());
        let session = session.as_deref().unwrap_or("*");
        match self.types.as_slice() {
            [one] => subject(host, &uuid::Uuid::nil(), one).replacen(
                &format!(".{}.", uuid::Uuid::nil()),
                &format!(".{session}."),
                1,
            ),
            _ => format!("{EVENTS_PREFIX}.{host}.{session}.>"),
        }
    }

    fn wants(&self, kind: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == kind)
    }
}

/// What a fleet event reader yields.
#[derive(Debug, Clone)]
pub enum Frame {
    /// An event; `seq` is its stream sequence (the SSE id).
    Event { seq: u64, json: serde_json::Value },
    /// Events after the client's id were lost (expired from the stream, or the stream was
    /// recreated); replay resumes at `resumes_at`.
    Reset { last_lost: u64, resumes_at: u64 },
}

/// Where a reader starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// Only events from now on.
    New,
    /// Every retained event after this stream sequence.
    After(u64),
}

/// A reader of the stream, from [`follow`].
pub struct Following<S> {
    /// For [`Start::New`], the stream's last sequence when the reader started: the reader
    /// delivers everything after it, so a client that has not received any event yet can
    /// still resume from it without a gap.
    pub position: Option<u64>,
    pub frames: S,
}

/// Follow the stream. Ends (the client reconnects with its last id) if the consumer breaks
/// or the connection to NATS is lost.
pub async fn follow(
    fleet: &Fleet,
    start: Start,
    filter: Filter,
) -> Result<Following<impl Stream<Item = Frame> + Send + Unpin + 'static>, FleetError> {
    let bus = fleet.bus()?;
    let info = bus
        .events
        .get_info()
        .await
        .map_err(|_| fleet.unavailable())?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let mut reset = None;
    let mut position = None;
    let policy = match start {
        // From a known position rather than "new": nothing published between reading the
        // stream's state and creating the consumer is missed, and the position is one the
        // client can resume from.
        Start::New => {
            position = Some(last);
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: last + 1,
            }
        }
        Start::After(id) if id + 1 < first => {
            reset = Some(Frame::Reset {
                last_lost: first - 1,
                resumes_at: first,
            });
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: first,
            }
        }
        Start::After(id) if id > last => {
            // An id from a stream that was since recreated: nothing after it can be found.
            reset = Some(Frame::Reset {
                last_lost: id,
                resumes_at: last + 1,
            });
            consumer::DeliverPolicy::New
        }
        Start::After(id) => consumer::DeliverPolicy::ByStartSequence {
            start_sequence: id + 1,
        },
    };
    let consumer = bus
        .events
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: fleet.client.new_inbox(),
            description: Some(format!("fleet events reader on {}", fleet.config.host_id)),
            filter_subject: filter.subject(),
            replay_policy: consumer::ReplayPolicy::Instant,
            deliver_policy: policy,
            ..Default::default()
        })
        .await
        .map_err(|_| fleet.unavailable())?;
    let messages = consumer.messages().await.map_err(|_| fleet.unavailable())?;
    let events = messages
        .take_while(|m| std::future::ready(m.is_ok()))
        .filter_map(move |m| {
            let frame = m.ok().and_then(|m| {
                let seq = m.info().ok()?.stream_sequence;
                let mut json: serde_json::Value = serde_json::from_slice(&m.payload).ok()?;
                let kind = json
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default();
                if !filter.wants(kind) {
                    return None;
                }
                if let Some(obj) = json.as_object_mut() {
                    // The stream sequence is the id a fleet client resumes from; the host's
                    // own bus id stays readable.
                    if let Some(local) = obj.insert("id".into(), seq.into()) {
                        obj.insert("hostEventId".into(), local);
                    }
                }
                Some(Frame::Event { seq, json })
            });
            std::future::ready(frame)
        });
    // An ordered consumer that has delivered nothing yet cannot resume after NATS restarts
    // (it would start again from the stream's first event, or not at all): end the stream
    // when the connection goes, and the client reconnects with the last id it has.
    let mut bus = fleet.bus.clone();
    let gone = async move {
        let _ = bus.wait_for(Option::is_none).await;
    };
    Ok(Following {
        position,
        frames: Box::pin(
            futures_util::stream::iter(reset)
                .chain(events)
                .take_until(gone),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_buffer_is_reported_once_per_interval() {
        let mut overflow = Overflow::default();
        overflow.dropped(5);
        assert_eq!(overflow.unreported, 0, "the first drop is reported at once");
        overflow.dropped(5);
        overflow.dropped(5);
        assert_eq!(
            overflow.unreported, 2,
            "the next ones wait for the interval"
        );
        overflow.warned_at = tokio::time::Instant::now().checked_sub(DROP_WARNING_EVERY);
        overflow.dropped(5);
        assert_eq!(
            overflow.unreported, 0,
            "reported, with the ones that waited"
        );
    }

    #[test]
    fn subjects_are_tokens() {
        let s = uuid::Uuid::nil();
        assert_eq!(
            subject("h1", &s, "session.idle"),
            format!("aegis.events.h1.{s}.session.idle")
        );
        assert_eq!(
            subject("h1", &s, "a b..c*"),
            format!("aegis.events.h1.{s}.a_b.c_")
        );
        assert_eq!(
            subject("h1", &s, ""),
            format!("aegis.events.h1.{s}.unknown")
        );
        let f = Filter {
            host: Some("h2".into()),
            session: None,
            types: vec!["permission.requested".into()],
        };
        assert_eq!(f.subject(), "aegis.events.h2.*.permission.requested");
        assert_eq!(Filter::default().subject(), "aegis.events.*.*.>");
    }
}
