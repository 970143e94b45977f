//! The one place that calls `waitpid`. A process-wide reaper collects every child of the
//! daemon (and, because the daemon is a child subreaper, every orphaned grandchild) on
//! SIGCHLD, and hands each exit status to whoever registered interest in that pid.
//!
//! Why not `Child::wait` per session: a blocking wait per session costs a thread, and it
//! cannot reap grandchildren that a killed agent left behind. A single `waitpid(-1)` loop does
//! both. Statuses of pids nobody asked about yet are parked for a short while, because a child
//! can exit before its spawner registers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use tokio::sync::oneshot;

/// Parked statuses of pids nobody has claimed. Orphaned grandchildren land here and are never
/// claimed, so the oldest entries are dropped past this bound.
const MAX_UNCLAIMED: usize = 1024;

/// Poll period when no SIGCHLD handler could be installed: then polling is the only way.
const POLL_WITHOUT_SIGNAL: Duration = Duration::from_millis(500);

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// Shell convention: a signal `n` is reported as `128 + n`.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

#[derive(Default)]
struct State {
    waiting: HashMap<i32, oneshot::Sender<ExitStatus>>,
    unclaimed: HashMap<i32, ExitStatus>,
    unclaimed_order: VecDeque<i32>,
}

pub struct Reaper {
    state: Mutex<State>,
}

static REAPER: OnceLock<Reaper> = OnceLock::new();

/// The process-wide reaper; the first call starts its task on the current tokio runtime.
pub fn global() -> &'static Reaper {
    REAPER.get_or_init(|| {
        tokio::spawn(async {
            let mut sigchld =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child()).ok();
            // SIGCHLD alone finds exits, with no timer besides: tokio keeps a signal that
            // arrives between two `recv`s pending, `reap_now` collects every exited child per
            // wake-up (so coalesced signals lose nothing), and the loop reaps once before its
            // first wait (children that exited before). Every holder runs this loop for the
            // life of its session, so any safety-net poll is paid a thousand times over: at
            // 500 ms, 1000 idle holders used 12.5% of a core; at 5 s, with the timer wheel's
            // own wake-ups on the way to each deadline, it and the holder's directory check
            // still woke each holder about once a second (~5% of a core for 1000 holders).
            loop {
                global().reap_now();
                match sigchld.as_mut() {
                    Some(s) => {
                        if s.recv().await.is_none() {
                            sigchld = None;
                        }
                    }
                    None => tokio::time::sleep(POLL_WITHOUT_SIGNAL).await,
                }
            }
        });
        Reaper {
            state: Mutex::new(State::default()),
        }
    })
}

impl Reaper {
    /// Ask for `pid`'s exit status.
    pub fn watch(&self, pid: i32) -> oneshot::Receiver<ExitStatus> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.lock();
        if let Some(status) = st.unclaimed.remove(&pid) {
            st.unclaimed_order.retain(|p| *p != pid);
            let _ = tx.send(status);
        } else {
            st.waiting.insert(pid, tx);
        }
        rx
    }

    /// Collect every exited child now, without blocking.
    pub fn reap_now(&self) {
        loop {
            let (pid, status) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), ExitStatus::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    (pid.as_raw(), ExitStatus::Signal(sig as i32))
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "waitpid failed");
                    return;
                }
            };
            self.deliver(pid, status);
        }
    }

    fn deliver(&self, pid: i32, status: ExitStatus) {
        let mut st = self.lock();
        if let Some(tx) = st.waiting.remove(&pid) {
            let _ = tx.send(status);
            return;
        }
        st.unclaimed.insert(pid, status);
        st.unclaimed_order.push_back(pid);
        while st.unclaimed_order.len() > MAX_UNCLAIMED {
            if let Some(old) = st.unclaimed_order.pop_front() {
                st.unclaimed.remove(&old);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The critical sections above cannot panic, so a poisoned lock still holds valid data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Make this process adopt orphaned descendants, so that grandchildren of a killed agent are
/// reaped here instead of depending on whatever runs as pid 1 (in containers it may not reap).
pub fn become_subreaper() {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(error = %e, "could not become a child subreaper; orphans go to pid 1");
    }
}
