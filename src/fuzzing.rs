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
/// half-way, then render every kind of snapshot and run the detector.
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
    screen.resize(rows.saturating_add(3), cols / 2);
    screen.process(second);
    detector.on_output(Instant::now());
    let _ = detector.evaluate(Instant::now(), &screen);
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
