//! The session lifecycle through REST, on real programs in real ptys.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Daemon, id_of, pid_exists, session_processes, support_bin, wait_until};

const T: Duration = Duration::from_secs(20);

#[test]
fn bash_session_evaluates_arithmetic() {
    let d = Daemon::start();
    let id = d.bash();
    d.wait_screen(&id, "$", T);
    let r = d.send(&id, "echo $((6*7))");
    assert_eq!(r["delivered"], true);
    assert_eq!(r["attempts"], 1);
    let screen = d.wait_screen(&id, "\n42", T);
    assert!(screen.contains("echo $((6*7))"), "{screen}");
    // The coarse detector settles on idle once output stops.
    d.wait_status(&id, "idle", T);
}

#[test]
fn python_repl_session() {
    let d = Daemon::start();
    let v = d.spawn(&["python3", "-q"]);
    let id = id_of(&v);
    d.wait_screen(&id, ">>>", T);
    d.send(&id, "6*7");
    d.wait_screen(&id, "\n42", T);
    d.send(&id, "print('multi' + 'ply')");
    d.wait_screen(&id, "multiply", T);
}

#[test]
fn first_prompt_is_delivered_when_ready() {
    let d = Daemon::start();
    let v = d.create(json!({
        "workDir": d.work_dir(),
        "agentType": "shell",
        "command": ["bash", "--norc", "--noprofile"],
        "env": { "PS1": "$ " },
        "prompt": "echo prompt-$((40+2))",
    }));
    assert_eq!(
        v["promptDelivery"],
        json!({ "delivered": true, "attempts": 1 })
    );
    d.wait_screen(&id_of(&v), "prompt-42", T);
}

#[test]
fn multiline_text_arrives_as_one_paste_then_one_enter() {
    let d = Daemon::start();
    let id = id_of(&d.spawn(&[&support_bin("paste_probe.py")]));
    d.wait_screen(&id, "paste-probe ready", T);
    // Wait until the daemon's screen model has seen DECSET 2004 (the probe prints it first).
    d.send(&id, "line one\nline two\nline three");
    let screen = d.wait_screen(&id, "ENTER", T);
    let lines: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("PASTE") || l.starts_with("ENTER") || l.starts_with("KEY"))
        .collect();
    assert_eq!(
        lines,
        ["PASTE[3 lines]: line one|line two|line three", "ENTER"],
        "screen:\n{screen}"
    );
}

#[test]
fn cursor_position_query_is_answered() {
    let d = Daemon::start();
    let id = id_of(&d.spawn(&["python3", &support_bin("cpr_probe.py")]));
    let screen = d.wait_screen(&id, "CPR ", T);
    assert!(
        screen.contains("CPR OK 1;8"),
        "the probe should see the cursor after 'probe> ':\n{screen}"
    );
    d.send(&id, "hello");
    d.wait_screen(&id, "echo:hello", T);
}

/// A daemon with one bash session showing its prompt; returns the session id and the shell's
/// pid (also its session id, for `session_processes`).
fn bash_at_prompt() -> (Daemon, String, i64) {
    let d = Daemon::start();
    let id = d.bash();
    let pid = d.get(&format!("/v1/sessions/{id}")).1["pid"]
        .as_i64()
        .expect("pid");
    d.wait_screen(&id, "$", T);
    (d, id, pid)
}

/// The pid of the `sleep` running in terminal session `sid`, once it exists.
fn wait_for_sleep(sid: i64) -> i64 {
    wait_until(T, "a sleep in the session", || {
        session_processes(sid)
            .into_iter()
            .find(|p| p.2 == "sleep")
            .map(|p| p.0)
    })
}

#[test]
fn interrupt_stops_a_running_sleep() {
    let (d, id, pid) = bash_at_prompt();
    d.send(&id, "sleep 100");
    let sleep_pid = wait_for_sleep(pid);
    let (status, _) = d.post(&format!("/v1/sessions/{id}/interrupt"), json!({}));
    assert_eq!(status, StatusCode::OK);
    wait_until(T, "sleep to be interrupted", || {
        (!pid_exists(sleep_pid)).then_some(())
    });
    // The shell is still there and usable.
    d.send(&id, "echo still-$((1+1))");
    d.wait_screen(&id, "still-2", T);
}

