//! Exec: type one command line into an idle shell, wait for it to finish, and answer its exit
//! status and its own output.
//!
//! With shell integration the marks say everything: the command's start and end, its status,
//! and where its output lies (between the two marks, so the echoed command line and the next
//! prompt are not part of it). Without marks, the end is when the shell holds the terminal
//! again at its prompt (the session reads `idle`) and output has been quiet for
//! [`UNMARKED_QUIET`]; the output is then what was shown after the echoed command line, up to
//! the next prompt ([`output`] takes both away), and the status is unknown.
//!
//! Exec types only into a session running an interactive shell ([`interactive_shell`]) as
//! `agentType` shell or custom, with or without integration: any other program would take the
//! line as its own input, and an agent's session is read through that agent's profile, which
//! cannot tell a shell at its prompt from one running a command (shell and custom sessions
//! default to the shell detection). While the marks say a command runs and yet the session is
//! idle, that command is a nested shell at its own prompt, which marks nothing: the end is then
//! found as without marks.
//!
//! One exec runs per session at a time, and only in an idle session: typing into a busy
//! shell would feed a running program. A timeout leaves the command running, or interrupts it
//! with Ctrl-C and waits [`INTERRUPT_WAIT`] for the shell to report its end.

use std::time::{Duration, Instant};

use super::SessionHandle;
use super::actor::Command;
use super::commands::{Capture, MAX_COMMANDS};
use super::handle::HandleError;
use crate::vocab::{AgentType, SessionMeta, SessionStatus};

mod output;

/// Longest command line accepted: far more than anyone types, short enough that a line
/// editor takes it at once.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// Timeouts accepted, in milliseconds: up to an hour; the default suits a build step.
pub const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 1..=3_600_000;
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// After Ctrl-C, how long the shell has to report the command's end: a program that traps
/// the signal gets this long to wind down before the answer goes without its status.
const INTERRUPT_WAIT: Duration = Duration::from_secs(5);

/// Without marks, output quiet for this long while the shell is at its prompt ends the
/// command: a shell draws its prompt in one go, well within it.
const UNMARKED_QUIET: Duration = Duration::from_millis(400);

/// How often the unmarked wait looks at the session.
const UNMARKED_POLL: Duration = Duration::from_millis(25);

/// What to run.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub command: String,
    pub timeout: Duration,
    /// On timeout, press Ctrl-C instead of leaving the command running.
    pub interrupt: bool,
}

/// How it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// `None` when the shell does not say (no marks), or the command still runs.
    pub exit_code: Option<i32>,
    /// The command's output as text (rendered as a terminal shows it).
    pub output: String,
    pub duration_ms: u64,
    pub timed_out: bool,
    /// Whether the output was longer than an answer carries.
    pub truncated: bool,
}

/// Options of the shells that take the next argument as their value (bash, zsh and ksh
/// `-o`/`-O`, bash's rc files).
const OPTIONS_WITH_VALUE: &[&str] = &["-o", "+o", "-O", "+O", "--rcfile", "--init-file"];

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0}")]
    Invalid(String),
    /// The session does not run a shell exec could type into.
    #[error("{0}")]
    NotAShell(String),
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Session(#[from] HandleError),
}

/// Check a command line before anything is typed.
pub fn validate(command: &str, timeout_ms: u64) -> Result<(), ExecError> {
    if command.trim().is_empty() {
        return Err(ExecError::Invalid("command must not be empty".into()));
    }
    if command.len() > MAX_COMMAND_BYTES {
        return Err(ExecError::Invalid(format!(
            "command must be at most {MAX_COMMAND_BYTES} bytes"
        )));
    }
    if command.chars().any(char::is_control) {
        return Err(ExecError::Invalid(
            "command must be one line without control characters (join commands with ';' or \
             '&&')"
                .into(),
        ));
    }
    if !TIMEOUT_MS.contains(&timeout_ms) {
        return Err(ExecError::Invalid(format!(
            "timeoutMs must be {}-{}, not {timeout_ms}",
            TIMEOUT_MS.start(),
            TIMEOUT_MS.end()
        )));
    }
    Ok(())
}

/// Whether `argv` runs an interactive shell: a known shell's program (see
/// [`crate::detect::terminal::is_shell`]) with options only, none of which gives it a command
/// line (`-c`, in a cluster such as `-lc` too, or fish's `--command`). A word that is no
/// option is a script.
pub fn interactive_shell(argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let name = std::path::Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    // A login shell's argv[0] starts with '-'.
    if !crate::detect::terminal::is_shell(name.trim_start_matches('-')) {
        return false;
    }
    let mut args = args.iter().map(String::as_str);
    while let Some(a) = args.next() {
        let cluster = a.strip_prefix('-').filter(|f| !f.starts_with('-'));
        let command = cluster.is_some_and(|f| f.contains('c'))
            || a == "--command"
            || a.starts_with("--command=");
        if command || !(a.starts_with('-') || a.starts_with('+')) {
            return false;
        }
        if OPTIONS_WITH_VALUE.contains(&a) {
            args.next();
        }
    }
    true
}

/// Refuse a session exec must not type into, saying why.
fn check_shell(meta: &SessionMeta) -> Result<(), ExecError> {
    let program = meta.command.first().map_or("", String::as_str);
    let why = if !matches!(meta.agent_type, AgentType::Shell | AgentType::Custom) {
        format!("it is agentType {}", meta.agent_type.as_str())
    } else if !interactive_shell(&meta.command) {
        format!("it runs {program:?}, not an interactive shell")
    } else {
        return Ok(());
    };
    Err(ExecError::NotAShell(format!(
        "exec needs a shell session (agentType shell or custom running an interactive shell \
         such as bash or zsh, without -c or a script), and session {} is not one: {why}",
        meta.name
    )))
}

