//! The `aegis` client subcommands against a running daemon (and without one).

use std::process::Command;
use std::time::Duration;

use crate::support::{Daemon, Options, wait_until};

/// The `aegis` program set to talk to `d` (or to an address nothing listens on).
pub fn aegis_command(d: Option<&Daemon>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aegis"));
    cmd.env_remove("AEGIS_AUTH_TOKEN");
    match d {
        Some(d) => {
            cmd.env("AEGIS_URL", &d.url);
            if let Some(t) = &d.token {
                cmd.env("AEGIS_AUTH_TOKEN", t);
            }
        }
        None => {
            cmd.env("AEGIS_URL", "http://127.0.0.1:9");
        }
    }
    cmd
}

/// Run `aegis ARGS` against `d` (or an address nothing listens on): success, stdout, stderr.
pub fn aegis(d: Option<&Daemon>, args: &[&str]) -> (bool, String, String) {
    let out = aegis_command(d).args(args).output().expect("running aegis");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn new_ls_send_read_keys_kill() {
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "cli-token")],
    });
    let work = d.work_dir();
    let work = work.to_str().expect("utf-8 path");
    let (ok, out, err) = aegis(
        Some(&d),
        &[
            "new",
            "-C",
            work,
            "--name",
            "cli-bash",
            "--agent",
            "shell",
            "--",
            "bash",
            "--norc",
            "--noprofile",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("cli-bash"), "{out}");
    let (ok, out, _) = aegis(Some(&d), &["ls"]);
    assert!(
        ok && out.contains("cli-bash") && out.contains("NAME"),
        "{out}"
    );
    let (ok, out, _) = aegis(Some(&d), &["ls", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).expect("--json output is JSON");
    assert_eq!(v["total"], 1);
    let (ok, out, err) = aegis(Some(&d), &["send", "cli-bash", "echo cli-$((3*4))"]);
    assert!(ok, "{err}");
    assert!(out.contains("delivered: true"), "{out}");
    wait_until(Duration::from_secs(20), "the echo on screen", || {
        let (_, out, _) = aegis(Some(&d), &["read", "cli-bash"]);
        out.contains("\ncli-12").then_some(())
    });
    let (ok, _, err) = aegis(Some(&d), &["keys", "cli-bash", "echo k", "Enter"]);
    assert!(ok, "{err}");
    let (ok, out, _) = aegis(Some(&d), &["kill", "cli-bash"]);
    assert!(ok, "{out}");
    let (ok, _, err) = aegis(Some(&d), &["read", "cli-bash"]);
    assert!(!ok);
    assert!(err.contains("session not found"), "{err}");
}

#[test]
fn a_down_daemon_is_a_clear_error() {
    let (ok, _, err) = aegis(None, &["ls"]);
    assert!(!ok);
    assert!(err.contains("cannot reach the Aegis daemon"), "{err}");
    assert!(err.contains("aegis serve"), "{err}");
}

#[test]
fn a_wrong_token_is_reported() {
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "right")],
    });
    let out = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["ls"])
        .env("AEGIS_URL", &d.url)
        .env("AEGIS_AUTH_TOKEN", "wrong")
        .output()
        .expect("aegis");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing or invalid API token"));
}
