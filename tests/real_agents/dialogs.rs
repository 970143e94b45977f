//! Dialogs and failures on the real agents: tool approvals, questions, the trust dialog,
//! API errors and retries, the hooks behind them and dialogs dismissed with Escape.

use super::*;

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
    if agent == Agent::Codex {
        // Codex reports the question itself (OSC 7501), next to the dialog on screen.
        let e = detect(&lab, &id);
        assert_eq!(e["report"], "state=blocked:app=codex:kind=question", "{e}");
    }
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
    if agent == Agent::Codex {
        let e = detect(&lab, &id);
        assert_eq!(e["report"], "state=done:app=codex", "{e}");
    }
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

/// Whether the agent saved the project folder as trusted, in its own config file.
fn trust_saved(lab: &Lab, agent: Agent) -> bool {
    let read = |path: &str| std::fs::read_to_string(lab.home.join(path)).unwrap_or_default();
    match agent {
        Agent::Claude => {
            let config: Value = serde_json::from_str(&read(".claude.json")).unwrap_or_default();
            config["projects"][lab.work.display().to_string()]["hasTrustDialogAccepted"] == true
        }
        Agent::Codex => read(".codex/config.toml").contains("trust_level = \"trusted\""),
        Agent::Gemini => read(".gemini/trustedFolders.json").contains("\"TRUST_FOLDER\""),
    }
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
    assert!(
        trust_saved(&lab, agent),
        "the agent saved the trust decision"
    );
    // One dialog, one request, one answer: the frames the agent draws while it closes the
    // dialog (Claude's check mark after the option taken) are the same request. Gemini is left
    // out: it redraws its trust dialog from scratch while it starts (gone for 30-60 ms, back as
    // a new request), so a key can be lost in a redraw and the dialog rightly answered again.
    let log = lab.daemon.log();
    let requested = log.matches("permission requested").count();
    let automatic = log.matches("answering permission automatically").count();
    let answers: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("permission") || l.contains("status changed"))
        .collect();
    if agent != Agent::Gemini {
        assert_eq!(
            (requested, automatic),
            (1, 1),
            "{h}\n{}",
            answers.join("\n")
        );
    } else {
        assert!((1..=3).contains(&automatic), "{h}\n{}", answers.join("\n"));
    }
}

