//! The messages a [`crate::session::SessionHandle`] sends its session's actor; queries carry their reply
//! channel.

use tokio::sync::oneshot;

use super::super::commands::{Capture, CommandRecord, Progress};
use super::super::handle::{Reading, Snapshot, Sources, Subscription};
use crate::detect::Explanation;
use crate::screen::{Format, Screen};
use crate::vocab::SessionStatus;

/// What a [`crate::session::SessionHandle`] asks of the actor.
pub(in crate::session) enum Command {
    Snapshot {
        lines: Option<usize>,
        format: Format,
        reply: oneshot::Sender<Snapshot>,
    },
    /// A snapshot with what the detector read on that screen (`GET /read`).
    Read {
        lines: Option<usize>,
        format: Format,
        reply: oneshot::Sender<Reading>,
    },
    Resize {
        cols: u16,
        rows: u16,
        reply: oneshot::Sender<()>,
    },
    Kill {
        reply: oneshot::Sender<()>,
    },
    Subscribe {
        reply: oneshot::Sender<Subscription>,
    },
    /// Like `Subscribe`, with the output since the start instead of a redraw (see
    /// [`EARLY_OUTPUT_BYTES`]).
    SubscribeFromStart {
        reply: oneshot::Sender<Subscription>,
    },
    /// Run a quick read of the screen model inside the actor (tmux capture-pane).
    Inspect(Box<dyn FnOnce(&mut Screen) + Send>),
    ResetScreen {
        reply: oneshot::Sender<()>,
    },
    Explain {
        reply: oneshot::Sender<Explanation>,
    },
    /// An agent hook reported a state (`None`: only re-evaluate).
    Hook {
        claim: Option<SessionStatus>,
        event: String,
    },
    Sources {
        reply: oneshot::Sender<Sources>,
    },
    /// The command records (see [`super::commands`]) after `after` (a seq), at most `limit`
    /// of the newest; with `take_capture`, the output copy too, which stops it.
    Commands {
        after: u64,
        limit: usize,
        take_capture: bool,
        reply: oneshot::Sender<(Vec<CommandRecord>, Option<Capture>)>,
    },
    /// Start copying the output (for an exec); answers how many commands started and
    /// finished before it, the text before the cursor and the cursor's column.
    Capture {
        reply: oneshot::Sender<(Progress, String, u16)>,
    },
}

impl Command {
    /// Whether the actor answers this from its state without changing the screen or the
    /// status, so the readings handles keep stay true (see [`crate::session::readings`]).
    /// `Explain` may evaluate a changed screen first, and then forgets them itself.
    pub(in crate::session) fn only_reads(&self) -> bool {
        matches!(
            self,
            Command::Read { .. }
                | Command::Snapshot { .. }
                | Command::Explain { .. }
                | Command::Sources { .. }
        )
    }
}
