//! Metrics routes. Every number comes from [`crate::metrics`] (and, in a fleet, from the
//! fleet's own counters); this module only shapes it.
//!
//! - `GET /metrics`: Prometheus, in the OpenMetrics text format. Unversioned only: the
//!   unversioned alias of `/v1/metrics` would collide with it, and scrapers expect `/metrics`.
//!   Behind the API guard like every route, unless `--metrics-open` (see docs/operations.md, "Metrics").
//! - `GET /v1/metrics`: Aegis v0.3's global metrics JSON, plus `tokenUsage` summed over the
//!   listed sessions whose usage is known.
//! - `GET /v1/sessions/:id/metrics` and `/latency`: v0.3's per-session shapes.

use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;

use super::App;
use super::reply::{ApiResult, json_sorted};
use super::route::{self, Table};
use super::transcript::UsageTotals;
use crate::metrics::{Aggregate, LatencyKind};
use crate::session::SessionHandle;

/// The content type prometheus-client's encoder writes (OpenMetrics 1.0, which Prometheus
/// negotiates; it also ends the body with `# EOF`).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The fleet's counters in OpenMetrics text, for `/metrics`. Events produced while NATS is
/// away wait in a bounded buffer and are published on reconnection; past the bound the
/// oldest are dropped and counted in `aegis_fleet_events_dropped_total`.
fn fleet_openmetrics(fleet: &crate::fleet::Fleet) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let s = &fleet.stats;
    let counters = [
        (
            "events_published",
            "events acknowledged by the fleet's JetStream stream",
            &s.events_published,
        ),
        (
            "events_dropped",
            "events lost: the outage buffer overflowed or the bus outran the publisher",
            &s.events_dropped,
        ),
        (
            "forwarded_out",
            "requests this daemon forwarded to the host owning the session",
            &s.forwarded_out,
        ),
        (
            "forwarded_in",
            "requests fleet peers forwarded to this daemon",
            &s.forwarded_in,
        ),
        (
            "forward_errors",
            "forwarded requests that failed (peer unreachable, timeout, protocol)",
            &s.forward_errors,
        ),
        ("connections", "connections made to NATS", &s.connections),
    ];
    let mut out = String::new();
    for (name, help, value) in counters {
        out.push_str(&format!(
            "# HELP aegis_fleet_{name} Fleet: {help}.\n# TYPE aegis_fleet_{name} counter\naegis_fleet_{name}_total {}\n",
            value.load(Relaxed)
        ));
    }
    let connected = u8::from(fleet.bus().is_ok());
    out.push_str(&format!(
        "# HELP aegis_fleet_events_buffered Fleet: events waiting for NATS.\n# TYPE aegis_fleet_events_buffered gauge\naegis_fleet_events_buffered {}\n\
         # HELP aegis_fleet_connected Fleet: 1 while NATS is reachable.\n# TYPE aegis_fleet_connected gauge\naegis_fleet_connected {connected}\n",
        s.events_buffered.load(Relaxed)
    ));
    out
}

async fn prometheus(app: Arc<App>) -> ApiResult {
    let body = crate::metrics::global().render(
        app.sessions
            .list()
            .iter()
            .map(|h| (h.status(), h.meta.agent_type)),
    );
    let body = match app.fleet.get() {
        // The fleet's families go before the closing `# EOF`.
        Some(fleet) => match body.strip_suffix("# EOF\n") {
            Some(head) => format!("{head}{}# EOF\n", fleet_openmetrics(fleet)),
            None => body,
        },
        None => body,
    };
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static(OPENMETRICS),
    );
    Ok(resp)
}

/// v0.3's global metrics (`GET /v1/metrics`), with v0.3's own key names, plus
/// `tokenUsage`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "GlobalMetrics")]
struct Global {
    /// Seconds since the daemon started.
    uptime: u64,
    sessions: SessionTotals,
    /// Permission prompts approved by a policy, the trust setting or expiry.
    auto_approvals: u64,
    webhooks_sent: u64,
    webhooks_failed: u64,
    pipelines_created: u64,
    batches_created: u64,
    prompt_delivery: PromptDelivery,
    latency: LatencyAggregates,
    /// Token usage summed over the listed sessions whose usage is known (never guessed:
    /// unknown sessions are only counted).
    #[serde(rename = "tokenUsage")]
    token_usage: UsageTotals,
}

