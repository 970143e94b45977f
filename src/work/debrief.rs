//! Debriefs before a kill: ask the agent what it did and what is left, wait (bounded) for the
//! turn to end, keep the answer, and store it so it can be read after the session is gone.
//!
//! A turn counts as finished when the session goes working → idle after the request was
//! sent (events on the bus, so a quick turn is not missed between two looks at the status),
//! or when it exits. Stored as `<state dir>/debriefs/<session id>.json`, mode 0600.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::events::{EventBus, EventKind};
use crate::session::SessionHandle;
use crate::vocab::SessionStatus;

/// Sessions younger than this get the short hotwash, older ones the after-action review: a
/// half-hour session rarely has enough history for the four AAR questions to add anything.
pub const HOTWASH_MAX_AGE: Duration = Duration::from_secs(30 * 60);

/// Default wait for the debrief turn. Agents answer a short reflective question in well under
/// a minute; two leave room for a slow model without holding a kill for long.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);

/// Longest wait a request may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(600);

/// If the session shows no work this long after the request, it is not going to answer (a
/// program that ignores input); the capture is taken as it is.
const START_GRACE: Duration = Duration::from_secs(10);

/// Screen lines (with scrollback) captured for the debrief.
const CAPTURE_LINES: usize = 2000;

pub const HOTWASH_PROMPT: &str = "AEGIS DEBRIEF (hotwash): this session is about to end. In at most five short lines: what you did, what is unfinished, and anything the next person must know.";

pub const AAR_PROMPT: &str = "AEGIS DEBRIEF (after-action review): this session is about to end. Answer briefly: 1) what was planned, 2) what actually happened, 3) why it differed, 4) what to keep and what to change next time, 5) what is unfinished.";

/// The kinds of debrief: the short hotwash, and the after-action review.
pub const KINDS: [&str; 2] = ["hotwash", "aar"];

/// Which kind of debrief a session of `age` gets.
pub fn kind_for(age: Duration) -> (&'static str, &'static str) {
    if age < HOTWASH_MAX_AGE {
        (KINDS[0], HOTWASH_PROMPT)
    } else {
        (KINDS[1], AAR_PROMPT)
    }
}

/// A captured debrief, as stored and returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Debrief {
    pub session_id: uuid::Uuid,
    pub session_name: String,
    /// `hotwash` or `aar`.
    pub kind: String,
    pub prompt: String,
    /// What the agent wrote after the request.
    pub text: String,
    /// Whether the turn finished within the wait (false: `text` is what was there at the end).
    pub complete: bool,
    pub status_at_capture: String,
    pub waited_ms: u64,
    pub captured_at_ms: u64,
}

/// Send the debrief request to `h` and capture the answer (does not kill). Everything,
/// sending included, happens within `wait`.
pub async fn capture(bus: &EventBus, h: &SessionHandle, wait: Duration) -> Debrief {
    let age = Duration::from_millis(crate::clock::now_ms().saturating_sub(h.meta.created_at_ms));
    let (kind, prompt) = kind_for(age);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + wait;
    // Requests already on screen (an earlier debrief) are not this one's echo.
    let before = screen_text(h).await;
    let seen = before
        .lines()
        .filter(|l| l.contains(marker(prompt).as_str()))
        .count();
    // Subscribe before sending, so the working → idle of a quick turn cannot be missed.
    let mut events = bus.subscribe();
    // Sending counts against the wait: an agent still starting up, or one that swallows the
    // Enter (each repair waits for the input line), can take seconds before the turn starts.
    let sent = tokio::time::timeout_at(deadline, h.send_text(prompt, true)).await;
    let complete = match sent {
        Ok(Ok(_)) => wait_turn(&mut events, h, deadline).await,
        Ok(Err(e)) => {
            tracing::warn!(session = %h.meta.id, error = %e, "debrief request could not be sent");
            false
        }
        Err(_) => {
            tracing::info!(session = %h.meta.id, "debrief request still being delivered when the wait ended");
            false
        }
    };
    let screen = screen_text(h).await;
    Debrief {
        session_id: h.meta.id,
        session_name: h.meta.name.clone(),
        kind: kind.to_owned(),
        prompt: prompt.to_owned(),
        text: answer_after(&screen, prompt, seen),
        complete,
        status_at_capture: h.status().as_str().to_owned(),
        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        captured_at_ms: crate::clock::now_ms(),
    }
}

