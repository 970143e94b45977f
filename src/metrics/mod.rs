//! The daemon's counters, in one place: every number that `GET /metrics` (Prometheus),
//! `GET /v1/metrics`, `GET /v1/sessions/:id/metrics` and `/latency` report is recorded here
//! once and read by all of them, so the JSON and the Prometheus views cannot drift apart.
//!
//! Where the numbers come from:
//! - the daemon's event bus hands every event it publishes to [`Metrics::on_event`]
//!   synchronously (the metrics are its observer; the bus does not know them):
//!   state transitions, per-session status changes, permission answers (approvals, automatic
//!   approvals, response time), exits and removals. Nothing is lost to a lagging subscriber.
//! - the few facts that are not events are recorded at their source with one call: output
//!   bytes and state-detection delay (session actor), sends and Enter retries
//!   (`SessionHandle::send_text`, which every text send goes through), subscriber lags (SSE,
//!   WebSocket, attach, webhooks, registry), webhook attempts, and HTTP requests (a wrapper
//!   around the routes).
//! - sessions by state and agent are counted from the registry when scraped.
//!
//! There is one [`Metrics`] per process, reached through [`global`]: the daemon is one
//! process, and a process-wide registry spares every session, holder and route constructor an
//! extra parameter. Counters reset when the daemon restarts, as Prometheus expects.

pub mod latency;
mod observe;
pub mod route;
mod sessions;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use uuid::Uuid;

use crate::permissions::{AnsweredBy, Outcome};
use crate::vocab::{AgentType, Delivery, SessionMeta, SessionStatus};
pub use latency::{Aggregate, Latencies, LatencyKind};
use sessions::PerSession;
pub use sessions::SessionStats;

