//! Orchestration end to end on the fake agents: pipelines as a DAG (completing, failing,
//! stalling, keeping their sessions), spawn/children, fork (with an id given or learned from
//! the hook), reset, complete, roles after a restart, and the world, swarm and metrics views
//! with token usage. Templates are in `templates`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::durability::{Cleanup, durable_daemon};
use crate::support::{Daemon, Options, id_of, support_bin, wait_until};

/// A fake agent's argv (see tests/support/bin/fake_agent.py).
pub fn fake(agent: &str, extra: &[&str]) -> Value {
    let mut argv = vec![
        "python3".to_owned(),
        support_bin("fake_agent.py"),
        "--agent".into(),
        agent.into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    json!(argv)
}

pub fn agent(d: &Daemon, extra: &[&str], prompt: Option<&str>) -> String {
    let mut body = json!({
        "workDir": d.work_dir(),
        "agentType": "claude",
        "command": fake("claude", extra),
        "cols": 120,
    });
    if let Some(p) = prompt {
        body["prompt"] = json!(p);
    }
    id_of(&d.create(body))
}

fn wait_pipeline(d: &Daemon, id: &str) -> Value {
    wait_until(Duration::from_secs(90), "the pipeline to finish", || {
        let (_, v) = d.get(&format!("/v1/pipelines/{id}"));
        (v["status"] != "running").then_some(v)
    })
}

fn stage<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no stage {name} in {p}"))
}

#[test]
fn three_stage_dag_pipeline_completes_with_outputs() {
    let d = Daemon::start();
    let (status, p) = d.post(
        "/v1/pipelines",
        json!({
            "name": "dag",
            "workDir": d.work_dir(),
            "agentType": "claude",
            "command": fake("claude", &[]),
            "stages": [
                { "name": "c", "prompt": "gamma with {{stages.b.output}}", "dependsOn": ["a", "b"] },
                { "name": "a", "prompt": "alpha" },
                { "name": "b", "prompt": "beta after {{stages.a.output}}", "dependsOn": ["a"] },
            ],
        }),
    );
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().expect("id").to_owned();
    let done = wait_pipeline(&d, &id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(stage(&done, "a")["output"], "You said: alpha");
    assert_eq!(
        stage(&done, "b")["output"],
        "You said: beta after You said: alpha"
    );
    assert_eq!(
        stage(&done, "c")["prompt"],
        "gamma with You said: beta after You said: alpha"
    );
    // A stage starts only after its dependencies finished.
    let finished = |n: &str| stage(&done, n)["finishedAt"].as_u64().expect("finishedAt");
    let started = |n: &str| stage(&done, n)["startedAt"].as_u64().expect("startedAt");
    assert!(started("b") >= finished("a"));
    assert!(started("c") >= finished("b"));
    // Each stage ran in its own session, which the world view shows as a stage.
    let (_, world) = d.get("/v1/world");
    let stages: Vec<&Value> = world["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["role"] == "stage")
        .collect();
    assert_eq!(stages.len(), 3, "{world}");
    assert!(stages.iter().all(|s| s["group"]["id"] == id.as_str()));
    // A finished pipeline kills its stage sessions (no keepSessions): none stays idle.
    assert_eq!(done["keepSessions"], false);
    for s in ["a", "b", "c"] {
        let sid = stage(&done, s)["sessionId"].as_str().expect("sessionId");
        d.wait_status(sid, "exited", Duration::from_secs(15));
    }
    // The list (v0.3 shape: an array) has it too.
    let (_, list) = d.get("/v1/pipelines");
    assert_eq!(list[0]["id"], id.as_str());
}

/// Wait for pipeline `p` to finish and check that it failed at stage `a` for `why`, and that
/// stage `b`, which depends on it, was skipped.
fn failed_at_stage_a(d: &Daemon, p: &Value, why: &str) -> Value {
    let done = wait_pipeline(d, p["id"].as_str().expect("id"));
    assert_eq!(done["status"], "failed", "{done}");
    let reason = done["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("stage \"a\"") && reason.contains(why),
        "{reason}"
    );
    assert_eq!(stage(&done, "a")["status"], "failed");
    assert_eq!(stage(&done, "b")["status"], "skipped");
    done
}

#[test]
fn a_failing_stage_fails_the_pipeline_with_a_reason() {
    let d = Daemon::start();
    let (status, p) = d.post(
        "/v1/pipelines",
        json!({
            "name": "fails",
            "stages": [
                { "name": "a", "prompt": "!limit", "workDir": d.work_dir(),
                  "agentType": "claude", "command": fake("claude", &[]) },
                { "name": "b", "prompt": "never", "dependsOn": ["a"], "workDir": d.work_dir(),
                  "agentType": "claude", "command": fake("claude", &[]) },
            ],
        }),
    );
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let done = failed_at_stage_a(&d, &p, "error");
    assert!(stage(&done, "b")["sessionId"].is_null());
}

#[test]
fn bad_dags_are_refused_and_start_nothing() {
    let d = Daemon::start();
    let cases = [
        (
            json!([{ "name": "a", "prompt": "x", "dependsOn": ["b"] },
                { "name": "b", "prompt": "y", "dependsOn": ["a"] }]),
            "cycle",
        ),
        (
            json!([{ "name": "a", "prompt": "x", "dependsOn": ["zz"] }]),
            "unknown stage \"zz\"",
        ),
        (
            json!([{ "name": "a", "prompt": "x" },
                { "name": "b", "prompt": "{{stages.a.output}}" }]),
            "does not depend",
        ),
        (json!([{ "name": "a", "prompt": "{{who}}" }]), "\"who\""),
    ];
    for (stages, needle) in cases {
        let (status, v) = d.post(
            "/v1/pipelines",
            json!({ "name": "bad", "workDir": d.work_dir(), "command": fake("claude", &[]), "stages": stages }),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(needle),
            "{v}"
        );
    }
    let (_, list) = d.get("/v1/pipelines");
    assert_eq!(list, json!([]));
    let (_, sessions) = d.get("/v1/sessions");
    assert_eq!(sessions["total"], 0);
}

#[test]
fn deleting_a_pipeline_cancels_and_kills_its_sessions() {
    let d = Daemon::start();
    let (_, p) = d.post(
        "/v1/pipelines",
        json!({ "name": "slow", "workDir": d.work_dir(), "command": fake("claude", &[]),
                "stages": [{ "name": "a", "prompt": "!redraw 60" }] }),
    );
    let id = p["id"].as_str().expect("id").to_owned();
    let sid = wait_until(Duration::from_secs(30), "the stage session", || {
        let (_, v) = d.get(&format!("/v1/pipelines/{id}"));
        stage(&v, "a")["sessionId"].as_str().map(str::to_owned)
    });
    let (status, v) = d.call(Method::DELETE, &format!("/v1/pipelines/{id}"), None);
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "cancelled");
    assert_eq!(stage(&v, "a")["status"], "cancelled");
    d.wait_status(&sid, "exited", Duration::from_secs(15));
}

