//! The per-session input queue: every write into a session (REST send and keys, approvals,
//! attach and WebSocket input) goes through one ordered queue, so two clients can never
//! interleave bytes inside each other's messages. Different sessions have different queues and
//! run in parallel.
//!
//! A job is a list of steps (writes and pauses). The worker performs one job at a time and
//! waits for each write to reach the kernel before the next step, so a pause really separates
//! the text from its Enter.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::pty::WriteRequest;
use crate::vocab::AgentType;

/// Jobs waiting per session. A client that floods a session whose program stopped reading
/// its input gets "busy" errors past this instead of growing the daemon's memory.
pub const INPUT_QUEUE_JOBS: usize = 1024;

/// Text longer than this is pasted (when the program enabled bracketed paste) even on one
/// line: a cooked-mode reader silently drops lines of 4096 bytes or more.
pub const PASTE_THRESHOLD_BYTES: usize = 512;

/// How a program takes text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextInput {
    /// The program did not enable bracketed paste: every byte is typed.
    Typed,
    /// Multi-line or long text is pasted; a short line is typed, as a user would (Claude Code
    /// reads a typed leading `!` or `/` as a mode switch, which a paste may not be).
    PasteLong,
    /// All text is pasted: the program turns an Enter that follows fast typing into a newline
    /// (Codex's paste-burst guard, Gemini's Enter-after-a-key rule), and a bracketed paste is
    /// exempt from both.
    PasteAll,
}

impl TextInput {
    /// How `agent` takes text, given whether it enabled bracketed paste.
    pub fn for_agent(agent: AgentType, bracketed_paste: bool) -> TextInput {
        match agent {
            _ if !bracketed_paste => TextInput::Typed,
            AgentType::Codex | AgentType::Gemini => TextInput::PasteAll,
            _ => TextInput::PasteLong,
        }
    }
}

/// Pause between the text and its Enter. Codex treats an Enter within 120 ms of a typed burst
/// as a newline; Claude's Ink input drops an Enter that follows a paste too closely (peers use
/// 100–300 ms); a shell's line discipline needs no gap, but a short one keeps the two writes
/// distinct for readline.
pub fn enter_delay(agent: AgentType) -> Duration {
    match agent {
        AgentType::Codex => Duration::from_millis(250),
        AgentType::Claude | AgentType::Gemini => Duration::from_millis(150),
        AgentType::Shell | AgentType::Custom => Duration::from_millis(30),
    }
}

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Write(Vec<u8>),
    Pause(Duration),
}

pub struct InputJob {
    pub steps: Vec<Step>,
    pub done: oneshot::Sender<Result<(), String>>,
}

/// Start the worker for one session. It ends when every sender is dropped.
pub fn spawn_worker(writer: mpsc::Sender<WriteRequest>) -> mpsc::Sender<InputJob> {
    let (tx, mut rx) = mpsc::channel::<InputJob>(INPUT_QUEUE_JOBS);
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let result = run_job(&writer, job.steps).await;
            let _ = job.done.send(result);
        }
    });
    tx
}

async fn run_job(writer: &mpsc::Sender<WriteRequest>, steps: Vec<Step>) -> Result<(), String> {
    for step in steps {
        match step {
            Step::Pause(d) => tokio::time::sleep(d).await,
            Step::Write(bytes) => {
                let (ack, acked) = oneshot::channel();
                writer
                    .send(WriteRequest {
                        bytes,
                        ack: Some(ack),
                    })
                    .await
                    .map_err(|_| "session input is closed".to_string())?;
                acked
                    .await
                    .map_err(|_| "session input is closed".to_string())??;
            }
        }
    }
    Ok(())
}

/// How to type `text` into a program taking text as `input`; then, if `submit`, Enter as a
/// separate write after `enter_delay`.
pub fn text_steps(text: &str, input: TextInput, submit: bool, enter_delay: Duration) -> Vec<Step> {
    let mut steps = Vec::with_capacity(3);
    let paste = match input {
        TextInput::Typed => false,
        TextInput::PasteLong => text.contains('\n') || text.len() > PASTE_THRESHOLD_BYTES,
        TextInput::PasteAll => true,
    };
    if paste {
        steps.push(Step::Write(bracketed(text)));
    } else {
        steps.push(Step::Write(text.as_bytes().to_vec()));
    }
    if submit {
        steps.push(Step::Pause(enter_delay));
        steps.push(Step::Write(b"\r".to_vec()));
    }
    steps
}

/// Wrap `text` in a bracketed paste. Any paste-end marker inside the text is removed, or the
/// rest of the text would arrive as typed keys (a classic paste injection).
pub fn bracketed(text: &str) -> Vec<u8> {
    let body = text.replace("\x1b[201~", "").replace("\r\n", "\n");
    let mut out = Vec::with_capacity(body.len() + PASTE_START.len() + PASTE_END.len());
    out.extend_from_slice(PASTE_START);
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(PASTE_END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_is_pasted_once_then_enter() {
        let steps = text_steps("a\nb", TextInput::PasteLong, true, Duration::from_millis(5));
        assert_eq!(
            steps,
            vec![
                Step::Write(b"\x1b[200~a\nb\x1b[201~".to_vec()),
                Step::Pause(Duration::from_millis(5)),
                Step::Write(b"\r".to_vec())
            ]
        );
    }

    #[test]
    fn a_short_line_is_typed_unless_the_program_wants_all_text_pasted() {
        let typed = vec![Step::Write(b"ls".to_vec())];
        assert_eq!(
            text_steps("ls", TextInput::PasteLong, false, Duration::ZERO),
            typed
        );
        assert_eq!(
            text_steps("ls", TextInput::Typed, false, Duration::ZERO),
            typed
        );
        assert_eq!(
            text_steps("ls", TextInput::PasteAll, false, Duration::ZERO),
            vec![Step::Write(b"\x1b[200~ls\x1b[201~".to_vec())]
        );
        let multiline = text_steps("a\nb", TextInput::Typed, false, Duration::ZERO);
        assert_eq!(multiline, vec![Step::Write(b"a\nb".to_vec())]);
    }

    #[test]
    fn paste_end_cannot_be_injected() {
        assert_eq!(
            bracketed("x\x1b[201~rm -rf /\n"),
            b"\x1b[200~xrm -rf /\n\x1b[201~".to_vec()
        );
    }
}
