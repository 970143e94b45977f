//! One integration binary. Every test starts the real `aegis` binary and drives real programs
//! in real ptys. Modules:
//! - `sessions`: the session lifecycle through REST (shell, REPL, paste, queries, kill, flood).
//! - `api_errors`: auth, rate limits and the error format on every bad-input path.
//! - `cli`: the `aegis` client subcommands against a running daemon.
//! - `durability`: sessions in holder processes surviving daemon crashes and restarts, the
//!   registry, recordings and transcripts (issue 6).
//! - `store`: persisted state besides sessions: memory entries and TTLs, API keys and scopes.

// Tests start the daemon and helper programs directly; only the daemon is confined to pty::spawn.
#![allow(clippy::disallowed_methods)]

mod support;

mod api_errors;
mod cli;
mod durability;
mod sessions;
mod store;
