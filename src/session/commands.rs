//! The commands a shell with marks ran (see `screen::marks`): the session's actor feeds every
//! mark to its [`CommandLog`] with the mark's offsets in the output stream, and the log keeps
//! a bounded list of [`CommandRecord`]s, says what the shell is doing (its phase) and tells
//! the actor which turn a mark makes ([`Turn`]). While an exec waits for its command, the log
//! also keeps a copy of the output (a [`Capture`]), so the command's own output can be cut
//! out of it by the marks' offsets.
//!
//! Offsets count the bytes of the session's output stream, the same count as the transcript's
//! (`GET /v1/sessions/:id/transcript?since=`).

use std::collections::VecDeque;

use crate::detect::marks::ShellPhase as Phase;
use crate::screen::marks::MarkKind;

/// Records kept per session, newest last; older ones are dropped. A record is ~100 bytes plus
/// its command line, so a thousand stay well under a megabyte even for long lines.
pub const MAX_COMMANDS: usize = 1000;

/// Longest command line kept in a record; longer ones are cut (at a character boundary).
const MAX_COMMAND_TEXT: usize = 4096;

/// Most output an exec keeps of its command: past it the start is kept and the answer says
/// the output was truncated. One megabyte is more than a caller reads from a JSON answer;
/// the transcript has all of it.
pub const MAX_CAPTURE: usize = 1024 * 1024;

/// One command the shell ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    /// Numbered from 1 in the order the commands started, for the session's life in this
    /// daemon.
    pub seq: u64,
    /// The command line, as the shell reported it (bash: as history recorded it).
    pub command: Option<String>,
    pub started_at_ms: u64,
    /// `None` while it runs.
    pub ended_at_ms: Option<u64>,
    pub exit_code: Option<i32>,
    /// Output stream offset of the command's first output byte (just after its start mark).
    pub output_start: u64,
    /// Offset just past its last output byte (where its end mark begins); `None` while it
    /// runs.
    pub output_end: Option<u64>,
}

/// The turn a mark makes, for the actor to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A command started: working.
    Started,
    /// The shell is back at its prompt after a command: idle, with the command's status.
    Finished { exit_code: Option<i32> },
}

/// How many commands started and finished so far; exec waits on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub started: u64,
    pub finished: u64,
}

/// A copy of the output from `start` on (see [`MAX_CAPTURE`]).
#[derive(Debug, Clone, Default)]
pub struct Capture {
    /// Output stream offset of `bytes[0]`.
    pub start: u64,
    pub bytes: Vec<u8>,
    pub truncated: bool,
}

impl Capture {
    /// The captured bytes between two stream offsets (clamped to what was captured).
    pub fn between(&self, from: u64, to: u64) -> &[u8] {
        let at = |o: u64| {
            usize::try_from(o.saturating_sub(self.start))
                .unwrap_or(usize::MAX)
                .min(self.bytes.len())
        };
        let (a, b) = (at(from), at(to));
        &self.bytes[a..b.max(a)]
    }
}

#[derive(Debug, Default)]
pub struct CommandLog {
    records: VecDeque<CommandRecord>,
    started: u64,
    finished: u64,
    phase: Option<Phase>,
    capture: Option<Capture>,
}

impl CommandLog {
    /// What the marks say the shell does; `None` until the first mark.
    pub fn phase(&self) -> Option<Phase> {
        self.phase
    }

    pub fn progress(&self) -> Progress {
        Progress {
            started: self.started,
            finished: self.finished,
        }
    }

