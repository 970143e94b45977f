//! Daemon configuration: command-line flags and environment variables, resolved into one
//! [`Config`]. Flags win over the environment; defaults are safe (loopback only).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::session::manager::SessionDefaults;

/// `aegis serve` flags. Every flag has an `AEGIS_*` environment equivalent.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to bind. Anything but loopback requires a token (--token or AEGIS_AUTH_TOKEN).
    #[arg(long, env = "AEGIS_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one (the bound address is printed on stdout).
    #[arg(long, env = "AEGIS_PORT", default_value_t = 9100)]
    pub port: u16,
    /// State directory (created with mode 0700). Default: $XDG_STATE_HOME/aegis.
    #[arg(long, env = "AEGIS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `aegis=debug`). Logs go to stderr.
    #[arg(long, env = "AEGIS_LOG", default_value = "info,warp=warn")]
    pub log_level: String,
    /// Requests per second allowed per credential (or per client address without one); 0 turns
    /// rate limiting off.
    #[arg(long, env = "AEGIS_RATE_LIMIT", default_value_t = 200)]
    pub rate_limit: u32,
    /// Burst allowed above the steady rate.
    #[arg(long, env = "AEGIS_RATE_BURST", default_value_t = 1000)]
    pub rate_burst: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "AEGIS_MAX_BODY", default_value_t = 1024 * 1024)]
    pub max_body_bytes: u64,
    /// Most live sessions.
    #[arg(long, env = "AEGIS_MAX_SESSIONS", default_value_t = 2000)]
    pub max_sessions: usize,
    /// Milliseconds without output after which a session counts as idle.
    #[arg(long, env = "AEGIS_QUIET_MS", default_value_t = 750)]
    pub quiet_ms: u64,
    /// Milliseconds a session may show `working` without any screen change before it counts
    /// as `stalled` (per session: `stallThresholdMs`); 0 disables.
    #[arg(long, env = "AEGIS_STALL_MS", default_value_t = 300_000)]
    pub stall_ms: u64,
    /// Milliseconds a permission request waits for an answer before the session's default
    /// action (reject unless a policy says otherwise) applies; 0 waits forever.
    #[arg(long, env = "AEGIS_PERMISSION_TIMEOUT_MS", default_value_t = 0)]
    pub permission_timeout_ms: u64,
    /// Allow binding a non-loopback address without a token. Do not use on shared networks.
    #[arg(long, env = "AEGIS_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// TOML config file: webhooks, agent profiles, templates, stimulus rules.
    #[arg(long, env = "AEGIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Stop every session when the daemon exits. By default sessions keep running in their
    /// holder processes and the next daemon reattaches them.
    #[arg(long, env = "AEGIS_KILL_SESSIONS_ON_EXIT")]
    pub kill_sessions_on_exit: bool,
    /// Run sessions inside the daemon instead of in holder processes (they then end with it).
    #[arg(long, env = "AEGIS_NO_HOLDERS")]
    pub no_holders: bool,
    /// Rotate a session's recording once it reaches this many bytes.
    #[arg(long, env = "AEGIS_RECORDING_MAX_BYTES", default_value_t = crate::store::recording::RecordingLimits::default().max_bytes)]
    pub recording_max_bytes: u64,
    /// Rotated recordings kept per session besides the current one.
    #[arg(long, env = "AEGIS_RECORDING_KEEP", default_value_t = crate::store::recording::RecordingLimits::default().keep)]
    pub recording_keep: u32,
    /// Refuse every write (anything but GET) with 403 READ_ONLY.
    #[arg(long, env = "AEGIS_READ_ONLY")]
    pub read_only: bool,
    /// Raw output each holder keeps to rebuild the screen after a daemon restart.
    #[arg(long, env = "AEGIS_HOLDER_RING_BYTES", default_value_t = crate::holder::client::DEFAULT_RING_BYTES)]
    pub holder_ring_bytes: usize,
    /// Directories the file browser may list (`GET /v1/files`), repeatable; the environment
    /// variable takes a ':'-separated list. Default: none, so nothing is browsable until
    /// configured.
    #[arg(
        long = "project-root",
        env = "AEGIS_PROJECT_ROOTS",
        value_delimiter = ':'
    )]
    pub project_roots: Vec<PathBuf>,
    /// Serve Prometheus `GET /metrics` without a token (for scrapers on a trusted network);
    /// by default it needs the same credentials as the API.
    #[arg(long, env = "AEGIS_METRICS_OPEN")]
    pub metrics_open: bool,
    /// The tmux socket name this daemon answers for, as `tmux -L`: it also listens at
    /// `$TMUX_TMPDIR/aegis-UID/NAME` (default `/tmp`), where the `tmux` stand-in looks.
    #[arg(
        short = 'L',
        long = "tmux-label",
        env = "AEGIS_TMUX_LABEL",
        default_value = "default"
    )]
    pub tmux_label: String,
    /// Listen for the stand-in at this path instead, as `tmux -S`.
    #[arg(short = 'S', long = "tmux-socket", env = "AEGIS_TMUX_SOCKET")]
    pub tmux_socket: Option<PathBuf>,
    #[command(flatten)]
    pub fleet: crate::fleet::FleetArgs,
}

