//! Membership: every daemon puts a [`HostRecord`] under its host id in the `aegis_hosts` KV
//! bucket once per heartbeat, and mirrors the whole bucket through a watch.
//!
//! A host is `up` while its latest record is younger than three of its own heartbeat
//! intervals (the interval travels in the record, so hosts with different settings judge
//! each other right) and `unreachable` after that, or at once when its record says it is
//! leaving (a clean shutdown). Age is measured on the observer's monotonic clock from when it
//! received the record, except for records replayed when a watch (re)starts, whose age is
//! taken from the NATS server's timestamp: no host's wall clock is ever compared with
//! another's. The bucket's max age (an hour) is the TTL that finally forgets a dead host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Fleet, next_bus, now_ms};

/// What a host says about itself in each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostRecord {
    pub host: String,
    pub version: String,
    pub boot_id: uuid::Uuid,
    /// Where to reach this host's API directly (WebSocket, attach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub started_at_ms: u64,
    pub heartbeat_at_ms: u64,
    /// This host's heartbeat interval.
    pub heartbeat_ms: u64,
    pub sessions: SessionCounts,
    /// Set in the last record of a clean shutdown.
    #[serde(default)]
    pub leaving: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCounts {
    pub total: usize,
    pub active: usize,
}

/// A host's state as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    Up,
    Unreachable,
}

impl HostState {
    pub const ALL: [HostState; 2] = [HostState::Up, HostState::Unreachable];

    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Up => "up",
            HostState::Unreachable => "unreachable",
        }
    }
}

/// One host as this node sees it (`GET /v1/fleet/hosts` shows it).
#[derive(Debug, Clone)]
pub struct HostView {
    pub host: String,
    pub state: HostState,
    pub version: String,
    pub url: Option<String>,
    pub sessions: SessionCounts,
    /// RFC 3339, from the host's own clock.
    pub last_heartbeat: String,
    /// Milliseconds since this node received the host's last heartbeat.
    pub last_heartbeat_age_ms: u64,
    pub started_at: String,
    pub boot_id: uuid::Uuid,
    /// This is the node that answered.
    pub is_self: bool,
}

struct Seen {
    record: HostRecord,
    /// When this node received the record (see the module doc).
    at: Instant,
}

/// The in-memory mirror of the membership bucket.
#[derive(Default)]
pub struct Hosts {
    inner: Mutex<HashMap<String, Seen>>,
    /// Creations this node placed on each host that the host's heartbeats may not count yet,
    /// so a burst of placements spreads instead of all going to the host that looked least
    /// loaded at the last heartbeat.
    placed: Mutex<HashMap<String, Placed>>,
}

#[derive(Default)]
struct Placed {
    /// Creations sent and not answered yet.
    in_flight: usize,
    /// When each answered creation answered. One is counted until a heartbeat of its host
    /// arrives after that instant: that heartbeat was (almost always) taken after the session
    /// existed, so it counts the session itself. (A heartbeat taken just before the creation
    /// but delivered just after its answer forgets one early; placement is a heuristic.)
    answered: Vec<Instant>,
}

impl Placed {
    fn count(&self) -> usize {
        self.in_flight + self.answered.len()
    }
}

/// A creation placed on `host` by [`Hosts::place`]: counted against that host until its
/// heartbeats include it. Dropping it without [`Placement::created`] means it failed.
pub struct Placement<'a> {
    hosts: &'a Hosts,
    pub host: String,
    created: bool,
}

impl Placement<'_> {
    /// The host created the session.
    pub fn created(mut self) {
        self.created = true;
    }
}

impl Drop for Placement<'_> {
    fn drop(&mut self) {
        let mut placed = self.hosts.placed();
        if let Some(p) = placed.get_mut(&self.host) {
            p.in_flight = p.in_flight.saturating_sub(1);
            if self.created {
                p.answered.push(Instant::now());
            }
        }
    }
}

