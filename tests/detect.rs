//! State detection end to end: the fake agents (tests/support/bin/fake_agent.py) draw Claude-,
//! Codex- and Gemini-like screens on real ptys under the real daemon, and each test checks the
//! state the daemon reports. Every scenario runs for each of the three agents.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Daemon, id_of, support_bin, wait_until};

const T: Duration = Duration::from_secs(20);

/// Create a fake-agent session; `extra` is merged into the create body.
pub fn fake(d: &Daemon, agent: &str, flags: &[&str], extra: Value) -> Value {
    let script = support_bin("fake_agent.py");
    let mut command = vec!["python3", script.as_str(), "--agent", agent];
    command.extend_from_slice(flags);
    let mut body = json!({
        "workDir": d.work_dir(),
        "agentType": agent,
        "command": command,
        "cols": 120,
        "rows": 40,
        // The screen path alone; tests/hooks.rs turns Claude Code hooks on.
        "hooks": false,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    d.create(body)
}

/// Poll the status until `until` holds on the screen, returning every distinct status seen.
fn statuses_until(d: &Daemon, id: &str, timeout: Duration, until: &str) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let s = d.status(id);
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        if d.screen(id).contains(until) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {until:?}; statuses seen: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn detect(d: &Daemon, id: &str) -> Value {
    let (s, v) = d.get(&format!("/v1/sessions/{id}/detect"));
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn starting_to_idle(agent: &str) {
    let d = Daemon::start();
    let v = fake(&d, agent, &[], json!({}));
    assert_eq!(v["status"], "starting", "{v}");
    let id = id_of(&v);
    d.wait_status(&id, "idle", T);
    let e = detect(&d, &id);
    assert!(
        e["rule"].as_str().is_some_and(|r| r.contains(".idle.")),
        "{e}"
    );
    assert!(!e["lines"].as_array().is_none_or(Vec::is_empty), "{e}");
}

fn send_working_idle(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({})));
    d.wait_status(&id, "idle", T);
    let r = d.send(&id, "hello there");
    assert_eq!(r["delivered"], true, "{r}");
    let seen = statuses_until(&d, &id, T, "You said: hello there");
    assert!(seen.contains(&"working".to_owned()), "{seen:?}");
    d.wait_status(&id, "idle", T);
    assert!(d.screen(&id).contains("RECEIVED[1 lines]: hello there"));
}

fn approve_flow(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!ask bash rm -rf build");
    d.wait_status(&id, "permission_prompt", T);
    let (s, v) = d.get(&format!("/v1/sessions/{id}/permissions/pending"));
    assert_eq!(s, StatusCode::OK);
    let p = &v["pending"][0];
    assert_eq!(p["kind"], "bash", "{v}");
    assert_eq!(p["detail"], "rm -rf build", "{v}");
    assert_eq!(p["options"].as_array().map(Vec::len), Some(3), "{v}");
    let pid = p["id"].as_str().expect("id").to_owned();
    let (s, all) = d.get("/v1/permissions");
    assert_eq!(
        (s, all["total"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{all}"
    );

    let (s, r) = d.post(
        &format!("/v1/sessions/{id}/approve"),
        json!({ "permissionId": pid }),
    );
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dialogClosed"], true, "{r}");
    assert_eq!(r["option"], 1, "{r}");
    let seen = statuses_until(&d, &id, T, "Done with rm -rf build");
    assert!(d.screen(&id).contains("APPROVED option 1"));
    assert!(seen.contains(&"working".to_owned()), "{seen:?}");
    d.wait_status(&id, "idle", T);
    // The request is gone: answering it again is a conflict.
    let (s, r) = d.post(
        &format!("/v1/sessions/{id}/approve"),
        json!({ "permissionId": pid }),
    );
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    let (_, h) = d.get(&format!("/v1/sessions/{id}/permissions/history"));
    assert_eq!(h["history"][0]["resolution"], "approved", "{h}");
    assert_eq!(h["history"][0]["by"], "api", "{h}");
}

fn reject_with_esc(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!ask edit src/main.rs");
    d.wait_status(&id, "permission_prompt", T);
    let (s, r) = d.post(&format!("/v1/sessions/{id}/reject"), json!({}));
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["keys"], json!(["Escape"]), "{r}");
    assert_eq!(r["dialogClosed"], true, "{r}");
    d.wait_screen(&id, "REJECTED src/main.rs", T);
    d.wait_status(&id, "idle", T);
}

/// A fake `agent` started with its trust dialog (and `flags`) under `trustFolder: true`: waits
/// until the dialog was answered and the agent is idle; returns the daemon and the answer's
/// history entry.
fn trusted_by_policy(agent: &str, flags: &[&str]) -> (Daemon, Value) {
    let d = Daemon::start();
    let mut all = vec!["--trust"];
    all.extend_from_slice(flags);
    let id = id_of(&fake(&d, agent, &all, json!({ "trustFolder": true })));
    d.wait_screen(&id, "TRUSTED option 1", T);
    d.wait_status(&id, "idle", T);
    let (_, h) = d.get(&format!("/v1/sessions/{id}/permissions/history"));
    (d, h["history"][0].clone())
}

fn trust_dialog_answered(agent: &str) {
    let (_d, answer) = trusted_by_policy(agent, &[]);
    assert_eq!(answer["kind"], "trust", "{answer}");
    assert_eq!(answer["by"], "trust", "{answer}");
}

fn usage_limit_is_error(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!limit");
    d.wait_status(&id, "error", T);
    let e = detect(&d, &id);
    assert!(
        e["rule"].as_str().is_some_and(|r| r.contains(".error.")),
        "{e}"
    );
}

fn no_idle_flapping(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!redraw 10");
    d.wait_status(&id, "working", T);
    let mut seen = statuses_until(&d, &id, Duration::from_secs(30), "Redrew for");
    // The final frame may already carry the turn-finished line (settled idle); that ends the
    // turn and is not a flap. Any other status besides `working` is.
    if seen.len() > 1 && seen.last().map(String::as_str) == Some("idle") {
        seen.pop();
    }
    assert_eq!(
        seen,
        ["working"],
        "flapped while redrawing between tool calls"
    );
    d.wait_status(&id, "idle", T);
}

fn stall_detected(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({ "stallThresholdMs": 1500 })));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!hang");
    d.wait_status(&id, "stalled", T);
    let e = detect(&d, &id);
    assert!(
        e["unchangedMs"].as_u64().is_some_and(|ms| ms >= 1500),
        "{e}"
    );
}

