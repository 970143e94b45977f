//! Permission requests through the API on fake agents: policies that answer automatically
//! (and log it on the session history), expiry with the default action, stale ids, the
//! human-approvals aliases, agent-aware send, and start-up errors for invalid profiles.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::detect::fake;
use crate::support::{Daemon, id_of, wait_until};

const T: Duration = Duration::from_secs(20);

fn history(d: &Daemon, id: &str) -> serde_json::Value {
    d.get(&format!("/v1/sessions/{id}/permissions/history")).1["history"].clone()
}

#[test]
fn allow_bash_policy_answers_automatically_and_logs_it() {
    let d = Daemon::start();
    let id = id_of(&fake(&d, "claude", &[], json!({})));
    d.wait_status(&id, "idle", T);
    let (s, p) = d.call(
        Method::PUT,
        &format!("/v1/sessions/{id}/permissions"),
        Some(json!({ "allowBash": true })),
    );
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["allowBash"], true);
    d.send(&id, "!ask bash ls -la");
    d.wait_screen(&id, "APPROVED option 1: ls -la", T);
    let h = wait_until(T, "the history entry", || {
        let h = history(&d, &id);
        (h[0]["by"] == "policy").then_some(h)
    });
    assert_eq!(h[0]["resolution"], "approved", "{h}");
    assert_eq!(h[0]["reason"], "allowBash=true", "{h}");
}

