//! A fleet of Aegis daemons over NATS: one place to see and drive the sessions of many hosts.
//!
//! # Why one daemon per host
//! A pty cannot leave its host: the child, its terminal and the holder that keeps it alive
//! across daemon restarts all live on one machine. So every host keeps its own daemon, which
//! stays the only owner of its sessions (screen model, detector, input queue), and the fleet
//! adds only what a single daemon lacks: who is up, where each session lives, every host's
//! events in one durable stream, and a way to run any session route on the host that owns the
//! session. A daemon without `--nats` has no fleet at all and behaves as it always has.
//!
//! # Why NATS
//! We need three things: membership with liveness, a small replicated map (session -> host),
//! a durable ordered event log, and request-reply between peers. NATS gives all of them in
//! one small server: KV buckets with a max age, JetStream streams with dedupe and replay by
//! sequence, and core request-reply with subject-level permissions. etcd gives the map and
//! leases but no log and no routing; Kafka gives the log but no request-reply and a heavy
//! footprint; a protocol of our own would have to re-earn all of that. See `docs/fleet.md`.
//!
//! # Names on the bus (the trust boundary is who may publish on them)
//! | name | kind | what |
//! |---|---|---|
//! | `aegis_hosts` | KV bucket, history 1, max age 1 h | key = host id, value = [`membership::HostRecord`], put every heartbeat |
//! | `aegis_sessions` | KV bucket, history 1 | key = session UUID, value = [`directory::DirEntry`] (`host`, `name`, `createdAt`) |
//! | `AEGIS_EVENTS` | JetStream stream on `aegis.events.>`, file storage, max age/bytes from flags, 2 min dedupe window | every event of every host |
//! | `aegis.events.<host>.<session>.<type>` | subject of one event (`<type>` keeps its dots: `session.idle`) | payload = the event's `/v1/events` JSON plus `host` |
//! | `aegis.rpc.<host>` | core request subject, queue group `aegis` | a forwarded HTTP request to `<host>` (see [`forward`]) |
//! | `aegis.ctl.<host>` | core subject | acks and cancels of streamed answers from `<host>` |
//!
//! Host ids are single subject tokens (`A-Z a-z 0-9 - _`, see [`config`]), so `aegis.rpc.*`
//! and `aegis.events.<host>.>` are exact.
//!
//! # What is durable
//! Only NATS state is: the event stream (replayable by sequence across daemon and NATS
//! restarts), the directory, and membership entries (which expire). Sessions themselves are
//! as durable as on a single host (holders survive the daemon). Every daemon mirrors the two
//! KV buckets in memory through watches, so routing a request costs no KV round trip, and
//! re-creates buckets and stream on every (re)connection, so a NATS that lost its store is
//! repopulated by the hosts (each re-puts its own sessions).
//!
//! # Outages
//! While NATS is unreachable every daemon serves its own sessions as before; fleet routes and
//! forwarded requests answer 503 `FLEET_UNAVAILABLE`. Events produced meanwhile wait in a
//! bounded buffer (`--fleet-event-buffer`) and are published on reconnect, in order and
//! deduplicated by message id; past the bound the oldest are dropped and counted
//! (`events_dropped`). The client reconnects by itself; on reconnection each daemon
//! re-ensures the buckets and the stream, re-puts its heartbeat and sessions, and restarts its
//! watches.

mod answer;
pub mod config;
pub mod directory;
pub mod events;
pub mod forward;
pub mod membership;
pub mod node;
pub mod sse;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{FleetArgs, FleetConfig};
pub use node::{BodyStream, Forwarded, LocalEvent, LocalFeed, LocalNode, LocalSession, Refusal};

/// Membership bucket.
pub const HOSTS_BUCKET: &str = "aegis_hosts";
/// Session directory bucket.
pub const SESSIONS_BUCKET: &str = "aegis_sessions";
/// The event stream.
pub const EVENTS_STREAM: &str = "AEGIS_EVENTS";
/// Every event subject starts with this.
pub const EVENTS_PREFIX: &str = "aegis.events";

/// The request subject of `host`.
pub fn rpc_subject(host: &str) -> String {
    format!("aegis.rpc.{host}")
}

/// The control subject (acks, cancels) of streamed answers from `host`.
pub fn ctl_subject(host: &str) -> String {
    format!("aegis.ctl.{host}")
}

