//! The session actor: one task owns a session's pty master, screen model and detector.
//! Everyone else holds a cloneable [`SessionHandle`] (see [`super::handle`]) and sends it commands; queries carry a
//! reply channel. Nothing outside this task touches the screen.
//!
//! Architecture invariant: the actor never blocks and never awaits anything slow. Killing the
//! process group and pacing input run in their own tasks; the actor only parses output,
//! answers queries and publishes state. The pty reader thread relies on this: it waits on a
//! bounded channel to the actor, which is safe only because the actor always drains it.
//!
//! Length: one concept, the actor's state and its one select loop; commands, hooks, turns and
//! what a read is shown are already their own modules.
//!
//! A shell's prompt and command marks are turned into command records and turns in
//! [`turns`].

mod command;
mod hooks;
mod reading;
#[cfg(test)]
mod tests;
mod turns;

pub(super) use command::Command;
pub use hooks::HOOK_GRACE;
use hooks::HookClaim;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::SessionHandle;
use super::commands::{CommandLog, Progress};
use super::handle::{Counters, HandleInner, LiveState, SUBSCRIBER_BUFFER_CHUNKS, Sources};
use super::input;
use super::readings::Readings;
use crate::detect::Detector;
use crate::events::{EventBus, EventDetail, EventKind};
use crate::permissions::SessionPermissions;
use crate::pty::{self, ExitStatus, PtyControl, PtyProcess, WriteRequest};
use crate::screen::Screen;
use crate::vocab::{SessionMeta, SessionStatus};

/// How much output from a session's start, and for how long after it, the actor keeps for
/// subscribers that must see all of it (a new tmux pane's `%output`).
const EARLY_OUTPUT_BYTES: usize = 64 * 1024;
const EARLY_OUTPUT_MS: u64 = 10_000;

/// Commands waiting for one actor. Requests are tiny and the actor answers each in
/// microseconds; a full queue means the caller waits, which is the intended back-pressure.
const COMMAND_QUEUE: usize = 64;

/// Output chunks parsed in one go before the actor looks at its command queue again, so a
/// flooding child cannot starve snapshot requests.
const CHUNKS_PER_BATCH: usize = 16;

/// The history a session's screen keeps, as its creator asked.
fn history_limits(meta: &SessionMeta) -> crate::screen::HistoryLimits {
    crate::screen::HistoryLimits {
        lines: meta.history_lines,
        bytes: meta.history_bytes,
    }
}

impl SessionHandle {
    /// Start the actor for a freshly spawned process.
    pub fn start(
        meta: SessionMeta,
        process: PtyProcess,
        detector: Detector,
        perms: Arc<SessionPermissions>,
        bus: Arc<EventBus>,
    ) -> SessionHandle {
        let now = Instant::now();
        let mut screen = Screen::with_limits(process.cols, process.rows, history_limits(&meta));
        // Replayed output rebuilds the screen; the replies to queries in it are not sent again.
        if !process.replay.is_empty() {
            let _ = screen.process(&process.replay);
            // Its marks were an earlier daemon's commands.
            let _ = screen.take_marks();
        }
        let (cols, rows) = screen.size();
        let live = LiveState {
            status: SessionStatus::Starting,
            cols,
            rows,
            exit_code: None,
            bracketed_paste: false,
            application_cursor: false,
            pending: None,
            ui: None,
        };
        let (live_tx, live_rx) = watch::channel(live);
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let counters = Arc::new(Counters::default());
        let readings = Arc::new(Readings::default());
        counters
            .last_activity_ms
            .store(meta.created_at_ms, Ordering::Relaxed);
        let input = input::spawn_worker(process.writer.clone());
        let meta = Arc::new(meta);
        let (subscribers, _) = broadcast::channel(SUBSCRIBER_BUFFER_CHUNKS);
        let replayed = !process.replay.is_empty();
        let replayed_bytes = process.replay.len() as u64;
        let mut detector = detector;
        if replayed {
            // A reattached session is past its start-up: judge it from now on.
            detector.on_output(now.into_std());
        }
        let profile = detector.profile().clone();
        let recording_error = process.recording_error;
        let (progress, progress_rx) = watch::channel(Progress::default());
        let actor = Actor {
            meta: meta.clone(),
            screen,
            detector,
            perms: perms.clone(),
            control: process.control,
            bus,
            writer: process.writer,
            output: process.output,
            output_open: true,
            exit: Some(process.exit),
            commands: cmd_rx,
            live: live_tx,
            counters: counters.clone(),
            readings: readings.clone(),
            subscribers,
            // A reattached session's start is long past.
            early: (!replayed).then(Vec::new),
            recheck_at: replayed.then_some(now),
            pending_exit: None,
            hook: None,
            screen_status: SessionStatus::Starting,
            corrections: 0,
            recording: Some(recording_error.clone()),
            evaluated_at: now,
            compact_at: None,
            compact_by: None,
            screen_measured_at: now,
            processed: replayed_bytes,
            snapshot_at: replayed_bytes,
            stream: process.output_offset,
            log: CommandLog::default(),
            progress,
        };
        tokio::spawn(actor.run());
        SessionHandle(Arc::new(HandleInner {
            meta,
            commands: cmd_tx,
            live: live_rx,
            input,
            counters,
            readings,
            prompt_delivery: Default::default(),
            perms,
            profile,
            recording_error,
            progress: progress_rx,
            exec: Arc::default(),
            send_lock: Arc::default(),
        }))
    }
}

