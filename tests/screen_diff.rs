//! The differential screen suite: every program under `tests/screen_diff/` is played into a
//! pane of real tmux 3.3a and into an Aegis session (through the tmux stand-in), and what the
//! two show must be identical byte for byte: `capture-pane -p`, `-p -J -S -`, `-p -e` and
//! `-p -e -S -`, the cursor position after each step, and the text of `/v1/sessions/:id/read`
//! (screen, and with `lines=` into the history), which must equal tmux's `-p` capture with
//! trailing blank lines dropped.
//!
//! A program file (`<category>-<what-it-probes>.vt`) is a list of lines:
//! - `# …` a comment (the first says what the program probes);
//! - `size COLSxROWS` the pane size (default 40x12);
//! - `> TEXT` bytes to write, with `\e` (ESC), `\r`, `\n`, `\t`, `\b`, `\a`, `\\`, `\xHH` (a raw
//!   byte) and `\u{HEX}` (a character) spelled out; everything else is literal UTF-8, and the
//!   file's own line breaks are not part of the stream;
//! - `repeat N > TEXT` the same, N times, with `{i}` replaced by 0..N-1;
//! - `resize COLSxROWS` resize the pane, then go on with the lines after it.
//!
//! The replay program (`tests/support/bin/screen_replay.py`) writes each step's bytes with
//! output processing off, then asks for the cursor position: the answer comes only after the
//! terminal parsed everything before it, so its arrival (in a file) is the condition the
//! harness waits on before capturing or resizing (a question left unanswered is asked again
//! after a few seconds, and the test prints a note naming the side). All programs run at once
//! in one tmux server and one daemon; the suite takes every nextest slot (.config/nextest.toml).
//! Set `AEGIS_SCREEN_DIFF=<substring>` to run only the programs whose name contains it. Every
//! program is checked and every difference printed before the test fails.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{Daemon, support_bin, wait_until};

/// The programs, one file each.
const PROGRAMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/screen_diff");

/// The captures compared byte for byte, by their `capture-pane` flags.
const CAPTURES: &[&[&str]] = &[
    &["-p"],
    &["-p", "-J", "-S", "-"],
    &["-p", "-e"],
    &["-p", "-e", "-S", "-"],
];

/// How long one step of one program may take to reach the screen. Generous: all programs
/// start at once on a loaded 2-core machine, and each replay is a Python start-up.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A pane size, columns then rows.
type Size = (u16, u16);

/// One program: its name, its starting size, and its steps (an optional resize, then bytes).
struct Program {
    name: String,
    size: Size,
    steps: Vec<(Option<Size>, Vec<u8>)>,
}

fn parse_size(s: &str) -> Result<Size, String> {
    let (c, r) = s
        .split_once('x')
        .ok_or(format!("size {s:?}: want COLSxROWS"))?;
    let n = |v: &str| v.parse::<u16>().map_err(|e| format!("size {s:?}: {e}"));
    Ok((n(c)?, n(r)?))
}

/// The bytes a `> TEXT` line stands for.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('e') => out.push(0x1b),
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('b') => out.push(0x08),
            Some('a') => out.push(0x07),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let b = u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?;
                out.push(b);
            }
            Some('u') => {
                let rest = chars.as_str();
                let (hex, after) = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .ok_or("\\u wants {HEX}")?;
                let c = u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or(format!("bad \\u{{{hex}}}"))?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                chars = after.chars();
            }
            other => return Err(format!("unknown escape \\{other:?}")),
        }
    }
    Ok(out)
}

fn parse_program(name: &str, text: &str) -> Result<Program, String> {
    let mut size = (40, 12);
    let mut steps = vec![(None, Vec::new())];
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("{name}.vt line {}: {e}", n + 1);
        let last = &mut steps.last_mut().expect("steps starts non-empty").1;
        if line.is_empty() || line.starts_with('#') {
            // Blank lines and comments carry no bytes.
        } else if let Some(t) = line.strip_prefix("> ") {
            last.extend(unescape(t).map_err(at)?);
        } else if let Some(rest) = line.strip_prefix("repeat ") {
            let (count, t) = rest
                .split_once(" > ")
                .ok_or_else(|| at("repeat N > TEXT".into()))?;
            let count: usize = count.parse().map_err(|e| at(format!("{e}")))?;
            for i in 0..count {
                last.extend(unescape(&t.replace("{i}", &i.to_string())).map_err(at)?);
            }
        } else if let Some(s) = line.strip_prefix("size ") {
            size = parse_size(s).map_err(at)?;
        } else if let Some(s) = line.strip_prefix("resize ") {
            steps.push((Some(parse_size(s).map_err(at)?), Vec::new()));
        } else {
            return Err(at(format!("unknown line {line:?}")));
        }
    }
    Ok(Program {
        name: name.to_owned(),
        size,
        steps,
    })
}

