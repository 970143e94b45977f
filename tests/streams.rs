//! Push channels against the real daemon: SSE event streams (ordering, Last-Event-ID replay,
//! filters, SSE tokens) and the execution stream of a fake agent. The WebSocket terminal is
//! in `websocket`.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Daemon, Options, support_bin, wait_until};

const T: Duration = Duration::from_secs(20);

/// One SSE frame: (id, event, data). `event` is the `event:` line, "message" without one
/// (event streams send none; execution streams do).
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl Sse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }

    /// Our event type (`data.type`) on an event stream.
    pub fn ty(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    /// A `connected` or `heartbeat` frame rather than an event (or a reset).
    pub fn is_notice(&self) -> bool {
        matches!(self.ty().as_str(), "connected" | "heartbeat")
    }
}

/// Open an SSE stream; frames arrive on the returned channel from a reader thread.
pub fn sse(d: &Daemon, path: &str, last_id: Option<&str>) -> mpsc::Receiver<Sse> {
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .expect("client");
    let mut req = client.get(format!("{}{}", d.url, path));
    if let Some(t) = &d.token {
        req = req.bearer_auth(t);
    }
    if let Some(l) = last_id {
        req = req.header("last-event-id", l);
    }
    let resp = req.send().expect("sse request");
    assert_eq!(resp.status(), StatusCode::OK, "sse {path}");
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap_or_default(),
        "text/event-stream"
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut cur = Sse {
            id: None,
            event: "message".into(),
            data: String::new(),
        };
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { return };
            if line.is_empty() {
                if !cur.data.is_empty() {
                    let done = std::mem::replace(
                        &mut cur,
                        Sse {
                            id: None,
                            event: "message".into(),
                            data: String::new(),
                        },
                    );
                    if tx.send(done).is_err() {
                        return;
                    }
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("id:") {
                cur.id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("event:") {
                cur.event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                cur.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
    });
    rx
}

/// Next frame for which `pred` holds, skipping others.
pub fn next_where(rx: &mpsc::Receiver<Sse>, what: &str, pred: impl Fn(&Sse) -> bool) -> Sse {
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(f) if pred(&f) => return f,
            Ok(_) => continue,
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

#[test]
fn sse_events_arrive_in_order_and_replay_from_last_event_id() {
    let d = Daemon::start();
    let all = sse(&d, "/v1/events", None);
    let id = d.bash();
    let only_sent = sse(
        &d,
        &format!("/v1/events?session={id}&types=message.sent"),
        None,
    );
    let per_session = sse(&d, &format!("/v1/sessions/{id}/events"), None);
    d.wait_status(&id, "idle", T);
    d.send(&id, "echo one");
    d.send(&id, "echo two");
    // A job that holds the terminal for a while makes the shell `working` (the echoes are
    // builtins: the shell never leaves its prompt for long enough to tell).
    d.send(&id, "sleep 1");

    let created = next_where(&all, "session.created", |f| f.ty() == "session.created");
    assert_eq!(created.json()["sessionId"], id.as_str());
    assert_eq!(created.json()["newStatus"], "starting");
    assert_eq!(
        created.event, "message",
        "no `event:` line, so onmessage sees every frame"
    );
    let first = next_where(&all, "first message.sent", |f| f.ty() == "message.sent");
    let second = next_where(&all, "second message.sent", |f| f.ty() == "message.sent");
    assert_eq!(first.json()["detail"]["text"], "echo one");
    assert_eq!(second.json()["detail"]["text"], "echo two");
    let ids: Vec<u64> = [&created, &first, &second]
        .iter()
        .map(|f| {
            f.id.as_deref()
                .unwrap_or_default()
                .parse()
                .expect("numeric id")
        })
        .collect();
    assert!(
        ids[0] < ids[1] && ids[1] < ids[2],
        "ids not increasing: {ids:?}"
    );

    // The filtered stream carries only message.sent, in order.
    let a = next_where(&only_sent, "filtered 1", |f| !f.is_notice());
    let b = next_where(&only_sent, "filtered 2", |f| !f.is_notice());
    assert_eq!(
        (a.ty(), b.ty()),
        ("message.sent".into(), "message.sent".into())
    );
    assert_eq!(a.json()["detail"]["text"], "echo one");
    assert_eq!(b.json()["detail"]["text"], "echo two");
    let w = next_where(&per_session, "per-session working", |f| {
        f.ty() == "session.working"
    });
    assert_eq!(
        w.json()["sessionName"]
            .as_str()
            .map(|s| s.starts_with("shell-")),
        Some(true)
    );

    // Resume after `created`: everything after it comes back, in the same order, first.
    let replay = sse(&d, "/v1/events", created.id.as_deref());
    let mut replayed = vec![];
    while replayed.len() < 64 {
        let f = next_where(&replay, "replayed events", |f| !f.is_notice());
        let done = f.id == second.id;
        replayed.push(f);
        if done {
            break;
        }
    }
    let replayed_ids: Vec<u64> = replayed
        .iter()
        .map(|f| f.id.as_deref().unwrap_or_default().parse().expect("id"))
        .collect();
    assert_eq!(
        replayed_ids[0],
        ids[0] + 1,
        "replay must start right after Last-Event-ID"
    );
    assert!(
        replayed_ids.windows(2).all(|w| w[1] == w[0] + 1),
        "gap in replay: {replayed_ids:?}"
    );
    assert!(replayed.iter().any(|f| f.id == first.id));

    // Bad filters and ids are 400s in the error format.
    let (s, v) = d.get("/v1/events?types=session.bogus");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["code"], "VALIDATION_ERROR");
    let (s, _) = d.get("/v1/events?lastEventId=abc");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = d.get("/v1/sessions/nope/events");
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

/// Open an SSE stream and read it the way a client written for Aegis v0.3 does: only `data:`
/// lines (`EventSource.onmessage`), each parsed as JSON. An `event:` line, which would hide
/// the frame from `onmessage`, arrives as `{"event": "<event: line>", "line": ...}`.
fn v03_sse(d: &Daemon, path: &str) -> mpsc::Receiver<Value> {
    let mut req = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .expect("client")
        .get(format!("{}{}", d.url, path));
    if let Some(t) = &d.token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().expect("sse request");
    assert_eq!(resp.status(), StatusCode::OK, "sse {path}");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(resp).lines() {
            let Ok(line) = line else { return };
            let v = if line.starts_with("event:") {
                json!({ "event": "<event: line>", "line": line })
            } else if let Some(data) = line.strip_prefix("data:") {
                serde_json::from_str(data.trim_start()).expect("data is JSON")
            } else {
                continue;
            };
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next v0.3 frame for which `pred` holds; every frame on the way must have v0.3's shape.
fn v03_next_where(
    rx: &mpsc::Receiver<Value>,
    what: &str,
    mut pred: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let f = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("waiting for v0.3 {what}: {e}"));
        assert_ne!(f["event"], "<event: line>", "{f}");
        assert!(f["event"].is_string(), "no event: {f}");
        assert!(f["timestamp"].is_u64(), "no timestamp: {f}");
        assert!(f["data"].is_object(), "no data: {f}");
        assert!(
            f["sessionId"].is_string() || f["sessionId"].is_null(),
            "{f}"
        );
        if pred(&f) {
            return f;
        }
    }
}

/// The next v0.3 frame named `event` for which `pred` holds.
fn v03_next(rx: &mpsc::Receiver<Value>, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
    v03_next_where(rx, event, |f| f["event"] == event && pred(f))
}

/// Aegis v0.3's fine status vocabulary (its `uiState`, see `api::uistate`).
const V03_STATES: &[&str] = &[
    "idle",
    "working",
    "compacting",
    "context_warning",
    "waiting_for_input",
    "permission_prompt",
    "plan_mode",
    "ask_question",
    "bash_approval",
    "settings",
    "error",
    "unknown",
];

/// A client written for Aegis v0.3 works against our SSE unchanged: it reads `data:` lines
/// only, gets `connected` first, per-session `status`/`message` and global
/// `session_created`/`session_status_change`/`session_ended`, with v0.3's payloads.
#[test]
fn sse_serves_a_v03_client_unchanged() {
    let d = Daemon::start();
    let global = v03_sse(&d, "/v1/events");
    let c = v03_next(&global, "connected", |_| true);
    assert!(c["sessionId"].is_null(), "{c}");
    let id = d.bash();
    d.wait_status(&id, "idle", T);
    let per = v03_sse(&d, &format!("/v1/sessions/{id}/events"));
    let c = v03_next(&per, "connected", |_| true);
    assert_eq!(c["sessionId"], id.as_str());

    let created = v03_next(&global, "session_created", |f| {
        f["sessionId"] == id.as_str()
    });
    assert!(created["data"]["workDir"].is_string(), "{created}");
    assert!(created["id"].is_u64(), "{created}");

    // A job that holds the terminal for a while: an instant builtin like a bare `echo` would
    // leave the shell at its prompt, idle throughout.
    d.send(&id, "sleep 1; echo from-v03");
    // The message and the working → idle turn, in whatever order they interleave.
    let (mut message, mut working, mut idle) = (None, false, false);
    v03_next_where(&per, "message, working and idle", |f| {
        assert_eq!(f["sessionId"], id.as_str(), "{f}");
        match (f["event"].as_str(), f["data"]["status"].as_str()) {
            (Some("message"), _) => message = Some(f.clone()),
            (Some("status"), Some(status)) => {
                assert!(V03_STATES.contains(&status), "{f}");
                assert!(f["data"]["detail"].is_string(), "{f}");
                assert!(f["emittedAt"].as_u64() >= f["timestamp"].as_u64(), "{f}");
                working |= status == "working";
                idle |= working && status == "idle";
            }
            _ => {}
        }
        message.is_some() && idle
    });
    let m = message.expect("a message frame");
    assert_eq!(
        (&m["data"]["role"], &m["data"]["text"]),
        (&json!("user"), &json!("sleep 1; echo from-v03"))
    );
    let change = v03_next(&global, "session_status_change", |f| {
        f["sessionId"] == id.as_str()
    });
    let status = change["data"]["status"].as_str().unwrap_or_default();
    assert!(V03_STATES.contains(&status), "{change}");

    let (s, v) = d.call(reqwest::Method::DELETE, &format!("/v1/sessions/{id}"), None);
    assert_eq!(s, StatusCode::OK, "{v}");
    let ended = v03_next(&global, "session_ended", |f| f["sessionId"] == id.as_str());
    assert_eq!(ended["data"]["reason"], "killed", "{ended}");
    // Our own keys ride along in the same object.
    assert_eq!(ended["type"], "session.killed", "{ended}");
}

#[test]
fn sse_token_works_only_for_sse_and_expires() {
    let d = Daemon::start_with(Options {
        args: &[],
        env: &[("AEGIS_AUTH_TOKEN", "master-secret")],
    });
    let (s, v) = d.post("/v1/auth/sse-token", json!({ "ttlSeconds": 2 }));
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().expect("token").to_owned();
    assert_eq!(v["expiresIn"], 2);
    let open = |path: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}{}", d.url, path))
            .send()
            .expect("request")
            .status()
    };
    assert_eq!(open(&format!("/v1/events?token={token}")), StatusCode::OK);
    // Single-purpose: not a key to the rest of the API.
    assert_eq!(
        open(&format!("/v1/sessions?token={token}")),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        open("/v1/events?token=sse_forged"),
        StatusCode::UNAUTHORIZED
    );
    // Short-lived: refused once its two seconds are up.
    wait_until(Duration::from_secs(10), "the SSE token to expire", || {
        (open(&format!("/v1/events?token={token}")) == StatusCode::UNAUTHORIZED).then_some(())
    });
    let (s, _) = d.post("/v1/auth/sse-token", json!({ "ttlSeconds": 0 }));
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[test]
fn an_execution_streams_its_turns_and_final_output() {
    let d = {
        let dir = tempfile::tempdir().expect("dir");
        let cfg = dir.path().join("aegis.toml");
        std::fs::write(
            &cfg,
            format!(
                "[agents.fake]\ncommand = [\"python3\", {:?}]\ndescription = \"test agent\"\n",
                support_bin("stream_fake_agent.py")
            ),
        )
        .expect("config");
        let d = Daemon::start_with(Options {
            args: &["--config", cfg.to_str().expect("utf-8 path")],
            env: &[],
        });
        drop(dir); // the daemon read the file at startup
        d
    };
    let (s, v) = d.get("/v1/agents");
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        names.contains(&"fake") && names.contains(&"shell"),
        "{names:?}"
    );

    let (s, v) = d.post(
        "/v1/executions",
        json!({ "agent": "fake", "workDir": d.work_dir(), "input": "add 40 2" }),
    );
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let stream = sse(&d, v["stream"].as_str().expect("stream path"), None);
    let mut frames = vec![];
    loop {
        let f = next_where(&stream, "execution events", |_| true);
        let end = f.event == "execution_completed";
        frames.push(f);
        if end {
            break;
        }
    }
    let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"execution_started"), "{kinds:?}");
    assert!(kinds.contains(&"iteration_started"), "{kinds:?}");
    let done = frames.last().expect("completed").json();
    let turn = frames
        .iter()
        .rev()
        .find(|f| f.event == "iteration_completed")
        .expect("an iteration_completed")
        .json();
    assert!(
        turn["output"]
            .as_str()
            .unwrap_or_default()
            .contains("RESULT 42"),
        "{turn}"
    );
    assert!(
        done["finalOutput"]
            .as_str()
            .unwrap_or_default()
            .contains("RESULT 42"),
        "{done}"
    );
    assert_eq!(done["iterations"], 1, "{done}");

    let (s, v) = d.post(
        "/v1/executions",
        json!({ "agent": "nope", "workDir": d.work_dir(), "input": "x" }),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = d.get("/v1/executions/exec_missing/stream");
    assert_eq!(s, StatusCode::NOT_FOUND);
}