    /// The last `limit` records, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<CommandRecord> {
        let skip = self.records.len().saturating_sub(limit);
        self.records.iter().skip(skip).cloned().collect()
    }

    /// The record of command `seq`, if still kept.
    pub fn get(&self, seq: u64) -> Option<CommandRecord> {
        self.records.iter().find(|r| r.seq == seq).cloned()
    }

    /// A mark whose sequence spans stream offsets `start..end`, seen at `now_ms`.
    pub fn on_mark(&mut self, kind: MarkKind, start: u64, end: u64, now_ms: u64) -> Option<Turn> {
        match kind {
            MarkKind::CommandStart { command } => {
                // A start without an end before it (a shell that sends no `D`): the earlier
                // command ended where this one starts.
                self.close(None, start, now_ms);
                self.started += 1;
                if self.records.len() == MAX_COMMANDS {
                    self.records.pop_front();
                }
                self.records.push_back(CommandRecord {
                    seq: self.started,
                    command: command.map(|c| cut(c, MAX_COMMAND_TEXT)),
                    started_at_ms: now_ms,
                    ended_at_ms: None,
                    exit_code: None,
                    output_start: end,
                    output_end: None,
                });
                self.phase = Some(Phase::Running);
                Some(Turn::Started)
            }
            MarkKind::CommandEnd { exit_code } => {
                let ran = self.close(exit_code, start, now_ms);
                self.phase = Some(Phase::Prompt);
                ran.then_some(Turn::Finished { exit_code })
            }
            // A prompt after a command with no `D` ends it without a status.
            MarkKind::PromptStart => {
                let ran = self.close(None, start, now_ms);
                self.phase = Some(Phase::Prompt);
                ran.then_some(Turn::Finished { exit_code: None })
            }
            // The end of a prompt that `A` began says nothing new; on its own it comes from a
            // prompt string a nested shell inherited from the environment (a `PS1` carrying
            // the mark), while the command that started that shell still runs.
            MarkKind::InputStart => None,
        }
    }

    /// End the running command, if one runs. Returns whether one did.
    fn close(&mut self, exit_code: Option<i32>, at: u64, now_ms: u64) -> bool {
        let Some(last) = self.records.back_mut().filter(|r| r.ended_at_ms.is_none()) else {
            return false;
        };
        last.ended_at_ms = Some(now_ms);
        last.exit_code = exit_code;
        last.output_end = Some(at.max(last.output_start));
        self.finished += 1;
        true
    }

    /// Start keeping a copy of the output from stream offset `at` (replacing any earlier one).
    pub fn start_capture(&mut self, at: u64) {
        self.capture = Some(Capture {
            start: at,
            ..Capture::default()
        });
    }

    /// Stop keeping the copy and hand it over.
    pub fn take_capture(&mut self) -> Option<Capture> {
        self.capture.take()
    }

    /// Output parsed; kept while a capture runs.
    pub fn on_output(&mut self, chunk: &[u8]) {
        let Some(c) = self.capture.as_mut() else {
            return;
        };
        let room = MAX_CAPTURE - c.bytes.len();
        if chunk.len() > room {
            c.truncated = true;
        }
        c.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(cmd: &str) -> MarkKind {
        MarkKind::CommandStart {
            command: Some(cmd.into()),
        }
    }

    #[test]
    fn marks_make_records_and_turns() {
        let mut log = CommandLog::default();
        assert_eq!(log.on_mark(MarkKind::PromptStart, 0, 8, 1), None);
        assert_eq!(log.phase(), Some(Phase::Prompt));
        assert_eq!(
            log.on_mark(start("echo hi"), 20, 40, 2),
            Some(Turn::Started)
        );
        assert_eq!(log.phase(), Some(Phase::Running));
        let end = MarkKind::CommandEnd { exit_code: Some(0) };
        assert_eq!(
            log.on_mark(end, 44, 54, 3),
            Some(Turn::Finished { exit_code: Some(0) })
        );
        // The prompt after the end is no second turn.
        assert_eq!(log.on_mark(MarkKind::PromptStart, 54, 62, 3), None);
        // A shell that sends no end: the prompt ends the command, without a status.
        log.on_mark(start("sleep 1"), 70, 90, 4);
        let turn = log.on_mark(MarkKind::PromptStart, 95, 103, 5);
        assert_eq!(turn, Some(Turn::Finished { exit_code: None }));
        let r = log.recent(10);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].seq, r[0].command.as_deref(), r[0].exit_code),
            (1, Some("echo hi"), Some(0))
        );
        assert_eq!((r[0].output_start, r[0].output_end), (40, Some(44)));
        assert_eq!((r[1].output_start, r[1].output_end), (90, Some(95)));
        assert_eq!(
            log.progress(),
            Progress {
                started: 2,
                finished: 2
            }
        );
        assert_eq!(log.recent(1)[0].seq, 2);
    }

    /// A nested shell whose inherited prompt carries `B` (and no other mark) leaves the
    /// command that started it running.
    #[test]
    fn an_input_mark_alone_ends_nothing() {
        let mut log = CommandLog::default();
        log.on_mark(start("bash"), 0, 10, 1);
        assert_eq!(log.on_mark(MarkKind::InputStart, 30, 38, 2), None);
        assert_eq!(log.phase(), Some(Phase::Running));
        assert_eq!(log.recent(1)[0].ended_at_ms, None);
        let end = MarkKind::CommandEnd { exit_code: Some(0) };
        assert!(log.on_mark(end, 50, 60, 3).is_some());
        assert_eq!(log.phase(), Some(Phase::Prompt));
    }

    #[test]
    fn the_log_and_the_capture_are_bounded() {
        let mut log = CommandLog::default();
        for i in 0..MAX_COMMANDS as u64 + 5 {
            log.on_mark(start(&"x".repeat(MAX_COMMAND_TEXT + 1)), i, i, i);
        }
        let r = log.recent(usize::MAX);
        assert_eq!(r.len(), MAX_COMMANDS);
        assert_eq!(r[0].seq, 6);
        assert_eq!(
            r[0].command.as_ref().map(String::len),
            Some(MAX_COMMAND_TEXT)
        );
        log.start_capture(100);
        log.on_output(&vec![b'a'; MAX_CAPTURE - 1]);
        log.on_output(b"bc");
        let c = log.take_capture().expect("a capture ran");
        assert!(c.truncated && c.bytes.len() == MAX_CAPTURE);
        assert_eq!(c.between(100 + MAX_CAPTURE as u64 - 2, u64::MAX), b"ab");
        assert_eq!(c.between(50, 101), b"a");
        assert!(log.take_capture().is_none());
    }
}
