//! The session directory: session UUID -> host, in the `aegis_sessions` KV bucket.
//!
//! Writer: each host is the only writer of its own sessions' entries. It puts an entry when
//! its bus announces `session.created`, deletes it on `session.killed` (the removal event),
//! and reconciles the bucket with its registry whenever the mirror has caught up with a new
//! bus, when its bus subscription lagged, and every [`RECONCILE_EVERY`]: so sessions restored
//! after a crash rejoin, and entries of sessions removed while NATS was away disappear.
//!
//! Reader: every host mirrors the bucket in memory through a watch and resolves an id (or a
//! name, through a name index) without a round trip. A miss in the mirror is checked against
//! the bucket itself before anyone answers 404, which covers the milliseconds between a put
//! and its arrival through the watch.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use super::{Bus, Fleet, FleetError, LocalFeed, next_bus};

/// How often a host re-checks its directory entries against its registry even when nothing
/// seems wrong. Entries can only go stale through failures (a put lost with the connection),
/// so a minute bounds how long a listing can show a removed session without loading NATS.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(60);

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirEntry {
    pub host: String,
    pub name: String,
    pub created_at_ms: u64,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<Uuid, DirEntry>,
    by_name: HashMap<String, BTreeSet<Uuid>>,
}

impl Inner {
    fn insert(&mut self, id: Uuid, entry: DirEntry) {
        self.remove(&id);
        self.by_name
            .entry(entry.name.clone())
            .or_default()
            .insert(id);
        self.by_id.insert(id, entry);
    }

    fn remove(&mut self, id: &Uuid) {
        if let Some(old) = self.by_id.remove(id)
            && let Some(ids) = self.by_name.get_mut(&old.name)
        {
            ids.remove(id);
            if ids.is_empty() {
                self.by_name.remove(&old.name);
            }
        }
    }
}

/// The in-memory mirror of the directory.
pub struct Directory {
    inner: Mutex<Inner>,
    /// The epoch of the last bus whose bucket the mirror has fully replayed.
    synced: watch::Sender<u64>,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            inner: Mutex::default(),
            synced: watch::Sender::new(0),
        }
    }
}

/// Where a session lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub id: Uuid,
    pub entry: DirEntry,
}

impl Directory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn apply(&self, id: Uuid, entry: DirEntry) {
        self.lock().insert(id, entry);
    }

    pub fn forget(&self, id: &Uuid) {
        self.lock().remove(id);
    }

    fn retain(&self, keep: impl Fn(&str) -> bool) {
        let mut inner = self.lock();
        let gone: Vec<Uuid> = inner
            .by_id
            .keys()
            .filter(|id| !keep(&id.to_string()))
            .copied()
            .collect();
        for id in gone {
            inner.remove(&id);
        }
    }

    /// Resolve a session id or name from the mirror.
    pub fn lookup(&self, id_or_name: &str) -> Result<Option<Located>, FleetError> {
        let inner = self.lock();
        if let Ok(id) = Uuid::parse_str(id_or_name)
            && let Some(entry) = inner.by_id.get(&id)
        {
            return Ok(Some(Located {
                id,
                entry: entry.clone(),
            }));
        }
        let Some(ids) = inner.by_name.get(id_or_name) else {
            return Ok(None);
        };
        let found: Vec<Located> = ids
            .iter()
            .filter_map(|id| {
                inner.by_id.get(id).map(|e| Located {
                    id: *id,
                    entry: e.clone(),
                })
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(Some(one.clone())),
            [] => Ok(None),
            many => Err(FleetError::Ambiguous {
                name: id_or_name.to_string(),
                hosts: many.iter().map(|l| l.entry.host.clone()).collect(),
            }),
        }
    }

    /// Entries of `host`.
    pub fn of_host(&self, host: &str) -> Vec<(Uuid, DirEntry)> {
        self.lock()
            .by_id
            .iter()
            .filter(|(_, e)| e.host == host)
            .map(|(id, e)| (*id, e.clone()))
            .collect()
    }

    /// How many sessions each host has in the directory.
    pub fn counts(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for e in self.lock().by_id.values() {
            *out.entry(e.host.clone()).or_default() += 1;
        }
        out
    }

    /// Entries in the mirror.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolve from the mirror, and on a miss of a UUID from the bucket itself.
    pub async fn locate(
        &self,
        fleet: &Fleet,
        id_or_name: &str,
    ) -> Result<Option<Located>, FleetError> {
        if let Some(found) = self.lookup(id_or_name)? {
            return Ok(Some(found));
        }
        let Ok(id) = Uuid::parse_str(id_or_name) else {
            return Ok(None);
        };
        let bus = fleet.bus()?;
        match bus.sessions.get(id.to_string()).await {
            Ok(Some(raw)) => match serde_json::from_slice::<DirEntry>(&raw) {
                Ok(entry) => {
                    self.apply(id, entry.clone());
                    Ok(Some(Located { id, entry }))
                }
                Err(_) => Ok(None),
            },
            Ok(None) => Ok(None),
            Err(_) => Err(fleet.unavailable()),
        }
    }
}

