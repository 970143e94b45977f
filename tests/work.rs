//! The work routes end to end: the quality gate on a real cargo project
//! (and pytest's fallback), workers in real git worktrees (ignored files, a daemon restart),
//! and debriefs captured from a fake agent before the kill (and bounded by waitMs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::durability::{Cleanup, durable_daemon};
use crate::streams::{next_where, sse};
use crate::support::{Daemon, Options, id_of};

/// Generous bound for a status or screen change on a loaded 2-core machine.
const T: Duration = Duration::from_secs(30);

/// A bash session (no rc files) in `dir`.
pub fn bash_in(d: &Daemon, dir: &Path) -> String {
    let v = d.create(json!({
        "workDir": dir,
        "agentType": "shell",
        "command": ["bash", "--norc", "--noprofile"],
        "env": { "PS1": "$ " },
    }));
    id_of(&v)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {v}"))
}

#[test]
fn verify_detects_cargo_and_runs_configured_checks() {
    let d = Daemon::start();
    let crate_dir = d.dir.path().join("tiny");
    std::fs::create_dir_all(crate_dir.join("src")).expect("mkdir");
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .expect("write");
    std::fs::write(
        crate_dir.join("src/lib.rs"),
        "#[test]\nfn adds() { assert_eq!(1 + 1, 2); }\n",
    )
    .expect("write");
    let id = bash_in(&d, &crate_dir);
    let events = sse(&d, &format!("/v1/events?session={id}"), None);

    // No verify.toml: detected from Cargo.toml.
    let (s, v) = d.post(&format!("/v1/sessions/{id}/verify"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["source"], "auto");
    assert_eq!(v["passed"], true, "{v}");
    let c = check(&v, "cargo test");
    assert_eq!(c["argv"], json!(["cargo", "test"]));
    assert_eq!(c["exitCode"], 0);
    assert_eq!(c["timedOut"], false);
    assert!(
        c["outputTail"]
            .as_str()
            .unwrap_or_default()
            // Cargo's stderr is merged into the tail and can land between any two of the
            // harness's writes ("test adds ... " and "ok" are two, so are "test result: ok"
            // and ". 1 passed"): only text from one write is looked for.
            .contains("test adds ... "),
        "{c}"
    );
    let ev = next_where(&events, "verification event", |f| f.ty() == "verification");
    assert_eq!(ev.json()["detail"]["passed"], true, "{}", ev.data);

    // A verify.toml replaces detection: one passing, one failing, one timing out.
    std::fs::create_dir_all(crate_dir.join(".aegis")).expect("mkdir");
    std::fs::write(
        crate_dir.join(".aegis/verify.toml"),
        r#"
[[check]]
name = "unit"
argv = ["cargo", "test", "--offline"]

[[check]]
name = "lint"
argv = ["sh", "-c", "echo 'lint: 2 problems' >&2; exit 3"]

[[check]]
name = "slow"
argv = ["sleep", "30"]
timeout_secs = 1
"#,
    )
    .expect("write");
    let (s, v) = d.post(&format!("/v1/sessions/{id}/verify"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["source"], "config");
    assert_eq!(v["passed"], false);
    assert_eq!(check(&v, "unit")["passed"], true, "{v}");
    let lint = check(&v, "lint");
    assert_eq!(lint["passed"], false);
    assert_eq!(lint["exitCode"], 3);
    assert!(
        lint["outputTail"]
            .as_str()
            .unwrap_or_default()
            .contains("lint: 2 problems")
    );
    let slow = check(&v, "slow");
    assert_eq!(slow["timedOut"], true, "{slow}");
    assert_eq!(slow["passed"], false);
    assert!(
        slow["durationMs"].as_u64().unwrap_or(u64::MAX) < 10_000,
        "{slow}"
    );
    let ev = next_where(&events, "failed verification event", |f| {
        f.ty() == "verification" && f.json()["detail"]["passed"] == false
    });
    assert_eq!(
        ev.json()["detail"]["checks"].as_array().map(Vec::len),
        Some(3)
    );

    // An invalid file is a 422 naming the problem, never a silent fallback.
    std::fs::write(
        crate_dir.join(".aegis/verify.toml"),
        "[[check]]\nname = \"x\"\nargv = []\n",
    )
    .expect("write");
    let (s, v) = d.post(&format!("/v1/sessions/{id}/verify"), json!({}));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "INVALID_VERIFY_CONFIG");

    // A directory with nothing to check.
    let empty = bash_in(&d, &d.work_dir());
    let (s, v) = d.post(&format!("/v1/sessions/{empty}/verify"), json!({}));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "NO_CHECKS");
}