/// A spinner that keeps turning while its clock ticks is not progress: the profile's
/// `animation` pattern blanks both, so the session still stalls.
fn spinner_without_progress_stalls(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({ "stallThresholdMs": 1500 })));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!spin-hang");
    d.wait_status(&id, "stalled", T);
    // The spinner is still animating on screen: two reads differ.
    let before = d.screen(&id);
    let after = wait_until(T, "the spinner to move", || {
        let now = d.screen(&id);
        (now != before).then_some(now)
    });
    assert_ne!(before, after);
    assert_eq!(d.status(&id), "stalled");
}

/// A dialog that drops the confirming key (Codex drains the input that reached its trust
/// dialog before it accepts a decision) shows the same frame and no output: the key is
/// pressed again, and the answer lands.
#[test]
fn a_dropped_confirming_key_is_pressed_again() {
    let (d, answer) = trusted_by_policy("codex", &["--dialog-drops-keys", "1"]);
    assert_eq!(answer["by"], "trust", "{answer}");
    assert!(
        d.log().contains("pressing it again"),
        "the daemon says it pressed the key again"
    );
}

/// A dialog redrawn while it is answered (Gemini redraws its whole first screen; the dialog
/// leaves for a frame, comes back as a new request and with its cursor on option 1) loses a
/// move: the cursor is moved again from where it is, and Enter is pressed only on the wanted
/// option, never on the one the redraw left selected ("Trust parent folder" here).
#[test]
fn a_dialog_redrawn_while_answered_gets_its_moves_again() {
    let d = Daemon::start();
    let id = id_of(&fake(
        &d,
        "gemini",
        &["--trust", "--dialog-redraws", "1"],
        json!({}),
    ));
    d.wait_status(&id, "permission_prompt", T);
    let (s, v) = d.post(&format!("/v1/sessions/{id}/reject"), json!({}));
    assert_eq!(s, reqwest::StatusCode::OK, "{v}");
    assert_eq!(v["option"], 3, "{v}");
    d.wait_screen(&id, "TRUST DECLINED", T);
    let screen = d.screen(&id);
    assert!(!screen.contains("TRUSTED option"), "{screen}");
    assert!(
        d.log().contains("moving it again"),
        "the daemon says it moved the cursor again"
    );
    // The answer is on the history once, under the dialog it confirmed; the request the
    // redraw ended is not recorded as answered.
    let (_, h) = d.get(&format!("/v1/sessions/{id}/permissions/history"));
    let all = h["history"].as_array().cloned().unwrap_or_default();
    let by_api: Vec<&Value> = all.iter().filter(|e| e["by"] == "api").collect();
    assert_eq!(by_api.len(), 1, "{h}");
    assert_eq!(by_api[0]["resolution"], "rejected", "{h}");
    assert_eq!(by_api[0]["option"], 3, "{h}");
}

