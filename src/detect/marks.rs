//! Deciding a shell from its marks (OSC 133, see `screen::marks`): where the shell says what
//! it does, that decides before the terminal or the output. At the prompt it is idle, with no
//! hold (the mark is the turn's end); while a command runs it is working, however quiet,
//! except when the terminal shows a shell of a job waiting at its own prompt (a nested shell,
//! which has no marks of its own).

use std::time::Instant;

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
/// and whether the terminal was read (for the explanation).
pub(super) struct Decision {
    pub status: SessionStatus,
    pub settled: bool,
    pub reason: String,
    pub reading: Option<terminal::Reading>,
}

/// Decide from `phase`; `terminal` is read only while a command runs. When it says working
/// the detector should look again at `recheck` (a nested shell shows its prompt without a
/// mark).
pub(super) fn decide(phase: ShellPhase, terminal: impl FnOnce() -> Option<Foreground>) -> Decision {
    match phase {
        ShellPhase::Prompt => Decision {
            status: SessionStatus::Idle,
            settled: true,
            reason: "shell marks: at the prompt".into(),
            reading: None,
        },
        ShellPhase::Running => {
            let fg = terminal();
            let nested = fg.as_ref().filter(|f| !f.own).map(terminal::read);
            match nested {
                Some(r) if r.says == Some(Says::Idle) => Decision {
                    status: SessionStatus::Idle,
                    settled: true,
                    reason: format!(
                        "shell marks: a command runs; {}",
                        terminal::Reading::describe(&r)
                    ),
                    reading: Some(r),
                },
                reading => Decision {
                    status: SessionStatus::Working,
                    settled: false,
                    reason: "shell marks: a command runs".into(),
                    reading,
                },
            }
        }
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
