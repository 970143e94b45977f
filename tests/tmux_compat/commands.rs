//! Differential tests of the stand-in's commands: targets and error messages, listings and
//! formats, keys, paste buffers, environment, respawn; and the `tmux` shim on PATH.

use std::process::Command;
use std::time::Duration;

use super::{Daemon, pair, text, tmux_available};
use crate::support::wait_until;

#[test]
fn tmux_compat_commands_and_errors_match_real_tmux() {
    assert!(tmux_available());
    let d = Daemon::start();
    let p = pair(&d, "errors");
    // No server yet: same message and exit code.
    p.same(&["has-session", "-t", "work"]);
    p.same(&["list-sessions"]);
    for name in ["work", "worker"] {
        p.same(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "50",
            "-y",
            "10",
            "sleep",
            "1000",
        ]);
    }
    p.same(&["new-session", "-d", "-s", "work", "sleep", "1000"]);
    for target in [
        "work", "=work", "=wor", "wor", "worke", "nope", "work:0", "work:1", "work:0.0",
        "work:0.1", "$0", "$9",
    ] {
        p.same(&["has-session", "-t", target]);
    }
    p.same(&["list-sessions", "-F", "#{session_name} #{session_id} #{window_id} #{pane_id} #{pane_width}x#{pane_height} #{?pane_dead,dead,alive}"]);
    p.same(&[
        "list-windows",
        "-t",
        "work",
        "-F",
        "#{window_index} #{window_id} #{window_panes} #{window_layout}",
    ]);
    p.same(&[
        "list-panes",
        "-t",
        "work",
        "-F",
        "#{pane_index} #{pane_id} #{pane_active} #{pane_current_command}",
    ]);
    p.same(&["list-panes", "-a", "-F", "#{session_name}:#{pane_index}"]);
    p.same(&[
        "display-message",
        "-p",
        "-t",
        "worker",
        "#{session_name}|#{==:#{session_name},worker}|#{=3:session_name}|##",
    ]);
    p.same(&["capture-pane", "-p", "-t", "nope"]);
    p.same(&["send-keys", "-t", "nope", "x"]);
    p.same(&["kill-session", "-t", "nope"]);
    p.same(&["bogus-command"]);
    p.same(&["new-session", "-Q"]);
    p.same(&["set-option", "-g", "no-such-option", "1"]);
    p.same(&["set-option", "-g", "history-limit", "5000"]);
    p.same(&["set-option", "-t", "work", "remain-on-exit", "on"]);
    p.same(&["resize-window", "-t", "work", "-x", "60", "-y", "15"]);
    p.same(&[
        "display-message",
        "-p",
        "-t",
        "work",
        "#{window_width}x#{window_height}",
    ]);
    p.same(&[
        "new-session",
        "-d",
        "-s",
        "chain",
        "sleep",
        "1000",
        ";",
        "set-option",
        "-t",
        "chain",
        "mouse",
        "on",
        ";",
        "display-message",
        "-p",
        "-t",
        "chain",
        "#{session_name}",
    ]);
    p.same(&["kill-session", "-t", "worker"]);
    p.same(&["has-session", "-t", "worker"]);
    p.same(&["list-sessions", "-F", "#{session_name}"]);
    p.same(&["kill-server"]);
    p.same(&["has-session", "-t", "work"]);
    p.same(&["kill-server"]);
}

