//! `aegis`: parse the command line, dispatch, and turn an error into an exit code. Nothing else.

use clap::{Parser, Subcommand};

use aegis::cli::{ClientArgs, ClientCommand};
use aegis::config::{Config, ServeArgs};

#[derive(Parser)]
#[command(
    name = "aegis",
    version,
    about = "Supervise interactive coding agents in pseudo-terminals"
)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (REST API on 127.0.0.1:9100 by default).
    Serve(ServeArgs),
    /// Internal: hold one session's pty and child for the daemon (see `aegis::holder`).
    #[command(hide = true)]
    Holder(aegis::holder::HolderArgs),
    #[command(flatten)]
    Client(ClientCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Holder(args) => holder(args),
        Command::Client(c) => runtime().and_then(|rt| rt.block_on(aegis::cli::run(cli.client, c))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (`aegis ls | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return std::process::ExitCode::SUCCESS;
            }
            eprintln!("aegis: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .map_err(|e| anyhow::anyhow!("invalid --log-level {:?}: {e}", args.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let config = Config::from_args(&args)?;
    runtime()?.block_on(aegis::api::serve(config))
}

fn holder(args: aegis::holder::HolderArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AEGIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    aegis::holder::server::run(args)
}
