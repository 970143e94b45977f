//! The detector's state machine on synthetic screens: settling, stalls, dialogs, the
//! activity fallback and who holds the terminal. The recorded screens of real agents are
//! checked by `tests/detect.rs`.

use super::*;

fn detector(agent: &str) -> Detector {
    let set = profile::ProfileSet::builtin().expect("valid");
    Detector::new(
        set.for_agent(agent),
        DetectConfig {
            quiet: Duration::from_millis(500),
            stall: Some(Duration::from_secs(5)),
            permission_timeout: None,
        },
        Instant::now(),
    )
}

#[test]
fn shell_activity_fallback() {
    let t0 = Instant::now();
    let mut d = detector("shell");
    let screen = Screen::new(10, 5, 0);
    assert_eq!(
        d.evaluate(t0, &screen, || None).status,
        SessionStatus::Starting
    );
    d.on_output(t0 + Duration::from_millis(10));
    let v = d.evaluate(t0 + Duration::from_millis(20), &screen, || None);
    assert_eq!(v.status, SessionStatus::Working);
    assert_eq!(
        d.evaluate(t0 + Duration::from_millis(600), &screen, || None)
            .status,
        SessionStatus::Idle
    );
}

#[test]
fn working_to_idle_holds() {
    let t0 = Instant::now();
    let mut d = detector("claude");
    let bar = "─".repeat(40);
    let idle = format!("{bar}\n❯ \n{bar}\n  ? for shortcuts");
    let working = format!("✶ Working… (4s · ↓ 88 tokens)\n{idle}");
    assert_eq!(
        d.evaluate_text(t0, &working, "", "", None).status,
        SessionStatus::Working
    );
    let t1 = t0 + Duration::from_millis(100);
    let v = d.evaluate_text(t1, &idle, "", "", None);
    assert_eq!(v.status, SessionStatus::Working, "{:?}", d.explanation());
    assert!(v.recheck_at.is_some());
    let t2 = t1 + Duration::from_secs(1);
    assert_eq!(
        d.evaluate_text(t2, &idle, "", "", None).status,
        SessionStatus::Idle
    );
}

fn shell_holding(waiting: crate::pty::Waiting) -> Foreground {
    Foreground {
        pgid: 100,
        own: true,
        holder: Some(crate::pty::Holder {
            pid: 100,
            name: "bash".into(),
            waiting,
        }),
    }
}

fn job() -> Foreground {
    Foreground {
        pgid: 200,
        own: false,
        holder: None,
    }
}

/// A quiet job is working for as long as it holds the terminal, and the shell's prompt is
/// idle at once, however recent the output; the detector keeps looking while a job runs.
#[test]
fn the_terminal_decides_for_a_shell() {
    use crate::pty::Waiting;
    let t0 = Instant::now();
    let mut d = detector("shell");
    let prompt = "$ sleep 5";
    d.on_output(t0);
    let v = d.evaluate_text(t0, prompt, "", "", Some(job()));
    assert_eq!(v.status, SessionStatus::Working);
    assert_eq!(v.recheck_at, Some(t0 + PROMPT_SETTLE));
    assert_eq!(d.explanation().evidence, Evidence::Terminal);
    // Long after the last output, still working, and looked at again.
    let t1 = t0 + Duration::from_secs(4);
    let v = d.evaluate_text(t1, prompt, "", "", Some(job()));
    assert_eq!(v.status, SessionStatus::Working, "{:?}", d.explanation());
    assert_eq!(v.recheck_at, Some(t1 + Duration::from_millis(500)));
    // The shell took the terminal back and reads it: idle with no hold and no recheck.
    let t2 = t1 + Duration::from_millis(10);
    d.on_output(t2);
    let v = d.evaluate_text(
        t2,
        "$ sleep 5\n$ ",
        "",
        "",
        Some(shell_holding(Waiting::Input)),
    );
    assert_eq!(v.status, SessionStatus::Idle, "{:?}", d.explanation());
    assert_eq!(v.recheck_at, None);
    // No terminal to read (the leader is gone): output activity decides again.
    let t3 = t2 + Duration::from_millis(20);
    d.on_output(t3);
    let v = d.evaluate_text(t3, "$ ", "", "", None);
    assert_eq!(v.status, SessionStatus::Working);
    assert_eq!(d.explanation().evidence, Evidence::Output);
}

