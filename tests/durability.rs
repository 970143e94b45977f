//! Durable sessions: sessions live in holder processes and survive the daemon being
//! killed with SIGKILL or stopped gracefully; nothing printed while no daemon ran is lost;
//! a dead holder ends only its own session; recordings play in asciinema.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Daemon, Options, id_of, nix_kill, pid_exists, support_bin, wait_until};

/// Claude Code's hooks across a restart.
mod hooks;
/// The history rebuilt from holder snapshots after a restart.
mod snapshot;

const T: Duration = Duration::from_secs(20);

/// A daemon whose sessions outlive it (the product default; test support turns it off).
pub fn durable_daemon() -> Daemon {
    Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_KILL_SESSIONS_ON_EXIT", "false")],
    })
}

/// Kills every holder of this test's state dir when the test ends, so a failing test leaves
/// nothing running (the children get SIGHUP when their pty closes). Holders are found by
/// their command line, never by a pid that may have been reused.
pub struct Cleanup(pub PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let sessions = self.0.join("state/sessions").display().to_string();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_holder = args.first().is_some_and(|a| a.ends_with("/aegis-holder"))
                || args.get(1).is_some_and(|a| a == "holder");
            let is_ours = is_holder && args.iter().any(|a| a.starts_with(&sessions));
            if is_ours {
                let _ = nix_kill(pid, "KILL");
            }
        }
    }
}

fn registry_pid(dir: &Path, id: &str) -> Option<i64> {
    let reg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/registry.json")).ok()?)
            .ok()?;
    reg["sessions"].as_array()?.iter().find(|s| s["id"] == id)?["pid"].as_i64()
}

fn parent_of(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
}

/// The output stream of an asciicast v2 recording: every "o" event, concatenated.
fn recorded_output(cast: &str) -> String {
    let mut lines = cast.lines();
    let header: Value = serde_json::from_str(lines.next().expect("header")).expect("header json");
    assert_eq!(header["version"], 2);
    lines
        .filter_map(|l| serde_json::from_str::<(f64, String, String)>(l).ok())
        .filter(|(_, code, _)| code == "o")
        .map(|(_, _, data)| data)
        .collect()
}

fn recording(d: &Daemon, id: &str) -> String {
    let resp = d
        .http()
        .get(format!("{}/v1/sessions/{id}/recording", d.url))
        .send()
        .expect("recording request");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().expect("recording body")
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.matches("\r\n").count())
        .unwrap_or(0)
}

struct Printer {
    id: String,
    log: PathBuf,
    stop: PathBuf,
}

fn start_printer(d: &Daemon) -> Printer {
    let log = d.dir.path().join("printer.log");
    let stop = d.dir.path().join("printer.stop");
    let v = d.spawn(&[
        "python3",
        &support_bin("logged_printer.py"),
        &log.display().to_string(),
        &stop.display().to_string(),
    ]);
    let p = Printer {
        id: id_of(&v),
        log,
        stop,
    };
    d.wait_screen(&p.id, "line 5 ", T);
    p
}

