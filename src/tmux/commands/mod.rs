//! The stand-in's commands, by area: sessions and clients ([`session`]), windows
//! ([`window`]), panes and their layout ([`pane`]), the programs in panes ([`process`]), moving panes and windows around
//! ([`moves`]), keys, captures and messages ([`io`]), paste buffers ([`buffer`]), options
//! ([`options`]), environment ([`env`]), and the rest ([`misc`]: wait-for, shells, files, key
//! tables, modes). Each runs with its target and source already resolved.

pub mod buffer;
pub mod env;
pub mod io;
pub mod misc;
pub mod moves;
pub mod options;
pub mod pane;
pub mod process;
pub mod session;
pub mod window;

use super::cmd::Cmd;
use super::exec::{CmdResult, Ctx};

/// Run one command.
pub async fn dispatch(ctx: &mut Ctx<'_>, c: &Cmd) -> CmdResult {
    match c.name() {
        "new-session" | "has-session" | "kill-session" | "kill-server" | "start-server"
        | "rename-session" | "list-sessions" | "attach-session" | "switch-client"
        | "detach-client" | "list-clients" | "lock-server" | "lock-session" | "lock-client"
        | "suspend-client" | "refresh-client" => session::run(ctx, c).await,
        "new-window" | "kill-window" | "select-window" | "next-window" | "previous-window"
        | "last-window" | "rename-window" | "list-windows" | "resize-window" | "respawn-window"
        | "select-layout" | "next-layout" | "previous-layout" | "find-window" => {
            window::run(ctx, c).await
        }
        "split-window" | "kill-pane" | "select-pane" | "last-pane" | "list-panes"
        | "resize-pane" | "respawn-pane" | "display-panes" | "pipe-pane" | "clear-history" => {
            pane::run(ctx, c).await
        }
        "swap-pane" | "break-pane" | "join-pane" | "move-pane" | "rotate-window"
        | "swap-window" | "move-window" | "link-window" | "unlink-window" => {
            moves::run(ctx, c).await
        }
        "send-keys" | "send-prefix" | "capture-pane" | "display-message" | "display-popup" => {
            io::run(ctx, c).await
        }
        "set-buffer" | "show-buffer" | "save-buffer" | "load-buffer" | "list-buffers"
        | "delete-buffer" | "paste-buffer" | "choose-buffer" => buffer::run(ctx, c).await,
        "set-option"
        | "set-window-option"
        | "show-options"
        | "show-window-options"
        | "set-hook"
        | "show-hooks" => options::run(ctx, c).await,
        "set-environment" | "show-environment" => env::run(ctx, c).await,
        _ => misc::run(ctx, c).await,
    }
}
