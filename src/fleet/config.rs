//! Fleet flags of `aegis serve` and their resolution into a [`FleetConfig`]. Without `--nats`
//! there is no fleet and nothing else changes.
//!
//! The host id names this daemon on the bus: it is a token of NATS subjects and a KV key, so
//! it may hold only `A-Z a-z 0-9 - _` (no `.`, which separates subject tokens, and no
//! wildcards). The default, the machine's hostname, is made to fit by turning every other
//! character into `-` (`build-01.example.org` becomes `build-01-example-org`).

use std::path::PathBuf;
use std::time::Duration;

/// Longest host id. Subjects and KV keys allow far more; this keeps listings readable and
/// bounds what a peer can make us store per host.
pub const MAX_HOST_ID: usize = 64;

/// `aegis serve` flags for joining a fleet (flattened into the serve flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FleetArgs {
    /// Join a fleet through this NATS server (`nats://HOST:PORT`, `tls://...`; a
    /// comma-separated list for a cluster). Without it the daemon is a single host.
    #[arg(long = "nats", env = "AEGIS_NATS_URL")]
    pub nats: Option<String>,
    /// This daemon's name in the fleet (default: the hostname, made subject-safe).
    #[arg(long = "host-id", env = "AEGIS_HOST_ID")]
    pub host_id: Option<String>,
    /// NATS credentials file (JWT + nkey seed, as `nsc` writes it).
    #[arg(long = "nats-creds", env = "AEGIS_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// NATS user (with --nats-password) for servers configured with plain users.
    #[arg(long = "nats-user", env = "AEGIS_NATS_USER")]
    pub nats_user: Option<String>,
    /// Password of --nats-user.
    #[arg(
        long = "nats-password",
        env = "AEGIS_NATS_PASSWORD",
        hide_env_values = true
    )]
    pub nats_password: Option<String>,
    /// CA certificate (PEM) to trust for a TLS NATS server; TLS is then required.
    #[arg(long = "nats-tls-ca", env = "AEGIS_NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for NATS servers that verify clients: `CERT,KEY`.
    #[arg(
        long = "nats-tls-cert",
        env = "AEGIS_NATS_TLS_CERT",
        value_delimiter = ',',
        num_args = 2
    )]
    pub nats_tls_cert: Vec<PathBuf>,
    /// The URL peers and clients should use to reach this daemon's API (for WebSocket and
    /// attach, which do not travel over NATS). Default: http://<bound address>.
    #[arg(long = "advertise-url", env = "AEGIS_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Milliseconds between membership heartbeats. A host is `unreachable` after three
    /// missed ones.
    #[arg(
        long = "fleet-heartbeat-ms",
        env = "AEGIS_FLEET_HEARTBEAT_MS",
        default_value_t = 2000
    )]
    pub heartbeat_ms: u64,
    /// Events kept in memory while NATS is unreachable; older ones are dropped (and counted)
    /// past this.
    #[arg(
        long = "fleet-event-buffer",
        env = "AEGIS_FLEET_EVENT_BUFFER",
        default_value_t = 10_000
    )]
    pub event_buffer: usize,
    /// How long the fleet's event stream keeps events, in hours.
    #[arg(
        long = "fleet-events-max-age-hours",
        env = "AEGIS_FLEET_EVENTS_MAX_AGE_HOURS",
        default_value_t = 168
    )]
    pub events_max_age_hours: u64,
    /// Most bytes the fleet's event stream keeps (oldest events go first).
    #[arg(long = "fleet-events-max-bytes", env = "AEGIS_FLEET_EVENTS_MAX_BYTES", default_value_t = 1 << 30)]
    pub events_max_bytes: i64,
}

/// How to reach NATS and authenticate to it.
#[derive(Debug, Clone, Default)]
pub struct NatsAuth {
    pub creds_file: Option<PathBuf>,
    pub user_password: Option<(String, String)>,
    pub tls_ca: Option<PathBuf>,
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

/// The resolved fleet configuration.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Server URL(s), comma-separated as NATS clients take them.
    pub nats_url: String,
    pub auth: NatsAuth,
    pub host_id: String,
    /// Set by `serve` once the port is bound, unless given.
    pub advertise_url: Option<String>,
    pub heartbeat: Duration,
    pub event_buffer: usize,
    pub events_max_age: Duration,
    pub events_max_bytes: i64,
}

