//! Workload 4, scale: N `cat` sessions in a fresh daemon and in a fresh tmux server, twice:
//! idle (nothing printed), and busy (each printed [`BUSY_LINES`] lines of mixed output first,
//! so its 2000-line history is full); creation time, server RSS per session and the server's
//! idle CPU over a window. Aegis keeps each session's pty in a holder process (see
//! `src/holder`); tmux has no such process, so the holders' memory (PSS: the shared binary
//! counted once) and CPU are reported beside the daemon's, and the targets apply to daemon
//! plus holders.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::Config;
use crate::aegis::{Daemon, cpu_ticks, holders, path_str, pss_kib, rss_kib, ticks_per_second};
use crate::report::{Report, Row, ratio};
use crate::tmux::Tmux;

/// Idle CPU is measured only once no session is `working`, so the window sees steady state
/// (a silent session is `starting` until the detector's 3 s start-up grace, then `idle`; both
/// count as quiet here).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Lines each busy session prints: more than the 2000 kept as history plus the screen.
const BUSY_LINES: usize = 3000;

/// Printed after the busy output: seeing it on a session's screen means all of it was parsed.
const BUSY_DONE: &str = "AEGIS-BUSY-DONE";

/// How long all busy sessions together may take to print their output and be seen done.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// The shell command line of a session: `cat` (idle), or the busy output then `cat`.
fn command(busy: Option<&Path>) -> String {
    match busy {
        None => "exec cat".to_owned(),
        Some(file) => format!("cat '{}'; echo {BUSY_DONE}; exec cat", path_str(file)),
    }
}

/// The busy sessions' output: the first [`BUSY_LINES`] lines of the mixed corpus.
fn busy_file(dir: &Path) -> Result<std::path::PathBuf> {
    let corpus = crate::corpus::generate(BUSY_LINES * 400, None, b"\n");
    let mut lines: Vec<&[u8]> = corpus.split_inclusive(|b| *b == b'\n').collect();
    if lines.len() < BUSY_LINES {
        bail!("the corpus has only {} lines", lines.len());
    }
    lines.truncate(BUSY_LINES);
    let path = dir.join("busy.txt");
    std::fs::write(&path, lines.concat())?;
    Ok(path)
}

/// Wait until `screen(i)` shows [`BUSY_DONE`] for every session `i` in `0..n`.
fn wait_busy_done(n: usize, mut screen: impl FnMut(usize) -> Result<String>) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    for i in 0..n {
        while !screen(i)?.contains(BUSY_DONE) {
            if Instant::now() > deadline {
                bail!("busy session {i} did not finish its output");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

struct Figures {
    create: Duration,
    rss_per_session_kib: f64,
    rss_total_kib: u64,
    idle_cpu_percent: f64,
    /// Aegis only: the holder processes, per session.
    holders: Option<HolderFigures>,
}

struct HolderFigures {
    count: usize,
    pss_per_session_kib: f64,
    idle_cpu_percent: f64,
}

/// CPU used by `pids` together over `window`, in % of one core. A process that exits during
/// the window counts with what it used until its last sample.
fn idle_cpu(pids: &[u32], window: Duration) -> Result<f64> {
    let total = |pids: &[u32]| -> u64 { pids.iter().filter_map(|p| cpu_ticks(*p).ok()).sum() };
    let c0 = total(pids);
    std::thread::sleep(window);
    let c1 = total(pids);
    Ok(c1.saturating_sub(c0) as f64 / ticks_per_second() / window.as_secs_f64() * 100.0)
}

/// A copy of the daemon binary alone in a directory, so its holders run as `aegis holder`:
/// the baseline for the small `aegis-holder` binary, measured in the same run.
fn lone_daemon_binary() -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix("aegis-bench-bin-")
        .tempdir()?;
    let exe = dir.path().join("aegis");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_aegis"), &exe).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_aegis"), &exe)?;
    }
    Ok((dir, exe))
}

