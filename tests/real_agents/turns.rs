//! Turns on the real agents: start-up, the first prompt given at create, a send the moment the
//! agent turns idle, a plain turn, a long streamed turn, an interrupt, prompts that must
//! arrive byte-exact, and 200 sends in a row.

use super::*;

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
        "statuses during start-up: {seen:?}; what decided each change:\n{}\nscreen:\n{}",
        status_changes(&lab),
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

/// The daemon's log lines that say why a status changed (rule, evidence, title, report).
fn status_changes(lab: &Lab) -> String {
    let log = lab.daemon.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("status changed"))
        .collect();
    lines.join("\n")
}

/// The first prompt given at create (`prompt`) is delivered as soon as the agent is ready,
/// exactly once, and submitted (not left in the composer).
pub fn first_prompt_at_create(agent: Agent) {
    let lab = Lab::new(agent);
    lab.model
        .script(json!([{ "say": "Started and answered (first-ack)." }]));
    let prompt = "Please answer this first prompt now (first-prompt)";
    let v = lab.daemon.create(lab.body(json!({ "prompt": prompt })));
    let id = id_of(&v);
    lab.wait_user_text(prompt, TURN);
    wait_screen_status(&lab, &id, "(first-ack)", "idle", TURN);
    assert_eq!(times_received(&lab, prompt), 1, "{:?}", lab.conversation());
    assert_eq!(
        lab.model.main_requests().len(),
        1,
        "one model turn for the one prompt"
    );
    let info = status_of(&lab, &id);
    assert_eq!(info["promptDelivery"]["delivered"], true, "{info}");
}

/// A prompt sent the moment the session turns idle after start-up (no settling time) is
/// submitted once; `send`'s `delivered` is true only if it was.
pub fn send_right_after_start(agent: Agent) {
    let lab = Lab::new(agent);
    lab.model
        .script(json!([{ "say": "Answered the early send (early-ack)." }]));
    let id = id_of(&lab.daemon.create(lab.body(json!({}))));
    lab.daemon.wait_status(&id, "idle", agent.boot_timeout());
    let prompt = "Please answer the early send (early-send)";
    let r = lab.daemon.send(&id, prompt);
    assert_eq!(r["delivered"], true, "{r}");
    lab.wait_user_text(prompt, TURN);
    wait_screen_status(&lab, &id, "(early-ack)", "idle", TURN);
    assert_eq!(times_received(&lab, prompt), 1, "{:?}", lab.conversation());
}

/// Send -> working -> idle, with the reply in `/read` and the prompt received exactly once.
pub fn send_working_idle(agent: Agent) {
    let lab = Lab::new(agent);
    let id = lab.start(json!({}));
    // Streamed for about a second, so the status log's samples cannot miss the turn.
    lab.model.script(json!([{
        "say": "Six times seven is 42 (reply-7f3a).",
        "chunks": 4,
        "interval_ms": 250
    }]));
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
    if agent == Agent::Codex {
        // Codex hides its Working line while the text streams: its own state report (OSC
        // 7501) is what says working, and `/detect` names it as the evidence.
        let deadline = Instant::now() + Duration::from_secs(4);
        let e = loop {
            let e = detect(&lab, &id);
            if e["evidence"] == "report" || Instant::now() > deadline {
                break e;
            }
            std::thread::sleep(SAMPLE);
        };
        let screen = lab.screen(&id);
        assert_eq!(e["evidence"], "report", "{e}\nscreen:\n{screen}");
        assert_eq!(e["rawState"], "working", "{e}");
        assert_eq!(e["report"], "state=working:app=codex", "{e}");
        assert_eq!(e["rule"], "codex.working.report", "{e}");
    }
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
