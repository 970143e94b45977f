//! What /proc says about the processes on a session's terminal: the members of the terminal
//! session (to signal all of them), and who holds the terminal (its foreground process group)
//! and what that process is waiting for (to tell a shell at its prompt from a running job).
//!
//! Everything here is a best-effort snapshot: a process can exit between two reads, so every
//! reader answers `None` (or leaves a field out) instead of failing. Only Linux's /proc is
//! read; elsewhere the answers are empty.

use std::path::PathBuf;

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    /// `R` running, `S` sleeping, `D` disk wait, `T` stopped, `Z` zombie, ...
    state: char,
    pgrp: i32,
    session: i32,
    /// The foreground process group of the process's controlling terminal (-1 without one).
    tpgid: i32,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = text.get(text.rfind(')')? + 2..)?;
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    let pgrp = f.next()?.parse().ok()?;
    let session = f.next()?.parse().ok()?;
    let _tty_nr = f.next()?;
    let tpgid = f.next()?.parse().ok()?;
    Some(Stat {
        state,
        pgrp,
        session,
        tpgid,
    })
}

/// A process in a terminal session, as read from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub pid: i32,
    pub pgrp: i32,
    pub zombie: bool,
}

/// Every process whose session id is `sid`. The child called `setsid()`, so its pid is the
/// session id, and this finds the processes an interactive shell moved into other process
/// groups (background jobs), which a signal to the leader's group alone would miss.
pub fn session_members(sid: i32) -> Vec<Member> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let s = stat(pid)?;
            (s.session == sid).then_some(Member {
                pid,
                pgrp: s.pgrp,
                zombie: s.state == 'Z',
            })
        })
        .collect()
}

/// What a sleeping process waits for, from the kernel function it sleeps in
/// (`/proc/<pid>/wchan`). The names are the kernel's; the ones listed are those an
/// interactive shell sleeps in (bash and zsh at their prompt, waiting for a job, reading a
/// command substitution), checked on Linux 6.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// On the CPU or about to be (`R`): between two things, never waiting at a prompt.
    Running,
    /// For input: a read of the terminal, `poll` or `select` (bash's readline, zsh's line
    /// editor, the `read` builtin).
    Input,
    /// For a child to change state (`wait4`, `sigsuspend`): a job runs in the foreground
    /// group without holding the terminal itself (a shell without job control, `make`).
    Child,
    /// For a pipe (a command substitution's output).
    Pipe,
    /// Something else (disk, a lock, a timer).
    Other,
    /// Not known: the kernel does not say (`wchan` unreadable or `0`).
    Unknown,
}

impl Waiting {
    pub fn as_str(self) -> &'static str {
        match self {
            Waiting::Running => "running",
            Waiting::Input => "input",
            Waiting::Child => "child",
            Waiting::Pipe => "pipe",
            Waiting::Other => "other",
            Waiting::Unknown => "unknown",
        }
    }

    /// From a process's state letter and the function it sleeps in.
    fn of(state: char, wchan: Option<&str>) -> Waiting {
        if state == 'R' {
            return Waiting::Running;
        }
        // The kernel's compiler suffixes (`poll_schedule_timeout.constprop.0`) are not names.
        let Some(name) = wchan
            .map(|w| w.trim().split('.').next().unwrap_or_default())
            .filter(|w| !w.is_empty() && *w != "0")
        else {
            return Waiting::Unknown;
        };
        match name {
            "poll_schedule_timeout"
            | "do_select"
            | "core_sys_select"
            | "do_sys_poll"
            | "do_poll"
            | "wait_woken"
            | "n_tty_read"
            | "ep_poll"
            | "do_epoll_wait" => Waiting::Input,
            "do_wait" | "kernel_wait4" | "sigsuspend" => Waiting::Child,
            "pipe_read" | "anon_pipe_read" | "pipe_wait" | "pipe_wait_readable" => Waiting::Pipe,
            _ => Waiting::Other,
        }
    }
}

/// The leader of the terminal's foreground process group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    /// The executable's name (`/proc/<pid>/comm`: `bash` for a login shell's `-bash` too).
    pub name: String,
    pub waiting: Waiting,
}

/// Who holds a terminal session's terminal, read from /proc as tmux and `ps` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreground {
    /// The foreground process group (the session leader's `tpgid`; the leader's own group
    /// when the terminal has none).
    pub pgid: i32,
    /// Whether that group is the session leader's: the program the session started holds the
    /// terminal, not a job it started.
    pub own: bool,
    /// The group's leader, when it still runs: the first process of a pipeline can exit while
    /// the rest run on.
    pub holder: Option<Holder>,
}

/// Who holds the terminal of the session whose leader is `sid`. `None` once the leader is
/// gone (or outside Linux).
pub fn foreground(sid: i32) -> Option<Foreground> {
    if sid <= 0 {
        return None;
    }
    let leader = stat(sid)?;
    if leader.state == 'Z' {
        return None;
    }
    let pgid = if leader.tpgid > 0 { leader.tpgid } else { sid };
    let holder = stat(pgid)
        .filter(|s| s.state != 'Z' && s.pgrp == pgid)
        .and_then(|s| {
            let name = std::fs::read_to_string(format!("/proc/{pgid}/comm")).ok()?;
            let wchan = std::fs::read_to_string(format!("/proc/{pgid}/wchan")).ok();
            Some(Holder {
                pid: pgid,
                name: name.trim_end().to_owned(),
                waiting: Waiting::of(s.state, wchan.as_deref()),
            })
        });
    Some(Foreground {
        pgid,
        own: pgid == sid,
        holder,
    })
}

impl Foreground {
    /// The group leader's `argv[0]` (what tmux's `pane_current_command` starts from).
    pub fn argv0(&self) -> Option<String> {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.pgid)).ok()?;
        let argv0 = cmdline.split(|b| *b == 0).next()?;
        (!argv0.is_empty()).then(|| String::from_utf8_lossy(argv0).into_owned())
    }

    /// The group leader's working directory.
    pub fn cwd(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{}/cwd", self.pgid)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_reads_the_kernel_names_shells_sleep_in() {
        let of = |w: &str| Waiting::of('S', Some(w));
        assert_eq!(of("poll_schedule_timeout.constprop.0\n"), Waiting::Input);
        assert_eq!(of("wait_woken"), Waiting::Input);
        assert_eq!(of("do_wait"), Waiting::Child);
        assert_eq!(of("sigsuspend.isra.0"), Waiting::Child);
        assert_eq!(of("anon_pipe_read"), Waiting::Pipe);
        assert_eq!(of("hrtimer_nanosleep"), Waiting::Other);
        assert_eq!(of("0"), Waiting::Unknown);
        assert_eq!(Waiting::of('S', None), Waiting::Unknown);
        assert_eq!(Waiting::of('R', Some("do_wait")), Waiting::Running);
    }

    #[test]
    fn no_session_leader_no_foreground() {
        assert_eq!(foreground(0), None);
        assert_eq!(foreground(-1), None);
    }
}
