//! The real agent CLIs (Claude Code, Codex CLI, Gemini CLI, pinned in tests/agents) supervised
//! by the real daemon against a scripted model server (tests/support/agents.rs). Each scenario
//! checks what the daemon reports (status, `/read`, pending permissions) AND what the agent
//! actually submitted to the model, so a lost, doubled or mangled send is caught where it
//! matters.
//!
//! Scenarios run for every agent that has the feature. Not applicable, and why:
//! - Gemini's endless 429/503 retry is the only one that must end `stalled`: Claude Code and
//!   Codex give up after their configured retries and show an error.
//!
//! The set is kept to one proof per behaviour (the real CLIs cost seconds of CPU each): what
//! is the same code path for every agent runs on one agent only.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::agents::{Agent, Lab, StatusLog, Trust, tool_results, user_texts};
use crate::support::{id_of, wait_until};

/// A model turn with instant answers, end to end, on a loaded machine.
const TURN: Duration = Duration::from_secs(45);

/// How often the status poller samples.
const SAMPLE: Duration = Duration::from_millis(50);

fn status_of(lab: &Lab, id: &str) -> Value {
    let (s, v) = lab.daemon.get(&format!("/v1/sessions/{id}"));
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn read(lab: &Lab, id: &str) -> Value {
    let (s, v) = lab.daemon.get(&format!("/v1/sessions/{id}/read"));
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn detect(lab: &Lab, id: &str) -> Value {
    lab.daemon.get(&format!("/v1/sessions/{id}/detect")).1
}

/// Wait until the screen shows `needle` and the status is `status`; the message names both
/// and shows the screen and what `/detect` said.
fn wait_screen_status(lab: &Lab, id: &str, needle: &str, status: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let (s, screen) = (lab.daemon.status(id), lab.daemon.screen(id));
        if s == status && screen.contains(needle) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {needle:?} with status {status} (status is {s}); detect: {}\nscreen:\n{screen}",
                detect(lab, id)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until the status is `status`; on timeout show the screen and `/detect`.
fn wait_status(lab: &Lab, id: &str, status: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = status_of(lab, id);
        if v["status"] == status {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for status {status} (status is {}); detect: {}\nscreen:\n{}",
                v["status"],
                detect(lab, id),
                lab.screen(id)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the agent draws for each situation (its own words, from the real CLIs): a test first
/// waits for the screen to show it, then checks what the daemon made of it, so a wrong
/// reading fails as "the screen shows X, the status says Y" rather than as a timeout.
fn marker(agent: Agent, what: &str) -> &'static str {
    match (agent, what) {
        (Agent::Claude, "bash") => "Do you want to proceed?",
        (Agent::Codex, "bash") => "Would you like to run the following command?",
        (Agent::Gemini, "bash" | "write") => "Allow once",
        (Agent::Claude, "write") => "Do you want to create",
        (Agent::Codex, "write") => "Would you like to",
        (Agent::Claude, "question") => "Enter to select",
        (Agent::Codex, "question") => "Question 1/1",
        (Agent::Gemini, "question") => "Answer Questions",
        (Agent::Claude | Agent::Gemini, "error") => "API Error",
        (Agent::Codex, "error") => "■",
        (Agent::Claude, "trust") => "Yes, I trust this folder",
        (Agent::Codex, "trust") => "Trust this folder",
        (Agent::Gemini, "trust") => "Do you trust",
        (Agent::Claude, "retry") => "Retrying in",
        (Agent::Codex, "retry") => "reconnecting",
        (Agent::Gemini, "retry") => "esc to cancel",
        _ => panic!("no marker for {what} on {}", agent.name()),
    }
}

/// How long the daemon may take to reflect what the screen already shows.
const REFLECT: Duration = Duration::from_secs(5);

/// With `AEGIS_CAPTURE_FIXTURES=1`, save the session's screen (and title) as a fixture under
/// tests/fixtures/screens/<agent>/<state>/real_<scenario>.txt, the directory naming what the
/// screen truly shows (taken when the agent's own words are on screen, whatever the daemon
/// said). That is how the real fixtures are regenerated for a new agent version.
fn capture(lab: &Lab, id: &str, state: &str, scenario: &str) {
    if std::env::var_os("AEGIS_CAPTURE_FIXTURES").is_none() {
        return;
    }
    if state == "idle" {
        // The daemon may call the session idle on Claude's Stop hook while the agent still
        // draws its spinner: an idle fixture is taken once the agent's own screen is idle.
        let deadline = Instant::now() + TURN;
        loop {
            let screen = lab.screen(id);
            // The composer is back (Claude's interrupted prompt sits in its box, the footer
            // gone: `❯ ` is enough there).
            if !screen.contains("esc to")
                && (screen.contains(lab.composer()) || screen.contains("❯ "))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the agent's own screen never came back idle (status {}):\n{screen}",
                lab.daemon.status(id)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let r = read(lab, id);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/screens")
        .join(lab.agent.name())
        .join(state);
    std::fs::create_dir_all(&dir).expect("fixture dir");
    let product = match lab.agent {
        Agent::Claude => "Claude Code",
        Agent::Codex => "Codex CLI",
        Agent::Gemini => "Gemini CLI",
    };
    let mut text = format!(
        "#! source: real {product} {} on Linux, 120x40, tests/real_agents.rs scenario {scenario} (regenerate: AEGIS_CAPTURE_FIXTURES=1; project path and port normalised)\n",
        lab.agent.version()
    );
    let title = r["title"].as_str().unwrap_or_default();
    if !title.is_empty() {
        text.push_str(&format!("#! title: {title}\n"));
    }
    // The temp project path and the model server's port change every run: fixtures show
    // fixed ones so a regeneration only differs where the agent's screen did.
    let port = lab.model.url.rsplit(':').next().unwrap_or_default();
    let output = r["output"]
        .as_str()
        .unwrap_or_default()
        .replace(&lab.work.display().to_string(), "/home/dev/project")
        .replace(
            &lab.work
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            "/home/dev",
        )
        // Gemini names the parent folder by its base name ("Trust parent folder (…)").
        .replace(
            &lab.work
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| format!("({})", n.to_string_lossy()))
                .unwrap_or_default(),
            "(dev)",
        )
        .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:18080");
    let lines: Vec<&str> = output.lines().map(str::trim_end).collect();
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    for l in &lines[..end] {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(dir.join(format!("real_{scenario}.txt")), text).expect("writing fixture");
}

/// The statuses after the first `working`, repeats collapsed.
fn from_first_working(seen: &[(Duration, String)]) -> Vec<String> {
    seen.iter()
        .skip_while(|(_, s)| s != "working")
        .map(|(_, s)| s.clone())
        .collect()
}

/// How many user messages in the newest model turn are exactly `text`.
fn times_received(lab: &Lab, text: &str) -> usize {
    lab.conversation().iter().filter(|t| *t == text).count()
}

/// Start -> idle: the session goes from `starting` to `idle` at the agent's prompt, through no
/// other state, and the idle rule of the agent's profile decided it.
pub fn starts_idle(agent: Agent) {
    let lab = Lab::new(agent);
    let v = lab.daemon.create(lab.body(json!({})));
    let id = id_of(&v);
    let log = StatusLog::start(&lab.daemon, &id, SAMPLE);
    lab.wait_ready(&id);
    capture(&lab, &id, "idle", "start");
    let seen: Vec<String> = log.finish().into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("starting"),
        "{seen:?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("idle"), "{seen:?}");
    assert!(
        seen.iter().all(|s| s == "starting" || s == "idle"),
        "statuses during start-up: {seen:?}; screen:\n{}",
        lab.screen(&id)
    );
    let e = detect(&lab, &id);
    let rule = e["rule"].as_str().unwrap_or_default();
    assert!(rule.starts_with(&format!("{}.idle.", agent.name())), "{e}");
    assert!(
        lab.model.main_requests().is_empty(),
        "no model turn before the first prompt"
    );
}

/// Send -> working -> idle, with the reply in `/read` and the prompt received exactly once.
pub fn send_working_idle(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    lab.model
        .script(json!([{ "say": "Six times seven is 42 (reply-7f3a)." }]));
    let log = StatusLog::start(&lab.daemon, &id, SAMPLE);
    let prompt = "What is six times seven? (prompt-7f3a)";
    let r = lab.daemon.send(&id, prompt);
    assert_eq!(r["delivered"], true, "{r}");
    wait_screen_status(&lab, &id, "reply-7f3a", "idle", TURN);
    capture(&lab, &id, "idle", "after_reply");
    let seen = log.finish();
    assert!(
        seen.iter().any(|(_, s)| s == "working"),
        "never working: {seen:?}"
    );
    let out = read(&lab, &id);
    assert!(
        out["output"]
            .as_str()
            .unwrap_or_default()
            .contains("42 (reply-7f3a)"),
        "{out}"
    );
    assert_eq!(out["status"], "idle", "{out}");
    assert_eq!(
        lab.model.main_requests().len(),
        1,
        "one model turn for one prompt"
    );
    assert_eq!(times_received(&lab, prompt), 1, "{:?}", lab.conversation());
}

/// A reply streamed over >= 10 s is `working` from the first sample to the end: every status
/// seen is recorded and none but `working` may appear before the final `idle`.
pub fn long_stream_stays_working(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    let text: String = (1..=12)
        .map(|i| format!("part-{i:02} of a deliberately slow answer. "))
        .collect::<String>()
        + "(stream-end)";
    lab.model
        .script(json!([{ "say": text, "chunks": 12, "interval_ms": 1000 }]));
    let log = StatusLog::start(&lab.daemon, &id, SAMPLE);
    let t0 = Instant::now();
    lab.daemon.send(&id, "Tell me a long story (stream-prompt)");
    // Mid-stream (the fixture of a streaming screen; the poller keeps sampling meanwhile).
    wait_until(TURN, "five seconds into the stream", || {
        (t0.elapsed() >= Duration::from_secs(5)).then_some(())
    });
    capture(&lab, &id, "working", "streaming");
    wait_screen_status(&lab, &id, "(stream-end)", "idle", TURN);
    let streamed = t0.elapsed();
    let seen = log.finish();
    let after = from_first_working(&seen);
    assert!(streamed >= Duration::from_secs(10), "{streamed:?}");
    assert_eq!(
        after,
        ["working", "idle"],
        "a {streamed:?} streamed turn must read working throughout; every change: {seen:?}"
    );
    // Working began within a second or two of the send and lasted most of the stream.
    let (start, end) = (
        seen.iter().find(|(_, s)| s == "working").map(|(t, _)| *t),
        seen.iter()
            .rev()
            .find(|(_, s)| s == "idle")
            .map(|(t, _)| *t),
    );
    if let (Some(start), Some(end)) = (start, end) {
        assert!(end - start >= Duration::from_secs(10), "{seen:?}");
    }
}

/// The shell tool's approval: `permission_prompt` with the command in the request; approve ->
/// the command ran and the model received its result.
pub fn shell_approval_approve(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    let ran = lab.work.join("ran-approve.txt");
    let cmd = "echo approved-run > ran-approve.txt";
    lab.model.script(json!([
        { "shell": cmd, "description": "Write the marker file" },
        { "say": "The command finished (after-tool)." },
    ]));
    lab.daemon
        .send(&id, "Please run the marker command (shell-ok)");
    lab.daemon.wait_screen(&id, marker(agent, "bash"), TURN);
    capture(&lab, &id, "permission_prompt", "bash");
    wait_status(&lab, &id, "permission_prompt", REFLECT);
    let (s, p) = lab
        .daemon
        .get(&format!("/v1/sessions/{id}/permissions/pending"));
    assert_eq!(s, StatusCode::OK, "{p}");
    assert!(
        p.to_string().contains(cmd),
        "the pending request names the command: {p}"
    );
    let r = read(&lab, &id);
    assert!(
        r["statusText"]
            .as_str()
            .unwrap_or_default()
            .contains("ran-approve.txt"),
        "{r}"
    );
    let (s, v) = lab
        .daemon
        .post(&format!("/v1/sessions/{id}/approve"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    let turns = lab.model.wait_main(2, TURN);
    assert!(
        !tool_results(agent, &turns[1]).is_empty(),
        "the model received the tool's result: {}",
        turns[1]
    );
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap_or_default().trim(),
        "approved-run"
    );
    wait_screen_status(&lab, &id, "(after-tool)", "idle", TURN);
    capture(&lab, &id, "idle", "after_tool");
}

/// Reject -> the command did not run, and the session is idle and usable again.
pub fn shell_approval_reject(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    let ran = lab.work.join("ran-reject.txt");
    lab.model.script(json!([
        { "shell": "echo rejected-run > ran-reject.txt", "description": "Write the marker file" },
        { "say": "Understood, not running it (after-reject)." },
    ]));
    lab.daemon
        .send(&id, "Please run the marker command (shell-no)");
    lab.daemon.wait_screen(&id, marker(agent, "bash"), TURN);
    wait_status(&lab, &id, "permission_prompt", REFLECT);
    let (s, v) = lab
        .daemon
        .post(&format!("/v1/sessions/{id}/reject"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    // Rejecting ends the turn (or lets the model answer): either way the session is idle.
    wait_status(&lab, &id, "idle", TURN);
    capture(&lab, &id, "idle", "after_reject");
    // The next prompt is delivered and answered; the command never ran.
    let follow = "Fine, skip it then (after-reject-prompt)";
    lab.daemon.send(&id, follow);
    lab.wait_user_text(follow, TURN);
    wait_screen_status(&lab, &id, "(after-reject)", "idle", TURN);
    assert!(!ran.exists(), "the rejected command ran");
    let last = lab.model.main_requests().pop().expect("a model turn");
    let results = tool_results(agent, &last).join("\n");
    assert!(
        !results.contains("rejected-run"),
        "the model saw output of a rejected command: {results}"
    );
}

/// The file-writing tool's approval: `permission_prompt` naming the file -> approve -> the
/// file exists with the content the model sent.
pub fn file_write_approval(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    // Codex applies a patch inside its writable workspace without asking: the file goes
    // just outside the project, where it must ask.
    let path = match agent {
        Agent::Codex => lab.work.with_file_name("created-by-model.txt"),
        _ => lab.work.join("created-by-model.txt"),
    };
    lab.model.script(json!([
        { "write": path, "content": "hello from the model\n" },
        { "say": "Wrote the file (after-write)." },
    ]));
    lab.daemon.send(&id, "Create the file please (write-it)");
    lab.daemon.wait_screen(&id, marker(agent, "write"), TURN);
    capture(&lab, &id, "permission_prompt", "write");
    wait_status(&lab, &id, "permission_prompt", REFLECT);
    let (_, p) = lab
        .daemon
        .get(&format!("/v1/sessions/{id}/permissions/pending"));
    assert!(
        p.to_string().contains("created-by-model.txt"),
        "the pending request names the file: {p}"
    );
    let (s, v) = lab
        .daemon
        .post(&format!("/v1/sessions/{id}/approve"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    lab.model.wait_main(2, TURN);
    wait_until(TURN, "the file to be written", || {
        std::fs::read_to_string(&path)
            .ok()
            .filter(|t| t.trim() == "hello from the model")
    });
    wait_screen_status(&lab, &id, "(after-write)", "idle", TURN);
}

/// The agent's question tool: `question` (not a permission prompt) -> `/answer` picks the
/// second option -> the model receives it; afterwards the status leaves `question`.
pub fn question_answered(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    if agent == Agent::Codex {
        // request_user_input exists only in Plan mode: Shift+Tab cycles to it. Codex drops a
        // key that arrives while it finishes starting up (seen under load), so the set-up key
        // is pressed again until the footer shows the mode (at most three times).
        let mut presses = 0;
        while !lab.screen(&id).contains("Plan mode") {
            assert!(
                presses < 3,
                "Shift+Tab never reached Plan mode:\n{}",
                lab.screen(&id)
            );
            let (s, v) = lab.daemon.post(
                &format!("/v1/sessions/{id}/keys"),
                json!({ "keys": ["BTab"] }),
            );
            assert_eq!(s, StatusCode::OK, "{v}");
            presses += 1;
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && !lab.screen(&id).contains("Plan mode") {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    lab.model.script(json!([
        { "ask": "Which database should the project use?", "header": "Database",
          "options": [["PostgreSQL", "Relational, robust"], ["SQLite", "Embedded, zero setup"]] },
        { "say": "SQLite it is (after-answer)." },
    ]));
    lab.daemon.send(&id, "Set up the database (ask-me)");
    lab.daemon.wait_screen(&id, marker(agent, "question"), TURN);
    capture(&lab, &id, "question", "question");
    wait_status(&lab, &id, "question", REFLECT);
    let r = read(&lab, &id);
    assert!(
        r["interactiveContent"]
            .as_str()
            .unwrap_or_default()
            .contains("Which database"),
        "{r}"
    );
    let (s, v) = lab.daemon.post(
        &format!("/v1/sessions/{id}/answer"),
        json!({ "answer": "2" }),
    );
    assert_eq!(s, StatusCode::OK, "{v}");
    let turns = lab.model.wait_main(2, TURN);
    let results = tool_results(agent, &turns[1]).join("\n");
    assert!(
        results.contains("SQLite"),
        "the model receives the chosen answer: {results}"
    );
    wait_screen_status(&lab, &id, "(after-answer)", "idle", TURN);
    capture(&lab, &id, "idle", "after_answer");
}

/// The trust dialog without `trustFolder`: a `permission_prompt` of kind trust, answered with
/// `/approve` -> idle.
pub fn trust_dialog_waits_then_approve(agent: Agent) {
    let lab = Lab::with_trust(agent, Trust::Ask);
    let id = id_of(&lab.daemon.create(lab.body(json!({}))));
    lab.daemon
        .wait_screen(&id, marker(agent, "trust"), agent.boot_timeout());
    capture(&lab, &id, "permission_prompt", "trust");
    wait_status(&lab, &id, "permission_prompt", REFLECT);
    let (_, p) = lab
        .daemon
        .get(&format!("/v1/sessions/{id}/permissions/pending"));
    assert_eq!(p["pending"][0]["kind"], "trust", "{p}");
    let (s, v) = lab
        .daemon
        .post(&format!("/v1/sessions/{id}/approve"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    lab.wait_ready(&id);
}

/// `trustFolder: true` answers the dialog by itself; the agent records the trust.
pub fn trust_folder_true(agent: Agent) {
    let lab = Lab::with_trust(agent, Trust::Ask);
    let id = lab.start(json!({ "trustFolder": true }));
    let (s, h) = lab
        .daemon
        .get(&format!("/v1/sessions/{id}/permissions/history"));
    assert_eq!(s, StatusCode::OK, "{h}");
    assert!(h.to_string().contains("trust"), "answered and logged: {h}");
    let recorded = match agent {
        Agent::Claude => {
            let config: Value = serde_json::from_str(
                &std::fs::read_to_string(lab.home.join(".claude.json")).unwrap_or_default(),
            )
            .unwrap_or_default();
            config["projects"][lab.work.display().to_string()]["hasTrustDialogAccepted"] == true
        }
        Agent::Codex => std::fs::read_to_string(lab.home.join(".codex/config.toml"))
            .unwrap_or_default()
            .contains("trust_level = \"trusted\""),
        Agent::Gemini => std::fs::read_to_string(lab.home.join(".gemini/trustedFolders.json"))
            .unwrap_or_default()
            .contains("TRUST_FOLDER"),
    };
    assert!(recorded, "the agent saved the trust decision");
}

/// `trustFolder: false` declines: Claude Code exits ("No, exit"); Codex and Gemini go on
/// without trusting. Nothing is saved as trusted.
pub fn trust_folder_false(agent: Agent) {
    let lab = Lab::with_trust(agent, Trust::Ask);
    let id = id_of(&lab.daemon.create(lab.body(json!({ "trustFolder": false }))));
    if agent == Agent::Claude {
        wait_status(&lab, &id, "exited", agent.boot_timeout());
    } else {
        lab.wait_ready(&id);
    }
    let trusted = match agent {
        Agent::Claude => {
            let config: Value = serde_json::from_str(
                &std::fs::read_to_string(lab.home.join(".claude.json")).unwrap_or_default(),
            )
            .unwrap_or_default();
            config["projects"][lab.work.display().to_string()]["hasTrustDialogAccepted"] == true
        }
        Agent::Codex => std::fs::read_to_string(lab.home.join(".codex/config.toml"))
            .unwrap_or_default()
            .contains("trust_level = \"trusted\""),
        Agent::Gemini => std::fs::read_to_string(lab.home.join(".gemini/trustedFolders.json"))
            .unwrap_or_default()
            .contains("\"TRUST_FOLDER\""),
    };
    assert!(!trusted, "a declined folder was saved as trusted");
}

/// The scripted API error for each agent (one its client gives up on after its retries).
fn fatal_error(agent: Agent) -> (Value, &'static str) {
    match agent {
        // Three 529s: the first try and CLAUDE_CODE_MAX_RETRIES=2 retries.
        Agent::Claude => (
            json!({ "status": 529, "message": "Overloaded", "times": 3, "retry_after": 0 }),
            "529",
        ),
        // 503 server_is_overloaded: Codex reports it without retrying (request_max_retries
        // covers the rest).
        Agent::Codex => (
            json!({ "status": 503, "message": "mock: model at capacity", "times": 3 }),
            "capacity",
        ),
        // 400: the only error Gemini does not retry.
        Agent::Gemini => (
            json!({ "status": 400, "message": "mock: invalid request (scripted 400)" }),
            "400",
        ),
    }
}

/// An API error ending a turn -> `error`, with the message in `statusText`; the next send
/// clears it (working, then idle).
pub fn api_error_then_recover(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    let (step, needle) = fatal_error(agent);
    lab.model
        .script(json!([step, { "say": "Back to normal (recovered)." }]));
    lab.daemon.send(&id, "This turn will fail (err-1)");
    lab.daemon.wait_screen(&id, marker(agent, "error"), TURN);
    // The agent is back at its composer under the error (the turn is over).
    wait_until(TURN, "the error drawn and the composer back", || {
        let screen = lab.screen(&id);
        (screen.contains(lab.composer()) && !screen.contains("esc to")).then_some(())
    });
    capture(&lab, &id, "error", "api_error");
    wait_status(&lab, &id, "error", REFLECT);
    let r = read(&lab, &id);
    assert!(
        r["statusText"]
            .as_str()
            .unwrap_or_default()
            .contains(needle),
        "statusText carries the error: {r}"
    );
    let log = StatusLog::start(&lab.daemon, &id, SAMPLE);
    lab.daemon.send(&id, "Try again (err-2)");
    wait_screen_status(&lab, &id, "(recovered)", "idle", TURN);
    capture(&lab, &id, "idle", "after_error_recovered");
    let seen = log.finish();
    assert!(
        seen.iter().any(|(_, s)| s == "working"),
        "the next send works again: {seen:?}"
    );
}

/// Retrying a transient error is `working`, never `idle`, until the answer arrives.
pub fn retrying_is_working(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    let retry = match agent {
        Agent::Claude => {
            json!({ "status": 529, "message": "Overloaded", "times": 2, "retry_after": 2 })
        }
        Agent::Codex => {
            json!({ "status": 429, "message": "mock: slow down", "times": 2, "retry_after": 2 })
        }
        Agent::Gemini => {
            json!({ "status": 429, "message": "mock: quota", "times": 1, "retry_after": 2 })
        }
    };
    lab.model
        .script(json!([retry, { "say": "Made it after retrying (retry-ok)." }]));
    let log = StatusLog::start(&lab.daemon, &id, SAMPLE);
    lab.daemon
        .send(&id, "Answer despite the overload (retry-me)");
    if agent != Agent::Gemini {
        lab.daemon.wait_screen(&id, marker(agent, "retry"), TURN);
        capture(&lab, &id, "working", "retrying");
    }
    wait_screen_status(&lab, &id, "(retry-ok)", "idle", Duration::from_secs(90));
    let seen = log.finish();
    assert_eq!(
        from_first_working(&seen),
        ["working", "idle"],
        "retrying must read working; every change: {seen:?}"
    );
    assert!(lab.model.main_requests().len() >= 2, "the agent retried");
}

/// Gemini retries 429/503 for minutes behind its ordinary spinner: with a stall threshold the
/// session is reported `stalled`.
pub fn endless_retry_stalls(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({ "stallThresholdMs": 8000 }));
    lab.model.script(
        json!([{ "status": 503, "message": "mock: unavailable", "times": 0, "retry_after": 1 }]),
    );
    lab.daemon
        .send(&id, "This will never be answered (stall-me)");
    wait_status(&lab, &id, "working", TURN);
    wait_status(&lab, &id, "stalled", Duration::from_secs(60));
}

/// Interrupt during a turn -> idle (the agent is still running and takes the next prompt).
pub fn interrupt_returns_idle(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    lab.model.script(json!([{ "hang": 60 }]));
    lab.daemon.send(&id, "Take your time (hang-me)");
    lab.model.wait_main(1, TURN);
    wait_status(&lab, &id, "working", TURN);
    let (s, v) = lab
        .daemon
        .post(&format!("/v1/sessions/{id}/interrupt"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_status(&lab, &id, "idle", Duration::from_secs(20));
    capture(&lab, &id, "idle", "interrupted");
    lab.model
        .script(json!([{ "say": "Still here (after-interrupt)." }]));
    // The next prompt arrives as itself: not merged with the interrupted one (Claude Code puts
    // an interrupted prompt back into its composer on Ctrl-C).
    let next = "Are you still there? (post-interrupt)";
    lab.daemon.send(&id, next);
    wait_screen_status(&lab, &id, "(after-interrupt)", "idle", TURN);
    let texts = lab.conversation();
    assert!(
        texts.iter().any(|t| t == next),
        "the prompt after the interrupt arrived as: {texts:?}"
    );
}

/// A multi-line prompt and a 5 KB prompt arrive byte-exact, once each.
pub fn prompts_arrive_byte_exact(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    let multi = "First line of the prompt\nsecond line, with punctuation: a, b; c!\n    indented by four spaces\n\nafter a blank line (multi-end)";
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut big = String::new();
    let mut i = 0usize;
    while big.len() < 5 * 1024 {
        big.push_str(words[i % words.len()]);
        big.push_str(if i % 13 == 12 { "\n" } else { " " });
        i += 1;
    }
    big.push_str("(big-end)");
    lab.model.script(json!([
        { "say": "Got the multi-line one (ack-multi)." },
        { "say": "Got the big one (ack-big)." },
    ]));
    for (text, ack) in [(multi, "(ack-multi)"), (big.as_str(), "(ack-big)")] {
        let r = lab.daemon.send(&id, text);
        assert_eq!(r["delivered"], true, "{r}");
        wait_screen_status(&lab, &id, ack, "idle", TURN);
        let received = lab.conversation();
        assert_eq!(
            received.iter().filter(|t| *t == text).count(),
            1,
            "sent {} bytes; the model received: {:?}",
            text.len(),
            received
                .iter()
                .map(|t| t.chars().take(120).collect::<String>())
                .collect::<Vec<_>>()
        );
    }
}

/// 200 prompts sent one after another (each as soon as the model received the previous
/// one) arrive as 200 separate user messages, in order: none lost, merged or split.
pub fn two_hundred_sends(agent: Agent) {
    const N: usize = 200;
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    lab.model.default_step(json!({ "say": "ok" }));
    let mut seen_requests = 0;
    let mut undelivered = Vec::new();
    let t0 = Instant::now();
    for i in 0..N {
        let text = format!("message {i:03} of {N}");
        let r = lab.daemon.send(&id, &text);
        if r["delivered"] != true {
            undelivered.push((i, r.clone()));
        }
        // Wait for the model to receive it before the next send, as an orchestrator that
        // feeds an agent would.
        let deadline = Instant::now() + TURN;
        'wait: loop {
            let fresh = lab.model.requests_from(seen_requests);
            for req in &fresh {
                seen_requests = seen_requests.max(req["n"].as_u64().unwrap_or(0) as usize + 1);
                if req["kind"] == "main" && user_texts(agent, &req["body"]).contains(&text) {
                    break 'wait;
                }
            }
            assert!(
                Instant::now() < deadline,
                "message {i} never reached the model; screen:\n{}",
                lab.screen(&id)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    wait_status(&lab, &id, "idle", TURN);
    let received: Vec<String> = lab
        .conversation()
        .into_iter()
        .filter(|t| t.contains(&format!("of {N}")))
        .collect();
    let expected: Vec<String> = (0..N).map(|i| format!("message {i:03} of {N}")).collect();
    eprintln!(
        "{}: {N} sent, {} received as separate user messages, {} undelivered by the send check, in {:?}",
        agent.name(),
        received.len(),
        undelivered.len(),
        t0.elapsed()
    );
    assert_eq!(received, expected, "lost, merged, split or reordered");
    assert!(undelivered.is_empty(), "{undelivered:?}");
}

macro_rules! agent_tests {
    ($agent:ident, $variant:expr, [$($scenario:ident),* $(,)?]) => {
        mod $agent {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario($variant);
                }
            )*
        }
    };
}

agent_tests!(
    claude,
    crate::support::agents::Agent::Claude,
    [
        starts_idle,
        send_working_idle,
        long_stream_stays_working,
        shell_approval_approve,
        shell_approval_reject,
        file_write_approval,
        question_answered,
        trust_dialog_waits_then_approve,
        trust_folder_true,
        trust_folder_false,
        api_error_then_recover,
        retrying_is_working,
        prompts_arrive_byte_exact,
    ]
);

agent_tests!(
    codex,
    crate::support::agents::Agent::Codex,
    [
        send_working_idle,
        long_stream_stays_working,
        shell_approval_approve,
        question_answered,
        trust_dialog_waits_then_approve,
        api_error_then_recover,
        retrying_is_working,
        interrupt_returns_idle,
        two_hundred_sends,
    ]
);

agent_tests!(
    gemini,
    crate::support::agents::Agent::Gemini,
    [endless_retry_stalls]
);
