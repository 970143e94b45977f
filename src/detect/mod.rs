//! Deciding what a session is doing from what it shows.
//!
//! The session actor calls [`Detector::on_output`] for every batch of output and
//! [`Detector::evaluate`] after it (and again at the time the last verdict asked for). The
//! detector reads the live bottom of the screen through its agent's profile (see [`profile`]):
//! rules in priority order, the first match wins. On top of the raw match it keeps the state
//! machine that peers get wrong:
//!
//! - `starting` until a rule matches (or the start-up grace passes with nothing recognisable);
//! - working → idle only after the idle evidence held for the profile's `idle_hold` (re-checked),
//!   unless the evidence is "settled" (a turn-finished line), so redraws between tool calls do
//!   not flap;
//! - `stalled` when the state is working and the screen has shown nothing new for the stall
//!   threshold (screen progress, not elapsed time alone): animation is blanked first (see
//!   [`profile::Settings::animation`]), and a screen that only returns to one of the
//!   [`RECENT_SCREENS`] it showed last (a footer that blinks while the agent retries, a frame
//!   redrawn in two steps) is not progress; anything new brings it back;
//! - a permission dialog is parsed into a [`prompt::PermissionRequest`] whose id is stable while
//!   the same dialog stays on screen;
//! - for profiles that decide from activity (shells, programs without a profile), when no rule
//!   matches, who holds the terminal decides first (see [`terminal`]): a job in the foreground
//!   is `working` however quiet it is, a shell waiting at its prompt is `idle` at once; only
//!   when the terminal does not tell does output activity (and the quiet period) decide. A
//!   shell that marks its prompts and commands (see [`marks`]) is decided by its marks first.
//!
//! Evaluation reads only the bottom `window` non-empty rows and is debounced to one run per
//! [`DEBOUNCE`], so a flood of output costs a few evaluations, each in microseconds; a read
//! of a screen that changed since evaluates it first (see [`Detector::behind`]).

mod input;
pub mod marks;
pub mod profile;
pub mod prompt;
pub mod region;
pub mod startup;
pub mod terminal;

mod explain;
pub use explain::{Evidence, Explanation};
pub use input::{input_holds, input_text};
pub use startup::{READY_GRACE, STARTUP_GRACE};

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pty::Foreground;
use crate::screen::Screen;
use crate::vocab::SessionStatus;
use profile::{Fallback, Profile, RuleState, UiHint};
use prompt::PermissionRequest;
use region::{Line, Window};
use terminal::Says;

/// Shortest time between two evaluations driven by output. A redraw arrives in several
/// chunks within a few milliseconds; evaluating each would only read half-drawn frames.
/// 8 ms keeps the state change well inside the 100 ms latency target.
pub const DEBOUNCE: Duration = Duration::from_millis(8);

/// A shell draws its prompt a moment before it goes back to reading the terminal, so the
/// evaluation its prompt's output triggers can find it still busy. While the terminal says
/// working, the detector looks again this long after the last output (drawing a prompt takes
/// well under a millisecond; 50 ms leaves room on a loaded machine), then once per quiet
/// period: a job's end almost always shows as output (the next prompt), and the periodic look
/// catches the one that does not (an empty prompt, a job stopped by a signal from elsewhere).
pub const PROMPT_SETTLE: Duration = Duration::from_millis(50);

/// How many recent screens (hashes of the window with animation blanked) the stall clock
/// remembers. Returning to one of them is not progress: Gemini CLI, retrying for minutes,
/// redraws its footer without and then with the model name, and its whole bottom area in two
/// steps, a few times a second. A handful of states repeat; 16 covers them with room, and
/// real progress (streamed text, a growing counter) is never a screen seen before.
pub const RECENT_SCREENS: usize = 16;

/// What the detector concluded, and when it wants to look again even if nothing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub status: SessionStatus,
    pub recheck_at: Option<Instant>,
}

/// Per-session detection settings.
#[derive(Debug, Clone)]
pub struct DetectConfig {
    /// Output-free time after which an activity-based profile calls a session idle.
    pub quiet: Duration,
    /// No screen change for this long while working = stalled. `None` disables.
    pub stall: Option<Duration>,
    /// How long a permission request stays answerable before its default action applies.
    pub permission_timeout: Option<Duration>,
}

