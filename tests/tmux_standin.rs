//! The tmux stand-in beyond tmux's own behaviour: how `tmux` finds its daemon (with nothing
//! but tmux's environment; two daemons side by side; a socket directory with unsafe
//! permissions), a state directory too deep for holder sockets, a split pane being a
//! supervised Aegis session (detection, recording, REST), and control mode (`tmux -C`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Daemon, Options, support_bin, wait_until};

fn text(o: &Output) -> (String, String, Option<i32>) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

/// `tmux ARGS` with only PATH and TMUX_TMPDIR set: no HOME, no AEGIS_* variable.
fn bare_tmux(tmpdir: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aegis"))
        .arg("tmux")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMUX_TMPDIR", tmpdir)
        .current_dir(cwd)
        .output()
        .expect("running the stand-in")
}

fn uid() -> String {
    text(&Command::new("id").arg("-u").output().expect("id -u"))
        .0
        .trim()
        .to_owned()
}

fn session_names(d: &Daemon) -> Vec<String> {
    let (_, list) = d.get("/v1/sessions");
    list["sessions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn tmux_standin_finds_its_daemon_with_only_tmux_environment() {
    let d = Daemon::start();
    let tmp = d.dir.path();
    let out = bare_tmux(
        tmp,
        &d.work_dir(),
        &["new-session", "-d", "-s", "found", "sleep", "1000"],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let ls = bare_tmux(
        tmp,
        &d.work_dir(),
        &["list-sessions", "-F", "#{session_name} #{socket_path}"],
    );
    let socket = tmp.join(format!("tmux-{}", uid())).join("default");
    assert_eq!(text(&ls).0, format!("found {}\n", socket.display()));
    // Another -L is another namespace of the same daemon (no daemon of its own runs).
    let other = bare_tmux(tmp, &d.work_dir(), &["-L", "other", "has-session"]);
    assert_eq!(
        text(&other).1,
        format!(
            "error connecting to {} (No such file or directory)\n",
            tmp.join(format!("tmux-{}", uid())).join("other").display()
        )
    );
    let out = bare_tmux(
        tmp,
        &d.work_dir(),
        &[
            "-L",
            "other",
            "new-session",
            "-d",
            "-s",
            "elsewhere",
            "sleep",
            "1000",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let mut names = session_names(&d);
    names.sort();
    assert_eq!(names, ["elsewhere", "found"]);
    // Without a daemon there, tmux's error names the socket and says why.
    let empty = tempfile::tempdir().expect("tempdir");
    let out = bare_tmux(empty.path(), &d.work_dir(), &["list-sessions"]);
    let (_, err, code) = text(&out);
    assert_eq!(code, Some(1));
    assert!(err.contains("no Aegis daemon is running"), "{err}");
}

#[test]
fn tmux_standin_two_daemons_side_by_side_and_unsafe_directories() {
    let first = Daemon::start();
    let shared = first.dir.path().to_str().expect("utf-8 path").to_owned();
    let second = Daemon::start_with(Options {
        args: &["-L", "second"],
        env: &[("TMUX_TMPDIR", shared.as_str())],
    });
    let tmp = first.dir.path();
    let out = bare_tmux(
        tmp,
        &first.work_dir(),
        &["new-session", "-d", "-s", "one", "sleep", "1000"],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let out = bare_tmux(
        tmp,
        &first.work_dir(),
        &[
            "-L",
            "second",
            "new-session",
            "-d",
            "-s",
            "two",
            "sleep",
            "1000",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(session_names(&first), ["one"]);
    assert_eq!(session_names(&second), ["two"]);
    // A socket directory others may write to is refused, as tmux refuses its own; the
    // daemon says why and serves REST all the same.
    let unsafe_tmp = tempfile::tempdir().expect("tempdir");
    let dir = unsafe_tmp.path().join(format!("aegis-{}", uid()));
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let path = unsafe_tmp.path().to_str().expect("utf-8 path").to_owned();
    let third = Daemon::start_with(Options {
        args: &[],
        env: &[("TMUX_TMPDIR", path.as_str())],
    });
    let (status, _) = third.get("/v1/sessions");
    assert!(status.is_success());
    let log = third.log();
    assert!(
        log.contains(&format!(
            "directory {} has unsafe permissions",
            dir.display()
        )),
        "{log}"
    );
}

#[test]
fn tmux_standin_daemon_refuses_a_state_dir_too_deep_for_holder_sockets() {
    let base = tempfile::tempdir().expect("tempdir");
    let deep = base.path().join("x".repeat(60)).join("y".repeat(40));
    let out = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["serve", "--port", "0", "--state-dir"])
        .arg(&deep)
        .env("TMUX_TMPDIR", base.path())
        .env_remove("AEGIS_AUTH_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("aegis serve");
    let (_, err, code) = text(&out);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("over the 107-byte limit of a Unix socket path")
            && err.contains("--no-holders"),
        "{err}"
    );
}

/// A split pane runs a (fake) Claude Code: it is an Aegis session with its place in the tmux
/// tree over REST, its states detected and its output recorded.
#[test]
fn tmux_standin_split_pane_is_a_supervised_session() {
    let d = Daemon::start();
    let work = d.work_dir();
    // Named `claude`, so the stand-in starts it as a Claude Code session.
    let claude = d.dir.path().join("claude");
    std::fs::write(
        &claude,
        format!(
            "#!/bin/sh\nexec python3 {} --agent claude \"$@\"\n",
            support_bin("fake_agent.py")
        ),
    )
    .expect("wrapper");
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let tmp = d.dir.path();
    let out = bare_tmux(
        tmp,
        &work,
        &[
            "new-session",
            "-d",
            "-s",
            "team",
            "-x",
            "160",
            "-y",
            "50",
            "sleep",
            "1000",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let claude = claude.to_str().expect("utf-8 path");
    let out = bare_tmux(
        tmp,
        &work,
        &[
            "split-window",
            "-h",
            "-P",
            "-F",
            "#{pane_id}",
            "-t",
            "team",
            claude,
        ],
    );
    let (pane, err, code) = text(&out);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(pane, "%1\n");
    let (_, list) = d.get("/v1/sessions");
    let s: Value = list["sessions"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["tmux"]["pane"] == "%1").cloned())
        .unwrap_or_else(|| panic!("no session for %1: {list}"));
    assert_eq!(s["agentType"], "claude", "{s}");
    assert_eq!(s["tmux"]["session"], "team", "{s}");
    assert_eq!(s["tmux"]["window"], "@0", "{s}");
    assert_eq!(s["windowId"], "@0", "{s}");
    assert_eq!(s["tmux"]["paneIndex"], 1, "{s}");
    assert_eq!(s["cols"], 79, "{s}");
    let id = s["id"].as_str().expect("id").to_owned();
    // Run as `sh -c PATH`, it still gets Claude Code's hook settings, on its own argv.
    assert_eq!(s["hooks"], true, "{s}");
    let pid = s["pid"].as_i64().expect("pid");
    crate::support::wait_until(Duration::from_secs(10), "the agent's own argv", || {
        let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
        (argv.contains("--agent claude --settings ") && argv.contains("/hooks/")).then_some(())
    });
    d.wait_status(&id, "idle", Duration::from_secs(20));
    // Text pasted through tmux reaches the agent (a bracketed paste, so its Enter is not
    // taken for part of a typed burst); the permission dialog it opens is detected.
    let out = bare_tmux(
        tmp,
        &work,
        &[
            "set-buffer",
            "!ask bash rm -rf build",
            ";",
            "paste-buffer",
            "-p",
            "-t",
            "%1",
            ";",
            "send-keys",
            "-t",
            "%1",
            "Enter",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    d.wait_status(&id, "permission_prompt", Duration::from_secs(20));
    let cast = d
        .http()
        .get(format!("{}/v1/sessions/{id}/recording", d.url))
        .send()
        .expect("recording")
        .text()
        .expect("recording body");
    assert!(
        cast.contains("rm -rf build"),
        "the recording lacks the dialog:\n{cast}"
    );
    // Closing the pane removes its session; the first pane takes the whole window again.
    let out = bare_tmux(tmp, &work, &["kill-pane", "-t", "%1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let (status, _) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(status.as_u16(), 404);
    let ls = bare_tmux(
        tmp,
        &work,
        &["list-panes", "-t", "team", "-F", "#{pane_id} #{pane_width}"],
    );
    assert_eq!(text(&ls).0, "%0 160\n");
}

/// `tmux -C attach` is a client of its server until its standard input ends.
#[test]
fn tmux_standin_control_mode_client() {
    let d = Daemon::start();
    let tmp = d.dir.path();
    let work = d.work_dir();
    let out = bare_tmux(
        tmp,
        &work,
        &["new-session", "-d", "-s", "ctl", "sleep", "1000"],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let mut child = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["tmux", "-C", "attach-session", "-t", "$0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMUX_TMPDIR", tmp)
        .current_dir(&work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tmux -C");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<String> = vec![];
    let mut until = |want: &str| {
        wait_until(
            Duration::from_secs(10),
            &format!("{want:?} from the control client"),
            || {
                while let Ok(l) = rx.try_recv() {
                    lines.push(l);
                }
                lines.iter().any(|l| l.starts_with(want)).then_some(())
            },
        );
    };
    until("%session-changed $0 ctl");
    let clients = bare_tmux(
        tmp,
        &work,
        &[
            "list-clients",
            "-F",
            "#{client_name} #{client_pid} #{client_control_mode} #{session_name}",
        ],
    );
    assert_eq!(text(&clients).0, format!("client-{pid} {pid} 1 ctl\n"));
    // Commands on standard input answer between %begin and %end.
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"display-message -p 'from #{session_name}'\n")
        .expect("write");
    stdin.flush().expect("flush");
    until("from ctl");
    // A client-targeted command finds it.
    let out = bare_tmux(
        tmp,
        &work,
        &[
            "display-message",
            "-c",
            &format!("client-{pid}"),
            "-p",
            "#{client_name}",
        ],
    );
    assert_eq!(text(&out).0, format!("client-{pid}\n"));
    drop(stdin);
    until("%exit");
    let status = child.wait().expect("wait");
    assert!(status.success());
    let clients = bare_tmux(tmp, &work, &["list-clients"]);
    assert_eq!(text(&clients).0, "");
}