#[test]
fn tmux_compat_keys_buffers_and_environment() {
    assert!(tmux_available());
    let d = Daemon::start();
    let p = pair(&d, "keys");
    p.same(&[
        "new-session",
        "-d",
        "-s",
        "sh",
        "-x",
        "60",
        "-y",
        "10",
        "-e",
        "PS1=$ ",
        "sh",
    ]);
    // Type only once both shells show their prompt, or the echo order differs.
    for side in [0, 1] {
        wait_until(Duration::from_secs(10), "the shell prompt", || {
            let args = ["capture-pane", "-p", "-t", "sh"];
            let out = if side == 0 {
                p.real.run(&args)
            } else {
                p.ours.run(&args)
            };
            (!String::from_utf8_lossy(&out.stdout).trim().is_empty()).then_some(())
        });
    }
    for args in [
        vec!["send-keys", "-t", "sh", "-l", "echo lit;"],
        vec!["send-keys", "-t", "sh", " hex", "Space"],
        vec!["send-keys", "-t", "sh", "-H", "41", "42"],
        vec!["send-keys", "-t", "sh", "Enter"],
    ] {
        p.same(&args);
    }
    p.wait_both("sh", "lit hex AB\n");
    p.same(&["send-keys", "-t", "sh", "echo \"T=$TMUX_PANE\"", "Enter"]);
    for side in [0, 1] {
        wait_until(Duration::from_secs(10), "the shell to run the keys", || {
            let args = ["capture-pane", "-p", "-t", "sh"];
            let out = if side == 0 {
                p.real.run(&args)
            } else {
                p.ours.run(&args)
            };
            String::from_utf8_lossy(&out.stdout)
                .contains("T=%0")
                .then_some(())
        });
    }
    p.same(&["capture-pane", "-p", "-t", "sh"]);
    // Buffers: load from stdin, paste with -d, then the buffer is gone.
    for side in [0, 1] {
        let mut cmd = if side == 0 {
            let mut c = Command::new("tmux");
            c.args(["-L", &p.real.label, "-f", "/dev/null"]);
            c
        } else {
            let mut c = Command::new(env!("CARGO_BIN_EXE_aegis"));
            c.args(["tmux", "-L", &p.ours.label])
                .env("AEGIS_STATE_DIR", d.dir.path().join("state"));
            c
        };
        cmd.args(["load-buffer", "-b", "b1", "-"])
            .env_remove("TMUX")
            .stdin(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("load-buffer");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"echo pasted-one\necho pasted-two\n")
            .expect("write stdin");
        assert!(child.wait().expect("wait").success());
    }
    p.same(&["paste-buffer", "-d", "-p", "-b", "b1", "-t", "sh"]);
    p.same(&["paste-buffer", "-b", "b1", "-t", "sh"]);
    for side in [0, 1] {
        wait_until(
            Duration::from_secs(10),
            "the pasted commands to run",
            || {
                let args = ["capture-pane", "-p", "-t", "sh"];
                let out = if side == 0 {
                    p.real.run(&args)
                } else {
                    p.ours.run(&args)
                };
                let s = String::from_utf8_lossy(&out.stdout).into_owned();
                (s.matches("pasted-two").count() >= 2).then_some(())
            },
        );
    }
    p.same(&["capture-pane", "-p", "-t", "sh"]);
    p.same(&["set-environment", "-g", "AEGIS_DIFF_VAR", "v1"]);
    p.same(&["set-environment", "-t", "sh", "SESSION_VAR", "s1"]);
    p.same(&["show-environment", "-t", "sh", "SESSION_VAR"]);
    p.same(&["show-environment", "-g", "AEGIS_DIFF_VAR"]);
    p.same(&["show-environment", "-t", "sh", "MISSING"]);
    p.same(&["respawn-pane", "-t", "sh"]);
    p.same(&[
        "respawn-pane",
        "-k",
        "-t",
        "sh",
        "sh",
        "-c",
        "echo \"respawned $SESSION_VAR $AEGIS_DIFF_VAR\"; sleep 1000",
    ]);
    for side in [0, 1] {
        wait_until(Duration::from_secs(10), "the respawned pane", || {
            let args = ["capture-pane", "-p", "-t", "sh"];
            let out = if side == 0 {
                p.real.run(&args)
            } else {
                p.ours.run(&args)
            };
            String::from_utf8_lossy(&out.stdout)
                .contains("respawned")
                .then_some(())
        });
    }
    p.same(&["capture-pane", "-p", "-t", "sh"]);
    p.same(&[
        "display-message",
        "-p",
        "-t",
        "sh",
        "#{pane_id} #{session_id}",
    ]);
}