/// Wait until the session went working → idle (or exited). Returns whether it did by
/// `deadline`.
async fn wait_turn(
    events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<crate::events::Event>>,
    h: &SessionHandle,
    deadline: tokio::time::Instant,
) -> bool {
    let grace = tokio::time::Instant::now() + START_GRACE;
    let mut worked = false;
    loop {
        if h.is_exited() {
            return true;
        }
        let until = if worked {
            deadline
        } else {
            deadline.min(grace)
        };
        match tokio::time::timeout_at(until, events.recv()).await {
            Ok(Ok(ev)) if ev.session_id == h.meta.id => match ev.kind {
                EventKind::SessionWorking => worked = true,
                EventKind::SessionIdle if worked => return true,
                EventKind::SessionExited | EventKind::SessionKilled => return true,
                _ => {}
            },
            Ok(Ok(_)) => {}
            // Lagged: events were dropped; fall back to the current status.
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                if worked && h.status() == SessionStatus::Idle {
                    return true;
                }
                worked = worked || h.status() == SessionStatus::Working;
            }
            Ok(Err(_)) => return false,
            Err(_) if !worked && tokio::time::Instant::now() < deadline => {
                // No work seen within the grace: the program is not answering; take what is there.
                tracing::info!(session = %h.meta.id, "no turn started after the debrief request");
                return h.status() == SessionStatus::Idle;
            }
            Err(_) => return false,
        }
    }
}

async fn screen_text(h: &SessionHandle) -> String {
    h.snapshot(Some(CAPTURE_LINES), crate::screen::Format::Text)
        .await
        .map(|s| s.output)
        .unwrap_or_default()
}

/// The start of a request, as it appears in the agent's echo of it (before any wrap).
fn marker(prompt: &str) -> String {
    prompt.chars().take(24).collect()
}

/// The part of `screen` after the echo of `prompt`: after its `skip + 1`-th line containing
/// the start of the prompt (`skip` = occurrences already on screen before the request). The
/// agent's reply may quote the request, so later occurrences are part of the answer. If the
/// echo is not on screen (scrolled away), the whole screen.
pub fn answer_after(screen: &str, prompt: &str, skip: usize) -> String {
    let marker = marker(prompt);
    let lines: Vec<&str> = screen.lines().collect();
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(&marker))
        .nth(skip)
        .map(|(i, _)| i + 1)
        .unwrap_or(0);
    let mut out: Vec<&str> = lines[start..].iter().map(|l| l.trim_end()).collect();
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    while out.first().is_some_and(|l| l.is_empty()) {
        out.remove(0);
    }
    out.join("\n")
}

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("debriefs")
}

/// Store a debrief (0700 directory, 0600 file, atomic replace).
pub fn store(state_dir: &Path, d: &Debrief) -> std::io::Result<()> {
    let dir = dir(state_dir);
    crate::store::create_private_dir(&dir)?;
    crate::store::atomic::write_json(&dir.join(format!("{}.json", d.session_id)), d)
}

/// A stored debrief.
pub fn load(state_dir: &Path, id: &uuid::Uuid) -> Option<Debrief> {
    let text = std::fs::read_to_string(dir(state_dir).join(format!("{id}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_depends_on_age() {
        assert_eq!(kind_for(Duration::from_secs(5)).0, "hotwash");
        assert_eq!(kind_for(HOTWASH_MAX_AGE).0, "aar");
    }

    #[test]
    fn answer_is_what_follows_the_request() {
        let echo = &HOTWASH_PROMPT[..40];
        let screen = format!("old line\n> {echo}\nline one\nYou said: {echo}\n\n");
        assert_eq!(
            answer_after(&screen, HOTWASH_PROMPT, 0),
            format!("line one\nYou said: {echo}")
        );
        assert_eq!(answer_after(&screen, HOTWASH_PROMPT, 1), "");
        assert_eq!(answer_after("a\nb\n", HOTWASH_PROMPT, 0), "a\nb");
    }
}
