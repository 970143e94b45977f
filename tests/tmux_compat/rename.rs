//! automatic-rename: a window is named after its active pane's foreground program, checked when
//! that pane prints something or changes, and `rename-window`, `automatic-rename off` and
//! `automatic-rename-format` are honoured. tmux checks a window at most twice a second, so
//! each step polls both sides until the name settles; a step ends with output the program
//! in question causes (the terminal echoing typed keys), so the last check sees it running.

use std::time::Duration;

use super::{Daemon, Pair, pair, tmux_available};
use crate::support::wait_until;

impl Pair<'_> {
    /// Wait until the window `target` is named `name` on both sides.
    fn wait_name(&self, target: &str, name: &str) {
        self.wait_format(target, "#{window_name}", name);
    }

    /// Wait until pane `target` runs `command` on both sides.
    fn wait_command(&self, target: &str, command: &str) {
        self.wait_format(target, "#{pane_current_command}", command);
    }

    /// Wait until `format` expands to `want` for `target` on both sides.
    fn wait_format(&self, target: &str, format: &str, want: &str) {
        let args = ["display-message", "-p", "-t", target, format];
        for (side, real) in [("real", true), ("ours", false)] {
            wait_until(
                Duration::from_secs(10),
                &format!("{side}: {format} of {target} is {want:?}"),
                || {
                    let out = if real {
                        self.real.run(&args)
                    } else {
                        self.ours.run(&args)
                    };
                    (String::from_utf8_lossy(&out.stdout).trim() == want).then_some(())
                },
            );
        }
    }
}

#[test]
fn tmux_automatic_rename_follows_the_foreground_program_like_real_tmux() {
    assert!(tmux_available());
    let d = Daemon::start();
    let p = pair(&d, "autoname");
    p.same(&[
        "new-session",
        "-d",
        "-s",
        "ren",
        "-x",
        "80",
        "-y",
        "24",
        "-e",
        "PS1=$ ",
        "bash",
        "--norc",
        "--noprofile",
    ]);
    p.wait_pane("ren", "$");
    p.wait_name("ren", "bash");
    // `sleep 30` typed at the prompt: once sleep runs, a key it does not read is echoed by
    // the terminal, and the window is renamed.
    p.same(&["send-keys", "-t", "ren", "sleep 30", "Enter"]);
    p.wait_command("ren", "sleep");
    p.same(&["send-keys", "-t", "ren", "x"]);
    p.wait_name("ren", "sleep");
    p.same(&["send-keys", "-t", "ren", "C-c"]);
    p.wait_command("ren", "bash");
    p.same(&["send-keys", "-t", "ren", "y"]);
    p.wait_name("ren", "bash");
    p.same(&["send-keys", "-t", "ren", "C-u"]);
    // rename-window turns automatic-rename off for that window.
    p.same(&["rename-window", "-t", "ren", "fixed"]);
    p.same(&["send-keys", "-t", "ren", "cat", "Enter"]);
    p.wait_command("ren", "cat");
    p.same(&["send-keys", "-t", "ren", "typed-while-off"]);
    p.wait_pane("ren", "typed-while-off");
    p.same(&[
        "display-message",
        "-p",
        "-t",
        "ren",
        "#{window_name} #{automatic-rename}",
    ]);
    // Turning it on again renames the window at once.
    p.same(&["set-option", "-w", "-t", "ren", "automatic-rename", "on"]);
    p.wait_name("ren", "cat");
    // automatic-rename-format decides the name.
    p.same(&[
        "set-option",
        "-w",
        "-t",
        "ren",
        "automatic-rename-format",
        "#{pane_current_command}!",
    ]);
    p.same(&["send-keys", "-t", "ren", "more"]);
    p.wait_name("ren", "cat!");
    p.same(&["set-option", "-wu", "-t", "ren", "automatic-rename-format"]);
    // A pane in a mode is `[tmux]`.
    p.same(&["copy-mode", "-t", "ren"]);
    p.wait_name("ren", "[tmux]");
    p.same(&["send-keys", "-t", "ren", "q"]);
    p.wait_name("ren", "cat");
    // Another pane made active names the window after its program.
    p.same(&["split-window", "-d", "-t", "ren", "sleep", "1000"]);
    p.wait_command("ren.1", "sleep");
    p.same(&["select-pane", "-t", "ren.1"]);
    p.wait_name("ren", "sleep");
    // automatic-rename off: the name stays.
    p.same(&["set-option", "-w", "-t", "ren", "automatic-rename", "off"]);
    p.same(&["select-pane", "-t", "ren.0"]);
    p.same(&["send-keys", "-t", "ren.0", "after-off"]);
    p.wait_pane("ren.0", "after-off");
    p.same(&[
        "list-windows",
        "-F",
        "#{window_name} #{automatic-rename} #{pane_current_command}",
    ]);
}