struct Actor {
    meta: Arc<SessionMeta>,
    /// The readings handles answer from while nothing changed; forgotten before any change.
    readings: Arc<Readings>,
    screen: Screen,
    detector: Detector,
    perms: Arc<SessionPermissions>,
    control: Box<dyn PtyControl>,
    bus: Arc<EventBus>,
    writer: mpsc::Sender<WriteRequest>,
    output: mpsc::Receiver<Vec<u8>>,
    output_open: bool,
    exit: Option<oneshot::Receiver<ExitStatus>>,
    commands: mpsc::Receiver<Command>,
    live: watch::Sender<LiveState>,
    counters: Arc<Counters>,
    subscribers: broadcast::Sender<Arc<[u8]>>,
    /// The output since the start, while the session is young and it is small: a tmux
    /// control client learns of a new pane only after its program started, and must still
    /// get all of its output (`%output`).
    early: Option<Vec<u8>>,
    /// When the detector asked to be consulted again even without new output.
    recheck_at: Option<Instant>,
    /// The child's exit, held back until its last output was parsed (see `on_exit`).
    pending_exit: Option<(Option<i32>, Instant)>,
    /// The last unconfirmed state from an agent hook (see [`HOOK_GRACE`]).
    hook: Option<HookClaim>,
    /// The detector's last verdict.
    screen_status: SessionStatus,
    corrections: u64,
    /// The recording's failure, announced once when it arrives (`None` once the holder link
    /// closed it).
    recording: Option<watch::Receiver<Option<String>>>,
    /// When the detector last ran (see [`EVALUATE_EVERY`]).
    evaluated_at: Instant,
    /// When to compact the history lines that scrolled off (see [`COMPACT_AFTER`]).
    compact_at: Option<Instant>,
    /// The latest the history is compacted since output resumed (see [`COMPACT_AT_LATEST`]).
    compact_by: Option<Instant>,
    /// When [`Counters::screen_bytes`] was last measured.
    screen_measured_at: Instant,
    /// Output bytes parsed so far (the replay at start included).
    processed: u64,
    /// `processed` when the holder was last offered a snapshot (see [`SNAPSHOT_EVERY`]).
    snapshot_at: u64,
    /// The output stream offset of the next byte (the transcript's count).
    stream: u64,
    /// The commands the shell's marks told of.
    log: CommandLog,
    /// The log's counts, for execs waiting on their command.
    progress: watch::Sender<Progress>,
}

/// Output parsed between two snapshots offered to the holder, which keeps the latest in place
/// of the raw output before it: its replay ring then holds about the history's content plus
/// at most this much raw output, instead of a fixed tail of raw output. Offered with the
/// history compaction: when output goes quiet, and at the latest every
/// [`COMPACT_AT_LATEST`] while it does not.
const SNAPSHOT_EVERY: u64 = 32 * 1024;