pub struct Detector {
    profile: Arc<Profile>,
    cfg: DetectConfig,
    started: Instant,
    last_output: Option<Instant>,
    /// The state last reported.
    status: SessionStatus,
    window: Window,
    evidence: Vec<Line>,
    /// Scratch for mark rules, so checking them leaves the state rule's evidence alone.
    mark_evidence: Vec<Line>,
    screen_hash: u64,
    /// The last screens seen (newest last), at most [`RECENT_SCREENS`].
    recent_screens: std::collections::VecDeque<u64>,
    /// When the screen last showed something not among `recent_screens` (progress).
    last_change: Instant,
    /// When unsettled idle evidence was first seen while working (the hysteresis hold).
    idle_since: Option<Instant>,
    last_eval: Option<Instant>,
    startup: startup::Startup,
    /// The screen generation the last full evaluation read (see [`Detector::behind`]).
    evaluated_generation: Option<u64>,
    pending: Option<Arc<PermissionRequest>>,
    explain: Explanation,
    /// What the shell's marks say, once it sent one (see [`marks`]).
    shell: Option<marks::ShellPhase>,
}

impl Detector {
    pub fn new(profile: Arc<Profile>, cfg: DetectConfig, now: Instant) -> Self {
        Detector {
            explain: Explanation {
                profile: profile.agent.clone(),
                profile_source: profile.source.clone(),
                reason: "not evaluated yet".into(),
                ..Explanation::default()
            },
            profile,
            cfg,
            started: now,
            last_output: None,
            status: SessionStatus::Starting,
            window: Window::default(),
            evidence: Vec::new(),
            mark_evidence: Vec::new(),
            screen_hash: 0,
            recent_screens: std::collections::VecDeque::with_capacity(RECENT_SCREENS),
            last_change: now,
            idle_since: None,
            last_eval: None,
            evaluated_generation: None,
            startup: startup::Startup::default(),
            pending: None,
            shell: None,
        }
    }

    /// The shell's marks say it is at `phase`. The state it implies is taken at once (the
    /// session publishes the turn itself), so a debounced evaluation reports it too.
    pub fn shell_phase(&mut self, phase: marks::ShellPhase) {
        self.shell = Some(phase);
        self.idle_since = None;
        self.status = match phase {
            marks::ShellPhase::Prompt => SessionStatus::Idle,
            marks::ShellPhase::Running => SessionStatus::Working,
        };
    }

    pub fn on_output(&mut self, now: Instant) {
        self.last_output = Some(now);
    }

    /// The permission dialog on screen, if any.
    pub fn pending(&self) -> Option<Arc<PermissionRequest>> {
        self.pending.clone()
    }

    /// The screen's `ui` hint at the last evaluation.
    pub fn ui(&self) -> Option<UiHint> {
        self.explain.ui.as_ref().map(|(h, _)| *h)
    }

    pub fn explanation(&self) -> Explanation {
        let mut e = self.explain.clone();
        e.unchanged_ms = u64::try_from(self.last_change.elapsed().as_millis()).unwrap_or(u64::MAX);
        e
    }

    /// The last evaluation's explanation, without copying it (its `unchanged_ms` is not
    /// brought up to date: see [`Detector::explanation`]).
    pub fn explained(&self) -> &Explanation {
        &self.explain
    }