impl Hosts {
    fn placed(&self) -> std::sync::MutexGuard<'_, HashMap<String, Placed>> {
        self.placed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, record: HostRecord, at: Instant) {
        if let Some(p) = self.placed().get_mut(&record.host) {
            p.answered.retain(|answered| *answered > at);
        }
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(record.host.clone(), Seen { record, at });
    }

    fn remove(&self, host: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(host);
    }

    fn retain(&self, keep: impl Fn(&str) -> bool) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|h, _| keep(h));
    }

    /// Every known host, sorted by id.
    pub fn views(&self, self_id: &str) -> Vec<HostView> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<HostView> = map
            .values()
            .map(|s| {
                let r = &s.record;
                let age = s.at.elapsed();
                HostView {
                    host: r.host.clone(),
                    state: state_of(r, age),
                    version: r.version.clone(),
                    url: r.url.clone(),
                    sessions: r.sessions,
                    last_heartbeat: rfc3339(r.heartbeat_at_ms),
                    last_heartbeat_age_ms: age.as_millis() as u64,
                    started_at: rfc3339(r.started_at_ms),
                    boot_id: r.boot_id,
                    is_self: r.host == self_id,
                }
            })
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }

    /// The state of `host`, if it is known.
    pub fn state(&self, host: &str) -> Option<HostState> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(host).map(|s| state_of(&s.record, s.at.elapsed()))
    }

    /// The advertised API URL of `host`.
    pub fn url(&self, host: &str) -> Option<String> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(host).and_then(|s| s.record.url.clone())
    }

    /// `path` (with its query) as a WebSocket URL on `host`'s advertised API: where a
    /// session's terminal stream is opened, since WebSockets are not forwarded.
    pub fn websocket_url(&self, host: &str, path_and_query: &str) -> Option<String> {
        let base = self.url(host)?;
        Some(format!(
            "{}{path_and_query}",
            base.replacen("http", "ws", 1)
        ))
    }

    /// Place a creation that names no host: the `up` host with the fewest active sessions,
    /// counting its last heartbeat's and the creations this node placed there since (ties:
    /// the smallest id). `local`, the host placing it, counts as up whatever its record's
    /// age: it is answering this request, and a heartbeat its own busy runtime sent late
    /// must not leave a fleet with no host to place on.
    pub fn place(&self, local: &str) -> Option<Placement<'_>> {
        let host = {
            let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let placed = self.placed();
            let load = |s: &Seen| {
                s.record.sessions.active + placed.get(&s.record.host).map_or(0, Placed::count)
            };
            map.values()
                .filter(|s| {
                    s.record.host == local && !s.record.leaving
                        || state_of(&s.record, s.at.elapsed()) == HostState::Up
                })
                .min_by(|a, b| (load(a), &a.record.host).cmp(&(load(b), &b.record.host)))
                .map(|s| s.record.host.clone())?
        };
        self.placed().entry(host.clone()).or_default().in_flight += 1;
        Some(Placement {
            hosts: self,
            host,
            created: false,
        })
    }
}

fn state_of(r: &HostRecord, age: Duration) -> HostState {
    let dead_after = super::FleetConfig::dead_after(Duration::from_millis(r.heartbeat_ms.max(1)));
    if r.leaving || age > dead_after {
        HostState::Unreachable
    } else {
        HostState::Up
    }
}

fn rfc3339(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn record(fleet: &Fleet, started_at_ms: u64, leaving: bool) -> HostRecord {
    let sessions = fleet.node.sessions();
    HostRecord {
        host: fleet.config.host_id.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        boot_id: fleet.boot_id,
        url: fleet.config.advertise_url.clone(),
        started_at_ms,
        heartbeat_at_ms: now_ms(),
        heartbeat_ms: fleet.config.heartbeat.as_millis() as u64,
        sessions: SessionCounts {
            total: sessions.len(),
            active: sessions.iter().filter(|s| s.active).count(),
        },
        leaving,
    }
}

/// Put this host's record every heartbeat while the bus is up.
pub(super) async fn run(fleet: Arc<Fleet>) {
    let started_at_ms = now_ms();
    let mut tick = tokio::time::interval(fleet.config.heartbeat);
    // A heartbeat late because NATS was away is sent once, not as a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changes = fleet.bus_changes();
    loop {
        tokio::select! {
            _ = fleet.shutdown.cancelled() => return,
            _ = tick.tick() => {}
            // A new bus (reconnection) gets a heartbeat at once, so peers see us back
            // without waiting a full interval.
            r = changes.changed() => if r.is_err() { return },
        }
        let Ok(bus) = fleet.bus() else { continue };
        let body = match serde_json::to_vec(&record(&fleet, started_at_ms, false)) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize the host record");
                continue;
            }
        };
        if let Err(e) = bus.hosts.put(&fleet.config.host_id, body.into()).await {
            tracing::debug!(error = %e, "heartbeat not stored");
        }
    }
}

/// Best effort, on clean shutdown: tell peers we are gone now.
pub(super) async fn leave(fleet: &Fleet) {
    let Ok(bus) = fleet.bus() else { return };
    let Ok(body) = serde_json::to_vec(&record(fleet, now_ms(), true)) else {
        return;
    };
    let put = bus.hosts.put(&fleet.config.host_id, body.into());
    if tokio::time::timeout(Duration::from_secs(1), put)
        .await
        .is_err()
    {
        tracing::debug!("leaving record not stored in time");
    }
}