/// A repository with one commit and a local identity (worktrees share its config).
fn repo(d: &Daemon) -> PathBuf {
    let r = d.dir.path().join("repo");
    std::fs::create_dir_all(&r).expect("mkdir");
    git(&r, &["init", "-q", "-b", "main"]);
    git(&r, &["config", "user.name", "Aegis Test"]);
    git(&r, &["config", "user.email", "test@example.invalid"]);
    std::fs::write(r.join("README"), "hello\n").expect("write");
    git(&r, &["add", "README"]);
    git(&r, &["commit", "-q", "-m", "initial"]);
    r
}

fn dispatch(
    d: &Daemon,
    parent: &str,
    branch: &str,
    task: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({
        "parentSession": parent,
        "task": task,
        "branch": branch,
        "agent": "shell",
        "command": ["bash", "--norc", "--noprofile"],
        "env": { "PS1": "$ " },
        "issue": "9",
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    d.post("/v1/sessions/dispatch-worker", body)
}

#[test]
fn dispatched_worker_commits_on_its_branch_and_its_worktree_is_cleaned_up() {
    let d = Daemon::start();
    let repo = repo(&d);
    let parent = bash_in(&d, &repo);

    // The worker runs the task as its first input: a commit on its own branch.
    let (s, v) = dispatch(
        &d,
        &parent,
        "worker/one",
        "echo work > w.txt && git add w.txt && git commit -q -m 'worker commit' && echo COMMIT''TED",
        json!({}),
    );
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let w1 = v["session"]["id"].as_str().expect("id").to_owned();
    let tree = PathBuf::from(v["worker"]["worktree"].as_str().expect("worktree"));
    assert_eq!(v["worker"]["branch"], "worker/one");
    assert_eq!(v["worker"]["parentId"], parent.as_str());
    assert_eq!(v["session"]["workDir"], tree.to_str().expect("utf-8"));
    d.wait_screen(&w1, "COMMITTED", T);
    assert_eq!(
        git(&repo, &["log", "-1", "--format=%s", "worker/one"]),
        "worker commit"
    );
    assert_eq!(git(&repo, &["log", "-1", "--format=%s", "main"]), "initial");
    assert_eq!(
        git(&tree, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "worker/one"
    );

    // A second worker leaves an uncommitted file behind.
    let (s, v) = dispatch(
        &d,
        &parent,
        "worker/two",
        "echo dirty > d.txt && echo WRO''TE",
        json!({}),
    );
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let w2 = v["session"]["id"].as_str().expect("id").to_owned();
    let tree2 = PathBuf::from(v["worker"]["worktree"].as_str().expect("worktree"));
    d.wait_screen(&w2, "WROTE", T);

    let (s, v) = d.get(&format!("/v1/sessions/{parent}/workers"));
    assert_eq!(s, StatusCode::OK, "{v}");
    let branches: Vec<_> = v["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| w["branch"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(branches, ["worker/one", "worker/two"]);
    assert_eq!(v["workers"][0]["issue"], "9");

    // Killing the clean worker removes its worktree; its commit stays on the branch.
    let (s, v) = d.call(Method::DELETE, &format!("/v1/sessions/{w1}"), None);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["worktree"]["state"], "removed", "{v}");
    assert!(!tree.exists());
    assert_eq!(
        git(&repo, &["log", "-1", "--format=%s", "worker/one"]),
        "worker commit"
    );

    // The dirty one is kept, and says why.
    let (s, v) = d.call(Method::DELETE, &format!("/v1/sessions/{w2}"), None);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["worktree"]["state"], "kept", "{v}");
    assert!(
        v["worktree"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("uncommitted"),
        "{v}"
    );
    assert!(tree2.join("d.txt").exists());

    // keepWorktree on DELETE keeps even a clean one.
    let (s, v) = dispatch(&d, &parent, "worker/three", "true", json!({}));
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let w3 = v["session"]["id"].as_str().expect("id").to_owned();
    let tree3 = PathBuf::from(v["worker"]["worktree"].as_str().expect("worktree"));
    let (s, v) = d.call(
        Method::DELETE,
        &format!("/v1/sessions/{w3}?keepWorktree=true"),
        None,
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["worktree"]["state"], "kept", "{v}");
    assert!(tree3.is_dir());

    // Bad branches change nothing.
    for (branch, status) in [
        ("-b", StatusCode::BAD_REQUEST),
        ("a..b", StatusCode::BAD_REQUEST),
        ("x y", StatusCode::BAD_REQUEST),
        ("worker/one", StatusCode::CONFLICT),
    ] {
        let (s, v) = dispatch(&d, &parent, branch, "true", json!({}));
        assert_eq!(s, status, "{branch}: {v}");
        assert!(v["error"].is_string(), "{v}");
    }
    let (_, v) = d.get(&format!("/v1/sessions/{parent}/workers"));
    assert_eq!(v["workers"].as_array().map(Vec::len), Some(3));
    // A parent outside any repository.
    let outside = bash_in(&d, &d.work_dir());
    let (s, v) = dispatch(&d, &outside, "w", "true", json!({}));
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "NOT_A_GIT_REPO");
}

#[test]
fn debrief_is_captured_before_the_kill() {
    let d = Daemon::start();
    let v = crate::detect::fake(&d, "claude", &[], json!({}));
    let id = id_of(&v);
    d.wait_status(&id, "idle", T);
    let (s, v) = d.post(
        &format!("/v1/sessions/{id}/pre-kill-debrief"),
        json!({ "waitMs": 30000 }),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["kind"], "hotwash");
    assert_eq!(v["complete"], true, "{v}");
    assert_eq!(v["killed"], true);
    // The fake agent answers "You said: <prompt>", so the capture holds its reply.
    let text = v["text"].as_str().unwrap_or_default();
    assert!(text.contains("You said: AEGIS DEBRIEF"), "{v}");
    // Killed and removed; the debrief stays readable.
    let (s, _) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, stored) = d.get(&format!("/v1/sessions/{id}/debrief"));
    assert_eq!(s, StatusCode::OK, "{stored}");
    assert_eq!(stored["text"], v["text"]);
    let file = d.dir.path().join(format!("state/debriefs/{id}.json"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file)
        .expect("debrief file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let (s, v) = d.get("/v1/sessions/00000000-0000-4000-8000-000000000000/debrief");
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["code"], "DEBRIEF_NOT_FOUND");
    let other = d.bash();
    let (s, v) = d.post(
        &format!("/v1/sessions/{other}/pre-kill-debrief"),
        json!({ "waitMs": 0 }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(!d.status(&other).is_empty(), "a bad request must not kill");
}

#[test]
fn debrief_wait_bounds_delivering_the_request_too() {
    let d = Daemon::start();
    // The fake ignores its first Enters, so delivering the request takes every repair press
    // the daemon makes (seconds), far beyond the wait asked for.
    let v = crate::detect::fake(&d, "claude", &["--swallow-enters", "10"], json!({}));
    let id = id_of(&v);
    d.wait_status(&id, "idle", T);
    let started = std::time::Instant::now();
    let (s, v) = d.post(
        &format!("/v1/sessions/{id}/pre-kill-debrief"),
        json!({ "waitMs": 1000 }),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["complete"], false, "{v}");
    assert_eq!(v["killed"], true, "{v}");
    let waited = v["waitedMs"].as_u64().expect("waitedMs");
    // Slack for the two screen reads around the wait on a loaded machine; delivering alone
    // takes about 4.5 s here (three Enter presses, 1.5 s apart), so an unbounded send shows.
    assert!(waited < 2500, "waited {waited} ms for a wait of 1000: {v}");
    // The whole request (store and kill included) stays near the bound too.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn workers_survive_a_restart_and_ignored_files_keep_a_worktree() {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let repo = repo(&d);
    std::fs::write(repo.join(".gitignore"), "*.log\n").expect("write");
    git(&repo, &["add", ".gitignore"]);
    git(&repo, &["commit", "-q", "-m", "ignore logs"]);
    let parent = bash_in(&d, &repo);
    // One worker leaves only an ignored file behind, the other nothing.
    let (s, v) = dispatch(
        &d,
        &parent,
        "worker/logs",
        "echo output > build.log && echo LOG''GED",
        json!({}),
    );
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let logs = v["session"]["id"].as_str().expect("id").to_owned();
    let logs_tree = PathBuf::from(v["worker"]["worktree"].as_str().expect("worktree"));
    d.wait_screen(&logs, "LOGGED", T);
    let (s, v) = dispatch(&d, &parent, "worker/clean", "echo CLE''AN", json!({}));
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let clean = v["session"]["id"].as_str().expect("id").to_owned();
    let clean_tree = PathBuf::from(v["worker"]["worktree"].as_str().expect("worktree"));
    d.wait_screen(&clean, "CLEAN", T);
    // Worker records are private state.
    use std::os::unix::fs::PermissionsExt;
    let file = d.dir.path().join("state/workers.json");
    let mode = std::fs::metadata(&file)
        .expect("workers.json")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Sessions outlive the daemon in their holders; the new daemon still knows the workers.
    d.stop();
    d.restart();
    let (s, v) = d.get(&format!("/v1/sessions/{parent}/workers"));
    assert_eq!(s, StatusCode::OK, "{v}");
    let branches: Vec<&str> = v["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter_map(|w| w["branch"].as_str())
        .collect();
    assert_eq!(branches, ["worker/logs", "worker/clean"], "{v}");
    assert!(
        v["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .all(|w| w["status"] != "removed"),
        "{v}"
    );

    // An ignored file is something `git worktree remove` would delete: kept, and why.
    let (s, v) = d.call(Method::DELETE, &format!("/v1/sessions/{logs}"), None);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["worktree"]["state"], "kept", "{v}");
    let reason = v["worktree"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("ignored") && reason.contains("build.log"),
        "{v}"
    );
    assert!(logs_tree.join("build.log").exists());
    // The clean one is still tracked after the restart: its worktree goes.
    let (s, v) = d.call(Method::DELETE, &format!("/v1/sessions/{clean}"), None);
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["worktree"]["state"], "removed", "{v}");
    assert!(!clean_tree.exists());
}

#[test]
fn pytest_falls_back_to_python3_dash_m_without_a_pytest_program() {
    // The daemon's PATH holds a stand-in python3 only (it reports its arguments), so whether
    // this machine has pytest does not matter.
    let base = tempfile::tempdir().expect("tempdir");
    let bin = base.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let script = |name: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\necho \"stand-in {name} $*\"\n")).expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    script("python3");
    let path = bin.to_str().expect("utf-8").to_owned();
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("PATH", &path)],
    });
    let project = d.dir.path().join("py");
    std::fs::create_dir_all(&project).expect("mkdir");
    std::fs::write(project.join("pytest.ini"), "[pytest]\n").expect("write");
    let id = id_of(&d.create(json!({
        "workDir": project,
        "agentType": "shell",
        "command": ["/bin/sh"],
    })));
    let (s, v) = d.post(&format!("/v1/sessions/{id}/verify"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    let c = check(&v, "pytest");
    assert_eq!(c["argv"], json!(["python3", "-m", "pytest"]), "{v}");
    assert_eq!(c["passed"], true, "{v}");
    assert!(
        c["outputTail"]
            .as_str()
            .unwrap_or_default()
            .contains("stand-in python3 -m pytest"),
        "{c}"
    );
    // With a pytest program on PATH, that is what runs.
    script("pytest");
    let (s, v) = d.post(&format!("/v1/sessions/{id}/verify"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(check(&v, "pytest")["argv"], json!(["pytest"]), "{v}");
}
