//! Why the detector chose the current state, for `GET /detect` and `aegis explain`: the rule
//! or other evidence that decided, the matched lines, the terminal reading, timings.

use crate::vocab::SessionStatus;

use super::profile::UiHint;
use super::region::Line;
use super::terminal;

/// Which evidence decided the raw state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Evidence {
    /// A profile rule matched the screen.
    Rule,
    /// Who holds the terminal (see [`terminal`]).
    Terminal,
    /// Output activity: working while output flows, idle after the quiet period.
    Output,
    /// The shell's prompt and command marks (see `super::marks`).
    Marks,
    /// Nothing: the profile's idle fallback, or not evaluated yet.
    #[default]
    None,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Rule => "rule",
            Evidence::Terminal => "terminal",
            Evidence::Output => "output",
            Evidence::Marks => "marks",
            Evidence::None => "none",
        }
    }
}

/// Why the current state was chosen (for `GET /detect` and `aegis explain`).
#[derive(Debug, Clone, Default)]
pub struct Explanation {
    pub profile: String,
    pub profile_source: String,
    /// The rule that matched, if any.
    pub rule: Option<String>,
    pub region: Option<&'static str>,
    pub priority: Option<i32>,
    /// The state the rule (or the fallback) says before hysteresis and stall.
    pub raw_state: Option<SessionStatus>,
    /// What decided `raw_state`.
    pub evidence: Evidence,
    /// Who held the terminal at the last evaluation that read it (activity profiles only, when
    /// no rule matched).
    pub terminal: Option<terminal::Reading>,
    /// The lines that matched the rule's patterns.
    pub lines: Vec<Line>,
    /// The finer `uiState` reading of the screen, and the rule (state rule or mark) it came from.
    pub ui: Option<(UiHint, String)>,
    /// A permission dialog or question on screen: its rows, from its first line through its
    /// footer (empty otherwise). See [`region::Window::dialog`].
    pub dialog: Vec<Line>,
    pub reason: String,
    /// Milliseconds since the screen last changed.
    pub unchanged_ms: u64,
    /// Microseconds the last evaluation took.
    pub eval_micros: u64,
}