/// Mirror the membership bucket, restarting the watch on every new bus.
pub(super) async fn watch(fleet: Arc<Fleet>) {
    let mut changes = fleet.bus_changes();
    let mut seen = None;
    while let Some(bus) = next_bus(&fleet, &mut changes, seen).await {
        seen = Some(bus.epoch);
        let watched = super::directory::mirror(
            &fleet,
            &mut changes,
            &bus.hosts,
            |entry, replayed| match serde_json::from_slice::<HostRecord>(&entry.value) {
                Ok(r) if r.host == entry.key => {
                    let at = if replayed {
                        replayed_at(entry.created)
                    } else {
                        Instant::now()
                    };
                    fleet.hosts.apply(r, at);
                }
                Ok(_) | Err(_) => {
                    tracing::warn!(key = %entry.key, "ignoring a malformed host record")
                }
            },
            |key| fleet.hosts.remove(key),
            |keep| fleet.hosts.retain(keep),
        )
        .await;
        if let Err(e) = watched {
            tracing::debug!(error = %e, "membership watch ended; restarting");
            seen = None;
            tokio::select! {
                _ = fleet.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// The local instant matching a server timestamp, for records replayed at watch start.
fn replayed_at(created: time::OffsetDateTime) -> Instant {
    let age = (time::OffsetDateTime::now_utc() - created)
        .try_into()
        .unwrap_or(Duration::ZERO);
    Instant::now().checked_sub(age).unwrap_or_else(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(host: &str, active: usize, leaving: bool) -> HostRecord {
        HostRecord {
            host: host.into(),
            version: "0".into(),
            boot_id: uuid::Uuid::nil(),
            url: None,
            started_at_ms: 0,
            heartbeat_at_ms: 0,
            heartbeat_ms: 1000,
            sessions: SessionCounts {
                total: active,
                active,
            },
            leaving,
        }
    }

    #[test]
    fn states_follow_heartbeat_age() {
        let hosts = Hosts::default();
        let now = Instant::now();
        hosts.apply(rec("a", 5, false), now);
        hosts.apply(rec("b", 1, false), now - Duration::from_secs(4));
        hosts.apply(rec("c", 0, true), now);
        hosts.apply(rec("d", 2, false), now);
        assert_eq!(hosts.state("a"), Some(HostState::Up));
        assert_eq!(hosts.state("b"), Some(HostState::Unreachable));
        assert_eq!(hosts.state("c"), Some(HostState::Unreachable));
        assert_eq!(hosts.state("zz"), None);
        // b and c have fewer sessions but are not up.
        assert_eq!(
            hosts.place("").map(|p| p.host.clone()).as_deref(),
            Some("d")
        );
        // Placed by b itself, b is up whatever its record's age; a leaving host never is.
        assert_eq!(
            hosts.place("b").map(|p| p.host.clone()).as_deref(),
            Some("b")
        );
        assert_eq!(
            hosts.place("c").map(|p| p.host.clone()).as_deref(),
            Some("d")
        );
        let v = hosts.views("a");
        assert_eq!(
            v.iter().map(|h| h.host.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
        assert!(v[0].is_self && !v[1].is_self);
    }

    #[test]
    fn a_burst_of_placements_spreads_until_heartbeats_count_it() {
        let hosts = Hosts::default();
        let beat = Instant::now();
        hosts.apply(rec("a", 1, false), beat);
        hosts.apply(rec("b", 1, false), beat);
        // Two in flight at once, then two answered: a, b, a, b.
        let (first, second) = (hosts.place("").expect("up"), hosts.place("").expect("up"));
        assert_eq!((first.host.as_str(), second.host.as_str()), ("a", "b"));
        first.created();
        second.created();
        let third = hosts.place("").expect("up");
        assert_eq!(third.host, "a");
        third.created();
        // A failed creation counts no more.
        drop(hosts.place("").expect("up"));
        assert_eq!(
            hosts.place("").map(|p| p.host.clone()).as_deref(),
            Some("b")
        );
        // a's next heartbeat counts its two sessions itself: 3 against b's 1 + 1 placed.
        hosts.apply(rec("a", 3, false), Instant::now());
        assert_eq!(hosts.placed()["a"].count(), 0);
        assert_eq!(
            hosts.place("").map(|p| p.host.clone()).as_deref(),
            Some("b")
        );
    }
}
