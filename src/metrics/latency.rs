//! Latency aggregates in the shape Aegis v0.3 clients read: for each kind, the last value
//! (`realtime`) and `{min, max, avg, count}` (`aggregated`). The same measurement also feeds a
//! Prometheus histogram (see [`super::Metrics::observe_latency`]); this module only keeps the
//! exact min/max a histogram cannot give.

use std::sync::Mutex;

use serde_json::{Value, json};

/// What was timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatencyKind {
    /// From a hook's own timestamp to its arrival (fed by the hooks route; see README).
    Hook,
    /// From the last screen change to the state change being announced.
    StateChangeDetection,
    /// From a permission prompt appearing to its answer.
    PermissionResponse,
    /// One outbound webhook (channel) delivery attempt.
    ChannelDelivery,
}

impl LatencyKind {
    pub const ALL: [LatencyKind; 4] = [
        LatencyKind::Hook,
        LatencyKind::StateChangeDetection,
        LatencyKind::PermissionResponse,
        LatencyKind::ChannelDelivery,
    ];

    /// The v0.3 wire name.
    pub fn wire(self) -> &'static str {
        match self {
            LatencyKind::Hook => "hook_latency_ms",
            LatencyKind::StateChangeDetection => "state_change_detection_ms",
            LatencyKind::PermissionResponse => "permission_response_ms",
            LatencyKind::ChannelDelivery => "channel_delivery_ms",
        }
    }

    fn index(self) -> usize {
        match self {
            LatencyKind::Hook => 0,
            LatencyKind::StateChangeDetection => 1,
            LatencyKind::PermissionResponse => 2,
            LatencyKind::ChannelDelivery => 3,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Agg {
    last: Option<f64>,
    min: f64,
    max: f64,
    sum: f64,
    count: u64,
}

/// Aggregates for every [`LatencyKind`].
#[derive(Debug, Default)]
pub struct Latencies {
    aggs: Mutex<[Agg; 4]>,
}

impl Latencies {
    pub fn record(&self, kind: LatencyKind, ms: f64) {
        let mut g = self.aggs.lock().unwrap_or_else(|p| p.into_inner());
        let a = &mut g[kind.index()];
        if a.count == 0 {
            a.min = ms;
            a.max = ms;
        } else {
            a.min = a.min.min(ms);
            a.max = a.max.max(ms);
        }
        a.sum += ms;
        a.count += 1;
        a.last = Some(ms);
    }

    fn snapshot(&self) -> [Agg; 4] {
        *self.aggs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `{min, max, avg, count}` per kind; min/max/avg are null until something was measured.
    pub fn aggregated(&self) -> Value {
        let aggs = self.snapshot();
        let mut out = serde_json::Map::new();
        for kind in LatencyKind::ALL {
            let a = aggs[kind.index()];
            let v = if a.count == 0 {
                json!({ "min": null, "max": null, "avg": null, "count": 0 })
            } else {
                json!({
                    "min": round(a.min),
                    "max": round(a.max),
                    "avg": round(a.sum / a.count as f64),
                    "count": a.count,
                })
            };
            out.insert(kind.wire().to_owned(), v);
        }
        Value::Object(out)
    }

    /// The last value of the three per-session kinds, or null when none was measured yet.
    pub fn realtime(&self) -> Value {
        let aggs = self.snapshot();
        let kinds = [
            LatencyKind::Hook,
            LatencyKind::StateChangeDetection,
            LatencyKind::PermissionResponse,
        ];
        if kinds.iter().all(|k| aggs[k.index()].last.is_none()) {
            return Value::Null;
        }
        let mut out = serde_json::Map::new();
        for k in kinds {
            out.insert(k.wire().to_owned(), json!(aggs[k.index()].last.map(round)));
        }
        Value::Object(out)
    }
}

/// Milliseconds to one decimal: finer than any of these measurements is noise.
fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_min_max_avg_and_last() {
        let l = Latencies::default();
        assert_eq!(l.realtime(), Value::Null);
        assert_eq!(l.aggregated()["permission_response_ms"]["count"], 0);
        l.record(LatencyKind::PermissionResponse, 30.0);
        l.record(LatencyKind::PermissionResponse, 10.0);
        let a = &l.aggregated()["permission_response_ms"];
        assert_eq!(
            (a["min"].as_f64(), a["max"].as_f64(), a["avg"].as_f64()),
            (Some(10.0), Some(30.0), Some(20.0))
        );
        assert_eq!(a["count"], 2);
        assert_eq!(l.realtime()["permission_response_ms"], 10.0);
        assert_eq!(l.realtime()["hook_latency_ms"], Value::Null);
    }
}
