//! The tmux stand-in: `aegis tmux <args>`, also run when the binary is invoked as `tmux`
//! (a symlink made by `aegis tmux-shim install DIR`), so tools that drive tmux drive Aegis
//! sessions without a code change.
//!
//! This side parses only tmux's global flags (`-V`, `-L`, `-S`, …) and sends the command line
//! to the daemon over its local socket; the daemon runs it ([`exec`], [`pane`]) against the real
//! session registry, so stand-in sessions are ordinary Aegis sessions. Each tmux socket
//! (`-L name`, `-S path`, or the one in `$TMUX`) is a separate namespace; the default socket also
//! holds sessions created over REST.

pub mod cmd;
pub mod exec;
pub mod format;
pub mod pane;
pub mod spawn;
pub mod state;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::attach::proto::{self, Request, TmuxReply, TmuxRequest};

/// The version the stand-in reports: the tmux whose behaviour it copies (tools check it).
pub const VERSION: &str = "tmux 3.3a";

/// Entry point for `aegis tmux …` and `tmux …`; `args` excludes the program name.
pub fn main(args: Vec<OsString>) -> ExitCode {
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
    let mut label: Option<String> = None;
    let mut socket: Option<String> = None;
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
                'V' => {
                    println!("{VERSION}");
                    return Ok(ExitCode::SUCCESS);
                }
                'L' | 'S' | 'f' | 'T' => {
                    let inline = &a[1 + pos + 1..];
                    let value = if inline.is_empty() {
                        i += 1;
                        args.get(i).cloned().ok_or_else(|| {
                            anyhow::anyhow!(
                                "usage: tmux [-L socket-name] [-S socket-path] [command [flags]]"
                            )
                        })?
                    } else {
                        inline.to_owned()
                    };
                    match c {
                        'L' => label = Some(value),
                        'S' => socket = Some(value),
                        _ => {} // -f config file, -T features: nothing to configure here
                    }
                    break;
                }
                // Accepted and meaningless here: UTF-8, 256 colours, login shell, no-start.
                '2' | 'u' | 'l' | 'N' | 'v' => {}
                'C' | 'c' | 'D' => anyhow::bail!(
                    "tmux -{c} is not supported by the Aegis tmux stand-in (no control mode, no \
                     shell-command mode, no foreground server)"
                ),
                other => anyhow::bail!(
                    "unknown option -- {other}\nusage: tmux [-2CDlNuVv] [-c shell-command] [-f file] [-L socket-name] [-S socket-path] [-T features] [command [flags]]"
                ),
            }
        }
        i += 1;
    }
    let mut argv = args[i.min(args.len())..].to_vec();
    if argv.is_empty() {
        argv.push("new-session".into()); // tmux with no command creates and attaches
    }
    let tmux_env = std::env::var("TMUX").ok().filter(|v| !v.is_empty());
    let env_socket = tmux_env
        .as_deref()
        .and_then(|t| t.split(',').next())
        .map(str::to_owned);
    let socket = match (socket, label) {
        (Some(s), _) => std::path::absolute(&s)
            .map(|p| p.display().to_string())
            .unwrap_or(s),
        (None, Some(l)) => tmux_dir().join(l).display().to_string(),
        (None, None) => env_socket
            .clone()
            .unwrap_or_else(|| tmux_dir().join("default").display().to_string()),
    };
    let current_pane = std::env::var("TMUX_PANE")
        .ok()
        .filter(|_| env_socket.as_deref() == Some(socket.as_str()));
    let stdin = if wants_stdin(&argv) {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Some(buf)
    } else {
        None
    };
    let req = TmuxRequest {
        socket,
        argv,
        cwd: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "/".into()),
        env: std::env::vars().collect(),
        stdin,
        tty: crate::attach::term::stdin_is_tty(),
        current_pane,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(send(req))
}

async fn send(req: TmuxRequest) -> anyhow::Result<ExitCode> {
    let daemon = crate::attach::client::daemon_socket(None)?;
    let mut stream = crate::attach::client::connect(&daemon).await?;
    let body = serde_json::to_vec(&Request::Tmux(req))?;
    proto::write_frame(&mut stream, proto::REQUEST, &body).await?;
    let reply: TmuxReply = match proto::read_frame(&mut stream).await? {
        Some((proto::REPLY, body)) => serde_json::from_slice(&body)?,
        Some((proto::EXIT, msg)) => anyhow::bail!("{}", String::from_utf8_lossy(&msg)),
        _ => anyhow::bail!("the aegis daemon closed the connection without an answer"),
    };
    {
        let mut out = std::io::stdout().lock();
        out.write_all(reply.stdout.as_bytes())?;
        out.flush()?;
        std::io::stderr().write_all(reply.stderr.as_bytes())?;
    }
    if let Some(id) = reply.attach {
        let prefix = crate::attach::client::prefix_byte(
            &std::env::var("AEGIS_ATTACH_PREFIX").unwrap_or_else(|_| "C-b".into()),
        )?;
        let msg = crate::attach::client::attach(&daemon, &id, reply.read_only, prefix).await?;
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
    cmd::split(argv).iter().any(|line| {
        line.first()
            .is_some_and(|c| c == "load-buffer" || c == "loadb")
            && line.last().is_some_and(|a| a == "-")
    })
}

/// tmux's socket directory: `$TMUX_TMPDIR/tmux-UID` (default `/tmp`).
fn tmux_dir() -> PathBuf {
    let base = std::env::var_os("TMUX_TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join(format!("tmux-{}", nix::unistd::getuid()))
}

/// `aegis tmux-shim install DIR`: make `DIR/tmux` a symlink to this binary.
pub fn install_shim(dir: &Path) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("finding the aegis binary")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let link = dir.join("tmux");
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::remove_file(&link).with_context(|| format!("replacing {}", link.display()))?
        }
        Ok(_) => anyhow::bail!(
            "refusing to overwrite {}: it is not a symlink (a real tmux?)",
            link.display()
        ),
        Err(_) => {}
    }
    std::os::unix::fs::symlink(&exe, &link)
        .with_context(|| format!("linking {} to {}", link.display(), exe.display()))?;
    Ok(link)
}
