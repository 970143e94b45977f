//! `aegis doctor`: check that this machine can run the daemon, before it fails at start-up or
//! at the first session. It takes `aegis serve`'s flags, so it checks what `serve` would use:
//!
//! - pty: a pseudo-terminal can be opened (hard failure otherwise: no session can start);
//! - state dir: it exists as a private (0700) directory, or can be created;
//! - config: `serve` would accept the flags, token, config file and detection profiles;
//! - port: it can be bound, or an Aegis daemon already answers there;
//! - holder: the small `aegis-holder` from the same build is installed beside `aegis`;
//! - agents: which of claude, codex, gemini and aider are on PATH (missing ones only warn).
//!
//! One line per check: `ok`, `warn` or `FAIL`, and what to do. The exit code is non-zero when
//! any check failed. Nothing is changed: no directory is created and no port is held.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::ServeArgs;

/// The agents Aegis has profiles for, looked up on PATH.
pub const AGENTS: [&str; 4] = ["claude", "codex", "gemini", "aider"];

/// How long to wait for a daemon already on the port to answer `/v1/health`.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check's verdict.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub message: String,
}

fn check(name: &'static str, level: Level, message: impl Into<String>) -> Check {
    Check {
        name,
        level,
        message: message.into(),
    }
}

pub fn pty() -> Check {
    let size = portable_pty::PtySize {
        rows: 2,
        cols: 2,
        pixel_width: 0,
        pixel_height: 0,
    };
    match portable_pty::native_pty_system().openpty(size) {
        Ok(_) => check("pty", Level::Ok, "pseudo-terminals can be opened"),
        Err(e) => check(
            "pty",
            Level::Fail,
            format!(
                "cannot open a pseudo-terminal ({e}); mount devpts (/dev/pts) and check /dev/ptmx"
            ),
        ),
    }
}

pub fn state_dir(dir: &Path) -> Check {
    const NAME: &str = "state dir";
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => check(
            NAME,
            Level::Fail,
            format!("{} exists but is not a directory", dir.display()),
        ),
        Ok(m) => {
            if nix::unistd::access(
                dir,
                nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
            )
            .is_err()
            {
                return check(
                    NAME,
                    Level::Fail,
                    format!("{} is not writable by this user", dir.display()),
                );
            }
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                check(
                    NAME,
                    Level::Warn,
                    format!(
                        "{} has mode {mode:o}; the daemon will set 0700 (or run: chmod 700 {})",
                        dir.display(),
                        dir.display()
                    ),
                )
            } else {
                check(
                    NAME,
                    Level::Ok,
                    format!("{} (mode {mode:o})", dir.display()),
                )
            }
        }
        Err(_) => {
            // The daemon creates it (mode 0700) with its parents: the nearest existing
            // ancestor must be writable.
            let mut parent = dir.parent();
            while let Some(p) = parent {
                if p.exists() {
                    let writable = nix::unistd::access(
                        p,
                        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
                    )
                    .is_ok();
                    return if writable {
                        check(
                            NAME,
                            Level::Ok,
                            format!(
                                "{} does not exist yet; the daemon will create it (0700)",
                                dir.display()
                            ),
                        )
                    } else {
                        check(
                            NAME,
                            Level::Fail,
                            format!(
                                "{} cannot be created: {} is not writable; pass --state-dir",
                                dir.display(),
                                p.display()
                            ),
                        )
                    };
                }
                parent = p.parent();
            }
            check(
                NAME,
                Level::Fail,
                format!("{} cannot be created", dir.display()),
            )
        }
    }
}

pub async fn port(host: std::net::IpAddr, port: u16) -> Check {
    const NAME: &str = "port";
    let addr = std::net::SocketAddr::new(host, port);
    match std::net::TcpListener::bind(addr) {
        Ok(_) => return check(NAME, Level::Ok, format!("{addr} is free")),
        Err(e) if e.kind() != std::io::ErrorKind::AddrInUse => {
            return check(NAME, Level::Fail, format!("cannot bind {addr}: {e}"));
        }
        Err(_) => {}
    }
    let answer = async {
        let client =
            crate::client::Client::new(&format!("http://{addr}"), None, HEALTH_TIMEOUT).ok()?;
        let v = client
            .call(reqwest::Method::GET, "/v1/health", None)
            .await
            .ok()?;
        v["version"].as_str().map(str::to_owned)
    };
    match answer.await {
        Some(version) => check(
            NAME,
            Level::Ok,
            format!("{addr} is in use by a running Aegis daemon (version {version})"),
        ),
        None => check(
            NAME,
            Level::Fail,
            format!("{addr} is in use by another program; pass --port or stop it"),
        ),
    }
}

pub fn agents() -> Vec<Check> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    AGENTS
        .iter()
        .map(|a| match crate::pty::run::which(a, &path) {
            Some(p) => check("agent", Level::Ok, format!("{a}: {}", p.display())),
            None => check(
                "agent",
                Level::Warn,
                format!("{a}: not found on PATH (sessions of this agent need `command`)"),
            ),
        })
        .collect()
}

/// Whether `serve` would accept these flags, token and config file (binding without a token,
/// an invalid config file or detection profile stop it at start-up).
pub fn config(args: &ServeArgs, token: Option<String>) -> Check {
    match crate::config::Config::from_args(args, token) {
        Ok(_) => check(
            "config",
            Level::Ok,
            "flags, config file and profiles are valid",
        ),
        Err(e) => check("config", Level::Fail, format!("{e:#}")),
    }
}

/// Which program will hold sessions: the small `aegis-holder` beside this binary when it was
/// built from the same sources, else this binary (works, with more memory per session).
pub async fn holder() -> Check {
    match crate::holder::client::HolderProgram::locate().await {
        Ok(p) if !p.subcommand => check("holder", Level::Ok, format!("{}", p.exe.display())),
        Ok(p) => check(
            "holder",
            Level::Warn,
            format!(
                "no aegis-holder from this build beside {}; sessions will be held by `aegis \
                 holder` (about 0.5 MB more per session). Install both binaries together",
                p.exe.display()
            ),
        ),
        Err(e) => check(
            "holder",
            Level::Fail,
            format!("cannot find this binary: {e}"),
        ),
    }
}

/// Run every check, print the report, and fail when any check failed.
pub async fn run(args: &ServeArgs, token: Option<String>) -> anyhow::Result<()> {
    let dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => crate::store::default_state_dir()?,
    };
    let mut checks = vec![
        config(args, token),
        pty(),
        state_dir(&dir),
        port(args.host, args.port).await,
        holder().await,
    ];
    checks.extend(agents());
    let mut out = std::io::stdout().lock();
    for c in &checks {
        let tag = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        writeln!(out, "{tag}  {:<9}  {}", c.name, c.message)?;
    }
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed");
    }
    writeln!(out, "all required checks passed")?;
    Ok(())
}