#[test]
fn kill_ends_every_process_including_a_grandchild_that_ignores_hangup() {
    let (d, id, pid) = bash_at_prompt();
    // A background job (its own process group under job control) that ignores HUP and TERM.
    d.send(&id, "(trap '' HUP TERM; exec sleep 1000) &");
    let stubborn = wait_for_sleep(pid);
    let (status, v) = d.call(reqwest::Method::DELETE, &format!("/v1/sessions/{id}"), None);
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(!pid_exists(stubborn), "the grandchild survived the kill");
    assert!(!pid_exists(pid), "the shell survived the kill");
    // No zombie and nothing else of that session remains.
    assert_eq!(session_processes(pid), vec![]);
    let (status, _) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn exit_code_is_recorded_and_input_to_an_exited_session_is_refused() {
    let d = Daemon::start();
    let id = id_of(&d.spawn(&["sh", "-c", "echo bye; exit 7"]));
    let v = d.wait_status(&id, "exited", T);
    assert_eq!(v["exitCode"], 7);
    assert!(d.screen(&id).contains("bye"));
    let (status, v) = d.post(
        &format!("/v1/sessions/{id}/send"),
        json!({ "text": "hello" }),
    );
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "SESSION_EXITED");
    let stats = d.get("/v1/sessions/stats").1;
    assert_eq!(stats["totalFailed"], 1, "{stats}");
}

#[test]
fn keys_and_resize() {
    let d = Daemon::start();
    let id = d.bash();
    d.wait_screen(&id, "$", T);
    let (status, v) = d.post(
        &format!("/v1/sessions/{id}/keys"),
        json!({ "keys": ["echo keys-", "ok", "Enter"] }),
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    d.wait_screen(&id, "\nkeys-ok", T);
    let (status, _) = d.post(
        &format!("/v1/sessions/{id}/resize"),
        json!({ "cols": 100, "rows": 30 }),
    );
    assert_eq!(status, StatusCode::OK);
    d.send(&id, "stty size");
    d.wait_screen(&id, "30 100", T);
    let v = d.get(&format!("/v1/sessions/{id}")).1;
    assert_eq!(
        (v["cols"].as_u64(), v["rows"].as_u64()),
        (Some(100), Some(30))
    );
}

#[test]
fn read_returns_scrollback_lines_and_ansi() {
    let d = Daemon::start();
    let id = id_of(&d.create(json!({
        "workDir": d.work_dir(), "agentType": "custom", "rows": 10, "cols": 40,
        "command": ["sh", "-c", "for i in $(seq 1 60); do echo row-$i; done; printf '\\033[31mred\\033[0m\\n'; exec sleep 100"],
    })));
    d.wait_screen(&id, "red", T);
    let (status, v) = d.get(&format!("/v1/sessions/{id}/read?lines=30"));
    assert_eq!(status, StatusCode::OK);
    let out = v["output"].as_str().unwrap_or_default();
    assert!(out.starts_with("row-32\n"), "{out}");
    assert!(out.ends_with("row-60\nred"), "{out}");
    let (_, v) = d.get(&format!("/v1/sessions/{id}/read?format=ansi"));
    assert!(
        v["output"]
            .as_str()
            .unwrap_or_default()
            .contains("\u{1b}[31mred"),
        "{v}"
    );
}

#[test]
fn a_flooding_child_finishes_and_the_daemon_stays_responsive_and_bounded() {
    let d = Daemon::start();
    let id = id_of(&d.spawn(&["sh", "-c", "yes 'aegis flood 0123456789 abcdefghijklmnopqrstuvwxyz' | head -c 52428800; echo; echo FLOOD-DONE"]));
    let mut worst = Duration::ZERO;
    let mut peak_rss = 0;
    wait_until(Duration::from_secs(240), "the flood to finish", || {
        let t = std::time::Instant::now();
        let (status, _) = d.get("/v1/health");
        assert_eq!(status, StatusCode::OK);
        worst = worst.max(t.elapsed());
        peak_rss = peak_rss.max(d.rss_kib());
        (d.status(&id) == "exited").then_some(())
    });
    assert!(d.screen(&id).contains("FLOOD-DONE"));
    assert_eq!(d.get(&format!("/v1/sessions/{id}")).1["exitCode"], 0);
    // Responsive: no health call waited behind the flood. (Loose bound: debug build, 2 cores.)
    assert!(
        worst < Duration::from_secs(2),
        "health took {worst:?} during the flood"
    );
    // Bounded: 50 MB went through, but the daemon holds only the screen and a small scrollback.
    assert!(peak_rss < 150 * 1024, "daemon RSS peaked at {peak_rss} KiB");
}

#[test]
fn fifty_sessions_created_by_batch_all_work() {
    let d = Daemon::start();
    let specs: Vec<_> = (0..50)
        .map(|i| json!({ "workDir": d.work_dir(), "agentType": "custom", "name": format!("cat-{i}"), "command": ["cat"] }))
        .collect();
    let (status, v) = d.post("/v1/sessions/batch", json!({ "sessions": specs }));
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["created"], 50);
    assert_eq!(v["failed"], json!([]));
    for i in 0..50 {
        d.send(&format!("cat-{i}"), &format!("hello-{i}"));
    }
    for i in 0..50 {
        let screen = d.wait_screen(&format!("cat-{i}"), &format!("hello-{i}\nhello-{i}"), T);
        assert!(
            !screen.contains(&format!("hello-{}", (i + 1) % 50)),
            "cross-talk in cat-{i}: {screen}"
        );
    }
    let list = d.get("/v1/sessions").1;
    assert_eq!(list["total"], 50);
    let (status, v) = d.call(
        reqwest::Method::DELETE,
        "/v1/sessions/batch",
        Some(json!({ "ids": ["cat-0", "cat-1", "no-such"] })),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v,
        json!({ "deleted": 2, "notFound": ["no-such"], "errors": [] })
    );
    assert_eq!(d.get("/v1/sessions").1["total"], 48);
}

