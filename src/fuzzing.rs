//! Entry points shared by the fuzz targets (fuzz/) and the property tests (tests/props.rs),
//! so both exercise exactly the same code. Each function must never panic on any input.

use std::time::{Duration, Instant};

use crate::api::wire;
use crate::detect::profile::ProfileSet;
use crate::detect::{DetectConfig, Detector};

/// The built-in profiles, parsed once per process.
static PROFILES: std::sync::OnceLock<ProfileSet> = std::sync::OnceLock::new();
/// Every built-in profile gets exercised; the terminal height picks one.
const PROFILE_ORDER: [&str; 5] = ["claude", "codex", "gemini", "aider", "shell"];
use crate::screen::{Format, Screen};

/// Feed `data` through a screen of a size chosen by its first two bytes, with a resize
/// half-way (the history compacted before it), then render every kind of snapshot, replay the
/// holder's snapshot into a fresh model and run the detector.
pub fn exercise_screen(data: &[u8]) {
    let (cols, rows, body) = match data {
        [c, r, rest @ ..] => (u16::from(*c), u16::from(*r) / 4, rest),
        _ => (80, 24, data),
    };
    let mut screen = Screen::new(cols, rows, 50);
    let profile = PROFILES
        .get_or_init(|| ProfileSet::builtin().unwrap_or_default())
        .for_agent(PROFILE_ORDER[usize::from(rows) % PROFILE_ORDER.len()]);
    let cfg = DetectConfig {
        quiet: Duration::from_millis(100),
        stall: Some(Duration::from_secs(1)),
        permission_timeout: None,
    };
    let mut detector = Detector::new(profile, cfg, Instant::now());
    let (first, second) = body.split_at(body.len() / 2);
    screen.process(first);
    // What scrolled off so far takes its compact form mid-stream, as when output pauses.
    screen.compact_history();
    screen.resize(rows.saturating_add(3), cols / 2);
    screen.process(second);
    // The holder's replay snapshot, fed to a fresh model as a reattach does.
    if let Some(replay) = screen.replay() {
        let (c, r) = screen.size();
        Screen::new(c, r, 50).process(&replay);
    }
    detector.on_output(Instant::now());
    let _ = detector.evaluate(Instant::now(), &screen, || None);
    let _ = screen.snapshot(None, Format::Text);
    let _ = screen.snapshot(Some(usize::from(cols) * 3), Format::Ansi);
    let _ = screen.redraw();
}

/// Try `data` as every request body the API accepts.
pub fn parse_every_request(data: &[u8]) {
    let _ = serde_json::from_slice::<wire::CreateSessionRequest>(data);
    let _ = serde_json::from_slice::<wire::BatchCreateRequest>(data);
    let _ = serde_json::from_slice::<wire::BatchDeleteRequest>(data);
    let _ = serde_json::from_slice::<wire::SendRequest>(data);
    let _ = serde_json::from_slice::<wire::KeysRequest>(data);
    let _ = serde_json::from_slice::<wire::ResizeRequest>(data);
}

/// Treat `data` as a tmux stand-in command line (arguments separated by NUL bytes, as argv
/// reaches the stand-in) and run the splitter and parser over every command in it.
pub fn exercise_tmux_argv(data: &[u8]) {
    let argv: Vec<String> = String::from_utf8_lossy(data)
        .split('\0')
        .map(str::to_owned)
        .collect();
    for line in crate::tmux::cmd::split(&argv) {
        if let Ok(cmd) = crate::tmux::cmd::parse(&line) {
            for f in cmd.flags.keys() {
                let _ = (cmd.has(*f), cmd.value(*f), cmd.values(*f));
            }
        }
    }
}

thread_local! {
    /// One scratch session directory per thread, reused by every asciicast input.
    static CAST_DIR: Option<tempfile::TempDir> = tempfile::tempdir().ok();
}

/// Treat `data` as a session's recording file and read it back from offsets and limits
/// chosen by its first bytes: the asciicast reader must never panic on a torn, hostile or
/// corrupted file (recordings live on disk, where anything can happen to them).
pub fn exercise_asciicast(data: &[u8]) {
    let (since, limit, body) = match data {
        [s, l, rest @ ..] => (u64::from(*s) * 7, usize::from(*l) * 3, rest),
        _ => (0, 64, data),
    };
    CAST_DIR.with(|dir| {
        let Some(dir) = dir else { return };
        if std::fs::write(dir.path().join(crate::store::recording::FILE), body).is_ok() {
            let _ = crate::store::recording::read_output(dir.path(), since, limit);
            let _ = crate::store::recording::read_output(dir.path(), 0, usize::MAX);
        }
    });
}
