//! Aegis v0.3 compatibility routes: the shapes its MCP client reads.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Daemon, id_of};

const T: Duration = Duration::from_secs(20);

#[test]
fn session_health_and_pane_have_the_v03_fields() {
    let d = Daemon::start();
    let id = d.bash();
    d.wait_screen(&id, "$", T);
    d.send(&id, "sleep 30");
    // paneCommand follows the terminal's foreground process, like tmux's pane_current_command.
    let h = crate::support::wait_until(T, "sleep in the foreground", || {
        let (s, h) = d.get(&format!("/v1/sessions/{id}/health"));
        assert_eq!(s, StatusCode::OK);
        (h["paneCommand"] == "sleep").then_some(h)
    });
    for field in [
        "alive",
        "windowExists",
        "claudeRunning",
        "status",
        "hasTranscript",
        "lastActivity",
        "lastActivityAgo",
        "sessionAge",
        "details",
    ] {
        assert!(h.get(field).is_some(), "missing {field}: {h}");
    }
    assert_eq!(h["alive"], true);
    let (s, bulk) = d.get("/v1/sessions/health");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bulk["total"], 1);
    assert_eq!(bulk["sessions"][0]["id"], id.as_str());
    let (s, pane) = d.get(&format!("/v1/sessions/{id}/pane"));
    assert_eq!(s, StatusCode::OK);
    assert!(
        pane["pane"]
            .as_str()
            .unwrap_or_default()
            .contains("sleep 30"),
        "{pane}"
    );
}

#[test]
fn bash_command_and_escape_inputs() {
    let d = Daemon::start();
    let id = id_of(&d.spawn(&["cat"]));
    let (s, v) = d.post(
        &format!("/v1/sessions/{id}/bash"),
        json!({ "command": "ls -la" }),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true);
    d.wait_screen(&id, "!ls -la\n!ls -la", T);
    let (s, _) = d.post(
        &format!("/v1/sessions/{id}/command"),
        json!({ "command": "compact" }),
    );
    assert_eq!(s, StatusCode::OK);
    d.wait_screen(&id, "/compact\n/compact", T);
    // A prefix the client already sent is not doubled.
    d.post(
        &format!("/v1/sessions/{id}/command"),
        json!({ "command": "/clear" }),
    );
    d.wait_screen(&id, "/clear\n/clear", T);
    let (s, _) = d.post(&format!("/v1/sessions/{id}/escape"), json!({}));
    assert_eq!(s, StatusCode::OK);
    let (s, v) = d.post(&format!("/v1/sessions/{id}/bash"), json!({ "command": "" }));
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[test]
fn handshake_and_summary() {
    let d = Daemon::start();
    let (s, v) = d.post("/v1/handshake", json!({ "protocolVersion": "1" }));
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["protocolVersion"], "1");
    assert!(v["capabilities"].as_array().is_some_and(|c| !c.is_empty()));
    let (s, v) = d.post("/v1/handshake", json!({ "protocolVersion": "9" }));
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "PROTOCOL_INCOMPATIBLE");
    let id = id_of(&d.spawn(&["cat"]));
    let (s, v) = d.get(&format!("/v1/sessions/{id}/summary"));
    assert_eq!(s, StatusCode::OK);
    for field in [
        "sessionId",
        "windowName",
        "status",
        "totalMessages",
        "messages",
        "createdAt",
        "lastActivity",
        "permissionMode",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
}

/// The independent v0.3 client (tests/support/bin/h-compat_contract.py, stdlib Python, none of
/// our client code) makes exactly the contract's calls against a daemon whose `claude` is the
/// fake Claude agent with hooks, and checks every field the contract lists.
#[test]
fn v03_contract_client_passes() {
    let d0 = tempfile::tempdir().expect("dir");
    let bin = d0.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let transcript = d0.path().join("session.jsonl");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/transcripts/claude-session.jsonl"
        ),
        &transcript,
    )
    .expect("fixture");
    let wrapper = bin.join("claude");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec python3 {} --agent claude --transcript {} \"$@\"\n",
            crate::support::support_bin("fake_agent.py"),
            transcript.display()
        ),
    )
    .expect("wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let token = "contract-token-1234";
    let d = Daemon::start_with(crate::support::Options {
        args: &[],
        env: &[("PATH", &path), ("AEGIS_AUTH_TOKEN", token)],
    });
    let out = std::process::Command::new("python3")
        .arg(crate::support::support_bin("h-compat_contract.py"))
        .arg(&d.url)
        .arg(d.work_dir())
        .args(["--token", token])
        .output()
        .expect("running the contract client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "contract client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 failures"), "{stdout}");
}