/// Where the daemon listens for the tmux stand-in besides its state directory.
#[derive(Debug, Clone)]
pub struct TmuxListen {
    pub label: String,
    pub socket: Option<PathBuf>,
}

/// What survives the daemon, and how much is recorded.
#[derive(Debug, Clone)]
pub struct Durability {
    pub kill_sessions_on_exit: bool,
    pub holders: bool,
    pub ring_bytes: usize,
    pub recording: crate::store::recording::RecordingLimits,
}

/// Resolved configuration for the daemon.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub state_dir: PathBuf,
    /// The master API token (`--token` or `AEGIS_AUTH_TOKEN`); `None` means no auth on
    /// loopback.
    pub auth_token: Option<String>,
    pub rate_limit: Option<RateLimit>,
    pub max_body_bytes: u64,
    pub sessions: SessionDefaults,
    /// The config file's integrations section (empty without `--config`).
    pub integrations: crate::webhooks::config::FileConfig,
    pub durability: Durability,
    /// `--read-only`.
    pub read_only: bool,
    /// `--project-root`: the roots of `GET /v1/directories` and `GET /v1/files`.
    pub project_roots: Vec<PathBuf>,
    /// `--metrics-open`: `GET /metrics` skips the API guard.
    pub metrics_open: bool,
    /// `-L`/`-S`: the tmux stand-in's discovery socket.
    pub tmux: TmuxListen,
    /// `--nats` and the other fleet flags; `None` is a single host.
    pub fleet: Option<crate::fleet::FleetConfig>,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Config {
    /// `auth_token` is the global `--token` flag (or `AEGIS_AUTH_TOKEN`), shared with the
    /// client subcommands; an empty one means none.
    pub fn from_args(args: &ServeArgs, auth_token: Option<String>) -> anyhow::Result<Config> {
        let auth_token = auth_token.filter(|t| !t.is_empty());
        if auth_token.is_none() && !args.host.is_loopback() && !args.insecure_no_auth {
            anyhow::bail!(
                "refusing to bind {} without a token (--token or AEGIS_AUTH_TOKEN): anyone on the \
                 network could run commands. Set a token, bind 127.0.0.1, or pass --insecure-no-auth",
                args.host
            );
        }
        let state_dir = match &args.state_dir {
            Some(d) => d.clone(),
            None => crate::store::default_state_dir()?,
        };
        let rate_limit = (args.rate_limit > 0).then(|| RateLimit {
            per_second: args.rate_limit,
            burst: args.rate_burst.max(1),
        });
        // An invalid profile stops start-up with its file and line; never a silent fallback.
        let profiles = crate::detect::profile::ProfileSet::load(Some(&state_dir.join("profiles")))?;
        let sessions = SessionDefaults {
            max_sessions: args.max_sessions,
            quiet_period: Duration::from_millis(args.quiet_ms),
            profiles: std::sync::Arc::new(profiles),
            stall: (args.stall_ms > 0).then(|| Duration::from_millis(args.stall_ms)),
            permission_timeout: (args.permission_timeout_ms > 0)
                .then(|| Duration::from_millis(args.permission_timeout_ms)),
            ..SessionDefaults::default()
        };
        Ok(Config {
            host: args.host,
            port: args.port,
            state_dir,
            auth_token,
            rate_limit,
            max_body_bytes: args.max_body_bytes,
            sessions,
            integrations: match &args.config {
                Some(p) => crate::webhooks::config::FileConfig::load(p)?,
                None => Default::default(),
            },
            read_only: args.read_only,
            project_roots: args.project_roots.clone(),
            metrics_open: args.metrics_open,
            tmux: TmuxListen {
                label: args.tmux_label.clone(),
                socket: args.tmux_socket.clone(),
            },
            fleet: args.fleet.resolve()?,
            durability: Durability {
                kill_sessions_on_exit: args.kill_sessions_on_exit,
                holders: !args.no_holders,
                ring_bytes: args.holder_ring_bytes,
                recording: crate::store::recording::RecordingLimits {
                    max_bytes: args.recording_max_bytes.max(4096),
                    keep: args.recording_keep,
                },
            },
        })
    }
}
