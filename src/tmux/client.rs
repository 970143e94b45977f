//! The stand-in process: `tmux …` (or `aegis tmux …`) parses tmux's global flags, finds the
//! daemon the way tmux finds its server ([`super::discover`]), sends the command line, prints
//! the answer and exits with its code. `attach-session` then becomes an attached terminal;
//! `-C` keeps the connection as a control-mode client, passing standard input's lines to the
//! daemon and its output to standard output.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::UnixStream;

use super::discover;
use crate::attach::proto::{self, Request, TmuxReply, TmuxRequest};

const USAGE: &str = "usage: tmux [-2CDlNuvV] [-c shell-command] [-f file] [-L socket-name]\n            [-S socket-path] [-T features] [command [flags]]";

/// Global flags, as tmux's getopt string `2c:CDdf:lL:NqS:T:uUvV` takes them.
#[derive(Default)]
struct Flags {
    label: Option<String>,
    socket: Option<String>,
    config: Option<Vec<String>>,
    control: u8,
    shell_command: Option<String>,
    no_start: bool,
    version: bool,
    no_fork: bool,
}

fn parse_flags(args: &[String]) -> Result<(Flags, Vec<String>), String> {
    let mut f = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a.len() < 2 {
            break;
        }
        for (pos, c) in a[1..].char_indices() {
            match c {
                'L' | 'S' | 'f' | 'T' | 'c' => {
                    let inline = &a[1 + pos + 1..];
                    let value = if inline.is_empty() {
                        i += 1;
                        args.get(i).cloned().ok_or_else(|| USAGE.to_owned())?
                    } else {
                        inline.to_owned()
                    };
                    match c {
                        'L' => f.label = Some(value),
                        'S' => f.socket = Some(value),
                        'f' => f.config.get_or_insert_with(Vec::new).push(value),
                        'c' => f.shell_command = Some(value),
                        _ => {} // -T: terminal features, nothing to configure here
                    }
                    break;
                }
                'V' => f.version = true,
                'C' => f.control = (f.control + 1).min(2),
                'N' => f.no_start = true,
                'D' => f.no_fork = true,
                // Accepted and meaningless here: 256 colours, UTF-8, login shell, quiet, verbose.
                '2' | 'u' | 'U' | 'l' | 'q' | 'v' | 'd' => {}
                other => return Err(format!("tmux: unknown option -- {other}\n{USAGE}")),
            }
            if f.version {
                return Ok((f, vec![]));
            }
        }
        i += 1;
    }
    Ok((f, args[i.min(args.len())..].to_vec()))
}

/// Entry point for `aegis tmux …` and `tmux …`; `args` excludes the program name.
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let (flags, mut argv) = parse_flags(&args).map_err(|e| anyhow::anyhow!(e))?;
    if flags.version {
        println!("{}", super::VERSION);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(cmd) = &flags.shell_command {
        // tmux as a login shell: run the command with the user's shell.
        if !argv.is_empty() {
            anyhow::bail!(USAGE);
        }
        let shell = super::options::shell_for_client(std::env::var("SHELL").ok().as_deref());
        let to_c = |s: &str| std::ffi::CString::new(s).map_err(anyhow::Error::from);
        let prog = to_c(&shell)?;
        let argv = [to_c(&shell)?, to_c("-c")?, to_c(cmd)?];
        nix::unistd::execv(&prog, &argv)?;
        unreachable!("execv returns only on error");
    }
    if flags.no_fork {
        anyhow::bail!(
            "tmux -D is not supported by the Aegis tmux stand-in (the daemon is `aegis serve`)"
        );
    }
    if argv.is_empty() {
        argv.push("new-session".into()); // tmux with no command creates and attaches
    }
    let base = discover::base_dir_from_env();
    let tmux_env = std::env::var("TMUX").ok().filter(|v| !v.is_empty());
    let name = discover::server_name(
        flags.socket.as_deref(),
        flags.label.as_deref(),
        tmux_env.as_deref(),
        &base,
    );
    let env_socket = tmux_env
        .as_deref()
        .and_then(|t| t.split(',').next())
        .map(str::to_owned);
    let current_pane = std::env::var("TMUX_PANE")
        .ok()
        .filter(|_| env_socket.as_deref() == Some(name.socket.as_str()));
    let stdin = if flags.control == 0 && wants_stdin(&argv) {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Some(buf)
    } else {
        None
    };
    let tty = crate::attach::term::stdin_is_tty();
    let (cols, rows) = if tty {
        crate::attach::term::size()
    } else {
        (0, 0)
    };
    let req = TmuxRequest {
        socket: name.socket.clone(),
        argv,
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "/".into()),
        env: std::env::vars().collect(),
        stdin,
        tty,
        current_pane,
        config_files: flags.config.clone(),
        control: flags.control,
        no_start: flags.no_start,
        pid: std::process::id(),
        cols,
        rows,
    };
    let override_dir = std::env::var_os("AEGIS_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let candidates = discover::daemon_candidates(
        &name,
        override_dir.as_deref(),
        &base,
        crate::store::default_state_dir()
            .ok()
            .map(|d| crate::attach::server::socket_path(&d)),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(send(req, candidates, name.explicit))
}

