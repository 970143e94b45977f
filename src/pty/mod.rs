//! Pseudo-terminal ownership: spawn a child from an argv in a fresh pty (its own session and
//! process group), drain its output on a dedicated thread, write its input on another, and stop
//! the whole process group.
//!
//! Threads, not async: portable-pty's reader and writer are blocking. Each session gets one
//! reader thread and one writer thread with small stacks. The reader hands chunks to the
//! session actor over a bounded channel; that is safe only because the actor never blocks
//! (see `session::actor`), so the reader waits at most for one chunk to be parsed and the
//! child never stalls on a full kernel pty buffer (~20 KB here).
//!
//! Who holds the terminal (its foreground process group) is read from /proc by [`procfs`].
//!
//! Helper programs that are not sessions (git, verify checks) run through [`run`], whose exit
//! statuses come from the same reaper.
//!
//! Exit statuses are collected by the process-wide [`reaper`], never by `Child::wait`, so that
//! orphaned grandchildren (we are a child subreaper) are reaped too and nothing is left a zombie.

pub mod procfs;
pub mod reaper;
pub mod run;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use portable_pty::{CommandBuilder, MasterPty, PtySize, native_pty_system};
use tokio::sync::{mpsc, oneshot};

pub use procfs::{Foreground, Holder, Member, Waiting, foreground, session_members};
pub use reaper::ExitStatus;

/// Size of one read from the pty master. Linux hands out about a page per read during a
/// flood, and what queued up during a pause in one read (up to ~9 KB here); a larger buffer
/// would stay resident in every holder for nothing (it is allocated zeroed).
pub const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Chunks in flight between the reader thread and the session actor. Each chunk is at most
/// `READ_BUFFER_BYTES`, so this bounds the queue at 1 MiB per session. When it is full the
/// reader waits for the actor, which is always making progress (it never blocks).
const OUTPUT_CHANNEL_CHUNKS: usize = 64;

/// Pending writes for one session. Writers (the input queue, terminal-query replies) wait
/// briefly when the child is not reading its input; query replies use `try_send` and are
/// dropped rather than block the actor.
const WRITE_CHANNEL_REQUESTS: usize = 64;

/// Stack for the per-session reader and writer threads: they only loop over read/write with
/// one heap buffer, so the 2 MiB default would only waste address space at 1000 sessions.
const IO_THREAD_STACK_BYTES: usize = 128 * 1024;

/// What to run and where.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// argv; `argv[0]` is looked up on PATH. Never passed through a shell.
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Extra environment on top of the daemon's, after the daemon's secrets are removed.
    pub env: Vec<(String, String)>,
    pub cols: u16,
    pub rows: u16,
}

/// One write to the child's input, optionally acknowledged once it reached the kernel.
pub struct WriteRequest {
    pub bytes: Vec<u8>,
    pub ack: Option<oneshot::Sender<Result<(), String>>>,
}

/// Control of the terminal itself, apart from its byte streams. This is the seam where a
/// holder process (which owns the pty so sessions survive a daemon restart) replaces the local
/// pty master.
pub trait PtyControl: Send {
    /// Set the terminal size (TIOCSWINSZ); the child gets SIGWINCH.
    fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()>;

    /// Forget the output kept for replaying the screen to a later daemon, keeping `prefix` (the
    /// input modes a fresh screen must know) in its place: the screen was reset, and a
    /// restarted daemon must not bring back what was cleared. A local pty keeps nothing.
    fn forget_history(&self, prefix: &[u8]) -> std::io::Result<()> {
        let _ = prefix;
        Ok(())
    }

    /// Offer `snapshot` (bytes that rebuild the screen and its history) as the replay of the
    /// first `processed` bytes of output this process delivered, counting its initial
    /// `replay`. A holder keeps it in place of that raw output; a local pty keeps nothing.
    fn keep_snapshot(&self, processed: u64, snapshot: Vec<u8>) -> std::io::Result<()> {
        let _ = (processed, snapshot);
        Ok(())
    }
}