#[test]
fn tmux_compat_shim_on_path_nested_tools_and_rest_visibility() {
    let d = Daemon::start();
    let shim = d.dir.path().join("shim");
    let out = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["tmux-shim", "install"])
        .arg(&shim)
        .output()
        .expect("tmux-shim install");
    assert!(out.status.success(), "{:?}", text(&out));
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(args)
            .env("PATH", &path)
            .env("AEGIS_STATE_DIR", d.dir.path().join("state"))
            .env("TMUX_TMPDIR", d.dir.path())
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .current_dir(d.work_dir())
            .output()
            .expect("tmux through the shim")
    };
    assert_eq!(text(&tmux(&["-V"])).0, "tmux 3.3a\n");
    // A session made through the shim; its program calls `tmux` again, as nested tools do.
    let script = "echo \"T=$TMUX|P=$TMUX_PANE\"; tmux display-message -p 'nested:#{session_name}:#{pane_id}'; exec sleep 1000";
    let out = tmux(&[
        "new-session",
        "-d",
        "-s",
        "nest",
        "-x",
        "100",
        "-y",
        "10",
        script,
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let socket = d
        .dir
        .path()
        .join(format!("tmux-{}", nix_uid()))
        .join("default");
    let screen = wait_until(Duration::from_secs(10), "the nested tmux call", || {
        let s = text(&tmux(&["capture-pane", "-p", "-t", "nest"])).0;
        s.contains("nested:").then_some(s)
    });
    assert!(
        screen.contains(&format!("T={},", socket.display())) && screen.contains("|P=%0"),
        "{screen}"
    );
    assert!(screen.contains("nested:nest:%0"), "{screen}");
    // Stand-in sessions are ordinary Aegis sessions, and REST sessions show in tmux.
    let (_, list) = d.get("/v1/sessions");
    assert!(list.to_string().contains("\"nest\""), "{list}");
    d.create(serde_json::json!({
        "workDir": d.work_dir(), "name": "from-rest", "agentType": "custom", "command": ["sleep", "1000"],
    }));
    let ls = text(&tmux(&["list-sessions", "-F", "#{session_name}"])).0;
    assert_eq!(ls, "from-rest\nnest\n");
    // An unsupported command fails loudly.
    let (_, err, code) = text(&tmux(&["display-menu", "-t", "nest", "x"]));
    assert_eq!(code, Some(1));
    assert!(
        err.contains("not supported by the Aegis tmux stand-in"),
        "{err}"
    );
}

fn nix_uid() -> String {
    text(&Command::new("id").arg("-u").output().expect("id -u"))
        .0
        .trim()
        .to_owned()
}

#[test]
fn tmux_compat_history_limit_applies_to_new_panes() {
    assert!(tmux_available());
    let d = Daemon::start();
    let p = pair(&d, "histlimit");
    p.same(&["new-session", "-d", "-s", "h", "-x", "40", "-y", "10"]);
    p.same(&["set-option", "-g", "history-limit", "50"]);
    p.same(&[
        "new-window",
        "-d",
        "-t",
        "h",
        "seq 1 300; echo END; exec sleep 100",
    ]);
    p.wait_both("h:1", "END");
    p.same(&["capture-pane", "-p", "-S", "-", "-t", "h:1"]);
    p.same(&[
        "display-message",
        "-p",
        "-t",
        "h:1",
        "#{history_size}/#{history_limit}",
    ]);
    // The panes started before keep the limit they started with.
    p.same(&["display-message", "-p", "-t", "h:0", "#{history_limit}"]);
    // And the pane's Aegis session says so.
    let (_, sessions) = d.get("/v1/sessions");
    let limits: Vec<u64> = sessions["sessions"]
        .as_array()
        .expect("session list")
        .iter()
        .filter_map(|s| s["historyLines"].as_u64())
        .collect();
    assert!(limits.contains(&50) && limits.contains(&2000), "{limits:?}");
}
