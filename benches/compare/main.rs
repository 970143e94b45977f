//! `cargo bench --bench compare`: Aegis against tmux and the bare pty, every workload beside
//! its baselines in the same run. Prints one Markdown table on stdout (progress on stderr) and
//! writes `target/bench/compare.json`.
//!
//! It drives the optimized `aegis` binary that cargo builds for benches (`CARGO_BIN_EXE_aegis`,
//! bench profile = release), so nothing needs building first. Needs `tmux` (3.3a here) and
//! optionally `wrk` (`apt-get install tmux wrk`).
//!
//! Sizes come from the environment, so a quick run is possible:
//! `AEGIS_BENCH_QUICK=1` (10 MB corpus, 200 round trips, 100 sessions, 5 s idle window), or
//! individually `AEGIS_BENCH_MB` (corpus MB, default 100), `AEGIS_BENCH_REPEAT` (capture runs,
//! 3), `AEGIS_BENCH_ROUND_TRIPS` (2000), `AEGIS_BENCH_SESSIONS` (1000),
//! `AEGIS_BENCH_IDLE_SECS` (30), `AEGIS_BENCH_LOAD_SECS` (5), `AEGIS_BENCH_STATE_CHANGES`
//! (100), `AEGIS_BENCH_REAL_TURNS` (turns of each real agent CLI in workload 6, 20), and
//! `AEGIS_BENCH_ONLY=1,3` to run some workloads only.

// The bench runs tmux, wrk and the daemon as baselines and load generators; the rule that
// only pty::spawn starts children is for the daemon, not for its harness (as in tests/).
#![allow(clippy::disallowed_methods)]

#[path = "../common/corpus.rs"]
mod corpus;

// The real agent CLIs as the test suite runs them; the bench uses part of what it offers.
#[allow(dead_code)]
#[path = "../../tests/support/agent_cli.rs"]
mod agent_cli;

mod aegis;
mod agent_lab;
mod capture;
mod http;
mod latency;
mod load;
mod report;
mod scale;
mod state;
mod tmux;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use report::Report;

/// The daemon's quiet period for these runs: the coarse detector calls a session idle only
/// after this much silence, so it is a floor under the state-change latency. 50 ms is well
/// above the gaps inside one burst of output from a prompt redraw.
pub const QUIET_MS: u64 = 50;

pub struct Config {
    pub corpus_mb: usize,
    pub repeat: usize,
    pub round_trips: usize,
    pub scale_sessions: usize,
    pub idle_window: Duration,
    pub load_secs: u64,
    pub state_changes: usize,
    pub real_turns: usize,
    pub only: Option<Vec<u32>>,
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        let quick = std::env::var("AEGIS_BENCH_QUICK").is_ok_and(|v| v == "1");
        let pick = |full: usize, small: usize| if quick { small } else { full };
        Config {
            corpus_mb: env_num("AEGIS_BENCH_MB", pick(100, 10)),
            repeat: env_num("AEGIS_BENCH_REPEAT", pick(3, 1)).max(1),
            round_trips: env_num("AEGIS_BENCH_ROUND_TRIPS", pick(2000, 200)).max(1),
            scale_sessions: env_num("AEGIS_BENCH_SESSIONS", pick(1000, 100)).max(1),
            idle_window: Duration::from_secs(
                env_num("AEGIS_BENCH_IDLE_SECS", pick(30, 5) as u64).max(1),
            ),
            load_secs: env_num("AEGIS_BENCH_LOAD_SECS", pick(5, 2) as u64).max(1),
            state_changes: env_num("AEGIS_BENCH_STATE_CHANGES", pick(100, 20)).max(1),
            real_turns: env_num("AEGIS_BENCH_REAL_TURNS", pick(20, 5)).max(1),
            only: std::env::var("AEGIS_BENCH_ONLY")
                .ok()
                .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect()),
        }
    }

    fn wants(&self, workload: u32) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(&workload))
    }
}

fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench")
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu,
        "kernel": kernel.trim(),
        "commit": commit,
    })
}

fn main() -> Result<()> {
    let cfg = Config::from_env();
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();

    let corpus_path = dir.join(format!("corpus-{}mb.txt", cfg.corpus_mb));
    eprintln!(
        "generating a {} MB corpus at {}",
        cfg.corpus_mb,
        corpus_path.display()
    );
    std::fs::write(
        &corpus_path,
        corpus::generate(cfg.corpus_mb * 1_000_000, None, b"\n"),
    )
    .context("writing the corpus")?;

    let mut report = Report::default();
    let d = aegis::Daemon::start(QUIET_MS)?;
    type Workload<'a> = Box<dyn Fn(&mut Report) -> Result<()> + 'a>;
    let workloads: Vec<(u32, &str, Workload)> = vec![
        (
            1,
            "capture throughput",
            Box::new(|r| capture::run(&cfg, &d, &corpus_path, r)),
        ),
        (
            2,
            "input → echo latency",
            Box::new(|r| latency::echo(&cfg, &d, r)),
        ),
        (
            3,
            "snapshot latency",
            Box::new(|r| latency::snapshot(&cfg, &d, &corpus_path, r)),
        ),
        (4, "scale", Box::new(|r| scale::run(&cfg, r))),
        (
            5,
            "API throughput",
            Box::new(|r| load::run(&cfg, &d, &corpus_path, r)),
        ),
        (
            6,
            "state-change latency",
            Box::new(|r| state::run(&cfg, &d, r)),
        ),
    ];
    for (n, name, run) in &workloads {
        if !cfg.wants(*n) {
            continue;
        }
        eprintln!("workload {n}: {name}");
        let t0 = Instant::now();
        if let Err(e) = run(&mut report) {
            report.note(format!("workload {n} ({name}) failed: {e:#}"));
        }
        eprintln!("workload {n} took {:.1} s", t0.elapsed().as_secs_f64());
    }
    drop(workloads);
    drop(d);

    let meta = json!({
        "machine": machine(),
        "config": {
            "corpusMB": cfg.corpus_mb,
            "repeat": cfg.repeat,
            "roundTrips": cfg.round_trips,
            "scaleSessions": cfg.scale_sessions,
            "idleWindowSecs": cfg.idle_window.as_secs(),
            "loadSecs": cfg.load_secs,
            "stateChanges": cfg.state_changes,
            "realTurns": cfg.real_turns,
            "quietMs": QUIET_MS,
        },
        "elapsedSecs": started.elapsed().as_secs_f64(),
    });
    let json_path = dir.join("compare.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report.json(meta.clone()))?,
    )?;
    let _ = std::fs::remove_file(&corpus_path);
    println!("{}", report.markdown());
    println!(
        "Machine: {}. Run took {:.0} s. JSON: {}",
        meta["machine"],
        started.elapsed().as_secs_f64(),
        json_path.display()
    );
    Ok(())
}
