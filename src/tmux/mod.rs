//! The tmux stand-in: `aegis tmux <args>`, also run when the binary is invoked as `tmux`
//! (a symlink made by `aegis tmux-shim install DIR`), so tools that drive tmux drive Aegis
//! sessions without a code change.
//!
//! The stand-in process ([`client`]) parses tmux's global flags, finds the daemon where tmux
//! would find its server ([`discover`]) and sends the command line; the daemon runs it
//! ([`exec`], [`commands`]) against a model of tmux servers ([`tree`]: one per socket path,
//! with sessions, windows and panes, [`layout`]s, [`options`], paste [`buffers`], [`waits`]
//! and [`clients`]), in which every pane is an ordinary Aegis session ([`spawn`]), so
//! supervision, detection, recording and REST work per pane ([`host`] keeps the two in
//! step; [`rename`] names windows after their programs). Formats ([`format`], [`vars`]), targets ([`target`]), config files ([`config`]),
//! tmux's quoting ([`escape`]) and control mode ([`control`], [`control_client`]) complete
//! what libtmux and similar tools expect of tmux 3.3a. A terminal attached to a session
//! ([`attached`]) sees its window drawn with tmux's [`status`] line.

pub mod adopt;
pub mod attached;
pub mod buffers;
pub mod client;
pub mod clients;
pub mod cmd;
pub mod commands;
pub mod config;
pub mod control;
pub mod control_client;
pub mod discover;
pub mod escape;
pub mod exec;
pub mod facts;
pub mod format;
pub mod host;
pub mod layout;
pub mod options;
pub mod options_table;
pub mod rename;
pub mod shell;
pub mod spawn;
pub mod status;
pub mod taps;
pub mod target;
pub mod tree;
pub mod vars;
pub mod waits;

use std::path::{Path, PathBuf};

pub use client::main;

/// The version the stand-in reports: the tmux whose behaviour it copies (tools check it).
pub const VERSION: &str = "tmux 3.3a";

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
