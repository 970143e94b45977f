//! Shell sessions decided by who holds the terminal, on real bash and zsh under the real
//! daemon: a quiet job is `working` for its whole run and the prompt is `idle` once it ends;
//! a pipeline, a backgrounded job, a job stopped with Ctrl-Z, a nested shell and a program
//! waiting for input. The oracle for "the job runs" is /proc, read by the test itself; every
//! wait polls with a deadline. Every scenario runs for each shell, without shell integration
//! (the terminal decides); [`integrated`] covers the shells with their marks, [`exec`] running
//! commands through them.

mod exec;
mod integrated;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Daemon, id_of, wait_until};

const T: Duration = Duration::from_secs(20);

/// Long enough for the detector to have looked again several times after the last output
/// (the daemon's quiet period is 750 ms): a reading that was going to fall back to output
/// activity would have turned by then.
const SEVERAL_LOOKS_MS: u64 = 2500;

/// A shell session without rc files, and its daemon.
struct Shell {
    d: Daemon,
    id: String,
    /// The shell's pid: its terminal session's id.
    sid: i32,
}

/// The argv of `shell` without the user's rc files.
pub fn argv(shell: &str) -> Vec<&'static str> {
    match shell {
        "bash" => vec!["bash", "--norc", "--noprofile"],
        "zsh" => vec!["zsh", "-f"],
        other => panic!("no argv for {other}"),
    }
}

impl Shell {
    fn start(shell: &str) -> Shell {
        let found = std::process::Command::new(shell)
            .args(["-c", "true"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "{shell} is not installed: run scripts/install-test-deps"
        );
        let d = Daemon::start();
        let v = d.create(json!({
            "workDir": d.work_dir(),
            "agentType": "shell",
            "command": argv(shell),
            "env": { "PS1": "$ " },
            "shellIntegration": false,
        }));
        let id = id_of(&v);
        let sid = v["pid"].as_i64().and_then(|p| i32::try_from(p).ok());
        let sid = sid.unwrap_or_else(|| panic!("no pid: {v}"));
        d.wait_status(&id, "idle", T);
        Shell { d, id, sid }
    }

    fn send(&self, text: &str) {
        let r = self.d.send(&self.id, text);
        assert_eq!(r["delivered"], true, "{r}");
    }

    fn keys(&self, keys: &[&str]) {
        let (s, v) = self.d.post(
            &format!("/v1/sessions/{}/keys", self.id),
            json!({ "keys": keys }),
        );
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    fn detect(&self) -> Value {
        let (s, v) = self.d.get(&format!("/v1/sessions/{}/detect", self.id));
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// A process named `name` of this terminal session, outside the shell's own group (a
    /// job), in a state other than exited (and other than stopped, unless `stopped`).
    fn job(&self, name: &str, stopped: bool) -> bool {
        jobs(self.sid)
            .iter()
            .any(|p| p.comm == name && p.state != 'Z' && (stopped == (p.state == 'T')))
    }

    /// Wait until the session reads `working` and `runs` holds, then check that every read
    /// while `runs` still holds afterwards is `working`, decided by the terminal; then wait
    /// for `idle`. Returns the `/detect` answers read while the job ran.
    fn working_while(&self, what: &str, runs: impl Fn() -> bool) -> Vec<Value> {
        self.d.wait_status(&self.id, "working", T);
        wait_until(T, what, || runs().then_some(()));
        let mut seen = Vec::new();
        wait_until(T * 3, &format!("{what} to end"), || {
            let e = self.detect();
            if !runs() {
                return Some(());
            }
            // The job ran before this read and still runs after it.
            assert_eq!(e["status"], "working", "read while {what}: {e}");
            // A job's process exists a moment before the shell hands it the terminal
            // (fork, then tcsetpgrp): until then output activity decides. From the first
            // read the terminal decides, every later one must be the terminal's too.
            if seen.is_empty() && e["evidence"] != "terminal" {
                return None;
            }
            assert_eq!(e["evidence"], "terminal", "{e}");
            seen.push(e);
            None
        });
        assert!(!seen.is_empty(), "{what} was never seen running");
        self.d.wait_status(&self.id, "idle", T);
        seen
    }

    /// Check the session stays `idle` (the shell at its prompt) for several of the detector's
    /// looks, reading each time that `holds` holds.
    fn stays_idle(&self, holds: impl Fn() -> bool) -> Value {
        self.d.wait_status(&self.id, "idle", T);
        wait_until(T, "several looks of the detector", || {
            let e = self.detect();
            assert_eq!(e["status"], "idle", "{e}");
            assert!(holds(), "the condition stopped holding while idle: {e}");
            (e["unchangedMs"].as_u64() > Some(SEVERAL_LOOKS_MS)).then_some(e)
        })
    }
}

/// The shell at its prompt is what `/detect` names as the evidence.
fn at_prompt(e: &Value) {
    assert_eq!(e["status"], "idle", "{e}");
    assert_eq!(e["evidence"], "terminal", "{e}");
    assert_eq!(e["terminal"]["holds"], "shell", "{e}");
    assert_eq!(e["terminal"]["waiting"], "input", "{e}");
}

/// A process as the test reads it from /proc.
pub struct Proc {
    pub comm: String,
    pub state: char,
}

/// The processes of terminal session `sid` outside its leader's process group (its jobs).
pub fn jobs(sid: i32) -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let comm = stat.get(open + 1..close)?.to_owned();
            let mut f = stat.get(close + 2..)?.split(' ');
            let state = f.next()?.chars().next()?;
            let _ppid = f.next()?;
            let pgrp: i32 = f.next()?.parse().ok()?;
            let session: i32 = f.next()?.parse().ok()?;
            (session == sid && pgrp != sid).then_some(Proc { comm, state })
        })
        .collect()
}

