//! Shell sessions decided by who holds the terminal, on real bash and zsh under the real
//! daemon: a quiet job is `working` for its whole run and the prompt is `idle` once it ends;
//! a pipeline, a backgrounded job, a job stopped with Ctrl-Z, a nested shell, a program
//! waiting for input and a full-screen editor ([`foreground`]). The oracle for "the job runs"
//! is /proc, read by the test itself; every wait polls with a deadline. Every scenario runs
//! for each shell twice: without shell integration (the terminal decides) and with it (the
//! marks decide, the terminal where they cannot see). [`integrated`] covers what only the
//! marks give (turns, command records), [`exec`] running commands through the shells.

mod exec;
mod foreground;
mod integrated;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Daemon, id_of, wait_until};

pub const T: Duration = Duration::from_secs(20);

/// Long enough for the detector to have looked again several times after the last output
/// (the daemon's quiet period is 750 ms): a reading that was going to fall back to output
/// activity would have turned by then.
const SEVERAL_LOOKS_MS: u64 = 2500;

/// A shell session without the user's rc files, with or without integration, and its daemon.
pub struct Shell {
    pub d: Daemon,
    pub id: String,
    /// The shell's pid: its terminal session's id.
    pub sid: i32,
    pub integration: bool,
}

/// The argv of `shell` without the user's rc files.
pub fn argv(shell: &str) -> Vec<&'static str> {
    match shell {
        "bash" => vec!["bash", "--norc", "--noprofile"],
        "zsh" => vec!["zsh", "-f"],
        other => panic!("no argv for {other}"),
    }
}

/// Fail with the way out when `program` is missing.
pub fn installed(program: &str) {
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is not installed: run scripts/install-test-deps"
    );
}

impl Shell {
    pub fn start(shell: &str, integration: bool) -> Shell {
        Shell::start_on(Daemon::start(), shell, integration)
    }

    pub fn start_on(d: Daemon, shell: &str, integration: bool) -> Shell {
        Shell::start_as(d, "shell", shell, integration)
    }

    /// A session of `agent_type` running `shell`.
    pub fn start_as(d: Daemon, agent_type: &str, shell: &str, integration: bool) -> Shell {
        installed(shell);
        let v = d.create(json!({
            "workDir": d.work_dir(),
            "agentType": agent_type,
            "command": argv(shell),
            "env": { "PS1": "$ " },
            "shellIntegration": integration,
        }));
        assert_eq!(v["shellIntegration"], integration, "{v}");
        let id = id_of(&v);
        let sid = v["pid"].as_i64().and_then(|p| i32::try_from(p).ok());
        let sid = sid.unwrap_or_else(|| panic!("no pid: {v}"));
        d.wait_status(&id, "idle", T);
        Shell {
            d,
            id,
            sid,
            integration,
        }
    }

    pub fn send(&self, text: &str) {
        let r = self.d.send(&self.id, text);
        assert_eq!(r["delivered"], true, "{r}");
    }