#[test]
fn history_limits_are_per_session_checked_and_survive_a_restart() {
    let mut d = Daemon::start();
    // Out of range: a clear 400 in the API's error format, and no session.
    for bad in [
        json!({ "historyLines": 100_001 }),
        json!({ "historyLines": -1 }),
        json!({ "historyBytes": 100 }),
    ] {
        let mut body = json!({
            "workDir": d.work_dir(), "agentType": "custom", "command": ["true"],
        });
        body.as_object_mut()
            .expect("object")
            .extend(bad.as_object().expect("object").clone());
        let (status, v) = d.post("/v1/sessions", body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    assert_eq!(d.get("/v1/sessions").1["total"], 0);

    // 30 lines of history on a 10-row screen (its last row the cursor's): rows 163..200 and END.
    let id = id_of(&d.create(json!({
        "workDir": d.work_dir(), "agentType": "custom", "rows": 10, "cols": 40,
        "historyLines": 30, "historyBytes": 65536,
        "command": ["sh", "-c", "for i in $(seq 1 200); do echo row-$i; done; echo END; exec sleep 100"],
    })));
    d.wait_screen(&id, "END", T);
    let read_all = |d: &Daemon| {
        let (status, v) = d.get(&format!("/v1/sessions/{id}/read?lines=2000"));
        assert_eq!(status, StatusCode::OK);
        v["output"].as_str().unwrap_or_default().to_owned()
    };
    let out = read_all(&d);
    assert!(out.starts_with("row-163\n"), "{out}");
    assert!(out.ends_with("row-200\nEND"), "{out}");
    let v = d.get(&format!("/v1/sessions/{id}")).1;
    assert_eq!(
        (v["historyLines"].as_u64(), v["historyBytes"].as_u64()),
        (Some(30), Some(65536))
    );
    // The defaults, for a session that names none.
    let other = d.bash();
    let v = d.get(&format!("/v1/sessions/{other}")).1;
    assert_eq!(
        (v["historyLines"].as_u64(), v["historyBytes"].as_u64()),
        (Some(2000), Some(0))
    );

    // After a restart the session keeps its limits, and its history is rebuilt within them.
    d.restart();
    let v = d.get(&format!("/v1/sessions/{id}")).1;
    assert_eq!(v["historyLines"].as_u64(), Some(30), "{v}");
    wait_until(T, "the history rebuilt", || {
        let out = read_all(&d);
        out.ends_with("row-200\nEND").then_some(out)
    });
    assert!(read_all(&d).starts_with("row-163\n"));
}

#[test]
fn every_small_write_of_a_fast_writer_reaches_the_screen() {
    // Unbuffered small writes arrive as many small chunks at once: the session must parse
    // every one of them, whatever the batch it takes them in.
    let d = Daemon::start();
    let id = id_of(&d.create(json!({
        "workDir": d.work_dir(), "agentType": "custom", "rows": 20, "cols": 40,
        "command": ["python3", "-u", "-c",
            "import sys, time\nfor i in range(1, 1991):\n    sys.stdout.write(f'n{i}\\r\\n')\n    time.sleep(0.00005)\nsys.stdout.write('END\\r\\n')\ntime.sleep(100)"],
    })));
    // A client reading the whole history meanwhile keeps the session busy rendering, so
    // output piles up between its turns.
    wait_until(T, "the end marker", || {
        let (_, v) = d.get(&format!("/v1/sessions/{id}/read?lines=2000&format=ansi"));
        v["output"]
            .as_str()
            .unwrap_or_default()
            .contains("END")
            .then_some(())
    });
    let (_, v) = d.get(&format!("/v1/sessions/{id}/read?lines=2000"));
    let out = v["output"].as_str().unwrap_or_default();
    let numbers: Vec<&str> = out.lines().filter(|l| l.starts_with('n')).collect();
    let expected: Vec<String> = (1..=1990).map(|i| format!("n{i}")).collect();
    assert_eq!(numbers, expected);
}

/// An agent redraws its spinner more often than output ever pauses, for as long as it works:
/// its history is still kept compactly. The lines that scrolled off are encoded within seconds
/// while the spinner keeps turning, and what the screen model holds (`screenBytes`) falls to a
/// fraction of the same 2000 lines kept as 160-column rows of cells (2000 × 160 cells of 8
/// bytes, about 2.5 MB).
#[test]
fn a_session_that_never_goes_quiet_still_keeps_its_history_compact() {
    let d = Daemon::start();
    let fill = r#"awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "\033[3%dmline %04d of the history, in colour\033[0m\n", i % 8, i }'"#;
    let spin = r#"i=0; while :; do i=$((i+1)); printf '\r| working %d' $i; sleep 0.1; done"#;
    let id = id_of(&d.create(json!({
        "workDir": d.work_dir(), "agentType": "custom", "cols": 160, "rows": 48,
        "command": ["sh", "-c", format!("{fill}; echo FILLED; {spin}")],
    })));
    let spinner = |d: &Daemon| {
        let (_, v) = d.get(&format!("/v1/sessions/{id}/read"));
        let out = v["output"].as_str().unwrap_or_default().to_owned();
        let last = out.lines().last().unwrap_or_default().to_owned();
        let turns = last
            .strip_prefix("| working ")
            .and_then(|n| n.parse::<u32>().ok());
        (last, turns)
    };
    // Three seconds of spinning: past the latest time to compact, and the memory figure
    // measured since (at most a second old while output flows).
    wait_until(T, "30 turns of the spinner", || {
        spinner(&d).1.is_some_and(|n| n >= 30).then_some(())
    });
    let screen_bytes = |d: &Daemon| {
        let v = d.get(&format!("/v1/sessions/{id}")).1;
        v["screenBytes"].as_u64().unwrap_or(u64::MAX)
    };
    let compact = wait_until(T, "the history compacted while the spinner turns", || {
        let b = screen_bytes(&d);
        (b < 600_000).then_some(b)
    });
    // Never quiet all along: the spinner still moves after the history was compacted.
    let (before, _) = spinner(&d);
    wait_until(T, "the spinner to move on", || {
        (spinner(&d).0 != before).then_some(())
    });
    assert!(
        before.starts_with("| working "),
        "{before:?} ({compact} bytes)"
    );
    // Compacted lines read as they were written.
    let (_, v) = d.get(&format!("/v1/sessions/{id}/read?lines=2000&format=ansi"));
    let out = v["output"].as_str().unwrap_or_default();
    let line = out
        .lines()
        .find(|l| l.contains("line 2997 "))
        .unwrap_or_default();
    assert_eq!(
        line, "\u{1b}[35mline 2997 of the history, in colour\u{1b}[0m",
        "{out:?}"
    );
    let (_, v) = d.get(&format!("/v1/sessions/{id}/read?lines=2000"));
    let text = v["output"].as_str().unwrap_or_default();
    assert!(
        text.contains("\nline 1049 of the history, in colour\n"),
        "{text}"
    );
    assert!(
        text.contains("\nline 3000 of the history, in colour\nFILLED\n"),
        "{text}"
    );
}
