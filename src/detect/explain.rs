//! Why the detector chose the current state, for `GET /detect` and `aegis explain`: the rule
//! or other evidence that decided (the screen's text, the window title or the program's own
//! state report when a rule matched), the matched lines, the terminal reading, timings.

use crate::vocab::SessionStatus;

use super::profile::{Region, UiHint};
use super::region::Line;
use super::terminal;

/// Which evidence decided the raw state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Evidence {
    /// A profile rule matched the screen's text.
    Screen,
    /// A profile rule matched the window title (OSC 0/2).
    Title,
    /// A profile rule matched the program's own state report (OSC 7501).
    Report,
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
    pub const ALL: [Evidence; 7] = [
        Evidence::Screen,
        Evidence::Title,
        Evidence::Report,
        Evidence::Terminal,
        Evidence::Output,
        Evidence::Marks,
        Evidence::None,
    ];

    /// What a rule on `region` read.
    pub fn of_region(region: Region) -> Evidence {
        match region {
            Region::Title => Evidence::Title,
            Region::Report => Evidence::Report,
            Region::Bottom(_) | Region::AfterLastRule | Region::PromptBox => Evidence::Screen,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Screen => "screen",
            Evidence::Title => "title",
            Evidence::Report => "report",
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
    /// The window title and the program's last state report (empty without one) the last
    /// evaluation read.
    pub title: String,
    pub report: String,
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
