//! Load and fault tests. Bounded in time; they print their measurements (run with
//! `--no-capture` to see them) and assert correctness and loose bounds only; speed targets
//! live in the benchmarks. They run one at a time (`.config/nextest.toml`, group `load`).
//! - `hundred_sessions_thousand_concurrent_sends`: no message lost, duplicated or torn.
//! - `hostile_children_leave_the_daemon_healthy`: crash, ignore SIGTERM, fork a crowd, close
//!   the pty, flood invalid UTF-8 and endless escape sequences.
//! - `a_fork_bomb_within_a_ulimit_leaves_the_daemon_and_other_sessions_healthy`.
//! - `idle_and_slowloris_connections_do_not_starve_health`: 1000 idle and partial requests.
//! - `a_steady_stream_to_hundred_sessions_keeps_daemon_memory_flat`: once every history is full,
//!   turning all of them over twice more does not grow the daemon.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Daemon, Options, id_of, wait_until};

fn unlimited() -> Daemon {
    Daemon::start_with(Options {
        // The load itself would trip the default per-client rate limit.
        args: &["--rate-limit", "0"],
        env: &[],
    })
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

/// Samples the daemon's RSS every 50 ms until dropped; reports the peak.
struct RssWatch {
    peak: Arc<Mutex<u64>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let peak = Arc::new(Mutex::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let kib = crate::support::rss_kib(pid);
                let mut m = p.lock().unwrap_or_else(|e| e.into_inner());
                *m = (*m).max(kib);
                drop(m);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssWatch { peak, stop }
    }
    fn peak_mib(&self) -> u64 {
        *self.peak.lock().unwrap_or_else(|e| e.into_inner()) / 1024
    }

    /// The daemon's memory stayed bounded throughout.
    fn assert_peak_below(&self, mib: u64) {
        let peak = self.peak_mib();
        assert!(peak < mib, "daemon RSS peaked at {peak} MiB");
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn hundred_sessions_thousand_concurrent_sends() {
    const SESSIONS: usize = 100;
    const PER_SESSION: usize = 10;
    let d = Arc::new(unlimited());
    let rss = RssWatch::start(d.pid);
    let logs = d.dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let sessions: Vec<(String, std::path::PathBuf)> = (0..SESSIONS)
        .map(|i| {
            let log = logs.join(format!("s{i}.log"));
            // `tee` appends every line it reads from the pty to the log: no shell involved.
            let v = d.spawn(&["tee", log.to_str().expect("utf-8 path")]);
            (id_of(&v), log)
        })
        .collect();
    let total = SESSIONS * PER_SESSION;
    let barrier = Arc::new(Barrier::new(total));
    let started = Instant::now();
    let handles: Vec<_> = (0..total)
        .map(|n| {
            let (d, b) = (d.clone(), barrier.clone());
            let (id, _) = sessions[n % SESSIONS].clone();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let text = format!("msg-{}-{:04}-{}", n % SESSIONS, n, "x".repeat(40));
                    b.wait();
                    let t = Instant::now();
                    let (status, v) =
                        d.post(&format!("/v1/sessions/{id}/send"), json!({ "text": text }));
                    assert_eq!(status, StatusCode::OK, "send {n}: {v}");
                    t.elapsed()
                })
                .expect("thread")
        })
        .collect();
    let latencies: Vec<Duration> = handles
        .into_iter()
        .map(|h| h.join().expect("sender"))
        .collect();
    let elapsed = started.elapsed();
    for (i, (_, log)) in sessions.iter().enumerate() {
        let lines = wait_until(
            Duration::from_secs(60),
            &format!("session {i} logging {PER_SESSION} lines"),
            || {
                let text = std::fs::read_to_string(log).ok()?;
                let lines: Vec<String> = text.lines().map(str::to_owned).collect();
                (lines.len() >= PER_SESSION).then_some(lines)
            },
        );
        let mut want: Vec<String> = (0..total)
            .filter(|n| n % SESSIONS == i)
            .map(|n| format!("msg-{i}-{n:04}-{}", "x".repeat(40)))
            .collect();
        let mut got = lines.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want, "session {i}: lost, duplicated or torn messages");
    }
    eprintln!(
        "load: {total} concurrent sends to {SESSIONS} sessions in {elapsed:?} ({:.0} sends/s); \
         send p50 {:?} p99 {:?}; daemon peak RSS {} MiB",
        total as f64 / elapsed.as_secs_f64(),
        percentile(latencies.clone(), 0.5),
        percentile(latencies, 0.99),
        rss.peak_mib()
    );
    rss.assert_peak_below(1024);
}