/// The pty master owned by this process. Dropping it closes the master and hangs up the child.
struct LocalPty(Box<dyn MasterPty + Send>);

impl PtyControl for LocalPty {
    fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        self.0
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// A running child on a pty. The fields are handed to the session actor, which owns them.
pub struct PtyProcess {
    /// Child pid; also its process group and session id (portable-pty calls `setsid()`).
    pub pid: i32,
    /// Resizing; dropping it releases the terminal.
    pub control: Box<dyn PtyControl>,
    /// The size the terminal was opened with.
    pub cols: u16,
    pub rows: u16,
    /// Output chunks; closed at EOF (every slave fd closed).
    pub output: mpsc::Receiver<Vec<u8>>,
    /// Input writes, performed in order by the writer thread.
    pub writer: mpsc::Sender<WriteRequest>,
    /// Resolves once the reaper collected the child's exit status.
    pub exit: oneshot::Receiver<ExitStatus>,
    /// Output produced before this process was handed over (a holder's ring, after a daemon
    /// restart). It rebuilds the screen only: terminal queries in it were answered long ago.
    pub replay: Vec<u8>,
    /// The output stream offset of the first byte `output` delivers (the bytes before it are
    /// the replay's, or were delivered to an earlier daemon): command records count from it.
    pub output_offset: u64,
    /// Why the session's recording stopped, once it did. Only holders record; a pty spawned
    /// here directly never reports one.
    pub recording_error: tokio::sync::watch::Receiver<Option<String>>,
}

/// Environment variables of the daemon that a child must never inherit: they are the
/// daemon's credentials, not the agent's.
fn is_daemon_secret(name: &str) -> bool {
    name == "AEGIS_AUTH_TOKEN" || name.starts_with("AEGIS_WEBHOOK_SECRET")
}

/// Make a file-size limit an error instead of a death. When a write crosses `RLIMIT_FSIZE`
/// (a quota, `ulimit -f`), the kernel sends SIGXFSZ, whose default action kills the process:
/// a holder would take its session down with it because a recording could not grow. With a
/// handler installed the write fails with EFBIG, which the caller reports. A handler, unlike
/// SIG_IGN, is reset by `exec`, so children still get the default. Call inside a runtime.
pub fn survive_file_size_limit() {
    // tokio keeps a registered handler for the life of the process, so the stream can go.
    if let Err(e) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ))
    {
        tracing::warn!(error = %e, "cannot handle SIGXFSZ; a file-size limit would be fatal");
    }
}

/// Spawn `spec` on a new pty. Must be called inside a tokio runtime (the reaper lives there).
pub fn spawn(spec: &SpawnSpec) -> std::io::Result<PtyProcess> {
    let Some(program) = spec.argv.first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty argv",
        ));
    };
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: spec.rows,
            cols: spec.cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| std::io::Error::other(format!("openpty: {e}")))?;

    let mut cmd = CommandBuilder::new(program);
    cmd.args(&spec.argv[1..]);
    cmd.cwd(&spec.cwd);
    for (name, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        if is_daemon_secret(&name) {
            cmd.env_remove(name);
        }
    }
    cmd.env("TERM", "xterm-256color");
    cmd.env("COLORTERM", "truecolor");
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }

    // Register interest before the child can possibly exit, so its status is never lost.
    let reaper = reaper::global();
    let child = pair.slave.spawn_command(cmd).map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::NotFound, format!("{program}: {e}"))
    })?;
    // The slave must be closed here, or the reader never sees EOF after the child exits.
    drop(pair.slave);
    let pid = child
        .process_id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| std::io::Error::other("spawned child has no pid"))?;
    let exit = reaper.watch(pid);
    // Dropping portable-pty's Child neither kills nor waits: the reaper collects the status.
    drop(child);

    let reader = pair
        .master
        .try_clone_reader()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let writer = pair
        .master
        .take_writer()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let (out_tx, out_rx) = mpsc::channel(OUTPUT_CHANNEL_CHUNKS);
    let (in_tx, in_rx) = mpsc::channel(WRITE_CHANNEL_REQUESTS);
    spawn_io_thread(format!("pty-read-{pid}"), move || read_loop(reader, out_tx))?;
    spawn_io_thread(format!("pty-write-{pid}"), move || {
        write_loop(writer, in_rx)
    })?;

    Ok(PtyProcess {
        pid,
        control: Box::new(LocalPty(pair.master)),
        cols: spec.cols,
        rows: spec.rows,
        output: out_rx,
        writer: in_tx,
        exit,
        replay: Vec::new(),
        output_offset: 0,
        recording_error: tokio::sync::watch::channel(None).1,
    })
}

