//! Latency from pty output to a push client, p50/p99, with 1 and 100 concurrent subscribers.
//!
//! Starts the release `aegis` daemon (`cargo bench --bench streams`). A helper program in the
//! session (`tests/support/bin/stream_ticker.py`) prints `T<ns since epoch>` lines and records
//! each stamp in a file.
//! - WebSocket: each client parses the stamps out of its `tty_data` frames; latency is arrival
//!   time minus the stamp (same machine, same clock).
//! - SSE: the ticks are spaced beyond the idle quiet period, so each one turns the session from
//!   idle to working; each client takes the k-th `session.working` event against the k-th
//!   stamp. This measures output → detector → bus → SSE.

#![allow(clippy::disallowed_methods)] // the bench starts the daemon and helpers directly

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{Value, json};

/// Ticks per run. With 100 subscribers that is 6000 samples.
const TICKS: usize = 60;
/// Spacing of ticks: beyond the 100 ms quiet period the daemon is started with, so every
/// tick is a fresh idle → working transition for the SSE measurement.
const TICK_MS: u64 = 250;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

struct Daemon {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn start_daemon() -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args([
            "serve",
            "--port",
            "0",
            "--quiet-ms",
            "100",
            "--rate-limit",
            "0",
        ])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env_remove("AEGIS_AUTH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aegis");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("bound address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    Daemon {
        child,
        url,
        _dir: dir,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    WebSocket,
    Sse,
}

async fn ws_client(url: String) -> Vec<f64> {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("ws");
    let mut buf = String::new();
    let mut out = vec![];
    while let Some(Ok(msg)) = ws.next().await {
        let tokio_tungstenite::tungstenite::Message::Text(t) = msg else {
            continue;
        };
        let arrived = now_ns();
        let v: Value = serde_json::from_str(&t).unwrap_or_default();
        if v["type"] != "tty_data" {
            continue;
        }
        buf.push_str(v["data"].as_str().unwrap_or_default());
        while let Some(nl) = buf.find('\n') {
            let line: String = buf.drain(..=nl).collect();
            if line.contains("ticker done") {
                return out;
            }
            if let Some(ts) = line
                .trim()
                .strip_prefix('T')
                .and_then(|s| s.parse::<u128>().ok())
            {
                out.push((arrived.saturating_sub(ts)) as f64 / 1e6);
            }
        }
    }
    out
}

/// Arrival times (ns) of the first `n` `session.working` events.
async fn sse_client(url: String, ready: tokio::sync::mpsc::Sender<()>, n: usize) -> Vec<u128> {
    let resp = reqwest::Client::new().get(&url).send().await.expect("sse");
    let _ = ready.send(()).await;
    let mut resp = resp;
    let mut buf = String::new();
    let mut out = vec![];
    while out.len() < n {
        let Ok(Some(chunk)) = resp.chunk().await else {
            break;
        };
        let arrived = now_ns();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if frame.contains("\"type\":\"session.working\"") {
                out.push(arrived);
            }
        }
    }
    out
}

async fn run(kind: Kind, subscribers: usize) -> Vec<f64> {
    let d = start_daemon();
    let dir = tempfile::tempdir().expect("dir");
    let go = dir.path().join("go");
    let stamps = dir.path().join("stamps");
    let ticker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/bin/stream_ticker.py");
    let http = reqwest::Client::new();
    let interval = match kind {
        Kind::WebSocket => 20,
        Kind::Sse => TICK_MS,
    };
    let created: Value = http
        .post(format!("{}/v1/sessions", d.url))
        .json(&json!({
            "workDir": dir.path(),
            "agentType": "custom",
            "command": ["python3", ticker, go, stamps, TICKS.to_string(), interval.to_string()],
        }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    // Let the banner settle into idle before anyone subscribes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(subscribers);
    let mut tasks = vec![];
    for _ in 0..subscribers {
        match kind {
            Kind::WebSocket => {
                let url = format!(
                    "{}/v1/sessions/{id}/stream",
                    d.url.replacen("http://", "ws://", 1)
                );
                let ready = ready_tx.clone();
                tasks.push(tokio::spawn(async move {
                    let _ = ready.send(()).await;
                    let lat = ws_client(url).await;
                    (lat, vec![])
                }));
            }
            Kind::Sse => {
                let url = format!("{}/v1/sessions/{id}/events?types=session.working", d.url);
                let ready = ready_tx.clone();
                tasks.push(tokio::spawn(async move {
                    (vec![], sse_client(url, ready, TICKS).await)
                }));
            }
        }
    }
    for _ in 0..subscribers {
        ready_rx.recv().await;
    }
    // Give WebSocket clients time to finish their handshake and snapshot.
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::write(&go, b"").expect("go");
    let mut all = vec![];
    let results = futures_util::future::join_all(tasks).await;
    let stamps: Vec<u128> = std::fs::read_to_string(&stamps)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    for r in results {
        let (lat, arrivals) = r.expect("client task");
        all.extend(lat);
        for (k, a) in arrivals.iter().enumerate() {
            if let Some(ts) = stamps.get(k) {
                all.push(a.saturating_sub(*ts) as f64 / 1e6);
            }
        }
    }
    all.sort_by(|a, b| a.total_cmp(b));
    all
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with no args. Only run
    // the (minute-long) measurement for a real bench run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("streams bench: skipped (run with cargo bench --bench streams)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("pty output -> client latency (ms), {TICKS} ticks per run");
    for kind in [Kind::WebSocket, Kind::Sse] {
        for subs in [1, 100] {
            let lat = rt.block_on(run(kind, subs));
            println!(
                "{:<9} subscribers={:<3} samples={:<5} p50={:>7.2} p99={:>7.2} max={:>7.2}",
                format!("{kind:?}"),
                subs,
                lat.len(),
                percentile(&lat, 0.50),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(f64::NAN),
            );
        }
    }
}