/// Put `id` on this host, returning once NATS stored it. Used by the writer and by a fleet
/// creation, which must not answer 201 before any node can route the new session.
pub async fn register(fleet: &Fleet, id: Uuid, entry: &DirEntry) -> Result<(), FleetError> {
    let bus = fleet.bus()?;
    put(&bus, id, entry)
        .await
        .map_err(|_| fleet.unavailable())?;
    fleet.directory.apply(id, entry.clone());
    Ok(())
}

async fn put(bus: &Bus, id: Uuid, entry: &DirEntry) -> Result<(), async_nats::Error> {
    let body = serde_json::to_vec(entry)?;
    bus.sessions.put(id.to_string(), body.into()).await?;
    Ok(())
}

/// Keep this host's entries in the bucket true to its registry.
pub(super) async fn run(fleet: Arc<Fleet>) {
    let mut feed = fleet.node.subscribe();
    let mut synced = fleet.directory.synced.subscribe();
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = fleet.shutdown.cancelled() => return,
            r = synced.changed() => {
                if r.is_err() { return }
                reconcile(&fleet).await;
            }
            _ = tick.tick() => reconcile(&fleet).await,
            item = feed.next() => match item {
                Some(LocalFeed::Event(ev)) if ev.kind == "session.created" => {
                    let entry = DirEntry {
                        host: fleet.config.host_id.clone(),
                        name: ev.session_name.clone(),
                        created_at_ms: super::now_ms(),
                    };
                    if let Err(e) = register(&fleet, ev.session_id, &entry).await {
                        tracing::debug!(error = %e, "directory put deferred to the next reconcile");
                    }
                }
                Some(LocalFeed::Event(ev)) if ev.kind == "session.killed" => {
                    fleet.directory.forget(&ev.session_id);
                    if let Ok(bus) = fleet.bus()
                        && let Err(e) = bus.sessions.delete(ev.session_id.to_string()).await
                    {
                        tracing::debug!(error = %e, "directory delete deferred to the next reconcile");
                    }
                }
                Some(LocalFeed::Event(_)) => {}
                Some(LocalFeed::Lagged(n)) => {
                    tracing::warn!(missed = n, "directory writer lagged the event bus; reconciling");
                    reconcile(&fleet).await;
                }
                None => return,
            },
        }
    }
}

/// Make the bucket hold exactly this host's sessions under this host's name.
async fn reconcile(fleet: &Fleet) {
    let Ok(bus) = fleet.bus() else { return };
    let me = fleet.config.host_id.as_str();
    let local = fleet.node.sessions();
    let local_ids: HashSet<Uuid> = local.iter().map(|s| s.id).collect();
    let mut puts = 0usize;
    let mut deletes = 0usize;
    for s in &local {
        let want = DirEntry {
            host: me.to_string(),
            name: s.name.clone(),
            created_at_ms: s.created_at_ms,
        };
        let current = fleet.directory.lookup(&s.id.to_string()).ok().flatten();
        if current.is_some_and(|c| c.entry.host == want.host && c.entry.name == want.name) {
            continue;
        }
        if put(&bus, s.id, &want).await.is_err() {
            return;
        }
        fleet.directory.apply(s.id, want);
        puts += 1;
    }
    for (id, _) in fleet.directory.of_host(me) {
        if local_ids.contains(&id) {
            continue;
        }
        if bus.sessions.delete(id.to_string()).await.is_err() {
            return;
        }
        fleet.directory.forget(&id);
        deletes += 1;
    }
    if puts + deletes > 0 {
        tracing::info!(
            puts,
            deletes,
            "directory reconciled with the local registry"
        );
    }
}