/// `n` timed `GET /v1/health` calls (each must answer 200), running `between` after each.
fn health_latencies(d: &Daemon, n: usize, between: impl Fn(&Daemon)) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let (status, _) = d.get("/v1/health");
            assert_eq!(status, StatusCode::OK);
            let took = t.elapsed();
            between(d);
            took
        })
        .collect()
}

/// Wait until no process is left in the terminal session led by `sid` (a session's pid).
fn wait_processes_gone(sid: i64, what: &str) {
    wait_until(Duration::from_secs(30), what, || {
        crate::support::session_processes(sid)
            .is_empty()
            .then_some(())
    });
}

#[test]
fn hostile_children_leave_the_daemon_healthy() {
    let d = unlimited();
    let rss = RssWatch::start(d.pid);
    let py = |code: &str| id_of(&d.spawn(&["python3", "-c", code]));
    let crash = py("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)");
    let stubborn = py("import signal, time\n\
         for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT): signal.signal(s, signal.SIG_IGN)\n\
         print('stubborn ready', flush=True)\n\
         time.sleep(600)");
    // A crowd of 64 grandchildren that ignore hangup; killing the session must end them all.
    // (The unbounded kind, a fork bomb inside RLIMIT_NPROC, has its own test below.)
    let crowd = py("import os, signal, time\n\
         signal.signal(signal.SIGHUP, signal.SIG_IGN)\n\
         for _ in range(64):\n\
         \x20   if os.fork() == 0:\n\
         \x20       time.sleep(600); os._exit(0)\n\
         print('crowd ready', flush=True)\n\
         time.sleep(600)");
    let closer = py("import os, time\n\
         print('closing', flush=True)\n\
         os.close(0); os.close(1); os.close(2)\n\
         time.sleep(600)");
    // The marker follows an ST: like tmux, the screen model stays inside a DCS string the
    // random bytes may open until ST ends it, so text after it would not be shown.
    let garbage = py("import os, random\n\
         r = random.Random(7)\n\
         for i in range(4000):\n\
         \x20   os.write(1, b'\\xff\\xfe\\xc3(' + bytes(r.getrandbits(8) for _ in range(200)) + b'\\x1b[' + b'9' * 300 + b'\\x1b]0;' + b'A' * 500)\n\
         os.write(1, b'\\x1b\\\\\\x1b[0m\\x1bcgarbage done\\r\\n')");
    let endless = py("import os\n\
         while True: os.write(1, b'\\x1b[1;31m\\x1b[2J\\x1b[H\\x1b[?1049h\\x1b[38;5;200m' * 100)");

    // The crashed child is reported as exited, and its session stays readable.
    d.wait_status(&crash, "exited", Duration::from_secs(30));
    assert_eq!(
        d.get(&format!("/v1/sessions/{crash}/read")).0,
        StatusCode::OK
    );
    d.wait_screen(&stubborn, "stubborn ready", Duration::from_secs(30));
    d.wait_screen(&crowd, "crowd ready", Duration::from_secs(30));
    d.wait_screen(&garbage, "garbage done", Duration::from_secs(60));
    d.wait_screen(&closer, "closing", Duration::from_secs(30));
    // Under an endless flood the API still answers, and snapshots are valid JSON/UTF-8.
    let health = health_latencies(&d, 50, |d| {
        let (status, v) = d.get(&format!("/v1/sessions/{endless}/read"));
        assert_eq!(status, StatusCode::OK, "{v}");
    });
    let crowd_pid = d.get(&format!("/v1/sessions/{crowd}")).1["pid"]
        .as_i64()
        .expect("pid");
    for id in [&stubborn, &crowd, &closer, &endless, &garbage] {
        let (status, v) = d.call(reqwest::Method::DELETE, &format!("/v1/sessions/{id}"), None);
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    wait_processes_gone(crowd_pid, "the crowd's process group to be gone");
    eprintln!(
        "hostile children: health p99 under an escape flood {:?}; daemon peak RSS {} MiB",
        percentile(health, 0.99),
        rss.peak_mib()
    );
    rss.assert_peak_below(1024);
}

/// Processes of `uid` on the machine (the bomb runs as `nobody`, see fork_bomb.py).
fn processes_of_uid(uid: u32) -> usize {
    let want = format!("Uid:\t{uid}\t");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("status"))
                .is_ok_and(|s| s.lines().any(|l| format!("{l}\t").starts_with(&want)))
        })
        .count()
}