/// Quiet time after output before the lines that scrolled off are compacted: the screen
/// model keeps them as rows until then, so a flood drops most of them without ever encoding
/// them (see `screen::Screen::compact_history`).
const COMPACT_AFTER: Duration = Duration::from_millis(200);

/// A session whose output never goes quiet (a spinner redrawn every 100 ms under a full
/// history) is compacted at least this often all the same, or its history would stay as full
/// rows for good. Each time encodes at most the history's lines, a small cost next to a flood
/// that parsed two seconds of output.
const COMPACT_AT_LATEST: Duration = Duration::from_secs(2);

/// How often [`Counters::screen_bytes`] is measured while output flows: the walk over the
/// history's lines is cheap, but not per chunk of a flood.
const SCREEN_BYTES_EVERY: Duration = Duration::from_secs(1);

/// While output keeps arriving, the detector runs at most this often; output it has not
/// seen yet is always evaluated within this long (a recheck is scheduled). A flood of 4 KiB
/// chunks would otherwise run a full detection (a window render and every rule, ~0.1 ms)
/// per chunk; 10 ms is far below the state-change latency anyone can observe.
const EVALUATE_EVERY: Duration = Duration::from_millis(10);

/// How long to wait, after the child exited and its output went quiet, for the pty to reach EOF
/// before reporting the exit anyway: a background process that inherited the terminal can keep
/// it open indefinitely.
const EXIT_DRAIN: Duration = Duration::from_millis(500);