/// Why a fleet operation could not be done. Each variant is one API error code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FleetError {
    /// NATS is unreachable (or the buckets are not ready yet).
    #[error(
        "the fleet is unavailable: NATS at {url} is unreachable; this daemon still serves its \
         own sessions under /v1/sessions, and the fleet recovers by itself when NATS is back"
    )]
    Unavailable { url: String },
    /// The owning host does not answer.
    #[error("host {host} is unreachable: {reason}")]
    HostUnreachable { host: String, reason: String },
    /// A session name that several hosts use.
    #[error("session name {name:?} is used on several hosts ({}); use the session id", hosts.join(", "))]
    Ambiguous { name: String, hosts: Vec<String> },
    /// A request body larger than one NATS message.
    #[error("request body of {size} bytes is larger than the fleet carries ({max} bytes)")]
    TooLarge { size: usize, max: usize },
    /// No such host in the fleet.
    #[error("no host {0:?} in the fleet")]
    UnknownHost(String),
    /// A peer broke the forwarding protocol (a bug or a version mismatch).
    #[error("fleet protocol error: {0}")]
    Protocol(String),
}

impl FleetError {
    /// HTTP status and API code.
    pub fn status_code(&self) -> (u16, &'static str) {
        match self {
            FleetError::Unavailable { .. } => (503, "FLEET_UNAVAILABLE"),
            FleetError::HostUnreachable { .. } => (503, "HOST_UNREACHABLE"),
            FleetError::Ambiguous { .. } => (409, "SESSION_NAME_AMBIGUOUS"),
            FleetError::TooLarge { .. } => (413, "PAYLOAD_TOO_LARGE"),
            FleetError::UnknownHost(_) => (404, "HOST_NOT_FOUND"),
            FleetError::Protocol(_) => (502, "FLEET_PROTOCOL_ERROR"),
        }
    }
}

/// Counters for `/metrics`; each is monotonic except `events_buffered`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events acknowledged by JetStream.
    pub events_published: AtomicU64,
    /// Events lost: the outage buffer overflowed, or the local bus outran the publisher.
    pub events_dropped: AtomicU64,
    /// Events waiting for NATS right now.
    pub events_buffered: AtomicU64,
    /// Requests this node forwarded to a peer.
    pub forwarded_out: AtomicU64,
    /// Requests peers forwarded to this node.
    pub forwarded_in: AtomicU64,
    /// Forwarded requests that failed (peer unreachable, protocol error, timeout).
    pub forward_errors: AtomicU64,
    /// Connections to NATS made (the first one included).
    pub connections: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The connection to NATS and what stands on it. Replaced on every (re)connection, so a
/// holder of an old one never uses buckets that NATS may have lost.
#[derive(Clone)]
pub struct Bus {
    pub js: jetstream::Context,
    pub hosts: jetstream::kv::Store,
    pub sessions: jetstream::kv::Store,
    pub events: jetstream::stream::Stream,
    /// Increments with every connection; tasks restart their watches when it changes.
    pub epoch: u64,
}

/// This daemon's membership in the fleet. Cheap to share (`Arc`); every task it starts stops
/// with the shutdown token given to [`Fleet::start`].
pub struct Fleet {
    pub config: FleetConfig,
    /// This daemon life, so peers tell a restart from a stale entry and event ids from two
    /// lives never collide in the dedupe window.
    pub boot_id: uuid::Uuid,
    pub client: async_nats::Client,
    pub node: Arc<dyn LocalNode>,
    pub stats: Stats,
    /// The current [`Bus`], `None` while NATS is unreachable.
    bus: watch::Receiver<Option<Arc<Bus>>>,
    pub hosts: membership::Hosts,
    pub directory: directory::Directory,
    pub(crate) streams: forward::StreamTable,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
}

/// How long a JetStream or KV call may take before it counts as failed. NATS answers in
/// milliseconds; this only bounds a call caught by a disconnection.
pub const NATS_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest wait between reconnection attempts. The client backs off up to this, so a NATS
/// that comes back is used again within this long.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// Connection events buffered between the client and the keeper; only the latest state
/// matters, so a small channel that drops nothing important is enough.
const CONNECTION_EVENTS: usize = 16;

