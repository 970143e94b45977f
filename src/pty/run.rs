//! Running a short-lived helper program (a verify check, a `git` command, the holder's
//! handshake) from an argv, never through a shell, without blocking the runtime; and finding a
//! program on `PATH` ([`which`]).
//!
//! Sessions are spawned only by `pty::spawn`; these are not sessions but bounded jobs whose
//! output is captured through pipes, so they use `tokio::process`. Each job leads its own
//! process group, so a timeout kills everything it started (`cargo test` forks compilers and
//! test binaries). Exit statuses come from the daemon's one reaper (`pty::reaper`), which calls
//! `waitpid(-1)` and would otherwise race `tokio::process::Child::wait`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;

/// Once the job was killed, how long its pipes may stay open before we stop reading. A
/// grandchild that left the process group (setsid) can hold them open forever.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// How long a killed process group gets to be reaped. SIGKILL cannot be caught, so this only
/// covers scheduling delays on a loaded machine.
const REAP_AFTER_KILL: Duration = Duration::from_secs(5);

/// How a job ended.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit code (`128 + n` for a signal), `None` if no status arrived.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    /// The last `tail_bytes` of stdout and stderr together, in arrival order.
    pub tail: Vec<u8>,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        !self.timed_out && self.exit_code == Some(0)
    }

    /// The tail as text (lossy UTF-8; a cut through a character is replaced, not an error).
    pub fn tail_text(&self) -> String {
        String::from_utf8_lossy(&self.tail).into_owned()
    }
}

/// Keep only the last `limit` bytes of everything pushed.
struct Tail {
    buf: std::collections::VecDeque<u8>,
    limit: usize,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        let bytes = &bytes[bytes.len().saturating_sub(self.limit)..];
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.limit);
        self.buf.drain(..overflow.min(self.buf.len()));
        self.buf.extend(bytes);
    }
}

/// Run `argv` in `cwd` with `env` added, stdin closed, for at most `timeout`; keep the last
/// `tail_bytes` of its output. Fails only if the program cannot be started.
pub async fn run(
    argv: &[String],
    cwd: &Path,
    env: &[(&str, &str)],
    timeout: Duration,
    tail_bytes: usize,
) -> std::io::Result<RunOutput> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty argv",
        ));
    };
    let started = Instant::now();
    #[allow(clippy::disallowed_methods)] // reason: this is the one helper-program runner
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) else {
        return Err(std::io::Error::other("spawned child has no pid"));
    };
    let exit = crate::pty::reaper::global().watch(pid);
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let reader = tokio::spawn(read_tail(stdout, stderr, tail_bytes));

    let (exit_code, timed_out) = match tokio::time::timeout(timeout, exit).await {
        Ok(status) => (status.ok().map(|s| s.code()), false),
        Err(_) => {
            // The whole group: the check's own children (compilers, test binaries) too.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            let mut exit = crate::pty::reaper::global().watch(pid);
            let code = tokio::time::timeout(REAP_AFTER_KILL, &mut exit)
                .await
                .ok()
                .and_then(|r| r.ok())
                .map(|s| s.code());
            (code, true)
        }
    };
    // Anything left in the group after the leader exited goes too, so no pipe stays open.
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let tail = match tokio::time::timeout(DRAIN_AFTER_EXIT, reader).await {
        Ok(Ok(t)) => t,
        _ => Vec::new(),
    };
    // The reaper collected the status; the Child has nothing left to wait for.
    drop(child);
    Ok(RunOutput {
        exit_code,
        timed_out,
        duration: started.elapsed(),
        tail,
    })
}

async fn read_tail(
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
    limit: usize,
) -> Vec<u8> {
    let tail = std::sync::Arc::new(std::sync::Mutex::new(Tail {
        buf: Default::default(),
        limit,
    }));
    let a = copy_into(stdout, tail.clone());
    let b = copy_into(stderr, tail.clone());
    tokio::join!(a, b);
    let t = tail.lock().unwrap_or_else(|p| p.into_inner());
    t.buf.iter().copied().collect()
}

/// Read `pipe` to its end into the shared tail (a short lock per chunk, never across await).
async fn copy_into<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    tail: std::sync::Arc<std::sync::Mutex<Tail>>,
) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = vec![0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(&buf[..n]);
    }
}

/// `name` on PATH, if it is there and executable.
pub fn which(name: &str, path: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    std::env::split_paths(path).map(|d| d.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| {
            m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
        })
    })
}

#[cfg(test)]
mod tests {
    use super::Tail;

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail {
            buf: Default::default(),
            limit: 5,
        };
        t.push(b"abc");
        t.push(b"defg");
        assert_eq!(t.buf.iter().copied().collect::<Vec<_>>(), b"cdefg");
        t.push(b"0123456789");
        assert_eq!(t.buf.iter().copied().collect::<Vec<_>>(), b"56789");
    }
}
