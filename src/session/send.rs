//! Typing into a session through its ordered input queue: text (pasted when the program wants
//! pastes) with its Enter verified on screen, tmux-named keys, raw bytes.

use std::time::Duration;

use tokio::time::Instant;

use super::SessionHandle;
use super::handle::HandleError;
use super::input::{self, Step};
use super::keys;
use crate::screen::Format;
use crate::vocab::{Delivery, SessionStatus};

impl SessionHandle {
    /// Type `text` (pasted when the program wants pastes) and, if `submit`, press Enter after
    /// the agent's delay (once the text shows in the input line, when one was drawn before
    /// typing). Agent-aware: sends to one session go one at a time; an agent is waited on
    /// until it takes input (see [`Self::wait_ready_for_input`]); after Enter, the input line
    /// (the profile's `input_line`) is checked, and while it still holds the text, Enter is
    /// pressed again (at most [`SUBMIT_ATTEMPTS`] presses). `delivered` is true only when the
    /// text was seen to leave the input line or a turn started (or the profile
    /// cannot tell).
    pub async fn send_text(&self, text: &str, submit: bool) -> Result<Delivery, HandleError> {
        let result = self.send_text_checked(text, submit).await;
        crate::metrics::global().send(&self.meta, result.as_ref().map(|d| *d).map_err(|_| ()));
        result
    }

    async fn send_text_checked(&self, text: &str, submit: bool) -> Result<Delivery, HandleError> {
        // One send at a time per session: two sends typing at once would interleave their
        // text, and each one's submit check would read the other's.
        let _one_at_a_time = self.send_lock.lock().await;
        // Only agents with a known input line have a prompt to wait for; a silent program
        // (`cat`) stays `starting` for the whole grace period and must not delay sends.
        if self.profile.settings.input_line.is_some() {
            self.wait_ready_for_input().await?;
        }
        let was_idle = self.status() == SessionStatus::Idle;
        let live = self.live();
        let input_line = self.profile.settings.input_line.clone().filter(|_| submit);
        // The input line as read is trimmed, so the needle must not end in a space either.
        let needle: String = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .chars()
            .take(24)
            .collect::<String>()
            .trim_end()
            .to_owned();
        // With the input line on screen before typing, Enter waits until the text shows in it
        // (see `wait_echo`); otherwise it follows after the agent's delay.
        let echo = match &input_line {
            Some(re) => {
                let before = self.snapshot(None, Format::Text).await?;
                crate::detect::input_text(re, &before.output).is_some()
            }
            None => false,
        };
        let delay = input::enter_delay(self.meta.agent_type);
        let steps = input::text_steps(
            text,
            input::TextInput::for_agent(self.meta.agent_type, live.bracketed_paste),
            submit && !echo,
            delay,
        );
        self.run_input(steps).await?;
        let Some(input_line) = input_line else {
            return Ok(Delivery {
                delivered: true,
                attempts: 1,
            });
        };
        if echo {
            self.wait_echo(&input_line, &needle).await?;
            self.run_input(vec![Step::Pause(delay), Step::Write(b"\r".to_vec())])
                .await?;
        }
        let mut attempts = 1;
        loop {
            let deadline = Instant::now() + SUBMIT_CHECK;
            let mut left = false;
            while Instant::now() < deadline {
                // A turn that started (the screen, or Claude's UserPromptSubmit hook, says
                // working) took the prompt, whatever the composer still shows.
                if was_idle && self.status() == SessionStatus::Working {
                    left = true;
                    break;
                }
                let snap = self.snapshot(None, Format::Text).await?;
                if !crate::detect::input_holds(&input_line, &snap.output, &needle) {
                    left = true;
                    break;
                }
                tokio::time::sleep(SUBMIT_POLL).await;
            }
            if left {
                return Ok(Delivery {
                    delivered: true,
                    attempts,
                });
            }
            if attempts >= SUBMIT_ATTEMPTS {
                tracing::warn!(session = %self.meta.id, attempts, "text is still in the input line after Enter");
                return Ok(Delivery {
                    delivered: false,
                    attempts,
                });
            }
            tracing::info!(session = %self.meta.id, attempts, "Enter was swallowed; pressing it again");
            self.run_input(vec![Step::Write(b"\r".to_vec())]).await?;
            attempts += 1;
        }
    }

    /// Wait until an agent takes typed input as a new prompt: past start-up, not in a turn
    /// (text typed during a turn is queued by the agent and may be merged with the next
    /// one), its output quiet for [`INPUT_QUIET`] (agents draw their prompt before their
    /// input handler is set up), and its composer empty (an interrupted prompt put back
    /// there is cleared with the profile's `clear_input_keys`). Each wait is bounded: past
    /// it the text is typed anyway.
    async fn wait_ready_for_input(&self) -> Result<(), HandleError> {
        if self.status() == SessionStatus::Starting {
            self.wait_for(
                |s| s.status != SessionStatus::Starting,
                PROMPT_READY_TIMEOUT,
            )
            .await;
        }
        if self.status() == SessionStatus::Working
            && !self
                .wait_for(|s| s.status != SessionStatus::Working, TURN_END_TIMEOUT)
                .await
        {
            tracing::warn!(session = %self.meta.id, "the turn did not end in time; typing into it");
        }
        self.wait_quiet().await;
        let (Some(input_line), false) = (
            self.profile.settings.input_line.clone(),
            self.profile.settings.clear_input_keys.is_empty(),
        ) else {
            return Ok(());
        };
        if self.status() != SessionStatus::Idle {
            return Ok(());
        }
        for _ in 0..CLEAR_ATTEMPTS {
            let snap = self.snapshot(None, Format::Text).await?;
            let held = crate::detect::input_text(&input_line, &snap.output).unwrap_or_default();
            if held.is_empty() {
                return Ok(());
            }
            tracing::info!(session = %self.meta.id, chars = held.chars().count(), "the composer holds text; clearing it before the send");
            self.send_keys(&self.profile.settings.clear_input_keys)
                .await?;
            let deadline = Instant::now() + CLEAR_CHECK;
            while Instant::now() < deadline {
                tokio::time::sleep(SUBMIT_POLL).await;
                let snap = self.snapshot(None, Format::Text).await?;
                if crate::detect::input_text(&input_line, &snap.output).is_none_or(str::is_empty) {
                    return Ok(());
                }
            }
        }
        tracing::warn!(session = %self.meta.id, "the composer still holds text; typing after it");
        Ok(())
    }

