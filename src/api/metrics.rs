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

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::App;
use super::reply::{ApiResult, json};
use super::route::{self, Table};
use crate::metrics::{Aggregate, LatencyKind, Totals};
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

/// v0.3's name of a latency kind.
fn latency_key(kind: LatencyKind) -> &'static str {
    match kind {
        LatencyKind::Hook => "hook_latency_ms",
        LatencyKind::StateChangeDetection => "state_change_detection_ms",
        LatencyKind::PermissionResponse => "permission_response_ms",
        LatencyKind::ChannelDelivery => "channel_delivery_ms",
    }
}

/// `{<kind>: {min, max, avg, count}}`; min/max/avg are null until something was measured.
fn aggregated_json(aggs: &[(LatencyKind, Aggregate)]) -> Value {
    let mut out = serde_json::Map::new();
    for (kind, a) in aggs {
        let v = json!({ "min": a.min, "max": a.max, "avg": a.avg, "count": a.count });
        out.insert(latency_key(*kind).to_owned(), v);
    }
    Value::Object(out)
}

/// `{<kind>: last}` of the per-session kinds, or null when none was measured yet.
fn realtime_json(latencies: &crate::metrics::Latencies) -> Value {
    let Some(last) = latencies.realtime() else {
        return Value::Null;
    };
    let mut out = serde_json::Map::new();
    for (kind, v) in last {
        out.insert(latency_key(kind).to_owned(), json!(v));
    }
    Value::Object(out)
}

/// v0.3's global metrics; `active` sessions are running now.
fn totals_json(t: &Totals, active: usize) -> Value {
    json!({
        "uptime": t.uptime_secs,
        "sessions": {
            "total_created": t.created,
            "currently_active": active,
            "completed": t.completed,
            "failed": t.failed,
            "avg_duration_sec": t.avg_duration_secs,
            "avg_messages_per_session": t.avg_messages_per_session,
        },
        "auto_approvals": t.auto_approvals,
        "webhooks_sent": t.webhooks_sent,
        "webhooks_failed": t.webhooks_failed,
        "pipelines_created": t.pipelines_created,
        "batches_created": t.batches_created,
        "prompt_delivery": {
            "sent": t.sends,
            "delivered": t.delivered,
            "failed": t.sends - t.delivered,
            "success_rate": t.delivery_rate,
        },
        "latency": aggregated_json(&t.latency),
    })
}

async fn global(app: Arc<App>) -> ApiResult {
    let sessions = app.sessions.list();
    let active = sessions.iter().filter(|h| !h.is_exited()).count();
    let mut body = totals_json(&crate::metrics::global().totals(), active);
    // Summed over the sessions still listed, from their agents' own records.
    let usages = super::transcript::usages(&app, &sessions).await;
    body["tokenUsage"] =
        serde_json::to_value(super::transcript::UsageTotals::of(&usages)).unwrap_or_default();
    Ok(json(StatusCode::OK, &body))
}

/// Token usage of a session from the agent's own transcript, or null with the reason it is
/// unknown (never a made-up zero).
async fn token_usage(app: &App, h: &SessionHandle) -> (Option<Value>, Option<String>) {
    match super::transcript::token_usage(app, h).await {
        Ok(u) => (serde_json::to_value(u).ok(), None),
        Err(reason) => (None, Some(reason)),
    }
}

fn stats_of(h: &SessionHandle) -> Arc<crate::metrics::SessionStats> {
    // A session listed but never seen by the metrics (adopted after a restart) has empty stats.
    crate::metrics::global()
        .session(h.meta.id)
        .unwrap_or_default()
}

async fn session(app: Arc<App>, id: String) -> ApiResult {
    use std::sync::atomic::Ordering::Relaxed;
    let h = app.sessions.get(&id)?;
    let s = stats_of(&h);
    let (usage, usage_unknown) = token_usage(&app, &h).await;
    let end = match s.exited_at_ms.load(Relaxed) {
        0 => crate::clock::now_ms(),
        at => at,
    };
    let body = json!({
        "sessionId": h.meta.id,
        "durationSec": end.saturating_sub(h.meta.created_at_ms) / 1000,
        "messages": s.messages.load(Relaxed),
        "toolCalls": s.tool_calls.load(Relaxed),
        "approvals": s.approvals.load(Relaxed),
        "autoApprovals": s.auto_approvals.load(Relaxed),
        "statusChanges": s.status_changes(),
        "tokenUsage": usage,
        "tokenUsageUnknownReason": usage_unknown,
    });
    Ok(json(StatusCode::OK, &body))
}

async fn latency(app: Arc<App>, id: String) -> ApiResult {
    let h = app.sessions.get(&id)?;
    let s = stats_of(&h);
    let body = json!({
        "sessionId": h.meta.id,
        "realtime": realtime_json(&s.latency),
        "aggregated": aggregated_json(&s.latency.aggregated()),
    });
    Ok(json(StatusCode::OK, &body))
}

/// `GET /metrics` (the caller mounts it unversioned and decides on the guard).
pub fn prometheus_route(t: &mut Table) {
    t.on(route::get("/metrics"), prometheus);
}

/// The JSON metrics routes (under `/v1`; the caller adds the prefix and auth).
pub fn routes(t: &mut Table) {
    t.on(route::get("/metrics"), global);
    t.on_one(route::get("/sessions/{id}/metrics"), session);
    t.on_one(route::get("/sessions/{id}/latency"), latency);
}