fn programs() -> Vec<Program> {
    let only = std::env::var("AEGIS_SCREEN_DIFF").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(PROGRAMS)
        .expect("tests/screen_diff")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "vt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_stem().expect("a file name").to_string_lossy();
            let text = std::fs::read_to_string(p).expect("a UTF-8 program file");
            parse_program(&name, &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .filter(|p| p.name.contains(&only))
        .collect()
}

/// One side of the comparison: real tmux, or the stand-in of the daemon under test.
struct Side<'a> {
    what: &'static str,
    label: String,
    /// `None` for real tmux.
    daemon: Option<&'a Daemon>,
}

impl Side<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = match self.daemon {
            None => Command::new("tmux"),
            Some(d) => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_aegis"));
                c.arg("tmux")
                    .env("AEGIS_STATE_DIR", d.dir.path().join("state"));
                c
            }
        };
        cmd.args(["-L", &self.label, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .output()
            .unwrap_or_else(|e| panic!("running {} ({e})", self.what))
    }

    /// Run and insist on success; returns stdout.
    fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            self.what,
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for Side<'_> {
    fn drop(&mut self) {
        if self.daemon.is_none() {
            let _ = self.run(&["kill-server"]);
        }
    }
}

fn size_arg((c, r): Size) -> String {
    format!("{c}x{r}")
}

