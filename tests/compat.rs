//! Aegis v0.3 compatibility routes: the shapes its MCP client reads, its `uiState` vocabulary
//! as the screen produces it, and the `?status=` filter over both vocabularies.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::detect::fake;
use crate::support::{Daemon, id_of, wait_until};

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
    // v0.3's names for what we support, under v0.3's key and ours.
    for cap in [
        "session.create",
        "session.resume",
        "session.approve",
        "session.events.sse",
        "hooks.pre_tool_use",
        "hooks.post_tool_use",
        "hooks.notification",
        "hooks.stop",
        "swarm",
        "metrics",
    ] {
        for key in [
            "serverCapabilities",
            "capabilities",
            "negotiatedCapabilities",
        ] {
            assert!(
                v[key].as_array().is_some_and(|c| c.contains(&json!(cap))),
                "{key} lacks {cap}: {v}"
            );
        }
    }
    // Nothing we cannot do is claimed.
    for absent in ["session.screenshot", "session.transcript"] {
        assert!(!v["serverCapabilities"].to_string().contains(absent), "{v}");
    }
    // A client that names its capabilities gets the intersection and a warning for the rest.
    let (s, v) = d.post(
        "/v1/handshake",
        json!({ "protocolVersion": "1", "clientCapabilities": ["session.resume", "session.screenshot"] }),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["negotiatedCapabilities"],
        json!(["session.resume"]),
        "{v}"
    );
    assert!(
        v["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("session.screenshot")),
        "{v}"
    );
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

/// Send one raw HTTP/1.1 request and return (status, body). `head` is everything after the
/// request line's target, up to the blank line; `body` goes after it as is.
fn raw_request(d: &Daemon, method_path: &str, head: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = d.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(T)).expect("timeout");
    let auth = d
        .token
        .as_ref()
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req =
        format!("{method_path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}{head}\r\n");
    s.write_all(req.as_bytes()).expect("write head");
    s.write_all(body).expect("write body");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read response");
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `curl -X POST url` sends neither Content-Length nor a body: routes whose body is optional
/// take that as empty (it was a 411), while a body that is announced still meets the limit.
#[test]
fn bodiless_post_without_content_length_is_an_empty_body() {
    let d = Daemon::start_with(crate::support::Options {
        args: &["--max-body-bytes", "1024"],
        env: &[],
    });
    let (s, body) = raw_request(&d, "POST /v1/handshake", "", b"");
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("serverCapabilities"), "{body}");
    // A real approval, answered by a bodiless POST.
    let id = id_of(&crate::detect::fake(&d, "claude", &[], json!({})));
    d.wait_status(&id, "idle", T);
    d.send(&id, "!ask bash make build");
    d.wait_status(&id, "permission_prompt", T);
    let (s, body) = raw_request(&d, &format!("POST /v1/sessions/{id}/approve"), "", b"");
    assert_eq!(s, 200, "{body}");
    d.wait_screen(&id, "APPROVED option 1: make build", T);
    // The size limit still holds for an announced body, and an empty one is still fine.
    let big = format!(
        "{{\"protocolVersion\": \"1\", \"pad\": \"{}\"}}",
        "x".repeat(1500)
    );
    let (s, body) = raw_request(
        &d,
        "POST /v1/handshake",
        &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            big.len()
        ),
        big.as_bytes(),
    );
    assert_eq!(s, 413, "{body}");
    assert!(body.contains("PAYLOAD_TOO_LARGE"), "{body}");
    let (s, body) = raw_request(&d, "POST /v1/handshake", "Content-Length: 0\r\n", b"");
    assert_eq!(s, 200, "{body}");
    // A chunked body has no length to check up front: still refused, not read unbounded.
    let (s, body) = raw_request(
        &d,
        "POST /v1/handshake",
        "Transfer-Encoding: chunked\r\n",
        b"2\r\n{}\r\n0\r\n\r\n",
    );
    assert_eq!(s, 411, "{body}");
    // A required body is still required: an absent one is the same 400 as an empty one.
    let (s, body) = raw_request(&d, &format!("POST /v1/sessions/{id}/send"), "", b"");
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("request body is empty"), "{body}");
}

