//! One integration binary. Every test starts the real `aegis` binary and drives real programs
//! in real ptys. Modules:
//! - `sessions`: the session lifecycle through REST (shell, REPL, paste, queries, kill, flood).
//! - `api_errors`: auth, rate limits and the error format on every bad-input path.
//! - `cli`: the `aegis` client subcommands against a running daemon.
//! - `fixtures`: every recorded screen under tests/fixtures/screens through the engine.
//! - `permissions`: approvals, policies, expiry, agent-aware send, profile start-up errors.
//! - `detect`: state detection on fake Claude/Codex/Gemini agents, per agent and state.

// Tests start the daemon and helper programs directly; only the daemon is confined to pty::spawn.
#![allow(clippy::disallowed_methods)]

mod support;

mod api_errors;
mod cli;
mod detect;
mod fixtures;
mod permissions;
mod sessions;
