//! The composition root: `aegis serve` builds the daemon here and runs it until a signal.
//!
//! Start-up, in order: become the subreaper of orphaned grandchildren and start the reaper;
//! prepare the state dir; bind the API port; build every part of the daemon ([`build`]: the
//! event bus with the metrics observing it, the session manager, webhooks, the memory, work
//! and orchestration stores, the API's state); restore the previous daemon's sessions; print
//! the bound address; then start the background tasks (signal handling, the webhook
//! dispatcher, the local socket for attach and the tmux stand-in, the registry writer, the
//! removal listener, the rate-limit sweep) and serve HTTP.
//!
//! Shutdown is a signal plus a wait: SIGINT/SIGTERM cancels one token; HTTP finishes its
//! in-flight requests, WebSockets and runners get two seconds, sessions are left to their
//! holders (or killed with `--kill-sessions-on-exit`), and the registry is written once more.
//!
//! This is the only module that knows every other one. Each part gets what it uses: the API
//! its `App`, orchestration an `orchestrate::Context`, the local socket an attach `Hub` and a
//! `TmuxHost`, the webhook dispatcher the bus and the API's event encoder.

mod fleet_node;
mod socket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::App;
use crate::api::guard::Gate;
use crate::config::Config;
use crate::session::SessionManager;

/// Every part of the daemon, wired together (see the module doc).
fn build(config: Config) -> Arc<App> {
    let gate = Arc::new(crate::api::guard::Gate::new(
        config.auth_token.as_deref(),
        config.rate_limit,
    ));
    let sessions = Arc::new(SessionManager::new(
        config.sessions.clone(),
        // Events flow one way: the metrics observe the bus, the bus does not know them.
        Arc::new(crate::events::EventBus::with_observer(Box::new(|e| {
            crate::metrics::global().on_event(e)
        }))),
    ));
    // Config-file webhooks were validated when the file was loaded.
    let webhooks =
        crate::webhooks::Webhooks::new(&config.integrations.webhooks).unwrap_or_else(|e| {
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
        audit: Arc::new(crate::api::audit::AuditLog::new(&config.state_dir)),
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
        pty_health: Default::default(),
        tmux_places: Default::default(),
        fleet: Default::default(),
    })
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
    let scripts = crate::session::shell::dir_in(&state_dir);
    match crate::session::shell::install(&scripts) {
        Ok(()) => config.sessions.shell_scripts = Some(scripts),
        Err(e) => {
            tracing::warn!(error = %e, dir = %scripts.display(), "shell integration is off: its scripts could not be written");
        }
    }
    if config.durability.holders {
        // Every session's holder listens inside the state dir; a path too long for a Unix
        // socket would break every session with an obscure error, so say it now.
        let probe = crate::store::session_dir(&state_dir, &uuid::Uuid::nil())
            .join(crate::holder::SOCKET_FILE);
        crate::store::check_socket_path(&probe, "a session's holder socket").map_err(|e| {
            anyhow::anyhow!(
                "{e} (state dir {}; or run with --no-holders)",
                state_dir.display()
            )
        })?;
        config.sessions.holder = Some(crate::holder::client::HolderSettings {
            state_dir: state_dir.clone(),
            program: crate::holder::client::HolderProgram::locate()
                .await
                .context("locating the holder program")?,
            ring_bytes: config.durability.ring_bytes,
            recording: config.durability.recording.clone(),
        });
    }
    let app = build(Config {
        state_dir: state_dir.clone(),
        ..config
    });
    app.gate
        .use_keys(Arc::new(crate::store::keys::KeyStore::load(&state_dir)?));
    app.gate.set_read_only(app.config.read_only);
    // Find the previous daemon's sessions before announcing the port, so the first request
    // already sees them.
    let history = crate::session::persist::restore(&app.sessions, &state_dir).await?;
    // Join the fleet once the restored sessions are known (so the directory lists them) and
    // before the routes are built (so they include the fleet's).
    let fleet = match app.config.fleet.clone() {
        Some(mut fleet_config) => {
            fleet_config
                .advertise_url
                .get_or_insert_with(|| format!("http://{bound}"));
            let node = Arc::new(fleet_node::DaemonNode::new(&app));
            let fleet =
                crate::fleet::Fleet::start(fleet_config, node, CancellationToken::new()).await?;
            let _ = app.fleet.set(fleet.clone());
            Some(fleet)
        }
        None => None,
    };

    // The local sockets are bound before the port is announced: a client that read the
    // announcement must find them. Besides the state dir's, the one the `tmux` stand-in looks
    // for without AEGIS_STATE_DIR, beside tmux's own sockets.
    let mut local_sockets = vec![];
    match crate::tmux::discover::daemon_listen_path(
        &app.config.tmux.label,
        app.config.tmux.socket.as_deref(),
        &crate::tmux::discover::base_dir_from_env(),
    ) {
        Ok(path) => local_sockets.extend(socket::listen(&path).map(|l| (path, l))),
        Err(e) => {
            tracing::error!(error = %e, "the tmux stand-in's discovery socket is unavailable; `tmux` finds this daemon only with AEGIS_STATE_DIR")
        }
    }
    let own = crate::attach::server::socket_path(&state_dir);
    local_sockets.extend(socket::listen(&own).map(|l| (own, l)));

    // One line on stdout that tests and scripts read to learn the port.
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "aegis listening on http://{bound}")?;
        out.flush()?;
    }
    tracing::info!(%bound, state_dir = %state_dir.display(), auth = app.config.auth_token.is_some(), "daemon started");

    let shutdown = app.shutdown.clone();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    app.webhooks.spawn_dispatcher(
        &app.sessions.bus,
        crate::api::event_wire::webhook_body,
        shutdown.clone(),
    );
    tokio::spawn(sweep_rate_limits(app.gate.clone(), shutdown.clone()));
    let attach_hub = Arc::new(crate::attach::server::Hub::new(
        app.sessions.clone(),
        fleet.clone(),
    ));
    let tmux = crate::tmux::host::TmuxHost::new(
        app.sessions.clone(),
        state_dir.clone(),
        match &app.config.tmux.socket {
            Some(p) => crate::tmux::host::Home::Path(std::path::absolute(p)?.display().to_string()),
            None => crate::tmux::host::Home::Label(app.config.tmux.label.clone()),
        },
        attach_hub.clone(),
        app.tmux_places.clone(),
    );
    tmux.spawn_reaper(shutdown.clone());
    crate::tmux::rename::spawn(tmux.clone(), shutdown.clone());
    for (path, listener) in local_sockets {
        tokio::spawn(socket::run(
            listener,
            path,
            attach_hub.clone(),
            tmux.clone(),
            shutdown.clone(),
        ));
    }
    reconcile_records(&app);
    tokio::spawn(on_removals(app.clone(), shutdown.clone()));
    let registry_stop = CancellationToken::new();
    let registry_writer = {
        let app = app.clone();
        let facts_changed = app.sessions.hooks.facts_changed.clone();
        tokio::spawn(crate::store::registry::run_writer(
            state_dir.clone(),
            app.sessions.bus.clone(),
            move || crate::session::persist::records(&app.sessions),
            facts_changed,
            history,
            registry_stop.clone(),
        ))
    };

    warp::serve(crate::api::routes(app.clone()))
        .incoming(listener)
        .graceful(shutdown.clone().cancelled_owned())
        .run()
        .await;
    // WebSockets saw the token and are closing; give them a moment to send Close frames.
    app.tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), app.tasks.wait()).await;
    if let Some(fleet) = fleet {
        // Peers see this host leave at once instead of after its missed heartbeats.
        fleet.stop().await;
    }

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
