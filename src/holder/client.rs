//! The daemon's side of a holder: start one (`spawn`), connect to one that is already
//! running (`attach`, after a daemon restart), and present either as a [`PtyProcess`] so the
//! session actor cannot tell a holder from a local pty.
//!
//! One link task per session owns the socket. It forwards OUTPUT to the actor's output
//! channel (skipping bytes it already delivered), INPUT and RESIZE from the actor to the
//! holder, and matches ACKs to pending writes. If the connection drops while the holder is
//! alive (it dropped a slow daemon), the link reconnects and resumes from the last offset. If
//! the holder is gone, the link reports the exit status from `exit.json` (or none, when the
//! holder died without writing one) and closes the output, which the actor reads as `exited`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot, watch};

use super::proto::{self, Frame};
use super::{Hello, HolderSpec, LOG_FILE, SOCKET_FILE};
use crate::pty::{ExitStatus, PtyControl, PtyProcess, SpawnSpec, WriteRequest};
use crate::store::recording::RecordingLimits;

/// How the daemon starts holders.
#[derive(Debug, Clone)]
pub struct HolderSettings {
    /// The state directory; sessions live in `sessions/<id>/` below it.
    pub state_dir: PathBuf,
    /// The program to run as a holder.
    pub program: HolderProgram,
    pub ring_bytes: usize,
    pub recording: RecordingLimits,
}

/// The program a daemon runs as a holder.
#[derive(Debug, Clone)]
pub struct HolderProgram {
    pub exe: PathBuf,
    /// `exe` is the full `aegis` binary: run its `holder` subcommand.
    pub subcommand: bool,
}

impl HolderProgram {
    /// `aegis-holder` next to the running binary (the small one, see
    /// `src/bin/aegis-holder.rs`) if it was built from the same sources, else the running
    /// binary's own `holder` subcommand.
    pub async fn locate() -> std::io::Result<HolderProgram> {
        let exe = std::env::current_exe()?;
        let small = exe.with_file_name("aegis-holder");
        if small.is_file() {
            let argv = [small.display().to_string(), "--build-id".to_owned()];
            let dir = exe.parent().unwrap_or(Path::new("/"));
            let answer = crate::pty::run::run(&argv, dir, &[], HANDSHAKE_TIMEOUT, 256).await;
            match answer {
                Ok(o) if o.success() && o.tail_text().trim() == super::BUILD_ID => {
                    return Ok(HolderProgram {
                        exe: small,
                        subcommand: false,
                    });
                }
                _ => tracing::warn!(
                    holder = %small.display(),
                    "aegis-holder was built from other sources than this daemon; running `aegis holder` instead"
                ),
            }
        }
        Ok(HolderProgram {
            exe,
            subcommand: true,
        })
    }
}

/// Raw output a holder keeps for replay by default. Enough to rebuild a full screen plus
/// vt100's scrollback for a typical TUI (a 160x48 full redraw with colours is ~30-60 KB);
/// the complete history is in the recording.
pub const DEFAULT_RING_BYTES: usize = 1024 * 1024;

/// Read buffer for the holder socket.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How long a new holder may take to start its child and answer.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Same bound as the local pty's output channel (see `pty::OUTPUT_CHANNEL_CHUNKS`).
const OUTPUT_CHANNEL_CHUNKS: usize = 64;
const WRITE_CHANNEL_REQUESTS: usize = 64;
const CONTROL_CHANNEL: usize = 16;

/// Reconnection attempts after a dropped connection, and the pause between them: a holder
/// that is alive accepts at once, so one second tells a live holder from a dead one.
const RECONNECT_ATTEMPTS: u32 = 20;
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

enum Control {
    Resize(u16, u16),
    Forget(Vec<u8>),
    /// A snapshot of the first `u64` bytes delivered (see `PtyControl::keep_snapshot`).
    Snapshot(u64, Vec<u8>),
}

struct HolderControl(mpsc::Sender<Control>);

