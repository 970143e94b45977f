//! Shells started with Aegis's integration (prompt and command marks, OSC 133), on real bash
//! and zsh (the foreground scenarios run with marks too, see the parent module): every command
//! makes a working → idle turn even when it ends at once, `session.idle` carries its exit status, and
//! `GET /commands` records its text, status and the transcript range of its output.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Shell;
use crate::streams::{next_where, sse};

/// The next `session.working` and then `session.idle` on `events`; the idle event's detail.
fn turn(events: &std::sync::mpsc::Receiver<crate::streams::Sse>, what: &str) -> Value {
    next_where(events, &format!("working for {what}"), |f| {
        f.ty() == "session.working"
    });
    let idle = next_where(events, &format!("idle after {what}"), |f| {
        f.ty() == "session.idle"
    });
    idle.json()["detail"].clone()
}

fn records(shell: &str) {
    let s = Shell::start(shell, true);
    let events = sse(
        &s.d,
        &format!(
            "/v1/events?session={}&types=session.working,session.idle",
            s.id
        ),
        None,
    );
    // Both marks of a command that ends at once come together: the turn is still seen.
    s.send("echo marked-out");
    assert_eq!(turn(&events, "echo")["exitCode"], 0);
    // A `;` and a `%` in the line, which the mark's encoding must carry.
    s.send("true 50%; (exit 3)");
    assert_eq!(turn(&events, "(exit 3)")["exitCode"], 3);
    let all = s.commands();
    let [.., echo, exit] = all.as_slice() else {
        panic!("two commands expected: {all:?}");
    };
    assert_eq!(echo["command"], "echo marked-out", "{echo}");
    assert_eq!(echo["exitCode"], 0, "{echo}");
    assert_eq!(exit["command"], "true 50%; (exit 3)", "{exit}");
    assert_eq!(exit["exitCode"], 3, "{exit}");
    assert!(
        echo["endedAt"].as_u64() >= echo["startedAt"].as_u64(),
        "{echo}"
    );
    // The output range is the command's own output in the transcript.
    let start = echo["outputStart"].as_u64().unwrap_or_default();
    let end = echo["outputEnd"].as_u64().unwrap_or_default();
    assert!(start < end, "{echo}");
    let (st, t) =
        s.d.get(&format!("/v1/sessions/{}/transcript?since={start}", s.id));
    assert_eq!(st, StatusCode::OK, "{t}");
    assert_eq!(t["since"], start, "{t}");
    let raw = t["raw"].as_str().unwrap_or_default().as_bytes();
    let len = usize::try_from(end - start).unwrap_or(usize::MAX);
    let out = String::from_utf8_lossy(&raw[..len.min(raw.len())]).into_owned();
    // zsh draws its mark for output without a final newline (PROMPT_SP) before it runs its
    // hooks, so that is in the range too; the echoed command line never is.
    assert!(out.starts_with("marked-out\r\n"), "{out:?}");
    assert!(!out.contains("echo") && !out.contains("133;D"), "{out:?}");
    // The list is bounded by `limit`, newest last.
    let (st, v) = s.d.get(&format!("/v1/sessions/{}/commands?limit=1", s.id));
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["commands"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["commands"][0]["command"], "true 50%; (exit 3)", "{v}");
    let (st, v) = s.d.get(&format!("/v1/sessions/{}/commands?limit=0", s.id));
    assert_eq!(
        (st, &v["code"]),
        (StatusCode::BAD_REQUEST, &json!("VALIDATION_ERROR")),
        "{v}"
    );
}

/// The option survives a daemon restart, and a shell that cannot be integrated says so.
fn option_is_kept(shell: &str) {
    let mut s = Shell::start(shell, false);
    s.d.restart();
    let (st, v) = s.d.get(&format!("/v1/sessions/{}", s.id));
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["shellIntegration"], false, "{v}");
    let (st, v) = s.d.post(
        "/v1/sessions",
        json!({
            "workDir": s.d.work_dir(), "agentType": "shell",
            "command": [shell, "-c", "sleep 5"], "shellIntegration": true,
        }),
    );
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("shellIntegration"),
        "{v}"
    );
}

macro_rules! integrated_tests {
    ($shell:ident) => {
        mod $shell {
            #[test]
            fn commands_record_text_status_and_output_range() {
                super::records(stringify!($shell));
            }
            #[test]
            fn integration_option_survives_a_restart() {
                super::option_is_kept(stringify!($shell));
            }
        }
    };
}

integrated_tests!(bash);
integrated_tests!(zsh);
