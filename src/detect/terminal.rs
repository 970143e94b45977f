//! Who holds a session's terminal, as evidence for the profiles that decide from activity
//! (shells, programs without a profile of their own).
//!
//! A shell with job control gives the terminal (its foreground process group) to each job it
//! runs and takes it back before it draws its prompt, so the terminal says exactly what the
//! screen can only guess at: a quiet `sleep 5` holds the terminal for five seconds, a
//! backgrounded or stopped job does not hold it at all. What the process holding the terminal
//! sleeps in tells the rest: a shell reading the terminal waits at its prompt (or in `read`),
//! a shell waiting for a child or a pipe is running a command in its own group (a command
//! substitution, a shell without job control).
//!
//! The reading comes from the caller (the session actor reads /proc through
//! [`crate::pty::foreground`]); this module only judges it.

use crate::pty::{Foreground, Waiting};

/// Executable names of interactive shells: when one of these holds the terminal, whether it
/// waits for input says idle or busy. A nested shell (bash started from bash, `su -`) is one
/// too, so its prompt reads idle like the outer one's.
const SHELLS: &[&str] = &[
    "sh", "ash", "bash", "dash", "ksh", "ksh93", "mksh", "zsh", "fish", "tcsh", "csh", "yash",
    "nu", "elvish",
];

/// Whether `name` (an executable's file name) is an interactive shell's.
pub fn is_shell(name: &str) -> bool {
    SHELLS.contains(&name)
}

/// Who holds the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// A shell: the session's own or a nested one.
    Shell,
    /// A process group other than the session's program's: a job it started.
    Job,
    /// The session's program itself, not a shell.
    Program,
}

impl Holds {
    pub fn as_str(self) -> &'static str {
        match self {
            Holds::Shell => "shell",
            Holds::Job => "job",
            Holds::Program => "program",
        }
    }
}

/// What the terminal says about the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Says {
    /// A shell waits for input: the kernel names the wait (a read of the terminal, `poll`,
    /// `select`).
    Idle,
    /// A job holds the terminal, or the shell (or the program) runs a command itself.
    Working,
}

/// One reading of the terminal and its judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The foreground process group.
    pub pgid: i32,
    /// The group leader's executable name (none once it exited: a pipeline's first process).
    pub command: Option<String>,
    pub holds: Holds,
    pub waiting: Option<Waiting>,
    /// `None`: the terminal does not tell (the program holds it and waits for no child, or a
    /// shell sleeps in something unrecognised, such as a starting shell reading its files),
    /// and output activity decides.
    pub says: Option<Says>,
}

impl Reading {
    /// A sentence for `/detect`'s `reason`.
    pub fn describe(&self) -> String {
        let who = match (self.holds, &self.command) {
            (Holds::Shell, Some(c)) => format!("the shell ({c}) holds the terminal"),
            (Holds::Job, Some(c)) => format!("a job ({c}, group {}) holds the terminal", self.pgid),
            (Holds::Job, None) => format!("a job (group {}) holds the terminal", self.pgid),
            (_, Some(c)) => format!("the program ({c}) holds the terminal"),
            (_, None) => "the program holds the terminal".to_owned(),
        };
        let doing = match self.waiting {
            Some(Waiting::Input) => "waits for input",
            Some(Waiting::Child) => "waits for a child",
            Some(Waiting::Pipe) => "reads a pipe",
            Some(Waiting::Running) => "is running",
            Some(Waiting::Other) => "sleeps",
            Some(Waiting::Unknown) | None => "",
        };
        if doing.is_empty() {
            who
        } else {
            format!("{who} and {doing}")
        }
    }
}

/// Judge who holds the terminal.
pub fn read(fg: &Foreground) -> Reading {
    let command = fg.holder.as_ref().map(|h| h.name.clone());
    let waiting = fg.holder.as_ref().map(|h| h.waiting);
    let shell = command.as_deref().is_some_and(is_shell);
    let (holds, says) = if shell {
        let says = match waiting {
            Some(Waiting::Input) => Some(Says::Idle),
            Some(Waiting::Running | Waiting::Child | Waiting::Pipe) => Some(Says::Working),
            Some(Waiting::Other | Waiting::Unknown) | None => None,
        };
        (Holds::Shell, says)
    } else if !fg.own {
        (Holds::Job, Some(Says::Working))
    } else {
        // The program holds the terminal: a child running in its group is work (`make`
        // waiting for a compiler); otherwise its output tells.
        let says = (waiting == Some(Waiting::Child)).then_some(Says::Working);
        (Holds::Program, says)
    };
    Reading {
        pgid: fg.pgid,
        command,
        holds,
        waiting,
        says,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::Holder;

    fn fg(name: Option<&str>, own: bool, waiting: Waiting) -> Foreground {
        Foreground {
            pgid: if own { 100 } else { 200 },
            own,
            holder: name.map(|n| Holder {
                pid: 0,
                name: n.to_owned(),
                waiting,
            }),
        }
    }

    #[test]
    fn the_terminal_says() {
        let idle = Some(Says::Idle);
        let working = Some(Says::Working);
        let cases = [
            // A shell at its prompt; a nested one too.
            (fg(Some("bash"), true, Waiting::Input), idle),
            (fg(Some("zsh"), false, Waiting::Input), idle),
            // A shell waiting for a job in its own group, reading a command substitution,
            // running a loop of builtins.
            (fg(Some("bash"), true, Waiting::Child), working),
            (fg(Some("bash"), true, Waiting::Pipe), working),
            (fg(Some("bash"), true, Waiting::Running), working),
            // Asleep in something unrecognised (a starting shell reading its files), or the
            // kernel does not say: the output tells.
            (fg(Some("bash"), true, Waiting::Unknown), None),
            (fg(Some("bash"), false, Waiting::Other), None),
            // A job holds the terminal, whatever it does; its leader may be gone.
            (fg(Some("sleep"), false, Waiting::Other), working),
            (fg(Some("cat"), false, Waiting::Input), working),
            (fg(None, false, Waiting::Other), working),
            // The program itself: a child in its group is work, else the output tells.
            (fg(Some("make"), true, Waiting::Child), working),
            (fg(Some("python3"), true, Waiting::Input), None),
        ];
        for (f, want) in cases {
            let r = read(&f);
            assert_eq!(r.says, want, "{}", r.describe());
        }
    }
}