    /// Wait (at most [`QUIET_MAX`]) until the session printed nothing for [`INPUT_QUIET`].
    async fn wait_quiet(&self) {
        use std::sync::atomic::Ordering;
        let quiet = u64::try_from(INPUT_QUIET.as_millis()).unwrap_or(u64::MAX);
        let deadline = Instant::now() + QUIET_MAX;
        loop {
            let last = self.counters.last_activity_ms.load(Ordering::Relaxed);
            let since = crate::clock::now_ms().saturating_sub(last);
            if since >= quiet || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(quiet - since)).await;
        }
    }

    /// Wait until the input line holds the typed text (or the agent's collapsed-paste marker),
    /// at most [`ECHO_TIMEOUT`]. Gemini CLI reads an Enter handled within 30 ms of the text as
    /// a newline, and takes a while to take in a big paste on a loaded machine: an Enter sent
    /// before the text is on screen can be lost, and the check after it would find an empty
    /// line and call the text submitted. Enter and its pause go as a second job on the queue.
    async fn wait_echo(&self, input_line: &regex::Regex, needle: &str) -> Result<(), HandleError> {
        let deadline = Instant::now() + ECHO_TIMEOUT;
        while Instant::now() < deadline {
            let snap = self.snapshot(None, Format::Text).await?;
            if crate::detect::input_holds(input_line, &snap.output, needle) {
                return Ok(());
            }
            tokio::time::sleep(SUBMIT_POLL).await;
        }
        tracing::info!(session = %self.meta.id, "the typed text never showed in the input line; pressing Enter anyway");
        Ok(())
    }

    /// Send tmux-named keys (or literal text), one write per key. A lone Escape is followed by
    /// a short pause so the next key is not read as an Alt chord.
    pub async fn send_keys(&self, names: &[String]) -> Result<(), HandleError> {
        let app_cursor = self.live().application_cursor;
        let mut steps = Vec::with_capacity(names.len() * 2);
        for name in names {
            steps.push(Step::Write(keys::encode(name, app_cursor)));
            if matches!(name.as_str(), "Escape" | "Esc") {
                steps.push(Step::Pause(ESCAPE_PAUSE));
            }
        }
        self.run_input(steps).await
    }

    /// Write raw bytes (attach and WebSocket input) through the same ordered queue.
    pub async fn send_bytes(&self, bytes: Vec<u8>) -> Result<(), HandleError> {
        self.run_input(vec![Step::Write(bytes)]).await
    }
}

/// How long a send waits for a `starting` session to show its prompt (agents take seconds to
/// boot; the first prompt is lost if typed before the input handler is live).
const PROMPT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a send waits for a running turn to end before typing into it anyway.
const TURN_END_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an agent must have printed nothing before a send types: Claude Code draws its
/// prompt before it finished probing the terminal, and keys that arrive with the probe
/// replies are read as one paste (the Enter becomes a newline).
const INPUT_QUIET: Duration = Duration::from_millis(600);

/// The longest wait for [`INPUT_QUIET`]: an agent animating at its prompt must not block sends.
const QUIET_MAX: Duration = Duration::from_secs(5);

/// Presses of the clear keys per send at most, and how long each may take to show. The check
/// outlasts 800 ms on purpose: Claude Code exits on a second Ctrl-C within that time.
const CLEAR_ATTEMPTS: u32 = 2;
const CLEAR_CHECK: Duration = Duration::from_millis(1000);

/// How long after Enter the text must have left the input line. Agents redraw within a frame
/// or two; 1.5 s absorbs a loaded machine without making a lost Enter slow to repair.
const SUBMIT_CHECK: Duration = Duration::from_millis(1500);

/// How long typed text may take to show in the input line before Enter is pressed anyway: a
/// 5 KB paste into Gemini CLI on a loaded 2-core machine takes over a second.
const ECHO_TIMEOUT: Duration = Duration::from_secs(3);

/// Screen polls while checking a submission.
const SUBMIT_POLL: Duration = Duration::from_millis(40);

/// Enter presses per send at most: the first plus two repairs. More would risk submitting
/// twice if the screen check were wrong.
pub const SUBMIT_ATTEMPTS: u32 = 3;

/// After a lone Escape, programs wait this long before deciding it was not the start of an
/// escape sequence (vim's default ttimeout is 100 ms, Ink's about 20 ms). 50 ms separates the
/// keys for Ink-based agents without making key lists slow.
const ESCAPE_PAUSE: Duration = Duration::from_millis(50);
