//! The holder process: owns one session's pty and child, its output ring and its recording,
//! and serves the daemon over a unix socket. The protocol is specified in [`crate::holder`].
//!
//! One current-thread tokio runtime plus the pty's reader and writer threads: the holder
//! does little work per byte (copy into the ring, append to the recording, forward), so a
//! single thread keeps its footprint small. Architecture invariant: the main loop never
//! awaits the daemon or the child's input side; it only drains output, so the child never
//! blocks on a full pty while a daemon is slow, stopped or absent.
//!
//! Length: one concept, the holder's event loop and the handlers of what it selects on; split,
//! the invariant above would have to be kept across files.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::proto::{self, Frame};
use super::ring::Ring;
use super::{EXIT_FILE, ExitRecord, Hello, HolderAnswer, HolderArgs, HolderSpec, SOCKET_FILE};
use crate::pty::{self, ExitStatus, PtyProcess, SpawnSpec, WriteRequest};
use crate::store::recording::Recorder;

/// How long to keep draining the pty after the child exited without new output: a background
/// process that inherited the terminal can keep it open indefinitely (same bound as the
/// session actor, but counted from the last chunk, since the holder may lag behind).
pub const EXIT_DRAIN: Duration = Duration::from_millis(500);

/// Frames queued for the daemon (output and control frames; output is further bounded by
/// [`QUEUED_OUTPUT_BYTES`], so acknowledgements always find room).
const CLIENT_QUEUE_FRAMES: usize = 256;

/// Output bytes queued for the daemon but not yet written to its socket. A daemon slower than
/// the child throttles it once this much is waiting, and a holder that exits writes out at
/// most this much in its goodbye window ([`GOODBYE_WAIT`]).
const QUEUED_OUTPUT_BYTES: usize = 1024 * 1024;

/// How long the holder waits for a daemon whose queue is full. A daemon that is merely
/// slower than the child (parsing a flood) throttles it, as a local pty would; one that does
/// not drain anything for this long is hung, and the holder drops it and goes back to
/// draining the pty on its own (the daemon resumes from its offset when it recovers).
const SLOW_DAEMON: Duration = Duration::from_secs(5);

/// Inputs waiting to be written to the pty. A daemon flooding a child that does not read its
/// input gets failed ACKs past this, instead of growing the holder.
const INPUT_QUEUE: usize = 1024;

/// A pty read at least this large means the child is printing faster than we read (the
/// kernel hands out at most 4 KiB per read); see [`FLOOD_GATHER`].
const FLOOD_READ_BYTES: usize = 2048;

/// How long the holder lets a flood accumulate before sending it on, unless this many reads
/// are already queued: a millisecond of a flood is ~80 KB, so batches fill up, and the
/// delay never touches interactive output.
const FLOOD_GATHER: Duration = Duration::from_millis(1);
const FLOOD_QUEUED_READS: usize = 8;

/// Output gathered into one batch (pty reads queued while the previous batch was being
/// recorded and sent): at most one pty read's size, so an OUTPUT frame stays within the
/// 64 KiB the daemon's queues are sized for.
const OUTPUT_BATCH_BYTES: usize = 64 * 1024;

/// Room kept at the start of a batch for the OUTPUT frame's offset.
const BATCH_HEADER: usize = 8;

/// How often the holder checks that its session directory still exists, while no daemon is
/// connected. A connected daemon stops the session (KILL) before it deletes the directory, so
/// the check is for a state directory deleted behind a daemon that is gone; checking only then
/// lets an idle holder with a daemon sleep until something happens, with no timer at all
/// (this poll and the reaper's woke each holder about once a second: ~5% of a core for 1000
/// holders, `cargo bench --bench compare`, workload 4).
const ORPHAN_CHECK: Duration = Duration::from_secs(5);

/// How long a holder whose child already exited waits for a daemon to attach: the daemon that
/// started it (so a program that exits at once is still reported with its output and status),
/// or one the holder dropped for being slow (so it can fetch the tail of a flood before the
/// holder, and with it that output, is gone).
const DAEMON_WAIT: Duration = Duration::from_secs(10);