/// Profiles of agents never read the terminal.
#[test]
fn agents_ignore_the_terminal() {
    let t0 = Instant::now();
    let mut d = detector("claude");
    let bar = "─".repeat(40);
    let idle = format!("{bar}\n❯ \n{bar}\n  ? for shortcuts");
    let v = d.evaluate(t0, &Screen::new(10, 5, 0), || {
        panic!("an agent read the terminal")
    });
    assert_eq!(v.status, SessionStatus::Starting);
    let v = d.evaluate_text(t0, &idle, "", "", Some(job()));
    assert_eq!(v.status, SessionStatus::Idle);
    assert_eq!(d.explanation().evidence, Evidence::Screen);
}

/// Codex hides its Working line while text streams: the screen alone reads idle, the title and
/// the state report say working, and `/detect`'s evidence names which one decided.
#[test]
fn codex_report_and_title_decide_while_the_screen_looks_idle() {
    let t0 = Instant::now();
    let composer = "• This is a deliberately slow\n\n› Ask Codex to do anything\n\n  gpt-5-codex default · ~/project\n  ← for agents · ? for shortcuts";
    let working = "• Working (3s • esc to interrupt)\n\n› Ask Codex to do anything\n\n  gpt-5-codex default · ~/project";
    let mut d = detector("codex");
    let cases = [
        // (screen, title, report, state, evidence, rule)
        (
            composer,
            "project",
            "",
            SessionStatus::Idle,
            Evidence::Screen,
            "codex.idle.composer",
        ),
        // A finished turn's report is no working evidence.
        (
            composer,
            "Mock session | project",
            "state=done:app=codex",
            SessionStatus::Idle,
            Evidence::Screen,
            "codex.idle.composer",
        ),
        (
            composer,
            "⠦ Mock session | project",
            "",
            SessionStatus::Working,
            Evidence::Title,
            "codex.working.title",
        ),
        (
            composer,
            "⠦ Mock session | project",
            "state=working:app=codex",
            SessionStatus::Working,
            Evidence::Report,
            "codex.working.report",
        ),
        // A Working line on screen decides before the report.
        (
            working,
            "",
            "state=working:app=codex",
            SessionStatus::Working,
            Evidence::Screen,
            "codex.working.status",
        ),
    ];
    // Codex is up (see `codex_start_up_work_is_starting_not_a_turn`): its first idle has held.
    d.evaluate_text(t0, composer, "project", "", None);
    for (i, (screen, title, report, state, evidence, rule)) in cases.into_iter().enumerate() {
        // No case leaves working for idle, so no idle hold applies; a second apart, well
        // inside the stall threshold.
        let t = t0 + Duration::from_secs(i as u64 + 1);
        let v = d.evaluate_text(t, screen, title, report, None);
        let e = d.explanation();
        assert_eq!((v.status, e.evidence), (state, evidence), "case {i}: {e:?}");
        assert_eq!(e.rule.as_deref(), Some(rule), "case {i}");
        assert_eq!(e.report, report, "case {i}");
        assert_eq!(e.title, title, "case {i}");
    }
}

