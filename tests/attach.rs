//! `aegis attach` driven inside a real pty: the test is the user's terminal. What the client
//! prints is parsed by a vt100 model, so assertions are about what the user would see.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use serde_json::json;

use crate::support::{Daemon, id_of, wait_until};

/// A terminal running `aegis attach …`.
pub(crate) struct Term {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

impl Term {
    pub(crate) fn attach(d: &Daemon, args: &[&str], cols: u16, rows: u16) -> Term {
        let mut argv = vec!["attach"];
        argv.extend(args);
        Term::run(d, &argv, cols, rows)
    }

    /// Run `aegis ARGV…` in a fresh terminal of the given size.
    fn run(d: &Daemon, argv: &[&str], cols: u16, rows: u16) -> Term {
        let pair = native_pty_system()
            .openpty(size(cols, rows))
            .expect("openpty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_aegis"));
        cmd.args(argv);
        cmd.env_remove("TMUX");
        cmd.env_remove("TMUX_PANE");
        cmd.env("AEGIS_STATE_DIR", d.dir.path().join("state"));
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).expect("spawn attach");
        drop(pair.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).expect("rows"),
            std::num::NonZeroU16::new(cols).expect("cols"),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let (p, r) = (parser.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.lock().expect("parser").process(&buf[..n]);
                r.lock().expect("raw").extend_from_slice(&buf[..n]);
            }
        });
        let writer = pair.master.take_writer().expect("writer");
        Term {
            master: pair.master,
            writer,
            child,
            parser,
            raw,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    fn wait_screen(&self, needle: &str) -> String {
        wait_until(
            Duration::from_secs(10),
            &format!("{needle:?} on the attached terminal"),
            || {
                let s = self.screen();
                s.contains(needle).then_some(s)
            },
        )
    }

    /// The foreground colour of one cell of the terminal.
    fn fg(&self, row: u16, col: u16) -> vt100::Color {
        self.parser
            .lock()
            .expect("parser")
            .screen()
            .cell(row, col)
            .map(vt100::Cell::fgcolor)
            .unwrap_or_default()
    }

    fn type_bytes(&mut self, b: &[u8]) {
        self.writer.write_all(b).expect("typing");
        self.writer.flush().expect("flush");
    }

    pub(crate) fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().expect("raw")).into_owned()
    }

    /// Wait for the client to exit; whether it succeeded.
    pub(crate) fn wait_success(&mut self) -> bool {
        wait_until(Duration::from_secs(10), "the attach client to exit", || {
            self.child.try_wait().ok().flatten()
        })
        .success()
    }

    /// Wait for the client to exit; returns everything it printed.
    fn wait_exit(&mut self) -> String {
        wait_until(Duration::from_secs(10), "the attach client to exit", || {
            self.child.try_wait().ok().flatten()
        });
        // The reader thread drains the last output shortly after exit; every exit message is
        // one bracketed line.
        wait_until(Duration::from_secs(5), "the exit message", || {
            let out = self.raw_text();
            out.trim_end().ends_with(']').then_some(out)
        })
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn session(d: &Daemon, id: &str) -> serde_json::Value {
    d.get(&format!("/v1/sessions/{id}")).1
}

fn bash(d: &Daemon, name: &str) -> String {
    let v = d.create(json!({
        "workDir": d.work_dir(),
        "name": name,
        "agentType": "shell",
        "command": ["bash", "--norc", "--noprofile"],
        "env": { "PS1": "$ " },
    }));
    id_of(&v)
}

/// Run `aegis tmux ARGS…` against the daemon, outside any terminal.
fn tmux(d: &Daemon, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_aegis"))
        .arg("tmux")
        .args(args)
        .env("AEGIS_STATE_DIR", d.dir.path().join("state"))
        .env_remove("TMUX")
        .current_dir(d.work_dir())
        .output()
        .expect("aegis tmux")
}

/// A stand-in session `name`, 80x23, whose one pane prints LEFTPANE and waits.
fn left_pane_session(d: &Daemon, name: &str) {
    let out = tmux(
        d,
        &[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "80",
            "-y",
            "23",
            "printf LEFTPANE; exec sleep 1000",
        ],
    );
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn attach_redraws_forwards_input_and_detaches() {
    let d = Daemon::start();
    let id = bash(&d, "att");
    d.wait_screen(&id, "$", Duration::from_secs(10));
    d.send(&id, "echo before-$((40+2))");
    d.wait_screen(&id, "before-42", Duration::from_secs(10));

    let mut t = Term::attach(&d, &["att"], 90, 20);
    // Redraw from the screen model: what was there before attaching is shown.
    t.wait_screen("before-42");
    t.type_bytes(b"echo typed-$((1+2))\r");
    d.wait_screen(&id, "typed-3", Duration::from_secs(10));
    t.wait_screen("typed-3");
    // Ctrl-b d detaches; the session keeps running.
    t.type_bytes(b"\x02d");
    let out = t.wait_exit();
    assert!(out.contains("[detached (from session att)]"), "{out:?}");
    assert_ne!(d.status(&id), "exited");
    d.send(&id, "echo still-alive");
    d.wait_screen(&id, "still-alive", Duration::from_secs(10));
}

#[test]
fn attach_redraw_restores_modes_and_cursor() {
    let d = Daemon::start();
    let v = d.create(json!({
        "workDir": d.work_dir(),
        "name": "modes",
        "agentType": "custom",
        "command": ["sh", "-c", "printf 'main\\n\\033[?1049h\\033[?2004h\\033[H\\033[2Jalt-screen-text\\033[5;7H'; exec sleep 1000"],
    }));
    let id = id_of(&v);
    d.wait_screen(&id, "alt-screen-text", Duration::from_secs(10));
    let t = Term::attach(&d, &["modes"], 80, 24);
    t.wait_screen("alt-screen-text");
    wait_until(
        Duration::from_secs(10),
        "modes and cursor on the client",
        || {
            let p = t.parser.lock().expect("parser");
            let s = p.screen();
            (s.alternate_screen() && s.bracketed_paste() && s.cursor_position() == (4, 6))
                .then_some(())
        },
    );
    assert!(
        !t.screen().contains("main"),
        "the main screen must not show: {}",
        t.screen()
    );
}

#[test]
fn attach_resize_follows_the_latest_client() {
    let d = Daemon::start();
    let id = bash(&d, "rsz");
    d.wait_screen(&id, "$", Duration::from_secs(10));
    let mut t = Term::attach(&d, &["rsz"], 100, 30);
    wait_until(
        Duration::from_secs(10),
        "the session to take 100x30",
        || {
            let s = session(&d, &id);
            (s["cols"] == 100 && s["rows"] == 30).then_some(())
        },
    );
    // SIGWINCH on the client's terminal resizes the session.
    t.master.resize(size(120, 40)).expect("resize");
    wait_until(
        Duration::from_secs(10),
        "the session to take 120x40",
        || {
            let s = session(&d, &id);
            (s["cols"] == 120 && s["rows"] == 40).then_some(())
        },
    );
    t.type_bytes(b"stty size\r");
    t.wait_screen("40 120");
    // A second, read-only client never resizes.
    let _ro = Term::attach(&d, &["-r", "rsz"], 70, 15);
    _ro.wait_screen("40 120");
    let s = session(&d, &id);
    assert_eq!(
        (s["cols"].clone(), s["rows"].clone()),
        (json!(120), json!(40))
    );
    // A second writable client that types becomes the active one: its size wins.
    let mut w2 = Term::attach(&d, &["rsz"], 60, 20);
    wait_until(Duration::from_secs(10), "the session to take 60x20", || {
        let s = session(&d, &id);
        (s["cols"] == 60 && s["rows"] == 20).then_some(())
    });
    t.type_bytes(b"\r");
    wait_until(
        Duration::from_secs(10),
        "typing makes the first client active again",
        || {
            let s = session(&d, &id);
            (s["cols"] == 120 && s["rows"] == 40).then_some(())
        },
    );
    w2.type_bytes(b"\x02d");
    w2.wait_exit();
}

#[test]
fn attach_two_clients_and_read_only_refuses_keys() {
    let d = Daemon::start();
    let id = bash(&d, "two");
    d.wait_screen(&id, "$", Duration::from_secs(10));
    let mut a = Term::attach(&d, &["two"], 80, 24);
    let mut ro = Term::attach(&d, &["--read-only", "two"], 80, 24);
    a.wait_screen("$");
    ro.wait_screen("$");
    ro.type_bytes(b"echo ro-typed-$((7*6))\r");
    a.type_bytes(b"echo from-a-$((2+2))\r");
    // Both clients see the writable client's command run.
    a.wait_screen("from-a-4");
    ro.wait_screen("from-a-4");
    let screen = d.screen(&id);
    assert!(
        !screen.contains("ro-typed"),
        "read-only keys reached the agent:\n{screen}"
    );
    // The read-only client can still detach.
    ro.type_bytes(b"\x02d");
    let out = ro.wait_exit();
    assert!(out.contains("[detached"), "{out:?}");
    a.type_bytes(b"echo after-$((3+3))\r");
    d.wait_screen(&id, "after-6", Duration::from_secs(10));
    assert!(!d.screen(&id).contains("ro-typed"));
}

#[test]
fn attach_reports_session_exit_and_restores_the_terminal() {
    let d = Daemon::start();
    let v = d.create(json!({
        "workDir": d.work_dir(),
        "name": "ending",
        "agentType": "custom",
        "command": ["sh", "-c", "printf 'type a line: '; read x; echo got-$x; exit 3"],
    }));
    let id = id_of(&v);
    d.wait_screen(&id, "type a line", Duration::from_secs(10));
    let mut t = Term::attach(&d, &["ending"], 80, 24);
    t.wait_screen("type a line");
    // Raw mode while attached: the client's terminal does not echo or buffer lines.
    let termios = format!("{:?}", t.master.get_termios().expect("termios").local_flags);
    assert!(
        !termios.contains("ICANON"),
        "not raw while attached: {termios}"
    );
    t.type_bytes(b"bye\r");
    let out = t.wait_exit();
    assert!(
        out.contains("[session ending exited with code 3]"),
        "{out:?}"
    );
    let termios = format!("{:?}", t.master.get_termios().expect("termios").local_flags);
    assert!(
        termios.contains("ICANON") && termios.contains("ECHO"),
        "terminal not restored: {termios}"
    );
    assert!(d.screen(&id).contains("got-bye"));
}

#[test]
fn attach_restores_the_terminal_on_sigterm_and_filters_query_replies() {
    let d = Daemon::start();
    let id = bash(&d, "sig");
    d.wait_screen(&id, "$", Duration::from_secs(10));
    let mut t = Term::attach(&d, &["sig"], 80, 24);
    t.wait_screen("$");
    // The agent asks the terminal for the cursor position; the daemon answers from its model.
    // The user's terminal answers too; that reply must not be typed into the shell.
    // `read` consumes the daemon's answer, as a program that asks would.
    t.type_bytes(b"printf '\\033[6n'; read -rsd R x; echo query-$((1+1))-done\r");
    t.wait_screen("query-2-done");
    t.type_bytes(b"\x1b[5;9R");
    t.type_bytes(b"echo clean-$((5+5))\r");
    d.wait_screen(&id, "clean-10", Duration::from_secs(10));
    let screen = d.screen(&id);
    assert!(
        !screen.contains("5;9R"),
        "the terminal's reply reached the shell:\n{screen}"
    );
    let pid = t.child.process_id().expect("pid");
    crate::support::nix_kill(pid as i32, "TERM").expect("kill");
    t.wait_exit();
    let termios = format!("{:?}", t.master.get_termios().expect("termios").local_flags);
    assert!(
        termios.contains("ICANON"),
        "terminal not restored after SIGTERM: {termios}"
    );
    assert_ne!(d.status(&id), "exited");
}

#[test]
fn attach_through_the_tmux_stand_in() {
    let d = Daemon::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args([
            "tmux",
            "new-session",
            "-d",
            "-s",
            "viatmux",
            "-x",
            "70",
            "-y",
            "20",
        ])
        .args(["bash", "--norc", "--noprofile"])
        .env("AEGIS_STATE_DIR", d.dir.path().join("state"))
        .env_remove("TMUX")
        .current_dir(d.work_dir())
        .output()
        .expect("aegis tmux new-session");
    assert!(out.status.success(), "{out:?}");
    // As claude-squad does: `tmux attach-session -t NAME` inside its own pty.
    let mut t = Term::run(&d, &["tmux", "attach-session", "-t", "viatmux"], 70, 20);
    t.type_bytes(b"echo via-$((6*7))\r");
    t.wait_screen("via-42");
    t.type_bytes(b"\x02d");
    let out = t.wait_exit();
    assert!(out.contains("[detached (from session viatmux)]"), "{out:?}");
    let ls = std::process::Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["tmux", "has-session", "-t", "=viatmux"])
        .env("AEGIS_STATE_DIR", d.dir.path().join("state"))
        .env_remove("TMUX")
        .status()
        .expect("has-session");
    assert!(ls.success(), "the session must survive the detach");
}

/// `tmux attach` on a window of two panes draws them side by side, as tmux does: a border
/// between them, a status line, typing goes to the active pane, and the prefix key's
/// bindings split and move between panes.
#[test]
fn attach_draws_a_split_window_like_tmux() {
    let d = Daemon::start();
    let tmux = |args: &[&str]| tmux(&d, args);
    left_pane_session(&d, "art");
    let out = tmux(&[
        "split-window",
        "-h",
        "-t",
        "art",
        "bash",
        "--norc",
        "--noprofile",
    ]);
    assert!(out.status.success(), "{out:?}");
    let mut t = Term::run(&d, &["tmux", "attach-session", "-t", "art"], 80, 24);
    let screen = t.wait_screen("LEFTPANE");
    // The left pane is 40 columns; the border is column 41; the right pane starts at 42.
    let first = screen.lines().next().unwrap_or("");
    assert!(first.starts_with("LEFTPANE"), "{screen}");
    assert_eq!(first.chars().nth(40), Some('│'), "{screen}");
    let status = wait_until(Duration::from_secs(10), "the status line", || {
        let s = t.screen();
        s.lines()
            .nth(23)
            .filter(|l| l.starts_with("[art] 0:"))
            .map(str::to_owned)
    });
    assert!(status.contains('*'), "{status}");
    // The right pane (bash) is active: typing goes there.
    t.type_bytes(b"echo right-$((6*7))\r");
    let screen = t.wait_screen("right-42");
    let line = screen
        .lines()
        .find(|l| l.contains("right-42"))
        .unwrap_or("");
    assert!(line.find("right-42").is_some_and(|at| at > 40), "{screen}");
    // C-b % splits the active pane; C-b o moves to the next pane.
    t.type_bytes(b"\x02%");
    wait_until(Duration::from_secs(10), "a third pane", || {
        let o = tmux(&["list-panes", "-t", "art", "-F", "#{pane_id}"]);
        (String::from_utf8_lossy(&o.stdout).lines().count() == 3).then_some(())
    });
    t.type_bytes(b"\x02o");
    wait_until(
        Duration::from_secs(10),
        "the first pane to be active",
        || {
            let o = tmux(&["display-message", "-p", "-t", "art", "#{pane_index}"]);
            (String::from_utf8_lossy(&o.stdout).trim() == "0").then_some(())
        },
    );
    // The window took the terminal's size, less the status line.
    let o = tmux(&[
        "display-message",
        "-p",
        "-t",
        "art",
        "#{window_width}x#{window_height} #{session_attached}",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "80x23 1\n");
    t.type_bytes(b"\x02d");
    let out = t.wait_exit();
    assert!(out.contains("[detached (from session art)]"), "{out:?}");
}

/// `aegis attach` on a pane's Aegis session shows the pane's window as `tmux attach` does:
/// both panes side by side with a border and the status line, that pane active and typed
/// into, detach with `C-b d`. A session created over REST, alone in its window, stays a
/// plain passthrough.
#[test]
fn aegis_attach_on_a_pane_shows_its_window() {
    let d = Daemon::start();
    let tmux = |args: &[&str]| tmux(&d, args);
    left_pane_session(&d, "duo");
    let out = tmux(&[
        "split-window",
        "-h",
        "-d",
        "-t",
        "duo",
        "-P",
        "-F",
        "#{pane_id}",
        "bash",
        "--norc",
        "--noprofile",
    ]);
    assert!(out.status.success(), "{out:?}");
    let right = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // `-d` left the first pane active; attaching to the right pane's session selects it.
    let (_, list) = d.get("/v1/sessions");
    let name = list["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["tmux"]["pane"] == right.as_str())
        .and_then(|s| s["name"].as_str())
        .unwrap_or_else(|| panic!("no session for pane {right}: {list}"))
        .to_owned();
    let mut t = Term::attach(&d, &[&name], 80, 24);
    let screen = t.wait_screen("LEFTPANE");
    let first = screen.lines().next().unwrap_or("");
    assert!(first.starts_with("LEFTPANE"), "{screen}");
    assert_eq!(first.chars().nth(40), Some('│'), "{screen}");
    wait_until(Duration::from_secs(10), "the status line", || {
        let s = t.screen();
        s.lines()
            .nth(23)
            .filter(|l| l.starts_with("[duo] 0:"))
            .map(str::to_owned)
    });
    let active = tmux(&["display-message", "-p", "-t", "duo", "#{pane_id}"]);
    assert_eq!(String::from_utf8_lossy(&active.stdout).trim(), right);
    // As tmux 3.3a with two panes: only the active (right) pane's half of the border, the
    // rows below the middle of the 23-row window, is green.
    wait_until(
        Duration::from_secs(10),
        "the lower half of the border green",
        || (t.fg(22, 40) == vt100::Color::Idx(2)).then_some(()),
    );
    assert_eq!(t.fg(12, 40), vt100::Color::Idx(2));
    assert_eq!(t.fg(11, 40), vt100::Color::Default);
    assert_eq!(t.fg(0, 40), vt100::Color::Default);
    t.type_bytes(b"echo pane-$((6*7))\r");
    let screen = t.wait_screen("pane-42");
    let line = screen.lines().find(|l| l.contains("pane-42")).unwrap_or("");
    assert!(line.find("pane-42").is_some_and(|at| at > 40), "{screen}");
    t.type_bytes(b"\x02d");
    let out = t.wait_exit();
    assert!(out.contains("[detached (from session duo)]"), "{out:?}");

    // A REST session is in the daemon's own namespace too (the tmux commands above adopted
    // it), but alone in its window it is attached as before: no status line.
    let plain = bash(&d, "plain");
    d.wait_screen(&plain, "$", Duration::from_secs(10));
    let ls = tmux(&["list-sessions", "-F", "#{session_name}"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("plain"),
        "{ls:?}"
    );
    let mut t = Term::attach(&d, &["plain"], 80, 24);
    t.type_bytes(b"echo plain-$((6*7))\r");
    let screen = t.wait_screen("plain-42");
    assert!(!screen.contains("[plain] 0:"), "{screen}");
    t.type_bytes(b"\x02d");
    let out = t.wait_exit();
    assert!(out.contains("[detached (from session plain)]"), "{out:?}");
}