/// How long the holder waits, before exiting, for the daemon to read anything more of what is
/// still queued for it (the tail of the output and the EXIT frame). A daemon that is slowly
/// working through a flood keeps reading and gets all of it; one that reads nothing for this
/// long is hung, and would get the rest from the recording.
const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// Entry point of `aegis-holder` and of `aegis holder`: logs to stderr (the session's
/// `holder.log`), then [`run`].
pub fn main(args: HolderArgs) -> anyhow::Result<()> {
    crate::logs::to_stderr(crate::logs::filter_from_env("info"));
    run(args)
}

/// Read the spec from stdin, detach, run until the child exited.
pub fn run(args: HolderArgs) -> anyhow::Result<()> {
    // Before any thread starts (see `allocator::one_arena`).
    crate::allocator::one_arena();
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
        .context("reading the holder spec from stdin")?;
    let spec: HolderSpec = match serde_json::from_str(&input) {
        Ok(s) => s,
        Err(e) => {
            answer(&HolderAnswer {
                error: Some(format!("invalid holder spec: {e}")),
                ..HolderAnswer::default()
            });
            anyhow::bail!("invalid holder spec: {e}");
        }
    };
    // Leave the daemon's session and process group: a terminal hangup or a signal to the
    // daemon's group must not reach the holder. Fails only if we already lead a group.
    if let Err(e) = nix::unistd::setsid() {
        tracing::warn!(error = %e, "setsid failed; holder stays in the daemon's session");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(args.dir, spec))
}