impl Actor {
    async fn run(mut self) {
        // Evaluate once before any output, so a program that never prints still gets the
        // detector's start-up deadline (it would otherwise stay `starting` forever).
        self.evaluate();
        self.measure_screen(Instant::now());
        loop {
            let recheck = match (self.recheck_at, self.pending_exit) {
                (Some(a), Some((_, b))) => Some(a.min(b)),
                (a, b) => a.or(b.map(|(_, at)| at)),
            };
            let wake = match (recheck, self.compact_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                chunk = self.output.recv(), if self.output_open => {
                    self.readings.forget();
                    match chunk {
                        Some(bytes) => self.on_output(bytes),
                        None => {
                            self.output_open = false;
                            self.finish_exit();
                        }
                    }
                }
                status = async { match self.exit.as_mut() { Some(rx) => rx.await.ok(), None => std::future::pending().await } } => {
                    self.readings.forget();
                    self.exit = None;
                    self.on_exit(status);
                }
                changed = async { match self.recording.as_mut() { Some(rx) => rx.changed().await, None => std::future::pending().await } } => {
                    self.readings.forget();
                    match changed {
                        Ok(()) => self.on_recording_failed(),
                        Err(_) => self.recording = None,
                    }
                }
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => break, // every handle dropped: the session was removed
                },
                _ = async { match wake { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => {
                    self.readings.forget();
                    let now = Instant::now();
                    if self.compact_at.is_some_and(|at| now >= at) {
                        self.compact_at = None;
                        self.compact_by = None;
                        if self.screen.compact_history() {
                            // The rows just encoded were freed into holes of the heap.
                            crate::allocator::give_back_soon();
                        }
                        self.measure_screen(now);
                        self.offer_snapshot();
                    }
                    if recheck.is_some_and(|at| now >= at) {
                        // Output still queued is parsed first (the drain deadline is for a pty
                        // that stays open with nothing to say, not for a busy actor).
                        if self.pending_exit.is_some_and(|(_, at)| now >= at)
                            && self.output.is_empty()
                        {
                            self.finish_exit();
                        }
                        self.recheck_at = None;
                        self.evaluate();
                    }
                }
            }
        }
        // Dropping the master hangs up whatever still runs on the pty.
        tracing::debug!(session = %self.meta.id, "session actor stopped");
    }

    /// The holder could not write the recording (disk full, file-size limit). The session
    /// keeps running; clients learn it from session info and a `session.recording_failed`
    /// event.
    fn on_recording_failed(&mut self) {
        let Some(error) = self.recording.as_ref().and_then(|rx| rx.borrow().clone()) else {
            return;
        };
        tracing::warn!(session = %self.meta.id, %error, "recording stopped; the session goes on");
        let status = self.live.borrow().status;
        self.bus.publish(
            EventKind::SessionRecordingFailed,
            &self.meta,
            Some(status),
            Some(status),
            EventDetail::RecordingFailed { error },
        );
    }

    /// Add a chunk to the output since the start, or let it go once the session is no longer
    /// young or the output no longer small.
    fn keep_early(&mut self, chunk: &[u8]) {
        let Some(early) = self.early.as_mut() else {
            return;
        };
        let age = crate::clock::now_ms().saturating_sub(self.meta.created_at_ms);
        if age > EARLY_OUTPUT_MS || early.len() + chunk.len() > EARLY_OUTPUT_BYTES {
            self.early = None;
        } else {
            early.extend_from_slice(chunk);
        }
    }

    fn on_output(&mut self, first: Vec<u8>) {
        // Output still arriving after the exit: the drain deadline counts from the last chunk,
        // so a daemon that is behind on a flood never reports `exited` before the final screen.
        if let Some((_, deadline)) = self.pending_exit.as_mut() {
            *deadline = Instant::now() + EXIT_DRAIN;
        }
        let mut chunk = first;
        for taken in 1..=CHUNKS_PER_BATCH {
            let replies = self.screen.process(&chunk);
            self.on_marks(&chunk);
            if !replies.is_empty() {
                // Never wait here: if the child is not reading its input, drop the reply.
                let _ = self.writer.try_send(WriteRequest {
                    bytes: replies,
                    ack: None,
                });
            }
            self.processed += chunk.len() as u64;
            self.counters
                .bytes_out
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            crate::metrics::global().captured(chunk.len() as u64);
            self.keep_early(&chunk);
            if self.subscribers.receiver_count() > 0 {
                let _ = self.subscribers.send(Arc::from(chunk));
            }
            if taken == CHUNKS_PER_BATCH {
                // The batch is full; what is queued is taken on the next turn (taking it here
                // would drop it).
                break;
            }
            match self.output.try_recv() {
                Ok(next) => chunk = next,
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.output_open = false;
                    break;
                }
            }
        }
        self.counters
            .last_activity_ms
            .store(crate::clock::now_ms(), Ordering::Relaxed);
        self.detector.on_output(std::time::Instant::now());
        let now = Instant::now();
        if now >= self.screen_measured_at + SCREEN_BYTES_EVERY {
            self.measure_screen(now);
        }
        let by = *self.compact_by.get_or_insert(now + COMPACT_AT_LATEST);
        self.compact_at = Some((now + COMPACT_AFTER).min(by));
        let due = self.evaluated_at + EVALUATE_EVERY;
        if Instant::now() >= due {
            self.evaluate();
        } else {
            self.recheck_at = Some(self.recheck_at.map_or(due, |r| r.min(due)));
        }
        if !self.output_open {
            // The output ended while this batch was taken: report an exit already known now,
            // as the output branch of `run` does, not at the drain deadline (a flood that
            // closed its pty while the actor was catching up was reported 500 ms late).
            self.finish_exit();
        }
    }

    /// Publish what the screen model holds (session info's `screenBytes`).
    fn measure_screen(&mut self, now: Instant) {
        self.screen_measured_at = now;
        self.counters
            .screen_bytes
            .store(self.screen.heap_bytes() as u64, Ordering::Relaxed);
    }

    /// Offer the holder a snapshot of the screen and history once enough output came since the
    /// last one (see [`SNAPSHOT_EVERY`]). Nothing is offered on the alternate screen.
    fn offer_snapshot(&mut self) {
        if self.processed - self.snapshot_at < SNAPSHOT_EVERY {
            return;
        }
        let Some(snapshot) = self.screen.replay() else {
            return;
        };
        self.snapshot_at = self.processed;
        if let Err(e) = self.control.keep_snapshot(self.processed, snapshot) {
            tracing::debug!(session = %self.meta.id, error = %e, "the holder link took no snapshot");
        }
    }