/// The shared scenario: bash and a printing agent, the daemon goes away (`down`), the
/// children keep printing, a new daemon comes up and everything carries on.
fn survive(down: impl FnOnce(&mut Daemon)) {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let bash = d.bash();
    d.wait_screen(&bash, "$", T);
    d.send(&bash, "echo before-$((20+22))");
    d.wait_screen(&bash, "before-42", T);
    d.wait_status(&bash, "idle", T);
    let printer = start_printer(&d);
    let bash_pid = d.get(&format!("/v1/sessions/{bash}")).1["pid"].clone();

    down(&mut d);
    // While no daemon runs, the agent keeps printing (its pty is drained by the holder).
    let printed = line_count(&printer.log);
    wait_until(T, "the printer to keep printing without a daemon", || {
        (line_count(&printer.log) >= printed + 25).then_some(())
    });

    d.restart();
    let list = d.get("/v1/sessions").1;
    assert_eq!(list["total"], 2, "{list}");
    for s in list["sessions"].as_array().expect("sessions") {
        assert_ne!(s["status"], "exited", "{s}");
    }
    // Same process, same screen, still usable.
    let v = d.wait_status(&bash, "idle", T);
    assert_eq!(v["pid"], bash_pid);
    assert!(d.screen(&bash).contains("before-42"));
    d.send(&bash, "echo after-$((40+2))");
    d.wait_screen(&bash, "after-42", T);
    assert_ne!(d.status(&printer.id), "exited");

    // Stop the printer and compare: the recording holds every byte it wrote, downtime included.
    std::fs::write(&printer.stop, b"").expect("stop file");
    d.wait_status(&printer.id, "exited", T);
    let written = String::from_utf8(std::fs::read(&printer.log).expect("log")).expect("utf8");
    assert!(written.ends_with("DONE\r\n"));
    let recorded = recorded_output(&recording(&d, &printer.id));
    assert!(
        recorded == written,
        "recording differs from what the child wrote: {} vs {} bytes",
        recorded.len(),
        written.len()
    );
    // The screen is what a terminal shows after that byte stream: its last lines.
    let screen = d.screen(&printer.id);
    let shown: Vec<&str> = screen.lines().filter(|l| !l.is_empty()).collect();
    let expected: Vec<String> = written
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.replace("\x1b[32m", "").replace("\x1b[0m", ""))
        .collect();
    assert!(shown.len() > 10, "{screen}");
    assert_eq!(
        shown,
        expected[expected.len() - shown.len()..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
}

#[test]
fn sessions_survive_daemon_sigkill_without_losing_output() {
    survive(|d| d.kill9());
}

#[test]
fn sessions_survive_graceful_daemon_restart() {
    survive(|d| d.stop());
}

#[test]
fn killing_a_holder_ends_only_its_session() {
    let d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let a = d.bash();
    let b = d.bash();
    d.wait_screen(&a, "$", T);
    d.wait_screen(&b, "$", T);
    let pid = d.get(&format!("/v1/sessions/{a}")).1["pid"]
        .as_i64()
        .expect("pid");
    let holder = parent_of(pid).expect("holder pid");
    nix_kill(holder as i32, "KILL").expect("kill");
    d.wait_status(&a, "exited", T);
    // The pty closed with its holder, so the shell got SIGHUP and is gone too.
    wait_until(T, "the orphaned shell to go", || {
        (!pid_exists(pid)).then_some(())
    });
    d.send(&b, "echo still-$((1+1))");
    d.wait_screen(&b, "still-2", T);
    d.wait_status(&b, "idle", T);
    // DELETE still ends the other one, holder and child.
    let b_pid = d.get(&format!("/v1/sessions/{b}")).1["pid"]
        .as_i64()
        .expect("pid");
    let b_holder = parent_of(b_pid).expect("holder pid");
    let (status, _) = d.call(reqwest::Method::DELETE, &format!("/v1/sessions/{b}"), None);
    assert_eq!(status, StatusCode::OK);
    wait_until(T, "the holder and child to exit", || {
        (!pid_exists(b_pid) && !pid_exists(b_holder)).then_some(())
    });
}

/// A session whose directory is deleted behind a dead daemon can never be reached again: its
/// holder, which checks its directory only while no daemon is connected (at once when the
/// connection closes, then every 5 s), notices, stops the child and exits.
#[test]
fn a_holder_whose_session_directory_is_deleted_stops_its_session() {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let id = d.bash();
    d.wait_screen(&id, "$", T);
    let pid = d.get(&format!("/v1/sessions/{id}")).1["pid"]
        .as_i64()
        .expect("pid");
    let holder = parent_of(pid).expect("holder pid");
    d.kill9();
    std::fs::remove_dir_all(d.dir.path().join("state/sessions").join(&id))
        .expect("remove the session directory");
    wait_until(T, "the holder and its child to exit", || {
        (!pid_exists(pid) && !pid_exists(holder)).then_some(())
    });
}

/// A daemon too slow to read (here: stopped) is dropped by the holder, which drains the child
/// on its own. If the child then exits, the holder must wait for the daemon to come back for
/// the tail, not leave with it: the final screen is what users read to see how it ended.
#[test]
fn a_holder_whose_child_exited_waits_for_the_daemon_it_dropped() {
    let d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let go = d.work_dir().join("go");
    let script = format!(
        "echo READY; while [ ! -e {go} ]; do sleep 0.05; done; \
         yes aegis-flood-line | head -c 20000000; echo; echo TAIL-MARK",
        go = go.display()
    );
    let id = id_of(&d.spawn(&["sh", "-c", &script]));
    d.wait_screen(&id, "READY", T);
    let child = d.get(&format!("/v1/sessions/{id}")).1["pid"]
        .as_i64()
        .expect("pid");
    let holder = parent_of(child).expect("holder pid");
    let holder_log = d.dir.path().join(format!("state/sessions/{id}/holder.log"));
    nix_kill(d.pid as i32, "STOP").expect("stop the daemon");
    std::fs::write(&go, "").expect("go file");
    wait_until(
        Duration::from_secs(60),
        "the holder to drop the daemon",
        || {
            let log = std::fs::read_to_string(&holder_log).unwrap_or_default();
            log.contains("closing the daemon connection").then_some(())
        },
    );
    // Past the drain window: the holder either left (losing the tail) or says it waits.
    let waited = wait_until(T, "the holder to leave or wait", || {
        let log = std::fs::read_to_string(&holder_log).unwrap_or_default();
        if log.contains("waiting for the daemon") {
            Some(true)
        } else {
            (log.contains("holder stopping") || !pid_exists(holder)).then_some(false)
        }
    });
    nix_kill(d.pid as i32, "CONT").expect("resume the daemon");
    let v = d.wait_status(&id, "exited", Duration::from_secs(60));
    assert_eq!(v["exitCode"], 0, "{v}");
    let screen = d.screen(&id);
    assert!(waited, "the holder left without the daemon");
    assert!(screen.contains("TAIL-MARK"), "{screen}");
}

/// `reset` clears the screen for good: a daemon restarted afterwards rebuilds the screen from
/// the holder's replay, which must not bring the cleared text back.
#[test]
fn a_reset_screen_stays_reset_after_a_daemon_restart() {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let bash = d.bash();
    d.send(&bash, "echo before-$((6*7))-reset");
    d.wait_screen(&bash, "before-42-reset", T);
    let (status, v) = d.post(&format!("/v1/sessions/{bash}/reset"), json!({}));
    assert_eq!(status, StatusCode::OK, "{v}");
    d.send(&bash, "echo after-$((6*7))-reset");
    d.wait_screen(&bash, "after-42-reset", T);
    d.kill9();
    d.restart();
    d.wait_screen(&bash, "after-42-reset", T);
    let (_, r) = d.get(&format!("/v1/sessions/{bash}/read?lines=500"));
    let output = r["output"].as_str().unwrap_or_default();
    assert!(output.contains("after-42-reset"), "{r}");
    assert!(!output.contains("before-42-reset"), "{r}");
}

/// The command line of the holder of session `id`.
fn holder_argv(d: &Daemon, id: &str) -> Vec<String> {
    let pid = d.get(&format!("/v1/sessions/{id}")).1["pid"]
        .as_i64()
        .expect("pid");
    let holder = parent_of(pid).expect("holder pid");
    std::fs::read(format!("/proc/{holder}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[test]
fn holders_run_the_small_binary_only_when_built_from_the_same_sources() {
    // As cargo builds them: `aegis-holder` beside `aegis`, from the same sources.
    let d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let id = d.bash();
    d.wait_screen(&id, "$", T);
    let argv = holder_argv(&d, &id);
    assert!(argv[0].ends_with("/aegis-holder"), "{argv:?}");

    // A daemon beside an `aegis-holder` from other sources (a `cargo run` that rebuilt only
    // the daemon) does not use it: it runs its own `holder` subcommand, and says why.
    let bin = tempfile::tempdir().expect("temp dir");
    let exe = bin.path().join("aegis");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_aegis"), &exe).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_aegis"), &exe).expect("copying aegis");
    }
    let stale = bin.path().join("aegis-holder");
    std::fs::write(&stale, "#!/bin/sh\necho 0123456789abcdef\n").expect("stale holder");
    std::fs::set_permissions(&stale, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let d2 = Daemon::start_from(
        &exe,
        Options {
            args: &[],
            env: &[("AEGIS_KILL_SESSIONS_ON_EXIT", "false")],
        },
    );
    let _cleanup2 = Cleanup(d2.dir.path().to_path_buf());
    let id2 = d2.bash();
    d2.wait_screen(&id2, "$", T);
    let argv = holder_argv(&d2, &id2);
    assert_eq!(argv[0], exe.display().to_string(), "{argv:?}");
    assert_eq!(argv[1], "holder", "{argv:?}");
    assert!(
        d2.log()
            .contains("aegis-holder was built from other sources"),
        "{}",
        d2.log()
    );
    d2.send(&id2, "echo fallback-$((40+2))");
    d2.wait_screen(&id2, "fallback-42", T);
}

/// A full disk, as the holder sees it: `RLIMIT_FSIZE` set on the running holder, so its next
/// recording writes fail (EFBIG, and SIGXFSZ, which kills a process that does not handle it).
/// Permissions cannot simulate an unwritable file here: the tests run as root.
fn limit_file_size(pid: i64, bytes: u64) {
    // util-linux's prlimit (Debian essential): the crate forbids unsafe, even in tests.
    let out = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--fsize={bytes}:{bytes}"),
        ])
        .output()
        .expect("running prlimit");
    assert!(out.status.success(), "prlimit: {out:?}");
}

