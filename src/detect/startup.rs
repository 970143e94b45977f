//! When a session stops being `starting`. Not before something on screen is recognisable (or
//! the start-up grace passed: some programs never draw a prompt). And for an agent that says
//! in its title when it is up (a profile's `ready_title`): not before it does, not while it
//! reports start-up work, and its first idle only once it held for the idle hold. Codex draws
//! its composer, sets its title and may report `idle`, then reports `working` (title spinner,
//! OSC 7501 state report, nothing drawn) for a moment while it boots; read as a turn, that
//! made `idle → working → idle` before any prompt.

use std::time::{Duration, Instant};

use super::Evidence;
use super::profile::{Fallback, Settings};
use crate::vocab::SessionStatus;

/// A program that shows nothing recognisable for this long after start is no longer
/// `starting`: some programs (`cat`, a silent REPL) never draw a prompt. herdr uses 3 s too.
pub const STARTUP_GRACE: Duration = Duration::from_secs(3);

/// How long after start a profile's `ready_title` is waited for: an agent configured not to
/// set its title is not held in `starting` for longer.
pub const READY_GRACE: Duration = Duration::from_secs(10);

/// What a starting session shows at one evaluation.
pub(super) struct Sight<'a> {
    pub now: Instant,
    pub started: Instant,
    /// A profile rule matched the screen, title or report.
    pub recognised: bool,
    pub last_output: Option<Instant>,
    pub title: &'a str,
    /// What decided the verdict about to be taken.
    pub evidence: Evidence,
    /// The verdict about to be taken.
    pub next: SessionStatus,
    pub settings: &'a Settings,
}

/// A starting session's readiness, across evaluations.
#[derive(Debug, Default)]
pub(super) struct Startup {
    /// Since when an agent with a ready title has been up and idle.
    ready_since: Option<Instant>,
}

/// Why a session stays `starting`, and when to look again.
pub(super) struct Hold {
    pub why: String,
    pub until: Instant,
}

impl Startup {
    /// Whether a starting session stays `starting` instead of taking `s.next`.
    pub(super) fn hold(&mut self, s: &Sight<'_>) -> Option<Hold> {
        if !s.recognised && s.now < s.started + STARTUP_GRACE {
            let waiting = match s.settings.fallback {
                Fallback::Idle => true,
                Fallback::Activity => s.last_output.is_none(),
            };
            if waiting {
                return Some(Hold {
                    why: "nothing recognisable yet".into(),
                    until: s.started + STARTUP_GRACE,
                });
            }
        }
        let ready = s.settings.ready_title.as_ref()?;
        if !matches!(s.next, SessionStatus::Idle | SessionStatus::Working)
            || s.now >= s.started + READY_GRACE
        {
            return None;
        }
        let until = s.started + READY_GRACE;
        if !ready.is_match(s.title) {
            self.ready_since = None;
            return Some(Hold {
                why: "the agent's title does not say it is up yet".into(),
                until,
            });
        }
        if s.next == SessionStatus::Working {
            if matches!(s.evidence, Evidence::Title | Evidence::Report) {
                self.ready_since = None;
                return Some(Hold {
                    why: "start-up work the agent reports".into(),
                    until,
                });
            }
            return None;
        }
        let held_until = *self.ready_since.get_or_insert(s.now) + s.settings.idle_hold;
        (s.now < held_until).then(|| Hold {
            why: "up and idle, held for the idle hold (start-up work may follow)".into(),
            until: held_until,
        })
    }
}