    /// The child exited. Its last output may still be in the pipe from the reader thread, so
    /// `exited` is published only once the pty reached EOF (or after `EXIT_DRAIN`): a client
    /// that sees `exited` sees the final screen.
    fn on_exit(&mut self, status: Option<ExitStatus>) {
        let code = status.map(ExitStatus::code);
        self.pending_exit = Some((code, Instant::now() + EXIT_DRAIN));
        if !self.output_open {
            self.finish_exit();
        }
    }

    fn finish_exit(&mut self) {
        let Some((code, _)) = self.pending_exit.take() else {
            return;
        };
        tracing::info!(session = %self.meta.id, name = %self.meta.name, exit_code = ?code, "session exited");
        let old = self.live.borrow().status;
        self.live.send_modify(|s| {
            s.status = SessionStatus::Exited;
            s.exit_code = code;
        });
        self.recheck_at = None;
        self.bus.publish(
            EventKind::SessionExited,
            &self.meta,
            Some(old),
            Some(SessionStatus::Exited),
            EventDetail::Exited { exit_code: code },
        );
    }

    /// Re-run detection (at most once per the detector's debounce) and publish whatever
    /// changed.
    fn evaluate(&mut self) {
        self.evaluate_with(false);
    }

    /// Before answering a read: if the screen changed since the last evaluation, evaluate
    /// it now, so the status and its evidence describe the frame the reader is shown.
    fn catch_up(&mut self) {
        if self.detector.behind(&self.screen) {
            self.readings.forget();
            self.evaluate_with(true);
        }
    }

    fn evaluate_with(&mut self, skip_debounce: bool) {
        self.evaluated_at = Instant::now();
        // Who holds the terminal is read only while the child runs: after its exit the pid
        // may already name another process.
        let leader = (self.pending_exit.is_none() && self.exit.is_some()).then_some(self.meta.pid);
        let terminal = || leader.and_then(pty::foreground);
        let now = std::time::Instant::now();
        let verdict = if skip_debounce {
            self.detector.evaluate_now(now, &self.screen, terminal)
        } else {
            self.detector.evaluate(now, &self.screen, terminal)
        };
        self.recheck_at = verdict.recheck_at.map(Instant::from_std);
        let bracketed_paste = self.screen.bracketed_paste();
        let application_cursor = self.screen.application_cursor();
        let old = self.live.borrow().status;
        self.screen_status = verdict.status;
        let pending = self.detector.pending();
        let ui = self.detector.ui();
        let old_pending = self.live.borrow().pending.clone();
        // A dialog that showed the hook's request and left the screen was answered there
        // (keys, a human attached): the held hook request ends without a decision.
        if old_pending.is_some()
            && pending.is_none()
            && let Some(gone) = self.perms.hook_drop(None)
        {
            tracing::info!(session = %self.meta.id, permission = %gone.id, "dialog answered on screen; releasing the held PermissionRequest hook");
        }
        let status = if old == SessionStatus::Exited {
            old
        } else {
            self.reconcile(verdict.status)
        };
        self.live.send_if_modified(|s| {
            let changed = s.status != status
                || s.bracketed_paste != bracketed_paste
                || s.application_cursor != application_cursor
                || s.pending != pending
                || s.ui != ui;
            s.status = status;
            s.bracketed_paste = bracketed_paste;
            s.application_cursor = application_cursor;
            s.pending.clone_from(&pending);
            s.ui = ui;
            changed
        });
        self.publish_permission_changes(old, status, old_pending, pending);
        if status != old {
            let explained = self.detector.explained();
            tracing::debug!(
                session = %self.meta.id,
                from = old.as_str(),
                to = status.as_str(),
                screen = verdict.status.as_str(),
                rule = explained.rule.as_deref().unwrap_or("-"),
                reason = %explained.reason,
                evidence = explained.lines.first().map_or("", |l| l.text.trim()),
                title = %explained.title,
                report = %explained.report,
                "status changed"
            );
            let since = crate::clock::now_ms()
                .saturating_sub(self.counters.last_activity_ms.load(Ordering::Relaxed));
            crate::metrics::global().state_detected(self.meta.id, status, since);
        }
        if status != old
            && let Some(kind) = EventKind::for_status(status)
        {
            self.bus
                .publish(kind, &self.meta, Some(old), Some(status), EventDetail::None);
        }
    }