#[test]
fn spawn_children_fork_and_the_world() {
    let d = Daemon::start();
    let parent = id_of(&d.create(json!({
        "workDir": d.work_dir(),
        "agentType": "claude",
        "command": fake("claude", &[]),
        "env": { "PARENT_ONLY": "yes" },
    })));
    d.wait_status(&parent, "idle", Duration::from_secs(20));
    let (status, child) = d.post(
        &format!("/v1/sessions/{parent}/spawn"),
        json!({ "prompt": "child task", "name": "kid" }),
    );
    assert_eq!(status, StatusCode::CREATED, "{child}");
    assert_eq!(child["parentId"], parent.as_str());
    assert_eq!(child["workDir"], d.work_dir().display().to_string());
    let kid = id_of(&child);
    d.wait_screen(&kid, "You said: child task", Duration::from_secs(20));
    let (_, kids) = d.get(&format!("/v1/sessions/{parent}/children"));
    assert_eq!(kids["total"], 1);
    assert_eq!(kids["children"][0]["id"], kid.as_str());

    // A fork with a known conversation id resumes it as a fork, with the parent's env.
    let (status, f) = d.post(
        &format!("/v1/sessions/{parent}/fork"),
        json!({ "conversationId": "conv-123", "prompt": "!tools 1" }),
    );
    assert_eq!(status, StatusCode::CREATED, "{f}");
    let fid = id_of(&f);
    let argv: Vec<&str> = f["command"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The fork resumes the parent's conversation; it gets its own hook settings file (last),
    // never the parent's.
    assert!(
        argv.windows(3)
            .any(|w| w == ["--fork-session", "--resume", "conv-123"]),
        "{argv:?}"
    );
    assert_eq!(
        argv.iter().filter(|a| **a == "--settings").count(),
        1,
        "{argv:?}"
    );
    d.wait_screen(&fid, "RESUMED conv-123 fork=yes", Duration::from_secs(20));
    let pid = f["pid"].as_i64().expect("pid");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    assert!(String::from_utf8_lossy(&environ).contains("PARENT_ONLY=yes"));

    let (_, world) = d.get("/v1/world");
    let role = |id: &str| {
        world["sessions"]
            .as_array()
            .and_then(|s| s.iter().find(|x| x["id"] == id))
            .map(|x| x["role"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(role(&parent), "parent", "{world}");
    assert_eq!(role(&kid), "worker", "{world}");
    assert_eq!(role(&fid), "none", "{world}");
    // No transcript was reported (the fake sends no transcript_path): unknown, and why.
    let parent_view = world["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["id"] == parent.as_str()))
        .cloned()
        .unwrap_or_default();
    assert!(parent_view["usage"].is_null(), "{parent_view}");
    assert!(
        parent_view["usageUnknownReason"].is_string(),
        "{parent_view}"
    );
    let (_, swarm) = d.get("/v1/swarm");
    let lineage = swarm["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["kind"] == "lineage"))
        .cloned()
        .unwrap_or_else(|| panic!("no lineage group in {swarm}"));
    assert_eq!(lineage["id"], parent.as_str());
    assert_eq!(lineage["sessions"].as_array().map(Vec::len), Some(2));
    let counted: u64 = lineage["counts"]
        .as_object()
        .expect("counts")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(counted, 2);
}

#[test]
fn reset_clears_the_screen_and_complete_is_recorded() {
    let d = Daemon::start();
    let id = d.bash();
    d.send(&id, "echo before-reset");
    d.wait_screen(&id, "before-reset\n", Duration::from_secs(10));
    let (status, v) = d.post(&format!("/v1/sessions/{id}/reset"), json!({}));
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, r) = d.get(&format!("/v1/sessions/{id}/read?lines=500"));
    assert!(
        !r["output"]
            .as_str()
            .unwrap_or_default()
            .contains("before-reset"),
        "{r}"
    );
    // The child is untouched and still answers.
    d.send(&id, "echo after-reset");
    d.wait_screen(&id, "after-reset\n", Duration::from_secs(10));

    let (status, v) = d.post(
        &format!("/v1/sessions/{id}/complete"),
        json!({ "status": "done?" }),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = d.post(
        &format!("/v1/sessions/{id}/complete"),
        json!({ "status": "completed", "comment": "all green" }),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, world) = d.get("/v1/world");
    let me = &world["sessions"][0];
    assert_eq!(me["phase"], "completed", "{world}");
    assert_eq!(me["completion"]["comment"], "all green");
    let (status, _) = d.post(
        "/v1/sessions/nope/complete",
        json!({ "status": "completed" }),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn a_stage_that_stalls_fails_the_pipeline() {
    let d = Daemon::start();
    let (status, p) = d.post(
        "/v1/pipelines",
        json!({
            "name": "stalls",
            "workDir": d.work_dir(),
            "agentType": "claude",
            "command": fake("claude", &[]),
            "stallThresholdMs": 1500,
            "stages": [
                { "name": "a", "prompt": "!hang" },
                { "name": "b", "prompt": "never", "dependsOn": ["a"] },
            ],
        }),
    );
    assert_eq!(status, StatusCode::CREATED, "{p}");
    failed_at_stage_a(&d, &p, "stalled");
}

#[test]
fn fork_resumes_the_conversation_the_hook_reported() {
    let d = Daemon::start();
    // agentType claude: hooks are on by default, so the fake reports its session id.
    let parent = agent(&d, &[], None);
    let conversation = wait_until(
        Duration::from_secs(20),
        "the SessionStart hook's session id",
        || {
            let (_, v) = d.get(&format!("/v1/sessions/{parent}"));
            v["claudeSessionId"].as_str().map(str::to_owned)
        },
    );
    // No conversationId in the request and no --resume in the parent's argv.
    let (status, f) = d.post(&format!("/v1/sessions/{parent}/fork"), json!({}));
    assert_eq!(status, StatusCode::CREATED, "{f}");
    let argv: Vec<&str> = f["command"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        argv.windows(3)
            .any(|w| w == ["--fork-session", "--resume", conversation.as_str()]),
        "{argv:?}"
    );
    assert!(
        f["context"]
            .as_str()
            .unwrap_or_default()
            .contains("--fork-session"),
        "{f}"
    );
    d.wait_screen(
        &id_of(&f),
        &format!("RESUMED {conversation} fork=yes"),
        Duration::from_secs(20),
    );
}

#[test]
fn roles_survive_a_restart_and_kept_stage_sessions_stay() {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let (status, p) = d.post(
        "/v1/pipelines",
        json!({
            "name": "kept",
            "workDir": d.work_dir(),
            "agentType": "claude",
            "command": fake("claude", &[]),
            "keepSessions": true,
            "stages": [{ "name": "only", "prompt": "hello" }],
        }),
    );
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().expect("id").to_owned();
    let done = wait_pipeline(&d, &id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["keepSessions"], true);
    let sid = stage(&done, "only")["sessionId"]
        .as_str()
        .expect("sessionId")
        .to_owned();
    // keepSessions: the finished stage is still at its prompt.
    d.wait_status(&sid, "idle", Duration::from_secs(20));
    let role_of = |d: &Daemon| {
        let (_, world) = d.get("/v1/world");
        world["sessions"]
            .as_array()
            .and_then(|s| s.iter().find(|x| x["id"] == sid.as_str()))
            .cloned()
            .unwrap_or_else(|| panic!("no session {sid} in {world}"))
    };
    assert_eq!(role_of(&d)["role"], "stage");

    // The session lives on in its holder; the new daemon still knows it is a stage.
    d.stop();
    d.restart();
    let me = role_of(&d);
    assert_eq!(me["role"], "stage", "{me}");
    assert_eq!(me["group"]["id"], id.as_str(), "{me}");
    assert_ne!(me["status"], "exited", "{me}");
    let (status, _) = d.call(Method::DELETE, &format!("/v1/sessions/{sid}"), None);
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn world_and_metrics_report_token_usage_priced_by_the_config() {
    // A price far from the built-in Sonnet one, so the cost shows which table was used:
    // the fixture's 60 input tokens at 1000 USD per million are 0.06 USD.
    let base = tempfile::tempdir().expect("tempdir");
    let cfg = base.path().join("aegis.toml");
    std::fs::write(
        &cfg,
        "[pricing.\"claude-sonnet-4-5\"]\ninput = 1000.0\noutput = 0.0\ncache_write = 0.0\ncache_read = 0.0\n",
    )
    .expect("config");
    let d = Daemon::start_with(Options {
        args: &["--config", cfg.to_str().expect("utf-8")],
        env: &[],
    });
    let transcript = crate::support::claude_transcript_in(&d.work_dir());
    let t = transcript.display().to_string();
    let known = agent(&d, &["--transcript", &t], None);
    let unknown = id_of(&d.create(json!({
        "workDir": d.work_dir(),
        "agentType": "claude",
        "command": fake("claude", &[]),
        "hooks": false,
    })));
    let view = |world: &Value, id: &str| {
        world["sessions"]
            .as_array()
            .and_then(|s| s.iter().find(|x| x["id"] == id))
            .cloned()
            .unwrap_or_default()
    };
    let world = wait_until(Duration::from_secs(20), "usage in the world view", || {
        let (_, w) = d.get("/v1/world");
        (!view(&w, &known)["usage"].is_null()).then_some(w)
    });
    let usage = &view(&world, &known)["usage"];
    assert_eq!(usage["inputTokens"], 60, "{usage}");
    assert_eq!(usage["outputTokens"], 175, "{usage}");
    assert_eq!(usage["estimatedCostUsd"], 0.06, "{usage}");
    let other = view(&world, &unknown);
    assert!(other["usage"].is_null(), "{other}");
    assert!(
        other["usageUnknownReason"]
            .as_str()
            .unwrap_or_default()
            .contains("hooks are off"),
        "{other}"
    );

    // The global metrics sum what is known and count what is not.
    let (status, m) = d.get("/v1/metrics");
    assert_eq!(status, StatusCode::OK, "{m}");
    let total = &m["tokenUsage"];
    assert_eq!(total["inputTokens"], 60, "{m}");
    assert_eq!(total["outputTokens"], 175, "{m}");
    assert_eq!(total["cacheCreationTokens"], 1000, "{m}");
    assert_eq!(total["cacheReadTokens"], 4000, "{m}");
    assert_eq!(total["estimatedCostUsd"], 0.06, "{m}");
    assert_eq!(total["sessionsCounted"], 1, "{m}");
    assert_eq!(total["sessionsUnknown"], 1, "{m}");
}
