//! The handle to a session: what everyone but the session's actor holds. Cloneable; queries
//! and commands go to the actor over a bounded channel and carry a reply channel, while the
//! live state (status, size, pending dialog) is read from a watch without asking the actor.
//! Typing into a session is in [`super::send`]; the actor itself in [`super::actor`].

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::actor::Command;
use super::input::{InputJob, Step};
use crate::detect::Explanation;
use crate::detect::prompt::PermissionRequest;
use crate::permissions::SessionPermissions;
use crate::screen::{Format, Screen};
use crate::vocab::{Delivery, SessionMeta, SessionStatus};

/// Output chunks buffered for live subscribers (attach, WebSocket). A subscriber that falls
/// further behind than this gets a `Lagged` error and must resync from a fresh snapshot; the
/// session itself never waits for a subscriber.
pub const SUBSCRIBER_BUFFER_CHUNKS: usize = 256;

/// State that changes over a session's life, published through a watch channel so that
/// listing sessions never has to message each actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveState {
    pub status: SessionStatus,
    pub cols: u16,
    pub rows: u16,
    pub exit_code: Option<i32>,
    pub bracketed_paste: bool,
    pub application_cursor: bool,
    /// The permission dialog on screen, parsed (see `detect::prompt`).
    pub pending: Option<Arc<PermissionRequest>>,
    /// The screen's finer reading for `uiState` (see `detect::profile::UiHint`).
    pub ui: Option<crate::detect::profile::UiHint>,
}

/// Counters updated on every output chunk; atomics so readers never wait for the actor.
#[derive(Debug, Default)]
pub struct Counters {
    pub last_activity_ms: AtomicU64,
    pub bytes_out: AtomicU64,
    /// The session's stall threshold in ms (0 = stall detection off), for session info.
    pub stall_threshold_ms: AtomicU64,
    /// Heap bytes of the screen model (screen, history, pens), measured by the actor after
    /// each history compaction and about once a second while output flows.
    pub screen_bytes: AtomicU64,
}

/// A redraw of the screen, and every output chunk after it.
pub type Subscription = (Vec<u8>, broadcast::Receiver<Arc<[u8]>>);

/// A rendered view of the screen.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub output: String,
    pub status: SessionStatus,
    pub cols: u16,
    pub rows: u16,
    /// (row, col), zero-based.
    pub cursor: (u16, u16),
    pub title: String,
}

/// A [`Snapshot`] with what the detector read on that same screen: what `GET /read` shows.
#[derive(Debug, Clone)]
pub struct Reading {
    pub snapshot: Snapshot,
    /// The first line that matched the detector's rule, trimmed; `<Event> hook` while a
    /// hook's claim decides a status the screen does not show yet.
    pub evidence: Option<String>,
    /// The rows of the permission dialog or question on screen, when the status is one.
    pub dialog: Option<String>,
    /// The output as the API sends it, shared by every clone of this reading.
    pub output_json: OutputJson,
}

/// A reading's output as a JSON string and its line count, made by the first reader that
/// sends it and shared by every later read of the same reading (see [`super::readings`]):
/// escaping the screen for JSON was a tenth of what serving an unchanged `/read` cost.
#[derive(Debug, Clone, Default)]
pub struct OutputJson(Arc<OnceLock<(Box<RawValue>, usize)>>);

impl OutputJson {
    /// `output` (the reading's own) as a JSON string, and how many lines it has.
    pub fn of(&self, output: &str) -> &(Box<RawValue>, usize) {
        self.0.get_or_init(|| {
            // A `&str` always serializes; the fallback is never taken.
            let json = serde_json::value::to_raw_value(output)
                .unwrap_or_else(|_| RawValue::NULL.to_owned());
            (json, output.lines().count())
        })
    }
}

/// What each source says about the session, for `GET /detect`.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The detector's verdict from the screen alone.
    pub screen: SessionStatus,
    /// The state the last hook claimed and not yet confirmed or corrected: (state, event,
    /// milliseconds since it arrived).
    pub hook: Option<(SessionStatus, String, u64)>,
    /// Hook claims the screen contradicted past the grace period (and so were corrected).
    pub corrections: u64,
}

/// Why a request to a session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("session has exited")]
    Exited,
    #[error("session is gone")]
    Gone,
    #[error("writing to the session failed: {0}")]
    Write(String),
    #[error("session input queue is full")]
    Busy,
}

/// A cloneable reference to a running session. Every clone shares one [`HandleInner`], so
/// a clone (one per request that names the session) is one reference count, not a dozen.
#[derive(Clone)]
pub struct SessionHandle(pub(super) Arc<HandleInner>);

impl std::ops::Deref for SessionHandle {
    type Target = HandleInner;

    fn deref(&self) -> &HandleInner {
        &self.0
    }
}

/// What every clone of a [`SessionHandle`] shares: the ways to the session's actor and input
/// queue, and the state the actor publishes.
pub struct HandleInner {
    pub meta: Arc<SessionMeta>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) live: watch::Receiver<LiveState>,
    pub(super) input: mpsc::Sender<InputJob>,
    pub counters: Arc<Counters>,
    pub(super) readings: Arc<super::readings::Readings>,
    pub(super) prompt_delivery: Arc<std::sync::Mutex<Option<Delivery>>>,
    /// Permission policy, answers in flight and the history of answers.
    pub perms: Arc<SessionPermissions>,
    /// The detection profile (its input-line pattern verifies that a send was submitted).
    pub profile: Arc<crate::detect::profile::Profile>,
    pub(super) recording_error: watch::Receiver<Option<String>>,
    /// How many commands the shell's marks told of (see [`super::commands`]).
    pub(super) progress: watch::Receiver<super::commands::Progress>,
    /// Held by the exec in flight: one at a time per session.
    pub(super) exec: Arc<tokio::sync::Mutex<()>>,
    /// Held by the text send in flight: one at a time per session (see [`super::send`]).
    pub(super) send_lock: Arc<tokio::sync::Mutex<()>>,
}