#[test]
fn a_failing_recording_write_stops_the_recording_not_the_session() {
    let d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let events = crate::streams::sse(&d, "/v1/events?types=session.recording_failed", None);
    let id = id_of(&d.spawn(&["cat"]));
    d.send(&id, "before-the-limit");
    d.wait_screen(&id, "before-the-limit", T);
    let (_, info) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(info["recordingError"], Value::Null, "{info}");
    let cast = d
        .dir
        .path()
        .join(format!("state/sessions/{id}/recording.cast"));
    // The recording is flushed per chunk: once the echo is in the file, its size is final.
    let size = wait_until(T, "the echo in the recording", || {
        let text = std::fs::read_to_string(&cast).ok()?;
        text.contains("before-the-limit")
            .then_some(text.len() as u64)
    });
    let pid = info["pid"].as_i64().expect("pid");
    let holder = parent_of(pid).expect("holder pid");
    limit_file_size(holder, size + 16);

    d.send(&id, &"x".repeat(200));
    let info = wait_until(T, "recordingError in session info", || {
        let (_, v) = d.get(&format!("/v1/sessions/{id}"));
        v["recordingError"].is_string().then_some(v)
    });
    let error = info["recordingError"].as_str().unwrap_or_default();
    assert!(error.contains("File too large"), "{info}");
    let event = crate::streams::next_where(&events, "session.recording_failed", |f| {
        f.ty() == "session.recording_failed"
    });
    assert_eq!(event.json()["sessionId"], id.as_str());
    assert_eq!(event.json()["detail"]["error"], error);

    // The session goes on: same holder, same child, input still echoes.
    d.send(&id, "after-the-limit");
    d.wait_screen(&id, "after-the-limit", T);
    assert!(pid_exists(holder), "the holder died with its recording");
    let (_, info) = d.get(&format!("/v1/sessions/{id}"));
    assert_ne!(info["status"], "exited", "{info}");
    // What was recorded before the failure is still served, and still valid asciicast.
    let recorded = recorded_output(&recording(&d, &id));
    assert!(recorded.contains("before-the-limit"), "{recorded:?}");
    assert!(!recorded.contains("after-the-limit"), "{recorded:?}");
    // A daemon that connects later learns it from the holder too.
    let mut d = d;
    d.kill9();
    d.restart();
    let (_, info) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(info["recordingError"], error, "{info}");
    d.send(&id, "after-the-restart");
    d.wait_screen(&id, "after-the-restart", T);
}