/// Write the program's steps to files and start it on `side` as session `p.name`.
fn start(side: &Side<'_>, dir: &Path, p: &Program) {
    let mut args: Vec<String> = vec![
        "new-session".into(),
        "-d".into(),
        "-s".into(),
        p.name.clone(),
        "-x".into(),
        p.size.0.to_string(),
        "-y".into(),
        p.size.1.to_string(),
        "python3".into(),
        support_bin("screen_replay.py"),
        done_prefix(dir, side, p).display().to_string(),
    ];
    for (n, (resize, bytes)) in p.steps.iter().enumerate() {
        // One copy per side: both sides start at once, and a file being rewritten could be read.
        let file = dir.join(format!("{}.{}.{n}.bytes", p.name, side.what));
        std::fs::write(&file, bytes).expect("writing a step");
        if let Some(s) = resize {
            args.push(size_arg(*s));
        }
        args.push(file.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    side.ok(&args);
}

fn done_prefix(dir: &Path, side: &Side<'_>, p: &Program) -> PathBuf {
    dir.join(format!("{}.{}.done", p.name, side.what))
}

/// Control characters made visible, so a diff of `-e` captures is readable.
fn visible(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A line-by-line diff: every line of both, the differing ones marked.
fn diff(left: &[u8], right: &[u8]) -> String {
    let split =
        |b: &[u8]| -> Vec<Vec<u8>> { b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect() };
    let (l, r) = (split(left), split(right));
    let mut out = String::new();
    for i in 0..l.len().max(r.len()) {
        let (a, b) = (l.get(i), r.get(i));
        if a == b {
            let _ = writeln!(out, "      {:>4} |{}", i, visible(a.map_or(&[][..], |v| v)));
        } else {
            let show =
                |v: Option<&Vec<u8>>| v.map_or("(no line)".into(), |v| format!("|{}", visible(v)));
            let _ = writeln!(out, "tmux  {i:>4} {}", show(a));
            let _ = writeln!(out, "aegis {i:>4} {}", show(b));
        }
    }
    out
}

/// tmux's `-p` text as `/read` gives it: trailing blank lines dropped (at least one line).
fn as_read(capture: &[u8], lines: Option<usize>) -> String {
    let text = String::from_utf8_lossy(capture);
    let mut rows: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
    while rows.len() > 1 && rows.last().is_some_and(|r| r.trim_end().is_empty()) {
        rows.pop();
    }
    if let Some(n) = lines {
        rows.drain(..rows.len().saturating_sub(n));
    }
    rows.iter()
        .map(|r| r.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

fn tmux_is_3_3a() {
    let out = Command::new("tmux")
        .arg("-V")
        .output()
        .expect("tmux is not installed; run scripts/install-test-deps (CI does)");
    let v = String::from_utf8_lossy(&out.stdout);
    assert_eq!(v.trim(), "tmux 3.3a", "the suite's oracle is tmux 3.3a");
}

/// How many programs are started or compared at once: the daemon and tmux work in parallel,
/// and most of a program's time is waiting for processes to start.
const WORKERS: usize = 6;

/// `f` over every item on a few threads; results in item order.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results
                        .lock()
                        .expect("no worker panics while holding it")
                        .push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Play program `p` to its end on both sides (resizing between steps), then compare the
/// cursor, the captures and `/read` of Aegis session `id`. Returns the differences, if any.
fn compare(p: &Program, sides: &[Side<'_>; 2], dir: &Path, d: &Daemon, id: &str) -> String {
    let mut report = String::new();
    for (step, (resize, _)) in p.steps.iter().enumerate() {
        if let Some((c, r)) = resize {
            let (c, r) = (c.to_string(), r.to_string());
            for side in sides {
                side.ok(&["resize-window", "-t", &p.name, "-x", &c, "-y", &r]);
            }
        }
        let mut cursors = Vec::new();
        for side in sides {
            let file = PathBuf::from(format!("{}.{step}", done_prefix(dir, side, p).display()));
            let what = format!("{} step {step} on {}", p.name, side.what);
            cursors.push(wait_until(STEP_TIMEOUT, &what, || {
                std::fs::read(&file).ok()
            }));
            let retried = PathBuf::from(format!("{}.retried", file.display()));
            if let Ok(note) = std::fs::read_to_string(retried) {
                // Not a screen difference, so not a failure here; printed so it is not lost.
                eprintln!(
                    "note: {} left the cursor question of {} step {step} unanswered at first ({})",
                    side.what,
                    p.name,
                    note.trim()
                );
            }
        }
        if cursors[0] != cursors[1] {
            let _ = writeln!(
                report,
                "cursor after step {step}: tmux {} aegis {}",
                visible(&cursors[0]),
                visible(&cursors[1])
            );
        }
    }
    let mut plain = Vec::new();
    for flags in CAPTURES {
        let mut args = vec!["capture-pane", "-t", &p.name];
        args.extend_from_slice(flags);
        let (t, a) = (sides[0].ok(&args), sides[1].ok(&args));
        if t != a {
            let _ = write!(
                report,
                "capture-pane {}:\n{}",
                flags.join(" "),
                diff(&t, &a)
            );
        }
        if *flags == ["-p"] {
            plain = t;
        }
    }
    let history_plain = sides[0].ok(&["capture-pane", "-p", "-S", "-", "-t", &p.name]);
    for (query, want) in [
        (String::new(), as_read(&plain, None)),
        (
            "?lines=2000".to_owned(),
            as_read(&history_plain, Some(2000)),
        ),
    ] {
        let (status, v) = d.get(&format!("/v1/sessions/{id}/read{query}"));
        assert!(status.is_success(), "/read{query} of {}: {v}", p.name);
        let got = v["output"].as_str().unwrap_or_default();
        if got != want {
            let _ = write!(
                report,
                "/v1/sessions/:id/read{query} vs tmux's capture:\n{}",
                diff(want.as_bytes(), got.as_bytes())
            );
        }
    }
    report
}

#[test]
fn screen_diff_programs_render_as_in_tmux() {
    tmux_is_3_3a();
    let programs = programs();
    assert!(!programs.is_empty(), "no program matches AEGIS_SCREEN_DIFF");
    let d = Daemon::start();
    let dir = d.dir.path().join("screen-diff");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let label = format!("aegis-screen-diff-{}", std::process::id());
    let sides = [
        Side {
            what: "tmux",
            label: label.clone(),
            daemon: None,
        },
        Side {
            what: "aegis",
            label,
            daemon: Some(&d),
        },
    ];
    // tmux's server exits with its last session; keep one so that it lives across programs.
    sides[0].ok(&["new-session", "-d", "-s", "keepalive", "cat"]);

    let began = std::time::Instant::now();
    let starts: Vec<(&Side<'_>, &Program)> = sides
        .iter()
        .flat_map(|side| programs.iter().map(move |p| (side, p)))
        .collect();
    in_parallel(&starts, |(side, p)| start(side, &dir, p));
    eprintln!(
        "started {} programs on both sides after {:?}",
        programs.len(),
        began.elapsed()
    );

    let sessions = d.get("/v1/sessions?limit=1000").1;
    let mut failures: Vec<(String, String)> = in_parallel(&programs, |p| {
        let id = sessions["sessions"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == p.name.as_str()))
            .and_then(|s| s["id"].as_str())
            .unwrap_or_else(|| panic!("no Aegis session named {}: {sessions}", p.name));
        (p.name.clone(), compare(p, &sides, &dir, &d, id))
    });
    failures.retain(|(_, report)| !report.is_empty());
    eprintln!("compared everything after {:?}", began.elapsed());
    for (name, report) in &failures {
        eprintln!("=== {name} differs from tmux\n{report}");
    }
    let names: Vec<&str> = failures.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} programs differ from tmux 3.3a: {}",
        failures.len(),
        programs.len(),
        names.join(", ")
    );
}