    pub fn keys(&self, keys: &[&str]) {
        let (s, v) = self.d.post(
            &format!("/v1/sessions/{}/keys", self.id),
            json!({ "keys": keys }),
        );
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    pub fn detect(&self) -> Value {
        let (s, v) = self.d.get(&format!("/v1/sessions/{}/detect", self.id));
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    pub fn exec(&self, body: Value) -> (StatusCode, Value) {
        self.d.post(&format!("/v1/sessions/{}/exec", self.id), body)
    }

    pub fn commands(&self) -> Vec<Value> {
        let (s, v) = self.d.get(&format!("/v1/sessions/{}/commands", self.id));
        assert_eq!(s, StatusCode::OK, "{v}");
        v["commands"].as_array().cloned().unwrap_or_default()
    }

    /// A process named one of `names` of this terminal session, outside the shell's own group
    /// (a job), in a state other than exited (and other than stopped, unless `stopped`).
    pub fn job_of(&self, names: &[&str], stopped: bool) -> bool {
        jobs(self.sid).iter().any(|p| {
            names.contains(&p.comm.as_str()) && p.state != 'Z' && (stopped == (p.state == 'T'))
        })
    }

    pub fn job(&self, name: &str, stopped: bool) -> bool {
        self.job_of(&[name], stopped)
    }

    /// A job named `name` runs (neither exited nor stopped).
    pub fn runs(&self, name: &str) -> bool {
        self.job(name, false)
    }

    /// What decides while a job of the session's own shell runs: its marks, else the terminal.
    pub fn busy_evidence(&self) -> &'static str {
        if self.integration {
            "marks"
        } else {
            "terminal"
        }
    }

    /// Wait until the session reads `working` and `runs` holds, then check that every read
    /// while `runs` still holds afterwards is `working`, decided by the marks or the terminal;
    /// then wait for `idle`. Returns the `/detect` answers read while the job ran.
    pub fn working_while(&self, what: &str, runs: impl Fn() -> bool) -> Vec<Value> {
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
            // Without marks, a job's process exists a moment before the shell hands it the
            // terminal (fork, then tcsetpgrp): until then output activity decides. From the
            // first read the terminal decides, every later one must be the terminal's too.
            if seen.is_empty() && e["evidence"] != self.busy_evidence() {
                return None;
            }
            assert_eq!(e["evidence"], self.busy_evidence(), "{e}");
            seen.push(e);
            None
        });
        assert!(!seen.is_empty(), "{what} was never seen running");
        self.d.wait_status(&self.id, "idle", T);
        seen
    }

    /// Check the session stays `idle` (the shell at its prompt) for several of the detector's
    /// looks, reading each time that `holds` holds.
    pub fn stays_idle(&self, holds: impl Fn() -> bool) -> Value {
        self.d.wait_status(&self.id, "idle", T);
        wait_until(T, "several looks of the detector", || {
            let e = self.detect();
            assert_eq!(e["status"], "idle", "{e}");
            assert!(holds(), "the condition stopped holding while idle: {e}");
            (e["unchangedMs"].as_u64() > Some(SEVERAL_LOOKS_MS)).then_some(e)
        })
    }

    /// Wait for the detector's reading of the prompt (a mark turns the status at once, the
    /// explanation follows at the next evaluation), then check it with [`Shell::at_prompt`].
    pub fn back_at_prompt(&self) -> Value {
        let e = wait_until(T, "the detector's reading at the prompt", || {
            let e = self.detect();
            (e["status"] == "idle" && e["rawState"] == "idle").then_some(e)
        });
        self.at_prompt(&e);
        e
    }

    /// The session's own shell at its prompt is what `/detect` names as the evidence: its
    /// marks, else the terminal.
    pub fn at_prompt(&self, e: &Value) {
        if self.integration {
            assert_eq!(e["status"], "idle", "{e}");
            assert_eq!(e["evidence"], "marks", "{e}");
            assert_eq!(e["reason"], "shell marks: at the prompt", "{e}");
        } else {
            shell_reads_the_terminal(e);
            assert_eq!(e["terminal"]["pgid"], i64::from(self.sid), "{e}");
        }
    }
}

/// A shell (the session's own or a nested one) waits at its prompt, read from the terminal.
pub fn shell_reads_the_terminal(e: &Value) {
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

/// Each scenario of [`foreground`] for one shell, without integration and with it.
macro_rules! shell_tests {
    ($shell:ident: $($scenario:ident: $plain:ident, $integrated:ident;)*) => {
        mod $shell {
            $(
                #[test]
                fn $plain() {
                    super::foreground::$scenario(stringify!($shell), false);
                }
                #[test]
                fn $integrated() {
                    super::foreground::$scenario(stringify!($shell), true);
                }
            )*
        }
    };
}

macro_rules! every_shell {
    ($($shell:ident),*) => {
        $(shell_tests!($shell:
            quiet_job: quiet_job_is_working_until_it_ends,
                quiet_job_is_working_until_it_ends_integrated;
            pipeline: pipeline_is_working_until_it_ends,
                pipeline_is_working_until_it_ends_integrated;
            background_job: background_job_leaves_the_prompt_idle,
                background_job_leaves_the_prompt_idle_integrated;
            stopped_job: job_stopped_with_ctrl_z_returns_to_idle,
                job_stopped_with_ctrl_z_returns_to_idle_integrated;
            nested_shell: nested_shell_is_idle_at_its_prompt,
                nested_shell_is_idle_at_its_prompt_integrated;
            program_waiting_for_input: program_waiting_for_input_is_working,
                program_waiting_for_input_is_working_integrated;
            full_screen_editor: full_screen_editor_is_working_until_it_quits,
                full_screen_editor_is_working_until_it_quits_integrated;
        );)*
    };
}

every_shell!(bash, zsh);