#[test]
fn a_session_that_exits_while_the_daemon_is_down_keeps_its_exit_code() {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let bash = d.bash();
    d.wait_screen(&bash, "$", T);
    d.stop();
    // No daemon to type into it: end the shell with a signal, as a crash would.
    let pid = registry_pid(d.dir.path(), &bash).expect("pid in registry");
    nix_kill(pid as i32, "TERM").ok();
    nix_kill(pid as i32, "HUP").expect("kill");
    wait_until(T, "the shell to exit", || (!pid_exists(pid)).then_some(()));
    d.restart();
    let v = d.wait_status(&bash, "exited", T);
    assert_eq!(v["exitCode"], 129, "{v}");
}

#[test]
fn corrupt_registry_is_recovered_with_a_clear_error() {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let bash = d.bash();
    d.wait_screen(&bash, "$", T);
    d.stop();
    let reg = d.dir.path().join("state/registry.json");
    let full = std::fs::read(&reg).expect("registry");
    // A partially written file, as a crash of a non-atomic writer would leave.
    std::fs::write(&reg, &full[..full.len() / 2]).expect("truncate");
    d.restart();
    assert_eq!(d.get("/v1/sessions").1["total"], 1);
    d.wait_status(&bash, "idle", T);
    d.send(&bash, "echo recovered-$((2*3))");
    d.wait_screen(&bash, "recovered-6", T);
    assert!(
        d.log().contains("registry is corrupt"),
        "no clear error logged"
    );
    let aside = std::fs::read_dir(d.dir.path().join("state"))
        .expect("state dir")
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("registry.json.corrupt-")
        });
    assert!(aside, "the corrupt registry was not kept for inspection");
    // A registry from a newer aegis stops the daemon instead of being overwritten.
    d.stop();
    std::fs::write(&reg, br#"{"version": 999, "sessions": []}"#).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["serve", "--port", "0", "--state-dir"])
        .arg(d.dir.path().join("state"))
        .output()
        .expect("run aegis");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("newer than this aegis"), "{err}");
    assert_eq!(
        std::fs::read(&reg).expect("registry"),
        br#"{"version": 999, "sessions": []}"#
    );
}

