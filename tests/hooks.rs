//! Claude Code hooks end to end: the fake Claude agent reads the `--settings` file the daemon
//! wrote and calls its `type: "http"` hooks the way Claude Code does. Covers hook-driven
//! transitions (Stop before the screen settles), the screen correcting a stale hook state,
//! approvals answered through the hook reply, forged secrets, the settings file's life, the
//! transcript (messages, tokenUsage), uiState and memoryKeys.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::detect::fake;
use crate::support::{Daemon, Options, id_of, wait_until};

const T: Duration = Duration::from_secs(20);

/// A fake Claude with hooks on (the default), idle.
fn claude(d: &Daemon, flags: &[&str], extra: Value) -> String {
    let mut body = json!({ "hooks": true });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let id = id_of(&fake(d, "claude", flags, body));
    d.wait_status(&id, "idle", T);
    id
}

fn settings(d: &Daemon, id: &str) -> (std::path::PathBuf, Value) {
    let path = d.dir.path().join("state/hooks").join(format!("{id}.json"));
    let text = std::fs::read_to_string(&path).expect("settings file");
    (path, serde_json::from_str(&text).expect("settings json"))
}

/// The secret and URL the settings file registers for `event`.
fn hook_of(d: &Daemon, id: &str, event: &str) -> (String, String) {
    let (_, v) = settings(d, id);
    let h = &v["hooks"][event][0]["hooks"][0];
    (
        h["url"].as_str().expect("url").to_owned(),
        h["headers"]["X-Hook-Secret"]
            .as_str()
            .expect("secret")
            .to_owned(),
    )
}

fn post_hook(d: &Daemon, url: &str, secret: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut r = d.http().post(url).json(&body);
    if let Some(s) = secret {
        r = r.header("X-Hook-Secret", s);
    }
    let resp = r.send().expect("hook call");
    let status = resp.status();
    (status, resp.json().unwrap_or(Value::Null))
}

#[test]
fn stop_hook_makes_idle_before_the_screen_settles() {
    let d = Daemon::start();
    let id = claude(&d, &[], json!({}));
    d.send(&id, "!earlystop");
    // Idle while the spinner is still on screen: only the Stop hook can say so.
    let r = wait_until(T, "idle with the spinner still drawn", || {
        let (_, r) = d.get(&format!("/v1/sessions/{id}/read"));
        let out = r["output"].as_str().unwrap_or_default();
        (r["status"] == "idle" && out.contains("tokens)") && !out.contains("Stopped early."))
            .then_some(r)
    });
    assert_eq!(r["uiState"], "idle", "{r}");
    d.wait_screen(&id, "Stopped early.", T);
    let det = d.get(&format!("/v1/sessions/{id}/detect")).1;
    assert_eq!(det["status"], "idle", "{det}");
    assert_eq!(det["sources"]["corrections"], 0, "{det}");
    assert!(
        det["sources"]["hooks"]["events"].as_u64().unwrap_or(0) >= 3,
        "SessionStart, UserPromptSubmit, Stop: {det}"
    );
}

#[test]
fn the_screen_corrects_a_stale_hook_state() {
    let d = Daemon::start();
    let id = claude(&d, &[], json!({}));
    let (url, secret) = hook_of(&d, &id, "UserPromptSubmit");
    // A hook that says "working" while the agent sits idle (a stale or replayed event).
    let (s, _) = post_hook(
        &d,
        &url,
        Some(&secret),
        json!({ "hook_event_name": "UserPromptSubmit", "prompt": "x" }),
    );
    assert_eq!(s, StatusCode::OK);
    let det = wait_until(T, "hook claim visible", || {
        let det = d.get(&format!("/v1/sessions/{id}/detect")).1;
        (det["status"] == "working").then_some(det)
    });
    assert_eq!(det["sources"]["screen"], "idle", "{det}");
    assert_eq!(det["sources"]["hook"]["state"], "working", "{det}");
    // Past the grace period the screen wins, and the correction is logged.
    d.wait_status(&id, "idle", T);
    let det = d.get(&format!("/v1/sessions/{id}/detect")).1;
    assert_eq!(det["sources"]["corrections"], 1, "{det}");
    assert!(det["sources"]["hook"].is_null(), "{det}");
    assert!(
        d.log().contains("screen contradicts the hook"),
        "correction logged"
    );
}