impl SessionHandle {
    /// Run `req` (already validated) in this idle shell.
    pub async fn exec(&self, req: ExecRequest) -> Result<ExecResult, ExecError> {
        check_shell(&self.meta)?;
        let _one = self
            .exec
            .try_lock()
            .map_err(|_| ExecError::Busy("another exec runs in this session".into()))?;
        let status = self.status();
        if status != SessionStatus::Idle {
            return Err(ExecError::Busy(format!(
                "the session is {}, not idle",
                status.as_str()
            )));
        }
        let (before, prompt, column) = self.request(|reply| Command::Capture { reply }).await?;
        let started = Instant::now();
        let typed_at = crate::clock::now_ms();
        self.send_bytes(format!("{}\r", req.command).into_bytes())
            .await?;
        // Marks running a command while the session is idle: the command is a nested shell
        // (at its own prompt), which marks nothing; it tells the end as a shell without marks.
        let marked = self.meta.shell_integration && before.started == before.finished;
        let mut done = if marked {
            self.marked_end(before.started, req.timeout).await
        } else {
            self.unmarked_end(typed_at, req.timeout).await
        };
        let timed_out = !done;
        if timed_out && req.interrupt {
            self.send_bytes(vec![0x03]).await?;
            done = if marked {
                self.marked_end(before.started, INTERRUPT_WAIT).await
            } else {
                self.unmarked_end(crate::clock::now_ms(), INTERRUPT_WAIT)
                    .await
            };
        }
        let (records, capture) = self
            .request(|reply| Command::Commands {
                after: before.started,
                limit: MAX_COMMANDS,
                take_capture: true,
                reply,
            })
            .await?;
        let capture = capture.unwrap_or_default();
        let cols = self.live().cols;
        let typed = output::Typed {
            prompt: &prompt,
            column,
            back_at_prompt: done,
        };
        let (bytes, exit_code, typed) = match records.first().filter(|_| marked) {
            Some(r) => (
                capture.between(r.output_start, r.output_end.unwrap_or(u64::MAX)),
                r.exit_code.filter(|_| done),
                None,
            ),
            None => (capture.between(0, u64::MAX), None, Some(&typed)),
        };
        let (output, cut) = output::render(bytes, cols, typed);
        Ok(ExecResult {
            exit_code,
            output,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            timed_out,
            truncated: cut || capture_truncated(&capture),
        })
    }

    /// The newest `limit` command records, oldest first.
    pub async fn commands(
        &self,
        limit: usize,
    ) -> Result<Vec<super::commands::CommandRecord>, HandleError> {
        let (records, _) = self
            .request(|reply| Command::Commands {
                after: 0,
                limit,
                take_capture: false,
                reply,
            })
            .await?;
        Ok(records)
    }

    /// Wait until the command after the `started`th has ended (by its marks).
    async fn marked_end(&self, started: u64, limit: Duration) -> bool {
        let mut rx = self.progress.clone();
        let ended = rx.wait_for(|p| p.started > started && p.finished > started);
        matches!(tokio::time::timeout(limit, ended).await, Ok(Ok(_)))
    }

    /// Wait until the shell is back at its prompt with output quiet, after output since
    /// `typed_at_ms` (the echo at least).
    async fn unmarked_end(&self, typed_at_ms: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let quiet = u64::try_from(UNMARKED_QUIET.as_millis()).unwrap_or(u64::MAX);
        loop {
            let last = self
                .counters
                .last_activity_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            let now = crate::clock::now_ms();
            if last >= typed_at_ms && now >= last + quiet && self.status() == SessionStatus::Idle {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(UNMARKED_POLL).await;
        }
    }
}

fn capture_truncated(c: &Capture) -> bool {
    c.truncated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_checked() {
        assert!(validate("echo hi", 1000).is_ok());
        for (cmd, t) in [
            ("", 1000),
            ("  ", 1000),
            ("echo a\necho b", 1000),
            ("echo\r", 1000),
            ("echo hi", 0),
            ("echo hi", 3_600_001),
        ] {
            assert!(
                matches!(validate(cmd, t), Err(ExecError::Invalid(_))),
                "{cmd:?} {t}"
            );
        }
        assert!(validate(&"x".repeat(MAX_COMMAND_BYTES + 1), 1000).is_err());
    }

    #[test]
    fn interactive_shells_are_told_from_other_programs() {
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        for ok in [
            &["bash"][..],
            &["/bin/bash", "--norc", "--noprofile"],
            &[
                "bash",
                "--noprofile",
                "--rcfile",
                "/state/shell/bashrc",
                "-i",
            ],
            &["zsh", "--no-globalrcs", "-i"],
            &["zsh", "-o", "vi"],
            &["-bash"],
            &["bash", "-l"],
            &["fish"],
        ] {
            assert!(interactive_shell(&argv(ok)), "{ok:?}");
        }
        for not in [
            &[][..],
            &["cat"],
            &["claude"],
            &["bash", "-c", "cat"],
            &["bash", "-lc", "cat"],
            &["sh", "script.sh"],
            &["bash", "--", "script.sh"],
            &["fish", "--command=ls"],
            &["python3", "-i"],
        ] {
            assert!(!interactive_shell(&argv(not)), "{not:?}");
        }
    }
}
