//! Log output shared by every entry point (daemon, MCP server, holders): `tracing` to stderr,
//! which for a holder is its `holder.log`.

use tracing_subscriber::EnvFilter;

/// Send logs to stderr. A log write that fails (disk full, file-size limit) is dropped:
/// tracing-subscriber would otherwise report it with `eprintln!`, which panics when stderr
/// itself cannot be written, and a holder would take its session down with it (found by
/// `durability::a_failing_recording_write_stops_the_recording_not_the_session`).
///
/// Colours only on a terminal: escape codes in a log file, a journal or a holder's log are
/// noise to whoever greps it.
pub fn to_stderr(filter: EnvFilter) {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .init();
}

/// The filter in `AEGIS_LOG`, or `default` when it is unset or invalid.
pub fn filter_from_env(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("AEGIS_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}
