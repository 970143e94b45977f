//! Latency aggregates as Aegis v0.3 clients read them (`api::metrics` shapes the JSON): for
//! each kind, the last value (`realtime`) and min, max, average and count (`aggregated`). The
//! same measurement also feeds a Prometheus histogram (see
//! [`super::Metrics::observe_latency`]); this module only keeps the exact min/max a histogram
//! cannot give.

use std::sync::Mutex;

/// What was timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatencyKind {
    /// From a hook's own timestamp to its arrival (fed by the hooks route; see docs/operations.md, "Metrics").
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

    /// The kinds measured per session (channel deliveries are daemon-wide).
    pub const PER_SESSION: [LatencyKind; 3] = [
        LatencyKind::Hook,
        LatencyKind::StateChangeDetection,
        LatencyKind::PermissionResponse,
    ];

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

/// What one kind measured, in milliseconds rounded to one decimal; `None` until measured.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Aggregate {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    pub count: u64,
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

    /// Min, max, average and count per kind, in [`LatencyKind::ALL`] order.
    pub fn aggregated(&self) -> [(LatencyKind, Aggregate); 4] {
        let aggs = self.snapshot();
        LatencyKind::ALL.map(|kind| {
            let a = aggs[kind.index()];
            let measured = a.count > 0;
            let agg = Aggregate {
                min: measured.then(|| round(a.min)),
                max: measured.then(|| round(a.max)),
                avg: measured.then(|| round(a.sum / a.count as f64)),
                count: a.count,
            };
            (kind, agg)
        })
    }

    /// The last value of each [`LatencyKind::PER_SESSION`] kind, or `None` when none of them
    /// was measured yet.
    pub fn realtime(&self) -> Option<[(LatencyKind, Option<f64>); 3]> {
        let aggs = self.snapshot();
        let last = LatencyKind::PER_SESSION.map(|k| (k, aggs[k.index()].last.map(round)));
        last.iter().any(|(_, v)| v.is_some()).then_some(last)
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
        let permission = |l: &Latencies| l.aggregated()[2];
        assert_eq!(l.realtime(), None);
        assert_eq!(permission(&l).1.count, 0);
        assert_eq!(permission(&l).1.min, None);
        l.record(LatencyKind::PermissionResponse, 30.0);
        l.record(LatencyKind::PermissionResponse, 10.0);
        let (kind, a) = permission(&l);
        assert_eq!(kind, LatencyKind::PermissionResponse);
        assert_eq!(
            (a.min, a.max, a.avg, a.count),
            (Some(10.0), Some(30.0), Some(20.0), 2)
        );
        let last = l.realtime().expect("measured");
        assert_eq!(last[2], (LatencyKind::PermissionResponse, Some(10.0)));
        assert_eq!(last[0], (LatencyKind::Hook, None));
    }
}