#[test]
fn a_forged_secret_is_refused_and_changes_nothing() {
    let token = "api-token-0123456789";
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", token)],
    });
    let id = claude(&d, &[], json!({}));
    let (url, secret) = hook_of(&d, &id, "UserPromptSubmit");
    let body = json!({ "hook_event_name": "UserPromptSubmit", "prompt": "x" });
    let (s, v) = post_hook(&d, &url, Some("0000"), body.clone());
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["statusCode"], 401, "{v}");
    let (s, _) = post_hook(&d, &url, None, body.clone());
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The API token is not a hook secret.
    let resp = d
        .http()
        .post(&url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .expect("call");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = d
        .http()
        .post(&url)
        .header("X-Hook-Secret", token)
        .json(&body)
        .send()
        .expect("call");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Another session's id with this secret: refused too.
    let other = url.replace(&id, &uuid_like());
    let (s, _) = post_hook(&d, &other, Some(&secret), body);
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let det = d.get(&format!("/v1/sessions/{id}/detect")).1;
    assert_eq!(det["status"], "idle", "{det}");
    assert!(det["sources"]["hook"].is_null(), "nothing changed: {det}");
    // The secret appears in no API response and no log line.
    for path in [
        format!("/v1/sessions/{id}"),
        "/v1/sessions".to_owned(),
        format!("/v1/sessions/{id}/detect"),
        format!("/v1/sessions/{id}/read"),
        format!("/v1/sessions/{id}/health"),
    ] {
        let (_, v) = d.get(&path);
        assert!(!v.to_string().contains(&secret), "{path} leaks the secret");
    }
    assert!(!d.log().contains(&secret), "the log leaks the secret");
}

fn uuid_like() -> String {
    "6f9619ff-8b86-d011-b42d-00c04fc964ff".to_owned()
}

#[test]
fn approvals_answer_the_permission_hook() {
    let d = Daemon::start();
    let id = claude(&d, &[], json!({}));
    d.send(&id, "!ask bash rm -rf build");
    let pending = wait_until(T, "hook and screen pending", || {
        let (_, v) = d.get(&format!("/v1/sessions/{id}/permissions/pending"));
        let p = v["pending"][0].clone();
        (p["source"] == "screen+hook").then_some(p)
    });
    assert_eq!(pending["toolName"], "Bash", "{pending}");
    assert_eq!(pending["toolInput"]["command"], "rm -rf build", "{pending}");
    let info = d.get(&format!("/v1/sessions/{id}")).1;
    assert_eq!(info["status"], "permission_prompt", "{info}");
    assert_eq!(info["uiState"], "bash_approval", "{info}");
    assert!(info["actionHints"]["approve"]["url"].is_string(), "{info}");
    for filter in ["bash_approval", "permission_prompt"] {
        let (_, l) = d.get(&format!("/v1/sessions?status={filter}"));
        assert_eq!(l["total"], 1, "{filter}: {l}");
    }
    let (_, l) = d.get("/v1/sessions?status=idle");
    assert_eq!(l["total"], 0, "{l}");

    let (s, r) = d.post(&format!("/v1/sessions/{id}/approve"), json!({}));
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["via"], "hook", "{r}");
    assert_eq!(r["keys"], json!([]), "{r}");
    let screen = d.wait_screen(&id, "APPROVED option 1: rm -rf build", T);
    assert!(screen.contains("HOOK DECISION allow"), "{screen}");
    d.wait_screen(&id, "Done with rm -rf build", T);
    d.wait_status(&id, "idle", T);

    d.send(&id, "!ask bash git push");
    wait_until(T, "second request", || {
        let (_, v) = d.get(&format!("/v1/sessions/{id}/permissions/pending"));
        (v["pending"][0]["source"] == "screen+hook").then_some(())
    });
    let (s, r) = d.post(&format!("/v1/sessions/{id}/reject"), json!({}));
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["via"], "hook", "{r}");
    let screen = d.wait_screen(&id, "REJECTED git push", T);
    assert!(screen.contains("HOOK DECISION deny"), "{screen}");
    let (_, h) = d.get(&format!("/v1/sessions/{id}/permissions/history"));
    let actions: Vec<&str> = h["history"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["resolution"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        actions.contains(&"approved") && actions.contains(&"rejected"),
        "{h}"
    );
}