impl Fleet {
    /// Connect (in the background: a NATS that is down at start-up is retried like one that
    /// went down later), then start heartbeats, the directory, the event publisher and the
    /// request server. Fails only on bad credentials files or TLS material.
    pub async fn start(
        config: FleetConfig,
        node: Arc<dyn LocalNode>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Arc<Fleet>> {
        use anyhow::Context;
        let (conn_tx, conn_rx) = tokio::sync::mpsc::channel(CONNECTION_EVENTS);
        let mut opts = match &config.auth.creds_file {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .with_context(|| format!("reading NATS credentials {}", path.display()))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some((user, pass)) = &config.auth.user_password {
            opts = opts.user_and_password(user.clone(), pass.clone());
        }
        if let Some(ca) = &config.auth.tls_ca {
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &config.auth.tls_client {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        let client = opts
            .name(format!("aegis {}", config.host_id))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(NATS_CALL_TIMEOUT)
            .reconnect_delay_callback(|attempts| {
                (Duration::from_millis(100) * attempts.min(20) as u32).min(MAX_RECONNECT_DELAY)
            })
            .event_callback(move |event| {
                let tx = conn_tx.clone();
                async move {
                    // A full channel means the keeper is behind; it reads the client's state
                    // anyway, so a dropped notification loses nothing.
                    let _ = tx.try_send(event);
                }
            })
            .connect(config.nats_url.as_str())
            .await
            .with_context(|| format!("connecting to NATS at {}", config.nats_url))?;
        let (bus_tx, bus_rx) = watch::channel(None);
        let fleet = Arc::new(Fleet {
            boot_id: uuid::Uuid::new_v4(),
            client,
            node,
            stats: Stats::default(),
            bus: bus_rx,
            hosts: membership::Hosts::default(),
            directory: directory::Directory::default(),
            streams: forward::StreamTable::default(),
            shutdown,
            tasks: TaskTracker::new(),
            config,
        });
        fleet.spawn(keep_bus(fleet.clone(), conn_rx, bus_tx));
        fleet.spawn(membership::run(fleet.clone()));
        fleet.spawn(membership::watch(fleet.clone()));
        fleet.spawn(directory::watch(fleet.clone()));
        fleet.spawn(directory::run(fleet.clone()));
        fleet.spawn(events::publish(fleet.clone()));
        fleet.spawn(answer::serve(fleet.clone()));
        tracing::info!(host = %fleet.config.host_id, nats = %fleet.config.nats_url, "joining the fleet");
        Ok(fleet)
    }

    fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// The bus, or `FLEET_UNAVAILABLE`.
    pub fn bus(&self) -> Result<Arc<Bus>, FleetError> {
        let connected = self.client.connection_state() == async_nats::connection::State::Connected;
        match (&*self.bus.borrow(), connected) {
            (Some(bus), true) => Ok(bus.clone()),
            _ => Err(self.unavailable()),
        }
    }

    /// The error every fleet route answers while NATS is away.
    pub fn unavailable(&self) -> FleetError {
        FleetError::Unavailable {
            url: self.config.nats_url.clone(),
        }
    }

    /// A receiver that sees every new bus (or its loss).
    pub fn bus_changes(&self) -> watch::Receiver<Option<Arc<Bus>>> {
        self.bus.clone()
    }

    /// Streamed answers this host is sending to peers now.
    pub fn streams_in_flight(&self) -> usize {
        self.streams.len()
    }

    /// This daemon's host id.
    pub fn host_id(&self) -> &str {
        &self.config.host_id
    }

    /// Stop: mark this host as leaving (so peers see it go at once instead of after three
    /// missed heartbeats), then wait for the fleet's tasks.
    pub async fn stop(&self) {
        membership::leave(self).await;
        self.shutdown.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.tasks.wait()).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
    }
}

/// Wait until `bus` holds a bus different from `seen` (or the fleet stops: `None`).
pub(crate) async fn next_bus(
    fleet: &Fleet,
    rx: &mut watch::Receiver<Option<Arc<Bus>>>,
    seen: Option<u64>,
) -> Option<Arc<Bus>> {
    loop {
        if let Some(bus) = rx.borrow_and_update().clone()
            && Some(bus.epoch) != seen
        {
            return Some(bus);
        }
        tokio::select! {
            _ = fleet.shutdown.cancelled() => return None,
            r = rx.changed() => if r.is_err() { return None },
        }
    }
}

/// Follow the client's connection: on each connection, make sure the buckets and the stream
/// exist (a NATS restarted without its store has none) and publish a new [`Bus`]; on loss,
/// publish `None` so routes answer `FLEET_UNAVAILABLE` at once.
async fn keep_bus(
    fleet: Arc<Fleet>,
    mut events: tokio::sync::mpsc::Receiver<async_nats::Event>,
    bus: watch::Sender<Option<Arc<Bus>>>,
) {
    use async_nats::connection::State;
    let mut epoch = 0u64;
    // The first connection may have happened before the callback could be read.
    let mut need_ensure = fleet.client.connection_state() == State::Connected;
    loop {
        if need_ensure && fleet.client.connection_state() == State::Connected {
            match ensure(&fleet).await {
                Ok((js, hosts, sessions, stream)) => {
                    epoch += 1;
                    Stats::bump(&fleet.stats.connections);
                    tracing::info!(epoch, "fleet bus ready");
                    bus.send_replace(Some(Arc::new(Bus {
                        js,
                        hosts,
                        sessions,
                        events: stream,
                        epoch,
                    })));
                    need_ensure = false;
                }
                Err(e) => {
                    // JetStream's 10047: the server's file store cannot reserve the event
                    // stream's `max_bytes` beside the buckets (docs/fleet.md, "Sizing the store").
                    let hint = if e.to_string().contains("10047") {
                        "; nats-server's jetstream max_file_store must exceed --fleet-events-max-bytes"
                    } else {
                        ""
                    };
                    tracing::warn!(error = %e, "fleet bus not ready yet; retrying{hint}");
                    tokio::select! {
                        _ = fleet.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    }
                }
            }
        }
        let event = tokio::select! {
            _ = fleet.shutdown.cancelled() => return,
            e = events.recv() => e,
        };
        match event {
            Some(async_nats::Event::Connected) => {
                tracing::info!("connected to NATS");
                need_ensure = true;
            }
            Some(async_nats::Event::Disconnected) => {
                tracing::warn!(nats = %fleet.config.nats_url, "lost NATS; the fleet is unavailable until it is back");
                bus.send_replace(None);
            }
            Some(async_nats::Event::ServerError(e)) => {
                tracing::warn!(error = %e, "NATS server error");
            }
            Some(other) => tracing::debug!(event = %other, "NATS event"),
            None => return,
        }
    }
}

type Ensured = (
    jetstream::Context,
    jetstream::kv::Store,
    jetstream::kv::Store,
    jetstream::stream::Stream,
);

/// Get or create both buckets and the stream. Idempotent: every daemon runs it on every
/// connection; the first to find one missing creates it with the configuration below.
async fn ensure(fleet: &Fleet) -> Result<Ensured, async_nats::Error> {
    let mut js = jetstream::new(fleet.client.clone());
    js.set_timeout(NATS_CALL_TIMEOUT);
    let hosts = kv_bucket(
        &js,
        jetstream::kv::Config {
            bucket: HOSTS_BUCKET.into(),
            description: "Aegis fleet membership: one heartbeat entry per host".into(),
            history: 1,
            max_age: config::HOST_ENTRY_MAX_AGE,
            ..Default::default()
        },
    )
    .await?;
    let sessions = kv_bucket(
        &js,
        jetstream::kv::Config {
            bucket: SESSIONS_BUCKET.into(),
            description: "Aegis fleet directory: session id -> host".into(),
            history: 1,
            ..Default::default()
        },
    )
    .await?;
    let stream = events::ensure_stream(&js, &fleet.config).await?;
    Ok((js, hosts, sessions, stream))
}

/// Get or create a KV bucket. The bucket's stream is created here rather than by the
/// client's `create_key_value`, which first reads the account's info and cannot parse the
/// answer of nats-server 2.9 (it expects fields added in 2.10). The stream is configured as
/// that call would: one subject tree per bucket, rollups allowed, deletes only as markers.
async fn kv_bucket(
    js: &jetstream::Context,
    config: jetstream::kv::Config,
) -> Result<jetstream::kv::Store, async_nats::Error> {
    if let Ok(kv) = js.get_key_value(config.bucket.clone()).await {
        return Ok(kv);
    }
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{}", config.bucket),
        description: Some(config.description.clone()),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: config.history.max(1),
        max_age: config.max_age,
        storage: jetstream::stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: 1,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await?;
    Ok(js.get_key_value(config.bucket).await?)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