impl PtyControl for HolderControl {
    fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        self.0
            .try_send(Control::Resize(cols, rows))
            .map_err(|e| std::io::Error::other(format!("holder link: {e}")))
    }

    fn forget_history(&self, prefix: &[u8]) -> std::io::Result<()> {
        self.0
            .try_send(Control::Forget(prefix.to_vec()))
            .map_err(|e| std::io::Error::other(format!("holder link: {e}")))
    }

    fn keep_snapshot(&self, processed: u64, snapshot: Vec<u8>) -> std::io::Result<()> {
        self.0
            .try_send(Control::Snapshot(processed, snapshot))
            .map_err(|e| std::io::Error::other(format!("holder link: {e}")))
    }
}

/// A control for a session whose holder is gone: resizing does nothing.
struct NoControl;

impl PtyControl for NoControl {
    fn resize(&self, _: u16, _: u16) -> std::io::Result<()> {
        Ok(())
    }
}

/// Start a holder for session `dir` running `spec`, and connect to it.
pub async fn spawn(
    settings: &HolderSettings,
    dir: &Path,
    spec: &SpawnSpec,
) -> std::io::Result<PtyProcess> {
    crate::store::check_socket_path(&dir.join(SOCKET_FILE), "the holder socket")
        .map_err(std::io::Error::other)?;
    crate::store::create_private_dir(dir)?;
    let holder_spec = HolderSpec {
        argv: spec.argv.clone(),
        cwd: spec.cwd.clone(),
        env: spec.env.clone(),
        cols: spec.cols,
        rows: spec.rows,
        ring_bytes: settings.ring_bytes,
        recording: settings.recording.clone(),
    };
    let program = settings.program.clone();
    let d = dir.to_path_buf();
    let handshake = tokio::task::spawn_blocking(move || start_holder(&program, &d, &holder_spec));
    let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| std::io::Error::other("holder did not answer in time"))?
        .map_err(std::io::Error::other)??;
    if let Some(err) = answer.error {
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, err));
    }
    attach(dir, false).await.map(|(p, _)| p)
}

/// Run the holder program with `--dir <dir>`, feed it the spec, read its one-line answer.
fn start_holder(
    program: &HolderProgram,
    dir: &Path,
    spec: &HolderSpec,
) -> std::io::Result<super::HolderAnswer> {
    // 0600 like every state file (SECURITY.md); found by security::state_dir_is_0700_and_its_files_private.
    let log = std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new().create(true).append(true),
        0o600,
    )
    .open(dir.join(LOG_FILE))?;
    // The holder is the one other program the daemon starts directly: the same binary, from a
    // fixed argv, never user text.
    #[allow(clippy::disallowed_methods)]
    let mut child = std::process::Command::new(&program.exe)
        .args(program.subcommand.then_some("holder"))
        .arg("--dir")
        .arg(dir)
        .env("AEGIS_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()?;
    let spec_json = serde_json::to_vec(spec).map_err(std::io::Error::other)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&spec_json)?;
    }
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        BufReader::new(stdout).read_line(&mut line)?;
    }
    // The holder's exit status is collected by the daemon's reaper (it is our child until we
    // exit); dropping the handle neither waits nor kills.
    drop(child);
    serde_json::from_str(line.trim()).map_err(|e| {
        std::io::Error::other(format!(
            "holder failed to start (answer {line:?}: {e}); see {}",
            dir.join(LOG_FILE).display()
        ))
    })
}