#[test]
fn transcript_cursors_are_per_client_and_never_destructive() {
    let d = Daemon::start();
    let id = id_of(&d.spawn(&["sh", "-c", "printf 'one\\ntwo\\n'; exec cat"]));
    d.wait_screen(&id, "two", T);
    let path = format!("/v1/sessions/{id}/transcript");
    let (status, first) = d.get(&format!("{path}?client=a"));
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["text"], "one\ntwo\n");
    // Client b still sees everything: a's read took nothing away.
    assert_eq!(d.get(&format!("{path}?client=b")).1["text"], "one\ntwo\n");
    d.send(&id, "three");
    d.wait_screen(&id, "three\nthree", T);
    let next = d.get(&format!("{path}?client=a")).1;
    assert_eq!(next["text"], "three\nthree\n", "{next}");
    assert_eq!(next["since"], first["next"]);
    // An explicit offset works without any server-side cursor.
    let again = d.get(&format!("{path}?since={}", first["next"])).1;
    assert_eq!(again["text"], "three\nthree\n");
    let (status, bad) = d.get(&format!("{path}?since=-1"));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
}

#[test]
fn recording_plays_in_asciinema() {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/asciinema");
    if !venv.exists() {
        eprintln!(
            "SKIPPED: {} is missing; run scripts/install-test-deps",
            venv.display()
        );
        return;
    }
    let d = Daemon::start();
    let id = id_of(&d.spawn(&[
        "sh",
        "-c",
        "printf 'caf\\303\\251 \\342\\234\\223 played\\n'; exit 3",
    ]));
    d.wait_status(&id, "exited", T);
    d.post(
        &format!("/v1/sessions/{id}/resize"),
        json!({ "cols": 90, "rows": 30 }),
    );
    let cast = d.dir.path().join("s.cast");
    std::fs::write(&cast, recording(&d, &id)).expect("write cast");
    let out = std::process::Command::new(&venv)
        .arg("cat")
        .arg(&cast)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("asciinema");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("café ✓ played"), "{shown}");
}