    pub fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }

    /// Decide from `screen` at `now`. `terminal` reads who holds the session's terminal; it is
    /// called only when the profile decides from activity and no rule matched.
    pub fn evaluate(
        &mut self,
        now: Instant,
        screen: &Screen,
        terminal: impl FnOnce() -> Option<Foreground>,
    ) -> Verdict {
        self.evaluate_within(now, screen, terminal, DEBOUNCE)
    }

    /// Whether `screen` changed since the last full evaluation: the explanation (and the
    /// evidence a read reports) describes an older frame.
    pub fn behind(&self, screen: &Screen) -> bool {
        self.evaluated_generation != Some(screen.generation())
    }

    /// Decide from `screen` now, whatever the debounce: for a reader that must see the
    /// verdict of the frame it is shown.
    pub fn evaluate_now(
        &mut self,
        now: Instant,
        screen: &Screen,
        terminal: impl FnOnce() -> Option<Foreground>,
    ) -> Verdict {
        self.evaluate_within(now, screen, terminal, Duration::ZERO)
    }

    fn evaluate_within(
        &mut self,
        now: Instant,
        screen: &Screen,
        terminal: impl FnOnce() -> Option<Foreground>,
        debounce: Duration,
    ) -> Verdict {
        if let Some(t) = self.last_eval
            && now < t + debounce
        {
            return Verdict {
                status: self.status,
                recheck_at: Some(t + debounce),
            };
        }
        let clock = Instant::now();
        self.last_eval = Some(now);
        self.evaluated_generation = Some(screen.generation());
        let settings = &self.profile.settings;
        let hash = self
            .window
            .fill(screen, settings.window, settings.animation.as_ref());
        let verdict = self.decide(now, hash, terminal);
        self.explain.eval_micros = u64::try_from(clock.elapsed().as_micros()).unwrap_or(u64::MAX);
        verdict
    }

    /// Evaluate plain text as if it were the screen (unit tests).
    #[cfg(test)]
    pub fn evaluate_text(
        &mut self,
        now: Instant,
        text: &str,
        title: &str,
        report: &str,
        terminal: Option<Foreground>,
    ) -> Verdict {
        self.window
            .fill_text(text, title, report, self.profile.settings.window);
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut h);
            title.hash(&mut h);
            report.hash(&mut h);
            h.finish()
        };
        self.last_eval = Some(now);
        self.decide(now, hash, || terminal)
    }

    fn decide(
        &mut self,
        now: Instant,
        hash: u64,
        terminal: impl FnOnce() -> Option<Foreground>,
    ) -> Verdict {
        if hash != self.screen_hash {
            self.screen_hash = hash;
            if !self.recent_screens.contains(&hash) {
                self.last_change = now;
                if self.recent_screens.len() == RECENT_SCREENS {
                    self.recent_screens.pop_front();
                }
                self.recent_screens.push_back(hash);
            }
        }
        let profile = self.profile.clone();
        let mut recheck: Option<Instant> = None;
        let mut soonest = |at: Instant| {
            recheck = Some(recheck.map_or(at, |r: Instant| r.min(at)));
        };

        let matched = first_rule(&profile, &self.window, &mut self.evidence);
        self.explain.terminal = None;
        let (raw, settled, reason, evidence) = match matched {
            Some(i) => match profile.rules[i].state {
                RuleState::Status(s) => (
                    Some(s),
                    profile.rules[i].settled,
                    "rule matched".to_owned(),
                    Evidence::of_region(profile.rules[i].region),
                ),
                // `first_rule` never returns a mark; a skip keeps the state either way.
                RuleState::Skip | RuleState::Mark => (
                    None,
                    false,
                    "viewer mode: state kept".to_owned(),
                    Evidence::of_region(profile.rules[i].region),
                ),
            },
            None => match profile.settings.fallback {
                Fallback::Idle => (
                    Some(SessionStatus::Idle),
                    false,
                    "no rule matched: known agent idle fallback".to_owned(),
                    Evidence::None,
                ),
                Fallback::Activity if let Some(phase) = self.shell => {
                    let d = marks::decide(phase, terminal);
                    if d.status == SessionStatus::Working {
                        soonest(marks::recheck(self.last_output, now, self.cfg.quiet));
                    }
                    self.explain.terminal = d.reading;
                    (Some(d.status), d.settled, d.reason, d.evidence)
                }
                Fallback::Activity => {
                    let reading = terminal().map(|f| terminal::read(&f));
                    let says = reading.as_ref().and_then(|r| r.says);
                    let told = reading.as_ref().map(terminal::Reading::describe);
                    self.explain.terminal = reading;
                    match (says, told) {
                        (Some(Says::Working), Some(told)) => {
                            soonest(match self.last_output {
                                Some(t) if now < t + PROMPT_SETTLE => t + PROMPT_SETTLE,
                                _ => now + self.cfg.quiet,
                            });
                            (
                                Some(SessionStatus::Working),
                                false,
                                told,
                                Evidence::Terminal,
                            )
                        }
                        (Some(Says::Idle), Some(told)) => {
                            (Some(SessionStatus::Idle), true, told, Evidence::Terminal)
                        }
                        _ => self.by_output(now, &mut soonest),
                    }
                }
            },
        };
        self.explain.evidence = evidence;
        let mut reason = reason;
        let mut next = raw.unwrap_or(self.status);

        if self.status == SessionStatus::Starting
            && let Some(hold) = self.startup.hold(&startup::Sight {
                now,
                started: self.started,
                recognised: matched.is_some(),
                last_output: self.last_output,
                title: &self.window.title,
                evidence: self.explain.evidence,
                next,
                settings: &profile.settings,
            })
        {
            next = SessionStatus::Starting;
            reason = format!("starting: {} ({reason})", hold.why);
            soonest(hold.until);
        }

        // Hysteresis: working → idle must hold unless the evidence is settled.
        let from_busy = matches!(self.status, SessionStatus::Working | SessionStatus::Stalled);
        if from_busy && next == SessionStatus::Idle && !settled {
            let since = *self.idle_since.get_or_insert(now);
            let hold = profile.settings.idle_hold;
            if now < since + hold {
                next = self.status;
                reason = format!(
                    "{reason}; holding {} for the idle hold",
                    self.status.as_str()
                );
                soonest(since + hold);
            }
        } else {
            self.idle_since = None;
        }

        // Stall: working with no screen change past the threshold.
        if matches!(next, SessionStatus::Working)
            && let Some(th) = self.cfg.stall
        {
            if now >= self.last_change + th {
                next = SessionStatus::Stalled;
                reason = format!("{reason}; no screen change for {} ms", th.as_millis());
            } else {
                soonest(self.last_change + th);
            }
        }

        // Permission requests.
        if next == SessionStatus::PermissionPrompt
            && let Some(i) = matched
        {
            let rule = &profile.rules[i];
            let parsed = prompt::parse(rule, self.window.region(rule.region));
            let same = self
                .pending
                .as_ref()
                .is_some_and(|p| p.fingerprint == parsed.fingerprint);
            if same {
                if let Some(p) = &self.pending
                    && p.selected != parsed.selected
                {
                    let mut q = (**p).clone();
                    q.selected = parsed.selected;
                    self.pending = Some(Arc::new(q));
                }
            } else {
                let created = crate::clock::now_ms();
                self.pending = Some(Arc::new(PermissionRequest {
                    id: uuid::Uuid::new_v4(),
                    kind: parsed.kind,
                    title: parsed.title,
                    detail: parsed.detail,
                    options: parsed.options,
                    selected: parsed.selected,
                    rule: rule.name.clone(),
                    created_at_ms: created,
                    expires_at_ms: self
                        .cfg
                        .permission_timeout
                        .map(|t| created + u64::try_from(t.as_millis()).unwrap_or(u64::MAX / 2)),
                    fingerprint: parsed.fingerprint,
                }));
            }
        } else if next != SessionStatus::PermissionPrompt {
            self.pending = None;
        }

        let rule = matched.map(|i| &profile.rules[i]);
        self.explain.ui = ui_hint(
            &profile,
            &self.window,
            matched,
            next,
            &mut self.mark_evidence,
        )
        .map(|(hint, i)| (hint, profile.rules[i].name.clone()));
        self.explain.dialog.clear();
        if let Some(r) = rule.filter(|r| is_dialog(r.state)) {
            self.explain
                .dialog
                .extend_from_slice(self.window.dialog(r, &self.evidence));
        }
        self.explain.rule = rule.map(|r| r.name.clone());
        self.explain.region = rule.map(|r| r.region.name());
        self.explain.priority = rule.map(|r| r.priority);
        self.explain.raw_state = raw;
        self.explain.lines.clone_from(&self.evidence);
        if matched.is_none() {
            self.explain.lines.clear();
        }
        self.explain.title.clone_from(&self.window.title);
        self.explain.report.clone_from(&self.window.report);
        self.explain.reason = reason;
        self.status = next;
        Verdict {
            status: next,
            recheck_at: recheck,
        }
    }
}