/// Mirror the directory bucket, restarting the watch on every new bus.
pub(super) async fn watch(fleet: Arc<Fleet>) {
    let mut changes = fleet.bus_changes();
    let mut seen = None;
    while let Some(bus) = next_bus(&fleet, &mut changes, seen).await {
        seen = Some(bus.epoch);
        let epoch = bus.epoch;
        let watched = mirror(
            &fleet,
            &mut changes,
            &bus.sessions,
            |entry, _| match (
                Uuid::parse_str(&entry.key),
                serde_json::from_slice::<DirEntry>(&entry.value),
            ) {
                (Ok(id), Ok(e)) => fleet.directory.apply(id, e),
                _ => tracing::warn!(key = %entry.key, "ignoring a malformed directory entry"),
            },
            |key| {
                if let Ok(id) = Uuid::parse_str(key) {
                    fleet.directory.forget(&id);
                }
            },
            |keep| {
                fleet.directory.retain(keep);
                fleet.directory.synced.send_replace(epoch);
            },
        )
        .await;
        if let Err(e) = watched {
            tracing::debug!(error = %e, "directory watch ended; restarting");
            seen = None;
            tokio::select! {
                _ = fleet.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// Follow a KV bucket into a mirror: replay the latest value of every key, then live changes.
/// Once the replay is complete, `synced` is called with a predicate that keeps only the keys
/// the replay saw (keys deleted while we were not watching disappear). Returns `Ok` when the
/// bus changed or the fleet stops (the caller restarts), `Err` when the watch broke.
pub(super) async fn mirror(
    fleet: &Fleet,
    changes: &mut watch::Receiver<Option<Arc<Bus>>>,
    store: &kv::Store,
    mut put: impl FnMut(&kv::Entry, bool),
    mut delete: impl FnMut(&str),
    synced: impl Fn(&dyn Fn(&str) -> bool),
) -> Result<(), String> {
    let values = store.status().await.map_err(|e| e.to_string())?.values();
    let mut stream = store
        .watch_with_history(">")
        .await
        .map_err(|e| e.to_string())?;
    let mut replaying = values > 0;
    let mut replayed: HashSet<String> = HashSet::new();
    if !replaying {
        synced(&|_| false);
    }
    loop {
        let entry = tokio::select! {
            _ = fleet.shutdown.cancelled() => return Ok(()),
            _ = changes.changed() => return Ok(()),
            e = stream.next() => e,
        };
        let entry = match entry {
            None => return Err("watch ended".into()),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(entry)) => entry,
        };
        if replaying {
            replayed.insert(entry.key.clone());
        }
        match entry.operation {
            kv::Operation::Put => put(&entry, replaying),
            kv::Operation::Delete | kv::Operation::Purge => delete(&entry.key),
        }
        if replaying && entry.delta == 0 {
            replaying = false;
            synced(&|k| replayed.contains(k));
            replayed = HashSet::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(host: &str, name: &str) -> DirEntry {
        DirEntry {
            host: host.into(),
            name: name.into(),
            created_at_ms: 0,
        }
    }

    #[test]
    fn lookup_by_id_and_name() {
        let d = Directory::default();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        d.apply(a, entry("h1", "alpha"));
        d.apply(b, entry("h2", "shared"));
        d.apply(c, entry("h3", "shared"));
        let found = d.lookup(&a.to_string()).expect("ok").expect("found");
        assert_eq!(found.entry.host, "h1");
        assert_eq!(d.lookup("alpha").expect("ok").expect("found").id, a);
        assert!(matches!(
            d.lookup("shared"),
            Err(FleetError::Ambiguous { .. })
        ));
        d.forget(&c);
        assert_eq!(d.lookup("shared").expect("ok").expect("found").id, b);
        // Re-registering under a new name drops the old name.
        d.apply(a, entry("h1", "beta"));
        assert!(d.lookup("alpha").expect("ok").is_none());
        assert_eq!(d.counts().get("h1"), Some(&1));
        d.retain(|k| k == b.to_string());
        assert_eq!(d.len(), 1);
    }
}
