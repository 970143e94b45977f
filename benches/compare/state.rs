//! Workload 6, state-change latency: the fake agent of the test suite
//! (`tests/support/bin/fake_agent.py`, for Claude, Codex and Gemini) gets a prompt, works for a
//! moment and draws its idle prompt; it appends the epoch time of that frame to a log right
//! after writing it to the pty (`--draw-log`). The clock runs from that time until this bench
//! first sees the session `idle` again (status polled every millisecond, having seen `working`
//! in between). So the figure is "prompt drawn → daemon knows", including the detector's
//! debounce and, for agents without a turn-finished line (Gemini), its working → idle hold.
//!
//! Claude runs twice: screen only (`hooks: false`, the detector's own figure) and with its
//! hooks, where the fake agent's `Stop` hook reaches the daemon before the last frame is
//! drawn, as Claude Code's does. Then the daemon knows before the prompt is drawn; such turns
//! count as 0 ms and are reported as "ahead".
//!
//! Then the real Claude Code (hooks on, as users run it, and screen only) and the real Codex
//! CLI (see `agent_lab`), where the clock starts at the model's last byte: nothing here can
//! log when a real agent drew its prompt, so their figure also holds the agent's own time to
//! take the answer in and draw it. When the agent CLIs are not installed the rows say so.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::Config;
use crate::aegis::{Daemon, path_str};
use crate::agent_cli::Agent;
use crate::agent_lab::{AgentLab, installed};
use crate::http::Http;
use crate::report::{Percentiles, Report, Row};

/// Polling interval of the session status: adds at most this to each sample.
const POLL: Duration = Duration::from_millis(1);

/// A turn (0.8 s of fake work) plus its state change slower than this is a failure.
const TURN_TIMEOUT: Duration = Duration::from_secs(15);

/// The peers' figure for the same thing: tmux-polling supervisors see a prompt 0.7–5 s late.
const PEERS: &str = "tmux-polling peers: 0.7–5 s";

fn epoch_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub fn epoch_ms() -> u64 {
    (epoch_secs() * 1000.0) as u64
}

fn fake_agent() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/bin/fake_agent.py"
    )
}

/// The epoch times of the idle frames the agent logged so far.
fn idle_frames(log: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|l| l.trim().parse().context("draw log time"))
        .collect()
}

/// How long an idle frame may be logged after the daemon already reported idle (a hook ahead
/// of the screen); longer means the frame never came.
const FRAME_WAIT: Duration = Duration::from_secs(5);

/// The time of the first idle frame logged after the first `before` ones, waiting for it.
fn next_idle_frame(log: &Path, before: usize, agent: &str) -> Result<f64> {
    let t0 = Instant::now();
    loop {
        if let Some(t) = idle_frames(log)?.get(before) {
            return Ok(*t);
        }
        if t0.elapsed() > FRAME_WAIT {
            bail!("{agent}: idle seen but no idle frame logged");
        }
        std::thread::sleep(POLL);
    }
}

/// Send prompt `i` and return when (epoch seconds) the session was first seen `idle` after
/// having been `working`. `/send` paces text and Enter the way the agent needs and returns
/// once the prompt was submitted, which may be after the turn began: it goes from a second
/// connection while this thread watches the status.
fn send_until_idle(
    d: &Daemon,
    http: &mut Http,
    send_http: &mut Http,
    id: &str,
    i: usize,
    agent: &str,
) -> Result<f64> {
    let send = format!("/v1/sessions/{id}/send");
    std::thread::scope(|scope| -> Result<f64> {
        let sender = scope.spawn(|| send_http.post(&send, &json!({ "text": format!("task {i}") })));
        let t0 = Instant::now();
        let mut worked = false;
        let seen_at = loop {
            let status = d.session(http, id)?["status"].clone();
            worked |= status == "working";
            if worked && status == "idle" {
                break epoch_secs();
            }
            if t0.elapsed() > TURN_TIMEOUT {
                bail!("{agent}: no working → idle after input {i} (last status {status})");
            }
            std::thread::sleep(POLL);
        };
        let r = sender
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))??;
        if r.status != 200 {
            bail!("send: {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
        Ok(seen_at)
    })
}

/// Samples of one agent: prompt drawn → idle seen, and how many turns the daemon knew before
/// the frame was drawn (counted as 0).
struct Turns {
    samples: Vec<Duration>,
    ahead: usize,
}