/// Connect to the first candidate that answers; the `-S` path is tried first only as an
/// Aegis daemon (a real tmux server there does not speak our protocol, and the next
/// candidate is tried instead).
async fn send(
    req: TmuxRequest,
    candidates: Vec<PathBuf>,
    explicit: bool,
) -> anyhow::Result<ExitCode> {
    let body = serde_json::to_vec(&Request::Tmux(req))?;
    let request: TmuxRequest = match serde_json::from_slice::<Request>(&body)? {
        Request::Tmux(r) => r,
        Request::Attach(_) => unreachable!("built as a tmux request above"),
    };
    let mut tried = vec![];
    for (n, path) in candidates.iter().enumerate() {
        let Ok(mut stream) = UnixStream::connect(path).await else {
            tried.push(path.display().to_string());
            continue;
        };
        proto::write_frame(&mut stream, proto::REQUEST, &body).await?;
        if request.control > 0 {
            return super::control_client::run(stream, request.control).await;
        }
        let frame = proto::read_frame(&mut stream).await;
        let reply: TmuxReply = match frame {
            Ok(Some((proto::REPLY, b))) => serde_json::from_slice(&b)?,
            Ok(Some((proto::EXIT, msg))) => anyhow::bail!("{}", String::from_utf8_lossy(&msg)),
            _ if explicit && n == 0 => {
                tried.push(format!("{} (not an Aegis daemon)", path.display()));
                continue;
            }
            _ => anyhow::bail!("the aegis daemon closed the connection without an answer"),
        };
        return finish(reply, path).await;
    }
    anyhow::bail!(
        "error connecting to {} (no Aegis daemon is running; start one with `aegis serve`; looked at {})",
        request.socket,
        tried.join(", ")
    )
}

async fn finish(reply: TmuxReply, daemon: &std::path::Path) -> anyhow::Result<ExitCode> {
    {
        let mut out = std::io::stdout().lock();
        out.write_all(reply.stdout.as_bytes())?;
        out.flush()?;
        std::io::stderr().write_all(reply.stderr.as_bytes())?;
    }
    if let Some(target) = reply.attach_tmux {
        let msg = crate::attach::client::attach_tmux(daemon, target, reply.read_only).await?;
        println!("{msg}");
    }
    Ok(if reply.code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(u8::try_from(reply.code).unwrap_or(1))
    })
}

/// `load-buffer -` reads standard input.
fn wants_stdin(argv: &[String]) -> bool {
    super::cmd::split(argv).iter().any(|line| {
        line.first()
            .is_some_and(|c| c == "load-buffer" || c == "loadb")
            && line.last().is_some_and(|a| a == "-")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn global_flags_parse_like_tmux() {
        let (f, rest) = parse_flags(&v(&[
            "-Lsock",
            "-f",
            "/dev/null",
            "-C",
            "attach",
            "-t",
            "$1",
        ]))
        .expect("ok");
        assert_eq!(f.label.as_deref(), Some("sock"));
        assert_eq!(f.config, Some(vec!["/dev/null".to_owned()]));
        assert_eq!(f.control, 1);
        assert_eq!(rest, v(&["attach", "-t", "$1"]));
        assert!(parse_flags(&v(&["-8"])).is_err());
        let (f, _) = parse_flags(&v(&["-CC", "-V"])).expect("ok");
        assert!(f.version);
    }
}
