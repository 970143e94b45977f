//! Workload 2, input → echo latency to a `cat` session, and workload 3, snapshot latency
//! with 100 live sessions; each against the tmux equivalent driven through its CLI.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tokio_tungstenite::tungstenite;

use crate::Config;
use crate::aegis::{Daemon, path_str};
use crate::report::{Percentiles, Report, Row, ratio};
use crate::tmux::Tmux;

/// One round trip taking longer than this is a hang, not a slow sample.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// Round trips run before measuring, so connection set-up and first-touch costs are excluded.
const WARM_UP: usize = 20;

/// Sessions alive during the snapshot workload.
const SNAPSHOT_SESSIONS: usize = 100;

/// Bytes of corpus each snapshot session prints before idling, so screens hold real content.
const SNAPSHOT_SCREEN_BYTES: usize = 6000;

fn token(i: usize) -> String {
    format!("q{i:06}z")
}

/// How the bench learns that an echo arrived.
#[derive(Clone, Copy)]
enum Watch {
    /// Poll `GET /read` without pause until the token shows on the screen.
    PollRead,
    /// Wait for the token in the session's WebSocket stream (`tty_data` frames).
    WebSocket,
}

/// The session's live output over its WebSocket, accumulated across frames so a token split
/// over two frames is still found.
struct Stream {
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    seen: String,
}

impl Stream {
    fn open(d: &Daemon, id: &str) -> Result<Stream> {
        let url = format!("ws://{}/v1/sessions/{id}/stream", d.addr);
        let (ws, _) = tungstenite::connect(url.as_str()).context("websocket connect")?;
        if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            tcp.set_read_timeout(Some(ROUND_TRIP_TIMEOUT))?;
            tcp.set_nodelay(true)?;
        }
        Ok(Stream {
            ws,
            seen: String::new(),
        })
    }

    /// Read frames until `token` appeared in the output since the last call.
    fn wait_for(&mut self, token: &str) -> Result<()> {
        while !self.seen.contains(token) {
            let msg = self.ws.read().context("websocket read")?;
            let tungstenite::Message::Text(text) = msg else {
                continue;
            };
            let frame: serde_json::Value = serde_json::from_str(&text)?;
            if frame["type"] == "tty_data"
                && let Some(data) = frame["data"].as_str()
            {
                self.seen.push_str(data);
            }
        }
        self.seen.clear();
        Ok(())
    }
}

/// Aegis: `/send` (text, then Enter after the agent's delay) on a second connection from a
/// sender thread, while this thread watches for the echo (polling `/read`, or on the
/// WebSocket).
fn aegis_echo(d: &Daemon, n: usize, watch: Watch) -> Result<Vec<Duration>> {
    let mut http = d.http()?;
    let id = d.create(&mut http, &["cat"])?;
    let mut stream = match watch {
        Watch::WebSocket => Some(Stream::open(d, &id)?),
        Watch::PollRead => None,
    };
    let (to_sender, jobs) = mpsc::channel::<String>();
    let (sent, done) = mpsc::channel::<Result<()>>();
    let mut send_http = d.http()?;
    let path = format!("/v1/sessions/{id}/send");
    let sender = std::thread::spawn(move || {
        for text in jobs {
            let r = send_http.post(&path, &json!({ "text": text }));
            let r = r.and_then(|r| match r.status {
                200 => Ok(()),
                s => bail!("send: {s} {}", String::from_utf8_lossy(&r.body)),
            });
            if sent.send(r).is_err() {
                break;
            }
        }
    });
    let read = format!("/v1/sessions/{id}/read");
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + WARM_UP {
        let tok = token(i);
        let t0 = Instant::now();
        to_sender.send(tok.clone())?;
        match stream.as_mut() {
            Some(stream) => stream.wait_for(&tok)?,
            None => loop {
                if http.get(&read)?.contains(&tok) {
                    break;
                }
                if t0.elapsed() > ROUND_TRIP_TIMEOUT {
                    bail!("aegis echo of {tok} not seen");
                }
            },
        }
        if i >= WARM_UP {
            samples.push(t0.elapsed());
        }
        done.recv().context("sender thread ended")??;
    }
    drop(to_sender);
    let _ = sender.join();
    d.delete(&mut http, &id)?;
    Ok(samples)
}

/// tmux: `send-keys -l`, then `capture-pane -p` until the text shows, then Enter (untimed).
fn tmux_echo(t: &Tmux, n: usize) -> Result<Vec<Duration>> {
    t.new_session("echo", "cat")?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + WARM_UP {
        let tok = token(i);
        let t0 = Instant::now();
        t.run(&["send-keys", "-t", "echo", "-l", &tok])?;
        while !t.capture("echo")?.contains(&tok) {
            if t0.elapsed() > ROUND_TRIP_TIMEOUT {
                bail!("tmux echo of {tok} not seen");
            }
        }
        if i >= WARM_UP {
            samples.push(t0.elapsed());
        }
        t.run(&["send-keys", "-t", "echo", "Enter"])?;
    }
    t.run(&["kill-session", "-t", "echo"])?;
    Ok(samples)
}