/// A growing token count is progress even when nothing else on screen moves.
#[test]
fn claude_thinking_with_growing_tokens_is_not_a_stall() {
    let d = Daemon::start();
    let id = id_of(&fake(
        &d,
        "claude",
        &[],
        json!({ "stallThresholdMs": 1500 }),
    ));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!think 5");
    d.wait_status(&id, "working", T);
    let seen = statuses_until(&d, &id, Duration::from_secs(30), "Thought for");
    assert!(!seen.contains(&"stalled".to_owned()), "{seen:?}");
}

fn prose_is_not_a_prompt(agent: &str) {
    let d = Daemon::start();
    let id = id_of(&fake(&d, agent, &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!prose");
    let seen = statuses_until(&d, &id, T, "line 12 of the reply");
    d.wait_status(&id, "idle", T);
    let screen = d.screen(&id);
    assert!(screen.contains("Do you want to proceed?"), "{screen}");
    assert!(
        !seen.contains(&"permission_prompt".to_owned()),
        "{seen:?}\n{screen}"
    );
    // Stays idle: give the detector several more evaluations.
    wait_until(Duration::from_secs(2), "a few evaluations", || {
        (detect(&d, &id)["unchangedMs"].as_u64() > Some(500)).then_some(())
    });
    assert_eq!(d.status(&id), "idle");
    let (_, all) = d.get("/v1/permissions");
    assert_eq!(all["total"], 0, "{all}");
}

macro_rules! agent_tests {
    ($agent:ident) => {
        mod $agent {
            #[test]
            fn starting_to_idle() {
                super::starting_to_idle(stringify!($agent));
            }
            #[test]
            fn send_working_idle() {
                super::send_working_idle(stringify!($agent));
            }
            #[test]
            fn approve_flow() {
                super::approve_flow(stringify!($agent));
            }
            #[test]
            fn reject_with_esc() {
                super::reject_with_esc(stringify!($agent));
            }
            #[test]
            fn trust_dialog_answered() {
                super::trust_dialog_answered(stringify!($agent));
            }
            #[test]
            fn usage_limit_is_error() {
                super::usage_limit_is_error(stringify!($agent));
            }
            #[test]
            fn no_idle_flapping() {
                super::no_idle_flapping(stringify!($agent));
            }
            #[test]
            fn stall_detected() {
                super::stall_detected(stringify!($agent));
            }
            #[test]
            fn spinner_without_progress_stalls() {
                super::spinner_without_progress_stalls(stringify!($agent));
            }
            #[test]
            fn prose_is_not_a_prompt() {
                super::prose_is_not_a_prompt(stringify!($agent));
            }
        }
    };
}

agent_tests!(claude);
agent_tests!(codex);
agent_tests!(gemini);

/// `aegis explain <id>` prints the state, the rule that matched and the matched lines, as the
/// daemon's `/detect` reports them, for an idle prompt and for a permission dialog.
#[test]
fn explain_shows_the_state_the_rule_and_the_matched_lines() {
    let d = Daemon::start();
    let id = id_of(&fake(&d, "claude", &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!ask bash rm -rf build");
    d.wait_status(&id, "permission_prompt", T);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["explain", &id])
        .env("AEGIS_URL", &d.url)
        .env_remove("AEGIS_AUTH_TOKEN")
        .output()
        .expect("running aegis explain");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let e = detect(&d, &id);
    let rule = e["rule"].as_str().expect("a rule matched");
    assert!(rule.starts_with("claude.permission"), "{e}");
    assert!(text.contains("status: permission_prompt"), "{text}");
    assert!(text.contains(&format!("rule:   {rule}")), "{text}");
    assert!(text.contains("matched lines:"), "{text}");
    // The matched lines are the dialog's own, with their screen rows.
    assert!(text.contains("Do you want to proceed?"), "{text}");
    assert!(text.contains("rm -rf build"), "{text}");
}