/// Connect to the holder of session `dir`. With `replay`, everything still in the holder's
/// ring is returned in [`PtyProcess::replay`] (to rebuild the screen after a restart); without
/// it, all output from offset 0 is delivered as live output (a freshly spawned session).
pub async fn attach(dir: &Path, replay: bool) -> std::io::Result<(PtyProcess, Hello)> {
    let stream = UnixStream::connect(dir.join(SOCKET_FILE)).await?;
    let (mut rd, mut wr) = stream.into_split();
    let hello = read_hello(&mut rd).await?;
    let from = if replay { hello.ring_start } else { 0 };
    proto::write_frame(&mut wr, &Frame::with_u64(proto::ATTACH, from, &[])).await?;
    let mut replayed = Vec::new();
    let mut seen = from;
    let mut early = Vec::new();
    if replay {
        while seen < hello.output_end {
            let Some(f) = proto::read_frame(&mut rd).await? else {
                break;
            };
            if f.kind != proto::OUTPUT {
                early.push(f);
                break;
            }
            let (off, bytes) = f.split_u64().ok_or_else(bad_frame)?;
            replayed.extend_from_slice(bytes);
            seen = off + bytes.len() as u64;
        }
    }
    let (out_tx, out_rx) = mpsc::channel(OUTPUT_CHANNEL_CHUNKS);
    let (in_tx, in_rx) = mpsc::channel(WRITE_CHANNEL_REQUESTS);
    let (ctl_tx, ctl_rx) = mpsc::channel(CONTROL_CHANNEL);
    let (exit_tx, exit_rx) = oneshot::channel();
    let (recording_tx, recording_rx) = watch::channel(hello.recording_error.clone());
    let link = Link {
        dir: dir.to_path_buf(),
        out: out_tx,
        exit: Some(exit_tx),
        recording: recording_tx,
        delivered: Delivered::new(seen - replayed.len() as u64, replayed.len() as u64),
        seen,
        pending: HashMap::new(),
        next_seq: 1,
    };
    tokio::spawn(link.run(rd, wr, early, in_rx, ctl_rx));
    let process = PtyProcess {
        pid: hello.pid,
        control: Box::new(HolderControl(ctl_tx)),
        cols: hello.cols,
        rows: hello.rows,
        output: out_rx,
        writer: in_tx,
        exit: exit_rx,
        replay: replayed,
        output_offset: seen,
        recording_error: recording_rx,
    };
    Ok((process, hello))
}

/// A process for a session whose holder is gone: no output, exit status already known.
pub fn dead(
    pid: i32,
    cols: u16,
    rows: u16,
    status: Option<ExitStatus>,
    replay: Vec<u8>,
) -> PtyProcess {
    let (_, out_rx) = mpsc::channel(1);
    let (in_tx, _) = mpsc::channel(1);
    let (exit_tx, exit_rx) = oneshot::channel();
    if let Some(s) = status {
        let _ = exit_tx.send(s);
    }
    PtyProcess {
        pid,
        control: Box::new(NoControl),
        cols,
        rows,
        output: out_rx,
        writer: in_tx,
        exit: exit_rx,
        replay,
        output_offset: 0,
        recording_error: watch::channel(None).1,
    }
}

fn bad_frame() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "malformed frame from holder",
    )
}

async fn read_hello(rd: &mut tokio::net::unix::OwnedReadHalf) -> std::io::Result<Hello> {
    let f = proto::read_frame(rd)
        .await?
        .ok_or_else(|| std::io::Error::other("holder closed before HELLO"))?;
    if f.kind != proto::HELLO {
        return Err(bad_frame());
    }
    let hello: Hello = serde_json::from_slice(&f.payload).map_err(|_| bad_frame())?;
    if hello.version != proto::PROTOCOL_VERSION {
        return Err(std::io::Error::other(format!(
            "holder speaks protocol {}, this daemon {}",
            hello.version,
            proto::PROTOCOL_VERSION
        )));
    }
    Ok(hello)
}

struct Link {
    dir: PathBuf,
    out: mpsc::Sender<Vec<u8>>,
    exit: Option<oneshot::Sender<ExitStatus>>,
    /// Why the holder's recording stopped (RECORDING frames, and HELLO on every connection).
    recording: watch::Sender<Option<String>>,
    /// Offset just past the last output byte delivered to the actor.
    seen: u64,
    /// Where the delivered bytes sit in the stream: they are contiguous except after a
    /// reconnection that the ring could no longer cover.
    delivered: Delivered,
    pending: HashMap<u64, oneshot::Sender<Result<(), String>>>,
    next_seq: u64,
}

/// The stream offsets of the bytes a link delivered to its session: runs of contiguous
/// output, each starting at a count of delivered bytes. A new run starts only where output
/// jumped (the ring no longer covered a reconnection), so there are few.
struct Delivered {
    /// (bytes delivered before the run, stream offset of its first byte), oldest first.
    runs: Vec<(u64, u64)>,
    /// Bytes delivered so far.
    total: u64,
}

