//! Per-session holder processes: each session's pty and child belong to a small process
//! started from `aegis-holder`, a small binary of this package (or, when it is not installed
//! next to `aegis`, the hidden `aegis holder` subcommand; same code), so a daemon crash,
//! `kill -9` or upgrade loses neither the agent nor any of its output. This is the
//! conmon / dtach / containerd-shim design.
//!
//! - [`server`]: the holder process itself. It calls `setsid()` (leaving the daemon's
//!   session and process group, so signals aimed at the daemon's terminal or group never
//!   reach it), spawns the child on a pty, reaps it and keeps its exit status, keeps a bounded
//!   ring of raw output, writes the asciicast recording, and serves one unix socket. It keeps
//!   draining output while no daemon is connected.
//! - [`client`]: the daemon side. It turns a holder connection into a [`crate::pty::PtyProcess`],
//!   so the session actor, routes and detection do not know a holder is involved.
//! - [`proto`]: frame encoding.
//! - `ring`: the output the holder keeps for replay, with stream offsets.
//!
//! # Start-up handshake
//!
//! The daemon runs `aegis-holder --dir <session dir>` with the spawn spec as one JSON document
//! on stdin ([`HolderSpec`]) and stderr going to `<session dir>/holder.log`. The holder answers
//! with one JSON line on stdout, `{"pid": N}` once the child runs and the socket listens, or
//! `{"error": "..."}` when the program could not be started; it never writes to stdout again.
//!
//! # Socket
//!
//! `<session dir>/holder.sock`, mode 0600 inside the 0700 state directory: only the daemon's
//! user can connect, and that user is trusted (it could ptrace the holder anyway). The holder
//! serves one daemon at a time; a new connection replaces the previous one (the newest daemon
//! wins, which is what a restart needs when the old connection is half dead).
//!
//! # Frames
//!
//! Every frame is `[u8 type][u32 big-endian payload length][payload]`; payloads above
//! [`proto::MAX_FRAME_BYTES`] are a protocol error and close the connection. Integers are
//! big-endian.
//!
//! | type | direction | payload |
//! |---|---|---|
//! | `0x01` HELLO  | holder → daemon | JSON [`Hello`]: protocol version, child pid, size, the ring's first offset and the output end offset, exit status if the child already exited |
//! | `0x02` OUTPUT | holder → daemon | `u64` offset of the first byte in the session's output stream, then raw bytes |
//! | `0x03` EXIT   | holder → daemon | `u8` kind (0 exit code, 1 signal), `i32` value; sent once the last output was sent |
//! | `0x04` ACK    | holder → daemon | `u64` input sequence number, `u8` 1 = written to the pty / 0 = failed, then a UTF-8 error message |
//! | `0x05` RECORDING | holder → daemon | UTF-8 message: the recording failed (disk full, file-size limit, file gone) and stopped; the session goes on. HELLO repeats it for later connections |
//! | `0x10` ATTACH | daemon → holder | `u64` offset: send output from there (replay from the ring, clamped to its start), then live output |
//! | `0x11` INPUT  | daemon → holder | `u64` sequence number, then bytes to write to the pty (in order) |
//! | `0x12` RESIZE | daemon → holder | `u16` cols, `u16` rows |
//! | `0x13` KILL   | daemon → holder | `u32` grace in ms: SIGHUP+SIGTERM to the child's session, SIGKILL after the grace |
//! | `0x14` FORGET | daemon → holder | bytes: the screen was reset; drop the replay ring, keeping these bytes (the input modes) as its last bytes, so a later daemon does not rebuild the cleared screen. Older holders ignore it |
//! | `0x15` SNAPSHOT | daemon → holder | `u64` offset, then bytes that rebuild the daemon's screen and history as they stood at that offset: the ring keeps them in place of the raw output before it (unless that would not save anything), and replays them as the output just before the offset. Older holders ignore it |
//!
//! Ordering: HELLO is the first frame on every connection. The holder sends OUTPUT only after
//! ATTACH, in offset order, without gaps except where the ring no longer holds the requested
//! start (the daemon sees the jump in the offset). EXIT follows the last OUTPUT; then the
//! holder closes the socket, deletes it and exits. An unknown frame type from the daemon is
//! logged and ignored (a newer daemon may send frames an older holder does not know); a
//! malformed known frame closes the connection.
//!
//! Back-pressure: frames for the daemon go through a bounded queue. A daemon slower than the
//! child throttles it, as a local terminal would; one that reads nothing for a while (hung,
//! stopped) is dropped, the holder drains the pty on its own, and the daemon reconnects with
//! ATTACH from the last offset it saw, so nothing is lost while the ring covers the gap. The
//! recording is written regardless.
//!
//! Lifetime: the holder exits after its child exited and its output was drained (waiting at
//! most [`server::EXIT_DRAIN`] for background processes that keep the pty open), and, if no
//! daemon has the whole output yet (none attached since start, or one was dropped), after a
//! bounded wait for one to attach. Before exiting it writes `exit.json` atomically, so a
//! daemon that starts later still learns the exit status. If its session directory
//! disappears (the state dir was deleted), the session is unreachable forever, so the holder
//! stops the child and exits; it checks this only while no daemon is connected (a daemon
//! stops a session before deleting its directory), so a holder whose session is quiet wakes
//! for nothing.

