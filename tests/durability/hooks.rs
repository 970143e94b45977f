//! Claude Code's hooks across a daemon crash: the restarted daemon takes the hook secret back
//! from the session's settings file and Claude's facts from the registry, and the hooks keep
//! working (Stop, PermissionRequest) as before.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::{Cleanup, durable_daemon};
use crate::support::{id_of, wait_until};

const T: Duration = Duration::from_secs(20);

/// A Claude session started with hooks keeps them across a daemon crash. Its
/// agent still posts to the settings file's URL (the daemon comes back on the same port, as a
/// deployed one does) with the secret in that file; the new daemon takes it back from there,
/// and Claude's session id and transcript from the registry. Its stall threshold survives
/// too, the settings file still goes with the session, and a stray one is swept at start-up.
#[test]
fn claude_hooks_survive_a_daemon_restart() {
    let mut d = durable_daemon();
    let _cleanup = Cleanup(d.dir.path().to_path_buf());
    let transcript = crate::support::claude_transcript_in(&d.work_dir());
    let t = transcript.display().to_string();
    let id = id_of(&crate::detect::fake(
        &d,
        "claude",
        &["--transcript", &t],
        json!({ "hooks": true, "stallThresholdMs": 1500 }),
    ));
    d.wait_status(&id, "idle", T);
    let claude_id = wait_until(T, "SessionStart", || {
        d.get(&format!("/v1/sessions/{id}")).1["claudeSessionId"]
            .as_str()
            .map(str::to_owned)
    });
    // What a restarted daemon needs is on disk before the crash.
    let reg = d.dir.path().join("state/registry.json");
    wait_until(T, "the Claude session id in the registry", || {
        let text = std::fs::read_to_string(&reg).unwrap_or_default();
        text.contains(&claude_id).then_some(())
    });
    let hooks_dir = d.dir.path().join("state/hooks");
    let settings = hooks_dir.join(format!("{id}.json"));
    let stray = hooks_dir.join("6f9619ff-8b86-d011-b42d-00c04fc964ff.json");
    std::fs::write(&stray, "{}").expect("stray settings file");

    d.kill9();
    d.restart_same_port();
    assert!(!stray.exists(), "a settings file of no session was kept");
    assert!(
        settings.exists(),
        "the live session's settings file was swept"
    );
    let info = d.get(&format!("/v1/sessions/{id}")).1;
    assert_eq!(info["hooks"], true, "{info}");
    assert_eq!(info["claudeSessionId"], claude_id.as_str(), "{info}");
    assert_eq!(info["jsonlPath"], t.as_str(), "{info}");
    assert_eq!(info["stallThresholdMs"], 1500, "{info}");
    let (_, r) = d.get(&format!("/v1/sessions/{id}/read"));
    assert_eq!(r["messages"].as_array().map(Vec::len), Some(9), "{r}");
    assert!(r["tokenUsage"]["outputTokens"].is_number(), "{r}");

    // The session's own Stop hook is accepted: idle while the spinner is still drawn.
    d.wait_status(&id, "idle", T);
    d.send(&id, "!earlystop");
    wait_until(T, "idle by the Stop hook", || {
        let (_, r) = d.get(&format!("/v1/sessions/{id}/read"));
        let out = r["output"].as_str().unwrap_or_default();
        (r["status"] == "idle" && out.contains("tokens)") && !out.contains("Stopped early."))
            .then_some(())
    });
    let det = d.get(&format!("/v1/sessions/{id}/detect")).1;
    assert_eq!(det["sources"]["hooks"]["lastEvent"], "Stop", "{det}");
    assert!(!d.log().contains("hook call refused"), "a hook got 401");
    d.wait_screen(&id, "Stopped early.", T);
    d.wait_status(&id, "idle", T);

    // Approvals go through the PermissionRequest hook again, not keys.
    d.send(&id, "!ask bash rm -rf build");
    wait_until(T, "the hook's request", || {
        let (_, v) = d.get(&format!("/v1/sessions/{id}/permissions/pending"));
        (v["pending"][0]["source"] == "screen+hook").then_some(())
    });
    let (s, r) = d.post(&format!("/v1/sessions/{id}/approve"), json!({}));
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["via"], "hook", "{r}");
    d.wait_screen(&id, "HOOK DECISION allow", T);

    // The stall threshold kept is the one in force.
    d.wait_status(&id, "idle", T);
    d.send(&id, "!hang");
    d.wait_status(&id, "stalled", T);

    let (s, _) = d.call(reqwest::Method::DELETE, &format!("/v1/sessions/{id}"), None);
    assert_eq!(s, StatusCode::OK);
    wait_until(T, "the settings file removed", || {
        (!settings.exists()).then_some(())
    });
}