impl Delivered {
    /// `initial` bytes already delivered (the replay handed over at attach), from `offset`.
    fn new(offset: u64, initial: u64) -> Delivered {
        Delivered {
            runs: vec![(0, offset)],
            total: initial,
        }
    }

    /// Bytes `from..end` of the stream were delivered.
    fn push(&mut self, from: u64, end: u64) {
        if self.offset_of(self.total) != Some(from) {
            self.runs.push((self.total, from));
            // The session only ever asks about recent counts; the oldest runs can go.
            if self.runs.len() > 8 {
                self.runs.remove(0);
            }
        }
        self.total += end - from;
    }

    /// The stream offset just past the first `count` delivered bytes.
    fn offset_of(&self, count: u64) -> Option<u64> {
        if count > self.total {
            return None;
        }
        let &(at, offset) = self.runs.iter().rev().find(|(at, _)| *at <= count)?;
        Some(offset + (count - at))
    }
}

/// Why one connection ended.
enum Ended {
    /// The actor is gone, or the holder reported the exit: stop.
    Done,
    /// The socket closed or failed: reconnect if the holder is still there.
    Lost,
}

impl Link {
    async fn run(
        mut self,
        rd: tokio::net::unix::OwnedReadHalf,
        wr: OwnedWriteHalf,
        early: Vec<Frame>,
        mut writes: mpsc::Receiver<WriteRequest>,
        mut ctl: mpsc::Receiver<Control>,
    ) {
        let mut conn = Some((rd, wr, early));
        loop {
            let Some((rd, wr, early)) = conn.take() else {
                break;
            };
            match self.pump(rd, wr, early, &mut writes, &mut ctl).await {
                Ended::Done => return,
                Ended::Lost => {}
            }
            for (_, ack) in self.pending.drain() {
                let _ = ack.send(Err("connection to the holder was lost".into()));
            }
            conn = self.reconnect().await;
        }
        // The holder is gone without an EXIT frame (killed, or exited while we were away).
        let status = super::read_exit(&self.dir).map(super::ExitRecord::status);
        tracing::info!(dir = %self.dir.display(), ?status, "holder is gone");
        if let (Some(tx), Some(s)) = (self.exit.take(), status) {
            let _ = tx.send(s);
        }
    }