#[test]
fn a_fork_bomb_within_a_ulimit_leaves_the_daemon_and_other_sessions_healthy() {
    const LIMIT: usize = 48;
    let d = unlimited();
    let rss = RssWatch::start(d.pid);
    let neighbour = d.bash();
    d.wait_status(&neighbour, "idle", Duration::from_secs(30));
    let bomb = id_of(&d.spawn(&[
        "python3",
        &crate::support::support_bin("fork_bomb.py"),
        &LIMIT.to_string(),
    ]));
    d.wait_screen(&bomb, "bomb armed", Duration::from_secs(30));
    // The kernel refused a fork: the bomb is at its ulimit, still forking as fast as it can.
    d.wait_screen(&bomb, "limit reached", Duration::from_secs(30));
    let bomb_pid = d.get(&format!("/v1/sessions/{bomb}")).1["pid"]
        .as_i64()
        .expect("pid");
    let members = crate::support::session_processes(bomb_pid).len();
    assert!(
        members >= LIMIT / 2,
        "the bomb should fill its ulimit, found {members} processes"
    );

    // Meanwhile the daemon answers, and another session still works end to end.
    let health = health_latencies(&d, 50, |_| {});
    d.send(&neighbour, "echo neighbour-$((6*7))");
    d.wait_screen(&neighbour, "neighbour-42", Duration::from_secs(30));
    let (status, v) = d.get(&format!("/v1/sessions/{bomb}/read"));
    assert_eq!(status, StatusCode::OK, "{v}");

    // Killing the session ends every process of the bomb, including ones forked meanwhile.
    let (status, v) = d.call(
        reqwest::Method::DELETE,
        &format!("/v1/sessions/{bomb}"),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{v}");
    wait_processes_gone(bomb_pid, "every bomb process to be gone");
    let p99 = percentile(health, 0.99);
    eprintln!(
        "fork bomb at RLIMIT_NPROC {LIMIT} ({members} processes): health p99 {p99:?}; daemon peak RSS {} MiB; nobody's processes left {}",
        rss.peak_mib(),
        processes_of_uid(65534)
    );
    // Loose: a daemon blocked by the bomb would take seconds per call.
    assert!(p99 < Duration::from_secs(2), "health p99 {p99:?}");
    rss.assert_peak_below(512);
}

#[test]
fn idle_and_slowloris_connections_do_not_starve_health() {
    let d = unlimited();
    let rss = RssWatch::start(d.pid);
    let addr = d.url.trim_start_matches("http://").to_owned();
    let mut conns = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(&addr).expect("connect");
        if i % 2 == 1 {
            // Slowloris: a request line and half a header, never finished.
            let _ = s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a");
        }
        conns.push(s);
    }
    let mut lat = Vec::new();
    let t0 = Instant::now();
    for round in 0..200 {
        // Keep the slow ones dribbling.
        if round % 20 == 0 {
            for s in conns.iter_mut().skip(1).step_by(2) {
                let _ = s.write_all(b"a");
            }
        }
        let t = Instant::now();
        let (status, _) = d.get("/v1/health");
        assert_eq!(status, StatusCode::OK);
        lat.push(t.elapsed());
    }
    let p99 = percentile(lat.clone(), 0.99);
    eprintln!(
        "1000 idle/slowloris connections: 200 health calls in {:?}, p50 {:?} p99 {p99:?}; daemon peak RSS {} MiB",
        t0.elapsed(),
        percentile(lat, 0.5),
        rss.peak_mib()
    );
    // Loose: a starved accept loop would take tens of seconds, not a second.
    assert!(p99 < Duration::from_secs(2), "health p99 {p99:?}");
    drop(conns);
    rss.assert_peak_below(512);
}

