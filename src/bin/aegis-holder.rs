//! `aegis-holder`: the per-session holder process (see `aegis::holder`), as its own binary.
//! The daemon runs it when it sits next to `aegis` (as `cargo build` and `cargo install` put
//! it), and falls back to `aegis holder` otherwise; both run the same code.
//!
//! Why a second binary: a session keeps its holder for its whole life, so a holder's private
//! memory is paid per session. A process of the full `aegis` binary carries ~650 KB of
//! read-only data that the loader must relocate (PIE `.data.rel.ro`: vtables and tables of
//! the HTTP server, MCP, dashboard, ...), which makes those pages private to every process.
//! This binary links only what a holder uses.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "aegis-holder",
    version,
    about = "Hold one Aegis session's pty and child (started by the daemon, not by hand)"
)]
struct Cli {
    #[command(flatten)]
    args: aegis::holder::HolderArgs,
}

fn main() -> ExitCode {
    // Asked by the daemon before it uses this binary (see `HolderProgram::locate`).
    if std::env::args().nth(1).as_deref() == Some("--build-id") {
        println!("{}", aegis::holder::BUILD_ID);
        return ExitCode::SUCCESS;
    }
    match aegis::holder::server::main(Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // stderr is the session's holder.log, which may be the very file that cannot be
            // written (disk full): `eprintln!` would panic there, so a failed write is dropped.
            let _ = writeln!(std::io::stderr(), "aegis-holder: {e:#}");
            ExitCode::FAILURE
        }
    }
}