impl Detector {
    /// The output fallback: working while output flows, idle after the quiet period.
    fn by_output(
        &self,
        now: Instant,
        soonest: &mut impl FnMut(Instant),
    ) -> (Option<SessionStatus>, bool, String, Evidence) {
        let (status, settled, reason) = match self.last_output {
            Some(t) if now < t + self.cfg.quiet => {
                soonest(t + self.cfg.quiet);
                (
                    SessionStatus::Working,
                    false,
                    "no rule matched: output is flowing",
                )
            }
            Some(_) => (SessionStatus::Idle, true, "no rule matched: output stopped"),
            None => (SessionStatus::Idle, true, "no rule matched: no output yet"),
        };
        (Some(status), settled, reason.to_owned(), Evidence::Output)
    }
}

/// The first state rule (never a mark) that matches `w`, with its evidence left in `evidence`.
fn first_rule(profile: &Profile, w: &Window, evidence: &mut Vec<Line>) -> Option<usize> {
    profile
        .rules
        .iter()
        .position(|r| r.state != RuleState::Mark && w.matches(r, evidence))
}

/// The screen's `ui` hint and the index of the rule that gave it: the matched state rule's own,
/// else, when the session is idle, the first matching mark's.
fn ui_hint(
    profile: &Profile,
    w: &Window,
    matched: Option<usize>,
    status: SessionStatus,
    scratch: &mut Vec<Line>,
) -> Option<(UiHint, usize)> {
    if let Some(i) = matched
        && let Some(hint) = profile.rules[i].ui
    {
        return Some((hint, i));
    }
    if status != SessionStatus::Idle {
        return None;
    }
    profile.rules.iter().enumerate().find_map(|(i, r)| {
        (r.state == RuleState::Mark && w.matches(r, scratch))
            .then_some(r.ui.map(|hint| (hint, i)))
            .flatten()
    })
}

