//! The HTTP face of the daemon: REST routes under `/v1` (and the same routes unversioned, as
//! Aegis v0.3 serves them), auth and rate limiting, body limits, and the JSON error format.
//!
//! Route order matters in warp: every route matches its path before its method, so an unknown
//! path is a 404 and a known path with the wrong method a 405. Handlers never reject; they
//! answer with a response or an [`ApiError`], so a handler's error is never replaced by
//! another route's rejection.

pub mod audit;
pub mod compat;
pub mod dashboard;
pub mod error;
pub mod event_wire;
pub mod events;
pub mod executions;
pub mod files;
pub mod filters;
pub mod guard;
pub mod hooks;
pub mod keys;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod orchestrate;
pub mod permissions;
pub mod recordings;
pub mod sessions;
pub mod stream;
pub mod tools;
pub mod transcript;
pub mod uistate;
pub mod wire;
pub mod work;
pub mod world;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
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
    /// Cancelled when the daemon shuts down; ends SSE streams and WebSocket connections.
    pub shutdown: CancellationToken,
    /// Upgraded WebSockets and execution trackers, which warp's graceful shutdown does not see.
    pub tasks: TaskTracker,
    /// Outbound webhook endpoints, deliveries and dead letters.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Idempotency keys of inbound stimuli (24 h).
    pub stimuli_seen: crate::webhooks::inbound::Dedupe,
    /// One-shot executions and their event logs.
    pub executions: executions::Executions,
    /// The memory bridge's persisted key/value entries.
    pub memory: crate::store::memory::MemoryStore,
    /// Workers in git worktrees and the verify slots (`crate::work`).
    pub work: crate::work::Work,
    /// Pipelines, reviews and session roles (`crate::orchestrate`).
    pub orch: Arc<crate::orchestrate::Orchestrator>,
    /// The one template store of this daemon: its mutex serializes every template change.
    pub templates: crate::orchestrate::templates::TemplateStore,
    /// Model prices for `tokenUsage.estimatedCostUsd` (defaults + the config's `[pricing]`).
    pub prices: crate::transcript::pricing::PriceTable,
    /// Who did which write, when (`audit.jsonl` in the state dir).
    pub audit: Arc<audit::AuditLog>,
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
        // Config-file webhooks were validated when the file was loaded.
        let webhooks = crate::webhooks::Webhooks::new(&config.integrations.webhooks)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "webhook setup failed; outbound webhooks disabled");
                crate::webhooks::Webhooks::new(&[]).unwrap_or_else(|_| unreachable!())
            });
        let memory = crate::store::memory::MemoryStore::load(&config.state_dir);
        let work = crate::work::Work::load(&config.state_dir);
        let orch = Arc::new(crate::orchestrate::Orchestrator::load(&config.state_dir));
        let templates = crate::orchestrate::templates::TemplateStore::new(&config.state_dir);
        let prices =
            crate::transcript::pricing::PriceTable::with_overrides(&config.integrations.pricing);
        Arc::new(App {
            prices,
            memory,
            audit: Arc::new(audit::AuditLog::new(&config.state_dir)),
            config,
            sessions,
            gate,
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            webhooks,
            stimuli_seen: Default::default(),
            executions: Default::default(),
            work,
            orch,
            templates,
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
    let health = warp::path!("health")
        .and(warp::get())
        .and(filters::with_app(&app))
        .then(|a| async { filters::finish(health(a).await) });
    // compat first: its `sessions/health` must not be taken for a session named "health".
    let guarded = compat::routes(app.clone())
        // work before sessions: `sessions/dispatch-worker` is no session name, and DELETE of
        // a worker removes its worktree too.
        .or(work::routes(app.clone()))
        .unify()
        .or(files::routes(app.clone()))
        .unify()
        .or(sessions::routes(app.clone()))
        .unify()
        .or(events::routes(app.clone()))
        .unify()
        .or(stream::routes(app.clone()))
        .unify()
        .or(executions::routes(app.clone()))
        .unify()
        .or(crate::webhooks::routes::routes(app.clone()))
        .unify()
        .or(recordings::routes(app.clone()))
        .unify()
        .or(memory::routes(app.clone()))
        .unify()
        .or(keys::routes(app.clone()))
        .unify()
        .or(permissions::routes(app.clone()))
        .unify()
        .or(orchestrate::routes(app.clone()))
        .unify()
        .or(world::routes(app.clone()))
        .unify()
        .or(dashboard::auth_routes(app.clone()))
        .unify()
        .or(metrics::routes(app.clone()))
        .unify()
        .or(tools::routes(app.clone()))
        .unify()
        .or(openapi::routes(app.clone()))
        .unify();
    // Inbound webhooks authenticate by HMAC, not by API token.
    let inbound = crate::webhooks::routes::inbound_routes(app.clone());
    // Claude Code hooks authenticate by their per-session secret only, never the API token.
    let hook_routes = hooks::routes(app.clone());
    let api = health
        .or(inbound)
        .unify()
        .or(hook_routes)
        .unify()
        .or(audit::wrap(
            app.audit.clone(),
            guard::guard(app.gate.clone()),
            guarded,
        ))
        .unify()
        .boxed();
    let versioned = warp::path("v1").and(api.clone());
    // Prometheus scrapes `/metrics`, which takes the unversioned alias of `/v1/metrics`.
    let prometheus = metrics::prometheus_route(app.clone());
    let prometheus = if app.config.metrics_open {
        prometheus
    } else {
        guard::guard(app.gate.clone())
            .map(|_| ())
            .untuple_one()
            .and(prometheus)
            .boxed()
    };
    // The dashboard's page and assets come first: they need no token, so no guard runs for them.
    dashboard::routes()
        .or(versioned)
        .unify()
        .or(prometheus)
        .unify()
        .or(api)
        .unify()
        .recover(error::handle_rejection)
        .unify()
        .with(warp::log::custom(|info| {
            crate::metrics::global().http_request(
                info.method(),
                info.path(),
                info.status().as_u16(),
                info.elapsed(),
            );
        }))
        .with(warp::trace::request())
}

/// Bind, reattach the previous daemon's sessions, print the bound address on stdout, and
/// serve until SIGINT/SIGTERM. On shutdown, in-flight requests finish and the registry is
/// written; sessions keep running in their holders unless `--kill-sessions-on-exit`.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;

    crate::pty::reaper::become_subreaper();
    crate::pty::survive_file_size_limit();
    // Start the reaper now: with holders the daemon spawns no pty itself, but it still reaps
    // its exited holders and the orphans a killed holder leaves.
    crate::pty::reaper::global();
    let state_dir = crate::store::prepare_state_dir(&config.state_dir)?;
    let addr = SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let mut config = config;
    // Hooks post back to us on loopback, whatever address the API binds.
    config.sessions.hooks = Some(crate::hooks::HookSettings {
        base_url: format!("http://127.0.0.1:{}", bound.port()),
        dir: state_dir.join("hooks"),
    });
    if config.durability.holders {
        config.sessions.holder = Some(crate::holder::client::HolderSettings {
            state_dir: state_dir.clone(),
            program: crate::holder::client::HolderProgram::locate()
                .await
                .context("locating the holder program")?,
            ring_bytes: config.durability.ring_bytes,
            recording: config.durability.recording.clone(),
        });
    }
    let app = App::new(Config {
        state_dir: state_dir.clone(),
        ..config
    });
    app.gate
        .use_keys(Arc::new(crate::store::keys::KeyStore::load(&state_dir)?));
    app.gate.set_read_only(app.config.read_only);
    // Find the previous daemon's sessions before announcing the port, so the first request
    // already sees them.
    let history = crate::holder::restore::restore(&app.sessions, &state_dir).await?;

    // One line on stdout that tests and scripts read to learn the port.
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "aegis listening on http://{bound}")?;
        out.flush()?;
    }
    tracing::info!(%bound, state_dir = %state_dir.display(), auth = app.config.auth_token.is_some(), "daemon started");

    let shutdown = app.shutdown.clone();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    app.webhooks
        .spawn_dispatcher(&app.sessions.bus, shutdown.clone());
    tokio::spawn(sweep_rate_limits(app.gate.clone(), shutdown.clone()));
    tokio::spawn(crate::attach::server::run(app.clone(), shutdown.clone()));
    reconcile_records(&app);
    tokio::spawn(on_removals(app.clone(), shutdown.clone()));
    let registry_stop = CancellationToken::new();
    let registry_writer = {
        let app = app.clone();
        let facts_changed = app.sessions.hooks.facts_changed.clone();
        tokio::spawn(crate::store::registry::run_writer(
            state_dir.clone(),
            app.sessions.bus.clone(),
            move || crate::store::registry::records(&app.sessions),
            facts_changed,
            history,
            registry_stop.clone(),
        ))
    };

    warp::serve(routes(app.clone()))
        .incoming(listener)
        .graceful(shutdown.clone().cancelled_owned())
        .run()
        .await;
    // WebSockets saw the token and are closing; give them a moment to send Close frames.
    app.tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), app.tasks.wait()).await;

    if app.config.durability.kill_sessions_on_exit || !app.config.durability.holders {
        tracing::info!("stopping sessions");
        app.sessions.kill_all().await;
    } else {
        tracing::info!("leaving sessions running in their holders");
    }
    registry_stop.cancel();
    let _ = registry_writer.await;
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