/// Codex draws its composer, sets its title and may report `idle`, then reports `working`
/// while it boots: the session stays `starting` through that, its first idle holds for the
/// idle hold, and only then reads idle; a report of work after that is a turn.
#[test]
fn codex_start_up_work_is_starting_not_a_turn() {
    let t0 = Instant::now();
    let composer = "› Ask Codex to do anything\n\n  gpt-5-codex default · ~/project";
    let mut d = detector("codex");
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let steps = [
        // (at ms, title, report, state)
        (0, "", "", SessionStatus::Starting),
        (
            100,
            "project",
            "state=idle:app=codex",
            SessionStatus::Starting,
        ),
        (
            130,
            "⠋ project",
            "state=working:app=codex",
            SessionStatus::Starting,
        ),
        (
            700,
            "project",
            "state=idle:app=codex",
            SessionStatus::Starting,
        ),
        (
            1000,
            "project",
            "state=idle:app=codex",
            SessionStatus::Starting,
        ),
        (1300, "project", "state=idle:app=codex", SessionStatus::Idle),
        (
            2000,
            "⠋ project",
            "state=working:app=codex",
            SessionStatus::Working,
        ),
    ];
    for (at, title, report, state) in steps {
        let v = d.evaluate_text(ms(at), composer, title, report, None);
        assert_eq!(v.status, state, "at {at} ms: {:?}", d.explanation());
    }
    // An agent that never sets its title is held only for the grace.
    let mut d = detector("codex");
    assert_eq!(
        d.evaluate_text(t0, composer, "", "", None).status,
        SessionStatus::Starting
    );
    let v = d.evaluate_text(Instant::now() + READY_GRACE, composer, "", "", None);
    assert_eq!(v.status, SessionStatus::Idle, "{:?}", d.explanation());
}

/// Gemini's title says working for the whole turn: it decides when a redraw left no spinner
/// line, and the spinner line decides when there is one.
#[test]
fn gemini_title_decides_working_without_a_spinner() {
    let composer =
        " >   Type your message or @path/to/file\n workspace (/directory)     sandbox     /model";
    let set = profile::ProfileSet::builtin().expect("valid");
    let p = set.for_agent("gemini");
    let c = classify(&p, composer, "✦  Working… (project)                ", "");
    assert_eq!(
        (c.state, c.evidence),
        (Some(SessionStatus::Working), Evidence::Title)
    );
    let c = classify(&p, composer, "◇  Ready (project)", "");
    assert_eq!(
        (c.state, c.evidence),
        (Some(SessionStatus::Idle), Evidence::Screen)
    );
    let spinner = format!(" ⠸ Thinking... (esc to cancel, 1s)\n{composer}");
    let c = classify(&p, &spinner, "✦  Working… (project)", "");
    assert_eq!(
        (c.state, c.evidence),
        (Some(SessionStatus::Working), Evidence::Screen)
    );
}

/// A working screen that only flips between states it showed before (Gemini's footer blinking
/// while it retries) stalls; something new on screen is progress again.
#[test]
fn flicker_between_known_screens_stalls() {
    let t0 = Instant::now();
    let mut d = detector("gemini");
    let spinner = " ⠋ Thinking... (esc to cancel, 3s)";
    let footer = " workspace (/directory)\n ~/project  no sandbox";
    let with_model = format!("{spinner}\n{footer}  Auto");
    let without = format!("{spinner}\n{footer}");
    let mut t = t0;
    for i in 0..40 {
        let screen = if i % 2 == 0 { &with_model } else { &without };
        let v = d.evaluate_text(t, screen, "", "", None);
        if t < t0 + Duration::from_secs(5) {
            assert_eq!(
                v.status,
                SessionStatus::Working,
                "at {i}: {:?}",
                d.explanation()
            );
        }
        t += Duration::from_millis(300);
    }
    assert_eq!(
        d.evaluate_text(t, &without, "", "", None).status,
        SessionStatus::Stalled,
        "{:?}",
        d.explanation()
    );
    let progressed = format!("✦ a new line of the answer\n{without}");
    assert_eq!(
        d.evaluate_text(t + Duration::from_millis(50), &progressed, "", "", None)
            .status,
        SessionStatus::Working
    );
}
