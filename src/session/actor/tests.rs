//! The actor driven by hand: output chunks, the exit status and the end of the output arrive
//! in an order the test chooses, with no pty and no timer involved.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use crate::pty::{ExitStatus, PtyControl, PtyProcess};
use crate::session::SessionHandle;
use crate::vocab::{SessionMeta, SessionStatus};

/// A terminal that takes every resize.
struct NoTerminal;

impl PtyControl for NoTerminal {
    fn resize(&self, _: u16, _: u16) -> std::io::Result<()> {
        Ok(())
    }
}

/// A session whose output and exit the test delivers itself.
fn session() -> (
    SessionHandle,
    mpsc::Sender<Vec<u8>>,
    oneshot::Sender<ExitStatus>,
) {
    let (output_tx, output) = mpsc::channel(64);
    let (writer, _) = mpsc::channel(64);
    let (exit_tx, exit) = oneshot::channel();
    let process = PtyProcess {
        pid: i32::MAX,
        control: Box::new(NoTerminal),
        cols: 80,
        rows: 24,
        output,
        writer,
        exit,
        replay: Vec::new(),
        output_offset: 0,
        recording_error: watch::channel(None).1,
    };
    let profiles = crate::detect::profile::ProfileSet::builtin().expect("built-in profiles");
    let detector = crate::detect::Detector::new(
        profiles.for_agent("custom"),
        crate::detect::DetectConfig {
            quiet: std::time::Duration::from_millis(50),
            stall: None,
            permission_timeout: None,
        },
        std::time::Instant::now(),
    );
    let perms = crate::permissions::SessionPermissions::new(Default::default());
    let handle = SessionHandle::start(
        SessionMeta::for_tests(),
        process,
        detector,
        Arc::new(perms),
        Arc::new(crate::events::EventBus::new()),
    );
    (handle, output_tx, exit_tx)
}

/// Let the actor run until `done` holds, without letting time pass for its timers: a state
/// reached only at a timer's deadline is not reached here.
async fn settle(done: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if done() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    done()
}

/// The child's exit is known, then its last output arrives and the pty closes while the
/// actor takes that output in one batch: the exit is reported as soon as the output is
/// parsed, not at the drain deadline (500 ms later).
#[tokio::test]
async fn an_exit_is_reported_once_the_output_that_ended_in_a_batch_is_parsed() {
    let (h, output, exit) = session();
    exit.send(ExitStatus::Code(3))
        .expect("actor waits for the exit");
    // The actor takes the exit first (and holds it back: output may be on its way).
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    for chunk in ["last ", "lines\r\n", "END"] {
        output.try_send(chunk.into()).expect("room for the chunk");
    }
    drop(output);
    assert!(
        settle(|| h.status() == SessionStatus::Exited).await,
        "exited only at the drain deadline"
    );
    assert_eq!(h.live().exit_code, Some(3));
    let snap = h.snapshot(None, crate::screen::Format::Text).await;
    assert!(snap.expect("snapshot").output.contains("END"));
}
