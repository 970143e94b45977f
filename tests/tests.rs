//! One integration binary. Every test starts the real `aegis` binary and drives real programs
//! in real ptys. Modules:
//! - `sessions`: the session lifecycle through REST (shell, REPL, paste, queries, kill, flood).
//! - `api_errors`: auth, rate limits and the error format on every bad-input path.
//! - `cli`: the `aegis` client subcommands against a running daemon.
//! - `compat`: the Aegis v0.3 routes and shapes its clients read.
//! - `launch`: per-agent launch options (permission modes, resume, command overrides).
//! - `props`: property tests of the screen model, request parsers and input queue.
//! - `streams`: SSE events and replay, SSE tokens, execution streams.
//! - `websocket`: the WebSocket terminal (snapshot, echo, read-only), a slow consumer.
//! - `webhooks`: outbound delivery, retry and dead letters; inbound HMAC, dedupe, stimuli.
//! - `screen_diff`: the screen model against real tmux 3.3a, one byte-stream program per probe.
//! - `tmux_compat`: the tmux stand-in against real tmux 3.3a (differential).
//! - `tidy`: rules about the source tree (file length, names, docs, layers), with reasons.
//! - `attach`: `aegis attach` driven inside a real pty.
//! - `durability`: sessions in holder processes surviving daemon crashes and restarts, the
//!   registry, recordings and transcripts.
//! - `store`: persisted state besides sessions: memory entries and TTLs, API keys and scopes.
//! - `fixtures`: every recorded screen under tests/fixtures/screens through the engine.
//! - `permissions`: approvals, policies, expiry, agent-aware send, profile start-up errors.
//! - `load`: load and fault tests: concurrent sends, hostile children, idle/slow connections.
//! - `openapi`: the OpenAPI description covers every route; auth on every route.
//! - `security`: audit log, refused env names, private state files, CORS off, loopback bind.
//! - `detect`: state detection on fake Claude/Codex/Gemini agents, per agent and state.
//! - `shells`: shell sessions on real bash and zsh: jobs holding the terminal, the prompt idle.
//! - `work`: verify (quality gate), git-worktree workers, debriefs.
//! - `files`: uploads, file listing, diagnostics.
//! - `orchestrate`: spawn/fork, pipelines, world/swarm.
//! - `templates`: session templates (variables, profile, persistence).
//! - `consensus`: consensus reviews (majority, timeout, tie).
//! - `dashboard`: the web dashboard's cookie sign-in, and the page in headless Chromium.
//! - `hooks`: Claude Code hooks (settings file, secret, hook-driven states, hook approvals),
//!   transcripts, uiState, memoryKeys.
//! - `fleet`: the fleet layer on a real nats-server (membership, directory, forwarding, the
//!   fleet event stream, outages, peers' NATS permissions).
//! - `fleet_daemons`: real `aegis serve --nats` daemons as one fleet: create, drive and read
//!   events through different nodes, kill -9 and rejoin, a NATS outage, `aegis ls --fleet`,
//!   the dashboard's host column in headless Chromium.
//! - `real_agents`: the real Claude Code, Codex CLI and Gemini CLI (tests/agents) against a
//!   scripted model server, per agent and scenario.
//! - `faces`: `aegis mcp` with the PyPI MCP client, `/v1/tools`, Prometheus `/metrics` parsed by
//!   prometheus_client, the v0.3 metrics shapes, `aegis doctor`, completions, dist/ samples.

// Tests start the daemon and helper programs directly; only the daemon is confined to pty::spawn.
#![allow(clippy::disallowed_methods)]

mod support;

mod api_errors;
mod attach;
mod cli;
mod compat;
mod consensus;
mod dashboard;
mod detect;
mod durability;
mod faces;
mod files;
mod fixtures;
mod fleet;
mod fleet_daemons;
mod hooks;
mod launch;
mod load;
mod openapi;
mod orchestrate;
mod permissions;
mod props;
mod real_agents;
mod screen_diff;
mod security;
mod sessions;
mod shells;
mod store;
mod streams;
mod templates;
mod tidy;
mod tmux_compat;
mod tmux_standin;
mod webhooks;
mod websocket;
mod work;