fn aegis(cfg: &Config, exe: Option<&Path>, busy: Option<&Path>) -> Result<Figures> {
    let d = match exe {
        Some(exe) => Daemon::start_from(exe, crate::QUIET_MS)?,
        None => Daemon::start(crate::QUIET_MS)?,
    };
    let mut http = d.http()?;
    let rss0 = d.rss_kib()?;
    let t0 = Instant::now();
    let script = command(busy);
    let mut ids = Vec::with_capacity(cfg.scale_sessions);
    for _ in 0..cfg.scale_sessions {
        ids.push(d.create(&mut http, &["sh", "-c", &script])?);
    }
    let create = t0.elapsed();
    if busy.is_some() {
        wait_busy_done(ids.len(), |i| {
            let r = http.get(&format!("/v1/sessions/{}/read", ids[i]))?;
            Ok(String::from_utf8_lossy(&r.body).into_owned())
        })?;
    }
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let stats = http.get("/v1/sessions/stats")?.json()?;
        if stats["byStatus"]["working"].as_u64().unwrap_or(0) == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("sessions did not settle: {stats}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(http);
    let rss1 = d.rss_kib()?;
    let held = holders(d.pid);
    let pss: u64 = held.iter().filter_map(|p| pss_kib(*p).ok()).sum();
    eprintln!(
        "  scale: aegis idle CPU over {:?} ({} holders)",
        cfg.idle_window,
        held.len()
    );
    // Daemon and holders in the same window, each figure on its own.
    let (cpu, holder_cpu) = std::thread::scope(|s| {
        let h = s.spawn(|| idle_cpu(&held, cfg.idle_window));
        let own = idle_cpu(&[d.pid], cfg.idle_window);
        (own, h.join().unwrap_or_else(|_| Ok(f64::NAN)))
    });
    Ok(Figures {
        create,
        rss_per_session_kib: rss1.saturating_sub(rss0) as f64 / cfg.scale_sessions as f64,
        rss_total_kib: rss1,
        idle_cpu_percent: cpu?,
        holders: Some(HolderFigures {
            count: held.len(),
            pss_per_session_kib: pss as f64 / cfg.scale_sessions as f64,
            idle_cpu_percent: holder_cpu?,
        }),
    })
}

fn tmux(cfg: &Config, busy: Option<&Path>) -> Result<(Figures, String)> {
    let t = Tmux::start("scale")?;
    let pid = t.server_pid()?;
    let rss0 = rss_kib(pid)?;
    let t0 = Instant::now();
    let script = command(busy);
    for i in 0..cfg.scale_sessions {
        t.new_session(&format!("s{i}"), &script)?;
    }
    let create = t0.elapsed();
    if busy.is_some() {
        wait_busy_done(cfg.scale_sessions, |i| t.capture(&format!("s{i}")))?;
    }
    let rss1 = rss_kib(pid)?;
    eprintln!("  scale: tmux idle CPU over {:?}", cfg.idle_window);
    let cpu = idle_cpu(&[pid], cfg.idle_window)?;
    Ok((
        Figures {
            create,
            rss_per_session_kib: rss1.saturating_sub(rss0) as f64 / cfg.scale_sessions as f64,
            rss_total_kib: rss1,
            idle_cpu_percent: cpu,
            holders: None,
        },
        t.version.clone(),
    ))
}

pub fn run(cfg: &Config, report: &mut Report) -> Result<()> {
    let n = cfg.scale_sessions;
    eprintln!("  scale: {n} idle aegis sessions");
    let ours = aegis(cfg, None, None)?;
    eprintln!("  scale: {n} idle aegis sessions, holders from the full binary");
    let (bin, lone) = lone_daemon_binary()?;
    // The full-binary holders are a baseline, not the default path: their failure is reported
    // and the workload goes on.
    let full = aegis(cfg, Some(&lone), None)
        .inspect_err(|e| {
            eprintln!("  scale: the full-binary holder baseline failed: {e:#}");
            report.note(format!(
                "Scale: the baseline with holders from the full `aegis` binary failed ({e:#}); its row is missing."
            ));
        })
        .ok();
    eprintln!("  scale: {n} idle tmux sessions");
    let (theirs, version) = tmux(cfg, None)?;
    push_rows(report, n, "idle", &ours, full.as_ref(), &theirs, &version);

    let busy = busy_file(bin.path())?;
    eprintln!("  scale: {n} busy aegis sessions ({BUSY_LINES} lines each)");
    let ours = aegis(cfg, None, Some(&busy))?;
    eprintln!("  scale: {n} busy tmux sessions ({BUSY_LINES} lines each)");
    let (theirs, version) = tmux(cfg, Some(&busy))?;
    push_rows(report, n, "busy", &ours, None, &theirs, &version);
    let busy_bytes = std::fs::metadata(&busy)?.len();
    report.note(format!(
        "Scale: {n} sessions running `cat`, created one after another over REST (aegis) or `tmux new-session -d` (tmux); \
         RSS is the server process (its `cat` children excluded); Aegis's holder processes are measured as PSS, \
         so the binary they share counts once; idle CPU over {} s, daemon and holders in the same window. \
         Busy sessions first print the same {BUSY_LINES} lines of the mixed corpus ({:.0} KiB: SGR colours, CJK, emoji, \
         tabs, long lines that wrap), so the 2000-line history of each (Aegis's default, tmux's history-limit) is full; \
         they are measured once their last line is on screen.",
        cfg.idle_window.as_secs(),
        busy_bytes as f64 / 1024.0
    ));
    Ok(())
}

/// The rows of one pass (`kind`: idle or busy) of aegis against tmux.
fn push_rows(
    report: &mut Report,
    n: usize,
    kind: &str,
    ours: &Figures,
    full: Option<&Figures>,
    theirs: &Figures,
    version: &str,
) {
    let w = "4 scale";
    let sys = format!("aegis, {n} {kind} sessions");
    let tsys = format!("{version}, {n} {kind} sessions");
    let ms_each = |f: &Figures| f.create.as_secs_f64() * 1e3 / n as f64;
    report.push(
        Row::new(w, &sys, "creation, per session", ms_each(ours), "ms").versus(ratio(
            ms_each(ours),
            ms_each(theirs),
            "tmux",
            false,
        )),
    );
    report.push(
        Row::new(w, &tsys, "creation, per session", ms_each(theirs), "ms").versus("baseline"),
    );
    report.push(
        Row::new(
            w,
            &sys,
            "daemon RSS per session",
            ours.rss_per_session_kib,
            "KiB",
        )
        .versus(format!(
            "tmux {:.0} KiB; total {:.1} MiB",
            theirs.rss_per_session_kib,
            ours.rss_total_kib as f64 / 1024.0
        )),
    );
    let held = ours.holders.as_ref();
    let holder_pss = held.map_or(0.0, |h| h.pss_per_session_kib);
    if let Some(h) = held {
        report.push(
            Row::new(
                w,
                &sys,
                "holder PSS per session",
                h.pss_per_session_kib,
                "KiB",
            )
            .versus(format!("{} holder processes", h.count)),
        );
    }
    if let Some(f) = full.and_then(|f| f.holders.as_ref()) {
        report.push(
            Row::new(
                w,
                format!("aegis holder (full binary), {n} {kind} sessions"),
                "holder PSS per session",
                f.pss_per_session_kib,
                "KiB",
            )
            .versus(format!(
                "before aegis-holder; {} holders; aegis-holder {}",
                f.count,
                ratio(holder_pss, f.pss_per_session_kib, "this", true)
            )),
        );
    }
    let both = ours.rss_per_session_kib + holder_pss;
    let row = Row::new(w, &sys, "daemon + holder per session", both, "KiB").versus(format!(
        "{:.2}× tmux's {:.0} KiB",
        both / theirs.rss_per_session_kib,
        theirs.rss_per_session_kib
    ));
    report.push(if kind == "busy" {
        // A full history at tmux's cost: within 1.5× of a tmux pane, and 2 MiB in all.
        row.target(
            "≤ 1.5× tmux and ≤ 2 MiB",
            both <= 1.5 * theirs.rss_per_session_kib && both <= 2048.0,
        )
    } else {
        row.target("≤ 1 MB", both <= 1024.0)
    });
    report.push(
        Row::new(
            w,
            &tsys,
            "server RSS per session",
            theirs.rss_per_session_kib,
            "KiB",
        )
        .versus(format!(
            "total {:.1} MiB",
            theirs.rss_total_kib as f64 / 1024.0
        )),
    );
    let holder_cpu = held.map_or(0.0, |h| h.idle_cpu_percent);
    let all_cpu = ours.idle_cpu_percent + holder_cpu;
    report.push(
        Row::new(
            w,
            &sys,
            "idle CPU, daemon",
            ours.idle_cpu_percent,
            "% of a core",
        )
        .versus(format!("tmux {:.2}%", theirs.idle_cpu_percent)),
    );
    report.push(
        Row::new(
            w,
            &sys,
            "idle CPU, daemon + holders",
            all_cpu,
            "% of a core",
        )
        .versus(format!("holders {holder_cpu:.2}%"))
        .target("≤ 2%", all_cpu <= 2.0),
    );
    report.push(Row::new(
        w,
        &tsys,
        "idle CPU",
        theirs.idle_cpu_percent,
        "% of a core",
    ));
}
