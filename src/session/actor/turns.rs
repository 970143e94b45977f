//! The actor's side of a shell's marks: each chunk's marks go to the command log with their
//! stream offsets, the detector learns the shell's phase, and every command makes a turn
//! that clients can see: `working` when it starts, `idle` (with its exit status) when it
//! ends, published at once even when both marks came in one chunk (`echo hi`), so whoever
//! waits for a turn of a shell session sees one for every command.

use super::Actor;
use crate::events::{EventDetail, EventKind};
use crate::session::commands::Turn;
use crate::vocab::SessionStatus;

impl Actor {
    /// Take the marks the screen found in `chunk` (just parsed) and move the stream offset
    /// past it.
    pub(super) fn on_marks(&mut self, chunk: &[u8]) {
        let base = self.stream;
        self.log.on_output(chunk);
        self.stream += chunk.len() as u64;
        let marks = self.screen.take_marks();
        if marks.is_empty() {
            return;
        }
        let now = crate::clock::now_ms();
        for m in marks {
            let end = base + m.end as u64;
            let start = end.saturating_sub(m.len as u64);
            let turn = self.log.on_mark(m.kind, start, end, now);
            if let Some(phase) = self.log.phase() {
                self.detector.shell_phase(phase);
            }
            if let Some(turn) = turn {
                self.turn(turn);
            }
        }
        self.progress.send_replace(self.log.progress());
    }

    /// Publish the state a command's start or end implies, unless the session already is in
    /// it (or exited).
    fn turn(&mut self, turn: Turn) {
        let (status, detail) = match turn {
            Turn::Started => (SessionStatus::Working, EventDetail::None),
            Turn::Finished { exit_code } => (
                SessionStatus::Idle,
                EventDetail::CommandFinished { exit_code },
            ),
        };
        let old = self.live.borrow().status;
        if old == status || old == SessionStatus::Exited {
            return;
        }
        self.screen_status = status;
        self.live.send_modify(|s| s.status = status);
        let since = crate::clock::now_ms().saturating_sub(
            self.counters
                .last_activity_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        crate::metrics::global().state_detected(self.meta.id, status, since);
        let kind = match status {
            SessionStatus::Working => EventKind::SessionWorking,
            _ => EventKind::SessionIdle,
        };
        self.bus
            .publish(kind, &self.meta, Some(old), Some(status), detail);
    }
}