    fn handle(&mut self, cmd: Command) {
        if !cmd.only_reads() {
            self.readings.forget();
        }
        match cmd {
            Command::Explain { reply } => {
                self.catch_up();
                let _ = reply.send(self.detector.explanation());
            }
            Command::Hook { claim, event } => {
                if let Some(status) = claim {
                    tracing::debug!(session = %self.meta.id, %event, state = status.as_str(), "hook state");
                    self.hook = Some(HookClaim {
                        status,
                        event,
                        at: Instant::now(),
                    });
                }
                self.evaluate();
            }
            Command::Sources { reply } => {
                let _ = reply.send(Sources {
                    screen: self.screen_status,
                    hook: self.hook.as_ref().map(|c| {
                        (
                            c.status,
                            c.event.clone(),
                            u64::try_from(c.at.elapsed().as_millis()).unwrap_or(u64::MAX),
                        )
                    }),
                    corrections: self.corrections,
                });
            }
            Command::Snapshot {
                lines,
                format,
                reply,
            } => {
                let _ = reply.send(self.snapshot(lines, format));
            }
            Command::Read {
                lines,
                format,
                reply,
            } => {
                let reading = self.reading(lines, format);
                self.readings.keep(lines, format, &reading);
                let _ = reply.send(reading);
            }
            Command::Resize { cols, rows, reply } => {
                self.screen.resize(cols, rows);
                let (cols, rows) = self.screen.size();
                if let Err(e) = self.control.resize(cols, rows) {
                    tracing::warn!(session = %self.meta.id, error = %e, "TIOCSWINSZ failed");
                }
                self.live.send_if_modified(|s| {
                    let changed = s.cols != cols || s.rows != rows;
                    s.cols = cols;
                    s.rows = rows;
                    changed
                });
                let _ = reply.send(());
            }
            Command::Kill { reply } => {
                let pgid = self.meta.pid;
                tokio::spawn(async move {
                    pty::kill_session(pgid, pty::KILL_GRACE).await;
                    let _ = reply.send(());
                });
            }
            Command::Subscribe { reply } => {
                let rx = self.subscribers.subscribe();
                let _ = reply.send((self.screen.redraw(), rx));
            }
            Command::SubscribeFromStart { reply } => {
                self.keep_early(&[]);
                let rx = self.subscribers.subscribe();
                let _ = reply.send((self.early.clone().unwrap_or_default(), rx));
            }
            Command::Inspect(f) => f(&mut self.screen),
            Command::Commands {
                after,
                limit,
                take_capture,
                reply,
            } => {
                let mut records = self.log.recent(limit);
                records.retain(|r| r.seq > after);
                let capture = take_capture.then(|| self.log.take_capture()).flatten();
                let _ = reply.send((records, capture));
            }
            Command::Capture { reply } => {
                self.log.start_capture(self.stream);
                let prompt = self.screen.text_before_cursor();
                let _ = reply.send((self.log.progress(), prompt, self.screen.cursor().1));
            }
            Command::ResetScreen { reply } => {
                let (cols, rows) = self.screen.size();
                // Keep the input modes the program asked for (bracketed paste, cursor keys),
                // which a fresh model would forget until the program set them again.
                let modes = self.screen.input_modes();
                let mut fresh = Screen::with_limits(cols, rows, history_limits(&self.meta));
                let _ = fresh.process(&modes);
                self.screen = fresh;
                self.snapshot_at = self.processed;
                if let Err(e) = self.control.forget_history(&modes) {
                    tracing::warn!(session = %self.meta.id, error = %e, "the holder could not forget the cleared output");
                }
                let _ = reply.send(());
            }
        }
    }
}