#[test]
fn the_settings_file_is_private_and_removed_on_kill() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start();
    let id = claude(&d, &[], json!({}));
    let (path, v) = settings(&d, &id);
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    for event in [
        "Stop",
        "PreToolUse",
        "PermissionRequest",
        "SessionStart",
        "UserPromptSubmit",
    ] {
        let h = &v["hooks"][event][0]["hooks"][0];
        assert_eq!(h["type"], "http", "{event}");
        assert!(
            h["url"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!("/v1/hooks/{event}?sessionId={id}")),
            "{h}"
        );
    }
    let (s, _) = d.call(reqwest::Method::DELETE, &format!("/v1/sessions/{id}"), None);
    assert_eq!(s, StatusCode::OK);
    wait_until(T, "settings file removed", || {
        (!path.exists()).then_some(())
    });
    // hooks: false writes none.
    let id = id_of(&fake(&d, "claude", &[], json!({ "hooks": false })));
    let info = d.get(&format!("/v1/sessions/{id}")).1;
    assert_eq!(info["hooks"], false);
    assert!(
        !d.dir
            .path()
            .join("state/hooks")
            .join(format!("{id}.json"))
            .exists()
    );
}

#[test]
fn transcript_gives_messages_and_token_usage() {
    let d = Daemon::start();
    let transcript = crate::support::claude_transcript_in(&d.work_dir());
    let t = transcript.display().to_string();
    let id = claude(&d, &["--transcript", &t], json!({}));
    let r = wait_until(T, "messages from the transcript", || {
        let (_, r) = d.get(&format!("/v1/sessions/{id}/read"));
        (r["messages"].as_array().map(Vec::len) == Some(9)).then_some(r)
    });
    assert_eq!(r["messages"][0]["role"], "user", "{r}");
    assert_eq!(r["messages"][3]["contentType"], "tool_use", "{r}");
    assert_eq!(r["messages"][3]["toolName"], "Bash", "{r}");
    let u = &r["tokenUsage"];
    assert_eq!(u["inputTokens"], 60, "{r}");
    assert_eq!(u["outputTokens"], 175, "{r}");
    assert_eq!(u["cacheCreationTokens"], 1000, "{r}");
    assert_eq!(u["cacheReadTokens"], 4000, "{r}");
    assert!(
        u["estimatedCostUsd"].as_f64().is_some_and(|c| c > 0.0),
        "{r}"
    );
    for f in ["statusText", "interactiveContent", "output"] {
        assert!(r.get(f).is_some(), "read lacks {f}: {r}");
    }
    let info = d.get(&format!("/v1/sessions/{id}")).1;
    assert_eq!(info["jsonlPath"], t.as_str(), "{info}");
    assert!(info["claudeSessionId"].is_string(), "{info}");
    assert!(info["byteOffset"].as_u64().unwrap_or(0) > 0, "{info}");
    let sum = d.get(&format!("/v1/sessions/{id}/summary")).1;
    assert_eq!(sum["totalMessages"], 9, "{sum}");
    let h = d.get(&format!("/v1/sessions/{id}/health")).1;
    assert_eq!(h["hasTranscript"], true, "{h}");
    // Without hooks the usage is unknown, with the reason, never invented.
    let id = id_of(&fake(&d, "claude", &[], json!({ "hooks": false })));
    let (_, r) = d.get(&format!("/v1/sessions/{id}/read"));
    assert!(r["tokenUsage"].is_null(), "{r}");
    assert!(r["tokenUsageUnknownReason"].is_string(), "{r}");
    // The user's transcript was only read.
    assert!(transcript.exists());
}

#[test]
fn memory_keys_are_prepended_to_the_first_prompt() {
    let d = Daemon::start();
    let (s, v) = d.post(
        "/v1/memory",
        json!({ "key": "proj/style", "value": "Use tabs not spaces" }),
    );
    assert!(s.is_success(), "{v}");
    let id = id_of(&fake(
        &d,
        "claude",
        &[],
        json!({ "prompt": "fix the build", "memoryKeys": ["proj/style"] }),
    ));
    let screen = d.wait_screen(&id, "fix the build", T);
    assert!(screen.contains("Use tabs not spaces"), "{screen}");
    assert!(screen.contains("memory-context"), "{screen}");
    // An unknown key is a 400 naming it, and nothing is created.
    let before = d.get("/v1/sessions").1["total"].clone();
    let (s, v) = d.post(
        "/v1/sessions",
        json!({ "workDir": d.work_dir(), "agentType": "shell", "prompt": "x", "memoryKeys": ["nope/missing"] }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("nope/missing"),
        "{v}"
    );
    assert_eq!(d.get("/v1/sessions").1["total"], before);
}
