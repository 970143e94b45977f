//! The scenarios of a shell session's foreground, each run for bash and zsh, without
//! integration and with it (see the `shell_tests!` macro in the parent module): while a job
//! holds the terminal the session is never `idle`, and it is `idle` at the prompt.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{SEVERAL_LOOKS_MS, Shell, T, argv, installed, shell_reads_the_terminal};
use crate::support::wait_until;

pub fn quiet_job(shell: &str, integration: bool) {
    let s = Shell::start(shell, integration);
    s.back_at_prompt();
    s.send("sleep 5");
    let seen = s.working_while("sleep 5", || s.runs("sleep"));
    assert!(
        seen.iter()
            .any(|e| e["terminal"]["holds"] == "job" && e["terminal"]["command"] == "sleep"),
        "{seen:?}"
    );
    s.back_at_prompt();
}

pub fn pipeline(shell: &str, integration: bool) {
    let s = Shell::start(shell, integration);
    // The group's first process exits at once: the rest still hold the terminal.
    s.send("true | sleep 3 | cat");
    s.working_while("the pipeline", || s.runs("sleep"));
    s.back_at_prompt();
}

pub fn background_job(shell: &str, integration: bool) {
    let s = Shell::start(shell, integration);
    s.send("sleep 60 &");
    wait_until(T, "the background sleep", || s.runs("sleep").then_some(()));
    let e = s.stays_idle(|| s.runs("sleep"));
    s.at_prompt(&e);
}

pub fn stopped_job(shell: &str, integration: bool) {
    let s = Shell::start(shell, integration);
    s.send("sleep 60");
    s.d.wait_status(&s.id, "working", T);
    wait_until(T, "the sleep", || s.runs("sleep").then_some(()));
    s.keys(&["C-z"]);
    wait_until(T, "the sleep to stop", || {
        s.job("sleep", true).then_some(())
    });
    let e = s.stays_idle(|| s.job("sleep", true));
    s.at_prompt(&e);
}

/// A nested shell has no marks of its own (the outer shell's marks say their command runs):
/// the terminal shows it at its prompt, and exec finds its commands' end as without marks.
pub fn nested_shell(shell: &str, integration: bool) {
    let s = Shell::start(shell, integration);
    let line = argv(shell).join(" ");
    s.send(&line);
    // The inner shell holds the terminal from its own group and waits at its prompt.
    let inner = wait_until(T, "the inner shell at its prompt", || {
        let e = s.detect();
        let pgid = e["terminal"]["pgid"].as_i64();
        let inner = pgid.is_some() && pgid != Some(i64::from(s.sid));
        // Until it reads the terminal (while it starts) the output or the marks decide.
        (e["status"] == "idle" && inner && e["terminal"]["waiting"] == "input").then_some(e)
    });
    shell_reads_the_terminal(&inner);
    assert_eq!(inner["terminal"]["command"], shell, "{inner}");
    let (st, v) = s.exec(json!({ "command": "echo in-the-inner-shell" }));
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["output"], &v["exitCode"], &v["timedOut"]),
        (&json!("in-the-inner-shell"), &Value::Null, &json!(false)),
        "{v}"
    );
    s.send("sleep 3");
    s.working_while("sleep 3 in the inner shell", || s.runs("sleep"));
    let e = s.detect();
    shell_reads_the_terminal(&e);
    assert_eq!(e["terminal"]["pgid"], inner["terminal"]["pgid"], "{e}");
    s.send("exit");
    let outer = wait_until(T, "the outer shell at its prompt", || {
        let e = s.detect();
        let own = if integration {
            e["evidence"] == "marks"
        } else {
            e["terminal"]["pgid"] == i64::from(s.sid)
        };
        (e["status"] == "idle" && e["rawState"] == "idle" && own).then_some(e)
    });
    s.at_prompt(&outer);
    if integration {
        // The inner shell's prompts ended nothing: one command, the nested shell, ran.
        let all = s.commands();
        let [only] = all.as_slice() else {
            panic!("one command expected: {all:?}");
        };
        assert_eq!(only["command"], line.as_str(), "{only}");
        assert_eq!(only["exitCode"], 0, "{only}");
    }
}

pub fn program_waiting_for_input(shell: &str, integration: bool) {
    let s = Shell::start(shell, integration);
    s.send("cat");
    s.d.wait_status(&s.id, "working", T);
    wait_until(T, "cat", || s.runs("cat").then_some(()));
    // Quiet, and still working after several of the detector's looks.
    let e = wait_until(T, "several looks of the detector", || {
        let e = s.detect();
        assert_eq!(e["status"], "working", "{e}");
        (e["unchangedMs"].as_u64() > Some(SEVERAL_LOOKS_MS)).then_some(e)
    });
    assert_eq!(e["evidence"], s.busy_evidence(), "{e}");
    assert_eq!(e["terminal"]["holds"], "job", "{e}");
    assert_eq!(e["terminal"]["command"], "cat", "{e}");
    s.keys(&["C-d"]);
    wait_until(T, "cat to exit", || (!s.runs("cat")).then_some(()));
    s.d.wait_status(&s.id, "idle", T);
    s.back_at_prompt();
}

/// Names vim runs under, as Debian installs it.
const VIM: &[&str] = &["vim", "vim.basic", "vim.tiny"];

/// A full-screen editor holds the terminal while it waits for keys: `working` however long it
/// waits (a supervisor that types its next command once the session is idle must not type into
/// the editor), `idle` at the prompt once it quits.
pub fn full_screen_editor(shell: &str, integration: bool) {
    installed("vim");
    let s = Shell::start(shell, integration);
    // No vimrc and no viminfo: the same editor on every machine.
    s.send("vim -u NONE -i NONE -N");
    wait_until(T, "vim's screen", || {
        let screen = s.d.screen(&s.id);
        let tildes = screen.lines().filter(|l| l.starts_with('~')).count();
        (tildes >= 5).then_some(())
    });
    let vim_runs = || s.job_of(VIM, false);
    let e = wait_until(T, "several looks of the detector", || {
        let e = s.detect();
        assert!(vim_runs(), "vim exited: {e}");
        assert_eq!(e["status"], "working", "{e}");
        assert_eq!(e["evidence"], s.busy_evidence(), "{e}");
        (e["unchangedMs"].as_u64() > Some(SEVERAL_LOOKS_MS)).then_some(e)
    });
    assert_eq!(e["terminal"]["holds"], "job", "{e}");
    let command = e["terminal"]["command"].as_str().unwrap_or_default();
    assert!(VIM.contains(&command), "{e}");
    // Nothing may be typed into the editor as if it were the prompt.
    let (st, v) = s.exec(json!({ "command": "echo no" }));
    assert_eq!(
        (st, &v["code"]),
        (StatusCode::CONFLICT, &json!("SESSION_BUSY")),
        "{v}"
    );
    s.keys(&["Escape", ":q!", "Enter"]);
    wait_until(T, "vim to exit", || (!vim_runs()).then_some(()));
    s.d.wait_status(&s.id, "idle", T);
    s.back_at_prompt();
    let screen = s.d.screen(&s.id);
    assert!(
        screen.lines().filter(|l| l.starts_with('~')).count() < 5,
        "the editor's screen is still shown:\n{screen}"
    );
}