/// Membership entries outlive their host this long, so a dead host stays listed as
/// `unreachable` (with its last heartbeat) for an hour instead of vanishing at once; the
/// bucket's max age is what finally forgets it.
pub const HOST_ENTRY_MAX_AGE: Duration = Duration::from_secs(3600);

/// Heartbeats missed before a host counts as unreachable: one late heartbeat (a GC pause, a
/// busy NATS) must not flap a host, three in a row is a dead or cut-off daemon.
pub const MISSED_HEARTBEATS: u32 = 3;

/// The shortest heartbeat accepted: below this the KV bucket churns for no benefit.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);

impl FleetArgs {
    /// `None` without `--nats`: a single host, exactly as before.
    pub fn resolve(&self) -> anyhow::Result<Option<FleetConfig>> {
        let Some(url) = self
            .nats
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return Ok(None);
        };
        let host_id = match &self.host_id {
            Some(h) => validate_host_id(h)?,
            None => default_host_id()?,
        };
        let user_password = match (&self.nats_user, &self.nats_password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (Some(u), None) => Some((u.clone(), String::new())),
            (None, Some(_)) => anyhow::bail!("--nats-password needs --nats-user"),
            (None, None) => None,
        };
        let tls_client = match self.nats_tls_cert.as_slice() {
            [] => None,
            [cert, key] => Some((cert.clone(), key.clone())),
            _ => anyhow::bail!("--nats-tls-cert takes CERT,KEY"),
        };
        let heartbeat = Duration::from_millis(self.heartbeat_ms).max(MIN_HEARTBEAT);
        Ok(Some(FleetConfig {
            nats_url: url.to_string(),
            auth: NatsAuth {
                creds_file: self.nats_creds.clone(),
                user_password,
                tls_ca: self.nats_tls_ca.clone(),
                tls_client,
            },
            host_id,
            advertise_url: self.advertise_url.clone(),
            heartbeat,
            event_buffer: self.event_buffer.max(1),
            events_max_age: Duration::from_secs(self.events_max_age_hours.max(1) * 3600),
            events_max_bytes: self.events_max_bytes.max(1 << 20),
        }))
    }
}

/// A host id given by the user: refused, not rewritten, when it does not fit, so the name an
/// operator typed is the one the fleet shows.
pub fn validate_host_id(raw: &str) -> anyhow::Result<String> {
    if raw.is_empty() || raw.len() > MAX_HOST_ID || !raw.bytes().all(is_host_id_byte) {
        anyhow::bail!(
            "invalid host id {raw:?}: use 1 to {MAX_HOST_ID} characters among A-Z a-z 0-9 - _"
        );
    }
    Ok(raw.to_string())
}

fn is_host_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The machine's hostname with every character a subject token cannot hold turned into `-`.
pub fn default_host_id() -> anyhow::Result<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    sanitize_host_id(raw.trim()).ok_or_else(|| {
        anyhow::anyhow!("cannot tell this machine's hostname; pass --host-id (or AEGIS_HOST_ID)")
    })
}

fn sanitize_host_id(raw: &str) -> Option<String> {
    let id: String = raw
        .bytes()
        .take(MAX_HOST_ID)
        .map(|b| if is_host_id_byte(b) { b as char } else { '-' })
        .collect();
    (!id.is_empty()).then_some(id)
}

impl FleetConfig {
    /// Heartbeat age after which a host is unreachable.
    pub fn dead_after(heartbeat: Duration) -> Duration {
        heartbeat * MISSED_HEARTBEATS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_are_subject_tokens() {
        assert!(validate_host_id("build-01_a").is_ok());
        for bad in ["", "a.b", "a*", "a>", "a b", &"x".repeat(65)] {
            assert!(validate_host_id(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            sanitize_host_id("build-01.example.org").as_deref(),
            Some("build-01-example-org")
        );
        assert_eq!(sanitize_host_id(""), None);
    }

    #[test]
    fn no_nats_no_fleet() {
        assert!(FleetArgs::default().resolve().expect("resolves").is_none());
        let args = FleetArgs {
            nats: Some("nats://127.0.0.1:4222".into()),
            host_id: Some("h1".into()),
            heartbeat_ms: 10,
            event_buffer: 0,
            ..Default::default()
        };
        let c = args.resolve().expect("resolves").expect("fleet");
        assert_eq!(c.heartbeat, MIN_HEARTBEAT);
        assert_eq!(c.event_buffer, 1);
    }
}