fn quiet_job(shell: &str) {
    let s = Shell::start(shell);
    at_prompt(&s.detect());
    s.send("sleep 5");
    let seen = s.working_while("sleep 5", || s.job("sleep", false));
    assert!(
        seen.iter()
            .any(|e| e["terminal"]["holds"] == "job" && e["terminal"]["command"] == "sleep"),
        "{seen:?}"
    );
    at_prompt(&s.detect());
}

fn pipeline(shell: &str) {
    let s = Shell::start(shell);
    // The group's first process exits at once: the rest still hold the terminal.
    s.send("true | sleep 3 | cat");
    s.working_while("the pipeline", || s.job("sleep", false));
    at_prompt(&s.detect());
}

fn background_job(shell: &str) {
    let s = Shell::start(shell);
    s.send("sleep 60 &");
    wait_until(T, "the background sleep", || {
        s.job("sleep", false).then_some(())
    });
    let e = s.stays_idle(|| s.job("sleep", false));
    at_prompt(&e);
}

fn stopped_job(shell: &str) {
    let s = Shell::start(shell);
    s.send("sleep 60");
    s.d.wait_status(&s.id, "working", T);
    wait_until(T, "the sleep", || s.job("sleep", false).then_some(()));
    s.keys(&["C-z"]);
    wait_until(T, "the sleep to stop", || {
        s.job("sleep", true).then_some(())
    });
    let e = s.stays_idle(|| s.job("sleep", true));
    at_prompt(&e);
}

fn nested_shell(shell: &str) {
    let s = Shell::start(shell);
    s.send(&argv(shell).join(" "));
    // The inner shell holds the terminal from its own group and waits at its prompt.
    let inner = wait_until(T, "the inner shell at its prompt", || {
        let e = s.detect();
        let pgid = e["terminal"]["pgid"].as_i64();
        let inner = pgid.is_some() && pgid != Some(i64::from(s.sid));
        // Until it reads the terminal (while it starts) the output decides.
        (e["status"] == "idle" && inner && e["terminal"]["waiting"] == "input").then_some(e)
    });
    at_prompt(&inner);
    assert_eq!(inner["terminal"]["command"], shell, "{inner}");
    s.send("sleep 3");
    s.working_while("sleep 3 in the inner shell", || s.job("sleep", false));
    let e = s.detect();
    at_prompt(&e);
    assert_eq!(e["terminal"]["pgid"], inner["terminal"]["pgid"], "{e}");
    s.send("exit");
    let outer = wait_until(T, "the outer shell at its prompt", || {
        let e = s.detect();
        (e["status"] == "idle" && e["terminal"]["pgid"] == i64::from(s.sid)).then_some(e)
    });
    at_prompt(&outer);
}

fn program_waiting_for_input(shell: &str) {
    let s = Shell::start(shell);
    s.send("cat");
    s.d.wait_status(&s.id, "working", T);
    wait_until(T, "cat", || s.job("cat", false).then_some(()));
    // Quiet, and still working after several of the detector's looks.
    let e = wait_until(T, "several looks of the detector", || {
        let e = s.detect();
        assert_eq!(e["status"], "working", "{e}");
        (e["unchangedMs"].as_u64() > Some(SEVERAL_LOOKS_MS)).then_some(e)
    });
    assert_eq!(e["evidence"], "terminal", "{e}");
    assert_eq!(e["terminal"]["holds"], "job", "{e}");
    assert_eq!(e["terminal"]["command"], "cat", "{e}");
    s.keys(&["C-d"]);
    wait_until(T, "cat to exit", || (!s.job("cat", false)).then_some(()));
    s.d.wait_status(&s.id, "idle", T);
    at_prompt(&s.detect());
}

macro_rules! shell_tests {
    ($shell:ident) => {
        mod $shell {
            #[test]
            fn quiet_job_is_working_until_it_ends() {
                super::quiet_job(stringify!($shell));
            }
            #[test]
            fn pipeline_is_working_until_it_ends() {
                super::pipeline(stringify!($shell));
            }
            #[test]
            fn background_job_leaves_the_prompt_idle() {
                super::background_job(stringify!($shell));
            }
            #[test]
            fn job_stopped_with_ctrl_z_returns_to_idle() {
                super::stopped_job(stringify!($shell));
            }
            #[test]
            fn nested_shell_is_idle_at_its_prompt() {
                super::nested_shell(stringify!($shell));
            }
            #[test]
            fn program_waiting_for_input_is_working() {
                super::program_waiting_for_input(stringify!($shell));
            }
        }
    };
}

shell_tests!(bash);
shell_tests!(zsh);
