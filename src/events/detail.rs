//! What an event carries besides its kind, session and statuses: one typed payload per kind of
//! event. Consumers (the metrics, the webhook filter, orchestration) match on these; only the
//! API layer (`api::event_wire`) turns them into JSON, so no code reads a wire key back.

use std::path::PathBuf;

use uuid::Uuid;

use crate::detect::prompt::PermissionRequest;
use crate::permissions::Resolution;
use crate::permissions::hook::HookRequest;
use crate::vocab::AgentType;

/// The payload of an [`super::Event`]. Publishers pair each [`super::EventKind`] with its
/// variant (named alike); status changes carry [`EventDetail::None`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventDetail {
    /// Nothing beyond the kind and the statuses (status changes).
    None,
    /// `session.created`.
    Created {
        agent_type: AgentType,
        work_dir: PathBuf,
    },
    /// `session.idle` after a shell's command ended (its marks said so): the command's exit
    /// status, when the shell told it.
    CommandFinished { exit_code: Option<i32> },
    /// `session.exited`: the child's exit code (`None` when killed by a signal or unknown).
    Exited { exit_code: Option<i32> },
    /// `session.killed`: the session was removed; `was_running` tells a kill from the removal
    /// of an already exited session.
    Removed {
        exit_code: Option<i32>,
        was_running: bool,
    },
    /// `session.recording_failed`: why the recording stopped.
    RecordingFailed { error: String },
    /// `permission.requested`.
    PermissionRequested(Box<PermissionAsked>),
    /// `permission.resolved`.
    PermissionResolved(Box<PermissionAnswered>),
    /// `message.sent`.
    MessageSent(MessageSent),
    /// `verification`: a quality-gate run finished.
    Verification(Verification),
    /// `consensus.completed`.
    ConsensusCompleted(ConsensusOutcome),
    /// `pipeline.finished`.
    PipelineFinished(PipelineOutcome),
    /// `session.completed`: a client declared the session's task done.
    SessionCompleted {
        status: String,
        comment: Option<String>,
    },
}

/// A permission request that appeared: a dialog on screen, or one held by Claude Code's
/// PermissionRequest hook (`hook` set; `request` is then the hook's request in the screen
/// parser's shape).
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionAsked {
    pub request: PermissionRequest,
    pub agent_type: AgentType,
    pub hook: Option<HookRequest>,
}

/// A permission request that left the screen, and how it was answered.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionAnswered {
    pub request: PermissionRequest,
    pub resolution: Resolution,
}

/// Text sent to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSent {
    pub text: String,
    /// Whether the text was seen to leave the agent's input line.
    pub delivered: bool,
    pub via: MessageVia,
}

/// Who sent a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageVia {
    /// `POST /v1/sessions/:id/send`, after `attempts` Enter presses.
    Api { attempts: u32 },
    /// An inbound stimulus from `source`, routed by a config rule.
    Stimulus { source: String },
}

/// A finished quality-gate run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub passed: bool,
    /// Where the checks came from (`verify::Source`).
    pub source: &'static str,
    pub checks: Vec<CheckOutcome>,
}

/// One check of a [`Verification`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub name: String,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
}

/// A finished consensus review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusOutcome {
    pub consensus_id: Uuid,
    /// completed | timed_out
    pub status: &'static str,
    /// approve | reject | none
    pub verdict: Option<&'static str>,
    pub approvals: usize,
    pub rejections: usize,
    pub tie: bool,
    pub explanation: Option<String>,
}

/// A finished pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineOutcome {
    pub pipeline_id: Uuid,
    pub name: String,
    /// completed | failed | cancelled
    pub status: &'static str,
    pub reason: Option<String>,
}