/// `trustFolder: false` declines: Claude Code exits ("No, exit"), Codex leaves its trust
/// screen, Gemini goes on without trusting. Nothing is saved as trusted.
pub fn trust_folder_false(agent: Agent) {
    let lab = Lab::with_trust(agent, Trust::Ask);
    let id = id_of(&lab.daemon.create(lab.body(json!({ "trustFolder": false }))));
    match agent {
        // Declining ends Claude Code ("No, exit").
        Agent::Claude => {
            wait_status(&lab, &id, "exited", agent.boot_timeout());
        }
        // Codex goes "back" from its trust screen: to its agent command center, or (seen in
        // some runs) out, with an error about buffered terminal input.
        Agent::Codex => wait_until(
            agent.boot_timeout(),
            "Codex to leave its trust screen",
            || {
                (lab.daemon.status(&id) == "exited"
                    || lab.screen(&id).contains("Agent command center"))
                .then_some(())
            },
        ),
        // Gemini goes on untrusted.
        Agent::Gemini => lab.wait_ready(&id),
    }
    assert!(
        !trust_saved(&lab, agent),
        "a declined folder was saved as trusted"
    );
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
    // The recovering answer streams for about a second: an instant one can be over between
    // two samples of the status log (Claude's took 46 ms once).
    lab.model.script(json!([
        step,
        { "say": "Back to normal (recovered).", "chunks": 4, "interval_ms": 250 }
    ]));
    lab.daemon.send(&id, "This turn will fail (err-1)");
    // The first read that says `error` already says why: the error's line, or (Claude, whose
    // StopFailure hook can arrive before the error is drawn) the hook that decided.
    let first = wait_until(TURN, "a read that says error", || {
        let r = read(&lab, &id);
        (r["status"] == "error").then_some(r)
    });
    let why = first["statusText"].as_str().unwrap_or_default();
    assert!(
        why.contains(needle) || why == "StopFailure hook",
        "the first error read says why: {first}"
    );
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

/// How many times each hook event reached the daemon (`/detect`'s `sources.hooks.byEvent`).
fn hooks_arrived(lab: &Lab, id: &str) -> Value {
    detect(lab, id)["sources"]["hooks"]["byEvent"].clone()
}

/// Wait until the hook `event` reached the daemon at least once; returns the counts.
fn wait_hook(lab: &Lab, id: &str, event: &str) -> Value {
    let deadline = Instant::now() + TURN;
    loop {
        let seen = hooks_arrived(lab, id);
        if seen[event].as_u64().unwrap_or(0) >= 1 {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "the {event} hook never reached the daemon; hooks seen: {seen}; screen:\n{}",
            lab.screen(id)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The hook settings Aegis writes are accepted by the real agent (no settings error, and its
/// hooks fire): UserPromptSubmit, PreToolUse, PermissionRequest and Notification around a tool
/// approval, PostToolUse and Stop at the end of the turn. Claude Code 2.1 runs no HTTP hook
/// for SessionStart ("HTTP hooks are not supported for SessionStart"): what that hook would
/// tell, Claude's session id and transcript, the daemon learns from the first hook of any
/// kind, which is checked instead.
pub fn hooks_reach_the_daemon(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    let info = status_of(&lab, &id);
    assert_eq!(info["hooks"], true, "{info}");
    assert!(
        info["command"].to_string().contains("--settings"),
        "the session runs with Aegis's settings file: {info}"
    );
    let screen = lab.screen(&id);
    assert!(
        !screen.contains("Settings Error") && !screen.contains("Invalid settings"),
        "the agent refused the settings file:\n{screen}"
    );
    lab.model.script(json!([
        { "shell": "echo hooked > hooked.txt", "description": "Write the marker file" },
        { "say": "Done with the hooks (hooks-done)." },
    ]));
    lab.daemon
        .send(&id, "Run the marker command (hooks-prompt)");
    lab.daemon.wait_screen(&id, marker(agent, "bash"), TURN);
    wait_hook(&lab, &id, "PermissionRequest");
    let (_, p) = lab
        .daemon
        .get(&format!("/v1/sessions/{id}/permissions/pending"));
    assert!(
        p.to_string().contains("hooked.txt"),
        "the held hook request names the command: {p}"
    );
    wait_hook(&lab, &id, "Notification");
    let (s, v) = lab
        .daemon
        .post(&format!("/v1/sessions/{id}/approve"), json!({}));
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_screen_status(&lab, &id, "(hooks-done)", "idle", TURN);
    wait_hook(&lab, &id, "Stop");
    let seen = hooks_arrived(&lab, &id);
    for event in [
        "UserPromptSubmit",
        "PreToolUse",
        "PermissionRequest",
        "Notification",
        "PostToolUse",
        "Stop",
    ] {
        assert!(
            seen[event].as_u64().unwrap_or(0) >= 1,
            "{event} never arrived; hooks seen: {seen}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(lab.work.join("hooked.txt"))
            .unwrap_or_default()
            .trim(),
        "hooked"
    );
    let info = status_of(&lab, &id);
    assert!(
        info["claudeSessionId"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
            && info["jsonlPath"]
                .as_str()
                .is_some_and(|p| p.ends_with(".jsonl")),
        "the hooks told Claude's session id and transcript: {info}"
    );
    eprintln!("{}: hooks that reached the daemon: {seen}", agent.name());
}

/// Wait until the agent's own screen is back at its idle composer with no dialog on it, then
/// check the status follows within [`REFLECT`] (a hook's claim must not pin the dialog).
fn dismissed_reads_idle(lab: &Lab, id: &str, dialog: &str) {
    wait_until(TURN, &format!("the {dialog} gone from the screen"), || {
        let screen = lab.screen(id);
        (screen.contains(lab.composer()) && !screen.contains(dialog) && !screen.contains("esc to"))
            .then_some(())
    });
    wait_status(lab, id, "idle", REFLECT);
}

/// A question and a tool approval dismissed with Escape: once the screen shows the idle
/// prompt the status is idle again (never left at `question` or `permission_prompt`), and
/// nothing stays pending.
pub fn dismissed_dialogs_clear(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    lab.model
        .default_step(json!({ "say": "Fine (after-dismiss)." }));
    for (step, dialog, state) in [
        (
            json!({ "ask": "Which database should the project use?", "header": "Database",
                    "options": [["PostgreSQL", "Relational"], ["SQLite", "Embedded"]] }),
            marker(agent, "question"),
            "question",
        ),
        (
            json!({ "shell": "echo dismissed > dismissed.txt", "description": "Write the marker file" }),
            marker(agent, "bash"),
            "permission_prompt",
        ),
    ] {
        lab.model.script(json!([step]));
        lab.daemon
            .send(&id, &format!("Next dialog please ({state})"));
        lab.daemon.wait_screen(&id, dialog, TURN);
        wait_status(&lab, &id, state, REFLECT);
        let (s, v) = lab.daemon.post(
            &format!("/v1/sessions/{id}/keys"),
            json!({ "keys": ["Escape"] }),
        );
        assert_eq!(s, StatusCode::OK, "{v}");
        dismissed_reads_idle(&lab, &id, dialog);
        let (_, p) = lab
            .daemon
            .get(&format!("/v1/sessions/{id}/permissions/pending"));
        assert_eq!(
            p["pending"].as_array().map_or(0, Vec::len),
            0,
            "nothing pending after the {state} was dismissed: {p}"
        );
    }
    assert!(
        !lab.work.join("dismissed.txt").exists(),
        "the dismissed command ran"
    );
}

/// Gemini retries 429/503 for minutes behind its ordinary spinner: with a stall threshold the
/// session is reported `stalled` (the spinner, its clock and the footer's redraws are not
/// progress), and the screen still shows the spinner when it is.
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
    assert!(
        lab.screen(&id).contains(marker(agent, "retry")),
        "stalled while the agent's spinner is on screen:\n{}",
        lab.screen(&id)
    );
    assert!(
        lab.model.main_requests().len() >= 2,
        "the agent kept retrying"
    );
}