pub fn echo(cfg: &Config, d: &Daemon, report: &mut Report) -> Result<()> {
    let t = Tmux::start("echo")?;
    eprintln!(
        "  echo: aegis over WebSocket, {} round trips",
        cfg.round_trips
    );
    let ws = Percentiles::of(&mut aegis_echo(d, cfg.round_trips, Watch::WebSocket)?);
    eprintln!(
        "  echo: aegis polling /read, {} round trips",
        cfg.round_trips
    );
    let poll = Percentiles::of(&mut aegis_echo(d, cfg.round_trips, Watch::PollRead)?);
    eprintln!("  echo: tmux, {} round trips", cfg.round_trips);
    let theirs = Percentiles::of(&mut tmux_echo(&t, cfg.round_trips)?);
    let w = "2 send → echo";
    for (sys, ours, target) in [
        (
            "aegis REST /send + WebSocket echo",
            &ws,
            "≤ 5 ms and ≥ 10× tmux",
        ),
        (
            "aegis REST /send + poll /read",
            &poll,
            "≤ 5 ms and ≥ 10× tmux (the WS target, applied to REST)",
        ),
    ] {
        report.push(
            Row::new(w, sys, "p50", ours.p50, "ms")
                .versus(ratio(ours.p50, theirs.p50, "tmux", false)),
        );
        report.push(
            Row::new(w, sys, "p99", ours.p99, "ms")
                .versus(ratio(ours.p99, theirs.p99, "tmux", false))
                .target(target, ours.p99 <= 5.0 && theirs.p99 / ours.p99 >= 10.0),
        );
        report.push(Row::new(w, sys, "max", ours.max, "ms"));
    }
    let tsys = format!("{} send-keys + capture-pane", t.version);
    report.push(Row::new(w, &tsys, "p50", theirs.p50, "ms").versus("baseline"));
    report.push(Row::new(w, &tsys, "p99", theirs.p99, "ms").versus("baseline"));
    report.push(Row::new(w, &tsys, "max", theirs.max, "ms"));
    report.note(format!(
        "Echo: {} round trips per system after {WARM_UP} warm-up ones, each to a fresh token; \
         /read is polled without pause, the WebSocket is read as frames arrive.",
        cfg.round_trips
    ));
    Ok(())
}

pub fn snapshot(cfg: &Config, d: &Daemon, corpus: &Path, report: &mut Report) -> Result<()> {
    let script = format!(
        "head -c {SNAPSHOT_SCREEN_BYTES} '{}'; exec cat",
        path_str(corpus)
    );
    let mut http = d.http()?;
    eprintln!("  snapshot: {SNAPSHOT_SESSIONS} aegis sessions");
    let ids = (0..SNAPSHOT_SESSIONS)
        .map(|_| d.create(&mut http, &["sh", "-c", &script]))
        .collect::<Result<Vec<_>>>()?;
    // Each screen must be drawn before we start timing reads of it.
    for id in &ids {
        let deadline = Instant::now() + ROUND_TRIP_TIMEOUT;
        while http.get(&format!("/v1/sessions/{id}/read"))?.body.len() < 1000 {
            if Instant::now() > deadline {
                bail!("snapshot session {id} drew nothing");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mut samples = Vec::with_capacity(cfg.round_trips);
    for i in 0..cfg.round_trips + WARM_UP {
        let path = format!("/v1/sessions/{}/read", ids[i % ids.len()]);
        let t0 = Instant::now();
        let r = http.get(&path)?;
        let el = t0.elapsed();
        if r.status != 200 {
            bail!("read: {}", r.status);
        }
        if i >= WARM_UP {
            samples.push(el);
        }
    }
    let ours = Percentiles::of(&mut samples);
    // The same reads under load: 32 connections, each request to the next of the sessions.
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/v1/sessions/{id}/read"))
        .collect();
    eprintln!(
        "  snapshot: /read of {SNAPSHOT_SESSIONS} sessions at c=32 for {} s",
        cfg.load_secs
    );
    let loaded = crate::load::throughput(&d.addr, &paths, cfg.load_secs)?;
    for id in &ids {
        d.delete(&mut http, id)?;
    }

    eprintln!("  snapshot: {SNAPSHOT_SESSIONS} tmux sessions");
    let t = Tmux::start("snapshot")?;
    for i in 0..SNAPSHOT_SESSIONS {
        t.new_session(&format!("s{i}"), &script)?;
    }
    let mut samples = Vec::with_capacity(cfg.round_trips);
    for i in 0..cfg.round_trips + WARM_UP {
        let target = format!("s{}", i % SNAPSHOT_SESSIONS);
        let t0 = Instant::now();
        t.capture(&target)?;
        if i >= WARM_UP {
            samples.push(t0.elapsed());
        }
    }
    let theirs = Percentiles::of(&mut samples);
    let w = "3 snapshot";
    let sys = format!("aegis GET /read, {SNAPSHOT_SESSIONS} sessions");
    report.push(
        Row::new(w, &sys, "p50", ours.p50, "ms").versus(ratio(ours.p50, theirs.p50, "tmux", false)),
    );
    report.push(
        Row::new(w, &sys, "p99", ours.p99, "ms")
            .versus(ratio(ours.p99, theirs.p99, "tmux", false))
            .target("≤ 2 ms", ours.p99 <= 2.0),
    );
    report.push(
        Row::new(w, &sys, "requests/s at c=32", loaded.rps, "req/s")
            .versus(format!("generator: {}", loaded.generator))
            .target("≥ 20k req/s", loaded.rps >= 20_000.0),
    );
    report.push(
        Row::new(w, &sys, "p99 at c=32", loaded.p99_ms, "ms")
            .versus(format!("generator: {}", loaded.generator))
            .target("≤ 2 ms", loaded.p99_ms <= 2.0),
    );
    let tsys = format!("{} capture-pane -p, {SNAPSHOT_SESSIONS} panes", t.version);
    report.push(Row::new(w, &tsys, "p50", theirs.p50, "ms").versus("baseline"));
    report.push(Row::new(w, &tsys, "p99", theirs.p99, "ms").versus("baseline"));
    Ok(())
}