/// `n` turns of one agent.
fn agent_turns(d: &Daemon, agent: &str, hooks: bool, n: usize) -> Result<Turns> {
    let mut http = d.http()?;
    let log = d.work_dir.join(format!("draw-{agent}-hooks-{hooks}.log"));
    let log_arg = path_str(&log);
    let argv = [
        "python3",
        fake_agent(),
        "--agent",
        agent,
        "--draw-log",
        &log_arg,
    ];
    let id = d.create_agent(&mut http, agent, &argv, hooks)?;
    d.wait_status(&mut http, &id, "idle", POLL, TURN_TIMEOUT)?;
    let mut send_http = d.http()?;
    let mut samples = Vec::with_capacity(n);
    let mut ahead = 0;
    for i in 0..n {
        let before = idle_frames(&log)?.len();
        let seen_at = send_until_idle(d, &mut http, &mut send_http, &id, i, agent)?;
        let drawn = next_idle_frame(&log, before, agent)?;
        if seen_at < drawn {
            ahead += 1;
        }
        samples.push(Duration::from_secs_f64((seen_at - drawn).max(0.0)));
    }
    d.delete(&mut http, &id)?;
    Ok(Turns { samples, ahead })
}

/// `n` turns of a real agent: model's last byte → idle seen.
fn real_turns(d: &Daemon, agent: Agent, hooks: bool, n: usize) -> Result<Vec<Duration>> {
    let mut http = d.http()?;
    let lab = AgentLab::start(d, &mut http, agent, hooks)?;
    let mut send_http = d.http()?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let from = lab.request_count()?;
        let seen_at = send_until_idle(d, &mut http, &mut send_http, &lab.id, i, agent.name())?;
        let answered = lab.answered_at(from)?;
        samples.push(Duration::from_secs_f64((seen_at - answered).max(0.0)));
    }
    d.delete(&mut http, &lab.id)?;
    Ok(samples)
}

/// The real agents' rows (see the module doc).
fn run_real(cfg: &Config, d: &Daemon, report: &mut Report) {
    let w = "6 state change";
    let runs = [
        (Agent::Claude, true, ", hooks on"),
        (Agent::Claude, false, ", screen only"),
        (Agent::Codex, false, ""),
    ];
    for (agent, hooks, how) in runs {
        let label = format!("real {} {}{how}", agent.name(), agent.version());
        if !installed(agent) {
            report.note(format!(
                "{label}: not installed (scripts/install-test-deps puts the agent CLIs under tests/agents)"
            ));
            continue;
        }
        eprintln!("  state: {label}, {} turns", cfg.real_turns);
        match real_turns(d, agent, hooks, cfg.real_turns) {
            Ok(mut samples) => {
                let p = Percentiles::of(&mut samples);
                let sys = format!("aegis, {label}: model's last byte → idle");
                report.push(Row::new(w, &sys, "p50", p.p50, "ms").versus(PEERS));
                report.push(Row::new(w, &sys, "p99", p.p99, "ms").versus(PEERS));
            }
            Err(e) => report.note(format!("{label} failed: {e:#}")),
        }
    }
    report.note(format!(
        "State change on the real agents: {} turns each of Claude Code and Codex CLI against the \
         test suite's scripted model server (tests/support/bin/model_server.py, a one-line answer); \
         clock from the model server's last byte of the answer to the first poll showing idle, so \
         the agent's own time to draw its reply and prompt is included (no real agent can log its \
         frame). Claude's hooks-on row is how users run it (its Stop hook ends the turn).",
        cfg.real_turns
    ));
}

pub fn run(cfg: &Config, d: &Daemon, report: &mut Report) -> Result<()> {
    let w = "6 state change";
    let runs = [
        ("claude", false, "fake claude, screen only"),
        ("claude", true, "fake claude, hooks on"),
        ("codex", false, "fake codex"),
        ("gemini", false, "fake gemini"),
    ];
    for (agent, hooks, label) in runs {
        eprintln!("  state: {label}, {} turns", cfg.state_changes);
        let mut turns = agent_turns(d, agent, hooks, cfg.state_changes)?;
        let p = Percentiles::of(&mut turns.samples);
        let sys = format!("aegis, {label}: prompt drawn → idle");
        let versus = if turns.ahead > 0 {
            format!(
                "{PEERS}; known before the frame in {} of {} turns",
                turns.ahead, cfg.state_changes
            )
        } else {
            PEERS.to_owned()
        };
        report.push(Row::new(w, &sys, "p50", p.p50, "ms").versus(&versus));
        report.push(
            Row::new(w, &sys, "p99", p.p99, "ms")
                .versus(&versus)
                .target("≤ 100 ms", p.p99 <= 100.0),
        );
    }
    report.note(format!(
        "State change: {} turns per agent of tests/support/bin/fake_agent.py; clock from the idle \
         frame's write (logged by the agent) to the first poll showing idle (polled every {} ms). \
         Claude and Codex draw a turn-finished line (settled idle, no hold); Gemini has none, so \
         its figure includes the profile's working → idle hold against flapping (idle_hold_ms). \
         With hooks on, Claude's Stop hook usually arrives before its last frame: those turns count as 0 ms.",
        cfg.state_changes,
        POLL.as_millis(),
    ));
    run_real(cfg, d, report);
    Ok(())
}
