//! Control mode (`tmux -C`) against real tmux 3.3a: the same command lines sent to a control
//! client of each, and what each client is told compared: `%session-changed` once,
//! `%window-pane-changed`, `%session-window-changed`, `%window-add`, `%layout-change`, and the
//! `%output` of panes made while it is attached (their first line included).
//!
//! Left out of the comparison: `%begin`/`%end` lines (times, and tmux numbers commands across
//! the server), `%window-renamed` (automatic-rename may catch a new pane between fork and
//! exec), and repeats of a line (tmux sends `%layout-change` twice after `select-layout`).

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Daemon, pair, tmux_available};
use crate::support::wait_until;

/// A running `tmux -C` client: its standard input, and everything it printed so far.
struct Control {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    side: &'static str,
}

impl Control {
    fn start(mut command: Command, side: &'static str) -> Control {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a control client");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("output")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Control {
            child,
            stdin,
            out,
            side,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("writing a command line");
        stdin.flush().expect("flush");
    }

    fn wait_for(&self, needle: &str) {
        wait_until(
            Duration::from_secs(10),
            &format!("{}: {needle:?} from the control client", self.side),
            || {
                self.out
                    .lock()
                    .expect("output")
                    .contains(needle)
                    .then_some(())
            },
        );
    }

    /// Close standard input (tmux detaches) and return what the client was told.
    fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        self.wait_for("%exit");
        wait_until(
            Duration::from_secs(10),
            "the control client to exit",
            || self.child.try_wait().ok().flatten(),
        );
        let out = self.out.lock().expect("output").clone();
        let mut lines: Vec<String> = out
            .lines()
            .filter(|l| {
                !l.starts_with("%begin")
                    && !l.starts_with("%end")
                    && !l.starts_with("%window-renamed")
            })
            .map(str::to_owned)
            .collect();
        lines.dedup();
        join_output(lines)
    }
}

/// Consecutive `%output` lines of one pane as one: how a program's output is split into
/// `%output` lines follows how its bytes arrived on the pty (tmux itself sent `neww-2` and its
/// `\015\012` apart in one run and together in another), which is timing, not behaviour.
fn join_output(lines: Vec<String>) -> Vec<String> {
    let mut joined: Vec<String> = Vec::with_capacity(lines.len());
    for l in lines {
        if let (Some(prev), Some((pane, data))) = (joined.last_mut(), output_of(&l))
            && output_of(prev).is_some_and(|(p, _)| p == pane)
        {
            prev.push_str(data);
            continue;
        }
        joined.push(l);
    }
    joined
}

/// The pane and data of a `%output %N data` line.
fn output_of(line: &str) -> Option<(&str, &str)> {
    line.strip_prefix("%output ")?.split_once(' ')
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tmux_control_mode_notifications_and_output_match_real_tmux() {
    assert!(tmux_available());
    let d = Daemon::start();
    let p = pair(&d, "ctlnotify");
    p.same(&[
        "new-session",
        "-d",
        "-s",
        "c1",
        "-x",
        "80",
        "-y",
        "24",
        "sleep",
        "1000",
    ]);
    let args = ["-C", "attach-session", "-t", "c1"];
    let mut real = Control::start(p.real.command(&args), "real");
    let mut ours = Control::start(p.ours.command(&args), "ours");
    let steps: [(&str, &str); 7] = [
        ("", "%session-changed"),
        (
            "split-window -h -t c1 \"echo ctl-out; exec sleep 1000\"",
            "ctl-out",
        ),
        ("select-pane -t c1.0", "%window-pane-changed @0 %0"),
        (
            "new-window -t c1 \"echo neww-2; exec sleep 1000\"",
            "neww-2",
        ),
        ("select-layout -t c1:0 even-vertical", "80x11,0,0,0"),
        ("select-window -t c1:0", "%session-window-changed $0 @0"),
        ("kill-pane -t c1:0.1", "b25d,80x24,0,0,0"),
    ];
    for (line, answer) in steps {
        for c in [&mut real, &mut ours] {
            if !line.is_empty() {
                c.send(line);
            }
            c.wait_for(answer);
        }
    }
    let (real, ours) = (real.finish(), ours.finish());
    assert_eq!(
        real, ours,
        "control client: real tmux (left) vs the stand-in (right)"
    );
}