#[test]
fn strict_profile_rejects_and_rules_match_detail() {
    let d = Daemon::start();
    let id = id_of(&fake(&d, "codex", &[], json!({})));
    d.wait_status(&id, "idle", T);
    let (s, _) = d.call(
        Method::PUT,
        &format!("/v1/sessions/{id}/permission-profile"),
        Some(json!({ "profile": "strict" })),
    );
    assert_eq!(s, StatusCode::OK);
    // A rule for harmless commands wins over the profile.
    let (s, v) = d.call(
        Method::PUT,
        &format!("/v1/sessions/{id}/permissions"),
        Some(json!({ "rules": [{ "kind": "bash", "pattern": "^echo ", "action": "approve" }] })),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    d.send(&id, "!ask bash echo hi");
    d.wait_screen(&id, "APPROVED option 1: echo hi", T);
    d.wait_status(&id, "idle", T);
    d.send(&id, "!ask bash rm -rf /");
    d.wait_screen(&id, "REJECTED rm -rf /", T);
    let h = wait_until(T, "two history entries", || {
        let h = history(&d, &id);
        (h.as_array().map(Vec::len) == Some(2)).then_some(h)
    });
    assert_eq!(h[1]["resolution"], "rejected", "{h}");
    assert_eq!(h[1]["reason"], "profile strict", "{h}");
    // Bad policy input changes nothing.
    let (s, v) = d.call(
        Method::PUT,
        &format!("/v1/sessions/{id}/permissions"),
        Some(json!({ "rules": [{ "pattern": "(", "action": "approve" }] })),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = d.call(
        Method::PUT,
        &format!("/v1/sessions/{id}/permission-profile"),
        Some(json!({ "profile": "lax" })),
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR"))
    );
}

#[test]
fn unanswered_request_expires_with_reject() {
    let d = Daemon::start();
    let id = id_of(&fake(&d, "gemini", &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.call(
        Method::PUT,
        &format!("/v1/sessions/{id}/permissions"),
        Some(json!({ "timeoutMs": 800 })),
    );
    d.send(&id, "!ask bash make deploy");
    d.wait_status(&id, "permission_prompt", T);
    d.wait_screen(&id, "REJECTED make deploy", T);
    let h = wait_until(T, "the expiry entry", || {
        let h = history(&d, &id);
        (h[0]["by"] == "expiry").then_some(h)
    });
    assert_eq!(h[0]["resolution"], "rejected", "{h}");
}

#[test]
fn stale_permission_id_is_409_and_aliases_work() {
    let d = Daemon::start();
    let id = id_of(&fake(&d, "claude", &[], json!({})));
    d.wait_status(&id, "idle", T);
    let (s, v) = d.post(&format!("/v1/sessions/{id}/approve"), json!({}));
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("NO_PENDING_PERMISSION"))
    );
    d.send(&id, "!ask create notes.md");
    d.wait_status(&id, "permission_prompt", T);
    let (s, v) = d.post(
        &format!("/v1/sessions/{id}/approve"),
        json!({ "permissionId": "00000000-0000-0000-0000-000000000000" }),
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("STALE_PERMISSION")),
        "{v}"
    );
    let (s, v) = d.post(
        &format!("/v1/sessions/{id}/approve"),
        json!({ "option": 9 }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, list) = d.get("/v1/human-approvals");
    let pid = list["approvals"][0]["id"]
        .as_str()
        .expect("pending approval")
        .to_owned();
    assert_eq!(list["approvals"][0]["kind"], "create", "{list}");
    let (s, one) = d.get(&format!("/v1/human-approvals/{pid}"));
    assert_eq!(
        (s, one["detail"].as_str()),
        (StatusCode::OK, Some("notes.md")),
        "{one}"
    );
    // Option 2 of Claude's create dialog, through the arrows-and-verify path.
    let (s, r) = d.post(
        &format!("/v1/sessions/{id}/approve"),
        json!({ "option": 2 }),
    );
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["keys"], json!(["Down", "Enter"]), "{r}");
    d.wait_screen(&id, "APPROVED option 2: notes.md", T);
    let (s, _) = d.post(&format!("/v1/human-approvals/{pid}/approve"), json!({}));
    assert_eq!(s, StatusCode::NOT_FOUND);
    d.wait_status(&id, "idle", T);
    d.send(&id, "!ask bash git push");
    d.wait_status(&id, "permission_prompt", T);
    let (_, list) = d.get("/v1/human-approvals");
    let pid = list["approvals"][0]["id"]
        .as_str()
        .expect("pending")
        .to_owned();
    let (s, r) = d.post(
        &format!("/v1/human-approvals/{pid}/reject"),
        json!({ "reason": "not today", "rejected_by": "ops" }),
    );
    assert_eq!(s, StatusCode::OK, "{r}");
    d.wait_screen(&id, "REJECTED git push", T);
    let h = wait_until(T, "history", || {
        let h = history(&d, &id);
        (h.as_array().map(Vec::len) == Some(2)).then_some(h)
    });
    assert_eq!(h[1]["actor"], "ops", "{h}");
    assert_eq!(h[1]["reason"], "not today", "{h}");
}

#[test]
fn swallowed_enter_is_pressed_again() {
    let d = Daemon::start();
    let id = id_of(&fake(&d, "claude", &["--swallow-enters", "1"], json!({})));
    d.wait_status(&id, "idle", T);
    let r = d.send(&id, "second press please");
    assert_eq!(
        (r["delivered"].as_bool(), r["attempts"].as_u64()),
        (Some(true), Some(2)),
        "{r}"
    );
    d.wait_screen(&id, "RECEIVED[1 lines]: second press please", T);
}

#[test]
fn codex_burst_enter_and_first_prompt_delivery() {
    let d = Daemon::start();
    // The first prompt waits for the prompt; Codex's paste-burst guard must not eat the Enter.
    let v = fake(
        &d,
        "codex",
        &[],
        json!({ "prompt": "typed as a fast burst" }),
    );
    assert_eq!(
        v["promptDelivery"],
        json!({ "delivered": true, "attempts": 1 }),
        "{v}"
    );
    d.wait_screen(&id_of(&v), "RECEIVED[1 lines]: typed as a fast burst", T);
}

#[test]
fn invalid_profile_stops_startup_with_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let profiles = dir.path().join("state/profiles");
    std::fs::create_dir_all(&profiles).expect("profiles dir");
    std::fs::write(
        profiles.join("claude.toml"),
        "agent = \"claude\"\n\n[[rule]]\nname = \"bad\"\nstate = \"idle\"\npriority = 1\nregion = \"bottom\"\nall = ['(unclosed']\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["serve", "--port", "0", "--state-dir"])
        .arg(dir.path().join("state"))
        .stdin(Stdio::null())
        .output()
        .expect("run aegis");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("claude.toml line 3"), "{err}");
    assert!(err.contains("invalid pattern"), "{err}");
}
