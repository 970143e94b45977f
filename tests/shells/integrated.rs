//! Shells started with Aegis's integration (prompt and command marks, OSC 133), on real bash
//! and zsh: a quiet command is `working` until it ends, every command makes a working → idle
//! turn even when it ends at once, `session.idle` carries its exit status, and
//! `GET /commands` records its text, status and the transcript range of its output.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{argv, jobs};
use crate::streams::{next_where, sse};
use crate::support::{Daemon, id_of, wait_until};

pub const T: Duration = Duration::from_secs(20);

/// A shell session (without the user's rc files), with or without integration.
pub struct Session {
    pub d: Daemon,
    pub id: String,
    pub sid: i32,
}

impl Session {
    pub fn start(shell: &str, integration: bool) -> Session {
        Session::start_on(Daemon::start(), shell, integration)
    }

    pub fn start_on(d: Daemon, shell: &str, integration: bool) -> Session {
        let v = d.create(json!({
            "workDir": d.work_dir(),
            "agentType": "shell",
            "command": argv(shell),
            "env": { "PS1": "$ " },
            "shellIntegration": integration,
        }));
        assert_eq!(v["shellIntegration"], integration, "{v}");
        let id = id_of(&v);
        let sid = v["pid"].as_i64().and_then(|p| i32::try_from(p).ok());
        let sid = sid.unwrap_or_else(|| panic!("no pid: {v}"));
        d.wait_status(&id, "idle", T);
        Session { d, id, sid }
    }

    pub fn send(&self, text: &str) {
        let r = self.d.send(&self.id, text);
        assert_eq!(r["delivered"], true, "{r}");
    }

    pub fn detect(&self) -> Value {
        let (s, v) = self.d.get(&format!("/v1/sessions/{}/detect", self.id));
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    pub fn exec(&self, body: Value) -> (StatusCode, Value) {
        self.d.post(&format!("/v1/sessions/{}/exec", self.id), body)
    }

    /// A job named `name` runs in this terminal session (outside the shell's group).
    pub fn job(&self, name: &str) -> bool {
        jobs(self.sid)
            .iter()
            .any(|p| p.comm == name && !matches!(p.state, 'Z' | 'T'))
    }

    pub fn commands(&self) -> Vec<Value> {
        let (s, v) = self.d.get(&format!("/v1/sessions/{}/commands", self.id));
        assert_eq!(s, StatusCode::OK, "{v}");
        v["commands"].as_array().cloned().unwrap_or_default()
    }
}

fn quiet_command(shell: &str) {
    let s = Session::start(shell, true);
    s.send("sleep 3");
    s.d.wait_status(&s.id, "working", T);
    wait_until(T, "the sleep", || s.job("sleep").then_some(()));
    let mut reads = 0;
    wait_until(T, "the sleep to end", || {
        let e = s.detect();
        if !s.job("sleep") {
            return Some(());
        }
        // The job ran before this read and still runs after it.
        assert_eq!(e["status"], "working", "{e}");
        assert_eq!(e["evidence"], "marks", "{e}");
        reads += 1;
        None
    });
    assert!(reads > 0, "the sleep was never seen running");
    let idle = s.d.wait_status(&s.id, "idle", T);
    assert_eq!(s.detect()["evidence"], "marks", "{idle}");
}

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
    let s = Session::start(shell, true);
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
    let mut s = Session::start(shell, false);
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
            fn quiet_command_is_working_until_it_ends() {
                super::quiet_command(stringify!($shell));
            }
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
