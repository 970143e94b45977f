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
    /// Attach this terminal to a session (detach with Ctrl-b d).
    Attach(aegis::attach::AttachArgs),
    /// The tmux stand-in: `aegis tmux <tmux args>` (also runs as `tmux` through a symlink).
    Tmux {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Install the tmux stand-in: `aegis tmux-shim install DIR` creates DIR/tmux.
    TmuxShim {
        #[command(subcommand)]
        action: ShimAction,
    },
    /// MCP server on stdio for agents: proxies to the daemon at --url (AEGIS_URL) with
    /// --token (AEGIS_AUTH_TOKEN, or AEGIS_TOKEN).
    Mcp,
    /// Print a shell completion script: `aegis completions bash > /etc/bash_completion.d/aegis`.
    Completions { shell: clap_complete::Shell },
    /// Check this machine: pty, state dir, port, agents on PATH (takes `serve`'s flags).
    Doctor(ServeArgs),
}

#[derive(Subcommand)]
enum ShimAction {
    /// Create DIR/tmux as a symlink to this binary; put DIR first on PATH to use it.
    Install { dir: std::path::PathBuf },
}

fn main() -> std::process::ExitCode {
    // The tmux stand-in parses its own arguments: as `tmux` (a symlink) or `aegis tmux`.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_os_string());
    if invoked_as.is_some_and(|n| n == "tmux") {
        return aegis::tmux::main(argv.split_off(1));
    }
    if argv.get(1).is_some_and(|a| a == "tmux") {
        return aegis::tmux::main(argv.split_off(2));
    }
    let cli = Cli::parse();
    // What a client command asks the process to end with (`aegis exec` passes its command's).
    let mut status = std::process::ExitCode::SUCCESS;
    let result = match cli.command {
        Command::Serve(args) => serve(args, cli.client.token),
        Command::Tmux { args } => return aegis::tmux::main(args),
        Command::Attach(args) => {
            runtime().and_then(|rt| rt.block_on(aegis::attach::client::run(args)))
        }
        Command::TmuxShim {
            action: ShimAction::Install { dir },
        } => aegis::tmux::install_shim(&dir).map(|link| {
            println!(
                "installed {}; put {} first on PATH to use it",
                link.display(),
                dir.display()
            );
        }),
        Command::Holder(args) => holder(args),
        Command::Mcp => mcp(cli.client),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "aegis", &mut std::io::stdout());
            Ok(())
        }
        Command::Doctor(args) => {
            runtime().and_then(|rt| rt.block_on(aegis::doctor::run(&args, cli.client.token)))
        }
        Command::Client(c) => runtime()
            .and_then(|rt| rt.block_on(aegis::cli::run(cli.client, c)))
            .map(|s| status = s),
    };
    match result {
        Ok(()) => status,
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

/// `token` is the global `--token` (or `AEGIS_AUTH_TOKEN`): the one the daemon requires.
fn serve(args: ServeArgs, token: Option<String>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .map_err(|e| anyhow::anyhow!("invalid --log-level {:?}: {e}", args.log_level))?;
    aegis::logs::to_stderr(filter);
    let config = Config::from_args(&args, token)?;
    runtime()?.block_on(aegis::daemon::serve(config))
}

fn mcp(client: ClientArgs) -> anyhow::Result<()> {
    // stdout carries the protocol: logs go to stderr only.
    aegis::logs::to_stderr(aegis::logs::filter_from_env("warn"));
    let token = client.token.or_else(|| std::env::var("AEGIS_TOKEN").ok());
    runtime()?.block_on(aegis::mcp::run(&client.url, token))?;
    // A pending stdin read cannot be cancelled; exit instead of waiting for the runtime.
    std::process::exit(0)
}

fn holder(args: aegis::holder::HolderArgs) -> anyhow::Result<()> {
    aegis::holder::server::main(args)
}
