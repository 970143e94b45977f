//! Aegis v0.3 compatibility routes: the shapes its MCP client reads, and the `?status=` filter
//! over both vocabularies.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::detect::fake;
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

/// A fake Claude on the screen path alone (no hooks), idle.
fn screen_claude(d: &Daemon) -> String {
    let id = id_of(&fake(d, "claude", &[], json!({})));
    d.wait_status(&id, "idle", T);
    let (_, v) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(v["uiState"], "idle", "{v}");
    id
}

/// `?status=` takes either vocabulary, and a name both share matches a session whose `status`
/// or `uiState` is that name: a stalled session is `working` to a v0.3 client.
#[test]
fn status_filter_working_finds_stalled_sessions() {
    let d = Daemon::start();
    let stalled = id_of(&fake(
        &d,
        "claude",
        &[],
        json!({ "stallThresholdMs": 1500 }),
    ));
    let idle = screen_claude(&d);
    d.wait_status(&stalled, "idle", T);
    d.send(&stalled, "!hang");
    let v = d.wait_status(&stalled, "stalled", T);
    assert_eq!(v["uiState"], "working", "{v}");
    let ids = |filter: &str| -> Vec<String> {
        let (s, l) = d.get(&format!("/v1/sessions?status={filter}"));
        assert_eq!(s, StatusCode::OK, "{l}");
        l["sessions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(ids("working"), [stalled.as_str()]);
    assert_eq!(ids("stalled"), [stalled.as_str()]);
    assert_eq!(ids("idle"), [idle.as_str()]);
    assert!(ids("bash_approval").is_empty());
    let (s, v) = d.get("/v1/sessions?status=busy");
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

/// Issue 11 audit: a session named twice in a batch delete (by id, or by id and name) is
/// removed and counted once; an unknown id is reported once.
#[test]
fn batch_delete_counts_each_session_once() {
    let d = Daemon::start();
    let a: Value = d.spawn(&["cat"]);
    let b = id_of(&d.spawn(&["cat"]));
    let a_id = id_of(&a);
    let a_name = a["name"].as_str().expect("name").to_owned();
    let (s, v) = d.call(
        reqwest::Method::DELETE,
        "/v1/sessions/batch",
        Some(json!({ "ids": [a_id, b, a_id, a_name, "nope", "nope"] })),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["deleted"], 2, "{v}");
    assert_eq!(v["notFound"], json!(["nope"]), "{v}");
    assert_eq!(v["errors"], json!([]), "{v}");
    assert_eq!(d.get("/v1/sessions").1["total"], 0);
}