/// Sessions since the daemon started.
#[derive(Debug, Serialize, JsonSchema)]
struct SessionTotals {
    total_created: u64,
    /// Running now.
    currently_active: usize,
    /// Exits with code 0.
    completed: u64,
    /// The other exits.
    failed: u64,
    avg_duration_sec: Option<f64>,
    avg_messages_per_session: Option<f64>,
}

/// Texts sent, and those seen to leave the input line.
#[derive(Debug, Serialize, JsonSchema)]
struct PromptDelivery {
    sent: u64,
    delivered: u64,
    failed: u64,
    /// delivered / sent; null before anything was sent.
    success_rate: Option<f64>,
}

/// Milliseconds measured for one kind of latency; min, max and avg are null until
/// something was measured.
#[derive(Debug, Serialize, JsonSchema)]
struct LatencyAggregate {
    min: Option<f64>,
    max: Option<f64>,
    avg: Option<f64>,
    count: u64,
}

/// Every kind of latency, under v0.3's names.
#[derive(Debug, Serialize, JsonSchema)]
struct LatencyAggregates {
    /// From a hook's own timestamp to its arrival.
    hook_latency_ms: LatencyAggregate,
    /// From the last screen change to the state change being announced.
    state_change_detection_ms: LatencyAggregate,
    /// From a permission prompt appearing to its answer.
    permission_response_ms: LatencyAggregate,
    /// From an event to its webhook delivery.
    channel_delivery_ms: LatencyAggregate,
}

impl LatencyAggregates {
    fn of(aggs: &[(LatencyKind, Aggregate)]) -> LatencyAggregates {
        let of = |kind: LatencyKind| {
            let a = aggs
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, a)| *a)
                .unwrap_or_default();
            LatencyAggregate {
                min: a.min,
                max: a.max,
                avg: a.avg,
                count: a.count,
            }
        };
        LatencyAggregates {
            hook_latency_ms: of(LatencyKind::Hook),
            state_change_detection_ms: of(LatencyKind::StateChangeDetection),
            permission_response_ms: of(LatencyKind::PermissionResponse),
            channel_delivery_ms: of(LatencyKind::ChannelDelivery),
        }
    }
}

/// The last value of each per-session kind of latency, in milliseconds.
#[derive(Debug, Serialize, JsonSchema)]
struct Realtime {
    hook_latency_ms: Option<f64>,
    state_change_detection_ms: Option<f64>,
    permission_response_ms: Option<f64>,
}

impl Realtime {
    /// `None` until one of them was measured.
    fn of(latencies: &crate::metrics::Latencies) -> Option<Realtime> {
        let last = latencies.realtime()?;
        let of = |kind: LatencyKind| last.iter().find(|(k, _)| *k == kind).and_then(|(_, v)| *v);
        Some(Realtime {
            hook_latency_ms: of(LatencyKind::Hook),
            state_change_detection_ms: of(LatencyKind::StateChangeDetection),
            permission_response_ms: of(LatencyKind::PermissionResponse),
        })
    }
}