/// The independent v0.3 client (tests/support/bin/v03_contract_client.py, stdlib Python, none of
/// our client code) makes exactly the contract's calls against a daemon whose `claude` is the
/// fake Claude agent with hooks, and checks every field the contract lists.
#[test]
fn v03_contract_client_passes() {
    let d0 = tempfile::tempdir().expect("dir");
    let bin = d0.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let transcript = crate::support::claude_transcript_in(d0.path());
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
        .arg(crate::support::support_bin("v03_contract_client.py"))
        .arg(&d.url)
        .arg(d.work_dir())
        .args(["--token", token])
        .output()
        .expect("running the contract client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Every check by name, for `--success-output`; a failure shows it below anyway.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "contract client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 failures"), "{stdout}");
}

/// `read`'s `interactiveContent` is the whole dialog on screen, from its first line through its
/// footer: the command and every option, not just the lines the detector matched. Claude's
/// dialog sits below a horizontal rule; Codex draws none, so there the dialog starts at its
/// title and the transcript above stays out.
#[test]
fn interactive_content_is_the_whole_dialog() {
    let d = Daemon::start();
    for (agent, first, last) in [
        (
            "claude",
            "Bash command",
            "Esc to cancel · Tab to amend · ctrl+e to explain",
        ),
        (
            "codex",
            "Would you like to run the following command?",
            "Press enter to confirm or esc to cancel",
        ),
    ] {
        let id = id_of(&fake(&d, agent, &[], json!({})));
        d.wait_status(&id, "idle", T);
        d.send(&id, "!ask bash rm -rf build");
        d.wait_status(&id, "permission_prompt", T);
        // Also with `lines`: the dialog does not depend on how much of the screen was asked for.
        for query in ["", "?lines=3"] {
            let (s, r) = d.get(&format!("/v1/sessions/{id}/read{query}"));
            assert_eq!(s, StatusCode::OK, "{r}");
            let content = r["interactiveContent"].as_str().unwrap_or_default();
            let rows: Vec<&str> = content.lines().map(str::trim).collect();
            assert_eq!(rows.first(), Some(&first), "{agent}: {content}");
            assert_eq!(rows.last(), Some(&last), "{agent}: {content}");
            for needle in [
                "rm -rf build",
                "1. Yes",
                "2. Yes, and don't ask again",
                "3. No, and tell",
            ] {
                assert!(content.contains(needle), "{agent}: {needle:?} in {content}");
            }
            assert!(!content.contains("RECEIVED"), "{agent}: {content}");
            // Blank rows inside the dialog are kept, as on screen.
            assert!(rows.contains(&""), "{agent}: {content}");
        }
    }
}

/// Wait until the session's `uiState` is `ui` with `status`; the `?status=` filter finds it by
/// that name, and `/detect` names the rule that said so.
fn ui_state_shown(d: &Daemon, id: &str, ui: &str, status: &str, rule: &str) {
    let info = wait_until(T, &format!("uiState {ui}"), || {
        let (_, v) = d.get(&format!("/v1/sessions/{id}"));
        (v["uiState"] == ui).then_some(v)
    });
    assert_eq!(info["status"], status, "{info}");
    let (_, l) = d.get(&format!("/v1/sessions?status={ui}"));
    assert_eq!(l["total"], 1, "{ui}: {l}");
    assert_eq!(l["sessions"][0]["id"], id, "{l}");
    let (_, det) = d.get(&format!("/v1/sessions/{id}/detect"));
    assert_eq!(det["uiHint"], ui, "{det}");
    assert_eq!(det["uiRule"], rule, "{det}");
}

/// A fake Claude on the screen path alone (no hooks), idle.
fn screen_claude(d: &Daemon) -> String {
    let id = id_of(&fake(d, "claude", &[], json!({})));
    d.wait_status(&id, "idle", T);
    let (_, v) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(v["uiState"], "idle", "{v}");
    id
}

#[test]
fn ui_state_context_warning_from_claudes_footer() {
    let d = Daemon::start();
    let id = screen_claude(&d);
    d.send(&id, "!context 7");
    d.wait_screen(&id, "Context left until auto-compact: 7%", T);
    ui_state_shown(
        &d,
        &id,
        "context_warning",
        "idle",
        "claude.mark.context_low",
    );
    // A turn in progress is `working`, whatever the footer says.
    d.send(&id, "!think 3");
    let v = d.wait_status(&id, "working", T);
    assert_eq!(v["uiState"], "working", "{v}");
}

#[test]
fn ui_state_waiting_for_input_when_the_reply_asks() {
    let d = Daemon::start();
    let id = screen_claude(&d);
    d.send(&id, "!askback");
    d.wait_screen(&id, "What would you like me to name the new module?", T);
    ui_state_shown(
        &d,
        &id,
        "waiting_for_input",
        "idle",
        "claude.mark.reply_asks",
    );
    // Answered: the next reply asks nothing.
    d.send(&id, "call it parse");
    d.wait_screen(&id, "You said: call it parse", T);
    wait_until(T, "uiState idle", || {
        (d.get(&format!("/v1/sessions/{id}")).1["uiState"] == "idle").then_some(())
    });
}

#[test]
fn ui_state_settings_while_a_panel_is_open() {
    let d = Daemon::start();
    let id = screen_claude(&d);
    for (command, marker) in [("/model", "Select model"), ("/config", "Settings:")] {
        d.send(&id, command);
        d.wait_screen(&id, marker, T);
        // A viewer mode: the status stays idle, only uiState tells.
        ui_state_shown(&d, &id, "settings", "idle", "claude.settings.panel");
        let (s, _) = d.post(&format!("/v1/sessions/{id}/escape"), json!({}));
        assert_eq!(s, StatusCode::OK);
        d.wait_screen(&id, &format!("Kept the current setting ({command})"), T);
        wait_until(T, "uiState idle", || {
            (d.get(&format!("/v1/sessions/{id}")).1["uiState"] == "idle").then_some(())
        });
    }
}

#[test]
fn ui_state_compacting_from_the_screen_without_hooks() {
    let d = Daemon::start();
    let id = screen_claude(&d);
    d.send(&id, "!compact 4");
    ui_state_shown(
        &d,
        &id,
        "compacting",
        "working",
        "claude.working.compacting",
    );
    d.wait_screen(&id, "Conversation compacted", T);
    d.wait_status(&id, "idle", T);
    assert_eq!(d.get(&format!("/v1/sessions/{id}")).1["uiState"], "idle");
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

/// A session named twice in a batch delete (by id, or by id and name) is
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