/// The one handshake line on stdout.
fn answer(a: &HolderAnswer) {
    let line = serde_json::to_string(a).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A frame for the daemon, with the share of [`QUEUED_OUTPUT_BYTES`] it holds until written.
type Outbound = (Frame, Option<tokio::sync::OwnedSemaphorePermit>);

/// The connected daemon.
struct Client {
    id: u64,
    tx: mpsc::Sender<Outbound>,
    /// Output bytes that may still be queued (see [`QUEUED_OUTPUT_BYTES`]).
    budget: std::sync::Arc<tokio::sync::Semaphore>,
    /// Sent ATTACH: receives live output.
    attached: bool,
    /// The daemon closed its end (or sent garbage): it is gone, though the connection is
    /// only dropped once a write to it fails, as before (see [`Holder::drop_client`]).
    closed: bool,
    writer: tokio::task::JoinHandle<()>,
}

struct Holder {
    dir: PathBuf,
    pid: i32,
    cols: u16,
    rows: u16,
    ring: Ring,
    recorder: Option<Recorder>,
    /// Why the recording stopped (told to every daemon that connects, see `RECORDING`).
    recording_error: Option<String>,
    client: Option<Client>,
    next_client: u64,
    inputs: mpsc::Sender<(u64, Vec<u8>, mpsc::Sender<Outbound>)>,
    control: Box<dyn pty::PtyControl>,
    exit: Option<ExitStatus>,
    /// Until when an exited holder stays for a daemon to attach; `None` once one has attached
    /// and nothing it is owed was lost (see [`DAEMON_WAIT`]).
    wait_for_daemon_until: Option<Instant>,
}

async fn serve(dir: PathBuf, spec: HolderSpec) -> anyhow::Result<()> {
    pty::reaper::become_subreaper();
    // A full quota must stop the recording, not the holder (and with it the session).
    pty::survive_file_size_limit();
    let process = match pty::spawn(&SpawnSpec {
        argv: spec.argv.clone(),
        cwd: spec.cwd.clone(),
        env: spec.env.clone(),
        cols: spec.cols,
        rows: spec.rows,
    }) {
        Ok(p) => p,
        Err(e) => {
            answer(&HolderAnswer {
                error: Some(e.to_string()),
                ..HolderAnswer::default()
            });
            return Err(e.into());
        }
    };
    let (recorder, recording_error) =
        match Recorder::create(&dir, spec.recording.clone(), spec.cols, spec.rows) {
            Ok(r) => (Some(r), None),
            Err(e) => {
                tracing::error!(error = %e, "cannot create the recording; continuing without it");
                (None, Some(format!("cannot create the recording: {e}")))
            }
        };
    let sock = dir.join(SOCKET_FILE);
    let _ = std::fs::remove_file(&sock);
    let listener =
        UnixListener::bind(&sock).with_context(|| format!("binding {}", sock.display()))?;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))?;
    answer(&HolderAnswer {
        pid: Some(process.pid),
        ..HolderAnswer::default()
    });
    tracing::info!(pid = process.pid, "holder running");

    let PtyProcess {
        pid,
        control,
        cols,
        rows,
        mut output,
        writer,
        exit,
        ..
    } = process;
    let (input_tx, input_rx) = mpsc::channel(INPUT_QUEUE);
    tokio::spawn(write_inputs(writer, input_rx));
    let mut h = Holder {
        dir: dir.clone(),
        pid,
        cols,
        rows,
        ring: Ring::new(spec.ring_bytes.max(4096)),
        recorder,
        recording_error,
        client: None,
        next_client: 0,
        inputs: input_tx,
        control,
        exit: None,
        // A child that exits at once must still be seen by the daemon that started it.
        wait_for_daemon_until: Some(Instant::now() + DAEMON_WAIT),
    };
    let (frames_tx, mut frames_rx) = mpsc::channel::<(u64, Option<Frame>)>(64);
    let mut exit_rx = Some(exit);
    let mut output_open = true;
    let mut drain_deadline: Option<Instant> = None;
    // Polled only while no daemon is connected (see [`ORPHAN_CHECK`]); first due at once.
    let mut orphan_check = tokio::time::interval(ORPHAN_CHECK);
    orphan_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut told_waiting = false;

    loop {
        let now = Instant::now();
        let drained = !output_open || drain_deadline.is_some_and(|d| now >= d);
        let seen = h.wait_for_daemon_until.is_none_or(|d| now >= d);
        if h.exit.is_some() && drained {
            if seen {
                break;
            }
            if !told_waiting {
                told_waiting = true;
                tracing::info!("child exited; waiting for the daemon to attach");
            }
        }
        // The next moment the exit condition can change without an event.
        let wake = match (h.exit.is_some(), drained) {
            (false, _) => None,
            (true, false) => drain_deadline,
            (true, true) => h.wait_for_daemon_until,
        };
        tokio::select! {
            chunk = output.recv(), if output_open => match chunk {
                Some(first) => {
                    // A large read means a flood: let the reader queue more for a moment,
                    // so the batch below is one recording write and one frame for many
                    // reads (interactive output, which comes in small reads, is not delayed).
                    if first.len() >= FLOOD_READ_BYTES && output.len() < FLOOD_QUEUED_READS {
                        tokio::time::sleep(FLOOD_GATHER).await;
                    }
                    // Take what the reader queued meanwhile too: one ring append, one
                    // recording write and one frame per batch instead of per pty read.
                    let mut batch = output_batch(&first, output.len());
                    while batch.len() < BATCH_HEADER + OUTPUT_BATCH_BYTES {
                        let room = BATCH_HEADER + OUTPUT_BATCH_BYTES - batch.len();
                        match output.try_recv() {
                            Ok(more) if more.len() <= room => batch.extend_from_slice(&more),
                            Ok(more) => {
                                // Does not fit: it is the next batch's start.
                                h.on_output(batch).await;
                                batch = output_batch(&more, output.len());
                            }
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => {
                                output_open = false;
                                break;
                            }
                        }
                    }
                    h.on_output(batch).await;
                    // Still producing after the exit: the holder may have been held back by a
                    // slow daemon, so the drain window counts from the last chunk.
                    if h.exit.is_some() {
                        drain_deadline = Some(Instant::now() + EXIT_DRAIN);
                    }
                }
                None => output_open = false,
            },
            status = async { match exit_rx.as_mut() { Some(rx) => rx.await.ok(), None => std::future::pending().await } } => {
                exit_rx = None;
                // No status means the reaper lost it; report a plain failure rather than hang.
                h.exit = Some(status.unwrap_or(ExitStatus::Code(1)));
                drain_deadline = Some(Instant::now() + EXIT_DRAIN);
            }
            _ = async { match wake { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {}
            conn = listener.accept() => match conn {
                Ok((stream, _)) => h.on_connect(stream, frames_tx.clone()),
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            Some((conn, frame)) = frames_rx.recv() => match frame {
                Some(frame) => h.on_frame(conn, frame).await,
                None => {
                    if h.on_closed(conn) {
                        // Check at once, then every ORPHAN_CHECK until a daemon is back.
                        orphan_check.reset_immediately();
                    }
                }
            },
            _ = orphan_check.tick(), if !h.daemon_connected() => {
                if !sock.exists() {
                    tracing::warn!("session directory is gone; stopping the orphaned session");
                    pty::kill_session(pid, pty::KILL_GRACE).await;
                    return Ok(());
                }
            }
        }
    }
    h.finish().await;
    Ok(())
}

/// A batch of output starting with `first`, with room for `queued` more reads (at most a
/// batch): [`BATCH_HEADER`] bytes for the frame's offset, then the output. Sized up front, so
/// gathering a flood's reads never copies the batch to grow it.
fn output_batch(first: &[u8], queued: usize) -> Vec<u8> {
    let room = first.len() + queued.saturating_mul(pty::READ_BUFFER_BYTES);
    let mut batch = Vec::with_capacity(BATCH_HEADER + room.min(OUTPUT_BATCH_BYTES));
    batch.extend_from_slice(&[0; BATCH_HEADER]);
    batch.extend_from_slice(first);
    batch
}

/// Write inputs in order; acknowledge each to the connection that sent it.
async fn write_inputs(
    writer: mpsc::Sender<WriteRequest>,
    mut rx: mpsc::Receiver<(u64, Vec<u8>, mpsc::Sender<Outbound>)>,
) {
    while let Some((seq, bytes, reply)) = rx.recv().await {
        let (ack, acked) = oneshot::channel();
        let result = match writer
            .send(WriteRequest {
                bytes,
                ack: Some(ack),
            })
            .await
        {
            Ok(()) => acked
                .await
                .unwrap_or_else(|_| Err("pty writer is gone".into())),
            Err(_) => Err("pty writer is gone".into()),
        };
        let _ = reply.try_send((ack_frame(seq, result), None));
    }
}

fn ack_frame(seq: u64, result: Result<(), String>) -> Frame {
    let mut rest = vec![u8::from(result.is_ok())];
    if let Err(e) = result {
        rest.extend_from_slice(e.as_bytes());
    }
    Frame::with_u64(proto::ACK, seq, &rest)
}

impl Holder {
    /// A batch of output (see [`output_batch`]): into the ring and the recording, and to the
    /// daemon as the payload of an OUTPUT frame, which is the batch itself, not a copy.
    async fn on_output(&mut self, mut batch: Vec<u8>) {
        let offset = self.ring.end();
        let bytes = &batch[BATCH_HEADER..];
        self.ring.push(bytes);
        if let Some(r) = self.recorder.as_mut() {
            // Flushed per chunk: a holder killed with SIGKILL loses nothing already read.
            if let Err(e) = r.output(bytes).and_then(|()| r.flush()) {
                self.stop_recording(&e);
            }
        }
        if self.client.as_ref().is_some_and(|c| c.attached) {
            batch[..BATCH_HEADER].copy_from_slice(&offset.to_be_bytes());
            self.send_wait(Frame::new(proto::OUTPUT, batch)).await;
        }
    }

    /// The recording could not be written: it stops, the session goes on, the daemon is told.
    fn stop_recording(&mut self, e: &std::io::Error) {
        tracing::error!(error = %e, "recording write failed; recording stopped");
        self.recorder = None;
        let msg = format!("recording write failed: {e}");
        self.send(Frame::new(proto::RECORDING, msg.clone().into_bytes()));
        self.recording_error = Some(msg);
    }

    /// Output went quiet (the daemon sends a snapshot only then): give back what the burst
    /// before used, so a quiet session costs what it holds, not its last burst's peak.
    fn settle(&mut self) {
        if let Some(Err(e)) = self.recorder.as_mut().map(Recorder::release_memory) {
            self.stop_recording(&e);
        }
        crate::allocator::give_back();
    }

    /// Queue an output frame, waiting up to [`SLOW_DAEMON`] for room.
    async fn send_wait(&mut self, frame: Frame) {
        let Some(c) = self.client.as_ref() else {
            return;
        };
        let (tx, budget) = (c.tx.clone(), c.budget.clone());
        let n = u32::try_from(frame.payload.len().min(QUEUED_OUTPUT_BYTES)).unwrap_or(u32::MAX);
        let queued = async move {
            let permit = budget.acquire_many_owned(n).await.ok()?;
            tx.send((frame, Some(permit))).await.ok()
        };
        if tokio::time::timeout(SLOW_DAEMON, queued)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            self.drop_client("the daemon stopped reading");
        }
    }

    /// Queue a control frame for the daemon; drop the daemon if it is not keeping up.
    fn send(&mut self, frame: Frame) {
        let Some(c) = self.client.as_ref() else {
            return;
        };
        if c.tx.try_send((frame, None)).is_err() {
            self.drop_client("the daemon is not reading");
        }
    }

    /// Whether a daemon holds an open connection (see [`ORPHAN_CHECK`]).
    fn daemon_connected(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.closed)
    }

    /// Connection `conn` was closed by the daemon. True if it was the current one.
    fn on_closed(&mut self, conn: u64) -> bool {
        match self.client.as_mut().filter(|c| c.id == conn) {
            Some(c) => {
                c.closed = true;
                true
            }
            None => false,
        }
    }

    fn on_connect(&mut self, stream: UnixStream, frames: mpsc::Sender<(u64, Option<Frame>)>) {
        self.next_client += 1;
        let id = self.next_client;
        let (mut rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Outbound>(CLIENT_QUEUE_FRAMES);
        let writer = tokio::spawn(async move {
            // Each output frame's permit is released once it is written.
            while let Some((f, _permit)) = rx.recv().await {
                if proto::write_frame(&mut wr, &f).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            loop {
                match proto::read_frame(&mut rd).await {
                    Ok(Some(f)) => {
                        if frames.send((id, Some(f))).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "bad frame from the daemon; closing");
                        break;
                    }
                }
            }
            let _ = frames.send((id, None)).await;
        });
        if let Some(old) = self.client.take() {
            tracing::info!("a new daemon connected; replacing the previous connection");
            old.writer.abort();
        }
        self.client = Some(Client {
            id,
            tx,
            budget: std::sync::Arc::new(tokio::sync::Semaphore::new(QUEUED_OUTPUT_BYTES)),
            attached: false,
            closed: false,
            writer,
        });
        let hello = Hello {
            version: proto::PROTOCOL_VERSION,
            pid: self.pid,
            cols: self.cols,
            rows: self.rows,
            ring_start: self.ring.start(),
            output_end: self.ring.end(),
            recording_error: self.recording_error.clone(),
        };
        // Serializing a struct of integers cannot fail.
        let payload = serde_json::to_vec(&hello).unwrap_or_default();
        self.send(Frame::new(proto::HELLO, payload));
        tracing::info!(connection = id, "daemon connected");
    }

    async fn on_frame(&mut self, conn: u64, frame: Frame) {
        let Some(client) = self.client.as_ref().filter(|c| c.id == conn) else {
            return; // a replaced connection
        };
        let reply = client.tx.clone();
        match frame.kind {
            proto::ATTACH => {
                let Some((from, _)) = frame.split_u64() else {
                    return self.drop_client("malformed ATTACH");
                };
                for f in self.ring.replay(from) {
                    self.send_wait(f).await;
                }
                if let Some(c) = self.client.as_mut() {
                    c.attached = true;
                    self.wait_for_daemon_until = None;
                }
            }
            proto::INPUT => {
                let Some((seq, bytes)) = frame.split_u64() else {
                    return self.drop_client("malformed INPUT");
                };
                if let Some(r) = self.recorder.as_mut() {
                    let _ = r.input(bytes).and_then(|()| r.flush());
                }
                let item = (seq, bytes.to_vec(), reply.clone());
                if self.inputs.try_send(item).is_err() {
                    let _ = reply.try_send((
                        ack_frame(seq, Err("holder input queue is full".into())),
                        None,
                    ));
                }
            }
            proto::RESIZE => {
                let p = &frame.payload;
                if p.len() != 4 {
                    return self.drop_client("malformed RESIZE");
                }
                let cols = u16::from_be_bytes([p[0], p[1]]);
                let rows = u16::from_be_bytes([p[2], p[3]]);
                if let Err(e) = self.control.resize(cols, rows) {
                    tracing::warn!(error = %e, "TIOCSWINSZ failed");
                }
                self.cols = cols;
                self.rows = rows;
                if let Some(r) = self.recorder.as_mut() {
                    let _ = r.resize(cols, rows).and_then(|()| r.flush());
                }
            }
            proto::KILL => {
                let grace = frame
                    .payload
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes)
                    .unwrap_or(2000);
                let pid = self.pid;
                tokio::spawn(pty::kill_session(
                    pid,
                    Duration::from_millis(u64::from(grace)),
                ));
            }
            proto::FORGET => self.ring.forget(&frame.payload),
            proto::SNAPSHOT => {
                let Some((at, _)) = frame.split_u64() else {
                    return self.drop_client("malformed SNAPSHOT");
                };
                // The payload after the offset is the snapshot: kept as it is, not copied.
                let mut snapshot = frame.payload;
                snapshot.drain(..8);
                let snapshot_bytes = snapshot.len();
                if self.ring.take_snapshot(at, snapshot) {
                    tracing::info!(
                        at,
                        snapshot_bytes,
                        held_bytes = self.ring.held(),
                        "replay ring compacted to a snapshot"
                    );
                    self.settle();
                }
            }
            other => tracing::warn!(frame = other, "unknown frame type from the daemon; ignored"),
        }
    }

    /// Close the daemon's connection. It reconnects and resumes from its offset, so an exited
    /// child's holder waits for it (bounded) rather than leave with output it never got.
    fn drop_client(&mut self, why: &str) {
        tracing::warn!(why, "closing the daemon connection");
        if let Some(c) = self.client.take() {
            c.writer.abort();
            if c.attached {
                self.wait_for_daemon_until = Some(Instant::now() + DAEMON_WAIT);
            }
        }
    }

    /// The child exited and its output is drained: persist the status, tell the daemon, go.
    async fn finish(mut self) {
        let status = self.exit.unwrap_or(ExitStatus::Code(1));
        if let Some(r) = self.recorder.as_mut() {
            let _ = r.flush();
        }
        if let Err(e) =
            crate::store::atomic::write_json(&self.dir.join(EXIT_FILE), &ExitRecord::of(status))
        {
            tracing::error!(error = %e, "could not write exit.json");
        }
        // Remove the socket first: a daemon that connects from now on must see the holder gone.
        let _ = std::fs::remove_file(self.dir.join(SOCKET_FILE));
        tracing::info!(code = status.code(), "child exited; holder stopping");
        if let Some(c) = self.client.take() {
            if c.attached {
                let exit = Frame::new(proto::EXIT, proto::encode_exit(status));
                let _ = tokio::time::timeout(SLOW_DAEMON, c.tx.send((exit, None))).await;
            }
            drop(c.tx);
            let mut writer = c.writer;
            // Written output gives its permits back: while that count moves, the daemon is
            // still reading, so keep waiting.
            let mut room = c.budget.available_permits();
            loop {
                tokio::select! {
                    _ = &mut writer => break,
                    () = tokio::time::sleep(GOODBYE_WAIT) => {
                        let now = c.budget.available_permits();
                        if now == room {
                            tracing::warn!("the daemon stopped reading the final output; exiting");
                            break;
                        }
                        room = now;
                    }
                }
            }
        }
    }
}
