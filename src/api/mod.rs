//! The HTTP face of the daemon: REST routes under `/v1` (and the same routes unversioned, as
//! Aegis v0.3 serves them), auth and rate limiting, body limits, and the JSON error format.
//!
//! Route order matters in warp: every route matches its path before its method, so an unknown
//! path is a 404 and a known path with the wrong method a 405. Handlers never reject; they
//! answer with a response or an [`ApiError`], so a handler's error is never replaced by
//! another route's rejection.

pub mod error;
pub mod filters;
pub mod guard;
pub mod permissions;
pub mod sessions;
pub mod wire;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::StatusCode;

use crate::config::Config;
use crate::session::SessionManager;
use guard::Gate;
use sessions::ApiResult;

/// Shared state of the API.
pub struct App {
    pub config: Config,
    pub sessions: SessionManager,
    pub gate: Arc<Gate>,
    pub started: Instant,
    pty_health: Mutex<Option<(Instant, Result<(), String>)>>,
}

/// How long a pty availability check stays valid. Checking allocates a pty, so `/health`
/// polled thousands of times a second must not do it every time.
const PTY_CHECK_TTL: Duration = Duration::from_secs(5);

impl App {
    pub fn new(config: Config) -> Arc<App> {
        let gate = Arc::new(Gate::new(config.auth_token.as_deref(), config.rate_limit));
        let sessions = SessionManager::new(
            config.sessions.clone(),
            Arc::new(crate::events::EventBus::new()),
        );
        Arc::new(App {
            config,
            sessions,
            gate,
            started: Instant::now(),
            pty_health: Mutex::new(None),
        })
    }

    fn pty_health(&self) -> Result<(), String> {
        let mut cached = self.pty_health.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, r)) = cached.as_ref()
            && at.elapsed() < PTY_CHECK_TTL
        {
            return r.clone();
        }
        let result = portable_pty::native_pty_system()
            .openpty(portable_pty::PtySize {
                rows: 2,
                cols: 2,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map(drop)
            .map_err(|e| e.to_string());
        *cached = Some((Instant::now(), result.clone()));
        result
    }
}

async fn health(app: Arc<App>) -> ApiResult {
    let all = app.sessions.list();
    let pty = app.pty_health();
    let now = time::OffsetDateTime::now_utc();
    let body = wire::Health {
        status: if pty.is_ok() { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        platform: std::env::consts::OS,
        uptime: app.started.elapsed().as_secs(),
        sessions: wire::SessionCounts {
            active: all.iter().filter(|h| !h.is_exited()).count(),
            total: all.len(),
        },
        pty: wire::PtyHealth {
            healthy: pty.is_ok(),
            error: pty.err(),
        },
        timestamp: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    Ok(sessions::json(StatusCode::OK, &body))
}

/// Every route, with auth, limits and the error format applied. Each feature module owns
/// its routes; this only composes them.
pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    let guard = guard::guard(app.gate.clone()).map(|_| ()).untuple_one();
    let health = warp::path!("health")
        .and(warp::get())
        .and(filters::with_app(&app))
        .then(|a| async { filters::finish(health(a).await) });
    let guarded = sessions::routes(app.clone())
        .or(permissions::routes(app.clone()))
        .unify();
    let api = health.or(guard.and(guarded)).unify().boxed();
    let versioned = warp::path("v1").and(api.clone());
    versioned
        .or(api)
        .unify()
        .recover(error::handle_rejection)
        .unify()
        .with(warp::trace::request())
}

/// Bind, print the bound address on stdout, and serve until SIGINT/SIGTERM. On shutdown,
/// in-flight requests finish and every session's process group is stopped.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;

    crate::pty::reaper::become_subreaper();
    let state_dir = crate::store::prepare_state_dir(&config.state_dir)?;
    let addr = SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let app = App::new(Config {
        state_dir: state_dir.clone(),
        ..config
    });

    // One line on stdout that tests and scripts read to learn the port.
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "aegis listening on http://{bound}")?;
        out.flush()?;
    }
    tracing::info!(%bound, state_dir = %state_dir.display(), auth = app.config.auth_token.is_some(), "daemon started");

    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    tokio::spawn(sweep_rate_limits(app.gate.clone(), shutdown.clone()));

    warp::serve(routes(app.clone()))
        .incoming(listener)
        .graceful(shutdown.clone().cancelled_owned())
        .run()
        .await;

    tracing::info!("stopping sessions");
    app.sessions.kill_all().await;
    tracing::info!("daemon stopped");
    Ok(())
}

async fn signal_shutdown(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; shut down with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    token.cancel();
}

/// Forget idle clients' rate-limit state every minute, or the map grows with every address.
async fn sweep_rate_limits(gate: Arc<Gate>, token: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tick.tick() => gate.sweep(),
        }
    }
}
