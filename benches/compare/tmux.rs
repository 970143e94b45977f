//! The baseline: a detached tmux server on a private socket (`-L`), no user config, the same
//! 120×40 size and 2000-line history as an Aegis session. Driven the way tmux-based
//! supervisors drive it: one `tmux` client process per command.

use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

/// Channel signalled by the `pane-died` hook: tmux fires it once the pane's process exited
/// and its output reached EOF, i.e. every byte has been parsed.
pub const DIED_CHANNEL: &str = "aegis-bench-died";

pub struct Tmux {
    socket: String,
    pub version: String,
}

impl Tmux {
    /// Start a server with a keeper session, so later sessions do not pay server start-up.
    pub fn start(tag: &str) -> Result<Tmux> {
        let version = Command::new("tmux")
            .arg("-V")
            .output()
            .context("tmux is not installed (apt-get install tmux)")?;
        let t = Tmux {
            socket: format!("aegis-bench-{}-{tag}", std::process::id()),
            version: String::from_utf8_lossy(&version.stdout).trim().to_owned(),
        };
        t.run(&["new-session", "-d", "-s", "keeper", "-x", "120", "-y", "40"])?;
        t.run(&["set-option", "-g", "history-limit", "2000"])?;
        t.run(&["set-option", "-g", "remain-on-exit", "on"])?;
        t.run(&["set-option", "-g", "status", "off"])?;
        t.run(&[
            "set-hook",
            "-g",
            "pane-died",
            &format!("wait-for -S {DIED_CHANNEL}"),
        ])?;
        Ok(t)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]).args(args);
        c
    }

    /// Run a tmux command; fail if it fails.
    pub fn run(&self, args: &[&str]) -> Result<Output> {
        let out = self
            .cmd(args)
            .output()
            .with_context(|| format!("tmux {args:?}"))?;
        if !out.status.success() {
            bail!(
                "tmux {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }

    /// A detached session `name` running `command` (a shell command line of ours).
    pub fn new_session(&self, name: &str, command: &str) -> Result<()> {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            command,
        ])?;
        Ok(())
    }

    pub fn capture(&self, target: &str) -> Result<String> {
        let out = self.run(&["capture-pane", "-p", "-t", target])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn server_pid(&self) -> Result<u32> {
        let out = self.run(&["display-message", "-p", "-t", "keeper", "#{pid}"])?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .context("tmux server pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).output();
    }
}
