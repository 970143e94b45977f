//! Deciding a shell from its marks (OSC 133, see `screen::marks`): where the shell says what
//! it does, that decides before the terminal or the output. At the prompt it is idle, with no
//! hold (the mark is the turn's end); while a command runs it is working, however quiet.
//!
//! The terminal still has the last word where the marks cannot see: another process group
//! holding it is a program the marks know nothing of. While a command runs, that is a shell
//! waiting at its own prompt (a nested shell, which has no marks of its own: idle) or a job
//! (working). At the prompt, the shell's own group holds the terminal (the shell takes it back
//! before it marks its prompt); a job holding it anyway was started by something whose marks
//! the session does not see (a nested shell's prompt marked by an inherited prompt string, a
//! prompt framework that marks prompts but not commands): working, so a session never reads
//! idle while a job holds its terminal.

use std::time::Instant;

use super::Evidence;
use super::terminal::{self, Says};
use crate::pty::Foreground;
use crate::vocab::SessionStatus;

/// What the shell's last mark says it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellPhase {
    /// At its prompt (or drawing it).
    Prompt,
    /// A command line runs.
    Running,
}

/// A decision from the marks: the state, whether it is settled (no idle hold), the reason,
/// what decided, and the terminal's reading when another process group holds it.
pub(super) struct Decision {
    pub status: SessionStatus,
    pub settled: bool,
    pub reason: String,
    pub evidence: Evidence,
    pub reading: Option<terminal::Reading>,
}

/// Decide from `phase` and `terminal` (who holds it). When it says working the detector
/// should look again at [`recheck`] (a nested shell shows its prompt without a mark; a job
/// ends without one).
pub(super) fn decide(phase: ShellPhase, terminal: impl FnOnce() -> Option<Foreground>) -> Decision {
    let marks = match phase {
        ShellPhase::Prompt => "shell marks: at the prompt",
        ShellPhase::Running => "shell marks: a command runs",
    };
    // Only another group says anything the marks do not: the shell's own group holds the
    // terminal at its prompt and while it runs a command itself.
    let other = terminal().filter(|f| !f.own).map(|f| terminal::read(&f));
    match (phase, other) {
        (_, Some(r)) if r.says == Some(Says::Idle) => Decision {
            status: SessionStatus::Idle,
            settled: true,
            reason: format!("{marks}; {}", r.describe()),
            evidence: Evidence::Terminal,
            reading: Some(r),
        },
        (ShellPhase::Prompt, Some(r)) if r.says == Some(Says::Working) => Decision {
            status: SessionStatus::Working,
            settled: false,
            reason: format!("{marks}, but {}", r.describe()),
            evidence: Evidence::Terminal,
            reading: Some(r),
        },
        (ShellPhase::Prompt, reading) => Decision {
            status: SessionStatus::Idle,
            settled: true,
            reason: marks.into(),
            evidence: Evidence::Marks,
            reading,
        },
        (ShellPhase::Running, reading) => Decision {
            status: SessionStatus::Working,
            settled: false,
            reason: marks.into(),
            evidence: Evidence::Marks,
            reading,
        },
    }
}

/// When to look again while a marked command runs: soon after output (a nested shell drawing
/// its prompt), else once per quiet period.
pub(super) fn recheck(
    last_output: Option<Instant>,
    now: Instant,
    quiet: std::time::Duration,
) -> Instant {
    match last_output {
        Some(t) if now < t + super::PROMPT_SETTLE => t + super::PROMPT_SETTLE,
        _ => now + quiet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::{Holder, Waiting};

    fn held_by(name: &str, own: bool, waiting: Waiting) -> Option<Foreground> {
        Some(Foreground {
            pgid: if own { 100 } else { 200 },
            own,
            holder: Some(Holder {
                pid: 0,
                name: name.to_owned(),
                waiting,
            }),
        })
    }

    /// The marks decide unless another process group holds the terminal; a job holding it
    /// is working whatever the marks say, a nested shell at its prompt is idle.
    #[test]
    fn the_terminal_overrules_the_marks_only_for_another_group() {
        use SessionStatus::{Idle, Working};
        use ShellPhase::{Prompt, Running};
        let cases = [
            (Prompt, None, Idle, Evidence::Marks),
            (
                Prompt,
                held_by("bash", true, Waiting::Input),
                Idle,
                Evidence::Marks,
            ),
            (
                Running,
                held_by("bash", true, Waiting::Child),
                Working,
                Evidence::Marks,
            ),
            (
                Running,
                held_by("sleep", false, Waiting::Other),
                Working,
                Evidence::Marks,
            ),
            (
                Running,
                held_by("bash", false, Waiting::Input),
                Idle,
                Evidence::Terminal,
            ),
            (
                Prompt,
                held_by("bash", false, Waiting::Input),
                Idle,
                Evidence::Terminal,
            ),
            (
                Prompt,
                held_by("sleep", false, Waiting::Other),
                Working,
                Evidence::Terminal,
            ),
            (
                Prompt,
                held_by("vim", false, Waiting::Input),
                Working,
                Evidence::Terminal,
            ),
        ];
        for (phase, fg, status, evidence) in cases {
            let d = decide(phase, || fg.clone());
            assert_eq!(
                (d.status, d.evidence),
                (status, evidence),
                "{phase:?} {fg:?}"
            );
            assert_eq!(d.settled, status == Idle, "{}", d.reason);
        }
    }
}