async fn global(app: Arc<App>) -> ApiResult {
    let sessions = app.sessions.list();
    let active = sessions.iter().filter(|h| !h.is_exited()).count();
    let t = crate::metrics::global().totals();
    // Summed over the sessions still listed, from their agents' own records.
    let usages = super::transcript::usages(&app, &sessions).await;
    let body = Global {
        uptime: t.uptime_secs,
        sessions: SessionTotals {
            total_created: t.created,
            currently_active: active,
            completed: t.completed,
            failed: t.failed,
            avg_duration_sec: t.avg_duration_secs,
            avg_messages_per_session: t.avg_messages_per_session,
        },
        auto_approvals: t.auto_approvals,
        webhooks_sent: t.webhooks_sent,
        webhooks_failed: t.webhooks_failed,
        pipelines_created: t.pipelines_created,
        batches_created: t.batches_created,
        prompt_delivery: PromptDelivery {
            sent: t.sends,
            delivered: t.delivered,
            failed: t.sends - t.delivered,
            success_rate: t.delivery_rate,
        },
        latency: LatencyAggregates::of(&t.latency),
        token_usage: UsageTotals::of(&usages),
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

fn stats_of(h: &SessionHandle) -> Arc<crate::metrics::SessionStats> {
    // A session listed but never seen by the metrics (adopted after a restart) has empty stats.
    crate::metrics::global()
        .session(h.meta.id)
        .unwrap_or_default()
}

fn session_statuses(_: &mut SchemaGenerator) -> Schema {
    let statuses = crate::vocab::SessionStatus::ALL.map(crate::vocab::SessionStatus::as_str);
    json_schema!({"type": "array", "items": {"type": "string", "enum": statuses}})
}

/// v0.3's per-session metrics (`GET /v1/sessions/{id}/metrics`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SessionMetrics")]
struct SessionMetrics {
    #[schemars(with = "String")]
    session_id: uuid::Uuid,
    /// Seconds from creation to now, or to the exit.
    duration_sec: u64,
    /// Texts sent to the session.
    messages: u64,
    /// Tool calls reported by the agent's hooks.
    tool_calls: u64,
    /// Permission prompts approved by a person.
    approvals: u64,
    /// Permission prompts approved by a policy, the trust setting or expiry.
    auto_approvals: u64,
    /// The statuses the session went through, oldest first.
    #[schemars(schema_with = "session_statuses")]
    status_changes: Vec<&'static str>,
    /// From the agent's own transcript; null when unknown (see `tokenUsageUnknownReason`),
    /// never a made-up zero.
    token_usage: Option<super::transcript::Usage>,
    /// Why `tokenUsage` is null.
    token_usage_unknown_reason: Option<String>,
}

async fn session(app: Arc<App>, id: String) -> ApiResult {
    use std::sync::atomic::Ordering::Relaxed;
    let h = app.sessions.get(&id)?;
    let s = stats_of(&h);
    let (token_usage, token_usage_unknown_reason) =
        match super::transcript::token_usage(&app, &h).await {
            Ok(u) => (Some(u.into()), None),
            Err(reason) => (None, Some(reason)),
        };
    let end = match s.exited_at_ms.load(Relaxed) {
        0 => crate::clock::now_ms(),
        at => at,
    };
    let body = SessionMetrics {
        session_id: h.meta.id,
        duration_sec: end.saturating_sub(h.meta.created_at_ms) / 1000,
        messages: s.messages.load(Relaxed),
        tool_calls: s.tool_calls.load(Relaxed),
        approvals: s.approvals.load(Relaxed),
        auto_approvals: s.auto_approvals.load(Relaxed),
        status_changes: s.status_changes(),
        token_usage,
        token_usage_unknown_reason,
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// v0.3's per-session latencies (`GET /v1/sessions/{id}/latency`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SessionLatency")]
struct SessionLatency {
    #[schemars(with = "String")]
    session_id: uuid::Uuid,
    /// The last measurements; null before any.
    realtime: Option<Realtime>,
    aggregated: LatencyAggregates,
}

async fn latency(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let s = stats_of(&h);
    let body = SessionLatency {
        session_id: h.meta.id,
        realtime: Realtime::of(&s.latency),
        aggregated: LatencyAggregates::of(&s.latency.aggregated()),
    };
    Ok(json_sorted(StatusCode::OK, &body))
}

/// `GET /metrics` (the caller mounts it unversioned and decides on the guard).
pub fn prometheus_route(t: &mut Table) {
    t.on(route::get("/metrics"), prometheus);
}

/// The JSON metrics routes (under `/v1`; the caller adds the prefix and auth).
pub fn routes(t: &mut Table) {
    t.on(route::get("/metrics").answers::<Global>(), global);
    t.on_one(
        route::get("/sessions/{id}/metrics").answers::<SessionMetrics>(),
        session,
    );
    t.on_one(
        route::get("/sessions/{id}/latency").answers::<SessionLatency>(),
        latency,
    );
}
