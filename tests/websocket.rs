//! The WebSocket terminal against the real daemon: the snapshot, input echo and read-only
//! connections, and a subscriber that stops reading during a flood (the session keeps its
//! pace, the daemon's memory stays bounded).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Daemon, id_of, wait_until};

const T: Duration = Duration::from_secs(20);

fn ws_url(d: &Daemon, path: &str) -> String {
    format!("{}{}", d.url.replacen("http://", "ws://", 1), path)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect")
        .0
}

/// Next JSON frame for which `pred` holds.
async fn ws_next(ws: &mut Ws, what: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("json frame");
                if pred(&v) {
                    return v;
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("stream ended waiting for {what}: {other:?}"),
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn websocket_snapshot_then_input_echo_and_readonly() {
    let d = Daemon::start();
    let id = d.bash();
    d.send(&id, "echo before-connect");
    d.wait_screen(&id, "before-connect\n$", T);
    let url = ws_url(&d, &format!("/v1/sessions/{id}/stream"));
    let ro_url = format!("{url}?readonly=1");
    rt().block_on(async {
        let mut ws = ws_connect(&url).await;
        let snap = ws_next(&mut ws, "snapshot", |_| true).await;
        assert_eq!(snap["type"], "snapshot", "first frame must be the snapshot");
        assert!(
            snap["data"]
                .as_str()
                .unwrap_or_default()
                .contains("before-connect")
        );
        assert_eq!(snap["cols"], 160);

        ws.send(Message::text(
            json!({"type": "input", "data": "echo ws-$((6*7))\r"}).to_string(),
        ))
        .await
        .expect("send");
        // The session's status events and its output travel on separate channels, so a
        // json_event may arrive before or after the echo: wait for both in one pass.
        let mut seen = String::new();
        let mut event = None;
        ws_next(&mut ws, "echoed output and a json_event", |v| {
            if v["type"] == "tty_data" {
                seen.push_str(v["data"].as_str().unwrap_or_default());
            }
            if v["type"] == "json_event" && event.is_none() {
                event = Some(v.clone());
            }
            seen.contains("ws-42") && event.is_some()
        })
        .await;
        let ev = event.expect("a json_event");
        assert_eq!(ev["event"]["sessionId"], id.as_str());

        // Keys and resize go through the same queue.
        ws.send(Message::text(
            json!({"type": "resize", "cols": 100, "rows": 30}).to_string(),
        ))
        .await
        .expect("send");
        ws.send(Message::text(
            json!({"type": "keys", "keys": ["e", "c", "h", "o", " ", "k", "k", "Enter"]})
                .to_string(),
        ))
        .await
        .expect("send");
        let mut seen = String::new();
        ws_next(&mut ws, "keys echo", |v| {
            seen.push_str(v["data"].as_str().unwrap_or_default());
            seen.contains("kk\r\n")
        })
        .await;
        // Bad frames are refused with an error frame and change nothing.
        ws.send(Message::text("{\"type\":\"launch\"}"))
            .await
            .expect("send");
        let err = ws_next(&mut ws, "error frame", |v| v["type"] == "error").await;
        assert!(
            err["message"]
                .as_str()
                .unwrap_or_default()
                .contains("invalid frame")
        );

        let mut ro = ws_connect(&ro_url).await;
        ws_next(&mut ro, "read-only snapshot", |v| v["type"] == "snapshot").await;
        ro.send(Message::text(
            json!({"type": "input", "data": "echo nope\r"}).to_string(),
        ))
        .await
        .expect("send");
        let err = ws_next(&mut ro, "read-only refusal", |v| v["type"] == "error").await;
        assert!(
            err["message"]
                .as_str()
                .unwrap_or_default()
                .contains("read-only")
        );

        // When the session exits, its last output arrives, then a Close with the reason.
        ws.send(Message::text(
            json!({"type": "input", "data": "echo bye-$((1+1)); exit\r"}).to_string(),
        ))
        .await
        .expect("send");
        let mut seen = String::new();
        let reason = loop {
            match tokio::time::timeout(T, ws.next())
                .await
                .expect("frames until close")
            {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("json");
                    seen.push_str(v["data"].as_str().unwrap_or_default());
                }
                Some(Ok(Message::Close(f))) => break f.map(|f| f.reason.to_string()),
                Some(Ok(_)) => continue,
                other => panic!("no close frame: {other:?}"),
            }
        };
        assert!(seen.contains("bye-2"), "final output missing: {seen:?}");
        assert_eq!(reason.as_deref(), Some("session ended"));
    });
    let (_, info) = d.get(&format!("/v1/sessions/{id}"));
    assert_eq!(
        (info["cols"].clone(), info["rows"].clone()),
        (json!(100), json!(30))
    );
    assert!(!d.screen(&id).contains("nope"));
    // A plain GET on the WebSocket route is a 426 in the error format, not a 500.
    let (s, v) = d.get(&format!("/v1/sessions/{id}/stream"));
    assert_eq!(s, StatusCode::UPGRADE_REQUIRED, "{v}");
    assert_eq!(v["code"], "UPGRADE_REQUIRED", "{v}");
}

/// Milliseconds from `go` to the flood session's exit.
fn timed_flood(d: &Daemon, id: &str) -> (Duration, u64) {
    let start = Instant::now();
    d.send(id, "go");
    let mut peak = 0;
    wait_until(Duration::from_secs(240), "the flood to finish", || {
        peak = peak.max(d.rss_kib());
        (d.status(id) == "exited").then_some(())
    });
    (start.elapsed(), peak)
}

const FLOOD: &str = "echo ready; read go; yes 'aegis flood 0123456789 abcdefghijklmnopqrstuvwxyz' | head -c 31457280; echo; echo FLOOD-DONE";

#[test]
fn a_subscriber_that_stops_reading_neither_slows_the_session_nor_grows_memory() {
    let d = Daemon::start();
    // Baseline: the same flood with nobody watching.
    let base_id = id_of(&d.spawn(&["sh", "-c", FLOOD]));
    d.wait_status(&base_id, "idle", T);
    let (base, _) = timed_flood(&d, &base_id);
    let rss_before = d.rss_kib();

    let id = id_of(&d.spawn(&["sh", "-c", FLOOD]));
    d.wait_status(&id, "idle", T);
    let url = ws_url(&d, &format!("/v1/sessions/{id}/stream"));
    let rt = rt();
    // The stalled client reads its snapshot, then nothing while the session floods.
    let mut stalled = rt.block_on(async {
        let mut ws = ws_connect(&url).await;
        ws_next(&mut ws, "snapshot", |v| v["type"] == "snapshot").await;
        ws
    });
    // A healthy client keeps reading and must still see the end of the flood.
    let healthy = rt.spawn({
        let url = url.clone();
        async move {
            let mut ws = ws_connect(&url).await;
            let mut tail = String::new();
            let mut resyncs = 0;
            ws_next(&mut ws, "snapshot", |v| v["type"] == "snapshot").await;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
                let Message::Text(t) = msg else { continue };
                let v: Value = serde_json::from_str(&t).unwrap_or_default();
                if v["type"] == "resync" {
                    resyncs += 1;
                }
                tail.push_str(v["data"].as_str().unwrap_or_default());
                // Checked before trimming: a resync's redraw can be longer than the tail kept,
                // with the marker anywhere in it.
                if tail.contains("FLOOD-DONE") {
                    return resyncs;
                }
                if tail.len() > 4096 {
                    let mut cut = tail.len() - 2048;
                    while !tail.is_char_boundary(cut) {
                        cut += 1;
                    }
                    tail.drain(..cut);
                }
            }
            panic!("healthy client never saw FLOOD-DONE");
        }
    });
    let (with_subscribers, peak) = timed_flood(&d, &id);
    let healthy_resyncs = rt.block_on(healthy).expect("healthy client");

    // Throughput: within noise of the baseline (loose: debug build on a shared 2-core box).
    assert!(
        with_subscribers < base * 3 + Duration::from_secs(5),
        "flood took {with_subscribers:?} with a stalled subscriber vs {base:?} without"
    );
    // Memory: 30 MB went past a client that read none of it; the daemon did not keep it.
    let growth = peak.saturating_sub(rss_before);
    assert!(
        growth < 48 * 1024,
        "daemon RSS grew by {growth} KiB during the flood"
    );

    // The stalled client, reading again, finds it was resynced or dropped with a reason.
    let outcome = rt.block_on(async {
        loop {
            match tokio::time::timeout(T, stalled.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or_default();
                    if v["type"] == "resync" {
                        assert_eq!(v["reason"], "lagged");
                        return "resync".to_owned();
                    }
                }
                Ok(Some(Ok(Message::Close(Some(f))))) => return format!("closed: {}", f.reason),
                Ok(Some(Ok(_))) => continue,
                // Dropped while its socket was full: the Close frame could not get through,
                // so the connection ends abruptly; the daemon logs the reason.
                Ok(None) | Ok(Some(Err(_))) => return "dropped".to_owned(),
                Err(_) => panic!("stalled client: neither resynced nor dropped"),
            }
        }
    });
    match outcome.as_str() {
        "resync" | "closed: slow consumer" => {}
        "dropped" => assert!(
            d.log()
                .contains("websocket client stopped reading; dropped"),
            "connection ended without the slow-consumer reason in the log"
        ),
        other => panic!("stalled client got {other}"),
    }
    eprintln!(
        "slow consumer: baseline {base:?}, with subscribers {with_subscribers:?}, rss growth {growth} KiB, healthy resyncs {healthy_resyncs}, stalled: {outcome}"
    );
}