/// Whether a rule's match is something on screen waiting for the user's answer.
fn is_dialog(state: RuleState) -> bool {
    matches!(
        state,
        RuleState::Status(SessionStatus::PermissionPrompt | SessionStatus::Question)
    )
}

/// The raw verdict of one screen of text (see [`classify`]).
#[derive(Debug, Clone, Default)]
pub struct Classified {
    /// The state the first matching rule names (`None` for a skip rule or no match).
    pub state: Option<SessionStatus>,
    /// The rule that matched (a skip rule too).
    pub rule: Option<String>,
    /// What the rule read: the screen, the title or the report (`None` without a rule).
    pub evidence: Evidence,
    pub lines: Vec<Line>,
    /// The `ui` hint, counting marks as if the raw state were final.
    pub ui: Option<UiHint>,
    /// The dialog's rows, for a permission prompt or question.
    pub dialog: Vec<Line>,
}

/// The raw verdict of `profile` on one screen of text with its title and state report (empty
/// when there is none). No hysteresis, no stall: this is what the fixture suite checks.
pub fn classify(profile: &Profile, text: &str, title: &str, report: &str) -> Classified {
    let mut w = Window::default();
    w.fill_text(text, title, report, profile.settings.window);
    let mut evidence = Vec::new();
    let Some(i) = first_rule(profile, &w, &mut evidence) else {
        // No rule: the fallback decides; marks refine its idle.
        let status = match profile.settings.fallback {
            Fallback::Idle => SessionStatus::Idle,
            Fallback::Activity => SessionStatus::Starting,
        };
        let ui = ui_hint(profile, &w, None, status, &mut evidence);
        return Classified {
            ui: ui.map(|(h, _)| h),
            ..Classified::default()
        };
    };
    let rule = &profile.rules[i];
    let state = match rule.state {
        RuleState::Status(s) => Some(s),
        RuleState::Skip | RuleState::Mark => None,
    };
    let mut scratch = Vec::new();
    let ui = ui_hint(
        profile,
        &w,
        Some(i),
        state.unwrap_or(SessionStatus::Starting),
        &mut scratch,
    );
    let dialog = if is_dialog(rule.state) {
        w.dialog(rule, &evidence).to_vec()
    } else {
        Vec::new()
    };
    Classified {
        state,
        rule: Some(rule.name.clone()),
        evidence: Evidence::of_region(rule.region),
        lines: evidence,
        ui: ui.map(|(h, _)| h),
        dialog,
    }
}

#[cfg(test)]
mod tests;