fn spawn_io_thread(name: String, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(IO_THREAD_STACK_BYTES)
        .spawn(f)
        .map(|_| ())
}

fn read_loop(mut reader: Box<dyn Read + Send>, tx: mpsc::Sender<Vec<u8>>) {
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    loop {
        match reader.read(&mut buf) {
            // portable-pty maps EIO (all slave fds closed) to Ok(0).
            Ok(0) => break,
            Ok(n) => {
                if tx.blocking_send(buf[..n].to_vec()).is_err() {
                    break; // the session is gone
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

fn write_loop(mut writer: Box<dyn Write + Send>, mut rx: mpsc::Receiver<WriteRequest>) {
    // Note: portable-pty's writer writes "\n" + VEOF when dropped. It is dropped only when the
    // session is gone (the channel closed), when nobody reads the child's input any more.
    while let Some(req) = rx.blocking_recv() {
        let result = writer
            .write_all(&req.bytes)
            .and_then(|()| writer.flush())
            .map_err(|e| e.to_string());
        if let Some(ack) = req.ack {
            let _ = ack.send(result);
        }
    }
}

/// Send `signal` to every process in group `pgid`. Returns false when the group is gone.
pub fn signal_group(pgid: i32, signal: Option<Signal>) -> bool {
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        Err(e) => {
            tracing::warn!(pgid, ?signal, error = %e, "killpg failed");
            false
        }
    }
}

fn signal_session(sid: i32, signal: Signal) {
    let mut groups: Vec<i32> = session_members(sid)
        .iter()
        .filter(|m| !m.zombie)
        .map(|m| m.pgrp)
        .collect();
    groups.push(sid);
    groups.sort_unstable();
    groups.dedup();
    for pgrp in groups {
        signal_group(pgrp, Some(signal));
    }
}

/// How long a session gets to exit after SIGHUP + SIGTERM before SIGKILL. Agents flush
/// transcripts on SIGTERM; two seconds is enough for Claude Code and Codex to save state
/// without making `DELETE` feel slow.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// Stop every process of the terminal session `sid`: SIGHUP (what a closing terminal sends)
/// and SIGTERM, then SIGKILL after `grace`. Waits until they are gone and reaped, or `grace`
/// twice elapsed. Processes that left the session with `setsid()` are out of reach by design.
pub async fn kill_session(sid: i32, grace: Duration) {
    if session_alive(sid).is_empty() {
        return;
    }
    for signal in [Signal::SIGHUP, Signal::SIGCONT, Signal::SIGTERM] {
        signal_session(sid, signal);
    }
    if wait_session_gone(sid, grace).await {
        return;
    }
    tracing::info!(sid, "session ignored SIGTERM; sending SIGKILL");
    signal_session(sid, Signal::SIGKILL);
    if !wait_session_gone(sid, grace).await {
        tracing::warn!(sid, "processes still present after SIGKILL");
    }
}

fn session_alive(sid: i32) -> Vec<Member> {
    session_members(sid)
        .into_iter()
        .filter(|m| !m.zombie)
        .collect()
}

/// Poll until no live process is left in the session, then give the reaper a moment to
/// collect the zombies (they are ours: we are the subreaper).
async fn wait_session_gone(sid: i32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        reaper::global().reap_now();
        let members = session_members(sid);
        if members.iter().all(|m| m.zombie) {
            if members.is_empty() || tokio::time::Instant::now() >= deadline {
                return true;
            }
        } else if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