impl SessionHandle {
    pub fn live(&self) -> LiveState {
        self.live.borrow().clone()
    }

    pub fn status(&self) -> SessionStatus {
        self.live.borrow().status
    }

    pub fn is_exited(&self) -> bool {
        self.status() == SessionStatus::Exited
    }

    /// A watch on the live state, for waiting on status changes.
    pub fn watch(&self) -> watch::Receiver<LiveState> {
        self.live.clone()
    }

    /// Why the session's recording stopped, if it did. The session itself goes on.
    pub fn recording_error(&self) -> Option<String> {
        self.recording_error.borrow().clone()
    }

    pub fn prompt_delivery(&self) -> Option<Delivery> {
        *self
            .prompt_delivery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_prompt_delivery(&self, d: Delivery) {
        *self
            .prompt_delivery
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(d);
    }

    pub(super) async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, HandleError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| HandleError::Gone)?;
        rx.await.map_err(|_| HandleError::Gone)
    }

    pub async fn snapshot(
        &self,
        lines: Option<usize>,
        format: Format,
    ) -> Result<Snapshot, HandleError> {
        self.request(|reply| Command::Snapshot {
            lines,
            format,
            reply,
        })
        .await
    }

    /// A snapshot and what the detector read on it, in one request to the actor, or none when
    /// the actor gave the same reading and nothing changed since (see [`super::readings`]).
    pub async fn read(&self, lines: Option<usize>, format: Format) -> Result<Reading, HandleError> {
        if let Some(kept) = self.readings.get(lines, format) {
            return Ok(kept);
        }
        self.request(|reply| Command::Read {
            lines,
            format,
            reply,
        })
        .await
    }

    /// Why the detector chose the current state.
    pub async fn explain(&self) -> Result<Explanation, HandleError> {
        self.request(|reply| Command::Explain { reply }).await
    }

    /// Tell the actor what an agent hook reported (`claim`), or only to look again.
    pub async fn nudge(&self, claim: Option<SessionStatus>, event: &str) {
        let _ = self
            .commands
            .send(Command::Hook {
                claim,
                event: event.to_owned(),
            })
            .await;
    }

    /// What the screen and the hooks each say.
    pub async fn sources(&self) -> Result<Sources, HandleError> {
        self.request(|reply| Command::Sources { reply }).await
    }

    pub async fn resize(&self, cols: u16, rows: u16) -> Result<(), HandleError> {
        self.request(|reply| Command::Resize { cols, rows, reply })
            .await
    }

    /// A redraw of the current screen plus a receiver for every output chunk after it, taken
    /// at the same point of the stream so nothing is lost or doubled between them.
    pub async fn subscribe(
        &self,
    ) -> Result<(Vec<u8>, broadcast::Receiver<Arc<[u8]>>), HandleError> {
        self.request(|reply| Command::Subscribe { reply }).await
    }

    /// Every output chunk from the session's start (while it is young and its output small;
    /// otherwise from now), and a receiver for every chunk after them.
    pub async fn subscribe_from_start(
        &self,
    ) -> Result<(Vec<u8>, broadcast::Receiver<Arc<[u8]>>), HandleError> {
        self.request(|reply| Command::SubscribeFromStart { reply })
            .await
    }

    /// Run `f` on the screen model inside the actor and return its result. `f` must be quick
    /// (a render, not I/O): the actor parses no output while it runs.
    pub async fn with_screen<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Screen) -> T + Send + 'static,
    ) -> Result<T, HandleError> {
        self.request(|reply| {
            Command::Inspect(Box::new(move |screen: &mut Screen| {
                let _ = reply.send(f(screen));
            }))
        })
        .await
    }

    /// Clear the screen model and its history (keeping the session's history limits), not
    /// the child. The holder forgets its replay too, so a restarted daemon does not bring the
    /// cleared text back. The recording keeps everything.
    pub async fn reset_screen(&self) -> Result<(), HandleError> {
        self.request(|reply| Command::ResetScreen { reply }).await
    }

    /// Stop every process of the session (SIGHUP/SIGTERM, then SIGKILL) and wait until gone.
    pub async fn kill(&self) -> Result<(), HandleError> {
        self.request(|reply| Command::Kill { reply }).await?;
        // The group is gone; give the reaper a moment to report the leader's status.
        self.wait_for(
            |s| s.status == SessionStatus::Exited,
            Duration::from_secs(2),
        )
        .await;
        Ok(())
    }

    /// Wait until `pred` holds for the live state, or `timeout` passes. Returns whether it held.
    pub async fn wait_for(&self, pred: impl Fn(&LiveState) -> bool, timeout: Duration) -> bool {
        let mut rx = self.live.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| pred(s)))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Queue a job on the input queue and wait until it was written.
    pub async fn run_input(&self, steps: Vec<Step>) -> Result<(), HandleError> {
        if self.is_exited() {
            return Err(HandleError::Exited);
        }
        let (done, finished) = oneshot::channel();
        self.input
            .try_send(InputJob { steps, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => HandleError::Busy,
                mpsc::error::TrySendError::Closed(_) => HandleError::Gone,
            })?;
        finished
            .await
            .map_err(|_| HandleError::Gone)?
            .map_err(HandleError::Write)
    }
}
