//! Deciding what a session is doing from what it shows.
//!
//! This is the seam for the detection engine: the session actor calls [`Detector::on_output`]
//! for every chunk and [`Detector::evaluate`] after each batch (and again at the time the last
//! verdict asked for). The current detector is coarse and agent-agnostic: `starting` until the
//! first output, `working` while output flows, `idle` after a quiet period. The profile-driven
//! engine replaces the body of `evaluate` without changing its callers.

use std::time::{Duration, Instant};

use crate::screen::Screen;
use crate::session::SessionStatus;

/// A program that prints nothing for this long after start is treated as idle: some programs
/// (`cat`, a silent REPL) never draw a prompt.
pub const STARTUP_GRACE: Duration = Duration::from_secs(3);

/// What the detector concluded, and when it wants to look again even if nothing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub status: SessionStatus,
    pub recheck_at: Option<Instant>,
}

pub struct Detector {
    /// Output-free time after which a session counts as idle.
    quiet: Duration,
    started: Instant,
    last_output: Option<Instant>,
}

impl Detector {
    pub fn new(quiet: Duration, now: Instant) -> Self {
        Detector {
            quiet,
            started: now,
            last_output: None,
        }
    }

    pub fn on_output(&mut self, now: Instant) {
        self.last_output = Some(now);
    }

    pub fn evaluate(&mut self, now: Instant, _screen: &Screen) -> Verdict {
        match self.last_output {
            None if now < self.started + STARTUP_GRACE => Verdict {
                status: SessionStatus::Starting,
                recheck_at: Some(self.started + STARTUP_GRACE),
            },
            None => Verdict {
                status: SessionStatus::Idle,
                recheck_at: None,
            },
            Some(t) if now < t + self.quiet => Verdict {
                status: SessionStatus::Working,
                recheck_at: Some(t + self.quiet),
            },
            Some(_) => Verdict {
                status: SessionStatus::Idle,
                recheck_at: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_working_idle() {
        let t0 = Instant::now();
        let screen = Screen::new(10, 5, 0);
        let mut d = Detector::new(Duration::from_millis(500), t0);
        assert_eq!(d.evaluate(t0, &screen).status, SessionStatus::Starting);
        d.on_output(t0 + Duration::from_millis(10));
        let v = d.evaluate(t0 + Duration::from_millis(20), &screen);
        assert_eq!(v.status, SessionStatus::Working);
        assert_eq!(v.recheck_at, Some(t0 + Duration::from_millis(510)));
        assert_eq!(
            d.evaluate(t0 + Duration::from_millis(600), &screen).status,
            SessionStatus::Idle
        );
        let silent =
            Detector::new(Duration::from_millis(500), t0).evaluate(t0 + STARTUP_GRACE, &screen);
        assert_eq!(silent.status, SessionStatus::Idle);
    }
}
