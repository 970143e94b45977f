//! `wait-for` channels: a wait blocks until someone signals the channel (a signal with no
//! waiter is remembered once), and a channel can be locked with a queue of lockers behind it.

use std::collections::{HashMap, VecDeque};

use tokio::sync::oneshot;

#[derive(Default)]
struct Channel {
    woken: bool,
    waiters: Vec<oneshot::Sender<()>>,
    locked: bool,
    lockers: VecDeque<oneshot::Sender<()>>,
}

#[derive(Default)]
pub struct Waits {
    channels: HashMap<String, Channel>,
}

/// What a `wait-for` does next.
pub enum Wait {
    /// Done at once.
    Ready,
    /// Blocked until the sender fires (or is dropped when the server goes).
    Blocked(oneshot::Receiver<()>),
}

impl Waits {
    /// `wait-for -S`: wake every waiter, or remember the signal when nobody waits.
    pub fn signal(&mut self, name: &str) {
        let ch = self.channels.entry(name.to_owned()).or_default();
        if ch.waiters.is_empty() {
            ch.woken = true;
        } else {
            for w in ch.waiters.drain(..) {
                let _ = w.send(());
            }
        }
        self.tidy(name);
    }

    /// `wait-for`: return at once if the channel was signalled, else wait.
    pub fn wait(&mut self, name: &str) -> Wait {
        let ch = self.channels.entry(name.to_owned()).or_default();
        if ch.woken {
            ch.woken = false;
            self.tidy(name);
            return Wait::Ready;
        }
        let (tx, rx) = oneshot::channel();
        ch.waiters.push(tx);
        Wait::Blocked(rx)
    }

    /// `wait-for -L`: take the lock, or queue for it.
    pub fn lock(&mut self, name: &str) -> Wait {
        let ch = self.channels.entry(name.to_owned()).or_default();
        if !ch.locked {
            ch.locked = true;
            return Wait::Ready;
        }
        let (tx, rx) = oneshot::channel();
        ch.lockers.push_back(tx);
        Wait::Blocked(rx)
    }

    /// `wait-for -U`: hand the lock to the next in line, or release it. tmux: `channel X not
    /// locked`.
    pub fn unlock(&mut self, name: &str) -> Result<(), String> {
        let Some(ch) = self.channels.get_mut(name).filter(|c| c.locked) else {
            return Err(format!("channel {name} not locked"));
        };
        loop {
            match ch.lockers.pop_front() {
                // A locker that gave up (its client went away) is skipped.
                Some(next) => {
                    if next.send(()).is_ok() {
                        return Ok(());
                    }
                }
                None => {
                    ch.locked = false;
                    self.tidy(name);
                    return Ok(());
                }
            }
        }
    }

    fn tidy(&mut self, name: &str) {
        if self
            .channels
            .get(name)
            .is_some_and(|c| !c.woken && !c.locked && c.waiters.is_empty() && c.lockers.is_empty())
        {
            self.channels.remove(name);
        }
    }
}