/// Prints numbered lines of mixed output (SGR colour, CJK, emoji, tabs, varying length) at a
/// steady 80 lines/s, forever: `#n#` marks line n. Batches of 40 twice a second, so the
/// daemon's per-update work (detection, events) stays small beside the lines themselves.
const STREAM: &str = r#"
import sys, time
n = 0
while True:
    out = []
    for _ in range(40):
        n += 1
        out.append("\x1b[3%dm#%d#\x1b[0m 漢字 🎉\t%s\n" % (n % 8, n, "x" * (n % 20)))
    sys.stdout.write("".join(out))
    sys.stdout.flush()
    time.sleep(0.5)
"#;

/// Lines a session must print to fill its default 2000-line history and its screen, with margin.
const TURNOVER_LINES: u64 = 2200;

/// The highest `#n#` line number on a screen.
fn last_line_number(screen: &str) -> u64 {
    screen
        .split('#')
        .filter_map(|s| s.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_steady_stream_to_hundred_sessions_keeps_daemon_memory_flat() {
    const SESSIONS: usize = 100;
    // An unbounded history would grow by at least SESSIONS × TURNOVER_LINES × ~40 bytes of
    // text alone (≈ 8 MiB) per turnover; a flat daemon stays well within this.
    const ALLOWED_GROWTH_KIB: u64 = 4 * 1024;
    let d = unlimited();
    let ids: Vec<String> = (0..SESSIONS)
        .map(|_| id_of(&d.spawn(&["python3", "-c", STREAM])))
        .collect();
    // Wait until every session has printed `lines` more than `from[i]`; returns where each is.
    let printed_past = |from: &[u64], lines: u64, what: &str| -> Vec<u64> {
        ids.iter()
            .zip(from)
            .enumerate()
            .map(|(i, (id, from))| {
                wait_until(
                    Duration::from_secs(180),
                    &format!("session {i} {what}"),
                    || {
                        let n = last_line_number(&d.screen(id));
                        (n >= from + lines).then_some(n)
                    },
                )
            })
            .collect()
    };
    let t0 = Instant::now();
    let start = vec![0; SESSIONS];
    let full = printed_past(&start, TURNOVER_LINES, "filling its history");
    let filled = d.rss_kib();
    eprintln!("load: histories full after {:?}", t0.elapsed());
    let once = printed_past(&full, TURNOVER_LINES, "turning its history over");
    let turned_once = d.rss_kib();
    eprintln!("load: turned over once after {:?}", t0.elapsed());
    printed_past(&once, TURNOVER_LINES, "turning its history over again");
    let turned_twice = d.rss_kib();
    eprintln!(
        "load: {SESSIONS} streaming sessions; daemon RSS with full histories {filled} KiB, \
         after one turnover {turned_once} KiB, after two {turned_twice} KiB"
    );
    let growth = turned_once.max(turned_twice).saturating_sub(filled);
    assert!(
        growth <= ALLOWED_GROWTH_KIB,
        "daemon memory grew by {growth} KiB once histories were full \
         ({filled} -> {turned_once} -> {turned_twice} KiB)"
    );
}