pub mod client;
pub mod proto;
mod ring;
pub mod server;

use serde::{Deserialize, Serialize};

use crate::store::recording::RecordingLimits;

/// A fingerprint of the sources this binary was built from (see `build.rs`). `aegis-holder
/// --build-id` prints it, so the daemon runs only a holder built with it.
pub const BUILD_ID: &str = env!("AEGIS_BUILD_ID");

/// File names inside a session directory.
pub const SOCKET_FILE: &str = "holder.sock";
pub const EXIT_FILE: &str = "exit.json";
pub const LOG_FILE: &str = "holder.log";

/// What the daemon asks a holder to run (stdin of `aegis-holder`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HolderSpec {
    pub argv: Vec<String>,
    pub cwd: std::path::PathBuf,
    pub env: Vec<(String, String)>,
    pub cols: u16,
    pub rows: u16,
    /// Raw output kept for replay to a (re)connecting daemon.
    pub ring_bytes: usize,
    pub recording: RecordingLimits,
}

/// The one line a holder writes on stdout once it started its child (`{"pid": ..}`) or failed
/// to (`{"error": ..}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HolderAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// First frame on every connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    pub version: u32,
    pub pid: i32,
    pub cols: u16,
    pub rows: u16,
    /// Offset of the oldest byte still in the ring.
    pub ring_start: u64,
    /// Offset just past the last byte of output so far.
    pub output_end: u64,
    /// Why the recording stopped, if it did (absent from older holders: treated as none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_error: Option<String>,
}

/// `exit.json`: how the child ended, written by the holder before it exits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitRecord {
    /// Exit code, or 128 + signal.
    pub exit_code: i32,
    pub signal: Option<i32>,
}

impl ExitRecord {
    pub fn of(status: crate::pty::ExitStatus) -> Self {
        ExitRecord {
            exit_code: status.code(),
            signal: match status {
                crate::pty::ExitStatus::Signal(s) => Some(s),
                crate::pty::ExitStatus::Code(_) => None,
            },
        }
    }

    pub fn status(self) -> crate::pty::ExitStatus {
        match self.signal {
            Some(s) => crate::pty::ExitStatus::Signal(s),
            None => crate::pty::ExitStatus::Code(self.exit_code),
        }
    }
}

/// Read a session's `exit.json`, if the holder wrote one.
pub fn read_exit(dir: &std::path::Path) -> Option<ExitRecord> {
    let text = std::fs::read_to_string(dir.join(EXIT_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// `aegis-holder` (and `aegis holder`) flags.
#[derive(Debug, Clone, clap::Args)]
pub struct HolderArgs {
    /// The session directory (socket, recording, exit status live there).
    #[arg(long)]
    pub dir: std::path::PathBuf,
}
