//! The HTTP face of the daemon: REST routes under `/v1` (and the same routes unversioned, as
//! Aegis v0.3 serves them), auth and rate limiting, body limits, and the JSON error format.
//!
//! Route order matters in warp: every route matches its path before its method, so an unknown
//! path is a 404 and a known path with the wrong method a 405. Handlers never reject; they
//! answer with a response or an [`ApiError`], so a handler's error is never replaced by
//! another route's rejection.

pub mod audit;
pub mod compat;
pub mod create;
pub mod dashboard;
pub mod detect;
pub mod error;
pub mod event_payloads;
pub mod event_wire;
pub mod events;
pub mod executions;
pub mod files;
pub mod filters;
pub mod fleet;
pub mod guard;
pub mod hooks;
pub mod keys;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod orchestrate;
pub mod permissions;
pub mod recordings;
pub mod reply;
pub mod route;
pub mod schemas;
pub mod sessions;
pub mod shell;
pub mod sse_tokens;
pub mod stream;
pub mod tools;
pub mod transcript;
pub mod uistate;
pub mod webhooks;
pub mod wire;
pub mod work;
pub mod world;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use warp::Filter;
use warp::http::StatusCode;

use crate::config::Config;
use crate::session::SessionManager;
use guard::Gate;
use reply::ApiResult;
use route::{Group, Table};

/// Shared state of the API.
pub struct App {
    pub config: Config,
    pub sessions: Arc<SessionManager>,
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
    /// The last pty availability check, for `/health` (see [`PTY_CHECK_TTL`]).
    pub pty_health: PtyHealth,
    /// Where each tmux stand-in pane sits (session, window, pane), for session info.
    pub tmux_places: Arc<crate::tmux::host::Places>,
    /// This daemon's fleet membership with `--nats`; set once at start-up, before the routes
    /// are built. Unset: a single host, and `/v1/fleet/...` says so.
    pub fleet: std::sync::OnceLock<Arc<crate::fleet::Fleet>>,
}

/// A cached pty availability check: when it ran and what it found.
#[derive(Default)]
pub struct PtyHealth(Mutex<Option<(Instant, Result<(), String>)>>);

/// How long a pty availability check stays valid. Checking allocates a pty, so `/health`
/// polled thousands of times a second must not do it every time.
const PTY_CHECK_TTL: Duration = Duration::from_secs(5);

impl App {
    /// What pipeline and review runners get: the sessions, the orchestration state and the
    /// daemon's task tracker and shutdown token, not the whole API state.
    pub fn orchestration(&self) -> crate::orchestrate::Context {
        crate::orchestrate::Context {
            sessions: self.sessions.clone(),
            orch: self.orch.clone(),
            tasks: self.tasks.clone(),
            shutdown: self.shutdown.clone(),
        }
    }

    fn pty_health(&self) -> Result<(), String> {
        let mut cached = self.pty_health.0.lock().unwrap_or_else(|p| p.into_inner());
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
    Ok(reply::json(StatusCode::OK, &body))
}

/// Every route of the daemon, in the order the router tries them, group by group. The router
/// ([`routes`]) and the OpenAPI document ([`openapi::document`]) are both built from this.
pub fn declare(t: &mut Table) {
    t.group(Group::Open);
    t.route(route::get("/health").answers::<wire::Health>(), |p, app| {
        p.none()
            .and(filters::with_app(app))
            .then(|a| async { reply::finish(health(a).await) })
    });
    t.group(Group::Fleet);
    fleet::routes(t);
    t.group(Group::Inbound);
    webhooks::inbound_routes(t);
    t.group(Group::Hooks);
    hooks::routes(t);
    t.group(Group::Guarded);
    // compat first: its `sessions/health` must not be taken for a session named "health".
    compat::routes(t);
    // work before sessions: `sessions/dispatch-worker` is no session name, and DELETE of a
    // worker removes its worktree too.
    work::routes(t);
    files::routes(t);
    shell::routes(t);
    sessions::routes(t);
    events::routes(t);
    sse_tokens::routes(t);
    stream::routes(t);
    executions::routes(t);
    webhooks::routes(t);
    recordings::routes(t);
    memory::routes(t);
    keys::routes(t);
    permissions::routes(t);
    detect::routes(t);
    orchestrate::routes(t);
    world::routes(t);
    dashboard::auth_routes(t);
    metrics::routes(t);
    tools::routes(t);
    openapi::routes(t);
    t.group(Group::Page);
    dashboard::routes(t);
    t.group(Group::Prometheus);
    metrics::prometheus_route(t);
}

/// Every route, with auth, limits and the error format applied: the table's groups, each
/// behind its guard.
pub fn routes(
    app: Arc<App>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    let mut table = Table::serving(&app);
    declare(&mut table);
    let group = |g: Group| {
        table
            .filter_of(g)
            .unwrap_or_else(|| warp::any().and_then(no_route).boxed())
    };
    let guarded = audit::wrap(
        app.audit.clone(),
        guard::guard(app.gate.clone()),
        group(Group::Guarded),
    );
    let api = group(Group::Open)
        .or(group(Group::Fleet))
        .unify()
        .or(group(Group::Inbound))
        .unify()
        .or(group(Group::Hooks))
        .unify()
        .or(guarded)
        .unify()
        .boxed();
    let versioned = warp::path("v1").and(api.clone());
    // Prometheus scrapes `/metrics`, which takes the unversioned alias of `/v1/metrics`.
    let prometheus = group(Group::Prometheus);
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
    group(Group::Page)
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

/// The filter of a group without routes: it matches nothing.
async fn no_route() -> Result<warp::reply::Response, warp::Rejection> {
    Err(warp::reject::not_found())
}
