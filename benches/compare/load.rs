//! Workload 5, API throughput: requests per second on `GET /v1/health` and
//! `GET /v1/sessions/:id/read` at concurrency 32, from a load generator outside the daemon:
//! `wrk` when it is installed (`apt-get install wrk`), else 32 threads of this process with
//! one keep-alive connection each.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::Config;
use crate::aegis::{Daemon, path_str};
use crate::http::Http;
use crate::report::{Report, Row};

/// Concurrent connections, as in the issue.
const CONCURRENCY: usize = 32;

/// Bytes of corpus the read target prints, so `/read` returns a realistic full screen.
const SCREEN_BYTES: usize = 6000;

fn have_wrk() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

fn wrk(url: &str, secs: u64) -> Result<f64> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONCURRENCY}"),
            &format!("-d{secs}s"),
            url,
        ])
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        bail!("wrk saw errors:\n{text}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk output:\n{text}"))
}

fn threads(addr: &str, path: &str, secs: u64) -> Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers = (0..CONCURRENCY)
        .map(|_| {
            let mut http = Http::connect(addr)?;
            let (stop, done, path) = (stop.clone(), done.clone(), path.to_owned());
            Ok(std::thread::spawn(move || -> Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    let r = http.get(&path)?;
                    if r.status != 200 {
                        bail!("{path}: {}", r.status);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let n = done.load(Ordering::Relaxed);
    let el = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
    }
    Ok(n as f64 / el.as_secs_f64())
}

pub fn run(cfg: &Config, d: &Daemon, corpus: &std::path::Path, report: &mut Report) -> Result<()> {
    let mut http = d.http()?;
    let script = format!("head -c {SCREEN_BYTES} '{}'; exec cat", path_str(corpus));
    let id = d.create(&mut http, &["sh", "-c", &script])?;
    let read = format!("/v1/sessions/{id}/read");
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(&read)?.body.len() < 1000 {
        if Instant::now() > deadline {
            bail!("read target drew nothing");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let use_wrk = have_wrk();
    let generator = if use_wrk {
        "wrk -t2 -c32"
    } else {
        "32 threads, keep-alive"
    };
    let w = "5 API throughput";
    for (name, path) in [
        ("GET /v1/health", "/v1/health".to_owned()),
        ("GET /read", read),
    ] {
        eprintln!("  load: {name} for {} s with {generator}", cfg.load_secs);
        let rps = if use_wrk {
            wrk(&format!("http://{}{path}", d.addr), cfg.load_secs)?
        } else {
            threads(&d.addr, &path, cfg.load_secs)?
        };
        let mut row = Row::new(
            w,
            format!("aegis {name}"),
            "requests/s at c=32",
            rps,
            "req/s",
        )
        .versus(format!("tmux has no API; generator: {generator}"));
        if path != "/v1/health" {
            row = row.target("≥ 20k req/s", rps >= 20_000.0);
        }
        report.push(row);
    }
    d.delete(&mut http, &id)?;
    Ok(())
}