/// After the previous daemon's sessions were restored: drop orchestration records of sessions
/// that are gone, and remove the worktrees of workers removed while no daemon watched.
fn reconcile_records(app: &App) {
    let exists = |id: &uuid::Uuid| app.sessions.get(&id.to_string()).is_ok();
    app.orch.retain(exists);
    for id in app.work.workers.orphans(exists) {
        tracing::info!(worker = %id, "worker session is gone; cleaning up its worktree");
        app.work.spawn_cleanup(id);
    }
}

/// Whatever route removed a session (DELETE, batch delete, a debrief's kill), forget what
/// other modules hold for it: a worker's worktree is cleaned up, an orchestration role and
/// completion are dropped.
async fn on_removals(app: Arc<App>, token: CancellationToken) {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = app.sessions.bus.subscribe();
    loop {
        let ev = tokio::select! {
            _ = token.cancelled() => return,
            ev = rx.recv() => ev,
        };
        match ev {
            Ok(ev) if ev.kind == crate::events::EventKind::SessionKilled => {
                app.work.spawn_cleanup(ev.session_id);
                app.orch.retain(|id| *id != ev.session_id);
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                // Catch up from the registry: whatever is gone now is cleaned up.
                tracing::warn!(
                    missed = n,
                    "removal listener lagged the event bus; reconciling with the registry"
                );
                reconcile_records(&app);
            }
            Err(RecvError::Closed) => return,
        }
    }
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