/// The channels whose subscribers can lag behind the event bus or a session's output.
pub const LAG_CHANNELS: [&str; 5] = ["sse", "websocket", "attach", "webhooks", "registry"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
    agent: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    from: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SendLabels {
    agent: &'static str,
    /// delivered | undelivered (Enter presses did not clear the input line) | failed.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PermissionLabels {
    resolution: String,
    by: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// HTTP handling time: 1 ms to ~16 s. Most routes answer in microseconds; sends and
/// approvals wait for the screen (up to seconds).
fn http_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The daemon-wide totals behind v0.3's global metrics; ratios are rounded to three decimals
/// and `None` while their denominator is zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub uptime_secs: u64,
    /// Sessions created since the daemon started.
    pub created: u64,
    /// Exits with code 0, and the other exits.
    pub completed: u64,
    pub failed: u64,
    pub avg_duration_secs: Option<f64>,
    pub avg_messages_per_session: Option<f64>,
    /// Permission prompts approved by a policy, the trust setting or expiry.
    pub auto_approvals: u64,
    pub webhooks_sent: u64,
    pub webhooks_failed: u64,
    pub pipelines_created: u64,
    pub batches_created: u64,
    /// Texts sent, and those seen to leave the input line.
    pub sends: u64,
    pub delivered: u64,
    pub delivery_rate: Option<f64>,
    pub latency: [(LatencyKind, Aggregate); 4],
}

/// Every counter of the daemon (see the module doc).
pub struct Metrics {
    registry: Registry,
    /// Serialises scrapes: the state gauge is rebuilt from the registry on each one.
    scrape: Mutex<()>,
    started: Instant,
    sessions: Family<StateLabels, Gauge>,
    transitions: Family<TransitionLabels, Counter>,
    created: Counter,
    exits: Family<OutcomeLabels, Counter>,
    sends: Family<SendLabels, Counter>,
    retries: Counter,
    bytes: Counter,
    lags: Family<ChannelLabels, Counter>,
    permissions: Family<PermissionLabels, Counter>,
    webhooks: Family<OutcomeLabels, Counter>,
    pipelines: Counter,
    batches: Counter,
    http: Family<HttpLabels, Counter>,
    http_seconds: HistogramFamily<RouteLabels>,
    /// One histogram per [`LatencyKind`], in `LatencyKind::ALL` order.
    latency_seconds: [Histogram; 4],
    session_seconds: Histogram,
    /// Exact min/max/avg of the same measurements, for the v0.3 JSON.
    latencies: Latencies,
    /// Sum of finished sessions' lifetimes in ms (the histogram's sum, kept exact).
    duration_ms: AtomicU64,
    /// Exits whose creation time is known (the denominator of `avg_duration_sec`).
    timed_exits: Counter,
    routes: route::Templates,
    per_session: Mutex<PerSession>,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("aegis");
        let sessions = Family::<StateLabels, Gauge>::default();
        r.register(
            "sessions",
            "Sessions in the registry by state and agent",
            sessions.clone(),
        );
        let transitions = Family::<TransitionLabels, Counter>::default();
        r.register(
            "state_transitions",
            "Session state changes by previous and new state",
            transitions.clone(),
        );
        let created = Counter::default();
        r.register("sessions_created", "Sessions created", created.clone());
        let exits = Family::<OutcomeLabels, Counter>::default();
        r.register(
            "sessions_exited",
            "Session exits by outcome (completed = exit code 0)",
            exits.clone(),
        );
        let sends = Family::<SendLabels, Counter>::default();
        r.register(
            "sends",
            "Texts sent to sessions by agent and delivery outcome",
            sends.clone(),
        );
        let retries = Counter::default();
        r.register(
            "delivery_retries",
            "Extra Enter presses because the text stayed in the input line",
            retries.clone(),
        );
        let bytes = Counter::default();
        r.register(
            "captured_bytes",
            "Bytes of session output parsed into screen models",
            bytes.clone(),
        );
        let lags = Family::<ChannelLabels, Counter>::default();
        r.register(
            "subscriber_lags",
            "Times a subscriber fell behind and was resynced, by channel",
            lags.clone(),
        );
        let permissions = Family::<PermissionLabels, Counter>::default();
        r.register(
            "permission_resolutions",
            "Permission prompts resolved, by resolution and by whom",
            permissions.clone(),
        );
        let webhooks = Family::<OutcomeLabels, Counter>::default();
        r.register(
            "webhook_attempts",
            "Outbound webhook delivery attempts by outcome",
            webhooks.clone(),
        );
        let pipelines = Counter::default();
        r.register(
            "pipelines_created",
            "Pipelines created (POST /v1/pipelines answered 2xx)",
            pipelines.clone(),
        );
        let batches = Counter::default();
        r.register(
            "batches_created",
            "Session batches created (POST /v1/sessions/batch answered 2xx)",
            batches.clone(),
        );
        let http = Family::<HttpLabels, Counter>::default();
        r.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            http.clone(),
        );
        let http_seconds: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(http_buckets as fn() -> Histogram);
        r.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests (headers, for streams) by route template",
            http_seconds.clone(),
        );
        // Buckets per kind, in LatencyKind::ALL order (hook, detection, permission, channel):
        // hooks and deliveries take milliseconds to seconds; detection waits out the quiet
        // period (~0.75 s) and up to minutes when stalled; people answer prompts in seconds to
        // hours.
        let latency_seconds = [
            Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            Histogram::new(exponential_buckets(0.005, 2.0, 16)),
            Histogram::new(exponential_buckets(0.1, 2.0, 16)),
            Histogram::new(exponential_buckets(0.005, 2.0, 14)),
        ];
        let names = [
            (
                "hook_latency_seconds",
                "Hook events: agent timestamp to arrival",
            ),
            (
                "state_detection_seconds",
                "Last screen change to the state change being announced",
            ),
            (
                "permission_response_seconds",
                "Permission prompt shown to answered",
            ),
            (
                "channel_delivery_seconds",
                "One outbound webhook delivery attempt",
            ),
        ];
        for (h, (name, help)) in latency_seconds.iter().zip(names) {
            r.register(name, help, h.clone());
        }
        // Sessions live minutes to days.
        let session_seconds = Histogram::new(exponential_buckets(1.0, 4.0, 10));
        r.register(
            "session_duration_seconds",
            "Lifetime of sessions that exited",
            session_seconds.clone(),
        );
        // A family without samples prints nothing, not even its TYPE line: create the known
        // label sets at zero, so scrapers (and alerts on `rate()`) see them from the start.
        for channel in LAG_CHANNELS {
            let _created = lags.get_or_create(&ChannelLabels { channel });
        }
        for outcome in ["delivered", "failed"] {
            let _created = webhooks.get_or_create(&OutcomeLabels { outcome });
        }
        for agent in AgentType::ALL {
            for outcome in ["delivered", "undelivered", "failed"] {
                let _created = sends.get_or_create(&SendLabels {
                    agent: agent.as_str(),
                    outcome,
                });
            }
        }
        for outcome in ["completed", "failed"] {
            let _created = exits.get_or_create(&OutcomeLabels { outcome });
        }
        Metrics {
            registry: r,
            scrape: Mutex::new(()),
            started: Instant::now(),
            sessions,
            transitions,
            created,
            exits,
            sends,
            retries,
            bytes,
            lags,
            permissions,
            webhooks,
            pipelines,
            batches,
            http,
            http_seconds,
            latency_seconds,
            session_seconds,
            latencies: Latencies::default(),
            duration_ms: AtomicU64::new(0),
            timed_exits: Counter::default(),
            routes: route::Templates::default(),
            per_session: Mutex::new(PerSession::default()),
        }
    }

    /// Seconds since the daemon started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// One latency measurement: feeds the histogram, the global aggregate and, when given,
    /// the session's.
    pub fn observe_latency(&self, kind: LatencyKind, session: Option<Uuid>, ms: f64) {
        let i = LatencyKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
        self.latency_seconds[i].observe(ms / 1000.0);
        self.latencies.record(kind, ms);
        if let Some(s) = session.and_then(|id| self.session(id)) {
            s.latency.record(kind, ms);
        }
    }

    /// A text send to session `meta` finished (`SessionHandle::send_text`).
    pub fn send(&self, meta: &SessionMeta, result: Result<Delivery, ()>) {
        let outcome = match result {
            Ok(d) if d.delivered => "delivered",
            Ok(_) => "undelivered",
            Err(()) => "failed",
        };
        self.sends
            .get_or_create(&SendLabels {
                agent: meta.agent_type.as_str(),
                outcome,
            })
            .inc();
        if let Ok(d) = result {
            self.retries.inc_by(u64::from(d.attempts.saturating_sub(1)));
        }
        if let Some(s) = self.session(meta.id) {
            s.messages.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Output bytes parsed by a session actor.
    pub fn captured(&self, bytes: u64) {
        self.bytes.inc_by(bytes);
    }

    /// The actor announced a new state `since_output_ms` after the screen last changed.
    pub fn state_detected(&self, session: Uuid, to: SessionStatus, since_output_ms: u64) {
        // Stalls and exits are announced after deliberate waits (the stall threshold, the exit
        // drain), which would only measure configuration.
        if matches!(to, SessionStatus::Stalled | SessionStatus::Exited) {
            return;
        }
        self.observe_latency(
            LatencyKind::StateChangeDetection,
            Some(session),
            since_output_ms as f64,
        );
    }

    /// A subscriber of `channel` (one of [`LAG_CHANNELS`]) lagged.
    pub fn subscriber_lag(&self, channel: &'static str) {
        self.lags.get_or_create(&ChannelLabels { channel }).inc();
    }

    /// One outbound webhook attempt.
    pub fn webhook_attempt(&self, ok: bool, ms: f64) {
        let outcome = if ok { "delivered" } else { "failed" };
        self.webhooks
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.observe_latency(LatencyKind::ChannelDelivery, None, ms);
    }

    /// Seam for the hooks route: a `PreToolUse` hook arrived for `session`.
    pub fn tool_call(&self, session: Uuid) {
        if let Some(s) = self.session(session) {
            s.tool_calls.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Seam for the hooks route: a hook arrived `ms` after the agent stamped it.
    pub fn hook_latency(&self, session: Uuid, ms: f64) {
        self.observe_latency(LatencyKind::Hook, Some(session), ms);
    }

    /// One answered HTTP request.
    pub fn http_request(
        &self,
        method: &warp::http::Method,
        path: &str,
        status: u16,
        elapsed: std::time::Duration,
    ) {
        use warp::http::Method;
        let method = match *method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::PATCH => "PATCH",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        let route = self.routes.label(path);
        if method == "POST" && (200..300).contains(&status) {
            match route.as_str() {
                "/v1/pipelines" => self.pipelines.inc(),
                "/v1/sessions/batch" => self.batches.inc(),
                _ => 0,
            };
        }
        self.http_seconds
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.http
            .get_or_create(&HttpLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// The OpenMetrics text of every metric, with the state gauge rebuilt from `sessions`
    /// (the status and agent of every listed session).
    pub fn render(&self, sessions: impl IntoIterator<Item = (SessionStatus, AgentType)>) -> String {
        let _one = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.sessions.clear();
        for (status, agent) in sessions {
            self.sessions
                .get_or_create(&StateLabels {
                    state: status.as_str(),
                    agent: agent.as_str(),
                })
                .inc();
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Encoding into a String cannot fail unless a label value is unencodable.
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// The daemon-wide numbers of v0.3's `GET /v1/metrics`.
    pub fn totals(&self) -> Totals {
        let count = |f: &Family<OutcomeLabels, Counter>, outcome: &'static str| {
            f.get(&OutcomeLabels { outcome }).map_or(0, |c| c.get())
        };
        let completed = count(&self.exits, "completed");
        let failed = count(&self.exits, "failed");
        let (mut sent, mut delivered) = (0u64, 0u64);
        for agent in AgentType::ALL {
            for outcome in ["delivered", "undelivered", "failed"] {
                let n = self
                    .sends
                    .get(&SendLabels {
                        agent: agent.as_str(),
                        outcome,
                    })
                    .map_or(0, |c| c.get());
                sent += n;
                if outcome == "delivered" {
                    delivered += n;
                }
            }
        }
        let auto: u64 = AnsweredBy::AUTOMATIC
            .iter()
            .map(|by| {
                self.permissions
                    .get(&PermissionLabels {
                        resolution: Outcome::Approved.as_str().into(),
                        by: by.as_str().into(),
                    })
                    .map_or(0, |c| c.get())
            })
            .sum();
        let created = self.created.get();
        let ratio =
            |a: u64, b: u64| (b > 0).then(|| ((a as f64 / b as f64) * 1000.0).round() / 1000.0);
        Totals {
            uptime_secs: self.uptime_secs(),
            created,
            completed,
            failed,
            avg_duration_secs: ratio(
                self.duration_ms.load(Ordering::Relaxed),
                self.timed_exits.get() * 1000,
            ),
            avg_messages_per_session: ratio(sent, created),
            auto_approvals: auto,
            webhooks_sent: count(&self.webhooks, "delivered"),
            webhooks_failed: count(&self.webhooks, "failed"),
            pipelines_created: self.pipelines.get(),
            batches_created: self.batches.get(),
            sends: sent,
            delivered,
            delivery_rate: ratio(delivered, sent),
            latency: self.latencies.aggregated(),
        }
    }
}