    async fn reconnect(
        &mut self,
    ) -> Option<(tokio::net::unix::OwnedReadHalf, OwnedWriteHalf, Vec<Frame>)> {
        for _ in 0..RECONNECT_ATTEMPTS {
            if let Ok(stream) = UnixStream::connect(self.dir.join(SOCKET_FILE)).await {
                let (mut rd, mut wr) = stream.into_split();
                if let Ok(hello) = read_hello(&mut rd).await {
                    if hello.recording_error.is_some() {
                        self.recording.send_replace(hello.recording_error);
                    }
                    let attach = Frame::with_u64(proto::ATTACH, self.seen, &[]);
                    if proto::write_frame(&mut wr, &attach).await.is_ok() {
                        tracing::info!(dir = %self.dir.display(), offset = self.seen, "reconnected to holder");
                        return Some((rd, wr, Vec::new()));
                    }
                }
            }
            if !self.dir.join(SOCKET_FILE).exists() {
                return None;
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
        None
    }

    async fn pump(
        &mut self,
        rd: tokio::net::unix::OwnedReadHalf,
        mut wr: OwnedWriteHalf,
        early: Vec<Frame>,
        writes: &mut mpsc::Receiver<WriteRequest>,
        ctl: &mut mpsc::Receiver<Control>,
    ) -> Ended {
        // Frames are read on their own task: `read_frame` is not cancel-safe inside select!.
        let (in_tx, mut incoming) = mpsc::channel::<Frame>(16);
        let reader = tokio::spawn(async move {
            // Buffered: a frame is read with one syscall (often several frames with one),
            // not three.
            let mut rd = tokio::io::BufReader::with_capacity(READ_BUFFER_BYTES, rd);
            while let Ok(Some(f)) = proto::read_frame(&mut rd).await {
                if in_tx.send(f).await.is_err() {
                    break;
                }
            }
        });
        for f in early {
            if let Some(end) = self.on_frame(f).await {
                reader.abort();
                return end;
            }
        }
        let ended = loop {
            tokio::select! {
                f = incoming.recv() => match f {
                    Some(f) => if let Some(end) = self.on_frame(f).await { break end },
                    None => break Ended::Lost,
                },
                w = writes.recv() => match w {
                    Some(req) => {
                        let seq = self.next_seq;
                        self.next_seq += 1;
                        if let Some(ack) = req.ack {
                            self.pending.insert(seq, ack);
                        }
                        let f = Frame::with_u64(proto::INPUT, seq, &req.bytes);
                        if proto::write_frame(&mut wr, &f).await.is_err() {
                            break Ended::Lost;
                        }
                    }
                    None => break Ended::Done,
                },
                c = ctl.recv() => match c {
                    Some(Control::Resize(cols, rows)) => {
                        let mut p = cols.to_be_bytes().to_vec();
                        p.extend_from_slice(&rows.to_be_bytes());
                        if proto::write_frame(&mut wr, &Frame::new(proto::RESIZE, p)).await.is_err() {
                            break Ended::Lost;
                        }
                    }
                    Some(Control::Snapshot(processed, snapshot)) => {
                        // Only as the replay of output the holder still has (see
                        // `Ring::take_snapshot`), and only if it stays a valid frame.
                        let Some(at) = self.delivered.offset_of(processed) else { continue };
                        if snapshot.len() as u64 > at || snapshot.len() + 8 > proto::MAX_FRAME_BYTES {
                            continue;
                        }
                        if proto::write_frame(&mut wr, &Frame::with_u64(proto::SNAPSHOT, at, &snapshot)).await.is_err() {
                            break Ended::Lost;
                        }
                    }
                    Some(Control::Forget(prefix)) => {
                        if proto::write_frame(&mut wr, &Frame::new(proto::FORGET, prefix)).await.is_err() {
                            break Ended::Lost;
                        }
                    }
                    None => break Ended::Done,
                },
            }
        };
        reader.abort();
        ended
    }

    /// Handle one frame from the holder; `Some` ends the connection.
    async fn on_frame(&mut self, f: Frame) -> Option<Ended> {
        match f.kind {
            proto::OUTPUT => {
                let Some((off, bytes)) = f.split_u64() else {
                    return Some(Ended::Lost);
                };
                let end = off + bytes.len() as u64;
                if end <= self.seen {
                    return None;
                }
                let skip = self.seen.saturating_sub(off) as usize;
                self.delivered.push(off + skip as u64, end);
                self.seen = end;
                // The payload minus its offset header becomes the chunk (moved, not copied).
                let mut chunk = f.payload;
                chunk.drain(..8 + skip);
                // The actor always drains its output channel, so this wait is short.
                if self.out.send(chunk).await.is_err() {
                    return Some(Ended::Done);
                }
                None
            }
            proto::EXIT => {
                if let (Some(tx), Some(s)) = (self.exit.take(), proto::decode_exit(&f.payload)) {
                    let _ = tx.send(s);
                }
                Some(Ended::Done)
            }
            proto::ACK => {
                let (seq, rest) = f.split_u64()?;
                if let Some(ack) = self.pending.remove(&seq) {
                    let result =
                        match rest.first() {
                            Some(1) => Ok(()),
                            _ => Err(String::from_utf8_lossy(rest.get(1..).unwrap_or_default())
                                .into_owned()),
                        };
                    let _ = ack.send(result);
                }
                None
            }
            proto::RECORDING => {
                let msg = String::from_utf8_lossy(&f.payload).into_owned();
                self.recording.send_replace(Some(msg));
                None
            }
            other => {
                tracing::warn!(frame = other, "unknown frame type from holder; ignored");
                None
            }
        }
    }
}
