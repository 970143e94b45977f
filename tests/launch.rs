//! Per-agent launch options end to end: the agent CLI sees exactly the argv that its
//! permission mode, resume id or command override calls for.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Daemon, id_of, support_bin};

/// A directory holding `claude`, `codex` and `gemini` stand-ins that print their argv.
fn fake_agents(d: &Daemon) -> String {
    let dir = d.dir.path().join("fake-bin");
    std::fs::create_dir_all(&dir).expect("fake bin dir");
    for name in ["claude", "codex", "gemini"] {
        let link = dir.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(support_bin("argv_probe.py"), &link).expect("symlink");
        }
    }
    format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display())
}

fn argv_of(d: &Daemon, body: Value) -> Vec<String> {
    let id = id_of(&d.create(body));
    let screen = d.wait_screen(&id, "ARGV ", Duration::from_secs(20));
    let line = screen
        .lines()
        .find_map(|l| l.strip_prefix("ARGV "))
        .expect("argv line");
    serde_json::from_str(line).expect("argv json")
}

#[test]
fn permission_modes_become_each_agents_flags() {
    let d = Daemon::start();
    let path = fake_agents(&d);
    let cases = [
        ("claude", "plan", "--permission-mode plan"),
        (
            "claude",
            "bypassPermissions",
            "--permission-mode bypassPermissions",
        ),
        (
            "codex",
            "acceptEdits",
            "--sandbox workspace-write --ask-for-approval untrusted",
        ),
        (
            "codex",
            "bypassPermissions",
            "--sandbox danger-full-access --ask-for-approval never",
        ),
        ("gemini", "acceptEdits", "--approval-mode auto_edit"),
        ("gemini", "bypassPermissions", "--approval-mode yolo"),
    ];
    for (agent, mode, want) in cases {
        let argv = argv_of(
            &d,
            json!({ "workDir": d.work_dir(), "agentType": agent, "permissionMode": mode, "hooks": false, "env": { "PATH": path } }),
        );
        assert_eq!(argv.join(" "), want, "{agent} {mode}");
    }
    let v = d.get("/v1/sessions").1;
    assert_eq!(v["sessions"][0]["permissionMode"], "plan");
}

#[test]
fn a_mode_the_agent_lacks_is_a_400_naming_it() {
    let d = Daemon::start();
    let (s, v) = d.post(
        "/v1/sessions",
        json!({ "workDir": d.work_dir(), "agentType": "gemini", "permissionMode": "dontAsk" }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("gemini"),
        "{v}"
    );
    let (s, v) = d.post(
        "/v1/sessions",
        json!({ "workDir": d.work_dir(), "agentType": "claude", "permissionMode": "yolo" }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("acceptEdits"),
        "lists the allowed modes: {v}"
    );
    assert_eq!(d.get("/v1/sessions").1["total"], 0);
}

#[test]
fn resume_and_claude_command() {
    let d = Daemon::start();
    let path = fake_agents(&d);
    let argv = argv_of(
        &d,
        json!({ "workDir": d.work_dir(), "agentType": "claude", "resumeSessionId": "0b7c-11", "hooks": false, "env": { "PATH": path } }),
    );
    assert_eq!(argv, ["--resume", "0b7c-11"]);
    let argv = argv_of(
        &d,
        json!({ "workDir": d.work_dir(), "agentType": "codex", "resumeSessionId": "s-9", "permissionMode": "plan", "env": { "PATH": path } }),
    );
    assert_eq!(
        argv.join(" "),
        "resume s-9 --sandbox read-only --ask-for-approval on-request"
    );
    // claudeCommand replaces `claude` without a shell: `;` and `$(...)` stay literal arguments.
    let argv = argv_of(
        &d,
        json!({ "workDir": d.work_dir(), "agentType": "claude", "claudeCommand": "claude --model opus ;rm $(x)", "hooks": false, "env": { "PATH": path } }),
    );
    assert_eq!(argv, ["--model", "opus", ";rm", "$(x)"]);
    let (s, v) = d.post(
        "/v1/sessions",
        json!({ "workDir": d.work_dir(), "agentType": "gemini", "resumeSessionId": "x" }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[test]
fn claude_gets_its_hook_settings_file_last() {
    let d = Daemon::start();
    let path = fake_agents(&d);
    let v = d.create(
        json!({ "workDir": d.work_dir(), "agentType": "claude", "permissionMode": "plan", "env": { "PATH": path } }),
    );
    let id = id_of(&v);
    let screen = d.wait_screen(&id, "ARGV ", Duration::from_secs(20));
    let line = screen
        .lines()
        .find_map(|l| l.strip_prefix("ARGV "))
        .expect("argv line");
    let argv: Vec<String> = serde_json::from_str(line).expect("argv json");
    let file = d.dir.path().join("state/hooks").join(format!("{id}.json"));
    assert_eq!(
        argv,
        [
            "--permission-mode".to_owned(),
            "plan".to_owned(),
            "--settings".to_owned(),
            file.display().to_string()
        ]
    );
    assert_eq!(v["hooks"], true);
    // Codex and hooks: false get no settings.
    let argv = argv_of(
        &d,
        json!({ "workDir": d.work_dir(), "agentType": "codex", "env": { "PATH": path } }),
    );
    assert!(argv.is_empty(), "{argv:?}");
}
